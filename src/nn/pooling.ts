/**
 * Pooling layers: `MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d`.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  adaptiveAvgPool2d,
  type AdaptiveSize,
  avgPool2d,
  type AvgPool2dOptions,
  maxPool2d,
  type MaxPool2dOptions,
} from "./functional/pooling.ts";
import { type IntPair, pair } from "./functional/window.ts";
import { Module } from "./module.ts";

const show = (v: readonly number[]) => (v[0] === v[1] ? `${v[0]}` : `(${v[0]}, ${v[1]})`);

/**
 * Max pooling, PyTorch's `nn.MaxPool2d` (stride defaults to the kernel size). The gradient goes to the first
 * maximum of each window.
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const pool = new nn.MaxPool2d(2);
 * const y = pool.forward(randn([8, 16, 28, 28])); // [8, 16, 14, 14]
 * ```
 */
export class MaxPool2d extends Module {
  /** Window size [kH, kW]. */
  readonly kernelSize: [number, number];
  /** Step between windows [sH, sW]. */
  readonly stride: [number, number];
  /** -∞ padding [pH, pW]. */
  readonly padding: [number, number];
  /** Spacing between window taps [dH, dW]. */
  readonly dilation: [number, number];
  /** Whether the output size rounds up. */
  readonly ceilMode: boolean;

  constructor(kernelSize: IntPair, opts: MaxPool2dOptions = {}) {
    super();
    this.kernelSize = pair("MaxPool2d", "kernelSize", kernelSize);
    this.stride = opts.stride == null ? this.kernelSize : pair("MaxPool2d", "stride", opts.stride);
    this.padding = pair("MaxPool2d", "padding", opts.padding ?? 0);
    this.dilation = pair("MaxPool2d", "dilation", opts.dilation ?? 1);
    this.ceilMode = opts.ceilMode ?? false;
  }

  /** Max-pools `x` ([N, C, H, W] or [C, H, W]). */
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      ceilMode: this.ceilMode,
    });
  }

  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return `kernelSize=${show(this.kernelSize)}, stride=${show(this.stride)}, padding=${
      show(this.padding)
    }, dilation=${show(this.dilation)}, ceilMode=${this.ceilMode}`;
  }
}

/**
 * Average pooling, PyTorch's `nn.AvgPool2d` (stride defaults to the kernel size; the padding's zeros count
 * in the divisor unless `countIncludePad` is false).
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const pool = new nn.AvgPool2d(3, { stride: 2, padding: 1 });
 * const y = pool.forward(randn([8, 16, 28, 28])); // [8, 16, 14, 14]
 * ```
 */
export class AvgPool2d extends Module {
  /** Window size [kH, kW]. */
  readonly kernelSize: [number, number];
  /** Step between windows [sH, sW]. */
  readonly stride: [number, number];
  /** Zero padding [pH, pW]. */
  readonly padding: [number, number];
  /** Whether the output size rounds up. */
  readonly ceilMode: boolean;
  /** Whether padded zeros count in the divisor. */
  readonly countIncludePad: boolean;
  /** A fixed divisor, or null. */
  readonly divisorOverride: number | null;

  constructor(kernelSize: IntPair, opts: AvgPool2dOptions = {}) {
    super();
    this.kernelSize = pair("AvgPool2d", "kernelSize", kernelSize);
    this.stride = opts.stride == null ? this.kernelSize : pair("AvgPool2d", "stride", opts.stride);
    this.padding = pair("AvgPool2d", "padding", opts.padding ?? 0);
    this.ceilMode = opts.ceilMode ?? false;
    this.countIncludePad = opts.countIncludePad ?? true;
    this.divisorOverride = opts.divisorOverride ?? null;
  }

  /** Average-pools `x` ([N, C, H, W] or [C, H, W]). */
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
      divisorOverride: this.divisorOverride,
    });
  }

  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    let s = `kernelSize=${show(this.kernelSize)}, stride=${show(this.stride)}, padding=${show(this.padding)}`;
    if (this.ceilMode) s += ", ceilMode=true";
    if (!this.countIncludePad) s += ", countIncludePad=false";
    if (this.divisorOverride !== null) s += `, divisorOverride=${this.divisorOverride}`;
    return s;
  }
}

/**
 * Average pooling to a fixed output size, PyTorch's `nn.AdaptiveAvgPool2d` (1 gives global average pooling;
 * null in a pair keeps that input dim).
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const gap = new nn.AdaptiveAvgPool2d(1);
 * const y = gap.forward(randn([8, 32, 7, 7])); // [8, 32, 1, 1]
 * ```
 */
export class AdaptiveAvgPool2d extends Module {
  /** The output size [OH, OW] (null keeps the input's). */
  readonly outputSize: AdaptiveSize;

  constructor(outputSize: AdaptiveSize) {
    super();
    const sizes = typeof outputSize === "number" ? [outputSize] : outputSize;
    if (!sizes.every((s) => s === null || (Number.isInteger(s) && s >= 0)) || sizes.length > 2) {
      throw new RangeError(
        `AdaptiveAvgPool2d: outputSize must be one or two non-negative integers (null keeps a dim), got ${
          JSON.stringify(outputSize)
        }`,
      );
    }
    this.outputSize = outputSize;
  }

  /** Average-pools `x` ([N, C, H, W] or [C, H, W]) to the output size. */
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }

  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    const s = this.outputSize;
    return `outputSize=${typeof s === "number" ? s : `(${s.map((v) => v ?? "null").join(", ")})`}`;
  }
}
