/**
 * Parallelism within one process, over the devices of `gpu.devices()` (separate adapters, or logical
 * devices: separate `GPUDevice`s on one adapter): data parallelism (`scatter`, `replicate`,
 * `parallelApply`, `gather`, and `DataParallel` built from them) and model parallelism with GPipe
 * pipelining (`Pipe`). For several processes see `distributed`.
 *
 * @example
 * ```ts
 * import { gpu, nn, parallel, randn } from "../../mod.ts";
 * if (await gpu.isAvailable()) {
 *   await gpu.devices({ logical: 2 });
 *   const model = new nn.Linear(4, 1).to("webgpu");
 *   const dp = new parallel.DataParallel(model, { deviceIds: [0, 1] });
 *   const y = dp.forward(randn([8, 4], { device: "webgpu" }));
 * }
 * ```
 * @module
 */
export { chunkSizes, gather, scatter } from "./scatter_gather.ts";
export { Replica, replicate } from "./replicate.ts";
export { type Forwardable, parallelApply } from "./parallel_apply.ts";
export { DataParallel, type DataParallelOptions } from "./data_parallel.ts";
export { Pipe, pipeline, type PipeOptions, type Stage } from "./pipe.ts";
export type { DeviceId } from "./devices.ts";
