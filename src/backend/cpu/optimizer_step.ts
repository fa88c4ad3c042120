/**
 * The fused optimizer updates on the CPU: one loop per parameter that updates it and its state in place,
 * with the same formulas, in the same order, as the WebGPU kernel (`src/shaders/optimizer_step.wgsl`)
 * and PyTorch's single-tensor implementations. Values are computed in float64 and rounded when stored.
 * @module
 */
import type { OptimizerRule } from "../backend.ts";
import type { TypedArray } from "../../tensor/dtype.ts";

/** A contiguous run of `n` elements of a host array, from `offset`. */
export interface HostSpan {
  /** The elements. */
  readonly data: TypedArray;
  /** Index of the first element. */
  readonly offset: number;
}

/**
 * Applies `rule` to the `n` elements of `param` in place, reading `grad` and updating `state` (whole arrays
 * of at least `n` elements, in the order the rule defines: see {@linkcode OptimizerRule}). With `skip`
 * ([foundInf, skippedSteps], a `GradScaler`'s), nothing changes when foundInf ≠ 0, and Adam's bias
 * corrections are computed for `rule.step` minus skippedSteps.
 *
 * @example
 * ```ts ignore
 * const p = new Float32Array([1, 2]);
 * optimizerStep(
 *   { kind: "sgd", lr: 0.1, weightDecay: 0, momentum: 0, dampening: 0, nesterov: false, maximize: false, firstStep: true },
 *   2, { data: p, offset: 0 }, { data: new Float32Array([1, 1]), offset: 0 }, [],
 * ); // p is [0.9, 1.9]
 * ```
 */
export function optimizerStep(
  rule: OptimizerRule,
  n: number,
  param: HostSpan,
  grad: HostSpan,
  state: readonly TypedArray[],
  skip?: TypedArray,
): void {
  if (skip && skip[0] !== 0) return;
  const x = param.data, xo = param.offset;
  const gd = grad.data, go = grad.offset;
  const sign = rule.maximize ? -1 : 1;
  switch (rule.kind) {
    case "sgd": {
      const { lr, weightDecay: wd, momentum: mu, nesterov, firstStep } = rule;
      const keep = 1 - rule.dampening;
      const buf = mu !== 0 ? state[0] : null;
      for (let i = 0; i < n; i++) {
        const xi = x[xo + i];
        let g = sign * gd[go + i];
        if (wd !== 0) g += wd * xi;
        if (buf) {
          const b = firstStep ? g : mu * buf[i] + keep * g;
          buf[i] = b;
          g = nesterov ? g + mu * buf[i] : buf[i];
        }
        x[xo + i] = xi - lr * g;
      }
      return;
    }
    case "adam": {
      const { lr, weightDecay: wd, beta1, beta2, eps } = rule;
      let { stepSize, biasCorrection2Sqrt } = rule;
      if (skip && rule.step !== undefined) {
        const t = rule.step - skip[1];
        stepSize = lr / (1 - beta1 ** t);
        biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** t);
      }
      const decay = rule.decoupledWeightDecay ? 1 - lr * wd : 1;
      const coupled = !rule.decoupledWeightDecay && wd !== 0;
      const [m, v, vmax] = state;
      for (let i = 0; i < n; i++) {
        let xi = x[xo + i];
        let g = sign * gd[go + i];
        if (coupled) g += wd * xi;
        else xi *= decay;
        m[i] = beta1 * m[i] + (1 - beta1) * g;
        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
        let vhat = v[i];
        if (rule.amsgrad) {
          vhat = maxNaN(vmax[i], vhat);
          vmax[i] = vhat;
        }
        const denom = Math.sqrt(vhat) / biasCorrection2Sqrt + eps;
        x[xo + i] = xi - stepSize * (m[i] / denom);
      }
      return;
    }
    case "rmsprop": {
      const { lr, weightDecay: wd, alpha, eps, momentum: mu, centered } = rule;
      const sq = state[0];
      const buf = mu > 0 ? state[1] : null;
      const gavg = centered ? state[mu > 0 ? 2 : 1] : null;
      for (let i = 0; i < n; i++) {
        const xi = x[xo + i];
        let g = sign * gd[go + i];
        if (wd !== 0) g += wd * xi;
        sq[i] = alpha * sq[i] + (1 - alpha) * g * g;
        let avg: number;
        if (gavg) {
          gavg[i] = alpha * gavg[i] + (1 - alpha) * g;
          avg = Math.sqrt(sq[i] - gavg[i] * gavg[i]);
        } else avg = Math.sqrt(sq[i]);
        avg += eps;
        if (buf) {
          buf[i] = mu * buf[i] + g / avg;
          x[xo + i] = xi - lr * buf[i];
        } else x[xo + i] = xi - lr * (g / avg);
      }
      return;
    }
  }
}

/** max with NaN propagating (as `torch.maximum`). */
function maxNaN(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b);
}
