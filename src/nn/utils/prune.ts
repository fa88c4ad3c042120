/**
 * `nn.utils.prune`: magnitude, random and structured pruning by masks, as PyTorch's `torch.nn.utils.prune`.
 *
 * Pruning parameter `name` of a module reparametrises it as PyTorch does: the original tensor becomes the
 * parameter `name + "_orig"` (the same tensor object, so an optimizer built before keeps working), the mask
 * becomes the buffer `name + "_mask"` (both are in `stateDict()` under those names), and `module[name]` is a
 * plain attribute, `orig * mask`, recomputed by a forward pre-hook before every `forward`. The gradient of
 * `name + "_orig"` is therefore zero wherever the mask is 0. Pruning the same parameter again composes masks
 * (PyTorch's `PruningContainer`): the new amount applies to the units that are still unpruned. {@linkcode remove}
 * makes the pruning permanent: `module[name]` becomes an ordinary parameter again holding `orig * mask`.
 *
 * Masks are computed on the host from the tensors' values (a read, hence `async`); the forward and backward
 * passes run on the module's device.
 *
 * `amount` is either a fraction of the units in [0, 1) or an integer count (PyTorch's `float` and `int`;
 * JavaScript has one number type, so `1` means one unit, as PyTorch's `int` 1: prune everything with the
 * count, e.g. `t.size`). A fraction is turned into a count with Python's `round` (half to even).
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../../mod.ts";
 * const lin = new nn.Linear(8, 4);
 * await nn.utils.prune.l1Unstructured(lin, "weight", { amount: 0.5 });
 * console.log(Object.keys(lin.stateDict())); // ["bias", "weight_orig", "weight_mask"]
 * lin.forward(randn([2, 8])); // uses weight_orig * weight_mask
 * nn.utils.prune.remove(lin, "weight"); // lin.weight is a parameter again, with 16 zeros
 * ```
 * @module
 */
import { noGrad } from "../../autograd/grad_mode.ts";
import { tensor } from "../../tensor/creation.ts";
import { nextFloat } from "../../tensor/random.ts";
import { keep } from "../../tensor/scope.ts";
import { fmtShape } from "../../tensor/shape.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { Module, type RemovableHandle } from "../module.ts";

/** How a method selects what to prune, which decides how it composes with earlier masks. */
export type PruningType = "unstructured" | "structured" | "global";

/** Options of the methods that prune an `amount` of units. */
export interface AmountOptions {
  /** A fraction of the (still unpruned) units in [0, 1), or an integer count of them. */
  amount: number;
}

/** Options of {@linkcode l1Unstructured} and {@linkcode randomUnstructured}. */
export interface UnstructuredOptions extends AmountOptions {
  /**
   * Scores that rank the units instead of the parameter's own values (same shape as the parameter);
   * ignored by random pruning.
   */
  importanceScores?: Tensor;
}

/** Options of {@linkcode lnStructured}. */
export interface LnStructuredOptions extends UnstructuredOptions {
  /** The order of the norm that ranks channels: a number (`1`, `2`, `Infinity`, `-Infinity`, `0`) or "fro". */
  n: number | "fro";
  /** The dim whose slices (channels) are pruned: 0 prunes output channels of Linear and Conv2d (default -1). */
  dim?: number;
}

/** Options of {@linkcode randomStructured}. */
export interface RandomStructuredOptions extends AmountOptions {
  /** The dim whose slices are pruned (default -1). */
  dim?: number;
}

/** A pruning method class, as passed to {@linkcode globalUnstructured} (`L1Unstructured`, `RandomUnstructured`). */
export type PruningMethodClass = new (options: AmountOptions) => PruningMethod;

/** Options of {@linkcode globalUnstructured}. */
export interface GlobalUnstructuredOptions extends AmountOptions {
  /** An unstructured method class: {@linkcode L1Unstructured} or {@linkcode RandomUnstructured}. */
  pruningMethod: PruningMethodClass;
  /** Scores by `[module, name]` pair (the same array objects as in `parameters`) replacing the values. */
  importanceScores?: Map<readonly [Module, string], Tensor>;
}

/**
 * The base of the pruning methods (PyTorch's `BasePruningMethod`): computes a new mask from a tensor's
 * values and the mask it already has. The functions of this module ({@linkcode l1Unstructured}, ...) build
 * the method and apply it; the classes are public for {@linkcode globalUnstructured} and for custom methods.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const method = new nn.utils.prune.L1Unstructured({ amount: 2 });
 * const mask = method.computeMask(new Float32Array([3, -1, 0.5, 2]), [4], new Float32Array(4).fill(1));
 * // mask: [1, 0, 0, 1]
 * ```
 */
export abstract class PruningMethod {
  /** How the method composes with an existing mask (see {@linkcode PruningType}). */
  abstract readonly pruningType: PruningType;
  /** The dim a structured method prunes along. */
  readonly dim: number = -1;

