/**
 * Standalone harness for the matmul kernel generator (`src/backend/webgpu/matmul_kernel.ts`): checks the
 * kernels against a CPU matmul on small and odd shapes, then times them (and a naive one-output-per-invocation
 * kernel) in GFLOP/s.
 *
 * ```sh
 * XDG_RUNTIME_DIR=/tmp deno run -A bench/matmul_kernel_tune.ts            # check, then the timing table
 * XDG_RUNTIME_DIR=/tmp deno run -A bench/matmul_kernel_tune.ts --sweep    # also sweep register tiles at 512
 * XDG_RUNTIME_DIR=/tmp deno run -A bench/matmul_kernel_tune.ts --sizes=256,512 --no-check
 * ```
 *
 * Its helpers are exported for `tests/matmul_kernel_test.ts`.
 * @module
 */
import {
  chooseMatmulSpec,
  MATMUL_PARAM_WORDS,
  matmulDispatch,
  type MatmulDType,
  matmulShader,
  type MatmulSpec,
  type MatmulTile,
  REGISTER_TILE,
  WORKGROUP_TILE,
} from "../src/backend/webgpu/matmul_kernel.ts";
import process from "node:process";

/** A WebGPU device with the adapter's traits the matmul chooser needs. */
export interface Gpu {
  /** The device (with `shader-f16` when the adapter has it). */
  device: GPUDevice;
  /** The adapter runs on the CPU (fallback adapter, llvmpipe, SwiftShader). */
  isCpu: boolean;
  /** The device has `shader-f16`. */
  hasF16: boolean;
  /** The adapter, in words. */
  description: string;
}

/** Requests an adapter and a device (with `shader-f16` when available); null when WebGPU has no adapter. */
export async function openGpu(): Promise<Gpu | null> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return null;
  const hasF16 = adapter.features.has("shader-f16");
  const device = await adapter.requestDevice({ requiredFeatures: hasF16 ? ["shader-f16"] : [] });
  const info = adapter.info;
  const isCpu = info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(info.description);
  return {
    device,
    isCpu,
    hasF16,
    description: `${info.description || info.vendor} (${isCpu ? "CPU" : "GPU"})`,
  };
}

/** One product to check: layouts, offsets, broadcasting and leading-dimension padding of the operands. */
export interface MatmulCase {
  /** Rows of a and out. */
  M: number;
  /** Columns of b and out. */
  N: number;
  /** Columns of a, rows of b. */
  K: number;
  /** Number of products. */
  batch: number;
  /** A stored transposed ([K, M] per matrix, M contiguous). */
  aT?: boolean;
  /** B stored transposed ([N, K] per matrix, K contiguous). */
  bT?: boolean;
  /** a's offset in its buffer (elements). */
  aOffset?: number;
  /** b's offset in its buffer (elements). */
  bOffset?: number;
  /** Batch stride 0 for a: one matrix shared by the whole batch. */
  aBroadcast?: boolean;
  /** Batch stride 0 for b. */
  bBroadcast?: boolean;
  /** Extra elements per stored row (leading dimension = contiguous size + pad). */
  aPad?: number;
  /** Extra elements per stored row of b. */
  bPad?: number;
}

/** A strided operand: its buffer contents (NaN outside the view), strides over [batch, rows, cols], offset. */
export interface Operand {
  /** The whole buffer's contents. */
  data: Float32Array;
  /** Strides over [batch, rows, cols] (elements). */
  strides: [number, number, number];
  /** Offset of element [0, 0, 0] (elements). */
  offset: number;
}

/** Deterministic pseudo-random values in [-1, 1), rounded to f16-exact multiples of 1/64. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return Math.floor((s / 2 ** 32) * 128 - 64) / 64;
  };
}

/**
 * Builds a [batch, rows, cols] operand; `colMajor` stores each matrix transposed. Elements outside the
 * view are NaN, so a kernel that reads them is caught.
 */
