/**
 * How a tensor shows itself, in the spirit of lovely-tensors: shape, dtype, device, autograd state,
 * min/max/mean/std, NaN and infinity counts (in red), a histogram, the values of small tensors, and a
 * heat-map or image. One read of the data; `text/plain` carries the same on one line.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { hostBytes, type TypedArray } from "../tensor/dtype.ts";
import { escapeHtml, fmtBytes, fmtCount, fmtNum, MONO } from "./format.ts";
import type { MimeBundle } from "./jupyter.ts";
import { histogramSvg, sparkline } from "./sparkline.ts";
import { type TensorStats, tensorStats } from "./tensor_stats.ts";
import { drawTensor } from "./tensor_image.ts";

/** Tensors with at most this many elements show their values in HTML. */
export const HTML_VALUES_MAX = 100;
/** Tensors with at most this many elements show their values in the one-line text. */
export const TEXT_VALUES_MAX = 10;

/** Options of {@linkcode tensorBundle}. */
export interface TensorDisplayOptions {
  /** Draw a heat-map or image for 2-D and image-shaped tensors (default true). */
  image?: boolean;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function gradText(t: Tensor): string | null {
  if (t.gradFn) return `gradFn=${t.gradFn.name}`;
  if (t.requiresGrad) return t.grad && !t.grad.isDisposed ? "requiresGrad, has .grad" : "requiresGrad";
  return null;
}

function valueText(v: number, isBool: boolean): string {
  return isBool ? (v ? "true" : "false") : fmtNum(v);
}

/**
 * The elements as nested brackets, e.g. `[[1, 2], [3, 4]]`, on one line; or aligned on several lines
 * (`multiline`), as PyTorch prints them.
 *
 * @example
 * ```ts
 * import { formatValues } from "./tensor_display.ts";
 * formatValues(new Float32Array([1, 2, 3, 4]), [2, 2], false); // "[[1, 2], [3, 4]]"
 * ```
 */
export function formatValues(
  data: TypedArray | ArrayLike<number>,
  shape: readonly number[],
  isBool: boolean,
  multiline = false,
): string {
  const cells = Array.from({ length: data.length }, (_, i) => valueText(Number(data[i]), isBool));
  if (shape.length === 0) return cells[0] ?? "";
  const width = multiline ? Math.max(...cells.map((c) => c.length)) : 0;
  const pad = (s: string) => s.padStart(width);
  const build = (dim: number, off: number, indent: number): string => {
    const n = shape[dim];
    const step = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    if (dim === shape.length - 1) {
      return `[${Array.from({ length: n }, (_, i) => pad(cells[off + i])).join(", ")}]`;
    }
    const parts = Array.from({ length: n }, (_, i) => build(dim + 1, off + i * step, indent + 1));
    if (!multiline) return `[${parts.join(", ")}]`;
    const sep = "," + "\n".repeat(shape.length - dim - 1) + " ".repeat(indent + 1);
    return `[${parts.join(sep)}]`;
  };
  return build(0, 0, 0);
}

function statsText(s: TensorStats, isBool: boolean): string {
  if (isBool) return `true=${fmtCount(s.n - s.zeros)} false=${fmtCount(s.zeros)}`;
  const parts: string[] = [];
  if (s.finite > 0) {
    parts.push(`x∈[${fmtNum(s.min)}, ${fmtNum(s.max)}]`, `μ=${fmtNum(s.mean)}`);
    if (s.finite > 1) parts.push(`σ=${fmtNum(s.std)}`);
  }
  if (s.nan) parts.push(`NaN!×${fmtCount(s.nan)}`);
  if (s.posInf) parts.push(`+Inf!×${fmtCount(s.posInf)}`);
  if (s.negInf) parts.push(`-Inf!×${fmtCount(s.negInf)}`);
  return parts.join(" ");
}

/**
 * The one-line `text/plain` summary of a tensor whose elements are `data`, e.g.
 * `Tensor[2, 3] float32 webgpu n=6 x∈[-1.2, 3.4] μ=0.5 σ=1.1 gradFn=MulBackward0`.
 *
 * @example
 * ```ts
 * import { tensor } from "../../mod.ts";
 * import { tensorLine } from "./tensor_display.ts";
 * const t = tensor([1, 2, 3]);
 * tensorLine(t, await t.data()); // "Tensor[3] int32 cpu n=3 x∈[1, 3] μ=2 σ=1 [1, 2, 3]"
 * ```
 */
export function tensorLine(t: Tensor, data: TypedArray | null, stats?: TensorStats): string {
  const head = `Tensor${fmtShape(t.shape)} ${t.dtype} ${t.device}`;
  const grad = gradText(t);
  const name = t.name ? ` "${t.name}"` : "";
  if (data === null) return `${head}${name} disposed`;
  const isBool = t.dtype === "bool";
  const parts = [head + name];
  if (t.shape.length === 0) parts.push(valueText(Number(data[0]), isBool));
  else if (t.size === 0) parts.push("empty");
  else {
    const s = stats ?? tensorStats(data, 24, t.dtype === "int32" || t.dtype === "bool");
    parts.push(`n=${fmtCount(t.size)}`, statsText(s, isBool));
    if (!isBool && t.size > TEXT_VALUES_MAX) {
      const spark = sparkline(s.histogram);
      if (spark.trim()) parts.push(`|${spark}|`);
    }
  }
  if (grad) parts.push(grad);
  if (t.shape.length > 0 && t.size > 0 && t.size <= TEXT_VALUES_MAX) {
    parts.push(formatValues(data, t.shape, isBool));
  }
  return parts.filter((p) => p !== "").join(" ");
}

const chip = (text: string, bg: string, fg = "#222") =>
  `<span style="background:${bg};color:${fg};border-radius:3px;padding:0 5px;margin-left:4px">${
    escapeHtml(text)
  }</span>`;
const red = (text: string) =>
  `<span style="color:#c00;font-weight:bold;margin-left:6px">${escapeHtml(text)}</span>`;

/**
 * The mime bundle of a tensor: `text/html` (the summary card) and `text/plain` (one line). Reads the tensor's
 * data once (a GPU tensor waits for its queue); a disposed tensor says so instead of throwing.
 *
 * @example
 * ```ts
 * import { tensor } from "../../mod.ts";
 * import { tensorBundle } from "./tensor_display.ts";
 * const b = await tensorBundle(tensor([[1, -2], [3, 4]], { dtype: "float32" }));
 * console.log(b["text/plain"]); // Tensor[2, 2] float32 cpu n=4 x∈[-2, 4] μ=1.5 σ=2.646 [[1, -2], [3, 4]]
 * ```
 */
export async function tensorBundle(t: Tensor, opts: TensorDisplayOptions = {}): Promise<MimeBundle> {
  const data = t.isDisposed ? null : await t.data();
  const stats = data && t.size > 0
    ? tensorStats(data, 24, t.dtype === "int32" || t.dtype === "bool")
    : undefined;
  const text = tensorLine(t, data, stats);
  const isBool = t.dtype === "bool";

  const head: string[] = [`<b>Tensor${escapeHtml(fmtShape(t.shape))}</b>`];
  if (t.name) head.push(`<i style="margin-left:4px">${escapeHtml(t.name)}</i>`);
  head.push(chip(t.dtype, "#e8eefc"), chip(t.device, t.device === "cpu" ? "#eeeeee" : "#e3f4e3"));
  head.push(
    `<span style="color:#666;margin-left:6px">n=${fmtCount(t.size)} · ${
      fmtBytes(t.size * hostBytes(t.dtype))
    }</span>`,
  );
  const grad = gradText(t);
  if (grad) head.push(chip(grad, "#f3e8fc", "#5b2a86"));
  const rows = [`<div>${head.join("")}</div>`];

  if (data === null) {
    rows.push(`<div style="color:#c00">disposed: its memory was freed</div>`);
  } else if (t.shape.length === 0) {
    rows.push(`<div>value: <b>${escapeHtml(valueText(Number(data[0]), isBool))}</b></div>`);
  } else if (stats) {
    const s = stats;
    const statParts: string[] = [];
    if (isBool) {
      statParts.push(`true ×${fmtCount(s.n - s.zeros)}`, `false ×${fmtCount(s.zeros)}`);
    } else if (s.finite > 0) {
      statParts.push(`x∈[${fmtNum(s.min)}, ${fmtNum(s.max)}]`, `μ=${fmtNum(s.mean)}`);
      if (s.finite > 1) statParts.push(`σ=${fmtNum(s.std)}`);
    }
    let line = escapeHtml(statParts.join("  "));
    if (s.nan) line += red(`NaN ×${fmtCount(s.nan)}`);
    if (s.posInf) line += red(`+Inf ×${fmtCount(s.posInf)}`);
    if (s.negInf) line += red(`-Inf ×${fmtCount(s.negInf)}`);
    const hist = !isBool && s.finite > 1 && s.max > s.min
      ? histogramSvg(s.histogram, {
        range: [s.min, s.max],
        domain: s.histogram.length === s.max - s.min + 1 ? [s.min - 0.5, s.max + 0.5] : [s.min, s.max],
        mean: s.mean,
        std: s.std,
      })
      : "";
    rows.push(
      `<div style="display:flex;align-items:center;gap:12px;flex-wrap:wrap"><span>${line}</span>${hist}</div>`,
    );
    if (t.size <= HTML_VALUES_MAX) {
      rows.push(
        `<pre style="margin:4px 0 0 0;padding:4px 6px;background:#fff;border:1px solid #eee;font-size:11px;line-height:1.3">${
          escapeHtml(formatValues(data, t.shape, isBool, true))
        }</pre>`,
      );
    }
    if (opts.image !== false) {
      const img = await drawTensor(data, t.shape, t.dtype, s.min, s.max);
      if (img) {
        const more = img.panelsShown < img.layout.panels
          ? ` (first ${img.panelsShown} of ${img.layout.panels})`
          : "";
        rows.push(
          `<div style="margin-top:4px"><img alt="${
            escapeHtml(img.layout.what)
          }" src="data:image/png;base64,${img.pngBase64}" ` +
            `width="${img.displayWidth}" height="${img.displayHeight}" style="width:${img.displayWidth}px;` +
            `height:${img.displayHeight}px;image-rendering:pixelated;border:1px solid #ccc"/>` +
            `<div style="color:#666;font-size:11px">${
              escapeHtml(`${img.layout.what}${more}: ${img.mapping}`)
            }</div></div>`,
        );
      }
    }
  } else {
    rows.push(`<div style="color:#666">empty</div>`);
  }
  const html =
    `<div class="denograd-tensor" style="${MONO};font-size:12px;line-height:1.5;display:inline-block;` +
    `border:1px solid #ddd;border-radius:6px;padding:6px 10px;background:#fafafa;color:#222">${
      rows.join("")
    }</div>`;
  return { "text/plain": text, "text/html": html };
}
