/**
 * Device names to backends, and the WebGPU device's lifecycle (created once at import, re-created by
 * `gpu.reset()` after a loss). Set `DENOGRAD_DEVICE=cpu` to skip WebGPU entirely.
 * @module
 */
import type { Backend } from "./backend.ts";
import { cpuBackend } from "./cpu/cpu_backend.ts";
import { createWebGpuBackend, type WebGpuBackend } from "./webgpu/webgpu_backend.ts";

/** A device name: `"cpu"` or `"webgpu"`. */
export type Device = "cpu" | "webgpu";

let webgpu: WebGpuBackend | null = null;
let initError: string | null = null;

async function init(): Promise<void> {
  webgpu = null;
  initError = null;
  if ((envVar("DENOGRAD_DEVICE") ?? "").toLowerCase() === "cpu") {
    initError = "DENOGRAD_DEVICE=cpu is set";
    return;
  }
  try {
    webgpu = await createWebGpuBackend();
    if (!webgpu) initError = "navigator.gpu found no adapter";
  } catch (e) {
    initError = `WebGPU failed to start: ${(e as Error).message}`;
  }
}

await init();

// Release the device before the process exits: tearing it down while the runtime exits has, rarely, aborted
// the process inside the driver after all work had finished.
globalThis.addEventListener?.("unload", () => {
  try {
    webgpu?.gpu.destroy();
  } catch { /* already gone */ }
});

/** The live WebGPU backend, or null when no adapter is available. */
export function webgpuBackend(): WebGpuBackend | null {
  return webgpu;
}

/** Why WebGPU is unavailable, or null when it is available. */
export function webgpuUnavailableReason(): string | null {
  return initError;
}

/** Re-creates the WebGPU device (after a device loss). Tensors on the old device are gone. */
export async function resetWebGpu(): Promise<void> {
  webgpu?.gpu.destroy();
  await init();
}

/** Validates a device name. */
export function checkDevice(device: unknown): Device {
  if (device === "cpu" || device === "webgpu") return device;
  if (typeof device === "string" && /^webgpu:0$/.test(device)) return "webgpu";
  throw new TypeError(`unknown device ${JSON.stringify(device)}: expected "cpu" or "webgpu"`);
}

/** The backend of a device; throws a clear error when WebGPU is requested but unavailable. */
export function backendFor(device: Device): Backend {
  if (device === "cpu") return cpuBackend;
  if (!webgpu) {
    throw new Error(
      `WebGPU is not available (${initError}): use device "cpu", or check \`await gpu.isAvailable()\` first`,
    );
  }
  return webgpu;
}

/** Reads an environment variable, or undefined when it is unset or env access is not permitted. */
export function envVar(name: string): string | undefined {
  try {
    return Deno.permissions.querySync?.({ name: "env", variable: name }).state === "granted"
      ? Deno.env.get(name)
      : undefined;
  } catch {
    return undefined;
  }
}
