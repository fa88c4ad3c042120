/**
 * The WebGPU backend: buffers from a size-class pool, pipelines cached by kernel specialisation,
 * dispatches recorded into batched command encoders, and reads as the only waits.
 * @module
 */
import type { Backend, BinaryOp, MemoryInfo, Operand, ReduceOp, Storage, UnaryOp, View } from "../backend.ts";
import { allocHost, type DType, type TypedArray } from "../../tensor/dtype.ts";
import { numel } from "../../tensor/shape.ts";
import { BufferPool, type PooledBuffer } from "./buffer_pool.ts";
import { type Binding, CommandBatch } from "./command_batch.ts";
import { elementwiseKernel, type KernelLaunch } from "./kernels/elementwise.ts";
import { BINARY_EXPR, UNARY_EXPR } from "./kernels/elementwise_ops.ts";
import { computeType } from "./kernels/layout.ts";
import { reduceKernel } from "./kernels/reduce.ts";
import { gatherKernel, scatterAddKernel } from "./kernels/gather.ts";
import { chooseMatmulSpec, chooseMatmulTile, matmulDispatch, matmulShader } from "./matmul_kernel.ts";
import type { Im2colLayout, Pool2d, Window2d } from "../backend.ts";
import { col2imKernel, im2colKernel } from "./kernels/im2col.ts";
import {
  pool2dBackwardKernel,
  pool2dKernel,
  pool2dMaxScatterKernel,
  windowsDisjoint,
} from "./kernels/pool2d.ts";
import {
  depthwiseConv2dBackwardInputKernel,
  depthwiseConv2dBackwardWeightKernel,
  depthwiseConv2dKernel,
} from "./kernels/depthwise_conv2d.ts";
import { batchNormReduceKernel, channelAffineKernel } from "./kernels/batch_norm.ts";
import type { OptimizerRule } from "../backend.ts";
import { optimizerStepKernel } from "./kernels/optimizer_step.ts";

/** What `gpu.info()` reports about the adapter. */
export interface AdapterInfo {
  /** The adapter's description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" or "NVIDIA H100". */
  name: string;
  /** The vendor id or name the adapter reports. */
  vendor: string;
  /** The architecture the adapter reports (often empty). */
  architecture: string;
  /** The native API under WebGPU, as far as it can be told ("vulkan", "gl", "metal", "dx12" or "unknown"). */
  backend: string;
  /** Whether this is a software (CPU) adapter such as lavapipe. */
  isSoftware: boolean;
  /** Whether float16 tensors are supported (`shader-f16`). */
  f16: boolean;
  /** Whether GPU timestamps are available (`timestamp-query`). */
  timestamps: boolean;
  /** Key limits. */
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupsPerDimension: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupStorageSize: number;
  };
}

/** Elements of a row that one workgroup reduces before a second pass combines the chunks. */
const REDUCE_CHUNK = 65536;

const ERR_MESSAGES: Record<number, string> = {
  1: "gather/indexSelect: an index was out of range for the indexed dimension",
  2: "scatterAdd (backward of gather/indexSelect): an index was out of range",
};

/** A storage living in a pooled GPU buffer. */
export class GpuStorage implements Storage {
  constructor(
    readonly backend: WebGpuBackend,
    readonly dtype: DType,
    readonly size: number,
    public buf: PooledBuffer | null,
  ) {}

  /** The buffer, or a clear error when the storage was freed or its device lost. */
  get live(): PooledBuffer {
    if (!this.buf) throw new Error("storage used after it was freed (the tensor was disposed)");
    this.backend.checkUsable();
    return this.buf;
  }
}

/** Bytes a dtype takes per element on the GPU (bool is a u32). */
function gpuBytes(d: DType): number {
  return d === "float16" ? 2 : 4;
}

