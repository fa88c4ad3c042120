/**
 * GPU time per dispatch from `timestamp-query`, for `profile()` (src/profiler/). While a
 * {@linkcode DispatchTimer} is installed on a {@linkcode CommandBatch}, every dispatch gets its own compute pass
 * whose `timestampWrites` write the pass's start and end into a query set; at each submit the queries are
 * resolved into a buffer; {@linkcode DispatchTimer.collect} reads them all once, at the end. Without a timer the
 * batch records dispatches into one pass as usual: profiling costs nothing when it is off.
 * @module
 */
import type { CommandBatch } from "./command_batch.ts";

/** One timed (or, without `timestamp-query`, counted) dispatch. */
export interface DispatchRecord {
  /** The op label the kernel launcher passed (e.g. "matmul", "reduce.sum", "optimizer.adam"). */
  label: string;
  /** GPU time of the dispatch's compute pass in milliseconds; null when the adapter has no timestamps. */
  ms: number | null;
}

/** Timestamps of one query set resolved per submit (two per dispatch: start and end of its pass). */
const QUERIES_PER_SUBMIT = 2 * 256;
/** Bytes of each resolve buffer: many submits share one, each at a 256-byte aligned offset. */
const SEGMENT_BYTES = 1 << 18;

interface Segment {
  buffer: GPUBuffer;
  used: number;
}

interface ResolvedSubmit {
  segment: number;
  offset: number;
  labels: string[];
}

/**
 * Collects per-dispatch GPU times for one profiling session. Install with `batch.timer = timer`, remove before
 * {@linkcode collect}.
 *
 * @example
 * ```ts
 * import { gpu } from "../../../mod.ts";
 * import { webgpuBackend } from "../registry.ts";
 * import { DispatchTimer } from "./profiler.ts";
 * const b = webgpuBackend();
 * if (b) {
 *   const timer = new DispatchTimer(b.gpu);
 *   b.batch.timer = timer;
 *   // ... ops ...
 *   b.batch.timer = null;
 *   const records = await timer.collect(b.batch); // [{ label: "add", ms: 0.02 }, ...]
 * }
 * ```
 */
export class DispatchTimer {
  readonly #device: GPUDevice;
  readonly #querySet: GPUQuerySet | null;
  /** Labels of the dispatches recorded since the last resolve (their queries are 2i, 2i + 1). */
  #labels: string[] = [];
  /** Labels of dispatches that got no timestamps (no `timestamp-query`). */
  readonly #untimed: string[] = [];
  readonly #segments: Segment[] = [];
  readonly #submits: ResolvedSubmit[] = [];
  #done = false;

  /** A timer on `device`; without the `timestamp-query` feature it counts dispatches without timing them. */
  constructor(device: GPUDevice) {
    this.#device = device;
    this.#querySet = device.features.has("timestamp-query")
      ? device.createQuerySet({ type: "timestamp", count: QUERIES_PER_SUBMIT, label: "denograd profiler" })
      : null;
  }

  /** Whether dispatches get GPU times (the device has `timestamp-query`). */
  get timed(): boolean {
    return this.#querySet !== null;
  }

  /**
   * Called by the batch before it begins a dispatch's compute pass: the pass's `timestampWrites`, or
   * undefined when the dispatch cannot be timed (then it is only counted).
   */
  next(label: string): GPUComputePassTimestampWrites | undefined {
    if (this.#done) throw new Error("DispatchTimer: used after collect()");
    if (!this.#querySet || this.#labels.length * 2 >= QUERIES_PER_SUBMIT) {
      this.#untimed.push(label);
      return undefined;
    }
    const i = this.#labels.length * 2;
    this.#labels.push(label);
    return { querySet: this.#querySet, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
  }

  /** Called by the batch before it finishes `encoder`: resolves this submit's queries into a buffer. */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.#labels.length;
    if (!this.#querySet || n === 0) return;
    const bytes = n * 2 * 8;
    let seg = this.#segments[this.#segments.length - 1];
    if (!seg || seg.used + bytes > SEGMENT_BYTES) {
      seg = {
        buffer: this.#device.createBuffer({
          size: SEGMENT_BYTES,
          usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
          label: "denograd profiler timestamps",
        }),
        used: 0,
      };
      this.#segments.push(seg);
    }
    encoder.resolveQuerySet(this.#querySet, 0, n * 2, seg.buffer, seg.used);
    this.#submits.push({ segment: this.#segments.length - 1, offset: seg.used, labels: this.#labels });
    seg.used += Math.ceil(bytes / 256) * 256; // resolve offsets must be multiples of 256
    this.#labels = [];
  }

  /**
   * Reads every resolved timestamp (one read for the whole session) and frees the timer's buffers. The timer
   * must already be removed from `batch`, whose pending commands are submitted first.
   */
  async collect(batch: CommandBatch): Promise<DispatchRecord[]> {
    if (batch.timer === this) throw new Error("DispatchTimer.collect: remove the timer from the batch first");
    if (this.#labels.length) {
      throw new Error("DispatchTimer.collect: dispatches recorded but never submitted");
    }
    this.#done = true;
    const reads = this.#segments.map((seg) => {
      const read = this.#device.createBuffer({
        size: seg.used,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: "denograd profiler read",
      });
      batch.copy(seg.buffer, 0, read, 0, seg.used);
      return read;
    });
    batch.flush();
    const out: DispatchRecord[] = [];
    try {
      if (batch.held) await batch.submitted(); // the copies may be held behind a cross-device transfer
      await Promise.all(reads.map((r) => r.mapAsync(GPUMapMode.READ)));
      const stamps = reads.map((r) => new BigUint64Array(r.getMappedRange()));
      for (const s of this.#submits) {
        const t = stamps[s.segment];
        const base = s.offset / 8;
        s.labels.forEach((label, i) => {
          const begin = t[base + 2 * i];
          const end = t[base + 2 * i + 1];
          // a driver may write 0 for a pass it did not time, or order the two wrongly: count 0 then
          out.push({ label, ms: end > begin && begin > 0n ? Number(end - begin) / 1e6 : 0 });
        });
      }
    } finally {
      this.dispose();
      for (const r of reads) r.destroy();
    }
    for (const label of this.#untimed) out.push({ label, ms: null });
    return out;
  }

  /** Frees the query set and resolve buffers (also done by {@linkcode collect}). */
  dispose(): void {
    this.#done = true;
    this.#querySet?.destroy();
    for (const s of this.#segments) s.buffer.destroy();
    this.#segments.length = 0;
  }
}
