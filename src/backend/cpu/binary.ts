/**
 * Elementwise binary kernels on the CPU over two operands already broadcast (by zero strides) to the
 * output's shape, with PyTorch's semantics: `maximum`/`minimum` propagate NaN, comparisons give 0/1,
 * `and`/`or` are logical, and integer `add`/`sub`/`mul`/`pow` wrap like int32 while integer `div` truncates.
 * Float values are computed in float64 and rounded once by the output array.
 * @module
 */
import type { BinaryOp } from "../backend.ts";
import { allocHost, type DType, isFloating, type TypedArray } from "../../tensor/dtype.ts";
import { castInto } from "./copy.ts";
import { geluDerivative } from "./erf.ts";
import { type HostOperand, type NumArray, readOperand } from "./strided.ts";

/** Ops whose result is a 0/1 predicate, written straight into the output whatever its dtype. */
const PREDICATES: ReadonlySet<BinaryOp> = new Set<BinaryOp>([
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
  "and",
  "or",
]);

/**
 * C's (and PyTorch's) pow: like `Math.pow` except `pow(1, y) = 1` and `pow(-1, ±∞) = 1` for every y,
 * NaN included, where JavaScript gives NaN.
 */
export function fpow(a: number, b: number): number {
  if (a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return Math.pow(a, b);
}

/** PyTorch's integer pow: exact int32 wraparound by repeated squaring; negative exponents give 1, ±1 or 0. */
export function ipow(a: number, b: number): number {
  if (b < 0) {
    if (a === 1) return 1;
    if (a === -1) return (-b) % 2 === 1 ? -1 : 1;
    return 0;
  }
  let r = 1;
  let base = a | 0;
  let e = b;
  while (e > 0) {
    if (e & 1) r = Math.imul(r, base);
    base = Math.imul(base, base);
    e = Math.floor(e / 2);
  }
  return r;
}

/**
 * out[i] = op(a[i], b[i]) as a fresh contiguous array of `outDtype`. Integer arithmetic (both operands
 * int32 or bool, output int32) wraps modulo 2³²; `p0`/`p1` are the parameters of `leakyReluGrad`
 * (slope) and `clampGrad` (min, max; a NaN or missing bound means no bound).
 */
export function binary(
  op: BinaryOp,
  a: HostOperand,
  b: HostOperand,
  outDtype: DType,
  p0?: number,
  p1?: number,
): TypedArray {
  const x = readOperand(a);
  const y = readOperand(b);
  const n = x.length;
  const out = allocHost(outDtype, n);
  const intMath = outDtype === "int32" && !isFloating(a.dtype) && !isFloating(b.dtype);
  // A bool output of an arithmetic op is (result != 0): compute into float64 first, then convert.
  const r: NumArray = outDtype === "bool" && !PREDICATES.has(op) ? new Float64Array(n) : out;
  switch (op) {
    case "add":
      // an int32 sum is exact in float64 and the Int32Array store wraps it
      for (let i = 0; i < n; i++) r[i] = x[i] + y[i];
      break;
    case "sub":
      for (let i = 0; i < n; i++) r[i] = x[i] - y[i];
      break;
    case "mul":
      if (intMath) { for (let i = 0; i < n; i++) r[i] = Math.imul(x[i], y[i]); }
      else for (let i = 0; i < n; i++) r[i] = x[i] * y[i];
      break;
    case "div":
      // into an Int32Array the quotient truncates toward zero (x/0 stores 0)
      for (let i = 0; i < n; i++) r[i] = x[i] / y[i];
      break;
    case "pow":
      if (intMath) { for (let i = 0; i < n; i++) r[i] = ipow(x[i], y[i]); }
      else for (let i = 0; i < n; i++) r[i] = fpow(x[i], y[i]);
      break;
    case "maximum":
      for (let i = 0; i < n; i++) {
        const u = x[i];
        const v = y[i];
        r[i] = u !== u || v !== v ? NaN : u > v ? u : v;
      }
      break;
    case "minimum":
      for (let i = 0; i < n; i++) {
        const u = x[i];
        const v = y[i];
        r[i] = u !== u || v !== v ? NaN : u < v ? u : v;
      }
      break;
    case "eq":
      for (let i = 0; i < n; i++) r[i] = x[i] === y[i] ? 1 : 0;
      break;
    case "ne":
      for (let i = 0; i < n; i++) r[i] = x[i] !== y[i] ? 1 : 0;
      break;
    case "lt":
      for (let i = 0; i < n; i++) r[i] = x[i] < y[i] ? 1 : 0;
      break;
    case "le":
      for (let i = 0; i < n; i++) r[i] = x[i] <= y[i] ? 1 : 0;
      break;
    case "gt":
      for (let i = 0; i < n; i++) r[i] = x[i] > y[i] ? 1 : 0;
      break;
    case "ge":
      for (let i = 0; i < n; i++) r[i] = x[i] >= y[i] ? 1 : 0;
      break;
    case "and":
      for (let i = 0; i < n; i++) r[i] = x[i] !== 0 && y[i] !== 0 ? 1 : 0;
      break;
    case "or":
      for (let i = 0; i < n; i++) r[i] = x[i] !== 0 || y[i] !== 0 ? 1 : 0;
      break;
    case "reluGrad":
      // (g, x): g where x > 0, else 0 (a select, so a NaN gradient at x <= 0 gives 0)
      for (let i = 0; i < n; i++) r[i] = y[i] > 0 ? x[i] : 0;
      break;
    case "leakyReluGrad": {
      const slope = p0 ?? 0.01;
      for (let i = 0; i < n; i++) r[i] = y[i] > 0 ? x[i] : x[i] * slope;
      break;
    }
    case "geluGrad":
      for (let i = 0; i < n; i++) r[i] = x[i] * geluDerivative(y[i]);
      break;
    case "sigmoidGrad":
      // (g, y) with y = sigmoid(x)
      for (let i = 0; i < n; i++) {
        const s = y[i];
        r[i] = x[i] * (1 - s) * s;
      }
      break;
    case "tanhGrad":
      // (g, y) with y = tanh(x)
      for (let i = 0; i < n; i++) {
        const t = y[i];
        r[i] = x[i] * (1 - t * t);
      }
      break;
    case "clampGrad": {
      // (g, x): g where min <= x <= max (PyTorch's clamp backward); a NaN or missing bound is no bound
      const lo = p0 ?? NaN;
      const hi = p1 ?? NaN;
      const noLo = lo !== lo;
      const noHi = hi !== hi;
      for (let i = 0; i < n; i++) {
        const v = y[i];
        r[i] = (noLo || v >= lo) && (noHi || v <= hi) ? x[i] : 0;
      }
      break;
    }
    default:
      throw new TypeError(`cpu: unknown binary op ${JSON.stringify(op)}`);
  }
  if (r !== out) castInto(r, out, outDtype);
  return out;
}
