/**
 * Normalisation functions: `batchNorm` (fused kernels, `src/ops/batch_norm.ts`) and `layerNorm` (reductions).
 * @module
 */
import { isGradEnabled, noGrad } from "../../autograd/grad_mode.ts";
import { record } from "../../ops/util.ts";
import { batchNormSums, channelAffine } from "../../ops/batch_norm.ts";
import { stack } from "../../ops/join.ts";
import { zeros } from "../../tensor/creation.ts";
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
  if (numel(x.shape) === 0) {
    return tidy(() => {
      const mean = training ? x.mean(dims, true) : runningMean!.reshape(shape);
      const variance = training ? x.var(dims, true, 0) : runningVar!.reshape(shape);
      return normalizeWith(x, mean, variance, weight, bias, shape, eps);
    });
  }
  return tidy(() => {
    const x3 = channelRows(x);
    let mean: Tensor;
    let variance: Tensor;
    if (training) {
      ({ mean, variance } = noGrad(() => batchStatistics(x3, n)));
      if (runningMean && runningVar) {
        noGrad(() =>
          tidy(() => {
            const m = momentum;
            const keep = typeof m === "number" ? 1 - m : m.neg().add(1);
            runningMean.copy_(runningMean.mul(keep).add(mean.mul(m)));
            runningVar.copy_(runningVar.mul(keep).add(variance.mul(n / (n - 1)).mul(m)));
          })
        );
      }
    } else {
      mean = runningMean!.reshape([c]).float();
      variance = runningVar!.reshape([c]).float();
    }
    return normalizeFused(x, x3, mean, variance, weight, bias, training, dims, shape, n, eps);
  });
}

/** x [N, C, ...] as [N, C, L] (a view when x is contiguous). */
function channelRows(x: Tensor): Tensor {
  const [N, C] = x.shape;
  return x.reshape([N, C, numel(x.shape) / (N * C)]);
}

/** Row `i` of a [k, C] tensor as [C]. */
function row(t: Tensor, i: number): Tensor {
  return t.narrow(0, i, 1).reshape([t.shape[1]]);
}

/**
 * The batch's mean and biased variance per channel (float32 [C]) from one pass of the fused reduction:
 * sums of x − s and (x − s)² with s one of the channel's values, so that the squares do not cancel.
 */
function batchStatistics(x3: Tensor, n: number): { mean: Tensor; variance: Tensor } {
  return tidy(() => {
    const sums = batchNormSums(x3, null, null);
    const offset = row(sums, 0).div(n);
    const mean = row(sums, 2).add(offset);
    const variance = row(sums, 1).div(n).sub(offset.square()).clamp(0);
    return { mean, variance };
  });
}

/** y = (x − mean)/√(variance + eps)·γ + β from primitives: the reference the fused path is tested against. */
function normalizeWith(
  x: Tensor,
  mean: Tensor,
  variance: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  shape: number[],
  eps: number,
): Tensor {
  let y = x.sub(mean).mul(variance.add(eps).rsqrt());
  if (weight) y = y.mul(weight.reshape(shape));
  if (bias) y = y.add(bias.reshape(shape));
  return y;
}

/**
 * Batch normalisation with known per-channel `mean` and `variance` (float32 [C]) as one autograd node
 * (`NativeBatchNormBackward0`, as PyTorch names it), in fused kernels: y = x·a + b per channel in one pass
 * (a = γ/σ, b = β − μ·a). The backward is one fused reduction (Σg, Σg·(x − μ)) and one fused pass for x's
 * gradient. With x̂ = (x − μ)/σ and m = n values per channel: dβ = Σg, dγ = Σg·x̂, and
 * dx = γ/σ·(g − Σg/m − x̂·Σg·x̂/m) in training (the batch statistics depend on x), dx = γ/σ·g in evaluation.
 * When the backward is itself recorded (`createGraph`), it is built from primitives instead, with μ and σ
 * recomputed from the saved x, so that second derivatives see their dependence on x.
 */
