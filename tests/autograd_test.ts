/**
 * Autograd behaviour on every device: scalar backward, accumulation and reset of `.grad`, retainGrad, detach,
 * noGrad/enableGrad, data-dependent control flow, where, broadcasting, `autograd.grad`, retained graphs, the
 * graph's structure (gradFn names, nextFunctions), and `autograd.gradcheck` of every differentiable op (each
 * op on the CPU, a handful on WebGPU where gradcheck reads back per element) and of a composite of many.
 */
import assert from "node:assert/strict";
import {
  AccumulateGrad,
  autograd,
  cat,
  enableGrad,
  type GradcheckOptions,
  isGradEnabled,
  Node,
  noGrad,
  stack,
  type Tensor,
  tensor,
  tidy,
  where,
} from "../mod.ts";
import type { Device } from "../mod.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { forEachDevice, type TestDevice } from "./helpers/devices.ts";

async function gradOf(t: Tensor): Promise<number[]> {
  assert.ok(t.grad, "expected a gradient");
  return Array.from(await t.grad.data(), Number);
}

// ---------------------------------------------------------------- backward and .grad

forEachDevice("autograd: backward of a scalar fills the leaves' .grad", async (device) => {
  const x = tensor([1, 2, 3], { device, requiresGrad: true });
  const y = x.mul(x).add(x.mul(3)).sum(); // Σ x² + 3x
  assert.deepEqual(y.shape, []);
  y.backward();
  assertClose(await gradOf(x), [5, 7, 9]);
  assert.equal(x.grad!.dtype, "float32");
  assert.deepEqual(x.grad!.shape, [3]);
  assert.equal(x.grad!.requiresGrad, false);
});

forEachDevice("autograd: backward of a one-element non-0-d output needs no explicit grad", async (device) => {
  const x = tensor([2], { device, requiresGrad: true });
  x.mul(x).backward(); // shape [1]
  assertClose(await gradOf(x), [4]);
});

forEachDevice("autograd: .grad accumulates across two backward calls", async (device) => {
  const x = tensor([1, 2, 3], { device, requiresGrad: true });
  x.mul(x).sum().backward();
  assertClose(await gradOf(x), [2, 4, 6]);
  x.mul(3).sum().backward();
  assertClose(await gradOf(x), [5, 7, 9]);
});

forEachDevice("autograd: grad.zero_() resets the accumulated gradient", async (device) => {
  const x = tensor([1, 2, 3], { device, requiresGrad: true });
  x.mul(x).sum().backward();
  x.grad!.zero_();
  assertClose(await gradOf(x), [0, 0, 0]);
  x.sum().backward();
  assertClose(await gradOf(x), [1, 1, 1]);
});

forEachDevice("autograd: setting grad = null makes the next backward start afresh", async (device) => {
  const x = tensor([1, 2, 3], { device, requiresGrad: true });
  x.mul(x).sum().backward();
  x.grad = null;
  x.mul(2).sum().backward();
  assertClose(await gradOf(x), [2, 2, 2]);
});

forEachDevice("autograd: the gradient of a transposed use is accumulated contiguous", async (device) => {
  const x = tensor([[1, 2], [3, 4]], { device, requiresGrad: true });
  x.T.mul(tensor([[1, 2], [3, 4]], { device })).sum().backward();
  assert.ok(x.grad!.isContiguous());
  assert.deepEqual(await x.grad!.toArray(), [[1, 3], [2, 4]]);
});

// ---------------------------------------------------------------- retainGrad and detach

forEachDevice("autograd: retainGrad() keeps the gradient of a non-leaf", async (device) => {
  const x = tensor([1, -2], { device, requiresGrad: true });
  const h = x.mul(3).retainGrad();
  assert.equal(h.isLeaf, false);
  assert.equal(h.retainsGrad, true);
  h.mul(h).sum().backward();
  assertClose(await gradOf(h), [6, -12]); // 2h
  assertClose(await gradOf(x), [18, -36]); // 2h·3
});

forEachDevice("autograd: a non-leaf without retainGrad() gets no .grad", (device) => {
  const x = tensor([1, -2], { device, requiresGrad: true });
  const h = x.mul(3);
  h.mul(h).sum().backward();
  assert.equal(h.grad, null);
  assert.notEqual(x.grad, null);
});

