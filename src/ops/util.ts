/**
 * Plumbing shared by every op: operands, device checks, graph recording, broadcasting's adjoint and the
 * cache of scalar constants.
 * @module
 */
import type { Operand, Storage } from "../backend/backend.ts";
import { backendFor, type Device } from "../backend/registry.ts";
import { isGradEnabled } from "../autograd/grad_mode.ts";
import { type BackwardFn, Node } from "../autograd/node.ts";
import { nodeOutputs } from "../autograd/engine.ts";
import type { DType } from "../tensor/dtype.ts";
import { fmtShape } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";

/** The backend operand (storage plus view) of a tensor. */
export function operand(t: Tensor): Operand {
  return { storage: t.storage, view: t.layout };
}

/** The operand of `t` broadcast to `shape` (strides of 0 on expanded dims). */
export function broadcastOperand(t: Tensor, shape: readonly number[]): Operand {
  const off = shape.length - t.shape.length;
  const strides = shape.map((d, i) => {
    const j = i - off;
    if (j < 0) return 0;
    return t.shape[j] === 1 && d !== 1 ? 0 : t.strides[j];
  });
  return { storage: t.storage, view: { shape, strides, offset: t.offset } };
}

/** Throws PyTorch's error when tensors live on different devices. */
export function sameDevice(op: string, ...ts: Tensor[]): Device {
  const d = ts[0].device;
  for (const t of ts) {
    t.checkLive(op);
    if (t.device !== d) {
      throw new Error(
        `${op}: expected all tensors to be on the same device, but found at least two devices, ${d} and ` +
          `${t.device}. Move one with .to("${d}") (or .to("${t.device}")) first`,
      );
    }
  }
  return d;
}

/** Throws when two dtypes differ where an op needs them equal (matmul, conv...), naming both. */
export function sameDType(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    throw new TypeError(
      `${op}: expected both tensors to have the same dtype, but got ${a.dtype} and ${b.dtype}. ` +
        `Convert one with .to("${a.dtype}")`,
    );
  }
}

/** Wraps a fresh storage of a backend as a contiguous tensor. */
export function wrap(storage: Storage, shape: readonly number[], device: Device): Tensor {
  return Tensor.fromStorage(storage, shape, device);
}

/**
 * Records `out` as produced by `name` from `inputs` when grad mode is on and an input requires grad.
 * `build` receives the node (to save tensors) and returns the gradient function.
 */
export function record(
  name: string,
  out: Tensor,
  inputs: readonly Tensor[],
  build: (node: Node) => BackwardFn,
): Tensor {
  if (!isGradEnabled() || !inputs.some((t) => t.requiresGrad)) return out;
  const node = new Node(name, inputs.map((t) => (t.requiresGrad ? t : null)));
  // the output gets its node before the backward is built: an output saved for backward (exp, sqrt, tanh...
  // save y) must lead back through this node when the backward is itself differentiated (createGraph)
  out.setGradFn(node);
  node.setBackward(build(node));
  nodeOutputs.set(node, new WeakRef(out));
  return out;
}

/** Sums a broadcast gradient back to `shape` (the adjoint of broadcasting). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const off = g.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < off || (shape[i - off] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = g.sum(axes, true);
  if (off === 0) return s;
  const r = s.reshape([...shape]);
  s.dispose();
  return r;
}

/** Scalar constants per backend instance (a device reset starts a fresh cache with its new backend). */
const constants = new WeakMap<object, Map<string, Storage>>();
const MAX_CONSTANTS = 4096;

/** A cached one-element storage holding `value`, for scalar operands. Never disposed by tensors. */
export function constantStorage(value: number, dtype: DType, device: Device): Storage {
  const backend = backendFor(device);
  let cache = constants.get(backend);
  if (!cache) {
    cache = new Map();
    constants.set(backend, cache);
  }
  const key = `${dtype}|${Object.is(value, -0) ? "-0" : value}`;
  let s = cache.get(key);
  if (!s) {
    if (cache.size >= MAX_CONSTANTS) {
      for (const [k, v] of cache) {
        backend.free(v);
        cache.delete(k);
        if (cache.size < MAX_CONSTANTS / 2) break;
      }
    }
    s = backend.fill(dtype, 1, value);
    cache.set(key, s);
  }
  return s;
}

/** Formats a list of tensors' shapes for messages. */
export function shapes(...ts: Tensor[]): string {
  return ts.map((t) => fmtShape(t.shape)).join(" and ");
}
