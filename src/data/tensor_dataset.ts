/**
 * `TensorDataset`: samples are the rows of tensors that share their first dim (PyTorch's
 * `torch.utils.data.TensorDataset`).
 * @module
 */
import type { CpuStorage } from "../backend/cpu/cpu_backend.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { tensor } from "../tensor/creation.ts";
import { fmtShape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type Batch, type BatchOptions, checkIndex, Dataset } from "./dataset.ts";
import { gatherRows } from "./rows.ts";

/**
 * A dataset whose sample `i` is `[t0[i], t1[i], ...]` for tensors of equal first dim. Batches of CPU tensors
 * are assembled by copying rows into one typed array and uploading it once; batches of WebGPU tensors by one
 * `indexSelect` on the device. The dataset does not own the tensors (dispose them yourself).
 *
 * @example
 * ```ts
 * import { data, randint, randn } from "../../mod.ts";
 * const ds = new data.TensorDataset(randn([100, 3]), randint(0, 2, [100]));
 * const [x, y] = ds.get(0); // shapes [3] and []
 * const loader = new data.DataLoader(ds, { batchSize: 32, shuffle: true, seed: 0 });
 * ```
 */
export class TensorDataset extends Dataset<Tensor[]> {
  /** The tensors, whose first dim indexes the samples. */
  readonly tensors: readonly Tensor[];

  /** A dataset over the rows of `tensors` (at least one; all with the same first dim, on one device). */
  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new RangeError("TensorDataset: expected at least one tensor");
    tensors.forEach((t, k) => {
      t.checkLive("TensorDataset");
      if (t.ndim === 0) {
        throw new RangeError(
          `TensorDataset: tensor ${k} is zero-dimensional; samples are rows of the first dim`,
        );
      }
      if (t.shape[0] !== tensors[0].shape[0]) {
        throw new RangeError(
          `TensorDataset: size mismatch between tensors: tensor 0 has shape ${fmtShape(tensors[0].shape)} ` +
            `but tensor ${k} has shape ${fmtShape(t.shape)} (the first dims must be equal)`,
        );
      }
      if (t.device !== tensors[0].device) {
        throw new Error(
          `TensorDataset: tensor 0 is on ${
            tensors[0].device
          } but tensor ${k} is on ${t.device}; move them to one device`,
        );
      }
    });
    this.tensors = Object.freeze([...tensors]);
  }

  /** Number of samples (the first dim). */
  get length(): number {
    return this.tensors[0].shape[0];
  }

  /** `[t0[i], t1[i], ...]`: views of row `i` of each tensor. */
  get(index: number): Tensor[] {
    checkIndex(index, this.length, "TensorDataset.get");
    return noGrad(() =>
      this.tensors.map((t) => {
        const row = t.narrow(0, index, 1);
        const out = row.squeeze(0);
        row.dispose();
        return out;
      })
    );
  }

  /** The rows at `indices` of each tensor, as batch tensors on `device`. */
  override getBatch(indices: Int32Array, { device }: BatchOptions): Batch {
    return noGrad(() => this.tensors.map((t) => this.#rows(t, indices, device)));
  }

  #rows(t: Tensor, indices: Int32Array, device: BatchOptions["device"]): Tensor {
    t.checkLive("TensorDataset");
    if (t.device === "cpu") {
      const c = t.isContiguous() ? t : t.contiguous();
      try {
        const flat = (c.storage as CpuStorage).data.subarray(c.offset, c.offset + c.size);
        return gatherRows(
          { data: flat, rowShape: t.shape.slice(1), dtype: t.dtype },
          indices,
          device,
          t.shape[0],
        );
      } finally {
        if (c !== t) c.dispose();
      }
    }
    if (device !== t.device) {
      throw new Error(
        `TensorDataset: the tensors are on ${t.device} and can't be batched onto ${device} without a read; ` +
          `use a loader with device "${t.device}", or build the dataset from CPU tensors`,
      );
    }
    const idx = tensor(indices, { dtype: "int32", device: t.device });
    try {
      return t.indexSelect(0, idx);
    } finally {
      idx.dispose();
    }
  }
}
