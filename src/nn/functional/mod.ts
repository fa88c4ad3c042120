/**
 * `nn.functional` (also exported as `F`): the stateless functions behind the layers and losses, as
 * `torch.nn.functional`.
 *
 * @example
 * ```ts
 * import { F, randn, tensor } from "../../../mod.ts";
 * const logits = randn([4, 3], { requiresGrad: true });
 * const loss = F.crossEntropy(logits, tensor([0, 2, 1, 0]));
 * loss.backward();
 * ```
 * @module
 */
export { gelu, leakyRelu, logSoftmax, relu, sigmoid, softmax, tanh } from "./activation.ts";
export type { GeluOptions } from "./activation.ts";
export { linear } from "./linear.ts";
export { dropout } from "./dropout.ts";
export { embedding } from "./embedding.ts";
export type { EmbeddingOptions } from "./embedding.ts";
export { batchNorm, layerNorm } from "./normalization.ts";
export type { BatchNormOptions, LayerNormOptions } from "./normalization.ts";
export { binaryCrossEntropyWithLogits, crossEntropy, klDiv, l1Loss, mseLoss, nllLoss } from "./loss.ts";
export type {
  BceWithLogitsOptions,
  CrossEntropyOptions,
  KlDivOptions,
  NllLossOptions,
  Reduction,
  ReductionOptions,
} from "./loss.ts";
export { distillationLoss } from "./distillation.ts";
export type { DistillationOptions } from "./distillation.ts";
export { conv2d } from "./conv.ts";
export type { Conv2dOptions } from "./conv.ts";
export { fold, unfold } from "./fold.ts";
export type { FoldOptions } from "./fold.ts";
export { adaptiveAvgPool2d, avgPool2d, maxPool2d, maxPool2dWithIndices } from "./pooling.ts";
export type { AdaptiveSize, AvgPool2dOptions, MaxPool2dOptions } from "./pooling.ts";
export type { IntPair } from "./window.ts";
