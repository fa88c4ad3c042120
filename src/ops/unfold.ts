/**
 * Sliding windows of images: `unfold` (im2col) gathers every window of x [N, C, H, W] into a column of
 * [N, C·KH·KW, OH·OW], and `fold` (col2im) sums columns back into pixels. Each is the other's adjoint, so
 * each one's gradient is the other. The geometry ({@linkcode Window2d}) is validated by the callers
 * (`src/nn/functional/`). Kernels: `src/shaders/im2col.wgsl`, `src/shaders/col2im.wgsl`,
 * `src/backend/cpu/im2col.ts`.
 * @module
 */
import type { Im2colLayout, Window2d } from "../backend/backend.ts";
import { backendFor } from "../backend/registry.ts";
import { isFloating } from "../tensor/dtype.ts";
import { fmtShape, numel } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { operand, record, sameDevice, wrap } from "./util.ts";

function checkFloat(op: string, t: Tensor): void {
  if (!isFloating(t.dtype)) {
    throw new TypeError(
      `${op}: expected a floating point tensor, but got ${t.dtype}; convert it with .float()`,
    );
  }
}

/** The rows of unfold's output: C·KH·KW. */
function rowsOf(channels: number, win: Window2d): number {
  return channels * win.kernel[0] * win.kernel[1];
}

/**
 * im2col: x [N, C, H, W] → [N, C·KH·KW, OH·OW], row (c·KH + kh)·KW + kw and column oh·OW + ow holding
 * x[n, c, oh·SH - PH + kh·DH, ow·SW - PW + kw·DW] (0 in the padding). Recorded as `Im2ColBackward0`, whose
 * gradient is {@linkcode fold}.
 */
export function unfold(x: Tensor, win: Window2d): Tensor {
  sameDevice("unfold", x);
  checkFloat("unfold", x);
  if (x.ndim !== 4) {
    throw new RangeError(`unfold: expected a 4-D [N, C, H, W] tensor, got ${fmtShape(x.shape)}`);
  }
  const [N, C, H, W] = x.shape;
  const shape = [N, rowsOf(C, win), win.out[0] * win.out[1]];
  const backend = backendFor(x.device);
  const storage = numel(shape) === 0 ? backend.alloc(x.dtype, 0) : backend.im2col(operand(x), win);
  const out = wrap(storage, shape, x.device);
  return record("Im2ColBackward0", out, [x], () => (g) => [fold(g, [H, W], win)]);
}

/**
 * Internal knob of `conv2d` (not exported from `mod.ts`): the most bytes of im2col columns its forward
 * keeps for the weight's gradient (64 MiB); larger columns are gathered again from x in the backward. Set
 * it to 0 to time or test the gathering path.
 *
 * @example
 * ```ts
 * import { convColumnsKept } from "./unfold.ts";
 * const was = convColumnsKept.maxBytes;
 * convColumnsKept.maxBytes = 0; // every backward gathers its columns again
 * convColumnsKept.maxBytes = was;
 * ```
 */
export const convColumnsKept: { maxBytes: number } = { maxBytes: 64 * 2 ** 20 };

/**
 * im2col without autograd, its rows laid out for a grouped matrix product: [N, groups·rows, OH·OW] (see
 * {@linkcode Im2colLayout}; `conv2d` folds its bias into the product with the row of ones).
 */
export function im2colRaw(x: Tensor, win: Window2d, layout: Im2colLayout): Tensor {
  sameDevice("im2col", x);
  const shape = [x.shape[0], layout.groups * layout.rows, layout.columns ?? win.out[0] * win.out[1]];
  const backend = backendFor(x.device);
  const storage = numel(shape) === 0 ? backend.alloc(x.dtype, 0) : backend.im2col(operand(x), win, layout);
  return wrap(storage, shape, x.device);
}

/**
 * col2im, the adjoint of {@linkcode unfold}: cols [N, C·KH·KW, OH·OW] → [N, C, H, W] where each pixel
 * sums the column entries of every window tap that lands on it (in a fixed order: deterministic).
 * Recorded as `Col2ImBackward0`, whose gradient is {@linkcode unfold}.
 */
export function fold(cols: Tensor, size: readonly [number, number], win: Window2d): Tensor {
  sameDevice("fold", cols);
  checkFloat("fold", cols);
  const [KH, KW] = win.kernel;
  const L = win.out[0] * win.out[1];
  if (cols.ndim !== 3 || cols.shape[1] % (KH * KW) !== 0 || cols.shape[2] !== L) {
    throw new RangeError(
      `fold: expected cols of shape [N, C·${KH}·${KW}, ${L}], got ${fmtShape(cols.shape)}`,
    );
  }
  const [N, R] = cols.shape;
  const shape = [N, R / (KH * KW), size[0], size[1]];
  const backend = backendFor(cols.device);
  const storage = numel(cols.shape) === 0
    ? backend.alloc(cols.dtype, numel(shape))
    : backend.col2im(operand(cols), shape, win);
  const out = wrap(storage, shape, cols.device);
  return record("Col2ImBackward0", out, [cols], () => (g) => [unfold(g, win)]);
}
