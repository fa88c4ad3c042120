/**
 * `GradScaler`: dynamic loss scaling for float16 training, PyTorch's `torch.cuda.amp.GradScaler`, kept
 * entirely on the device. The scale, the growth tracker, each optimizer's found-inf flag and the count of
 * skipped steps are small float32 tensors; `unscale` multiplies the gradients by 1/scale and sets the flag
 * where a gradient holds Inf or NaN; the optimizer's fused kernels read the flag and leave everything as
 * it was when it is set; `update` backs off or grows the scale with tensor ops. Nothing is read back in a
 * training step: `await scaler.getScale()` and `await scaler.skippedSteps()` read when asked.
 * @module
 */
import { noGrad } from "../autograd/grad_mode.ts";
import { stack } from "../ops/join.ts";
import { where } from "../ops/compare.ts";
import { full, zeros } from "../tensor/creation.ts";
import { keep, tidy } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Device } from "../backend/registry.ts";
import type { Optimizer } from "../optim/optimizer.ts";

/** Options of {@linkcode GradScaler}, with PyTorch's defaults. */
export interface GradScalerOptions {
  /** The first scale (default 2^16 = 65536). */
  initScale?: number;
  /** Multiplies the scale after `growthInterval` steps without Inf/NaN (default 2). */
  growthFactor?: number;
  /** Multiplies the scale after a step with Inf/NaN (default 0.5). */
  backoffFactor?: number;
  /** Steps without Inf/NaN before the scale grows (default 2000). */
  growthInterval?: number;
  /** When false, every method passes through: `scale` returns the loss, `step` calls `opt.step()`. */
  enabled?: boolean;
}

/** A {@linkcode GradScaler}'s state in PyTorch's `state_dict` layout (empty when disabled). */
export interface GradScalerStateDict {
  /** The current scale. */
  scale?: number;
  /** The growth factor. */
  growth_factor?: number;
  /** The backoff factor. */
  backoff_factor?: number;
  /** The growth interval. */
  growth_interval?: number;
  /** Consecutive steps without Inf/NaN since the scale last changed. */
  _growth_tracker?: number;
}

/** Where an optimizer is in the scaler's iteration: PyTorch's OptState. */
type Stage = "ready" | "unscaled" | "stepped";

interface PerOptimizer {
  /** float32 [foundInf, skippedSteps]: what the optimizer kernels read. */
  flag: Tensor;
  stage: Stage;
}

/**
 * Dynamic loss scaling for float16 training (PyTorch's `GradScaler`): multiply the loss by a large scale
 * before backward so that small gradients survive float16, divide them back before the optimizer step,
 * skip the step when a gradient overflowed (Inf or NaN), halve the scale then, and double it after
 * `growthInterval` clean steps. Everything stays on the device: a skipped step is decided by the
 * optimizer's kernel reading a flag, not by the host.
 *
 * Adam's bias corrections use the number of steps actually taken, as PyTorch's (its fused Adam does the
 * same with `found_inf`), computed on the device from the optimizer's skipped-step count. Differences from
 * PyTorch, where the host never learns that a step was skipped: Adam's `state.step` (a host number) counts
 * `step()` calls including skipped ones; a parameter without a gradient during a skipped step gets its bias
 * correction one step short afterwards; and SGD's momentum buffer is created (as zeros) by a skipped first
 * step, which matters only with `dampening` ≠ 0.
 *
 * @example
 * ```ts
 * import { amp, F, nn, optim, randn, randint } from "../../mod.ts";
 * const model = new nn.Linear(8, 3);
 * const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
 * const scaler = new amp.GradScaler();
 * const x = randn([16, 8]);
 * const y = randint(0, 3, [16]);
 * for (let i = 0; i < 3; i++) {
 *   opt.zeroGrad();
 *   const loss = amp.autocast(() => F.crossEntropy(model.forward(x), y));
 *   const scaled = scaler.scale(loss);
 *   scaled.backward();
 *   scaler.step(opt); // unscales, then steps unless a gradient is Inf/NaN
 *   scaler.update(); // backs off or grows the scale, on the device
 *   loss.dispose();
 *   scaled.dispose();
 * }
 * console.log(await scaler.getScale(), await scaler.skippedSteps());
 * ```
 */
export class GradScaler implements Disposable {
  /** Whether the scaler does anything. */
  readonly enabled: boolean;
  #growthFactor: number;
  #backoffFactor: number;
  #growthInterval: number;
  #initScale: number;
  #initTracker = 0;
  #device: Device | null = null;
  #scale: Tensor | null = null; // float32 []
  #tracker: Tensor | null = null; // float32 []
  #skipped: Tensor | null = null; // float32 []
  #perOpt = new Map<Optimizer, PerOptimizer>();

