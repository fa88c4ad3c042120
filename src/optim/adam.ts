/**
 * Adam and AdamW (decoupled weight decay), with AMSGrad and maximize: PyTorch's `torch.optim.Adam` and
 * `torch.optim.AdamW`. Both run the same fused kernel.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { Optimizer, type ParamGroup, type ParamsInput, type ParamState } from "./optimizer.ts";

/** Options of {@linkcode Adam} and {@linkcode AdamW}. */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** Weight decay: an L2 penalty added to the gradient for Adam (default 0), decoupled for AdamW (default 0.01). */
  weightDecay?: number;
  /** Use AMSGrad, the running maximum of the second moment (default false). */
  amsgrad?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** A param group of {@linkcode Adam} and {@linkcode AdamW}. */
export interface AdamParamGroup extends ParamGroup {
  /** Decay rates [β1, β2] of the moment estimates (a scheduler may cycle β1). */
  betas: [number, number];
  /** Added to the denominator. */
  eps: number;
  /** Weight decay. */
  weightDecay: number;
  /** AMSGrad. */
  amsgrad: boolean;
  /** Maximize instead of minimize. */
  maximize: boolean;
}

/**
 * Adam, as PyTorch's: g = ∇ + wd·x; m = β1·m + (1 - β1)·g; v = β2·v + (1 - β2)·g² (v̂ = max(v̂, v) with
 * AMSGrad); x -= lr/(1 - β1ᵗ) · m / (√v / √(1 - β2ᵗ) + eps). The state of each parameter is `step`,
 * `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq`); the bias corrections are computed on the host from the
 * step count, so each update is one fused kernel with no reads.
 *
 * @example
 * ```ts
 * import { nn, optim, randn } from "../../mod.ts";
 * const model = new nn.Linear(4, 1);
 * const opt = new optim.Adam(model.parameters(), { lr: 1e-3, betas: [0.9, 0.999] });
 * const loss = model.forward(randn([8, 4])).square().mean();
 * loss.backward();
 * opt.step();
 * ```
 */
export class Adam extends Optimizer<AdamParamGroup> {
  /** An Adam optimizer over `params` (tensors or param groups overriding `options`). */
  constructor(params: ParamsInput<AdamOptions>, options: AdamOptions = {}) {
    super(params, {
      lr: options.lr ?? 1e-3,
      betas: [...(options.betas ?? [0.9, 0.999])] as [number, number],
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 0,
      amsgrad: options.amsgrad ?? false,
      maximize: options.maximize ?? false,
    });
  }

  /** Whether weight decay is decoupled from the gradient (AdamW). */
  protected get decoupledWeightDecay(): boolean {
    return false;
  }

  /** PyTorch's checks of Adam's hyperparameters. */
  protected checkGroup(g: AdamParamGroup, index: number): void {
    const at = index > 0 ? ` (param group ${index})` : "";
    if (!Array.isArray(g.betas) || g.betas.length !== 2) {
      throw new TypeError(
        `${this.name}: betas must be a pair [beta1, beta2], got ${JSON.stringify(g.betas)}${at}`,
      );
    }
    g.betas = [g.betas[0], g.betas[1]];
    if (!(g.lr >= 0)) throw new RangeError(`${this.name}: Invalid learning rate: ${g.lr}${at}`);
    if (!(g.eps >= 0)) throw new RangeError(`${this.name}: Invalid epsilon value: ${g.eps}${at}`);
    for (const k of [0, 1]) {
      if (!(g.betas[k] >= 0 && g.betas[k] < 1)) {
        throw new RangeError(`${this.name}: Invalid beta parameter at index ${k}: ${g.betas[k]}${at}`);
      }
    }
    if (!(g.weightDecay >= 0)) {
      throw new RangeError(`${this.name}: Invalid weight_decay value: ${g.weightDecay}${at}`);
    }
  }

  /** One fused Adam update of `param`; the step count and bias corrections live on the host. */
  protected updateParam(param: Tensor, grad: Tensor, g: AdamParamGroup, state: ParamState): void {
    if (typeof state.step !== "number") {
      state.step = 0;
      state.exp_avg = this.zerosLike(param);
      state.exp_avg_sq = this.zerosLike(param);
    }
    if (g.amsgrad && !(state.max_exp_avg_sq && typeof state.max_exp_avg_sq === "object")) {
      state.max_exp_avg_sq = this.zerosLike(param);
    }
    const step = (state.step as number) + 1;
    state.step = step;
    const [beta1, beta2] = g.betas;
    const tensors = [state.exp_avg as Tensor, state.exp_avg_sq as Tensor];
    if (g.amsgrad) tensors.push(state.max_exp_avg_sq as Tensor);
    this.applyRule(param, grad, {
      kind: "adam",
      lr: g.lr,
      weightDecay: g.weightDecay,
      maximize: g.maximize,
      decoupledWeightDecay: this.decoupledWeightDecay,
      beta1,
      beta2,
      eps: g.eps,
      amsgrad: g.amsgrad,
      stepSize: g.lr / (1 - beta1 ** step),
      biasCorrection2Sqrt: Math.sqrt(1 - beta2 ** step),
      step,
    }, tensors);
  }
}

/**
 * AdamW: Adam with decoupled weight decay (x *= 1 - lr·wd before the Adam update, instead of an L2 term in
 * the gradient), default `weightDecay` 0.01, as PyTorch's `AdamW`.
 *
 * @example
 * ```ts
 * import { nn, optim } from "../../mod.ts";
 * const model = new nn.Linear(4, 1);
 * const opt = new optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.05 });
 * ```
 */
export class AdamW extends Adam {
  /** An AdamW optimizer over `params` (tensors or param groups overriding `options`). */
  constructor(params: ParamsInput<AdamOptions>, options: AdamOptions = {}) {
    super(params, { ...options, weightDecay: options.weightDecay ?? 0.01 });
  }

  /** AdamW decouples weight decay from the gradient. */
  protected override get decoupledWeightDecay(): boolean {
    return true;
  }
}
