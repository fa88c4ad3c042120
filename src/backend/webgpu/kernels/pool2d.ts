/**
 * Generates 2-D pooling kernels (`src/shaders/pool2d.wgsl`) and their adjoints
 * (`src/shaders/pool2d_backward.wgsl`), compiled per dtype, kind of pooling and window geometry.
 * @module
 */
import type { Pool2d, View } from "../../backend.ts";
import type { DType } from "../../../tensor/dtype.ts";
import forwardTemplate from "../../../shaders/pool2d.wgsl" with { type: "text" };
import backwardTemplate from "../../../shaders/pool2d_backward.wgsl" with { type: "text" };
import scatterTemplate from "../../../shaders/pool2d_max_backward_scatter.wgsl" with { type: "text" };
import common from "../../../shaders/common.wgsl" with { type: "text" };
import { enableF16, grid, ParamBlock, storageType, WORKGROUP } from "./layout.ts";
import type { KernelLaunch } from "./elementwise.ts";
import { windowConstants, windowKey } from "./im2col.ts";

const MODES: Record<Pool2d["op"], number> = { max: 0, avg: 1, adaptiveAvg: 2 };

function params(n: number, pool: Pool2d): ParamBlock {
  return new ParamBlock().u32("n", n).u32("divisor", pool.divisor).u32(
    "count_pad",
    pool.countIncludePad ? 1 : 0,
  );
}

function strided(pb: ParamBlock, prefix: string, v: View): void {
  pb.u32(`${prefix}_off`, v.offset);
  ["N", "C", "H", "W"].forEach((d, k) => pb.u32(`${prefix}${d}`, v.strides[k]));
}

const FORWARD_BODY = {
  max: `  var best = dg_neg_inf();
  var arg = sh.start * i32(W) + sw.start;
  for (var h = sh.start; h < sh.end; h += sh.step) {
    for (var w = sw.start; w < sw.end; w += sw.step) {
      let v = f32(x[base + u32(h) * p.xH + u32(w) * p.xW]);
      if (dg_isnan(v) || (!dg_isnan(best) && v > best)) {
        best = v;
        arg = h * i32(W) + w;
      }
    }
  }
  out[i] = {{T}}(best);
  idx[i] = arg;`,
  // every window inside the image (no padding): constant bounds, so the loops unroll into straight-line
  // code with no span arithmetic (2.3x faster on lavapipe for 2 x 2 windows of stride 2)
  maxInterior: `  var best = dg_neg_inf();
  var arg = i32(oh * SH * W + ow * SW);
  for (var kh = 0u; kh < KH; kh++) {
    for (var kw = 0u; kw < KW; kw++) {
      let h = oh * SH + kh * DH;
      let w = ow * SW + kw * DW;
      let v = f32(x[base + h * p.xH + w * p.xW]);
      let take = dg_isnan(v) || (!dg_isnan(best) && v > best);
      best = select(best, v, take);
      arg = select(arg, i32(h * W + w), take);
    }
  }
  out[i] = {{T}}(best);
  idx[i] = arg;`,
  avg: `  var sum = 0.0;
  for (var h = sh.start; h < sh.end; h++) {
    for (var w = sw.start; w < sw.end; w++) {
      sum += f32(x[base + u32(h) * p.xH + u32(w) * p.xW]);
    }
  }
  out[i] = {{T}}(sum / divisor(sh, sw));`,
};

const BACKWARD_BODY = {
  max: `      if (idx[p.i_off + n * p.iN + c * p.iC + oh * p.iH + ow * p.iW] == i32(h * W + w)) {
        acc += f32(g[gbase + oh * p.gH + ow * p.gW]);
      }`,
  avg: `      acc += f32(g[gbase + oh * p.gH + ow * p.gW]) / divisor(sh, sw);`,
};

/** Whether every window lies inside the [*, *, H, W] image: no padding, and the last window ends within it. */
function windowsInside(pool: Pool2d, shape: readonly number[]): boolean {
  return [0, 1].every((k) =>
    pool.padding[k] === 0 &&
    (pool.out[k] - 1) * pool.stride[k] + (pool.kernel[k] - 1) * pool.dilation[k] < shape[2 + k]
  );
}

