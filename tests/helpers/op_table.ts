/**
 * Maps the op names used in `tests/fixtures/ops.json` to calls of denograd's API, so that the fixture
 * replay test can run every recorded PyTorch case against our implementation.
 *
 * Every entry receives the case's inputs (already built as tensors, in order) and its `kwargs` (named as
 * our API's parameters; absent keys mean "use the default").
 * @module
 */

import { cat, F, manualSeed, nn, stack, type Tensor, tensor, where } from "../../mod.ts";

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

// ==================================================================================================
// The gradcheck table: every differentiable op of the public API, with small float32 inputs.
//
// tests/gradcheck_table_test.ts enumerates the Tensor prototype, the `F` namespace, the `nn` layers and the
// functions exported by mod.ts, and fails when one is neither here (GRADCHECK_OPS, GRADCHECK_MODULES) nor in
// NOT_DIFFERENTIABLE with a reason: a new op cannot ship without a finite-difference check. The same table
// feeds tests/differential_test.ts, which runs every entry on the CPU and on WebGPU and compares the outputs
// and the gradients.
// ==================================================================================================

/** A device the tables build inputs on. */
export type TableDevice = "cpu" | "webgpu";

/** One differentiable op: a function of tensors and how to make its inputs. */
export interface GradcheckSpec {
  /** The op under test, applied to the inputs (extra non-tensor arguments are fixed inside). */
  fn: (...inputs: Tensor[]) => Tensor;
  /**
   * Small float32 inputs on `device`; those with `requiresGrad` are checked. `seed` varies the values
   * (the gradcheck test uses seed 0; the differential test draws seeds).
   */
  inputs: (device: TableDevice, seed: number) => Tensor[];
  /** gradcheck's step and tolerances, when the defaults (eps 1e-3, atol and rtol 1e-2) do not suit. */
  opts?: { eps?: number; atol?: number; rtol?: number };
  /** Float tolerance of the CPU/WebGPU comparison (relative and absolute; default 1e-4, 1e-4). */
  tol?: number;
}

/** Deterministic values in ±[lo, hi] (signs alternate pseudo-randomly), away from 0 by `lo`. */
export function tableValues(n: number, seed: number, lo = 0.1, hi = 1.5, signed = true): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const sign = signed && s >>> 31 ? -1 : 1;
    out[i] = sign * (lo + (hi - lo) * u);
  }
  return out;
}

/** A float32 leaf that requires grad, with values in ±[0.1, 1.5] (or [0.2, 1.5] when `positive`). */
export function gleaf(device: TableDevice, shape: number[], seed: number, positive = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(tableValues(n, seed, positive ? 0.2 : 0.1, 1.5, !positive), {
    shape,
    device,
    requiresGrad: true,
  });
}

/** A float32 constant (no grad). */
function gconst(device: TableDevice, shape: number[], seed: number, positive = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(tableValues(n, seed + 1000, positive ? 0.2 : 0.1, 1.5, !positive), { shape, device });
}

/** An int32 tensor of indices below `hi`. */
function gidx(device: TableDevice, shape: number[], seed: number, hi: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = tableValues(n, seed + 77, 0, hi - 1e-3, false).map(Math.floor);
  return tensor(Int32Array.from(v), { shape, device, dtype: "int32" });
}

/** Probabilities along dim 1 of `shape` (rows sum to 1). */
function gprobs(device: TableDevice, shape: number[], seed: number): Tensor {
  return gconst(device, shape, seed).softmax(1);
}

const L = gleaf;
const unaryX = (f: (t: Tensor) => Tensor): GradcheckSpec => ({ fn: f, inputs: (d, s) => [L(d, [2, 3], s)] });
const unaryP = (f: (t: Tensor) => Tensor): GradcheckSpec => ({
  fn: f,
  inputs: (d, s) => [L(d, [2, 3], s, true)],
});
const binary = (f: (a: Tensor, b: Tensor) => Tensor, bShape = [3], positiveB = false): GradcheckSpec => ({
  fn: f,
  inputs: (d, s) => [L(d, [2, 3], s), L(d, bShape, s + 1, positiveB)],
});

