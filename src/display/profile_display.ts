/**
 * How a {@linkcode Profile} shows itself in `deno jupyter`: an HTML table (op, device, calls, time, share,
 * memory) beside a bar chart of the time per op drawn as inline SVG, and the text table for `text/plain`;
 * `profileChart(p)` gives the chart alone as Vega-Lite with an SVG fallback. Also `Chart`, a Vega-Lite spec
 * that displays itself with its SVG fallback (for charts of benchmark results).
 * @module
 */
import type { Profile, ProfileRow } from "../profiler/profile.ts";
import { escapeHtml, fmtBytes, MONO } from "./format.ts";
import { JUPYTER_DISPLAY, type MimeBundle } from "./jupyter.ts";
import { VEGA_LITE_MIME, VEGA_LITE_SCHEMA, type VegaLiteSpec, vegaLiteToSvg } from "./vega.ts";

/** Options of {@linkcode profileChart} and {@linkcode profileSpec}. */
export interface ProfileChartOptions {
  /** Show the ops with the most time, at most this many (default 12); the rest are summed as "(others)". */
  top?: number;
  /** Width of the chart in pixels (default 360). */
  width?: number;
  /** Add a bar for the wall time outside any op (default true). */
  showOther?: boolean;
}

/** The rows the chart draws: timed ops, the longest first, the tail summed, and the time outside ops. */
function chartRows(p: Profile, opts: ProfileChartOptions): { op: string; ms: number; share: number }[] {
  const timed = p.rows.filter((r) => r.totalMs !== null && r.totalMs > 0);
  const top = opts.top ?? 12;
  const devices = new Set(p.rows.map((r) => r.device));
  const name = (r: ProfileRow) => (devices.size > 1 ? `${r.op} (${r.device})` : r.op);
  const out = timed.slice(0, top).map((r) => ({ op: name(r), ms: r.totalMs!, share: r.share ?? 0 }));
  const rest = timed.slice(top);
  if (rest.length) {
    const ms = rest.reduce((s, r) => s + r.totalMs!, 0);
    out.push({ op: `(${rest.length} others)`, ms, share: ms / p.wallMs });
  }
  if ((opts.showOther ?? true) && p.timing !== "none") {
    out.push({ op: "(outside ops)", ms: p.otherMs, share: p.otherMs / p.wallMs });
  }
  return out;
}

/**
 * A horizontal bar chart of the time per op (Vega-Lite), the ops in the table's order.
 *
 * @example
 * ```ts
 * import { profile, randn } from "../../mod.ts";
 * import { profileSpec } from "./profile_display.ts";
 * const a = randn([32, 32]);
 * const spec = profileSpec(await profile(() => a.matmul(a).sum().item()));
 * ```
 */
export function profileSpec(p: Profile, opts: ProfileChartOptions = {}): VegaLiteSpec {
  const values = chartRows(p, opts).map((r) => ({ ...r, pct: `${(r.share * 100).toFixed(1)}%` }));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: `time per op (${p.wallMs.toFixed(1)} ms wall)`, fontSize: 12 },
    width: opts.width ?? 360,
    height: { step: 16 },
    data: { values },
    layer: [
      {
        mark: { type: "bar", color: "#4c78a8" },
        encoding: {
          x: { field: "ms", type: "quantitative", title: "ms" },
          y: { field: "op", type: "nominal", sort: null, title: null },
          color: {
            condition: { test: "indexof(datum.op, '(') === 0", value: "#bbbbbb" },
            value: "#4c78a8",
          },
          tooltip: [
            { field: "op", type: "nominal" },
            { field: "ms", type: "quantitative", format: ".3f" },
            { field: "pct", type: "nominal", title: "share" },
          ],
        },
      },
      {
        mark: { type: "text", align: "left", dx: 3, fontSize: 10, color: "#333" },
        encoding: {
          x: { field: "ms", type: "quantitative" },
          y: { field: "op", type: "nominal", sort: null },
          text: { field: "pct", type: "nominal" },
        },
      },
    ],
    config: { view: { stroke: null }, axis: { labelFontSize: 11 } },
  };
}

/**
 * A Vega-Lite chart that displays itself in `deno jupyter` with an SVG fallback (which nbconvert's HTML and
 * GitHub show), e.g. for charts of benchmark results.
 *
 * @example
 * ```ts
 * import { Chart } from "../../mod.ts";
 * const chart = new Chart({
 *   $schema: "https://vega.github.io/schema/vega-lite/v5.json",
 *   data: { values: [{ batch: 8, samples: 90 }, { batch: 64, samples: 400 }] },
 *   mark: "line",
 *   encoding: { x: { field: "batch", type: "quantitative" }, y: { field: "samples", type: "quantitative" } },
 * });
 * const svg = await chart.toSvg();
 * ```
 */
