/**
 * Reductions over any dims with `keepdim`: sum, mean, prod, max, min, argmax, argmin, var, std, and their
 * gradients. Kernels: `src/backend/webgpu/kernels/reduce.ts` (`src/shaders/reduce.wgsl`) and
 * `src/backend/cpu/reduce.ts`.
 * @module
 */
import type { ReduceOp } from "../backend/backend.ts";
import { backendFor } from "../backend/registry.ts";
import { type DType, isFloating } from "../tensor/dtype.ts";
import { fmtShape, normDim, normDims, numel } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { operand, record, sameDevice, wrap } from "./util.ts";
import { autocastFp32 } from "../autograd/autocast_mode.ts";

/** The shape of a reduction's result. */
export function reducedShape(shape: readonly number[], axes: readonly number[], keepdim: boolean): number[] {
  return keepdim
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}

/** Runs a reduction kernel without autograd. */
export function reduceRaw(
  op: ReduceOp,
  x: Tensor,
  axes: readonly number[],
  keepdim: boolean,
  outDtype: DType,
): Tensor {
  sameDevice(op, x);
  const storage = backendFor(x.device).reduce(op, operand(x), axes, outDtype);
  return wrap(storage, reducedShape(x.shape, axes, keepdim), x.device);
}

/** Broadcasts a reduced gradient back over the reduced axes (a view; no copy). */
export function expandBack(g: Tensor, shape: readonly number[], axes: readonly number[]): Tensor {
  const kept = g.reshape(reducedShape(shape, axes, true));
  const e = kept.expand([...shape]);
  kept.dispose();
  return e;
}

/** Sum over dims (all when undefined). Integers and bools sum to int32. */
export function sum(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const autocast = autocastFp32("sum", [x] as const, (x32) => sum(x32, dim, keepdim));
  if (autocast) return autocast;
  const axes = normDims(dim, x.ndim, "sum");
  const dt: DType = isFloating(x.dtype) ? x.dtype : "int32";
  const out = reduceRaw("sum", x, axes, keepdim, dt);
  return record("SumBackward1", out, [x], () => (g) => [expandBack(g, x.shape, axes)]);
}

/** Mean over dims (all when undefined); floating point tensors only, as in PyTorch. */
export function mean(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  if (!isFloating(x.dtype)) {
    throw new TypeError(
      `mean: input dtype must be floating point, but got ${x.dtype}; convert it with .float()`,
    );
  }
  const axes = normDims(dim, x.ndim, "mean");
  const n = numel(axes.map((a) => x.shape[a]));
  const s = reduceRaw("sum", x, axes, keepdim, x.dtype);
  const out = s.mul(1 / n);
  s.dispose();
  return record("MeanBackward1", out, [x], () => (g) => {
    const e = expandBack(g, x.shape, axes);
    const r = e.mul(1 / n);
    e.dispose();
    return [r];
  });
}

/** Product over dims (all when undefined). The gradient is out/x (undefined where x = 0). */
export function prod(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const autocast = autocastFp32("prod", [x] as const, (x32) => prod(x32, dim, keepdim));
  if (autocast) return autocast;
  const axes = normDims(dim, x.ndim, "prod");
  const dt: DType = isFloating(x.dtype) ? x.dtype : "int32";
  const out = reduceRaw("prod", x, axes, keepdim, dt);
  return record("ProdBackward1", out, [x], (node) => {
    const sx = node.save(x);
    const so = node.save(out);
    return (g) => {
      const go = g.mul(so);
      const e = expandBack(go, x.shape, axes);
      go.dispose();
      const r = e.div(sx);
      e.dispose();
      return [r];
    };
  });
}

function extremum(
  op: "max" | "min",
  x: Tensor,
  dim: number | readonly number[] | undefined,
  keepdim: boolean,
) {
  const axes = normDims(dim, x.ndim, op);
  for (const a of axes) {
    if (x.shape[a] === 0) {
      throw new RangeError(`${op}: cannot reduce dimension ${a} of size 0 (shape ${fmtShape(x.shape)})`);
    }
  }
  if (axes.length === 0 && x.ndim === 0 && x.size === 0) throw new RangeError(`${op}: empty tensor`);
  const out = reduceRaw(op, x, axes, keepdim, x.dtype);
  return record(op === "max" ? "MaxBackward1" : "MinBackward1", out, [x], (node) => {
    const sx = node.save(x);
    const so = node.save(out);
    return (g) => {
      // the gradient goes to the extreme elements, split evenly between ties (PyTorch's amax/amin rule)
      const oe = expandBack(so, x.shape, axes);
      const mask = sx.eq(oe).to(g.dtype);
      oe.dispose();
      const count = mask.sum(axes, true);
      const ge = expandBack(g, x.shape, axes);
      const share = ge.div(count);
      ge.dispose();
      count.dispose();
      const r = share.mul(mask);
      share.dispose();
      mask.dispose();
      return [r];
    };
  });
}

/** Maximum over dims (all when undefined). */
export function max(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return extremum("max", x, dim, keepdim);
}

/** Minimum over dims (all when undefined). */
export function min(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return extremum("min", x, dim, keepdim);
}

function argExtremum(op: "argmax" | "argmin", x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  if (x.size === 0) throw new RangeError(`${op}: cannot take the ${op} of an empty tensor`);
  if (dim === undefined) {
    const flat = x.reshape([-1]);
    const r = reduceRaw(op, flat, [0], false, "int32");
    flat.dispose();
    if (!keepdim) return r;
    const k = r.reshape(x.shape.map(() => 1));
    r.dispose();
    return k;
  }
  const d = normDim(dim, x.ndim, op);
  return reduceRaw(op, x, x.ndim === 0 ? [] : [d], keepdim, "int32");
}

/** Index of the maximum along `dim` (of the flattened tensor when undefined), int32. */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtremum("argmax", x, dim, keepdim);
}

/** Index of the minimum along `dim` (of the flattened tensor when undefined), int32. */
export function argmin(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtremum("argmin", x, dim, keepdim);
}

/** Variance over dims with `correction` (1: unbiased, Bessel's; 0: population), built from primitives. */
export function variance(
  x: Tensor,
  dim?: number | readonly number[],
  keepdim = false,
  correction = 1,
): Tensor {
  const axes = normDims(dim, x.ndim, "var");
  const n = numel(axes.map((a) => x.shape[a]));
  const m = mean(x, axes, true);
  const c = x.sub(m);
  m.dispose();
  const sq = c.mul(c);
  c.dispose();
  const s = sq.sum(axes, keepdim);
  sq.dispose();
  const out = s.div(Math.max(0, n - correction));
  s.dispose();
  return out;
}

/** Standard deviation over dims with `correction`. */
export function std(x: Tensor, dim?: number | readonly number[], keepdim = false, correction = 1): Tensor {
  const v = variance(x, dim, keepdim, correction);
  const out = v.sqrt();
  v.dispose();
  return out;
}
