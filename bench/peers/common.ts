/**
 * Shared plumbing for the peer benchmark scripts (`tfjs.ts`, `jaxjs.ts`): command-line parsing,
 * timing loops, the matmul size sweep with its time budget, deterministic data for the training
 * workloads, and the one-JSON-line output contract.
 *
 * Every script prints exactly one JSON line on stdout; anything the libraries log goes to stderr.
 *
 * @module
 */

/** Parsed command line: `<workload> [arg] [--max-seconds S] [--device D]`. */
export interface Cli {
  workload: string;
  /** The positional argument after the workload (size list, repetition count, step count). */
  arg: string | undefined;
  maxSeconds: number;
  device: string | undefined;
}

export const USAGE = "usage: <script> matmul N1,N2,... [--max-seconds S] | chain REPS | dispatch [OPS] | " +
  "mlp-step [STEPS] | cnn-step [STEPS]   (jaxjs.ts also takes --device webgpu|wasm)";

/** Parses `Deno.args`; throws on unknown flags. */
export function parseCli(args: string[]): Cli {
  const positional: string[] = [];
  let maxSeconds = 60;
  let device: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.includes("=") ? a.split("=", 2) : [a, undefined];
    const value = () => inline ?? args[++i];
    if (flag === "--max-seconds") maxSeconds = Number(value());
    else if (flag === "--device") device = value();
    else if (flag.startsWith("--")) throw new Error(`unknown flag ${flag}; ${USAGE}`);
    else positional.push(a);
  }
  if (!(maxSeconds > 0)) throw new Error("--max-seconds must be a positive number");
  return { workload: positional[0] ?? "", arg: positional[1], maxSeconds, device };
}

/** Positive integer from a CLI argument, or `fallback` when absent. */
export function intArg(arg: string | undefined, fallback: number): number {
  if (arg === undefined) return fallback;
  const v = Number(arg);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`expected a positive integer, got ${arg}`);
  return v;
}

/** Size list such as `256,512,1024`. */
export function sizeList(arg: string | undefined, fallback: number[]): number[] {
  if (arg === undefined) return fallback;
  return arg.split(",").map((s) => intArg(s.trim(), 0));
}

/**
 * Sends `console.log/info/debug` to stderr so that stdout carries only the result line.
 * Returns a writer for that line.
 */
export function quietStdout(): (obj: unknown) => void {
  const toErr = (...xs: unknown[]) => console.error(...xs);
  console.log = toErr;
  console.info = toErr;
  console.debug = toErr;
  const enc = new TextEncoder();
  return (obj) => {
    const bytes = enc.encode(JSON.stringify(obj) + "\n");
    let off = 0;
    while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
  };
}

/** Milliseconds since an arbitrary origin. */
export const now = (): number => performance.now();

