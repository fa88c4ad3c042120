/**
 * Loss functions, as `torch.nn.functional`: cross entropy, negative log likelihood, MSE, L1, KL divergence
 * and binary cross entropy with logits. All are built from tensor ops (log-softmax, gather, masks through
 * `where`), are numerically stable, and never read the device.
 * @module
 */
import { noGrad } from "../../autograd/grad_mode.ts";
import { autocastFp32 } from "../../autograd/autocast_mode.ts";
import { isFloating } from "../../tensor/dtype.ts";
import { fmtShape } from "../../tensor/shape.ts";
import { tidy } from "../../tensor/scope.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { where } from "../../ops/compare.ts";

/** How a loss combines its per-element values: their mean (default), their sum, or none (the values). */
export type Reduction = "mean" | "sum" | "none";

/** Options of {@linkcode nllLoss}. */
export interface NllLossOptions {
  /** A rescaling weight per class, `[C]`. */
  weight?: Tensor | null;
  /** Targets equal to this are ignored: they add nothing, to the loss or to the mean's divisor (default -100). */
  ignoreIndex?: number;
  /** "mean" (default; weighted by the targets' class weights), "sum" or "none". */
  reduction?: Reduction;
}

/** Options of {@linkcode crossEntropy}. */
export interface CrossEntropyOptions extends NllLossOptions {
  /** Mixes the target with the uniform distribution: ε in [0, 1] (default 0). */
  labelSmoothing?: number;
}

function checkReduction(op: string, reduction: string, allowed: readonly string[] = ["mean", "sum", "none"]) {
  if (!allowed.includes(reduction)) {
    throw new RangeError(
      `${op}: reduction must be ${allowed.map((r) => `"${r}"`).join(", ")}, got ${JSON.stringify(reduction)}`,
    );
  }
}

