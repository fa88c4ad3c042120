// elementwise.wgsl: out[i] = EXPR(in0[i], in1[i], ...) over strided, broadcast operands.
// The engine fills the placeholders: bindings, the parameter block (sizes, strides, offsets),
// the per-operand index arithmetic and the expression of the op (src/backend/webgpu/kernels/elementwise_ops.ts).
{{ENABLE}}
{{COMMON}}
{{BINDINGS}}
struct Params {
{{PARAMS}}
}
@group(0) @binding({{PARAM_BINDING}}) var<uniform> p: Params;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * {{WG}}u + lid;
  if (i >= p.n) { return; }
{{INDEX}}
{{BODY}}
}
