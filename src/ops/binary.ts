/**
 * Elementwise arithmetic of two operands with broadcasting and PyTorch's type promotion:
 * add, sub, mul, div, pow, maximum, minimum, and their gradients.
 * Kernels: `src/backend/webgpu/kernels/elementwise_ops.ts` (WGSL) and `src/backend/cpu/binary.ts`.
 * @module
 */
import type { BinaryOp, Operand } from "../backend/backend.ts";
import { backendFor } from "../backend/registry.ts";
import { type DType, isFloating, promote } from "../tensor/dtype.ts";
import { broadcastShapes, numel } from "../tensor/shape.ts";
import type { Tensor, TensorLike } from "../tensor/tensor.ts";
import { castTo } from "./cast.ts";
import { broadcastOperand, constantStorage, record, sameDevice, sumToShape, wrap } from "./util.ts";

/** The dtype PyTorch gives `a op b` (before ops that force float, like true division). */
export function resultDType(a: Tensor, b: TensorLike): DType {
  if (typeof b === "number") {
    if (isFloating(a.dtype)) return a.dtype;
    if (!Number.isInteger(b)) return "float32";
    return a.dtype === "bool" ? "int32" : a.dtype;
  }
  return promote(a.dtype, b.dtype);
}

/** The operand of a tensor or scalar broadcast to `shape` as `dtype` (scalars come from a constant cache). */
function operandOf(x: TensorLike, shape: readonly number[], dtype: DType, device: Tensor["device"]): Operand {
  if (typeof x === "number") {
    return {
      storage: constantStorage(x, dtype, device),
      view: { shape, strides: shape.map(() => 0), offset: 0 },
    };
  }
  return broadcastOperand(x, shape);
}

/**
 * Runs a binary kernel without recording autograd: broadcasting, scalar operands and casting both inputs
 * to `inDtype` (the caller's promoted type).
 */
export function binaryRaw(
  op: BinaryOp,
  a: TensorLike,
  b: TensorLike,
  inDtype: DType,
  outDtype: DType,
  p0?: number,
  p1?: number,
): Tensor {
  const ts = [a, b].filter((x): x is Tensor => typeof x !== "number");
  const device = sameDevice(op, ...ts);
  const shape = broadcastShapes(
    typeof a === "number" ? [] : a.shape,
    typeof b === "number" ? [] : b.shape,
    op,
  );
  const owned: Tensor[] = [];
  const cast = (x: TensorLike): TensorLike => {
    if (typeof x === "number" || x.dtype === inDtype) return x;
    const c = castTo(x, inDtype, false);
    owned.push(c);
    return c;
  };
  const [ca, cb] = [cast(a), cast(b)];
  const backend = backendFor(device);
  const storage = numel(shape) === 0 ? backend.alloc(outDtype, 0) : backend.binary(
    op,
    operandOf(ca, shape, inDtype, device),
    operandOf(cb, shape, inDtype, device),
    outDtype,
    p0,
    p1,
  );
  for (const t of owned) t.dispose();
  return wrap(storage, shape, device);
}

function first(a: TensorLike, b: TensorLike): Tensor {
  return typeof a === "number" ? b as Tensor : a;
}

function inputs(a: TensorLike, b: TensorLike): Tensor[] {
  return [a, b].filter((x): x is Tensor => typeof x !== "number");
}

/** Index of each tensor operand among the node's inputs. */
function grads(
  a: TensorLike,
  b: TensorLike,
  ga: () => Tensor | null,
  gb: () => Tensor | null,
): (Tensor | null)[] {
  const out: (Tensor | null)[] = [];
  if (typeof a !== "number") out.push(a.requiresGrad ? ga() : null);
  if (typeof b !== "number") out.push(b.requiresGrad ? gb() : null);
  return out;
}

function shapeOf(x: TensorLike): readonly number[] {
  return typeof x === "number" ? [] : x.shape;
}

/** Elementwise a + b. */
export function add(a: TensorLike, b: TensorLike): Tensor {
  const dt = resultDType(first(a, b), typeof a === "number" ? a : b);
  const out = binaryRaw("add", a, b, dt, dt);
  return record(
    "AddBackward0",
    out,
    inputs(a, b),
    () => (g) => grads(a, b, () => sumToShape(g, shapeOf(a)), () => sumToShape(g, shapeOf(b))),
  );
}

/** Elementwise a - b. */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  const dt = resultDType(first(a, b), typeof a === "number" ? a : b);
  const out = binaryRaw("sub", a, b, dt, dt);
  return record(
    "SubBackward0",
    out,
    inputs(a, b),
    () => (g) =>
      grads(a, b, () => sumToShape(g, shapeOf(a)), () => {
        const n = g.neg();
        const s = sumToShape(n, shapeOf(b));
        if (s !== n) n.dispose();
        return s;
      }),
  );
}

