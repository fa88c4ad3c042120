/**
 * Nodes of the autograd graph: what `t.gradFn` is.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";

/** The gradient function a node applies: output gradient in, one gradient per input out. */
export type BackwardFn = (grad: Tensor) => (Tensor | null | undefined)[];

/** A hook called with a leaf tensor once its `.grad` holds this backward pass's whole gradient. */
export type PostAccumulateGradHook = (variable: Tensor) => void;

/** What registering a hook returns: `remove()` unregisters it. */
export interface RemovableHandle {
  /** Unregisters the hook. */
  remove(): void;
}

/**
 * The leaf end of the graph: gradients arriving here accumulate into `variable.grad`.
 *
 * @example
 * ```ts
 * import { AccumulateGrad, tensor } from "../../mod.ts";
 * const w = tensor([1, 2], { requiresGrad: true });
 * const y = w.mul(3); // y.gradFn is MulBackward0, a Node
 * const leaf = y.gradFn?.nextFunctions[0]; // where w's gradient accumulates
 * console.log(leaf?.name, leaf instanceof AccumulateGrad); // "AccumulateGrad" true
 * ```
 */
export class AccumulateGrad {
  /** Always "AccumulateGrad", as in PyTorch. */
  readonly name = "AccumulateGrad";
  /** Hooks run after the gradient of a backward pass has been accumulated (see `registerPostHook`). */
  readonly postHooks: PostAccumulateGradHook[] = [];
  /** The leaf tensor whose `.grad` this node accumulates into. */
  constructor(readonly variable: Tensor) {}

  /**
   * Registers `hook` to run once per backward pass, after every gradient that pass sends to this leaf has
   * been added into `variable.grad` (PyTorch's `register_post_accumulate_grad_hook`). DistributedDataParallel
   * uses it to start reducing a bucket of gradients as soon as backward has produced them.
   *
   * @example
   * ```ts
   * import { tensor } from "../../mod.ts";
   * const w = tensor([1, 2], { requiresGrad: true });
   * const handle = w.accumulateGrad().registerPostHook((p) => console.log("grad ready", p.grad!.shape));
   * w.mul(w).sum().backward(); // logs once
   * handle.remove();
   * ```
   */
  registerPostHook(hook: PostAccumulateGradHook): RemovableHandle {
    if (typeof hook !== "function") throw new TypeError("registerPostHook: the hook must be a function");
    this.postHooks.push(hook);
    return {
      remove: () => {
        const i = this.postHooks.indexOf(hook);
        if (i >= 0) this.postHooks.splice(i, 1);
      },
    };
  }
}

/**
 * One recorded operation: its name (e.g. `MulBackward0`), its inputs, the tensors it saved for backward,
 * and the function that computes its inputs' gradients.
 *
 * @example
 * ```ts
 * import { tensor } from "../../mod.ts";
 * const x = tensor([1, 2, 3], { requiresGrad: true });
 * const y = x.exp().sum();
 * console.log(y.gradFn?.name); // "SumBackward0"
 * console.log(y.gradFn?.nextFunctions.map((f) => f?.name)); // ["ExpBackward0"]
 * ```
 */
export class Node {
  /** Tensors saved for backward (aliases that keep their storage alive until the node is released). */
  saved: Tensor[] = [];
  #backward: BackwardFn | null = null;
  #released = false;

  /** A node named `name` (e.g. "MulBackward0") over `inputs`. */
  constructor(
    /** The op's backward name, like PyTorch's `gradFn.name()`. */
    readonly name: string,
    /** The op's tensor inputs (null for inputs that do not require grad). */
    readonly inputs: readonly (Tensor | null)[],
  ) {}

  /** Storage versions of the saved tensors when they were saved (in-place changes are detected). */
  #versions: number[] = [];

  /** Keeps `t` alive for the backward pass and returns the saved alias. */
  save(t: Tensor): Tensor {
    // Saved tensors belong to the node, not to an enclosing tidy() scope (which would free them too early).
    const a = keep(t.alias());
    if (t.requiresGrad) {
      // with createGraph, a backward computed from the saved value must lead back to `t`
      const link = new Node("AliasBackward0", [t]);
      link.setBackward((g) => [g.alias()]);
      a.setGradFn(link);
    }
    this.saved.push(a);
    this.#versions.push(t.version);
    return a;
  }

  /** Sets the gradient function. */
  setBackward(fn: BackwardFn): void {
    this.#backward = fn;
  }

  /** Whether backward already ran and freed this node's saved tensors. */
  get released(): boolean {
    return this.#released;
  }

  /** The next functions of the graph, as PyTorch's `grad_fn.next_functions`: one per input. */
  get nextFunctions(): (Node | AccumulateGrad | null)[] {
    return this.inputs.map((t) => {
      if (!t || !t.requiresGrad) return null;
      return t.gradFn ?? t.accumulateGrad();
    });
  }

  /** Runs the gradient function. */
  apply(grad: Tensor): (Tensor | null | undefined)[] {
    if (this.#released || !this.#backward) {
      throw new Error(
        `${this.name}: trying to backward through the graph a second time (its saved tensors were freed ` +
          `after the first backward): pass { retainGraph: true } to the first backward() if you need to`,
      );
    }
    this.saved.forEach((t, i) => {
      if (t.version !== this.#versions[i]) {
        throw new Error(
          `${this.name}: one of the tensors needed for the gradient (shape [${
            t.shape.join(", ")
          }]) has been ` +
            `modified by an in-place operation since it was saved; clone() it before changing it in place`,
        );
      }
    });
    return this.#backward(grad);
  }

  /** Frees the saved tensors (after backward, unless the graph is retained). */
  release(): void {
    for (const t of this.saved) t.dispose();
    this.saved = [];
    this.#versions = [];
    this.#backward = null;
    this.#released = true;
  }
}