/** Differentiable Tensor methods, `F` functions and top-level functions of mod.ts, by qualified name. */
export const GRADCHECK_OPS: Record<string, GradcheckSpec> = {
  // ---- casts
  "Tensor.float": {
    fn: (a) => a.half().float().mul(0.5),
    inputs: (d, s) => [L(d, [2, 3], s)],
    opts: { eps: 0.125 },
  },
  // dtype moves; device moves start a new leaf (see tests/RELIABILITY.md, known gaps)
  "Tensor.to": {
    fn: (a) => a.to({ dtype: "float16" }).to({ dtype: "float32" }).mul(0.5),
    inputs: (d, s) => [L(d, [2, 3], s)],
    opts: { eps: 0.125 },
  },
  "Tensor.half": {
    fn: (a) => a.mul(2).half().float(),
    inputs: (d, s) => [L(d, [2, 3], s)],
    opts: { eps: 0.125 },
  },
  // ---- elementwise binary (broadcasting a row)
  "Tensor.add": binary((a, b) => a.add(b)),
  "Tensor.sub": binary((a, b) => a.sub(b), [2, 1]),
  "Tensor.mul": binary((a, b) => a.mul(b)),
  "Tensor.div": binary((a, b) => a.div(b), [3], true),
  "Tensor.pow": { fn: (a, b) => a.pow(b), inputs: (d, s) => [L(d, [2, 3], s, true), L(d, [2, 3], s + 1)] },
  "Tensor.maximum": binary((a, b) => a.maximum(b), [2, 3]),
  "Tensor.minimum": binary((a, b) => a.minimum(b), [2, 3]),
  // ---- elementwise unary
  "Tensor.neg": unaryX((a) => a.neg()),
  "Tensor.abs": unaryX((a) => a.abs()),
  "Tensor.sign": unaryX((a) => a.sign().add(a)),
  "Tensor.exp": unaryX((a) => a.exp()),
  "Tensor.log": unaryP((a) => a.log()),
  "Tensor.sqrt": unaryP((a) => a.sqrt()),
  "Tensor.rsqrt": unaryP((a) => a.rsqrt()),
  "Tensor.reciprocal": unaryP((a) => a.reciprocal()),
  "Tensor.square": unaryX((a) => a.square()),
  "Tensor.sin": unaryX((a) => a.sin()),
  "Tensor.cos": unaryX((a) => a.cos()),
  "Tensor.tanh": unaryX((a) => a.tanh()),
  "Tensor.sigmoid": unaryX((a) => a.sigmoid()),
  "Tensor.relu": unaryX((a) => a.relu()),
  "Tensor.leakyRelu": unaryX((a) => a.leakyRelu(0.2)),
  "Tensor.gelu": unaryX((a) => a.gelu()),
  "Tensor.clamp": unaryX((a) => a.clamp(-0.45, 0.55)),
  "Tensor.where": binary((a, b) => a.where(a.gt(0), b)),
  // ---- reductions
  "Tensor.sum": unaryX((a) => a.sum(1, true).mul(a)),
  "Tensor.mean": unaryX((a) => a.mean(0)),
  "Tensor.prod": unaryX((a) => a.prod(1)),
  "Tensor.max": unaryX((a) => a.max(1)),
  "Tensor.min": unaryX((a) => a.min()),
  "Tensor.var": unaryX((a) => a.var(1)),
  "Tensor.std": unaryX((a) => a.std(0, true, 0)),
  "Tensor.logSumExp": unaryX((a) => a.logSumExp(1)),
  "Tensor.softmax": unaryX((a) => a.softmax(1)),
  "Tensor.logSoftmax": unaryX((a) => a.logSoftmax(0)),
  // ---- linear algebra
  "Tensor.matmul": binary((a, b) => a.matmul(b), [3, 2]),
  // ---- views and copies
  "Tensor.reshape": unaryX((a) => a.reshape([3, 2]).square()),
  "Tensor.view": unaryX((a) => a.view(6).square()),
  "Tensor.transpose": unaryX((a) => a.transpose(0, 1).square()),
  "Tensor.T": unaryX((a) => a.T.square()),
  "Tensor.permute": unaryX((a) => a.unsqueeze(0).permute(2, 0, 1).square()),
  "Tensor.squeeze": unaryX((a) => a.unsqueeze(1).squeeze(1).square()),
  "Tensor.unsqueeze": unaryX((a) => a.unsqueeze(0).square()),
  "Tensor.expand": unaryX((a) => a.expand(4, 2, 3).square()),
  "Tensor.flatten": unaryX((a) => a.flatten().square()),
  "Tensor.narrow": unaryX((a) => a.narrow(1, 1, 2).square()),
  "Tensor.slice": unaryX((a) => a.slice(1, 0, 3, 2).square()),
  "Tensor.contiguous": unaryX((a) => a.T.contiguous().square()),
  "Tensor.clone": unaryX((a) => a.clone().square()),
  "Tensor.indexSelect": {
    fn: (a, i) => a.indexSelect(1, i).square(),
    inputs: (d, s) => [L(d, [2, 3], s), gidx(d, [4], s, 3)],
  },
  "Tensor.gather": {
    fn: (a, i) => a.gather(1, i).square(),
    inputs: (d, s) => [L(d, [2, 3], s), gidx(d, [2, 4], s, 3)],
  },
  // ---- top-level functions
  cat: binary((a, b) => cat([a, b.expand(2, 3)], 1).square()),
  stack: binary((a, b) => stack([a, b], 1).square(), [2, 3]),
  where: binary((a, b) => where(a.gt(0), a.square(), b)),
  // ---- F: activations
  "F.relu": unaryX((a) => F.relu(a)),
  "F.gelu": unaryX((a) => F.gelu(a, { approximate: "tanh" })),
  "F.sigmoid": unaryX((a) => F.sigmoid(a)),
  "F.tanh": unaryX((a) => F.tanh(a)),
  "F.leakyRelu": unaryX((a) => F.leakyRelu(a, 0.1)),
  "F.softmax": unaryX((a) => F.softmax(a)),
  "F.logSoftmax": unaryX((a) => F.logSoftmax(a, 0)),
  // ---- F: layers
  "F.linear": {
    fn: (x, w, b) => F.linear(x, w, b),
    inputs: (d, s) => [L(d, [2, 3], s), L(d, [4, 3], s + 1), L(d, [4], s + 2)],
  },
  "F.dropout": unaryX((a) => {
    manualSeed(7); // the same mask at every evaluation
    return F.dropout(a, 0.4);
  }),
  "F.embedding": {
    fn: (w, i) => F.embedding(i, w).square(),
    inputs: (d, s) => [L(d, [4, 3], s), gidx(d, [2, 3], s, 4)],
  },
  "F.batchNorm": {
    fn: (x, w, b) => F.batchNorm(x, null, null, { weight: w, bias: b, training: true }),
    inputs: (d, s) => [L(d, [4, 2, 2], s), L(d, [2], s + 1), L(d, [2], s + 2)],
    opts: { atol: 2e-2 },
  },
  "F.layerNorm": {
    fn: (x, w, b) => F.layerNorm(x, [3], { weight: w, bias: b }),
    inputs: (d, s) => [L(d, [2, 3], s), L(d, [3], s + 1), L(d, [3], s + 2)],
    opts: { atol: 2e-2 },
  },
  "F.conv2d": {
    fn: (x, w, b) => F.conv2d(x, w, b, { stride: [2, 1], padding: 1, dilation: [1, 2], groups: 2 }),
    inputs: (d, s) => [L(d, [1, 4, 4, 5], s), L(d, [4, 2, 2, 2], s + 1), L(d, [4], s + 2)],
    tol: 2e-4,
  },
  "F.unfold": {
    fn: (x) => F.unfold(x, 2, { stride: 1, padding: 1 }).square(),
    inputs: (d, s) => [L(d, [1, 2, 3, 3], s)],
  },
  "F.fold": {
    fn: (x) => F.fold(x, [3, 3], 2, { padding: 0 }).square(),
    inputs: (d, s) => [L(d, [1, 8, 4], s)],
  },
  "F.maxPool2d": {
    fn: (x) => F.maxPool2d(x, 2, { stride: 1, padding: 1 }),
    inputs: (d, s) => [L(d, [1, 2, 3, 4], s)],
  },
  "F.maxPool2dWithIndices": {
    fn: (x) => F.maxPool2dWithIndices(x, [2, 3], { stride: 2 })[0],
    inputs: (d, s) => [L(d, [2, 1, 4, 5], s)],
  },
  "F.avgPool2d": {
    fn: (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1 }).square(),
    inputs: (d, s) => [L(d, [1, 2, 5, 4], s)],
  },
  "F.adaptiveAvgPool2d": {
    fn: (x) => F.adaptiveAvgPool2d(x, [2, 3]).square(),
    inputs: (d, s) => [L(d, [1, 2, 5, 4], s)],
  },
  // ---- F: losses
  "F.crossEntropy": {
    fn: (x) =>
      F.crossEntropy(x, tensor([2, 0, 1, 2], { device: x.device, dtype: "int32" }), { labelSmoothing: 0.1 }),
    inputs: (d, s) => [L(d, [4, 3], s)],
  },
  "F.nllLoss": {
    fn: (x) => F.nllLoss(x.logSoftmax(1), tensor([1, 0, 2], { device: x.device, dtype: "int32" })),
    inputs: (d, s) => [L(d, [3, 3], s)],
  },
  "F.mseLoss": { fn: (a, b) => F.mseLoss(a, b), inputs: (d, s) => [L(d, [2, 3], s), L(d, [2, 3], s + 1)] },
  "F.l1Loss": {
    fn: (a, b) => F.l1Loss(a, b, { reduction: "sum" }),
    inputs: (d, s) => [L(d, [2, 3], s), L(d, [2, 3], s + 1)],
  },
  "F.klDiv": {
    fn: (x, t) => F.klDiv(x.logSoftmax(1), t.softmax(1), { reduction: "batchmean" }),
    inputs: (d, s) => [L(d, [2, 3], s), L(d, [2, 3], s + 1)],
  },
  "F.distillationLoss": {
    fn: (x) =>
      F.distillationLoss(
        x,
        gconst(x.device as TableDevice, [3, 4], 5),
        tensor([0, 3, 1], { device: x.device, dtype: "int32" }),
        { temperature: 3, alpha: 0.7 },
      ),
    inputs: (d, s) => [L(d, [3, 4], s)],
  },
  "F.binaryCrossEntropyWithLogits": {
    fn: (x) =>
      F.binaryCrossEntropyWithLogits(x, gprobs(x.device as TableDevice, [2, 3], 3), {
        posWeight: tensor([1, 2, 0.5], { device: x.device }),
      }),
    inputs: (d, s) => [L(d, [2, 3], s)],
  },
};

