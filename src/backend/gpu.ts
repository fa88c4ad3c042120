/**
 * `gpu`: is WebGPU there, which adapter, how much memory is in use, and recovery after a device loss.
 * @module
 */
import type { MemoryInfo } from "./backend.ts";
import {
  checkDevice,
  type Device,
  openWebGpuDevices,
  resetWebGpu,
  webgpuBackend,
  webgpuBackendFor,
  webgpuDevices,
  webgpuUnavailableReason,
} from "./registry.ts";
import type { AdapterInfo, WebGpuBackend } from "./webgpu/webgpu_backend.ts";

export type { AdapterInfo, MemoryInfo };

/** Counters of the WebGPU engine, for benchmarks and profiling. */
export interface EngineStats {
  /** Compute dispatches recorded since start. */
  dispatches: number;
  /** Command buffers submitted since start. */
  submits: number;
  /** Compute pipelines compiled since start (each kernel specialisation once). */
  pipelines: number;
}

/** One open WebGPU device, as `gpu.devices()` lists it. */
export interface DeviceInfo {
  /** Its name, for `.to()` and `{ device }`: "webgpu" for device 0, else "webgpu:N". */
  device: Device;
  /** The index N. */
  index: number;
  /** The adapter's name. */
  adapter: string;
  /** Whether it is a logical device: a separate `GPUDevice` on an adapter that a lower index also uses. */
  logical: boolean;
  /** Whether the adapter is a software one (lavapipe, SwiftShader). */
  isSoftware: boolean;
}

/** Options of `gpu.devices()`. */
export interface DevicesOptions {
  /**
   * Open WebGPU devices until there are at least this many, adding logical devices on device 0's adapter
   * when the system has fewer adapters.
   */
  logical?: number;
}

let noticed = false;

/** The backends a per-device call applies to: `device`'s, or every open one. */
function targets(device?: Device): WebGpuBackend[] {
  if (device === undefined) return webgpuDevices().map((s) => s.backend);
  const d = checkDevice(device);
  if (d === "cpu") return [];
  return [webgpuBackendFor(d)];
}

/** The WebGPU device as a whole: see {@linkcode gpu}. */
export interface Gpu {
  /** Whether a WebGPU adapter is available (when not, everything runs on the CPU). */
  isAvailable(): Promise<boolean>;
  /** The adapter's name, vendor, backend, f16 support and key limits; null when there is none. */
  info(): Promise<AdapterInfo | null>;
  /** Why WebGPU is unavailable, or null when it is available. */
  unavailableReason(): string | null;
  /** "webgpu" when available, else "cpu" after a one-line notice on stderr (printed once). */
  defaultDevice(): "webgpu" | "cpu";
  /**
   * The open WebGPU devices (every distinct adapter found, then logical devices), opening devices first
   * when `logical` asks for more.
   */
  devices(opts?: DevicesOptions): Promise<DeviceInfo[]>;
  /** How many WebGPU devices are open now (0 without WebGPU); `gpu.devices()` opens more. */
  deviceCount(): number;
  /** Bytes of GPU memory allocated by `device`'s pool (device 0 when omitted), in use, and the peak in use. */
  memory(device?: Device): MemoryInfo;
  /** Starts a new peak measurement at the current in-use figure (of `device`, or of every device). */
  resetPeakMemory(device?: Device): void;
  /** Gives the pools' free buffers back to the driver (of `device`, or of every device). */
  emptyCache(device?: Device): void;
  /** Waits until all queued GPU work has finished (on `device`, or on every device). */
  sync(device?: Device): Promise<void>;
  /** Dispatch, submit and pipeline counters of `device`'s engine (device 0 when omitted). */
  stats(device?: Device): EngineStats;
  /** Creates fresh devices after a device loss (as many as were open); tensors on the old ones are gone. */
  reset(): Promise<void>;
  /** The raw `GPUDevice` (for fault-injection tests and interop); null without WebGPU. */
  rawDevice(): GPUDevice | null;
}

