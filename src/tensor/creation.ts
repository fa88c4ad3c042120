/**
 * Creating tensors: from data, filled, ranges, identity, and random.
 * @module
 */
import { backendFor, checkDevice, type Device } from "../backend/registry.ts";
import { checkDType, type DType, isFloating, toHost, type TypedArray } from "./dtype.ts";
import { checkShape, fmtShape, numel } from "./shape.ts";
import { intArray, normalArray, uniformArray } from "./random.ts";
import { type NestedArray, Tensor } from "./tensor.ts";

/** Options shared by the creation functions. */
export interface TensorOptions {
  /** Element type; inferred from the data when omitted (float32 for floats, int32 for integers, bool). */
  dtype?: DType;
  /** "cpu" (the default, as in PyTorch; see {@linkcode setDefaultDevice}) or "webgpu". */
  device?: Device;
  /** Whether gradients are computed for the new leaf tensor. */
  requiresGrad?: boolean;
}

let defaultDevice: Device = "cpu";

/**
 * Sets the device that creation functions use when none is given (PyTorch's `set_default_device`).
 *
 * @example
 * ```ts
 * import { gpu, setDefaultDevice } from "../../mod.ts";
 * setDefaultDevice((await gpu.isAvailable()) ? "webgpu" : "cpu");
 * ```
 */
export function setDefaultDevice(device: Device): void {
  defaultDevice = checkDevice(device);
}

/**
 * The device that creation functions use when none is given.
 *
 * @example
 * ```ts
 * import { getDefaultDevice } from "../../mod.ts";
 * const device = getDefaultDevice(); // "cpu" until setDefaultDevice changes it
 * ```
 */
export function getDefaultDevice(): Device {
  return defaultDevice;
}

