/**
 * 2-D pooling over the last two dims of [N, C, H, W]: max (gradient to the first maximum of each window),
 * average and adaptive average, with gradients. The backward is itself a recorded op (its adjoint is the
 * forward's linear part), so gradients of gradients work. The geometry ({@linkcode Pool2d}) is validated by
 * the callers (`src/nn/functional/pooling.ts`). Kernels: `src/shaders/pool2d.wgsl`,
 * `src/shaders/pool2d_backward.wgsl`, `src/backend/cpu/pool2d.ts`.
 * @module
 */
import type { Pool2d } from "../backend/backend.ts";
import { backendFor } from "../backend/registry.ts";
import { isFloating } from "../tensor/dtype.ts";
import { fmtShape, numel } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { operand, record, sameDevice, wrap } from "./util.ts";

const NAMES: Record<Pool2d["op"], string> = {
  max: "MaxPool2DWithIndicesBackward0",
  avg: "AvgPool2DBackward0",
  adaptiveAvg: "AdaptiveAvgPool2DBackward0",
};

/** The pooled values and, for max pooling, the int32 argmaxes (h·W + w, PyTorch's `return_indices`). */
export interface Pooled {
  /** [N, C, OH, OW], recorded for autograd. */
  out: Tensor;
  /** [N, C, OH, OW] int32 positions of each window's maximum within its plane, or null. */
  indices: Tensor | null;
}

/** Pools x [N, C, H, W] (floating point) by `pool` into [N, C, OH, OW]. */
export function pool2d(x: Tensor, pool: Pool2d): Pooled {
  sameDevice(pool.op + "Pool2d", x);
  if (!isFloating(x.dtype)) {
    throw new TypeError(`${pool.op}Pool2d: expected a floating point tensor, but got ${x.dtype}`);
  }
  if (x.ndim !== 4) {
    throw new RangeError(`${pool.op}Pool2d: expected a 4-D [N, C, H, W] tensor, got ${fmtShape(x.shape)}`);
  }
  const [N, C] = x.shape;
  const shape = [N, C, pool.out[0], pool.out[1]];
  const backend = backendFor(x.device);
  let r: { out: Tensor; indices: Tensor | null };
  if (numel(shape) === 0) {
    r = {
      out: wrap(backend.alloc(x.dtype, 0), shape, x.device),
      indices: pool.op === "max" ? wrap(backend.alloc("int32", 0), shape, x.device) : null,
    };
  } else {
    const s = backend.pool2d(operand(x), pool);
    r = {
      out: wrap(s.out, shape, x.device),
      indices: s.indices ? wrap(s.indices, shape, x.device) : null,
    };
  }
  record(NAMES[pool.op], r.out, [x], (node) => {
    const idx = r.indices ? node.save(r.indices) : null;
    return (g) => [pool2dBackward(g, idx, x.shape, pool)];
  });
  return r;
}

/**
 * The gradient of {@linkcode pool2d} with respect to its input: g [N, C, OH, OW] → `inShape`. Linear in g;
 * recorded so that a second backward works (max: a gather of the argmaxes; average: the pooling itself).
 */
export function pool2dBackward(
  g: Tensor,
  indices: Tensor | null,
  inShape: readonly number[],
  pool: Pool2d,
): Tensor {
  const backend = backendFor(g.device);
  const storage = numel(g.shape) === 0
    ? backend.alloc(g.dtype, numel(inShape))
    : backend.pool2dBackward(operand(g), indices ? operand(indices) : null, inShape, pool);
  const out = wrap(storage, inShape, g.device);
  return record(NAMES[pool.op].replace("Backward0", "BackwardBackward0"), out, [g], (node) => {
    const idx = indices ? node.save(indices) : null;
    return (gg) => {
      if (!idx) return [pool2d(gg, pool).out];
      // each output took the gradient of its argmax: gather gg there
      const [N, C, H, W] = inShape;
      const flat = gg.reshape([N, C, H * W]);
      const at = idx.reshape([N, C, pool.out[0] * pool.out[1]]);
      const picked = flat.gather(2, at);
      const r = picked.reshape(g.shape);
      for (const t of [flat, at, picked]) if (t !== r) t.dispose();
      return [r];
    };
  });
}
