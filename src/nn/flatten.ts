/**
 * `Flatten`: merges a range of dims into one.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/**
 * Flattens dims `startDim..endDim` (default 1..-1: everything but the batch dim) into one, PyTorch's
 * `nn.Flatten`. Returns a view when the layout allows.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "../../mod.ts";
 * new nn.Flatten().forward(zeros([2, 3, 4, 4])).shape; // [2, 48]
 * ```
 */
export class Flatten extends Module {
  /** First dim flattened. */
  readonly startDim: number;
  /** Last dim flattened. */
  readonly endDim: number;
  constructor(startDim = 1, endDim = -1) {
    super();
    if (!Number.isInteger(startDim) || !Number.isInteger(endDim)) {
      throw new TypeError(`Flatten: startDim and endDim must be integers, got ${startDim} and ${endDim}`);
    }
    this.startDim = startDim;
    this.endDim = endDim;
  }
  /** `x` with the dims flattened. */
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}
