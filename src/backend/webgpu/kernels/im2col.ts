/**
 * Generates the sliding-window kernels of convolution: im2col (`src/shaders/im2col.wgsl`) and its adjoint
 * col2im (`src/shaders/col2im.wgsl`), compiled per dtype and window geometry (see
 * {@linkcode windowConstants}); the batch size, strides and offsets travel in the parameter block.
 * @module
 */
import type { Im2colLayout, View, Window2d } from "../../backend.ts";
import type { DType } from "../../../tensor/dtype.ts";
import im2colTemplate from "../../../shaders/im2col.wgsl" with { type: "text" };
import col2imTemplate from "../../../shaders/col2im.wgsl" with { type: "text" };
import { enableF16, grid, ParamBlock, storageType, WORKGROUP } from "./layout.ts";
import type { KernelLaunch } from "./elementwise.ts";

/**
 * WGSL constants of a window over [*, C, H, W] planes: the kernels are compiled per geometry, so that
 * divisions by sizes and strides become multiplications (llvmpipe has no vector integer division) and the
 * kernel loops unroll. A network has few distinct layers, hence few pipelines.
 */
export function windowConstants(win: Window2d, plane: readonly number[]): string {
  const [, C, H, W] = plane;
  const values: Record<string, number> = {
    C,
    H,
    W,
    KH: win.kernel[0],
    KW: win.kernel[1],
    SH: win.stride[0],
    SW: win.stride[1],
    PH: win.padding[0],
    PW: win.padding[1],
    DH: win.dilation[0],
    DW: win.dilation[1],
    OH: win.out[0],
    OW: win.out[1],
  };
  return Object.entries(values).map(([k, v]) => `const ${k} = ${v}u;`).join("\n");
}

/** A cache key part naming a window geometry over [*, C, H, W] planes. */
export function windowKey(win: Window2d, plane: readonly number[]): string {
  return [plane.slice(1), win.kernel, win.stride, win.padding, win.dilation, win.out].map((v) => v.join("x"))
    .join("|");
}

function fill(template: string, dtype: DType, pb: ParamBlock, consts: string): string {
  return template
    .replace("{{ENABLE}}", enableF16([dtype]))
    .replace("{{CONSTS}}", consts)
    .replaceAll("{{T}}", storageType(dtype))
    .replace("{{PARAMS}}", pb.struct())
    .replaceAll("{{WG}}", String(WORKGROUP));
}

/**
 * im2col of x (a [N, C, H, W] view of a `dtype` storage) into a contiguous [N, C·KH·KW, OH·OW], or
 * [N, groups·rows, OH·OW] laid out by `layout`.
 */
export function im2colKernel(dtype: DType, x: View, win: Window2d, layout?: Im2colLayout): KernelLaunch {
  const [N, C] = x.shape;
  const G = layout?.groups ?? 1;
  const rows = layout?.rows ?? C * win.kernel[0] * win.kernel[1];
  const ones = layout?.ones ?? false;
  const L = layout?.columns ?? win.out[0] * win.out[1];
  // 4 columns per invocation (one vector store), else 4 rows (scalar stores: a quarter of the index
  // arithmetic of one element per invocation; 1.6x faster on lavapipe for L = 121)
  const V = L % 4 === 0 ? 4 : 1;
  const RV = V === 1 && rows % 4 === 0 ? 4 : 1;
  const n = (N * G * rows * L) / (V * RV);
  const pb = new ParamBlock().u32("n", n).u32("x_off", x.offset);
  ["sN", "sC", "sH", "sW"].forEach((name, d) => pb.u32(name, x.strides[d]));
  const T = storageType(dtype);
  const code = () =>
    fill(im2colTemplate, dtype, pb, windowConstants(win, x.shape))
      .replace("{{OUT_T}}", V === 4 ? `vec4<${T}>` : T)
      .replace("{{G}}", String(G))
      .replace("{{KP}}", String(rows))
      .replace("{{ONES}}", String(ones))
      .replace("{{V}}", String(V))
      .replace("{{RV}}", String(RV))
      .replace("{{LC}}", String(L))
      .replace(
        "{{STORE}}",
        V === 4 ? `    cols[i] = vec4<${T}>(v[0], v[1], v[2], v[3]);` : "    cols[row * L + l] = v[0];",
      );
  return {
    key: `im2col|${dtype}|${windowKey(win, x.shape)}|${G}|${rows}|${ones}|${L}`,
    code,
    params: pb.words(),
    groups: grid(n),
  };
}

/** col2im of cols (a [N, C·KH·KW, OH·OW] view) into a contiguous `inShape` [N, C, H, W]. */
export function col2imKernel(
  dtype: DType,
  cols: View,
  inShape: readonly number[],
  win: Window2d,
): KernelLaunch {
  const n = inShape[0] * inShape[1] * inShape[2] * inShape[3];
  const pb = new ParamBlock().u32("n", n).u32("c_off", cols.offset);
  ["sN", "sR", "sL"].forEach((name, d) => pb.u32(name, cols.strides[d]));
  return {
    key: `col2im|${dtype}|${windowKey(win, inShape)}`,
    code: () => fill(col2imTemplate, dtype, pb, windowConstants(win, inShape)),
    params: pb.words(),
    groups: grid(n),
  };
}
