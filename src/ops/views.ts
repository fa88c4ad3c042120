/**
 * Shape ops, most of them views that share storage: reshape/view, transpose, permute, squeeze, unsqueeze,
 * expand, flatten, narrow/slice; plus contiguous, clone, in-place copies and reading back to the CPU.
 * @module
 */
import { backendFor } from "../backend/registry.ts";
import { cpuBackend } from "../backend/cpu/cpu_backend.ts";
import { isGradEnabled } from "../autograd/grad_mode.ts";
import {
  broadcastShapes,
  contiguousStrides,
  fmtShape,
  isContiguous,
  normDim,
  numel,
} from "../tensor/shape.ts";
import { Tensor, type TensorLike } from "../tensor/tensor.ts";
import { broadcastOperand, constantStorage, operand, record, sameDevice, sumToShape, wrap } from "./util.ts";

/** Accepts `f(2, 3)` and `f([2, 3])` alike. */
export function shapeArg(args: number[] | [readonly number[]]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? [...args[0]] : (args as number[]);
}

/** Resolves a -1 in a target shape and checks the element count. */
export function inferShape(
  shape: readonly number[],
  total: number,
  op: string,
  from: readonly number[],
): number[] {
  const out = [...shape];
  const neg = out.indexOf(-1);
  if (out.some((d, i) => !Number.isInteger(d) || d < -1 || (d === -1 && i !== neg))) {
    throw new RangeError(`${op}: invalid shape ${fmtShape(shape)} (only one dimension may be -1)`);
  }
  if (neg >= 0) {
    const rest = numel(out.filter((_, i) => i !== neg));
    if (rest === 0 || total % rest !== 0) {
      throw new RangeError(
        `${op}: shape ${fmtShape(shape)} is invalid for input of size ${total} (shape ${fmtShape(from)})`,
      );
    }
    out[neg] = total / rest;
  }
  if (numel(out) !== total) {
    throw new RangeError(
      `${op}: shape ${fmtShape(shape)} is invalid for input of size ${total} (shape ${fmtShape(from)})`,
    );
  }
  return out;
}

/** Strides that view `shape` onto the same elements, or null when a copy is needed (PyTorch's computeStride). */
function viewStrides(
  oldShape: readonly number[],
  oldStrides: readonly number[],
  shape: readonly number[],
): number[] | null {
  if (numel(oldShape) === 0 || isContiguous(oldShape, oldStrides)) return contiguousStrides(shape);
  const strides = new Array<number>(shape.length);
  let viewD = shape.length - 1;
  let chunkBase = oldStrides[oldStrides.length - 1] ?? 1;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    tensorNumel *= oldShape[d];
    if (d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] === 1)) {
        strides[viewD] = viewNumel * chunkBase;
        viewNumel *= shape[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = oldStrides[d - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) return null;
  return strides;
}

function reshapeGrad(name: string, out: Tensor, x: Tensor): Tensor {
  return record(name, out, [x], () => (g) => [g.reshape([...x.shape])]);
}

/** The same elements in `shape` (a view when the layout allows, else a copy). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x.checkLive("reshape");
  const target = inferShape(shape, x.size, "reshape", x.shape);
  const strides = viewStrides(x.shape, x.strides, target);
  if (strides) return reshapeGrad("ViewBackward0", x.viewAs(target, strides, x.offset), x);
  const c = contiguous(x);
  const out = c.viewAs(target, contiguousStrides(target), 0);
  c.dispose();
  return out.gradFn ? out : reshapeGrad("ReshapeAliasBackward0", out, x);
}

/** Like reshape, but never copies: throws when the layout does not allow a view. */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  x.checkLive("view");
  const target = inferShape(shape, x.size, "view", x.shape);
  const strides = viewStrides(x.shape, x.strides, target);
  if (!strides) {
    throw new Error(
      `view: size ${fmtShape(target)} is not compatible with the input's size and strides ` +
        `(${fmtShape(x.shape)}, strides ${fmtShape(x.strides)}); use reshape(), or contiguous() first`,
    );
  }
  return reshapeGrad("ViewBackward0", x.viewAs(target, strides, x.offset), x);
}

