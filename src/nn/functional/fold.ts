/**
 * `unfold` (im2col) and `fold` (col2im): sliding windows of images as columns of a matrix and back, as
 * `torch.nn.functional.unfold` and `fold`. They are the building blocks of {@linkcode conv2d}.
 * @module
 */
import type { Window2d } from "../../backend/backend.ts";
import { fmtShape } from "../../tensor/shape.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { fold as foldOp, unfold as unfoldOp } from "../../ops/unfold.ts";
import { batched4d, convOutputSize, type IntPair, pair, unbatched } from "./window.ts";

/** Options of {@linkcode unfold} and {@linkcode fold}; every size is one int or `[height, width]`. */
export interface FoldOptions {
  /** Spacing between kernel taps (default 1). */
  dilation?: IntPair;
  /** Zero padding on each side (default 0). */
  padding?: IntPair;
  /** Step between windows (default 1). */
  stride?: IntPair;
}

function window(op: string, size: readonly number[], kernelSize: IntPair, opts: FoldOptions): Window2d {
  const kernel = pair(op, "kernelSize", kernelSize);
  const stride = pair(op, "stride", opts.stride ?? 1);
  const padding = pair(op, "padding", opts.padding ?? 0);
  const dilation = pair(op, "dilation", opts.dilation ?? 1);
  if (kernel.some((k) => k <= 0)) throw new RangeError(`${op}: kernel size should be greater than zero`);
  if (stride.some((s) => s <= 0)) throw new RangeError(`${op}: stride should be greater than zero`);
  if (dilation.some((d) => d <= 0)) throw new RangeError(`${op}: dilation should be greater than zero`);
  if (padding.some((p) => p < 0)) throw new RangeError(`${op}: padding should be non-negative`);
  const out = [0, 1].map((i) => convOutputSize(size[i], kernel[i], stride[i], padding[i], dilation[i]));
  if (out.some((o) => o < 1)) {
    throw new RangeError(
      `${op}: the sliding windows of kernel size ${fmtShape(kernel)} (dilation ${
        fmtShape(dilation)
      }) do not fit in an input of size ${fmtShape(size)} padded by ${fmtShape(padding)}`,
    );
  }
  return { kernel, stride, padding, dilation, out: out as [number, number] };
}

/**
 * Extracts the sliding windows of x [N, C, H, W] (or [C, H, W]) as columns: [N, C·kH·kW, L] with
 * L = OH·OW windows, row (c·kH + i)·kW + j holding tap (i, j) of channel c, as
 * `torch.nn.functional.unfold`.
 *
 * @example
 * ```ts
 * import { F, randn } from "../../../mod.ts";
 * const cols = F.unfold(randn([2, 3, 5, 5]), 3, { padding: 1 }); // [2, 27, 25]
 * ```
 */
export function unfold(x: Tensor, kernelSize: IntPair, opts: FoldOptions = {}): Tensor {
  const x4 = batched4d("unfold", x);
  try {
    const win = window("unfold", x4.shape.slice(2), kernelSize, opts);
    return unbatched(x, x4, unfoldOp(x4, win));
  } catch (e) {
    if (x4 !== x) x4.dispose();
    throw e;
  }
}

/**
 * Sums columns [N, C·kH·kW, L] (or [C·kH·kW, L]) back into an image [N, C, H, W] of `outputSize` [H, W]:
 * each pixel adds every window tap that lands on it, as `torch.nn.functional.fold` (the adjoint of
 * {@linkcode unfold}).
 *
 * @example
 * ```ts
 * import { F, randn } from "../../../mod.ts";
 * const img = F.fold(randn([2, 12, 9]), [4, 4], 2, { stride: 1 }); // [2, 3, 4, 4]
 * ```
 */
export function fold(x: Tensor, outputSize: IntPair, kernelSize: IntPair, opts: FoldOptions = {}): Tensor {
  x.checkLive("fold");
  if (x.ndim !== 2 && x.ndim !== 3) {
    throw new RangeError(
      `fold: expected a 2-D (unbatched) or 3-D (batched) input, but got input of size ${fmtShape(x.shape)}`,
    );
  }
  const size = pair("fold", "outputSize", outputSize);
  const win = window("fold", size, kernelSize, opts);
  const [KH, KW] = win.kernel;
  const rows = x.shape[x.ndim - 2];
  const blocks = x.shape[x.ndim - 1];
  if (rows % (KH * KW) !== 0) {
    throw new RangeError(
      `fold: expected size of input's dimension ${
        x.ndim - 2
      } to be divisible by the product of kernel_size, ` +
        `but got input.size(${x.ndim - 2})=${rows} and kernel_size=(${KH}, ${KW})`,
    );
  }
  const [OH, OW] = win.out;
  if (blocks !== OH * OW) {
    throw new RangeError(
      `fold: Given output_size=(${size.join(", ")}), kernel_size=(${KH}, ${KW}), expected size of input's ` +
        `dimension ${x.ndim - 1} to match the calculated number of sliding blocks ${OH} * ${OW} = ${
          OH * OW
        }, ` +
        `but got input.size(${x.ndim - 1})=${blocks}`,
    );
  }
  const x3 = x.ndim === 3 ? x : x.unsqueeze(0);
  return unbatched(x, x3, foldOp(x3, size, win));
}
