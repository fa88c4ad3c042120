/**
 * `autocast`: mixed precision regions, PyTorch's `torch.autocast`. The state and the op lists live in the
 * core (`src/autograd/autocast_mode.ts`), which the ops consult; this is the public API over it.
 * @module
 */
import {
  type AutocastState,
  enterAutocast,
  exitAutocast,
  FP32_OPS,
  getAutocastState,
  LOWER_PRECISION_FP_OPS,
} from "../autograd/autocast_mode.ts";

export { FP32_OPS, LOWER_PRECISION_FP_OPS };

/** Options of {@linkcode autocast}. */
export interface AutocastOptions {
  /** Whether the region autocasts (default true; `false` turns autocast off inside an enclosing region). */
  enabled?: boolean;
  /** The lower precision dtype: only `"float16"` (PyTorch's default on CUDA). */
  dtype?: "float16";
  /** Whether float16 casts of weights are cached for the region (default true, as PyTorch). */
  cacheEnabled?: boolean;
}

/** A guard that ends an autocast region when disposed (for `using`). */
export interface AutocastGuard extends Disposable {
  /** Ends the region, restoring the previous settings. */
  [Symbol.dispose](): void;
}

function settings(options: AutocastOptions): AutocastState {
  const dtype = options.dtype ?? "float16";
  if (dtype !== "float16") {
    throw new TypeError(
      `autocast: dtype must be "float16", got ${JSON.stringify(dtype)} (bfloat16 is not supported)`,
    );
  }
  return { enabled: options.enabled ?? true, dtype, cacheEnabled: options.cacheEnabled ?? true };
}

/**
 * Runs `fn` in an autocast region: matmul, linear and conv2d run in float16 (f16 storage, f32
 * accumulation) while softmax, log-softmax, sum, prod, the losses and layer norm run in float32, following
 * PyTorch's op lists ({@linkcode LOWER_PRECISION_FP_OPS}, {@linkcode FP32_OPS}). Parameters stay float32
 * (master weights) and their gradients come back float32 through the casts. Wrap the forward pass and the
 * loss only; call `backward()` outside (backward ops never autocast).
 *
 * Where the device has no float16 (an adapter without `shader-f16`) autocast says so once with
 * `console.warn` and everything stays float32. The `"cpu"` device runs float16 in its reference kernels
 * (PyTorch's CPU autocast would use bfloat16, which denograd lacks), so results match WebGPU's.
 *
 * @example
 * ```ts
 * import { amp, nn, randn } from "../../mod.ts";
 * const model = new nn.Linear(8, 2);
 * const x = randn([4, 8]);
 * const loss = amp.autocast(() => {
 *   const y = model.forward(x); // float16
 *   return y.softmax(1).sum(); // float32
 * });
 * loss.backward(); // model.weight.grad is float32
 * ```
 */
export function autocast<T>(fn: () => T, options?: AutocastOptions): T;
/**
 * A guard that keeps an autocast region open until it is disposed: `using _ = amp.autocast();`.
 *
 * @example
 * ```ts
 * import { amp, randn } from "../../mod.ts";
 * const a = randn([4, 4]);
 * {
 *   using _ = amp.autocast();
 *   const y = a.matmul(a); // float16
 * }
 * ```
 */
export function autocast(options?: AutocastOptions): AutocastGuard;
export function autocast<T>(
  fnOrOptions?: (() => T) | AutocastOptions,
  options: AutocastOptions = {},
): T | AutocastGuard {
  if (typeof fnOrOptions !== "function") {
    const prev = enterAutocast(settings(fnOrOptions ?? {}));
    let open = true;
    return {
      [Symbol.dispose]: () => {
        if (open) exitAutocast(prev);
        open = false;
      },
    };
  }
  const prev = enterAutocast(settings(options));
  let result: T;
  try {
    result = fnOrOptions();
  } catch (e) {
    exitAutocast(prev);
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => exitAutocast(prev)) as T;
  exitAutocast(prev);
  return result;
}

/**
 * Whether autocast is on here (PyTorch's `torch.is_autocast_enabled()`).
 *
 * @example
 * ```ts
 * import { amp } from "../../mod.ts";
 * amp.isAutocastEnabled(); // false
 * amp.autocast(() => amp.isAutocastEnabled()); // true
 * ```
 */
export function isAutocastEnabled(): boolean {
  return getAutocastState().enabled;
}
