/**
 * `scatter`: splits a batch across devices; `gather`: joins per-device outputs on one device. Both are
 * differentiable (between WebGPU devices the moves are `.to()` copies whose gradients flow back).
 * @module
 */
import type { Device } from "../backend/registry.ts";
import { cat } from "../ops/join.ts";
import { normDim } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";
import { Module } from "../nn/module.ts";
import { type DeviceId, isPlainObject, toDevice, toDevices } from "./devices.ts";

/**
 * The sizes PyTorch's `chunk` gives when splitting `n` items into `parts`: chunks of ⌈n/parts⌉ and a
 * smaller last one, so there may be fewer chunks than parts (5 into 4 gives [2, 2, 1]).
 *
 * @example
 * ```ts
 * import { parallel } from "../../mod.ts";
 * parallel.chunkSizes(10, 3); // [4, 4, 2]
 * parallel.chunkSizes(5, 4); // [2, 2, 1]
 * ```
 */
export function chunkSizes(n: number, parts: number): number[] {
  if (!Number.isInteger(parts) || parts < 1) throw new RangeError(`chunk: parts must be >= 1, got ${parts}`);
  if (n === 0) return [0];
  const size = Math.ceil(n / parts);
  const out: number[] = [];
  for (let start = 0; start < n; start += size) out.push(Math.min(size, n - start));
  return out;
}

function scatterTensor(x: Tensor, devices: readonly Device[], dim: number): Tensor[] {
  x.checkLive("scatter");
  if (x.ndim === 0) throw new RangeError("scatter: cannot split a zero-dimensional tensor");
  const d = normDim(dim, x.ndim, "scatter");
  if (x.shape[d] === 0) {
    throw new RangeError(`scatter: dimension ${d} of the tensor is empty, nothing to split`);
  }
  let start = 0;
  return chunkSizes(x.shape[d], devices.length).map((len, i) => {
    const part = x.narrow(d, start, len);
    start += len;
    const moved = part.to(devices[i]);
    if (moved !== part) part.dispose();
    return moved;
  });
}

function notAModel(value: Module): never {
  throw new TypeError(
    `scatter splits data (tensors) along a dimension across devices, but it was given a model ` +
      `(${value.constructor.name}). To put a copy of a model on every device use ` +
      "`parallel.replicate(model, devices)` (or `parallel.DataParallel`, which scatters the batch and " +
      "replicates the model for you); to put different layers on different devices (model parallelism) " +
      "move each stage with `stage.to(device)` (see `parallel.Pipe`).",
  );
}

function scatterValue(value: unknown, devices: readonly Device[], dim: number): unknown[] {
  if (value instanceof Module) notAModel(value);
  if (value instanceof Tensor) return scatterTensor(value, devices, dim);
  if (Array.isArray(value)) {
    if (value.length === 0) return devices.map(() => []);
    const parts = value.map((v) => scatterValue(v, devices, dim));
    const n = Math.min(...parts.map((p) => p.length));
    return Array.from({ length: n }, (_, i) => parts.map((p) => p[i]));
  }
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return devices.map(() => ({}));
    const parts = keys.map((k) => scatterValue(value[k], devices, dim));
    const n = Math.min(...parts.map((p) => p.length));
    return Array.from({ length: n }, (_, i) => Object.fromEntries(keys.map((k, j) => [k, parts[j][i]])));
  }
  return devices.map(() => value); // numbers, strings, null...: the same value for every device
}

/**
 * Splits `inputs` along `dim` into one chunk per device (PyTorch's `chunk` sizes, so a batch smaller than the
 * number of devices uses fewer devices) and moves each chunk to its device. `inputs` is a tensor, or an
 * array or plain object of them (split element by element, the result having one entry per chunk); other
 * values are passed to every device as they are. Returns one entry per device used.
 *
 * It splits data, never a model: a `Module` is refused with an error pointing to {@linkcode replicate}.
 *
 * @example
 * ```ts
 * import { gpu, parallel, randn } from "../../mod.ts";
 * if (await gpu.isAvailable()) {
 *   await gpu.devices({ logical: 2 });
 *   const [a, b] = parallel.scatter(randn([5, 3]), ["webgpu", "webgpu:1"]);
 *   console.log(a.shape, a.device, b.shape, b.device); // [3, 3] webgpu [2, 3] webgpu:1
 * }
 * ```
 */
export function scatter<T>(inputs: T, devices: readonly DeviceId[], dim = 0): T[] {
  return scatterValue(inputs, toDevices(devices, "scatter"), dim) as T[];
}

function gatherValue(outputs: readonly unknown[], device: Device, dim: number): unknown {
  const first = outputs[0];
  if (first instanceof Tensor) {
    const moved = outputs.map((o, i) => {
      if (!(o instanceof Tensor)) {
        throw new TypeError(`gather: output ${i} is not a tensor while output 0 is`);
      }
      o.checkLive("gather");
      const t = o.ndim === 0 ? o.unsqueeze(0) : o; // scalars are joined into a vector, as PyTorch does
      const m = t.to(device);
      if (t !== o && m !== t) t.dispose();
      return m;
    });
    const out = moved.length === 1 ? moved[0] : cat(moved, dim);
    moved.forEach((m, i) => {
      if (m !== outputs[i] && m !== out) m.dispose();
    });
    return out;
  }
  if (Array.isArray(first)) {
    return first.map((_, k) => gatherValue(outputs.map((o) => (o as unknown[])[k]), device, dim));
  }
  if (isPlainObject(first)) {
    return Object.fromEntries(
      Object.keys(first).map((
        k,
      ) => [k, gatherValue(outputs.map((o) => (o as Record<string, unknown>)[k]), device, dim)]),
    );
  }
  if (first === null || first === undefined) return first;
  throw new TypeError(
    `gather: outputs must be tensors, or arrays or plain objects of them; got ${typeof first}`,
  );
}

/**
 * Joins per-device `outputs` along `dim` on `device` (the inverse of {@linkcode scatter}): tensors are moved
 * there (differentiably between WebGPU devices) and concatenated; arrays and plain objects of tensors are
 * gathered element by element.
 *
 * @example
 * ```ts
 * import { gpu, parallel, randn } from "../../mod.ts";
 * if (await gpu.isAvailable()) {
 *   await gpu.devices({ logical: 2 });
 *   const parts = parallel.scatter(randn([4, 2]), ["webgpu", "webgpu:1"]);
 *   const whole = parallel.gather(parts, "webgpu"); // [4, 2] on webgpu
 * }
 * ```
 */
export function gather<T>(outputs: readonly T[], device: DeviceId, dim = 0): T {
  if (!outputs.length) throw new RangeError("gather: no outputs to gather");
  return gatherValue(outputs, toDevice(device, "gather"), dim) as T;
}
