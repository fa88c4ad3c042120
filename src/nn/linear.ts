/**
 * `Linear` (and `Identity`): fully connected layers.
 * @module
 */
import { getDefaultDevice, zeros } from "../tensor/creation.ts";
import type { DType } from "../tensor/dtype.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Device } from "../backend/registry.ts";
import { layerDefaults_ } from "./init.ts";
import { linear } from "./functional/linear.ts";
import { Module } from "./module.ts";

/** Where a layer creates its parameters. */
export interface LayerOptions {
  /** Device of the parameters (the default device when omitted). */
  device?: Device;
  /** Dtype of the parameters (float32 when omitted). */
  dtype?: DType;
}

/** Options of {@linkcode Linear}. */
export interface LinearOptions extends LayerOptions {
  /** Whether the layer adds a learned bias (default true). */
  bias?: boolean;
}

/**
 * y = x·Wᵀ + b, PyTorch's `nn.Linear`: `weight` is `[outFeatures, inFeatures]`, initialised
 * kaiming-uniform with a = √5 (U(-1/√in, 1/√in)), and `bias` is `[outFeatures]`, U(-1/√in, 1/√in).
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const fc = new nn.Linear(3, 2);
 * const y = fc.forward(randn([4, 3])); // shape [4, 2]
 * ```
 */
export class Linear extends Module {
  /** Size of each input sample. */
  readonly inFeatures: number;
  /** Size of each output sample. */
  readonly outFeatures: number;
  /** The weight, `[outFeatures, inFeatures]`. */
  declare weight: Tensor;
  /** The bias, `[outFeatures]`, or null. */
  declare bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, { bias = true, device, dtype }: LinearOptions = {}) {
    super();
    checkFeatures("Linear", { inFeatures, outFeatures });
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const opts = { device: device ?? getDefaultDevice(), dtype: dtype ?? "float32" };
    this.registerParameter("weight", zeros([outFeatures, inFeatures], opts));
    this.registerParameter("bias", bias ? zeros([outFeatures], opts) : null);
    this.resetParameters();
  }

  /** Draws fresh initial values (PyTorch's `reset_parameters`). */
  resetParameters(): void {
    layerDefaults_(this.weight, this.bias);
  }

  /** `x·weightᵀ + bias` over the last dim of `x`. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/**
 * Returns its input unchanged, PyTorch's `nn.Identity` (a placeholder in architectures).
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const x = randn([2]);
 * new nn.Identity().forward(x) === x; // true
 * ```
 */
export class Identity extends Module {
  /** Returns `x`. */
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Throws unless every value is a positive integer. */
export function checkFeatures(layer: string, sizes: Record<string, number>): void {
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`${layer}: ${name} must be a non-negative integer, got ${v}`);
    }
  }
}
