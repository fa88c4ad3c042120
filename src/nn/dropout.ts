/**
 * `Dropout`: random zeroing while training, the identity in evaluation.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { dropout } from "./functional/dropout.ts";
import { Module } from "./module.ts";

/**
 * Zeroes each element with probability `p` (default 0.5) while training and scales the rest by 1/(1-p);
 * the identity after `eval()`. PyTorch's `nn.Dropout`; masks come from the seeded generator.
 *
 * @example
 * ```ts
 * import { manualSeed, nn, ones } from "../../mod.ts";
 * manualSeed(0);
 * const drop = new nn.Dropout(0.25);
 * const y = drop.forward(ones([4, 4])); // zeros and 4/3s
 * drop.eval();
 * drop.forward(ones([4, 4])); // the input itself
 * ```
 */
export class Dropout extends Module {
  /** Probability of an element being zeroed. */
  readonly p: number;
  constructor(p = 0.5) {
    super();
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
      throw new RangeError(`Dropout: probability has to be between 0 and 1, but got ${p}`);
    }
    this.p = p;
  }
  /** `x` with dropout applied while training. */
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
