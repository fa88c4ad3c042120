/**
 * Generates the depthwise convolution kernels: the forward (`src/shaders/depthwise_conv2d.wgsl`), the
 * input's gradient (`depthwise_conv2d_backward_input.wgsl`) and the weight's gradient, a per-tap workgroup
 * reduction (`depthwise_conv2d_backward_weight.wgsl`). Each is compiled per dtype, geometry and channel
 * multiplier (the window becomes WGSL constants, see {@linkcode windowConstants}); strides and offsets
 * travel in the parameter block.
 * @module
 */
import type { View, Window2d } from "../../backend.ts";
import type { DType } from "../../../tensor/dtype.ts";
import forwardTemplate from "../../../shaders/depthwise_conv2d.wgsl" with { type: "text" };
import inputTemplate from "../../../shaders/depthwise_conv2d_backward_input.wgsl" with { type: "text" };
import weightTemplate from "../../../shaders/depthwise_conv2d_backward_weight.wgsl" with { type: "text" };
import { enableF16, grid, ParamBlock, storageType, WORKGROUP } from "./layout.ts";
import type { KernelLaunch } from "./elementwise.ts";
import { windowConstants, windowKey } from "./im2col.ts";

/**
 * Invocations per workgroup of the weight-gradient kernel: a small workgroup keeps the final tree reduction
 * (one barrier per halving) cheap when there are many taps and few positions per tap.
 */
export const WEIGHT_GRAD_WORKGROUP = 64;
/**
 * Row segments one invocation of the weight-gradient kernel visits at most (each a few dozen loads and
 * multiply-adds), so a chunk is WEIGHT_GRAD_WORKGROUP · WEIGHT_GRAD_ITERS segments.
 */
export const WEIGHT_GRAD_ITERS = 64;

/** Outputs per invocation of the row-segment kernels at most (registers hold R sums and a row of inputs). */
export const SEGMENT_MAX = 8;

/**
 * The row-segment length for rows of `width` outputs: the rows split into ⌈width / SEGMENT_MAX⌉ equal
 * segments, the length rounded up to a multiple of `align` (segments then start at multiples of it).
 */
export function segmentLength(width: number, align: number, most = SEGMENT_MAX): number {
  const r = Math.ceil(width / Math.ceil(width / most));
  return Math.ceil(r / align) * align;
}

function strided4(pb: ParamBlock, prefix: string, v: View, dims = ["N", "C", "H", "W"]): void {
  pb.u32(`${prefix}_off`, v.offset);
  dims.forEach((d, k) => pb.u32(`${prefix}${d}`, v.strides[k]));
}

function weightStrides(pb: ParamBlock, w: View): void {
  pb.u32("w_off", w.offset).u32("wO", w.strides[0]).u32("wH", w.strides[2]).u32("wW", w.strides[3]);
}

function fill(
  template: string,
  dtype: DType,
  pb: ParamBlock,
  consts: string,
  m: number,
  wg = WORKGROUP,
): string {
  return template
    .replace("{{ENABLE}}", enableF16([dtype]))
    .replace("{{CONSTS}}", consts)
    .replace("{{M}}", String(m))
    .replace("{{PARAMS}}", pb.struct())
    .replaceAll("{{T}}", storageType(dtype))
    .replaceAll("{{WG}}", String(wg));
}

/**
 * The forward: x [N, C, H, W] and weight [C·M, 1, KH, KW] views (bias [C·M] or null) → a contiguous
 * [N, C·M, OH, OW], one invocation per output.
 */
