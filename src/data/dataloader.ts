/**
 * `DataLoader`: batches of a dataset, shuffled by its own seeded generator, assembled with one upload per
 * batch tensor, optionally prefetched onto the GPU (PyTorch's `torch.utils.data.DataLoader`).
 * @module
 */
import { backendFor, checkDevice, type Device } from "../backend/registry.ts";
import { getDefaultDevice } from "../tensor/creation.ts";
import { tidy } from "../tensor/scope.ts";
import { Tensor } from "../tensor/tensor.ts";
import { defaultCollate } from "./collate.ts";
import type { Batch, Dataset, Sample } from "./dataset.ts";
import { RandomGenerator, seedFromGlobal } from "./generator.ts";
import { RandomSampler, type Sampler, SequentialSampler } from "./sampler.ts";
import { TensorDataset } from "./tensor_dataset.ts";

/** Options of {@linkcode DataLoader}. */
export interface DataLoaderOptions {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Visit the samples in a new random order every epoch (default false). */
  shuffle?: boolean;
  /**
   * Base seed of the loader's generator, which is seeded with `seed + epoch` at the start of every epoch:
   * the same seed gives the same orders (and random transforms) on every run, whatever the global RNG does.
   * Default: drawn once from the global generator (so {@linkcode manualSeed} fixes it too).
   */
  seed?: number;
  /** Drop the last batch when it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /**
   * Turns a list of samples into batch tensors (default: {@linkcode defaultCollate}). With a custom collate
   * the loader always goes through `get(i)`, never the dataset's batch fast path.
   */
  collate?: (samples: Sample[]) => Batch;
  /**
   * How many batches to prepare ahead (default 0). With a WebGPU `device`, the next `prefetch` batches are
   * uploaded while the current step computes: when the loop asks for the next batch, the loader submits the
   * work the step enqueued, then assembles and uploads a batch further ahead, so its copy overlaps the GPU's
   * work instead of preceding the next step.
   */
  prefetch?: number;
  /** Where the batches go (default: the dataset's device for a {@linkcode TensorDataset}, else the default device). */
  device?: Device;
  /** The order of the indices (default: sequential, or random with `shuffle`); excludes `shuffle`. */
  sampler?: Sampler;
}

/** A batch as yielded by a loader: an array of tensors that `using` disposes. */
export type LoadedBatch = Batch & Disposable;

function disposable(batch: Batch): LoadedBatch {
  Object.defineProperty(batch, Symbol.dispose, {
    value: () => {
      for (const t of batch) t.dispose();
    },
    enumerable: false,
  });
  return batch as LoadedBatch;
}