  /**
   * The mask for values `t` (row-major, of `shape`), given `defaultMask` (what is already pruned, in the
   * layout of `t`): 1 keeps a value, 0 prunes it.
   */
  abstract computeMask(t: Float32Array, shape: readonly number[], defaultMask: Float32Array): Float32Array;
}

/**
 * Prunes the `amount` units of smallest absolute value (PyTorch's `L1Unstructured`). Ties go to the lower
 * flat index.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * new nn.utils.prune.L1Unstructured({ amount: 0.5 }).computeMask(
 *   new Float32Array([3, -1, 0.5, 2]),
 *   [4],
 *   new Float32Array(4).fill(1),
 * ); // [1, 0, 0, 1]
 * ```
 */
export class L1Unstructured extends PruningMethod {
  /** Unstructured: composes over the still-unpruned entries. */
  readonly pruningType = "unstructured";
  /** The fraction or count to prune. */
  readonly amount: number;
  /** A method that prunes `amount` (a fraction in [0, 1) or an integer count). */
  constructor({ amount }: AmountOptions) {
    super();
    this.amount = checkAmount("L1Unstructured", amount);
  }
  /** See {@linkcode PruningMethod.computeMask}. */
  computeMask(t: Float32Array, _shape: readonly number[], defaultMask: Float32Array): Float32Array {
    const k = countToPrune("L1Unstructured", this.amount, t.length);
    const mask = defaultMask.slice();
    for (const i of smallest(t.length, k, (i) => Math.abs(t[i]))) mask[i] = 0;
    return mask;
  }
}

/**
 * Prunes `amount` units chosen at random, drawn from the seeded global generator (`manualSeed`), as
 * PyTorch's `RandomUnstructured`.
 *
 * @example
 * ```ts
 * import { manualSeed, nn } from "../../../mod.ts";
 * manualSeed(0);
 * new nn.utils.prune.RandomUnstructured({ amount: 2 }).computeMask(
 *   new Float32Array(4),
 *   [4],
 *   new Float32Array(4).fill(1),
 * ); // two zeros
 * ```
 */
export class RandomUnstructured extends PruningMethod {
  /** Unstructured: composes over the still-unpruned entries. */
  readonly pruningType = "unstructured";
  /** The fraction or count to prune. */
  readonly amount: number;
  /** A method that prunes `amount` (a fraction in [0, 1) or an integer count). */
  constructor({ amount }: AmountOptions) {
    super();
    this.amount = checkAmount("RandomUnstructured", amount);
  }
  /** See {@linkcode PruningMethod.computeMask}. */
  computeMask(t: Float32Array, _shape: readonly number[], defaultMask: Float32Array): Float32Array {
    const k = countToPrune("RandomUnstructured", this.amount, t.length);
    const prob = Float64Array.from({ length: t.length }, () => nextFloat());
    const mask = defaultMask.slice();
    for (const i of smallest(t.length, k, (i) => -prob[i])) mask[i] = 0;
    return mask;
  }
}

/**
 * Prunes whole channels (slices along `dim`) of smallest Ln norm (PyTorch's `LnStructured`): with `dim: 0`
 * the output units of a Linear or the filters of a Conv2d.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * new nn.utils.prune.LnStructured({ amount: 1, n: 2, dim: 0 }).computeMask(
 *   new Float32Array([1, 1, 0.1, 0.1]),
 *   [2, 2],
 *   new Float32Array(4).fill(1),
 * ); // [1, 1, 0, 0]: the second row has the smaller L2 norm
 * ```
 */
export class LnStructured extends PruningMethod {
  /** Structured: composes over the channels that are not entirely pruned. */
  readonly pruningType = "structured";
  /** The fraction or count of channels to prune. */
  readonly amount: number;
  /** The order of the norm. */
  readonly n: number | "fro";
  /** The dim whose slices are channels. */
  override readonly dim: number;
  /** A method that prunes `amount` channels along `dim` by their `n`-norm. */
  constructor({ amount, n, dim = -1 }: AmountOptions & { n: number | "fro"; dim?: number }) {
    super();
    this.amount = checkAmount("LnStructured", amount);
    if (n !== "fro" && (typeof n !== "number" || Number.isNaN(n))) {
      throw new TypeError(`LnStructured: n must be a number (Infinity allowed) or "fro", got ${String(n)}`);
    }
    if (!Number.isInteger(dim)) throw new TypeError(`LnStructured: dim must be an integer, got ${dim}`);
    this.n = n;
    this.dim = dim;
  }
  /** See {@linkcode PruningMethod.computeMask}. */
  computeMask(t: Float32Array, shape: readonly number[], defaultMask: Float32Array): Float32Array {
    const dim = structuredDim("LnStructured", shape, this.dim);
    const channels = shape[dim];
    const k = countToPrune("LnStructured", this.amount, channels);
    if (k === 0) return defaultMask.slice();
    const norms = channelNorms(t, shape, dim, this.n === "fro" ? 2 : this.n);
    const pruned = new Set(smallest(channels, k, (c) => norms[c]));
    return channelMask(shape, dim, (c) => !pruned.has(c), defaultMask);
  }
}

