/**
 * `Optimizer`: the base class of the optimizers, PyTorch's `torch.optim.Optimizer` in TypeScript. It holds
 * the param groups and the per-parameter state, skips parameters without a gradient, runs each update as
 * one fused kernel per parameter on the parameter's device, and saves and restores its state in PyTorch's
 * `state_dict` layout.
 * @module
 */
import type { OptimizerRule } from "../backend/backend.ts";
import { backendFor } from "../backend/registry.ts";
import { enableGrad, noGrad } from "../autograd/grad_mode.ts";
import { isFloating, type TypedArray } from "../tensor/dtype.ts";
import { fmtShape } from "../tensor/shape.ts";
import { keep } from "../tensor/scope.ts";
import { type NestedArray, Tensor } from "../tensor/tensor.ts";
import { tensor } from "../tensor/creation.ts";

/**
 * A group of parameters with its hyperparameters. Subclasses add theirs (`momentum`, `betas`...); the
 * optional fields are set by learning-rate schedulers.
 */
export interface ParamGroup {
  /** The parameters (leaf tensors that require grad). */
  params: Tensor[];
  /** The learning rate (schedulers change it between steps). */
  lr: number;
  /** The learning rate a scheduler started from (PyTorch's `initial_lr`). */
  initialLr?: number;
  /** {@linkcode OneCycleLR}'s peak learning rate. */
  maxLr?: number;
  /** {@linkcode OneCycleLR}'s final learning rate. */
  minLr?: number;
  /** {@linkcode OneCycleLR}'s highest momentum (or β1). */
  maxMomentum?: number;
  /** {@linkcode OneCycleLR}'s lowest momentum (or β1). */
  baseMomentum?: number;
}

/** The hyperparameters of a param group: everything but its parameters. */
export type GroupOptions<G extends ParamGroup> = Omit<G, "params">;

/**
 * What an optimizer is built from: parameters (e.g. `model.parameters()`), or param groups
 * `{ params, ...options }` whose options override the optimizer's.
 */
export type ParamsInput<O = object> = Iterable<Tensor> | Iterable<{ params: Iterable<Tensor> } & Partial<O>>;

/** A value of a parameter's optimizer state: a tensor on the parameter's device, a number (`step`), or null. */
export type StateValue = Tensor | number | null;

/** The optimizer state of one parameter, by PyTorch's names (`step`, `exp_avg`, `momentum_buffer`...). */
export type ParamState = Record<string, StateValue>;

/** A param group of a state dict: hyperparameters by PyTorch's names, and parameter indices. */
export interface StateDictGroup {
  /** Indices of the group's parameters, numbered across groups in order. */
  params: number[];
  /** Hyperparameters in snake_case (`lr`, `betas`, `weight_decay`, `initial_lr`...). */
  [hyperparameter: string]: unknown;
}

/**
 * An optimizer's state in PyTorch's `state_dict()` layout: `state` by parameter index (only parameters
 * that have state), and `param_groups`.
 */
export interface OptimizerStateDict {
  /** Per-parameter state by parameter index. */
  state: Record<number, ParamState>;
  /** The groups' hyperparameters and parameter indices. */
  param_groups: StateDictGroup[];
}

/** A state value {@linkcode Optimizer.loadStateDict} accepts: a state value, or the plain data of a tensor. */
export type LoadableStateValue = StateValue | TypedArray | NestedArray;

/**
 * What {@linkcode Optimizer.loadStateDict} accepts: a state dict, or one rebuilt from JSON (string indices,
 * tensors as arrays of numbers, flat or nested).
 */
export interface LoadableStateDict {
  /** Per-parameter state by parameter index. */
  state: Record<number | string, Record<string, LoadableStateValue>>;
  /** The groups' hyperparameters and parameter indices. */
  param_groups: StateDictGroup[];
}

/** camelCase (our option names) to snake_case (PyTorch's state-dict keys): `weightDecay` → `weight_decay`. */
function toSnake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** snake_case to camelCase: `initial_lr` → `initialLr`. */
function toCamel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function copyValue(v: unknown): unknown {
  return Array.isArray(v) ? [...v] : v;
}

