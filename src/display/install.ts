/**
 * Attaches the notebook display to `Tensor` from outside (the tensor code does not import the display):
 * in `deno jupyter`, a tensor that ends a cell shows its summary card. `mod.ts` calls this once.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { JUPYTER_DISPLAY, type MimeBundle } from "./jupyter.ts";
import { tensorBundle } from "./tensor_display.ts";
import { Profile } from "../profiler/profile.ts";
import { profileBundle } from "./profile_display.ts";

/**
 * Gives `Tensor` a `[Symbol.for("Jupyter.display")]` method that reads the tensor (a GPU tensor waits for
 * its queue, which the kernel allows: the method may return a promise) and returns its mime bundle.
 * Idempotent.
 *
 * @example
 * ```ts
 * import { installDisplayHooks } from "./install.ts";
 * installDisplayHooks(); // already done by mod.ts
 * ```
 */
export function installDisplayHooks(): void {
  const proto = Tensor.prototype as unknown as Record<symbol, unknown>;
  if (Object.hasOwn(proto, JUPYTER_DISPLAY)) return;
  Object.defineProperty(proto, JUPYTER_DISPLAY, {
    value: function (this: Tensor): Promise<MimeBundle> {
      return tensorBundle(this);
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
  // a profile that ends a cell shows its table and bar chart
  Object.defineProperty(Profile.prototype, JUPYTER_DISPLAY, {
    value: function (this: Profile): Promise<MimeBundle> {
      return profileBundle(this);
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
