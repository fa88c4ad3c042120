/**
 * `progress(iterable, {total, desc})`, like tqdm: one redrawn line with rate and ETA in a terminal, an HTML
 * bar updated in place in a notebook, and sparse plain lines when the output is a log file (CI logs stay
 * short). Works for sync and async iterables.
 * @module
 */
import { escapeHtml, fmtCount, fmtDuration, fmtNum, MONO } from "./format.ts";
import { type JupyterSink, jupyterSink, newDisplayId } from "./jupyter.ts";

/** Where a progress bar draws: see {@linkcode ProgressOptions.mode}. */
export type ProgressMode = "tty" | "jupyter" | "plain" | "none";

/** Options of {@linkcode progress} and {@linkcode ProgressBar}. */
export interface ProgressOptions {
  /** The number of items expected (default: the iterable's `length` or `size`, if it has one). */
  total?: number;
  /** A label printed before the bar. */
  desc?: string;
  /** The unit of the rate (default "it", giving "it/s"). */
  unit?: string;
  /**
   * "tty": one line redrawn with `\r`; "jupyter": an HTML bar updated in place; "plain": a line each
   * quarter of the total (`plainFraction`) or every `plainIntervalMs`, and one at the end; "none": silent. Default: "jupyter"
   * inside `deno jupyter`, "tty" when stderr is a terminal, else "plain".
   */
  mode?: ProgressMode;
  /** Redraw at most this often in "tty" and "jupyter" modes (default 100 ms and 200 ms). */
  minIntervalMs?: number;
  /** In "plain" mode, also print when this long has passed since the last line (default 30 s). */
  plainIntervalMs?: number;
  /** In "plain" mode, print a line each time this fraction of the total is passed (default 0.25). */
  plainFraction?: number;
  /** Width of the bar in characters ("tty" and "plain"; default 20). */
  barWidth?: number;
  /** Where "tty" and "plain" text goes (default: stderr, as tqdm). */
  write?: (text: string) => void;
  /** Where "jupyter" updates go (default: the running kernel's `Deno.jupyter`). */
  jupyter?: JupyterSink | null;
  /** The clock in milliseconds (default `performance.now`); tests pass their own. */
  now?: () => number;
}

const encoder = new TextEncoder();

function defaultWrite(text: string): void {
  const bytes = encoder.encode(text);
  for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
}

function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

const BLOCKS = " ▏▎▍▌▋▊▉█";

/**
 * A tqdm-style progress bar driven by hand (`update`), or by iterating {@linkcode progress}.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "../../mod.ts";
 * const bar = new ProgressBar({ total: 3, desc: "epochs", mode: "plain" });
 * for (let i = 0; i < 3; i++) {
 *   bar.update();
 *   bar.setPostfix({ loss: 0.5 / (i + 1) });
 * }
 * bar.close(); // epochs: 100%|████████████████████| 3/3 [00:00<00:00, ...it/s, loss=0.1667]
 * ```
 */
export class ProgressBar implements Disposable {
  /** Items done. */
  n = 0;
  /** Items expected (undefined when unknown). */
  total: number | undefined;
  /** The label. */
  desc: string;
  /** The drawing mode chosen. */
  readonly mode: ProgressMode;
  /** The display id of the notebook output ("jupyter" mode). */
  readonly displayId: string;
  #postfix: Record<string, unknown> = {};
  readonly #unit: string;
  readonly #write: (text: string) => void;
  readonly #sink: JupyterSink | null;
  readonly #now: () => number;
  readonly #start: number;
  readonly #minInterval: number;
  readonly #plainInterval: number;
  readonly #plainFraction: number;
  readonly #barWidth: number;
  #lastDraw = -Infinity;
  #lastPlainN = -1;
  #lastMilestone = 0;
  #closed = false;
  #shown = false;
  #pending: Promise<void> = Promise.resolve();
  /** Lines written ("tty", "plain") or display messages sent ("jupyter"). */
  draws = 0;

