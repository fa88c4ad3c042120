/**
 * Learning-rate schedulers: `StepLR`, `CosineAnnealingLR` and `OneCycleLR`, with PyTorch's formulas (the
 * recursive forms `step()` uses, so the sequences match PyTorch's to the last bit). They run on the host and
 * change the optimizer's `paramGroups[i].lr` (and OneCycle's momentum or β1) between steps; the fused
 * update kernels take these as uniforms, so a schedule never compiles a new kernel or uploads a buffer.
 * @module
 */
import { Optimizer, type ParamGroup } from "./optimizer.ts";

/** A scheduler's state in PyTorch's layout: `base_lrs`, `last_epoch`, `_step_count`, `_last_lr`, and its own. */
export type SchedulerStateDict = Record<string, unknown>;

/** A param group whose momentum (SGD, RMSprop) or β1 (Adam) a scheduler may set. */
type MomentumGroup = ParamGroup & { momentum?: number; betas?: [number, number] };

function copyValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(copyValue);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copyValue(x)]));
  }
  return v;
}

/**
 * The base class of the learning-rate schedulers, PyTorch's `LRScheduler`. The constructor records each
 * group's `initialLr` and takes the schedule's first step (epoch 0); call `step()` after each
 * `optimizer.step()`. Subclasses implement {@linkcode LRScheduler.getLr} and call
 * {@linkcode LRScheduler.initialStep} at the end of their constructor.
 *
 * @example
 * ```ts
 * import { optim, randn } from "../../mod.ts";
 * const w = randn([2], { requiresGrad: true });
 * const opt = new optim.SGD([w], { lr: 0.1 });
 * const sched = new optim.StepLR(opt, { stepSize: 10, gamma: 0.5 });
 * for (let epoch = 0; epoch < 30; epoch++) {
 *   // ... train: opt.step() ...
 *   sched.step();
 * }
 * console.log(sched.getLastLr()); // [0.0125]
 * ```
 */
export abstract class LRScheduler {
  /** The optimizer whose learning rates this scheduler sets. */
  readonly optimizer: Optimizer;
  /** Each group's learning rate at the start of the schedule. */
  baseLrs: number[];
  /** The index of the last step taken (0 after construction). */
  lastEpoch: number;
  /** How many times `step()` was called, the constructor's call included (PyTorch's `_step_count`). */
  stepCount = 0;
  #lastLr: number[] = [];