forEachDevice("autograd: retainGrad() on the output itself gives ones", async (device) => {
  const x = tensor([1, 2], { device, requiresGrad: true });
  const y = x.mul(2).sum().retainGrad();
  y.backward();
  assertClose(await gradOf(y), [1]);
});

forEachDevice("autograd: detach() returns a leaf cut from the graph", async (device) => {
  const x = tensor([1, -2], { device, requiresGrad: true });
  const h = x.mul(3);
  const d = h.detach();
  assert.equal(d.requiresGrad, false);
  assert.equal(d.gradFn, null);
  assert.equal(d.isLeaf, true);
  // y = h·detach(h): only the first factor carries a gradient, dy/dx = 3·h
  h.mul(d).sum().backward();
  assertClose(await gradOf(x), [9, -18]);
  assert.equal(d.grad, null);
});

forEachDevice("autograd: detach() shares the data of the original", async (device) => {
  const x = tensor([1, 2], { device, requiresGrad: true });
  const d = x.detach();
  d.add_(1);
  assert.deepEqual(await x.toArray(), [2, 3]);
});

// ---------------------------------------------------------------- grad mode

forEachDevice("autograd: noGrad(fn) gives results with requiresGrad false and no gradFn", (device) => {
  const w = tensor([1, 2], { device, requiresGrad: true });
  const a = noGrad(() => w.mul(2).add(1).sum());
  assert.equal(a.requiresGrad, false);
  assert.equal(a.gradFn, null);
  assert.equal(isGradEnabled(), true);
  assertThrowsMessage(() => a.backward(), /does not require grad and does not have a gradFn/);
});

forEachDevice("autograd: `using _ = noGrad()` turns recording off until the block ends", (device) => {
  const w = tensor([1, 2], { device, requiresGrad: true });
  {
    using _guard = noGrad();
    assert.equal(isGradEnabled(), false);
    const b = w.mul(2);
    assert.equal(b.requiresGrad, false);
    assert.equal(b.gradFn, null);
  }
  assert.equal(isGradEnabled(), true);
  assert.equal(w.mul(2).gradFn?.name, "MulBackward0");
});

forEachDevice("autograd: noGrad restores grad mode when its function throws", () => {
  assert.throws(() =>
    noGrad(() => {
      throw new Error("boom");
    }), /boom/);
  assert.equal(isGradEnabled(), true);
});

forEachDevice("autograd: enableGrad inside noGrad records again", (device) => {
  const w = tensor([1, 2], { device, requiresGrad: true });
  noGrad(() => {
    const c = enableGrad(() => w.mul(2));
    assert.equal(c.requiresGrad, true);
    assert.equal(c.gradFn?.name, "MulBackward0");
    assert.equal(isGradEnabled(), false, "noGrad is back after enableGrad returns");
    {
      using _on = enableGrad();
      assert.equal(w.add(1).gradFn?.name, "AddBackward0");
    }
    assert.equal(w.add(1).gradFn, null);
  });
});

forEachDevice("autograd: tensors created inside noGrad with requiresGrad are leaves", (device) => {
  const w = noGrad(() => tensor([1, 2], { device, requiresGrad: true }));
  assert.equal(w.requiresGrad, true);
  assert.equal(w.isLeaf, true);
});

// ---------------------------------------------------------------- control flow, where, broadcasting

forEachDevice(
  "autograd: a loop whose trip count depends on the data gives the right gradient",
  async (device) => {
    const x = tensor([0.5, -1.5, 2], { device, requiresGrad: true });
    let y: Tensor = x;
    let n = 0;
    // keep doubling while the sum is below 8: 1 → 2 → 4 → 8, three iterations
    while ((await y.sum().item()) < 8) {
      y = y.mul(2);
      n++;
    }
    assert.equal(n, 3);
    y.sum().backward();
    assertClose(await gradOf(x), [8, 8, 8]);
  },
);

forEachDevice("autograd: a data-dependent branch gives the gradient of the branch taken", async (device) => {
  for (const [data, expected] of [[[1, 2], [2, 4]], [[-1, -2], [-3, -3]]] as const) {
    const x = tensor([...data], { device, requiresGrad: true });
    const out = (await x.sum().item()) > 0 ? x.mul(x).sum() : x.mul(-3).sum();
    out.backward();
    assertClose(await gradOf(x), [...expected]);
  }
});

