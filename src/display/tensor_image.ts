/**
 * Pictures of tensors: a heat-map for a matrix, an image for a `[C, H, W]` (or `[H, W, C]`) tensor with 1, 3
 * or 4 channels, and a grid for a batch of images or a stack of matrices. Drawn into one PNG.
 * @module
 */
import type { DType, TypedArray } from "../tensor/dtype.ts";
import { heatScale, NAN_COLOR } from "./colormap.ts";
import { encodePng, toBase64 } from "./png.ts";

/** How a tensor of some shape is drawn. */
export interface ImageLayout {
  /** "heatmap": values through a colour map; "image": channels as grey, RGB or RGBA. */
  kind: "heatmap" | "image";
  /** Number of panels (1 for a single matrix or image). */
  panels: number;
  /** Channels per pixel: 1 for heat-maps and grey images, 3 or 4 for colour. */
  channels: number;
  /** Panel height and width. */
  height: number;
  /** Panel width. */
  width: number;
  /** Whether channels are the last dim (`[H, W, C]`) rather than the first (`[C, H, W]`). */
  channelsLast: boolean;
  /** A few words for the caption, e.g. "heat-map" or "batch of 8 RGB images". */
  what: string;
}

/** At most this many panels are drawn. */
export const MAX_PANELS = 64;
/** Panels larger than this (per side) are subsampled. */
export const MAX_SIDE = 512;
/** Pictures wider than this many CSS pixels are shown scaled down. */
export const MAX_DISPLAY_WIDTH = 768;

const isChannels = (c: number) => c === 1 || c === 3 || c === 4;
const channelWord = (c: number) => c === 1 ? "grey" : c === 3 ? "RGB" : "RGBA";

/**
 * How a tensor of `shape` is drawn, or null when it is not drawn (fewer than 2 dims, or too small).
 *
 * @example
 * ```ts
 * import { imageLayout } from "./tensor_image.ts";
 * imageLayout([3, 32, 32])?.what; // "RGB image"
 * imageLayout([16, 1, 28, 28])?.what; // "batch of 16 grey images"
 * ```
 */
export function imageLayout(shape: readonly number[]): ImageLayout | null {
  const n = shape.length;
  if (n < 2 || n > 4 || shape.some((d) => d === 0)) return null;
  if (n === 2) {
    const [h, w] = shape;
    if (h * w < 2) return null;
    return {
      kind: "heatmap",
      panels: 1,
      channels: 1,
      height: h,
      width: w,
      channelsLast: false,
      what: "heat-map",
    };
  }
  if (n === 3) {
    const [a, b, c] = shape;
    if (isChannels(a) && b >= 4 && c >= 4) {
      return {
        kind: "image",
        panels: 1,
        channels: a,
        height: b,
        width: c,
        channelsLast: false,
        what: `${channelWord(a)} image`,
      };
    }
    if (c === 3 || c === 4) {
      if (a >= 4 && b >= 4) {
        return {
          kind: "image",
          panels: 1,
          channels: c,
          height: a,
          width: b,
          channelsLast: true,
          what: `${channelWord(c)} image (H, W, C)`,
        };
      }
    }
    if (b * c < 2) return null;
    return {
      kind: "heatmap",
      panels: a,
      channels: 1,
      height: b,
      width: c,
      channelsLast: false,
      what: `${a} heat-maps`,
    };
  }
  const [bn, ch, h, w] = shape;
  if (h * w < 2) return null;
  if (isChannels(ch)) {
    return {
      kind: "image",
      panels: bn,
      channels: ch,
      height: h,
      width: w,
      channelsLast: false,
      what: `batch of ${bn} ${channelWord(ch)} image${bn === 1 ? "" : "s"}`,
    };
  }
  return {
    kind: "heatmap",
    panels: bn * ch,
    channels: 1,
    height: h,
    width: w,
    channelsLast: false,
    what: `${bn}×${ch} feature maps`,
  };
}

/** A tensor drawn as a PNG. */
export interface TensorImage {
  /** The layout that was drawn. */
  layout: ImageLayout;
  /** The PNG file, base64. */
  pngBase64: string;
  /** Pixel size of the PNG. */
  pixelWidth: number;
  /** Pixel height of the PNG. */
  pixelHeight: number;
  /** Suggested display size in CSS pixels (small images are scaled up without smoothing). */
  displayWidth: number;
  /** Suggested display height in CSS pixels. */
  displayHeight: number;
  /** How values were mapped to colours, e.g. "values in [0, 1]" or "scaled from [-2.1, 3.4]". */
  mapping: string;
  /** Panels drawn (at most {@linkcode MAX_PANELS}). */
  panelsShown: number;
}

