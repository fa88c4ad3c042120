/**
 * nn.Module: registration and traversal order against PyTorch's names, train/eval, to()/cpu() in place,
 * zeroGrad, apply, stateDict/loadStateDict (with their errors), numParameters, dispose and toString.
 */
import assert from "node:assert/strict";
import { F, manualSeed, nn, noGrad, ones, randn, type Tensor, tensor, tidy, zeros } from "../mod.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { devices, fixtures, testOpts } from "./helpers/nn_fixtures.ts";
import { settledInUse } from "./helpers/memory.ts";

const hasGpu = devices.includes("webgpu");

/** The MLP of the fixtures: Sequential(Linear, BatchNorm1d, ReLU, Linear). */
function mlp(): nn.Sequential {
  return new nn.Sequential(new nn.Linear(4, 5), new nn.BatchNorm1d(5), new nn.ReLU(), new nn.Linear(5, 2));
}

/** The nested model of the fixtures, written the way a user would. */
class Block extends nn.Module {
  norm = new nn.LayerNorm(4);
  fc = new nn.Linear(4, 4);
  drop = new nn.Dropout(0.1);
  forward(x: Tensor): Tensor {
    return this.drop.forward(this.fc.forward(this.norm.forward(x)).relu());
  }
}

class Net extends nn.Module {
  embed = new nn.Embedding(10, 4);
  blocks = new nn.ModuleList([new Block(), new Block()]);
  bn = new nn.BatchNorm1d(4);
  head = new nn.Sequential(new nn.Linear(4, 3), new nn.Tanh(), new nn.Linear(3, 2, { bias: false }));
  forward(ids: Tensor): Tensor {
    let x = this.embed.forward(ids);
    for (const b of this.blocks) x = (b as Block).forward(x);
    return this.head.forward(this.bn.forward(x));
  }
}

function names(entries: Iterable<[string, unknown]>): string[] {
  return [...entries].map(([n]) => n);
}

Deno.test("Module: names and order match PyTorch", async (t) => {
  const cases: [string, () => nn.Module][] = [
    ["Sequential(Linear,BatchNorm1d,ReLU,Linear)", mlp],
    ["Net", () => new Net()],
  ];
  for (const [name, build] of cases) {
    await t.step(name, () => {
      const expected = fixtures.keys[name];
      assert.ok(expected, `fixture keys for ${name}`);
      const m = build();
      assert.deepEqual(Object.keys(m.stateDict()), expected.stateDict);
      assert.deepEqual(names(m.namedParameters()), expected.parameters);
      assert.deepEqual(names(m.namedBuffers()), expected.buffers);
      assert.deepEqual(names(m.namedModules()), expected.modules);
      m.dispose();
    });
  }
});

