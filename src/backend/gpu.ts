/**
 * `gpu`: is WebGPU there, which adapter, how much memory is in use, and recovery after a device loss.
 * @module
 */
import type { MemoryInfo } from "./backend.ts";
import { resetWebGpu, webgpuBackend, webgpuUnavailableReason } from "./registry.ts";
import type { AdapterInfo } from "./webgpu/webgpu_backend.ts";

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

let noticed = false;

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
  /** Bytes of GPU memory allocated by the pool, in use by live tensors, and the peak in use. */
  memory(): MemoryInfo;
  /** Starts a new peak measurement at the current in-use figure. */
  resetPeakMemory(): void;
  /** Gives the pool's free buffers back to the driver. */
  emptyCache(): void;
  /** Waits until all queued GPU work has finished. */
  sync(): Promise<void>;
  /** Dispatch, submit and pipeline counters of the engine. */
  stats(): EngineStats;
  /** Creates a fresh device after a device loss; tensors on the old one are gone. */
  reset(): Promise<void>;
  /** The raw `GPUDevice` (for fault-injection tests and interop); null without WebGPU. */
  rawDevice(): GPUDevice | null;
}

/**
 * The WebGPU device as a whole.
 *
 * @example
 * ```ts
 * import { gpu, tensor } from "./mod.ts";
 * const device = (await gpu.isAvailable()) ? "webgpu" : "cpu";
 * console.log(await gpu.info()); // adapter name, backend, f16, limits
 * const x = tensor([1, 2, 3], { device });
 * console.log(gpu.memory()); // { allocated, inUse, peak } in bytes
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

  /** Bytes of GPU memory allocated by the pool, in use by live tensors, and the peak in use. */
  memory(): MemoryInfo {
    return webgpuBackend()?.memory() ?? { allocated: 0, inUse: 0, peak: 0 };
  },

  /** Starts a new peak measurement at the current in-use figure. */
  resetPeakMemory(): void {
    webgpuBackend()?.pool.resetPeak();
  },

  /** Gives the pool's free buffers back to the driver. */
  emptyCache(): void {
    webgpuBackend()?.trim();
  },

  /** Waits until all queued GPU work has finished. */
  async sync(): Promise<void> {
    await webgpuBackend()?.sync();
  },

  /** Dispatch, submit and pipeline counters of the engine. */
  stats(): EngineStats {
    const b = webgpuBackend();
    return {
      dispatches: b?.batch.totalDispatches ?? 0,
      submits: b?.batch.totalSubmits ?? 0,
      pipelines: b?.compiled ?? 0,
    };
  },

  /** Creates a fresh device after a device loss; tensors on the old one are gone. */
  async reset(): Promise<void> {
    await resetWebGpu();
  },

  /** Internal: the raw `GPUDevice` (for tests that inject faults and for interop); null without WebGPU. */
  rawDevice(): GPUDevice | null {
    return webgpuBackend()?.gpu ?? null;
  },
};
