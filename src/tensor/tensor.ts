/**
 * The `Tensor` class: a strided view of a reference-counted storage on a device, with autograd state.
 * Ops live in `src/ops/`, one family per file; the methods here delegate to them.
 * @module
 */
import type { Storage, View } from "../backend/backend.ts";
import { checkDevice, type Device } from "../backend/registry.ts";
import { AccumulateGrad, type Node } from "../autograd/node.ts";
import { type BackwardOptions, runBackward } from "../autograd/engine.ts";
import { checkDType, type DType, isFloating, type TypedArray } from "./dtype.ts";
import { contiguousStrides, fmtShape, isContiguous, numel } from "./shape.ts";
import { keep, track } from "./scope.ts";
import * as unary from "../ops/unary.ts";
import * as binary from "../ops/binary.ts";
import * as compare from "../ops/compare.ts";
import * as reduce from "../ops/reduce.ts";
import * as softmax from "../ops/softmax.ts";
import * as views from "../ops/views.ts";
import * as indexing from "../ops/indexing.ts";
import { matmul } from "../ops/matmul.ts";
import { castTo, moveTo } from "../ops/cast.ts";

/** A storage shared by a tensor and its views; freed when the last of them is disposed. */
export class StorageRef {
  refs = 1;
  /** Bumped by every in-place write, so that autograd can tell a saved tensor was changed. */
  version = 0;
  constructor(readonly storage: Storage) {}

  /** Adds a holder. */
  retain(): this {
    this.refs++;
    return this;
  }

  /** Drops a holder; frees the storage when none is left. */
  release(): void {
    if (--this.refs === 0) this.storage.backend.free(this.storage);
  }
}

const finalizer = new FinalizationRegistry<StorageRef>((ref) => {
  try {
    ref.release();
  } catch { /* the device may be gone */ }
});

/** A number, or nested arrays of numbers or booleans: what `toArray()` returns. */
export type NestedArray = number | boolean | NestedArray[];

/** A tensor operand that may also be a plain number (a scalar). */
export type TensorLike = Tensor | number;

/** Target of `to()`: a device, a dtype, or both. */
export type ToTarget = Device | DType | { device?: Device; dtype?: DType };

let nextId = 1;

/**
 * A multi-dimensional array on the CPU or WebGPU, with automatic differentiation.
 * Create tensors with {@linkcode tensor}, {@linkcode zeros}, {@linkcode randn}...; read them with
 * `await t.toArray()`, `await t.data()` or `await t.item()` (the only calls that wait for the device).
 *
 * @example
 * ```ts
 * import { tensor } from "../../mod.ts";
 * const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * const y = x.mul(x).sum();
 * y.backward();
 * console.log(await x.grad!.toArray()); // [[2, 4], [6, 8]]
 * ```
 */
export class Tensor implements Disposable {
  #ref: StorageRef | null;
  /** Sizes of the dimensions. */
  readonly shape: readonly number[];
  #strides: readonly number[];
  #offset: number;
  #dtype: DType;
  #device: Device;
  /** A unique id, for display and debugging. */
  readonly id: number = nextId++;
  #requiresGrad = false;
  #retainsGrad = false;
  #acc: AccumulateGrad | null = null;
  /** The accumulated gradient, set by `backward()` on leaves (and on tensors that called `retainGrad()`). */
  grad: Tensor | null = null;
  /** The node that produced this tensor (null for leaves and tensors made without grad). */
  gradFn: Node | null = null;
  /** An optional name, shown by displays and graphs. */
  name?: string;

  /** Internal: use the creation functions (`tensor`, `zeros`...) instead. */
  constructor(
    ref: StorageRef,
    shape: readonly number[],
    strides: readonly number[],
    offset: number,
    device: Device,
  ) {
    this.#ref = ref;
    this.shape = Object.freeze([...shape]);
    this.#strides = Object.freeze([...strides]);
    this.#offset = offset;
    this.#dtype = ref.storage.dtype;
    this.#device = device;
    finalizer.register(this, ref, this);
    track(this);
  }