export function depthwiseConv2dKernel(
  dtype: DType,
  x: View,
  weight: View,
  bias: View | null,
  win: Window2d,
): KernelLaunch {
  const [N, C] = x.shape;
  const OC = weight.shape[0];
  const m = OC / C;
  const r = segmentLength(win.out[1], 1);
  const n = N * OC * win.out[0] * Math.ceil(win.out[1] / r);
  const pb = new ParamBlock().u32("n", n);
  strided4(pb, "x", x);
  weightStrides(pb, weight);
  if (bias) pb.u32("b_off", bias.offset).u32("bS", bias.strides[0]);
  const code = () =>
    fill(forwardTemplate, dtype, pb, windowConstants(win, x.shape), m)
      .replace("{{R}}", String(r))
      .replace("{{BODY}}", forwardBody(win, r))
      .replace(
        "{{BIAS_BINDING}}",
        bias ? "@group(0) @binding(2) var<storage, read> b: array<{{T}}>;" : "",
      )
      .replace("{{OUT_BINDING}}", bias ? "3" : "2")
      .replace("{{PARAM_BINDING}}", bias ? "4" : "3")
      .replace("{{BIAS}}", bias ? "f32(b[p.b_off + o * p.bS])" : "0.0")
      .replaceAll("{{T}}", storageType(dtype));
  return {
    key: `depthwiseConv2d|${dtype}|${m}|${r}|${bias ? "b" : ""}|${windowKey(win, x.shape)}`,
    code,
    params: pb.words(),
    groups: grid(n),
  };
}

/** The forward's segment loop written out: R sums, and per kernel row SPAN loaded columns, as scalars. */
function forwardBody(win: Window2d, r: number): string {
  const [KH, KW] = win.kernel;
  const [, SW] = win.stride;
  const [DH, DW] = win.dilation;
  const span = (r - 1) * SW + (KW - 1) * DW + 1;
  const lines: string[] = [];
  for (let j = 0; j < r; j++) lines.push(`  var acc${j} = start;`);
  for (let kh = 0; kh < KH; kh++) {
    lines.push(`  {`);
    lines.push(`    let ih = i32(oh * SH) - i32(PH) + ${kh * DH};`);
    lines.push(`    if (ih >= 0 && ih < i32(H)) {`);
    lines.push(`      let rb = xbase + u32(ih) * p.xH;`);
    for (let c = 0; c < span; c++) {
      lines.push(
        `      let r${c} = select(0.0, f32(x[rb + u32(clamp(iw0 + ${c}, 0, i32(W) - 1)) * p.xW]), ` +
          `iw0 + ${c} >= 0 && iw0 + ${c} < i32(W));`,
      );
    }
    for (let kw = 0; kw < KW; kw++) {
      lines.push(`      let w${kw} = f32(w[wbase + ${kh}u * p.wH + ${kw}u * p.wW]);`);
      for (let j = 0; j < r; j++) lines.push(`      acc${j} += w${kw} * r${j * SW + kw * DW};`);
    }
    lines.push(`    }`);
    lines.push(`  }`);
  }
  lines.push(`  let obase = ((n * OC + o) * OH + oh) * OW + ow0;`);
  for (let j = 0; j < r; j++) lines.push(`  if (ow0 + ${j}u < OW) { out[obase + ${j}u] = {{T}}(acc${j}); }`);
  return lines.join("\n");
}

/**
 * The input's gradient: grad [N, C·M, OH, OW] and weight [C·M, 1, KH, KW] views → a contiguous `inShape`
 * [N, C, H, W], one invocation per pixel.
 */
export function depthwiseConv2dBackwardInputKernel(
  dtype: DType,
  grad: View,
  weight: View,
  inShape: readonly number[],
  win: Window2d,
): KernelLaunch {
  const m = weight.shape[0] / inShape[1];
  const r = segmentLength(inShape[3], win.stride[1]);
  const n = inShape[0] * inShape[1] * inShape[2] * Math.ceil(inShape[3] / r);
  const pb = new ParamBlock().u32("n", n);
  strided4(pb, "g", grad, ["N", "O", "H", "W"]);
  weightStrides(pb, weight);
  return {
    key: `depthwiseConv2dBackwardInput|${dtype}|${m}|${r}|${windowKey(win, inShape)}`,
    code: () =>
      fill(inputTemplate, dtype, pb, windowConstants(win, inShape), m)
        .replace("{{R}}", String(r))
        .replace("{{BODY}}", backwardInputBody(win, r, m))
        .replaceAll("{{T}}", storageType(dtype)),
    params: pb.words(),
    groups: grid(n),
  };
}