export function makeOperand(
  batch: number,
  rows: number,
  cols: number,
  opts: { colMajor?: boolean; offset?: number; broadcast?: boolean; pad?: number; seed: number },
): Operand {
  const offset = opts.offset ?? 0;
  const pad = opts.pad ?? 0;
  const stored = opts.broadcast ? 1 : batch;
  const ld = (opts.colMajor ? rows : cols) + pad;
  const matrix = (opts.colMajor ? cols : rows) * ld;
  const strides: [number, number, number] = opts.colMajor
    ? [opts.broadcast ? 0 : matrix, 1, ld]
    : [opts.broadcast ? 0 : matrix, ld, 1];
  const data = new Float32Array(offset + stored * matrix + 5).fill(NaN);
  const r = rng(opts.seed);
  for (let b = 0; b < stored; b++) {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) data[offset + b * strides[0] + i * strides[1] + j * strides[2]] = r();
    }
  }
  return { data, strides, offset };
}

/** CPU reference: out[b, m, n] = sum_k a[b, m, k] * b[b, k, n] in f64. */
export function cpuMatmul(
  a: Operand,
  b: Operand,
  M: number,
  N: number,
  K: number,
  batch: number,
): Float32Array {
  const out = new Float32Array(batch * M * N);
  for (let t = 0; t < batch; t++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          s += a.data[a.offset + t * a.strides[0] + m * a.strides[1] + k * a.strides[2]] *
            b.data[b.offset + t * b.strides[0] + k * b.strides[1] + n * b.strides[2]];
        }
        out[(t * M + m) * N + n] = s;
      }
    }
  }
  return out;
}

/** Operands of a case. */
export function caseOperands(c: MatmulCase): { a: Operand; b: Operand } {
  const a = makeOperand(c.batch, c.M, c.K, {
    colMajor: c.aT,
    offset: c.aOffset,
    broadcast: c.aBroadcast,
    pad: c.aPad,
    seed: 1 + c.M * 7 + c.K * 13,
  });
  const b = makeOperand(c.batch, c.K, c.N, {
    colMajor: c.bT,
    offset: c.bOffset,
    broadcast: c.bBroadcast,
    pad: c.bPad,
    seed: 3 + c.N * 5 + c.K * 11,
  });
  return { a, b };
}

function upload(device: GPUDevice, data: Float32Array, dtype: MatmulDType, usage: number): GPUBuffer {
  const bytes = dtype === "f16" ? Float16Array.from(data) : data;
  const size = Math.max(16, Math.ceil(bytes.byteLength / 16) * 16);
  const buffer = device.createBuffer({ size, usage: usage | GPUBufferUsage.COPY_DST });
  const padded = new Uint8Array(size);
  padded.set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  device.queue.writeBuffer(buffer, 0, padded);
  return buffer;
}

/** The uniform block of a product. */
export function matmulParams(
  a: Operand,
  b: Operand,
  M: number,
  N: number,
  K: number,
  batch: number,
): Uint32Array<ArrayBuffer> {
  const p = new Uint32Array(16);
  p.set([M, N, K, batch, a.offset, ...a.strides, b.offset, b.strides[0], b.strides[1], b.strides[2]]);
  if (MATMUL_PARAM_WORDS !== 12) throw new Error("unexpected MATMUL_PARAM_WORDS");
  return p;
}

/** A compiled kernel bound to a product's buffers, ready to dispatch. */
export interface Prepared {
  /** The compiled kernel. */
  pipeline: GPUComputePipeline;
  /** Its bindings: a, b, out, parameters. */
  bindGroup: GPUBindGroup;
  /** Workgroup counts of one dispatch. */
  groups: [number, number, number];
  /** The output buffer. */
  out: GPUBuffer;
  /** Size of the output buffer. */
  outBytes: number;
  /** Frees the buffers. */
  destroy(): void;
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** A compute pipeline for `code` (cached per device); surfaces WGSL compile errors. */
export async function compile(device: GPUDevice, code: string): Promise<GPUComputePipeline> {
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, cache = new Map());
  const hit = cache.get(code);
  if (hit) return hit;
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === "error");
  if (errors.length) {
    throw new Error(
      `WGSL errors:\n${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join("\n")}`,
    );
  }
  device.pushErrorScope("validation");
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const err = await device.popErrorScope();
  if (err) throw new Error(`WebGPU pipeline validation: ${err.message}`);
  cache.set(code, pipeline);
  return pipeline;
}