  /** Internal: a contiguous tensor over a fresh storage. */
  static fromStorage(storage: Storage, shape: readonly number[], device: Device): Tensor {
    return new Tensor(new StorageRef(storage), shape, contiguousStrides(shape), 0, device);
  }

  /** Element strides of the dimensions in the storage. */
  get strides(): readonly number[] {
    return this.#strides;
  }

  /** Element offset of the first element in the storage. */
  get offset(): number {
    return this.#offset;
  }

  /** The element type. */
  get dtype(): DType {
    return this.#dtype;
  }

  /** Where the data lives: "cpu", "webgpu" (WebGPU device 0) or "webgpu:N". */
  get device(): Device {
    return this.#device;
  }

  /**
   * Internal: makes this tensor hold `src`'s data (same shape; any device or dtype), keeping its identity,
   * autograd flags and `.grad`. `src` is disposed. This is how `Module.to()` moves parameters in place, so
   * that references to them (an optimizer's, say) stay valid.
   */
  replaceData_(src: Tensor): this {
    this.#live("replaceData_");
    if (src.shape.length !== this.shape.length || src.shape.some((d, i) => d !== this.shape[i])) {
      throw new RangeError(`replaceData_: shape ${fmtShape(src.shape)} differs from ${fmtShape(this.shape)}`);
    }
    const ref = src.#live("replaceData_").retain();
    const old = this.#ref!;
    finalizer.unregister(this);
    this.#ref = ref;
    this.#strides = src.#strides;
    this.#offset = src.#offset;
    this.#dtype = src.#dtype;
    this.#device = src.#device;
    finalizer.register(this, ref, this);
    old.release();
    src.dispose();
    return this;
  }

  /** Internal: the version of the storage (bumped by in-place writes). */
  get version(): number {
    return this.#ref?.version ?? -1;
  }

  /** Internal: records an in-place write to the storage. */
  bumpVersion_(): void {
    this.#live("in-place write").version++;
  }