/**
 * Prunes `amount` whole channels along `dim` chosen at random (PyTorch's `RandomStructured`), from the seeded
 * global generator.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * new nn.utils.prune.RandomStructured({ amount: 1, dim: 0 }).computeMask(
 *   new Float32Array(4),
 *   [2, 2],
 *   new Float32Array(4).fill(1),
 * ); // one of the two rows is zero
 * ```
 */
export class RandomStructured extends PruningMethod {
  /** Structured: composes over the channels that are not entirely pruned. */
  readonly pruningType = "structured";
  /** The fraction or count of channels to prune. */
  readonly amount: number;
  /** The dim whose slices are channels. */
  override readonly dim: number;
  /** A method that prunes `amount` random channels along `dim`. */
  constructor({ amount, dim = -1 }: AmountOptions & { dim?: number }) {
    super();
    this.amount = checkAmount("RandomStructured", amount);
    if (!Number.isInteger(dim)) throw new TypeError(`RandomStructured: dim must be an integer, got ${dim}`);
    this.dim = dim;
  }
  /** See {@linkcode PruningMethod.computeMask}. */
  computeMask(_t: Float32Array, shape: readonly number[], defaultMask: Float32Array): Float32Array {
    const dim = structuredDim("RandomStructured", shape, this.dim);
    const channels = shape[dim];
    const k = countToPrune("RandomStructured", this.amount, channels);
    if (k === 0) return defaultMask.slice();
    const prob = Float64Array.from({ length: channels }, () => nextFloat());
    const pruned = new Set(smallest(channels, k, (c) => prob[c]));
    return channelMask(shape, dim, (c) => !pruned.has(c), defaultMask);
  }
}

/**
 * Applies a given mask (PyTorch's `CustomFromMask`): the new mask is the old one times `mask`.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * new nn.utils.prune.CustomFromMask(new Float32Array([1, 0])).computeMask(
 *   new Float32Array(2),
 *   [2],
 *   new Float32Array([0, 1]),
 * ); // [0, 0]
 * ```
 */
export class CustomFromMask extends PruningMethod {
  /** Global: applies to the whole tensor. */
  readonly pruningType = "global";
  /** The mask to apply, row-major. */
  readonly mask: Float32Array;
  /** A method that multiplies the current mask by `mask`. */
  constructor(mask: Float32Array) {
    super();
    this.mask = mask;
  }
  /** See {@linkcode PruningMethod.computeMask}. */
  computeMask(t: Float32Array, shape: readonly number[], defaultMask: Float32Array): Float32Array {
    if (this.mask.length !== t.length) {
      throw new RangeError(
        `customFromMask: the mask has ${this.mask.length} elements but the tensor has shape ${
          fmtShape(shape)
        }`,
      );
    }
    return defaultMask.map((m, i) => m * this.mask[i]);
  }
}

/**
 * Prunes nothing: a mask of ones (PyTorch's `Identity` method), useful to reparametrise a module uniformly.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * new nn.utils.prune.IdentityPruning().computeMask(new Float32Array(2), [2], new Float32Array([1, 1])); // [1, 1]
 * ```
 */
export class IdentityPruning extends PruningMethod {
  /** Unstructured. */
  readonly pruningType = "unstructured";
  /** See {@linkcode PruningMethod.computeMask}. */
  computeMask(_t: Float32Array, _shape: readonly number[], defaultMask: Float32Array): Float32Array {
    return defaultMask.slice();
  }
}

// ---------------------------------------------------------------- applying methods to modules

interface PrunedTensor {
  methods: PruningMethod[];
  hook: RemovableHandle;
}

const pruned = new WeakMap<Module, Map<string, PrunedTensor>>();

type Fields = Record<string, unknown>;

/**
 * Prunes `amount` of the entries of parameter `name` with the smallest absolute value (PyTorch's
 * `l1_unstructured`). Returns the module.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const lin = new nn.Linear(10, 10);
 * await nn.utils.prune.l1Unstructured(lin, "weight", { amount: 0.3 }); // 30 of 100 weights
 * await nn.utils.prune.l1Unstructured(lin, "bias", { amount: 3 }); // 3 of 10 biases
 * ```
 */
export function l1Unstructured(
  module: Module,
  name: string,
  { amount, importanceScores }: UnstructuredOptions,
): Promise<Module> {
  return applyMethod("l1Unstructured", module, name, new L1Unstructured({ amount }), importanceScores);
}