  /**
   * Records the groups' initial learning rates. `lastEpoch` other than -1 resumes a schedule, which needs
   * each group's `initialLr` to be set already.
   */
  protected constructor(optimizer: Optimizer, lastEpoch = -1) {
    if (!(optimizer instanceof Optimizer)) {
      throw new TypeError(`${new.target.name}: expected an Optimizer, got ${typeof optimizer}`);
    }
    this.optimizer = optimizer;
    if (lastEpoch === -1) {
      for (const g of optimizer.paramGroups) g.initialLr ??= g.lr;
    } else {
      optimizer.paramGroups.forEach((g, i) => {
        if (g.initialLr === undefined) {
          throw new Error(
            `${new.target.name}: param 'initialLr' is not specified in paramGroups[${i}] when resuming an optimizer`,
          );
        }
      });
    }
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!);
    this.lastEpoch = lastEpoch;
  }

  /** Takes the first step (epoch 0): subclasses call it last in their constructor, once their fields are set. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** The learning rate of each group at epoch `lastEpoch` (PyTorch's recursive `get_lr`). */
  protected abstract getLr(): number[];

  /** Advances the schedule by one step and sets each group's `lr`. */
  step(): void {
    this.stepCount++;
    this.lastEpoch++;
    let values: number[];
    try {
      values = this.getLr();
    } catch (e) {
      this.stepCount--;
      this.lastEpoch--;
      throw e;
    }
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = values[i]));
    this.#lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The learning rates the last `step()` set, one per group. */
  getLastLr(): number[] {
    return [...this.#lastLr];
  }

  /** The scheduler's own fields: their PyTorch state-dict names and the property holding each. */
  protected abstract get stateKeys(): Record<string, string>;

  /**
   * The scheduler's state in PyTorch's layout (`base_lrs`, `last_epoch`, `_step_count`, `_last_lr`, and the
   * scheduler's own fields by PyTorch's names, e.g. `step_size`, `gamma`), as plain JSON-able data.
   *
   * @example
   * ```ts
   * import { optim, randn } from "../../mod.ts";
   * const opt = new optim.SGD([randn([2], { requiresGrad: true })], { lr: 0.1 });
   * const sched = new optim.StepLR(opt, { stepSize: 2 });
   * const saved = JSON.stringify(sched.stateDict());
   * sched.loadStateDict(JSON.parse(saved));
   * ```
   */
  stateDict(): SchedulerStateDict {
    const out: SchedulerStateDict = {
      base_lrs: [...this.baseLrs],
      last_epoch: this.lastEpoch,
      _step_count: this.stepCount,
      _last_lr: [...this.#lastLr],
    };
    const self = this as unknown as Record<string, unknown>;
    for (const [key, prop] of Object.entries(this.stateKeys)) out[key] = copyValue(self[prop]);
    return out;
  }

  /**
   * Restores a state from {@linkcode LRScheduler.stateDict} (the optimizer's learning rates are restored by
   * its own `loadStateDict`). Keys this scheduler does not know are ignored.
   */
  loadStateDict(stateDict: SchedulerStateDict): void {
    if (stateDict === null || typeof stateDict !== "object") {
      throw new TypeError(`${this.constructor.name}.loadStateDict: expected an object, got ${stateDict}`);
    }
    const sd = stateDict as Record<string, unknown>;
    if (Array.isArray(sd.base_lrs)) this.baseLrs = [...sd.base_lrs as number[]];
    if (typeof sd.last_epoch === "number") this.lastEpoch = sd.last_epoch;
    if (typeof sd._step_count === "number") this.stepCount = sd._step_count;
    if (Array.isArray(sd._last_lr)) this.#lastLr = [...sd._last_lr as number[]];
    const self = this as unknown as Record<string, unknown>;
    for (const [key, prop] of Object.entries(this.stateKeys)) {
      if (key in sd) self[prop] = copyValue(sd[key]);
    }
  }
}

/** Options of {@linkcode StepLR}. */
export interface StepLROptions {
  /** Decay the learning rate every `stepSize` steps. */
  stepSize: number;
  /** The factor of each decay (default 0.1). */
  gamma?: number;
  /** The index of the last step when resuming (default -1: start). */
  lastEpoch?: number;
}

/**
 * Multiplies each group's learning rate by `gamma` every `stepSize` steps, as PyTorch's `StepLR`.
 *
 * @example
 * ```ts
 * import { optim, randn } from "../../mod.ts";
 * const opt = new optim.SGD([randn([2], { requiresGrad: true })], { lr: 0.1 });
 * const sched = new optim.StepLR(opt, { stepSize: 2, gamma: 0.5 });
 * for (let i = 0; i < 4; i++) sched.step();
 * console.log(sched.getLastLr()); // [0.025]
 * ```
 */
export class StepLR extends LRScheduler {
  /** Steps between decays. */
  stepSize: number;
  /** The decay factor. */
  gamma: number;

  /** A step schedule for `optimizer`. */
  constructor(optimizer: Optimizer, options: StepLROptions) {
    super(optimizer, options?.lastEpoch ?? -1);
    if (!Number.isInteger(options.stepSize) || options.stepSize <= 0) {
      throw new RangeError(`StepLR: stepSize must be a positive integer, got ${options.stepSize}`);
    }
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
    this.initialStep();
  }

  /** PyTorch's recursive form: the previous lr, times gamma at multiples of stepSize. */
  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }

  /** `step_size` and `gamma`. */
  protected get stateKeys(): Record<string, string> {
    return { step_size: "stepSize", gamma: "gamma" };
  }
}