function describe(v: unknown): string {
  if (v instanceof Tensor) return v.toString();
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `${typeof v} ${String(v)}`;
}

/**
 * The base class of the optimizers ({@linkcode SGD}, {@linkcode Adam}, {@linkcode AdamW},
 * {@linkcode RMSprop}). `step()` updates every parameter that has a gradient, each with one fused kernel on
 * its device, without reading anything back; `zeroGrad()` frees the gradients.
 *
 * Optimizers are never moved with `.to()`: move the model first, then build the optimizer. Its state
 * (momentum buffers, moment estimates) is created on each parameter's device at the first step and stays
 * there. Moving a model after its optimizer has state is reported at the next `step()`.
 *
 * @example
 * ```ts
 * import { nn, optim, randn } from "../../mod.ts";
 * const model = new nn.Linear(3, 1); // .to("webgpu") here, before the optimizer
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * const x = randn([8, 3]);
 * for (let i = 0; i < 10; i++) {
 *   opt.zeroGrad();
 *   const loss = model.forward(x).square().mean();
 *   loss.backward();
 *   opt.step();
 *   loss.dispose();
 * }
 * ```
 */
export abstract class Optimizer<G extends ParamGroup = ParamGroup> implements Disposable {
  /** The options every group starts from (the constructor's, with the optimizer's defaults filled in). */
  readonly defaults: Readonly<GroupOptions<G>>;
  /** The param groups, each with its own hyperparameters (change `lr` here, or let a scheduler do it). */
  readonly paramGroups: G[] = [];
  /** The per-parameter state (PyTorch's `optimizer.state`), created at each parameter's first step. */
  readonly state: Map<Tensor, ParamState> = new Map();
  #skip: Tensor | null = null;

  /** Builds the groups from `params`, each group's options falling back to `defaults`. */
  protected constructor(params: ParamsInput, defaults: GroupOptions<G>) {
    this.defaults = Object.freeze({ ...defaults });
    if (params instanceof Tensor) {
      throw new TypeError(
        `${this.constructor.name}: params must be an iterable of tensors or of param groups, but got a Tensor; ` +
          `wrap it in an array: [t]`,
      );
    }
    if (params === null || typeof params !== "object" || !(Symbol.iterator in params)) {
      throw new TypeError(
        `${this.constructor.name}: params must be an iterable of tensors or of param groups, got ${
          describe(params)
        }`,
      );
    }
    const list = [...params];
    if (list.length === 0) throw new RangeError(`${this.constructor.name}: got an empty parameter list`);
    const tensors = list.filter((x) => x instanceof Tensor);
    if (tensors.length === list.length) this.addParamGroup({ params: tensors as Tensor[] } as never);
    else if (tensors.length === 0) { for (const g of list) this.addParamGroup(g as never); }
    else {
      throw new TypeError(
        `${this.constructor.name}: params mixes tensors and param groups; pass either tensors or groups`,
      );
    }
  }

  /** The optimizer's name, for messages ("SGD", "Adam"...). */
  get name(): string {
    return this.constructor.name;
  }

