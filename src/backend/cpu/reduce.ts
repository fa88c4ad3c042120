/**
 * Reductions on the CPU: sum, prod, max, min, argmax, argmin over a sorted set of axes. The operand is
 * first gathered with the kept axes outermost and the reduced axes innermost, so every output element
 * reduces one contiguous run. Semantics follow PyTorch: `max`/`min` propagate NaN; `argmax`/`argmin` give the
 * first index of the extreme, a NaN counting as the extreme for both (PyTorch's `GreaterOrNan`/`LessOrNan`);
 * an empty sum is 0 and an empty product 1, while `max`/`min`/`argmax`/`argmin` of an empty dimension throw.
 * Float sums and products accumulate in float64; int32 outputs wrap like int32.
 * @module
 */
import type { ReduceOp } from "../backend.ts";
import { allocHost, type DType, type TypedArray } from "../../tensor/dtype.ts";
import { numel } from "../../tensor/shape.ts";
import { castInto, castOperand } from "./copy.ts";
import { type HostOperand, type NumArray, readView } from "./strided.ts";

/**
 * Reduces `axes` (sorted, unique) of x into a fresh contiguous array of `outDtype` with those axes removed.
 * An empty axis list copies (converting to `outDtype`), except that `argmax`/`argmin` then give zeros (the
 * index of the only element along no axis). With several axes, `argmax`/`argmin` give the row-major index
 * within the reduced axes (the flat index when all axes are reduced).
 */
export function reduce(op: ReduceOp, x: HostOperand, axes: readonly number[], outDtype: DType): TypedArray {
  const { shape, strides, offset } = x.view;
  const kept: number[] = [];
  for (let d = 0; d < shape.length; d++) if (!axes.includes(d)) kept.push(d);
  const outN = numel(kept.map((d) => shape[d]));
  const len = numel(axes.map((d) => shape[d]));
  const isArg = op === "argmax" || op === "argmin";
  if (len === 0 && (isArg || op === "max" || op === "min")) {
    throw new RangeError(`${op}: cannot reduce an empty dimension`);
  }
  if (axes.length === 0) return isArg ? allocHost(outDtype, outN) : castOperand(x, outDtype);

  const out = allocHost(outDtype, outN);
  if (outN === 0) return out;
  const order = [...kept, ...axes];
  const v = readView(x.data, {
    shape: order.map((d) => shape[d]),
    strides: order.map((d) => strides[d]),
    offset,
  });
  // A bool output of sum/prod/max/min is (result != 0): compute into float64 first, then convert.
  const r: NumArray = outDtype === "bool" && !isArg ? new Float64Array(outN) : out;
  const wrap = outDtype === "int32";

  switch (op) {
    case "sum":
      for (let o = 0, base = 0; o < outN; o++, base += len) {
        let acc = 0;
        if (wrap) { for (let k = 0; k < len; k++) acc = (acc + v[base + k]) | 0; }
        else for (let k = 0; k < len; k++) acc += v[base + k];
        r[o] = acc;
      }
      break;
    case "prod":
      for (let o = 0, base = 0; o < outN; o++, base += len) {
        let acc = 1;
        if (wrap) { for (let k = 0; k < len; k++) acc = Math.imul(acc, v[base + k]); }
        else for (let k = 0; k < len; k++) acc *= v[base + k];
        r[o] = acc;
      }
      break;
    case "max":
      for (let o = 0, base = 0; o < outN; o++, base += len) {
        let m = v[base];
        // stops at the first NaN (m !== m), which is the result
        for (let k = 1; k < len && m === m; k++) {
          const a = v[base + k];
          if (a > m || a !== a) m = a;
        }
        r[o] = m;
      }
      break;
    case "min":
      for (let o = 0, base = 0; o < outN; o++, base += len) {
        let m = v[base];
        for (let k = 1; k < len && m === m; k++) {
          const a = v[base + k];
          if (a < m || a !== a) m = a;
        }
        r[o] = m;
      }
      break;
    case "argmax":
      for (let o = 0, base = 0; o < outN; o++, base += len) {
        let m = v[base];
        let best = 0;
        // strict comparison keeps the first of equal extremes; the first NaN wins and ends the scan
        for (let k = 1; k < len && m === m; k++) {
          const a = v[base + k];
          if (a > m || a !== a) {
            m = a;
            best = k;
          }
        }
        r[o] = best;
      }
      break;
    case "argmin":
      for (let o = 0, base = 0; o < outN; o++, base += len) {
        let m = v[base];
        let best = 0;
        for (let k = 1; k < len && m === m; k++) {
          const a = v[base + k];
          if (a < m || a !== a) {
            m = a;
            best = k;
          }
        }
        r[o] = best;
      }
      break;
    default:
      throw new TypeError(`cpu: unknown reduce op ${JSON.stringify(op)}`);
  }
  if (r !== out) castInto(r, out, outDtype);
  return out;
}
