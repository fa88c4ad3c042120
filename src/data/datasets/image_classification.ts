/**
 * `ImageClassificationDataset`: grey images held as raw bytes with integer labels, the shape shared by MNIST
 * and Fashion-MNIST. Samples are float32 images in [0, 1] of shape `[1, H, W]` with int32 labels.
 * @module
 */
import type { Device } from "../../backend/registry.ts";
import { noGrad } from "../../autograd/grad_mode.ts";
import { tensor } from "../../tensor/creation.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { type Batch, type BatchOptions, checkIndex, Dataset } from "../dataset.ts";
import { RandomGenerator, seedFromGlobal } from "../generator.ts";
import { readIdx } from "../idx.ts";
import { gatherRows, type HostColumn } from "../rows.ts";
import type { Transform } from "../transforms.ts";

/** Options shared by the image datasets. */
export interface ImageDatasetOptions {
  /** The training split (default) or the test split. */
  train?: boolean;
  /** A batch transform ({@linkcode Transform}) applied to the images on the loader's device. */
  transform?: Transform;
}

/**
 * Images `[N, H, W]` of bytes and labels `[N]`: `get(i)` gives `[image, label]` (float32 `[1, H, W]` in
 * [0, 1], and a number); a data loader assembles batches `[B, 1, H, W]` float32 and `[B]` int32 by copying
 * rows into one array, uploads them once, and applies `transform` to the batch on its device.
 *
 * @example
 * ```ts
 * import { data } from "../../../mod.ts";
 * const images = new Uint8Array(4 * 2 * 2).fill(255);
 * const ds = new data.ImageClassificationDataset(images, new Int32Array([0, 1, 0, 1]), [2, 2], ["a", "b"]);
 * const [x, y] = ds.get(1); // x: [1, 2, 2] of ones; y: 1
 * ```
 */
export class ImageClassificationDataset extends Dataset<[Tensor, number]> {
  /** The raw pixels, 0..255, images back to back. */
  readonly pixels: Uint8Array;
  /** The labels. */
  readonly labels: Int32Array;
  /** The shape of one image as a sample: `[1, H, W]`. */
  readonly imageShape: readonly [number, number, number];
  /** Class names by label. */
  readonly classes: readonly string[];
  /** The batch transform, if any. */
  readonly transform?: Transform;
  readonly #column: HostColumn;

  /** A dataset over `pixels` (N·H·W bytes) and `labels` (N, each in [0, classes.length)). */
  constructor(
    pixels: Uint8Array,
    labels: Int32Array,
    [h, w]: readonly [number, number],
    classes: readonly string[],
    transform?: Transform,
  ) {
    super();
    if (pixels.length !== labels.length * h * w) {
      throw new RangeError(
        `ImageClassificationDataset: ${pixels.length} pixel bytes is not ${labels.length} images of ${h}×${w}`,
      );
    }
    const bad = labels.findIndex((l) => l < 0 || l >= classes.length);
    if (bad >= 0) {
      throw new RangeError(
        `ImageClassificationDataset: label ${
          labels[bad]
        } of sample ${bad} is not a class index in [0, ${classes.length})`,
      );
    }
    this.pixels = pixels;
    this.labels = labels;
    this.imageShape = [1, h, w];
    this.classes = Object.freeze([...classes]);
    this.transform = transform;
    this.#column = { data: pixels, rowShape: this.imageShape, dtype: "float32", scale: 1 / 255 };
  }

  /** Number of images. */
  get length(): number {
    return this.labels.length;
  }

  /** `[image, label]`: the image as float32 `[1, H, W]` in [0, 1] on the CPU (transformed, if set). */
  get(index: number): [Tensor, number] {
    checkIndex(index, this.length, `${this.constructor.name}.get`);
    const img = gatherRows(this.#column, Int32Array.of(index), "cpu");
    const one = img.squeeze(0);
    img.dispose();
    if (!this.transform) return [one, this.labels[index]];
    const out = noGrad(() => this.transform!(one, new RandomGenerator(seedFromGlobal())));
    if (out !== one) one.dispose();
    return [out, this.labels[index]];
  }

  /** Images `[B, 1, H, W]` float32 (transformed on `device`) and labels `[B]` int32 at `indices`. */
  override getBatch(indices: Int32Array, { device, generator }: BatchOptions): Batch {
    const x = gatherRows(this.#column, indices, device);
    const labels = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) labels[i] = this.labels[indices[i]];
    const y = tensor(labels, { dtype: "int32", device });
    if (!this.transform) return [x, y];
    const tx = noGrad(() => this.transform!(x, generator));
    if (tx !== x) x.dispose();
    return [tx, y];
  }

  /**
   * The whole split as two tensors: images `[N, 1, H, W]` float32 in [0, 1] and labels `[N]` int32 on
   * `device` (untransformed; yours to dispose). Fashion-MNIST's training split is 188 MB as float32.
   */
  tensors(device: Device = "cpu"): [Tensor, Tensor] {
    const all = new Int32Array(this.length);
    for (let i = 0; i < all.length; i++) all[i] = i;
    return [gatherRows(this.#column, all, device), tensor(this.labels.slice(), { dtype: "int32", device })];
  }
}

/** Paths of the images and labels files of a split. */
export interface IdxSplitFiles {
  /** The `*-images-idx3-ubyte[.gz]` file. */
  images: string;
  /** The `*-labels-idx1-ubyte[.gz]` file. */
  labels: string;
}

/** Reads and cross-checks an images/labels IDX pair (ubyte, [N, H, W] and [N]). */
export async function readIdxSplit(files: IdxSplitFiles): Promise<{
  pixels: Uint8Array;
  labels: Int32Array;
  size: [number, number];
}> {
  const [img, lab] = await Promise.all([readIdx(files.images), readIdx(files.labels)]);
  if (img.type !== "uint8" || img.shape.length !== 3) {
    throw new RangeError(
      `${files.images}: expected ubyte images of 3 dims [N, H, W] (magic 0x00000803 at offset 0), got ${img.type} ` +
        `of shape [${img.shape.join(", ")}]`,
    );
  }
  if (lab.type !== "uint8" || lab.shape.length !== 1) {
    throw new RangeError(
      `${files.labels}: expected ubyte labels of 1 dim [N] (magic 0x00000801 at offset 0), got ${lab.type} ` +
        `of shape [${lab.shape.join(", ")}]`,
    );
  }
  if (img.shape[0] !== lab.shape[0]) {
    throw new RangeError(
      `${files.images} holds ${img.shape[0]} images (size at offset 4) but ${files.labels} holds ${
        lab.shape[0]
      } labels (size at offset 4)`,
    );
  }
  return {
    pixels: img.data as Uint8Array,
    labels: Int32Array.from(lab.data),
    size: [img.shape[1], img.shape[2]],
  };
}

/** The existing file among `base` and `base + ".gz"` in `root`, or null. */
export async function findFile(root: string, base: string): Promise<string | null> {
  for (const name of [`${base}.gz`, base]) {
    const path = `${root.replace(/\/+$/, "")}/${name}`;
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw new Error(`${path}: ${(e as Error).message}`);
    }
  }
  return null;
}

/** Checks labels against the class count, naming the file and the byte offset of the first bad one. */
export function checkLabels(labels: Int32Array, classes: number, path: string): void {
  const bad = labels.findIndex((l) => l >= classes);
  if (bad >= 0) {
    throw new RangeError(
      `${path}: label ${labels[bad]} at offset ${
        8 + bad
      } (sample ${bad}) is not a class index in [0, ${classes})`,
    );
  }
}