  /** A bar at 0; in a terminal or notebook it is drawn at once. */
  constructor(opts: ProgressOptions = {}) {
    if (opts.total !== undefined && (!Number.isFinite(opts.total) || opts.total < 0)) {
      throw new RangeError(`progress: total must be a non-negative number, got ${opts.total}`);
    }
    this.total = opts.total;
    this.desc = opts.desc ?? "";
    this.#unit = opts.unit ?? "it";
    this.#write = opts.write ?? defaultWrite;
    this.#sink = opts.jupyter === undefined ? jupyterSink() : opts.jupyter;
    this.mode = opts.mode ?? (this.#sink ? "jupyter" : stderrIsTerminal() ? "tty" : "plain");
    if (this.mode === "jupyter" && !this.#sink) {
      throw new Error('progress: mode "jupyter" needs a running deno jupyter kernel (or the jupyter option)');
    }
    this.#now = opts.now ?? (() => performance.now());
    this.#start = this.#now();
    this.#minInterval = opts.minIntervalMs ?? (this.mode === "jupyter" ? 200 : 100);
    this.#plainInterval = opts.plainIntervalMs ?? 30_000;
    this.#plainFraction = opts.plainFraction ?? 0.25;
    this.#barWidth = opts.barWidth ?? 20;
    this.displayId = newDisplayId("progress");
    this.#lastDraw = this.#start;
    this.#draw(false);
  }

  /** Seconds since the bar started. */
  get elapsed(): number {
    return (this.#now() - this.#start) / 1000;
  }

  /** Items per second so far. */
  get rate(): number {
    const e = this.elapsed;
    return e > 0 ? this.n / e : 0;
  }

  /** Values shown after the rate, like tqdm's `set_postfix` (e.g. `{ loss: 0.12 }`). */
  setPostfix(values: Record<string, unknown>): void {
    this.#postfix = { ...values };
  }

  /** Adds `k` items done (default 1) and redraws when due. */
  update(k = 1): void {
    if (this.#closed) return;
    this.n += k;
    this.#draw(false);
  }

  /** Waits until the notebook has received the updates sent so far ("jupyter" mode). */
  async settled(): Promise<void> {
    await this.#pending;
  }

  /** Draws the final state and ends the line. Calling it again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#draw(true);
    this.#closed = true;
  }

  /** Closes the bar at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The tqdm line, e.g. `train: 45%|█████████           | 45/100 [00:12<00:15, 3.61it/s, loss=0.12]`. */
  format(): string {
    const p = this.#parts();
    const desc = this.desc ? `${this.desc}: ` : "";
    if (p.frac === null) return `${desc}${p.counts} [${p.times}, ${p.tail}]`;
    return `${desc}${p.pct.padStart(4)}|${this.#bar(p.frac)}| ${p.counts} [${p.times}, ${p.tail}]`;
  }

  #parts(): { frac: number | null; pct: string; counts: string; times: string; tail: string } {
    const elapsed = this.elapsed;
    const rate = this.rate;
    const rateText = rate === 0
      ? `?${this.#unit}/s`
      : rate >= 1
      ? `${fmtNum(rate, 3)}${this.#unit}/s`
      : `${fmtNum(1 / rate, 3)}s/${this.#unit}`;
    const post = Object.entries(this.#postfix).map(([k, v]) =>
      `${k}=${typeof v === "number" ? fmtNum(v) : String(v)}`
    );
    const tail = [rateText, ...post].join(", ");
    if (this.total === undefined) {
      return {
        frac: null,
        pct: "",
        counts: `${fmtCount(this.n)}${this.#unit}`,
        times: fmtDuration(elapsed),
        tail,
      };
    }
    const frac = this.total > 0 ? Math.min(1, this.n / this.total) : 1;
    const eta = rate > 0 ? Math.max(0, this.total - this.n) / rate : NaN;
    return {
      frac,
      pct: `${Math.floor(frac * 100)}%`,
      counts: `${fmtCount(this.n)}/${fmtCount(this.total)}`,
      times: `${fmtDuration(elapsed)}<${fmtDuration(eta)}`,
      tail,
    };
  }

  #bar(frac: number): string {
    const cells = frac * this.#barWidth;
    const full = Math.floor(cells);
    const part = full < this.#barWidth ? BLOCKS[Math.floor((cells - full) * 8)] : "";
    return ("█".repeat(full) + part).padEnd(this.#barWidth, " ");
  }

  /** The notebook bar as HTML: label, percentage, a coloured bar (green when done), counts, times, rate. */
  html(final = false): string {
    const p = this.#parts();
    const done = this.total === undefined || this.n >= this.total;
    const color = final ? (done ? "#2ca02c" : "#e8a33d") : "#4c72b0";
    const frac = p.frac ?? (final ? 1 : 0);
    const bar = p.frac === null && !final
      ? ""
      : `<span style="display:inline-block;vertical-align:middle;width:240px;height:12px;background:#e6e6e6;` +
        `border-radius:3px;overflow:hidden;margin:0 8px"><span style="display:block;width:${
          (frac * 100).toFixed(1)
        }%;` +
        `height:100%;background:${color}"></span></span>`;
    const desc = this.desc ? `<b>${escapeHtml(this.desc)}</b> ` : "";
    const text = `${p.counts} [${p.times}, ${p.tail}]`;
    return `<div class="denograd-progress" style="${MONO};font-size:12px;line-height:1.6">${desc}${
      escapeHtml(p.pct)
    }${bar}<span>${escapeHtml(text)}</span></div>`;
  }

  #draw(final: boolean): void {
    if (this.mode === "none") return;
    const now = this.#now();
    if (this.mode === "plain") {
      if (!this.#plainDue(now, final)) return;
      this.#lastPlainN = this.n;
      this.#lastDraw = now;
      this.draws++;
      this.#write(this.format() + "\n");
      return;
    }
    const first = !this.#shown;
    if (!final && !first && now - this.#lastDraw < this.#minInterval) return;
    this.#lastDraw = now;
    this.#shown = true;
    this.draws++;
    if (this.mode === "tty") {
      this.#write(`\r${this.format()}\x1b[K${final ? "\n" : ""}`);
      return;
    }
    const bundle = { "text/html": this.html(final), "text/plain": this.format() };
    const sink = this.#sink!;
    const opts = { raw: true, display_id: this.displayId, update: !first };
    this.#pending = this.#pending.then(() => sink.display(bundle, opts)).catch(() => {});
  }

  #plainDue(now: number, final: boolean): boolean {
    if (final) return this.n !== this.#lastPlainN || this.draws === 0;
    if (this.n === 0) return false;
    if (this.total) {
      const milestone = Math.floor(this.n / this.total / this.#plainFraction + 1e-9);
      if (milestone > this.#lastMilestone) {
        this.#lastMilestone = milestone;
        return true;
      }
    }
    return now - this.#lastDraw >= this.#plainInterval;
  }
}

/**
 * A progress bar that is also the iterable it wraps: see {@linkcode progress}.
 *
 * @example
 * ```ts
 * import { progress, type Progress } from "../../mod.ts";
 * const bar: Progress<number> = progress([1, 2, 3], { desc: "items", mode: "none" });
 * for (const item of bar) bar.setPostfix({ item });
 * bar.close();
 * ```
 */
export class Progress<T> extends ProgressBar implements Iterable<T>, AsyncIterable<T> {
  readonly #source: Iterable<T> | AsyncIterable<T>;

  /** A bar over `source` (prefer {@linkcode progress}). */
  constructor(source: Iterable<T> | AsyncIterable<T>, opts: ProgressOptions = {}) {
    super({ ...opts, total: opts.total ?? sizeOf(source) });
    this.#source = source;
  }

  /** Iterates the source, counting each item once the loop body is done with it. Closes at the end or on break. */
  *[Symbol.iterator](): Iterator<T> {
    const src = this.#source;
    if (!(Symbol.iterator in src)) {
      throw new TypeError(
        "progress: the source is an async iterable; use `for await (const x of progress(...))`",
      );
    }
    try {
      for (const x of src) {
        yield x;
        this.update();
      }
    } finally {
      this.close();
    }
  }

  /** Iterates the source asynchronously (sync sources too), awaiting notebook updates as it goes. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for await (const x of this.#source) {
        yield x;
        this.update();
        await this.settled();
      }
    } finally {
      this.close();
      await this.settled();
    }
  }
}

function sizeOf(source: unknown): number | undefined {
  if (source === null || typeof source !== "object") return undefined;
  const s = source as { length?: unknown; size?: unknown };
  if (typeof s.length === "number" && Number.isFinite(s.length)) return s.length;
  if (typeof s.size === "number" && Number.isFinite(s.size)) return s.size;
  return undefined;
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/**
 * Wraps an iterable (sync or async, e.g. a `DataLoader`) or a count in a progress bar, like tqdm: a
 * redrawn line with rate and ETA in a terminal, an HTML bar updated in place in a notebook, a line per quarter
 * when stderr is a file. The total comes from `total`, or the iterable's `length`/`size`.
 *
 * @example
 * ```ts
 * import { progress } from "../../mod.ts";
 * for (const i of progress(50, { desc: "steps" })) {
 *   // ... one training step
 * }
 * const bar = progress([1, 2, 3], { desc: "items", mode: "none" });
 * for (const x of bar) bar.setPostfix({ x });
 * ```
 */
export function progress<T>(source: Iterable<T> | AsyncIterable<T>, opts?: ProgressOptions): Progress<T>;
/** A progress bar over `0, 1, ..., n - 1` (like tqdm's `trange`). */
export function progress(count: number, opts?: ProgressOptions): Progress<number>;
export function progress<T>(
  source: Iterable<T> | AsyncIterable<T> | number,
  opts: ProgressOptions = {},
): Progress<T> | Progress<number> {
  if (typeof source === "number") {
    if (!Number.isInteger(source) || source < 0) {
      throw new RangeError(`progress: a count must be a non-negative integer, got ${source}`);
    }
    return new Progress(range(source), { ...opts, total: opts.total ?? source });
  }
  if (
    source === null || typeof source !== "object" && typeof source !== "string" ||
    !(Symbol.iterator in Object(source) || Symbol.asyncIterator in Object(source))
  ) {
    throw new TypeError(
      `progress: expected an iterable, an async iterable or a count, got ${String(source)}`,
    );
  }
  return new Progress(source, opts);
}
