/**
 * The default collate function: a list of samples to batch tensors (PyTorch's `default_collate`).
 * @module
 */
import type { Device } from "../backend/registry.ts";
import type { CpuStorage } from "../backend/cpu/cpu_backend.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { tensor } from "../tensor/creation.ts";
import { allocHost } from "../tensor/dtype.ts";
import { fmtShape } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";
import { stack } from "../ops/join.ts";
import type { Batch, Sample } from "./dataset.ts";

/**
 * Stacks samples position by position: tensors of equal shape and dtype become one tensor with a new first
 * dim, numbers become a 1-D tensor (int32 when all are integers, else float32). CPU tensors are copied
 * into one typed array and uploaded once; tensors already on a device are stacked there. The batch is on
 * `device`. A sample may also be a bare tensor (a one-tensor tuple).
 *
 * @example
 * ```ts
 * import { data, tensor } from "../../mod.ts";
 * const [x, y] = data.defaultCollate([[tensor([1, 2]), 0], [tensor([3, 4]), 1]]);
 * // x: [[1, 2], [3, 4]] (int32, shape [2, 2]); y: [0, 1]
 * ```
 */
export function defaultCollate(samples: readonly (Sample | Tensor)[], device: Device = "cpu"): Batch {
  if (samples.length === 0) throw new RangeError("collate: expected at least one sample");
  const tuples = samples.map((s) => (s instanceof Tensor ? [s] : s));
  const width = tuples[0].length;
  tuples.forEach((t, i) => {
    if (!Array.isArray(t)) {
      throw new TypeError(`collate: sample ${i} is not an array of tensors and numbers (got ${typeof t})`);
    }
    if (t.length !== width) {
      throw new RangeError(
        `collate: samples have different lengths: sample 0 has ${width} elements, sample ${i} has ${t.length}`,
      );
    }
  });
  return noGrad(() => {
    const out: Batch = [];
    try {
      for (let j = 0; j < width; j++) out.push(collateColumn(tuples.map((t) => t[j]), j, device));
    } catch (e) {
      for (const t of out) t.dispose();
      throw e;
    }
    return out;
  });
}

function collateColumn(values: readonly (Tensor | number)[], j: number, device: Device): Tensor {
  if (values.every((v) => typeof v === "number")) {
    const nums = values as number[];
    const dtype = nums.every(Number.isInteger) ? "int32" : "float32";
    return tensor(nums, { dtype, device });
  }
  values.forEach((v, i) => {
    if (!(v instanceof Tensor)) {
      throw new TypeError(
        `collate: element ${j} of sample ${i} is ${typeof v}, but element ${j} of another sample is a ` +
          "tensor; each position must hold only tensors or only numbers",
      );
    }
  });
  const ts = values as Tensor[];
  const first = ts[0];
  ts.forEach((t, i) => {
    t.checkLive("collate");
    if (t.ndim !== first.ndim || t.shape.some((d, k) => d !== first.shape[k])) {
      throw new RangeError(
        `collate: element ${j} has shape ${fmtShape(first.shape)} in sample 0 but ${
          fmtShape(t.shape)
        } in sample ${i}; samples must have equal shapes to be stacked (or pass a collate function)`,
      );
    }
    if (t.dtype !== first.dtype) {
      throw new TypeError(
        `collate: element ${j} is ${first.dtype} in sample 0 but ${t.dtype} in sample ${i}`,
      );
    }
  });
  if (ts.every((t) => t.device === "cpu")) {
    const row = first.size;
    const flat = allocHost(first.dtype, row * ts.length);
    ts.forEach((t, i) => {
      const c = t.isContiguous() ? t : t.contiguous();
      const src = (c.storage as CpuStorage).data.subarray(c.offset, c.offset + row);
      (flat as Float32Array).set(src as Float32Array, i * row);
      if (c !== t) c.dispose();
    });
    return tensor(flat, { shape: [ts.length, ...first.shape], dtype: first.dtype, device });
  }
  const s = stack(ts, 0);
  if (s.device === device) return s;
  if (device === "cpu") {
    s.dispose();
    throw new Error(
      `collate: the samples are on ${first.device} and can't be batched onto cpu without a read; ` +
        `use a loader with device "${first.device}"`,
    );
  }
  const moved = s.to(device);
  s.dispose();
  return moved;
}
