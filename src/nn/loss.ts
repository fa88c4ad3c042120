/**
 * Loss modules: `CrossEntropyLoss`, `NLLLoss`, `MSELoss`, `L1Loss`, `KLDivLoss`, `BCEWithLogitsLoss`. Each
 * holds its options (and weights, registered as buffers as in PyTorch) and calls `nn.functional`.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import {
  type BceWithLogitsOptions,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  type CrossEntropyOptions,
  klDiv,
  type KlDivOptions,
  l1Loss,
  mseLoss,
  nllLoss,
  type NllLossOptions,
  type Reduction,
  type ReductionOptions,
} from "./functional/loss.ts";
import { Module } from "./module.ts";

/**
 * The base of the loss modules: `forward(input, target)` returns the loss.
 *
 * @example
 * ```ts
 * import { nn, randn, tensor } from "../../mod.ts";
 * const lossFn: nn.Loss = new nn.CrossEntropyLoss({ labelSmoothing: 0.1 });
 * const loss = lossFn.forward(randn([4, 10]), tensor([1, 0, 9, 3]));
 * ```
 */
export abstract class Loss extends Module {
  /** How per-element losses are combined. */
  readonly reduction: string;
  constructor(reduction: string) {
    super();
    this.reduction = reduction;
  }
  /** The loss of `input` against `target`. */
  abstract override forward(input: Tensor, target: Tensor): Tensor;
  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return this.reduction === "mean" ? "" : `reduction="${this.reduction}"`;
  }
}

/**
 * Cross entropy of logits against int32 class indices or class probabilities, PyTorch's
 * `nn.CrossEntropyLoss` (see {@linkcode crossEntropy} for the options).
 *
 * @example
 * ```ts
 * import { nn, randn, tensor } from "../../mod.ts";
 * const lossFn = new nn.CrossEntropyLoss({ labelSmoothing: 0.1 });
 * const loss = lossFn.forward(randn([4, 3]), tensor([0, 2, 1, 0]));
 * ```
 */
export class CrossEntropyLoss extends Loss {
  /** Class weights `[C]` (a buffer), or null. */
  declare weight: Tensor | null;
  /** Ignored target value. */
  readonly ignoreIndex: number;
  /** Label smoothing ε. */
  readonly labelSmoothing: number;
  constructor(
    { weight = null, ignoreIndex = -100, reduction = "mean", labelSmoothing = 0 }: CrossEntropyOptions = {},
  ) {
    super(reduction);
    this.registerBuffer("weight", weight);
    this.ignoreIndex = ignoreIndex;
    this.labelSmoothing = labelSmoothing;
  }
  /** The cross entropy of `input` logits against `target`. */
  forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, {
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      reduction: this.reduction as Reduction,
      labelSmoothing: this.labelSmoothing,
    });
  }
}

/**
 * Negative log likelihood of int32 class indices under log-probabilities, PyTorch's `nn.NLLLoss`.
 *
 * @example
 * ```ts
 * import { nn, randn, tensor } from "../../mod.ts";
 * const loss = new nn.NLLLoss().forward(randn([4, 3]).logSoftmax(1), tensor([0, 2, 1, 0]));
 * ```
 */
export class NLLLoss extends Loss {
  /** Class weights `[C]` (a buffer), or null. */
  declare weight: Tensor | null;
  /** Ignored target value. */
  readonly ignoreIndex: number;
  constructor({ weight = null, ignoreIndex = -100, reduction = "mean" }: NllLossOptions = {}) {
    super(reduction);
    this.registerBuffer("weight", weight);
    this.ignoreIndex = ignoreIndex;
  }
  /** The negative log likelihood of `target` under `input`. */
  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, {
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      reduction: this.reduction as Reduction,
    });
  }
}

/**
 * Mean squared error, PyTorch's `nn.MSELoss`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * new nn.MSELoss().forward(tensor([1.5, 2]), tensor([1.5, 4])); // 2
 * ```
 */
export class MSELoss extends Loss {
  constructor({ reduction = "mean" }: ReductionOptions = {}) {
    super(reduction);
  }
  /** The squared error of `input` against `target`. */
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction as Reduction });
  }
}

/**
 * Mean absolute error, PyTorch's `nn.L1Loss`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * new nn.L1Loss().forward(tensor([1.5, 2]), tensor([1.5, 4])); // 1
 * ```
 */
export class L1Loss extends Loss {
  constructor({ reduction = "mean" }: ReductionOptions = {}) {
    super(reduction);
  }
  /** The absolute error of `input` against `target`. */
  forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, { reduction: this.reduction as Reduction });
  }
}

/**
 * KL divergence of a target distribution from log-probabilities, PyTorch's `nn.KLDivLoss`.
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const kl = new nn.KLDivLoss({ reduction: "batchmean" });
 * kl.forward(randn([4, 5]).logSoftmax(1), randn([4, 5]).softmax(1));
 * ```
 */
export class KLDivLoss extends Loss {
  /** Whether the target holds log-probabilities. */
  readonly logTarget: boolean;
  constructor({ reduction = "mean", logTarget = false }: KlDivOptions = {}) {
    super(reduction);
    this.logTarget = logTarget;
  }
  /** KL(target ‖ input). */
  forward(input: Tensor, target: Tensor): Tensor {
    return klDiv(input, target, {
      reduction: this.reduction as Reduction | "batchmean",
      logTarget: this.logTarget,
    });
  }
}

/**
 * Binary cross entropy on logits (a sigmoid and BCE in one stable step), PyTorch's `nn.BCEWithLogitsLoss`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * const loss = new nn.BCEWithLogitsLoss({ posWeight: tensor([2]) });
 * loss.forward(tensor([2.5, -1]), tensor([1, 0], { dtype: "float32" }));
 * ```
 */
export class BCEWithLogitsLoss extends Loss {
  /** Per-element weight (a buffer), or null. */
  declare weight: Tensor | null;
  /** Weight of positives per class (a buffer), or null. */
  declare pos_weight: Tensor | null;
  constructor({ weight = null, posWeight = null, reduction = "mean" }: BceWithLogitsOptions = {}) {
    super(reduction);
    this.registerBuffer("weight", weight);
    this.registerBuffer("pos_weight", posWeight);
  }
  /** Weight of positives per class (PyTorch's `pos_weight`). */
  get posWeight(): Tensor | null {
    return this.pos_weight;
  }
  /** The binary cross entropy of `input` logits against `target`. */
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, {
      weight: this.weight,
      posWeight: this.pos_weight,
      reduction: this.reduction as Reduction,
    });
  }
}
