/**
 * Comparisons (bool results, no gradient), logical and/or, and `where` with its gradient.
 * @module
 */
import type { BinaryOp } from "../backend/backend.ts";
import { backendFor } from "../backend/registry.ts";
import { broadcastShapes, numel } from "../tensor/shape.ts";
import type { Tensor, TensorLike } from "../tensor/tensor.ts";
import { binaryRaw, resultDType } from "./binary.ts";
import { castTo } from "./cast.ts";
import { broadcastOperand, constantStorage, record, sameDevice, sumToShape, wrap } from "./util.ts";

function comparison(op: BinaryOp) {
  return (a: Tensor, b: TensorLike): Tensor => binaryRaw(op, a, b, resultDType(a, b), "bool");
}

/** a == b, elementwise (bool). */
export const eq: (a: Tensor, b: TensorLike) => Tensor = comparison("eq");
/** a != b, elementwise (bool). */
export const ne: (a: Tensor, b: TensorLike) => Tensor = comparison("ne");
/** a < b, elementwise (bool). */
export const lt: (a: Tensor, b: TensorLike) => Tensor = comparison("lt");
/** a <= b, elementwise (bool). */
export const le: (a: Tensor, b: TensorLike) => Tensor = comparison("le");
/** a > b, elementwise (bool). */
export const gt: (a: Tensor, b: TensorLike) => Tensor = comparison("gt");
/** a >= b, elementwise (bool). */
export const ge: (a: Tensor, b: TensorLike) => Tensor = comparison("ge");

/** Logical and (bool). */
export function logicalAnd(a: Tensor, b: Tensor): Tensor {
  return binaryRaw("and", a, b, resultDType(a, b), "bool");
}

/** Logical or (bool). */
export function logicalOr(a: Tensor, b: Tensor): Tensor {
  return binaryRaw("or", a, b, resultDType(a, b), "bool");
}

/**
 * Elements of `a` where `cond` holds, else of `b`, broadcasting all three (`torch.where`). Gradients flow to
 * `a` where the condition holds and to `b` elsewhere.
 *
 * @example
 * ```ts
 * import { tensor, where } from "../../mod.ts";
 * const x = tensor([-1, 2, -3]);
 * const y = where(x.gt(0), x, x.mul(-0.1)); // [0.1, 2, 0.3]
 * ```
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const ts = [cond, a, b].filter((x): x is Tensor => typeof x !== "number");
  const device = sameDevice("where", ...ts);
  if (cond.dtype !== "bool") {
    throw new TypeError(`where: expected condition to be a bool tensor, but got ${cond.dtype}`);
  }
  const ref = typeof a === "number" ? (typeof b === "number" ? null : b) : a;
  const dt = ref
    ? resultDType(ref, ref === a ? b : a)
    : Number.isInteger(a) && Number.isInteger(b)
    ? "int32"
    : "float32";
  const shape = broadcastShapes(
    broadcastShapes(cond.shape, typeof a === "number" ? [] : a.shape, "where"),
    typeof b === "number" ? [] : b.shape,
    "where",
  );
  const owned: Tensor[] = [];
  const op = (x: TensorLike) => {
    if (typeof x === "number") {
      return {
        storage: constantStorage(x, dt, device),
        view: { shape, strides: shape.map(() => 0), offset: 0 },
      };
    }
    let t = x;
    if (t.dtype !== dt) {
      t = castTo(t, dt, false);
      owned.push(t);
    }
    return broadcastOperand(t, shape);
  };
  const backend = backendFor(device);
  const storage = numel(shape) === 0
    ? backend.alloc(dt, 0)
    : backend.where(broadcastOperand(cond, shape), op(a), op(b), dt);
  for (const t of owned) t.dispose();
  const out = wrap(storage, shape, device);
  const inputs = [a, b].filter((x): x is Tensor => typeof x !== "number");
  return record("WhereBackward0", out, inputs, (node) => {
    const sc = node.save(cond);
    return (g) => {
      const res: (Tensor | null)[] = [];
      if (typeof a !== "number") {
        const ga = a.requiresGrad ? where(sc, g, 0) : null;
        res.push(ga ? reduceTo(ga, a.shape) : null);
      }
      if (typeof b !== "number") {
        const gb = b.requiresGrad ? where(sc, 0, g) : null;
        res.push(gb ? reduceTo(gb, b.shape) : null);
      }
      return res;
    };
  });
}

function reduceTo(t: Tensor, shape: readonly number[]): Tensor {
  const s = sumToShape(t, shape);
  if (s !== t) t.dispose();
  return s;
}
