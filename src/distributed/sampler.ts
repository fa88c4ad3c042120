/**
 * `DistributedSampler`: each rank's share of a dataset's indices, PyTorch's
 * `torch.utils.data.distributed.DistributedSampler` with the same partitions. Shuffled orders are the same
 * permutation PyTorch draws (`torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))`,
 * through a Mersenne Twister seeded as PyTorch's CPU generator), so a run can be checked against PyTorch.
 * @module
 */
import type { RandomGenerator } from "../data/generator.ts";
import type { Sampler } from "../data/sampler.ts";
import { getRank, getWorldSize, isInitialized } from "./process_group.ts";

/** Options of {@linkcode DistributedSampler}. */
export interface DistributedSamplerOptions {
  /** Number of ranks sharing the dataset (default: the process group's world size). */
  numReplicas?: number;
  /** This rank (default: the process group's rank). */
  rank?: number;
  /** Shuffle every epoch (default true), with the permutation seeded by `seed + epoch`. */
  shuffle?: boolean;
  /** Seed shared by every rank (default 0). */
  seed?: number;
  /**
   * Drop the tail so that every rank gets `floor(n / numReplicas)` samples (default false: pad by repeating
   * indices from the start, so that every rank gets `ceil(n / numReplicas)`).
   */
  dropLast?: boolean;
}

/**
 * The 32-bit Mersenne Twister (MT19937) as PyTorch's CPU generator uses it (`at::mt19937`): the same seed
 * gives the same stream as `torch.Generator().manual_seed(seed)`.
 */
class MT19937 {
  #mt = new Uint32Array(624);
  #i = 624;

  constructor(seed: number) {
    const mt = this.#mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  next(): number {
    const mt = this.#mt;
    if (this.#i >= 624) {
      for (let k = 0; k < 624; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % 624] & 0x7fffffff);
        mt[k] = mt[(k + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.#i = 0;
    }
    let y = mt[this.#i++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}

/**
 * `torch.randperm(n, generator=torch.Generator().manual_seed(seed))` of PyTorch's CPU implementation
 * (a Fisher-Yates shuffle drawing `random() % (n - i)`), for n below 2^24.
 *
 * @example
 * ```ts
 * import { torchRandperm } from "./sampler.ts";
 * torchRandperm(5, 0); // the permutation torch.randperm(5, generator=torch.Generator().manual_seed(0)) gives
 * ```
 */
export function torchRandperm(n: number, seed: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  const rng = new MT19937(seed);
  for (let i = 0; i < n - 1; i++) {
    const z = rng.next() % (n - i);
    const t = out[i];
    out[i] = out[z + i];
    out[z + i] = t;
  }
  return out;
}

/**
 * Restricts a data loader to this rank's share of the dataset: `numSamples` indices, the same count on every
 * rank, different indices on each (up to the padding). Call `setEpoch(epoch)` before each epoch so that the
 * shuffle changes (the data loader's own generator is not used: every rank must draw the same permutation).
 *
 * @example
 * ```ts
 * import { data, distributed } from "../../mod.ts";
 * const sampler = new distributed.DistributedSampler(10, { numReplicas: 3, rank: 1, shuffle: false });
 * sampler.indices(); // Int32Array [1, 4, 7, 0]: 10 indices padded to 12, every third from 1
 * // with a dataset: new data.DataLoader(ds, { batchSize: 32, sampler });
 * ```
 */
export class DistributedSampler implements Sampler {
  /** Size of the dataset. */
  readonly datasetLength: number;
  /** Number of ranks. */
  readonly numReplicas: number;
  /** This rank. */
  readonly rank: number;
  /** Whether each epoch is shuffled. */
  readonly shuffle: boolean;
  /** The shared seed. */
  readonly seed: number;
  /** Whether the tail is dropped instead of padded. */
  readonly dropLast: boolean;
  /** Indices per rank and epoch. */
  readonly numSamples: number;
  /** Indices over all ranks (numSamples × numReplicas). */
  readonly totalSize: number;
  #epoch = 0;

  /** A sampler over `dataset` (anything with a `length`, or the length itself). */
  constructor(dataset: { readonly length: number } | number, options: DistributedSamplerOptions = {}) {
    const n = typeof dataset === "number" ? dataset : dataset?.length;
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`DistributedSampler: the dataset length must be a non-negative integer, got ${n}`);
    }
    const numReplicas = options.numReplicas ?? (isInitialized() ? getWorldSize() : undefined);
    const rank = options.rank ?? (isInitialized() ? getRank() : undefined);
    if (numReplicas === undefined || rank === undefined) {
      throw new Error(
        "DistributedSampler: give numReplicas and rank, or call distributed.initProcessGroup() first",
      );
    }
    if (!Number.isInteger(numReplicas) || numReplicas < 1) {
      throw new RangeError(`DistributedSampler: numReplicas must be a positive integer, got ${numReplicas}`);
    }
    if (!Number.isInteger(rank) || rank < 0 || rank >= numReplicas) {
      throw new RangeError(
        `DistributedSampler: invalid rank ${rank}, rank should be in [0, ${numReplicas - 1}]`,
      );
    }
    this.datasetLength = n;
    this.numReplicas = numReplicas;
    this.rank = rank;
    this.shuffle = options.shuffle ?? true;
    this.seed = options.seed ?? 0;
    this.dropLast = options.dropLast ?? false;
    if (!Number.isInteger(this.seed)) {
      throw new TypeError(`DistributedSampler: seed must be an integer, got ${this.seed}`);
    }
    this.numSamples = this.dropLast && n % numReplicas !== 0
      ? Math.ceil((n - numReplicas) / numReplicas)
      : Math.ceil(n / numReplicas);
    this.totalSize = this.numSamples * numReplicas;
  }

  /** Indices per epoch on this rank (`numSamples`). */
  get length(): number {
    return this.numSamples;
  }

  /** The epoch whose shuffle {@linkcode DistributedSampler.indices} draws. */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Sets the epoch: the shuffle of epoch e is the permutation seeded by `seed + e`, the same on every rank.
   *
   * @example
   * ```ts
   * import { distributed } from "../../mod.ts";
   * const s = new distributed.DistributedSampler(100, { numReplicas: 2, rank: 0 });
   * for (let epoch = 0; epoch < 3; epoch++) {
   *   s.setEpoch(epoch);
   *   // for await (const batch of loader) ...
   * }
   * ```
   */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) {
      throw new RangeError(`DistributedSampler.setEpoch: expected a non-negative integer, got ${epoch}`);
    }
    this.#epoch = epoch;
  }

  /** This rank's indices of the current epoch (the loader's generator is ignored). */
  indices(_generator?: RandomGenerator): Int32Array {
    const n = this.datasetLength;
    let all: Int32Array;
    if (this.shuffle) all = torchRandperm(n, this.seed + this.#epoch);
    else all = Int32Array.from({ length: n }, (_, i) => i);
    let padded: Int32Array;
    if (!this.dropLast) {
      padded = new Int32Array(this.totalSize);
      padded.set(all.subarray(0, Math.min(n, this.totalSize)));
      for (let i = n; i < this.totalSize; i++) padded[i] = all[(i - n) % n];
    } else padded = all.subarray(0, this.totalSize);
    const out = new Int32Array(this.numSamples);
    for (let i = 0; i < this.numSamples; i++) out[i] = padded[this.rank + i * this.numReplicas];
    return out;
  }
}
