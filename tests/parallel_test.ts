/**
 * Single-process parallelism: scatter/gather shapes and uneven splits, replicate and parallelApply,
 * DataParallel against one device, and Pipe against the plain model (outputs and gradients).
 * @module
 */
import assert from "node:assert/strict";
import { gpu, manualSeed, nn, noGrad, optim, parallel, randn, type Tensor, tensor } from "../mod.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { hasWebGpu, webgpuTest } from "./helpers/devices.ts";

if (hasWebGpu) await gpu.devices({ logical: 2 });

const DEVS = ["webgpu", "webgpu:1"] as const;

async function flat(t: Tensor): Promise<number[]> {
  return Array.from(await t.data(), Number);
}

function mlp(): nn.Sequential {
  return new nn.Sequential(
    new nn.Linear(6, 16),
    new nn.Tanh(),
    new nn.Linear(16, 8),
    new nn.ReLU(),
    new nn.Linear(8, 3),
  );
}

/** Two models with the same weights: one is a copy of the other. */
function twins(device: "webgpu" | "cpu" = "webgpu"): [nn.Sequential, nn.Sequential] {
  manualSeed(7);
  const a = mlp();
  const b = mlp();
  b.loadStateDict(a.stateDict());
  return [a.to(device), b.to(device)];
}

Deno.test("chunkSizes follows PyTorch's chunk", () => {
  assert.deepEqual(parallel.chunkSizes(10, 2), [5, 5]);
  assert.deepEqual(parallel.chunkSizes(10, 3), [4, 4, 2]);
  assert.deepEqual(parallel.chunkSizes(5, 4), [2, 2, 1]); // fewer chunks than parts
  assert.deepEqual(parallel.chunkSizes(1, 2), [1]);
  assertThrowsMessage(() => parallel.chunkSizes(4, 0), /parts must be >= 1/);
});

Deno.test("scattering a model is refused with a pointer to replicate", () => {
  const model = new nn.Linear(2, 2);
  const e = assertThrowsMessage(
    () => parallel.scatter(model, ["cpu"]),
    /scatter splits data.*Linear.*replicate/,
  );
  assert.ok(e instanceof TypeError);
  assertThrowsMessage(() => parallel.scatter([randn([2, 2]), model], ["cpu"]), /given a model/);
});

Deno.test("scatter/gather on one device: views, structure and dims", async () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  const [c] = parallel.scatter(x, ["cpu"], 1);
  assert.deepEqual(c.shape, [2, 3]);
  const parts = parallel.scatter({ a: x, n: 3, list: [x] }, ["cpu"]);
  assert.equal(parts.length, 1);
  assert.equal(parts[0].n, 3);
  assertThrowsMessage(() => parallel.scatter(tensor(1), ["cpu"]), /zero-dimensional/);
  assertThrowsMessage(() => parallel.scatter(x, ["cpu", "cpu"]), /listed twice/);
  assertThrowsMessage(() => parallel.gather([], "cpu"), /no outputs/);
  assert.deepEqual(await parallel.gather([x], "cpu").toArray(), [[1, 2, 3], [4, 5, 6]]);
});

webgpuTest("scatter splits unevenly as chunk does, and gather joins back", async () => {
  const x = randn([5, 3], { device: "webgpu" });
  const parts = parallel.scatter(x, DEVS);
  assert.deepEqual(parts.map((p) => p.shape), [[3, 3], [2, 3]]);
  assert.deepEqual(parts.map((p) => p.device), DEVS);
  const back = parallel.gather(parts, "webgpu");
  assert.deepEqual(back.shape, [5, 3]);
  assert.deepEqual(await flat(back), await flat(x));
  // along dim 1, from the CPU, gathered on device 1
  const y = tensor([[1, 2, 3], [4, 5, 6]]);
  const cols = parallel.scatter(y, [0, 1], 1);
  assert.deepEqual(cols.map((p) => p.shape), [[2, 2], [2, 1]]);
  assert.deepEqual(cols.map((p) => p.device), DEVS);
  const joined = parallel.gather(cols, "webgpu:1", 1);
  assert.equal(joined.device, "webgpu:1");
  assert.deepEqual(await joined.toArray(), [[1, 2, 3], [4, 5, 6]]);
  // a batch of one uses one device
  assert.equal(parallel.scatter(randn([1, 4], { device: "webgpu" }), DEVS).length, 1);
  // tuples and objects are split element by element; other values go to every device
  const s = parallel.scatter([x, { m: x, k: "key" }] as [Tensor, { m: Tensor; k: string }], DEVS);
  assert.equal(s.length, 2);
  assert.deepEqual((s[1][0] as Tensor).shape, [2, 3]);
  assert.equal(s[1][1].k, "key");
  type Pair = [Tensor, { v: Tensor }];
  const g = parallel.gather<Pair>([[parts[0], { v: parts[0] }], [parts[1], { v: parts[1] }]], "webgpu");
  assert.deepEqual(g[1].v.shape, [5, 3]);
  // scalars are joined into a vector
  const sc = parallel.gather([tensor(1, { device: "webgpu" }), tensor(2, { device: "webgpu:1" })], "webgpu");
  assert.deepEqual(await sc.toArray(), [1, 2]);
});

