/**
 * Activation layers: `ReLU`, `GELU`, `Sigmoid`, `Tanh`, `LeakyReLU`, `Softmax`, `LogSoftmax`.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { gelu, type GeluOptions } from "./functional/activation.ts";
import { Module } from "./module.ts";

/**
 * max(x, 0), PyTorch's `nn.ReLU`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * new nn.ReLU().forward(tensor([-1, 2])); // [0, 2]
 * ```
 */
export class ReLU extends Module {
  /** max(x, 0) */
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/**
 * GELU, PyTorch's `nn.GELU`: exact x·Φ(x) by default, or `{ approximate: "tanh" }`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * new nn.GELU().forward(tensor([-1, 0, 1]));
 * ```
 */
export class GELU extends Module {
  /** "none" (exact) or "tanh". */
  readonly approximate: "none" | "tanh";
  constructor({ approximate = "none" }: GeluOptions = {}) {
    super();
    if (approximate !== "none" && approximate !== "tanh") {
      throw new RangeError(`GELU: approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}`);
    }
    this.approximate = approximate;
  }
  /** GELU of `x`. */
  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }
  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return this.approximate === "none" ? "" : `approximate="${this.approximate}"`;
  }
}

/**
 * 1 / (1 + e^-x), PyTorch's `nn.Sigmoid`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * new nn.Sigmoid().forward(tensor([0])); // [0.5]
 * ```
 */
export class Sigmoid extends Module {
  /** The logistic sigmoid of `x`. */
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

/**
 * Hyperbolic tangent, PyTorch's `nn.Tanh`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * new nn.Tanh().forward(tensor([0, 1]));
 * ```
 */
export class Tanh extends Module {
  /** tanh(x) */
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

/**
 * x where x > 0, else negativeSlope·x (default 0.01), PyTorch's `nn.LeakyReLU`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * new nn.LeakyReLU(0.1).forward(tensor([-1, 2])); // [-0.1, 2]
 * ```
 */
export class LeakyReLU extends Module {
  /** The slope for negative inputs. */
  readonly negativeSlope: number;
  constructor(negativeSlope = 0.01) {
    super();
    if (typeof negativeSlope !== "number" || !Number.isFinite(negativeSlope)) {
      throw new TypeError(`LeakyReLU: negativeSlope must be a finite number, got ${negativeSlope}`);
    }
    this.negativeSlope = negativeSlope;
  }
  /** Leaky ReLU of `x`. */
  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

/**
 * {@linkcode LeakyReLU} under the library's camel-case spelling.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * const act = new nn.LeakyRelu(0.1); // the same class as nn.LeakyReLU
 * const y = act.forward(tensor([-1, 2])); // [-0.1, 2]
 * ```
 */
export const LeakyRelu: typeof LeakyReLU = LeakyReLU;
/** {@linkcode LeakyReLU} under the library's camel-case spelling. */
export type LeakyRelu = LeakyReLU;

/**
 * Softmax along `dim` (default: the last), PyTorch's `nn.Softmax`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * new nn.Softmax(1).forward(tensor([[1, 2, 3]], { dtype: "float32" }));
 * ```
 */
export class Softmax extends Module {
  /** The dim that sums to one. */
  readonly dim: number;
  constructor(dim = -1) {
    super();
    this.dim = dim;
  }
  /** Softmax of `x` along `dim`. */
  forward(x: Tensor): Tensor {
    return x.softmax(this.dim);
  }
  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/**
 * log(softmax(x)) along `dim` (default: the last), computed stably, PyTorch's `nn.LogSoftmax`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * new nn.LogSoftmax(1).forward(tensor([[1, 2, 3]], { dtype: "float32" }));
 * ```
 */
export class LogSoftmax extends Module {
  /** The dim normalised over. */
  readonly dim: number;
  constructor(dim = -1) {
    super();
    this.dim = dim;
  }
  /** Log-softmax of `x` along `dim`. */
  forward(x: Tensor): Tensor {
    return x.logSoftmax(this.dim);
  }
  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
