/**
 * `Module`: the base class of layers and models, PyTorch's `nn.Module` in TypeScript.
 *
 * Assigning a {@linkcode Module} or a leaf tensor that requires grad to a field registers it as a submodule
 * or a parameter, in assignment order, under the field's name (as PyTorch's `__setattr__` does). Buffers are
 * registered with {@linkcode Module.registerBuffer}; `registerParameter` and `registerModule` do the same
 * explicitly (and accept `null`, e.g. a layer built without bias).
 * @module
 */
import { checkDevice, type Device } from "../backend/registry.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { checkDType, type DType, isFloating } from "../tensor/dtype.ts";
import { fmtShape } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";

/** What a registered attribute of a module is. */
type Kind = "parameter" | "buffer" | "module";

interface ModuleState {
  /** Registered names, in registration order (PyTorch keeps one dict per kind; filtering keeps each order). */
  kinds: Map<string, Kind>;
  /** Buffers left out of `stateDict()` (`registerBuffer(name, t, { persistent: false })`). */
  nonPersistent: Set<string>;
  /** Forward pre-hooks by handle id, run in registration order before every `forward` call. */
  preHooks: Map<number, ForwardPreHook>;
  /** Whether `forward` was wrapped (once) to run the pre-hooks. */
  forwardWrapped: boolean;
}

/**
 * A function run before a module's `forward` (PyTorch's forward pre-hook): it receives the module and the
 * arguments, and may return replacement arguments (an array) or nothing to keep them.
 */
// deno-lint-ignore no-explicit-any
export type ForwardPreHook = (module: Module, args: any[]) => unknown[] | void;

/** What {@linkcode Module.registerForwardPreHook} returns: `remove()` unregisters the hook. */
export interface RemovableHandle {
  /** The hook's id, unique within the process. */
  readonly id: number;
  /** Unregisters the hook (calling it again does nothing). */
  remove(): void;
}

let nextHookId = 1;

const states = new WeakMap<object, ModuleState>();

function stateOf(m: object): ModuleState {
  const s = states.get(m);
  if (!s) {
    throw new Error("Module: the object was not built by the Module constructor (did you call super()?)");
  }
  return s;
}

function isParameterLike(v: unknown): v is Tensor {
  return v instanceof Tensor && v.requiresGrad && v.isLeaf;
}

function checkName(kind: string, name: string, owner: object): void {
  if (typeof name !== "string" || name === "") {
    throw new TypeError(`register${kind}: the name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (name.includes(".")) {
    throw new RangeError(`register${kind}: the name can't contain ".", got "${name}"`);
  }
  if (name in owner && !Object.hasOwn(owner, name)) {
    throw new Error(
      `register${kind}: "${name}" is already a method or property of ${owner.constructor.name}`,
    );
  }
}

/** Options of {@linkcode Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /** Whether keys must match exactly (default true); mismatched shapes are an error either way. */
  strict?: boolean;
}

/** What {@linkcode Module.loadStateDict} reports: keys the model has that the dict lacked, and the reverse. */
export interface LoadStateDictResult {
  /** Keys of the model absent from the state dict. */
  missingKeys: string[];
  /** Keys of the state dict the model does not have. */
  unexpectedKeys: string[];
}

/** A state dict: tensors by dotted name, e.g. `{ "0.weight": ..., "1.running_mean": ... }`. */
export type StateDict = Record<string, Tensor>;

/** Options of {@linkcode Module.stateDict}. */
export interface StateDictOptions {
  /** Return the parameters and buffers themselves instead of detached aliases (PyTorch's `keep_vars`). */
  keepVars?: boolean;
}

