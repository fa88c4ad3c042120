/**
 * Dtype conversion and moves between devices, with their gradients.
 * @module
 */
import { backendFor, checkDevice, type Device, webgpuBackendFor } from "../backend/registry.ts";
import { type DType, isFloating } from "../tensor/dtype.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { operand, record, wrap } from "./util.ts";
import { contiguousCopy } from "./views.ts";

/** `x` converted to `dtype` (float→int truncates, anything→bool is x != 0). Records autograd unless told not to. */
export function castTo(x: Tensor, dtype: DType, grad = true): Tensor {
  x.checkLive("to");
  const backend = backendFor(x.device);
  if (dtype === "float16" && !backend.supportsF16) {
    throw new TypeError(`float16 is not supported on ${x.device}: this adapter lacks the shader-f16 feature`);
  }
  const out = wrap(backend.unary("copy", operand(x), dtype), x.shape, x.device);
  if (!grad || !isFloating(dtype)) return out;
  return record("ToCopyBackward0", out, [x], () => (g) => [g.to(x.dtype)]);
}

/**
 * `x` moved to `device`. From the CPU to WebGPU: an upload that never waits; a tensor that requires grad
 * arrives as a new leaf that requires grad. Between WebGPU devices: see {@linkcode copyAcross}
 * (differentiable). Reading WebGPU data back to the CPU waits, so it is `await t.cpu()`, and calling
 * `to("cpu")` on a WebGPU tensor throws saying so.
 */
export function moveTo(x: Tensor, device: Device): Tensor {
  x.checkLive("to");
  const target = checkDevice(device);
  if (target === x.device) return x;
  if (x.device !== "cpu" && target !== "cpu") return copyAcross(x, target);
  if (x.device !== "cpu") {
    throw new Error(
      `to("cpu"): reading a ${x.device} tensor back waits for the device, so it is async: use \`await t.cpu()\``,
    );
  }
  const src = x.isContiguous() && x.offset === 0 && x.storage.size === x.size ? x : contiguousCopy(x);
  const data = (src.storage as unknown as { data: import("../tensor/dtype.ts").TypedArray }).data;
  const out = wrap(backendFor(target).upload(x.dtype, data), x.shape, target);
  if (src !== x) src.dispose();
  // Gradients cannot flow back across devices without a read, so the moved tensor is a new leaf.
  if (x.requiresGrad) out.requiresGrad = true;
  return out;
}

/**
 * `x` copied from one WebGPU device to another (separate `GPUDevice`s share no buffers): the source device
 * copies it to a staging buffer and maps it; the target gets a storage at once, and its queue holds back
 * every later submit (recording goes on, nothing waits) until the data has arrived and been written. So the
 * call returns synchronously and reads stay the only waits. Recorded for autograd: the gradient goes back to
 * `x`'s device the same way.
 */
export function copyAcross(x: Tensor, device: Device): Tensor {
  const src = x.isContiguous() && x.offset === 0 && x.storage.size === x.size ? x : contiguousCopy(x);
  const data = backendFor(src.device).read(src.storage); // records the copy out now
  if (src !== x) src.dispose();
  const out = wrap(webgpuBackendFor(device).receive(x.dtype, x.size, data), x.shape, device);
  return record("ToCopyBackward0", out, [x], () => (g) => [copyAcross(g, x.device)]);
}
