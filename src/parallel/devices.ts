/**
 * Device lists for the parallel helpers: PyTorch-style integer ids (`0` is `"webgpu"`, `1` is `"webgpu:1"`)
 * or names, and flushing a device's recorded commands so that it starts while the next one is recorded.
 * @module
 */
import {
  backendFor,
  checkDevice,
  type Device,
  webgpuDeviceName,
  webgpuDevices,
} from "../backend/registry.ts";
import { Tensor } from "../tensor/tensor.ts";

/** A device given by name (`"webgpu:1"`) or, as PyTorch's `device_ids`, by WebGPU index (`1`). */
export type DeviceId = Device | number;

/** The canonical name of a device id; throws on a bad one. */
export function toDevice(id: DeviceId, what = "device"): Device {
  if (typeof id === "number") {
    if (!Number.isInteger(id) || id < 0) throw new TypeError(`${what}: bad WebGPU device index ${id}`);
    return webgpuDeviceName(id);
  }
  return checkDevice(id);
}

/** A checked, non-empty list of distinct devices; defaults to every open WebGPU device. */
export function toDevices(ids: readonly DeviceId[] | undefined, what: string): Device[] {
  const list = ids ? ids.map((d) => toDevice(d, what)) : webgpuDevices().map((s) => s.device);
  if (!list.length) {
    throw new RangeError(`${what}: no devices given${ids ? "" : " and no WebGPU device is open"}`);
  }
  const seen = new Set<string>();
  for (const d of list) {
    if (seen.has(d)) throw new RangeError(`${what}: device ${d} is listed twice`);
    seen.add(d);
  }
  return list;
}

/** Submits the commands recorded so far on each device that `value` (tensors, nested) lives on. */
export function flushDevicesOf(value: unknown): void {
  const devices = new Set<Device>();
  forEachTensor(value, (t) => devices.add(t.device));
  for (const d of devices) backendFor(d).flush();
}

/** Calls `fn` on every tensor in `value` (a tensor, or arrays and plain objects of them). */
export function forEachTensor(value: unknown, fn: (t: Tensor) => void): void {
  if (value instanceof Tensor) fn(value);
  else if (Array.isArray(value)) { for (const v of value) forEachTensor(v, fn); }
  else if (isPlainObject(value)) { for (const v of Object.values(value)) forEachTensor(v, fn); }
}

/** Whether `v` is a plain `{...}` object (not a class instance such as a Tensor or a Module). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
