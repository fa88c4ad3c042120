// gather.wgsl: out[p] = x[p with coordinate DIM replaced by index[p]]; out has index's shape.
// An index outside [0, size of x along DIM) writes 0 and raises the device's error flag, which the next
// read reports (src/backend/webgpu/webgpu_backend.ts), as PyTorch's device-side assert does.
{{ENABLE}}
@group(0) @binding(0) var<storage, read> x: array<{{T}}>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<{{T}}>;
@group(0) @binding(3) var<storage, read_write> err: array<atomic<u32>>;
struct Params {
{{PARAMS}}
}
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * {{WG}}u + lid;
  if (i >= p.n) { return; }
  var rem = i;
  var io = p.i_off;
  var xo = p.x_off;
{{INDEX}}
  let j = index[io];
  if (j < 0 || u32(j) >= p.xdim) {
    atomicMax(&err[0], 1u);
    out[i] = {{T}}(0);
    return;
  }
  out[i] = x[xo + u32(j) * p.xs_dim];
}