/** Rounds to `digits` significant-ish decimals for readable JSON. */
export function round(x: number, digits = 4): number {
  if (!Number.isFinite(x)) return x;
  const m = 10 ** Math.max(0, digits - Math.max(0, Math.floor(Math.log10(Math.abs(x) || 1)) + 1));
  return Math.round(x * m) / m;
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Describes a WebGPU adapter in one string, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) [fallback]`. */
export function describeAdapter(info: unknown): string {
  if (!info || typeof info !== "object") return "unknown";
  const i = info as Record<string, unknown>;
  const parts = [
    i.description,
    i.vendor && `vendor ${i.vendor}`,
    i.architecture,
    i.device && `device ${i.device}`,
  ]
    .filter((x) => typeof x === "string" && x !== "" && x !== "device 0");
  const name = String(parts[0] ?? "unknown");
  return i.isFallbackAdapter ? `${name} [fallback adapter]` : name;
}

/** WebGPU compute dispatches so far, once `countGpuDispatches()` (run by `main`) installed the counter. */
export let gpuDispatches = (): number => 0;

/**
 * Counts WebGPU compute dispatches from now on (wraps `GPUComputePassEncoder.dispatchWorkgroups`;
 * the wrapper costs well under a microsecond). Shows whether a peer really ran its ops on the GPU:
 * e.g. TF.js forwards tiny CPU-resident tensors to its CPU backend.
 */
export function countGpuDispatches(): () => number {
  let count = 0;
  gpuDispatches = () => count;
  if (typeof GPUComputePassEncoder === "undefined") return () => 0;
  const proto = GPUComputePassEncoder.prototype;
  const direct = proto.dispatchWorkgroups;
  const indirect = proto.dispatchWorkgroupsIndirect;
  proto.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args: Parameters<typeof direct>) {
    count++;
    return direct.apply(this, args);
  };
  proto.dispatchWorkgroupsIndirect = function (
    this: GPUComputePassEncoder,
    ...args: Parameters<typeof indirect>
  ) {
    count++;
    return indirect.apply(this, args);
  };
  return () => count;
}

// ---------------------------------------------------------------------------------------------
// matmul

/** One matmul size, prepared by a peer: `issue` enqueues one product, `sync` waits for all issued. */
export interface MatmulCase {
  issue(): void;
  sync(): Promise<void>;
  dispose(): void;
}

export interface MatmulResult {
  n: number;
  gflops?: number;
  ms?: number;
  iters?: number;
  first_ms?: number;
  first_gflops?: number;
  gpu_dispatches_per_iter?: number;
  budget_limited?: boolean;
  skipped?: string;
}

/**
 * Runs the square matmul sweep. Per size: one warm-up product (compile; reported as `first_ms`),
 * one calibration product, then `iters = max(3, ceil(1 s / calibration))` products issued
 * back-to-back and a single completion wait. A size is skipped, with the larger ones after it,
 * when its projected cost (5 products, scaled by N^3 from the previous size) would overrun the
 * `maxSeconds` budget counted from the start of the sweep. With no projection (first size), the
 * budget is checked after the warm-up, and the timed run may shrink to >= 1 s (`budget_limited`).
 */
export async function matmulSweep(
  sizes: number[],
  maxSeconds: number,
  make: (n: number) => Promise<MatmulCase>,
): Promise<MatmulResult[]> {
  const start = now();
  const deadline = start + maxSeconds * 1000;
  const results: MatmulResult[] = [];
  let prev: { n: number; ms: number } | undefined;
  let skipReason: string | undefined;
  for (const n of sizes) {
    if (!skipReason && prev) {
      const perIter = prev.ms * (n / prev.n) ** 3;
      const projected = Math.max(5 * perIter, 1000 + 2 * perIter);
      if (now() + projected > deadline) {
        skipReason = `projected ${(projected / 1000).toFixed(1)} s (from n=${prev.n}) exceeds the ` +
          `--max-seconds ${maxSeconds} budget (${((now() - start) / 1000).toFixed(1)} s used)`;
      }
    }
    if (!skipReason && now() > deadline) skipReason = `--max-seconds ${maxSeconds} budget exhausted`;
    if (skipReason) {
      results.push({ n, skipped: skipReason });
      continue;
    }
    const c = await make(n);
    const gflops = (ms: number) => round((2 * n ** 3) / (ms / 1000) / 1e9);
    try {
      let t = now();
      c.issue();
      await c.sync();
      const firstMs = now() - t;
      if (now() + firstMs > deadline) {
        // Only reachable for the first size (no projection yet): keep what the warm-up showed.
        skipReason = `--max-seconds ${maxSeconds} budget exhausted after the warm-up product of n=${n}`;
        results.push({ n, skipped: skipReason, first_ms: round(firstMs), first_gflops: gflops(firstMs) });
        continue;
      }
      t = now();
      c.issue();
      await c.sync();
      const calib = now() - t;
      const wanted = Math.ceil(1000 / Math.max(calib, 1e-3)); // iterations for >= 1 s
      let iters = Math.max(3, wanted);
      const fit = Math.floor((deadline - now()) / calib);
      const budgetLimited = fit < iters && wanted < iters;
      if (budgetLimited) iters = Math.max(wanted, fit, 1); // still >= 1 s, or >= 3 iterations
      t = now();
      const d0 = gpuDispatches();
      for (let i = 0; i < iters; i++) c.issue();
      await c.sync();
      const ms = (now() - t) / iters;
      const dispatches = (gpuDispatches() - d0) / iters;
      results.push({
        n,
        gflops: gflops(ms),
        ms: round(ms),
        iters,
        first_ms: round(firstMs),
        gpu_dispatches_per_iter: round(dispatches),
        ...(budgetLimited ? { budget_limited: true } : {}),
      });
      prev = { n, ms };
    } finally {
      c.dispose();
    }
  }
  return results;
}

/** Square sizes run when `matmul` gets no list. */
export const DEFAULT_MATMUL_SIZES = [256, 512, 1024, 2048];

// ---------------------------------------------------------------------------------------------
// chain and dispatch

/** Elements in the `chain` vector (2^20). */
export const CHAIN_LEN = 1 << 20;
/**
 * Bytes counted per chain `y = relu(x*a + b) * c - x` with vector a, b, c: mul (2 reads, 1 write),
 * add (2+1), relu (1+1), mul (2+1), sub (2+1) = 14 f32 accesses per element.
 */
export const CHAIN_BYTES = 14 * 4 * CHAIN_LEN;
/** Elements in the `dispatch` tensor. */
export const DISPATCH_LEN = 64;
/** Start values of the `dispatch` tensor: 0, 1, ..., 63 (element 0 ends at the number of ops run). */
export const dispatchData = (): Float32Array<ArrayBuffer> =>
  Float32Array.from({ length: DISPATCH_LEN }, (_, i) => i);

/** Result entry for the chain workload, from the total time of `reps` timed chains. */
export function chainResult(
  mode: string,
  reps: number,
  totalMs: number,
  extra: Record<string, unknown> = {},
) {
  const ms = totalMs / reps;
  return {
    mode,
    elements: CHAIN_LEN,
    reps,
    ms_per_chain: round(ms),
    gbps: round(CHAIN_BYTES / (ms / 1000) / 1e9),
    bytes_per_chain: CHAIN_BYTES,
    ...extra,
  };
}

/** Result entry for the dispatch workload from per-trial totals (ms for `ops` ops + one read). */
export function dispatchResult(
  mode: string,
  ops: number,
  trialsMs: number[],
  extra: Record<string, unknown> = {},
) {
  return {
    mode,
    elements: DISPATCH_LEN,
    ops,
    us_per_op: round((median(trialsMs) * 1000) / ops),
    trials_us_per_op: trialsMs.map((t) => round((t * 1000) / ops)),
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// training workloads: identical deterministic data and initial weights for every peer

/** mulberry32: small deterministic PRNG, so every peer trains from the same numbers. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` values uniform in [-bound, bound). */
export function uniform(r: () => number, count: number, bound: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (2 * r() - 1) * bound;
  return out;
}

