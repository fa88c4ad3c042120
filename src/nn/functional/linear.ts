/**
 * `linear`: the affine map y = x·Wᵀ + b of {@linkcode Linear}.
 * @module
 */
import { fmtShape } from "../../tensor/shape.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { autocastLowerPrecision } from "../../autograd/autocast_mode.ts";

/**
 * `x·weightᵀ + bias` over the last dim of `x` (`weight` is `[out, in]`, `bias` is `[out]`), as
 * `torch.nn.functional.linear`. Under `amp.autocast` it runs in float16 (x, weight and bias are cast;
 * the float32 weight's gradient stays float32).
 *
 * @example
 * ```ts
 * import { F, randn } from "../../../mod.ts";
 * const y = F.linear(randn([4, 3]), randn([2, 3]), randn([2])); // shape [4, 2]
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight.ndim !== 2) {
    throw new RangeError(
      `linear: weight must be 2-D [outFeatures, inFeatures], got shape ${fmtShape(weight.shape)}`,
    );
  }
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new RangeError(
      `linear: input of shape ${fmtShape(x.shape)} does not match weight of shape ${
        fmtShape(weight.shape)
      } (the input's last dim must be ${weight.shape[1]})`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new RangeError(
      `linear: bias of shape ${fmtShape(bias.shape)} does not match weight of shape ${
        fmtShape(weight.shape)
      }`,
    );
  }
  const autocast = autocastLowerPrecision(
    "linear",
    [x, weight, bias ?? null] as const,
    (x16, w16, b16) => linear(x16, w16, b16),
  );
  if (autocast) return autocast;
  const wt = weight.T;
  const y = x.matmul(wt);
  wt.dispose();
  if (!bias) return y;
  const out = y.add(bias);
  y.dispose();
  return out;
}