/** Pooling of x (a [N, C, H, W] view) into a contiguous [N, C, OH, OW] (plus int32 argmaxes for "max"). */
export function pool2dKernel(dtype: DType, x: View, pool: Pool2d): KernelLaunch {
  const [N, C] = x.shape;
  const n = N * C * pool.out[0] * pool.out[1];
  const pb = params(n, pool);
  strided(pb, "x", x);
  const isMax = pool.op === "max";
  const body = isMax ? (windowsInside(pool, x.shape) ? "maxInterior" : "max") : "avg";
  const code = () =>
    forwardTemplate
      .replace("{{ENABLE}}", enableF16([dtype]))
      .replace("{{COMMON}}", common)
      .replace(
        "{{INDEX_BINDING}}",
        isMax ? "@group(0) @binding(2) var<storage, read_write> idx: array<i32>;" : "",
      )
      .replace("{{PARAMS}}", pb.struct())
      .replace("{{PARAM_BINDING}}", isMax ? "3" : "2")
      .replace("{{MODE}}", String(MODES[pool.op]))
      .replace("{{CONSTS}}", windowConstants(pool, x.shape))
      .replace("{{BODY}}", FORWARD_BODY[body])
      .replaceAll("{{T}}", storageType(dtype))
      .replaceAll("{{WG}}", String(WORKGROUP));
  return {
    key: `pool2d|${body}|${dtype}|${windowKey(pool, x.shape)}`,
    code,
    params: pb.words(),
    groups: grid(n),
  };
}

/**
 * The adjoint of {@linkcode pool2dKernel}: grad (and, for "max", the int32 indices) are [N, C, OH, OW]
 * views; the output is a contiguous `inShape` [N, C, H, W].
 */
export function pool2dBackwardKernel(
  dtype: DType,
  grad: View,
  indices: View | null,
  inShape: readonly number[],
  pool: Pool2d,
): KernelLaunch {
  const n = inShape[0] * inShape[1] * inShape[2] * inShape[3];
  const pb = params(n, pool);
  strided(pb, "g", grad);
  const isMax = pool.op === "max";
  if (isMax) strided(pb, "i", indices!);
  const code = () =>
    backwardTemplate
      .replace("{{ENABLE}}", enableF16([dtype]))
      .replace(
        "{{INDEX_BINDING}}",
        isMax ? "@group(0) @binding(1) var<storage, read> idx: array<i32>;" : "",
      )
      .replace("{{OUT_BINDING}}", isMax ? "2" : "1")
      .replace("{{PARAMS}}", pb.struct())
      .replace("{{PARAM_BINDING}}", isMax ? "3" : "2")
      .replace("{{MODE}}", String(MODES[pool.op]))
      .replace("{{CONSTS}}", windowConstants(pool, inShape))
      .replace("{{BODY}}", BACKWARD_BODY[isMax ? "max" : "avg"])
      .replaceAll("{{T}}", storageType(dtype))
      .replaceAll("{{WG}}", String(WORKGROUP));
  return {
    key: `pool2dBackward|${pool.op}|${dtype}|${windowKey(pool, inShape)}`,
    code,
    params: pb.words(),
    groups: grid(n),
  };
}

/**
 * Whether no two windows of a max pooling share an input pixel (stride at least the dilated kernel in both
 * dims), so that its adjoint can scatter each output gradient to its argmax ({@linkcode pool2dMaxScatterKernel}).
 */
export function windowsDisjoint(pool: Pool2d): boolean {
  return pool.op === "max" &&
    [0, 1].every((k) => pool.stride[k] >= (pool.kernel[k] - 1) * pool.dilation[k] + 1);
}

/**
 * The adjoint of max pooling with disjoint windows (see {@linkcode windowsDisjoint}): one invocation per output
 * position writes its gradient to the pixel its window chose, into a zeroed contiguous `inShape` [N, C, H, W].
 */
export function pool2dMaxScatterKernel(
  dtype: DType,
  grad: View,
  indices: View,
  inShape: readonly number[],
  pool: Pool2d,
): KernelLaunch {
  const n = inShape[0] * inShape[1] * pool.out[0] * pool.out[1];
  const pb = new ParamBlock().u32("n", n);
  strided(pb, "g", grad);
  strided(pb, "i", indices);
  const code = () =>
    scatterTemplate
      .replace("{{ENABLE}}", enableF16([dtype]))
      .replace("{{PARAMS}}", pb.struct())
      .replace("{{CONSTS}}", windowConstants(pool, inShape))
      .replaceAll("{{T}}", storageType(dtype))
      .replaceAll("{{WG}}", String(WORKGROUP));
  return {
    key: `pool2dMaxScatter|${dtype}|${windowKey(pool, inShape)}`,
    code,
    params: pb.words(),
    groups: grid(n),
  };
}
