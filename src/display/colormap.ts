/**
 * Colour maps for heat-maps: viridis for values of one sign, a blue-white-red diverging map centred on zero
 * for values of both signs, and a marker colour for NaN.
 * @module
 */

/** An RGB colour, 0-255 per channel. */
export type Rgb = [number, number, number];

// Viridis sampled at 9 evenly spaced points (matplotlib's values), interpolated linearly in between.
const VIRIDIS: Rgb[] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

// ColorBrewer's RdBu, from blue (negative) through white to red (positive).
const DIVERGING: Rgb[] = [
  [5, 48, 97],
  [33, 102, 172],
  [67, 147, 195],
  [146, 197, 222],
  [247, 247, 247],
  [244, 165, 130],
  [214, 96, 77],
  [178, 24, 43],
  [103, 0, 31],
];

/** The colour of NaN cells (magenta: no colour map uses it). */
export const NAN_COLOR: Rgb = [255, 0, 255];

function lerp(stops: Rgb[], t: number): Rgb {
  const u = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(u));
  const f = u - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [
    Math.round(a[0] + (b[0] - a[0]) * f),
    Math.round(a[1] + (b[1] - a[1]) * f),
    Math.round(a[2] + (b[2] - a[2]) * f),
  ];
}

/** A function from a value to a colour. */
export type ColorScale = (v: number) => Rgb;

/**
 * The heat-map colour scale for values in [min, max]: diverging around zero when the range has both signs,
 * viridis otherwise. NaN maps to {@linkcode NAN_COLOR}; infinities to the ends.
 *
 * @example
 * ```ts
 * import { heatScale } from "./colormap.ts";
 * const c = heatScale(-1, 1);
 * c(0); // [247, 247, 247]: white at zero
 * ```
 */
export function heatScale(min: number, max: number): ColorScale {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    return (v) => Number.isNaN(v) ? NAN_COLOR : lerp(VIRIDIS, 0.5);
  }
  if (min < 0 && max > 0) {
    const m = Math.max(-min, max);
    return (v) => Number.isNaN(v) ? NAN_COLOR : lerp(DIVERGING, 0.5 + v / (2 * m));
  }
  const span = max - min;
  return (v) => Number.isNaN(v) ? NAN_COLOR : lerp(VIRIDIS, span > 0 ? (v - min) / span : 0.5);
}

/**
 * CSS `rgb(...)` of a colour.
 *
 * @example
 * ```ts
 * import { cssRgb } from "./colormap.ts";
 * cssRgb([255, 0, 0]); // "rgb(255,0,0)"
 * ```
 */
export function cssRgb(c: Rgb): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}