forEachDevice("autograd: where routes the gradient to the branch each element took", async (device) => {
  const x = tensor([-1, 2, -3], { device, requiresGrad: true });
  const w = where(x.gt(0), x.mul(x), x.mul(-0.5));
  assertClose(await w.data(), [0.5, 4, 1.5]);
  w.sum().backward();
  assertClose(await gradOf(x), [-0.5, 4, -0.5]);
});

forEachDevice("autograd: where with a broadcast condition and a scalar branch", async (device) => {
  const a = tensor([[1, 2, 3], [4, 5, 6]], { device, requiresGrad: true });
  const cond = tensor([true, false, true], { device });
  where(cond, a, 0).sum().backward();
  assertClose(await gradOf(a), [1, 0, 1, 1, 0, 1]);
  const b = tensor([10, 20, 30], { device, requiresGrad: true });
  where(cond, a.detach(), b).sum().backward(); // b is broadcast over 2 rows
  assertClose(await gradOf(b), [0, 2, 0]);
});

forEachDevice(
  "autograd: broadcast gradients ([3, 1] + [1, 4]) reduce to the input shapes",
  async (device) => {
    const a = tensor([[1], [2], [3]], { device, requiresGrad: true });
    const b = tensor([[10, 20, 30, 40]], { device, requiresGrad: true });
    a.add(b).mul(a).sum().backward();
    assert.deepEqual(a.grad!.shape, [3, 1]);
    assert.deepEqual(b.grad!.shape, [1, 4]);
    // d/da_i Σ_j (a_i + b_j)·a_i = Σ_j (2a_i + b_j); d/db_j = Σ_i a_i
    assertClose(await gradOf(a), [108, 116, 124]);
    assertClose(await gradOf(b), [6, 6, 6, 6]);
  },
);

forEachDevice("autograd: a rank-broadcast gradient ([4] against [3, 4]) sums the new dim", async (device) => {
  const row = tensor([1, 2, 3, 4], { device, requiresGrad: true });
  const m = tensor([[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]], { device });
  m.mul(row).sum().backward();
  assert.deepEqual(row.grad!.shape, [4]);
  assertClose(await gradOf(row), [6, 6, 6, 6]);
});

// ---------------------------------------------------------------- autograd.grad and retained graphs

forEachDevice("autograd: autograd.grad returns gradients without touching .grad", async (device) => {
  const x = tensor([1, 2, 3], { device, requiresGrad: true });
  const y = tensor([4, 5, 6], { device, requiresGrad: true });
  const [gx, gy] = autograd.grad([x.mul(y).sum()], [x, y]);
  assertClose(await gx!.data(), [4, 5, 6]);
  assertClose(await gy!.data(), [1, 2, 3]);
  assert.equal(x.grad, null);
  assert.equal(y.grad, null);
});

forEachDevice("autograd: autograd.grad of a non-leaf, and null for an unused input", async (device) => {
  const x = tensor([1, 2, 3], { device, requiresGrad: true });
  const unused = tensor([1, 2], { device, requiresGrad: true });
  const h = x.mul(2);
  const [gh, gx, gu] = autograd.grad([h.mul(h).sum()], [h, x, unused]);
  assertClose(await gh!.data(), [4, 8, 12]); // 2h
  assertClose(await gx!.data(), [8, 16, 24]); // 2h·2
  assert.equal(gu, null);
  assert.equal(h.grad, null);
  assert.equal(x.grad, null);
});

forEachDevice("autograd: autograd.grad with createGraph gives second derivatives", async (device) => {
  const x = tensor([1, 2], { device, requiresGrad: true });
  const [g] = autograd.grad([x.pow(3).sum()], [x], undefined, { createGraph: true });
  assertClose(await g!.data(), [3, 12]); // 3x²
  assert.equal(g!.requiresGrad, true, "with createGraph the gradient is itself differentiable");
  g!.sum().backward();
  assertClose(await gradOf(x), [6, 12]); // 6x
});

