/**
 * `nn.utils`: helpers around modules, as `torch.nn.utils`; `prune` holds the pruning functions.
 *
 * @example
 * ```ts
 * import { nn } from "../../../mod.ts";
 * const lin = new nn.Linear(4, 4);
 * await nn.utils.prune.l1Unstructured(lin, "weight", { amount: 0.5 });
 * ```
 * @module
 */
export * as prune from "./prune.ts";
