/**
 * `LivePlot`: training curves that redraw in place while a model trains. In a notebook it is one output
 * updated through `display_id` (a Vega-Lite chart, with an SVG fallback for nbconvert and GitHub); in a
 * script it rewrites an HTML or SVG file.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { escapeHtml, fmtNum } from "./format.ts";
import { JUPYTER_DISPLAY, type JupyterSink, jupyterSink, type MimeBundle, newDisplayId } from "./jupyter.ts";
import { VEGA_LITE_MIME, VEGA_LITE_SCHEMA, type VegaLiteSpec, vegaLiteToSvg } from "./vega.ts";

/** Options of {@linkcode LivePlot}. */
export interface LivePlotOptions {
  /** The chart's title. */
  title?: string;
  /** Logarithmic y axis: for every panel (`true`) or for the panels showing these series. */
  logY?: boolean | readonly string[];
  /**
   * Exponential moving average weight in [0, 1), as TensorBoard's smoothing slider (default 0: none). The
   * smoothed curve is drawn bold over the raw one.
   */
  smoothing?: number;
  /** Series drawn together in one panel, e.g. `[["loss", "valLoss"], ["acc"]]`; others get a panel each. */
  groups?: readonly (readonly string[])[];
  /** Width of each panel in pixels (default 480). */
  width?: number;
  /** Height of each panel in pixels (default 220 for one panel, 150 for several). */
  height?: number;
  /** Redraw at most this often (default 250 ms); `flush()` draws the latest points at once. */
  minIntervalMs?: number;
  /** Outside a notebook: the file to rewrite on each redraw (`.svg`, or `.html` by default "liveplot.html"). */
  path?: string;
  /** Where display messages go (default: the `deno jupyter` kernel when running in one; null forces a file). */
  jupyter?: JupyterSink | null;
  /** Also render an SVG fallback into each notebook update (default true: nbconvert and GitHub need it). */
  svgFallback?: boolean;
}

/** One point: a step and values of any number of series (a one-element tensor is read back). */
export type LivePlotPoint = { step?: number } & Record<string, number | Tensor | null | undefined>;

/** A recorded value of one series. */
export interface SeriesPoint {
  /** The step. */
  step: number;
  /** The value (null for NaN or infinity, which the chart leaves out). */
  value: number | null;
}

/**
 * Exponential moving average with TensorBoard's debiasing (the first points are not pulled toward zero).
 *
 * @example
 * ```ts
 * import { smoothSeries } from "./live_plot.ts";
 * smoothSeries([1, 1, 1], 0.9); // [1, 1, 1]
 * ```
 */
export function smoothSeries(values: readonly (number | null)[], weight: number): (number | null)[] {
  if (!(weight > 0)) return [...values];
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null) return null;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - weight ** n);
  });
}

/**
 * Training curves updated in place: in `deno jupyter` one output redrawn through `display_id` as a Vega-Lite
 * chart (with an SVG rendered headlessly for nbconvert and GitHub), several series in panels, smoothing and
 * log scales; in a script, an HTML or SVG file rewritten on each redraw. Await each `add`; call `flush()`
 * after the loop so the last points are drawn.
 *
 * @example
 * ```ts
 * import { LivePlot } from "../../mod.ts";
 * const plot = new LivePlot({ title: "training", logY: ["loss"], smoothing: 0.6, path: "/tmp/curves.html" });
 * for (let step = 0; step < 100; step++) {
 *   await plot.add({ step, loss: 1 / (step + 1), acc: 1 - 1 / (step + 2) });
 * }
 * await plot.flush();
 * ```
 */
export class LivePlot {
  readonly #opts: LivePlotOptions;
  readonly #series = new Map<string, SeriesPoint[]>();
  readonly #sink: JupyterSink | null;
  readonly #displayId: string;
  #count = 0;
  #shown = false;
  #dirty = false;
  #lastDraw = -Infinity;
  #chain: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** Number of redraws sent or written so far. */
  redraws = 0;

