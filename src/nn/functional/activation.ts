/**
 * Activation functions, as `torch.nn.functional`: thin names over the tensor ops.
 * @module
 */
import type { Tensor } from "../../tensor/tensor.ts";

/**
 * max(x, 0).
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../../mod.ts";
 * F.relu(tensor([-1, 2])); // [0, 2]
 * ```
 */
export function relu(x: Tensor): Tensor {
  return x.relu();
}

/** Options of {@linkcode gelu}. */
export interface GeluOptions {
  /** "none" (default): the exact x·Φ(x); "tanh": the tanh approximation used by GPT-2. */
  approximate?: "none" | "tanh";
}

/**
 * GELU: x·Φ(x), or its tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../../mod.ts";
 * F.gelu(tensor([-1, 0, 1]));
 * F.gelu(tensor([-1, 0, 1]), { approximate: "tanh" });
 * ```
 */
export function gelu(x: Tensor, { approximate = "none" }: GeluOptions = {}): Tensor {
  if (approximate === "none") return x.gelu();
  if (approximate !== "tanh") {
    throw new RangeError(`gelu: approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}`);
  }
  const x3 = x.mul(x).mul(x);
  const inner = x3.mul(0.044715).add(x).mul(Math.sqrt(2 / Math.PI));
  const t = inner.tanh().add(1);
  const out = t.mul(x).mul(0.5);
  for (const u of [x3, inner, t]) u.dispose();
  return out;
}

/**
 * 1 / (1 + e^-x).
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../../mod.ts";
 * F.sigmoid(tensor([0])); // [0.5]
 * ```
 */
export function sigmoid(x: Tensor): Tensor {
  return x.sigmoid();
}

/**
 * Hyperbolic tangent.
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../../mod.ts";
 * F.tanh(tensor([0, 1]));
 * ```
 */
export function tanh(x: Tensor): Tensor {
  return x.tanh();
}

/**
 * x where x > 0, else negativeSlope·x.
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../../mod.ts";
 * F.leakyRelu(tensor([-1, 2]), 0.1); // [-0.1, 2]
 * ```
 */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return x.leakyRelu(negativeSlope);
}

/**
 * exp(x) / Σ exp(x) along `dim` (default: the last), computed stably.
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../../mod.ts";
 * F.softmax(tensor([[1, 2, 3]], { dtype: "float32" }), -1);
 * ```
 */
export function softmax(x: Tensor, dim = -1): Tensor {
  return x.softmax(dim);
}

/**
 * log(softmax(x)) along `dim` (default: the last), computed stably.
 *
 * @example
 * ```ts
 * import { F, tensor } from "../../../mod.ts";
 * F.logSoftmax(tensor([[1, 2, 3]], { dtype: "float32" }), -1);
 * ```
 */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return x.logSoftmax(dim);
}