/** `count` standard normal values (Box-Muller). */
export function normal(r: () => number, count: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u = 1 - r(), v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < count) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** One-hot float labels [batch, classes] with random classes. */
export function oneHot(r: () => number, batch: number, classes: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(batch * classes);
  for (let i = 0; i < batch; i++) out[i * classes + Math.floor(r() * classes)] = 1;
  return out;
}

export const LR = 0.01;
export const WARMUP_STEPS = 3;
export const DEFAULT_STEPS = 20;

/** MLP 784-256-10 data. Linear weights are [in, out] (y = x W + b), PyTorch-default uniform init. */
export function mlpData() {
  const r = rng(1234);
  const B = 128, I = 784, H = 256, O = 10;
  return {
    batch: B,
    x: normal(r, B * I), // [128, 784]
    y: oneHot(r, B, O), // [128, 10]
    w1: uniform(r, I * H, 1 / Math.sqrt(I)), // [784, 256]
    b1: uniform(r, H, 1 / Math.sqrt(I)),
    w2: uniform(r, H * O, 1 / Math.sqrt(H)), // [256, 10]
    b2: uniform(r, O, 1 / Math.sqrt(H)),
  };
}

export const MLP_MODEL = "784-256(relu)-10, softmax cross-entropy (batch mean), SGD lr 0.01, batch 128";
export const CNN_MODEL = "conv3x3 1->16 valid +relu +maxpool2 -> conv3x3 16->32 valid +relu +maxpool2 -> " +
  "flatten 32*5*5=800 -> linear 800->10; softmax cross-entropy (batch mean), SGD lr 0.01, batch 64, 1x28x28";