  /** A plot with no points yet; nothing is shown until the first `add`. */
  constructor(opts: LivePlotOptions = {}) {
    const s = opts.smoothing ?? 0;
    if (typeof s !== "number" || !(s >= 0 && s < 1)) {
      throw new RangeError(`LivePlot: smoothing must be in [0, 1), got ${s}`);
    }
    if (opts.path !== undefined && !/\.(svg|html?)$/i.test(opts.path)) {
      throw new RangeError(`LivePlot: path must end with .svg or .html, got "${opts.path}"`);
    }
    this.#opts = opts;
    this.#sink = opts.jupyter === undefined ? jupyterSink() : opts.jupyter;
    this.#displayId = newDisplayId("liveplot");
  }

  /** The display id of the notebook output this plot updates. */
  get displayId(): string {
    return this.#displayId;
  }

  /** Names of the series recorded so far, in order of first appearance. */
  get seriesNames(): string[] {
    return [...this.#series.keys()];
  }

  /** The recorded points of one series. */
  series(name: string): readonly SeriesPoint[] {
    return this.#series.get(name) ?? [];
  }

  /**
   * Records a point (`step` defaults to the number of points added so far) and redraws, at most every
   * `minIntervalMs`. A tensor value is read back (a wait): pass numbers inside a training step.
   */
  async add(point: LivePlotPoint): Promise<void> {
    if (point === null || typeof point !== "object") {
      throw new TypeError(`LivePlot.add: expected an object like { step, loss }, got ${String(point)}`);
    }
    const step = point.step ?? this.#count;
    if (typeof step !== "number" || !Number.isFinite(step)) {
      throw new TypeError(`LivePlot.add: step must be a finite number, got ${String(step)}`);
    }
    this.#count++;
    for (const [name, raw] of Object.entries(point)) {
      if (name === "step" || raw === undefined || raw === null) continue;
      let v: number;
      if (raw instanceof Tensor) v = await raw.item();
      else if (typeof raw === "number") v = raw;
      else {throw new TypeError(
          `LivePlot.add: "${name}" must be a number or a one-element Tensor, got ${typeof raw}`,
        );}
      let list = this.#series.get(name);
      if (!list) this.#series.set(name, list = []);
      list.push({ step, value: Number.isFinite(v) ? v : null });
    }
    this.#dirty = true;
    const wait = (this.#opts.minIntervalMs ?? 250) - (performance.now() - this.#lastDraw);
    if (wait <= 0) await this.#draw();
    else if (this.#timer === null) {
      const timer = setTimeout(() => {
        this.#timer = null;
        this.#draw().catch(() => {});
      }, wait);
      Deno.unrefTimer(timer as unknown as number);
      this.#timer = timer;
    }
  }

  /** Draws the latest points now if some are not drawn yet. */
  async flush(): Promise<void> {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#dirty || !this.#shown) await this.#draw();
    else await this.#chain;
  }

  /** Flushes at the end of an `await using` block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.flush();
  }

  #draw(): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      if (!this.#dirty && this.#shown) return;
      this.#dirty = false;
      this.#lastDraw = performance.now();
      if (this.#sink) {
        const bundle = await this.bundle(this.#opts.svgFallback ?? true);
        const update = this.#shown;
        this.#shown = true;
        await this.#sink.display(bundle, { raw: true, display_id: this.#displayId, update });
      } else {
        this.#shown = true;
        const path = this.#opts.path ?? "liveplot.html";
        const svg = await this.toSvg();
        const text = /\.svg$/i.test(path) ? svg : this.#page(svg);
        await writeFileAtomic(path, [new TextEncoder().encode(text)]);
      }
      this.redraws++;
    });
    return this.#chain;
  }

  #page(svg: string): string {
    const title = escapeHtml(this.#opts.title ?? "LivePlot");
    return `<!doctype html>\n<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">` +
      `<title>${title}</title></head><body style="font-family:sans-serif">\n${svg}\n` +
      `<pre>${escapeHtml(this.toString())}</pre></body></html>\n`;
  }

  /** The panels: user groups first, then one panel per remaining series. */
  #panels(): string[][] {
    const names = this.seriesNames;
    const panels: string[][] = [];
    const used = new Set<string>();
    for (const g of this.#opts.groups ?? []) {
      const present = g.filter((n) => this.#series.has(n));
      if (present.length) panels.push(present);
      for (const n of g) used.add(n);
    }
    for (const n of names) if (!used.has(n)) panels.push([n]);
    return panels;
  }

  #isLog(panel: readonly string[]): boolean {
    const l = this.#opts.logY;
    return l === true || (Array.isArray(l) && panel.some((n) => l.includes(n)));
  }

  /** The Vega-Lite spec of the current points. */
  spec(): VegaLiteSpec {
    const smoothing = this.#opts.smoothing ?? 0;
    const values: { step: number; series: string; value: number | null; smoothed: number | null }[] = [];
    for (const [name, pts] of this.#series) {
      const sm = smoothSeries(pts.map((p) => p.value), smoothing);
      pts.forEach((p, i) => values.push({ step: p.step, series: name, value: p.value, smoothed: sm[i] }));
    }
    const panels = this.#panels();
    const width = this.#opts.width ?? 480;
    const height = this.#opts.height ?? (panels.length > 1 ? 150 : 220);
    const domain = this.seriesNames;
    const charts = panels.map((panel) => {
      const log = this.#isLog(panel);
      const y = (field: string) => ({
        field,
        type: "quantitative",
        title: panel.join(", "),
        scale: log ? { type: "log" } : { zero: false },
      });
      const x = { field: "step", type: "quantitative", title: "step", scale: { nice: false } };
      const color = {
        field: "series",
        type: "nominal",
        scale: { domain },
        legend: panels.length > 1 || panel.length > 1 ? {} : null,
      };
      const filter = [{ filter: { field: "series", oneOf: panel } }, { filter: "isValid(datum.value)" }];
      if (log) filter.push({ filter: "datum.value > 0" });
      const layer: unknown[] = [];
      if (smoothing > 0) {
        layer.push({
          mark: { type: "line", opacity: 0.25, strokeWidth: 1 },
          encoding: { x, y: y("value"), color },
        });
      }
      layer.push({
        mark: { type: "line", strokeWidth: 2 },
        encoding: { x, y: y(smoothing > 0 ? "smoothed" : "value"), color },
      });
      return { width, height, transform: filter, layer };
    });
    const spec: VegaLiteSpec = {
      $schema: VEGA_LITE_SCHEMA,
      data: { values },
      vconcat: charts.length ? charts : [{ width, height, mark: "line" }],
      config: {
        font: "sans-serif",
        view: { stroke: "#ddd" },
        legend: { symbolType: "stroke", symbolStrokeWidth: 2, symbolOpacity: 1 },
      },
    };
    if (this.#opts.title) spec.title = this.#opts.title;
    return spec;
  }

  /** The chart rendered to SVG (headless, with `npm:vega`). */
  async toSvg(): Promise<string> {
    return await vegaLiteToSvg(this.spec());
  }

  /** The notebook bundle: the Vega-Lite chart, its SVG fallback, and a one-line text. */
  async bundle(svgFallback = true): Promise<MimeBundle> {
    const bundle: MimeBundle = { [VEGA_LITE_MIME]: this.spec(), "text/plain": this.toString() };
    if (svgFallback) bundle["image/svg+xml"] = await this.toSvg();
    return bundle;
  }

  /** A one-line description with the latest value of each series. */
  toString(): string {
    const title = this.#opts.title ? ` "${this.#opts.title}"` : "";
    const last: string[] = [];
    let step: number | null = null;
    for (const [name, pts] of this.#series) {
      const p = pts[pts.length - 1];
      if (!p) continue;
      step = step === null ? p.step : Math.max(step, p.step);
      last.push(`${name}=${p.value === null ? "NaN" : fmtNum(p.value)}`);
    }
    return `LivePlot${title}: ${this.#count} point${this.#count === 1 ? "" : "s"}` +
      (step === null ? "" : `; step ${step}: ${last.join(" ")}`);
  }

  /** Shown by `deno jupyter` when the plot ends a cell (a new output, not the live one). */
  async [JUPYTER_DISPLAY](): Promise<MimeBundle> {
    return await this.bundle(true);
  }
}
