/**
 * Gather along a dimension and its adjoint, scatter-add, on the CPU (torch.gather / torch.scatter_add).
 * Both walk the index's shape; the position in the other tensor is the index's coordinates with coordinate
 * `dim` replaced by the index value, so the index may be smaller than the other tensor in every dimension.
 * An index outside the indexed dimension throws a RangeError naming it (the WebGPU kernels raise the same
 * error at the next read).
 * @module
 */
import { allocHost, type TypedArray } from "../../tensor/dtype.ts";
import { contiguousStrides, numel } from "../../tensor/shape.ts";
import { allocLike, type HostOperand, readOperand, readView, viewOffsets } from "./strided.ts";

/** out[p] = x[p with coordinate `dim` replaced by index[p]]; out is contiguous of index's shape, x's dtype. */
export function gather(x: HostOperand, dim: number, index: HostOperand): TypedArray {
  const shape = index.view.shape;
  const idx = readOperand(index);
  const xs = x.view.strides;
  // position of x at the index's coordinates with coordinate `dim` set to 0
  const base = viewOffsets({
    shape,
    strides: shape.map((_, d) => (d === dim ? 0 : xs[d])),
    offset: x.view.offset,
  });
  const step = xs[dim] ?? 0;
  const src = x.data;
  checkRange("gather/indexSelect", idx, x.view.shape[dim], dim);
  const out = allocLike(src, idx.length);
  for (let i = 0; i < out.length; i++) out[i] = src[base[i] + idx[i] * step];
  return out;
}

/** Throws when an index lies outside [0, size). */
function checkRange(op: string, idx: ArrayLike<number>, size: number, dim: number): void {
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i];
    if (j < 0 || j >= size) {
      throw new RangeError(`${op}: index ${j} is out of range for dimension ${dim} with size ${size}`);
    }
  }
}

/**
 * A zeroed contiguous array of `outShape` (and src's dtype) plus, for every position p of the index,
 * src[p] added at p with coordinate `dim` replaced by index[p]. Sequential in row-major order, so
 * deterministic; each addition rounds to the output dtype like PyTorch's CPU kernel (int32 wraps, bool ors).
 */
export function scatterAdd(
  src: HostOperand,
  dim: number,
  index: HostOperand,
  outShape: readonly number[],
): TypedArray {
  const shape = index.view.shape;
  const out = allocHost(src.dtype, numel(outShape));
  const idx = readOperand(index);
  checkRange("scatterAdd (backward of gather/indexSelect)", idx, outShape[dim], dim);
  // src read at the index's coordinates (src may be larger than the index, as in torch.scatter_add)
  const vals = readView(src.data, { shape, strides: src.view.strides, offset: src.view.offset });
  const os = contiguousStrides(outShape);
  const base = viewOffsets({ shape, strides: shape.map((_, d) => (d === dim ? 0 : os[d])), offset: 0 });
  const step = os[dim] ?? 0;
  const n = idx.length;
  if (src.dtype === "bool") {
    for (let i = 0; i < n; i++) {
      const p = base[i] + idx[i] * step;
      out[p] = out[p] !== 0 || vals[i] !== 0 ? 1 : 0;
    }
  } else {
    for (let i = 0; i < n; i++) out[base[i] + idx[i] * step] += vals[i];
  }
  return out;
}