/**
 * CNN data in PyTorch layouts: x NCHW [64,1,28,28], conv weights OIHW, fc weight [800, 10] whose rows
 * follow the NCHW flatten order (c, h, w). Peers using NHWC permute on the host (see `toNhwc*`).
 */
export function cnnData() {
  const r = rng(5678);
  const B = 64;
  return {
    batch: B,
    x: normal(r, B * 28 * 28),
    y: oneHot(r, B, 10),
    c1w: uniform(r, 16 * 1 * 9, 1 / Math.sqrt(9)), // [16,1,3,3]
    c1b: uniform(r, 16, 1 / Math.sqrt(9)),
    c2w: uniform(r, 32 * 16 * 9, 1 / Math.sqrt(16 * 9)), // [32,16,3,3]
    c2b: uniform(r, 32, 1 / Math.sqrt(16 * 9)),
    fw: uniform(r, 800 * 10, 1 / Math.sqrt(800)), // [800,10], rows in (c,h,w) order
    fb: uniform(r, 10, 1 / Math.sqrt(800)),
  };
}

/** OIHW conv weight -> HWIO (TensorFlow layout). */
export function oihwToHwio(
  w: Float32Array,
  o: number,
  i: number,
  kh: number,
  kw: number,
): Float32Array<ArrayBuffer> {
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = w[((a * i + b) * kh + y) * kw + x];
      }
    }
  }
  return out;
}

/** Linear weight rows from NCHW-flatten order (c,h,w) to NHWC-flatten order (h,w,c). */
export function chwRowsToHwc(
  w: Float32Array,
  c: number,
  h: number,
  wd: number,
  out: number,
): Float32Array<ArrayBuffer> {
  const res = new Float32Array(w.length);
  for (let ci = 0; ci < c; ci++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < wd; x++) {
        const src = (ci * h + y) * wd + x, dst = (y * wd + x) * c + ci;
        res.set(w.subarray(src * out, src * out + out), dst * out);
      }
    }
  }
  return res;
}

/** Result entry for a training workload. */
export function stepResult(
  mode: string,
  steps: number,
  totalMs: number,
  lossFirst: number,
  lossLast: number,
  extra: Record<string, unknown> = {},
) {
  return {
    mode,
    steps,
    steps_per_s: round(steps / (totalMs / 1000)),
    ms_per_step: round(totalMs / steps),
    loss_first: round(lossFirst, 6),
    loss_last: round(lossLast, 6),
    ...extra,
  };
}

/** Thrown for a workload or option a peer cannot run: reported as `{"skipped": reason}`, exit code 0. */
export class SkipError extends Error {}

/** Writes the result line (or an error line, exit code 1) and exits; the libraries may keep workers alive. */
export async function main(
  peerName: (cli: Cli) => string,
  run: (cli: Cli) => Promise<Record<string, unknown>>,
): Promise<never> {
  const emit = quietStdout();
  countGpuDispatches();
  let cli: Cli | undefined;
  try {
    cli = parseCli(Deno.args);
    const body = await run(cli);
    emit({ peer: peerName(cli), workload: cli.workload, ...body });
    Deno.exit(0);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof SkipError) {
      emit({ peer: cli ? peerName(cli) : "unknown", workload: cli?.workload ?? "", skipped: msg });
      Deno.exit(0);
    }
    if (e instanceof Error && e.stack) console.error(e.stack);
    emit({ peer: cli ? peerName(cli) : "unknown", workload: cli?.workload ?? "", error: msg });
    Deno.exit(1);
  }
}
