/**
 * `FashionMNIST`: Zalando's 70 000 28×28 grey images of clothes in 10 classes, read from the IDX files of
 * Debian's `dataset-fashion-mnist` package (or any folder holding them).
 * @module
 */
import {
  checkLabels,
  findFile,
  ImageClassificationDataset,
  type ImageDatasetOptions,
  readIdxSplit,
} from "./image_classification.ts";

/**
 * Where Debian's `dataset-fashion-mnist` package installs the files.
 *
 * @example
 * ```ts
 * import { data } from "../../../mod.ts";
 * const train = await data.FashionMNIST.load({ root: data.FASHION_MNIST_ROOT }); // the default root
 * ```
 */
export const FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist";

/** Options of {@linkcode FashionMNIST.load}. */
export interface FashionMNISTOptions extends ImageDatasetOptions {
  /** The folder holding `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` (default: Debian's). */
  root?: string;
}

/**
 * Fashion-MNIST (torchvision's `FashionMNIST`): 60 000 training and 10 000 test images, float32 in [0, 1]
 * of shape `[1, 28, 28]`, with int32 labels 0–9 named by `classes`. Loading decompresses the IDX files with
 * `DecompressionStream` (about 0.3 s for the training split).
 *
 * @example
 * ```ts
 * import { data } from "../../../mod.ts";
 * const train = await data.FashionMNIST.load({ train: true, transform: data.normalize(0.2860, 0.3530) });
 * console.log(train.length, train.classes[train.labels[0]]); // 60000 "Ankle boot"
 * const loader = new data.DataLoader(train, { batchSize: 64, shuffle: true, seed: 0 });
 * ```
 */
export class FashionMNIST extends ImageClassificationDataset {
  /** The class names, by label. */
  static readonly CLASSES: readonly string[] = Object.freeze([
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
  ]);

  /** Reads a split from `root` (the training split unless `train` is false). */
  static async load(
    { root = FASHION_MNIST_ROOT, train = true, transform }: FashionMNISTOptions = {},
  ): Promise<FashionMNIST> {
    const prefix = train ? "train" : "t10k";
    const names = [`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`];
    const [images, labels] = await Promise.all(names.map((n) => findFile(root, n)));
    if (!images || !labels) {
      const missing = names[images ? 1 : 0];
      const hint = root === FASHION_MNIST_ROOT
        ? "install them with `apt-get install dataset-fashion-mnist`, or pass `root` to a folder holding them"
        : "pass `root` to the folder holding them";
      throw new Error(`FashionMNIST: ${root}/${missing}.gz (or ${missing}) not found: ${hint}`);
    }
    const split = await readIdxSplit({ images, labels });
    checkLabels(split.labels, FashionMNIST.CLASSES.length, labels);
    return new FashionMNIST(split.pixels, split.labels, split.size, FashionMNIST.CLASSES, transform);
  }
}