forEachDevice("autograd: a second backward without retainGraph throws a clear error", (device) => {
  const x = tensor([1, 2], { device, requiresGrad: true });
  const y = x.exp().sum();
  y.backward();
  assertThrowsMessage(
    () => y.backward(),
    /(SumBackward1|ExpBackward0): trying to backward through the graph a second time.*retainGraph: true/,
  );
});

forEachDevice("autograd: backward through a shared subgraph a second time needs retainGraph", (device) => {
  const x = tensor([1, 2], { device, requiresGrad: true });
  const a = x.exp();
  a.sum().backward();
  assertThrowsMessage(() => a.mul(2).sum().backward(), /ExpBackward0: trying to backward through the graph/);
});

forEachDevice(
  "autograd: backward with { retainGraph: true } can run again and accumulates",
  async (device) => {
    const x = tensor([1, 2], { device, requiresGrad: true });
    const y = x.exp().sum();
    y.backward(undefined, { retainGraph: true });
    assertClose(await gradOf(x), [Math.E, Math.E ** 2], { rtol: 1e-5 });
    y.backward();
    assertClose(await gradOf(x), [2 * Math.E, 2 * Math.E ** 2], { rtol: 1e-5 });
  },
);

forEachDevice("autograd: the forward may run inside tidy and backward after it", async (device) => {
  const w = tensor([1, 2], { device, requiresGrad: true });
  const c = tensor([3, 4], { device });
  const loss = tidy(() => w.mul(c).exp().mul(w).sum()); // saved tensors must survive the scope
  loss.backward();
  // d/dw w·e^(cw) = e^(cw)·(1 + c·w)
  assertClose(await gradOf(w), [Math.exp(3) * 4, Math.exp(8) * 9], { rtol: 1e-5 });
});

forEachDevice("autograd: an in-place change to a tensor saved for backward is detected", (device) => {
  // PyTorch raises "one of the variables needed for gradient computation has been modified by an inplace
  // operation"; a silent wrong gradient (here [13, 14] instead of [3, 4]) is the one outcome to avoid.
  const w = tensor([1, 2], { device, requiresGrad: true });
  const c = tensor([3, 4], { device });
  const y = w.mul(c).sum(); // MulBackward0 saves c
  c.add_(10);
  assertThrowsMessage(() => y.backward(), /modified by an in-?place operation/);
});

// ---------------------------------------------------------------- graph structure

forEachDevice("autograd: gradFn names follow PyTorch", (device) => {
  const x = tensor([[1, 2], [3, 4]], { device, requiresGrad: true });
  const names: [Tensor, string][] = [
    [x.mul(2), "MulBackward0"],
    [x.add(x), "AddBackward0"],
    [x.sub(1), "SubBackward0"],
    [x.div(2), "DivBackward0"],
    [x.sum(), "SumBackward1"],
    [x.mean(), "MeanBackward1"],
    [x.matmul(x), "MmBackward0"],
    [x.exp(), "ExpBackward0"],
    [x.tanh(), "TanhBackward0"],
    [x.relu(), "ReluBackward0"],
    [x.transpose(0, 1), "TransposeBackward0"],
    [x.reshape([4]), "ViewBackward0"],
    [x.softmax(1), "SoftmaxBackward0"],
    [x.logSoftmax(1), "LogSoftmaxBackward0"],
    [cat([x, x]), "CatBackward0"],
  ];
  for (const [t, name] of names) assert.equal(t.gradFn?.name, name);
  assert.equal(x.gradFn, null, "a leaf has no gradFn");
});

forEachDevice(
  "autograd: nextFunctions lead to AccumulateGrad for leaves and null for constants",
  (device) => {
    const x = tensor([1, 2], { device, requiresGrad: true });
    const c = tensor([3, 4], { device });
    const y = x.mul(c).add(x).sum();
    const [add] = y.gradFn!.nextFunctions;
    assert.ok(add instanceof Node);
    assert.equal(add.name, "AddBackward0");
    const [mul, leaf] = add.nextFunctions;
    assert.ok(mul instanceof Node);
    assert.equal(mul.name, "MulBackward0");
    assert.ok(leaf instanceof AccumulateGrad);
    assert.equal(leaf.name, "AccumulateGrad");
    assert.equal(leaf.variable, x);
    assert.deepEqual(mul.nextFunctions.map((n) => n?.name ?? null), ["AccumulateGrad", null]);
    assert.equal(mul.nextFunctions[0], leaf, "one AccumulateGrad per leaf");
  },
);