/** Swaps two dims (a view). */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  x.checkLive("transpose");
  if (x.ndim === 0) return x.alias();
  const a = normDim(dim0, x.ndim, "transpose");
  const b = normDim(dim1, x.ndim, "transpose");
  const shape = [...x.shape];
  const strides = [...x.strides];
  [shape[a], shape[b]] = [shape[b], shape[a]];
  [strides[a], strides[b]] = [strides[b], strides[a]];
  const out = x.viewAs(shape, strides, x.offset);
  return record("TransposeBackward0", out, [x], () => (g) => [g.transpose(a, b)]);
}

/** Reorders dims (a view). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  x.checkLive("permute");
  if (dims.length !== x.ndim) {
    throw new RangeError(`permute: got ${dims.length} dims ${fmtShape(dims)} for a tensor of rank ${x.ndim}`);
  }
  const p = dims.map((d) => normDim(d, x.ndim, "permute"));
  if (new Set(p).size !== p.length) throw new RangeError(`permute: repeated dim in ${fmtShape(dims)}`);
  const out = x.viewAs(p.map((d) => x.shape[d]), p.map((d) => x.strides[d]), x.offset);
  const inv = new Array<number>(p.length);
  p.forEach((d, i) => (inv[d] = i));
  return record("PermuteBackward0", out, [x], () => (g) => [g.permute(inv)]);
}

/** Removes size-1 dims (only `dim` when given, and only if it has size 1). */
export function squeeze(x: Tensor, dim?: number): Tensor {
  x.checkLive("squeeze");
  const keep = x.shape.map((
    d,
    i,
  ) => (dim === undefined ? d !== 1 : i !== normDim(dim, x.ndim, "squeeze") || d !== 1));
  const out = x.viewAs(x.shape.filter((_, i) => keep[i]), x.strides.filter((_, i) => keep[i]), x.offset);
  return reshapeGrad("SqueezeBackward0", out, x);
}

/** Inserts a size-1 dim at `dim` (a view). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  x.checkLive("unsqueeze");
  const d = normDim(dim, x.ndim + 1, "unsqueeze");
  const shape = [...x.shape];
  const strides = [...x.strides];
  const stride = d < x.ndim ? x.shape[d] * x.strides[d] : 1;
  shape.splice(d, 0, 1);
  strides.splice(d, 0, stride);
  return reshapeGrad("UnsqueezeBackward0", x.viewAs(shape, strides, x.offset), x);
}

/** Broadcasts size-1 dims (and new leading dims) to `shape` without copying; -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  x.checkLive("expand");
  if (shape.length < x.ndim) {
    throw new RangeError(
      `expand: the target shape ${fmtShape(shape)} has fewer dims than the tensor ${fmtShape(x.shape)}`,
    );
  }
  const off = shape.length - x.ndim;
  const target = shape.map((d, i) => (d === -1 && i >= off ? x.shape[i - off] : d));
  const strides = target.map((d, i) => {
    if (i < off) return 0;
    const s = x.shape[i - off];
    if (s === d) return x.strides[i - off];
    if (s === 1) return 0;
    throw new RangeError(
      `expand: the expanded size of the tensor (${d}) must match the existing size (${s}) at non-singleton ` +
        `dimension ${i}. Target sizes: ${fmtShape(shape)}. Tensor sizes: ${fmtShape(x.shape)}`,
    );
  });
  const out = x.viewAs(target, strides, x.offset);
  return record("ExpandBackward0", out, [x], () => (g) => {
    const s = sumToShape(g, x.shape);
    return [s === g ? g.alias() : s];
  });
}

/** Flattens dims `startDim..endDim` into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim(startDim, x.ndim, "flatten");
  const e = normDim(endDim, x.ndim, "flatten");
  if (s > e) throw new RangeError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

/** Elements `start, start+step, ...` below `end` of `dim` (a view); negative bounds count from the end. */
export function slice(x: Tensor, dim: number, start?: number, end?: number, step = 1): Tensor {
  x.checkLive("slice");
  const d = normDim(dim, x.ndim, "slice");
  const n = x.shape[d];
  if (!Number.isInteger(step) || step <= 0) {
    throw new RangeError(`slice: step must be a positive integer, got ${step}`);
  }
  const clampIdx = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  const s = clampIdx(start ?? 0);
  const e = Math.max(s, clampIdx(end ?? n));
  const len = Math.ceil((e - s) / step);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape[d] = len;
  strides[d] = x.strides[d] * step;
  const out = x.viewAs(shape, strides, x.offset + s * x.strides[d]);
  return record(
    "SliceBackward0",
    out,
    [x],
    () => (g) => [scatterBack(g, x.shape, (z) => slice(z, d, s, e, step))],
  );
}