/**
 * Prunes `amount` of the entries of parameter `name` at random (seeded by `manualSeed`), as PyTorch's
 * `random_unstructured`. Returns the module.
 *
 * @example
 * ```ts
 * import { manualSeed, nn } from "../../../mod.ts";
 * manualSeed(0);
 * const lin = new nn.Linear(10, 10);
 * await nn.utils.prune.randomUnstructured(lin, "weight", { amount: 0.5 }); // 50 random zeros in the mask
 * ```
 */
export function randomUnstructured(
  module: Module,
  name: string,
  { amount }: AmountOptions,
): Promise<Module> {
  return applyMethod("randomUnstructured", module, name, new RandomUnstructured({ amount }));
}

/**
 * Prunes `amount` channels of parameter `name` along `dim` with the smallest `n`-norm (PyTorch's
 * `ln_structured`): `dim: 0` removes whole output units of a Linear or filters of a Conv2d. Returns the
 * module.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const conv = new nn.Conv2d(3, 8, 3);
 * await nn.utils.prune.lnStructured(conv, "weight", { amount: 0.5, n: 2, dim: 0 }); // 4 of 8 filters
 * ```
 */
export function lnStructured(
  module: Module,
  name: string,
  { amount, n, dim = -1, importanceScores }: LnStructuredOptions,
): Promise<Module> {
  return applyMethod("lnStructured", module, name, new LnStructured({ amount, n, dim }), importanceScores);
}

/**
 * Prunes `amount` random channels of parameter `name` along `dim` (PyTorch's `random_structured`). Returns
 * the module.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const lin = new nn.Linear(4, 6);
 * await nn.utils.prune.randomStructured(lin, "weight", { amount: 2, dim: 0 }); // 2 of 6 rows
 * ```
 */
export function randomStructured(
  module: Module,
  name: string,
  { amount, dim = -1 }: RandomStructuredOptions,
): Promise<Module> {
  return applyMethod("randomStructured", module, name, new RandomStructured({ amount, dim }));
}

/**
 * Reparametrises parameter `name` with a mask of ones (PyTorch's `prune.identity`). Returns the module.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const lin = new nn.Linear(4, 2);
 * await nn.utils.prune.identity(lin, "weight"); // weight_orig and weight_mask (all ones)
 * ```
 */
export function identity(module: Module, name: string): Promise<Module> {
  return applyMethod("identity", module, name, new IdentityPruning());
}

/**
 * Prunes parameter `name` with a given mask (any shape-matching tensor; nonzero keeps), combined with the
 * mask it already has (PyTorch's `custom_from_mask`). Returns the module.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../../mod.ts";
 * const lin = new nn.Linear(2, 2);
 * await nn.utils.prune.customFromMask(lin, "weight", tensor([[1, 0], [0, 1]]));
 * ```
 */
export async function customFromMask(module: Module, name: string, mask: Tensor): Promise<Module> {
  if (!(mask instanceof Tensor)) {
    throw new TypeError(`customFromMask: mask must be a Tensor, got ${typeof mask}`);
  }
  const target = parameterOf("customFromMask", module, name);
  if (!sameShape(mask.shape, target.shape)) {
    throw new RangeError(
      `customFromMask: the mask has shape ${
        fmtShape(mask.shape)
      } but "${name}" of ${module.constructor.name} ` +
        `has shape ${fmtShape(target.shape)}`,
    );
  }
  const values = Float32Array.from(await mask.data(), (v) => (Number(v) !== 0 ? 1 : 0));
  return applyMethod("customFromMask", module, name, new CustomFromMask(values));
}

/**
 * Prunes the parameters `[module, name]` together (PyTorch's `global_unstructured`): all their entries are
 * ranked as one vector, so `amount` (a fraction or count of all the still-unpruned entries) falls where the
 * values are smallest, leaving layers with different sparsities. `pruningMethod` must be unstructured
 * ({@linkcode L1Unstructured} or {@linkcode RandomUnstructured}).
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const model = new nn.Sequential(new nn.Linear(8, 8), new nn.ReLU(), new nn.Linear(8, 2));
 * await nn.utils.prune.globalUnstructured(
 *   [[model.at(0), "weight"], [model.at(2), "weight"]],
 *   { pruningMethod: nn.utils.prune.L1Unstructured, amount: 0.5 },
 * ); // 40 of the 80 weights, wherever the smallest are
 * ```
 */
