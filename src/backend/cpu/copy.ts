/**
 * Dtype conversion and strided copies: the `copy` kernel (cat, in-place writes), the `copy` unary op (casts)
 * and `upload`. Conversions follow PyTorch: float→int32 truncates toward zero, anything→bool is `x != 0`
 * (so NaN is true), bool→number is 0/1, and float32→float16 rounds to nearest even.
 * @module
 */
import { allocHost, type DType, type TypedArray } from "../../tensor/dtype.ts";
import { type HostOperand, type NumArray, readView, scatterInto } from "./strided.ts";
import type { View } from "../backend.ts";

/** A new array of `dtype` holding `values` converted (always a fresh array, never an alias). */
export function castArray(values: ArrayLike<number> | NumArray, dtype: DType): TypedArray {
  const n = values.length;
  const out = allocHost(dtype, n);
  if (dtype === "bool") {
    for (let i = 0; i < n; i++) out[i] = values[i] !== 0 ? 1 : 0;
  } else if (ArrayBuffer.isView(values)) {
    // element-wise conversion in native code: ToInt32 truncates toward zero, Float16Array rounds
    (out as Float32Array).set(values as Float32Array);
  } else {
    for (let i = 0; i < n; i++) out[i] = values[i];
  }
  return out;
}

/** Converts `values` to `dtype` in place into `out` (same length), with the bool rule `x != 0`. */
export function castInto(values: NumArray, out: TypedArray, dtype: DType): void {
  if (dtype === "bool") {
    for (let i = 0; i < values.length; i++) out[i] = values[i] !== 0 ? 1 : 0;
  } else {
    (out as Float32Array).set(values as Float32Array);
  }
}

/** The operand's view as a fresh contiguous array of `dtype` (the cast kernel). */
export function castOperand(x: HostOperand, dtype: DType): TypedArray {
  if (x.dtype === dtype) return readView(x.data, x.view, true);
  return castArray(readView(x.data, x.view), dtype);
}

/**
 * Writes the operand `src` (whose view has the shape of `dstView`) into `dst` (of `dstDtype`) at the
 * strided `dstView`, converting dtype. Safe when `src` and `dst` share memory: the source is read first.
 */
export function copyInto(src: HostOperand, dst: TypedArray, dstDtype: DType, dstView: View): void {
  const aliased = src.data.buffer === dst.buffer;
  const values = src.dtype === dstDtype
    ? readView(src.data, src.view, aliased)
    : castArray(readView(src.data, src.view), dstDtype);
  scatterInto(values, dst, dstView);
}
