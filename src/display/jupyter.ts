/**
 * The link to a `deno jupyter` kernel: mime bundles, the display symbol, and a sink that sends display
 * messages (Deno's `Deno.jupyter.display`, or a recorder in tests).
 * @module
 */

/** A Jupyter mime bundle: mime type to data (`text/plain`, `text/html`, `image/svg+xml`, ...). */
export type MimeBundle = Record<string, string | object>;

/** Options of a display message, as `Deno.jupyter.display` takes them. */
export interface DisplayMessageOptions {
  /** The bundle is sent as is (always true here). */
  raw?: boolean;
  /** Replace the output shown earlier under `display_id` instead of adding one. */
  update?: boolean;
  /** The id of an output that later messages update in place. */
  display_id?: string;
}

/**
 * Where display messages go: `Deno.jupyter` in a notebook, or any object with the same `display` method
 * (tests pass a recorder).
 *
 * @example
 * ```ts
 * import type { JupyterSink, MimeBundle } from "./jupyter.ts";
 * const sent: MimeBundle[] = [];
 * const sink: JupyterSink = { display: (bundle) => Promise.resolve(void sent.push(bundle as MimeBundle)) };
 * ```
 */
export interface JupyterSink {
  /** Sends `bundle` as a `display_data` (or, with `update`, an `update_display_data`) message. */
  display(bundle: unknown, options?: DisplayMessageOptions): Promise<void>;
}

/** The symbol `deno jupyter` calls to display an object that ends a cell (it may return a promise). */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/**
 * The running notebook kernel's display sink, or null outside `deno jupyter` (where reading
 * `Deno.jupyter` throws).
 *
 * @example
 * ```ts
 * import { jupyterSink } from "./jupyter.ts";
 * const sink = jupyterSink();
 * if (sink) await sink.display({ "text/plain": "hello" }, { raw: true });
 * ```
 */
export function jupyterSink(): JupyterSink | null {
  try {
    const j = (Deno as unknown as { jupyter?: JupyterSink }).jupyter;
    return j && typeof j.display === "function" ? j : null;
  } catch {
    return null;
  }
}

/** Whether this code runs inside a `deno jupyter` kernel. */
export function inJupyter(): boolean {
  return jupyterSink() !== null;
}

let nextDisplay = 0;

/**
 * A fresh id for an output that is updated in place (progress bars, live plots).
 *
 * @example
 * ```ts
 * import { newDisplayId } from "./jupyter.ts";
 * newDisplayId("progress"); // e.g. "denograd-progress-3f2a-1"
 * ```
 */
export function newDisplayId(kind: string): string {
  return `denograd-${kind}-${crypto.randomUUID().slice(0, 8)}-${++nextDisplay}`;
}

/** Whether `x` has a `[Symbol.for("Jupyter.display")]` method. */
export function isDisplayable(x: unknown): x is { [JUPYTER_DISPLAY](): MimeBundle | Promise<MimeBundle> } {
  return x !== null && (typeof x === "object" || typeof x === "function") &&
    typeof (x as Record<symbol, unknown>)[JUPYTER_DISPLAY] === "function";
}
