/**
 * The batch fast path: copying the rows of a big host array picked by a list of indices into one typed
 * array, uploaded once.
 * @module
 */
import type { Device } from "../backend/registry.ts";
import { allocHost, type DType, type TypedArray } from "../tensor/dtype.ts";
import { numel } from "../tensor/shape.ts";
import { tensor } from "../tensor/creation.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** A host array of equally shaped rows stored back to back, e.g. every image of a dataset. */
export interface HostColumn {
  /** The rows, row-major, back to back (Uint8Array for bool, or for raw pixels with `scale`). */
  readonly data: TypedArray;
  /** Shape of one row (of one sample), e.g. `[1, 28, 28]`. */
  readonly rowShape: readonly number[];
  /** The batch tensor's dtype. */
  readonly dtype: DType;
  /** When set, rows are converted to float32 and multiplied by it (raw bytes 0..255 → [0, 1] with 1/255). */
  readonly scale?: number;
}

/** Number of rows of a column. */
export function columnLength(col: HostColumn): number {
  const row = numel(col.rowShape);
  return row === 0 ? 0 : col.data.length / row;
}

/**
 * The rows of `col` at `indices` as one tensor of shape `[indices.length, ...rowShape]` on `device`: one
 * typed array filled row by row, then one upload. `rows` is the number of rows (needed only when rows are
 * empty).
 *
 * @example
 * ```ts
 * import { gatherRows } from "./rows.ts";
 * const col = { data: new Float32Array([0, 1, 2, 3, 4, 5]), rowShape: [2], dtype: "float32" as const };
 * const batch = gatherRows(col, new Int32Array([2, 0]), "cpu"); // [[4, 5], [0, 1]]
 * ```
 */
export function gatherRows(
  col: HostColumn,
  indices: Int32Array,
  device: Device,
  rows: number = columnLength(col),
): Tensor {
  const row = numel(col.rowShape);
  const n = indices.length;
  for (let i = 0; i < n; i++) {
    const k = indices[i];
    if (!(k >= 0 && k < rows)) {
      throw new RangeError(`batch index ${k} (position ${i}) is out of range for ${rows} samples`);
    }
  }
  const shape = [n, ...col.rowShape];
  if (col.scale !== undefined) {
    const out = new Float32Array(n * row);
    const src = col.data;
    const s = col.scale;
    for (let i = 0; i < n; i++) {
      const from = indices[i] * row;
      const to = i * row;
      for (let j = 0; j < row; j++) out[to + j] = src[from + j] * s;
    }
    return tensor(out, { shape, dtype: "float32", device });
  }
  const out = allocHost(col.dtype, n * row);
  for (let i = 0; i < n; i++) {
    const from = indices[i] * row;
    (out as Float32Array).set((col.data as Float32Array).subarray(from, from + row), i * row);
  }
  return tensor(out, { shape, dtype: col.dtype, device });
}
