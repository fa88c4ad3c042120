/**
 * Numeric assertions for tests: elementwise closeness with useful failure messages, and error-message checks.
 * @module
 */

import { AssertionError } from "node:assert/strict";

/** Options of {@linkcode assertClose}. */
export interface CloseOptions {
  /** Relative tolerance (default 1e-5): `|a - e| <= atol + rtol * |e|`. */
  rtol?: number;
  /** Absolute tolerance (default 1e-6). */
  atol?: number;
  /** Prefix for the failure message, e.g. the op and case being checked. */
  msg?: string;
}

function toList(x: ArrayLike<number> | number | bigint): number[] {
  if (typeof x === "number" || typeof x === "bigint") return [Number(x)];
  const out = new Array<number>(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Number(x[i]);
  return out;
}

function fmt(v: number): string {
  return String(v);
}

/**
 * Asserts that `actual` and `expected` have the same length and are elementwise close:
 * `|a - e| <= atol + rtol * |e|` (the `torch.allclose` rule). NaN equals NaN; +Infinity and
 * -Infinity must match exactly. On failure, the message names the first mismatching index, both values,
 * the number of mismatches and the maximum absolute error over all finite pairs.
 */
export function assertClose(
  actual: ArrayLike<number> | number,
  expected: ArrayLike<number> | number,
  { rtol = 1e-5, atol = 1e-6, msg }: CloseOptions = {},
): void {
  const prefix = msg ? `${msg}: ` : "";
  const a = toList(actual);
  const e = toList(expected);
  if (a.length !== e.length) {
    throw new AssertionError({
      message: `${prefix}length mismatch: actual has ${a.length} elements, expected ${e.length}`,
      actual: a.length,
      expected: e.length,
      operator: "assertClose",
    });
  }
  let first = -1;
  let bad = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = e[i];
    let ok: boolean;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      ok = Number.isNaN(x) && Number.isNaN(y);
    } else if (!Number.isFinite(x) || !Number.isFinite(y)) {
      ok = x === y;
    } else {
      const err = Math.abs(x - y);
      if (err > maxAbs) maxAbs = err;
      ok = err <= atol + rtol * Math.abs(y);
    }
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (first >= 0) {
    const x = a[first];
    const y = e[first];
    throw new AssertionError({
      message: `${prefix}${bad} of ${a.length} elements differ (rtol=${rtol}, atol=${atol}); ` +
        `first at index ${first}: actual ${fmt(x)}, expected ${fmt(y)} (abs err ${fmt(Math.abs(x - y))}); ` +
        `max abs err ${fmt(maxAbs)}`,
      actual: x,
      expected: y,
      operator: "assertClose",
    });
  }
}

/**
 * Asserts that `fn` throws (synchronously) an error whose message matches `pattern`, and returns that error.
 * Fails when `fn` returns normally or throws something whose message does not match.
 */
export function assertThrowsMessage(fn: () => unknown, pattern: RegExp): Error {
  let thrown: unknown;
  let didThrow = false;
  try {
    fn();
  } catch (err) {
    thrown = err;
    didThrow = true;
  }
  return checkThrown(didThrow, thrown, pattern, "assertThrowsMessage");
}

/**
 * Async counterpart of {@linkcode assertThrowsMessage}: awaits `fn()` and asserts that it throws or rejects
 * with an error whose message matches `pattern`, and returns that error.
 */
export async function assertRejectsMessage(fn: () => unknown, pattern: RegExp): Promise<Error> {
  let thrown: unknown;
  let didThrow = false;
  try {
    await fn();
  } catch (err) {
    thrown = err;
    didThrow = true;
  }
  return checkThrown(didThrow, thrown, pattern, "assertRejectsMessage");
}

function checkThrown(didThrow: boolean, thrown: unknown, pattern: RegExp, operator: string): Error {
  if (!didThrow) {
    throw new AssertionError({
      message: `expected the function to throw an error matching ${pattern}, but it returned normally`,
      operator,
    });
  }
  pattern.lastIndex = 0;
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  if (!pattern.test(message)) {
    throw new AssertionError({
      message: `expected an error matching ${pattern}, got ${
        thrown instanceof Error ? thrown.name : typeof thrown
      }: ${JSON.stringify(message)}`,
      actual: message,
      expected: pattern,
      operator,
    });
  }
  return thrown instanceof Error ? thrown : new Error(message);
}