  /** A scaler with PyTorch's defaults (initScale 65536, growthFactor 2, backoffFactor 0.5, growthInterval 2000). */
  constructor(options: GradScalerOptions = {}) {
    this.enabled = options.enabled ?? true;
    this.#initScale = options.initScale ?? 2 ** 16;
    this.#growthFactor = options.growthFactor ?? 2;
    this.#backoffFactor = options.backoffFactor ?? 0.5;
    this.#growthInterval = options.growthInterval ?? 2000;
    if (!(this.#initScale > 0) || !Number.isFinite(this.#initScale)) {
      throw new RangeError(`GradScaler: initScale must be a positive finite number, got ${this.#initScale}`);
    }
    if (!(this.#growthFactor > 1)) {
      throw new RangeError(`GradScaler: The growth factor must be > 1.0, got ${this.#growthFactor}`);
    }
    if (!(this.#backoffFactor < 1 && this.#backoffFactor > 0)) {
      throw new RangeError(
        `GradScaler: The backoff factor must be < 1.0 (and > 0), got ${this.#backoffFactor}`,
      );
    }
    if (!Number.isInteger(this.#growthInterval) || this.#growthInterval <= 0) {
      throw new RangeError(
        `GradScaler: growthInterval must be a positive integer, got ${this.#growthInterval}`,
      );
    }
  }

  /** The growth factor. */
  get growthFactor(): number {
    return this.#growthFactor;
  }

  /** The backoff factor. */
  get backoffFactor(): number {
    return this.#backoffFactor;
  }

  /** The growth interval. */
  get growthInterval(): number {
    return this.#growthInterval;
  }

  /** The device the scaler's tensors live on (null until first used). */
  get device(): Device | null {
    return this.#device;
  }

  /** Creates the scale and tracker on `device` at first use; later uses must be on the same device. */
  #ensure(device: Device, what: string): void {
    if (this.#device === null) {
      this.#device = device;
      this.#scale = keep(full([], this.#initScale, { device, dtype: "float32" }));
      this.#tracker = keep(full([], this.#initTracker, { device, dtype: "float32" }));
      this.#skipped = keep(zeros([], { device, dtype: "float32" }));
    } else if (device !== this.#device) {
      throw new Error(
        `GradScaler.${what}: the scaler lives on ${this.#device} but got a tensor on ${device}`,
      );
    }
  }

  #state(opt: Optimizer, device: Device): PerOptimizer {
    let st = this.#perOpt.get(opt);
    if (!st) {
      st = { flag: keep(zeros([2], { device, dtype: "float32" })), stage: "ready" };
      this.#perOpt.set(opt, st);
    }
    return st;
  }

  /** The device of an optimizer's parameters (the first one's). */
  #optDevice(opt: Optimizer): Device {
    const p = opt.paramGroups[0]?.params[0];
    if (!p) throw new Error("GradScaler: the optimizer has no parameters");
    return p.device;
  }

  /**
   * `loss` multiplied by the scale (on the device), ready for `backward()`. Returns `loss` itself when the
   * scaler is disabled.
   *
   * @example
   * ```ts
   * import { amp, tensor } from "../../mod.ts";
   * const scaler = new amp.GradScaler({ initScale: 1024 });
   * const scaled = scaler.scale(tensor(0.5)); // 512
   * ```
   */
  scale(loss: Tensor): Tensor {
    if (!this.enabled) return loss;
    loss.checkLive("GradScaler.scale");
    this.#ensure(loss.device, "scale");
    return loss.mul(this.#scale!);
  }

  /**
   * Divides `opt`'s gradients by the scale in place and records, on the device, whether any of them holds
   * Inf or NaN (call it before clipping gradients). At most once per optimizer between updates; `step`
   * calls it when you did not.
   *
   * @example
   * ```ts
   * import { amp, optim, tensor } from "../../mod.ts";
   * const w = tensor([1, 2], { requiresGrad: true });
   * const opt = new optim.SGD([w], { lr: 0.1 });
   * const scaler = new amp.GradScaler({ initScale: 8 });
   * scaler.scale(w.sum()).backward(); // w.grad = [8, 8]
   * scaler.unscale(opt); // w.grad = [1, 1]
   * optim.clipGradNorm([w], 1.0);
   * scaler.step(opt);
   * scaler.update();
   * ```
   */
  unscale(opt: Optimizer): void {
    if (!this.enabled) return;
    const device = this.#optDevice(opt);
    this.#ensure(device, "unscale");
    const st = this.#state(opt, device);
    if (st.stage === "unscaled") {
      throw new Error(
        "GradScaler.unscale: unscale() has already been called on this optimizer since the last update()",
      );
    }
    if (st.stage === "stepped") throw new Error("GradScaler.unscale: unscale() is being called after step()");
    const grads: Tensor[] = [];
    for (const g of opt.paramGroups) {
      for (const p of g.params) {
        if (p.grad === null) continue;
        if (p.grad.dtype === "float16") {
          throw new TypeError(
            "GradScaler.unscale: Attempting to unscale FP16 gradients: keep the parameters float32 " +
              "(autocast casts them to float16 in the forward pass)",
          );
        }
        if (p.grad.device !== device) {
          throw new Error(`GradScaler.unscale: a gradient is on ${p.grad.device}, the scaler on ${device}`);
        }
        grads.push(p.grad);
      }
    }
    noGrad(() =>
      tidy(() => {
        const inv = this.#scale!.reciprocal();
        const peaks: Tensor[] = [];
        for (const g of grads) {
          g.mul_(inv);
          // max is +Inf or NaN, or min is -Inf or NaN, when any element is (reductions propagate NaN);
          // no temporary as large as the gradient
          if (g.size > 0) peaks.push(g.max(), g.min());
        }
        let found: Tensor = zeros([1], { device, dtype: "float32" });
        if (peaks.length > 0) {
          const top = stack(peaks).abs().max(); // abs: a -Inf minimum must win too
          found = top.isinf().logicalOr(top.isnan()).float().reshape([1]);
        }
        st.flag.narrow(0, 0, 1).copy_(found);
      })
    );
    st.stage = "unscaled";
  }

  /**
   * Unscales `opt`'s gradients (unless `unscale` was called) and runs `opt`'s step, which its kernels skip
   * on the device when a gradient held Inf or NaN: parameters and optimizer state are then unchanged.
   *
   * @example
   * ```ts
   * import { amp, optim, tensor } from "../../mod.ts";
   * const w = tensor([1, 2], { requiresGrad: true });
   * const opt = new optim.SGD([w], { lr: 0.1 });
   * const scaler = new amp.GradScaler();
   * scaler.scale(w.mul(Infinity).sum()).backward();
   * scaler.step(opt); // skipped: w stays [1, 2]
   * scaler.update(); // the scale halves
   * ```
   */
  step(opt: Optimizer): void {
    if (!this.enabled) {
      opt.step();
      return;
    }
    const device = this.#optDevice(opt);
    this.#ensure(device, "step");
    const st = this.#state(opt, device);
    if (st.stage === "stepped") {
      throw new Error("GradScaler.step: step() has already been called since the last update()");
    }
    if (st.stage === "ready") this.unscale(opt);
    opt.stepUnlessFoundInf(st.flag);
    // the optimizer's count of skipped steps, which Adam's bias corrections subtract
    noGrad(() =>
      tidy(() => {
        const found = st.flag.narrow(0, 0, 1);
        st.flag.narrow(0, 1, 1).add_(found);
      })
    );
    st.stage = "stepped";
  }

  /**
   * Updates the scale on the device for the next iteration: times `backoffFactor` (and the growth tracker
   * reset) when any optimizer stepped this iteration found Inf or NaN, otherwise times `growthFactor` after
   * `growthInterval` consecutive clean steps. `newScale` sets the scale instead.
   *
   * @example
   * ```ts
   * import { amp, optim, tensor } from "../../mod.ts";
   * const w = tensor([1], { requiresGrad: true });
   * const opt = new optim.SGD([w], { lr: 0.1 });
   * const scaler = new amp.GradScaler({ initScale: 4, growthInterval: 1 });
   * scaler.scale(w.sum()).backward();
   * scaler.step(opt);
   * scaler.update();
   * console.log(await scaler.getScale()); // 8
   * ```
   */
  update(newScale?: number | Tensor): void {
    if (!this.enabled) return;
    if (newScale !== undefined) {
      if (this.#device === null) {
        if (typeof newScale !== "number") this.#ensure(newScale.device, "update");
        else this.#initScale = newScale;
      }
      if (this.#scale) noGrad(() => this.#scale!.copy_(newScale));
      this.#resetIteration();
      return;
    }
    const stepped = [...this.#perOpt.values()].filter((s) => s.stage !== "ready");
    if (stepped.length === 0) {
      throw new Error(
        "GradScaler.update: No inf checks were recorded prior to update() (call step(opt) first)",
      );
    }
    const scale = this.#scale!;
    const tracker = this.#tracker!;
    noGrad(() =>
      tidy(() => {
        const flags = stepped.map((s) => s.flag.narrow(0, 0, 1));
        const found = (flags.length === 1 ? flags[0] : stack(flags).max(0)).reshape([]).gt(0);
        const successful = tracker.add(1);
        const grow = successful.ge(this.#growthInterval);
        const grown = scale.mul(this.#growthFactor);
        const grownOk = where(grown.isinf(), scale, grown); // never grows to Inf
        const nextScale = where(found, scale.mul(this.#backoffFactor), where(grow, grownOk, scale));
        const nextTracker = where(found, 0, where(grow, 0, successful));
        scale.copy_(nextScale);
        tracker.copy_(nextTracker);
        this.#skipped!.add_(found.float());
      })
    );
    this.#resetIteration();
  }

  #resetIteration(): void {
    for (const st of this.#perOpt.values()) st.stage = "ready";
  }

  /**
   * The current scale (reads the device; 1 when disabled).
   *
   * @example
   * ```ts
   * import { amp } from "../../mod.ts";
   * console.log(await new amp.GradScaler().getScale()); // 65536
   * ```
   */
  async getScale(): Promise<number> {
    if (!this.enabled) return 1;
    return this.#scale ? await this.#scale.item() : this.#initScale;
  }

  /**
   * How many iterations `update()` found Inf or NaN in (their optimizer steps were skipped); reads the
   * device.
   *
   * @example
   * ```ts
   * import { amp } from "../../mod.ts";
   * console.log(await new amp.GradScaler().skippedSteps()); // 0
   * ```
   */
  async skippedSteps(): Promise<number> {
    return this.#skipped ? await this.#skipped.item() : 0;
  }

  /**
   * The scaler's state in PyTorch's layout (`scale`, `growth_factor`, `backoff_factor`, `growth_interval`,
   * `_growth_tracker`); empty when disabled. Async: it reads the scale and tracker from the device.
   *
   * @example
   * ```ts
   * import { amp } from "../../mod.ts";
   * const sd = await new amp.GradScaler().stateDict(); // { scale: 65536, growth_factor: 2, ... }
   * ```
   */
  async stateDict(): Promise<GradScalerStateDict> {
    if (!this.enabled) return {};
    return {
      scale: await this.getScale(),
      growth_factor: this.#growthFactor,
      backoff_factor: this.#backoffFactor,
      growth_interval: this.#growthInterval,
      _growth_tracker: this.#tracker ? await this.#tracker.item() : this.#initTracker,
    };
  }

  /**
   * Restores a state from {@linkcode GradScaler.stateDict} (or PyTorch's `state_dict()`).
   *
   * @example
   * ```ts
   * import { amp } from "../../mod.ts";
   * const scaler = new amp.GradScaler();
   * scaler.loadStateDict({ scale: 1024, growth_factor: 2, backoff_factor: 0.5, growth_interval: 100, _growth_tracker: 7 });
   * ```
   */
  loadStateDict(sd: GradScalerStateDict): void {
    if (!this.enabled) throw new Error("GradScaler.loadStateDict: the scaler is disabled");
    if (sd === null || typeof sd !== "object" || Object.keys(sd).length === 0) {
      throw new Error(
        "GradScaler.loadStateDict: The source state dict is empty, possibly because it was saved from a " +
          "disabled instance of GradScaler.",
      );
    }
    for (
      const k of ["scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"] as const
    ) {
      if (typeof sd[k] !== "number") {
        throw new TypeError(`GradScaler.loadStateDict: expected a number for "${k}", got ${typeof sd[k]}`);
      }
    }
    this.#growthFactor = sd.growth_factor!;
    this.#backoffFactor = sd.backoff_factor!;
    this.#growthInterval = sd.growth_interval!;
    this.#initScale = sd.scale!;
    this.#initTracker = sd._growth_tracker!;
    if (this.#scale) noGrad(() => this.#scale!.fill_(sd.scale!));
    if (this.#tracker) noGrad(() => this.#tracker!.fill_(sd._growth_tracker!));
  }

  /** Frees the scaler's device tensors. */
  dispose(): void {
    for (const t of [this.#scale, this.#tracker, this.#skipped]) t?.dispose();
    for (const st of this.#perOpt.values()) st.flag.dispose();
    this.#perOpt.clear();
    this.#scale = this.#tracker = this.#skipped = null;
    this.#device = null;
  }

  /** Frees the scaler's tensors at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