webgpuTest("scatter and gather are differentiable", async () => {
  const x = tensor([[1, 2], [3, 4], [5, 6]], { device: "webgpu", requiresGrad: true });
  const parts = parallel.scatter(x, DEVS);
  const doubled = parts.map((p) => p.mul(2));
  const y = parallel.gather(doubled, "webgpu:1");
  y.mul(tensor([[1, 1], [2, 2], [3, 3]], { device: "webgpu:1" })).sum().backward();
  assert.deepEqual(await x.grad!.toArray(), [[2, 2], [4, 4], [6, 6]]);
});

webgpuTest("replicate + parallelApply + gather equals the module on the whole batch", async () => {
  const [model] = twins();
  const x = randn([7, 6], { device: "webgpu" });
  const expected = await flat(noGrad(() => model.forward(x)));
  const replicas = parallel.replicate(model, DEVS);
  assert.deepEqual(replicas.map((r) => r.device), DEVS);
  assert.ok([...replicas[1].parameters()].every((p) => p.device === "webgpu:1" && !p.isLeaf));
  assert.deepEqual([...replicas[0].parameters()], [...model.parameters()]); // same device: the originals
  assert.deepEqual(
    [...replicas[1].namedParameters()].map(([n]) => n),
    [...model.namedParameters()].map(([n]) => n),
  );
  const outs = parallel.parallelApply(replicas, parallel.scatter(x, DEVS));
  assert.deepEqual(outs.map((o) => o.device), DEVS);
  assertClose(await flat(parallel.gather(outs, "webgpu")), expected, { rtol: 1e-5, atol: 1e-6 });
  // the model's own fields are back after each replica's forward
  assert.ok([...model.parameters()].every((p) => p.device === "webgpu" && p.isLeaf));
  assertThrowsMessage(() => parallel.parallelApply(replicas, [x]), /2 module\(s\) but 1 input/);
  const bad = parallel.scatter(randn([4, 5], { device: "webgpu" }), DEVS);
  assertThrowsMessage(() => parallel.parallelApply(replicas, bad), /replica 0 on webgpu failed/);
  for (const r of replicas) r.dispose();
  assertThrowsMessage(() => replicas[1].forward(x), /used after dispose/);
});

webgpuTest("replicate refuses CPU<->WebGPU when gradients are needed", () => {
  const m = new nn.Linear(2, 2);
  assertThrowsMessage(
    () => parallel.replicate(m, ["cpu", "webgpu"]),
    /gradients cannot flow between the CPU/,
  );
  const rs = parallel.replicate(m, ["cpu", "webgpu"], { detach: true }); // inference is fine
  assert.equal([...rs[1].parameters()][0].device, "webgpu");
});

webgpuTest("DataParallel on 2 logical devices trains exactly like one device (3 SGD steps)", async () => {
  const [single, wrapped] = twins();
  const dp = new parallel.DataParallel(wrapped, { deviceIds: [0, 1] });
  assert.deepEqual(dp.deviceIds, DEVS);
  assert.equal(dp.outputDevice, "webgpu");
  assert.deepEqual(Object.keys(dp.stateDict()).slice(0, 2), ["module.0.weight", "module.0.bias"]);
  const opt1 = new optim.SGD(single.parameters(), { lr: 0.1, momentum: 0.9 });
  const opt2 = new optim.SGD(dp.parameters(), { lr: 0.1, momentum: 0.9 });
  manualSeed(11);
  for (let step = 0; step < 3; step++) {
    const x = randn([9, 6], { device: "webgpu" }); // uneven: 5 + 4
    const t = randn([9, 3], { device: "webgpu" });
    for (const [model, opt] of [[single, opt1], [dp, opt2]] as const) {
      opt.zeroGrad();
      const y = model.forward(x);
      assert.equal(y.device, "webgpu");
      assert.deepEqual(y.shape, [9, 3]);
      y.sub(t).square().mean().backward();
      opt.step();
    }
  }
  const a = [...single.parameters()];
  const b = [...wrapped.parameters()];
  for (let k = 0; k < a.length; k++) {
    assert.equal(b[k].device, "webgpu");
    assertClose(await flat(b[k]), await flat(a[k]), { rtol: 1e-5, atol: 1e-5, msg: `parameter ${k}` });
  }
});