/** Host data in the layout a GPU buffer of `dtype` holds (bool as u32, f16 padded to 4 bytes). */
function hostToGpu(dtype: DType, data: TypedArray): ArrayBufferView {
  if (dtype === "bool") return Uint32Array.from(data as Uint8Array);
  if (dtype === "float16") {
    const h = data instanceof Float16Array ? data : Float16Array.from(data as ArrayLike<number>);
    if (h.length % 2 === 0) return h;
    const p = new Float16Array(h.length + 1);
    p.set(h);
    return p;
  }
  if (dtype === "float32") return data instanceof Float32Array ? data : Float32Array.from(data);
  return data instanceof Int32Array ? data : Int32Array.from(data);
}

function guessBackend(info: GPUAdapterInfo, features: GPUSupportedFeatures): string {
  let forced: string | undefined;
  try {
    if (Deno.permissions.querySync?.({ name: "env", variable: "DENO_WEBGPU_BACKEND" }).state === "granted") {
      forced = Deno.env.get("DENO_WEBGPU_BACKEND");
    }
  } catch { /* no env permission */ }
  if (forced) return forced.toLowerCase();
  const desc = info.description.toLowerCase();
  if (Deno.build.os === "darwin") return "metal";
  if (Deno.build.os === "windows") return "dx12";
  // Mesa's Vulkan drivers report vendor 0x10005; the GL fallback lacks shader-f16.
  if (info.vendor === "65541" || features.has("shader-f16")) return "vulkan";
  if (desc.includes("llvmpipe")) return "gl";
  return "unknown";
}

/** The WebGPU implementation of {@linkcode Backend}. */
export class WebGpuBackend implements Backend {
  /** The device name: "webgpu" for device 0, "webgpu:N" for the others (see `gpu.devices()`). */
  device = "webgpu";
  readonly supportsF16: boolean;
  readonly info: AdapterInfo;
  readonly pool: BufferPool;
  readonly batch: CommandBatch;
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  readonly #errFlag: GPUBuffer;
  readonly #errors: string[] = [];
  /** Whether an out-of-memory error is pending (the "invalid buffer" errors it causes are dropped). */
  #oom = false;
  #lost: string | null = null;
  /** Number of pipelines compiled so far. */
  compiled = 0;

