/**
 * 2-D pooling (max, average, adaptive average) and its adjoint on the CPU, following PyTorch's CPU kernels:
 * the same window bounds, divisors, first-maximum indices and NaN propagation.
 * @module
 */
import type { Pool2d } from "../backend.ts";
import { allocHost, type TypedArray } from "../../tensor/dtype.ts";
import type { HostOperand } from "./strided.ts";

/** The input rows (or columns) one output position pools: `start ≤ i < end` by `step`, and avg's size. */
interface Span {
  start: number;
  end: number;
  step: number;
  /** "avg": the window's extent including padding (the divisor when padding counts). */
  padded: number;
}

/** The span of output position `o` along one axis (0: height, 1: width) of an input of size `size`. */
export function poolSpan(pool: Pool2d, axis: 0 | 1, o: number, size: number): Span {
  const outSize = pool.out[axis];
  if (pool.op === "adaptiveAvg") {
    const start = Math.floor((o * size) / outSize);
    const end = Math.ceil(((o + 1) * size) / outSize);
    return { start, end, step: 1, padded: end - start };
  }
  const k = pool.kernel[axis];
  const s = pool.stride[axis];
  const p = pool.padding[axis];
  if (pool.op === "avg") {
    const start = o * s - p;
    const end = Math.min(start + k, size + p);
    return { start: Math.max(start, 0), end: Math.min(end, size), step: 1, padded: end - start };
  }
  const d = pool.dilation[axis];
  let start = o * s - p;
  const end = Math.min(start + (k - 1) * d + 1, size);
  while (start < 0) start += d;
  return { start, end, step: d, padded: 0 };
}

/** The divisor of an average window. */
function divisorOf(pool: Pool2d, sh: Span, sw: Span): number {
  if (pool.divisor) return pool.divisor;
  if (pool.op === "avg" && pool.countIncludePad) return sh.padded * sw.padded;
  return (sh.end - sh.start) * (sw.end - sw.start);
}

/** Pools x [N, C, H, W] (any strides) into a contiguous [N, C, OH, OW]; "max" also gives int32 argmaxes. */
export function pool2d(x: HostOperand, pool: Pool2d): { out: TypedArray; indices: Int32Array | null } {
  const [N, C, H, W] = x.view.shape;
  const [sN, sC, sH, sW] = x.view.strides;
  const [OH, OW] = pool.out;
  const isMax = pool.op === "max";
  const out = allocHost(x.dtype, N * C * OH * OW);
  const indices = isMax ? new Int32Array(out.length) : null;
  const src = x.data;
  const spansH = Array.from({ length: OH }, (_, o) => poolSpan(pool, 0, o, H));
  const spansW = Array.from({ length: OW }, (_, o) => poolSpan(pool, 1, o, W));
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const base = x.view.offset + n * sN + c * sC;
      for (const sh of spansH) {
        for (const sw of spansW) {
          if (isMax) {
            let best = -Infinity;
            let arg = sh.start * W + sw.start;
            for (let h = sh.start; h < sh.end; h += sh.step) {
              for (let w = sw.start; w < sw.end; w += sw.step) {
                const v = src[base + h * sH + w * sW];
                if (v > best || Number.isNaN(v)) {
                  best = v;
                  arg = h * W + w;
                }
              }
            }
            out[o] = best;
            indices![o++] = arg;
          } else {
            let sum = 0;
            for (let h = sh.start; h < sh.end; h++) {
              for (let w = sw.start; w < sw.end; w++) sum += src[base + h * sH + w * sW];
            }
            out[o++] = sum / divisorOf(pool, sh, sw);
          }
        }
      }
    }
  }
  return { out, indices };
}

/**
 * The adjoint of {@linkcode pool2d}: grad (and "max"'s indices) [N, C, OH, OW], any strides → contiguous
 * `inShape`. Each output's gradient goes to its argmax ("max") or is spread over its window divided by the
 * divisor ("avg", "adaptiveAvg"), accumulated in float64 in row-major output order.
 */
export function pool2dBackward(
  grad: HostOperand,
  indices: HostOperand | null,
  inShape: readonly number[],
  pool: Pool2d,
): TypedArray {
  const [N, C, H, W] = inShape;
  const [OH, OW] = pool.out;
  const [gN, gC, gH, gW] = grad.view.strides;
  const acc = new Float64Array(N * C * H * W);
  const g = grad.data;
  if (pool.op === "max") {
    const [iN, iC, iH, iW] = indices!.view.strides;
    const idx = indices!.data;
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const plane = (n * C + c) * H * W;
        for (let oh = 0; oh < OH; oh++) {
          for (let ow = 0; ow < OW; ow++) {
            const at = indices!.view.offset + n * iN + c * iC + oh * iH + ow * iW;
            acc[plane + idx[at]] += g[grad.view.offset + n * gN + c * gC + oh * gH + ow * gW];
          }
        }
      }
    }
  } else {
    const spansH = Array.from({ length: OH }, (_, o) => poolSpan(pool, 0, o, H));
    const spansW = Array.from({ length: OW }, (_, o) => poolSpan(pool, 1, o, W));
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const plane = (n * C + c) * H * W;
        for (let oh = 0; oh < OH; oh++) {
          const sh = spansH[oh];
          for (let ow = 0; ow < OW; ow++) {
            const sw = spansW[ow];
            const v = g[grad.view.offset + n * gN + c * gC + oh * gH + ow * gW] / divisorOf(pool, sh, sw);
            for (let h = sh.start; h < sh.end; h++) {
              for (let w = sw.start; w < sw.end; w++) acc[plane + h * W + w] += v;
            }
          }
        }
      }
    }
  }
  const out = allocHost(grad.dtype, acc.length);
  (out as Float32Array).set(acc);
  return out;
}