/** Options of {@linkcode CosineAnnealingLR}. */
export interface CosineAnnealingLROptions {
  /** The number of steps of a half cosine period (PyTorch's `T_max`). */
  tMax: number;
  /** The lowest learning rate (default 0). */
  etaMin?: number;
  /** The index of the last step when resuming (default -1: start). */
  lastEpoch?: number;
}

/** Python's `%`: the result has the divisor's sign. */
function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/**
 * Anneals each group's learning rate from its initial value to `etaMin` along a half cosine over `tMax`
 * steps (and back up over the next `tMax`, periodically), as PyTorch's `CosineAnnealingLR`:
 * lr = etaMin + (base - etaMin)·(1 + cos(π·t/tMax))/2, computed recursively as PyTorch does.
 *
 * @example
 * ```ts
 * import { optim, randn } from "../../mod.ts";
 * const opt = new optim.Adam([randn([2], { requiresGrad: true })], { lr: 0.01 });
 * const sched = new optim.CosineAnnealingLR(opt, { tMax: 100, etaMin: 1e-5 });
 * sched.step();
 * ```
 */
export class CosineAnnealingLR extends LRScheduler {
  /** Steps of a half period. */
  tMax: number;
  /** The lowest learning rate. */
  etaMin: number;

  /** A cosine schedule for `optimizer`. */
  constructor(optimizer: Optimizer, options: CosineAnnealingLROptions) {
    super(optimizer, options?.lastEpoch ?? -1);
    if (typeof options.tMax !== "number" || !(options.tMax > 0)) {
      throw new RangeError(`CosineAnnealingLR: tMax must be a positive number, got ${options.tMax}`);
    }
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    this.initialStep();
  }

  /** PyTorch's recursive form of the cosine schedule. */
  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const { tMax, etaMin, lastEpoch: t } = this;
    if (t === 0) return groups.map((g) => g.lr);
    if (this.stepCount === 1 && t > 0) {
      return this.baseLrs.map((base) => etaMin + (base - etaMin) * (1 + Math.cos(t * Math.PI / tMax)) / 2);
    }
    if (pyMod(t - 1 - tMax, 2 * tMax) === 0) {
      return groups.map((g, i) => g.lr + (this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / tMax)) / 2);
    }
    return groups.map((g) =>
      (1 + Math.cos(Math.PI * t / tMax)) / (1 + Math.cos(Math.PI * (t - 1) / tMax)) * (g.lr - etaMin) + etaMin
    );
  }

  /** `T_max` and `eta_min`. */
  protected get stateKeys(): Record<string, string> {
    return { T_max: "tMax", eta_min: "etaMin" };
  }
}

/** Options of {@linkcode OneCycleLR}. Give `totalSteps`, or `epochs` and `stepsPerEpoch`. */
export interface OneCycleLROptions {
  /** The peak learning rate, one for all groups or one per group. */
  maxLr: number | readonly number[];
  /** The number of steps of the cycle. */
  totalSteps?: number;
  /** With `stepsPerEpoch`, gives totalSteps = epochs · stepsPerEpoch. */
  epochs?: number;
  /** See `epochs`. */
  stepsPerEpoch?: number;
  /** The fraction of the cycle spent increasing the learning rate (default 0.3). */
  pctStart?: number;
  /** How to anneal: "cos" (default) or "linear". */
  annealStrategy?: "cos" | "linear";
  /** Cycle the momentum (SGD, RMSprop) or β1 (Adam) inversely to the learning rate (default true). */
  cycleMomentum?: boolean;
  /** The lowest momentum, one for all groups or one per group (default 0.85). */
  baseMomentum?: number | readonly number[];
  /** The highest momentum, one for all groups or one per group (default 0.95). */
  maxMomentum?: number | readonly number[];
  /** The initial learning rate is maxLr / divFactor (default 25). */
  divFactor?: number;
  /** The final learning rate is the initial one / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Three phases (up, down to the initial lr, then annihilate) instead of two (default false). */
  threePhase?: boolean;
  /** The index of the last step when resuming (default -1: start). */
  lastEpoch?: number;
}

