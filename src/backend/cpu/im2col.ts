/**
 * im2col and its adjoint col2im on the CPU: the sliding-window gathers behind convolution. Plain loops over
 * the window geometry; values pass through float64 and round once into the output dtype.
 * @module
 */
import type { Im2colLayout, Window2d } from "../backend.ts";
import { allocHost, type TypedArray } from "../../tensor/dtype.ts";
import type { HostOperand } from "./strided.ts";

/**
 * x [N, C, H, W] (any strides) → contiguous [N, C·KH·KW, OH·OW]: row (c·KH + kh)·KW + kw, column
 * oh·OW + ow holds x[n, c, oh·SH - PH + kh·DH, ow·SW - PW + kw·DW], or 0 in the padding. A `layout`
 * splits the rows into `groups` blocks of `rows` rows (taps, then a row of ones when `ones`, then zeros), each
 * `columns` long (zeros past OH·OW).
 */
export function im2col(x: HostOperand, win: Window2d, layout?: Im2colLayout): TypedArray {
  const [N, C, H, W] = x.view.shape;
  const [sN, sC, sH, sW] = x.view.strides;
  const [KH, KW] = win.kernel;
  const [SH, SW] = win.stride;
  const [PH, PW] = win.padding;
  const [DH, DW] = win.dilation;
  const [OH, OW] = win.out;
  const L = layout?.columns ?? OH * OW;
  const G = layout?.groups ?? 1;
  const Cg = C / G;
  const K = Cg * KH * KW;
  const rows = layout?.rows ?? K;
  const out = allocHost(x.dtype, N * G * rows * L);
  const src = x.data;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      let o = (n * G + g) * rows * L;
      if (layout?.ones) out.fill(1, o + K * L, o + K * L + OH * OW);
      for (let c = g * Cg; c < (g + 1) * Cg; c++) {
        const base = x.view.offset + n * sN + c * sC;
        for (let kh = 0; kh < KH; kh++) {
          for (let kw = 0; kw < KW; kw++) {
            for (let oh = 0; oh < OH; oh++) {
              const ih = oh * SH - PH + kh * DH;
              if (ih < 0 || ih >= H) {
                o += OW; // a padding row: zeros
                continue;
              }
              const row = base + ih * sH;
              for (let ow = 0; ow < OW; ow++, o++) {
                const iw = ow * SW - PW + kw * DW;
                if (iw >= 0 && iw < W) out[o] = src[row + iw * sW];
              }
            }
            o += L - OH * OW;
          }
        }
      }
    }
  }
  return out;
}

/**
 * The adjoint of {@linkcode im2col}: cols [N, C·KH·KW, OH·OW] (any strides) → contiguous `inShape`
 * [N, C, H, W], each pixel the float64 sum of the columns of the windows covering it (kh, then kw order).
 */
export function col2im(cols: HostOperand, inShape: readonly number[], win: Window2d): TypedArray {
  const [N, C, H, W] = inShape;
  const [sN, sR, sL] = cols.view.strides;
  const [KH, KW] = win.kernel;
  const [SH, SW] = win.stride;
  const [PH, PW] = win.padding;
  const [DH, DW] = win.dilation;
  const [OH, OW] = win.out;
  const acc = new Float64Array(N * C * H * W);
  const src = cols.data;
  // scatter every column value into its pixel; for one pixel the additions come in (kh, kw) order
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const plane = (n * C + c) * H * W;
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++) {
          const rowBase = cols.view.offset + n * sN + ((c * KH + kh) * KW + kw) * sR;
          for (let oh = 0; oh < OH; oh++) {
            const ih = oh * SH - PH + kh * DH;
            if (ih < 0 || ih >= H) continue;
            for (let ow = 0; ow < OW; ow++) {
              const iw = ow * SW - PW + kw * DW;
              if (iw >= 0 && iw < W) acc[plane + ih * W + iw] += src[rowBase + (oh * OW + ow) * sL];
            }
          }
        }
      }
    }
  }
  const out = allocHost(cols.dtype, acc.length);
  (out as Float32Array).set(acc);
  return out;
}
