/**
 * Generates the depthwise convolution kernels: the forward (`src/shaders/depthwise_conv2d.wgsl`), the
 * input's gradient (`depthwise_conv2d_backward_input.wgsl`) and the weight's gradient, a per-tap workgroup
 * reduction (`depthwise_conv2d_backward_weight.wgsl`). Each is compiled per dtype, geometry and channel
 * multiplier (the window becomes WGSL constants, see {@linkcode windowConstants}); strides and offsets
 * travel in the parameter block.
 * @module
 */
import type { View, Window2d } from "../../backend.ts";
import type { DType } from "../../../tensor/dtype.ts";
import forwardTemplate from "../../../shaders/depthwise_conv2d.wgsl" with { type: "text" };
import inputTemplate from "../../../shaders/depthwise_conv2d_backward_input.wgsl" with { type: "text" };
import weightTemplate from "../../../shaders/depthwise_conv2d_backward_weight.wgsl" with { type: "text" };
import { enableF16, grid, ParamBlock, storageType, WORKGROUP } from "./layout.ts";
import type { KernelLaunch } from "./elementwise.ts";
import { windowConstants, windowKey } from "./im2col.ts";

/**
 * Invocations per workgroup of the weight-gradient kernel: a small workgroup keeps the final tree reduction
 * (one barrier per halving) cheap when there are many taps and few positions per tap.
 */
export const WEIGHT_GRAD_WORKGROUP = 64;
/**
 * Positions one invocation of the weight-gradient kernel visits at most: far below llvmpipe's ~65 535
 * iterations per invocation, so a chunk is WEIGHT_GRAD_WORKGROUP · WEIGHT_GRAD_ITERS positions.
 */
export const WEIGHT_GRAD_ITERS = 4096;

function strided4(pb: ParamBlock, prefix: string, v: View, dims = ["N", "C", "H", "W"]): void {
  pb.u32(`${prefix}_off`, v.offset);
  dims.forEach((d, k) => pb.u32(`${prefix}${d}`, v.strides[k]));
}

function weightStrides(pb: ParamBlock, w: View): void {
  pb.u32("w_off", w.offset).u32("wO", w.strides[0]).u32("wH", w.strides[2]).u32("wW", w.strides[3]);
}

function fill(
  template: string,
  dtype: DType,
  pb: ParamBlock,
  consts: string,
  m: number,
  wg = WORKGROUP,
): string {
  return template
    .replace("{{ENABLE}}", enableF16([dtype]))
    .replace("{{CONSTS}}", consts)
    .replace("{{M}}", String(m))
    .replace("{{PARAMS}}", pb.struct())
    .replaceAll("{{T}}", storageType(dtype))
    .replaceAll("{{WG}}", String(wg));
}

/**
 * The forward: x [N, C, H, W] and weight [C·M, 1, KH, KW] views (bias [C·M] or null) → a contiguous
 * [N, C·M, OH, OW], one invocation per output.
 */
export function depthwiseConv2dKernel(
  dtype: DType,
  x: View,
  weight: View,
  bias: View | null,
  win: Window2d,
): KernelLaunch {
  const [N, C] = x.shape;
  const OC = weight.shape[0];
  const m = OC / C;
  const n = N * OC * win.out[0] * win.out[1];
  const pb = new ParamBlock().u32("n", n);
  strided4(pb, "x", x);
  weightStrides(pb, weight);
  if (bias) pb.u32("b_off", bias.offset).u32("bS", bias.strides[0]);
  const code = () =>
    fill(forwardTemplate, dtype, pb, windowConstants(win, x.shape), m)
      .replace(
        "{{BIAS_BINDING}}",
        bias ? "@group(0) @binding(2) var<storage, read> b: array<{{T}}>;" : "",
      )
      .replace("{{OUT_BINDING}}", bias ? "3" : "2")
      .replace("{{PARAM_BINDING}}", bias ? "4" : "3")
      .replace("{{BIAS}}", bias ? "f32(b[p.b_off + o * p.bS])" : "0.0")
      .replaceAll("{{T}}", storageType(dtype));
  return {
    key: `depthwiseConv2d|${dtype}|${m}|${bias ? "b" : ""}|${windowKey(win, x.shape)}`,
    code,
    params: pb.words(),
    groups: grid(n),
  };
}

/**
 * The input's gradient: grad [N, C·M, OH, OW] and weight [C·M, 1, KH, KW] views → a contiguous `inShape`
 * [N, C, H, W], one invocation per pixel.
 */
export function depthwiseConv2dBackwardInputKernel(
  dtype: DType,
  grad: View,
  weight: View,
  inShape: readonly number[],
  win: Window2d,
): KernelLaunch {
  const m = weight.shape[0] / inShape[1];
  const n = inShape[0] * inShape[1] * inShape[2] * inShape[3];
  const pb = new ParamBlock().u32("n", n);
  strided4(pb, "g", grad, ["N", "O", "H", "W"]);
  weightStrides(pb, weight);
  return {
    key: `depthwiseConv2dBackwardInput|${dtype}|${m}|${windowKey(win, inShape)}`,
    code: () => fill(inputTemplate, dtype, pb, windowConstants(win, inShape), m),
    params: pb.words(),
    groups: grid(n),
  };
}

/** How the weight-gradient reduction is split: chunks per tap and positions per chunk. */
export function weightGradChunks(positions: number): { chunks: number; chunk: number } {
  const most = WEIGHT_GRAD_WORKGROUP * WEIGHT_GRAD_ITERS;
  const chunks = Math.max(1, Math.ceil(positions / most));
  return { chunks, chunk: Math.ceil(positions / chunks) };
}

/**
 * The weight's gradient: grad [N, C·M, OH, OW] and x [N, C, H, W] views → partial sums [C·M·KH·KW, chunks]
 * of `partialDtype` (the gradient itself when there is one chunk), one workgroup per (tap, chunk).
 */
export function depthwiseConv2dBackwardWeightKernel(
  dtype: DType,
  partialDtype: DType,
  grad: View,
  x: View,
  win: Window2d,
): KernelLaunch & { chunks: number } {
  const [N, C] = x.shape;
  const OC = grad.shape[1];
  const m = OC / C;
  const positions = N * win.out[0] * win.out[1];
  const { chunks, chunk } = weightGradChunks(positions);
  const pb = new ParamBlock();
  strided4(pb, "g", grad, ["N", "O", "H", "W"]);
  strided4(pb, "x", x);
  const code = () =>
    fill(weightTemplate, dtype, pb, windowConstants(win, x.shape), m, WEIGHT_GRAD_WORKGROUP)
      .replace("{{POSITIONS}}", String(positions))
      .replace("{{CHUNK}}", String(chunk))
      .replace("{{CHUNKS}}", String(chunks))
      .replaceAll("{{P}}", storageType(partialDtype));
  return {
    key: `depthwiseConv2dBackwardWeight|${dtype}|${partialDtype}|${m}|${N}|${chunks}|${
      windowKey(win, x.shape)
    }`,
    code,
    params: pb.words(),
    groups: grid(OC * win.kernel[0] * win.kernel[1] * chunks, 1),
    chunks,
  };
}
