/**
 * Elementwise functions of one tensor and their derivatives: neg abs sign exp log sqrt rsqrt reciprocal
 * sin cos tanh sigmoid relu leakyRelu gelu clamp, plus logicalNot, isnan, isinf.
 * Kernels: `src/backend/webgpu/kernels/elementwise_ops.ts` (WGSL) and `src/backend/cpu/unary.ts`.
 * @module
 */
import type { UnaryOp } from "../backend/backend.ts";
import { backendFor } from "../backend/registry.ts";
import { type DType, isFloating } from "../tensor/dtype.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { binaryRaw } from "./binary.ts";
import { castTo } from "./cast.ts";
import type { Node } from "../autograd/node.ts";
import { operand, record, sameDevice, wrap } from "./util.ts";
import { isGradEnabled, noGrad } from "../autograd/grad_mode.ts";
import { onesLike } from "../tensor/creation.ts";

/** Runs a unary kernel without autograd; float-only ops promote integer inputs to float32 first. */
export function unaryRaw(op: UnaryOp, x: Tensor, outDtype: DType, p0?: number, p1?: number): Tensor {
  sameDevice(op, x);
  let src = x;
  if (FLOAT_ONLY.has(op) && !isFloating(x.dtype)) src = castTo(x, "float32", false);
  const out = wrap(backendFor(x.device).unary(op, operand(src), outDtype, p0, p1), x.shape, x.device);
  if (src !== x) src.dispose();
  return out;
}

const FLOAT_ONLY = new Set<UnaryOp>([
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "reciprocal",
  "sin",
  "cos",
  "tanh",
  "sigmoid",
  "gelu",
  "leakyRelu",
]);

/** Output dtype of a float-only op. */
function floatOf(x: Tensor): DType {
  return isFloating(x.dtype) ? x.dtype : "float32";
}

/** Defines an op `y = f(x)` whose gradient is `backward(g, savedX, savedY)`. */
function define(
  op: UnaryOp,
  name: string,
  backward: ((g: Tensor, x: Tensor, y: Tensor) => Tensor) | null,
  uses: { x?: boolean; y?: boolean } = {},
) {
  return (x: Tensor, p0?: number, p1?: number): Tensor => {
    const dt = FLOAT_ONLY.has(op) ? floatOf(x) : x.dtype;
    const y = unaryRaw(op, x, dt, p0, p1);
    if (!backward) return y;
    return record(name, y, [x], (node: Node) => {
      const sx = uses.x ? node.save(x) : x;
      const sy = uses.y ? node.save(y) : y;
      return (g) => [backward(g, sx, sy)];
    });
  };
}

/** The constant factor of a piecewise-linear op's gradient at x (its fused gradient kernel applied to ones). */
function maskOf(
  op: "reluGrad" | "leakyReluGrad" | "clampGrad",
  g: Tensor,
  x: Tensor,
  p0?: number,
  p1?: number,
): Tensor {
  return noGrad(() => {
    const ones = onesLike(g);
    const m = binaryRaw(op, ones, x.detach(), g.dtype, g.dtype, p0, p1);
    ones.dispose();
    return m;
  });
}

/** g·f(x) then dispose the factor. */
function times(g: Tensor, factor: Tensor): Tensor {
  const r = g.mul(factor);
  factor.dispose();
  return r;
}