function checkFloat(op: string, name: string, t: Tensor): void {
  if (!isFloating(t.dtype)) {
    throw new TypeError(`${op}: ${name} must have a floating point dtype, got ${t.dtype}`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  return reduction === "mean" ? loss.mean() : reduction === "sum" ? loss.sum() : loss;
}

/** Input `[C]` with a scalar target is a batch of one. */
function batched(op: string, input: Tensor, target: Tensor): [Tensor, Tensor, boolean] {
  if (input.ndim === 0) throw new RangeError(`${op}: input must have a class dim, got a scalar`);
  if (input.ndim === 1) {
    if (target.ndim !== 0) {
      throw new RangeError(
        `${op}: for input of shape ${fmtShape(input.shape)} (one sample) the target must be a scalar, got ${
          fmtShape(target.shape)
        }`,
      );
    }
    return [input.unsqueeze(0), target.reshape([1]), true];
  }
  const expected = input.shape.filter((_, i) => i !== 1);
  if (!sameShape(target.shape, expected)) {
    throw new RangeError(
      `${op}: expected target of shape ${fmtShape(expected)} for input of shape ${fmtShape(input.shape)} ` +
        `(classes along dim 1), got ${fmtShape(target.shape)}`,
    );
  }
  return [input, target, false];
}

/** Per-element weighted negative log likelihoods and their weights (0 where ignored), on a batched input. */
function nllParts(
  logp: Tensor,
  target: Tensor,
  weight: Tensor | null,
  ignoreIndex: number,
): [Tensor, Tensor] {
  const valid = target.ne(ignoreIndex);
  const safe = where(valid, target, 0);
  const picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1);
  let w: Tensor;
  if (weight) {
    w = where(valid, weight.indexSelect(0, safe.reshape([safe.size])).reshape(target.shape), 0);
  } else {
    w = valid.to(logp.dtype);
  }
  return [picked.mul(w).neg(), w];
}

function checkWeight(op: string, weight: Tensor | null | undefined, c: number, input: Tensor): void {
  if (!weight) return;
  if (weight.ndim !== 1 || weight.shape[0] !== c) {
    throw new RangeError(
      `${op}: weight must have shape [${c}] (one per class), got ${fmtShape(weight.shape)}`,
    );
  }
  if (weight.device !== input.device) {
    throw new Error(`${op}: weight is on ${weight.device} but the input is on ${input.device}`);
  }
}

function checkTarget(op: string, input: Tensor, target: Tensor): void {
  if (target.device !== input.device) {
    throw new Error(`${op}: target is on ${target.device} but the input is on ${input.device}`);
  }
}

/**
 * Negative log likelihood of int32 class `target`s under log-probabilities `input` (`[N, C, ...]`, or `[C]`
 * with a scalar target), as `torch.nn.functional.nll_loss`.
 *
 * @example
 * ```ts
 * import { F, randn, tensor } from "../../../mod.ts";
 * const logp = randn([3, 5]).logSoftmax(1);
 * const loss = F.nllLoss(logp, tensor([1, 0, 4]));
 * ```
 */
export function nllLoss(
  input: Tensor,
  target: Tensor,
  options: NllLossOptions = {},
): Tensor {
  const autocast = autocastFp32("nllLoss", [input, target] as const, (x, t) => nllLoss(x, t, options));
  if (autocast) return autocast;
  const { weight = null, ignoreIndex = -100, reduction = "mean" } = options;
  checkReduction("nllLoss", reduction);
  checkFloat("nllLoss", "input", input);
  checkTarget("nllLoss", input, target);
  if (target.dtype !== "int32") {
    throw new TypeError(`nllLoss: expected int32 class indices as target, got ${target.dtype}`);
  }
  const [x, t, single] = batched("nllLoss", input, target);
  checkWeight("nllLoss", weight, x.shape[1], input);
  return tidy(() => {
    const [loss, w] = nllParts(x, t, weight, ignoreIndex);
    if (reduction === "mean") return loss.sum().div(w.sum());
    if (reduction === "sum") return loss.sum();
    return single ? loss.reshape([]) : loss;
  });
}

/**
 * Cross entropy between `input` logits (`[N, C, ...]`, or `[C]`) and either int32 class indices (`[N, ...]`)
 * or class probabilities of the input's shape, as `torch.nn.functional.cross_entropy` (log-softmax, then the
 * negative log likelihood; stable for any logits). Options: class `weight`, `ignoreIndex` (class-index
 * targets only), `labelSmoothing` and `reduction`.
 *
 * @example
 * ```ts
 * import { F, randn, tensor } from "../../../mod.ts";
 * const logits = randn([4, 3], { requiresGrad: true });
 * const loss = F.crossEntropy(logits, tensor([0, 2, 1, 0]), { labelSmoothing: 0.1 });
 * loss.backward();
 * const soft = F.crossEntropy(logits, randn([4, 3]).softmax(1)); // probability targets
 * ```
 */
export function crossEntropy(
  input: Tensor,
  target: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  const autocast = autocastFp32(
    "crossEntropy",
    [input, target] as const,
    (x, t) => crossEntropy(x, t, options),
  );
  if (autocast) return autocast;
  const { weight = null, ignoreIndex = -100, reduction = "mean", labelSmoothing = 0 } = options;
  checkReduction("crossEntropy", reduction);
  checkFloat("crossEntropy", "input", input);
  checkTarget("crossEntropy", input, target);
  if (typeof labelSmoothing !== "number" || !(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new RangeError(`crossEntropy: labelSmoothing must be between 0 and 1, got ${labelSmoothing}`);
  }
  if (input.ndim === 0) throw new RangeError("crossEntropy: input must have a class dim, got a scalar");
  const classDim = input.ndim === 1 ? 0 : 1;
  const c = input.shape[classDim];
  checkWeight("crossEntropy", weight, c, input);
  if (isFloating(target.dtype)) {
    if (!sameShape(target.shape, input.shape)) {
      throw new RangeError(
        `crossEntropy: probability targets must have the input's shape ${fmtShape(input.shape)}, got ${
          fmtShape(target.shape)
        } (class-index targets must be int32)`,
      );
    }
    return tidy(() => {
      const logp = input.logSoftmax(classDim);
      let p = target;
      if (labelSmoothing > 0) p = p.mul(1 - labelSmoothing).add(labelSmoothing / c);
      let prod = logp.mul(p);
      if (weight) prod = prod.mul(weight.reshape(input.shape.map((d, i) => (i === classDim ? d : 1))));
      if (reduction === "none") return prod.sum(classDim).neg();
      const total = prod.sum().neg();
      return reduction === "sum" ? total : total.div(input.size / Math.max(c, 1));
    });
  }
  if (target.dtype !== "int32") {
    throw new TypeError(
      `crossEntropy: expected int32 class indices or float probabilities as target, got ${target.dtype}`,
    );
  }
  const [x, t, single] = batched("crossEntropy", input, target);
  return tidy(() => {
    const logp = x.logSoftmax(1);
    const [nll, w] = nllParts(logp, t, weight, ignoreIndex);
    const finish = (loss: Tensor, divisor: Tensor): Tensor => {
      if (reduction === "mean") return loss.sum().div(divisor.sum());
      if (reduction === "sum") return loss.sum();
      return single ? loss.reshape([]) : loss;
    };
    const nllLoss = finish(nll, w);
    if (labelSmoothing === 0) return nllLoss;
    // torch: (1 - ε)·nll + ε/C · Σ_c -w_c·logp_c, with ignored targets contributing nothing.
    const valid = t.ne(ignoreIndex);
    const wl = weight ? logp.mul(weight.reshape(x.shape.map((d, i) => (i === 1 ? d : 1)))) : logp;
    const smooth = where(valid, wl.sum(1).neg(), 0);
    const divisor = weight ? w : valid.to(logp.dtype);
    const smoothLoss = finish(smooth, divisor);
    return nllLoss.mul(1 - labelSmoothing).add(smoothLoss.mul(labelSmoothing / c));
  });
}

function checkPair(op: string, input: Tensor, target: Tensor): void {
  checkFloat(op, "input", input);
  checkFloat(op, "target", target);
  checkTarget(op, input, target);
  if (!sameShape(input.shape, target.shape)) {
    throw new RangeError(
      `${op}: input of shape ${fmtShape(input.shape)} and target of shape ${fmtShape(target.shape)} differ ` +
        "(broadcasting a loss is almost always a bug; reshape one of them)",
    );
  }
}

/** Options of the elementwise losses. */
export interface ReductionOptions {
  /** "mean" (default), "sum" or "none". */
  reduction?: Reduction;
}

/**
 * Mean squared error (x - y)², as `torch.nn.functional.mse_loss`.
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../../mod.ts";
 * F.mseLoss(tensor([1.5, 2]), tensor([1.5, 4])); // 2
 * ```
 */
export function mseLoss(
  input: Tensor,
  target: Tensor,
  options: ReductionOptions = {},
): Tensor {
  const autocast = autocastFp32("mseLoss", [input, target] as const, (x, t) => mseLoss(x, t, options));
  if (autocast) return autocast;
  const { reduction = "mean" } = options;
  checkReduction("mseLoss", reduction);
  checkPair("mseLoss", input, target);
  return tidy(() => {
    const d = input.sub(target);
    return reduce(d.mul(d), reduction);
  });
}

/**
 * Mean absolute error |x - y|, as `torch.nn.functional.l1_loss`.
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../../mod.ts";
 * F.l1Loss(tensor([1.5, 2]), tensor([1.5, 4])); // 1
 * ```
 */
export function l1Loss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  const autocast = autocastFp32("l1Loss", [input, target] as const, (x, t) => l1Loss(x, t, options));
  if (autocast) return autocast;
  const { reduction = "mean" } = options;
  checkReduction("l1Loss", reduction);
  checkPair("l1Loss", input, target);
  return tidy(() => reduce(input.sub(target).abs(), reduction));
}

/** Options of {@linkcode klDiv}. */
export interface KlDivOptions {
  /**
   * "mean" (default, as torch: the mean over every element), "batchmean" (the sum divided by the batch
   * size: the true KL divergence per sample), "sum" or "none".
   */
  reduction?: Reduction | "batchmean";
  /** Whether `target` holds log-probabilities too (default false: probabilities). */
  logTarget?: boolean;
}

/**
 * Kullback–Leibler divergence KL(target ‖ input) with `input` given as log-probabilities: target·(log target −
 * input) elementwise (0 where target is 0), as `torch.nn.functional.kl_div`.
 *
 * @example
 * ```ts
 * import { F, randn } from "../../../mod.ts";
 * const logq = randn([4, 5]).logSoftmax(1);
 * const p = randn([4, 5]).softmax(1);
 * const kl = F.klDiv(logq, p, { reduction: "batchmean" });
 * ```
 */
export function klDiv(
  input: Tensor,
  target: Tensor,
  options: KlDivOptions = {},
): Tensor {
  const autocast = autocastFp32("klDiv", [input, target] as const, (x, t) => klDiv(x, t, options));
  if (autocast) return autocast;
  const { reduction = "mean", logTarget = false } = options;
  checkReduction("klDiv", reduction, ["mean", "batchmean", "sum", "none"]);
  checkPair("klDiv", input, target);
  return tidy(() => {
    let loss: Tensor;
    if (logTarget) {
      loss = target.exp().mul(target.sub(input));
    } else {
      const positive = target.gt(0);
      const xlogx = where(positive, target.mul(where(positive, target, 1).log()), 0);
      loss = xlogx.sub(target.mul(input));
    }
    if (reduction === "batchmean") {
      const n = input.ndim > 0 ? input.shape[0] : 1;
      return loss.sum().div(n);
    }
    return reduce(loss, reduction);
  });
}

/** Options of {@linkcode binaryCrossEntropyWithLogits}. */
export interface BceWithLogitsOptions extends ReductionOptions {
  /** A rescaling weight of each element's loss, broadcast to the input's shape. */
  weight?: Tensor | null;
  /** A weight of the positive examples per class (broadcast over the last dim): >1 raises recall. */
  posWeight?: Tensor | null;
}

/**
 * Binary cross entropy of `target` probabilities against `input` logits, computed stably (no sigmoid is
 * taken), as `torch.nn.functional.binary_cross_entropy_with_logits`:
 * `(1 - y)·x + (1 + (posWeight - 1)·y)·softplus(-x)`.
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../../mod.ts";
 * const loss = F.binaryCrossEntropyWithLogits(tensor([2.5, -1]), tensor([1, 0], { dtype: "float32" }));
 * ```
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: BceWithLogitsOptions = {},
): Tensor {
  const autocast = autocastFp32(
    "binaryCrossEntropyWithLogits",
    [input, target] as const,
    (x, t) => binaryCrossEntropyWithLogits(x, t, options),
  );
  if (autocast) return autocast;
  const { weight = null, posWeight = null, reduction = "mean" } = options;
  checkReduction("binaryCrossEntropyWithLogits", reduction);
  checkPair("binaryCrossEntropyWithLogits", input, target);
  for (const [name, t] of [["weight", weight], ["posWeight", posWeight]] as const) {
    if (!t) continue;
    if (t.device !== input.device) {
      throw new Error(
        `binaryCrossEntropyWithLogits: ${name} is on ${t.device} but the input is on ${input.device}`,
      );
    }
    if (
      t.ndim > input.ndim || t.shape.some((d, i) => d !== 1 && d !== input.shape[input.ndim - t.ndim + i])
    ) {
      throw new RangeError(
        `binaryCrossEntropyWithLogits: ${name} of shape ${
          fmtShape(t.shape)
        } does not broadcast to the input's ${fmtShape(input.shape)}`,
      );
    }
  }
  return tidy(() => {
    // softplus(-x) = m + log(e^-m + e^(-x-m)) with m = max(-x, 0): both exponents are <= 0, and the
    // gradient is exactly -sigmoid(-x) whatever m is (so m needs no gradient).
    const m = noGrad(() => input.neg().relu());
    const softplusNeg = m.neg().exp().add(input.neg().sub(m).exp()).log().add(m);
    let loss: Tensor;
    if (posWeight) {
      const logWeight = posWeight.sub(1).mul(target).add(1);
      loss = target.neg().add(1).mul(input).add(logWeight.mul(softplusNeg));
    } else {
      loss = target.neg().add(1).mul(input).add(softplusNeg);
    }
    if (weight) loss = loss.mul(weight);
    return reduce(loss, reduction);
  });
}
