/**
 * Saving and loading: safetensors files (interchangeable with PyTorch and Hugging Face) and training
 * checkpoints (model, optimizer, scheduler, epoch and RNG state in one safetensors file).
 *
 * @example
 * ```ts
 * import { io, nn } from "../../mod.ts";
 * const model = new nn.Linear(4, 3);
 * await io.save(model.stateDict(), "/tmp/model.safetensors");
 * model.loadStateDict(await io.load("/tmp/model.safetensors"));
 * ```
 * @module
 */
export { deserialize, load, readMetadata, SafetensorsError, save, serialize } from "./safetensors.ts";
export type {
  HostTensor,
  LoadOptions,
  SafetensorsContents,
  SafetensorsDType,
  SaveOptions,
} from "./safetensors.ts";
export { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
export type { CheckpointState, LoadCheckpointOptions, LoadedCheckpoint, Stateful } from "./checkpoint.ts";
export { writeFileAtomic } from "./atomic_write.ts";
