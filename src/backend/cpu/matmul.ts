/**
 * Batched matrix product on the CPU. Each batch's operands are first gathered into contiguous float64
 * matrices (reused when the batch stride is 0, i.e. broadcast), then multiplied in i-k-j order so the inner
 * loop streams along rows of both `b` and the accumulator. Accumulates in float64 and rounds once into the
 * output; int32 products wrap like int32.
 * @module
 */
import { allocHost, type DType, type TypedArray } from "../../tensor/dtype.ts";
import { castInto } from "./copy.ts";
import { gatherInto, type HostOperand } from "./strided.ts";

/** a: [B, M, K] and b: [B, K, N] with any strides (batch strides may be 0) → a fresh contiguous [B, M, N] of `outDtype`. */
export function matmul(a: HostOperand, b: HostOperand, outDtype: DType): TypedArray {
  const [batches, m, k] = a.view.shape;
  const n = b.view.shape[2];
  if (
    a.view.shape.length !== 3 || b.view.shape.length !== 3 || b.view.shape[0] !== batches ||
    b.view.shape[1] !== k
  ) {
    throw new RangeError(
      `matmul: expected a [B, M, K] and b [B, K, N], got [${a.view.shape.join(", ")}] and [${
        b.view.shape.join(", ")
      }]`,
    );
  }
  const out = allocHost(outDtype, batches * m * n);
  if (out.length === 0) return out;
  const [sab, sam, sak] = a.view.strides;
  const [sbb, sbk, sbn] = b.view.strides;
  const am = new Float64Array(m * k);
  const bm = new Float64Array(k * n);
  const wrap = outDtype === "int32";
  const accI = new Int32Array(wrap ? n : 0);
  const accF = new Float64Array(wrap ? 0 : n);
  const row = outDtype === "bool" ? new Uint8Array(n) : null;
  let lastA = -1;
  let lastB = -1;
  for (let t = 0; t < batches; t++) {
    const offA = a.view.offset + t * sab;
    const offB = b.view.offset + t * sbb;
    if (offA !== lastA) gatherInto(a.data, { shape: [m, k], strides: [sam, sak], offset: offA }, am);
    if (offB !== lastB) gatherInto(b.data, { shape: [k, n], strides: [sbk, sbn], offset: offB }, bm);
    lastA = offA;
    lastB = offB;
    for (let i = 0; i < m; i++) {
      const arow = i * k;
      const at = (t * m + i) * n;
      if (wrap) {
        accI.fill(0);
        for (let p = 0; p < k; p++) {
          const aip = am[arow + p];
          const brow = p * n;
          // Int32Array stores wrap the (exact) sum of two int32 values
          for (let j = 0; j < n; j++) accI[j] += Math.imul(aip, bm[brow + j]);
        }
        out.set(accI, at);
        continue;
      }
      accF.fill(0);
      for (let p = 0; p < k; p++) {
        const aip = am[arow + p];
        const brow = p * n;
        for (let j = 0; j < n; j++) accF[j] += aip * bm[brow + j];
      }
      if (row) {
        castInto(accF, row, "bool");
        out.set(row, at);
      } else {
        (out as Float32Array).set(accF, at);
      }
    }
  }
  return out;
}
