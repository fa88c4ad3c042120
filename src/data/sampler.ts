/**
 * Samplers: the order in which a data loader visits a dataset's indices (PyTorch's
 * `torch.utils.data.Sampler`). The loader hands them its per-epoch generator, so orders are reproducible.
 * @module
 */
import type { RandomGenerator } from "./generator.ts";

/** The order of the indices of one epoch. */
export interface Sampler {
  /** Number of indices per epoch. */
  readonly length: number;
  /** This epoch's indices; random samplers draw from `generator` (seeded per epoch by the loader). */
  indices(generator: RandomGenerator): Int32Array;
}

function checkLength(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`${what}: expected a non-negative integer length, got ${n}`);
  }
  return n;
}

/**
 * 0, 1, ..., length-1 in order.
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * new data.SequentialSampler(3).indices(new data.RandomGenerator(0)); // Int32Array [0, 1, 2]
 * ```
 */
export class SequentialSampler implements Sampler {
  /** Number of indices. */
  readonly length: number;

  /** A sampler over 0..length-1. */
  constructor(length: number) {
    this.length = checkLength(length, "SequentialSampler");
  }

  /** 0..length-1. */
  indices(_generator?: RandomGenerator): Int32Array {
    const out = new Int32Array(this.length);
    for (let i = 0; i < out.length; i++) out[i] = i;
    return out;
  }
}

/**
 * A random permutation of 0..length-1, drawn from the loader's generator (a new one each epoch).
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * new data.RandomSampler(5).indices(new data.RandomGenerator(1)); // the same permutation for seed 1, always
 * ```
 */
export class RandomSampler implements Sampler {
  /** Number of indices. */
  readonly length: number;

  /** A sampler over a permutation of 0..length-1. */
  constructor(length: number) {
    this.length = checkLength(length, "RandomSampler");
  }

  /** A permutation of 0..length-1. */
  indices(generator: RandomGenerator): Int32Array {
    return generator.permutation(this.length);
  }
}

/**
 * A random permutation of the given indices (e.g. a training split).
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * const train = new data.SubsetRandomSampler([0, 2, 4, 6]);
 * train.indices(new data.RandomGenerator(0)); // 0, 2, 4, 6 in a seeded order
 * ```
 */
export class SubsetRandomSampler implements Sampler {
  readonly #subset: Int32Array;

  /** A sampler over a permutation of `subset` (non-negative integers). */
  constructor(subset: ArrayLike<number>) {
    this.#subset = Int32Array.from(subset, (v, i) => {
      if (!Number.isInteger(v) || v < 0) {
        throw new RangeError(
          `SubsetRandomSampler: index ${v} at position ${i} is not a non-negative integer`,
        );
      }
      return v;
    });
  }

  /** Number of indices. */
  get length(): number {
    return this.#subset.length;
  }

  /** The subset in a random order. */
  indices(generator: RandomGenerator): Int32Array {
    const perm = generator.permutation(this.#subset.length);
    return perm.map((p) => this.#subset[p]);
  }
}