  /**
   * Adds a param group (e.g. layers unfrozen during fine-tuning); options it omits come from
   * {@linkcode Optimizer.defaults}.
   *
   * @example
   * ```ts
   * import { optim, randn } from "../../mod.ts";
   * const a = randn([2], { requiresGrad: true });
   * const b = randn([2], { requiresGrad: true });
   * const opt = new optim.SGD([a], { lr: 0.1 });
   * opt.addParamGroup({ params: [b], lr: 0.01 });
   * ```
   */
  addParamGroup(group: { params: Iterable<Tensor> } & Partial<GroupOptions<G>>): void {
    if (group === null || typeof group !== "object" || !("params" in group)) {
      throw new TypeError(
        `${this.name}: a param group must be an object with params, got ${describe(group)}`,
      );
    }
    const raw = group.params as unknown;
    if (raw instanceof Tensor) {
      throw new TypeError(
        `${this.name}: a param group's params must be an iterable of tensors, not a Tensor`,
      );
    }
    if (raw === null || typeof raw !== "object" || !(Symbol.iterator in raw)) {
      throw new TypeError(`${this.name}: a param group's params must be an iterable of tensors`);
    }
    const params = [...(raw as Iterable<unknown>)];
    const index = this.paramGroups.length;
    const seen = new Set<Tensor>();
    params.forEach((p, i) => {
      const where = `param group ${index}, parameter ${i}`;
      if (!(p instanceof Tensor)) {
        throw new TypeError(`${this.name}: can only optimize Tensors, but ${where} is ${describe(p)}`);
      }
      p.checkLive(`${this.name} (${where})`);
      if (!isFloating(p.dtype)) {
        throw new TypeError(
          `${this.name}: can only optimize floating point tensors, but ${where} is ${p.dtype}`,
        );
      }
      if (!p.isLeaf) {
        throw new Error(`${this.name}: can't optimize a non-leaf Tensor (${where} was computed by an op)`);
      }
      if (!p.requiresGrad) {
        throw new Error(
          `${this.name}: ${where} does not require grad, so it never gets a gradient; ` +
            `set requiresGrad, or leave it out`,
        );
      }
      if (seen.has(p)) throw new Error(`${this.name}: ${where} appears twice in its param group`);
      seen.add(p);
    });
    for (const g of this.paramGroups) {
      if (g.params.some((p) => seen.has(p))) {
        throw new Error(`${this.name}: some parameters appear in more than one parameter group`);
      }
    }
    const merged = { ...this.defaults, ...group, params } as unknown as G;
    for (const [k, v] of Object.entries(merged)) {
      if (v === undefined) {
        (merged as Record<string, unknown>)[k] = (this.defaults as Record<string, unknown>)[k];
      }
    }
    this.checkGroup(merged, index);
    this.paramGroups.push(merged);
  }

  /** Validates a group's hyperparameters (subclasses throw PyTorch's errors, e.g. "Invalid learning rate"). */
  protected abstract checkGroup(group: G, index: number): void;

  /**
   * Updates `param` from `grad` and its `state` with the group's hyperparameters: one call of
   * {@linkcode Optimizer.applyRule}.
   */
  protected abstract updateParam(param: Tensor, grad: Tensor, group: G, state: ParamState): void;