// ---------------------------------------------------------------- non-scalar outputs

forEachDevice("autograd: non-scalar backward without a grad throws naming the shape", (device) => {
  const y = tensor([[1, 2], [3, 4]], { device, requiresGrad: true }).mul(2);
  assertThrowsMessage(
    () => y.backward(),
    /grad can be implicitly created only for scalar outputs \(shape is \[2, 2\]\)/,
  );
});

forEachDevice(
  "autograd: non-scalar backward with a grad computes a vector-Jacobian product",
  async (device) => {
    const x = tensor([1, 2], { device, requiresGrad: true });
    x.mul(x).backward(tensor([1, 10], { device, dtype: "float32" }));
    assertClose(await gradOf(x), [2, 40]);
  },
);

forEachDevice("autograd: a grad of another dtype gives .grad the leaf's dtype", async (device) => {
  // PyTorch casts incoming gradients to each input's dtype (validate_outputs), so a float32 leaf always
  // gets a float32 .grad
  const x = tensor([1.5, 2], { device, requiresGrad: true });
  x.mul(2).backward(tensor([1, 1], { device })); // an int32 gradient
  assert.equal(x.grad!.dtype, "float32");
  assertClose(await gradOf(x), [2, 2]);
});

// ---------------------------------------------------------------- gradcheck

type GradcheckCase = {
  name: string;
  fn: (...a: Tensor[]) => Tensor;
  inputs: (device: TestDevice) => Tensor[];
  /** Also checked on WebGPU (gradcheck reads back once per input element: keep these ≤ 6 elements). */
  webgpu?: boolean;
  /** Tolerances and step, when the defaults do not suit. */
  opts?: GradcheckOptions;
};

const leaf = (device: TestDevice, data: number[] | number[][] | number[][][]) =>
  tensor(data as number[], { device, requiresGrad: true });
/** A 2x3 input away from every kink (0, ±0.5 for clamp) by more than gradcheck's eps. */
const X = (d: TestDevice) => leaf(d, [[0.3, -0.7, 1.1], [0.9, -0.2, 0.4]]);
/** A positive 2x3 input for log, sqrt, pow... */
const P = (d: TestDevice) => leaf(d, [[0.3, 0.7, 1.1], [0.9, 1.2, 0.4]]);
const idx = (d: Device, data: number[] | number[][]) =>
  tensor(data as number[], { device: d, dtype: "int32" });
const consts = (d: Device, data: number[] | number[][]) => tensor(data as number[], { device: d });

