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

/**
 * A 2-D sliding window over the last two dims of an [N, C, H, W] tensor (every pair is [height, width]):
 * output position (oh, ow) covers input rows `oh·stride[0] - padding[0] + kh·dilation[0]` for
 * kh < kernel[0] (columns likewise). Positions outside the input are padding. `padding` is the top/left
 * padding; the bottom/right padding is whatever `out` implies, so asymmetric padding ("same" with an even
 * kernel) needs nothing more.
 */
export interface Window2d {
  /** Kernel size [KH, KW]. */
  readonly kernel: readonly [number, number];
  /** Step between windows [SH, SW]. */
  readonly stride: readonly [number, number];
  /** Implicit padding before the first row and column [PH, PW]. */
  readonly padding: readonly [number, number];
  /** Spacing between kernel taps [DH, DW]. */
  readonly dilation: readonly [number, number];
  /** Output size [OH, OW]. */
  readonly out: readonly [number, number];
}

/**
 * The rows of an im2col matrix laid out for a grouped matrix product: `groups` blocks of `rows` rows, each
 * holding its channels' window taps, then optionally a row of ones, then zeros (see `Backend.im2col`).
 */
export interface Im2colLayout {
  /** Blocks of channels (a grouped convolution's groups). */
  readonly groups: number;
  /** Rows per block: at least (C/groups)·KH·KW, plus one when `ones` (padding keeps vector loads aligned). */
  readonly rows: number;
  /** Whether the first row after each block's taps is all ones (for a bias folded into the weight). */
  readonly ones: boolean;
  /** Length of the output's rows (default OH·OW): zeros past OH·OW. */
  readonly columns?: number;
}

/**
 * Pooling over a {@linkcode Window2d}: `"max"` (padding never wins; each window's int32 argmax is the flat
 * position h·W + w of its first maximum, NaN propagating), `"avg"` (PyTorch's divisor rules, see
 * `countIncludePad` and `divisor`), or `"adaptiveAvg"` (window (oh, ow) spans rows
 * ⌊oh·H/OH⌋ ≤ h < ⌈(oh+1)·H/OH⌉, columns likewise; kernel, stride, padding and dilation are ignored).
 */
export interface Pool2d extends Window2d {
  /** The kind of pooling. */
  readonly op: "max" | "avg" | "adaptiveAvg";
  /** `"avg"`: whether padded positions count in the divisor. */
  readonly countIncludePad: boolean;
  /** `"avg"`: a fixed divisor replacing the window's size (0 when unused). */
  readonly divisor: number;
}

/** Fields every {@linkcode OptimizerRule} has. */
export interface OptimizerRuleBase {
  /** Learning rate of this step. */
  readonly lr: number;
  /** Weight decay (L2 added to the gradient; AdamW's decoupled decay when `decoupledWeightDecay`). */
  readonly weightDecay: number;
  /** Whether to ascend: the gradient is negated first. */
  readonly maximize: boolean;
}

/**
 * SGD, state [momentum_buffer] when momentum ≠ 0: g += wd·x; b = firstStep ? g : μ·b + (1 - dampening)·g;
 * g = nesterov ? g + μ·b : b; x -= lr·g.
 */
export interface SgdRule extends OptimizerRuleBase {
  /** The rule. */
  readonly kind: "sgd";
  /** μ (0: no momentum buffer). */
  readonly momentum: number;
  /** Dampening of the momentum. */
  readonly dampening: number;
  /** Nesterov momentum. */
  readonly nesterov: boolean;
  /** Whether the momentum buffer is new (it is set to the gradient instead of updated). */
  readonly firstStep: boolean;
}

/**
 * Adam and AdamW, state [exp_avg, exp_avg_sq, max_exp_avg_sq when amsgrad]: x *= 1 - lr·wd (decoupled) or
 * g += wd·x; m = β1·m + (1 - β1)·g; v = β2·v + (1 - β2)·g²; v̂ = amsgrad ? max(v̂, v) : v;
 * x -= stepSize·m / (√v̂ / biasCorrection2Sqrt + eps).
 */
export interface AdamRule extends OptimizerRuleBase {
  /** The rule. */
  readonly kind: "adam";
  /** Whether weight decay scales the parameter (AdamW) instead of adding to the gradient (Adam). */
  readonly decoupledWeightDecay: boolean;
  /** β1. */
  readonly beta1: number;
  /** β2. */
  readonly beta2: number;
  /** Added to the denominator. */
  readonly eps: number;
  /** Whether to keep the running maximum of v (AMSGrad). */
  readonly amsgrad: boolean;
  /** lr / (1 - β1^step), computed on the host. */
  readonly stepSize: number;
  /** √(1 - β2^step), computed on the host. */
  readonly biasCorrection2Sqrt: number;
  /**
   * The step count t these corrections were computed for. With a `skip` operand (see
   * `Backend.optimizerStep`) the kernel recomputes both corrections on the device for t minus the skipped
   * steps the operand holds, as PyTorch's fused Adam does with `found_inf`.
   */
  readonly step?: number;
}

/**
 * RMSprop, state [square_avg, momentum_buffer when momentum > 0, grad_avg when centered]: g += wd·x;
 * s = α·s + (1 - α)·g²; a = centered ? √(s - ḡ²) with ḡ = α·ḡ + (1 - α)·g : √s; a += eps;
 * momentum > 0 ? (b = μ·b + g/a; x -= lr·b) : x -= lr·g/a.
 */