/** Elementwise a · b. */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  const dt = resultDType(first(a, b), typeof a === "number" ? a : b);
  const out = binaryRaw("mul", a, b, dt, dt);
  return record("MulBackward0", out, inputs(a, b), (node) => {
    const sa = typeof a === "number" ? a : node.save(a);
    const sb = typeof b === "number" ? b : node.save(b);
    return (g) => grads(a, b, () => reduced(g.mul(sb), shapeOf(a)), () => reduced(g.mul(sa), shapeOf(b)));
  });
}

/** Sums `t` to `shape` and disposes `t` when a new tensor was made. */
function reduced(t: Tensor, shape: readonly number[]): Tensor {
  const s = sumToShape(t, shape);
  if (s !== t) t.dispose();
  return s;
}

/** Elementwise true division a / b (integers give float32). */
export function div(a: TensorLike, b: TensorLike): Tensor {
  let dt = resultDType(first(a, b), typeof a === "number" ? a : b);
  if (!isFloating(dt)) dt = "float32";
  const out = binaryRaw("div", a, b, dt, dt);
  return record("DivBackward0", out, inputs(a, b), (node) => {
    const sa = typeof a === "number" ? a : node.save(a);
    const sb = typeof b === "number" ? b : node.save(b);
    return (g) =>
      grads(a, b, () => reduced(g.div(sb), shapeOf(a)), () => {
        // d(a/b)/db = -a/b²
        const q = g.mul(sa);
        const q2 = q.div(sb);
        q.dispose();
        const q3 = q2.div(sb);
        q2.dispose();
        const n = q3.neg();
        q3.dispose();
        return reduced(n, shapeOf(b));
      });
  });
}

/** Elementwise power a^b. */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  const dt = resultDType(first(a, b), typeof a === "number" ? a : b);
  const out = binaryRaw("pow", a, b, dt, dt);
  return record("PowBackward0", out, inputs(a, b), (node) => {
    const sa = typeof a === "number" ? a : node.save(a);
    const sb = typeof b === "number" ? b : node.save(b);
    const so = node.save(out);
    return (g) =>
      grads(a, b, () => {
        // b · a^(b-1)
        const bm1 = typeof sb === "number" ? sb - 1 : sb.sub(1);
        const p = typeof sa === "number" ? null : sa.pow(bm1);
        if (typeof bm1 !== "number") bm1.dispose();
        const t = p!.mul(sb);
        p!.dispose();
        const r = g.mul(t);
        t.dispose();
        return reduced(r, shapeOf(a));
      }, () => {
        // a^b · ln a
        const la = typeof sa === "number" ? Math.log(sa) : sa.log();
        const t = so.mul(la);
        if (typeof la !== "number") la.dispose();
        const r = g.mul(t);
        t.dispose();
        return reduced(r, shapeOf(b));
      });
  });
}

function extremum(op: "maximum" | "minimum", a: TensorLike, b: TensorLike): Tensor {
  const dt = resultDType(first(a, b), typeof a === "number" ? a : b);
  const out = binaryRaw(op, a, b, dt, dt);
  return record(op === "maximum" ? "MaximumBackward0" : "MinimumBackward0", out, inputs(a, b), (node) => {
    const sa = typeof a === "number" ? a : node.save(a);
    const sb = typeof b === "number" ? b : node.save(b);
    return (g) => {
      // the winner takes the gradient; ties split it evenly, as PyTorch does
      const win = binaryRaw(op === "maximum" ? "gt" : "lt", sa, sb, dt, dt);
      const tie = binaryRaw("eq", sa, sb, dt, dt);
      const half = tie.mul(0.5);
      tie.dispose();
      const wa = win.add(half);
      const wb = binaryRaw("sub", 1, wa, dt, dt);
      win.dispose();
      half.dispose();
      const r = grads(a, b, () => reduced(g.mul(wa), shapeOf(a)), () => reduced(g.mul(wb), shapeOf(b)));
      wa.dispose();
      wb.dispose();
      return r;
    };
  });
}

/** Elementwise maximum (NaN propagates). */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return extremum("maximum", a, b);
}

/** Elementwise minimum (NaN propagates). */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return extremum("minimum", a, b);
}

/** A tensor of ones shaped and placed like `t` (the implicit seed of `backward()`). */
export function onesFor(t: Tensor): Tensor {
  return wrap(backendFor(t.device).fill(t.dtype, t.size, 1), t.shape, t.device);
}