Deno.test("Module: registration", async (t) => {
  await t.step("fields register modules and leaf tensors that require grad, in assignment order", () => {
    class M extends nn.Module {
      b = zeros([2], { requiresGrad: true });
      plain = zeros([2]); // a plain tensor attribute, not registered (as in PyTorch)
      a = new nn.Linear(2, 2);
      declare late: Tensor;
      constructor() {
        super();
        this.registerBuffer("stat", ones([2]));
        this.registerParameter("late", ones([1]));
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const m = new M();
    assert.deepEqual(names(m.namedParameters()), ["b", "late", "a.weight", "a.bias"]);
    assert.deepEqual(names(m.namedBuffers()), ["stat"]);
    assert.deepEqual(names(m.namedChildren()), ["a"]);
    assert.deepEqual(Object.keys(m.stateDict()), ["b", "late", "stat", "a.weight", "a.bias"]);
    assert.equal(m.late.requiresGrad, true, "registerParameter marks the tensor requiresGrad");
    assert.equal((m as unknown as { stat: Tensor }).stat.requiresGrad, false);
  });

  await t.step(
    "null parameters are registered but skipped; non-persistent buffers stay out of stateDict",
    () => {
      const lin = new nn.Linear(3, 2, { bias: false });
      assert.equal(lin.bias, null);
      assert.deepEqual(names(lin.namedParameters()), ["weight"]);
      class B extends nn.Module {
        constructor() {
          super();
          this.registerBuffer("kept", zeros([1]));
          this.registerBuffer("scratch", zeros([1]), { persistent: false });
        }
        forward(): null {
          return null;
        }
      }
      const b = new B();
      assert.deepEqual(names(b.namedBuffers()), ["kept", "scratch"]);
      assert.deepEqual(Object.keys(b.stateDict()), ["kept"]);
    },
  );

  await t.step("reassigning and deleting fields", () => {
    const seq = mlp();
    const fresh = new nn.Linear(4, 5);
    (seq as unknown as Record<string, nn.Module>)["0"] = fresh;
    assert.equal([...seq.namedChildren()][0][1], fresh);
    assertThrowsMessage(() => {
      (seq as unknown as Record<string, unknown>)["1"] = zeros([5]);
    }, /cannot assign Tensor.*as child module "1"/);
    const lin = new nn.Linear(2, 2);
    assertThrowsMessage(() => {
      (lin as unknown as Record<string, unknown>).weight = 3;
    }, /parameter "weight" \(a Tensor or null expected\)/);
    delete (lin as unknown as Record<string, unknown>).bias;
    assert.deepEqual(names(lin.namedParameters()), ["weight"]);
  });

  await t.step("shared parameters are listed once but keep every state-dict key", () => {
    const a = new nn.Linear(3, 3);
    const seq = new nn.Sequential(a, new nn.ReLU(), a);
    assert.equal([...seq.parameters()].length, 2);
    assert.deepEqual(Object.keys(seq.stateDict()), ["0.weight", "0.bias", "2.weight", "2.bias"]);
    assert.equal(seq.numParameters(), 12);
  });

  await t.step("bad registrations are clear errors", () => {
    class Bad extends nn.Module {
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const m = new Bad();
    assertThrowsMessage(() => m.registerParameter("a.b", zeros([1])), /can't contain "\."/);
    assertThrowsMessage(() => m.registerParameter("train", zeros([1])), /"train" is already a method/);
    assertThrowsMessage(() => m.registerParameter("p", tensor([1, 2])), /floating point dtype, got int32/);
    const x = zeros([1], { requiresGrad: true });
    assertThrowsMessage(() => m.registerParameter("p", x.mul(2)), /must be a leaf tensor.*detach\(\)/);
    assertThrowsMessage(() => m.registerModule("m", {} as nn.Module), /must be a Module or null, got Object/);
    assertThrowsMessage(() => m.registerBuffer("b", [1] as unknown as Tensor), /must be a Tensor or null/);
  });

  await t.step("frozen parameters stay parameters; numParameters counts trainable ones on request", () => {
    const m = mlp();
    assert.equal(m.numParameters(), 4 * 5 + 5 + 5 + 5 + 5 * 2 + 2);
    (m.at(0) as nn.Linear).requiresGrad_(false);
    assert.equal(m.numParameters(), 47);
    assert.equal(m.numParameters({ trainableOnly: true }), 47 - 25);
    assert.equal([...m.parameters()].length, 6);
  });
});

Deno.test("Module: containers", async (t) => {
  await t.step("Sequential: length, at, append, iteration, named entries", () => {
    const seq = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU());
    assert.equal(seq.length, 2);
    assert.ok(seq.at(-1) instanceof nn.ReLU);
    assertThrowsMessage(() => seq.at(2), /index 2 is out of range for 2 modules/);
    seq.append(new nn.Linear(3, 1));
    assert.deepEqual([...seq].map((m) => m.constructor.name), ["Linear", "ReLU", "Linear"]);
    assert.deepEqual(Object.keys(seq.stateDict()), ["0.weight", "0.bias", "2.weight", "2.bias"]);
    // More than ten children keep their order ("10" after "9", as PyTorch's OrderedDict).
    const long = new nn.Sequential(...Array.from({ length: 12 }, () => new nn.Linear(1, 1, { bias: false })));
    assert.deepEqual(Object.keys(long.stateDict()).slice(9), ["9.weight", "10.weight", "11.weight"]);
    const named = new nn.Sequential({ fc: new nn.Linear(2, 2), act: new nn.Tanh() });
    assert.deepEqual(Object.keys(named.stateDict()), ["fc.weight", "fc.bias"]);
    assertThrowsMessage(
      () => new nn.Sequential(new nn.ReLU(), 3 as unknown as nn.Module),
      /entry 1 is not a Module/,
    );
  });

  await t.step("ModuleList registers its entries and has no forward", () => {
    const list = new nn.ModuleList([new nn.Linear(2, 2)]).extend([new nn.Linear(2, 1)]);
    assert.equal(list.length, 2);
    assert.deepEqual(Object.keys(list.stateDict()), ["0.weight", "0.bias", "1.weight", "1.bias"]);
    assertThrowsMessage(() => list.forward(), /ModuleList has no forward/);
  });
});

Deno.test("Module: train() and eval() reach every submodule", () => {
  const net = new Net();
  assert.ok([...net.modules()].every((m) => m.training));
  assert.equal(net.eval(), net);
  assert.ok([...net.modules()].every((m) => !m.training));
  net.train();
  assert.ok([...net.modules()].every((m) => m.training));
  net.train(false);
  assert.equal(net.blocks.at(1).training, false);
  assertThrowsMessage(() => net.train("yes" as unknown as boolean), /mode must be a boolean/);
});

Deno.test("Module: apply visits children first, then the module", () => {
  const seq = new nn.Sequential(new nn.Linear(2, 2), new nn.Sequential(new nn.ReLU(), new nn.Tanh()));
  const seen: string[] = [];
  seq.apply((m) => void seen.push(m.constructor.name));
  assert.deepEqual(seen, ["Linear", "ReLU", "Tanh", "Sequential", "Sequential"]);
});

for (const device of devices) {
  Deno.test(`Module [${device}]: forward, backward, zeroGrad`, testOpts, () => {
    const m = mlp().to(device);
    const y = m.forward(randn([6, 4], { device }));
    y.sum().backward();
    for (const [name, p] of m.namedParameters()) {
      assert.ok(p.grad, `${name} has a gradient`);
      assert.equal(p.grad.device, device);
    }
    const g = (m.at(0) as nn.Linear).weight.grad!;
    m.zeroGrad();
    assert.ok([...m.parameters()].every((p) => p.grad === null));
    assert.ok(g.isDisposed, "zeroGrad frees the old gradients");
    m.dispose();
  });
}

Deno.test("Module: to() and cpu() move parameters in place", testOpts, async (t) => {
  await t.step("dtype casts floating parameters and buffers only", () => {
    const m = mlp();
    const w = (m.at(0) as nn.Linear).weight;
    const before = [...m.namedBuffers()];
    m.to("float16");
    assert.equal((m.at(0) as nn.Linear).weight, w);
    assert.equal(w.dtype, "float16");
    assert.ok(w.requiresGrad);
    const bn = m.at(1) as nn.BatchNorm1d;
    assert.equal(bn.runningMean!.dtype, "float16");
    assert.equal(bn.numBatchesTracked!.dtype, "int32");
    assert.deepEqual([...m.namedBuffers()].map(([, b]) => b), before.map(([, b]) => b));
    m.to({ dtype: "float32" });
    assert.equal(w.dtype, "float32");
  });

  await t.step("to('cpu') on a CPU model changes nothing; bad targets are errors", () => {
    const m = new nn.Linear(2, 2);
    assert.equal(m.to("cpu"), m);
    assertThrowsMessage(() => m.to("tpu" as "cpu"), /dtype|device/);
  });

  if (!hasGpu) return;
  await t.step("to('webgpu') keeps every tensor's identity, gradients included", async () => {
    const m = mlp();
    const params = [...m.parameters()];
    const bufs = [...m.buffers()];
    const values = await Promise.all(params.map((p) => p.data()));
    m.forward(randn([3, 4])).sum().backward();
    const grad = params[0].grad!;
    const gradValues = await grad.data();
    assert.equal(m.to("webgpu"), m);
    assert.deepEqual([...m.parameters()], params);
    assert.deepEqual([...m.buffers()], bufs);
    assert.ok([...params, ...bufs].every((p) => p.device === "webgpu"));
    assert.equal(params[0].grad, grad);
    assert.equal(grad.device, "webgpu");
    assertClose(await grad.data(), gradValues);
    for (const [i, p] of params.entries()) assertClose(await p.data(), values[i]);
    assert.ok(params.every((p) => p.requiresGrad && p.isLeaf));
    // An update through the references held before the move reaches the model (what optimizers rely on).
    noGrad(() => params[0].fill_(0.5));
    assert.equal(await (m.at(0) as nn.Linear).weight.sum().item(), 0.5 * 20);
    assertThrowsMessage(() => m.to("cpu"), /async: use `await model\.cpu\(\)`/);
    assert.equal(await m.cpu(), m);
    assert.deepEqual([...m.parameters()], params);
    assert.ok([...params, ...bufs].every((p) => p.device === "cpu"));
    assertClose(await params[0].data(), new Array(20).fill(0.5));
    m.dispose();
  });
});

Deno.test("Module: stateDict", async (t) => {
  await t.step("values are detached aliases of the parameters; keepVars gives the tensors", async () => {
    const lin = new nn.Linear(3, 2);
    const sd = lin.stateDict();
    assert.deepEqual(Object.keys(sd), ["weight", "bias"]);
    assert.notEqual(sd.weight, lin.weight);
    assert.equal(sd.weight.requiresGrad, false);
    assertClose(await sd.weight.data(), await lin.weight.data());
    noGrad(() => lin.weight.fill_(2));
    assertClose(await sd.weight.data(), new Array(6).fill(2), { msg: "aliases share storage" });
    const raw = lin.stateDict({ keepVars: true });
    assert.equal(raw.weight, lin.weight);
  });

  await t.step("a round trip through stateDict reproduces the model", async () => {
    const a = mlp();
    const b = mlp();
    a.forward(randn([4, 4])); // moves a's running statistics
    b.loadStateDict(a.stateDict());
    a.eval();
    b.eval();
    const x = randn([3, 4]);
    assertClose(await b.forward(x).data(), await a.forward(x).data());
    assert.equal(await (b.at(1) as nn.BatchNorm1d).numBatchesTracked!.item(), 1);
  });
});

Deno.test("Module: loadStateDict", testOpts, async (t) => {
  await t.step("copies in place, keeping identity", async () => {
    const lin = new nn.Linear(2, 2);
    const w = lin.weight;
    const res = lin.loadStateDict({
      weight: tensor([[1, 2], [3, 4]], { dtype: "float32" }),
      bias: zeros([2]),
    });
    assert.deepEqual(res, { missingKeys: [], unexpectedKeys: [] });
    assert.equal(lin.weight, w);
    assert.ok(w.requiresGrad);
    assertClose(await w.data(), [1, 2, 3, 4]);
  });

  await t.step("missing, unexpected and mis-shaped keys are listed, and nothing is copied", async () => {
    const m = mlp();
    const before = await (m.at(0) as nn.Linear).bias!.data();
    const sd = m.stateDict();
    delete sd["1.running_var"];
    delete sd["3.bias"];
    sd["4.weight"] = zeros([1]);
    sd["0.weight"] = zeros([4, 5]);
    sd["0.bias"] = ones([5]);
    const err = assertThrowsMessage(
      () => m.loadStateDict(sd),
      /Error\(s\) in loading state dict for Sequential/,
    );
    assert.match(err.message, /Missing key\(s\) in state dict: "1\.running_var", "3\.bias"\./);
    assert.match(err.message, /Unexpected key\(s\) in state dict: "4\.weight"\./);
    assert.match(
      err.message,
      /size mismatch for 0\.weight: copying a tensor with shape \[4, 5\] from the state dict, the shape in the current model is \[5, 4\]/,
    );
    assertClose(await (m.at(0) as nn.Linear).bias!.data(), before, { msg: "nothing copied" });
  });

  await t.step("strict: false reports the keys; shapes must still match", async () => {
    const m = mlp();
    const sd = m.stateDict();
    delete sd["3.bias"];
    sd.extra = zeros([1]);
    sd["0.bias"] = ones([5]);
    const res = m.loadStateDict(sd, { strict: false });
    assert.deepEqual(res, { missingKeys: ["3.bias"], unexpectedKeys: ["extra"] });
    assertClose(await (m.at(0) as nn.Linear).bias!.data(), [1, 1, 1, 1, 1]);
    sd["0.bias"] = ones([6]);
    assertThrowsMessage(
      () => m.loadStateDict(sd, { strict: false }),
      /size mismatch for 0\.bias.*\[6\].*\[5\]/,
    );
  });

  await t.step("values that are not tensors are errors", () => {
    const lin = new nn.Linear(1, 1);
    assertThrowsMessage(
      () => lin.loadStateDict({ weight: [[1]] as unknown as Tensor, bias: zeros([1]) }),
      /value for "weight" is not a Tensor/,
    );
    assertThrowsMessage(
      () => lin.loadStateDict(null as unknown as Record<string, Tensor>),
      /expected an object/,
    );
  });

  await t.step("dtypes are converted (int64-like int32 into int32, float into float)", async () => {
    const bn = new nn.BatchNorm1d(2);
    bn.loadStateDict({
      weight: ones([2]),
      bias: zeros([2]),
      running_mean: tensor([1, 2]), // int32 values into a float32 buffer
      running_var: ones([2]),
      num_batches_tracked: tensor(7),
    });
    assert.equal(bn.runningMean!.dtype, "float32");
    assertClose(await bn.runningMean!.data(), [1, 2]);
    assert.equal(await bn.numBatchesTracked!.item(), 7);
  });

  if (!hasGpu) return;
  await t.step("CPU values load into a WebGPU model; WebGPU values into a CPU model need cpu()", async () => {
    const lin = new nn.Linear(2, 1).to("webgpu");
    lin.loadStateDict({ weight: tensor([[1, 2]], { dtype: "float32" }), bias: tensor([0.5]) });
    assert.equal(lin.weight.device, "webgpu");
    assertClose(await lin.weight.data(), [1, 2]);
    const cpuLin = new nn.Linear(2, 1);
    assertThrowsMessage(
      () => cpuLin.loadStateDict(lin.stateDict()),
      /"weight" is on webgpu.*await t\.cpu\(\)/,
    );
    const sd = lin.stateDict();
    for (const k of Object.keys(sd)) sd[k] = await sd[k].cpu();
    cpuLin.loadStateDict(sd);
    assertClose(await cpuLin.weight.data(), [1, 2]);
    assert.equal(cpuLin.weight.device, "cpu");
  });
});

Deno.test("Module: dispose frees parameters, gradients and buffers", () => {
  const m = mlp();
  m.forward(randn([3, 4])).sum().backward();
  const tensors = [...m.parameters(), ...m.buffers(), ...[...m.parameters()].map((p) => p.grad!)];
  m.dispose();
  assert.ok(tensors.every((t) => t.isDisposed));
  assert.ok([...m.parameters()].every((p) => p.grad === null));
});

Deno.test("Module: toString is PyTorch's tree", () => {
  const expected = [
    "Net(",
    "  (embed): Embedding(10, 4)",
    "  (blocks): ModuleList(",
    "    (0): Block(",
    "      (norm): LayerNorm([4], eps=0.00001, elementwiseAffine=true)",
    "      (fc): Linear(inFeatures=4, outFeatures=4, bias=true)",
    "      (drop): Dropout(p=0.1)",
    "    )",
    "    (1): Block(",
    "      (norm): LayerNorm([4], eps=0.00001, elementwiseAffine=true)",
    "      (fc): Linear(inFeatures=4, outFeatures=4, bias=true)",
    "      (drop): Dropout(p=0.1)",
    "    )",
    "  )",
    "  (bn): BatchNorm1d(4, eps=0.00001, momentum=0.1, affine=true, trackRunningStats=true)",
    "  (head): Sequential(",
    "    (0): Linear(inFeatures=4, outFeatures=3, bias=true)",
    "    (1): Tanh()",
    "    (2): Linear(inFeatures=3, outFeatures=2, bias=false)",
    "  )",
    ")",
  ].join("\n");
  assert.equal(new Net().toString(), expected);
  assert.equal(Deno.inspect(new nn.ReLU()), "ReLU()");
});

for (const device of devices) {
  Deno.test(`Module [${device}]: a training loop learns and keeps memory flat`, testOpts, async () => {
    manualSeed(1);
    const m = new nn.Sequential(
      new nn.Embedding(10, 4),
      new nn.Linear(4, 4),
      new nn.BatchNorm1d(4),
      new nn.ReLU(),
      new nn.Linear(4, 2),
    ).to(device);
    const ids = tensor([1, 2, 3, 4, 5, 6], { device });
    const target = tensor([0, 1, 1, 0, 1, 0], { device });
    const lossFn = new nn.CrossEntropyLoss();
    const losses: number[] = [];
    const inUse: number[] = [];
    for (let step = 0; step < 8; step++) {
      const loss = tidy(() => lossFn.forward(m.forward(ids), target));
      loss.backward();
      noGrad(() => tidy(() => [...m.parameters()].forEach((p) => p.sub_(p.grad!.mul(0.2)))));
      m.zeroGrad();
      losses.push(await loss.item());
      loss.dispose();
      if (device === "webgpu") inUse.push(await settledInUse());
    }
    assert.ok(losses[7] < losses[0] - 0.05, `loss falls: ${losses.map((l) => l.toFixed(3)).join(" ")}`);
    if (device === "webgpu") assert.equal(inUse[7], inUse[2], `memory in use is flat: ${inUse.join(" ")}`);
    assert.equal(F, nn.functional);
    m.dispose();
  });
}

Deno.test("Module: notebook display shows the tree and the parameter count", () => {
  const m = new nn.Sequential(new nn.Linear(3, 2), new nn.ReLU());
  (m.at(0) as nn.Linear).bias!.requiresGrad = false;
  const shown = (m as unknown as Record<symbol, () => Record<string, string>>)
    [Symbol.for("Jupyter.display")]();
  assert.equal(shown["text/plain"], `${m.toString()}\n8 parameters (6 trainable)`);
  assert.match(
    shown["text/html"],
    /^<pre>Sequential\(\n {2}\(0\): Linear\(inFeatures=3, outFeatures=2, bias=true\)/,
  );
});
