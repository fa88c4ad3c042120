/**
 * `profile(fn)`: where a region of code (a training step, a forward pass) spends its time and memory, op by
 * op. On WebGPU each kernel dispatch is timed on the GPU with `timestamp-query`; on the CPU each kernel is timed
 * with `performance.now()`. Outside `profile()` nothing is hooked and nothing costs extra.
 * @module
 */
import type { MemoryInfo } from "../backend/backend.ts";
import { cpuBackend } from "../backend/cpu/cpu_backend.ts";
import { webgpuDevices } from "../backend/registry.ts";
import { DispatchTimer } from "../backend/webgpu/profiler.ts";
import type { WebGpuBackend } from "../backend/webgpu/webgpu_backend.ts";

/** One kind of op in a {@linkcode Profile}: every call of it on one device, summed. */
export interface ProfileRow {
  /**
   * The op: the kernel's name as the backend labels it, e.g. "matmul", "add", "relu", "reduce.sum", "im2col",
   * "pool2d.max.backward", "optimizer.adam", "cast", "copy_" (a write into a view), "upload", "alloc".
   */
  op: string;
  /** The device it ran on ("cpu", "webgpu", "webgpu:1", ...). */
  device: string;
  /** How many times it ran (kernel dispatches on WebGPU; for "upload" and "alloc", buffers made). */
  calls: number;
  /**
   * Milliseconds spent in it: GPU time from timestamps on WebGPU, the kernel's time on the CPU; null when
   * it was not timed (uploads and zero-fills on WebGPU are queue commands, not dispatches; an adapter without
   * `timestamp-query` times nothing).
   */
  totalMs: number | null;
  /** totalMs / calls, or null when not timed. */
  meanMs: number | null;
  /** totalMs as a fraction (0..1) of the region's wall time, or null when not timed. */
  share: number | null;
  /** Bytes of the buffers the op's calls allocated (outputs and temporaries; pooled sizes on WebGPU). */
  bytesAllocated: number;
  /** The most bytes in use on the device right after one of its allocations (where the peak is reached). */
  peakBytes: number;
}

/** Memory of one device over a profiled region. */
export interface ProfileMemory {
  /** The device. */
  device: string;
  /** Bytes in use when the region started. */
  startBytes: number;
  /** The most bytes in use at once during the region. */
  peakBytes: number;
  /** Bytes in use when the region ended (what `gpu.memory().inUse` then says on WebGPU). */
  endBytes: number;
  /** Bytes held by the device's pool at the end (in use plus cached; equal to endBytes on the CPU). */
  heldBytes: number;
}

/** Options of {@linkcode profile}. */
export interface ProfileOptions {
  /**
   * Wait for queued GPU work before starting the clock (default true), so that work enqueued before the
   * region is neither timed nor counted in its wall time.
   */
  syncBefore?: boolean;
}

/**
 * What {@linkcode profile} measured: one row per op kind and device, the region's wall time, memory, and the
 * engine's dispatch and submit counts. Shows itself as a table (and a bar chart) in `deno jupyter`.
 *
 * @example
 * ```ts
 * import { profile, randn } from "../../mod.ts";
 * const a = randn([64, 64]);
 * const p = await profile(() => a.matmul(a).relu().sum().item());
 * console.log(p.toString()); // a table: op, device, calls, total ms, mean ms, share, allocated, peak
 * p.row("matmul")?.calls; // 1
 * ```
 */
export class Profile<T = unknown> {
  /** Internal: made by {@linkcode profile}. */
  constructor(
    /** One row per op kind and device, the longest first (untimed rows last, by calls). */
    readonly rows: readonly ProfileRow[],
    /** Wall-clock milliseconds of the region, GPU work included (from the start of `fn` to the GPU idle). */
    readonly wallMs: number,
    /** Memory per device that the region used. */
    readonly memory: readonly ProfileMemory[],
    /** Kernel dispatches and command-buffer submits on WebGPU during the region (all devices). */
    readonly engine: { dispatches: number; submits: number },
    /** How ops were timed: "gpu" (timestamp queries), "host" (CPU only), "mixed", or "none". */
    readonly timing: "gpu" | "host" | "mixed" | "none",
    /** What `fn` returned (awaited). */
    readonly result: T,
  ) {}

  /** The row of `op` (on `device`, or the first device that ran it), or undefined. */
  row(op: string, device?: string): ProfileRow | undefined {
    return this.rows.find((r) => r.op === op && (device === undefined || r.device === device));
  }

