/**
 * The autocast state the ops consult (the public API is `amp.autocast` in `src/amp/`): whether autocast is
 * on, and PyTorch's two op lists from `torch/csrc/autograd/autocast_mode.cpp`. Inside an autocast region,
 * "lower_precision_fp" ops (matmul, linear, conv2d) cast their float32 inputs to float16 and run there;
 * "fp32" ops (softmax, reductions such as sum, losses, layer norm) cast float16 inputs up to float32. Every
 * other op runs in the dtype of its inputs (float16 with float32 promotes to float32, as in PyTorch).
 *
 * Casts are recorded by autograd (`ToCopyBackward0` casts the gradient back to the input's dtype), so
 * float32 master weights get float32 gradients. Casts of leaf tensors that require grad (weights) are
 * cached for the region, as PyTorch does, and dropped when the outermost region ends (or when the weight
 * changes in place). Backward passes run with autocast off (`src/autograd/engine.ts`), as PyTorch's engine
 * threads do.
 * @module
 */
import { backendFor } from "../backend/registry.ts";
import { castTo } from "../ops/cast.ts";
import { keep } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * Ops that autocast runs in float16 (PyTorch's `lower_precision_fp` list: `matmul`, `mm`, `bmm`, `linear`,
 * `conv2d`... on CUDA). Only those denograd has are named here; each consults the state at its entry.
 *
 * @example
 * ```ts
 * import { amp } from "../../mod.ts";
 * console.log(amp.LOWER_PRECISION_FP_OPS.includes("matmul")); // true: float16 inside amp.autocast
 * ```
 */
export const LOWER_PRECISION_FP_OPS = ["matmul", "linear", "conv2d"] as const;

/**
 * Ops that autocast runs in float32 (PyTorch's `fp32` and `fp32_set_opt_dtype` lists: `softmax`,
 * `log_softmax`, `logsumexp`, `sum`, `prod`, `nll_loss`, `mse_loss`, `l1_loss`, `kl_div`,
 * `binary_cross_entropy_with_logits`, `layer_norm`...): float16 inputs are widened first. Cross entropy
 * is log-softmax then nll_loss in PyTorch, both on this list.
 *
 * @example
 * ```ts
 * import { amp } from "../../mod.ts";
 * console.log(amp.FP32_OPS.includes("softmax")); // true: float32 even inside amp.autocast
 * ```
 */
export const FP32_OPS = [
  "softmax",
  "logSoftmax",
  "logSumExp",
  "sum",
  "prod",
  "nllLoss",
  "crossEntropy",
  "mseLoss",
  "l1Loss",
  "klDiv",
  "binaryCrossEntropyWithLogits",
  "layerNorm",
] as const;

/** An op of {@linkcode LOWER_PRECISION_FP_OPS}. */
export type LowerPrecisionFpOp = typeof LOWER_PRECISION_FP_OPS[number];
/** An op of {@linkcode FP32_OPS}. */
export type Fp32Op = typeof FP32_OPS[number];

/** The settings of an autocast region. */
export interface AutocastState {
  /** Whether autocast is on. */
  enabled: boolean;
  /** The lower precision dtype (only float16 here; PyTorch's CPU autocast uses bfloat16, which we lack). */
  dtype: "float16";
  /** Whether casts of weights are cached for the region. */
  cacheEnabled: boolean;
}

let state: AutocastState = { enabled: false, dtype: "float16", cacheEnabled: true };
let depth = 0; // open regions (enabled or not), for the cache's lifetime
let warned = false;

interface CacheEntry {
  version: number;
  cast: Tensor;
}
const cache = new Map<Tensor, CacheEntry>();

/** Whether autocast is on (inside `amp.autocast`). */
export function isAutocastEnabled(): boolean {
  return state.enabled;
}

/** The current autocast settings (a copy). */
export function getAutocastState(): AutocastState {
  return { ...state };
}

/**
 * Enters a region with `next` settings and returns the previous ones, to pass to
 * {@linkcode exitAutocast}. Regions nest.
 */
