/**
 * Element types of tensors and their host representations.
 * @module
 */

/** The element types a tensor can hold. `bool` is stored as one byte on the CPU and as a u32 on WebGPU. */
export type DType = "float32" | "float16" | "int32" | "bool";

/** The typed array that holds a tensor's elements on the host for each {@linkcode DType}. */
export type TypedArray = Float32Array | Float16Array | Int32Array | Uint8Array;

/** All dtypes, in promotion order (later wins). */
export const DTYPES: readonly DType[] = ["bool", "int32", "float16", "float32"];

/** Whether `d` is a floating point dtype (the only ones that can require gradients). */
export function isFloating(d: DType): boolean {
  return d === "float32" || d === "float16";
}

/** Bytes per element in host memory (the CPU backend and `data()`). */
export function hostBytes(d: DType): number {
  return d === "bool" ? 1 : d === "float16" ? 2 : 4;
}

/** Allocates a zeroed host typed array of `n` elements of dtype `d`. */
export function allocHost(d: DType, n: number): TypedArray {
  switch (checkDType(d)) {
    case "float32":
      return new Float32Array(n);
    case "float16":
      return new Float16Array(n);
    case "int32":
      return new Int32Array(n);
    case "bool":
      return new Uint8Array(n);
  }
}

/** Converts any array-like of numbers/booleans into a host typed array of dtype `d`. */
export function toHost(d: DType, values: ArrayLike<number | boolean>): TypedArray {
  const out = allocHost(d, values.length);
  if (d === "bool") {
    for (let i = 0; i < values.length; i++) out[i] = values[i] ? 1 : 0;
  } else if (d === "int32") {
    for (let i = 0; i < values.length; i++) out[i] = Math.trunc(Number(values[i]));
  } else {
    for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  }
  return out;
}

/** The dtype of a result combining `a` and `b` (PyTorch-like promotion: bool < int32 < float16 < float32). */
export function promote(a: DType, b: DType): DType {
  return DTYPES.indexOf(a) >= DTYPES.indexOf(b) ? a : b;
}

/** Throws a clear error when `d` is not one of the supported dtypes. */
export function checkDType(d: unknown): DType {
  if (d === "float32" || d === "float16" || d === "int32" || d === "bool") return d;
  throw new TypeError(
    `unsupported dtype ${JSON.stringify(d)}: expected one of float32, float16, int32, bool`,
  );
}
