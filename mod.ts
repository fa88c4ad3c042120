/**
 * denograd: PyTorch-style tensors, autograd and training for Deno, on WebGPU (`navigator.gpu`) with a CPU
 * reference backend.
 *
 * @example
 * ```ts
 * import { gpu, randn, tensor } from "./mod.ts";
 * const device = gpu.defaultDevice(); // "webgpu", or "cpu" with a notice
 * const w = randn([3, 1], { device, requiresGrad: true });
 * const x = randn([8, 3], { device });
 * const loss = x.matmul(w).square().mean();
 * loss.backward();
 * console.log(await loss.item(), await w.grad!.toArray());
 * ```
 * @module
 */

export { Tensor } from "./src/tensor/tensor.ts";
export type { NestedArray, TensorLike, ToTarget } from "./src/tensor/tensor.ts";
export type { DType, TypedArray } from "./src/tensor/dtype.ts";
export type { Backend, BinaryOp, Operand, ReduceOp, Storage, UnaryOp, View } from "./src/backend/backend.ts";
export type { Im2colLayout, Pool2d, Window2d } from "./src/backend/backend.ts";
export type { BackwardFn, PostAccumulateGradHook, RemovableHandle } from "./src/autograd/node.ts";
export type { Trackable } from "./src/tensor/scope.ts";
export type { Device } from "./src/backend/registry.ts";
export {
  arange,
  eye,
  full,
  getDefaultDevice,
  linspace,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  setDefaultDevice,
  tensor,
  zeros,
  zerosLike,
} from "./src/tensor/creation.ts";
export type { TensorOptions } from "./src/tensor/creation.ts";
export { getRngState, manualSeed, setRngState } from "./src/tensor/random.ts";
export type { RngState } from "./src/tensor/random.ts";
export { keep, tidy } from "./src/tensor/scope.ts";
export { enableGrad, isGradEnabled, noGrad } from "./src/autograd/grad_mode.ts";
export type { GradModeGuard } from "./src/autograd/grad_mode.ts";
export { AccumulateGrad, Node } from "./src/autograd/node.ts";
export type { BackwardOptions } from "./src/autograd/engine.ts";
export type { GradcheckOptions } from "./src/autograd/functional.ts";
export { where } from "./src/ops/compare.ts";
export { cat, stack } from "./src/ops/join.ts";
export { gpu } from "./src/backend/gpu.ts";
export { Profile, profile } from "./src/profiler/profile.ts";
export type { ProfileMemory, ProfileOptions, ProfileRow } from "./src/profiler/profile.ts";
export * as nn from "./src/nn/mod.ts";
export * as F from "./src/nn/functional/mod.ts";
export * as optim from "./src/optim/mod.ts";
export type {
  AdamRule,
  OptimizerRule,
  OptimizerRuleBase,
  RmspropRule,
  SgdRule,
} from "./src/backend/backend.ts";
export * as data from "./src/data/mod.ts";
export * as io from "./src/io/mod.ts";
export * as parallel from "./src/parallel/mod.ts";
export * as distributed from "./src/distributed/mod.ts";
export * as amp from "./src/amp/mod.ts";
export type {
  AdapterInfo,
  DeviceInfo,
  DevicesOptions,
  EngineStats,
  Gpu,
  MemoryInfo,
} from "./src/backend/gpu.ts";
export * from "./src/display/mod.ts";
import { installDisplayHooks } from "./src/display/install.ts";
installDisplayHooks(); // tensors that end a deno jupyter cell show their summary card

import { grad, gradcheck } from "./src/autograd/functional.ts";

/**
 * Functional autograd: `grad(outputs, inputs)` and `gradcheck(fn, inputs)`.
 *
 * @example
 * ```ts
 * import { autograd, tensor } from "./mod.ts";
 * const x = tensor([1, 2], { requiresGrad: true });
 * const [g] = autograd.grad([x.pow(3).sum()], [x]); // 3x²
 * ```
 */
export const autograd: Autograd = { grad, gradcheck };

/** The functions of {@linkcode autograd}. */
export interface Autograd {
  /** Gradients of outputs with respect to inputs, returned instead of accumulated. */
  grad: typeof grad;
  /** Checks autograd against finite differences. */
  gradcheck: typeof gradcheck;
}
export { grad, gradcheck };
