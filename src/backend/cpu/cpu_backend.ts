/**
 * The CPU reference backend: storages are host typed arrays and kernels are plain loops (one file per kind
 * of kernel in this folder). It is always available, is the reference the WebGPU backend is tested against,
 * and follows PyTorch's semantics, NaN and integer wraparound included.
 * @module
 */
import type { Backend, BinaryOp, MemoryInfo, Operand, ReduceOp, Storage, UnaryOp, View } from "../backend.ts";
import { allocHost, type DType, hostBytes, type TypedArray } from "../../tensor/dtype.ts";
import { binary } from "./binary.ts";
import { castArray, copyInto } from "./copy.ts";
import { gather, scatterAdd } from "./gather.ts";
import { matmul } from "./matmul.ts";
import { reduce } from "./reduce.ts";
import type { HostOperand } from "./strided.ts";
import { unary } from "./unary.ts";
import { where } from "./where.ts";
import type { Im2colLayout, Pool2d, Window2d } from "../backend.ts";
import { col2im, im2col } from "./im2col.ts";
import { pool2d, pool2dBackward } from "./pool2d.ts";
import {
  depthwiseConv2d,
  depthwiseConv2dBackwardInput,
  depthwiseConv2dBackwardWeight,
} from "./depthwise_conv2d.ts";
import type { OptimizerRule } from "../backend.ts";
import { optimizerStep } from "./optimizer_step.ts";
import { batchNormReduce, channelAffine } from "./batch_norm.ts";

/**
 * A CPU storage: a host typed array (float32 → Float32Array, float16 → Float16Array, int32 → Int32Array,
 * bool → Uint8Array of 0/1). Reading `data` after the storage was freed throws.
 */
export class CpuStorage implements Storage {
  /** The backend that owns this storage. */
  readonly backend: CpuBackend;
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  #data: TypedArray | null;

  /** Wraps `data` (not copied) as a storage of `dtype` owned by `backend`; use the backend's methods instead. */
  constructor(backend: CpuBackend, dtype: DType, data: TypedArray) {
    this.backend = backend;
    this.dtype = dtype;
    this.size = data.length;
    this.#data = data;
  }

  /** The elements (the live array, not a copy). Throws once the storage has been freed. */
  get data(): TypedArray {
    if (this.#data === null) throw new Error("storage used after it was freed");
    return this.#data;
  }

  /** Whether the storage has been freed. */
  get freed(): boolean {
    return this.#data === null;
  }

  /** Drops the data reference (called by {@linkcode CpuBackend.free}). */
  release(): void {
    if (this.#data === null) throw new Error("storage used after it was freed");
    this.#data = null;
  }
}

/** The CPU implementation of {@linkcode Backend}. Use the {@linkcode cpuBackend} singleton. */
export class CpuBackend implements Backend {
  /** Always "cpu". */
  readonly device = "cpu";
  /** float16 is stored in `Float16Array` and computed in float64, rounding once per result. */
  readonly supportsF16 = true;
  #inUse = 0;
  #peak = 0;

  #adopt(dtype: DType, data: TypedArray): CpuStorage {
    this.#inUse += data.length * hostBytes(dtype);
    if (this.#inUse > this.#peak) this.#peak = this.#inUse;
    return new CpuStorage(this, dtype, data);
  }

  #storage(s: Storage): CpuStorage {
    if (!(s instanceof CpuStorage) || s.backend !== this) {
      throw new TypeError(`cpu backend: got a storage of the ${s.backend?.device ?? "unknown"} backend`);
    }
    return s;
  }

  #host(x: Operand): HostOperand {
    const s = this.#storage(x.storage);
    return { data: s.data, dtype: s.dtype, view: x.view };
  }

  /** A new storage with `size` zeroed elements. */
  alloc(dtype: DType, size: number): CpuStorage {
    return this.#adopt(dtype, allocHost(dtype, size));
  }

  /** A new storage holding a copy of `data` converted to `dtype`. */
  upload(dtype: DType, data: TypedArray): CpuStorage {
    return this.#adopt(dtype, castArray(data, dtype));
  }

