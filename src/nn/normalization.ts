/**
 * `LayerNorm`: normalisation over each sample's last dims.
 * @module
 */
import { getDefaultDevice, ones, zeros } from "../tensor/creation.ts";
import { fmtShape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { layerNorm } from "./functional/normalization.ts";
import type { LayerOptions } from "./linear.ts";
import { Module } from "./module.ts";

/** Options of {@linkcode LayerNorm}. */
export interface LayerNormOptions extends LayerOptions {
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
  /** Whether to learn an elementwise scale (and bias) (default true). */
  elementwiseAffine?: boolean;
  /** Whether the affine part has a bias (default true). */
  bias?: boolean;
}

/**
 * Normalises the last dims (`normalizedShape`) of each sample to mean 0 and variance 1, then applies a learned
 * elementwise scale (ones) and shift (zeros): PyTorch's `nn.LayerNorm`.
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const ln = new nn.LayerNorm(8);
 * const y = ln.forward(randn([2, 5, 8]));
 * ```
 */
export class LayerNorm extends Module {
  /** The trailing shape normalised over. */
  readonly normalizedShape: readonly number[];
  /** Added to the variance. */
  readonly eps: number;
  /** Whether there is a learned scale and shift. */
  readonly elementwiseAffine: boolean;
  /** Scale γ (or null). */
  declare weight: Tensor | null;
  /** Shift β (or null). */
  declare bias: Tensor | null;

  constructor(
    normalizedShape: number | readonly number[],
    { eps = 1e-5, elementwiseAffine = true, bias = true, device, dtype }: LayerNormOptions = {},
  ) {
    super();
    const ns = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    if (ns.length === 0 || ns.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new RangeError(`LayerNorm: normalizedShape must be non-negative integers, got ${fmtShape(ns)}`);
    }
    this.normalizedShape = Object.freeze(ns);
    this.eps = eps;
    this.elementwiseAffine = elementwiseAffine;
    const opts = { device: device ?? getDefaultDevice(), dtype: dtype ?? "float32" };
    this.registerParameter("weight", elementwiseAffine ? ones(ns, opts) : null);
    this.registerParameter("bias", elementwiseAffine && bias ? zeros(ns, opts) : null);
  }

  /** `x` normalised over its last dims. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
  }

  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return `${fmtShape(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${this.elementwiseAffine}`;
  }
}
