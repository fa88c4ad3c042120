/**
 * Formatting helpers shared by the displays: numbers with a few significant digits, byte sizes, counts,
 * durations, and HTML escaping.
 * @module
 */

/**
 * A number in a few significant digits: integers as they are, very large or small values in exponent form,
 * `NaN`, `+Inf` and `-Inf` spelled out.
 *
 * @example
 * ```ts
 * import { fmtNum } from "./format.ts";
 * fmtNum(3.14159); // "3.142"
 * fmtNum(1e-7); // "1.000e-7"
 * fmtNum(-Infinity); // "-Inf"
 * ```
 */
export function fmtNum(x: number, digits = 4): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "+Inf";
  if (x === -Infinity) return "-Inf";
  if (Number.isInteger(x) && Math.abs(x) < 1e6) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return x.toExponential(digits - 1);
  const s = x.toPrecision(digits);
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/**
 * A byte count in B, KiB, MiB or GiB.
 *
 * @example
 * ```ts
 * import { fmtBytes } from "./format.ts";
 * fmtBytes(1536); // "1.5 KiB"
 * ```
 */
export function fmtBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = v < 10 ? 2 : v < 100 ? 1 : 0;
  return u === 0 ? `${v} B` : `${v.toFixed(digits).replace(/\.0+$|(\.\d*?)0+$/, "$1")} ${units[u]}`;
}

/**
 * An integer with thousands separators.
 *
 * @example
 * ```ts
 * import { fmtCount } from "./format.ts";
 * fmtCount(1234567); // "1,234,567"
 * ```
 */
export function fmtCount(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * A duration as `m:ss` (or `h:mm:ss`), as tqdm prints elapsed time and ETA.
 *
 * @example
 * ```ts
 * import { fmtDuration } from "./format.ts";
 * fmtDuration(75); // "01:15"
 * ```
 */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${String(m).padStart(2, "0")}:${ss}`;
}

/**
 * Escapes `&`, `<`, `>` and quotes for HTML text and attribute values.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./format.ts";
 * escapeHtml("a < b"); // "a &lt; b"
 * ```
 */
export function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** The font stack of the displays (monospace, as lovely-tensors and torchinfo print). */
export const MONO =
  "font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace";