export async function globalUnstructured(
  parameters: Iterable<readonly [Module, string]>,
  { pruningMethod, amount, importanceScores }: GlobalUnstructuredOptions,
): Promise<void> {
  const pairs = [...parameters];
  if (pairs.length === 0) throw new RangeError("globalUnstructured: parameters is empty");
  if (typeof pruningMethod !== "function" || !(pruningMethod.prototype instanceof PruningMethod)) {
    throw new TypeError(
      "globalUnstructured: pruningMethod must be a pruning method class such as nn.utils.prune.L1Unstructured",
    );
  }
  const unstructured = (why: string) =>
    new TypeError(
      `globalUnstructured: pruningMethod must be an "unstructured" method such as L1Unstructured or ` +
        `RandomUnstructured; ${pruningMethod.name} ${why}`,
    );
  let globalMethod: PruningMethod;
  try {
    globalMethod = new pruningMethod({ amount });
  } catch (e) {
    if (e instanceof RangeError) throw e; // a bad amount
    throw unstructured(`can't be built from { amount } (${(e as Error).message})`);
  }
  if (globalMethod.pruningType !== "unstructured") throw unstructured(`is "${globalMethod.pruningType}"`);
  const scores: Float32Array[] = [];
  const masks: Float32Array[] = [];
  for (const pair of pairs) {
    const [module, name] = pair;
    const target = parameterOf("globalUnstructured", module, name);
    const given = importanceScores?.get(pair);
    scores.push(await importance("globalUnstructured", module, name, target, given));
    masks.push(await currentMask(module, name, target.size));
  }
  const total = scores.reduce((n, s) => n + s.length, 0);
  const all = new Float32Array(total);
  const defaultMask = new Float32Array(total);
  let at = 0;
  scores.forEach((s, i) => {
    all.set(s, at);
    defaultMask.set(masks[i], at);
    at += s.length;
  });
  const finalMask = combine(globalMethod, all, [total], defaultMask);
  at = 0;
  for (let i = 0; i < pairs.length; i++) {
    const [module, name] = pairs[i];
    const n = scores[i].length;
    const method = new CustomFromMask(finalMask.slice(at, at + n));
    install(module, name, method, method.computeMask(scores[i], [n], masks[i]));
    at += n;
  }
}

/**
 * Makes the pruning of parameter `name` permanent (PyTorch's `prune.remove`): `name` becomes an ordinary
 * parameter again (the same tensor object as `name + "_orig"`, now holding `orig * mask`), and the
 * `_orig`/`_mask` entries and the forward pre-hook are gone. Returns the module.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const lin = new nn.Linear(4, 4);
 * await nn.utils.prune.l1Unstructured(lin, "weight", { amount: 0.5 });
 * nn.utils.prune.remove(lin, "weight");
 * console.log(Object.keys(lin.stateDict())); // ["bias", "weight"]
 * ```
 */
export function remove(module: Module, name: string): Module {
  const entry = pruned.get(module)?.get(name);
  if (!entry) {
    throw new Error(
      `remove: parameter "${name}" of ${
        module?.constructor?.name ?? typeof module
      } has to be pruned before ` +
        `its pruning can be removed`,
    );
  }
  const self = module as unknown as Fields;
  const orig = self[`${name}_orig`] as Tensor;
  const mask = self[`${name}_mask`] as Tensor;
  const requiresGrad = orig.requiresGrad;
  noGrad(() => orig.mul_(mask));
  entry.hook.remove();
  pruned.get(module)!.delete(name);
  const effective = self[name];
  delete self[name];
  if (effective instanceof Tensor && effective !== orig) effective.dispose();
  delete self[`${name}_orig`];
  delete self[`${name}_mask`];
  mask.dispose();
  module.registerParameter(name, orig);
  orig.requiresGrad = requiresGrad;
  return module;
}

/**
 * Whether `module` or any module under it has a pruned parameter (PyTorch's `prune.is_pruned`).
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const model = new nn.Sequential(new nn.Linear(4, 4));
 * nn.utils.prune.isPruned(model); // false
 * await nn.utils.prune.l1Unstructured(model.at(0), "weight", { amount: 2 });
 * nn.utils.prune.isPruned(model); // true
 * ```
 */
export function isPruned(module: Module): boolean {
  if (!(module instanceof Module)) throw new TypeError(`isPruned: expected a Module, got ${typeof module}`);
  for (const m of module.modules()) if ((pruned.get(m)?.size ?? 0) > 0) return true;
  return false;
}

/**
 * The pruning methods applied so far to parameter `name` of `module`, oldest first (PyTorch keeps them in a
 * `PruningContainer` hook); empty when it is not pruned.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const lin = new nn.Linear(4, 4);
 * await nn.utils.prune.l1Unstructured(lin, "weight", { amount: 0.5 });
 * nn.utils.prune.pruningMethods(lin, "weight").length; // 1
 * ```
 */
export function pruningMethods(module: Module, name: string): readonly PruningMethod[] {
  return [...(pruned.get(module)?.get(name)?.methods ?? [])];
}