/**
 * Draws `data` (a tensor's elements, row-major, with `shape`) as a PNG, or returns null when the shape is
 * not drawn. `min` and `max` are the finite range of the values.
 *
 * @example
 * ```ts
 * import { drawTensor } from "./tensor_image.ts";
 * const img = await drawTensor(new Float32Array([0, 1, 2, 3]), [2, 2], "float32", 0, 3);
 * // img!.layout.kind === "heatmap"
 * ```
 */
export async function drawTensor(
  data: TypedArray,
  shape: readonly number[],
  dtype: DType,
  min: number,
  max: number,
): Promise<TensorImage | null> {
  const layout = imageLayout(shape);
  if (!layout) return null;
  const { panels, channels, height, width, channelsLast } = layout;
  const shown = Math.min(panels, MAX_PANELS);
  const step = Math.max(1, Math.ceil(Math.max(height, width) / MAX_SIDE));
  const ph = Math.ceil(height / step);
  const pw = Math.ceil(width / step);
  const gridCols = Math.max(1, Math.min(shown, Math.ceil(Math.sqrt((shown * ph) / pw))));
  const rows = Math.ceil(shown / gridCols);
  const gap = shown === 1 ? 0 : 1;
  const W = gridCols * pw + (gridCols - 1) * gap;
  const H = rows * ph + (rows - 1) * gap;
  const rgba = new Uint8Array(W * H * 4).fill(255);
  for (let i = 0; i < rgba.length; i += 4) rgba.set([224, 224, 224, 255], i);

  let mapping: string;
  let toByte: (v: number) => number = () => 0;
  const scale = heatScale(min, max);
  if (layout.kind === "heatmap") {
    mapping = min < 0 && max > 0 ? "blue < 0 < red, white at 0" : "viridis from min to max";
  } else if (dtype !== "bool" && min >= 0 && max <= 1 && dtype !== "int32") {
    mapping = "values in [0, 1]";
    toByte = (v) => v * 255;
  } else if (dtype === "bool") {
    mapping = "false black, true white";
    toByte = (v) => v * 255;
  } else if (min >= 0 && max <= 255 && (dtype === "int32" || max > 1)) {
    mapping = "values in [0, 255]";
    toByte = (v) => v;
  } else {
    const span = max - min || 1;
    mapping = `scaled from [${+min.toPrecision(3)}, ${+max.toPrecision(3)}]`;
    toByte = (v) => ((v - min) / span) * 255;
  }
  const clampByte = (v: number) => Number.isNaN(v) ? 0 : Math.max(0, Math.min(255, Math.round(v)));

  const panelSize = channels * height * width;
  for (let p = 0; p < shown; p++) {
    const gx = (p % gridCols) * (pw + gap);
    const gy = Math.floor(p / gridCols) * (ph + gap);
    const base = p * panelSize;
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        const sy = y * step;
        const sx = x * step;
        const o = ((gy + y) * W + gx + x) * 4;
        const at = (c: number) =>
          Number(
            data[
              base + (channelsLast ? (sy * width + sx) * channels + c : c * height * width + sy * width + sx)
            ],
          );
        if (layout.kind === "heatmap") {
          const [r, g, b] = scale(at(0));
          rgba[o] = r;
          rgba[o + 1] = g;
          rgba[o + 2] = b;
          rgba[o + 3] = 255;
        } else if (channels === 1) {
          const v0 = at(0);
          if (Number.isNaN(v0)) rgba.set([...NAN_COLOR, 255], o);
          else {
            const v = clampByte(toByte(v0));
            rgba[o] = rgba[o + 1] = rgba[o + 2] = v;
            rgba[o + 3] = 255;
          }
        } else {
          for (let c = 0; c < 3; c++) rgba[o + c] = clampByte(toByte(at(c)));
          rgba[o + 3] = channels === 4 ? clampByte(toByte(at(3))) : 255;
        }
      }
    }
  }
  const png = await encodePng(W, H, rgba);
  // Scale small pictures up (crisply) so that a 3x4 matrix is not 3 pixels tall; keep big ones as they are.
  const s = Math.max(1, Math.min(24, Math.floor(256 / Math.max(W, H))));
  let displayWidth = W * s;
  let displayHeight = H * s;
  if (displayWidth > MAX_DISPLAY_WIDTH) {
    displayHeight = Math.round((displayHeight * MAX_DISPLAY_WIDTH) / displayWidth);
    displayWidth = MAX_DISPLAY_WIDTH;
  }
  return {
    layout,
    pngBase64: toBase64(png),
    pixelWidth: W,
    pixelHeight: H,
    displayWidth: Math.max(displayWidth, 12),
    displayHeight: Math.max(displayHeight, 12),
    mapping,
    panelsShown: shown,
  };
}