  /**
   * Frees every parameter's gradient and sets `.grad` to null (PyTorch 2's default), so the next backward
   * allocates fresh ones; with `setToNone = false` the gradients are zeroed in place instead.
   *
   * @example
   * ```ts
   * import { optim, randn } from "../../mod.ts";
   * const w = randn([3], { requiresGrad: true });
   * const opt = new optim.Adam([w]);
   * w.square().sum().backward();
   * opt.step();
   * opt.zeroGrad(); // w.grad === null
   * ```
   */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (p.grad === null) continue;
        if (setToNone || p.grad.isDisposed) {
          p.grad.dispose();
          p.grad = null;
        } else noGrad(() => p.grad!.zero_());
      }
    }
  }

  /**
   * Updates every parameter that has a gradient (those with `grad === null` are skipped) by one fused
   * kernel each, on its device; nothing is read back. `closure`, when given, is called first with grad mode
   * on (it should zero the gradients, compute the loss and call `backward()`), and its loss is returned.
   *
   * @example
   * ```ts
   * import { optim, tensor } from "../../mod.ts";
   * const w = tensor([1, -2], { requiresGrad: true });
   * const opt = new optim.SGD([w], { lr: 0.1 });
   * w.square().sum().backward();
   * opt.step();
   * console.log(await w.toArray()); // [0.8, -1.6]
   * ```
   */
  step(closure?: () => Tensor): Tensor | undefined {
    const loss = closure ? enableGrad(closure) : undefined;
    using _ = noGrad();
    let index = 0;
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        const i = index++;
        const g = p.grad;
        if (g === null) continue;
        this.#checkGrad(p, g, i);
        let st = this.state.get(p);
        if (!st) {
          st = {};
          this.state.set(p, st);
        }
        this.#checkState(p, st, i);
        this.updateParam(p, g, group, st);
      }
    }
    return loss;
  }

  /**
   * `step()` made conditional on the device, for `amp.GradScaler.step`: `skip` is a float32 tensor
   * [foundInf, skippedSteps] on the parameters' device; every fused update does nothing where foundInf ≠ 0,
   * and Adam's bias corrections count the steps taken (its host `step` counts calls, skipped or not), so
   * the decision never reads the device.
   *
   * @example
   * ```ts
   * import { optim, tensor } from "../../mod.ts";
   * const w = tensor([1, 2], { requiresGrad: true });
   * const opt = new optim.SGD([w], { lr: 0.1 });
   * w.sum().backward();
   * opt.stepUnlessFoundInf(tensor([1, 0])); // foundInf = 1: w is unchanged
   * ```
   */
  stepUnlessFoundInf(skip: Tensor): void {
    skip.checkLive(`${this.name}.stepUnlessFoundInf`);
    if (skip.dtype !== "float32" || skip.size !== 2 || !skip.isContiguous() || skip.offset !== 0) {
      throw new TypeError(
        `${this.name}.stepUnlessFoundInf: expected a contiguous float32 tensor [foundInf, skippedSteps] ` +
          `at offset 0, ` +
          `got ${skip.toString()}`,
      );
    }
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (p.grad !== null && p.device !== skip.device) {
          throw new Error(
            `${this.name}.stepUnlessFoundInf: the flag is on ${skip.device} but a parameter is on ${p.device}`,
          );
        }
      }
    }
    this.#skip = skip;
    try {
      this.step();
    } finally {
      this.#skip = null;
    }
  }

  #checkGrad(p: Tensor, g: Tensor, i: number): void {
    p.checkLive(`${this.name}.step (parameter ${i})`);
    if (g.isDisposed) {
      throw new Error(
        `${this.name}.step: the gradient of parameter ${i} was disposed but .grad still holds it; ` +
          `set .grad = null (zeroGrad() does) to skip the parameter`,
      );
    }
    if (g.shape.length !== p.shape.length || g.shape.some((d, k) => d !== p.shape[k])) {
      throw new RangeError(
        `${this.name}.step: parameter ${i} has shape ${fmtShape(p.shape)} but its gradient has shape ${
          fmtShape(g.shape)
        }`,
      );
    }
    if (g.device !== p.device) {
      throw new Error(
        `${this.name}.step: parameter ${i} is on ${p.device} but its gradient is on ${g.device}`,
      );
    }
    if (g.dtype !== p.dtype) {
      throw new TypeError(`${this.name}.step: parameter ${i} is ${p.dtype} but its gradient is ${g.dtype}`);
    }
  }

  #checkState(p: Tensor, st: ParamState, i: number): void {
    for (const [k, v] of Object.entries(st)) {
      if (!(v instanceof Tensor)) continue;
      if (v.isDisposed) {
        throw new Error(`${this.name}.step: the optimizer state "${k}" of parameter ${i} was disposed`);
      }
      if (v.device !== p.device || v.dtype !== p.dtype) {
        throw new Error(
          `${this.name}.step: the optimizer state "${k}" of parameter ${i} is ${v.dtype} on ${v.device}, but ` +
            `the parameter is now ${p.dtype} on ${p.device}. Optimizers are never moved with .to(): move the ` +
            `model first, then build the optimizer (its state follows the parameters' device)`,
        );
      }
    }
  }

  /**
   * A zeroed state tensor for `param` (same shape, dtype and device), kept out of any `tidy()` scope: the
   * optimizer owns it until {@linkcode Optimizer.dispose} or a {@linkcode Optimizer.loadStateDict}.
   */
  protected zerosLike(param: Tensor): Tensor {
    const backend = backendFor(param.device);
    return keep(Tensor.fromStorage(backend.alloc(param.dtype, param.size), param.shape, param.device));
  }

  /**
   * Runs one fused update of `param` in place (the backend's `optimizerStep`): `state` tensors in the order
   * the rule defines. A non-contiguous parameter or gradient goes through a contiguous copy.
   */
  protected applyRule(param: Tensor, grad: Tensor, rule: OptimizerRule, state: readonly Tensor[]): void {
    if (param.size === 0) return;
    const backend = backendFor(param.device);
    const direct = param.isContiguous();
    const x = direct ? param : param.contiguous();
    const g = grad.isContiguous() && grad.storage !== x.storage ? grad : grad.clone();
    try {
      backend.optimizerStep(
        rule,
        { storage: x.storage, view: x.layout },
        { storage: g.storage, view: g.layout },
        state.map((s) => s.storage),
        this.#skip?.storage,
      );
      if (!direct) param.copy_(x);
    } finally {
      if (x !== param) x.dispose();
      if (g !== grad) g.dispose();
    }
  }

  /**
   * The optimizer's state in PyTorch's layout: `state` by parameter index (numbered across groups in
   * order) with PyTorch's names (`step`, `exp_avg`, `exp_avg_sq`, `momentum_buffer`...), and `param_groups`
   * with snake_case hyperparameters and `params` index lists. The tensors are detached aliases sharing the
   * optimizer's memory, as PyTorch's are: the next `step()` changes them, so read them (or clone them)
   * before stepping again, and dispose them when done.
   *
   * @example
   * ```ts
   * import { optim, randn } from "../../mod.ts";
   * const w = randn([3], { requiresGrad: true });
   * const opt = new optim.Adam([w], { lr: 0.01 });
   * w.square().sum().backward();
   * opt.step();
   * const sd = opt.stateDict();
   * console.log(sd.param_groups[0].lr, sd.state[0].step); // 0.01 1
   * ```
   */
  stateDict(): OptimizerStateDict {
    const ids = new Map<Tensor, number>();
    const param_groups = this.paramGroups.map((g) => {
      const out = {} as StateDictGroup;
      for (const [k, v] of Object.entries(g)) if (k !== "params") out[toSnake(k)] = copyValue(v);
      out.params = g.params.map((p) => {
        const id = ids.size;
        ids.set(p, id);
        return id;
      });
      return out;
    });
    const state: Record<number, ParamState> = {};
    for (const [p, st] of this.state) {
      const id = ids.get(p);
      if (id === undefined) continue;
      const entry: ParamState = {};
      for (const [k, v] of Object.entries(st)) entry[k] = v instanceof Tensor ? keep(v.detach()) : v;
      state[id] = entry;
    }
    return { state, param_groups };
  }

  /**
   * Restores a state from {@linkcode Optimizer.stateDict} (or PyTorch's layout rebuilt from JSON, tensors as
   * arrays of numbers): the groups' hyperparameters and every parameter's state, copied to the parameter's
   * device and dtype (WebGPU tensors going to CPU parameters must be read first with `await t.cpu()`). The
   * groups must have the same sizes as this optimizer's. Nothing changes when there is an error.
   *
   * @example
   * ```ts
   * import { optim, randn } from "../../mod.ts";
   * const w = randn([3], { requiresGrad: true });
   * const opt = new optim.Adam([w]);
   * w.square().sum().backward();
   * opt.step();
   * const resumed = new optim.Adam([w]);
   * resumed.loadStateDict(opt.stateDict()); // continues where opt stopped
   * ```
   */
  loadStateDict(stateDict: LoadableStateDict | OptimizerStateDict): void {
    const what = `${this.name}.loadStateDict`;
    if (stateDict === null || typeof stateDict !== "object" || !Array.isArray(stateDict.param_groups)) {
      throw new TypeError(
        `${what}: expected an object with state and param_groups, got ${describe(stateDict)}`,
      );
    }
    const saved = stateDict.param_groups;
    if (saved.length !== this.paramGroups.length) {
      throw new RangeError(
        `${what}: loaded state dict has a different number of parameter groups (${saved.length}, ` +
          `this optimizer has ${this.paramGroups.length})`,
      );
    }
    const byId = new Map<number, Tensor>();
    saved.forEach((sg, gi) => {
      const own = this.paramGroups[gi].params;
      if (!Array.isArray(sg.params) || sg.params.length !== own.length) {
        throw new RangeError(
          `${what}: loaded state dict contains a parameter group that doesn't match the size of optimizer's ` +
            `group (group ${gi}: ${Array.isArray(sg.params) ? sg.params.length : "no"} parameters saved, ` +
            `${own.length} here)`,
        );
      }
      sg.params.forEach((id, k) => byId.set(Number(id), own[k]));
    });
    const rawState = (stateDict.state ?? {}) as LoadableStateDict["state"];
    // Build every new tensor first, so that an error leaves the optimizer as it was.
    const built = new Map<Tensor, ParamState>();
    const made: Tensor[] = [];
    try {
      for (const [key, entry] of Object.entries(rawState)) {
        const p = byId.get(Number(key));
        if (!p) throw new RangeError(`${what}: state for parameter ${key}, which no param group lists`);
        if (entry === null || typeof entry !== "object") {
          throw new TypeError(`${what}: state[${key}] must be an object, got ${describe(entry)}`);
        }
        const st: ParamState = {};
        for (const [name, raw] of Object.entries(entry)) {
          // PyTorch keeps `step` as a one-element tensor: from JSON it arrives as [n].
          const v = name === "step" && (Array.isArray(raw) || ArrayBuffer.isView(raw)) &&
              (raw as ArrayLike<unknown>).length === 1
            ? Number((raw as ArrayLike<unknown>)[0])
            : raw;
          const t = this.#loadValue(p, v, `${what}: state[${key}].${name}`);
          if (t instanceof Tensor) made.push(t);
          st[name] = t;
        }
        built.set(p, st);
      }
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
    saved.forEach((sg, gi) => {
      const group = this.paramGroups[gi] as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(sg)) if (k !== "params") group[toCamel(k)] = copyValue(v);
    });
    this.#disposeState();
    for (const [p, st] of built) this.state.set(p, st);
  }

  #loadValue(p: Tensor, v: LoadableStateValue, what: string): StateValue {
    if (v === null || typeof v === "number") return v;
    if (typeof v === "boolean") throw new TypeError(`${what}: expected a number, a tensor or null, got ${v}`);
    let src: Tensor;
    let owned = false;
    if (v instanceof Tensor) {
      v.checkLive(what);
      if (v.device !== p.device && v.device !== "cpu") {
        throw new Error(
          `${what} is on ${v.device} but the parameter is on ${p.device}: read it first with \`await t.cpu()\``,
        );
      }
      src = v;
    } else if (ArrayBuffer.isView(v) || Array.isArray(v)) {
      src = tensor(v as NestedArray, { dtype: p.dtype, device: p.device });
      owned = true;
    } else throw new TypeError(`${what}: expected a number, a tensor, an array or null, got ${describe(v)}`);
    try {
      if (src.size !== p.size) {
        throw new RangeError(
          `${what} has shape ${fmtShape(src.shape)} (${src.size} elements) but the parameter has shape ${
            fmtShape(p.shape)
          }`,
        );
      }
      return noGrad(() => {
        const moved = src.to({ device: p.device, dtype: p.dtype });
        const flat = moved.reshape(p.shape);
        const own = keep(flat.clone());
        if (flat !== moved) flat.dispose();
        if (moved !== src) moved.dispose();
        return own;
      });
    } finally {
      if (owned) src.dispose();
    }
  }

  #disposeState(): void {
    for (const st of this.state.values()) {
      for (const v of Object.values(st)) if (v instanceof Tensor) v.dispose();
    }
    this.state.clear();
  }

  /**
   * Always throws: optimizers are never moved. Move the model first (`model.to("webgpu")`), then build the
   * optimizer; its state is created on the parameters' device.
   */
  to(..._target: unknown[]): never {
    throw new Error(
      `${this.name}.to(): optimizers are never moved with .to(). Move the model first, then build the ` +
        `optimizer: its state is created on (and follows) the parameters' device`,
    );
  }

  /** Frees the optimizer's state tensors (the parameters and their gradients are left alone). */
  dispose(): void {
    this.#disposeState();
  }

  /** Frees the state at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A readable summary of the groups, like PyTorch's repr. */
  toString(): string {
    const lines = [`${this.name} (`];
    this.paramGroups.forEach((g, i) => {
      lines.push(`Parameter Group ${i}`);
      for (const [k, v] of Object.entries(g).sort(([a], [b]) => a.localeCompare(b))) {
        if (k !== "params") lines.push(`    ${k}: ${Array.isArray(v) ? `[${v.join(", ")}]` : String(v)}`);
      }
    });
    lines.push(")");
    return lines.join("\n");
  }
}