/** One row of a {@linkcode SparsityReport}. */
export interface SparsityRow {
  /** The parameter's dotted name (`"1.weight"`; a pruned parameter under its own name, not `_orig`). */
  name: string;
  /** Number of entries. */
  total: number;
  /** Number of entries that are exactly zero (after the mask). */
  zeros: number;
  /** `zeros / total`. */
  sparsity: number;
}

/**
 * What {@linkcode sparsityReport} returns: a row per parameter and the overall figure, shown as a table in
 * `deno jupyter` and by `console.log`.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const report = new nn.utils.prune.SparsityReport([{ name: "weight", total: 8, zeros: 2, sparsity: 0.25 }]);
 * console.log(report.overall.sparsity); // 0.25
 * ```
 */
export class SparsityReport {
  /** One row per parameter, in `namedParameters()` order (a pruned one where its `_orig` is: after `bias`). */
  readonly rows: readonly SparsityRow[];
  /** All the reported parameters together, named "overall". */
  readonly overall: SparsityRow;

  /** A report over `rows`. */
  constructor(rows: SparsityRow[]) {
    this.rows = rows;
    const total = rows.reduce((n, r) => n + r.total, 0);
    const zeros = rows.reduce((n, r) => n + r.zeros, 0);
    this.overall = { name: "overall", total, zeros, sparsity: total ? zeros / total : 0 };
  }

  /** A plain-text table. */
  toString(): string {
    const all = [...this.rows, this.overall];
    const w = Math.max(9, ...all.map((r) => r.name.length));
    const line = (r: SparsityRow) =>
      `${r.name.padEnd(w)}  ${String(r.total).padStart(9)}  ${String(r.zeros).padStart(9)}  ${
        (r.sparsity * 100).toFixed(2).padStart(7)
      } %`;
    return [
      `${"parameter".padEnd(w)}  ${"total".padStart(9)}  ${"zeros".padStart(9)}  ${"sparsity".padStart(9)}`,
      ...this.rows.map(line),
      line(this.overall),
    ].join("\n");
  }

  /** Shown by `console.log`. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  /** Shown by `deno jupyter` notebooks: an HTML table. */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    const esc = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;");
    const tr = (r: SparsityRow, b = false) => {
      const c = (s: string, right = true) =>
        `<td style="text-align:${right ? "right" : "left"}">${b ? `<b>${s}</b>` : s}</td>`;
      return `<tr>${c(esc(r.name), false)}${c(r.total.toLocaleString("en-US"))}${
        c(r.zeros.toLocaleString("en-US"))
      }${c(`${(r.sparsity * 100).toFixed(2)} %`)}</tr>`;
    };
    const html =
      `<table><thead><tr><th>parameter</th><th>total</th><th>zeros</th><th>sparsity</th></tr></thead>` +
      `<tbody>${this.rows.map((r) => tr(r)).join("")}${tr(this.overall, true)}</tbody></table>`;
    return { "text/plain": this.toString(), "text/html": html };
  }
}

/**
 * Counts the zeros of every parameter of `model` (a pruned one through its mask, under its own name) and
 * overall. `weightsOnly` keeps only parameters named `weight`, as pruning tutorials report. Reads each
 * tensor once.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const model = new nn.Sequential(new nn.Linear(8, 8), new nn.ReLU(), new nn.Linear(8, 2));
 * await nn.utils.prune.l1Unstructured(model.at(0), "weight", { amount: 0.5 });
 * const report = await nn.utils.prune.sparsityReport(model);
 * console.log(report.toString()); // 0.weight: 32 of 64 zeros; overall ...
 * ```
 */
export async function sparsityReport(
  model: Module,
  { weightsOnly = false }: { weightsOnly?: boolean } = {},
): Promise<SparsityReport> {
  if (!(model instanceof Module)) {
    throw new TypeError(`sparsityReport: expected a Module, got ${typeof model}`);
  }
  const rows: SparsityRow[] = [];
  for (const [prefix, m] of model.namedModules()) {
    const prunedHere = pruned.get(m);
    for (const [pname, p] of m.namedParameters("", false)) {
      let name = pname;
      let values: ArrayLike<number | bigint>;
      const base = pname.endsWith("_orig") ? pname.slice(0, -5) : null;
      if (base !== null && prunedHere?.has(base)) {
        name = base;
        const mask = (m as unknown as Fields)[`${base}_mask`] as Tensor;
        const effective = noGrad(() => p.mul(mask));
        values = await effective.data();
        effective.dispose();
      } else {
        values = await p.data();
      }
      if (weightsOnly && name !== "weight") continue;
      let zeros = 0;
      for (let i = 0; i < values.length; i++) if (Number(values[i]) === 0) zeros++;
      rows.push({
        name: prefix ? `${prefix}.${name}` : name,
        total: values.length,
        zeros,
        sparsity: values.length ? zeros / values.length : 0,
      });
    }
  }
  return new SparsityReport(rows);
}

