/**
 * Depthwise 2-D convolution on the CPU (the reference for `src/shaders/depthwise_conv2d*.wgsl`): output
 * channel o of [N, C·M, OH, OW] filters input channel ⌊o/M⌋ alone with its own KH×KW taps (M, the channel
 * multiplier, is 1 for MobileNet's blocks). Its two adjoints give the input's and the weight's gradients.
 * Sums are accumulated in float64 in a fixed order.
 * @module
 */
import type { Window2d } from "../backend.ts";
import { allocHost, type TypedArray } from "../../tensor/dtype.ts";
import type { HostOperand } from "./strided.ts";

/** The input rows (or columns) `oh·s - p + k·d` of output position `o`, tap `k`, or -1 in the padding. */
function taps(win: Window2d, axis: 0 | 1, size: number): Int32Array {
  const out = win.out[axis];
  const K = win.kernel[axis];
  const t = new Int32Array(out * K);
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < K; k++) {
      const i = o * win.stride[axis] - win.padding[axis] + k * win.dilation[axis];
      t[o * K + k] = i >= 0 && i < size ? i : -1;
    }
  }
  return t;
}

function narrowed(dtype: HostOperand["dtype"], acc: Float64Array): TypedArray {
  const out = allocHost(dtype, acc.length);
  (out as Float32Array).set(acc);
  return out;
}

/**
 * x [N, C, H, W] and weight [C·M, 1, KH, KW] (any strides), bias [C·M] or null → contiguous
 * [N, C·M, OH, OW]: out[n, o, oh, ow] = bias[o] + Σ_{kh,kw} w[o, 0, kh, kw]·x[n, ⌊o/M⌋, ih, iw].
 */
export function depthwiseConv2d(
  x: HostOperand,
  weight: HostOperand,
  bias: HostOperand | null,
  win: Window2d,
): TypedArray {
  const [N, C, H, W] = x.view.shape;
  const OC = weight.view.shape[0];
  const M = OC / C;
  const [KH, KW] = win.kernel;
  const [OH, OW] = win.out;
  const [xN, xC, xH, xW] = x.view.strides;
  const [wO, , wH, wW] = weight.view.strides;
  const th = taps(win, 0, H);
  const tw = taps(win, 1, W);
  const acc = new Float64Array(N * OC * OH * OW);
  const xs = x.data;
  const ws = weight.data;
  let at = 0;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      const xb = x.view.offset + n * xN + Math.floor(o / M) * xC;
      const wb = weight.view.offset + o * wO;
      const b = bias ? bias.data[bias.view.offset + o * bias.view.strides[0]] : 0;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let s = b;
          for (let kh = 0; kh < KH; kh++) {
            const ih = th[oh * KH + kh];
            if (ih < 0) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = tw[ow * KW + kw];
              if (iw < 0) continue;
              s += ws[wb + kh * wH + kw * wW] * xs[xb + ih * xH + iw * xW];
            }
          }
          acc[at++] = s;
        }
      }
    }
  }
  return narrowed(x.dtype, acc);
}

/**
 * The input's gradient: grad [N, C·M, OH, OW] and weight [C·M, 1, KH, KW] (any strides) → contiguous
 * `inShape` [N, C, H, W], each pixel summing w·grad over the taps and multiplier channels that read it.
 */
export function depthwiseConv2dBackwardInput(
  grad: HostOperand,
  weight: HostOperand,
  inShape: readonly number[],
  win: Window2d,
): TypedArray {
  const [N, C, H, W] = inShape;
  const OC = weight.view.shape[0];
  const M = OC / C;
  const [KH, KW] = win.kernel;
  const [OH, OW] = win.out;
  const [gN, gO, gH, gW] = grad.view.strides;
  const [wO, , wH, wW] = weight.view.strides;
  const th = taps(win, 0, H);
  const tw = taps(win, 1, W);
  const acc = new Float64Array(N * C * H * W);
  const gs = grad.data;
  const ws = weight.data;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      const plane = (n * C + Math.floor(o / M)) * H * W;
      const gb = grad.view.offset + n * gN + o * gO;
      const wb = weight.view.offset + o * wO;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const g = gs[gb + oh * gH + ow * gW];
          for (let kh = 0; kh < KH; kh++) {
            const ih = th[oh * KH + kh];
            if (ih < 0) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = tw[ow * KW + kw];
              if (iw < 0) continue;
              acc[plane + ih * W + iw] += ws[wb + kh * wH + kw * wW] * g;
            }
          }
        }
      }
    }
  }
  return narrowed(grad.dtype, acc);
}

/**
 * The weight's gradient: grad [N, C·M, OH, OW] and x [N, C, H, W] (any strides) → contiguous
 * [C·M, 1, KH, KW], each tap summing grad·x over the batch and the output positions.
 */
export function depthwiseConv2dBackwardWeight(
  grad: HostOperand,
  x: HostOperand,
  win: Window2d,
): TypedArray {
  const [N, C, H, W] = x.view.shape;
  const OC = grad.view.shape[1];
  const M = OC / C;
  const [KH, KW] = win.kernel;
  const [OH, OW] = win.out;
  const [gN, gO, gH, gW] = grad.view.strides;
  const [xN, xC, xH, xW] = x.view.strides;
  const th = taps(win, 0, H);
  const tw = taps(win, 1, W);
  const acc = new Float64Array(OC * KH * KW);
  const gs = grad.data;
  const xs = x.data;
  for (let o = 0; o < OC; o++) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        let s = 0;
        for (let n = 0; n < N; n++) {
          const gb = grad.view.offset + n * gN + o * gO;
          const xb = x.view.offset + n * xN + Math.floor(o / M) * xC;
          for (let oh = 0; oh < OH; oh++) {
            const ih = th[oh * KH + kh];
            if (ih < 0) continue;
            for (let ow = 0; ow < OW; ow++) {
              const iw = tw[ow * KW + kw];
              if (iw < 0) continue;
              s += gs[gb + oh * gH + ow * gW] * xs[xb + ih * xH + iw * xW];
            }
          }
        }
        acc[(o * KH + kh) * KW + kw] = s;
      }
    }
  }
  return narrowed(x.dtype, acc);
}
