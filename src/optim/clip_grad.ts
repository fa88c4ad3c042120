/**
 * Gradient clipping on the device: `clipGradNorm` (PyTorch's `clip_grad_norm_`) and `clipGradValue`
 * (`clip_grad_value_`). Nothing is read back: the clip coefficient stays a tensor, so clipping never waits.
 * @module
 */
import { noGrad } from "../autograd/grad_mode.ts";
import { div } from "../ops/binary.ts";
import { stack } from "../ops/join.ts";
import { sameDevice } from "../ops/util.ts";
import { tidy } from "../tensor/scope.ts";
import { full } from "../tensor/creation.ts";
import { Tensor } from "../tensor/tensor.ts";

function gradsOf(params: Tensor | Iterable<Tensor>, what: string): Tensor[] {
  const list = params instanceof Tensor ? [params] : [...params];
  const grads: Tensor[] = [];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new TypeError(`${what}: parameter ${i} is not a Tensor`);
    if (p.grad === null) return;
    p.grad.checkLive(`${what} (the gradient of parameter ${i})`);
    grads.push(p.grad);
  });
  if (grads.length) sameDevice(what, ...grads);
  return grads;
}

/** The p-norm of all of `x`'s elements as a float32 scalar. */
function norm(x: Tensor, p: number): Tensor {
  const f = x.dtype === "float32" ? x : x.float();
  if (p === Infinity) return f.abs().max();
  if (p === 2) return f.square().sum().sqrt();
  if (p === 1) return f.abs().sum();
  return f.abs().pow(p).sum().pow(1 / p);
}

/**
 * Scales the gradients of `params` in place so that their total `normType`-norm (the norm of all of them as
 * one vector) is at most `maxNorm`, as PyTorch's `clip_grad_norm_`: each gradient is multiplied by
 * min(1, maxNorm / (total + 1e-6)). Computed on the device without reading: returns the total norm (before
 * clipping) as a float32 scalar tensor that you own; `await norm.item()` it only when you want to log it.
 * Parameters without a gradient are skipped; `normType` is any p > 0 or `Infinity`.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "../../mod.ts";
 * const w = tensor([3, 4], { requiresGrad: true });
 * w.mul(w).sum().div(2).backward(); // w.grad = [3, 4], norm 5
 * const total = optim.clipGradNorm([w], 1);
 * console.log(await total.item(), await w.grad!.toArray()); // 5 [0.6, 0.8]
 * ```
 */
export function clipGradNorm(params: Tensor | Iterable<Tensor>, maxNorm: number, normType = 2): Tensor {
  if (typeof maxNorm !== "number" || Number.isNaN(maxNorm)) {
    throw new TypeError(`clipGradNorm: maxNorm must be a number, got ${maxNorm}`);
  }
  if (typeof normType !== "number" || !(normType > 0)) {
    throw new RangeError(`clipGradNorm: normType must be a positive number or Infinity, got ${normType}`);
  }
  const grads = gradsOf(params, "clipGradNorm");
  if (grads.length === 0) return full([], 0, { dtype: "float32", device: "cpu" });
  return noGrad(() =>
    tidy(() => {
      const norms = grads.map((g) => norm(g, normType));
      let total: Tensor;
      if (norms.length === 1) total = norms[0];
      else {
        const all = stack(norms);
        total = normType === Infinity ? all.max() : norm(all, normType);
      }
      const coef = div(maxNorm, total.add(1e-6)).clamp(null, 1);
      for (const g of grads) g.mul_(coef);
      return total;
    })
  );
}

/**
 * Clamps the gradients of `params` in place into [-clipValue, clipValue], as PyTorch's `clip_grad_value_`
 * (on the device, without reading). Parameters without a gradient are skipped.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "../../mod.ts";
 * const w = tensor([1, -2], { requiresGrad: true });
 * w.mul(w).sum().backward(); // w.grad = [2, -4]
 * optim.clipGradValue([w], 1);
 * console.log(await w.grad!.toArray()); // [1, -1]
 * ```
 */
export function clipGradValue(params: Tensor | Iterable<Tensor>, clipValue: number): void {
  if (typeof clipValue !== "number" || !(clipValue >= 0)) {
    throw new RangeError(`clipGradValue: clipValue must be a number >= 0, got ${clipValue}`);
  }
  const grads = gradsOf(params, "clipGradValue");
  noGrad(() =>
    tidy(() => {
      for (const g of grads) g.copy_(g.clamp(-clipValue, clipValue));
    })
  );
}
