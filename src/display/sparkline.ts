/**
 * Histograms drawn small: a line of block characters for terminals and an inline SVG for notebooks.
 * @module
 */
import { escapeHtml, fmtNum } from "./format.ts";

const BLOCKS = "▁▂▃▄▅▆▇█";

/**
 * A histogram as block characters, one per bin, scaled to the fullest bin (empty bins are spaces).
 *
 * @example
 * ```ts
 * import { sparkline } from "./sparkline.ts";
 * sparkline([0, 1, 4, 2]); // " ▂█▄"
 * ```
 */
export function sparkline(counts: readonly number[]): string {
  const top = Math.max(0, ...counts);
  if (top === 0) return "";
  return counts.map((c) => c === 0 ? " " : BLOCKS[Math.min(7, Math.floor((c / top) * 7.999))]).join("");
}

/** Options of {@linkcode histogramSvg}. */
export interface HistogramSvgOptions {
  /** Width in pixels (default 160). */
  width?: number;
  /** Height of the bars in pixels (default 28). */
  height?: number;
  /** The value range the bins cover, printed under the ends. */
  range?: [number, number];
  /** Where the mean falls, drawn as a red tick. */
  mean?: number;
  /** Standard deviation, drawn as a band around the mean. */
  std?: number;
  /** The values at the left and right edges of the bins (default `range`); differs for one bin per integer. */
  domain?: [number, number];
}

/**
 * A histogram as an inline SVG: bars scaled to the fullest bin, the mean as a red tick with a ±σ band, and
 * the range printed under the ends.
 *
 * @example
 * ```ts
 * import { histogramSvg } from "./sparkline.ts";
 * const svg = histogramSvg([1, 3, 2], { range: [0, 1], mean: 0.5 });
 * ```
 */
export function histogramSvg(counts: readonly number[], opts: HistogramSvgOptions = {}): string {
  const { width = 160, height = 28, range, mean, std } = opts;
  const domain = opts.domain ?? range;
  const label = range ? 11 : 0;
  const top = Math.max(1, ...counts);
  const bw = width / Math.max(1, counts.length);
  const parts: string[] = [];
  const x = (v: number) =>
    domain && domain[1] > domain[0] ? ((v - domain[0]) / (domain[1] - domain[0])) * width : width / 2;
  if (range && mean !== undefined && Number.isFinite(mean)) {
    if (std !== undefined && Number.isFinite(std) && std > 0) {
      const a = Math.max(0, x(mean - std));
      const b = Math.min(width, x(mean + std));
      parts.push(
        `<rect x="${a.toFixed(1)}" y="0" width="${(b - a).toFixed(1)}" height="${height}" fill="#fde2e2"/>`,
      );
    }
  }
  counts.forEach((c, i) => {
    if (c === 0) return;
    const h = Math.max(1, (c / top) * (height - 1));
    parts.push(
      `<rect x="${(i * bw + 0.5).toFixed(1)}" y="${(height - h).toFixed(1)}" width="${
        Math.max(1, bw - 1).toFixed(1)
      }" height="${h.toFixed(1)}" fill="#4c72b0"/>`,
    );
  });
  if (range && mean !== undefined && Number.isFinite(mean)) {
    const m = x(mean).toFixed(1);
    parts.push(`<line x1="${m}" x2="${m}" y1="0" y2="${height}" stroke="#d62728" stroke-width="1.5"/>`);
  }
  parts.push(
    `<line x1="0" x2="${width}" y1="${height - 0.5}" y2="${height - 0.5}" stroke="#888" stroke-width="1"/>`,
  );
  if (range) {
    const style = `font-size="9" fill="#555" font-family="monospace"`;
    parts.push(`<text x="0" y="${height + 9}" ${style}>${escapeHtml(fmtNum(range[0], 3))}</text>`);
    parts.push(
      `<text x="${width}" y="${height + 9}" text-anchor="end" ${style}>${
        escapeHtml(fmtNum(range[1], 3))
      }</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${
    height + label
  }" viewBox="0 0 ${width} ${height + label}" style="vertical-align: middle">${parts.join("")}</svg>`;
}
