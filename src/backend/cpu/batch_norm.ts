/**
 * Batch normalisation's two CPU kernels, the reference for `src/shaders/batch_norm_reduce.wgsl` and
 * `src/shaders/channel_affine.wgsl`: the per-channel sums (statistics forward, Σg and Σg·(x − μ) backward)
 * and the per-channel affine map. Sums accumulate in float64.
 * @module
 */
import type { TypedArray } from "../../tensor/dtype.ts";
import { castArray } from "./copy.ts";
import type { HostOperand } from "./strided.ts";

/** Element (n, c, l) of an [N, C, L] operand. */
function at(o: HostOperand, n: number, c: number, l: number): number {
  const [sN, sC, sL] = o.view.strides;
  return o.data[o.view.offset + n * sN + c * sC + l * sL];
}

/**
 * x [N, C, L] → float32 [3, C]: Σ(x − s), Σ(x − s)², s per channel (s = shift[c], or x[0, c, 0] without a
 * shift); with `grad`: Σg, Σg·(x − s), s.
 */
export function batchNormReduce(
  x: HostOperand,
  shift: HostOperand | null,
  grad: HostOperand | null,
): Float32Array {
  const [N, C, L] = x.view.shape;
  const out = new Float32Array(3 * C);
  for (let c = 0; c < C; c++) {
    const s = shift ? shift.data[shift.view.offset + c * shift.view.strides[0]] : at(x, 0, c, 0);
    let a = 0;
    let b = 0;
    for (let n = 0; n < N; n++) {
      for (let l = 0; l < L; l++) {
        const d = at(x, n, c, l) - s;
        if (grad) {
          const g = at(grad, n, c, l);
          a += g;
          b += g * d;
        } else {
          a += d;
          b += d * d;
        }
      }
    }
    out[c] = a;
    out[C + c] = b;
    out[2 * C + c] = s;
  }
  return out;
}

/**
 * out[n, c, l] = coef[0, c]·x[n, c, l] + coef[1, c] (+ coef[2, c]·y[n, c, l]), contiguous, of x's dtype;
 * coef is a contiguous float32 [2 or 3, C].
 */
export function channelAffine(x: HostOperand, coef: HostOperand, y: HostOperand | null): TypedArray {
  const [N, C, L] = x.view.shape;
  const k = coef.data;
  const o = coef.view.offset;
  const out = new Float64Array(N * C * L);
  let i = 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const a = k[o + c];
      const b = k[o + C + c];
      const ys = y ? k[o + 2 * C + c] : 0;
      for (let l = 0; l < L; l++, i++) {
        out[i] = a * at(x, n, c, l) + b + (y ? ys * at(y, n, c, l) : 0);
      }
    }
  }
  return castArray(out, x.dtype);
}
