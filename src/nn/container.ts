/**
 * Containers: `Sequential` (modules applied in order) and `ModuleList` (a registered list of modules).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** A module whose `forward` takes one tensor and returns one, as the layers of a {@linkcode Sequential}. */
export type TensorModule = Module & { forward(x: Tensor): Tensor };

function checkModule(where: string, m: unknown, key: string): Module {
  if (!(m instanceof Module)) {
    const what = m === null ? "null" : typeof m === "object" ? (m as object).constructor?.name : typeof m;
    throw new TypeError(`${where}: entry ${key} is not a Module (got ${what})`);
  }
  return m;
}

/**
 * What {@linkcode Sequential} and {@linkcode ModuleList} share: an ordered list of registered child modules
 * with `length`, `at`, `append` (named by position) and iteration.
 *
 * @example
 * ```ts
 * import { nn } from "../../mod.ts";
 * const list = new nn.ModuleList([new nn.Linear(2, 2)]);
 * list.append(new nn.ReLU()); // registered as "1"
 * for (const m of list) console.log(m.constructor.name);
 * console.log(list.length, list.at(0) instanceof nn.Linear); // 2 true
 * ```
 */
export abstract class ModuleSequence extends Module {
  #items: Module[] = [];

  /** Registers `m` under `name` and appends it. */
  protected push(name: string, m: unknown, where: string, key: string): void {
    this.#items.push(this.registerModule(name, checkModule(where, m, key)));
  }

  /** The number of modules. */
  get length(): number {
    return this.#items.length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): Module {
    const list = this.#items;
    const i = index < 0 ? index + list.length : index;
    if (!Number.isInteger(i) || i < 0 || i >= list.length) {
      throw new RangeError(
        `${this.constructor.name}.at: index ${index} is out of range for ${list.length} modules`,
      );
    }
    return list[i];
  }

  /** Adds a module at the end, named by its position. Returns this. */
  append(m: Module): this {
    this.push(String(this.#items.length), m, `${this.constructor.name}.append`, "to append");
    return this;
  }

  /** The modules in order. */
  [Symbol.iterator](): Iterator<Module> {
    return this.#items[Symbol.iterator]();
  }
}

/**
 * Modules applied one after another, PyTorch's `nn.Sequential`. Children are named "0", "1", ... (or by the
 * keys of an object), so state-dict keys match PyTorch's (`"0.weight"`). Intermediate results are disposed
 * as soon as the next layer has used them.
 *
 * @example
 * ```ts
 * import { nn, randn } from "../../mod.ts";
 * const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2));
 * const y = model.forward(randn([3, 4])); // shape [3, 2]
 * const named = new nn.Sequential({ fc: new nn.Linear(4, 2), act: new nn.Tanh() }); // keys "fc.weight", ...
 * ```
 */
export class Sequential extends ModuleSequence {
  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    const first = modules[0] as unknown;
    if (modules.length === 1 && first !== null && typeof first === "object" && !(first instanceof Module)) {
      for (const [k, m] of Object.entries(first as Record<string, Module>)) {
        this.push(k, m, "Sequential", `"${k}"`);
      }
    } else {
      (modules as Module[]).forEach((m, i) => this.push(String(i), m, "Sequential", `${i}`));
    }
  }

  /** Applies each module to the previous one's output. */
  forward(x: Tensor): Tensor {
    let cur = x;
    for (const m of this) {
      const next = (m as TensorModule).forward(cur);
      if (cur !== x && cur !== next) cur.dispose();
      cur = next;
    }
    return cur;
  }
}

/**
 * A list of modules registered as children "0", "1", ..., PyTorch's `nn.ModuleList`: its parameters are the
 * model's, but it has no `forward` of its own; iterate over it.
 *
 * @example
 * ```ts
 * import { nn, randn, type Tensor } from "../../mod.ts";
 * class Deep extends nn.Module {
 *   layers = new nn.ModuleList([1, 2, 3].map(() => new nn.Linear(4, 4)));
 *   forward(x: Tensor): Tensor {
 *     for (const layer of this.layers) x = (layer as nn.Linear).forward(x).relu();
 *     return x;
 *   }
 * }
 * new Deep().forward(randn([2, 4]));
 * ```
 */
export class ModuleList extends ModuleSequence {
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds modules at the end. Returns this. */
  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** A ModuleList has no forward: iterate over it in the parent's forward. */
  forward(): never {
    throw new Error("ModuleList has no forward(): iterate over it and call each module's forward()");
  }
}