// ---------------------------------------------------------------- internals

async function applyMethod(
  op: string,
  module: Module,
  name: string,
  method: PruningMethod,
  importanceScores?: Tensor,
): Promise<Module> {
  const target = parameterOf(op, module, name);
  const scores = await importance(op, module, name, target, importanceScores);
  const defaultMask = await currentMask(module, name, target.size);
  install(module, name, method, combine(method, scores, target.shape, defaultMask));
  return module;
}

/** The tensor pruning reads: `name_orig` when already pruned, else the parameter `name` itself. */
function parameterOf(op: string, module: Module, name: string): Tensor {
  if (!(module instanceof Module)) {
    throw new TypeError(`${op}: expected a Module, got ${module === null ? "null" : typeof module}`);
  }
  if (typeof name !== "string") throw new TypeError(`${op}: name must be a string, got ${typeof name}`);
  const self = module as unknown as Fields;
  if (pruned.get(module)?.has(name)) return self[`${name}_orig`] as Tensor;
  const own = [...module.namedParameters("", false)].map(([n]) => n);
  if (!own.includes(name)) {
    throw new Error(
      `${op}: ${module.constructor.name} has no parameter "${name}" (its parameters: ${
        own.length ? own.map((n) => `"${n}"`).join(", ") : "none"
      })`,
    );
  }
  return self[name] as Tensor;
}

/** The values that rank units: given scores, or the current effective tensor (orig * mask). */
async function importance(
  op: string,
  module: Module,
  name: string,
  target: Tensor,
  given?: Tensor,
): Promise<Float32Array> {
  if (given !== undefined) {
    if (!(given instanceof Tensor)) throw new TypeError(`${op}: importanceScores must be a Tensor`);
    if (!sameShape(given.shape, target.shape)) {
      throw new RangeError(
        `${op}: importanceScores has shape ${fmtShape(given.shape)} but "${name}" has shape ${
          fmtShape(target.shape)
        }`,
      );
    }
  }
  // PyTorch ranks the current effective tensor (orig * mask), or the given scores as they are
  const mask = pruned.get(module)?.has(name) ? (module as unknown as Fields)[`${name}_mask`] as Tensor : null;
  const src = given ?? target;
  const t = mask && !given ? noGrad(() => src.mul(mask)) : src;
  const values = Float32Array.from(await t.data(), Number);
  if (t !== src) t.dispose();
  return values;
}

async function currentMask(module: Module, name: string, size: number): Promise<Float32Array> {
  if (!pruned.get(module)?.has(name)) return new Float32Array(size).fill(1);
  const mask = (module as unknown as Fields)[`${name}_mask`] as Tensor;
  return Float32Array.from(await mask.data(), Number);
}

/** Reparametrises `name` on first use (`_orig`, `_mask`, the hook) and installs the new mask. */
function install(module: Module, name: string, method: PruningMethod, maskValues: Float32Array): void {
  const self = module as unknown as Fields;
  let entries = pruned.get(module);
  const first = !entries?.has(name);
  const orig = (first ? self[name] : self[`${name}_orig`]) as Tensor;
  const mask = tensor(maskValues, { shape: orig.shape, device: orig.device, dtype: orig.dtype });
  if (first) {
    const requiresGrad = orig.requiresGrad;
    delete self[name];
    module.registerParameter(`${name}_orig`, orig);
    orig.requiresGrad = requiresGrad;
    module.registerBuffer(`${name}_mask`, mask);
    const hook = module.registerForwardPreHook((m) => applyMask(m, name));
    if (!entries) pruned.set(module, entries = new Map());
    entries.set(name, { methods: [method], hook });
  } else {
    const old = self[`${name}_mask`] as Tensor;
    module.registerBuffer(`${name}_mask`, mask);
    old.dispose();
    entries!.get(name)!.methods.push(method);
  }
  applyMask(module, name);
}

/** `module[name] = name_orig * name_mask`, freeing the previous product. */
function applyMask(module: Module, name: string): void {
  const self = module as unknown as Fields;
  const orig = self[`${name}_orig`] as Tensor;
  const mask = self[`${name}_mask`] as Tensor;
  const previous = self[name];
  self[name] = keep(orig.mul(mask));
  if (previous instanceof Tensor && previous !== orig) previous.dispose();
}

