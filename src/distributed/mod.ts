/**
 * Training across processes (PyTorch's `torch.distributed`): a process group joined with
 * `initProcessGroup` (backend "tcp", built in, or "mpi", Open MPI through Deno's FFI), collectives on
 * tensors (`allReduce`, `broadcast`, `allGather`, `barrier`), `DistributedDataParallel`,
 * `DistributedSampler`, and a launcher (`deno task launch --nproc N script.ts`).
 *
 * @example
 * ```ts
 * import { distributed, ones } from "../../mod.ts";
 * // deno task launch --nproc 2 script.ts
 * await distributed.initProcessGroup();
 * const t = ones([3]);
 * await distributed.allReduce(t); // [2, 2, 2] on both ranks
 * await distributed.destroyProcessGroup();
 * ```
 * @module
 */
export {
  allGather,
  allReduce,
  barrier,
  broadcast,
  DEFAULT_TIMEOUT_MS,
  destroyProcessGroup,
  getBackend,
  getLocalRank,
  getRank,
  getWorldSize,
  initProcessGroup,
  isInitialized,
} from "./process_group.ts";
export type { CollectiveOptions, InitProcessGroupOptions } from "./process_group.ts";
export { DistributedError } from "./transport.ts";
export type { BackendName, ReduceOp } from "./transport.ts";
export { DistributedDataParallel } from "./ddp.ts";
export type { DistributedDataParallelOptions } from "./ddp.ts";
export { DistributedSampler, torchRandperm } from "./sampler.ts";
export type { DistributedSamplerOptions } from "./sampler.ts";
export { saveOnRank0 } from "./checkpoint.ts";
export { freePort, launch, parseLaunchArgs } from "./launch.ts";
export type { LaunchOptions, LaunchResult } from "./launch.ts";
