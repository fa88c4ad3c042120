/**
 * Checkpoints in a data-parallel job: every rank holds the same model, so rank 0 alone writes (atomically,
 * through `io.saveCheckpoint`), and the others wait at a barrier so that nobody reads a half-finished step.
 * @module
 */
import { type CheckpointState, saveCheckpoint } from "../io/checkpoint.ts";
import { barrier, getRank, isInitialized } from "./process_group.ts";

/**
 * Saves a training checkpoint from rank 0 only (written to a temporary file and renamed, so a crash never
 * leaves a torn file), then waits at a barrier so that every rank returns once the file is in place.
 * Without an initialized process group it just saves. Returns whether this rank wrote.
 *
 * @example
 * ```ts
 * import { distributed, nn } from "../../mod.ts";
 * const model = new nn.Linear(4, 2);
 * await distributed.saveOnRank0("/tmp/ddp-ckpt.safetensors", { model, epoch: 1 });
 * ```
 */
export async function saveOnRank0(path: string, state: CheckpointState): Promise<boolean> {
  if (!isInitialized()) {
    await saveCheckpoint(path, state);
    return true;
  }
  const writer = getRank() === 0;
  if (writer) await saveCheckpoint(path, state);
  await barrier();
  return writer;
}
