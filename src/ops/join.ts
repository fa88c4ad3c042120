/**
 * Joining tensors: cat and stack.
 * @module
 */
import { backendFor } from "../backend/registry.ts";
import { zeros } from "../tensor/creation.ts";
import { promote } from "../tensor/dtype.ts";
import { fmtShape, normDim, numel } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { castTo } from "./cast.ts";
import { record, sameDevice, wrap } from "./util.ts";
import { copyInto, slice } from "./views.ts";
import { noGrad } from "../autograd/grad_mode.ts";

/**
 * Concatenates tensors along an existing dim (all other dims must match).
 *
 * @example
 * ```ts
 * import { cat, tensor } from "../../mod.ts";
 * const c = cat([tensor([[1, 2]]), tensor([[3, 4]])], 0); // shape [2, 2]
 * ```
 */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("cat: expected a non-empty list of tensors");
  const device = sameDevice("cat", ...tensors);
  // PyTorch lets 1-D empty tensors join anything: they are skipped (and get an empty gradient)
  const all = tensors;
  let source = all.map((_, i) => i).filter((i) => !(all[i].ndim === 1 && all[i].size === 0));
  if (source.length === 0) source = [0];
  tensors = source.map((i) => all[i]);
  const ref = tensors.find((t) => t.ndim > 0 || t.size > 0) ?? tensors[0];
  if (ref.ndim === 0) throw new RangeError("cat: zero-dimensional tensors cannot be concatenated; use stack");
  const d = normDim(dim, ref.ndim, "cat");
  tensors.forEach((t, k) => {
    if (t.ndim !== ref.ndim || t.shape.some((s, i) => i !== d && s !== ref.shape[i])) {
      throw new RangeError(
        `cat: sizes of tensors must match except in dimension ${d}: tensor 0 has shape ${
          fmtShape(ref.shape)
        } ` +
          `but tensor ${k} has shape ${fmtShape(t.shape)}`,
      );
    }
  });
  const dtype = tensors.map((t) => t.dtype).reduce(promote);
  const shape = ref.shape.map((s, i) => (i === d ? tensors.reduce((n, t) => n + t.shape[d], 0) : s));
  const out = wrap(backendFor(device).alloc(dtype, numel(shape)), shape, device);
  const offsets: number[] = [];
  noGrad(() => {
    let off = 0;
    for (const t of tensors) {
      offsets.push(off);
      const part = slice(out, d, off, off + t.shape[d]);
      const src = t.dtype === dtype ? t : castTo(t, dtype, false);
      copyInto(part, src);
      if (src !== t) src.dispose();
      part.dispose();
      off += t.shape[d];
    }
  });
  return record("CatBackward0", out, all, () => (g) => {
    const grads: (Tensor | null)[] = all.map(() => null);
    source.forEach((i, k) => {
      if (all[i].requiresGrad) grads[i] = slice(g, d, offsets[k], offsets[k] + all[i].shape[d]);
    });
    all.forEach((t, i) => {
      if (t.requiresGrad && grads[i] === null) grads[i] = zeros([0], { device, dtype: g.dtype }); // skipped
    });
    return grads;
  });
}

/**
 * Stacks tensors of equal shape along a new dim.
 *
 * @example
 * ```ts
 * import { stack, tensor } from "../../mod.ts";
 * const s = stack([tensor([1, 2]), tensor([3, 4])], 1); // [[1, 3], [2, 4]]
 * ```
 */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("stack: expected a non-empty list of tensors");
  tensors.forEach((t, k) => {
    if (t.ndim !== tensors[0].ndim || t.shape.some((s, i) => s !== tensors[0].shape[i])) {
      throw new RangeError(
        `stack: expects each tensor to be equal size, but got ${fmtShape(tensors[0].shape)} at entry 0 and ` +
          `${fmtShape(t.shape)} at entry ${k}`,
      );
    }
  });
  const d = normDim(dim, tensors[0].ndim + 1, "stack");
  const parts = tensors.map((t) => t.unsqueeze(d));
  const out = cat(parts, d);
  for (const p of parts) p.dispose();
  return out;
}
