/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum, weight decay and maximize:
 * PyTorch's `torch.optim.SGD`.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { Optimizer, type ParamGroup, type ParamsInput, type ParamState } from "./optimizer.ts";

/** Options of {@linkcode SGD}. */
export interface SGDOptions {
  /** Learning rate (required, as in PyTorch). */
  lr: number;
  /** Momentum factor (default 0: plain SGD, no momentum buffer). */
  momentum?: number;
  /** Dampening of the momentum (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and no dampening). */
  nesterov?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** A param group of {@linkcode SGD}: its parameters and hyperparameters. */
export interface SGDParamGroup extends ParamGroup {
  /** Momentum factor. */
  momentum: number;
  /** Dampening of the momentum. */
  dampening: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** Nesterov momentum. */
  nesterov: boolean;
  /** Maximize instead of minimize. */
  maximize: boolean;
}

/**
 * Stochastic gradient descent, optionally with momentum, as PyTorch's `SGD`:
 * g = ∇ + wd·x; b = μ·b + (1 - dampening)·g (b = g at the first step); g = nesterov ? g + μ·b : b;
 * x -= lr·g. The state of each parameter is its `momentum_buffer` (null without momentum). Each parameter
 * is updated by one fused kernel on its device.
 *
 * @example
 * ```ts
 * import { nn, optim, randn } from "../../mod.ts";
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true });
 * const loss = model.forward(randn([8, 4])).square().mean();
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export class SGD extends Optimizer<SGDParamGroup> {
  /** An SGD optimizer over `params` (tensors or param groups overriding `options`). */
  constructor(params: ParamsInput<SGDOptions>, options: SGDOptions) {
    if (options === null || typeof options !== "object" || options.lr === undefined) {
      throw new TypeError("SGD: options.lr is required, e.g. new SGD(params, { lr: 0.01 })");
    }
    super(params, {
      lr: options.lr,
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      weightDecay: options.weightDecay ?? 0,
      nesterov: options.nesterov ?? false,
      maximize: options.maximize ?? false,
    });
  }

  /** PyTorch's checks of SGD's hyperparameters. */
  protected checkGroup(g: SGDParamGroup, index: number): void {
    const at = index > 0 ? ` (param group ${index})` : "";
    if (!(g.lr >= 0)) throw new RangeError(`SGD: Invalid learning rate: ${g.lr}${at}`);
    if (!(g.momentum >= 0)) throw new RangeError(`SGD: Invalid momentum value: ${g.momentum}${at}`);
    if (!(g.weightDecay >= 0)) throw new RangeError(`SGD: Invalid weight_decay value: ${g.weightDecay}${at}`);
    if (!(g.dampening >= 0)) throw new RangeError(`SGD: Invalid dampening value: ${g.dampening}${at}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new RangeError(`SGD: Nesterov momentum requires a momentum and zero dampening${at}`);
    }
  }

  /** One fused SGD update of `param`. */
  protected updateParam(param: Tensor, grad: Tensor, g: SGDParamGroup, state: ParamState): void {
    let buf: Tensor | null = null;
    let firstStep = false;
    if (g.momentum !== 0) {
      const b = state.momentum_buffer;
      if (b && typeof b === "object") buf = b;
      else {
        buf = this.zerosLike(param);
        state.momentum_buffer = buf;
        firstStep = true;
      }
    } else if (!("momentum_buffer" in state)) state.momentum_buffer = null;
    this.applyRule(param, grad, {
      kind: "sgd",
      lr: g.lr,
      weightDecay: g.weightDecay,
      maximize: g.maximize,
      momentum: g.momentum,
      dampening: g.dampening,
      nesterov: g.nesterov,
      firstStep,
    }, buf ? [buf] : []);
  }
}
