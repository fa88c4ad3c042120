/**
 * Normalisation functions: `batchNorm` and `layerNorm`, built from reductions.
 * @module
 */
import { noGrad } from "../../autograd/grad_mode.ts";
import { autocastFp32 } from "../../autograd/autocast_mode.ts";
import { fmtShape, numel } from "../../tensor/shape.ts";
import { tidy } from "../../tensor/scope.ts";
import type { Tensor } from "../../tensor/tensor.ts";

/** Options of {@linkcode batchNorm}. */
export interface BatchNormOptions {
  /** Per-channel scale γ, `[C]`. */
  weight?: Tensor | null;
  /** Per-channel shift β, `[C]`. */
  bias?: Tensor | null;
  /**
   * Normalise with the batch's statistics and update the running ones (default false: use the running
   * statistics, as in evaluation).
   */
  training?: boolean;
  /**
   * Weight of the new batch in the running averages (default 0.1): running = (1 - m)·running + m·batch. A
   * one-element tensor is accepted too (for a cumulative average, `BatchNorm` passes 1/numBatchesTracked).
   */
  momentum?: number | Tensor;
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
}

function channelShape(x: Tensor): number[] {
  return x.shape.map((d, i) => (i === 1 ? d : 1));
}

function checkChannels(op: string, name: string, t: Tensor | null | undefined, c: number): void {
  if (t && (t.ndim !== 1 || t.shape[0] !== c)) {
    throw new RangeError(
      `${op}: ${name} must have shape [${c}] (the input's channels), got ${fmtShape(t.shape)}`,
    );
  }
}

/**
 * Batch normalisation over every dim but the channel dim 1 of `x` (`[N, C, ...]`), as
 * `torch.nn.functional.batch_norm`: with `training`, the batch's mean and biased variance normalise `x` and
 * the running statistics (when given) are updated in place, with the unbiased variance; otherwise the running
 * statistics normalise `x`.
 *
 * @example
 * ```ts
 * import { F, ones, randn, zeros } from "../../../mod.ts";
 * const x = randn([8, 3]);
 * const mean = zeros([3]), variance = ones([3]);
 * const y = F.batchNorm(x, mean, variance, { training: true }); // mean and variance move towards the batch's
 * ```
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  { weight = null, bias = null, training = false, momentum = 0.1, eps = 1e-5 }: BatchNormOptions = {},
): Tensor {
  if (x.ndim < 2) {
    throw new RangeError(`batchNorm: expected an input of shape [N, C, ...], got ${fmtShape(x.shape)}`);
  }
  const c = x.shape[1];
  checkChannels("batchNorm", "runningMean", runningMean, c);
  checkChannels("batchNorm", "runningVar", runningVar, c);
  checkChannels("batchNorm", "weight", weight, c);
  checkChannels("batchNorm", "bias", bias, c);
  if (!training && (!runningMean || !runningVar)) {
    throw new Error("batchNorm: running mean and variance are needed when training is false");
  }
  const shape = channelShape(x);
  const dims = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const n = numel(x.shape) / Math.max(c, 1);
  if (training && n <= 1) {
    throw new RangeError(
      `batchNorm: expected more than 1 value per channel when training, got input of shape ${
        fmtShape(x.shape)
      }`,
    );
  }
  return tidy(() => {
    let mean: Tensor;
    let variance: Tensor;
    if (training) {
      mean = x.mean(dims, true);
      variance = x.var(dims, true, 0);
      if (runningMean && runningVar) {
        noGrad(() =>
          tidy(() => {
            const m = momentum;
            const newMean = runningMean.mul(typeof m === "number" ? 1 - m : m.neg().add(1)).add(
              mean.reshape([c]).mul(m),
            );
            const unbiased = variance.reshape([c]).mul(n / (n - 1));
            const newVar = runningVar.mul(typeof m === "number" ? 1 - m : m.neg().add(1)).add(
              unbiased.mul(m),
            );
            runningMean.copy_(newMean);
            runningVar.copy_(newVar);
          })
        );
      }
    } else {
      mean = runningMean!.reshape(shape);
      variance = runningVar!.reshape(shape);
    }
    let y = x.sub(mean).mul(variance.add(eps).rsqrt());
    if (weight) y = y.mul(weight.reshape(shape));
    if (bias) y = y.add(bias.reshape(shape));
    return y;
  });
}

/** Options of {@linkcode layerNorm}. */
export interface LayerNormOptions {
  /** Elementwise scale γ, of the normalised shape. */
  weight?: Tensor | null;
  /** Elementwise shift β, of the normalised shape. */
  bias?: Tensor | null;
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
}

/**
 * Layer normalisation over the last dims of `x` (those of `normalizedShape`), with the biased variance, as
 * `torch.nn.functional.layer_norm`.
 *
 * @example
 * ```ts
 * import { F, randn } from "../../../mod.ts";
 * const y = F.layerNorm(randn([2, 5, 8]), [8]); // each row of 8 has mean 0 and variance 1
 * ```
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[] | number,
  options: LayerNormOptions = {},
): Tensor {
  const autocast = autocastFp32(
    "layerNorm",
    [x, options.weight ?? null, options.bias ?? null] as const,
    (x32, weight, bias) => layerNorm(x32, normalizedShape, { ...options, weight, bias }),
  );
  if (autocast) return autocast;
  const { weight = null, bias = null, eps = 1e-5 } = options;
  const ns = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
  const k = ns.length;
  const tail = x.shape.slice(x.ndim - k);
  if (k === 0 || x.ndim < k || tail.some((d, i) => d !== ns[i])) {
    throw new RangeError(
      `layerNorm: input of shape ${fmtShape(x.shape)} does not end with the normalized shape ${fmtShape(ns)}`,
    );
  }
  for (const [name, t] of [["weight", weight], ["bias", bias]] as const) {
    if (t && (t.ndim !== k || t.shape.some((d, i) => d !== ns[i]))) {
      throw new RangeError(`layerNorm: ${name} must have shape ${fmtShape(ns)}, got ${fmtShape(t.shape)}`);
    }
  }
  const dims = ns.map((_, i) => x.ndim - k + i);
  return tidy(() => {
    const mean = x.mean(dims, true);
    const variance = x.var(dims, true, 0);
    let y = x.sub(mean).mul(variance.add(eps).rsqrt());
    if (weight) y = y.mul(weight);
    if (bias) y = y.add(bias);
    return y;
  });
}