/**
 * The WebGPU device as a whole.
 *
 * @example
 * ```ts
 * import { gpu, tensor } from "../../mod.ts";
 * const device = (await gpu.isAvailable()) ? "webgpu" : "cpu";
 * console.log(await gpu.info()); // adapter name, backend, f16, limits
 * const x = tensor([1, 2, 3], { device });
 * console.log(gpu.memory()); // { allocated, inUse, peak } in bytes
 * console.log(await gpu.devices({ logical: 2 })); // "webgpu" and "webgpu:1", the second one logical
 * ```
 */
export const gpu: Gpu = {
  /** Whether a WebGPU adapter is available (when not, everything runs on the CPU). */
  isAvailable(): Promise<boolean> {
    return Promise.resolve(webgpuBackend() !== null);
  },

  /** The adapter's name, vendor, backend, f16 support and key limits; null when there is none. */
  info(): Promise<AdapterInfo | null> {
    return Promise.resolve(webgpuBackend()?.info ?? null);
  },

  /** Why WebGPU is unavailable, or null when it is available. */
  unavailableReason(): string | null {
    return webgpuUnavailableReason();
  },

  /**
   * "webgpu" when available, else "cpu" after a one-line notice on stderr (printed once).
   */
  defaultDevice(): "webgpu" | "cpu" {
    if (webgpuBackend()) return "webgpu";
    if (!noticed) {
      noticed = true;
      console.error(`denograd: WebGPU unavailable (${webgpuUnavailableReason()}); running on the CPU`);
    }
    return "cpu";
  },

  /**
   * The open WebGPU devices (every distinct adapter found, then logical devices), opening devices first
   * when `logical` asks for more.
   */
  async devices(opts: DevicesOptions = {}): Promise<DeviceInfo[]> {
    const n = opts.logical ?? 1;
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`gpu.devices: logical must be a positive integer, got ${n}`);
    }
    if (n > 1 && !webgpuBackend()) {
      throw new Error(`gpu.devices: WebGPU is not available (${webgpuUnavailableReason()})`);
    }
    const slots = await openWebGpuDevices(n);
    return slots.map((s) => ({
      device: s.device,
      index: s.index,
      adapter: s.backend.info.name,
      logical: s.logical,
      isSoftware: s.backend.info.isSoftware,
    }));
  },

  /** How many WebGPU devices are open now (0 without WebGPU); `gpu.devices()` opens more. */
  deviceCount(): number {
    return webgpuDevices().length;
  },

  /** Bytes of GPU memory allocated by `device`'s pool (device 0 when omitted), in use, and the peak in use. */
  memory(device?: Device): MemoryInfo {
    const b = device === undefined ? webgpuBackend() : targets(device)[0];
    return b?.memory() ?? { allocated: 0, inUse: 0, peak: 0 };
  },

  /** Starts a new peak measurement at the current in-use figure (of `device`, or of every device). */
  resetPeakMemory(device?: Device): void {
    for (const b of targets(device)) b.pool.resetPeak();
  },

  /** Gives the pools' free buffers back to the driver (of `device`, or of every device). */
  emptyCache(device?: Device): void {
    for (const b of targets(device)) b.trim();
  },

  /** Waits until all queued GPU work has finished (on `device`, or on every device). */
  async sync(device?: Device): Promise<void> {
    await Promise.all(targets(device).map((b) => b.sync()));
  },

  /** Dispatch, submit and pipeline counters of `device`'s engine (device 0 when omitted). */
  stats(device?: Device): EngineStats {
    const b = device === undefined ? webgpuBackend() : targets(device)[0];
    return {
      dispatches: b?.batch.totalDispatches ?? 0,
      submits: b?.batch.totalSubmits ?? 0,
      pipelines: b?.compiled ?? 0,
    };
  },

  /** Creates fresh devices after a device loss (as many as were open); tensors on the old ones are gone. */
  async reset(): Promise<void> {
    await resetWebGpu();
  },

  /** Internal: the raw `GPUDevice` (for tests that inject faults and for interop); null without WebGPU. */
  rawDevice(): GPUDevice | null {
    return webgpuBackend()?.gpu ?? null;
  },
};