/** A layer under gradcheck: checked with respect to its input and every parameter. */
export interface ModuleSpec {
  /** Makes the layer on `device`. */
  make: (device: TableDevice) => nn.Module;
  /** Its input(s): the first requires grad; the rest (targets) are constants. */
  inputs: (device: TableDevice, seed: number) => Tensor[];
  /** gradcheck options. */
  opts?: { eps?: number; atol?: number; rtol?: number };
}

const layer = (make: () => nn.Module, shape: number[]): ModuleSpec => ({
  make: (d) => make().to(d),
  inputs: (d, s) => [L(d, shape, s)],
});
const lossLayer = (make: () => nn.Module, target: (d: TableDevice, s: number) => Tensor): ModuleSpec => ({
  make: (d) => make().to(d),
  inputs: (d, s) => [L(d, [3, 4], s), target(d, s)],
});

/** Every differentiable `nn` layer, by class name. */
export const GRADCHECK_MODULES: Record<string, ModuleSpec> = {
  Linear: layer(() => new nn.Linear(3, 2), [2, 3]),
  Identity: layer(() => new nn.Identity(), [2, 3]),
  ReLU: layer(() => new nn.ReLU(), [2, 3]),
  GELU: layer(() => new nn.GELU(), [2, 3]),
  Sigmoid: layer(() => new nn.Sigmoid(), [2, 3]),
  Tanh: layer(() => new nn.Tanh(), [2, 3]),
  LeakyReLU: layer(() => new nn.LeakyReLU(0.1), [2, 3]),
  LeakyRelu: layer(() => new nn.LeakyRelu(0.1), [2, 3]),
  Softmax: layer(() => new nn.Softmax(1), [2, 3]),
  LogSoftmax: layer(() => new nn.LogSoftmax(1), [2, 3]),
  Flatten: layer(() => new nn.Flatten(), [2, 2, 2]),
  Dropout: { ...layer(() => new nn.Dropout(0.3).eval(), [2, 3]) },
  Embedding: {
    make: (d) => new nn.Embedding(5, 3).to(d),
    inputs: (d) => [tensor([[1, 4], [0, 1]], { device: d, dtype: "int32" })],
  },
  LayerNorm: { ...layer(() => new nn.LayerNorm(3), [2, 3]), opts: { atol: 2e-2 } },
  BatchNorm1d: { ...layer(() => new nn.BatchNorm1d(3), [4, 3]), opts: { atol: 2e-2 } },
  BatchNorm2d: { ...layer(() => new nn.BatchNorm2d(2), [3, 2, 2, 2]), opts: { atol: 2e-2 } },
  Conv2d: layer(() => new nn.Conv2d(2, 3, 2, { padding: 1, stride: 2 }), [1, 2, 3, 4]),
  DepthwiseSeparableConv2d: {
    ...layer(() => new nn.DepthwiseSeparableConv2d(2, 3), [1, 2, 4, 4]),
    opts: { atol: 2e-2 },
  },
  MaxPool2d: layer(() => new nn.MaxPool2d(2), [1, 1, 4, 4]),
  AvgPool2d: layer(() => new nn.AvgPool2d(2, { stride: 1 }), [1, 1, 3, 3]),
  AdaptiveAvgPool2d: layer(() => new nn.AdaptiveAvgPool2d(2), [1, 1, 3, 5]),
  Sequential: layer(() => new nn.Sequential(new nn.Linear(3, 4), new nn.Tanh(), new nn.Linear(4, 2)), [2, 3]),
  CrossEntropyLoss: lossLayer(
    () => new nn.CrossEntropyLoss(),
    (d) => tensor([0, 3, 1], { device: d, dtype: "int32" }),
  ),
  NLLLoss: lossLayer(() => new nn.NLLLoss(), (d) => tensor([2, 0, 1], { device: d, dtype: "int32" })),
  MSELoss: lossLayer(() => new nn.MSELoss(), (d, s) => gconst(d, [3, 4], s)),
  L1Loss: lossLayer(() => new nn.L1Loss(), (d, s) => gconst(d, [3, 4], s)),
  KLDivLoss: lossLayer(() => new nn.KLDivLoss({ reduction: "batchmean" }), (d, s) => gprobs(d, [3, 4], s)),
  DistillationLoss: {
    make: (d) => new nn.DistillationLoss({ temperature: 2, alpha: 0.5 }).to(d),
    inputs: (
      d,
      s,
    ) => [L(d, [3, 4], s), gconst(d, [3, 4], s + 9), tensor([0, 3, 1], { device: d, dtype: "int32" })],
  },
  BCEWithLogitsLoss: lossLayer(() => new nn.BCEWithLogitsLoss(), (d, s) => gprobs(d, [3, 4], s)),
};