  /** The time of every timed op summed (≤ wallMs). */
  get opMs(): number {
    return this.rows.reduce((s, r) => s + (r.totalMs ?? 0), 0);
  }

  /**
   * Wall time outside any timed op: JavaScript building the graph and enqueuing kernels, uploads, reads,
   * submits, and, on WebGPU, gaps between kernels.
   */
  get otherMs(): number {
    return Math.max(0, this.wallMs - this.opMs);
  }

  /** The memory of `device` (default: the first device that allocated), or undefined. */
  memoryOf(device?: string): ProfileMemory | undefined {
    return device === undefined ? this.memory[0] : this.memory.find((m) => m.device === device);
  }

  /** The table as aligned text lines (what a terminal and `text/plain` show). */
  toString(): string {
    const head = ["op", "device", "calls", "total ms", "mean ms", "share", "allocated", "peak in use"];
    const body = this.rows.map((r) => [
      r.op,
      r.device,
      String(r.calls),
      r.totalMs === null ? "-" : r.totalMs.toFixed(3),
      r.meanMs === null ? "-" : r.meanMs.toFixed(3),
      r.share === null ? "-" : `${(r.share * 100).toFixed(1)}%`,
      r.bytesAllocated ? bytesText(r.bytesAllocated) : "-",
      r.peakBytes ? bytesText(r.peakBytes) : "-",
    ]);
    const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ").trimEnd();
    const lines = [this.headline(), line(head), ...body.map(line)];
    lines.push(...this.footnotes());
    return lines.join("\n");
  }

  /** The one-line summary above the table. */
  headline(): string {
    const how =
      { gpu: "GPU timestamps", host: "CPU timers", mixed: "GPU timestamps and CPU timers", none: "untimed" }[
        this.timing
      ];
    const engine = this.engine.dispatches || this.engine.submits
      ? `, ${this.engine.dispatches} dispatches in ${this.engine.submits} submits`
      : "";
    return `Profile: ${this.rows.length} ops in ${this.wallMs.toFixed(2)} ms wall (${how})${engine}`;
  }

  /** The lines under the table: time outside ops and memory per device. */
  footnotes(): string[] {
    const out: string[] = [];
    if (this.timing !== "none") {
      out.push(
        `outside ops: ${this.otherMs.toFixed(2)} ms (${pct(this.otherMs / this.wallMs)}): JavaScript, ` +
          `enqueuing, uploads, reads, waits`,
      );
    }
    for (const m of this.memory) {
      out.push(
        `memory ${m.device}: start ${bytesText(m.startBytes)}, peak ${bytesText(m.peakBytes)}, end ` +
          `${bytesText(m.endBytes)}` +
          (m.heldBytes !== m.endBytes ? `, held by the pool ${bytesText(m.heldBytes)}` : ""),
      );
    }
    return out;
  }

  /** A plain object with the rows and totals (for JSON files). */
  toJSON(): {
    wallMs: number;
    opMs: number;
    otherMs: number;
    timing: string;
    engine: { dispatches: number; submits: number };
    memory: readonly ProfileMemory[];
    rows: readonly ProfileRow[];
  } {
    const { wallMs, opMs, otherMs, timing, engine, memory, rows } = this;
    return { wallMs, opMs, otherMs, timing, engine, memory, rows };
  }
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "-";
}

function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 2 ** 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 2 ** 30) return `${(n / 2 ** 20).toFixed(2)} MiB`;
  return `${(n / 2 ** 30).toFixed(2)} GiB`;
}

/** Accumulates the rows while a region runs. */
class Recorder {
  readonly #rows = new Map<string, ProfileRow & { allocations: number; dispatches: number }>();
  readonly peaks = new Map<string, number>();

