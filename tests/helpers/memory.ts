/**
 * Memory measurements that other tests' garbage cannot disturb: tensors nobody disposed are freed by a
 * FinalizationRegistry whenever V8 collects them, which can land inside a measured window. Collecting first
 * (the test task runs with `--v8-flags=--expose-gc`) and letting the finalizers run makes the baseline stable.
 * @module
 */
import { gpu } from "../../mod.ts";

/** Runs a full GC (when exposed), lets finalization callbacks run, waits for the GPU, returns bytes in use. */
export async function settledInUse(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 2; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 0));
  }
  await gpu.sync();
  return gpu.memory().inUse;
}
