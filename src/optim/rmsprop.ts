/**
 * RMSprop with momentum, centering, weight decay and maximize: PyTorch's `torch.optim.RMSprop`.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { Optimizer, type ParamGroup, type ParamsInput, type ParamState } from "./optimizer.ts";

/** Options of {@linkcode RMSprop}. */
export interface RMSpropOptions {
  /** Learning rate (default 1e-2). */
  lr?: number;
  /** Smoothing constant of the squared-gradient average (default 0.99). */
  alpha?: number;
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Normalise by the estimated variance of the gradient instead of its second moment (default false). */
  centered?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** A param group of {@linkcode RMSprop}. */
export interface RMSpropParamGroup extends ParamGroup {
  /** Smoothing constant. */
  alpha: number;
  /** Added to the denominator. */
  eps: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** Momentum factor. */
  momentum: number;
  /** Centered RMSprop. */
  centered: boolean;
  /** Maximize instead of minimize. */
  maximize: boolean;
}

/**
 * RMSprop, as PyTorch's: g = ∇ + wd·x; s = α·s + (1 - α)·g²; a = √s (centered: √(s - ḡ²) with
 * ḡ = α·ḡ + (1 - α)·g) + eps; with momentum b = μ·b + g/a, x -= lr·b, else x -= lr·g/a. The state of each
 * parameter is `step`, `square_avg` (and `momentum_buffer`, `grad_avg`). One fused kernel per parameter.
 *
 * @example
 * ```ts
 * import { nn, optim, randn } from "../../mod.ts";
 * const model = new nn.Linear(4, 1);
 * const opt = new optim.RMSprop(model.parameters(), { lr: 1e-2, momentum: 0.9, centered: true });
 * model.forward(randn([8, 4])).square().mean().backward();
 * opt.step();
 * ```
 */
export class RMSprop extends Optimizer<RMSpropParamGroup> {
  /** An RMSprop optimizer over `params` (tensors or param groups overriding `options`). */
  constructor(params: ParamsInput<RMSpropOptions>, options: RMSpropOptions = {}) {
    super(params, {
      lr: options.lr ?? 1e-2,
      alpha: options.alpha ?? 0.99,
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 0,
      momentum: options.momentum ?? 0,
      centered: options.centered ?? false,
      maximize: options.maximize ?? false,
    });
  }

  /** PyTorch's checks of RMSprop's hyperparameters. */
  protected checkGroup(g: RMSpropParamGroup, index: number): void {
    const at = index > 0 ? ` (param group ${index})` : "";
    if (!(g.lr >= 0)) throw new RangeError(`RMSprop: Invalid learning rate: ${g.lr}${at}`);
    if (!(g.eps >= 0)) throw new RangeError(`RMSprop: Invalid epsilon value: ${g.eps}${at}`);
    if (!(g.momentum >= 0)) throw new RangeError(`RMSprop: Invalid momentum value: ${g.momentum}${at}`);
    if (!(g.weightDecay >= 0)) {
      throw new RangeError(`RMSprop: Invalid weight_decay value: ${g.weightDecay}${at}`);
    }
    if (!(g.alpha >= 0)) throw new RangeError(`RMSprop: Invalid alpha value: ${g.alpha}${at}`);
  }

  /** One fused RMSprop update of `param`. */
  protected updateParam(param: Tensor, grad: Tensor, g: RMSpropParamGroup, state: ParamState): void {
    if (typeof state.step !== "number") {
      state.step = 0;
      state.square_avg = this.zerosLike(param);
    }
    const tensors = [state.square_avg as Tensor];
    if (g.momentum > 0) {
      if (!(state.momentum_buffer && typeof state.momentum_buffer === "object")) {
        state.momentum_buffer = this.zerosLike(param);
      }
      tensors.push(state.momentum_buffer as Tensor);
    }
    if (g.centered) {
      if (!(state.grad_avg && typeof state.grad_avg === "object")) state.grad_avg = this.zerosLike(param);
      tensors.push(state.grad_avg as Tensor);
    }
    state.step = (state.step as number) + 1;
    this.applyRule(param, grad, {
      kind: "rmsprop",
      lr: g.lr,
      weightDecay: g.weightDecay,
      maximize: g.maximize,
      alpha: g.alpha,
      eps: g.eps,
      momentum: g.momentum,
      centered: g.centered,
    }, tensors);
  }
}
