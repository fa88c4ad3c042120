/**
 * `display(x)`: shows a tensor, a model, a device table, a graph or a plot as rich output in a notebook,
 * and as text in a terminal; `mimeBundle(x)` returns what would be shown.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { gpu } from "../backend/gpu.ts";
import { DeviceInfoView, isAdapterInfo } from "./device_info.ts";
import { escapeHtml } from "./format.ts";
import { isDisplayable, JUPYTER_DISPLAY, type JupyterSink, jupyterSink, type MimeBundle } from "./jupyter.ts";
import { tensorBundle } from "./tensor_display.ts";

/**
 * The mime bundle `x` displays as: a tensor's summary card, an object's own
 * `[Symbol.for("Jupyter.display")]` bundle, a table for what `gpu.info()` returns, or text.
 *
 * @example
 * ```ts
 * import { mimeBundle, tensor } from "../../mod.ts";
 * const b = await mimeBundle(tensor([1, 2, 3]));
 * b["text/plain"]; // "Tensor[3] int32 cpu n=3 x∈[1, 3] μ=2 σ=1 [1, 2, 3]"
 * ```
 */
export async function mimeBundle(x: unknown): Promise<MimeBundle> {
  if (x instanceof Tensor) return await tensorBundle(x);
  if (isDisplayable(x)) return await x[JUPYTER_DISPLAY]();
  if (isAdapterInfo(x)) return new DeviceInfoView(x, null, gpu.memory())[JUPYTER_DISPLAY]();
  const text = typeof x === "string" ? x : Deno.inspect(x, { depth: 4, colors: false });
  return { "text/plain": text, "text/html": `<pre>${escapeHtml(text)}</pre>` };
}

/** Options of {@linkcode display}. */
export interface DisplayOptions {
  /** Where the bundle goes (default: the running `deno jupyter` kernel; outside one, text to stdout). */
  jupyter?: JupyterSink | null;
}

/**
 * Shows `x` now: in `deno jupyter` as a rich output (a GPU tensor is read first, hence the `await`), in a
 * terminal as its one-line (or table) text on stdout. Tensors, models, `gpu.info()`, graphs and plots all
 * display themselves; anything else shows as `Deno.inspect` text.
 *
 * @example
 * ```ts
 * import { display, randn } from "../../mod.ts";
 * await display(randn([4, 4]));
 * ```
 */
export async function display(x: unknown, opts: DisplayOptions = {}): Promise<void> {
  const bundle = await mimeBundle(x);
  const sink = opts.jupyter === undefined ? jupyterSink() : opts.jupyter;
  if (sink) await sink.display(bundle, { raw: true });
  else console.log(String(bundle["text/plain"] ?? ""));
}

/**
 * Displays the WebGPU adapter as a table (or says why there is none): its name, vendor, backend, whether it
 * is a software adapter, f16 support, the key limits and the memory in use.
 *
 * @example
 * ```ts
 * import { displayDeviceInfo } from "../../mod.ts";
 * await displayDeviceInfo();
 * ```
 */
export async function displayDeviceInfo(opts: DisplayOptions = {}): Promise<void> {
  await display(await DeviceInfoView.current(), opts);
}
