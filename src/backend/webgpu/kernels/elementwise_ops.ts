/**
 * The WGSL expression of every elementwise op, by name. `a`, `b` are the loaded operands in their
 * compute type (f32 for floats, i32 for int32, u32 for bool), `P0`/`P1` the op's scalar parameters as f32.
 * @module
 */
import type { BinaryOp, UnaryOp } from "../../backend.ts";
import type { ValueKind } from "./layout.ts";

/** An op's expression for an operand compute type, and the kind of value it yields. */
export type OpExpr = (t: "f32" | "i32" | "u32") => { expr: string; kind: ValueKind };

const zero = (t: string) => (t === "f32" ? "0.0" : t === "i32" ? "0i" : "0u");
const same = (expr: string, t: "f32" | "i32" | "u32") => ({ expr, kind: t as ValueKind });
const float = (expr: string) => ({ expr, kind: "f32" as ValueKind });
const bool = (expr: string) => ({ expr, kind: "bool" as ValueKind });

/** Unary ops. Float-only ops receive float operands (the frontend promotes integers first). */
export const UNARY_EXPR: Record<UnaryOp, OpExpr> = {
  copy: (t) => same("a", t),
  neg: (t) => same(t === "u32" ? "a" : "-a", t),
  abs: (t) => same(t === "u32" ? "a" : "abs(a)", t),
  sign: (t) => same(t === "f32" ? "select(sign(a), 0.0, dg_isnan(a))" : t === "i32" ? "sign(a)" : "a", t),
  exp: () => float("exp(a)"),
  log: () => float("select(log(a), select(dg_nan(), dg_neg_inf(), a == 0.0), a <= 0.0)"),
  sqrt: () => float("select(sqrt(a), dg_nan(), a < 0.0)"),
  rsqrt: () => float("select(select(inverseSqrt(a), dg_pos_inf(), a == 0.0), dg_nan(), a < 0.0)"),
  reciprocal: () => float("1.0 / a"),
  sin: () => float("sin(a)"),
  cos: () => float("cos(a)"),
  tanh: () => float("dg_tanh(a)"),
  sigmoid: () => float("dg_sigmoid(a)"),
  relu: (t) => same(t === "f32" ? "select(0.0, a, a > 0.0 || dg_isnan(a))" : `max(a, ${zero(t)})`, t),
  gelu: () => float("dg_gelu(a)"),
  leakyRelu: () => float("select(a * P0, a, a > 0.0 || dg_isnan(a))"),
  clamp: (t) =>
    t === "f32"
      ? float("select(dg_min(dg_max(a, P0), P1), a, dg_isnan(a))")
      : same(`${t}(clamp(f32(a), P0, P1))`, t),
  not: (t) => bool(`a == ${zero(t)}`),
  isnan: (t) => bool(t === "f32" ? "dg_isnan(a)" : "false"),
  isinf: (t) => bool(t === "f32" ? "dg_isinf(a)" : "false"),
};

/** Binary ops over two operands of the same compute type. */
export const BINARY_EXPR: Record<BinaryOp, OpExpr> = {
  add: (t) => same("a + b", t),
  sub: (t) => same("a - b", t),
  mul: (t) => same("a * b", t),
  div: (t) => same(t === "i32" ? "select(a / b, 0i, b == 0i)" : "a / b", t),
  pow: (t) => (t === "f32" ? float("dg_pow(a, b)") : same(`${t}(round(dg_pow(f32(a), f32(b))))`, t)),
  maximum: (t) => same(t === "f32" ? "dg_max(a, b)" : "max(a, b)", t),
  minimum: (t) => same(t === "f32" ? "dg_min(a, b)" : "min(a, b)", t),
  eq: () => bool("a == b"),
  ne: () => bool("a != b"),
  lt: () => bool("a < b"),
  le: () => bool("a <= b"),
  gt: () => bool("a > b"),
  ge: () => bool("a >= b"),
  and: (t) => bool(`a != ${zero(t)} && b != ${zero(t)}`),
  or: (t) => bool(`a != ${zero(t)} || b != ${zero(t)}`),
  reluGrad: (t) => same(`select(${zero(t)}, a, b > ${zero(t)})`, t),
  leakyReluGrad: () => float("select(a * P0, a, b > 0.0)"),
  geluGrad: () => float("a * dg_gelu_grad(b)"),
  sigmoidGrad: () => float("a * b * (1.0 - b)"),
  tanhGrad: () => float("a * (1.0 - b * b)"),
  clampGrad: () => float("select(0.0, a, b >= P0 && b <= P1)"),
};
