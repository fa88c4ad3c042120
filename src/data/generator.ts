/**
 * `RandomGenerator`: a seeded random stream of its own (PyTorch's `torch.Generator`), used by data loaders
 * and transforms so that shuffling and augmentation are reproducible and independent of the global RNG.
 * @module
 */
import {
  getRngState,
  manualSeed,
  nextFloat,
  nextU32,
  permutationArray,
  type RngState,
  setRngState,
} from "../tensor/random.ts";

/**
 * A random number generator with its own state: the same xoshiro128** stream as the global generator, so
 * `new RandomGenerator(s)` draws exactly what `manualSeed(s)` followed by global draws would, but drawing
 * from it never moves the global state (and global draws never move it).
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * const g = new data.RandomGenerator(42);
 * const order = g.permutation(5); // e.g. Int32Array [3, 0, 4, 1, 2], the same for every run
 * const u = g.float(); // in [0, 1)
 * ```
 */
export class RandomGenerator {
  #state: RngState;

  /** A generator seeded with `seed` (any finite number). */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new TypeError(`RandomGenerator: expected a finite seed, got ${seed}`);
    const saved = getRngState();
    manualSeed(seed);
    this.#state = getRngState();
    setRngState(saved);
  }

  /** Runs `draw` against this generator's state, leaving the global generator as it was. */
  #with<T>(draw: () => T): T {
    const saved = getRngState();
    setRngState(this.#state);
    try {
      return draw();
    } finally {
      this.#state = getRngState();
      setRngState(saved);
    }
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.#with(nextFloat);
  }

  /** 32 random bits as an unsigned integer. */
  uint32(): number {
    return this.#with(nextU32);
  }

  /** A uniform integer in [low, high). */
  int(low: number, high: number): number {
    if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
      throw new RangeError(`RandomGenerator.int: expected integers low < high, got ${low} and ${high}`);
    }
    return low + Math.floor(this.float() * (high - low));
  }

  /** A random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`RandomGenerator.permutation: expected a non-negative integer, got ${n}`);
    }
    return this.#with(() => permutationArray(n));
  }

  /** A copy of the state (four 32-bit words), for checkpoints. */
  getState(): RngState {
    return [...this.#state];
  }

  /** Restores a state from {@linkcode RandomGenerator.getState}. */
  setState(state: RngState): void {
    if (!Array.isArray(state) || state.length !== 4 || !state.every(Number.isInteger)) {
      throw new TypeError(`RandomGenerator.setState: expected four 32-bit integers, got ${String(state)}`);
    }
    this.#state = [state[0] >>> 0, state[1] >>> 0, state[2] >>> 0, state[3] >>> 0];
  }
}

/** A global-generator draw for a default seed (so `manualSeed` controls defaults, as in PyTorch). */
export function seedFromGlobal(): number {
  return nextU32();
}
