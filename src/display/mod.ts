/**
 * Rich display in notebooks and terminals: tensors as lovely-tensors-style cards, autograd graphs drawn,
 * live training curves, tqdm-style progress, the adapter as a table, and torchinfo-style model summaries.
 *
 * @example
 * ```ts
 * import { display, drawGraph, progress, randn } from "../../mod.ts";
 * const w = randn([3, 3], { requiresGrad: true });
 * const loss = w.square().sum();
 * await display(w); // a card in deno jupyter, one line in a terminal
 * const graph = await drawGraph(loss); // SVG of the autograd graph
 * for (const _ of progress(10, { desc: "steps", mode: "none" })) {
 *   // a training step
 * }
 * ```
 * @module
 */
export { display, displayDeviceInfo, mimeBundle } from "./display.ts";
export type { DisplayOptions } from "./display.ts";
export { tensorBundle } from "./tensor_display.ts";
export type { TensorDisplayOptions } from "./tensor_display.ts";
export { tensorStats } from "./tensor_stats.ts";
export type { TensorStats } from "./tensor_stats.ts";
export { drawGraph, GraphView, toDot } from "./graph.ts";
export type { GraphCounts, GraphOptions } from "./graph.ts";
export { LivePlot } from "./live_plot.ts";
export type { LivePlotOptions, LivePlotPoint, SeriesPoint } from "./live_plot.ts";
export { Progress, progress, ProgressBar } from "./progress.ts";
export type { ProgressMode, ProgressOptions } from "./progress.ts";
export { DeviceInfoView } from "./device_info.ts";
export { ModelSummary, summary } from "./summary.ts";
export type { SummaryModel, SummaryOptions, SummaryRow } from "./summary.ts";
export type { DisplayMessageOptions, JupyterSink, MimeBundle } from "./jupyter.ts";
export type { VegaLiteSpec } from "./vega.ts";
export { Chart, profileBundle, profileChart, profileSpec } from "./profile_display.ts";
export type { ProfileChartOptions } from "./profile_display.ts";
