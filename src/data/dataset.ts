/**
 * `Dataset`: the abstract indexed collection of samples a {@linkcode DataLoader} batches (PyTorch's
 * `torch.utils.data.Dataset`).
 * @module
 */
import type { Device } from "../backend/registry.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { RandomGenerator } from "./generator.ts";

/** One sample: a tuple of tensors and plain numbers, e.g. `[image, label]`. */
export type Sample = readonly (Tensor | number)[];

/** One batch: a tensor per position of the samples, stacked along a new first dim. */
export type Batch = Tensor[];

/** What a data loader passes to {@linkcode Dataset.getBatch}. */
export interface BatchOptions {
  /** Where the batch tensors must be. */
  device: Device;
  /** The loader's generator for this epoch's random transforms (seeded, independent of the global RNG). */
  generator: RandomGenerator;
}

/**
 * An indexed collection of samples. Subclasses implement `length` and `get(i)`; datasets whose data sit in
 * big arrays also implement `getBatch(indices)`, the fast path that assembles a whole batch at once (one
 * copy of rows into one typed array, one upload) instead of one tensor per sample.
 *
 * @example
 * ```ts
 * import { data, tensor } from "../../mod.ts";
 * class Squares extends data.Dataset {
 *   get length() {
 *     return 10;
 *   }
 *   get(i: number) {
 *     return [tensor([i]), i * i];
 *   }
 * }
 * const loader = new data.DataLoader(new Squares(), { batchSize: 4 });
 * for await (const [x, y] of loader) console.log(x.shape, await y.toArray()); // [4, 1] [0, 1, 4, 9] ...
 * ```
 */
export abstract class Dataset<S extends Sample = Sample> {
  /** Number of samples. */
  abstract get length(): number;

  /** Sample `index` (0 ≤ index < length). */
  abstract get(index: number): S;

  /**
   * Optional fast path: the samples at `indices` already collated into batch tensors on `options.device`.
   * A data loader uses it (instead of `get` + collate) when present and no custom `collate` is given.
   */
  getBatch?(indices: Int32Array, options: BatchOptions): Batch;
}

/**
 * Throws a clear error unless `index` is an integer in [0, length); returns it.
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * data.checkIndex(3, 10, "MyDataset.get"); // 3
 * try {
 *   data.checkIndex(10, 10, "MyDataset.get");
 * } catch (e) {
 *   console.log((e as Error).message); // MyDataset.get: index 10 is out of range for a dataset of length 10
 * }
 * ```
 */
export function checkIndex(index: number, length: number, what: string): number {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(`${what}: index ${index} is out of range for a dataset of length ${length}`);
  }
  return index;
}