/** One phase of a one-cycle schedule, in PyTorch's layout (group keys in snake_case). */
export interface OneCyclePhase {
  /** The step at which the phase ends. */
  end_step: number;
  /** The group key of the learning rate at the start of the phase. */
  start_lr: string;
  /** The group key of the learning rate at the end of the phase. */
  end_lr: string;
  /** The group key of the momentum at the start of the phase. */
  start_momentum: string;
  /** The group key of the momentum at the end of the phase. */
  end_momentum: string;
}

function perGroup(name: string, optimizer: Optimizer, v: number | readonly number[]): number[] {
  const n = optimizer.paramGroups.length;
  if (Array.isArray(v)) {
    if (v.length !== n) throw new RangeError(`OneCycleLR: expected ${n} values for ${name}, got ${v.length}`);
    return [...v];
  }
  return new Array(n).fill(v);
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw new RangeError(`OneCycleLR: expected a positive integer ${name}, but got ${v}`);
  }
  return v;
}

const GROUP_KEYS: Record<string, "initialLr" | "maxLr" | "minLr" | "maxMomentum" | "baseMomentum"> = {
  initial_lr: "initialLr",
  max_lr: "maxLr",
  min_lr: "minLr",
  max_momentum: "maxMomentum",
  base_momentum: "baseMomentum",
};

/**
 * The 1cycle policy (Smith & Topin), as PyTorch's `OneCycleLR`: the learning rate rises from
 * maxLr/divFactor to maxLr over the first `pctStart` of `totalSteps`, then anneals to
 * initial/finalDivFactor, while the momentum (SGD, RMSprop) or β1 (Adam) moves the opposite way between
 * `maxMomentum` and `baseMomentum`. Call `step()` after every batch; stepping past `totalSteps` throws.
 *
 * @example
 * ```ts
 * import { optim, randn } from "../../mod.ts";
 * const opt = new optim.SGD([randn([2], { requiresGrad: true })], { lr: 0.1, momentum: 0.9 });
 * const sched = new optim.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 100 });
 * for (let i = 0; i < 99; i++) sched.step(); // after each opt.step()
 * ```
 */
export class OneCycleLR extends LRScheduler {
  /** The number of steps of the cycle. */
  totalSteps: number;
  /** The phases, in PyTorch's layout. */
  schedulePhases: OneCyclePhase[];
  /** "cos" or "linear". */
  annealStrategy: "cos" | "linear";
  /** Whether momentum (or β1) is cycled. */
  cycleMomentum: boolean;
  /** Whether the optimizer's β1 (Adam) is cycled rather than its momentum. */
  useBeta1: boolean;