/** -x */
export const neg: (x: Tensor) => Tensor = define("neg", "NegBackward0", (g) => g.neg());
/** |x| */
export const abs: (x: Tensor) => Tensor = define("abs", "AbsBackward0", (g, x) => times(g, x.sign()), {
  x: true,
});
/** sign(x) (zero gradient) */
export const sign: (x: Tensor) => Tensor = define("sign", "SignBackward0", (g) => g.mul(0));
/** e^x */
export const exp: (x: Tensor) => Tensor = define("exp", "ExpBackward0", (g, _x, y) => g.mul(y), { y: true });
/** ln x */
export const log: (x: Tensor) => Tensor = define("log", "LogBackward0", (g, x) => g.div(x), { x: true });
/** √x */
export const sqrt: (x: Tensor) => Tensor = define("sqrt", "SqrtBackward0", (g, _x, y) => {
  const d = y.mul(2);
  const r = g.div(d);
  d.dispose();
  return r;
}, { y: true });
/** 1/√x */
export const rsqrt: (x: Tensor) => Tensor = define("rsqrt", "RsqrtBackward0", (g, x, y) => {
  // d/dx x^-1/2 = -1/2 · y / x
  const t = y.div(x);
  const r = times(g, t.mul(-0.5));
  t.dispose();
  return r;
}, { x: true, y: true });
/** 1/x */
export const reciprocal: (x: Tensor) => Tensor = define("reciprocal", "ReciprocalBackward0", (g, _x, y) => {
  const y2 = y.mul(y);
  const r = times(g, y2.neg());
  y2.dispose();
  return r;
}, { y: true });
/** sin x */
export const sin: (x: Tensor) => Tensor = define("sin", "SinBackward0", (g, x) => times(g, x.cos()), {
  x: true,
});
/** cos x */
export const cos: (x: Tensor) => Tensor = define("cos", "CosBackward0", (g, x) => {
  const s = x.sin();
  const r = times(g, s.neg());
  s.dispose();
  return r;
}, { x: true });
/** tanh x */
export const tanh: (x: Tensor) => Tensor = define(
  "tanh",
  "TanhBackward0",
  // recorded (createGraph): 1 - y² as differentiable ops, so that second derivatives see y's dependence on x
  (g, _x, y) =>
    isGradEnabled() ? g.mul(y.square().neg().add(1)) : binaryRaw("tanhGrad", g, y, g.dtype, g.dtype),
  { y: true },
);
/** 1/(1+e^-x) */
export const sigmoid: (x: Tensor) => Tensor = define(
  "sigmoid",
  "SigmoidBackward0",
  (g, _x, y) =>
    isGradEnabled() ? g.mul(y.mul(y.neg().add(1))) : binaryRaw("sigmoidGrad", g, y, g.dtype, g.dtype),
  { y: true },
);
/** max(x, 0) */
export const relu: (x: Tensor) => Tensor = define(
  "relu",
  "ReluBackward0",
  // recorded: g times a constant mask (relu's second derivative is 0), differentiable in g
  (g, _x, y) =>
    isGradEnabled() ? times(g, maskOf("reluGrad", g, y)) : binaryRaw("reluGrad", g, y, g.dtype, g.dtype),
  { y: true },
);
/** Exact GELU x·Φ(x). */
export const gelu: (x: Tensor) => Tensor = define(
  "gelu",
  "GeluBackward0",
  (g, x) => {
    if (isGradEnabled() && x.requiresGrad) {
      throw new Error(
        "gelu: second derivatives (backward with createGraph) are not supported yet; use tanh or sigmoid",
      );
    }
    return binaryRaw("geluGrad", g, x, g.dtype, g.dtype);
  },
  { x: true },
);

const leakyReluOp = (slope: number) =>
  define(
    "leakyRelu",
    "LeakyReluBackward0",
    (g, x) =>
      isGradEnabled()
        ? times(g, maskOf("leakyReluGrad", g, x, slope))
        : binaryRaw("leakyReluGrad", g, x, g.dtype, g.dtype, slope),
    {
      x: true,
    },
  );

/** x if x > 0 else slope·x */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return leakyReluOp(negativeSlope)(x, negativeSlope);
}

/** Clamps into [min, max] (either may be undefined); the gradient passes where min ≤ x ≤ max. */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  if (min === undefined && max === undefined) {
    throw new TypeError("clamp: at least one of min or max must be given");
  }
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  let dt = x.dtype;
  if (!isFloating(dt) && (!Number.isInteger(lo) && isFinite(lo) || !Number.isInteger(hi) && isFinite(hi))) {
    dt = "float32";
  }
  const src = dt === x.dtype ? x : castTo(x, dt, false);
  const y = unaryRaw("clamp", src, dt, lo, hi);
  if (src !== x) src.dispose();
  return record("ClampBackward1", y, [x], (node) => {
    const sx = node.save(x);
    return (g) => [
      isGradEnabled()
        ? times(g, maskOf("clampGrad", g, sx, lo, hi))
        : binaryRaw("clampGrad", g, sx, g.dtype, g.dtype, lo, hi),
    ];
  });
}

/** Logical not (bool result). */
export function logicalNot(x: Tensor): Tensor {
  return unaryRaw("not", x, "bool");
}

/** Whether each element is NaN (bool result). */
export function isnan(x: Tensor): Tensor {
  return unaryRaw("isnan", x, "bool");
}

/** Whether each element is ±Infinity (bool result). */
export function isinf(x: Tensor): Tensor {
  return unaryRaw("isinf", x, "bool");
}