/**
 * The base class of every layer and model. Subclasses call `super()`, assign their parameters, buffers and
 * submodules as fields, and implement `forward`. Only public fields register (a `#private` field holding a
 * module or tensor is invisible to `parameters()`), and a plain tensor that does not require grad is just an
 * attribute: register it with `registerBuffer` to have it saved and moved.
 *
 * @example
 * ```ts
 * import { nn, randn, type Tensor } from "../../mod.ts";
 *
 * class MLP extends nn.Module {
 *   fc1 = new nn.Linear(4, 8);
 *   act = new nn.ReLU();
 *   fc2 = new nn.Linear(8, 2);
 *   forward(x: Tensor): Tensor {
 *     return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
 *   }
 * }
 * const model = new MLP();
 * console.log(Object.keys(model.stateDict())); // ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
 * const y = model.forward(randn([3, 4])); // shape [3, 2]
 * ```
 */
export abstract class Module {
  /** Whether the module is in training mode (see {@linkcode Module.train} and {@linkcode Module.eval}). */
  training = true;

  constructor() {
    const state: ModuleState = {
      kinds: new Map(),
      nonPersistent: new Set(),
      preHooks: new Map(),
      forwardWrapped: false,
    };
    // Fields assigned after super() (class fields and `this.x = ...`) go through the proxy's
    // defineProperty trap, which registers modules and parameters by name in assignment order. Methods run
    // with `this` bound to the proxy, so Module itself has no #private members (subclasses may: theirs are
    // installed on the proxy); reads have no trap and cost an ordinary property access.
    const proxy = new Proxy(this, {
      defineProperty(target, key, desc) {
        if (typeof key === "string" && "value" in desc) classify(state, key, desc.value);
        return Reflect.defineProperty(target, key, desc);
      },
      deleteProperty(target, key) {
        if (typeof key === "string") {
          state.kinds.delete(key);
          state.nonPersistent.delete(key);
        }
        return Reflect.deleteProperty(target, key);
      },
    });
    states.set(this, state);
    states.set(proxy, state);
    return proxy;
  }

  /**
   * The computation of the module; subclasses implement it with their own signature, e.g.
   * `forward(x: Tensor): Tensor`.
   */
  abstract forward(...args: never[]): unknown;

  // ---------------------------------------------------------------- registration

  /**
   * Registers `t` as a parameter named `name` and assigns it to `this[name]`. A tensor is marked
   * `requiresGrad` (set it to false afterwards to freeze it); `null` registers an absent parameter (like a
   * layer's `bias` when built without one). Returns `t`.
   *
   * @example
   * ```ts
   * import { nn, type Tensor, zeros } from "../../mod.ts";
   * class Scale extends nn.Module {
   *   declare gain: Tensor;
   *   constructor() {
   *     super();
   *     this.registerParameter("gain", zeros([1]));
   *   }
   *   forward(x: Tensor): Tensor {
   *     return x.mul(this.gain);
   *   }
   * }
   * ```
   */
  registerParameter<T extends Tensor | null>(name: string, t: T): T {
    checkName("Parameter", name, this);
    if (t !== null) {
      if (!(t instanceof Tensor)) {
        throw new TypeError(`registerParameter: "${name}" must be a Tensor or null, got ${describe(t)}`);
      }
      if (!t.isLeaf) {
        throw new TypeError(
          `registerParameter: "${name}" must be a leaf tensor (it was computed by ${t.gradFn?.name}); use detach()`,
        );
      }
      if (!isFloating(t.dtype)) {
        throw new TypeError(`registerParameter: "${name}" must have a floating point dtype, got ${t.dtype}`);
      }
      t.requiresGrad = true;
    }
    const state = stateOf(this);
    state.kinds.delete(name);
    state.kinds.set(name, "parameter");
    (this as Record<string, unknown>)[name] = t;
    return t;
  }

