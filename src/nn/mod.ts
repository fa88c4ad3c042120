/**
 * `nn`: modules, layers, initialisation and losses, as `torch.nn`.
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2));
 * const y = model.forward(randn([3, 4]));
 * console.log(model.toString());
 * ```
 * @module
 */
export { Module } from "./module.ts";
export type {
  ForwardPreHook,
  LoadStateDictOptions,
  LoadStateDictResult,
  RemovableHandle,
  StateDict,
  StateDictOptions,
} from "./module.ts";
export { Identity, Linear } from "./linear.ts";
export type { LayerOptions, LinearOptions } from "./linear.ts";
export { GELU, LeakyReLU, LeakyRelu, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh } from "./activation.ts";
export { ModuleList, ModuleSequence, Sequential } from "./container.ts";
export type { TensorModule } from "./container.ts";
export * as init from "./init.ts";
export * as functional from "./functional/mod.ts";
export * as utils from "./utils/mod.ts";
export { Dropout } from "./dropout.ts";
export { Flatten } from "./flatten.ts";
export { Embedding } from "./embedding.ts";
export type { EmbeddingOptions } from "./embedding.ts";
export { LayerNorm } from "./normalization.ts";
export type { LayerNormOptions } from "./normalization.ts";
export { BatchNorm, BatchNorm1d, BatchNorm2d } from "./batchnorm.ts";
export type { BatchNormOptions } from "./batchnorm.ts";
export { BCEWithLogitsLoss, CrossEntropyLoss, KLDivLoss, L1Loss, Loss, MSELoss, NLLLoss } from "./loss.ts";
export { DistillationLoss } from "./distillation_loss.ts";
export { Conv2d } from "./conv.ts";
export type { Conv2dLayerOptions } from "./conv.ts";
export { DepthwiseSeparableConv2d } from "./depthwise_separable.ts";
export type { DepthwiseSeparableConv2dOptions } from "./depthwise_separable.ts";
export { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from "./pooling.ts";
// Convolution and pooling layers (src/nn/conv.ts, pooling.ts): every export of those files is public.
export * from "./conv.ts";
export * from "./pooling.ts";
