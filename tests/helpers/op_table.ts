/**
 * Maps the op names used in `tests/fixtures/ops.json` to calls of denograd's API, so that the fixture
 * replay test can run every recorded PyTorch case against our implementation.
 *
 * Every entry receives the case's inputs (already built as tensors, in order) and its `kwargs` (named as
 * our API's parameters; absent keys mean "use the default").
 * @module
 */

import { cat, stack, type Tensor, where } from "../../mod.ts";

/** Named arguments of a fixture case, spelled like our API's parameters (`dim`, `keepdim`, `slope`, ...). */
export type OpKwargs = Record<string, unknown>;

/** Runs one op on the fixture's inputs with the fixture's named arguments. */
export type OpFn = (inputs: Tensor[], kwargs: OpKwargs) => Tensor;

type Dims = number | number[] | undefined;

function dims(kw: OpKwargs): Dims {
  return kw.dim as Dims;
}

function dim(kw: OpKwargs): number {
  if (typeof kw.dim !== "number") throw new TypeError(`fixture kwargs need a numeric dim, got ${kw.dim}`);
  return kw.dim;
}

function keepdim(kw: OpKwargs): boolean {
  return (kw.keepdim as boolean | undefined) ?? false;
}

function optDim(kw: OpKwargs): number | undefined {
  return kw.dim as number | undefined;
}

function shape(kw: OpKwargs): number[] {
  return kw.shape as number[];
}

/** The right operand of a binary op: the second input, or the scalar `kwargs[key]` when there is one input. */
function other(inputs: Tensor[], kw: OpKwargs, key = "other"): Tensor | number {
  if (inputs.length > 1) return inputs[1];
  if (typeof kw[key] !== "number") throw new TypeError(`fixture has one input but no numeric ${key}`);
  return kw[key] as number;
}

/** The op table: fixture op name to a call of our API. */
export const OPS: Record<string, OpFn> = {
  // elementwise binary
  add: (x, kw) => x[0].add(other(x, kw)),
  sub: (x, kw) => x[0].sub(other(x, kw)),
  mul: (x, kw) => x[0].mul(other(x, kw)),
  div: (x, kw) => x[0].div(other(x, kw)),
  pow: (x, kw) => x[0].pow(other(x, kw, "exponent")),

  // elementwise unary
  neg: (x) => x[0].neg(),
  abs: (x) => x[0].abs(),
  exp: (x) => x[0].exp(),
  log: (x) => x[0].log(),
  sqrt: (x) => x[0].sqrt(),
  rsqrt: (x) => x[0].rsqrt(),
  sin: (x) => x[0].sin(),
  cos: (x) => x[0].cos(),
  tanh: (x) => x[0].tanh(),
  sigmoid: (x) => x[0].sigmoid(),
  relu: (x) => x[0].relu(),
  leakyRelu: (x, kw) => kw.slope === undefined ? x[0].leakyRelu() : x[0].leakyRelu(kw.slope as number),
  gelu: (x) => x[0].gelu(),
  clamp: (x, kw) => x[0].clamp(kw.min as number | undefined, kw.max as number | undefined),

  // comparisons and selection
  eq: (x, kw) => x[0].eq(other(x, kw)),
  ne: (x, kw) => x[0].ne(other(x, kw)),
  lt: (x, kw) => x[0].lt(other(x, kw)),
  le: (x, kw) => x[0].le(other(x, kw)),
  gt: (x, kw) => x[0].gt(other(x, kw)),
  ge: (x, kw) => x[0].ge(other(x, kw)),
  where: (x) => where(x[0], x[1], x[2]),

  // reductions
  sum: (x, kw) => x[0].sum(dims(kw), keepdim(kw)),
  mean: (x, kw) => x[0].mean(dims(kw), keepdim(kw)),
  max: (x, kw) => x[0].max(optDim(kw), keepdim(kw)),
  min: (x, kw) => x[0].min(optDim(kw), keepdim(kw)),
  argmax: (x, kw) => x[0].argmax(optDim(kw), keepdim(kw)),
  argmin: (x, kw) => x[0].argmin(optDim(kw), keepdim(kw)),
  var: (x, kw) => x[0].var(dims(kw), keepdim(kw), (kw.correction as number | undefined) ?? 1),
  std: (x, kw) => x[0].std(dims(kw), keepdim(kw), (kw.correction as number | undefined) ?? 1),
  logSumExp: (x, kw) => x[0].logSumExp(dim(kw), keepdim(kw)),
  softmax: (x, kw) => x[0].softmax(dim(kw)),
  logSoftmax: (x, kw) => x[0].logSoftmax(dim(kw)),

  // linear algebra
  matmul: (x) => x[0].matmul(x[1]),

  // shape and indexing
  reshape: (x, kw) => x[0].reshape(shape(kw)),
  transpose: (x, kw) => x[0].transpose(kw.dim0 as number, kw.dim1 as number),
  permute: (x, kw) => x[0].permute(kw.dims as number[]),
  squeeze: (x, kw) => x[0].squeeze(optDim(kw)),
  unsqueeze: (x, kw) => x[0].unsqueeze(dim(kw)),
  expand: (x, kw) => x[0].expand(shape(kw)),
  flatten: (x, kw) =>
    x[0].flatten((kw.startDim as number | undefined) ?? 0, (kw.endDim as number | undefined) ?? -1),
  narrow: (x, kw) => x[0].narrow(dim(kw), kw.start as number, kw.length as number),
  indexSelect: (x, kw) => x[0].indexSelect(dim(kw), x[1]),
  gather: (x, kw) => x[0].gather(dim(kw), x[1]),
  cat: (x, kw) => cat(x, (kw.dim as number | undefined) ?? 0),
  stack: (x, kw) => stack(x, (kw.dim as number | undefined) ?? 0),
  contiguous: (x) => x[0].contiguous(),
};