function positiveInt(v: number, name: string, min: number): number {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`DataLoader: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
  return v;
}

/**
 * Iterates a dataset in batches: `for await (const [x, y] of loader)`. Each epoch (each `for await`) seeds a
 * fresh generator with `seed + epoch` and draws the order (and the random transforms) from it; the epoch
 * advances by one per iteration, or is set with {@linkcode DataLoader.setEpoch}. Batches belong to the
 * caller: dispose them (`for await (using batch of loader)`), or let the garbage collector reclaim them.
 *
 * @example
 * ```ts
 * import { data, gpu, randint, randn } from "../../mod.ts";
 * const ds = new data.TensorDataset(randn([1000, 8]), randint(0, 2, [1000]));
 * const device = gpu.defaultDevice();
 * const loader = new data.DataLoader(ds, { batchSize: 64, shuffle: true, seed: 0, prefetch: 2, device });
 * for (let epoch = 0; epoch < 2; epoch++) {
 *   loader.setEpoch(epoch);
 *   for await (using batch of loader) {
 *     const [x, y] = batch; // [64, 8] float32 and [64] int32 on `device`
 *   }
 * }
 * ```
 */
export class DataLoader<S extends Sample = Sample> implements AsyncIterable<LoadedBatch> {
  /** The dataset. */
  readonly dataset: Dataset<S>;
  /** Samples per batch. */
  readonly batchSize: number;
  /** Whether the last, smaller batch is dropped. */
  readonly dropLast: boolean;
  /** The base seed (each epoch uses `seed + epoch`). */
  readonly seed: number;
  /** Batches prepared ahead. */
  readonly prefetch: number;
  /** Where the batches go. */
  readonly device: Device;
  /** The order of the indices. */
  readonly sampler: Sampler;
  readonly #collate?: (samples: Sample[]) => Batch;
  #epoch = 0;

  /** A loader over `dataset`. */
  constructor(dataset: Dataset<S>, options: DataLoaderOptions = {}) {
    if (!dataset || typeof dataset.get !== "function" || !Number.isInteger(dataset.length)) {
      throw new TypeError("DataLoader: expected a Dataset (with an integer `length` and `get(i)`)");
    }
    const { batchSize = 1, shuffle = false, dropLast = false, prefetch = 0, collate, sampler } = options;
    this.dataset = dataset;
    this.batchSize = positiveInt(batchSize, "batchSize", 1);
    this.prefetch = positiveInt(prefetch, "prefetch", 0);
    this.dropLast = dropLast;
    if (options.seed !== undefined && !Number.isFinite(options.seed)) {
      throw new TypeError(`DataLoader: seed must be a finite number, got ${options.seed}`);
    }
    this.seed = options.seed ?? seedFromGlobal();
    if (sampler && shuffle) throw new Error("DataLoader: sampler option is mutually exclusive with shuffle");
    this.sampler = sampler ??
      (shuffle ? new RandomSampler(dataset.length) : new SequentialSampler(dataset.length));
    if (collate !== undefined && typeof collate !== "function") {
      throw new TypeError("DataLoader: collate must be a function of a list of samples");
    }
    this.#collate = collate;
    const own = dataset instanceof TensorDataset ? dataset.tensors[0].device : undefined;
    this.device = checkDevice(options.device ?? own ?? getDefaultDevice());
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.sampler.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The epoch the next iteration will use. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Sets the epoch of the next iteration (its order is drawn from a generator seeded with `seed + epoch`). */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) {
      throw new RangeError(`DataLoader.setEpoch: expected a non-negative integer, got ${epoch}`);
    }
    this.#epoch = epoch;
  }

  /** Batch `k` of an epoch, from the indices `order` (on the loader's device). */
  #make(order: Int32Array, k: number, generator: RandomGenerator): LoadedBatch {
    const indices = order.subarray(k * this.batchSize, Math.min(order.length, (k + 1) * this.batchSize));
    const ds = this.dataset;
    if (!this.#collate && typeof ds.getBatch === "function") {
      return disposable(ds.getBatch(indices, { device: this.device, generator }));
    }
    const collate = this.#collate;
    const device = this.device;
    return disposable(tidy(() => {
      const samples = Array.from(indices, (i) => ds.get(i) as Sample);
      if (!collate) return defaultCollate(samples, device);
      const out = collate(samples);
      if (!Array.isArray(out) || !out.every((t) => t instanceof Tensor)) {
        throw new TypeError("DataLoader: collate must return an array of tensors");
      }
      return out.map((t) => (t.device === device || device === "cpu" ? t : t.to(device)));
    }));
  }

  /** Iterates one epoch. */
  async *[Symbol.asyncIterator](): AsyncGenerator<LoadedBatch, void, undefined> {
    const generator = new RandomGenerator(this.seed + this.#epoch);
    this.#epoch++;
    const order = this.sampler.indices(generator);
    const count = this.dropLast
      ? Math.floor(order.length / this.batchSize)
      : Math.ceil(order.length / this.batchSize);
    if (this.prefetch === 0) {
      for (let k = 0; k < count; k++) yield this.#make(order, k, generator);
      return;
    }
    const ahead: LoadedBatch[] = [];
    let next = 0;
    try {
      while (next < count && ahead.length <= this.prefetch) ahead.push(this.#make(order, next++, generator));
      while (ahead.length) {
        yield ahead.shift()!;
        // The step that used the batch has been enqueued: submit it so that the device starts on it, then
        // assemble and upload a batch further ahead while it runs.
        backendFor(this.device).flush();
        if (next < count) ahead.push(this.#make(order, next++, generator));
      }
    } finally {
      for (const b of ahead) b[Symbol.dispose]();
    }
  }
}
