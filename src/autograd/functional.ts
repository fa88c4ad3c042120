/**
 * `grad` (gradients returned instead of accumulated) and `gradcheck` (finite differences).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { runBackward } from "./engine.ts";
import { noGrad } from "./grad_mode.ts";
import { onesFor } from "../ops/binary.ts";

/**
 * The gradients of `outputs` with respect to `inputs`, returned rather than accumulated into `.grad`
 * (PyTorch's `torch.autograd.grad`). Inputs that the outputs do not depend on get null.
 *
 * @example
 * ```ts
 * import { autograd, tensor } from "../../mod.ts";
 * const x = tensor([1, 2, 3], { requiresGrad: true });
 * const [dx] = autograd.grad([x.mul(x).sum()], [x]); // 2x
 * ```
 */
export function grad(
  outputs: readonly Tensor[],
  inputs: readonly Tensor[],
  gradOutputs?: readonly (Tensor | null)[],
  opts: { retainGraph?: boolean; createGraph?: boolean } = {},
): (Tensor | null)[] {
  const seeds = outputs.map((o, i) => {
    const g = gradOutputs?.[i];
    if (g) return g.alias();
    if (o.size !== 1) {
      throw new Error(
        `grad: grad can be implicitly created only for scalar outputs (output ${i} has shape ${
          fmtShape(o.shape)
        })`,
      );
    }
    return onesFor(o);
  });
  for (const t of inputs) {
    if (!t.requiresGrad) throw new Error("grad: one of the inputs does not require grad");
  }
  return runBackward(outputs, seeds, opts, inputs);
}

/** Tolerances of {@linkcode gradcheck}. */
export interface GradcheckOptions {
  /** Finite-difference step (default 1e-3, suited to float32). */
  eps?: number;
  /** Absolute tolerance (default 1e-2). */
  atol?: number;
  /** Relative tolerance (default 1e-2). */
  rtol?: number;
}

/**
 * Checks autograd's gradients of `fn` at `inputs` against central finite differences of a random projection
 * of the output. Resolves to true, or rejects with the first mismatching input element.
 *
 * @example
 * ```ts
 * import { autograd, tensor } from "../../mod.ts";
 * const x = tensor([0.3, -0.7, 1.1], { requiresGrad: true });
 * await autograd.gradcheck((x) => x.tanh().mul(x), [x]);
 * ```
 */
export async function gradcheck(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  opts: GradcheckOptions = {},
): Promise<boolean> {
  const eps = opts.eps ?? 1e-3;
  const atol = opts.atol ?? 1e-2;
  const rtol = opts.rtol ?? 1e-2;
  const out = fn(...inputs);
  // a fixed pseudo-random cotangent, so that every output element matters
  const n = out.size;
  const v = new Float32Array(n).map((_, i) => 0.5 + ((i * 7919) % 13) / 13);
  const { tensor } = await import("../tensor/creation.ts");
  const vt = tensor(v, { shape: [...out.shape], device: out.device, dtype: out.dtype });
  const analytic = grad([out], inputs.filter((t) => t.requiresGrad), [vt]);
  const project = async (): Promise<number> => {
    const o = noGrad(() => fn(...inputs));
    const d = await o.data();
    if (!inputs.includes(o)) o.dispose(); // fn may return an input itself (an identity)
    let s = 0;
    for (let i = 0; i < n; i++) s += Number(d[i]) * v[i];
    return s;
  };
  let k = 0;
  for (const x of inputs) {
    if (!x.requiresGrad) continue;
    const g = analytic[k++];
    const ga = g ? await g.data() : new Float32Array(x.size);
    const base = Float32Array.from(await x.data());
    for (let i = 0; i < x.size; i++) {
      const set = (value: number) => {
        const copy = base.slice();
        copy[i] = value;
        const t = tensor(copy, { shape: [...x.shape], device: x.device, dtype: x.dtype });
        noGrad(() => x.copy_(t));
        t.dispose();
      };
      set(base[i] + eps);
      const fp = await project();
      set(base[i] - eps);
      const fm = await project();
      set(base[i]);
      const numeric = (fp - fm) / (2 * eps);
      const a = Number(ga[i]);
      if (!(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric))) {
        throw new Error(
          `gradcheck: gradient of input ${k - 1} element ${i} is ${a} by autograd but ${numeric} by finite ` +
            `differences (input shape ${fmtShape(x.shape)})`,
        );
      }
    }
    g?.dispose();
  }
  vt.dispose();
  if (!inputs.includes(out)) out.dispose();
  return true;
}
