// reduce.wgsl: out[o] = COMBINE over the reduced elements of x, for each kept position o.
// Two strategies share this file: THREADS_PER_OUTPUT = 1 (one invocation walks a whole row: many short rows)
// and THREADS_PER_OUTPUT = WG (a workgroup splits a row and combines in workgroup memory: few long rows).
// Long rows are split into chunks of p.chunk elements, one workgroup each, writing partial results that a
// second pass combines (p.g chunks per row): more parallelism on GPUs, and under llvmpipe's cap of 65 535
// loop iterations per invocation. The engine fills the placeholders (src/backend/webgpu/kernels/reduce.ts).
{{ENABLE}}
{{COMMON}}
@group(0) @binding(0) var<storage, read> x: array<{{IN_T}}>;
@group(0) @binding(1) var<storage, read_write> out: array<{{OUT_T}}>;
struct Params {
{{PARAMS}}
}
{{IDX_BINDING}}
@group(0) @binding({{PARAM_BINDING}}) var<uniform> p: Params;

var<workgroup> shared_val: array<{{ACC_T}}, {{WG}}>;
var<workgroup> shared_idx: array<u32, {{WG}}>;

// Offset of reduced element r (0 <= r < p.r) relative to the row's base.
fn reduced_offset(r0: u32) -> u32 {
  var r = r0;
  var off = 0u;
{{REDUCED_INDEX}}
  return off;
}

// Better-of for (value, index) pairs: the COMBINE of the op; ties keep the smaller index.
fn better(v1: {{ACC_T}}, i1: u32, v2: {{ACC_T}}, i2: u32) -> bool {
{{BETTER}}
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let flat = (wid.y * nwg.x + wid.x) * {{ROWS_PER_GROUP}}u + {{ROW_LANE}};
  let o = flat / p.g;
  let rstart = (flat % p.g) * p.chunk;
  let rend = min(p.r, rstart + p.chunk);
  let t = {{THREAD_IN_ROW}};
  let live = o < p.nout;
  var base = p.off;
  if (live) {
{{KEPT_INDEX}}
  }
  var acc: {{ACC_T}} = {{INIT}};
  var best: u32 = 0xffffffffu;
  if (live) {
    for (var r = rstart + t; r < rend; r += {{THREADS_PER_OUTPUT}}u) {
      let v = {{LOAD}};
{{ACCUMULATE}}
    }
  }
{{WORKGROUP_COMBINE}}
  if (live && t == 0u) {
    out[flat] = {{STORE}};
{{IDX_STORE}}
  }
}
