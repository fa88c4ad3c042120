/**
 * Elementwise unary kernels on the CPU, with PyTorch's edge cases: `sign(0) = 0` and `sign(NaN) = 0`,
 * `relu(NaN) = NaN`, exact (erf) GELU, `clamp` ignoring NaN bounds but keeping NaN inputs, logical `not`.
 * Values are computed in float64 and rounded once by the output array (float16 and float32 round there).
 * @module
 */
import type { UnaryOp } from "../backend.ts";
import { allocHost, type DType, type TypedArray } from "../../tensor/dtype.ts";
import { castInto, castOperand } from "./copy.ts";
import { gelu } from "./erf.ts";
import { type HostOperand, type NumArray, readOperand } from "./strided.ts";

/** Ops whose result is a 0/1 predicate, written straight into the output whatever its dtype. */
const PREDICATES: ReadonlySet<UnaryOp> = new Set<UnaryOp>(["not", "isnan", "isinf"]);

/** out[i] = op(x[i]) as a fresh contiguous array of `outDtype`; `p0`/`p1` are the op's scalar parameters. */
export function unary(op: UnaryOp, x: HostOperand, outDtype: DType, p0?: number, p1?: number): TypedArray {
  if (op === "copy") return castOperand(x, outDtype);
  const v = readOperand(x);
  const n = v.length;
  const out = allocHost(outDtype, n);
  // A bool output of an arithmetic op is (result != 0): compute into float64 first, then convert.
  const r: NumArray = outDtype === "bool" && !PREDICATES.has(op) ? new Float64Array(n) : out;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) r[i] = -v[i];
      break;
    case "abs":
      for (let i = 0; i < n; i++) r[i] = Math.abs(v[i]);
      break;
    case "sign":
      // PyTorch computes (0 < x) - (x < 0): 0 for ±0 and for NaN
      for (let i = 0; i < n; i++) {
        const a = v[i];
        r[i] = a > 0 ? 1 : a < 0 ? -1 : 0;
      }
      break;
    case "exp":
      for (let i = 0; i < n; i++) r[i] = Math.exp(v[i]);
      break;
    case "log":
      for (let i = 0; i < n; i++) r[i] = Math.log(v[i]);
      break;
    case "sqrt":
      for (let i = 0; i < n; i++) r[i] = Math.sqrt(v[i]);
      break;
    case "rsqrt":
      for (let i = 0; i < n; i++) r[i] = 1 / Math.sqrt(v[i]);
      break;
    case "reciprocal":
      for (let i = 0; i < n; i++) r[i] = 1 / v[i];
      break;
    case "sin":
      for (let i = 0; i < n; i++) r[i] = Math.sin(v[i]);
      break;
    case "cos":
      for (let i = 0; i < n; i++) r[i] = Math.cos(v[i]);
      break;
    case "tanh":
      for (let i = 0; i < n; i++) r[i] = Math.tanh(v[i]);
      break;
    case "sigmoid":
      for (let i = 0; i < n; i++) r[i] = 1 / (1 + Math.exp(-v[i]));
      break;
    case "relu":
      for (let i = 0; i < n; i++) {
        const a = v[i];
        r[i] = a > 0 || a !== a ? a : 0;
      }
      break;
    case "gelu":
      for (let i = 0; i < n; i++) r[i] = gelu(v[i]);
      break;
    case "leakyRelu": {
      const slope = p0 ?? 0.01;
      for (let i = 0; i < n; i++) {
        const a = v[i];
        r[i] = a > 0 ? a : a * slope;
      }
      break;
    }
    case "clamp": {
      // a NaN (or missing) bound means "no bound"; comparisons with NaN are false so it never applies
      const lo = p0 ?? NaN;
      const hi = p1 ?? NaN;
      for (let i = 0; i < n; i++) {
        let a = v[i];
        if (a < lo) a = lo;
        if (a > hi) a = hi;
        r[i] = a;
      }
      break;
    }
    case "not":
      for (let i = 0; i < n; i++) r[i] = v[i] === 0 ? 1 : 0;
      break;
    case "isnan":
      for (let i = 0; i < n; i++) r[i] = v[i] !== v[i] ? 1 : 0;
      break;
    case "isinf":
      for (let i = 0; i < n; i++) {
        const a = v[i];
        r[i] = a === Infinity || a === -Infinity ? 1 : 0;
      }
      break;
    default:
      throw new TypeError(`cpu: unknown unary op ${JSON.stringify(op)}`);
  }
  if (r !== out) castInto(r, out, outDtype);
  return out;
}
