/**
 * 2-D pooling: `maxPool2d` (and `maxPool2dWithIndices`), `avgPool2d` and `adaptiveAvgPool2d`, as
 * `torch.nn.functional`. Inputs are [N, C, H, W] or unbatched [C, H, W], float32 or float16.
 * @module
 */
import type { Pool2d } from "../../backend/backend.ts";
import { fmtShape } from "../../tensor/shape.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { pool2d } from "../../ops/pool2d.ts";
import { batched4d, type IntPair, pair, poolOutputSize, unbatched } from "./window.ts";

/** Options of {@linkcode maxPool2d}; every size is one int or `[height, width]`. */
export interface MaxPool2dOptions {
  /** Step between windows (default: the kernel size). */
  stride?: IntPair | null;
  /** Implicit -∞ padding on each side, at most half the kernel size (default 0). */
  padding?: IntPair;
  /** Spacing between window taps (default 1). */
  dilation?: IntPair;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
}

/** Options of {@linkcode avgPool2d}; every size is one int or `[height, width]`. */
export interface AvgPool2dOptions {
  /** Step between windows (default: the kernel size). */
  stride?: IntPair | null;
  /** Implicit zero padding on each side, at most half the kernel size (default 0). */
  padding?: IntPair;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
  /** Whether the padding's zeros count in each window's divisor (default true). */
  countIncludePad?: boolean;
  /** A fixed divisor instead of the window's size. */
  divisorOverride?: number | null;
}

interface Geometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  ceilMode: boolean;
}

function poolWindow(op: string, x4: Tensor, userShape: readonly number[], g: Geometry): [number, number] {
  const { kernel: k, stride: s, padding: p, dilation: d } = g;
  if (k.some((v) => v <= 0)) {
    throw new RangeError(`${op}: kernel size should be greater than zero, but got kernelSize=${fmtShape(k)}`);
  }
  if (s.some((v) => v <= 0)) {
    throw new RangeError(`${op}: stride should be greater than zero, but got stride=${fmtShape(s)}`);
  }
  if (d.some((v) => v <= 0)) {
    throw new RangeError(`${op}: dilation should be greater than zero, but got dilation=${fmtShape(d)}`);
  }
  if (p.some((v, i) => v < 0 || v > Math.floor(k[i] / 2))) {
    throw new RangeError(
      `${op}: pad should be at most half of kernel size, but got padding=${fmtShape(p)} and kernelSize=${
        fmtShape(k)
      }`,
    );
  }
  const [, C, H, W] = x4.shape;
  const out = [0, 1].map((i) => poolOutputSize(x4.shape[2 + i], k[i], s[i], p[i], d[i], g.ceilMode)) as [
    number,
    number,
  ];
  if (out[0] < 1 || out[1] < 1) {
    throw new RangeError(
      `${op}: Given input size: (${C}x${H}x${W}). Calculated output size: (${C}x${out[0]}x${out[1]}). ` +
        `Output size is too small (input of size ${fmtShape(userShape)})`,
    );
  }
  return out;
}

function run(op: string, x: Tensor, pool: (x4: Tensor) => Pool2d): [Tensor, Tensor | null] {
  const x4 = batched4d(op, x);
  try {
    const r = pool2d(x4, pool(x4));
    const idx = r.indices ? unbatched(x, x4, r.indices) : null;
    return [unbatched(x, x4, r.out), idx];
  } catch (e) {
    if (x4 !== x) x4.dispose();
    throw e;
  }
}

function maxPool(op: string, x: Tensor, kernelSize: IntPair, opts: MaxPool2dOptions): [Tensor, Tensor] {
  const kernel = pair(op, "kernelSize", kernelSize);
  const g: Geometry = {
    kernel,
    stride: opts.stride == null ? kernel : pair(op, "stride", opts.stride),
    padding: pair(op, "padding", opts.padding ?? 0),
    dilation: pair(op, "dilation", opts.dilation ?? 1),
    ceilMode: opts.ceilMode ?? false,
  };
  const [out, idx] = run(op, x, (x4) => ({
    op: "max",
    kernel: g.kernel,
    stride: g.stride,
    padding: g.padding,
    dilation: g.dilation,
    out: poolWindow(op, x4, x.shape, g),
    countIncludePad: false,
    divisor: 0,
  }));
  return [out, idx!];
}