/**
 * Everything the completeness test enumerates that is not a differentiable op, with the reason. A new op
 * belongs in GRADCHECK_OPS or GRADCHECK_MODULES; only integer/bool-valued ops, creation functions, and
 * machinery that is not an op belong here.
 */
export const NOT_DIFFERENTIABLE: Record<string, string> = {
  // Tensor: not ops
  "Tensor.constructor": "not an op: the class",
  "Tensor.strides": "accessor",
  "Tensor.offset": "accessor",
  "Tensor.dtype": "accessor",
  "Tensor.device": "accessor",
  "Tensor.storage": "accessor",
  "Tensor.layout": "accessor",
  "Tensor.isDisposed": "accessor",
  "Tensor.ndim": "accessor",
  "Tensor.size": "accessor",
  "Tensor.numel": "accessor",
  "Tensor.isContiguous": "accessor",
  "Tensor.version": "accessor (in-place version counter)",
  "Tensor.requiresGrad": "autograd flag",
  "Tensor.requiresGrad_": "autograd flag",
  "Tensor.isLeaf": "autograd flag",
  "Tensor.retainsGrad": "autograd flag",
  "Tensor.retainGrad": "autograd flag",
  "Tensor.setGradFn": "autograd machinery",
  "Tensor.accumulateGrad": "autograd machinery",
  "Tensor.accumulate": "autograd machinery (adds into .grad)",
  "Tensor.backward": "autograd machinery",
  "Tensor.detach": "cuts the graph by definition",
  "Tensor.replaceData_": "internal: swaps storage under noGrad (optimizers, loadStateDict)",
  "Tensor.bumpVersion_": "internal: in-place version counter",
  "Tensor.viewAs": "internal: raw strided view used by ops that record their own backward",
  "Tensor.alias": "internal: a second handle on the same storage (stateDict)",
  "Tensor.checkLive": "internal: use-after-dispose check",
  "Tensor.dispose": "lifetime",
  "Tensor.data": "read-back to the host",
  "Tensor.toArray": "read-back to the host",
  "Tensor.item": "read-back to the host",
  "Tensor.cpu": "read-back to the host",
  "Tensor.toString": "display",
  // Tensor: in-place ops. Autograd refuses them on any tensor that requires grad ("wrap the update in
  // noGrad"), where PyTorch records them on non-leaves; they are for optimizers and initialisers.
  "Tensor.copy_": "in-place: refused on tensors that require grad",
  "Tensor.add_": "in-place: refused on tensors that require grad",
  "Tensor.sub_": "in-place: refused on tensors that require grad",
  "Tensor.mul_": "in-place: refused on tensors that require grad",
  "Tensor.div_": "in-place: refused on tensors that require grad",
  "Tensor.zero_": "in-place: refused on tensors that require grad",
  "Tensor.fill_": "in-place: refused on tensors that require grad",
  // Tensor: integer or bool results
  "Tensor.int": "int32 result",
  "Tensor.bool": "bool result",
  "Tensor.logicalNot": "bool result",
  "Tensor.isnan": "bool result",
  "Tensor.isinf": "bool result",
  "Tensor.eq": "bool result",
  "Tensor.ne": "bool result",
  "Tensor.lt": "bool result",
  "Tensor.le": "bool result",
  "Tensor.gt": "bool result",
  "Tensor.ge": "bool result",
  "Tensor.logicalAnd": "bool result",
  "Tensor.logicalOr": "bool result",
  "Tensor.argmax": "int32 result",
  "Tensor.argmin": "int32 result",
  // top-level functions of mod.ts
  arange: "creation",
  eye: "creation",
  full: "creation",
  linspace: "creation",
  ones: "creation",
  onesLike: "creation",
  rand: "creation",
  randint: "creation",
  randn: "creation",
  tensor: "creation",
  zeros: "creation",
  zerosLike: "creation",
  getDefaultDevice: "configuration",
  setDefaultDevice: "configuration",
  getRngState: "RNG state",
  setRngState: "RNG state",
  manualSeed: "RNG state",
  keep: "lifetime",
  tidy: "lifetime",
  enableGrad: "grad mode",
  noGrad: "grad mode",
  isGradEnabled: "grad mode",
  grad: "autograd machinery",
  gradcheck: "autograd machinery",
  display: "display",
  displayDeviceInfo: "display",
  drawGraph: "display",
  mimeBundle: "display",
  progress: "display",
  profile: "profiling",
  profileBundle: "profiling display",
  profileChart: "profiling display",
  profileSpec: "profiling display",
  summary: "display",
  tensorBundle: "display",
  tensorStats: "display",
  toDot: "display",
  // nn classes that are not layers of their own
  "nn.Module": "abstract base class",
  "nn.ModuleSequence": "abstract base class of Sequential and ModuleList",
  "nn.ModuleList": "a container without forward()",
  "nn.Loss": "abstract base class of the losses",
  "nn.BatchNorm": "abstract base class of BatchNorm1d and BatchNorm2d",
};
