/**
 * The seeded random number generator behind `rand`, `randn`, `randint`, dropout and shuffling. Numbers
 * are drawn on the host (xoshiro128**) and uploaded, so the same seed gives the same tensors on every device.
 * @module
 */

/** The generator's state: four 32-bit words. */
export type RngState = [number, number, number, number];

let s: RngState = seedState(0x5eed);

function splitmix32(x: number): () => number {
  let a = x >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function seedState(seed: number): RngState {
  const next = splitmix32(seed);
  return [next(), next(), next(), next()];
}

/**
 * Seeds the global generator, making random tensors reproducible (identical on CPU and WebGPU).
 *
 * @example
 * ```ts
 * import { manualSeed, rand } from "../../mod.ts";
 * manualSeed(0);
 * const a = await rand([3]).toArray();
 * manualSeed(0);
 * const b = await rand([3]).toArray(); // equal to a
 * ```
 */
export function manualSeed(seed: number): void {
  if (!Number.isFinite(seed)) throw new TypeError(`manualSeed: expected a finite number, got ${seed}`);
  s = seedState(Math.trunc(seed) ^ Math.trunc(seed / 2 ** 32));
}

/**
 * A copy of the generator's state (for checkpoints).
 *
 * @example
 * ```ts
 * import { getRngState, randn, setRngState } from "../../mod.ts";
 * const state = getRngState();
 * const a = await randn([3]).toArray();
 * setRngState(state);
 * const b = await randn([3]).toArray(); // the same values as a
 * ```
 */
export function getRngState(): RngState {
  return [...s];
}

/**
 * Restores a state from {@linkcode getRngState}.
 *
 * @example
 * ```ts
 * import { getRngState, setRngState } from "../../mod.ts";
 * const state = getRngState(); // e.g. kept in a checkpoint
 * setRngState(state); // the next random tensors repeat from here
 * ```
 */
export function setRngState(state: RngState): void {
  s = [state[0] >>> 0, state[1] >>> 0, state[2] >>> 0, state[3] >>> 0];
}

/** The next 32 random bits. */
export function nextU32(): number {
  const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
  const t = (s[1] << 9) >>> 0;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  s[0] >>>= 0;
  s[1] >>>= 0;
  s[2] >>>= 0;
  return result;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A uniform float in [0, 1) with 24 bits of precision (every value exactly representable in float32). */
export function nextFloat(): number {
  return (nextU32() >>> 8) / 16777216;
}

/** `n` uniform floats in [0, 1). */
export function uniformArray(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = nextFloat();
  return out;
}

/** `n` standard normal floats (Box–Muller). */
export function normalArray(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - nextFloat();
    const u2 = nextFloat();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** `n` integers uniform in [low, high). */
export function intArray(n: number, low: number, high: number): Int32Array {
  const range = high - low;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = low + Math.floor(nextFloat() * range);
  return out;
}

/** A seeded permutation of 0..n-1 (Fisher–Yates). */
export function permutationArray(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(nextFloat() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}
