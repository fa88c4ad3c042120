/**
 * The CPU `where` kernel: elementwise selection between two operands by a condition, all three already
 * broadcast (by zero strides) to the output's shape.
 * @module
 */
import { allocHost, type DType, type TypedArray } from "../../tensor/dtype.ts";
import { castInto } from "./copy.ts";
import { type HostOperand, type NumArray, readOperand } from "./strided.ts";

/** out[i] = cond[i] ? a[i] : b[i] (any non-zero condition, NaN included, is true) as a fresh array of `outDtype`. */
export function where(cond: HostOperand, a: HostOperand, b: HostOperand, outDtype: DType): TypedArray {
  const c = readOperand(cond);
  const x = readOperand(a);
  const y = readOperand(b);
  const n = c.length;
  const out = allocHost(outDtype, n);
  const toBool = outDtype === "bool" && (a.dtype !== "bool" || b.dtype !== "bool");
  const r: NumArray = toBool ? new Float64Array(n) : out;
  for (let i = 0; i < n; i++) r[i] = c[i] !== 0 ? x[i] : y[i];
  if (r !== out) castInto(r, out, outDtype);
  return out;
}