/** PyTorch's PruningContainer: the method sees only what the current mask leaves. */
function combine(
  method: PruningMethod,
  t: Float32Array,
  shape: readonly number[],
  mask: Float32Array,
): Float32Array {
  const out = mask.slice();
  if (method.pruningType === "global") return method.computeMask(t, shape, mask);
  if (method.pruningType === "unstructured") {
    const keepIdx: number[] = [];
    for (let i = 0; i < mask.length; i++) if (mask[i] === 1) keepIdx.push(i);
    const sub = Float32Array.from(keepIdx, (i) => t[i]);
    const partial = method.computeMask(sub, [sub.length], new Float32Array(sub.length).fill(1));
    keepIdx.forEach((i, j) => (out[i] = partial[j]));
    return out;
  }
  const dim = structuredDim("pruning", shape, method.dim);
  const [outer, channels, inner] = split(shape, dim);
  const alive: number[] = [];
  for (let c = 0; c < channels; c++) {
    let s = 0;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) s += mask[(o * channels + c) * inner + i];
    }
    if (s !== 0) alive.push(c);
  }
  const subShape = shape.map((d, k) => (k === dim ? alive.length : d));
  const n = outer * alive.length * inner;
  const subT = new Float32Array(n);
  const subMask = new Float32Array(n);
  const index = (o: number, j: number, i: number) => (o * channels + alive[j]) * inner + i;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < alive.length; j++) {
      for (let i = 0; i < inner; i++) {
        const at = (o * alive.length + j) * inner + i;
        subT[at] = t[index(o, j, i)];
        subMask[at] = mask[index(o, j, i)];
      }
    }
  }
  const partial = method.computeMask(subT, subShape, subMask);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < alive.length; j++) {
      for (let i = 0; i < inner; i++) out[index(o, j, i)] = partial[(o * alive.length + j) * inner + i];
    }
  }
  return out;
}

function checkAmount(op: string, amount: number): number {
  if (typeof amount !== "number" || !Number.isFinite(amount) || amount < 0) {
    throw new RangeError(
      `${op}: amount must be a fraction in [0, 1) or a non-negative integer, got ${amount}`,
    );
  }
  if (!Number.isInteger(amount) && amount > 1) {
    throw new RangeError(
      `${op}: amount ${amount} is neither a fraction in [0, 1) nor an integer count of units to prune`,
    );
  }
  return amount;
}

/** The number of units to prune (PyTorch's `_compute_nparams_toprune` and `_validate_pruning_amount`). */
function countToPrune(op: string, amount: number, size: number): number {
  const k = Number.isInteger(amount) ? amount : roundHalfEven(amount * size);
  if (k > size) {
    throw new RangeError(`${op}: amount ${amount} is more than the ${size} units of the tensor`);
  }
  return k;
}

/** Python's `round`: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The `k` indices in [0, n) with the smallest `key` (ties: the lower index first). */
function smallest(n: number, k: number, key: (i: number) => number): number[] {
  if (k === 0) return [];
  const idx = Array.from({ length: n }, (_, i) => i);
  const keys = Float64Array.from(idx, key);
  idx.sort((a, b) => keys[a] - keys[b] || a - b);
  return idx.slice(0, k);
}

function structuredDim(op: string, shape: readonly number[], dim: number): number {
  if (shape.length < 2) {
    throw new RangeError(
      `${op}: structured pruning needs a tensor of at least 2 dims; got shape ${fmtShape(shape)}`,
    );
  }
  const d = dim < 0 ? dim + shape.length : dim;
  if (d < 0 || d >= shape.length) {
    throw new RangeError(`${op}: dim ${dim} is out of range for a tensor of shape ${fmtShape(shape)}`);
  }
  return d;
}

function split(shape: readonly number[], dim: number): [number, number, number] {
  const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  return [outer, shape[dim], inner];
}

/** The `p`-norm of every slice along `dim` (torch.norm over the other dims). */
function channelNorms(t: Float32Array, shape: readonly number[], dim: number, p: number): Float64Array {
  const [outer, channels, inner] = split(shape, dim);
  const norms = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    let acc = p === Infinity ? 0 : p === -Infinity ? Infinity : 0;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const a = Math.abs(t[(o * channels + c) * inner + i]);
        if (p === Infinity) acc = Math.max(acc, a);
        else if (p === -Infinity) acc = Math.min(acc, a);
        else if (p === 0) acc += a !== 0 ? 1 : 0;
        else acc += a ** p;
      }
    }
    norms[c] = Number.isFinite(p) && p !== 0 ? acc ** (1 / p) : acc;
  }
  return norms;
}

/** A mask of `shape` that keeps channel `c` along `dim` where `keepChannel(c)`, times `defaultMask`. */
function channelMask(
  shape: readonly number[],
  dim: number,
  keepChannel: (c: number) => boolean,
  defaultMask: Float32Array,
): Float32Array {
  const [outer, channels, inner] = split(shape, dim);
  const mask = new Float32Array(defaultMask.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      if (!keepChannel(c)) continue;
      for (let i = 0; i < inner; i++) {
        const at = (o * channels + c) * inner + i;
        mask[at] = defaultMask[at];
      }
    }
  }
  return mask;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