export interface RmspropRule extends OptimizerRuleBase {
  /** The rule. */
  readonly kind: "rmsprop";
  /** α, the smoothing constant. */
  readonly alpha: number;
  /** Added to the denominator. */
  readonly eps: number;
  /** μ (0: no momentum buffer). */
  readonly momentum: number;
  /** Whether to normalise by the estimated variance instead of the second moment. */
  readonly centered: boolean;
}

/**
 * One fused optimizer update (see `src/optim/`), applied by `Backend.optimizerStep`. Every number is a
 * per-step value (a learning-rate schedule never compiles a new kernel); the booleans and which numbers are
 * zero select the kernel. Computed in f32 (float16 parameters and state are widened, then rounded).
 */
export type OptimizerRule = SgdRule | AdamRule | RmspropRule;

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
  /**
   * im2col: x is [N, C, H, W] (any strides); the output is contiguous [N, C·KH·KW, OH·OW] with
   * out[n, (c·KH + kh)·KW + kw, oh·OW + ow] = x[n, c, ih, iw] at the window's tap (0 in the padding).
   * With a `layout`, the rows form `groups` blocks of `rows` rows: block g holds channels
   * g·C/groups.. (their (C/groups)·KH·KW rows, as above), then a row of ones when `ones`, then zero rows.
   */
  im2col(x: Operand, win: Window2d, layout?: Im2colLayout): Storage;
  /**
   * col2im, the adjoint of im2col: cols is [N, C·KH·KW, OH·OW] (any strides); the output is contiguous
   * `inShape` [N, C, H, W], each pixel the sum of the columns of the windows covering it, in a fixed order.
   */
  col2im(cols: Operand, inShape: readonly number[], win: Window2d): Storage;
  /**
   * Pooling of x [N, C, H, W] (any strides) into a contiguous [N, C, OH, OW] of x's dtype, plus, for
   * `"max"`, the int32 argmax positions (h·W + w) of the same shape (null otherwise).
   */
  pool2d(x: Operand, pool: Pool2d): { out: Storage; indices: Storage | null };
  /**
   * The adjoint of pool2d: grad (and, for `"max"`, the forward's indices) are [N, C, OH, OW]; the output is
   * contiguous `inShape`, each pixel summing the gradients of the windows that used it, in a fixed order.
   */
  pool2dBackward(grad: Operand, indices: Operand | null, inShape: readonly number[], pool: Pool2d): Storage;
  /**
   * Depthwise convolution: x [N, C, H, W] and weight [C·M, 1, KH, KW] (any strides; M ≥ 1 the channel
   * multiplier), bias [C·M] or null → contiguous [N, C·M, OH, OW] of x's dtype, output channel o filtering
   * input channel ⌊o/M⌋: out[n, o, oh, ow] = bias[o] + Σ_{kh,kw} w[o, 0, kh, kw]·x[n, ⌊o/M⌋, ih, iw] at the
   * window's taps (padding reads 0).
   */
  depthwiseConv2d(x: Operand, weight: Operand, bias: Operand | null, win: Window2d): Storage;
  /**
   * The input's gradient of depthwiseConv2d: grad [N, C·M, OH, OW] and weight [C·M, 1, KH, KW] (any
   * strides) → contiguous `inShape` [N, C, H, W], each pixel summing w·grad over the windows that read it.
   */
  depthwiseConv2dBackwardInput(
    grad: Operand,
    weight: Operand,
    inShape: readonly number[],
    win: Window2d,
  ): Storage;
  /**
   * The weight's gradient of depthwiseConv2d: grad [N, C·M, OH, OW] and x [N, C, H, W] (any strides) →
   * contiguous [C·M, 1, KH, KW], each tap the sum of grad·x over the batch and the output positions.
   */
  depthwiseConv2dBackwardWeight(grad: Operand, x: Operand, win: Window2d): Storage;
  /**
   * Batch normalisation's per-channel sums over x [N, C, L] (any strides; N·L > 0), a contiguous float32
   * [3, C]. Without `grad`: Σ(x − s), Σ(x − s)² and s, where s is `shift[c]` when given, else x[0, c, 0] (one
   * of the channel's values, so that the sum of squares does not cancel). With `grad` (of x's shape; `shift`
   * then required, the batch mean): Σg, Σg·(x − s) and s. Accumulates in float32 (float64 on the CPU).
   */
  batchNormReduce(x: Operand, shift: Operand | null, grad: Operand | null): Storage;
  /**
   * The per-channel affine map of batch normalisation: out[n, c, l] = coef[0, c]·x[n, c, l] + coef[1, c]
   * (+ coef[2, c]·y[n, c, l] when `y` is given). x and y are [N, C, L] (any strides), coef a contiguous
   * float32 [2, C] or [3, C]; the output is a contiguous [N, C, L] of x's dtype.
   */
  channelAffine(x: Operand, coef: Operand, y: Operand | null): Storage;
  /**
   * One fused optimizer update, in place: `param` (contiguous, any offset) and the `state` storages (of the
   * param's dtype, at least its size, in the order the rule's docs give) are updated from `grad`
   * (contiguous, of param's size and dtype, not param's storage). Allocates nothing and never waits.
   * `skip`, a float32 storage [foundInf, skippedSteps] (a `GradScaler`'s), makes the update conditional on
   * the device: nothing changes where foundInf ≠ 0, and Adam's bias corrections use `rule.step` minus
   * skippedSteps, so that no value is read back to decide.
   */
  optimizerStep(
    rule: OptimizerRule,
    param: Operand,
    grad: Operand,
    state: readonly Storage[],
    skip?: Storage,
  ): void;

  /** Submits queued work without waiting (a no-op on the CPU). */
  flush(): void;
  /** Resolves when all submitted work has finished. */
  sync(): Promise<void>;
  /** Memory accounting. */
  memory(): MemoryInfo;
}
