/**
 * The narrow interface every compute backend implements (CPU reference, WebGPU).
 *
 * A backend owns flat storages of one dtype and runs a handful of kernels over
 * strided views of them. Every op of the library is built from these kernels;
 * shapes, broadcasting, dtype rules and autograd live above, in `src/tensor/` and
 * `src/autograd/`. Kernels write to fresh contiguous storages (except `copy`) and
 * never wait: only `read` returns a promise.
 * @module
 */
import type { DType, TypedArray } from "../tensor/dtype.ts";

/** A strided view of a storage, in elements: element `i` of the view sits at `offset + Σ idx[k]·strides[k]`. */
export interface View {
  /** Sizes of the dims. */
  readonly shape: readonly number[];
  /** Element strides of the dims (0 for broadcast dims). */
  readonly strides: readonly number[];
  /** Element offset of the first element. */
  readonly offset: number;
}

/** A flat buffer of `size` elements of `dtype` owned by `backend`. */
export interface Storage {
  /** The backend that owns the storage. */
  readonly backend: Backend;
  /** The element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
}

/** A storage with a view of it: the input operand of a kernel. */
export interface Operand {
  /** The storage read. */
  readonly storage: Storage;
  /** Which of its elements, in which order. */
  readonly view: View;
}

/** Elementwise unary kernels. `p0`/`p1` are the kernel's scalar parameters where it has some. */
export type UnaryOp =
  | "copy" // x, converted to the output dtype (also the cast kernel)
  | "neg"
  | "abs"
  | "sign"
  | "exp"
  | "log"
  | "sqrt"
  | "rsqrt"
  | "reciprocal"
  | "sin"
  | "cos"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "gelu" // exact (erf) GELU, as PyTorch's default
  | "leakyRelu" // p0: negative slope
  | "clamp" // p0: min, p1: max (NaN bounds are ignored)
  | "not" // logical not (bool)
  | "isnan"
  | "isinf";

/** Elementwise binary kernels over two operands already broadcast to the output shape. */
export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "maximum"
  | "minimum"
  | "eq"
  | "ne"
  | "lt"
  | "le"
  | "gt"
  | "ge"
  | "and"
  | "or"
  // fused backward kernels: (gradient, saved value)
  | "reluGrad" // g * (x > 0)
  | "leakyReluGrad" // g * (x > 0 ? 1 : p0)
  | "geluGrad" // g * d/dx gelu(x)
  | "sigmoidGrad" // g * y * (1 - y), y the forward output
  | "tanhGrad" // g * (1 - y²), y the forward output
  | "clampGrad"; // g * (p0 <= x <= p1)

/** Reductions over a set of axes. `argmax`/`argmin` return int32 indices along a single axis. */
export type ReduceOp = "sum" | "prod" | "max" | "min" | "argmax" | "argmin";

/** Bytes allocated by a backend, in use by live storages, and the peak of in-use. */
export interface MemoryInfo {
  /** Bytes held by the backend (in use plus pooled). */
  allocated: number;
  /** Bytes held by live storages. */
  inUse: number;
  /** The most bytes in use at once since the last reset. */
  peak: number;
}

/** The kernels and memory management a device offers. */
export interface Backend {
  /** "cpu" or "webgpu". */
  readonly device: string;
  /** Whether float16 storage and kernels are available. */
  readonly supportsF16: boolean;

  /** A new storage with `size` zeroed elements. */
  alloc(dtype: DType, size: number): Storage;
  /** A new storage holding `data` (converted to `dtype`). */
  upload(dtype: DType, data: TypedArray): Storage;
  /** A new storage of `size` elements all equal to `value`. */
  fill(dtype: DType, size: number, value: number): Storage;
  /** Gives a storage's memory back (to the pool on WebGPU). The storage must not be used afterwards. */
  free(storage: Storage): void;
  /** Reads a whole storage back to the host: the only call that waits for the device. */
  read(storage: Storage): Promise<TypedArray>;

  /** out[i] = op(x[i]) with out contiguous of x's shape. */
  unary(op: UnaryOp, x: Operand, outDtype: DType, p0?: number, p1?: number): Storage;
  /** out[i] = op(a[i], b[i]); a and b have the output's shape (broadcast by strides of 0). */
  binary(op: BinaryOp, a: Operand, b: Operand, outDtype: DType, p0?: number, p1?: number): Storage;
  /** out[i] = cond[i] ? a[i] : b[i]; all three have the output's shape. */
  where(cond: Operand, a: Operand, b: Operand, outDtype: DType): Storage;
  /**
   * Reduces `axes` (sorted, unique) of x; the output is contiguous with those axes removed.
   * `argmax`/`argmin` take one axis and give int32 indices.
   */
  reduce(op: ReduceOp, x: Operand, axes: readonly number[], outDtype: DType): Storage;
  /** Batched matrix product: a is [B, M, K], b is [B, K, N] (any strides); the output is contiguous [B, M, N]. */
  matmul(a: Operand, b: Operand, outDtype: DType): Storage;
  /** out[..., j, ...] = x[..., index[..., j, ...], ...] along `dim`; out has index's shape. Indices are validated above. */
  gather(x: Operand, dim: number, index: Operand): Storage;
  /**
   * The adjoint of gather: a zeroed contiguous storage of `outShape` plus, for every element of `src`,
   * src[p] added at position p with coordinate `dim` replaced by index[p]. Deterministic (no atomics).
   */
  scatterAdd(src: Operand, dim: number, index: Operand, outShape: readonly number[]): Storage;
  /** Writes `src` (of dst view's shape) into `dst` at the strided `dstView`, converting dtype. */
  copy(src: Operand, dst: Storage, dstView: View): void;

  /** Submits queued work without waiting (a no-op on the CPU). */
  flush(): void;
  /** Resolves when all submitted work has finished. */
  sync(): Promise<void>;
  /** Memory accounting. */
  memory(): MemoryInfo;
}
