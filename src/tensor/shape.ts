/**
 * Shape arithmetic: sizes, strides, broadcasting and dimension normalisation.
 * @module
 */

/** Number of elements of a shape (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C-contiguous) strides of a shape, in elements. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Whether `strides` are the row-major strides of `shape` (size-1 dims may have any stride). */
export function isContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== s) return false;
    s *= shape[i];
  }
  return true;
}

/** Formats a shape the way PyTorch prints it: `[2, 3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** NumPy broadcasting of two shapes; throws naming both shapes when they are incompatible. */
export function broadcastShapes(a: readonly number[], b: readonly number[], op = "op"): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together ` +
          `(dimension ${i - n} is ${da} vs ${db})`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Normalises a possibly negative dimension index against `rank`; throws a clear RangeError when out of range. */
export function normDim(dim: number, rank: number, op = "op"): number {
  const r = Math.max(rank, 1);
  if (!Number.isInteger(dim) || dim < -r || dim >= r) {
    throw new RangeError(
      `${op}: dimension ${dim} out of range for a tensor of rank ${rank} (expected ${-r}..${r - 1})`,
    );
  }
  return dim < 0 ? dim + r : dim;
}

/** Normalises an optional dim or list of dims to a sorted unique list (all dims when undefined). */
export function normDims(dims: number | readonly number[] | undefined, rank: number, op = "op"): number[] {
  if (dims === undefined) return [...Array(rank).keys()];
  const list = typeof dims === "number" ? [dims] : [...dims];
  const out = [...new Set(list.map((d) => normDim(d, rank, op)))];
  if (out.length !== list.length) {
    throw new RangeError(`${op}: repeated dimension in ${JSON.stringify(dims)}`);
  }
  return out.sort((x, y) => x - y);
}

/** Checks that every entry of a shape is a non-negative integer. */
export function checkShape(shape: readonly number[], op = "op"): number[] {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${op}: invalid shape ${fmtShape(shape)}`);
  }
  return [...shape];
}