const gradcheckCases: GradcheckCase[] = [
  { name: "tanh", fn: (a) => a.tanh(), inputs: (d) => [X(d)], webgpu: true },
  { name: "sigmoid", fn: (a) => a.sigmoid(), inputs: (d) => [X(d)], webgpu: true },
  { name: "exp", fn: (a) => a.exp(), inputs: (d) => [X(d)] },
  { name: "log of a positive input", fn: (a) => a.log(), inputs: (d) => [P(d)] },
  { name: "sqrt", fn: (a) => a.sqrt(), inputs: (d) => [P(d)] },
  { name: "rsqrt", fn: (a) => a.rsqrt(), inputs: (d) => [P(d)] },
  { name: "reciprocal", fn: (a) => a.reciprocal(), inputs: (d) => [P(d)] },
  { name: "sin and cos", fn: (a) => a.sin().add(a.cos()), inputs: (d) => [X(d)] },
  { name: "abs and neg", fn: (a) => a.abs().add(a.neg().mul(0.5)), inputs: (d) => [X(d)] },
  { name: "relu", fn: (a) => a.relu(), inputs: (d) => [X(d)] },
  { name: "gelu", fn: (a) => a.gelu(), inputs: (d) => [X(d)], webgpu: true },
  { name: "leakyRelu", fn: (a) => a.leakyRelu(0.2), inputs: (d) => [X(d)], webgpu: true },
  { name: "clamp", fn: (a) => a.clamp(-0.5, 0.5), inputs: (d) => [X(d)] },
  { name: "clamp with only a min", fn: (a) => a.clamp(0), inputs: (d) => [X(d)] },
  {
    name: "matmul",
    fn: (a, b) => a.matmul(b),
    inputs: (d) => [X(d), leaf(d, [[0.1, 0.5], [-0.3, 0.2], [0.7, -0.4]])],
    webgpu: true,
  },
  {
    name: "matmul of a vector and a matrix",
    fn: (a, b) => a.matmul(b),
    inputs: (d) => [leaf(d, [0.1, 0.2, 0.3]), leaf(d, [[0.1, 0.5], [-0.3, 0.2], [0.7, -0.4]])],
  },
  {
    name: "batched matmul broadcasting a matrix",
    fn: (a, b) => a.matmul(b),
    inputs: (
      d,
    ) => [leaf(d, [[[0.1, 0.2], [0.3, 0.4]], [[0.5, -0.6], [0.7, 0.8]]]), leaf(d, [[0.1, 0.5], [-0.3, 0.2]])],
  },
  { name: "softmax along dim 1", fn: (a) => a.softmax(1), inputs: (d) => [X(d)], webgpu: true },
  { name: "softmax along dim 0", fn: (a) => a.softmax(0), inputs: (d) => [X(d)] },
  { name: "logSoftmax", fn: (a) => a.logSoftmax(1), inputs: (d) => [X(d)], webgpu: true },
  { name: "logSumExp", fn: (a) => a.logSumExp([0, 1]), inputs: (d) => [X(d)] },
  { name: "var along a dim", fn: (a) => a.var(1), inputs: (d) => [X(d)], webgpu: true },
  { name: "var of everything, correction 0", fn: (a) => a.var(undefined, false, 0), inputs: (d) => [X(d)] },
  { name: "std", fn: (a) => a.std(0), inputs: (d) => [X(d)] },
  { name: "mean along a dim", fn: (a) => a.mean(0), inputs: (d) => [X(d)] },
  { name: "sum with keepdim", fn: (a) => a.sum(1, true).mul(a), inputs: (d) => [X(d)] },
  { name: "max along a dim", fn: (a) => a.max(1), inputs: (d) => [X(d)] },
  { name: "min of everything", fn: (a) => a.min(), inputs: (d) => [X(d)] },
  { name: "prod", fn: (a) => a.prod(0), inputs: (d) => [P(d)] },
  {
    name: "gather with repeated indices",
    fn: (a) => a.gather(1, idx(a.device, [[2, 0, 2], [1, 1, 1]])),
    inputs: (d) => [X(d)],
    webgpu: true,
  },
  { name: "gather along dim 0", fn: (a) => a.gather(0, idx(a.device, [[1, 0, 1]])), inputs: (d) => [X(d)] },
  {
    name: "indexSelect with repeated indices",
    fn: (a) => a.indexSelect(1, idx(a.device, [2, 2, 0])),
    inputs: (d) => [X(d)],
    webgpu: true,
  },
  {
    name: "indexSelect along dim 0",
    fn: (a) => a.indexSelect(0, idx(a.device, [1, 1, 0])),
    inputs: (d) => [X(d)],
  },
  { name: "cat along dim 0", fn: (a, b) => cat([a, b], 0), inputs: (d) => [X(d), P(d)], webgpu: true },
  { name: "cat along dim 1", fn: (a, b) => cat([a, b], 1), inputs: (d) => [X(d), P(d)] },
  { name: "stack", fn: (a, b) => stack([a, b], 1), inputs: (d) => [X(d), P(d)] },
  { name: "narrow", fn: (a) => a.narrow(1, 1, 2), inputs: (d) => [X(d)], webgpu: true },
  { name: "slice with a step", fn: (a) => a.slice(1, 0, 3, 2), inputs: (d) => [X(d)] },
  {
    name: "transpose then reshape",
    fn: (a) => a.transpose(0, 1).reshape([2, 3]).mul(consts(a.device, [[1, 2, 3], [4, 5, 6]])),
    inputs: (d) => [X(d)],
    webgpu: true,
  },
  { name: "permute and unsqueeze", fn: (a) => a.unsqueeze(0).permute(2, 0, 1).mul(2), inputs: (d) => [X(d)] },
  {
    name: "expand",
    fn: (a) => a.expand(4, 2, 3).mul(consts(a.device, [1, 2, 3, 4]).reshape(4, 1, 1)),
    inputs: (d) => [X(d)],
  },
  { name: "maximum", fn: (a, b) => a.maximum(b), inputs: (d) => [X(d), P(d)], webgpu: true },
  { name: "minimum", fn: (a, b) => a.minimum(b), inputs: (d) => [X(d), P(d)] },
  { name: "pow with a tensor exponent", fn: (a, b) => a.pow(b), inputs: (d) => [P(d), X(d)], webgpu: true },
  { name: "pow with a scalar exponent", fn: (a) => a.pow(3), inputs: (d) => [X(d)] },
  { name: "div", fn: (a, b) => a.div(b), inputs: (d) => [X(d), P(d)], webgpu: true },
  { name: "div by a broadcast row", fn: (a, b) => a.div(b), inputs: (d) => [X(d), leaf(d, [0.5, 1.5, 2])] },
  {
    name: "sub of a broadcast column",
    fn: (a, b) => a.sub(b),
    inputs: (d) => [X(d), leaf(d, [[0.5], [1.5]])],
  },
  { name: "where", fn: (a, b) => where(a.gt(0), a, b), inputs: (d) => [X(d), P(d)] },
  {
    // a step of 1/8 so that float16's rounding of x ± eps (≤ 4.9e-4) stays far below the tolerance
    name: "float16 round trip",
    fn: (a) => a.half().float().mul(0.5),
    inputs: (d) => [X(d)],
    opts: { eps: 0.125 },
  },
];