  /** A new storage of `size` elements all equal to `value` (converted to `dtype`). */
  fill(dtype: DType, size: number, value: number): CpuStorage {
    const data = allocHost(dtype, size);
    data.fill(dtype === "bool" ? (value !== 0 ? 1 : 0) : value);
    return this.#adopt(dtype, data);
  }

  /** Drops the storage's data and its bytes from the accounting; using it afterwards throws. */
  free(storage: Storage): void {
    const s = this.#storage(storage);
    s.release();
    this.#inUse -= s.size * hostBytes(s.dtype);
  }

  /** A copy of the storage's elements. */
  read(storage: Storage): Promise<TypedArray> {
    try {
      return Promise.resolve(this.#storage(storage).data.slice());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** out[i] = op(x[i]) with out contiguous of x's shape. */
  unary(op: UnaryOp, x: Operand, outDtype: DType, p0?: number, p1?: number): CpuStorage {
    return this.#adopt(outDtype, unary(op, this.#host(x), outDtype, p0, p1));
  }

  /** out[i] = op(a[i], b[i]); a and b have the output's shape (broadcast by strides of 0). */
  binary(op: BinaryOp, a: Operand, b: Operand, outDtype: DType, p0?: number, p1?: number): CpuStorage {
    return this.#adopt(outDtype, binary(op, this.#host(a), this.#host(b), outDtype, p0, p1));
  }

  /** out[i] = cond[i] ? a[i] : b[i]; all three have the output's shape. */
  where(cond: Operand, a: Operand, b: Operand, outDtype: DType): CpuStorage {
    return this.#adopt(outDtype, where(this.#host(cond), this.#host(a), this.#host(b), outDtype));
  }

  /** Reduces `axes` (sorted, unique) of x into a contiguous storage with those axes removed. */
  reduce(op: ReduceOp, x: Operand, axes: readonly number[], outDtype: DType): CpuStorage {
    return this.#adopt(outDtype, reduce(op, this.#host(x), axes, outDtype));
  }

  /** Batched matrix product: a is [B, M, K], b is [B, K, N] (any strides); the output is contiguous [B, M, N]. */
  matmul(a: Operand, b: Operand, outDtype: DType): CpuStorage {
    return this.#adopt(outDtype, matmul(this.#host(a), this.#host(b), outDtype));
  }

  /** out[p] = x[p with coordinate `dim` replaced by index[p]]; out has index's shape and x's dtype. */
  gather(x: Operand, dim: number, index: Operand): CpuStorage {
    const h = this.#host(x);
    return this.#adopt(h.dtype, gather(h, dim, this.#host(index)));
  }

  /** A zeroed storage of `outShape` plus src[p] added at p with coordinate `dim` replaced by index[p]. */
  scatterAdd(src: Operand, dim: number, index: Operand, outShape: readonly number[]): CpuStorage {
    const h = this.#host(src);
    return this.#adopt(h.dtype, scatterAdd(h, dim, this.#host(index), outShape));
  }

  /** Writes `src` (of dst view's shape) into `dst` at the strided `dstView`, converting dtype. */
  copy(src: Operand, dst: Storage, dstView: View): void {
    const d = this.#storage(dst);
    copyInto(this.#host(src), d.data, d.dtype, dstView);
  }

  /** im2col: x [N, C, H, W] → contiguous [N, C·KH·KW, OH·OW] (zeros in the padding), rows laid out by `layout`. */
  im2col(x: Operand, win: Window2d, layout?: Im2colLayout): CpuStorage {
    const h = this.#host(x);
    return this.#adopt(h.dtype, im2col(h, win, layout));
  }

  /** col2im, the adjoint of im2col: cols [N, C·KH·KW, OH·OW] → contiguous `inShape` [N, C, H, W]. */
  col2im(cols: Operand, inShape: readonly number[], win: Window2d): CpuStorage {
    const h = this.#host(cols);
    return this.#adopt(h.dtype, col2im(h, inShape, win));
  }

  /** Pooling of x [N, C, H, W] into [N, C, OH, OW], with int32 argmaxes for "max". */
  pool2d(x: Operand, pool: Pool2d): { out: CpuStorage; indices: CpuStorage | null } {
    const h = this.#host(x);
    const r = pool2d(h, pool);
    return {
      out: this.#adopt(h.dtype, r.out),
      indices: r.indices ? this.#adopt("int32", r.indices) : null,
    };
  }

  /** The adjoint of pool2d into a contiguous `inShape`. */
  pool2dBackward(
    grad: Operand,
    indices: Operand | null,
    inShape: readonly number[],
    pool: Pool2d,
  ): CpuStorage {
    const h = this.#host(grad);
    return this.#adopt(h.dtype, pool2dBackward(h, indices ? this.#host(indices) : null, inShape, pool));
  }

  /** Depthwise convolution of x [N, C, H, W] by weight [C·M, 1, KH, KW] (see `depthwise_conv2d.ts`). */
  depthwiseConv2d(x: Operand, weight: Operand, bias: Operand | null, win: Window2d): CpuStorage {
    const h = this.#host(x);
    return this.#adopt(h.dtype, depthwiseConv2d(h, this.#host(weight), bias ? this.#host(bias) : null, win));
  }

  /** The input's gradient of depthwiseConv2d into a contiguous `inShape`. */
  depthwiseConv2dBackwardInput(
    grad: Operand,
    weight: Operand,
    inShape: readonly number[],
    win: Window2d,
  ): CpuStorage {
    const h = this.#host(grad);
    return this.#adopt(h.dtype, depthwiseConv2dBackwardInput(h, this.#host(weight), inShape, win));
  }

  /** The weight's gradient of depthwiseConv2d: contiguous [C·M, 1, KH, KW]. */
  depthwiseConv2dBackwardWeight(grad: Operand, x: Operand, win: Window2d): CpuStorage {
    const h = this.#host(x);
    return this.#adopt(h.dtype, depthwiseConv2dBackwardWeight(this.#host(grad), h, win));
  }

  /** Batch normalisation's per-channel sums over x [N, C, L]: float32 [3, C] (see `batch_norm.ts`). */
  batchNormReduce(x: Operand, shift: Operand | null, grad: Operand | null): CpuStorage {
    const h = this.#host(x);
    const out = batchNormReduce(h, shift ? this.#host(shift) : null, grad ? this.#host(grad) : null);
    return this.#adopt("float32", out);
  }

  /** The per-channel affine map coef[0]·x + coef[1] (+ coef[2]·y) of batch normalisation. */
  channelAffine(x: Operand, coef: Operand, y: Operand | null): CpuStorage {
    const h = this.#host(x);
    return this.#adopt(h.dtype, channelAffine(h, this.#host(coef), y ? this.#host(y) : null));
  }

  /** One fused optimizer update of `param` and its `state`, in place (see `optimizer_step.ts`). */
  optimizerStep(
    rule: OptimizerRule,
    param: Operand,
    grad: Operand,
    state: readonly Storage[],
    skip?: Storage,
  ): void {
    const x = this.#storage(param.storage);
    const g = this.#storage(grad.storage);
    optimizerStep(
      rule,
      param.view.shape.reduce((a, b) => a * b, 1),
      { data: x.data, offset: param.view.offset },
      { data: g.data, offset: grad.view.offset },
      state.map((s) => this.#storage(s).data),
      skip ? this.#storage(skip).data : undefined,
    );
  }

  /** A no-op: CPU kernels run when called. */
  flush(): void {}

  /** Resolves at once: CPU kernels have finished when they return. */
  sync(): Promise<void> {
    return Promise.resolve();
  }

  /** Bytes held by live storages (allocated and in use are the same on the CPU) and the peak seen. */
  memory(): MemoryInfo {
    return { allocated: this.#inUse, inUse: this.#inUse, peak: this.#peak };
  }
}

/** The process-wide CPU backend. */
export const cpuBackend: CpuBackend = new CpuBackend();
