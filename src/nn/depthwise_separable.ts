/**
 * `DepthwiseSeparableConv2d`: MobileNet v1's block, a depthwise 3×3 convolution (one filter per channel,
 * `groups = inChannels`) then a pointwise 1×1 convolution mixing the channels, each followed by BatchNorm and
 * ReLU. A dense k×k convolution costs C·OC·k² multiply-adds per output pixel; the block costs C·k² + C·OC,
 * about 1/OC + 1/k² of it (8 to 9 times fewer for 3×3 kernels and wide layers).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { ReLU } from "./activation.ts";
import { BatchNorm2d } from "./batchnorm.ts";
import { Sequential } from "./container.ts";
import { Conv2d } from "./conv.ts";
import type { IntPair } from "./functional/window.ts";
import type { LayerOptions } from "./linear.ts";

/** Options of {@linkcode DepthwiseSeparableConv2d}; every size is one int or `[height, width]`. */
export interface DepthwiseSeparableConv2dOptions extends LayerOptions {
  /** Step of the depthwise convolution (default 1; 2 halves the resolution, as MobileNet's downsampling blocks). */
  stride?: IntPair;
  /** Kernel size of the depthwise convolution (default 3). */
  kernelSize?: IntPair;
  /** Zero padding of the depthwise convolution (default `(kernelSize - 1) / 2`, keeping the size at stride 1). */
  padding?: IntPair;
  /** Spacing between the depthwise taps (default 1). */
  dilation?: IntPair;
}

/**
 * MobileNet v1's depthwise-separable block: `depthwise` (Conv2d `inChannels → inChannels`, `groups =
 * inChannels`, no bias) → `bn1` → `relu1` → `pointwise` (Conv2d 1×1 `inChannels → outChannels`, no bias) →
 * `bn2` → `relu2`. The children carry those names, so state-dict keys read `depthwise.weight`,
 * `bn1.running_mean`, .... The depthwise convolution runs on the dedicated depthwise kernel (see
 * `F.conv2d`).
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const block = new nn.DepthwiseSeparableConv2d(16, 32, { stride: 2 });
 * const y = block.forward(randn([8, 16, 28, 28])); // [8, 32, 14, 14]
 * console.log(block.numParameters()); // 16·9 + 16·32 + 2·16 + 2·32 = 752
 * ```
 */
export class DepthwiseSeparableConv2d extends Sequential {
  /** Channels of the input. */
  readonly inChannels: number;
  /** Channels of the output. */
  readonly outChannels: number;
  /** The depthwise convolution, `[inChannels, 1, kH, kW]`. */
  declare depthwise: Conv2d;
  /** BatchNorm after the depthwise convolution. */
  declare bn1: BatchNorm2d;
  /** The pointwise 1×1 convolution, `[outChannels, inChannels, 1, 1]`. */
  declare pointwise: Conv2d;
  /** BatchNorm after the pointwise convolution. */
  declare bn2: BatchNorm2d;

  constructor(inChannels: number, outChannels: number, opts: DepthwiseSeparableConv2dOptions = {}) {
    const { stride = 1, kernelSize = 3, dilation = 1, device, dtype } = opts;
    for (const [name, v] of Object.entries({ inChannels, outChannels })) {
      if (!Number.isInteger(v) || v <= 0) {
        throw new RangeError(`DepthwiseSeparableConv2d: ${name} must be a positive integer, got ${v}`);
      }
    }
    const k = typeof kernelSize === "number" ? [kernelSize, kernelSize] : kernelSize;
    const d = typeof dilation === "number" ? [dilation, dilation] : dilation;
    const padding = opts.padding ??
      (k.map((ki, i) => Math.floor((d[i] * (ki - 1)) / 2)) as [number, number]);
    const layer = { device, dtype };
    super({
      depthwise: new Conv2d(inChannels, inChannels, kernelSize, {
        ...layer,
        stride,
        padding,
        dilation,
        groups: inChannels,
        bias: false,
      }),
      bn1: new BatchNorm2d(inChannels, layer),
      relu1: new ReLU(),
      pointwise: new Conv2d(inChannels, outChannels, 1, { ...layer, bias: false }),
      bn2: new BatchNorm2d(outChannels, layer),
      relu2: new ReLU(),
    });
    this.inChannels = inChannels;
    this.outChannels = outChannels;
  }

  /** Applies the depthwise convolution, BatchNorm, ReLU, the pointwise convolution, BatchNorm and ReLU. */
  override forward(x: Tensor): Tensor {
    return super.forward(x);
  }
}