  /** Internal: a view sharing this tensor's storage. */
  viewAs(shape: readonly number[], strides: readonly number[], offset: number): Tensor {
    return new Tensor(this.#live("view").retain(), shape, strides, offset, this.device);
  }

  /** Internal: a new handle on the same data (used to save tensors for backward). */
  alias(): Tensor {
    return this.viewAs(this.shape, this.strides, this.offset);
  }

  #live(op: string): StorageRef {
    if (!this.#ref) throw new Error(`${op}: tensor used after dispose()`);
    return this.#ref;
  }

  /** Throws a clear error when the tensor was disposed. */
  checkLive(op: string): void {
    this.#live(op);
  }

  /** Internal: the storage under this tensor. */
  get storage(): Storage {
    return this.#live("access").storage;
  }

  /** Internal: the strided view of the storage (shape, strides, offset). */
  get layout(): View {
    return { shape: this.shape, strides: this.strides, offset: this.offset };
  }

  /** Whether `dispose()` was called. */
  get isDisposed(): boolean {
    return this.#ref === null;
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  /** Number of elements (PyTorch's `numel()`). */
  numel(): number {
    return numel(this.shape);
  }

  /** Whether the elements are laid out row-major without gaps. */
  isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  /** Whether gradients are computed for this tensor. */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }

  set requiresGrad(v: boolean) {
    if (v && !isFloating(this.dtype)) {
      throw new TypeError(
        `only tensors of floating point dtype can require gradients (this one is ${this.dtype})`,
      );
    }
    if (!v && this.gradFn) {
      throw new Error("you can only change requiresGrad of leaf tensors; use detach() for a non-leaf");
    }
    this.#requiresGrad = v;
  }

  /** Sets `requiresGrad` in place and returns this tensor (PyTorch's `requires_grad_()`). */
  requiresGrad_(v = true): this {
    this.requiresGrad = v;
    return this;
  }

  /** Whether this is a leaf of the graph (made by the user, not by a recorded op). */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** Whether `retainGrad()` was called on this non-leaf tensor. */
  get retainsGrad(): boolean {
    return this.#retainsGrad;
  }

  /** Internal: records the node that produced this tensor. */
  setGradFn(node: Node): void {
    this.gradFn = node;
    this.#requiresGrad = true;
  }

  /** Internal: the node that accumulates into this leaf's `.grad`. */
  accumulateGrad(): AccumulateGrad {
    return this.#acc ??= new AccumulateGrad(this);
  }

  /** Internal: adds `g` (owned by the callee from now on) into `.grad`. */
  accumulate(g: Tensor): void {
    let owned = g;
    if (!g.isContiguous()) {
      owned = g.contiguous();
      g.dispose();
    }
    if (this.grad === null || this.grad.isDisposed) this.grad = keep(owned);
    else {
      const s = this.grad.add(owned);
      this.grad.dispose();
      owned.dispose();
      this.grad = keep(s);
    }
  }

  /** Keeps `.grad` on this non-leaf tensor after backward (PyTorch's `retain_grad()`). */
  retainGrad(): this {
    if (!this.requiresGrad) {
      throw new Error("retainGrad: can't retain the gradient of a tensor that does not require grad");
    }
    if (this.gradFn) this.#retainsGrad = true;
    return this;
  }

  /**
   * Computes the gradient of this tensor with respect to the graph's leaves and accumulates it into their
   * `.grad`. A non-scalar tensor needs `grad` (the gradient of some scalar with respect to it).
   */
  backward(grad?: Tensor, opts: BackwardOptions = {}): void {
    this.#live("backward");
    let seed = grad;
    if (!seed) {
      if (this.size !== 1) {
        throw new Error(
          `backward: grad can be implicitly created only for scalar outputs (shape is ${
            fmtShape(this.shape)
          })`,
        );
      }
      seed = binary.onesFor(this);
    } else {
      if (seed.shape.length !== this.shape.length || seed.shape.some((d, i) => d !== this.shape[i])) {
        throw new RangeError(
          `backward: grad has shape ${fmtShape(seed.shape)} but the output has shape ${fmtShape(this.shape)}`,
        );
      }
      if (seed.device !== this.device) {
        throw new Error(`backward: grad is on ${seed.device} but the output is on ${this.device}`);
      }
      seed = seed.alias();
    }
    runBackward([this], [seed], opts);
  }

  /** A new leaf tensor sharing this one's data, cut from the graph. */
  detach(): Tensor {
    return this.alias();
  }

  /** Frees this tensor's memory now (its storage goes back to the pool once no view uses it). */
  dispose(): void {
    if (!this.#ref) return;
    finalizer.unregister(this);
    const ref = this.#ref;
    this.#ref = null;
    ref.release();
  }

  /** Disposes the tensor at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---------------------------------------------------------------- reads (the only waits)

  /** The elements, row-major, as a flat typed array (Float32Array, Float16Array, Int32Array or Uint8Array). */
  async data(): Promise<TypedArray> {
    this.#live("data");
    if (this.isContiguous() && this.offset === 0 && this.storage.size === this.size) {
      return await this.storage.backend.read(this.storage);
    }
    const c = views.contiguousCopy(this);
    try {
      return await c.storage.backend.read(c.storage);
    } finally {
      c.dispose();
    }
  }

  /** The elements as nested JS arrays (numbers, or booleans for bool tensors), like PyTorch's `tolist()`. */
  async toArray(): Promise<NestedArray> {
    const flat = await this.data();
    const isBool = this.dtype === "bool";
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.shape.length) return isBool ? flat[off] !== 0 : Number(flat[off]);
      const n = this.shape[dim];
      const step = numel(this.shape.slice(dim + 1));
      const out: NestedArray[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, off + i * step);
      return out;
    };
    return build(0, 0);
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new RangeError(
        `item: a tensor with ${this.size} elements cannot be converted to a number (shape ${
          fmtShape(this.shape)
        })`,
      );
    }
    const d = await this.data();
    return Number(d[0]);
  }

  // ---------------------------------------------------------------- devices and dtypes

  /**
   * This tensor on another device and/or with another dtype (itself when nothing changes). Uploads never
   * wait; a WebGPU tensor is read back with `await t.cpu()`. Between WebGPU devices (`"webgpu"`,
   * `"webgpu:1"`...) the copy returns at once too (the target device holds its later work until the data
   * has arrived) and is differentiable: the gradient flows back to this tensor's device.
   */
  to(target: ToTarget): Tensor {
    let device: Device = this.device;
    let dtype: DType = this.dtype;
    if (typeof target === "string") {
      if (target === "cpu" || target === "webgpu" || target.startsWith("webgpu:")) {
        device = checkDevice(target);
      } else if (/^(cuda|mps|xla|tpu|gpu|cpu:|vulkan|metal)/.test(target)) device = checkDevice(target);
      else dtype = checkDType(target);
    } else {
      if (target.device) device = checkDevice(target.device);
      if (target.dtype) dtype = checkDType(target.dtype);
    }
    const cast = dtype !== this.dtype ? castTo(this, dtype) : null;
    if (device === this.device) return cast ?? this;
    const moved = moveTo(cast ?? this, device);
    cast?.dispose();
    return moved;
  }

  /** A copy of this tensor on the CPU (reads the GPU, hence async). */
  async cpu(): Promise<Tensor> {
    if (this.device === "cpu") return this;
    return await views.toCpu(this);
  }

  /** This tensor as float32. */
  float(): Tensor {
    return this.to("float32");
  }

  /** This tensor as float16. */
  half(): Tensor {
    return this.to("float16");
  }

  /** This tensor as int32. */
  int(): Tensor {
    return this.to("int32");
  }

  /** This tensor as bool. */
  bool(): Tensor {
    return this.to("bool");
  }

  // ---------------------------------------------------------------- elementwise

  /** Elementwise sum, broadcasting. */
  add(other: TensorLike): Tensor {
    return binary.add(this, other);
  }
  /** Elementwise difference, broadcasting. */
  sub(other: TensorLike): Tensor {
    return binary.sub(this, other);
  }
  /** Elementwise product, broadcasting. */
  mul(other: TensorLike): Tensor {
    return binary.mul(this, other);
  }
  /** Elementwise true division, broadcasting (integers give float32). */
  div(other: TensorLike): Tensor {
    return binary.div(this, other);
  }
  /** Elementwise power, broadcasting. */
  pow(exponent: TensorLike): Tensor {
    return binary.pow(this, exponent);
  }
  /** Elementwise maximum of two tensors (NaN propagates). */
  maximum(other: TensorLike): Tensor {
    return binary.maximum(this, other);
  }
  /** Elementwise minimum of two tensors (NaN propagates). */
  minimum(other: TensorLike): Tensor {
    return binary.minimum(this, other);
  }
  /** -x */
  neg(): Tensor {
    return unary.neg(this);
  }
  /** |x| */
  abs(): Tensor {
    return unary.abs(this);
  }
  /** sign(x): -1, 0 or 1. */
  sign(): Tensor {
    return unary.sign(this);
  }
  /** e^x */
  exp(): Tensor {
    return unary.exp(this);
  }
  /** Natural logarithm. */
  log(): Tensor {
    return unary.log(this);
  }
  /** Square root. */
  sqrt(): Tensor {
    return unary.sqrt(this);
  }
  /** 1/√x */
  rsqrt(): Tensor {
    return unary.rsqrt(this);
  }
  /** 1/x */
  reciprocal(): Tensor {
    return unary.reciprocal(this);
  }
  /** x² */
  square(): Tensor {
    return binary.mul(this, this);
  }
  /** Sine. */
  sin(): Tensor {
    return unary.sin(this);
  }
  /** Cosine. */
  cos(): Tensor {
    return unary.cos(this);
  }
  /** Hyperbolic tangent. */
  tanh(): Tensor {
    return unary.tanh(this);
  }
  /** Logistic sigmoid 1/(1+e^-x). */
  sigmoid(): Tensor {
    return unary.sigmoid(this);
  }
  /** max(x, 0) */
  relu(): Tensor {
    return unary.relu(this);
  }
  /** x if x > 0 else slope·x */
  leakyRelu(negativeSlope = 0.01): Tensor {
    return unary.leakyRelu(this, negativeSlope);
  }
  /** Exact GELU: x·Φ(x). */
  gelu(): Tensor {
    return unary.gelu(this);
  }
  /** Clamps into [min, max]; either bound may be omitted. */
  clamp(min?: number | null, max?: number | null): Tensor {
    return unary.clamp(this, min ?? undefined, max ?? undefined);
  }
  /** Logical not (bool result). */
  logicalNot(): Tensor {
    return unary.logicalNot(this);
  }
  /** Whether each element is NaN (bool result). */
  isnan(): Tensor {
    return unary.isnan(this);
  }
  /** Whether each element is ±Infinity (bool result). */
  isinf(): Tensor {
    return unary.isinf(this);
  }

  // ---------------------------------------------------------------- comparisons (bool results)

  /** this == other */
  eq(other: TensorLike): Tensor {
    return compare.eq(this, other);
  }
  /** this != other */
  ne(other: TensorLike): Tensor {
    return compare.ne(this, other);
  }
  /** this < other */
  lt(other: TensorLike): Tensor {
    return compare.lt(this, other);
  }
  /** this <= other */
  le(other: TensorLike): Tensor {
    return compare.le(this, other);
  }
  /** this > other */
  gt(other: TensorLike): Tensor {
    return compare.gt(this, other);
  }
  /** this >= other */
  ge(other: TensorLike): Tensor {
    return compare.ge(this, other);
  }
  /** Logical and of two bool tensors. */
  logicalAnd(other: Tensor): Tensor {
    return compare.logicalAnd(this, other);
  }
  /** Logical or of two bool tensors. */
  logicalOr(other: Tensor): Tensor {
    return compare.logicalOr(this, other);
  }
  /** Elements of this where `cond` holds, else of `other` (PyTorch's `x.where(cond, y)`). */
  where(cond: Tensor, other: TensorLike): Tensor {
    return compare.where(cond, this, other);
  }

  // ---------------------------------------------------------------- reductions

  /** Sum over `dim` (all dims when omitted). */
  sum(dim?: number | readonly number[], keepdim = false): Tensor {
    return reduce.sum(this, dim, keepdim);
  }
  /** Mean over `dim` (all dims when omitted). */
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    return reduce.mean(this, dim, keepdim);
  }
  /** Product over `dim` (all dims when omitted). */
  prod(dim?: number | readonly number[], keepdim = false): Tensor {
    return reduce.prod(this, dim, keepdim);
  }
  /** Maximum values over `dim` (all dims when omitted); indices come from `argmax`. */
  max(dim?: number | readonly number[], keepdim = false): Tensor {
    return reduce.max(this, dim, keepdim);
  }
  /** Minimum values over `dim` (all dims when omitted); indices come from `argmin`. */
  min(dim?: number | readonly number[], keepdim = false): Tensor {
    return reduce.min(this, dim, keepdim);
  }
  /** Index of the maximum along `dim` (of the flattened tensor when omitted), int32. */
  argmax(dim?: number, keepdim = false): Tensor {
    return reduce.argmax(this, dim, keepdim);
  }
  /** Index of the minimum along `dim` (of the flattened tensor when omitted), int32. */
  argmin(dim?: number, keepdim = false): Tensor {
    return reduce.argmin(this, dim, keepdim);
  }
  /** Variance over `dim` with Bessel's correction by default (`correction = 1`). */
  var(dim?: number | readonly number[], keepdim = false, correction = 1): Tensor {
    return reduce.variance(this, dim, keepdim, correction);
  }
  /** Standard deviation over `dim` with Bessel's correction by default. */
  std(dim?: number | readonly number[], keepdim = false, correction = 1): Tensor {
    return reduce.std(this, dim, keepdim, correction);
  }
  /** log(Σ exp(x)) over `dim`, computed stably. */
  logSumExp(dim: number | readonly number[], keepdim = false): Tensor {
    return softmax.logSumExp(this, dim, keepdim);
  }
  /** Softmax along `dim`. */
  softmax(dim: number): Tensor {
    return softmax.softmax(this, dim);
  }
  /** Log-softmax along `dim`, computed stably. */
  logSoftmax(dim: number): Tensor {
    return softmax.logSoftmax(this, dim);
  }

  // ---------------------------------------------------------------- linear algebra

  /** Matrix product with NumPy semantics (1-D, 2-D, batched and broadcasting). */
  matmul(other: Tensor): Tensor {
    return matmul(this, other);
  }

  // ---------------------------------------------------------------- shapes and views

  /** The same elements in a new shape (a view when possible); one dim may be -1. */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return views.reshape(this, views.shapeArg(shape));
  }
  /** Like reshape, but requires a compatible layout (never copies), as PyTorch's `view`. */
  view(...shape: number[] | [readonly number[]]): Tensor {
    return views.view(this, views.shapeArg(shape));
  }
  /** Swaps two dims (a view). */
  transpose(dim0: number, dim1: number): Tensor {
    return views.transpose(this, dim0, dim1);
  }
  /** The transpose of a 2-D tensor. */
  get T(): Tensor {
    return views.transpose(this, 0, this.ndim < 2 ? 0 : 1);
  }
  /** Reorders dims (a view). */
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return views.permute(this, views.shapeArg(dims));
  }
  /** Removes size-1 dims (only `dim` when given). */
  squeeze(dim?: number): Tensor {
    return views.squeeze(this, dim);
  }
  /** Inserts a size-1 dim at `dim`. */
  unsqueeze(dim: number): Tensor {
    return views.unsqueeze(this, dim);
  }
  /** Broadcasts size-1 dims to `shape` without copying (-1 keeps a dim). */
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return views.expand(this, views.shapeArg(shape));
  }
  /** Flattens dims `startDim..endDim` into one. */
  flatten(startDim = 0, endDim = -1): Tensor {
    return views.flatten(this, startDim, endDim);
  }
  /** `length` elements of `dim` from `start` (a view). */
  narrow(dim: number, start: number, length: number): Tensor {
    return views.narrow(this, dim, start, length);
  }
  /** Elements `start..end` (exclusive, negatives count from the end) of `dim` by `step` (a view). */
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return views.slice(this, dim, start, end, step);
  }
  /** A contiguous tensor with the same elements (this one when already contiguous). */
  contiguous(): Tensor {
    return views.contiguous(this);
  }
  /** A copy with its own storage. */
  clone(): Tensor {
    return views.clone(this);
  }
  /** Rows (or slices along `dim`) picked by a 1-D int32 `index`. */
  indexSelect(dim: number, index: Tensor): Tensor {
    return indexing.indexSelect(this, dim, index);
  }
  /** Values along `dim` at `index` (same rank as this), as `torch.gather`. */
  gather(dim: number, index: Tensor): Tensor {
    return indexing.gather(this, dim, index);
  }

  // ---------------------------------------------------------------- in place (no autograd)

  /** Copies `src` (broadcast to this shape) into this tensor's elements, in place. */
  copy_(src: TensorLike): this {
    views.copyInto(this, src);
    return this;
  }
  /** this += other, in place. */
  add_(other: TensorLike): this {
    return this.#inPlace("add_", (t) => t.add(other));
  }
  /** this -= other, in place. */
  sub_(other: TensorLike): this {
    return this.#inPlace("sub_", (t) => t.sub(other));
  }
  /** this *= other, in place. */
  mul_(other: TensorLike): this {
    return this.#inPlace("mul_", (t) => t.mul(other));
  }
  /** this /= other, in place. */
  div_(other: TensorLike): this {
    return this.#inPlace("div_", (t) => t.div(other));
  }
  /** Sets every element to 0, in place. */
  zero_(): this {
    return this.fill_(0);
  }
  /** Sets every element to `value`, in place. */
  fill_(value: number): this {
    views.copyInto(this, value);
    return this;
  }

  #inPlace(op: string, f: (t: Tensor) => Tensor): this {
    views.checkInPlace(this, op);
    const d = this.detach();
    const r = f(d);
    d.dispose();
    views.copyInto(this, r);
    r.dispose();
    return this;
  }

  /** One-line summary, e.g. `Tensor(shape=[2, 3], dtype=float32, device=webgpu)`. */
  toString(): string {
    const grad = this.gradFn
      ? `, gradFn=${this.gradFn.name}`
      : this.requiresGrad
      ? ", requiresGrad=true"
      : "";
    return `Tensor(shape=${fmtShape(this.shape)}, dtype=${this.dtype}, device=${this.device}${grad})`;
  }
}