  /**
   * Registers `t` as a buffer (state that is not trained, like BatchNorm's `running_mean`) and assigns it to
   * `this[name]`. Buffers move with `to()` and are saved by `stateDict()` unless `persistent` is false.
   * Returns `t`.
   *
   * @example
   * ```ts
   * import { nn, type Tensor, zeros } from "../../mod.ts";
   * class Counter extends nn.Module {
   *   constructor() {
   *     super();
   *     this.registerBuffer("count", zeros([1]));
   *   }
   *   forward(x: Tensor): Tensor {
   *     return x;
   *   }
   * }
   * ```
   */
  registerBuffer<T extends Tensor | null>(name: string, t: T, { persistent = true } = {}): T {
    checkName("Buffer", name, this);
    if (t !== null && !(t instanceof Tensor)) {
      throw new TypeError(`registerBuffer: "${name}" must be a Tensor or null, got ${describe(t)}`);
    }
    const state = stateOf(this);
    state.kinds.delete(name);
    state.kinds.set(name, "buffer");
    if (persistent) state.nonPersistent.delete(name);
    else state.nonPersistent.add(name);
    (this as Record<string, unknown>)[name] = t;
    return t;
  }

  /**
   * Registers `m` as a submodule named `name` (assigning a module to a field does the same) and assigns it to
   * `this[name]`. Returns `m`.
   *
   * @example
   * ```ts
   * import { nn, type Tensor } from "../../mod.ts";
   * class Wrapper extends nn.Module {
   *   constructor(inner: nn.Module) {
   *     super();
   *     this.registerModule("inner", inner);
   *   }
   *   forward(x: Tensor): Tensor {
   *     return x;
   *   }
   * }
   * ```
   */
  registerModule<M extends Module | null>(name: string, m: M): M {
    checkName("Module", name, this);
    if (m !== null && !(m instanceof Module)) {
      throw new TypeError(`registerModule: "${name}" must be a Module or null, got ${describe(m)}`);
    }
    const state = stateOf(this);
    state.kinds.delete(name);
    state.kinds.set(name, "module");
    (this as Record<string, unknown>)[name] = m;
    return m;
  }

  /**
   * Registers `hook` to run before every call of this module's `forward` (including calls made by a parent,
   * such as {@linkcode Sequential}), as PyTorch's `register_forward_pre_hook`. The hook gets the module and
   * the arguments and may return new arguments. Returns a handle whose `remove()` unregisters it. Pruning
   * (`nn.utils.prune`) uses it to recompute `weight = weight_orig * weight_mask` before each forward.
   *
   * @example
   * ```ts
   * import { nn, randn } from "../../mod.ts";
   * const lin = new nn.Linear(3, 2);
   * let calls = 0;
   * const handle = lin.registerForwardPreHook(() => {
   *   calls++;
   * });
   * lin.forward(randn([4, 3])); // calls === 1
   * handle.remove();
   * lin.forward(randn([4, 3])); // calls is still 1
   * ```
   */
  registerForwardPreHook(hook: ForwardPreHook): RemovableHandle {
    if (typeof hook !== "function") {
      throw new TypeError(`registerForwardPreHook: expected a function, got ${describe(hook)}`);
    }
    const state = stateOf(this);
    const hooks = state.preHooks;
    if (!state.forwardWrapped) {
      state.forwardWrapped = true;
      // `forward` is the subclass's method: an own property on the instance wraps it once, so every caller
      // (a parent module's forward included) runs the hooks; with no hooks left it only forwards the call.
      const inner = (this as unknown as { forward: (...a: unknown[]) => unknown }).forward;
      Object.defineProperty(this, "forward", {
        value: function (this: Module, ...args: unknown[]) {
          for (const h of [...hooks.values()]) {
            const out = h(this, args);
            if (out !== undefined) args = Array.isArray(out) ? out : [out];
          }
          return inner.apply(this, args);
        },
        writable: true,
        configurable: true,
        enumerable: false,
      });
    }
    const id = nextHookId++;
    hooks.set(id, hook);
    return { id, remove: () => void hooks.delete(id) };
  }

  // ---------------------------------------------------------------- traversal

  /**
   * Immediate submodules with their names, in registration order.
   *
   * @example
   * ```ts
   * import { nn } from "../../mod.ts";
   * const model = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU());
   * for (const [name, m] of model.namedChildren()) console.log(name, m.toString());
   * ```
   */
  *namedChildren(): Generator<[string, Module]> {
    const seen = new Set<Module>();
    for (const [name, m] of entries<Module>(this, "module")) {
      if (seen.has(m)) continue;
      seen.add(m);
      yield [name, m];
    }
  }

