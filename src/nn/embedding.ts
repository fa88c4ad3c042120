/**
 * `Embedding`: a trainable lookup table of vectors.
 * @module
 */
import { noGrad } from "../autograd/grad_mode.ts";
import { getDefaultDevice, zeros } from "../tensor/creation.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { embedding, normPaddingIdx } from "./functional/embedding.ts";
import { normal_ } from "./init.ts";
import { checkFeatures, type LayerOptions } from "./linear.ts";
import { Module } from "./module.ts";

/** Options of {@linkcode Embedding}. */
export interface EmbeddingOptions extends LayerOptions {
  /** A row that starts at zero and gets no gradient (e.g. the padding token). Negative counts from the end. */
  paddingIdx?: number | null;
}

/**
 * A table of `numEmbeddings` vectors of size `embeddingDim`, initialised N(0, 1), looked up by int32 indices:
 * PyTorch's `nn.Embedding`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "../../mod.ts";
 * const emb = new nn.Embedding(10, 4, { paddingIdx: 0 });
 * const vectors = emb.forward(tensor([[1, 2, 0]])); // shape [1, 3, 4]
 * ```
 */
export class Embedding extends Module {
  /** Number of rows. */
  readonly numEmbeddings: number;
  /** Size of each vector. */
  readonly embeddingDim: number;
  /** The row that gets no gradient, or null. */
  readonly paddingIdx: number | null;
  /** The table, `[numEmbeddings, embeddingDim]`. */
  declare weight: Tensor;

  constructor(
    numEmbeddings: number,
    embeddingDim: number,
    { paddingIdx, device, dtype }: EmbeddingOptions = {},
  ) {
    super();
    checkFeatures("Embedding", { numEmbeddings, embeddingDim });
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.paddingIdx = normPaddingIdx("Embedding", paddingIdx, numEmbeddings);
    const opts = { device: device ?? getDefaultDevice(), dtype: dtype ?? "float32" };
    this.registerParameter("weight", zeros([numEmbeddings, embeddingDim], opts));
    this.resetParameters();
  }

  /** Draws fresh N(0, 1) values (and zeroes the padding row). */
  resetParameters(): void {
    normal_(this.weight);
    if (this.paddingIdx !== null) {
      const row = this.weight.narrow(0, this.paddingIdx, 1);
      noGrad(() => row.fill_(0));
      row.dispose();
    }
  }

  /** The rows at `indices`: shape `[...indices.shape, embeddingDim]`. */
  forward(indices: Tensor): Tensor {
    return embedding(indices, this.weight, { paddingIdx: this.paddingIdx });
  }

  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}` +
      (this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : "");
  }
}
