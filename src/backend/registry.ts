/**
 * Device names to backends, and the WebGPU devices' lifecycle.
 *
 * Device 0 (`"webgpu"`, also spelt `"webgpu:0"`) is created at import. More devices are opened on demand by
 * `await gpu.devices({ logical: n })` (see `gpu.ts`), or at import with `DENOGRAD_LOGICAL_DEVICES=n`: first
 * one per distinct adapter the system offers, then "logical" devices, separate `GPUDevice`s on the first
 * adapter, each with its own queue, buffer pool, pipeline cache and command batch. A device keeps its index
 * for the life of the process; `gpu.reset()` re-creates them all. Set `DENOGRAD_DEVICE=cpu` to skip WebGPU.
 * @module
 */
import type { Backend } from "./backend.ts";
import { cpuBackend } from "./cpu/cpu_backend.ts";
import { createWebGpuBackend, type WebGpuBackend } from "./webgpu/webgpu_backend.ts";

/** A device name: `"cpu"`, `"webgpu"` (WebGPU device 0, also `"webgpu:0"`) or `"webgpu:N"`. */
export type Device = "cpu" | "webgpu" | `webgpu:${number}`;

/** One open WebGPU device. */
export interface WebGpuDeviceSlot {
  /** Its backend (own queue, buffer pool, pipeline cache and command batch). */
  readonly backend: WebGpuBackend;
  /** Its name: "webgpu" for index 0, else "webgpu:N". */
  readonly device: Device;
  /** The index N. */
  readonly index: number;
  /** Whether it shares its adapter with a device of lower index. */
  readonly logical: boolean;
}

let slots: WebGpuDeviceSlot[] = [];
let initError: string | null = null;
/** The number of devices asked for so far (re-created by a reset). */
let wanted = 1;
/** Whether the adapters were probed since the last (re)start. */
let probed = false;

/** The name of WebGPU device `index`. */
export function webgpuDeviceName(index: number): Device {
  return index === 0 ? "webgpu" : `webgpu:${index}`;
}

function adapterKey(b: WebGpuBackend): string {
  return `${b.info.vendor}|${b.info.name}|${b.info.architecture}`;
}

function addSlot(backend: WebGpuBackend): WebGpuDeviceSlot {
  const index = slots.length;
  const device = webgpuDeviceName(index);
  backend.device = device;
  const logical = slots.some((s) => adapterKey(s.backend) === adapterKey(backend));
  const slot = { backend, device, index, logical };
  slots.push(slot);
  return slot;
}

async function init(): Promise<void> {
  slots = [];
  initError = null;
  probed = false;
  if ((envVar("DENOGRAD_DEVICE") ?? "").toLowerCase() === "cpu") {
    initError = "DENOGRAD_DEVICE=cpu is set";
    return;
  }
  try {
    const first = await createWebGpuBackend();
    if (!first) initError = "navigator.gpu found no adapter";
    else addSlot(first);
  } catch (e) {
    initError = `WebGPU failed to start: ${(e as Error).message}`;
  }
  const fromEnv = Number(envVar("DENOGRAD_LOGICAL_DEVICES") ?? "");
  if (slots.length && Number.isInteger(fromEnv) && fromEnv > 1) wanted = Math.max(wanted, fromEnv);
  if (slots.length && wanted > 1) await openWebGpuDevices(wanted);
}

/**
 * Opens WebGPU devices until there are at least `count` (and one per distinct adapter found): first the
 * adapters for the other power preference, then logical devices on device 0's adapter. Resolves to the open
 * devices. A software adapter is skipped when device 0 is hardware (it would slow every replica down).
 */
export async function openWebGpuDevices(count = 1): Promise<readonly WebGpuDeviceSlot[]> {
  if (!slots.length) return slots;
  wanted = Math.max(wanted, count);
  if (!probed) {
    // WebGPU has no adapter enumeration: the other power preference is the one way to find a second adapter
    probed = true;
    const b = await createWebGpuBackend({ powerPreference: "low-power" });
    const known = b && slots.some((s) => adapterKey(s.backend) === adapterKey(b));
    if (b && (known || (b.info.isSoftware && !slots[0].backend.info.isSoftware))) b.gpu.destroy();
    else if (b) addSlot(b);
  }
  while (slots.length < count) {
    const b = await createWebGpuBackend();
    if (!b) throw new Error(`could not open WebGPU device ${slots.length}: no adapter was returned`);
    addSlot(b);
  }
  return slots;
}

await init();

// Release the devices before the process exits: tearing them down while the runtime exits has, rarely,
// aborted the process inside the driver after all work had finished.
globalThis.addEventListener?.("unload", () => {
  for (const s of slots) {
    try {
      s.backend.gpu.destroy();
    } catch { /* already gone */ }
  }
});

/** The WebGPU backend of device 0, or null when no adapter is available. */
export function webgpuBackend(): WebGpuBackend | null {
  return slots[0]?.backend ?? null;
}

/** The open WebGPU devices, by index (empty without WebGPU). */
export function webgpuDevices(): readonly WebGpuDeviceSlot[] {
  return slots;
}

/** Why WebGPU is unavailable, or null when it is available. */
export function webgpuUnavailableReason(): string | null {
  return initError;
}

/** Re-creates the WebGPU devices (after a device loss), as many as were open. Tensors on the old ones are gone. */
export async function resetWebGpu(): Promise<void> {
  for (const s of slots) s.backend.gpu.destroy();
  await init();
}

/** Validates a device name and returns its canonical form (`"webgpu:0"` is `"webgpu"`). */
export function checkDevice(device: unknown): Device {
  if (device === "cpu" || device === "webgpu") return device;
  if (typeof device === "string") {
    const m = /^webgpu:(\d+)$/.exec(device);
    if (m) return webgpuDeviceName(Number(m[1]));
  }
  throw new TypeError(
    `unknown device ${JSON.stringify(device)}: expected "cpu" or "webgpu" (or "webgpu:N" for WebGPU ` +
      "device N: see `await gpu.devices()`)",
  );
}

/** Whether a device is a WebGPU one ("webgpu" or "webgpu:N"). */
export function isWebGpu(device: Device): boolean {
  return device !== "cpu";
}

/** The index N of a WebGPU device ("webgpu" is 0). */
export function webgpuIndex(device: Device): number {
  if (device === "cpu") throw new TypeError(`cpu is not a WebGPU device`);
  return device === "webgpu" ? 0 : Number(device.slice(7));
}

/** The WebGPU backend of a device; throws a clear error when it is not open. */
export function webgpuBackendFor(device: Device): WebGpuBackend {
  const index = webgpuIndex(device);
  const slot = slots[index];
  if (slot) return slot.backend;
  if (!slots.length) {
    throw new Error(
      `WebGPU is not available (${initError}): use device "cpu", or check \`await gpu.isAvailable()\` first`,
    );
  }
  const open = slots.map((s) => s.device).join(", ");
  throw new Error(
    `device ${device} is not open: ${slots.length} WebGPU device${
      slots.length > 1 ? "s are" : " is"
    } (${open}). ` +
      `Open more with \`await gpu.devices({ logical: ${index + 1} })\` or DENOGRAD_LOGICAL_DEVICES=${
        index + 1
      }`,
  );
}

/** The backend of a device; throws a clear error when WebGPU is requested but unavailable. */
export function backendFor(device: Device): Backend {
  if (device === "cpu") return cpuBackend;
  return webgpuBackendFor(device);
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