export class Chart {
  /** A chart of `spec` (`$schema` is filled in when missing); `text` is its `text/plain` form. */
  constructor(readonly spec: VegaLiteSpec, readonly text = "chart") {
    if (!spec.$schema) this.spec = { ...spec, $schema: VEGA_LITE_SCHEMA };
  }

  /** The chart rendered to SVG (headless). */
  async toSvg(): Promise<string> {
    return await vegaLiteToSvg(this.spec);
  }

  /** Shown by `deno jupyter`: the Vega-Lite chart, its SVG fallback and the text. */
  async [JUPYTER_DISPLAY](): Promise<MimeBundle> {
    return { [VEGA_LITE_MIME]: this.spec, "image/svg+xml": await this.toSvg(), "text/plain": this.text };
  }
}

/**
 * The time-per-op bar chart of a profile as a {@linkcode Chart}.
 *
 * @example
 * ```ts
 * import { profile, profileChart, randn } from "../../mod.ts";
 * const a = randn([32, 32]);
 * const chart = profileChart(await profile(() => a.matmul(a).sum().item()), { top: 5 });
 * ```
 */
export function profileChart(p: Profile, opts: ProfileChartOptions = {}): Chart {
  return new Chart(profileSpec(p, opts), p.headline());
}

const TH = "text-align:right;padding:1px 8px;border-bottom:1px solid #ccc;font-weight:600";
const TD = "text-align:right;padding:1px 8px";

/** The HTML table of a profile (no chart). */
export function profileTableHtml(p: Profile): string {
  const head = ["op", "device", "calls", "total ms", "mean ms", "share", "allocated", "peak in use"];
  const ms = (x: number | null) => (x === null ? "–" : x.toFixed(3));
  const maxShare = Math.max(0.0001, ...p.rows.map((r) => r.share ?? 0));
  const body = p.rows.map((r) => {
    const bar = r.share === null
      ? ""
      : `<span style="display:inline-block;height:8px;width:${
        Math.round((r.share / maxShare) * 60)
      }px;background:#4c78a8;margin-right:4px;vertical-align:middle"></span>`;
    const cells = [
      escapeHtml(r.op),
      escapeHtml(r.device),
      String(r.calls),
      ms(r.totalMs),
      ms(r.meanMs),
      r.share === null ? "–" : `${bar}${(r.share * 100).toFixed(1)}%`,
      r.bytesAllocated ? fmtBytes(r.bytesAllocated) : "–",
      r.peakBytes ? fmtBytes(r.peakBytes) : "–",
    ];
    return `<tr>${
      cells.map((c, i) => `<td style="${TD}${i < 2 ? ";text-align:left" : ""}">${c}</td>`).join("")
    }</tr>`;
  }).join("");
  const notes = p.footnotes().map((l) => `<div>${escapeHtml(l)}</div>`).join("");
  return `<table class="denograd-profile" style="${MONO};font-size:12px;border-collapse:collapse">` +
    `<caption style="text-align:left;font-weight:bold;padding:2px 4px">${
      escapeHtml(p.headline())
    }</caption>` +
    `<tr>${
      head.map((h, i) => `<th style="${TH}${i < 2 ? ";text-align:left" : ""}">${h}</th>`).join("")
    }</tr>` +
    `${body}</table><div style="${MONO};font-size:11px;color:#555;padding:4px">${notes}</div>`;
}

/**
 * A profile's mime bundle: `text/html` (the table beside the bar chart, inline SVG) and `text/plain` (the
 * text table).
 *
 * @example
 * ```ts
 * import { profile, randn } from "../../mod.ts";
 * import { profileBundle } from "./profile_display.ts";
 * const a = randn([32, 32]);
 * const bundle = await profileBundle(await profile(() => a.matmul(a).sum().item()));
 * ```
 */
export async function profileBundle(p: Profile, opts: ProfileChartOptions = {}): Promise<MimeBundle> {
  const table = profileTableHtml(p);
  const hasChart = p.rows.some((r) => (r.totalMs ?? 0) > 0);
  const svg = hasChart ? await vegaLiteToSvg(profileSpec(p, opts)) : "";
  const html = hasChart
    ? `<div style="display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start"><div>${table}</div>` +
      `<div>${svg}</div></div>`
    : table;
  return { "text/plain": p.toString(), "text/html": html };
}
