/**
 * Walking strided views of flat host arrays: gathering a view into a contiguous array, scattering a
 * contiguous array into a view, and listing the positions of a view's elements. Every CPU kernel reads its
 * operands through these; each has a fast path for dense (contiguous) views and otherwise walks the view
 * row by row with an odometer over the outer dimensions (no per-element allocation or closure).
 * @module
 */
import type { View } from "../backend.ts";
import type { DType, TypedArray } from "../../tensor/dtype.ts";
import { isContiguous, numel } from "../../tensor/shape.ts";

/** Any host array a kernel reads or writes: the storage arrays plus float64 scratch buffers. */
export type NumArray = TypedArray | Float64Array;

/** A kernel operand on the host: the storage's flat array, its dtype, and the view of it being read. */
export interface HostOperand {
  /** The storage's whole flat array. */
  readonly data: TypedArray;
  /** The storage's dtype. */
  readonly dtype: DType;
  /** The elements of `data` the kernel reads. */
  readonly view: View;
}

/** Whether element `i` of the view (in row-major order) sits at `offset + i`. */
export function isDense(view: View): boolean {
  return isContiguous(view.shape, view.strides);
}

/** A new zeroed array of the same element type as `like`. */
export function allocLike<T extends TypedArray>(like: T, n: number): T {
  return new (like.constructor as new (n: number) => T)(n);
}

/**
 * Shape and strides of a view with size-1 dimensions dropped and adjacent dimensions merged where they
 * are laid out as one (so a contiguous block of a permuted view is walked in one inner loop).
 */
export function coalesce(
  shape: readonly number[],
  strides: readonly number[],
): { shape: number[]; strides: number[] } {
  const s: number[] = [];
  const t: number[] = [];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = s.length - 1;
    if (last >= 0 && t[last] === strides[d] * shape[d]) {
      s[last] *= shape[d];
      t[last] = strides[d];
    } else {
      s.push(shape[d]);
      t.push(strides[d]);
    }
  }
  return { shape: s, strides: t };
}

/** Copies the view's elements of `src`, in row-major order, into `dst` (converted by `dst`'s element type). */
export function gatherInto(src: NumArray, view: View, dst: NumArray): void {
  const n = numel(view.shape);
  if (n === 0) return;
  const { shape, strides } = coalesce(view.shape, view.strides);
  const nd = shape.length;
  let base = view.offset;
  if (nd === 0) {
    dst[0] = src[base];
    return;
  }
  const inner = shape[nd - 1];
  const step = strides[nd - 1];
  const idx = new Int32Array(nd);
  for (let o = 0; o < n;) {
    if (step === 1) {
      for (let j = 0; j < inner; j++) dst[o++] = src[base + j];
    } else {
      for (let j = 0, p = base; j < inner; j++, p += step) dst[o++] = src[p];
    }
    for (let d = nd - 2; d >= 0; d--) {
      base += strides[d];
      if (++idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/** Writes `values` (row-major, one per element of the view) into `dst` at the view's positions. */
export function scatterInto(values: NumArray, dst: NumArray, view: View): void {
  const n = numel(view.shape);
  if (n === 0) return;
  if (isDense(view) && values.constructor === dst.constructor) {
    // TypedArray.prototype.set copies as if through a temporary, so overlapping ranges are safe.
    (dst as Float32Array).set(
      values.length === n ? values as Float32Array : values.subarray(0, n) as Float32Array,
      view.offset,
    );
    return;
  }
  const { shape, strides } = coalesce(view.shape, view.strides);
  const nd = shape.length;
  let base = view.offset;
  if (nd === 0) {
    dst[base] = values[0];
    return;
  }
  const inner = shape[nd - 1];
  const step = strides[nd - 1];
  const idx = new Int32Array(nd);
  for (let o = 0; o < n;) {
    for (let j = 0, p = base; j < inner; j++, p += step) dst[p] = values[o++];
    for (let d = nd - 2; d >= 0; d--) {
      base += strides[d];
      if (++idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/**
 * The view's elements of `data` as a contiguous array of the same element type. A dense view gives a
 * subarray sharing `data`'s memory (read-only use!) unless `fresh` asks for a copy.
 */
export function readView<T extends TypedArray>(data: T, view: View, fresh = false): T {
  const n = numel(view.shape);
  if (isDense(view)) {
    return (fresh
      ? data.slice(view.offset, view.offset + n)
      : data.subarray(view.offset, view.offset + n)) as T;
  }
  const out = allocLike(data, n);
  gatherInto(data, view, out);
  return out;
}

/** The view's elements of an operand as a contiguous array (aliasing the storage when the view is dense). */
export function readOperand(x: HostOperand, fresh = false): TypedArray {
  return readView(x.data, x.view, fresh);
}

/** The flat position in the storage of every element of the view, in row-major order. */
export function viewOffsets(view: View): Int32Array {
  const n = numel(view.shape);
  const out = new Int32Array(n);
  if (n === 0) return out;
  const { shape, strides } = coalesce(view.shape, view.strides);
  const nd = shape.length;
  let base = view.offset;
  if (nd === 0) {
    out[0] = base;
    return out;
  }
  const inner = shape[nd - 1];
  const step = strides[nd - 1];
  const idx = new Int32Array(nd);
  for (let o = 0; o < n;) {
    for (let j = 0, p = base; j < inner; j++, p += step) out[o++] = p;
    for (let d = nd - 2; d >= 0; d--) {
      base += strides[d];
      if (++idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}
