/**
 * Generates batch normalisation's two kernels: the per-channel reduction (`src/shaders/batch_norm_reduce.wgsl`:
 * the batch statistics forward, Σg and Σg·(x − μ) backward) and the per-channel affine map
 * (`src/shaders/channel_affine.wgsl`: the normalisation itself, and the input's gradient). Compiled per dtype,
 * channel count and row length; strides and offsets travel in the parameter block.
 * @module
 */
import type { View } from "../../backend.ts";
import type { DType } from "../../../tensor/dtype.ts";
import reduceTemplate from "../../../shaders/batch_norm_reduce.wgsl" with { type: "text" };
import affineTemplate from "../../../shaders/channel_affine.wgsl" with { type: "text" };
import { enableF16, grid, ParamBlock, storageType, WORKGROUP } from "./layout.ts";
import type { KernelLaunch } from "./elementwise.ts";

/** Invocations per workgroup of the reduction. */
export const BATCH_NORM_REDUCE_WORKGROUP = 256;
/** Positions one invocation of the reduction visits at most (far below llvmpipe's loop limit). */
export const BATCH_NORM_REDUCE_ITERS = 2048;
/** Workgroups the reduction aims for at least, splitting channels into chunks (so that every thread works). */
const MIN_WORKGROUPS = 16;

/** An [N, C, L] view's parameter fields under `prefix`. */
function strided3(pb: ParamBlock, prefix: string, v: View): void {
  pb.u32(`${prefix}_off`, v.offset).u32(`${prefix}N`, v.strides[0]).u32(`${prefix}C`, v.strides[1])
    .u32(`${prefix}L`, v.strides[2]);
}

/** How a channel's N·L positions are split: chunks per channel and positions per chunk. */
export function batchNormChunks(channels: number, positions: number): { chunks: number; chunk: number } {
  const wg = BATCH_NORM_REDUCE_WORKGROUP;
  const byLimit = Math.ceil(positions / (wg * BATCH_NORM_REDUCE_ITERS));
  const bySpread = Math.min(Math.ceil(MIN_WORKGROUPS / channels), Math.ceil(positions / wg));
  const chunks = Math.max(1, byLimit, bySpread);
  return { chunks, chunk: Math.ceil(positions / chunks) };
}

/**
 * The per-channel sums of x [N, C, L] (and grad, of the same shape, when given) into float32 partials
 * [3, C, chunks] (see the shader for what each row holds); `shift` [C] float32 or null.
 */
export function batchNormReduceKernel(
  dtype: DType,
  x: View,
  shift: View | null,
  grad: View | null,
): KernelLaunch & { chunks: number } {
  const [N, C, L] = x.shape;
  const positions = N * L;
  const { chunks, chunk } = batchNormChunks(C, positions);
  const pb = new ParamBlock().u32("positions", positions);
  strided3(pb, "x", x);
  if (shift) pb.u32("s_off", shift.offset).u32("sC", shift.strides[0]);
  if (grad) strided3(pb, "g", grad);
  const T = storageType(dtype);
  const bindings: string[] = [];
  let b = 1;
  if (shift) bindings.push(`@group(0) @binding(${b++}) var<storage, read> shift: array<f32>;`);
  if (grad) bindings.push(`@group(0) @binding(${b++}) var<storage, read> g: array<${T}>;`);
  bindings.push(`@group(0) @binding(${b++}) var<storage, read_write> partial: array<f32>;`);
  const code = () =>
    reduceTemplate
      .replace("{{ENABLE}}", enableF16([dtype]))
      .replace("{{BINDINGS}}", bindings.join("\n"))
      .replace("{{C}}", String(C))
      .replace("{{L}}", String(L))
      .replace("{{CHUNK}}", String(chunk))
      .replace("{{CHUNKS}}", String(chunks))
      .replace("{{GRAD}}", String(grad !== null))
      .replace("{{HAS_SHIFT}}", String(shift !== null))
      .replace("{{PARAMS}}", pb.struct())
      .replace("{{PARAM_BINDING}}", String(b))
      .replace(
        "{{SHIFT}}",
        shift ? "let s = shift[p.s_off + c * p.sC];" : "let s = f32(x[p.x_off + c * p.xC]);",
      )
      .replace(
        "{{ACCUMULATE}}",
        grad
          ? "let gv = f32(g[p.g_off + n * p.gN + c * p.gC + l * p.gL]);\n      acc += vec2<f32>(gv, gv * d);"
          : "acc += vec2<f32>(d, d * d);",
      )
      .replaceAll("{{T}}", T)
      .replaceAll("{{WG}}", String(BATCH_NORM_REDUCE_WORKGROUP));
  return {
    key: `batchNormReduce|${dtype}|${C}|${L}|${chunks}|${chunk}|${shift ? "s" : ""}|${grad ? "g" : ""}`,
    code,
    params: pb.words(),
    groups: grid(C * chunks, 1),
    chunks,
  };
}

/** Whether an [N, C, L] view walks each row contiguously from a 4-aligned start (vector loads are safe). */
function rowsAligned(v: View): boolean {
  return v.strides[2] === 1 && v.offset % 4 === 0 && v.strides[0] % 4 === 0 && v.strides[1] % 4 === 0;
}

/**
 * out = coef[0]·x + coef[1] (+ coef[2]·y) per channel, x and y [N, C, L] views, coef float32 [2 or 3, C]
 * contiguous; the output is a contiguous [N, C, L] of `dtype`.
 */
export function channelAffineKernel(dtype: DType, x: View, y: View | null): KernelLaunch {
  const [N, C, L] = x.shape;
  const V = L % 4 === 0 && rowsAligned(x) && (!y || rowsAligned(y)) ? 4 : 1;
  const n = (N * C * L) / V;
  const pb = new ParamBlock().u32("n", n);
  strided3(pb, "x", x);
  if (y) strided3(pb, "y", y);
  const T = storageType(dtype);
  const outType = V === 4 ? `vec4<${T}>` : T;
  const bindings = y
    ? [
      `@group(0) @binding(2) var<storage, read> y: array<${T}>;`,
      `@group(0) @binding(3) var<storage, read_write> out: array<${outType}>;`,
    ]
    : [`@group(0) @binding(2) var<storage, read_write> out: array<${outType}>;`];
  const addY = y
    ? `let ys = coef[2u * C + c];
  for (var k = 0u; k < V; k++) {
    v[k] += ys * f32(y[p.y_off + n * p.yN + c * p.yC + (l + k) * p.yL]);
  }`
    : "";
  const store = V === 4
    ? `out[i] = vec4<${T}>(${T}(v[0]), ${T}(v[1]), ${T}(v[2]), ${T}(v[3]));`
    : `out[i] = ${T}(v[0]);`;
  const code = () =>
    affineTemplate
      .replace("{{ENABLE}}", enableF16([dtype]))
      .replace("{{BINDINGS}}", bindings.join("\n"))
      .replace("{{C}}", String(C))
      .replace("{{L}}", String(L))
      .replace("{{V}}", String(V))
      .replace("{{Y}}", String(y !== null))
      .replace("{{PARAMS}}", pb.struct())
      .replace("{{PARAM_BINDING}}", String(y ? 4 : 3))
      .replace("{{ADD_Y}}", addY)
      .replace("{{STORE}}", store)
      .replaceAll("{{T}}", T)
      .replaceAll("{{WG}}", String(WORKGROUP));
  return {
    key: `channelAffine|${dtype}|${C}|${L}|${V}|${y ? "y" : ""}`,
    code,
    params: pb.words(),
    groups: grid(n),
  };
}