function make(data: TypedArray, shape: readonly number[], dtype: DType, opts: TensorOptions): Tensor {
  checkDType(dtype);
  const device = checkDevice(opts.device ?? defaultDevice);
  const backend = backendFor(device);
  if (dtype === "float16" && !backend.supportsF16) {
    throw new TypeError(`float16 tensors need the shader-f16 feature, which this ${device} adapter lacks`);
  }
  const t = Tensor.fromStorage(backend.upload(dtype, data), shape, device);
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

function filled(shape: readonly number[], value: number, dtype: DType, opts: TensorOptions): Tensor {
  checkDType(dtype);
  const s = checkShape(shape, "full");
  const device = checkDevice(opts.device ?? defaultDevice);
  const t = Tensor.fromStorage(backendFor(device).fill(dtype, numel(s), value), s, device);
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

function flattenNested(
  data: unknown,
  shape: number[],
  out: (number | boolean)[],
  depth: number,
  path: number[],
): void {
  if (Array.isArray(data)) {
    if (out.length > 0 && depth >= shape.length) {
      throw new RangeError(
        `tensor: ragged nested array at index [${path.join(", ")}]: expected a number, got an array`,
      );
    }
    if (shape.length === depth) shape.push(data.length);
    else if (shape[depth] !== data.length) {
      throw new RangeError(
        `tensor: ragged nested array at index [${path.join(", ")}]: expected length ${
          shape[depth]
        }, got ${data.length}`,
      );
    }
    data.forEach((v, i) => flattenNested(v, shape, out, depth + 1, [...path, i]));
    return;
  }
  if (depth < shape.length) {
    throw new RangeError(
      `tensor: ragged nested array at index [${path.join(", ")}]: expected an array, got ${data}`,
    );
  }
  if (typeof data !== "number" && typeof data !== "boolean") {
    throw new TypeError(
      `tensor: expected numbers or booleans, got ${typeof data} at index [${path.join(", ")}]`,
    );
  }
  out.push(data);
}

/**
 * A tensor from a number, a boolean, nested arrays or a typed array (with `shape` for a typed array that is
 * not 1-D). Integers give int32 and any fraction float32, as PyTorch does, except that `requiresGrad`
 * implies float32.
 *
 * @example
 * ```ts
 * import { tensor } from "../../mod.ts";
 * const a = tensor([[1, 2], [3, 4]]); // int32, shape [2, 2]
 * const b = tensor([0.5, 1.5], { device: "cpu", requiresGrad: true });
 * const c = tensor(new Float32Array(6), { shape: [2, 3] });
 * ```
 */
export function tensor(
  data: NestedArray | TypedArray | readonly number[],
  opts: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  let flat: ArrayLike<number | boolean>;
  let shape: number[];
  let inferred: DType;
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray | Float64Array;
    flat = arr as ArrayLike<number>;
    shape = opts.shape ? checkShape(opts.shape, "tensor") : [arr.length];
    inferred = arr instanceof Int32Array
      ? "int32"
      : arr instanceof Float16Array
      ? "float16"
      : arr instanceof Uint8Array
      ? "int32"
      : "float32";
  } else {
    const values: (number | boolean)[] = [];
    shape = [];
    flattenNested(data, shape, values, 0, []);
    flat = values;
    if (opts.shape) {
      if (numel(opts.shape) !== values.length) {
        throw new RangeError(`tensor: shape ${fmtShape(opts.shape)} does not match ${values.length} values`);
      }
      shape = checkShape(opts.shape, "tensor");
    }
    inferred = values.length > 0 && values.every((v) => typeof v === "boolean")
      ? "bool"
      : values.length > 0 && values.every((v) => Number.isInteger(v))
      ? "int32"
      : "float32";
  }
  if (numel(shape) !== flat.length) {
    throw new RangeError(`tensor: shape ${fmtShape(shape)} does not match ${flat.length} values`);
  }
  let dtype = opts.dtype ? checkDType(opts.dtype) : inferred;
  if (!opts.dtype && opts.requiresGrad && !isFloating(dtype)) dtype = "float32";
  const host = ArrayBuffer.isView(data) && matches(data as TypedArray, dtype)
    ? (data as TypedArray)
    : toHost(dtype, flat);
  return make(host, shape, dtype, opts);
}

function matches(a: TypedArray, d: DType): boolean {
  return (d === "float32" && a instanceof Float32Array) || (d === "int32" && a instanceof Int32Array) ||
    (d === "float16" && a instanceof Float16Array) || (d === "bool" && a instanceof Uint8Array);
}

/**
 * A tensor of `shape` filled with `value`.
 *
 * @example
 * ```ts
 * import { full } from "../../mod.ts";
 * const sevens = full([2, 2], 7); // int32, since 7 is an integer
 * const halves = full([3], 0.5); // float32
 * const mask = full([4], true); // bool
 * ```
 */
export function full(shape: readonly number[], value: number | boolean, opts: TensorOptions = {}): Tensor {
  const v = typeof value === "boolean" ? Number(value) : value;
  const dtype = opts.dtype ??
    (typeof value === "boolean" ? "bool" : Number.isInteger(v) && !opts.requiresGrad ? "int32" : "float32");
  return filled(shape, v, dtype, opts);
}

/**
 * A tensor of zeros (float32 unless `dtype` says otherwise).
 *
 * @example
 * ```ts
 * import { zeros } from "../../mod.ts";
 * const z = zeros([2, 3], { device: "cpu" });
 * ```
 */
export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return filled(shape, 0, opts.dtype ?? "float32", opts);
}

/**
 * A tensor of ones (float32 unless `dtype` says otherwise).
 *
 * @example
 * ```ts
 * import { ones } from "../../mod.ts";
 * const w = ones([3, 4]); // float32
 * const counts = ones([5], { dtype: "int32" });
 * ```
 */
export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return filled(shape, 1, opts.dtype ?? "float32", opts);
}

/**
 * Zeros shaped like `t`, with its dtype and device unless overridden.
 *
 * @example
 * ```ts
 * import { randn, zerosLike } from "../../mod.ts";
 * const x = randn([2, 3]);
 * const z = zerosLike(x); // [2, 3], float32, on x's device
 * ```
 */
export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return zeros(t.shape, { dtype: t.dtype, device: t.device, ...opts });
}

