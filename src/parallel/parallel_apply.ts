/**
 * `parallelApply`: runs replicas on their inputs, one device after the other in JavaScript but concurrently on
 * the devices: each replica's commands are submitted to its own queue before the next replica is recorded.
 * @module
 */
import { flushDevicesOf } from "./devices.ts";

/** Something with a `forward`: a module or a replica. */
export interface Forwardable<R> {
  /** The computation. */
  forward(...args: never[]): R;
}

/**
 * Calls `modules[i].forward` on `inputs[i]` for every i (an array entry is spread as the arguments, anything
 * else is the single argument) and returns the outputs in order (PyTorch's `parallel_apply`). Recording
 * never waits, and each device's work is submitted as soon as its replica has been recorded, so separate
 * devices compute at the same time. An error names the replica and its device.
 *
 * @example
 * ```ts
 * import { gpu, nn, parallel, randn } from "../../mod.ts";
 * if (await gpu.isAvailable()) {
 *   await gpu.devices({ logical: 2 });
 *   const devices = ["webgpu", "webgpu:1"] as const;
 *   const model = new nn.Linear(3, 2).to("webgpu");
 *   const replicas = parallel.replicate(model, devices);
 *   const inputs = parallel.scatter(randn([8, 3]), devices);
 *   const outputs = parallel.parallelApply(replicas, inputs); // [4, 2] on each device
 * }
 * ```
 */
export function parallelApply<R>(modules: readonly Forwardable<R>[], inputs: readonly unknown[]): R[] {
  if (modules.length !== inputs.length) {
    throw new RangeError(
      `parallelApply: ${modules.length} module(s) but ${inputs.length} input(s); they must pair up ` +
        "(scatter may return fewer chunks than devices: replicate onto that many)",
    );
  }
  return modules.map((m, i) => {
    const args = Array.isArray(inputs[i]) ? inputs[i] as unknown[] : [inputs[i]];
    let out: R;
    try {
      out = (m.forward as (...a: unknown[]) => R)(...args);
    } catch (e) {
      const where = (m as { device?: string }).device;
      throw new Error(
        `parallelApply: replica ${i}${where ? ` on ${where}` : ""} failed: ${(e as Error).message}`,
        { cause: e },
      );
    }
    flushDevicesOf(out); // start this device before recording the next one
    return out;
  });
}