/** Compiles `code` (or reuses its pipeline) and binds a product's operands. */
export async function prepare(
  gpu: Gpu,
  code: string,
  dtype: MatmulDType,
  a: Operand,
  b: Operand,
  dims: { M: number; N: number; K: number; batch: number },
  groups: [number, number, number],
): Promise<Prepared> {
  const { device } = gpu;
  const { M, N, K, batch } = dims;
  const pipeline = await compile(device, code);
  device.pushErrorScope("validation");
  const S = GPUBufferUsage.STORAGE;
  const aBuf = upload(device, a.data, dtype, S);
  const bBuf = upload(device, b.data, dtype, S);
  const outBytes = Math.max(16, Math.ceil((batch * M * N * (dtype === "f16" ? 2 : 4)) / 16) * 16);
  const out = device.createBuffer({
    size: outBytes,
    usage: S | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  const params = device.createBuffer({ size: 64, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(params, 0, matmulParams(a, b, M, N, K, batch));
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [aBuf, bBuf, out, params].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const err = await device.popErrorScope();
  if (err) throw new Error(`WebGPU validation: ${err.message}`);
  return {
    pipeline,
    bindGroup,
    groups,
    out,
    outBytes,
    destroy: () => [aBuf, bBuf, out, params].forEach((x) => x.destroy()),
  };
}

/** Encodes `iters` dispatches of a prepared kernel in one compute pass and submits them. */
export function submit(gpu: Gpu, k: Prepared, iters: number): void {
  const enc = gpu.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(k.pipeline);
  pass.setBindGroup(0, k.bindGroup);
  for (let i = 0; i < iters; i++) pass.dispatchWorkgroups(...k.groups);
  pass.end();
  gpu.device.queue.submit([enc.finish()]);
}

/** Reads the output back as numbers. */
export async function readOut(
  gpu: Gpu,
  k: Prepared,
  dtype: MatmulDType,
  count: number,
): Promise<Float32Array> {
  const { device } = gpu;
  const rb = device.createBuffer({
    size: k.outBytes,
    usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
  });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(k.out, 0, rb, 0, k.outBytes);
  device.queue.submit([enc.finish()]);
  await rb.mapAsync(GPUMapMode.READ);
  const raw = rb.getMappedRange().slice(0);
  rb.unmap();
  rb.destroy();
  return dtype === "f16"
    ? Float32Array.from(new Float16Array(raw, 0, count))
    : new Float32Array(raw, 0, count);
}

/** The spec the chooser picks for a case, with the variant overridden. */
export function specFor(
  c: MatmulCase,
  a: Operand,
  b: Operand,
  dtype: MatmulDType,
  variant: MatmulSpec["variant"],
): MatmulSpec {
  const spec = chooseMatmulSpec({
    dtype,
    aStrides: a.strides,
    bStrides: b.strides,
    aOffset: a.offset,
    bOffset: b.offset,
    M: c.M,
    N: c.N,
    K: c.K,
    adapterIsCpu: variant === "register",
  });
  return { ...spec, variant };
}

/** Runs one case on the GPU with the generated kernel; returns GPU and CPU results. */
export async function runCase(
  gpu: Gpu,
  c: MatmulCase,
  dtype: MatmulDType,
  variant: MatmulSpec["variant"],
  opts: { spec?: Partial<MatmulSpec>; tile?: MatmulTile } = {},
): Promise<{ got: Float32Array; want: Float32Array; spec: MatmulSpec }> {
  const { a, b } = caseOperands(c);
  const spec = { ...specFor(c, a, b, dtype, variant), ...opts.spec };
  const { code } = matmulShader(spec, opts.tile);
  const groups = matmulDispatch(spec, c.M, c.N, c.batch, opts.tile);
  const k = await prepare(gpu, code, dtype, a, b, c, groups);
  // Poison the output so that unwritten elements show.
  gpu.device.queue.writeBuffer(k.out, 0, new Uint8Array(k.outBytes).fill(0x7f));
  submit(gpu, k, 1);
  const got = await readOut(gpu, k, dtype, c.batch * c.M * c.N);
  k.destroy();
  return { got, want: cpuMatmul(a, b, c.M, c.N, c.K, c.batch), spec };
}

/** The correctness matrix: tiny, odd and tile-straddling shapes, all four layouts, offsets, broadcasting. */
export function correctnessCases(): MatmulCase[] {
  const cases: MatmulCase[] = [];
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [17, 33, 65], [4, 8, 12], [64, 64, 64]];
  for (const [M, N, K] of shapes) {
    for (const aT of [false, true]) {
      for (const bT of [false, true]) cases.push({ M, N, K, batch: 1, aT, bT });
    }
  }
  for (const aT of [false, true]) {
    for (const bT of [false, true]) {
      // Batch 3 with one operand broadcast (batch stride 0), aligned and unaligned.
      cases.push({ M: 20, N: 24, K: 36, batch: 3, aT, bT, bBroadcast: true });
      cases.push({ M: 9, N: 13, K: 11, batch: 3, aT, bT, aBroadcast: true, aOffset: 3, bOffset: 1 });
      // Unaligned offsets on vec4-friendly sizes, and 4-aligned offsets with padded leading dimensions.
      cases.push({ M: 16, N: 20, K: 24, batch: 2, aT, bT, aOffset: 1, bOffset: 2 });
      cases.push({ M: 12, N: 36, K: 68, batch: 2, aT, bT, aOffset: 4, bOffset: 8, aPad: 4, bPad: 8 });
      cases.push({ M: 33, N: 70, K: 21, batch: 2, aT, bT, aPad: 1, bPad: 3 });
    }
  }
  return cases;
}

/** Describes a case briefly. */
export function caseName(c: MatmulCase): string {
  const flags = [
    c.aT ? "aT" : "",
    c.bT ? "bT" : "",
    c.aOffset ? `aOff${c.aOffset}` : "",
    c.bOffset ? `bOff${c.bOffset}` : "",
    c.aBroadcast ? "aBcast" : "",
    c.bBroadcast ? "bBcast" : "",
    c.aPad ? `aPad${c.aPad}` : "",
    c.bPad ? `bPad${c.bPad}` : "",
  ].filter(Boolean);
  return `${c.batch}x${c.M}x${c.N}x${c.K}${flags.length ? " " + flags.join(",") : ""}`;
}

/** Largest |got - want| / (1 + |want|), NaN-aware (NaN counts as infinitely wrong). */
export function maxRelError(got: Float32Array, want: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

/** A naive kernel for comparison: one output per invocation, scalar strided loads, 16 x 16 workgroups. */
export function naiveShader(dtype: MatmulDType): string {
  const cv = (e: string) => (dtype === "f16" ? `f32(${e})` : e);
  return `${dtype === "f16" ? "enable f16;" : ""}
struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  aOffset: u32, aStrideB: u32, aStrideM: u32, aStrideK: u32,
  bOffset: u32, bStrideB: u32, bStrideK: u32, bStrideN: u32,
}
@group(0) @binding(0) var<storage, read> a: array<${dtype}>;
@group(0) @binding(1) var<storage, read> b: array<${dtype}>;
@group(0) @binding(2) var<storage, read_write> out: array<${dtype}>;
@group(0) @binding(3) var<uniform> p: Params;
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  let t = gid.z;
  if (m >= p.M || n >= p.N) { return; }
  let aRow = p.aOffset + t * p.aStrideB + m * p.aStrideM;
  let bCol = p.bOffset + t * p.bStrideB + n * p.bStrideN;
  var acc = 0.0;
  for (var k = 0u; k < p.K; k += 1u) {
    acc = fma(${cv("a[aRow + k * p.aStrideK]")}, ${cv("b[bCol + k * p.bStrideK]")}, acc);
  }
  out[(t * p.M + m) * p.N + n] = ${dtype}(acc);
}`;
}

/**
 * A timing: wall-clock GFLOP/s, and GFLOP/s per CPU time of this process spread over all cores (on a CPU
 * adapter, what the kernel would reach on an otherwise idle machine; it ranks kernels under contention).
 */
export interface Timing {
  /** Wall-clock GFLOP/s. */
  gflops: number;
  /** GFLOP/s per CPU time of this process spread over all cores. */
  cpuGflops: number;
}

/** What a timing runs: a generated kernel (with an optional tile) or the naive one. */
export type Kernel = { kind: "generated"; variant: MatmulSpec["variant"]; tile?: MatmulTile } | {
  kind: "naive";
};

/**
 * GFLOP/s of a kernel on a contiguous size x size x size product (row-major operands unless `layout`
 * says otherwise, vec4 where the chooser allows): one warm-up, then the best of `reps` submissions of
 * enough dispatches to take about `seconds` in all.
 */
export async function timeKernel(
  gpu: Gpu,
  kernel: Kernel,
  dtype: MatmulDType,
  size: number,
  seconds = 1.5,
  layout: Partial<MatmulCase> = {},
  reps = 3,
): Promise<Timing> {
  const c: MatmulCase = { M: size, N: size, K: size, batch: 1, ...layout };
  const { a, b } = caseOperands(c);
  let code: string;
  let groups: [number, number, number];
  if (kernel.kind === "naive") {
    code = naiveShader(dtype);
    groups = [Math.ceil(size / 16), Math.ceil(size / 16), 1];
  } else {
    const spec = specFor(c, a, b, dtype, kernel.variant);
    code = matmulShader(spec, kernel.tile).code;
    groups = matmulDispatch(spec, size, size, 1, kernel.tile);
  }
  const k = await prepare(gpu, code, dtype, a, b, c, groups);
  submit(gpu, k, 1); // warm-up (and pipeline compile)
  await gpu.device.queue.onSubmittedWorkDone();
  let t0 = performance.now();
  submit(gpu, k, 1);
  await gpu.device.queue.onSubmittedWorkDone();
  const once = (performance.now() - t0) / 1000;
  // Best of `reps` runs: the machine is shared, so the fastest run is the least disturbed one.
  const iters = Math.max(2, Math.min(500, Math.round(seconds / reps / Math.max(once, 1e-4))));
  const flops = 2 * size ** 3 * iters;
  const cores = navigator.hardwareConcurrency;
  const best: Timing = { gflops: 0, cpuGflops: 0 };
  for (let r = 0; r < reps; r++) {
    const cpu0 = process.cpuUsage();
    t0 = performance.now();
    submit(gpu, k, iters);
    await gpu.device.queue.onSubmittedWorkDone();
    const dt = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    best.gflops = Math.max(best.gflops, flops / dt / 1e9);
    best.cpuGflops = Math.max(best.cpuGflops, flops / ((cpu.user + cpu.system) / 1e6 / cores) / 1e9);
  }
  k.destroy();
  return best;
}

function tileName(t: MatmulTile): string {
  return `${t.tm}x${t.tn}/inv, wg ${t.wgx}x${t.wgy}, bk ${t.bk}${t.interleave ? "" : ", blocked"}`;
}

async function main(): Promise<void> {
  const args = Object.fromEntries(
    Deno.args.map((a) => a.replace(/^--/, "").split("=")).map(([k, v]) => [k, v ?? "true"]),
  );
  const gpu = await openGpu();
  if (!gpu) {
    console.log("No WebGPU adapter: nothing to do.");
    return;
  }
  console.log(`Adapter: ${gpu.description}; shader-f16: ${gpu.hasF16}`);

  if (args["no-check"] !== "true") {
    let failures = 0;
    const cases = correctnessCases();
    const configs: [MatmulDType, MatmulSpec["variant"]][] = [["f32", "register"], ["f32", "workgroup"]];
    if (gpu.hasF16) configs.push(["f16", "register"], ["f16", "workgroup"]);
    for (const [dtype, variant] of configs) {
      let worst = 0;
      for (const c of cases) {
        const { got, want, spec } = await runCase(gpu, c, dtype, variant);
        const err = maxRelError(got, want);
        worst = Math.max(worst, err);
        if (err > (dtype === "f16" ? 2e-2 : 1e-5)) {
          failures++;
          console.log(`FAIL ${dtype} ${variant} ${caseName(c)} (vec4 ${spec.vec4}): max rel error ${err}`);
        }
      }
      console.log(
        `check ${dtype} ${variant}: ${cases.length} cases, max rel error ${worst.toExponential(2)}`,
      );
    }
    if (failures) {
      console.log(`${failures} failures`);
      Deno.exitCode = 1;
      return;
    }
  }

  if (args.sweep === "true") {
    // Tiles as TMxTN@WGXxWGY/BK, with a trailing "b" for blocked (not interleaved) placement.
    const size = Number(args["sweep-size"] ?? 512);
    const rounds = Number(args.rounds ?? 3);
    const list = args["sweep-list"]?.split(",") ?? [];
    if (!list.length) {
      const shapes = (args["sweep-tiles"] ?? "4x8,8x8,8x16,16x8,12x16,16x16").split(",");
      const wgs = (args["sweep-wgs"] ?? "8x1,16x1,4x2,8x2").split(",");
      const bks = (args["sweep-bk"] ?? "4,8").split(",");
      for (const t of shapes) {
        for (const w of wgs) for (const k of bks) list.push(`${t}@${w}/${k}`, `${t}@${w}/${k}b`);
      }
    }
    const tiles = list.map((x): MatmulTile => {
      const [tm, tn, wgx, wgy, bk = 4] = x.replace(/b$/, "").split(/[x@/]/).map(Number);
      return { tm, tn, wgx, wgy, bk, interleave: !x.endsWith("b") };
    });
    const best = new Map<MatmulTile, Timing>();
    console.log(`\nregister tile sweep, f32 ${size}^3 (row-major, vec4), best of ${rounds} rounds:`);
    for (let r = 0; r < rounds; r++) {
      for (const tile of tiles) {
        const kernel: Kernel = { kind: "generated", variant: "register", tile };
        const t = await timeKernel(gpu, kernel, "f32", size, 0.4, {}, 1);
        const b = best.get(tile) ?? { gflops: 0, cpuGflops: 0 };
        best.set(tile, {
          gflops: Math.max(b.gflops, t.gflops),
          cpuGflops: Math.max(b.cpuGflops, t.cpuGflops),
        });
      }
    }
    const ranked = [...best].sort((x, y) => y[1].cpuGflops - x[1].cpuGflops);
    console.log(`  ${"tile".padEnd(34)} GFLOP/s (wall)  GFLOP/s (per CPU time)`);
    for (const [tile, t] of ranked) {
      console.log(
        `  ${tileName(tile).padEnd(34)} ${t.gflops.toFixed(2).padStart(14)} ${
          t.cpuGflops.toFixed(2).padStart(23)
        }`,
      );
    }
  }

  const sizes = (args.sizes ?? "256,512,1024,2048").split(",").filter((x) => x && x !== "none").map(Number);
  if (!sizes.length) return;
  const rows: [string, Kernel, MatmulDType][] = [
    [`f32 register (${tileName(REGISTER_TILE)})`, { kind: "generated", variant: "register" }, "f32"],
    [`f32 workgroup (${tileName(WORKGROUP_TILE)})`, { kind: "generated", variant: "workgroup" }, "f32"],
    ["f32 naive (1 output/inv, wg 16x16)", { kind: "naive" }, "f32"],
  ];
  if (gpu.hasF16) {
    rows.push([
      `f16 register (${tileName(REGISTER_TILE)})`,
      { kind: "generated", variant: "register" },
      "f16",
    ]);
    rows.push([
      `f16 workgroup (${tileName(WORKGROUP_TILE)})`,
      { kind: "generated", variant: "workgroup" },
      "f16",
    ]);
    rows.push(["f16 naive (1 output/inv, wg 16x16)", { kind: "naive" }, "f16"]);
  }
  const seconds = Number(args.seconds ?? 1.5);
  console.log(
    `\nGFLOP/s of square row-major products, best of 3 (wall clock; in parentheses per CPU time of this process)`,
  );
  console.log(`${"kernel".padEnd(54)}${sizes.map((s) => String(s).padStart(16)).join("")}`);
  for (const [name, kernel, dtype] of rows) {
    const cells: string[] = [];
    for (const size of sizes) {
      // The naive kernel at 2048 takes minutes per dispatch on a CPU adapter: skip it there.
      if (kernel.kind === "naive" && gpu.isCpu && size > 1024) {
        cells.push("-".padStart(16));
        continue;
      }
      const t = await timeKernel(gpu, kernel, dtype, size, seconds);
      cells.push(`${t.gflops.toFixed(2)} (${t.cpuGflops.toFixed(1)})`.padStart(16));
    }
    console.log(`${name.padEnd(54)}${cells.join("")}`);
  }
}

if (import.meta.main) await main();
