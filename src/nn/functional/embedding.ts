/**
 * `embedding`: rows of a weight table picked by integer indices.
 * @module
 */
import { fmtShape } from "../../tensor/shape.ts";
import { tidy } from "../../tensor/scope.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { where } from "../../ops/compare.ts";

/** Options of {@linkcode embedding}. */
export interface EmbeddingOptions {
  /** Index whose row gets no gradient (its entries are not trained). */
  paddingIdx?: number | null;
}

/**
 * Rows of `weight` (`[numEmbeddings, dim]`) at the int32 `indices` (any shape): the result has shape
 * `[...indices.shape, dim]`, as `torch.nn.functional.embedding`.
 *
 * @example
 * ```ts
 * import { F, randn, tensor } from "../../../mod.ts";
 * const table = randn([10, 4]);
 * const rows = F.embedding(tensor([[1, 2], [3, 9]]), table); // shape [2, 2, 4]
 * ```
 */
export function embedding(
  indices: Tensor,
  weight: Tensor,
  { paddingIdx = null }: EmbeddingOptions = {},
): Tensor {
  if (indices.dtype !== "int32") {
    throw new TypeError(`embedding: expected int32 indices, got ${indices.dtype}`);
  }
  if (weight.ndim !== 2) {
    throw new RangeError(
      `embedding: weight must be 2-D [numEmbeddings, dim], got shape ${fmtShape(weight.shape)}`,
    );
  }
  const pad = normPaddingIdx("embedding", paddingIdx, weight.shape[0]);
  return tidy(() => {
    const flat = indices.reshape([indices.size]);
    let rows = weight.indexSelect(0, flat);
    if (pad !== null && weight.requiresGrad) {
      // Same values, but no gradient reaches the padding row.
      rows = where(flat.ne(pad).unsqueeze(1), rows, rows.detach());
    }
    return rows.reshape([...indices.shape, weight.shape[1]]);
  });
}

/** `paddingIdx` as a non-negative row index (negative counts from the end), or null. */
export function normPaddingIdx(op: string, paddingIdx: number | null | undefined, n: number): number | null {
  if (paddingIdx === null || paddingIdx === undefined) return null;
  if (!Number.isInteger(paddingIdx) || paddingIdx >= n || paddingIdx < -n) {
    throw new RangeError(`${op}: paddingIdx must be an integer within [${-n}, ${n - 1}], got ${paddingIdx}`);
  }
  return paddingIdx < 0 ? paddingIdx + n : paddingIdx;
}
