/**
 * Batch normalisation layers: `BatchNorm1d` and `BatchNorm2d`, with running statistics.
 * @module
 */
import { noGrad } from "../autograd/grad_mode.ts";
import { getDefaultDevice, ones, zeros } from "../tensor/creation.ts";
import { fmtShape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { batchNorm } from "./functional/normalization.ts";
import { checkFeatures, type LayerOptions } from "./linear.ts";
import { Module } from "./module.ts";

/** Options of the batch normalisation layers. */
export interface BatchNormOptions extends LayerOptions {
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
  /** Weight of each new batch in the running statistics (default 0.1); null for a cumulative average. */
  momentum?: number | null;
  /** Whether to learn a per-channel scale and shift (default true). */
  affine?: boolean;
  /** Whether to keep running statistics for evaluation (default true); if not, batches always use their own. */
  trackRunningStats?: boolean;
}

/**
 * The shared logic of {@linkcode BatchNorm1d} and {@linkcode BatchNorm2d} (PyTorch's `_BatchNorm`). Its
 * parameters and buffers have PyTorch's names: `weight`, `bias`, `running_mean`, `running_var`,
 * `num_batches_tracked` (int32 here, int64 in PyTorch).
 *
 * @example
 * ```ts
 * import { nn } from "../../mod.ts";
 * const bn: nn.BatchNorm = new nn.BatchNorm2d(8);
 * console.log(Object.keys(bn.stateDict())); // weight, bias, running_mean, running_var, num_batches_tracked
 * bn.eval(); // normalise with the running statistics
 * ```
 */
export abstract class BatchNorm extends Module {
  /** Number of channels C. */
  readonly numFeatures: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Weight of a new batch in the running statistics; null for a cumulative average. */
  momentum: number | null;
  /** Whether there is a learned scale and shift. */
  readonly affine: boolean;
  /** Whether running statistics are kept. */
  readonly trackRunningStats: boolean;
  /** Scale γ, `[C]` (or null). */
  declare weight: Tensor | null;
  /** Shift β, `[C]` (or null). */
  declare bias: Tensor | null;
  /** Running mean, `[C]` (or null). */
  declare running_mean: Tensor | null;
  /** Running unbiased variance, `[C]` (or null). */
  declare running_var: Tensor | null;
  /** Number of training batches seen, a scalar int32 (or null). */
  declare num_batches_tracked: Tensor | null;

  constructor(
    numFeatures: number,
    { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true, device, dtype }: BatchNormOptions =
      {},
  ) {
    super();
    checkFeatures(new.target.name, { numFeatures });
    if (momentum !== null && !(momentum >= 0 && momentum <= 1)) {
      throw new RangeError(`${new.target.name}: momentum must be in [0, 1] or null, got ${momentum}`);
    }
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.trackRunningStats = trackRunningStats;
    const opts = { device: device ?? getDefaultDevice(), dtype: dtype ?? "float32" };
    this.registerParameter("weight", affine ? ones([numFeatures], opts) : null);
    this.registerParameter("bias", affine ? zeros([numFeatures], opts) : null);
    if (trackRunningStats) {
      this.registerBuffer("running_mean", zeros([numFeatures], opts));
      this.registerBuffer("running_var", ones([numFeatures], opts));
      this.registerBuffer("num_batches_tracked", zeros([], { device: opts.device, dtype: "int32" }));
    } else {
      this.registerBuffer("running_mean", null);
      this.registerBuffer("running_var", null);
      this.registerBuffer("num_batches_tracked", null);
    }
  }

  /** The running mean (PyTorch's `running_mean`). */
  get runningMean(): Tensor | null {
    return this.running_mean;
  }

  /** The running variance (PyTorch's `running_var`). */
  get runningVar(): Tensor | null {
    return this.running_var;
  }

  /** The number of training batches seen (PyTorch's `num_batches_tracked`). */
  get numBatchesTracked(): Tensor | null {
    return this.num_batches_tracked;
  }

  /** Resets the running statistics to mean 0, variance 1 and no batches. */
  resetRunningStats(): void {
    noGrad(() => {
      this.running_mean?.fill_(0);
      this.running_var?.fill_(1);
      this.num_batches_tracked?.fill_(0);
    });
  }

  /** Throws unless `x` has the rank this layer expects. */
  protected abstract checkInput(x: Tensor): void;

  /**
   * Normalises `x` (`[N, C, ...]`) per channel: with the batch's statistics while training (updating the
   * running ones), with the running statistics in evaluation.
   */
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    if (x.shape[1] !== this.numFeatures) {
      throw new RangeError(
        `${this.constructor.name}: expected ${this.numFeatures} channels (dim 1), got input of shape ${
          fmtShape(x.shape)
        }`,
      );
    }
    if (this.training && x.size / Math.max(this.numFeatures, 1) <= 1) {
      throw new RangeError(
        `${this.constructor.name}: expected more than 1 value per channel when training, got input of shape ${
          fmtShape(x.shape)
        }`,
      );
    }
    let factor: number | Tensor = this.momentum ?? 0;
    const tracking = this.training && this.trackRunningStats && this.num_batches_tracked !== null;
    if (tracking) {
      const nbt = this.num_batches_tracked!;
      noGrad(() => nbt.add_(1));
      if (this.momentum === null) factor = noGrad(() => nbt.to("float32").reciprocal());
    }
    const useBatch = this.training || (this.running_mean === null && this.running_var === null);
    const useRunning = !this.training || this.trackRunningStats;
    try {
      return batchNorm(x, useRunning ? this.running_mean : null, useRunning ? this.running_var : null, {
        weight: this.weight,
        bias: this.bias,
        training: useBatch,
        momentum: factor,
        eps: this.eps,
      });
    } finally {
      if (typeof factor !== "number") factor.dispose();
    }
  }

  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, ` +
      `trackRunningStats=${this.trackRunningStats}`;
  }
}

/**
 * Batch normalisation of `[N, C]` or `[N, C, L]` inputs, PyTorch's `nn.BatchNorm1d`.
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const bn = new nn.BatchNorm1d(3);
 * bn.forward(randn([8, 3])); // updates bn.runningMean and bn.runningVar
 * bn.eval();
 * bn.forward(randn([2, 3])); // uses them
 * ```
 */
export class BatchNorm1d extends BatchNorm {
  /** Throws unless `x` is 2-D or 3-D. */
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3) {
      throw new RangeError(
        `BatchNorm1d: expected 2D or 3D input (got ${x.ndim}D input of shape ${fmtShape(x.shape)})`,
      );
    }
  }
}

/**
 * Batch normalisation of `[N, C, H, W]` inputs, PyTorch's `nn.BatchNorm2d`.
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const bn = new nn.BatchNorm2d(3);
 * const y = bn.forward(randn([2, 3, 4, 4]));
 * ```
 */
export class BatchNorm2d extends BatchNorm {
  /** Throws unless `x` is 4-D. */
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4) {
      throw new RangeError(
        `BatchNorm2d: expected 4D input (got ${x.ndim}D input of shape ${fmtShape(x.shape)})`,
      );
    }
  }
}