/**
 * The input gradient's segment written out: pixel j of the segment meets tap kw at output column
 * ow0 + q with q = (j + PW − kw·DW)/SW when that division is exact (ow0 = w0/SW, w0 a multiple of SW).
 */
function backwardInputBody(win: Window2d, r: number, m: number): string {
  const [KH, KW] = win.kernel;
  const [, SW] = win.stride;
  const [, PW] = win.padding;
  const [DH, DW] = win.dilation;
  const pairs: { j: number; kw: number; q: number }[] = [];
  for (let j = 0; j < r; j++) {
    for (let kw = 0; kw < KW; kw++) {
      const num = j + PW - kw * DW;
      if (((num % SW) + SW) % SW === 0) pairs.push({ j, kw, q: num / SW });
    }
  }
  const qs = [...new Set(pairs.map((p) => p.q))].sort((a, b) => a - b);
  const name = (q: number) => (q < 0 ? `gm${-q}` : `g${q}`);
  const lines: string[] = [];
  for (let j = 0; j < r; j++) lines.push(`  var acc${j} = 0.0;`);
  for (let mm = 0; mm < m; mm++) {
    lines.push(`  {`);
    lines.push(`    let o = c * M + ${mm}u;`);
    lines.push(`    let gbase = p.g_off + n * p.gN + o * p.gO;`);
    lines.push(`    let wbase = p.w_off + o * p.wO;`);
    for (let kh = 0; kh < KH; kh++) {
      // the output row whose tap kh reads pixel row ih: oh·SH = ih + PH − kh·DH
      lines.push(`    {`);
      lines.push(`      let hh = i32(ih + PH) - ${kh * DH};`);
      lines.push(`      if (hh >= 0 && u32(hh) % SH == 0u && u32(hh) / SH < OH) {`);
      lines.push(`        let gb = gbase + (u32(hh) / SH) * p.gH;`);
      for (const q of qs) {
        lines.push(
          `        let ${
            name(q)
          } = select(0.0, f32(g[gb + u32(clamp(ow0 + ${q}, 0, i32(OW) - 1)) * p.gW]), ` +
            `ow0 + ${q} >= 0 && ow0 + ${q} < i32(OW));`,
        );
      }
      for (let kw = 0; kw < KW; kw++) {
        const mine = pairs.filter((p) => p.kw === kw);
        if (mine.length === 0) continue;
        lines.push(`        let w${kw} = f32(w[wbase + ${kh}u * p.wH + ${kw}u * p.wW]);`);
        for (const p of mine) lines.push(`        acc${p.j} += w${kw} * ${name(p.q)};`);
      }
      lines.push(`      }`);
      lines.push(`    }`);
    }
    lines.push(`  }`);
  }
  lines.push(`  let obase = ((n * C + c) * H + ih) * W + iw0;`);
  for (let j = 0; j < r; j++) lines.push(`  if (iw0 + ${j}u < W) { out[obase + ${j}u] = {{T}}(acc${j}); }`);
  return lines.join("\n");
}

/** Outputs per row segment of the weight-gradient kernel at most (it also holds KH·KW sums in registers). */
export const WEIGHT_GRAD_SEGMENT = 4;

/** How the weight-gradient reduction is split: chunks per output channel and row segments per chunk. */
export function weightGradChunks(rows: number, channels = 1): { chunks: number; chunk: number } {
  const most = WEIGHT_GRAD_WORKGROUP * WEIGHT_GRAD_ITERS;
  // enough workgroups for every thread when there are few channels, never an empty one
  const spread = Math.min(Math.ceil(16 / channels), Math.ceil(rows / WEIGHT_GRAD_WORKGROUP));
  const chunks = Math.max(1, Math.ceil(rows / most), spread);
  return { chunks, chunk: Math.ceil(rows / chunks) };
}