  constructor(readonly gpu: GPUDevice, adapter: GPUAdapter) {
    this.supportsF16 = gpu.features.has("shader-f16");
    const l = gpu.limits;
    this.info = {
      name: adapter.info.description || adapter.info.device || "unknown adapter",
      vendor: adapter.info.vendor,
      architecture: adapter.info.architecture,
      backend: guessBackend(adapter.info, adapter.features),
      isSoftware: adapter.info.isFallbackAdapter ||
        /llvmpipe|lavapipe|swiftshader/i.test(adapter.info.description),
      f16: this.supportsF16,
      timestamps: gpu.features.has("timestamp-query"),
      limits: {
        maxBufferSize: l.maxBufferSize,
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      },
    };
    this.pool = new BufferPool(
      gpu,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      Math.min(l.maxBufferSize, l.maxStorageBufferBindingSize),
    );
    this.batch = new CommandBatch(gpu);
    this.#errFlag = gpu.createBuffer({
      size: 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label: "denograd error flag",
    });
    gpu.addEventListener("uncapturederror", (e) => {
      const err = (e as GPUUncapturedErrorEvent).error;
      const text = err.message.split("\n").map((l) => l.trim()).filter((l) => l && !/^[│┌─]/.test(l)).join(
        " ",
      );
      if (err instanceof GPUOutOfMemoryError) {
        this.#errors.push(`out of GPU memory after op "${this.batch.lastLabel}": ${text.slice(0, 300)}`);
        this.#oom = true;
      } else if (this.#oom && /invalid/i.test(text)) {
        // the failed allocation makes every command that used it invalid: one message says it all
      } else this.#errors.push(`WebGPU error after op "${this.batch.lastLabel}": ${text.slice(0, 400)}`);
    });
    this.pool.onOutOfMemory = (what, bytes, driver) => {
      const m = this.pool.memory();
      this.#errors.push(
        `out of GPU memory allocating ${bytes} bytes for "${what}" (${m.inUse} bytes in use by tensors, ` +
          `${m.allocated} allocated): free tensors (dispose, tidy), lower the batch size, or call ` +
          `gpu.emptyCache()${driver.trim() ? ` [driver: ${driver.split("\n")[0].slice(0, 200)}]` : ""}`,
      );
      this.#oom = true;
    };
    this.batch.onHeldError = (e) => this.#errors.push(`WebGPU error in a held queue operation: ${e.message}`);
    gpu.lost.then((info) => {
      this.#lost = `${info.reason}${info.message ? `: ${info.message}` : ""}`;
    });
  }

  /** Throws when the device was lost or an earlier asynchronous WebGPU error is pending. */
  checkUsable(): void {
    if (this.#lost !== null) {
      throw new Error(
        `the WebGPU device was lost (${this.#lost}). Tensors on it are gone: call \`await gpu.reset()\` ` +
          `for a new device, then reload your model from a checkpoint.`,
      );
    }
    if (this.#errors.length) {
      this.#oom = false;
      const msg = this.#errors.splice(0).join("; ");
      throw new Error(msg);
    }
  }

  /** Whether the device was lost. */
  get isLost(): boolean {
    return this.#lost !== null;
  }

  #buffer(dtype: DType, size: number, what: string): PooledBuffer {
    this.checkUsable();
    const bytes = Math.ceil((size * gpuBytes(dtype)) / 4) * 4;
    const limit = this.info.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new RangeError(
        `${what}: a ${dtype} tensor of ${size} elements needs ${bytes} bytes, more than this adapter's ` +
          `maxStorageBufferBindingSize (${limit} bytes)`,
      );
    }
    return this.pool.acquire(bytes, what);
  }

  #pipeline(launch: KernelLaunch, signature: string): GPUComputePipeline {
    let p = this.#pipelines.get(launch.key);
    if (!p) {
      const module = this.gpu.createShaderModule({ code: launch.code(), label: launch.key });
      p = this.gpu.createComputePipeline({
        layout: this.batch.layout(signature).pipeline,
        compute: { module, entryPoint: "main" },
        label: launch.key,
      });
      this.#pipelines.set(launch.key, p);
      this.compiled++;
    }
    return p;
  }

  /** Dispatches a kernel whose last `writes` buffers are read-write and the others read-only. */
  #run(launch: KernelLaunch, buffers: readonly Binding[], label: string, writes = 1): void {
    const signature = "r".repeat(buffers.length - writes) + "w".repeat(writes);
    this.batch.dispatch(
      this.#pipeline(launch, signature),
      signature,
      buffers,
      launch.params,
      launch.groups,
      label,
    );
  }

  #storage(dtype: DType, size: number, what: string): GpuStorage {
    return new GpuStorage(this, dtype, size, this.#buffer(dtype, size, what));
  }

  alloc(dtype: DType, size: number): GpuStorage {
    const s = this.#storage(dtype, size, "alloc");
    this.batch.clear(s.buf!.buffer, 0, s.buf!.bytes);
    s.buf!.lastBatch = this.batch.batchId;
    return s;
  }

  upload(dtype: DType, data: TypedArray): GpuStorage {
    const s = this.#storage(dtype, data.length, "upload");
    const buf = s.buf!;
    // A buffer bound by commands not yet submitted must not be overwritten by a queue write.
    if (buf.lastBatch === this.batch.batchId && this.batch.pending) this.batch.flush();
    this.batch.write(buf.buffer, 0, hostToGpu(dtype, data));
    return s;
  }

  /**
   * A storage whose data arrives later: the receiving end of a copy from another device, which had to read
   * its data back first. Returns at once; every later queue operation of this device is held back (recording
   * goes on) until `data` arrives and is written, so the commands that use the storage see it.
   */
  receive(dtype: DType, size: number, data: Promise<TypedArray>): GpuStorage {
    const s = this.#storage(dtype, size, "to");
    const buffer = s.buf!.buffer;
    this.batch.holdUntil(
      data,
      (d) => {
        const src = hostToGpu(dtype, d);
        if (src.byteLength > 0) {
          this.gpu.queue.writeBuffer(buffer, 0, src.buffer as ArrayBuffer, src.byteOffset, src.byteLength);
        }
      },
      (e) => this.#errors.push(`a copy from another device to ${this.device} failed: ${e.message}`),
    );
    return s;
  }

  fill(dtype: DType, size: number, value: number): GpuStorage {
    if (value === 0) return this.alloc(dtype, size);
    const out = this.#storage(dtype, size, "fill");
    const launch = elementwiseKernel({
      label: "fill",
      shape: [size],
      inputs: [],
      outDtype: dtype,
      expr: "P0",
      kind: "f32",
      p0: value,
    });
    this.#run(launch, [out.buf!], "fill");
    return out;
  }

  free(storage: Storage): void {
    const s = storage as GpuStorage;
    if (!s.buf) return;
    this.pool.release(s.buf);
    s.buf = null;
  }

  async read(storage: Storage): Promise<TypedArray> {
    const s = storage as GpuStorage;
    const buf = s.live;
    const bytes = Math.ceil((s.size * gpuBytes(s.dtype)) / 4) * 4;
    const staging = this.gpu.createBuffer({
      size: bytes + 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "denograd read",
    });
    if (bytes > 0) this.batch.copy(buf.buffer, 0, staging, 0, bytes);
    this.batch.copy(this.#errFlag, 0, staging, bytes, 16);
    this.batch.clear(this.#errFlag, 0, 16);
    this.batch.flush();
    try {
      if (this.batch.held) await this.batch.submitted(); // the copy above may be held behind a transfer
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      staging.destroy();
      this.checkUsable();
      throw e;
    }
    const raw = staging.getMappedRange();
    const flag = new Uint32Array(raw, bytes, 1)[0];
    let out: TypedArray;
    switch (s.dtype) {
      case "float32":
        out = new Float32Array(raw.slice(0, s.size * 4));
        break;
      case "int32":
        out = new Int32Array(raw.slice(0, s.size * 4));
        break;
      case "float16":
        out = new Float16Array(raw.slice(0, s.size * 2));
        break;
      case "bool": {
        const u = new Uint32Array(raw, 0, s.size);
        out = allocHost("bool", s.size);
        for (let i = 0; i < s.size; i++) out[i] = u[i] ? 1 : 0;
        break;
      }
    }
    staging.unmap();
    staging.destroy();
    this.checkUsable();
    if (flag) throw new RangeError(ERR_MESSAGES[flag] ?? `kernel error ${flag}`);
    return out;
  }

  unary(op: UnaryOp, x: Operand, outDtype: DType, p0 = 0, p1 = 0): GpuStorage {
    const e = UNARY_EXPR[op](computeType(x.storage.dtype));
    const shape = x.view.shape;
    const label = op === "copy" && outDtype !== x.storage.dtype ? "cast" : op; // the profiler's op name
    const out = this.#storage(outDtype, numel(shape), label);
    const launch = elementwiseKernel({
      label: op,
      shape,
      inputs: [{ dtype: x.storage.dtype, view: x.view }],
      outDtype,
      expr: e.expr,
      kind: e.kind,
      p0,
      p1,
    });
    this.#run(launch, [(x.storage as GpuStorage).live, out.buf!], label);
    return out;
  }

  binary(op: BinaryOp, a: Operand, b: Operand, outDtype: DType, p0 = 0, p1 = 0): GpuStorage {
    const e = BINARY_EXPR[op](computeType(a.storage.dtype));
    const shape = a.view.shape;
    const out = this.#storage(outDtype, numel(shape), op);
    const launch = elementwiseKernel({
      label: op,
      shape,
      inputs: [{ dtype: a.storage.dtype, view: a.view }, { dtype: b.storage.dtype, view: b.view }],
      outDtype,
      expr: e.expr,
      kind: e.kind,
      p0,
      p1,
    });
    this.#run(launch, [(a.storage as GpuStorage).live, (b.storage as GpuStorage).live, out.buf!], op);
    return out;
  }

  where(cond: Operand, a: Operand, b: Operand, outDtype: DType): GpuStorage {
    const shape = a.view.shape;
    const out = this.#storage(outDtype, numel(shape), "where");
    const launch = elementwiseKernel({
      label: "where",
      shape,
      inputs: [
        { dtype: a.storage.dtype, view: a.view },
        { dtype: b.storage.dtype, view: b.view },
        { dtype: cond.storage.dtype, view: cond.view },
      ],
      outDtype,
      expr: "select(b, a, c != 0u)",
      kind: computeType(a.storage.dtype),
    });
    const bufs = [a, b, cond].map((o) => (o.storage as GpuStorage).live);
    this.#run(launch, [...bufs, out.buf!], "where");
    return out;
  }

  reduce(op: ReduceOp, x: Operand, axes: readonly number[], outDtype: DType): GpuStorage {
    const outShape = x.view.shape.filter((_, d) => !axes.includes(d));
    const nout = numel(outShape);
    const r = numel(axes.map((d) => x.view.shape[d]));
    if (r > REDUCE_CHUNK) return this.#reduceChunked(op, x, axes, outDtype, nout, r);
    const out = this.#storage(outDtype, nout, `reduce.${op}`);
    const launch = reduceKernel(op, x.storage.dtype, x.view, axes, outDtype);
    this.#run(launch, [(x.storage as GpuStorage).live, out.buf!], `reduce.${op}`);
    return out;
  }

  /**
   * A reduction of long rows in two passes: chunks of REDUCE_CHUNK elements, one workgroup each, give
   * partial results [nout, G], which a second reduction combines (argmax/argmin pick the best chunk, then
   * gather that chunk's index).
   */
  #reduceChunked(
    op: ReduceOp,
    x: Operand,
    axes: readonly number[],
    outDtype: DType,
    nout: number,
    r: number,
  ) {
    const groups = Math.ceil(r / REDUCE_CHUNK);
    const isArg = op === "argmax" || op === "argmin";
    const inDtype = x.storage.dtype;
    const partialDtype: DType = isArg || op === "max" || op === "min"
      ? inDtype
      : outDtype === "float16"
      ? "float32"
      : outDtype;
    const partial = this.#storage(partialDtype, nout * groups, `reduce.${op}`);
    const launch = reduceKernel(op, inDtype, x.view, axes, partialDtype, { chunk: REDUCE_CHUNK, groups });
    const pview = { shape: [nout, groups], strides: [groups, 1], offset: 0 };
    if (!isArg) {
      this.#run(launch, [(x.storage as GpuStorage).live, partial.buf!], `reduce.${op}`);
      const out = this.reduce(op, { storage: partial, view: pview }, [1], outDtype);
      this.free(partial);
      return out;
    }
    const indices = this.#storage("int32", nout * groups, `reduce.${op}`);
    this.#run(launch, [(x.storage as GpuStorage).live, partial.buf!, indices.buf!], `reduce.${op}`, 2);
    const bestChunk = this.reduce(op, { storage: partial, view: pview }, [1], "int32");
    const out = this.gather({ storage: indices, view: pview }, 1, {
      storage: bestChunk,
      view: { shape: [nout, 1], strides: [1, 0], offset: 0 },
    });
    for (const s of [partial, indices, bestChunk]) this.free(s);
    return out;
  }

  matmul(a: Operand, b: Operand, outDtype: DType): GpuStorage {
    const [batch, M, K] = a.view.shape;
    const N = b.view.shape[2];
    const out = this.#storage(outDtype, batch * M * N, "matmul");
    if (batch * M * N === 0) return out;
    if (K === 0) {
      this.batch.clear(out.buf!.buffer, 0, out.buf!.bytes);
      return out;
    }
    const spec = chooseMatmulSpec({
      dtype: a.storage.dtype === "float16" ? "f16" : "f32",
      aStrides: a.view.strides as [number, number, number],
      bStrides: b.view.strides as [number, number, number],
      aOffset: a.view.offset,
      bOffset: b.view.offset,
      M,
      N,
      K,
      adapterIsCpu: this.info.isSoftware,
    });
    const tile = chooseMatmulTile(spec, M, N);
    const { code } = matmulShader(spec, tile);
    const key = `matmul|${JSON.stringify(spec)}|${JSON.stringify(tile)}`;
    const [as, bs] = [a.view.strides, b.view.strides];
    const params = Uint32Array.from([
      M,
      N,
      K,
      batch,
      a.view.offset,
      as[0],
      as[1],
      as[2],
      b.view.offset,
      bs[0],
      bs[1],
      bs[2],
    ]);
    const launch: KernelLaunch = {
      key,
      code: () => code,
      params,
      groups: matmulDispatch(spec, M, N, batch, tile),
    };
    this.#run(launch, [(a.storage as GpuStorage).live, (b.storage as GpuStorage).live, out.buf!], "matmul");
    return out;
  }

  gather(x: Operand, dim: number, index: Operand): GpuStorage {
    const out = this.#storage(x.storage.dtype, numel(index.view.shape), "gather");
    const launch = gatherKernel(x.storage.dtype, x.view, dim, index.view);
    const bufs = [
      (x.storage as GpuStorage).live,
      (index.storage as GpuStorage).live,
      out.buf!,
      this.#errFlag,
    ];
    this.#run(launch, bufs, "gather", 2);
    return out;
  }

  scatterAdd(src: Operand, dim: number, index: Operand, outShape: readonly number[]): GpuStorage {
    const out = this.#storage(src.storage.dtype, numel(outShape), "scatterAdd");
    const launch = scatterAddKernel(src.storage.dtype, src.view, dim, index.view, outShape);
    const bufs = [
      (src.storage as GpuStorage).live,
      (index.storage as GpuStorage).live,
      out.buf!,
      this.#errFlag,
    ];
    this.#run(launch, bufs, "scatterAdd", 2);
    return out;
  }

  copy(src: Operand, dst: Storage, dstView: View): void {
    const d = dst as GpuStorage;
    const launch = elementwiseKernel({
      label: "copy",
      shape: dstView.shape,
      inputs: [{ dtype: src.storage.dtype, view: src.view }],
      outDtype: d.dtype,
      outView: dstView,
      expr: "a",
      kind: computeType(src.storage.dtype),
    });
    this.#run(launch, [(src.storage as GpuStorage).live, d.live], "copy_");
  }

  im2col(x: Operand, win: Window2d, layout?: Im2colLayout): GpuStorage {
    const [N, C] = x.view.shape;
    const rows = layout ? layout.groups * layout.rows : C * win.kernel[0] * win.kernel[1];
    const size = N * rows * (layout?.columns ?? win.out[0] * win.out[1]);
    const out = this.#storage(x.storage.dtype, size, "im2col");
    if (size === 0) return out;
    const launch = im2colKernel(x.storage.dtype, x.view, win, layout);
    this.#run(launch, [(x.storage as GpuStorage).live, out.buf!], "im2col");
    return out;
  }

  col2im(cols: Operand, inShape: readonly number[], win: Window2d): GpuStorage {
    const out = this.#storage(cols.storage.dtype, numel(inShape), "col2im");
    if (numel(inShape) === 0) return out;
    const launch = col2imKernel(cols.storage.dtype, cols.view, inShape, win);
    this.#run(launch, [(cols.storage as GpuStorage).live, out.buf!], "col2im");
    return out;
  }

  pool2d(x: Operand, pool: Pool2d): { out: GpuStorage; indices: GpuStorage | null } {
    const [N, C] = x.view.shape;
    const size = N * C * pool.out[0] * pool.out[1];
    const dtype = x.storage.dtype;
    const out = this.#storage(dtype, size, `pool2d.${pool.op}`);
    const indices = pool.op === "max" ? this.#storage("int32", size, "pool2d.max") : null;
    if (size === 0) return { out, indices };
    const bufs = [(x.storage as GpuStorage).live, out.buf!, ...(indices ? [indices.buf!] : [])];
    this.#run(pool2dKernel(dtype, x.view, pool), bufs, `pool2d.${pool.op}`, indices ? 2 : 1);
    return { out, indices };
  }

  pool2dBackward(
    grad: Operand,
    indices: Operand | null,
    inShape: readonly number[],
    pool: Pool2d,
  ): GpuStorage {
    const dtype = grad.storage.dtype;
    const out = this.#storage(dtype, numel(inShape), `pool2d.${pool.op}.backward`);
    if (numel(inShape) === 0) return out;
    if (indices && windowsDisjoint(pool)) {
      // disjoint windows: zero the gradient, then scatter each output's gradient to its argmax
      this.batch.clear(out.buf!.buffer, 0, out.buf!.bytes);
      const scatter = pool2dMaxScatterKernel(dtype, grad.view, indices.view, inShape, pool);
      const sbufs = [(grad.storage as GpuStorage).live, (indices.storage as GpuStorage).live, out.buf!];
      this.#run(scatter, sbufs, "pool2d.max.backward");
      return out;
    }
    const launch = pool2dBackwardKernel(dtype, grad.view, indices?.view ?? null, inShape, pool);
    const bufs = [
      (grad.storage as GpuStorage).live,
      ...(indices ? [(indices.storage as GpuStorage).live] : []),
      out.buf!,
    ];
    this.#run(launch, bufs, `pool2d.${pool.op}.backward`);
    return out;
  }

  depthwiseConv2d(x: Operand, weight: Operand, bias: Operand | null, win: Window2d): GpuStorage {
    const dtype = x.storage.dtype;
    const size = x.view.shape[0] * weight.view.shape[0] * win.out[0] * win.out[1];
    const out = this.#storage(dtype, size, "depthwiseConv2d");
    if (size === 0) return out;
    const launch = depthwiseConv2dKernel(dtype, x.view, weight.view, bias?.view ?? null, win);
    const bufs = [(x.storage as GpuStorage).live, (weight.storage as GpuStorage).live];
    if (bias) bufs.push((bias.storage as GpuStorage).live);
    this.#run(launch, [...bufs, out.buf!], "depthwiseConv2d");
    return out;
  }

  depthwiseConv2dBackwardInput(
    grad: Operand,
    weight: Operand,
    inShape: readonly number[],
    win: Window2d,
  ): GpuStorage {
    const dtype = grad.storage.dtype;
    const out = this.#storage(dtype, numel(inShape), "depthwiseConv2d.backwardInput");
    if (numel(inShape) === 0) return out;
    const launch = depthwiseConv2dBackwardInputKernel(dtype, grad.view, weight.view, inShape, win);
    const bufs = [(grad.storage as GpuStorage).live, (weight.storage as GpuStorage).live, out.buf!];
    this.#run(launch, bufs, "depthwiseConv2d.backwardInput");
    return out;
  }

  depthwiseConv2dBackwardWeight(grad: Operand, x: Operand, win: Window2d): GpuStorage {
    const dtype = x.storage.dtype;
    const taps = grad.view.shape[1] * win.kernel[0] * win.kernel[1];
    const positions = numel(grad.view.shape) === 0 ? 0 : grad.view.shape[0] * win.out[0] * win.out[1];
    if (positions === 0 || taps === 0) return this.alloc(dtype, taps);
    const what = "depthwiseConv2d.backwardWeight";
    // one chunk: the kernel writes the gradient; several: float32 partials summed by a second reduction
    let launch = depthwiseConv2dBackwardWeightKernel(dtype, dtype, grad.view, x.view, win);
    const bufs = [(grad.storage as GpuStorage).live, (x.storage as GpuStorage).live];
    if (launch.chunks === 1) {
      const out = this.#storage(dtype, taps, what);
      this.#run(launch, [...bufs, out.buf!], what);
      return out;
    }
    launch = depthwiseConv2dBackwardWeightKernel(dtype, "float32", grad.view, x.view, win);
    const partial = this.#storage("float32", taps * launch.chunks, what);
    this.#run(launch, [...bufs, partial.buf!], what);
    const pview = { shape: [taps, launch.chunks], strides: [launch.chunks, 1], offset: 0 };
    const out = this.reduce("sum", { storage: partial, view: pview }, [1], dtype);
    this.free(partial);
    return out;
  }

  batchNormReduce(x: Operand, shift: Operand | null, grad: Operand | null): GpuStorage {
    const C = x.view.shape[1];
    const what = "batchNorm.reduce";
    const launch = batchNormReduceKernel(x.storage.dtype, x.view, shift?.view ?? null, grad?.view ?? null);
    const bufs = [(x.storage as GpuStorage).live];
    if (shift) bufs.push((shift.storage as GpuStorage).live);
    if (grad) bufs.push((grad.storage as GpuStorage).live);
    if (launch.chunks === 1) {
      const out = this.#storage("float32", 3 * C, what);
      this.#run(launch, [...bufs, out.buf!], what);
      return out;
    }
    // several chunks per channel: float32 partials [3, C, chunks] summed by a second reduction
    const partial = this.#storage("float32", 3 * C * launch.chunks, what);
    this.#run(launch, [...bufs, partial.buf!], what);
    const k = launch.chunks;
    const pview = { shape: [3 * C, k], strides: [k, 1], offset: 0 };
    const out = this.reduce("sum", { storage: partial, view: pview }, [1], "float32");
    this.free(partial);
    return out;
  }

  channelAffine(x: Operand, coef: Operand, y: Operand | null): GpuStorage {
    const dtype = x.storage.dtype;
    const out = this.#storage(dtype, numel(x.view.shape), "batchNorm.affine");
    if (numel(x.view.shape) === 0) return out;
    const launch = channelAffineKernel(dtype, x.view, y?.view ?? null);
    const bufs = [(x.storage as GpuStorage).live, (coef.storage as GpuStorage).live];
    if (y) bufs.push((y.storage as GpuStorage).live);
    this.#run(launch, [...bufs, out.buf!], "batchNorm.affine");
    return out;
  }

  optimizerStep(
    rule: OptimizerRule,
    param: Operand,
    grad: Operand,
    state: readonly Storage[],
    skip?: Storage,
  ): void {
    const n = numel(param.view.shape);
    if (n === 0) return;
    const launch = optimizerStepKernel(
      rule,
      param.storage.dtype,
      n,
      param.view.offset,
      grad.view.offset,
      skip !== undefined,
    );
    const bufs = [(grad.storage as GpuStorage).live];
    if (skip) bufs.push((skip as GpuStorage).live);
    bufs.push((param.storage as GpuStorage).live);
    for (const s of state) bufs.push((s as GpuStorage).live);
    this.#run(launch, bufs, `optimizer.${rule.kind}`, 1 + state.length);
  }

  flush(): void {
    this.batch.flush();
  }

  /** Destroys the pool's free buffers and forgets bind groups that may name them. */
  trim(): void {
    this.batch.flush();
    this.batch.afterHeld(() => {
      if (this.batch.held) return; // commands still held back may bind free buffers: keep them
      this.batch.clearBindGroups();
      this.pool.trim();
    });
  }

  async sync(): Promise<void> {
    this.batch.flush();
    await this.batch.submitted();
    await this.gpu.queue.onSubmittedWorkDone();
    this.checkUsable();
  }

  memory(): MemoryInfo {
    return this.pool.memory();
  }
}

/** Requests an adapter and a device with the adapter's full limits; null when WebGPU has no adapter. */
export async function createWebGpuBackend(
  options: GPURequestAdapterOptions = { powerPreference: "high-performance" },
): Promise<WebGpuBackend | null> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) return null;
  const adapter = await navigator.gpu.requestAdapter(options);
  if (!adapter) return null;
  const features: GPUFeatureName[] = [];
  for (const f of ["shader-f16", "timestamp-query"] as GPUFeatureName[]) {
    if (adapter.features.has(f)) features.push(f);
  }
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  return new WebGpuBackend(device, adapter);
}