webgpuTest("DataParallel: output device, dim 1, eval, and a module on the wrong device", async () => {
  const [model] = twins();
  const x = randn([4, 6], { device: "webgpu" });
  const expected = await flat(noGrad(() => model.forward(x)));
  const dp = new parallel.DataParallel(model, { deviceIds: DEVS, outputDevice: "webgpu:1" });
  const y = noGrad(() => dp.forward(x));
  assert.equal(y.device, "webgpu:1");
  assertClose(await flat(y), expected, { rtol: 1e-5, atol: 1e-6 });
  // dim 1: a module over [features, batch] columns
  class Cols extends nn.Module {
    lin = new nn.Linear(6, 3);
    forward(xt: Tensor): Tensor {
      return this.lin.forward(xt.T).T;
    }
  }
  manualSeed(2);
  const cols = new Cols().to("webgpu");
  const want = await flat(noGrad(() => cols.forward(x.T)));
  const got = noGrad(() => new parallel.DataParallel(cols, { deviceIds: DEVS, dim: 1 }).forward(x.T));
  assert.deepEqual(got.shape, [3, 4]);
  assertClose(await flat(got), want, { rtol: 1e-5, atol: 1e-6 });
  const onOne = new parallel.DataParallel(cols, { deviceIds: ["webgpu:1"] });
  assertThrowsMessage(
    () => onOne.forward(x.T),
    /parameters and buffers on webgpu:1.*found one of them on webgpu/,
  );
  assertThrowsMessage(() => new parallel.DataParallel(cols, { deviceIds: [0, 0] }), /listed twice/);
});

webgpuTest("Pipe on two devices equals the plain model: outputs and gradients", async () => {
  manualSeed(5);
  const stage0 = new nn.Sequential(new nn.Linear(6, 16), new nn.Tanh()).to("webgpu");
  const stage1 = new nn.Sequential(new nn.Linear(16, 8), new nn.ReLU(), new nn.Linear(8, 3)).to("webgpu:1");
  const x = randn([10, 6], { device: "webgpu" });
  const target = randn([10, 3], { device: "webgpu:1" });
  const params = [...stage0.parameters(), ...stage1.parameters()];
  const run = (f: (x: Tensor) => Tensor) => {
    for (const p of params) p.grad = null;
    const y = f(x);
    y.sub(target).square().mean().backward();
    return y;
  };
  // plain model parallelism: the activation moves with .to (differentiable)
  const plain = run((v) => stage1.forward(stage0.forward(v).to("webgpu:1")));
  const plainOut = await flat(plain);
  const plainGrads = await Promise.all(params.map((p) => flat(p.grad!)));
  for (const chunks of [1, 3, 4]) {
    const pipe = new parallel.Pipe([stage0, stage1], { chunks });
    assert.deepEqual(pipe.stageDevices(), ["webgpu", "webgpu:1"]);
    const y = run((v) => pipe.forward(v));
    assert.equal(y.device, "webgpu:1");
    assert.deepEqual(y.shape, [10, 3]);
    assertClose(await flat(y), plainOut, { rtol: 1e-5, atol: 1e-6, msg: `chunks=${chunks} output` });
    for (const [k, p] of params.entries()) {
      assert.equal(p.grad!.device, k < 2 ? "webgpu" : "webgpu:1");
      assertClose(await flat(p.grad!), plainGrads[k], {
        rtol: 1e-4,
        atol: 1e-6,
        msg: `chunks=${chunks} grad ${k}`,
      });
    }
  }
  assert.deepEqual(Object.keys(new parallel.Pipe([stage0, stage1]).stateDict())[0], "0.0.weight");
  assertThrowsMessage(
    () => new parallel.Pipe([stage0, stage1], { devices: ["webgpu:1", "webgpu:1"] }).forward(x),
    /stage 0 is meant to run on webgpu:1/,
  );
  assertThrowsMessage(() => new parallel.Pipe([stage0], { chunks: 0 }), /chunks must be a positive integer/);
});

Deno.test("Pipe on the CPU runs micro-batches and refuses CPU<->WebGPU stages with grads", async () => {
  manualSeed(9);
  const a = new nn.Linear(4, 5);
  const b = new nn.Linear(5, 2);
  const x = randn([7, 4]);
  const want = await flat(noGrad(() => b.forward(a.forward(x))));
  const got = await flat(noGrad(() => parallel.pipeline([a, b], { chunks: 3 }).forward(x)));
  assertClose(got, want, { rtol: 1e-6, atol: 1e-6 });
  if (hasWebGpu) {
    const p = new parallel.Pipe([a, new nn.Linear(5, 2).to("webgpu")]);
    assertThrowsMessage(() => p.forward(x), /stage 0 is on cpu and stage 1 on webgpu/);
  }
});