export function enterAutocast(next: AutocastState): AutocastState {
  const prev = state;
  state = { ...next };
  depth++;
  return prev;
}

/** Leaves a region, restoring `prev`; the outermost exit frees the cached weight casts. */
export function exitAutocast(prev: AutocastState): void {
  state = prev;
  depth = Math.max(0, depth - 1);
  if (depth === 0) clearAutocastCache();
}

/** Turns autocast off (returning the previous settings) without touching the cache: for backward passes. */
export function suspendAutocast(): AutocastState {
  const prev = state;
  state = { ...state, enabled: false };
  return prev;
}

/** Restores settings saved by {@linkcode suspendAutocast}. */
export function resumeAutocast(prev: AutocastState): void {
  state = prev;
}

/** Frees the cached float16 casts of weights (PyTorch's `torch.clear_autocast_cache()`). */
export function clearAutocastCache(): void {
  for (const e of cache.values()) e.cast.dispose();
  cache.clear();
}

/** Number of cached weight casts (for tests). */
export function autocastCacheSize(): number {
  return cache.size;
}

/** Whether `device` can run float16; warns once (and autocast keeps float32) when it cannot. */
function deviceHasF16(device: string): boolean {
  if (backendFor(device as "cpu" | "webgpu").supportsF16) return true;
  if (!warned) {
    warned = true;
    console.warn(
      `autocast: float16 needs the shader-f16 feature, which the ${device} adapter lacks; ` +
        `matmul, linear and conv2d keep running in float32`,
    );
  }
  return false;
}

/** `t` cast to float16, from the cache when `t` is a weight (a leaf that requires grad). */
function lowerCast(t: Tensor): { t: Tensor; owned: boolean } {
  const cacheable = state.cacheEnabled && t.isLeaf && t.requiresGrad;
  if (!cacheable) return { t: castTo(t, state.dtype), owned: true };
  const hit = cache.get(t);
  if (hit && hit.version === t.version && !hit.cast.isDisposed && !hit.cast.gradFn?.released) {
    return { t: hit.cast, owned: false };
  }
  if (hit) hit.cast.dispose();
  const cast = keep(castTo(t, state.dtype));
  cache.set(t, { version: t.version, cast });
  return { t: cast, owned: false };
}

/**
 * The hook of a "lower_precision_fp" op: under autocast, when an input is float32 and the device has
 * float16, runs `run` on float16 casts of the floating inputs (nulls pass through) and returns its result;
 * otherwise returns null and the op proceeds as usual.
 */
export function autocastLowerPrecision<A extends readonly (Tensor | null)[]>(
  _op: LowerPrecisionFpOp,
  inputs: A,
  run: (...args: A) => Tensor,
): Tensor | null {
  if (!state.enabled) return null;
  const first = inputs.find((t) => t !== null);
  if (!first || !inputs.some((t) => t?.dtype === "float32")) return null;
  if (!deviceHasF16(first.device)) return null;
  const owned: Tensor[] = [];
  const args = inputs.map((t) => {
    if (!t || t.dtype !== "float32") return t;
    const c = lowerCast(t);
    if (c.owned) owned.push(c.t);
    return c.t;
  }) as unknown as A;
  try {
    return run(...args);
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * The hook of an "fp32" op: under autocast, when an input is float16, runs `run` on float32 casts of the
 * float16 inputs (others pass through) and returns its result; otherwise returns null.
 */
export function autocastFp32<A extends readonly (Tensor | null)[]>(
  _op: Fp32Op,
  inputs: A,
  run: (...args: A) => Tensor,
): Tensor | null {
  if (!state.enabled || !inputs.some((t) => t?.dtype === "float16")) return null;
  const owned: Tensor[] = [];
  const args = inputs.map((t) => {
    if (!t || t.dtype !== "float16") return t;
    const c = castTo(t, "float32");
    owned.push(c);
    return c;
  }) as unknown as A;
  try {
    return run(...args);
  } finally {
    for (const t of owned) t.dispose();
  }
}
