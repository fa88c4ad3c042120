/**
 * Parameter initialisation, PyTorch's `torch.nn.init`: every function fills a tensor in place (without
 * recording autograd), draws from the seeded generator ({@linkcode manualSeed}) and returns the tensor.
 * @module
 */
import { noGrad } from "../autograd/grad_mode.ts";
import { isFloating } from "../tensor/dtype.ts";
import { normalArray, uniformArray } from "../tensor/random.ts";
import { fmtShape } from "../tensor/shape.ts";
import { tensor } from "../tensor/creation.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Nonlinearities known to {@linkcode calculateGain}. */
export type Nonlinearity =
  | "linear"
  | "conv1d"
  | "conv2d"
  | "conv3d"
  | "conv_transpose1d"
  | "conv_transpose2d"
  | "conv_transpose3d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leaky_relu"
  | "selu";

/** Which fan the Kaiming initialisers scale by: "fan_in" keeps forward variance, "fan_out" backward's. */
export type FanMode = "fan_in" | "fan_out";

/**
 * The recommended gain for a nonlinearity (`param` is leaky ReLU's negative slope, 0.01 by default), as
 * `torch.nn.init.calculate_gain`.
 *
 * @example
 * ```ts
 * import { nn } from "../../mod.ts";
 * nn.init.calculateGain("relu"); // √2
 * nn.init.calculateGain("leaky_relu", Math.sqrt(5)); // √(1/3), Linear's default weight gain
 * ```
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "conv1d":
    case "conv2d":
    case "conv3d":
    case "conv_transpose1d":
    case "conv_transpose2d":
    case "conv_transpose3d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu": {
      const slope = param ?? 0.01;
      if (typeof slope !== "number" || !Number.isFinite(slope)) {
        throw new TypeError(`calculateGain: negative slope ${slope} is not a valid number`);
      }
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
    default:
      throw new RangeError(`calculateGain: unsupported nonlinearity "${nonlinearity}"`);
  }
}

/**
 * `[fanIn, fanOut]` of a weight of shape `[out, in, ...kernel]`: `in·∏kernel` and `out·∏kernel`, as torch's
 * `_calculate_fan_in_and_fan_out`.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "../../mod.ts";
 * nn.init.calculateFanInAndFanOut(zeros([8, 3, 5, 5])); // [75, 200]
 * ```
 */
export function calculateFanInAndFanOut(t: Tensor | readonly number[]): [number, number] {
  const shape = Array.isArray(t) ? t as readonly number[] : (t as Tensor).shape;
  if (shape.length < 2) {
    throw new RangeError(
      `fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape ${
        fmtShape(shape)
      })`,
    );
  }
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i];
  return [shape[1] * receptive, shape[0] * receptive];
}

function fill(op: string, t: Tensor, values: (n: number) => ArrayLike<number>): Tensor {
  t.checkLive(op);
  if (!isFloating(t.dtype)) throw new TypeError(`${op}: expected a floating point tensor, got ${t.dtype}`);
  const src = tensor(values(t.size) as Float32Array, { shape: t.shape, dtype: t.dtype, device: t.device });
  noGrad(() => t.copy_(src));
  src.dispose();
  return t;
}

function uniformValues(low: number, high: number): (n: number) => Float32Array {
  return (n) => {
    const u = uniformArray(n);
    for (let i = 0; i < n; i++) u[i] = low + (high - low) * u[i];
    return u;
  };
}

function normalValues(mean: number, std: number): (n: number) => Float32Array {
  return (n) => {
    const z = normalArray(n);
    for (let i = 0; i < n; i++) z[i] = mean + std * z[i];
    return z;
  };
}

/**
 * Fills `t` with values uniform in [low, high).
 *
 * @example
 * ```ts
 * import { nn, zeros } from "../../mod.ts";
 * nn.init.uniform_(zeros([3, 3]), -0.1, 0.1);
 * ```
 */
export function uniform_(t: Tensor, low = 0, high = 1): Tensor {
  if (!(high >= low)) throw new RangeError(`uniform_: expected low <= high, got ${low} and ${high}`);
  return fill("uniform_", t, uniformValues(low, high));
}

