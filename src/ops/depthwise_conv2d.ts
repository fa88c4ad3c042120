/**
 * Depthwise 2-D convolution, the fast path of `conv2d` when `groups` equals the input's channels: output
 * channel o of [N, C·M, OH, OW] filters input channel ⌊o/M⌋ alone (M, the channel multiplier, is usually
 * 1). One kernel per direction instead of im2col plus a grouped matrix product whose groups are one row
 * tall:
 *
 * - forward: {@linkcode depthwiseConv2d} (`Backend.depthwiseConv2d`);
 * - the input's gradient: {@linkcode depthwiseConv2dBackwardInput}, each pixel summing w·grad over the
 *   windows that read it;
 * - the weight's gradient: {@linkcode depthwiseConv2dBackwardWeight}, a reduction over N·OH·OW per tap;
 * - the bias's gradient: grad summed over [N, OH, OW].
 *
 * The three are each other's adjoints, so each is recorded with a gradient made of the others and
 * gradients of gradients work. The geometry ({@linkcode Window2d}) is validated by the caller
 * (`src/nn/functional/conv.ts`). Kernels: `src/backend/cpu/depthwise_conv2d.ts`,
 * `src/shaders/depthwise_conv2d*.wgsl`.
 * @module
 */
import type { Window2d } from "../backend/backend.ts";
import { backendFor } from "../backend/registry.ts";
import { numel } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { operand, record, sameDevice, wrap } from "./util.ts";

/**
 * Internal switch and counter of the depthwise fast path (not exported from `mod.ts`): `conv2d` routes
 * depthwise convolutions here while `enabled` (set it to false to time or test the generic im2col path), and
 * `calls` counts the forward kernels run.
 */
export const depthwiseFastPath: { enabled: boolean; calls: number } = { enabled: true, calls: 0 };

/**
 * Depthwise convolution of x [N, C, H, W] by weight [C·M, 1, KH, KW] plus bias [C·M] (or null): a
 * [N, C·M, OH, OW] tensor recorded as `ConvolutionBackward0` (PyTorch's name for every convolution).
 */
export function depthwiseConv2d(x: Tensor, weight: Tensor, bias: Tensor | null, win: Window2d): Tensor {
  const device = sameDevice("depthwiseConv2d", x, weight, ...(bias ? [bias] : []));
  const shape = [x.shape[0], weight.shape[0], win.out[0], win.out[1]];
  const backend = backendFor(device);
  depthwiseFastPath.calls++;
  const storage = numel(shape) === 0
    ? backend.alloc(x.dtype, 0)
    : backend.depthwiseConv2d(operand(x), operand(weight), bias ? operand(bias) : null, win);
  const out = wrap(storage, shape, device);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record("ConvolutionBackward0", out, inputs, (node) => {
    const sx = weight.requiresGrad ? node.save(x) : null;
    const sw = x.requiresGrad ? node.save(weight) : null;
    const wantBias = bias?.requiresGrad ?? false;
    return (g) => {
      const gx = sw ? depthwiseConv2dBackwardInput(g, sw, x.shape, win) : null;
      const gw = sx ? depthwiseConv2dBackwardWeight(g, sx, win) : null;
      const gb = wantBias ? g.sum([0, 2, 3]) : null;
      return bias ? [gx, gw, gb] : [gx, gw];
    };
  });
}

/**
 * The input's gradient of {@linkcode depthwiseConv2d}: grad [N, C·M, OH, OW] and weight [C·M, 1, KH, KW]
 * → `inShape` [N, C, H, W]. Linear in each argument; recorded so that a second backward works.
 */
export function depthwiseConv2dBackwardInput(
  grad: Tensor,
  weight: Tensor,
  inShape: readonly number[],
  win: Window2d,
): Tensor {
  const device = sameDevice("depthwiseConv2dBackwardInput", grad, weight);
  const backend = backendFor(device);
  const storage = numel(grad.shape) === 0 || numel(inShape) === 0
    ? backend.alloc(grad.dtype, numel(inShape))
    : backend.depthwiseConv2dBackwardInput(operand(grad), operand(weight), inShape, win);
  const out = wrap(storage, inShape, device);
  return record("ConvolutionBackwardBackward0", out, [grad, weight], (node) => {
    const sg = weight.requiresGrad ? node.save(grad) : null;
    const sw = grad.requiresGrad ? node.save(weight) : null;
    return (gg) => [
      sw ? depthwiseConv2d(gg, sw, null, win) : null,
      sg ? depthwiseConv2dBackwardWeight(sg, gg, win) : null,
    ];
  });
}

/**
 * The weight's gradient of {@linkcode depthwiseConv2d}: grad [N, C·M, OH, OW] and x [N, C, H, W] →
 * [C·M, 1, KH, KW]. Linear in each argument; recorded so that a second backward works.
 */
export function depthwiseConv2dBackwardWeight(grad: Tensor, x: Tensor, win: Window2d): Tensor {
  const device = sameDevice("depthwiseConv2dBackwardWeight", grad, x);
  const shape = [grad.shape[1], 1, win.kernel[0], win.kernel[1]];
  const backend = backendFor(device);
  const storage = numel(grad.shape) === 0 || numel(shape) === 0
    ? backend.alloc(x.dtype, numel(shape))
    : backend.depthwiseConv2dBackwardWeight(operand(grad), operand(x), win);
  const out = wrap(storage, shape, device);
  return record("ConvolutionBackwardBackward0", out, [grad, x], (node) => {
    const sx = grad.requiresGrad ? node.save(x) : null;
    const sg = x.requiresGrad ? node.save(grad) : null;
    return (gg) => [
      sx ? depthwiseConv2d(sx, gg, null, win) : null,
      sg ? depthwiseConv2dBackwardInput(sg, gg, x.shape, win) : null,
    ];
  });
}
