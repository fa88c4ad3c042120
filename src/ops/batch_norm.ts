/**
 * Batch normalisation's two fused kernels as tensor functions, without autograd (`F.batchNorm` in
 * `src/nn/functional/normalization.ts` builds its autograd node from them): the per-channel sums
 * ({@linkcode batchNormSums}) and the per-channel affine map ({@linkcode channelAffine}). Each reads every
 * element once, where the same computation from primitives reads and writes full-size tensors a dozen times.
 * Kernels: `src/shaders/batch_norm_reduce.wgsl`, `src/shaders/channel_affine.wgsl`,
 * `src/backend/cpu/batch_norm.ts`.
 * @module
 */
import { backendFor } from "../backend/registry.ts";
import { fmtShape, numel } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { operand, sameDevice, wrap } from "./util.ts";

function check3(op: string, t: Tensor): void {
  if (t.ndim !== 3) throw new RangeError(`${op}: expected an [N, C, L] tensor, got ${fmtShape(t.shape)}`);
}

function checkCoef(op: string, t: Tensor, rows: number[], c: number): void {
  if (t.dtype !== "float32" || t.ndim !== 2 || !rows.includes(t.shape[0]) || t.shape[1] !== c) {
    throw new RangeError(
      `${op}: expected float32 coefficients [${rows.join(" or ")}, ${c}], got ${t.dtype} ${
        fmtShape(t.shape)
      }`,
    );
  }
}

/**
 * Per-channel sums of x [N, C, L] (N·L > 0) as a float32 [3, C]: without `grad`, Σ(x − s), Σ(x − s)² and s
 * (s = `shift`, or each channel's first value when null, so that the squares do not cancel); with `grad`
 * (x's shape; `shift`, float32 [C], required), Σg, Σg·(x − s) and s. No autograd.
 */
export function batchNormSums(x: Tensor, shift: Tensor | null, grad: Tensor | null): Tensor {
  check3("batchNormSums", x);
  sameDevice("batchNormSums", x, ...(shift ? [shift] : []), ...(grad ? [grad] : []));
  const [N, C, L] = x.shape;
  if (N * L === 0) throw new RangeError(`batchNormSums: no values per channel in ${fmtShape(x.shape)}`);
  if (shift && (shift.dtype !== "float32" || numel(shift.shape) !== C)) {
    throw new RangeError(
      `batchNormSums: expected a float32 shift of ${C} values, got ${fmtShape(shift.shape)}`,
    );
  }
  if (grad) {
    if (!shift) throw new Error("batchNormSums: the backward sums need the batch mean as shift");
    if (grad.shape.join() !== x.shape.join()) {
      throw new RangeError(
        `batchNormSums: grad ${fmtShape(grad.shape)} does not match x ${fmtShape(x.shape)}`,
      );
    }
  }
  const backend = backendFor(x.device);
  const s = shift ? shift.reshape([C]) : null;
  const storage = backend.batchNormReduce(operand(x), s ? operand(s) : null, grad ? operand(grad) : null);
  s?.dispose();
  return wrap(storage, [3, C], x.device);
}

/**
 * coef[0, c]·x[n, c, l] + coef[1, c] (+ coef[2, c]·y[n, c, l] when `y` is given), for x and y [N, C, L] and
 * float32 coef [2, C] (or [3, C] with y): a new contiguous tensor of x's dtype. No autograd.
 */
export function channelAffine(x: Tensor, coef: Tensor, y: Tensor | null = null): Tensor {
  check3("channelAffine", x);
  sameDevice("channelAffine", x, coef, ...(y ? [y] : []));
  checkCoef("channelAffine", coef, y ? [3] : [2], x.shape[1]);
  if (y && (y.shape.join() !== x.shape.join() || y.dtype !== x.dtype)) {
    throw new RangeError(
      `channelAffine: y ${y.dtype} ${fmtShape(y.shape)} does not match x ${x.dtype} ${fmtShape(x.shape)}`,
    );
  }
  const backend = backendFor(x.device);
  const c = coef.contiguous();
  const storage = backend.channelAffine(operand(x), operand(c), y ? operand(y) : null);
  if (c !== coef) c.dispose();
  return wrap(storage, x.shape, x.device);
}