  /** A one-cycle schedule for `optimizer`. */
  constructor(optimizer: Optimizer, options: OneCycleLROptions) {
    const lastEpoch = options?.lastEpoch ?? -1;
    super(optimizer, lastEpoch === -1 ? -1 : 0); // the groups' initialLr are set below before resuming
    const o = options;
    if (o.totalSteps === undefined && (o.epochs === undefined || o.stepsPerEpoch === undefined)) {
      throw new TypeError("OneCycleLR: you must define either totalSteps OR (epochs AND stepsPerEpoch)");
    }
    this.totalSteps = o.totalSteps !== undefined
      ? positiveInt("totalSteps", o.totalSteps)
      : positiveInt("epochs", o.epochs) * positiveInt("stepsPerEpoch", o.stepsPerEpoch);
    const pct = o.pctStart ?? 0.3;
    if (typeof pct !== "number" || !(pct >= 0 && pct <= 1)) {
      throw new RangeError(`OneCycleLR: expected pctStart between 0 and 1, but got ${pct}`);
    }
    const anneal = o.annealStrategy ?? "cos";
    if (anneal !== "cos" && anneal !== "linear") {
      throw new RangeError(`OneCycleLR: annealStrategy must be one of "cos" or "linear", got ${anneal}`);
    }
    this.annealStrategy = anneal;
    const n = this.totalSteps;
    this.schedulePhases = o.threePhase
      ? [
        phase(pct * n - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
        phase(2 * pct * n - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
        phase(n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
      ]
      : [
        phase(pct * n - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
        phase(n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
      ];
    const groups = optimizer.paramGroups as MomentumGroup[];
    const maxLrs = perGroup("maxLr", optimizer, o.maxLr);
    const div = o.divFactor ?? 25;
    const finalDiv = o.finalDivFactor ?? 1e4;
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / div;
        g.maxLr = maxLrs[i];
        g.minLr = g.initialLr / finalDiv;
      });
    }
    this.cycleMomentum = o.cycleMomentum ?? true;
    this.useBeta1 = "betas" in optimizer.defaults;
    if (this.cycleMomentum) {
      if (!("momentum" in optimizer.defaults) && !this.useBeta1) {
        throw new TypeError(
          "OneCycleLR: optimizer must support momentum with the cycleMomentum option enabled",
        );
      }
      const maxM = perGroup("maxMomentum", optimizer, o.maxMomentum ?? 0.95);
      const baseM = perGroup("baseMomentum", optimizer, o.baseMomentum ?? 0.85);
      if (lastEpoch === -1) {
        groups.forEach((g, i) => {
          if (this.useBeta1) g.betas = [maxM[i], g.betas![1]];
          else g.momentum = maxM[i];
          g.maxMomentum = maxM[i];
          g.baseMomentum = baseM[i];
        });
      }
    }
    this.baseLrs = groups.map((g) => g.initialLr!);
    this.lastEpoch = lastEpoch;
    this.initialStep();
  }

  #anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === "linear") return (end - start) * pct + start;
    const cosOut = Math.cos(Math.PI * pct) + 1;
    return end + (start - end) / 2.0 * cosOut;
  }

  /** The learning rate of each group (and, as a side effect as in PyTorch, its momentum or β1). */
  protected getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      throw new RangeError(
        `OneCycleLR: tried to step ${
          stepNum + 1
        } times. The specified number of total steps is ${this.totalSteps}`,
      );
    }
    const phases = this.schedulePhases;
    return (this.optimizer.paramGroups as MomentumGroup[]).map((g) => {
      const at = (key: string) => g[GROUP_KEYS[key]] as number;
      let startStep = 0;
      let lr = 0;
      for (let i = 0; i < phases.length; i++) {
        const ph = phases[i];
        if (stepNum <= ph.end_step || i === phases.length - 1) {
          const pct = (stepNum - startStep) / (ph.end_step - startStep);
          lr = this.#anneal(at(ph.start_lr), at(ph.end_lr), pct);
          if (this.cycleMomentum) {
            const m = this.#anneal(at(ph.start_momentum), at(ph.end_momentum), pct);
            if (this.useBeta1) g.betas = [m, g.betas![1]];
            else g.momentum = m;
          }
          break;
        }
        startStep = ph.end_step;
      }
      return lr;
    });
  }

  /** `total_steps`, `_schedule_phases`, `_anneal_func_type`, `cycle_momentum` and `use_beta1`. */
  protected get stateKeys(): Record<string, string> {
    return {
      total_steps: "totalSteps",
      _schedule_phases: "schedulePhases",
      _anneal_func_type: "annealStrategy",
      cycle_momentum: "cycleMomentum",
      use_beta1: "useBeta1",
    };
  }
}

function phase(
  end_step: number,
  start_lr: string,
  end_lr: string,
  start_momentum: string,
  end_momentum: string,
): OneCyclePhase {
  return { end_step, start_lr, end_lr, start_momentum, end_momentum };
}
