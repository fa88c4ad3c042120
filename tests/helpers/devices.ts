/**
 * Registers one `Deno.test` per device: every test runs on "cpu", and on "webgpu" when an adapter is
 * available (on a CPU-only machine the WebGPU variant is registered as ignored, so it shows up as skipped).
 * @module
 */

import { gpu } from "../../mod.ts";

/** A device a test can run on. */
export type TestDevice = "cpu" | "webgpu";

/** Whether WebGPU is available on this machine. */
export const hasWebGpu: boolean = await gpu.isAvailable();

/** Every device, available or not, in the order the tests are registered. */
export const ALL_DEVICES: readonly TestDevice[] = ["cpu", "webgpu"];

/** The devices that can run here. */
export const DEVICES: readonly TestDevice[] = hasWebGpu ? ["cpu", "webgpu"] : ["cpu"];

/** Options of {@linkcode forEachDevice}. */
export interface DeviceTestOptions {
  /** Restrict the test to these devices (default: cpu and webgpu). */
  devices?: readonly TestDevice[];
  /** Skip the test everywhere. */
  ignore?: boolean;
}

/**
 * Registers `fn` as one test per device, named `"<name> [<device>]"`. The WebGPU variant is ignored when
 * no adapter is available. Resource and op sanitizers are off: WebGPU buffers and read-backs outlive a test.
 */
export function forEachDevice(
  name: string,
  fn: (device: TestDevice) => void | Promise<void>,
  options: DeviceTestOptions = {},
): void {
  for (const device of options.devices ?? ALL_DEVICES) {
    Deno.test({
      name: `${name} [${device}]`,
      ignore: options.ignore === true || (device === "webgpu" && !hasWebGpu),
      sanitizeResources: false,
      sanitizeOps: false,
      fn: () => fn(device),
    });
  }
}

/** Registers a test that only makes sense on WebGPU (ignored when no adapter is available). */
export function webgpuTest(name: string, fn: () => void | Promise<void>): void {
  forEachDevice(name, () => fn(), { devices: ["webgpu"] });
}
