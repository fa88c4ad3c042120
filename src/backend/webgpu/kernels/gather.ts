/**
 * Generates `gather` and its adjoint `scatterAdd` from `src/shaders/gather.wgsl` and
 * `src/shaders/scatter_add.wgsl`.
 * @module
 */
import type { View } from "../../backend.ts";
import type { DType } from "../../../tensor/dtype.ts";
import { numel } from "../../../tensor/shape.ts";
import gatherTemplate from "../../../shaders/gather.wgsl" with { type: "text" };
import scatterTemplate from "../../../shaders/scatter_add.wgsl" with { type: "text" };
import { enableF16, grid, ParamBlock, storageType, WORKGROUP } from "./layout.ts";
import type { KernelLaunch } from "./elementwise.ts";

/** out[p] = x[p with coordinate `dim` replaced by index[p]] (out has index's shape). */
export function gatherKernel(dtype: DType, x: View, dim: number, index: View): KernelLaunch {
  const rank = index.shape.length;
  const n = numel(index.shape);
  const pb = new ParamBlock().u32("n", n).u32("i_off", index.offset).u32("x_off", x.offset)
    .u32("xdim", x.shape[dim]).u32("xs_dim", x.strides[dim]);
  for (let d = 0; d < rank; d++) pb.u32(`d${d}`, index.shape[d]).u32(`is${d}`, index.strides[d]);
  for (let d = 0; d < rank; d++) if (d !== dim) pb.u32(`xs${d}`, x.strides[d]);
  const key = `gather|${dtype}|${rank}|${dim}`;
  const code = () => {
    const lines: string[] = [];
    for (let d = rank - 1; d >= 0; d--) {
      lines.push(d > 0 ? `  let c${d} = rem % p.d${d}; rem = rem / p.d${d};` : `  let c0 = rem;`);
      lines.push(`  io += c${d} * p.is${d};`);
      if (d !== dim) lines.push(`  xo += c${d} * p.xs${d};`);
    }
    return gatherTemplate
      .replace("{{ENABLE}}", enableF16([dtype]))
      .replaceAll("{{T}}", storageType(dtype))
      .replace("{{PARAMS}}", pb.struct())
      .replaceAll("{{WG}}", String(WORKGROUP))
      .replace("{{INDEX}}", lines.join("\n"));
  };
  return { key, code, params: pb.words(), groups: grid(n) };
}

/** The adjoint of gather into a zeroed contiguous output of `outShape` (float dtypes). */
export function scatterAddKernel(
  dtype: DType,
  src: View,
  dim: number,
  index: View,
  outShape: readonly number[],
): KernelLaunch {
  const rank = outShape.length;
  const n = numel(outShape);
  const pb = new ParamBlock().u32("n", n).u32("i_off", index.offset).u32("s_off", src.offset)
    .u32("len", index.shape[dim]).u32("is_dim", index.strides[dim]).u32("ss_dim", src.strides[dim])
    .u32("outdim", outShape[dim]);
  for (let d = 0; d < rank; d++) pb.u32(`d${d}`, outShape[d]);
  for (let d = 0; d < rank; d++) {
    if (d !== dim) {
      pb.u32(`e${d}`, index.shape[d]).u32(`is${d}`, index.strides[d]).u32(`ss${d}`, src.strides[d]);
    }
  }
  const key = `scatterAdd|${dtype}|${rank}|${dim}`;
  const code = () => {
    const lines: string[] = [];
    for (let d = rank - 1; d >= 0; d--) {
      lines.push(d > 0 ? `  let c${d} = rem % p.d${d}; rem = rem / p.d${d};` : `  let c0 = rem;`);
      if (d === dim) lines.push(`  tgt = c${d};`);
      else {
        lines.push(`  if (c${d} >= p.e${d}) { inside = false; }`);
        lines.push(`  io += c${d} * p.is${d};`, `  so += c${d} * p.ss${d};`);
      }
    }
    return scatterTemplate
      .replace("{{ENABLE}}", enableF16([dtype]))
      .replaceAll("{{T}}", storageType(dtype))
      .replace("{{PARAMS}}", pb.struct())
      .replaceAll("{{WG}}", String(WORKGROUP))
      .replace("{{INDEX}}", lines.join("\n"));
  };
  return { key, code, params: pb.words(), groups: grid(n) };
}
