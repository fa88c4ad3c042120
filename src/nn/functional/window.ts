/**
 * Arguments of the sliding-window functions (convolution, unfold/fold, pooling): `[height, width]` pairs
 * given as one int or two, and the output sizes PyTorch computes from them.
 * @module
 */
import { fmtShape } from "../../tensor/shape.ts";
import type { Tensor } from "../../tensor/tensor.ts";

/** An int for both spatial dims, or `[height, width]`. */
export type IntPair = number | readonly [number, number] | readonly number[];

/** `v` as `[height, width]`; throws naming `op` and the argument unless it is one or two integers. */
export function pair(op: string, name: string, v: IntPair): [number, number] {
  const p = typeof v === "number" ? [v, v] : v.length === 1 ? [v[0], v[0]] : [...v];
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x))) {
    throw new TypeError(
      `${op}: expected ${name} to be a single integer or a list of 2 integers, but got ${name}=${
        JSON.stringify(v)
      }`,
    );
  }
  return p as [number, number];
}

/** Outputs of a convolution (or unfold) along one dim: ⌊(size + 2·pad - dil·(k-1) - 1) / stride⌋ + 1. */
export function convOutputSize(size: number, k: number, stride: number, pad: number, dil: number): number {
  return Math.floor((size + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
}

/**
 * Outputs of a pooling along one dim, PyTorch's `pooling_output_shape`: as a convolution, rounding up when
 * `ceilMode`, except that the last window must start inside the input or its left padding.
 */
export function poolOutputSize(
  size: number,
  k: number,
  stride: number,
  pad: number,
  dil: number,
  ceilMode: boolean,
): number {
  let out = Math.floor((size + 2 * pad - dil * (k - 1) - 1 + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  if (ceilMode && (out - 1) * stride >= size + pad) out--;
  return out;
}

/** Checks that x is 3-D [C, H, W] or 4-D [N, C, H, W] and returns the 4-D view (x itself when 4-D). */
export function batched4d(op: string, x: Tensor): Tensor {
  x.checkLive(op);
  if (x.ndim !== 3 && x.ndim !== 4) {
    throw new RangeError(
      `${op}: expected a 3-D [C, H, W] (unbatched) or 4-D [N, C, H, W] (batched) input, but got input of ` +
        `size ${fmtShape(x.shape)}`,
    );
  }
  return x.ndim === 4 ? x : x.unsqueeze(0);
}

/** Drops the batch dim added by {@linkcode batched4d} (disposing the 4-D intermediates) when x was 3-D. */
export function unbatched(x: Tensor, x4: Tensor, out4: Tensor): Tensor {
  if (x4 === x) return out4;
  x4.dispose();
  const out = out4.squeeze(0);
  out4.dispose();
  return out;
}