for (const c of gradcheckCases) {
  forEachDevice(`gradcheck: ${c.name}`, async (device) => {
    assert.equal(await autograd.gradcheck(c.fn, c.inputs(device), c.opts), true);
  }, { devices: c.webgpu ? ["cpu", "webgpu"] : ["cpu"] });
}

/**
 * One function through every op the brief names: tanh, sigmoid, exp, log, matmul, softmax, logSoftmax, var,
 * gather, indexSelect, cat, narrow, transpose+reshape, maximum, pow with a tensor exponent, div, clamp,
 * gelu and leakyRelu. `a` stays away from the kinks of maximum (a = 1/15) and clamp (±0.5).
 */
function composite(a: Tensor, b: Tensor, p: Tensor): Tensor {
  const d = a.device;
  const act = a.tanh().add(a.sigmoid()).add(a.gelu()).add(a.leakyRelu(0.1)).add(a.clamp(-0.5, 0.5))
    .add(a.maximum(a.mul(-0.5).add(0.1))); // [2, 3]
  const z = act.matmul(b).div(p.narrow(1, 0, 2).add(1)); // [2, 2]
  const sm = z.softmax(1).mul(z.logSoftmax(0)); // [2, 2]
  const picked = cat([sm, a.gather(1, idx(d, [[2, 0], [1, 1]])), p.log().indexSelect(1, idx(d, [2, 0]))], 1); // [2, 6]
  const shuffled = picked.transpose(0, 1).reshape([3, 4]).var(0); // [4]
  const powered = p.pow(a.mul(0.5)).sum(); // a tensor exponent
  return shuffled.mul(a.exp().sum()).add(powered);
}

forEachDevice("gradcheck: a composite of many ops", async (device) => {
  const b = leaf(device, [[0.1, 0.5], [-0.3, 0.2], [0.7, -0.4]]);
  assert.equal(await autograd.gradcheck(composite, [X(device), b, P(device)]), true);
}, { devices: ["cpu"] });

forEachDevice("gradcheck: a small composite (tanh, matmul, softmax, logSumExp)", async (device) => {
  const m = leaf(device, [[0.2, -0.4], [0.5, 0.1]]);
  assert.equal(await autograd.gradcheck((a) => a.tanh().matmul(a).softmax(1).logSumExp(0), [m]), true);
});

forEachDevice("gradcheck: rejects a function whose recorded gradient is wrong", async (device) => {
  // detach hides the second factor from autograd, so the analytic gradient is half the true one
  const x = leaf(device, [0.5, 1.5]);
  await assert.rejects(
    () => autograd.gradcheck((a) => a.mul(a.detach()), [x]),
    /gradcheck: gradient of input 0/,
  );
}, { devices: ["cpu"] });
