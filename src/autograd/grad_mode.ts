/**
 * Whether operations record the autograd graph: `noGrad`, `enableGrad` and their `using` guards.
 * @module
 */

let enabled = true;

/**
 * Whether autograd currently records operations.
 *
 * @example
 * ```ts
 * import { isGradEnabled, noGrad } from "../../mod.ts";
 * isGradEnabled(); // true
 * noGrad(() => isGradEnabled()); // false
 * ```
 */
export function isGradEnabled(): boolean {
  return enabled;
}

/** Sets whether autograd records operations; returns the previous setting. */
export function setGradEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

function runWith<T>(on: boolean, fn: () => T): T {
  const prev = setGradEnabled(on);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    setGradEnabled(prev);
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => setGradEnabled(prev)) as T;
  }
  setGradEnabled(prev);
  return result;
}

/** A guard that restores the previous grad mode when disposed (for `using`). */
export interface GradModeGuard extends Disposable {
  /** Restores the previous grad mode. */
  [Symbol.dispose](): void;
}

function guard(on: boolean): GradModeGuard {
  const prev = setGradEnabled(on);
  return { [Symbol.dispose]: () => void setGradEnabled(prev) };
}

/**
 * Runs `fn` without recording the autograd graph (nothing is saved for backward, so memory is saved),
 * like `torch.no_grad()`. Without an argument it returns a guard for `using`.
 *
 * @example
 * ```ts
 * import { noGrad, tensor } from "../../mod.ts";
 * const w = tensor([1, 2], { requiresGrad: true });
 * const y = noGrad(() => w.mul(2)); // y.requiresGrad === false
 * {
 *   using _guard = noGrad();
 *   const z = w.mul(3); // not recorded either
 * }
 * ```
 */
export function noGrad<T>(fn: () => T): T;
/** A guard that turns recording off until it is disposed: `using _ = noGrad();`. */
export function noGrad(): GradModeGuard;
export function noGrad<T>(fn?: () => T): T | GradModeGuard {
  return fn ? runWith(false, fn) : guard(false);
}

/**
 * Runs `fn` with the autograd graph recorded even inside `noGrad`, like `torch.enable_grad()`.
 * Without an argument it returns a guard for `using`.
 *
 * @example
 * ```ts
 * import { enableGrad, noGrad, tensor } from "../../mod.ts";
 * const w = tensor([1, 2], { requiresGrad: true });
 * noGrad(() => enableGrad(() => w.mul(2))); // recorded
 * ```
 */
export function enableGrad<T>(fn: () => T): T;
/** A guard that turns recording on until it is disposed: `using _ = enableGrad();`. */
export function enableGrad(): GradModeGuard;
export function enableGrad<T>(fn?: () => T): T | GradModeGuard {
  return fn ? runWith(true, fn) : guard(true);
}