  /** Immediate submodules, in registration order. */
  *children(): Generator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /**
   * This module and every module under it, depth first, with dotted names ("" for this one). A module
   * reachable twice is listed once.
   *
   * @example
   * ```ts
   * import { nn } from "../../mod.ts";
   * const model = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU());
   * console.log([...model.namedModules()].map(([n]) => n)); // ["", "0", "1"]
   * ```
   */
  *namedModules(prefix = "", memo: Set<Module> = new Set()): Generator<[string, Module]> {
    if (memo.has(this)) return;
    memo.add(this);
    yield [prefix, this];
    for (const [name, m] of entries<Module>(this, "module")) {
      yield* m.namedModules(prefix ? `${prefix}.${name}` : name, memo);
    }
  }

  /** This module and every module under it, depth first. */
  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /**
   * Parameters with dotted names (`"0.weight"`), this module's first, then each child's, in registration
   * order; a parameter shared by two modules is listed once. `recurse: false` lists only this module's.
   *
   * @example
   * ```ts
   * import { nn } from "../../mod.ts";
   * const lin = new nn.Linear(3, 2);
   * for (const [name, p] of lin.namedParameters()) console.log(name, p.shape); // weight [2, 3], bias [2]
   * ```
   */
  *namedParameters(prefix = "", recurse = true): Generator<[string, Tensor]> {
    yield* namedTensors(this, "parameter", prefix, recurse);
  }

  /** Parameters (see {@linkcode Module.namedParameters}). */
  *parameters(recurse = true): Generator<Tensor> {
    for (const [, p] of this.namedParameters("", recurse)) yield p;
  }

  /** Buffers with dotted names (`"1.running_mean"`), in the order of {@linkcode Module.namedParameters}. */
  *namedBuffers(prefix = "", recurse = true): Generator<[string, Tensor]> {
    yield* namedTensors(this, "buffer", prefix, recurse);
  }

  /** Buffers (see {@linkcode Module.namedBuffers}). */
  *buffers(recurse = true): Generator<Tensor> {
    for (const [, b] of this.namedBuffers("", recurse)) yield b;
  }

