/**
 * `optim`: optimizers (`SGD`, `Adam`, `AdamW`, `RMSprop`), gradient clipping (`clipGradNorm`,
 * `clipGradValue`) and learning-rate schedulers (`StepLR`, `CosineAnnealingLR`, `OneCycleLR`), PyTorch's
 * `torch.optim` in TypeScript. Every parameter update is one fused kernel on the parameter's device, with
 * no reads: a training step never waits.
 *
 * @example
 * ```ts
 * import { nn, optim, randn, tidy } from "../../mod.ts";
 * const model = new nn.Sequential(new nn.Linear(4, 16), new nn.ReLU(), new nn.Linear(16, 1));
 * const opt = new optim.AdamW(model.parameters(), { lr: 1e-2 });
 * const sched = new optim.CosineAnnealingLR(opt, { tMax: 100 });
 * const x = randn([32, 4]);
 * const y = randn([32, 1]);
 * for (let step = 0; step < 100; step++) {
 *   opt.zeroGrad();
 *   const loss = tidy(() => model.forward(x).sub(y).square().mean());
 *   loss.backward();
 *   optim.clipGradNorm(model.parameters(), 1.0).dispose();
 *   opt.step();
 *   sched.step();
 *   if (step % 20 === 0) console.log(await loss.item());
 *   loss.dispose();
 * }
 * ```
 * @module
 */
export { Optimizer } from "./optimizer.ts";
export type {
  GroupOptions,
  LoadableStateDict,
  LoadableStateValue,
  OptimizerStateDict,
  ParamGroup,
  ParamsInput,
  ParamState,
  StateDictGroup,
  StateValue,
} from "./optimizer.ts";
export { SGD } from "./sgd.ts";
export type { SGDOptions, SGDParamGroup } from "./sgd.ts";
export { Adam, AdamW } from "./adam.ts";
export type { AdamOptions, AdamParamGroup } from "./adam.ts";
export { RMSprop } from "./rmsprop.ts";
export type { RMSpropOptions, RMSpropParamGroup } from "./rmsprop.ts";
export { clipGradNorm, clipGradValue } from "./clip_grad.ts";
export { CosineAnnealingLR, LRScheduler, OneCycleLR, StepLR } from "./lr_scheduler.ts";
export type {
  CosineAnnealingLROptions,
  OneCycleLROptions,
  OneCyclePhase,
  SchedulerStateDict,
  StepLROptions,
} from "./lr_scheduler.ts";
