/**
 * Scopes that dispose the tensors created inside them, like TF.js's `tidy`.
 * @module
 */

/** Something a scope can dispose. */
export interface Trackable {
  /** Frees the object's memory. */
  dispose(): void;
}

const stack: Set<Trackable>[] = [];

/** Registers a newly created tensor with the innermost scope, if any. */
export function track(t: Trackable): void {
  if (stack.length) stack[stack.length - 1].add(t);
}

/**
 * Removes a tensor from every open scope so that it outlives them (like TF.js's `keep`).
 *
 * @example
 * ```ts
 * import { keep, type Tensor, tensor, tidy } from "../../mod.ts";
 * const kept: Tensor[] = [];
 * const total = tidy(() => {
 *   const h = tensor([1, 2, 3]).mul(2); // freed when tidy returns
 *   kept.push(keep(h.square())); // stored outside the scope: kept alive
 *   return h.sum(); // the returned tensor survives too
 * });
 * ```
 */
export function keep<T extends Trackable>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<unknown>, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 4) return;
  if ("dispose" in value && typeof (value as Trackable).dispose === "function" && "shape" in value) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) { for (const v of value) collect(v, out, depth + 1); }
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, depth + 1);
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it except those it returns (directly, or inside
 * arrays and plain objects) and those passed to {@linkcode keep}. Returned tensors move to the enclosing
 * scope. An async `fn` is not supported: scopes must not span an `await`.
 *
 * @example
 * ```ts
 * import { tensor, tidy } from "../../mod.ts";
 * const x = tensor([1, 2, 3]);
 * const y = tidy(() => x.mul(2).add(1)); // the intermediate x.mul(2) is disposed
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Trackable>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    stack.pop();
  }
  if (result instanceof Promise) {
    throw new TypeError("tidy: the function returned a promise; scopes cannot span an await");
  }
  const kept = new Set<unknown>();
  collect(result, kept);
  for (const t of scope) {
    if (kept.has(t)) track(t);
    else t.dispose();
  }
  return result;
}