/**
 * Ones shaped like `t`, with its dtype and device unless overridden.
 *
 * @example
 * ```ts
 * import { onesLike, randn } from "../../mod.ts";
 * const x = randn([2, 3]);
 * const o = onesLike(x, { dtype: "int32" });
 * ```
 */
export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return ones(t.shape, { dtype: t.dtype, device: t.device, ...opts });
}

/**
 * Values from `start` up to (not including) `end` by `step`; `arange(n)` is 0..n-1. Integer arguments give
 * int32, others float32.
 *
 * @example
 * ```ts
 * import { arange } from "../../mod.ts";
 * arange(5); // [0, 1, 2, 3, 4]
 * arange(0, 1, 0.25); // [0, 0.25, 0.5, 0.75]
 * ```
 */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  const [lo, hi] = end === undefined ? [0, start] : [start, end];
  if (step === 0 || !Number.isFinite(step)) {
    throw new RangeError(`arange: step must be a non-zero finite number, got ${step}`);
  }
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = lo + i * step;
  const dtype = opts.dtype ??
    ([lo, hi, step].every(Number.isInteger) && !opts.requiresGrad ? "int32" : "float32");
  return make(toHost(dtype, values), [n], dtype, opts);
}

/**
 * `steps` evenly spaced values from `start` to `end` inclusive (float32).
 *
 * @example
 * ```ts
 * import { linspace } from "../../mod.ts";
 * linspace(0, 1, 5); // [0, 0.25, 0.5, 0.75, 1]
 * ```
 */
export function linspace(start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}`);
  }
  const values = new Float64Array(steps);
  const delta = steps > 1 ? (end - start) / (steps - 1) : 0;
  for (let i = 0; i < steps; i++) values[i] = i === steps - 1 && steps > 1 ? end : start + i * delta;
  const dtype = opts.dtype ?? "float32";
  return make(toHost(dtype, values), [steps], dtype, opts);
}

/**
 * The n×m identity matrix (m = n by default).
 *
 * @example
 * ```ts
 * import { eye } from "../../mod.ts";
 * const i3 = eye(3); // 3×3 identity
 * const wide = eye(2, 4); // ones at [0, 0] and [1, 1]
 * ```
 */
export function eye(n: number, m = n, opts: TensorOptions = {}): Tensor {
  checkShape([n, m], "eye");
  const values = new Float64Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  const dtype = opts.dtype ?? "float32";
  return make(toHost(dtype, values), [n, m], dtype, opts);
}

function randomFloat(
  name: string,
  shape: readonly number[],
  opts: TensorOptions,
  draw: (n: number) => Float32Array,
) {
  const s = checkShape(shape, name);
  const dtype = opts.dtype ?? "float32";
  if (!isFloating(dtype)) throw new TypeError(`${name}: expected a floating point dtype, got ${dtype}`);
  return make(toHost(dtype, draw(numel(s))), s, dtype, opts);
}

/**
 * Uniform random values in [0, 1) from the seeded generator ({@linkcode manualSeed}).
 *
 * @example
 * ```ts
 * import { manualSeed, rand } from "../../mod.ts";
 * manualSeed(0);
 * const u = rand([2, 3]); // the same values after every manualSeed(0)
 * ```
 */
export function rand(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return randomFloat("rand", shape, opts, uniformArray);
}

/**
 * Standard normal random values from the seeded generator ({@linkcode manualSeed}).
 *
 * @example
 * ```ts
 * import { manualSeed, randn } from "../../mod.ts";
 * manualSeed(0);
 * const w = randn([4, 4], { requiresGrad: true });
 * ```
 */
export function randn(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return randomFloat("randn", shape, opts, normalArray);
}

/**
 * Random integers in [low, high) (int32) from the seeded generator.
 *
 * @example
 * ```ts
 * import { randint } from "../../mod.ts";
 * const labels = randint(0, 10, [64]); // int32 class indices 0..9
 * ```
 */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  opts: TensorOptions = {},
): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new RangeError(`randint: expected integers low < high, got ${low} and ${high}`);
  }
  const s = checkShape(shape, "randint");
  const dtype = opts.dtype ?? "int32";
  return make(toHost(dtype, intArray(numel(s), low, high)), s, dtype, opts);
}