/**
 * Max pooling over `kernelSize` windows, as `torch.nn.functional.max_pool2d`. The gradient goes to the first
 * maximum of each window; NaN propagates.
 *
 * @example
 * ```ts
 * import { F, randn } from "../../../mod.ts";
 * const y = F.maxPool2d(randn([8, 16, 28, 28]), 2); // [8, 16, 14, 14]
 * ```
 */
export function maxPool2d(x: Tensor, kernelSize: IntPair, opts: MaxPool2dOptions = {}): Tensor {
  const [out, idx] = maxPool("maxPool2d", x, kernelSize, opts);
  idx.dispose();
  return out;
}

/**
 * {@linkcode maxPool2d} that also returns where each maximum was: int32 positions h·W + w within each
 * [H, W] plane (`torch.nn.functional.max_pool2d(..., return_indices=True)`).
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../../mod.ts";
 * const [y, idx] = F.maxPool2dWithIndices(tensor([[[[1, 5], [7, 2]]]]), 2); // y [[[[7]]]], idx [[[[2]]]]
 * ```
 */
export function maxPool2dWithIndices(
  x: Tensor,
  kernelSize: IntPair,
  opts: MaxPool2dOptions = {},
): [Tensor, Tensor] {
  return maxPool("maxPool2dWithIndices", x, kernelSize, opts);
}

/**
 * Average pooling over `kernelSize` windows, as `torch.nn.functional.avg_pool2d` (the divisor counts the
 * padding unless `countIncludePad` is false, or is `divisorOverride`).
 *
 * @example
 * ```ts
 * import { F, randn } from "../../../mod.ts";
 * const y = F.avgPool2d(randn([8, 16, 28, 28]), 2); // [8, 16, 14, 14]
 * ```
 */
export function avgPool2d(x: Tensor, kernelSize: IntPair, opts: AvgPool2dOptions = {}): Tensor {
  const op = "avgPool2d";
  const kernel = pair(op, "kernelSize", kernelSize);
  const g: Geometry = {
    kernel,
    stride: opts.stride == null ? kernel : pair(op, "stride", opts.stride),
    padding: pair(op, "padding", opts.padding ?? 0),
    dilation: [1, 1],
    ceilMode: opts.ceilMode ?? false,
  };
  const divisor = opts.divisorOverride ?? 0;
  if (opts.divisorOverride != null && (!Number.isInteger(divisor) || divisor <= 0)) {
    throw new RangeError(`${op}: divisorOverride must be a positive integer, got ${opts.divisorOverride}`);
  }
  return run(op, x, (x4) => ({
    op: "avg",
    kernel: g.kernel,
    stride: g.stride,
    padding: g.padding,
    dilation: g.dilation,
    out: poolWindow(op, x4, x.shape, g),
    countIncludePad: opts.countIncludePad ?? true,
    divisor,
  }))[0];
}

/** An output size for adaptive pooling: one int, or `[height, width]` where null keeps the input's size. */
export type AdaptiveSize = number | readonly [number | null, number | null];

/**
 * Average pooling to a fixed output size, as `torch.nn.functional.adaptive_avg_pool2d`: output (oh, ow)
 * averages rows ⌊oh·H/OH⌋ ≤ h < ⌈(oh+1)·H/OH⌉ (and the columns likewise), so windows may differ in size.
 *
 * @example
 * ```ts
 * import { F, randn } from "../../../mod.ts";
 * const y = F.adaptiveAvgPool2d(randn([8, 32, 7, 7]), 1); // [8, 32, 1, 1], global average pooling
 * ```
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  const op = "adaptiveAvgPool2d";
  const sizes = typeof outputSize === "number" ? [outputSize, outputSize] : [...outputSize];
  return run(op, x, (x4) => {
    const [, , H, W] = x4.shape;
    if (H === 0 || W === 0) {
      throw new RangeError(
        `${op}: expected input to have non-zero size for non-batch dimensions, but got input of size ${
          fmtShape(x.shape)
        }`,
      );
    }
    const out = sizes.map((s, i) => s ?? x4.shape[2 + i]);
    if (out.length !== 2 || !out.every((s) => Number.isInteger(s) && s >= 0)) {
      throw new RangeError(
        `${op}: outputSize must be one or two non-negative integers (null keeps a dim), got ${
          JSON.stringify(outputSize)
        }`,
      );
    }
    return {
      op: "adaptiveAvg",
      kernel: [1, 1],
      stride: [1, 1],
      padding: [0, 0],
      dilation: [1, 1],
      out: out as [number, number],
      countIncludePad: false,
      divisor: 0,
    };
  })[0];
}
