/**
 * `dropout`: zeroes random elements while training, drawing from the seeded generator.
 * @module
 */
import { rand } from "../../tensor/creation.ts";
import { isFloating } from "../../tensor/dtype.ts";
import { tidy } from "../../tensor/scope.ts";
import type { Tensor } from "../../tensor/tensor.ts";

/**
 * While `training` (the default), zeroes each element with probability `p` and scales the rest by 1/(1-p),
 * so the expectation is unchanged; otherwise returns `x` itself. The mask comes from the seeded generator
 * ({@linkcode manualSeed}), so a seed reproduces it on every device.
 *
 * @example
 * ```ts
 * import { F, manualSeed, ones } from "../../../mod.ts";
 * manualSeed(0);
 * const y = F.dropout(ones([8]), 0.5); // about half zeros, the rest 2
 * const same = F.dropout(ones([8]), 0.5, false); // the input itself
 * ```
 */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
    throw new RangeError(`dropout: probability has to be between 0 and 1, but got ${p}`);
  }
  if (!isFloating(x.dtype)) throw new TypeError(`dropout: expected a floating point tensor, got ${x.dtype}`);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  return tidy(() => {
    const keepMask = rand(x.shape, { device: x.device }).ge(p);
    return x.mul(keepMask.to(x.dtype)).mul(1 / (1 - p));
  });
}