/** `length` elements of `dim` from `start` (a view), checked like PyTorch's narrow. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim(dim, x.ndim, "narrow");
  const n = x.shape[d];
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(s) || s < 0 || !Number.isInteger(length) || length < 0 || s + length > n) {
    throw new RangeError(
      `narrow: start (${start}) + length (${length}) exceeds dimension size (${n}) of dim ${d} (shape ${
        fmtShape(x.shape)
      })`,
    );
  }
  return slice(x, d, s, s + length);
}

/** A zero tensor of `shape` with `g` written into the part that `select` picks (the adjoint of a slice). */
export function scatterBack(g: Tensor, shape: readonly number[], select: (z: Tensor) => Tensor): Tensor {
  const z = wrap(backendFor(g.device).alloc(g.dtype, numel(shape)), shape, g.device);
  const part = select(z);
  copyInto(part, g);
  part.dispose();
  return z;
}

/** A contiguous copy with no autograd record. */
export function contiguousCopy(x: Tensor): Tensor {
  const out = wrap(backendFor(x.device).unary("copy", operand(x), x.dtype), x.shape, x.device);
  return out;
}

/** `x` itself when contiguous, else a contiguous copy (recorded for autograd). */
export function contiguous(x: Tensor): Tensor {
  x.checkLive("contiguous");
  if (x.isContiguous()) return x;
  return clone(x);
}

/** A copy with its own storage (recorded for autograd). */
export function clone(x: Tensor): Tensor {
  x.checkLive("clone");
  const out = contiguousCopy(x);
  return record("CloneBackward0", out, [x], () => (g) => [g.alias()]);
}

/** Throws PyTorch's error for an in-place op on a tensor that autograd tracks. */
export function checkInPlace(t: Tensor, op: string): void {
  t.checkLive(op);
  if (isGradEnabled() && t.requiresGrad) {
    throw new Error(
      `${op}: a ${t.isLeaf ? "leaf tensor" : "tensor"} that requires grad is being used in an in-place ` +
        `operation; wrap the update in noGrad(() => ...)`,
    );
  }
}

/** Writes `src` (broadcast to dst's shape, converted to its dtype) into `dst`'s elements, in place. */
export function copyInto(dst: Tensor, src: TensorLike): void {
  checkInPlace(dst, "copy_");
  const d = dst.device;
  const backend = backendFor(d);
  dst.bumpVersion_();
  if (typeof src === "number") {
    const s = constantStorage(src, dst.dtype, d);
    backend.copy(
      { storage: s, view: { shape: dst.shape, strides: dst.shape.map(() => 0), offset: 0 } },
      dst.storage,
      dst.layout,
    );
    return;
  }
  sameDevice("copy_", dst, src);
  const b = broadcastShapes(src.shape, dst.shape, "copy_");
  if (b.length !== dst.ndim || b.some((v, i) => v !== dst.shape[i])) {
    throw new RangeError(
      `copy_: source of shape ${fmtShape(src.shape)} cannot be broadcast to ${fmtShape(dst.shape)}`,
    );
  }
  if (src.storage === dst.storage) {
    // overlapping source and destination: go through a temporary copy
    const tmp = contiguousCopy(src);
    backend.copy(broadcastOperand(tmp, dst.shape), dst.storage, dst.layout);
    tmp.dispose();
    return;
  }
  backend.copy(broadcastOperand(src, dst.shape), dst.storage, dst.layout);
}

/** Reads a tensor back into a new CPU tensor. */
export async function toCpu(x: Tensor): Promise<Tensor> {
  const data = await x.data();
  const out = Tensor.fromStorage(cpuBackend.upload(x.dtype, data), x.shape, "cpu");
  if (x.requiresGrad) out.requiresGrad = true;
  return out;
}
