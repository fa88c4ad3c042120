/**
 * Mixed precision training, PyTorch's `torch.amp`: {@linkcode autocast} regions that run matmul, linear
 * and conv2d in float16 while softmax, reductions and losses stay float32, and a {@linkcode GradScaler}
 * that scales the loss so that float16 gradients do not underflow, skipping steps whose gradients
 * overflowed, all without reading the device in a training step.
 *
 * @example
 * ```ts
 * import { amp, F, nn, optim, randint, randn } from "../../mod.ts";
 * const model = new nn.Sequential(new nn.Linear(16, 32), new nn.ReLU(), new nn.Linear(32, 4));
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
 * const scaler = new amp.GradScaler();
 * const x = randn([8, 16]);
 * const y = randint(0, 4, [8]);
 * opt.zeroGrad();
 * const loss = amp.autocast(() => F.crossEntropy(model.forward(x), y)); // float32 loss
 * scaler.scale(loss).backward();
 * scaler.step(opt);
 * scaler.update();
 * ```
 * @module
 */
export { autocast, FP32_OPS, isAutocastEnabled, LOWER_PRECISION_FP_OPS } from "./autocast.ts";
export type { AutocastGuard, AutocastOptions } from "./autocast.ts";
export { GradScaler } from "./grad_scaler.ts";
export type { GradScalerOptions, GradScalerStateDict } from "./grad_scaler.ts";