  #row(device: string, op: string) {
    const key = `${device}\u0000${op}`;
    let r = this.#rows.get(key);
    if (!r) {
      r = {
        op,
        device,
        calls: 0,
        totalMs: null,
        meanMs: null,
        share: null,
        bytesAllocated: 0,
        peakBytes: 0,
        allocations: 0,
        dispatches: 0,
      };
      this.#rows.set(key, r);
    }
    return r;
  }

  /** A CPU kernel call: its time, the bytes it allocated and the in-use figure after it. */
  call(device: string, op: string, ms: number, bytes: number, inUse: number): void {
    const r = this.#row(device, op);
    r.calls++;
    r.totalMs = (r.totalMs ?? 0) + ms;
    r.bytesAllocated += bytes;
    if (bytes > 0) r.peakBytes = Math.max(r.peakBytes, inUse);
    this.peaks.set(device, Math.max(this.peaks.get(device) ?? 0, inUse));
  }

  /** A GPU buffer taken from the pool for `op`. */
  allocation(device: string, op: string, bytes: number, inUse: number): void {
    const r = this.#row(device, op);
    r.allocations++;
    r.bytesAllocated += bytes;
    r.peakBytes = Math.max(r.peakBytes, inUse);
    this.peaks.set(device, Math.max(this.peaks.get(device) ?? 0, inUse));
  }

  /** A GPU dispatch and its time (null: not timed). */
  dispatch(device: string, op: string, ms: number | null): void {
    const r = this.#row(device, op);
    r.dispatches++;
    if (ms !== null) r.totalMs = (r.totalMs ?? 0) + ms;
  }

  rows(wallMs: number): ProfileRow[] {
    const out: ProfileRow[] = [];
    for (const r of this.#rows.values()) {
      const { allocations, dispatches, ...row } = r;
      if (row.device !== "cpu") row.calls = dispatches > 0 ? dispatches : allocations;
      if (row.totalMs !== null) {
        row.meanMs = row.calls ? row.totalMs / row.calls : 0;
        row.share = wallMs > 0 ? row.totalMs / wallMs : 0;
      }
      out.push(row);
    }
    return out.sort((a, b) =>
      (b.totalMs ?? -1) - (a.totalMs ?? -1) || b.calls - a.calls || a.op.localeCompare(b.op)
    );
  }
}

/** CPU backend methods that are not kernels (never timed). */
const CPU_SKIP = new Set(["constructor", "free", "read", "flush", "sync", "memory"]);

/** The profiler's op name of a CPU backend call: the same names the WebGPU kernels are labelled with. */
function cpuOpLabel(method: string, args: unknown[]): string {
  switch (method) {
    case "unary": {
      const x = args[1] as { storage: { dtype: string } };
      return args[0] === "copy" && args[2] !== x.storage.dtype ? "cast" : String(args[0]);
    }
    case "binary":
      return String(args[0]);
    case "reduce":
      return `reduce.${args[0]}`;
    case "copy":
      return "copy_";
    case "pool2d":
      return `pool2d.${(args[1] as { op: string }).op}`;
    case "pool2dBackward":
      return `pool2d.${(args[3] as { op: string }).op}.backward`;
    case "optimizerStep":
      return `optimizer.${(args[0] as { kind: string }).kind}`;
    default:
      return method;
  }
}

type Method = (...args: unknown[]) => unknown;

/** Shadows the CPU backend's kernels with timed wrappers; returns the function that removes them. */
function hookCpu(rec: Recorder): () => void {
  const target = cpuBackend as unknown as Record<string, Method>;
  const proto = Object.getPrototypeOf(cpuBackend);
  const names = Object.getOwnPropertyNames(proto).filter((n) =>
    !CPU_SKIP.has(n) && typeof Object.getOwnPropertyDescriptor(proto, n)?.value === "function"
  );
  let depth = 0;
  for (const name of names) {
    const original = proto[name] as Method;
    target[name] = function (this: unknown, ...args: unknown[]) {
      if (depth > 0) return original.apply(this, args);
      depth++;
      const before = cpuBackend.memory().inUse;
      const t0 = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        const ms = performance.now() - t0;
        depth--;
        const after = cpuBackend.memory().inUse;
        rec.call("cpu", cpuOpLabel(name, args), ms, Math.max(0, after - before), after);
      }
    };
  }
  return () => {
    for (const name of names) delete target[name];
  };
}

/** Installs a dispatch timer and an allocation hook on one WebGPU backend. */
function hookGpu(b: WebGpuBackend, rec: Recorder) {
  const timer = new DispatchTimer(b.gpu);
  b.batch.timer = timer;
  const pool = b.pool as unknown as { acquire: (bytes: number, what: string) => { bytes: number } };
  const acquire = pool.acquire;
  pool.acquire = function (bytes: number, what: string) {
    const buf = acquire.call(this, bytes, what);
    rec.allocation(b.device, what, buf.bytes, b.pool.memory().inUse);
    return buf;
  };
  const stats = { dispatches: b.batch.totalDispatches, submits: b.batch.totalSubmits };
  return {
    backend: b,
    timer,
    start: b.memory().inUse,
    /** Submits what is recorded (resolving its timestamps) and removes the hooks. */
    unhook(): { dispatches: number; submits: number } {
      try {
        b.batch.flush();
      } finally {
        b.batch.timer = null;
        delete (pool as Partial<typeof pool>).acquire;
      }
      return {
        dispatches: b.batch.totalDispatches - stats.dispatches,
        submits: b.batch.totalSubmits - stats.submits,
      };
    },
  };
}