function normalizeFused(
  x: Tensor,
  x3: Tensor,
  mean: Tensor,
  variance: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  training: boolean,
  dims: number[],
  shape: number[],
  n: number,
  eps: number,
): Tensor {
  const c = x.shape[1];
  const istd = noGrad(() => variance.add(eps).rsqrt());
  const y = noGrad(() =>
    tidy(() => {
      const scale = weight ? istd.mul(weight.reshape([c]).float()) : istd;
      const shift = bias ? bias.reshape([c]).float().sub(mean.mul(scale)) : mean.mul(scale).neg();
      const coef = stack([scale, shift]);
      return channelAffine(x3, coef).reshape(x.shape);
    })
  );
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return record("NativeBatchNormBackward0", y, inputs, (node) => {
    const sx = node.save(x);
    const sw = weight ? node.save(weight) : null;
    const sMean = node.save(mean);
    const sIstd = node.save(istd);
    return (g) => {
      if (isGradEnabled()) {
        const [gx, gw, gb] = primitiveBackward(g, sx, sw, sMean, sIstd, training, dims, shape, n, eps);
        return [gx, ...(weight ? [gw] : []), ...(bias ? [gb] : [])];
      }
      return tidy(() => {
        const g3 = channelRows(g);
        const x3s = channelRows(sx);
        const sums = batchNormSums(x3s, sMean, g3);
        const gSum = row(sums, 0);
        const gxhatSum = row(sums, 1).mul(sIstd); // Σg·x̂
        let gx: Tensor | null = null;
        if (x.requiresGrad) {
          const k1 = sw ? sIstd.mul(sw.reshape([c]).float()) : sIstd; // γ/σ
          if (training) {
            // dx = k1·g + k2·x + k0 with k2 = −k1·Σg·x̂/(m·σ) and k0 = −k1·Σg/m − k2·μ
            const k2 = k1.mul(gxhatSum).mul(sIstd).div(-n);
            const k0 = k1.mul(gSum).div(-n).sub(k2.mul(sMean));
            const xs = x3s.dtype === g3.dtype ? x3s : x3s.to(g3.dtype);
            gx = channelAffine(g3, stack([k1, k0, k2]), xs).reshape(x.shape);
          } else {
            gx = channelAffine(g3, stack([k1, zeros([c], { device: k1.device })])).reshape(x.shape);
          }
        }
        const gw = weight?.requiresGrad ? gxhatSum.to(weight.dtype) : null;
        const gb = bias?.requiresGrad ? gSum.to(bias.dtype) : null;
        return [gx, ...(weight ? [gw] : []), ...(bias ? [gb] : [])];
      });
    };
  });
}

/** The backward of {@linkcode normalizeFused} from primitives, recorded (for `createGraph`). */
function primitiveBackward(
  g: Tensor,
  sx: Tensor,
  sw: Tensor | null,
  sMean: Tensor,
  sIstd: Tensor,
  training: boolean,
  dims: number[],
  shape: number[],
  n: number,
  eps: number,
): [Tensor, Tensor, Tensor] {
  const c = sx.shape[1];
  return tidy(() => {
    let mu = sMean.reshape(shape);
    let istd = sIstd.reshape(shape);
    if (training) {
      mu = sx.mean(dims, true);
      istd = sx.var(dims, true, 0).add(eps).rsqrt();
    }
    const xhat = sx.sub(mu).mul(istd);
    const gSum = g.sum(dims, true);
    const gxSum = g.mul(xhat).sum(dims, true);
    const scale = sw ? istd.mul(sw.reshape(shape)) : istd;
    const gx = training ? g.sub(gSum.div(n)).sub(xhat.mul(gxSum.div(n))).mul(scale) : g.mul(scale);
    return [gx, gxSum.reshape([c]), gSum.reshape([c])];
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
