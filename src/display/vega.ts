/**
 * Vega-Lite charts rendered to SVG without a browser (`npm:vega-lite` compiles, `npm:vega` renders), so that
 * nbconvert's HTML, GitHub and files written by scripts show the chart too. Both load on first use.
 * @module
 */

/** A Vega-Lite specification (a JSON object with a `$schema`). */
export type VegaLiteSpec = { $schema: string; [key: string]: unknown };

/** The Vega-Lite schema the specs declare (Jupyter front-ends render `application/vnd.vegalite.v5+json`). */
export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

/** The mime type of Vega-Lite specs in Jupyter. */
export const VEGA_LITE_MIME = "application/vnd.vegalite.v5+json";

interface VegaModules {
  compile(spec: unknown): { spec: unknown };
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, opts: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void };
}

let modules: Promise<VegaModules> | null = null;

function load(): Promise<VegaModules> {
  // Pinned inline on purpose (loaded only when a chart is drawn), as bench/ pins its peers.
  modules ??= Promise.all([
    // deno-lint-ignore no-import-prefix
    import("npm:vega-lite@6.5.0"),
    // deno-lint-ignore no-import-prefix
    import("npm:vega@6.4.0"),
  ]).then(([vl, vega]) => ({
    compile: vl.compile as unknown as VegaModules["compile"],
    parse: vega.parse as unknown as VegaModules["parse"],
    View: vega.View as unknown as VegaModules["View"],
  }));
  return modules;
}

/**
 * Renders a Vega-Lite spec to an SVG string (about 50 ms for a small line chart once loaded).
 *
 * @example
 * ```ts
 * import { VEGA_LITE_SCHEMA, vegaLiteToSvg } from "./vega.ts";
 * const svg = await vegaLiteToSvg({
 *   $schema: VEGA_LITE_SCHEMA,
 *   data: { values: [{ x: 1, y: 2 }, { x: 2, y: 3 }] },
 *   mark: "line",
 *   encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
 * });
 * ```
 */
export async function vegaLiteToSvg(spec: VegaLiteSpec): Promise<string> {
  const m = await load();
  const view = new m.View(m.parse(m.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