  /**
   * The number of parameter elements (shared parameters counted once); `trainableOnly` counts only those
   * with `requiresGrad`.
   *
   * @example
   * ```ts
   * import { nn } from "../../mod.ts";
   * new nn.Linear(3, 2).numParameters(); // 8
   * ```
   */
  numParameters({ trainableOnly = false }: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!trainableOnly || p.requiresGrad) n += p.size;
    return n;
  }

  /**
   * Calls `fn` on every submodule (children first, recursively) and then on this module; returns this.
   *
   * @example
   * ```ts
   * import { nn } from "../../mod.ts";
   * const model = new nn.Sequential(new nn.Linear(2, 3), new nn.Linear(3, 1));
   * model.apply((m) => {
   *   if (m instanceof nn.Linear) nn.init.zeros_(m.weight);
   * });
   * ```
   */
  apply(fn: (m: Module) => void): this {
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  // ---------------------------------------------------------------- modes

  /**
   * Sets training mode (`mode = true`) or evaluation mode on this module and every submodule: dropout and
   * batch norm behave differently. Returns this.
   *
   * @example
   * ```ts
   * import { nn } from "../../mod.ts";
   * const model = new nn.Sequential(new nn.Linear(2, 2), new nn.Dropout(0.5));
   * model.eval(); // dropout is the identity now
   * model.train(); // and back
   * ```
   */
  train(mode = true): this {
    if (typeof mode !== "boolean") {
      throw new TypeError(`train: mode must be a boolean, got ${describe(mode)}`);
    }
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: `train(false)`. Returns this. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Sets `requiresGrad` on every parameter (false freezes the module). Returns this.
   *
   * @example
   * ```ts
   * import { nn } from "../../mod.ts";
   * const backbone = new nn.Linear(4, 4).requiresGrad_(false);
   * ```
   */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad = requiresGrad;
    return this;
  }

  /**
   * Drops the gradients of every parameter (disposing them, and leaving `.grad` null, like PyTorch 2's
   * `set_to_none`).
   *
   * @example
   * ```ts
   * import { nn, randn } from "../../mod.ts";
   * const lin = new nn.Linear(3, 1);
   * lin.forward(randn([4, 3])).sum().backward();
   * lin.zeroGrad(); // lin.weight.grad === null
   * ```
   */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  // ---------------------------------------------------------------- devices and dtypes

  /**
   * Moves every parameter and buffer (and gradient) to a device and/or casts the floating point ones to a
   * dtype, in place: the tensors keep their identity, so an optimizer built before stays valid. Reading
   * WebGPU data back to the CPU waits, so that direction is `await model.cpu()`. Returns this.
   *
   * @example
   * ```ts
   * import { gpu, nn } from "../../mod.ts";
   * const model = new nn.Linear(3, 1);
   * const w = model.weight;
   * if (await gpu.isAvailable()) model.to("webgpu"); // model.weight === w, now on WebGPU
   * ```
   */
  to(target: Device | DType | { device?: Device; dtype?: DType }): this {
    const { device, dtype } = splitTarget(target);
    const tensors = allTensors(this);
    if (device) {
      const remote = device === "cpu" ? tensors.find((t) => t.device !== "cpu") : undefined;
      if (remote) {
        throw new Error(
          `Module.to("${device}"): reading ${remote.device} tensors back waits for the device, so it is async: ` +
            "use `await model.cpu()`",
        );
      }
    }
    noGrad(() => {
      for (const t of tensors) {
        const castTo = dtype && isFloating(t.dtype) && isFloating(dtype) && t.dtype !== dtype
          ? dtype
          : undefined;
        const moveTo = device && t.device !== device ? device : undefined;
        if (!castTo && !moveTo) continue;
        t.replaceData_(t.to({ device: moveTo, dtype: castTo }));
      }
    });
    return this;
  }

  /**
   * Moves every parameter, buffer and gradient to the CPU in place (reading WebGPU data back, hence async).
   * Returns this.
   *
   * @example
   * ```ts
   * import { nn } from "../../mod.ts";
   * const model = await new nn.Linear(3, 1).cpu();
   * ```
   */
  async cpu(): Promise<this> {
    for (const t of allTensors(this)) {
      if (t.device === "cpu") continue;
      t.replaceData_(await t.cpu());
    }
    return this;
  }

  // ---------------------------------------------------------------- state dicts

  /**
   * The parameters and persistent buffers by dotted name, in PyTorch's order and with its key names
   * (`"0.weight"`, `"1.running_mean"`, `"1.num_batches_tracked"`). The values are detached aliases sharing the
   * tensors' storage (dispose them when done, or call inside `tidy`); `keepVars` returns the tensors
   * themselves.
   *
   * @example
   * ```ts
   * import { nn } from "../../mod.ts";
   * const model = new nn.Sequential(new nn.Linear(2, 3), new nn.BatchNorm1d(3));
   * console.log(Object.keys(model.stateDict()));
   * // ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"]
   * ```
   */
  stateDict({ keepVars = false }: StateDictOptions = {}): StateDict {
    const out: StateDict = {};
    for (const [key, t] of stateEntries(this)) out[key] = keepVars ? t : t.detach();
    return out;
  }

  /**
   * Copies the values of a state dict into the parameters and buffers, in place (converting device and dtype
   * as needed; WebGPU values going to a CPU model must be read first with `await t.cpu()`). With `strict`
   * (the default) missing and unexpected keys are an error; shape mismatches always are. Nothing is copied
   * when there is an error. Returns the missing and unexpected keys.
   *
   * @example
   * ```ts
   * import { nn } from "../../mod.ts";
   * const a = new nn.Linear(3, 2);
   * const b = new nn.Linear(3, 2);
   * b.loadStateDict(a.stateDict()); // b now computes what a does
   * ```
   */
  loadStateDict(stateDict: StateDict, { strict = true }: LoadStateDictOptions = {}): LoadStateDictResult {
    if (stateDict === null || typeof stateDict !== "object") {
      throw new TypeError(`loadStateDict: expected an object of tensors, got ${describe(stateDict)}`);
    }
    const own = stateEntries(this);
    const ownKeys = new Set(own.map(([k]) => k));
    const missingKeys = own.map(([k]) => k).filter((k) => !Object.hasOwn(stateDict, k));
    const unexpectedKeys = Object.keys(stateDict).filter((k) => !ownKeys.has(k));
    const problems: string[] = [];
    if (strict && missingKeys.length) {
      problems.push(`Missing key(s) in state dict: ${missingKeys.map((k) => `"${k}"`).join(", ")}.`);
    }
    if (strict && unexpectedKeys.length) {
      problems.push(`Unexpected key(s) in state dict: ${unexpectedKeys.map((k) => `"${k}"`).join(", ")}.`);
    }
    const copies: [Tensor, Tensor][] = [];
    for (const [key, dst] of own) {
      if (!Object.hasOwn(stateDict, key)) continue;
      const src = stateDict[key];
      if (!(src instanceof Tensor)) {
        problems.push(`value for "${key}" is not a Tensor (got ${describe(src)}).`);
        continue;
      }
      if (src.isDisposed) {
        problems.push(`value for "${key}" was disposed.`);
        continue;
      }
      if (src.shape.length !== dst.shape.length || src.shape.some((d, i) => d !== dst.shape[i])) {
        problems.push(
          `size mismatch for ${key}: copying a tensor with shape ${
            fmtShape(src.shape)
          } from the state dict, ` +
            `the shape in the current model is ${fmtShape(dst.shape)}.`,
        );
        continue;
      }
      if (src.device !== dst.device && src.device !== "cpu") {
        problems.push(
          `"${key}" is on ${src.device} but the model's tensor is on ${dst.device}: read it first with \`await t.cpu()\`.`,
        );
        continue;
      }
      copies.push([dst, src]);
    }
    if (problems.length) {
      throw new Error(
        `Error(s) in loading state dict for ${this.constructor.name}:\n\t${problems.join("\n\t")}`,
      );
    }
    noGrad(() => {
      for (const [dst, src] of copies) {
        if (dst === src) continue;
        const moved = src.to({ device: dst.device, dtype: dst.dtype });
        dst.copy_(moved);
        if (moved !== src) moved.dispose();
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---------------------------------------------------------------- lifetime and display

  /**
   * Frees every parameter, gradient and buffer under this module. The module can't be used afterwards.
   *
   * @example
   * ```ts
   * import { nn } from "../../mod.ts";
   * const lin = new nn.Linear(3, 2);
   * lin.dispose();
   * ```
   */
  dispose(): void {
    for (const t of allTensors(this)) t.dispose();
    for (const p of this.parameters()) p.grad = null;
  }

  /** Disposes the module at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The module's own settings for `toString()`, e.g. `"inFeatures=3, outFeatures=2, bias=true"` (PyTorch's
   * `extra_repr`). Subclasses override it.
   */
  extraRepr(): string {
    return "";
  }

  /**
   * A readable tree of the module, like PyTorch's repr:
   * ```
   * Sequential(
   *   (0): Linear(inFeatures=2, outFeatures=3, bias=true)
   *   (1): ReLU()
   * )
   * ```
   */
  toString(): string {
    const extra = this.extraRepr();
    const lines = extra ? extra.split("\n") : [];
    for (const [name, m] of entries<Module>(this, "module")) {
      lines.push(`(${name}): ${indent(m.toString())}`);
    }
    const name = this.constructor.name;
    if (lines.length === 0) return `${name}()`;
    if (lines.length === 1 && extra && !extra.includes("\n")) return `${name}(${extra})`;
    return `${name}(\n  ${lines.join("\n  ")}\n)`;
  }

  /** Shown by `console.log`. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  /** Shown by `deno jupyter` notebooks: the tree and the number of parameters. */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    const text = this.toString();
    const n = this.numParameters();
    const trainable = this.numParameters({ trainableOnly: true });
    const count = `${n.toLocaleString("en-US")} parameters` +
      (trainable !== n ? ` (${trainable.toLocaleString("en-US")} trainable)` : "");
    const html = text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
    return { "text/plain": `${text}\n${count}`, "text/html": `<pre>${html}</pre><small>${count}</small>` };
  }
}

function classify(state: ModuleState, key: string, value: unknown): void {
  const kind = state.kinds.get(key);
  if (kind === undefined) {
    if (value instanceof Module) state.kinds.set(key, "module");
    else if (isParameterLike(value)) state.kinds.set(key, "parameter");
    return;
  }
  if (value === null || value === undefined) return;
  if (kind === "module" && !(value instanceof Module)) {
    throw new TypeError(
      `cannot assign ${describe(value)} as child module "${key}" (a Module or null expected)`,
    );
  }
  if (kind !== "module" && !(value instanceof Tensor)) {
    throw new TypeError(`cannot assign ${describe(value)} as ${kind} "${key}" (a Tensor or null expected)`);
  }
}

function indent(s: string): string {
  return s.split("\n").join("\n  ");
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (v instanceof Tensor) return v.toString();
  if (v instanceof Module) return v.constructor.name;
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return `${typeof v} ${String(v)}`;
}

function splitTarget(target: Device | DType | { device?: Device; dtype?: DType }): {
  device?: Device;
  dtype?: DType;
} {
  if (typeof target === "string") {
    if (target === "cpu" || target === "webgpu" || target.startsWith("webgpu:")) {
      return { device: checkDevice(target) };
    }
    return { dtype: checkDType(target) };
  }
  if (target === null || typeof target !== "object") {
    throw new TypeError(
      `Module.to: expected a device, a dtype or { device, dtype }, got ${describe(target)}`,
    );
  }
  return {
    device: target.device ? checkDevice(target.device) : undefined,
    dtype: target.dtype ? checkDType(target.dtype) : undefined,
  };
}

function entries<V>(m: Module, kind: Kind): [string, V][] {
  const out: [string, V][] = [];
  const self = m as unknown as Record<string, unknown>;
  for (const [name, k] of stateOf(m).kinds) {
    if (k !== kind) continue;
    const v = self[name];
    if (v !== null && v !== undefined) out.push([name, v as V]);
  }
  return out;
}

function* namedTensors(
  self: Module,
  kind: Kind,
  prefix: string,
  recurse: boolean,
): Generator<[string, Tensor]> {
  const seen = new Set<Tensor>();
  const mods: [string, Module][] = recurse ? [...self.namedModules(prefix)] : [[prefix, self]];
  for (const [modName, m] of mods) {
    for (const [name, t] of entries<Tensor>(m, kind)) {
      if (seen.has(t)) continue;
      seen.add(t);
      yield [modName ? `${modName}.${name}` : name, t];
    }
  }
}

/** Every distinct parameter, gradient and buffer under a module. */
function allTensors(self: Module): Tensor[] {
  const out = new Set<Tensor>();
  for (const p of self.parameters()) {
    out.add(p);
    if (p.grad && !p.grad.isDisposed) out.add(p.grad);
  }
  for (const b of self.buffers()) out.add(b);
  return [...out];
}

/** Parameters and persistent buffers with their state-dict keys, in PyTorch's order (not deduplicated). */
function stateEntries(self: Module): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  const walk = (m: Module, prefix: string) => {
    for (const [name, p] of entries<Tensor>(m, "parameter")) out.push([prefix + name, p]);
    const np = stateOf(m).nonPersistent;
    for (const [name, b] of entries<Tensor>(m, "buffer")) if (!np.has(name)) out.push([prefix + name, b]);
    for (const [name, c] of entries<Module>(m, "module")) walk(c, `${prefix}${name}.`);
  };
  walk(self, "");
  return out;
}
