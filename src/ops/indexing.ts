/**
 * Indexing by int32 index tensors: gather and indexSelect, whose gradient is scatterAdd.
 * Kernels: `src/shaders/gather.wgsl`, `src/shaders/scatter_add.wgsl`, `src/backend/cpu/gather.ts`.
 * @module
 */
import type { Operand } from "../backend/backend.ts";
import { backendFor } from "../backend/registry.ts";
import { fmtShape, normDim } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { operand, record, sameDevice, wrap } from "./util.ts";

function checkIndex(op: string, index: Tensor): void {
  if (index.dtype !== "int32") {
    throw new TypeError(`${op}: expected an int32 index tensor, but got ${index.dtype}`);
  }
}

function scatterAddRaw(g: Tensor, dim: number, index: Operand, shape: readonly number[]): Tensor {
  return wrap(backendFor(g.device).scatterAdd(operand(g), dim, index, shape), shape, g.device);
}

/**
 * Values of `x` along `dim` at `index` (int32, same rank as x, no larger than x in the other dims): out has
 * index's shape, as `torch.gather`.
 */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  sameDevice("gather", x, index);
  checkIndex("gather", index);
  const d = normDim(dim, x.ndim, "gather");
  if (index.ndim !== x.ndim || index.shape.some((s, i) => i !== d && s > x.shape[i])) {
    throw new RangeError(
      `gather: index of shape ${fmtShape(index.shape)} does not fit input of shape ${
        fmtShape(x.shape)
      } along dim ${d} ` +
        `(same rank, and no larger outside dim ${d})`,
    );
  }
  const out = wrap(backendFor(x.device).gather(operand(x), d, operand(index)), index.shape, x.device);
  return record("GatherBackward0", out, [x], (node) => {
    const si = node.save(index);
    return (g) => [scatterAddRaw(g, d, operand(si), x.shape)];
  });
}

/** Slices of `x` along `dim` picked by the 1-D int32 `index` (`torch.index_select`). */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  sameDevice("indexSelect", x, index);
  checkIndex("indexSelect", index);
  if (index.ndim > 1) {
    throw new RangeError(`indexSelect: index must be 1-D, but has shape ${fmtShape(index.shape)}`);
  }
  const d = normDim(dim, Math.max(x.ndim, 1), "indexSelect");
  const n = index.ndim === 0 ? 1 : index.shape[0];
  const shape = x.shape.map((s, i) => (i === d ? n : s));
  const idx = (t: Tensor): Operand => ({
    storage: t.storage,
    view: {
      shape,
      strides: shape.map((_, i) => (i === d && t.ndim === 1 ? t.strides[0] : 0)),
      offset: t.offset,
    },
  });
  const out = wrap(backendFor(x.device).gather(operand(x), d, idx(index)), shape, x.device);
  return record("IndexSelectBackward0", out, [x], (node) => {
    const si = node.save(index);
    return (g) => [scatterAddRaw(g, d, idx(si), x.shape)];
  });
}