/**
 * Fills `t` with normal values of mean `mean` and standard deviation `std`.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "../../mod.ts";
 * nn.init.normal_(zeros([3, 3]), 0, 0.02);
 * ```
 */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  if (!(std >= 0)) throw new RangeError(`normal_: std must be non-negative, got ${std}`);
  return fill("normal_", t, normalValues(mean, std));
}

/**
 * Fills `t` with `value`.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "../../mod.ts";
 * nn.init.constant_(zeros([2]), 0.5);
 * ```
 */
export function constant_(t: Tensor, value: number): Tensor {
  t.checkLive("constant_");
  noGrad(() => t.fill_(value));
  return t;
}

/**
 * Fills `t` with zeros.
 *
 * @example
 * ```ts
 * import { nn, ones } from "../../mod.ts";
 * nn.init.zeros_(ones([2]));
 * ```
 */
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

/**
 * Fills `t` with ones.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "../../mod.ts";
 * nn.init.ones_(zeros([2]));
 * ```
 */
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/** Options of the Kaiming (He) initialisers. */
export interface KaimingOptions {
  /** Negative slope of the leaky ReLU that follows (used when `nonlinearity` is "leaky_relu"); default 0. */
  a?: number;
  /** "fan_in" (default) or "fan_out". */
  mode?: FanMode;
  /** The nonlinearity that follows; default "leaky_relu". */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(
  op: string,
  t: Tensor,
  { a = 0, mode = "fan_in", nonlinearity = "leaky_relu" }: KaimingOptions,
) {
  if (t.size === 0) return 0;
  if (mode !== "fan_in" && mode !== "fan_out") {
    throw new RangeError(`${op}: mode must be "fan_in" or "fan_out", got ${JSON.stringify(mode)}`);
  }
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const fan = mode === "fan_in" ? fanIn : fanOut;
  return calculateGain(nonlinearity, a) / Math.sqrt(fan);
}

/**
 * He initialisation, uniform: U(-b, b) with b = gain·√(3 / fan), as `torch.nn.init.kaiming_uniform_`.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "../../mod.ts";
 * nn.init.kaimingUniform_(zeros([16, 8]), { a: Math.sqrt(5) }); // Linear's default
 * ```
 */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd("kaimingUniform_", t, opts);
  return fill("kaimingUniform_", t, uniformValues(-bound, bound));
}

/**
 * He initialisation, normal: N(0, std²) with std = gain / √fan, as `torch.nn.init.kaiming_normal_`.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "../../mod.ts";
 * nn.init.kaimingNormal_(zeros([16, 8]), { mode: "fan_out", nonlinearity: "relu" });
 * ```
 */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const std = kaimingStd("kaimingNormal_", t, opts);
  return fill("kaimingNormal_", t, normalValues(0, std));
}

/**
 * Glorot initialisation, uniform: U(-b, b) with b = gain·√(6 / (fanIn + fanOut)).
 *
 * @example
 * ```ts
 * import { nn, zeros } from "../../mod.ts";
 * nn.init.xavierUniform_(zeros([16, 8]));
 * ```
 */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return fill("xavierUniform_", t, uniformValues(-bound, bound));
}

/**
 * Glorot initialisation, normal: N(0, std²) with std = gain·√(2 / (fanIn + fanOut)).
 *
 * @example
 * ```ts
 * import { nn, zeros } from "../../mod.ts";
 * nn.init.xavierNormal_(zeros([16, 8]), nn.init.calculateGain("tanh"));
 * ```
 */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  return fill("xavierNormal_", t, normalValues(0, std));
}

/**
 * PyTorch's default initialisation of `Linear` and `ConvNd` layers (their `reset_parameters`): kaiming-uniform
 * weights with `a = √5`, and a bias uniform in ±1/√fan_in. In place.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "../../mod.ts";
 * const w = zeros([4, 3]);
 * const b = zeros([4]);
 * nn.init.layerDefaults_(w, b); // b is now uniform in ±1/√3 (fan_in = 3)
 * ```
 */
export function layerDefaults_(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const [fanIn] = calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound);
  }
}
