/**
 * Generates reduction kernels (sum, prod, max, min, argmax, argmin) from `src/shaders/reduce.wgsl`.
 * @module
 */
import type { ReduceOp, View } from "../../backend.ts";
import type { DType } from "../../../tensor/dtype.ts";
import { numel } from "../../../tensor/shape.ts";
import template from "../../../shaders/reduce.wgsl" with { type: "text" };
import common from "../../../shaders/common.wgsl" with { type: "text" };
import {
  collapse,
  computeType,
  enableF16,
  grid,
  ParamBlock,
  storageType,
  storeAs,
  WORKGROUP,
} from "./layout.ts";
import type { KernelLaunch } from "./elementwise.ts";

/** A reduction of `axes` of `view` (of dtype `inDtype`) into a contiguous output of `outDtype`. */
export function reduceKernel(
  op: ReduceOp,
  inDtype: DType,
  view: View,
  axes: readonly number[],
  outDtype: DType,
  chunking?: { chunk: number; groups: number },
): KernelLaunch {
  const keptDims = view.shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const kept = collapse(keptDims.map((d) => view.shape[d]), [keptDims.map((d) => view.strides[d])]);
  const red = collapse(axes.map((d) => view.shape[d]), [axes.map((d) => view.strides[d])]);
  const nout = numel(kept.shape);
  const r = numel(red.shape);
  const perRow = chunking || (r >= 256 && (nout <= 16384 || r > 16384)) ? WORKGROUP : 1;
  const g = chunking?.groups ?? 1;

  const pb = new ParamBlock().u32("nout", nout).u32("r", r).u32("off", view.offset)
    .u32("g", g).u32("chunk", chunking?.chunk ?? r);
  kept.shape.forEach((s, d) => pb.u32(`k${d}`, s).u32(`ks${d}`, kept.strides[0][d]));
  red.shape.forEach((s, d) => pb.u32(`q${d}`, s).u32(`qs${d}`, red.strides[0][d]));

  const isArg = op === "argmax" || op === "argmin";
  const partialArgs = isArg && chunking !== undefined;
  const accT = op === "sum" || op === "prod" ? computeType(outDtype) : computeType(inDtype);
  const key = `reduce|${op}|${inDtype}|${outDtype}|${kept.shape.length}|${red.shape.length}|${
    red.shape.length === 1 && red.strides[0][0] === 1 ? "c" : "s"
  }|${perRow}|${chunking ? "chunked" : "whole"}`;

  const code = () => {
    const keptIndex = ["    var ro = o;"];
    for (let d = kept.shape.length - 1; d >= 0; d--) {
      keptIndex.push(`    base += (ro % p.k${d}) * p.ks${d}; ro = ro / p.k${d};`);
    }
    let reducedIndex: string;
    if (red.shape.length === 1 && red.strides[0][0] === 1) reducedIndex = "  off = r;";
    else {
      const lines: string[] = [];
      for (let d = red.shape.length - 1; d >= 0; d--) {
        lines.push(`  off += (r % p.q${d}) * p.qs${d}; r = r / p.q${d};`);
      }
      reducedIndex = lines.join("\n");
    }
    const load = `${accT}(x[base + reduced_offset(r)])`;
    const fmax = accT === "f32" ? "dg_max" : "max";
    const fmin = accT === "f32" ? "dg_min" : "min";
    const combine: Record<ReduceOp, string> = {
      sum: "acc = acc + v;",
      prod: "acc = acc * v;",
      max: `acc = ${fmax}(acc, v);`,
      min: `acc = ${fmin}(acc, v);`,
      argmax: "if (better(v, r, acc, best)) { acc = v; best = r; }",
      argmin: "if (better(v, r, acc, best)) { acc = v; best = r; }",
    };
    const init: Record<ReduceOp, string> = {
      sum: `${accT}(0)`,
      prod: `${accT}(1)`,
      max: accT === "f32" ? "dg_neg_inf()" : accT === "i32" ? "bitcast<i32>(0x80000000u)" : "0u",
      min: accT === "f32" ? "dg_pos_inf()" : accT === "i32" ? "bitcast<i32>(0x7fffffffu)" : "0xffffffffu",
      argmax: `${accT}(0)`,
      argmin: `${accT}(0)`,
    };
    const cmp = op === "argmin" ? "<" : ">";
    const better = [
      "  if (i1 == 0xffffffffu) { return false; }",
      "  if (i2 == 0xffffffffu) { return true; }",
      ...(accT === "f32"
        ? [
          "  let n1 = dg_isnan(v1);",
          "  let n2 = dg_isnan(v2);",
          "  if (n1 || n2) { if (n1 && n2) { return i1 < i2; } return n1; }",
        ]
        : []),
      "  if (v1 == v2) { return i1 < i2; }",
      `  return v1 ${cmp} v2;`,
    ].join("\n");
    let wgCombine = "";
    if (perRow > 1) {
      const merge: Record<ReduceOp, string> = {
        sum: "shared_val[lid] = shared_val[lid] + shared_val[lid + s];",
        prod: "shared_val[lid] = shared_val[lid] * shared_val[lid + s];",
        max: `shared_val[lid] = ${fmax}(shared_val[lid], shared_val[lid + s]);`,
        min: `shared_val[lid] = ${fmin}(shared_val[lid], shared_val[lid + s]);`,
        argmax:
          "if (better(shared_val[lid + s], shared_idx[lid + s], shared_val[lid], shared_idx[lid])) { shared_val[lid] = shared_val[lid + s]; shared_idx[lid] = shared_idx[lid + s]; }",
        argmin: "",
      };
      merge.argmin = merge.argmax;
      wgCombine = [
        "  shared_val[lid] = acc;",
        "  shared_idx[lid] = best;",
        "  workgroupBarrier();",
        `  for (var s = ${perRow / 2}u; s > 0u; s = s >> 1u) {`,
        `    if (lid < s) { ${merge[op]} }`,
        "    workgroupBarrier();",
        "  }",
        "  acc = shared_val[0];",
        "  best = shared_idx[0];",
      ].join("\n");
    }
    // chunked arg-reductions store each chunk's best value (into out) and its index (into idx_out)
    const store = partialArgs
      ? storeAs("acc", accT, outDtype)
      : isArg
      ? "i32(best)"
      : storeAs("acc", accT, outDtype);
    return template
      .replace("{{ENABLE}}", enableF16([inDtype, outDtype]))
      .replace("{{COMMON}}", common)
      .replace("{{IN_T}}", storageType(inDtype))
      .replace("{{OUT_T}}", storageType(outDtype))
      .replace("{{PARAMS}}", pb.struct())
      .replaceAll("{{ACC_T}}", accT)
      .replaceAll("{{WG}}", String(WORKGROUP))
      .replace("{{REDUCED_INDEX}}", reducedIndex)
      .replace("{{BETTER}}", better)
      .replace("{{ROWS_PER_GROUP}}", String(perRow > 1 ? 1 : WORKGROUP))
      .replace("{{ROW_LANE}}", perRow > 1 ? "0u" : "lid")
      .replace("{{THREAD_IN_ROW}}", perRow > 1 ? "lid" : "0u")
      .replace("{{KEPT_INDEX}}", keptIndex.join("\n"))
      .replace("{{INIT}}", init[op])
      .replace("{{LOAD}}", load)
      .replace("{{ACCUMULATE}}", "      " + combine[op])
      .replaceAll("{{THREADS_PER_OUTPUT}}", String(perRow))
      .replace("{{WORKGROUP_COMBINE}}", wgCombine)
      .replace("{{STORE}}", store)
      .replace(
        "{{IDX_BINDING}}",
        partialArgs ? "@group(0) @binding(2) var<storage, read_write> idx_out: array<i32>;" : "",
      )
      .replace("{{PARAM_BINDING}}", partialArgs ? "3" : "2")
      .replace("{{IDX_STORE}}", partialArgs ? "    idx_out[flat] = i32(best);" : "");
  };
  const groups = perRow > 1 ? grid(nout * g, 1) : grid(nout);
  return { key, code, params: pb.words(), groups };
}