/**
 * The weight's gradient: grad [N, C·M, OH, OW] and x [N, C, H, W] views → partial sums [C·M·KH·KW, chunks]
 * of `partialDtype` (the gradient itself when there is one chunk), one workgroup per (output channel, chunk).
 */
export function depthwiseConv2dBackwardWeightKernel(
  dtype: DType,
  partialDtype: DType,
  grad: View,
  x: View,
  win: Window2d,
): KernelLaunch & { chunks: number } {
  const [N, C] = x.shape;
  const OC = grad.shape[1];
  const m = OC / C;
  const r = segmentLength(win.out[1], 1, WEIGHT_GRAD_SEGMENT);
  const rows = N * win.out[0] * Math.ceil(win.out[1] / r);
  const { chunks, chunk } = weightGradChunks(rows, OC);
  const taps = win.kernel[0] * win.kernel[1];
  const pb = new ParamBlock();
  strided4(pb, "g", grad, ["N", "O", "H", "W"]);
  strided4(pb, "x", x);
  const wg = WEIGHT_GRAD_WORKGROUP;
  const code = () =>
    fill(weightTemplate, dtype, pb, windowConstants(win, x.shape), m, wg)
      .replace("{{R}}", String(r))
      .replace("{{ROWS}}", String(rows))
      .replace("{{CHUNK}}", String(chunk))
      .replace("{{CHUNKS}}", String(chunks))
      .replace("{{SUMS}}", String(taps * wg))
      .replace("{{DECLARE}}", Array.from({ length: taps }, (_, k) => `  var s${k} = 0.0;`).join("\n"))
      .replace("{{BODY}}", backwardWeightBody(win, r))
      .replace(
        "{{STORE_SUMS}}",
        Array.from({ length: taps }, (_, k) => `  sums[${k}u * ${wg}u + lid] = s${k};`).join("\n"),
      )
      .replaceAll("{{P}}", storageType(partialDtype))
      .replaceAll("{{T}}", storageType(dtype));
  return {
    key: `depthwiseConv2dBackwardWeight|${dtype}|${partialDtype}|${m}|${N}|${r}|${chunks}|${
      windowKey(win, x.shape)
    }`,
    code,
    params: pb.words(),
    groups: grid(OC * chunks, 1),
    chunks,
  };
}

/** The weight gradient's row segment written out: R grad values, per kernel row SPAN input columns. */
function backwardWeightBody(win: Window2d, r: number): string {
  const [KH, KW] = win.kernel;
  const [, SW] = win.stride;
  const [DH, DW] = win.dilation;
  const span = (r - 1) * SW + (KW - 1) * DW + 1;
  const ind = "      ";
  const lines: string[] = [];
  for (let j = 0; j < r; j++) {
    lines.push(
      `${ind}let g${j} = select(0.0, f32(g[gb + min(ow0 + ${j}u, OW - 1u) * p.gW]), ow0 + ${j}u < OW);`,
    );
  }
  for (let kh = 0; kh < KH; kh++) {
    lines.push(`${ind}{`);
    lines.push(`${ind}  let ih = i32(oh * SH) - i32(PH) + ${kh * DH};`);
    lines.push(`${ind}  if (ih >= 0 && ih < i32(H)) {`);
    lines.push(`${ind}    let rb = xbase + u32(ih) * p.xH;`);
    for (let col = 0; col < span; col++) {
      lines.push(
        `${ind}    let r${col} = select(0.0, f32(x[rb + u32(clamp(iw0 + ${col}, 0, i32(W) - 1)) * p.xW]), ` +
          `iw0 + ${col} >= 0 && iw0 + ${col} < i32(W));`,
      );
    }
    for (let kw = 0; kw < KW; kw++) {
      const terms = Array.from({ length: r }, (_, j) => `g${j} * r${j * SW + kw * DW}`);
      lines.push(`${ind}    s${kh * KW + kw} += ${terms.join(" + ")};`);
    }
    lines.push(`${ind}  }`);
    lines.push(`${ind}}`);
  }
  return lines.join("\n");
}
