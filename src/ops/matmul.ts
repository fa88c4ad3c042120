/**
 * Matrix products with NumPy semantics: 1-D·1-D, matrix·vector, batched and broadcasting batch dims.
 * Kernels: `src/backend/webgpu/matmul_kernel.ts` (`src/shaders/matmul_*.wgsl`) and `src/backend/cpu/matmul.ts`.
 * @module
 */
import type { Operand } from "../backend/backend.ts";
import { backendFor } from "../backend/registry.ts";
import { isFloating } from "../tensor/dtype.ts";
import { broadcastShapes, fmtShape, numel } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { broadcastOperand, record, sameDevice, sameDType, sumToShape, wrap } from "./util.ts";
import { autocastLowerPrecision } from "../autograd/autocast_mode.ts";

/** A [B, R, C] operand of `t` broadcast to `batch`, or null when its batch dims do not fold into one stride. */
function batched(t: Tensor, batch: readonly number[]): Operand | null {
  const r = t.shape[t.ndim - 2];
  const c = t.shape[t.ndim - 1];
  const o = broadcastOperand(t, [...batch, r, c]);
  const nb = batch.length;
  const s = o.view.strides;
  let stride = 0;
  let inner = -1;
  for (let i = nb - 1; i >= 0; i--) {
    if (batch[i] === 1) continue;
    if (inner === -1) {
      stride = s[i];
      inner = stride * batch[i];
    } else if (s[i] === inner) inner *= batch[i];
    else return null;
  }
  return {
    storage: o.storage,
    view: { shape: [numel(batch), r, c], strides: [stride, s[nb], s[nb + 1]], offset: o.view.offset },
  };
}

/** The batched product of two tensors of rank ≥ 2, recorded as one node. */
function bmm(a: Tensor, b: Tensor): Tensor {
  const [M, K] = a.shape.slice(-2);
  const [K2, N] = b.shape.slice(-2);
  if (K !== K2) {
    throw new RangeError(
      `matmul: shapes ${fmtShape(a.shape)} and ${
        fmtShape(b.shape)
      } cannot be multiplied (${M}x${K} and ${K2}x${N})`,
    );
  }
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), "matmul");
  const owned: Tensor[] = [];
  const op = (t: Tensor) => {
    const o = batched(t, batch);
    if (o) return o;
    const c = t.expand([...batch, ...t.shape.slice(-2)]).contiguous();
    owned.push(c);
    return batched(c, batch)!;
  };
  const storage = backendFor(a.device).matmul(op(a), op(b), a.dtype);
  for (const t of owned) t.dispose();
  const out = wrap(storage, [...batch, M, N], a.device);
  return record(a.ndim === 2 && b.ndim === 2 ? "MmBackward0" : "BmmBackward0", out, [a, b], (node) => {
    const sa = b.requiresGrad ? node.save(a) : null;
    const sb = a.requiresGrad ? node.save(b) : null;
    return (g) => {
      let ga: Tensor | null = null;
      let gb: Tensor | null = null;
      if (sb) {
        const bt = sb.transpose(-1, -2);
        const p = bmm(g, bt);
        bt.dispose();
        ga = sumToShape(p, a.shape);
        if (ga !== p) p.dispose();
      }
      if (sa) {
        const at = sa.transpose(-1, -2);
        const p = bmm(at, g);
        at.dispose();
        gb = sumToShape(p, b.shape);
        if (gb !== p) p.dispose();
      }
      return [ga, gb];
    };
  });
}

/**
 * Matrix product with NumPy/PyTorch semantics: a 1-D first operand is a row vector, a 1-D second operand a
 * column vector (both removed from the result), and batch dims broadcast. Under `amp.autocast` it runs in
 * float16 (a "lower_precision_fp" op: f16 loads, f32 accumulation).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  sameDevice("matmul", a, b);
  const autocast = autocastLowerPrecision("matmul", [a, b] as const, (x, y) => matmul(x, y));
  if (autocast) return autocast;
  sameDType("matmul", a, b);
  if (!isFloating(a.dtype)) {
    throw new TypeError(`matmul: expected floating point tensors, but got ${a.dtype}; convert with .float()`);
  }
  if (a.ndim === 0 || b.ndim === 0) {
    throw new RangeError(
      `matmul: both arguments need at least 1 dimension, but got ${fmtShape(a.shape)} and ${
        fmtShape(b.shape)
      }`,
    );
  }
  const a2 = a.ndim === 1 ? a.unsqueeze(0) : a;
  const b2 = b.ndim === 1 ? b.unsqueeze(-1) : b;
  let out = bmm(a2, b2);
  if (a.ndim === 1) {
    const s = out.squeeze(-2);
    out.dispose();
    out = s;
  }
  if (b.ndim === 1) {
    const s = out.squeeze(-1);
    out.dispose();
    out = s;
  }
  if (a2 !== a) a2.dispose();
  if (b2 !== b) b2.dispose();
  return out;
}