let active = false;

/**
 * Runs `fn` (sync or async) and reports where its time and memory went, op by op: calls, time (GPU time
 * per kernel from `timestamp-query` on WebGPU, `performance.now()` per kernel on the CPU), its share of the
 * region's wall time, bytes allocated, and peak memory. The region ends when `fn` has returned and the GPU is
 * idle, so the wall time includes all the work `fn` enqueued.
 *
 * While profiling, every WebGPU dispatch gets its own compute pass with timestamp writes (slightly slower than
 * the usual single pass) and CPU kernels are wrapped in timers; both are removed when `profile` returns or
 * throws. Outside `profile` nothing is hooked. Profiles do not nest. Work from other async code that runs
 * meanwhile (a `DataLoader` prefetching, another promise) is counted too.
 *
 * @example
 * ```ts
 * import { F, nn, optim, profile, randint, randn } from "../../mod.ts";
 * const model = new nn.Sequential(new nn.Linear(784, 128), new nn.ReLU(), new nn.Linear(128, 10));
 * const opt = new optim.Adam(model.parameters());
 * const [x, y] = [randn([64, 784]), randint(0, 10, [64])];
 * const p = await profile(async () => {
 *   opt.zeroGrad();
 *   const loss = F.crossEntropy(model.forward(x), y);
 *   loss.backward();
 *   opt.step();
 *   return await loss.item();
 * });
 * console.log(p.toString()); // matmul, optimizer.adam, ... with their share of the step
 * console.log(p.result); // the loss
 * ```
 */
export async function profile<T>(
  fn: () => T | Promise<T>,
  opts: ProfileOptions = {},
): Promise<Profile<Awaited<T>>> {
  if (typeof fn !== "function") throw new TypeError(`profile: expected a function, got ${typeof fn}`);
  if (active) {
    throw new Error(
      "profile: a profile is already running (profiles do not nest): profile the outer region only",
    );
  }
  active = true;
  try {
    const backends = webgpuDevices().map((s) => s.backend).filter((b) => !b.isLost);
    if (opts.syncBefore ?? true) await Promise.all(backends.map((b) => b.sync()));
    const rec = new Recorder();
    const cpuStart = cpuBackend.memory().inUse;
    rec.peaks.set("cpu", cpuStart);
    const hooks: ReturnType<typeof hookGpu>[] = [];
    const unhookCpu = hookCpu(rec);
    let engine = { dispatches: 0, submits: 0 };
    let wallMs = 0;
    let result = undefined as Awaited<T>;
    try {
      for (const b of backends) {
        hooks.push(hookGpu(b, rec));
        rec.peaks.set(b.device, b.memory().inUse);
      }
      const t0 = performance.now();
      try {
        result = await fn();
      } finally {
        unhookCpu();
        for (const h of hooks) {
          const s = h.unhook();
          engine = { dispatches: engine.dispatches + s.dispatches, submits: engine.submits + s.submits };
        }
      }
      await Promise.all(backends.map((b) => b.sync()));
      wallMs = performance.now() - t0;
    } catch (e) {
      // fn (or the GPU) failed: the hooks are off; free the timers' buffers once their commands are done
      await Promise.all(hooks.map((h) => h.timer.collect(h.backend.batch).catch(() => h.timer.dispose())));
      throw e;
    }
    let timed = false;
    for (const h of hooks) {
      for (const d of await h.timer.collect(h.backend.batch)) {
        rec.dispatch(h.backend.device, d.label, d.ms);
        if (d.ms !== null) timed = true;
      }
    }
    const rows = rec.rows(wallMs);
    const memory: ProfileMemory[] = [];
    const memOf = (device: string, start: number, m: MemoryInfo) => {
      if (rows.some((r) => r.device === device)) {
        memory.push({
          device,
          startBytes: start,
          peakBytes: Math.max(rec.peaks.get(device) ?? 0, start, m.inUse),
          endBytes: m.inUse,
          heldBytes: m.allocated,
        });
      }
    };
    for (const h of hooks) memOf(h.backend.device, h.start, h.backend.memory());
    memOf("cpu", cpuStart, cpuBackend.memory());
    const cpuTimed = rows.some((r) => r.device === "cpu" && r.totalMs !== null);
    const timing = timed && cpuTimed ? "mixed" : timed ? "gpu" : cpuTimed ? "host" : "none";
    return new Profile(rows, wallMs, memory, engine, timing, result);
  } finally {
    active = false;
  }
}
