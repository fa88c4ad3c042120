/**
 * `Conv2d`: the 2-D convolution layer.
 * @module
 */
import { getDefaultDevice, zeros } from "../tensor/creation.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { conv2d } from "./functional/conv.ts";
import { type IntPair, pair } from "./functional/window.ts";
import { layerDefaults_ } from "./init.ts";
import type { LayerOptions } from "./linear.ts";
import { Module } from "./module.ts";

/** Options of {@linkcode Conv2d}; every size is one int or `[height, width]`. */
export interface Conv2dLayerOptions extends LayerOptions {
  /** Step between windows (default 1). */
  stride?: IntPair;
  /** Zero padding on each side (default 0), or "same" (stride 1 only) or "valid". */
  padding?: IntPair | "same" | "valid";
  /** Spacing between kernel taps (default 1). */
  dilation?: IntPair;
  /** Blocked connections (default 1); `inChannels` makes a depthwise convolution. */
  groups?: number;
  /** Whether the layer adds a learned bias (default true). */
  bias?: boolean;
  /** How the input is padded: only "zeros" (the default) is supported. */
  paddingMode?: "zeros";
}

/**
 * 2-D convolution over [N, C, H, W] (or [C, H, W]) inputs, PyTorch's `nn.Conv2d`: `weight` is
 * `[outChannels, inChannels/groups, kH, kW]`, initialised kaiming-uniform with a = √5
 * (U(-1/√fanIn, 1/√fanIn), fanIn = inChannels/groups·kH·kW), and `bias` is `[outChannels]`, U(-1/√fanIn, 1/√fanIn).
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const conv = new nn.Conv2d(1, 16, 3, { padding: 1 });
 * const y = conv.forward(randn([8, 1, 28, 28])); // [8, 16, 28, 28]
 * const depthwise = new nn.Conv2d(16, 16, 3, { padding: 1, groups: 16 });
 * ```
 */
export class Conv2d extends Module {
  /** Channels of the input. */
  readonly inChannels: number;
  /** Channels of the output. */
  readonly outChannels: number;
  /** Kernel size [kH, kW]. */
  readonly kernelSize: [number, number];
  /** Step between windows [sH, sW]. */
  readonly stride: [number, number];
  /** Padding [pH, pW], or "same"/"valid". */
  readonly padding: [number, number] | "same" | "valid";
  /** Spacing between kernel taps [dH, dW]. */
  readonly dilation: [number, number];
  /** Blocked connections from input to output channels. */
  readonly groups: number;
  /** How the input is padded ("zeros"). */
  readonly paddingMode: "zeros";
  /** The weight, `[outChannels, inChannels/groups, kH, kW]`. */
  declare weight: Tensor;
  /** The bias, `[outChannels]`, or null. */
  declare bias: Tensor | null;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: IntPair,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    const { groups = 1, bias = true, paddingMode = "zeros" } = opts;
    for (const [name, v] of Object.entries({ inChannels, outChannels })) {
      if (!Number.isInteger(v) || v <= 0) {
        throw new RangeError(`Conv2d: ${name} must be a positive integer, got ${v}`);
      }
    }
    if (!Number.isInteger(groups) || groups <= 0) {
      throw new RangeError(`Conv2d: groups must be a positive integer, got ${groups}`);
    }
    if (inChannels % groups !== 0) throw new RangeError("Conv2d: in_channels must be divisible by groups");
    if (outChannels % groups !== 0) throw new RangeError("Conv2d: out_channels must be divisible by groups");
    if (paddingMode !== "zeros") {
      throw new RangeError(
        `Conv2d: paddingMode must be "zeros" (the only mode supported so far), but got paddingMode=${
          JSON.stringify(paddingMode)
        }`,
      );
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair("Conv2d", "kernelSize", kernelSize);
    this.stride = pair("Conv2d", "stride", opts.stride ?? 1);
    const padding = opts.padding ?? 0;
    this.padding = padding === "same" || padding === "valid" ? padding : pair("Conv2d", "padding", padding);
    this.dilation = pair("Conv2d", "dilation", opts.dilation ?? 1);
    this.groups = groups;
    this.paddingMode = paddingMode;
    if (this.padding === "same" && this.stride.some((s) => s !== 1)) {
      throw new RangeError("Conv2d: padding='same' is not supported for strided convolutions");
    }
    const p = { device: opts.device ?? getDefaultDevice(), dtype: opts.dtype ?? "float32" };
    this.registerParameter("weight", zeros([outChannels, inChannels / groups, ...this.kernelSize], p));
    this.registerParameter("bias", bias ? zeros([outChannels], p) : null);
    this.resetParameters();
  }

  /** Draws fresh initial values (PyTorch's `reset_parameters`). */
  resetParameters(): void {
    layerDefaults_(this.weight, this.bias);
  }

  /** The convolution of `x` ([N, C, H, W] or [C, H, W]). */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }

  /** The settings shown by `toString()`, as PyTorch prints them. */
  override extraRepr(): string {
    const t = (p: readonly number[]) => `(${p.join(", ")})`;
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${t(this.kernelSize)}, stride=${
      t(this.stride)
    }`;
    if (typeof this.padding === "string") s += `, padding=${this.padding}`;
    else if (this.padding.some((v) => v !== 0)) s += `, padding=${t(this.padding)}`;
    if (this.dilation.some((v) => v !== 1)) s += `, dilation=${t(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ", bias=false";
    return s;
  }
}
