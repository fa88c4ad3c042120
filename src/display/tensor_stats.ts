/**
 * Summary statistics of a tensor's elements, computed on the host from one read: min, max, mean, standard
 * deviation over the finite values, NaN and infinity counts, and a histogram.
 * @module
 */
import type { TypedArray } from "../tensor/dtype.ts";

/** What {@linkcode tensorStats} finds. */
export interface TensorStats {
  /** Number of elements. */
  n: number;
  /** Number of finite elements (the ones min, max, mean and std are taken over). */
  finite: number;
  /** Smallest finite value (NaN when there is none). */
  min: number;
  /** Largest finite value (NaN when there is none). */
  max: number;
  /** Mean of the finite values (NaN when there is none). */
  mean: number;
  /** Standard deviation of the finite values with Bessel's correction, as `torch.std` (NaN below 2). */
  std: number;
  /** Number of NaN elements. */
  nan: number;
  /** Number of +Infinity elements. */
  posInf: number;
  /** Number of -Infinity elements. */
  negInf: number;
  /** Number of zero elements. */
  zeros: number;
  /** Counts of the finite values in `bins` equal-width bins over [min, max]. */
  histogram: number[];
}

/**
 * Statistics of `data` (a tensor's elements, as `await t.data()` returns them). With `integer` (for int32
 * and bool tensors), a range narrower than `bins` gets one bin per value.
 *
 * @example
 * ```ts
 * import { tensorStats } from "./tensor_stats.ts";
 * const s = tensorStats(new Float32Array([1, 2, NaN, Infinity]));
 * // s.min === 1, s.max === 2, s.nan === 1, s.posInf === 1
 * ```
 */
export function tensorStats(data: TypedArray | ArrayLike<number>, bins = 24, integer = false): TensorStats {
  const n = data.length;
  let min = Infinity;
  let max = -Infinity;
  let nan = 0;
  let posInf = 0;
  let negInf = 0;
  let zeros = 0;
  let finite = 0;
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < n; i++) {
    const x = Number(data[i]);
    if (Number.isNaN(x)) {
      nan++;
      continue;
    }
    if (x === Infinity) {
      posInf++;
      continue;
    }
    if (x === -Infinity) {
      negInf++;
      continue;
    }
    if (x === 0) zeros++;
    if (x < min) min = x;
    if (x > max) max = x;
    finite++;
    // Welford's update: stable for large tensors with a large mean.
    const d = x - mean;
    mean += d / finite;
    m2 += d * (x - mean);
  }
  // Whole numbers over a narrow range get one bin per value, so that [0, 11] is not drawn as a comb.
  const unitBins = integer && finite > 0 && max - min + 1 <= bins;
  if (unitBins) bins = max - min + 1;
  const histogram = new Array<number>(bins).fill(0);
  if (unitBins) {
    for (let i = 0; i < n; i++) histogram[Number(data[i]) - min]++;
  } else if (finite > 0) {
    const span = max - min;
    for (let i = 0; i < n; i++) {
      const x = Number(data[i]);
      if (!Number.isFinite(x)) continue;
      const b = span > 0 ? Math.min(bins - 1, Math.floor(((x - min) / span) * bins)) : Math.floor(bins / 2);
      histogram[b]++;
    }
  }
  return {
    n,
    finite,
    min: finite ? min : NaN,
    max: finite ? max : NaN,
    mean: finite ? mean : NaN,
    std: finite > 1 ? Math.sqrt(m2 / (finite - 1)) : NaN,
    nan,
    posInf,
    negInf,
    zeros,
    histogram,
  };
}
