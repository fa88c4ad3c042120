// scatter_add.wgsl: the adjoint of gather. out (contiguous, zero-initialised) gets src[p] added at p with
// coordinate DIM replaced by index[p]. Each output element sums its own contributions in a fixed order,
// so the result is deterministic without float atomics (which WGSL lacks).
{{ENABLE}}
@group(0) @binding(0) var<storage, read> src: array<{{T}}>;
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
  let q = (wid.y * nwg.x + wid.x) * {{WG}}u + lid;
  if (q >= p.n) { return; }
  var rem = q;
  var io = p.i_off;
  var so = p.s_off;
  var inside = true;
  var tgt = 0u;
{{INDEX}}
  var acc = 0.0;
  if (inside) {
    for (var t = 0u; t < p.len; t++) {
      let j = index[io + t * p.is_dim];
      if (tgt == 0u && (j < 0 || u32(j) >= p.outdim)) { atomicMax(&err[0], 2u); }
      if (j == i32(tgt)) { acc += f32(src[so + t * p.ss_dim]); }
    }
  }
  out[q] = {{T}}(acc);
}
