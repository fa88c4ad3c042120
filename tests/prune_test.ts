/**
 * Pruning (`nn.utils.prune`) against PyTorch 1.13 fixtures (`tests/fixtures/prune.json`, made by
 * `tests/fixtures/make_prune_fixtures.py`): masks of l1/ln-structured/global pruning, iterative composition,
 * the state-dict keys and values, `remove`, and the gradient of `weight_orig` (zero where the mask is 0), on
 * cpu and webgpu; random pruning by counts; forward pre-hooks; the sparsity report; errors.
 * @module
 */
import assert from "node:assert/strict";
import { manualSeed, nn, optim, randn, type Tensor, tensor, tidy } from "../mod.ts";
import { assertClose, assertRejectsMessage, assertThrowsMessage } from "./helpers/assert_close.ts";
import { forEachDevice, type TestDevice, webgpuTest } from "./helpers/devices.ts";

const prune = nn.utils.prune;

interface Values {
  shape: number[];
  values: number[];
}
interface Step {
  fn: "l1Unstructured" | "lnStructured" | "globalUnstructured" | "remove";
  layer?: number;
  name?: string;
  parameters?: [number, string][];
  kwargs?: { amount: number; n?: number | "inf"; dim?: number };
}
interface PruneCase {
  label: string;
  layers: { kind: "linear" | "conv2d"; args: number[]; params: Record<string, Values> }[];
  steps: Step[];
  stateKeys: string[][];
  state: Record<string, number[]>[];
  effective: number[][];
  x?: Values;
  gradOut?: number[];
  gradOrig?: number[];
}

const fixtures = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/prune.json", import.meta.url)),
) as { torch: string; prune: PruneCase[] };

type Layer = nn.Linear | nn.Conv2d;

function build(spec: PruneCase["layers"][number], device: TestDevice): Layer {
  const [a, b, k] = spec.args;
  const m = spec.kind === "linear" ? new nn.Linear(a, b, { device }) : new nn.Conv2d(a, b, k, { device });
  const sd: Record<string, Tensor> = {};
  for (const [name, v] of Object.entries(spec.params)) sd[name] = tensor(v.values, { shape: v.shape });
  m.loadStateDict(sd);
  return m;
}

async function run(step: Step, layers: Layer[]): Promise<void> {
  const kw = step.kwargs!;
  if (step.fn === "l1Unstructured") {
    await prune.l1Unstructured(layers[step.layer!], step.name!, { amount: kw.amount });
  } else if (step.fn === "lnStructured") {
    const n = kw.n === "inf" ? Infinity : kw.n!;
    await prune.lnStructured(layers[step.layer!], step.name!, { amount: kw.amount, n, dim: kw.dim });
  } else if (step.fn === "globalUnstructured") {
    await prune.globalUnstructured(
      step.parameters!.map(([i, name]) => [layers[i], name] as const),
      { pruningMethod: prune.L1Unstructured, amount: kw.amount },
    );
  } else {
    prune.remove(layers[step.layer!], step.name!);
  }
}

forEachDevice("prune: PyTorch fixtures (masks, state dict, effective weight, gradient)", async (device) => {
  for (const c of fixtures.prune) {
    const layers = c.layers.map((l) => build(l, device));
    const weightBefore = layers[0].weight;
    for (const s of c.steps) await run(s, layers);
    for (let i = 0; i < layers.length; i++) {
      const sd = layers[i].stateDict();
      assert.deepEqual(Object.keys(sd), c.stateKeys[i], `${c.label}: state-dict keys of layer ${i}`);
      for (const [key, values] of Object.entries(c.state[i])) {
        assertClose(await sd[key].data(), values, { rtol: 1e-6, atol: 0, msg: `${c.label}: ${key}` });
        if (key.endsWith("_mask")) assert.equal(sd[key].dtype, "float32");
      }
      assertClose(await layers[i].weight.data(), c.effective[i], {
        rtol: 1e-6,
        atol: 0,
        msg: `${c.label}: effective weight of layer ${i}`,
      });
    }
    const removed = c.steps.some((s) => s.fn === "remove");
    if (removed) {
      assert.equal(layers[0].weight, weightBefore, `${c.label}: remove keeps the parameter object`);
      assert.ok([...layers[0].namedParameters()].some(([n, p]) => n === "weight" && p === weightBefore));
      assert.equal(prune.isPruned(layers[0]), false);
    } else if (c.stateKeys[0].includes("weight_orig")) {
      assert.equal((layers[0] as unknown as Record<string, Tensor>).weight_orig, weightBefore);
      assert.equal(prune.isPruned(layers[0]), true);
      assert.ok(![...layers[0].namedParameters()].some(([n]) => n === "weight"), "weight is no parameter");
    }
    if (c.x) {
      const x = tensor(c.x.values, { shape: c.x.shape, device });
      const out = layers[0].forward(x);
      out.mul(tensor(c.gradOut!, { shape: out.shape, device })).sum().backward();
      const p = removed ? layers[0].weight : (layers[0] as unknown as Record<string, Tensor>).weight_orig;
      const g = await p.grad!.data();
      assertClose(g, c.gradOrig!, { rtol: 1e-5, atol: 1e-6, msg: `${c.label}: grad of weight_orig` });
      if (!removed) {
        const mask = await (layers[0] as unknown as Record<string, Tensor>).weight_mask.data();
        mask.forEach((m, i) => {
          if (m === 0) assert.ok(g[i] === 0, `${c.label}: grad ${g[i]} where the mask is 0`);
        });
      }
    }
    for (const l of layers) l.dispose();
  }
});

forEachDevice("prune: random pruning prunes the right counts, reproducibly by seed", async (device) => {
  const counts = async (seed: number) => {
    manualSeed(seed);
    const lin = new nn.Linear(10, 6, { device });
    await prune.randomUnstructured(lin, "weight", { amount: 0.3 });
    const mask = await (lin as unknown as Record<string, Tensor>).weight_mask.data();
    const zeros = [...mask].filter((v) => v === 0).length;
    await prune.randomUnstructured(lin, "weight", { amount: 5 }); // 5 more of the 42 left
    const mask2 = await (lin as unknown as Record<string, Tensor>).weight_mask.data();
    const kept = [...mask].map((v, i) => v === 0 && mask2[i] !== 0);
    assert.ok(!kept.some(Boolean), "an iterated mask never revives a pruned weight");
    const zeros2 = [...mask2].filter((v) => v === 0).length;
    await prune.randomStructured(lin, "weight", { amount: 2, dim: 0 });
    const mask3 = await (lin as unknown as Record<string, Tensor>).weight_mask.data();
    let emptyRows = 0;
    for (let r = 0; r < 6; r++) if (mask3.slice(r * 10, r * 10 + 10).every((v) => v === 0)) emptyRows++;
    assert.ok(emptyRows >= 2, "randomStructured zeroes 2 more rows");
    lin.dispose();
    return { zeros, zeros2, mask: [...mask] };
  };
  const a = await counts(1);
  assert.equal(a.zeros, 18); // round(0.3 * 60)
  assert.equal(a.zeros2, 23);
  assert.deepEqual((await counts(1)).mask, a.mask, "same seed, same mask");
  assert.notDeepEqual((await counts(2)).mask, a.mask, "another seed, another mask");
});

forEachDevice("prune: training a pruned model keeps pruned weights at zero", async (device) => {
  manualSeed(3);
  const model = new nn.Sequential(new nn.Linear(6, 8), new nn.ReLU(), new nn.Linear(8, 3)).to(device);
  const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }); // built before pruning
  const first = model.at(0) as nn.Linear;
  await prune.globalUnstructured([[first, "weight"], [model.at(2), "weight"]], {
    pruningMethod: prune.L1Unstructured,
    amount: 0.6,
  });
  const x = randn([16, 6], { device });
  const y = tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], { dtype: "int32", device });
  const previous: Tensor[] = [];
  for (let step = 0; step < 5; step++) {
    opt.zeroGrad();
    const loss = tidy(() => model.forward(x).logSoftmax(1).gather(1, y.reshape([16, 1])).mean().neg());
    previous.push(first.weight);
    loss.backward();
    opt.step();
    loss.dispose();
  }
  // every forward recomputes the effective weight and frees the previous one
  assert.ok(previous.slice(0, -1).every((w) => w.isDisposed));
  assert.ok(!first.weight.isDisposed);
  const report = await prune.sparsityReport(model, { weightsOnly: true });
  assert.deepEqual(report.rows.map((r) => r.name), ["0.weight", "2.weight"]);
  assert.equal(report.overall.total, 48 + 24);
  assert.equal(report.overall.zeros, Math.round(0.6 * 72));
  const orig = await (first as unknown as Record<string, Tensor>).weight_orig.data();
  const mask = await (first as unknown as Record<string, Tensor>).weight_mask.data();
  const effective = await first.weight.data();
  let moved = 0;
  mask.forEach((m, i) => {
    if (m === 0) assert.ok(effective[i] === 0, `effective weight ${effective[i]} where the mask is 0`);
    else if (orig[i] !== 0) moved++;
  });
  assert.ok(moved > 0);
  const full = await prune.sparsityReport(model);
  assert.deepEqual(full.rows.map((r) => r.name), ["0.bias", "0.weight", "2.bias", "2.weight"]);
  assert.match(full.toString(), /overall/);
  const display =
    (full as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")];
  assert.match(display.call(full)["text/html"], /<table>/);
  // a pruned model's state dict loads into another model pruned the same way
  const other = new nn.Sequential(new nn.Linear(6, 8), new nn.ReLU(), new nn.Linear(8, 3)).to(device);
  await prune.identity(other.at(0), "weight");
  await prune.identity(other.at(2), "weight");
  other.loadStateDict(model.stateDict());
  assertClose(await other.forward(x).data(), await model.forward(x).data(), { rtol: 1e-5, atol: 1e-6 });
  model.dispose();
  other.dispose();
});

forEachDevice("prune: ln structured on a conv removes whole filters; remove keeps zeros", async (device) => {
  manualSeed(4);
  const conv = new nn.Conv2d(3, 8, 3, { device });
  await prune.lnStructured(conv, "weight", { amount: 0.25, n: 1, dim: 0 });
  await prune.lnStructured(conv, "weight", { amount: 2, n: "fro", dim: 0 }); // 2 of the 6 left
  assert.equal(prune.pruningMethods(conv, "weight").length, 2);
  const w = await conv.weight.data();
  let zeroFilters = 0;
  for (let f = 0; f < 8; f++) if (w.slice(f * 27, f * 27 + 27).every((v) => v === 0)) zeroFilters++;
  assert.equal(zeroFilters, 4);
  prune.remove(conv, "weight");
  assert.deepEqual(Object.keys(conv.stateDict()), ["bias", "weight"]);
  assert.equal(conv.weight.requiresGrad, true);
  const after = await conv.weight.data();
  assert.equal([...after].filter((v) => v === 0).length, 4 * 27);
  conv.dispose();
});

forEachDevice("forward pre-hooks run through a parent's forward and can be removed", async (device) => {
  const inner = new nn.Linear(2, 2, { device });
  const model = new nn.Sequential(inner, new nn.ReLU());
  const seen: number[][] = [];
  const h1 = inner.registerForwardPreHook((_m, args) => {
    seen.push((args[0] as Tensor).shape as number[]);
  });
  const h2 = inner.registerForwardPreHook((_m, args) => [(args[0] as Tensor).mul(0)]);
  const y = model.forward(randn([3, 2], { device }));
  assert.deepEqual(seen, [[3, 2]]);
  const bias = await inner.bias!.data();
  const out = await y.data();
  out.forEach((v, i) => assert.equal(v, Math.max(0, bias[i % 2])), "the hook replaced the input with zeros");
  h2.remove();
  h1.remove();
  h1.remove();
  model.forward(randn([3, 2], { device }));
  assert.equal(seen.length, 1);
  assert.notEqual(h1.id, h2.id);
  assertThrowsMessage(() => inner.registerForwardPreHook(3 as never), /expected a function/);
  model.dispose();
});

forEachDevice("prune: bad input gets a clear error and leaves the module as it was", async (device) => {
  const lin = new nn.Linear(4, 3, { device });
  await assertRejectsMessage(
    () => prune.l1Unstructured(lin, "weight", { amount: 1.5 }),
    /neither a fraction in \[0, 1\) nor an integer count/,
  );
  await assertRejectsMessage(() => prune.l1Unstructured(lin, "weight", { amount: -0.1 }), /amount must be/);
  await assertRejectsMessage(
    () => prune.l1Unstructured(lin, "weight", { amount: 13 }),
    /amount 13 is more than the 12 units/,
  );
  await assertRejectsMessage(
    () => prune.l1Unstructured(lin, "kernel", { amount: 0.5 }),
    /Linear has no parameter "kernel" \(its parameters: "weight", "bias"\)/,
  );
  await assertRejectsMessage(
    () => prune.lnStructured(lin, "bias", { amount: 1, n: 2, dim: 0 }),
    /at least 2 dims; got shape \[3\]/,
  );
  await assertRejectsMessage(
    () => prune.lnStructured(lin, "weight", { amount: 1, n: 2, dim: 2 }),
    /dim 2 is out of range/,
  );
  await assertRejectsMessage(
    () => prune.l1Unstructured(lin, "weight", { amount: 0.5, importanceScores: randn([3, 3]) }),
    /importanceScores has shape \[3, 3\] but "weight" has shape \[3, 4\]/,
  );
  await assertRejectsMessage(
    () =>
      prune.globalUnstructured([[lin, "weight"]], {
        pruningMethod: prune.LnStructured as unknown as nn.utils.prune.PruningMethodClass,
        amount: 0.5,
      }),
    /pruningMethod must be an "unstructured" method/,
  );
  assert.equal(prune.isPruned(lin), false);
  assert.deepEqual(Object.keys(lin.stateDict()), ["weight", "bias"]);
  assertThrowsMessage(() => prune.remove(lin, "weight"), /has to be pruned before/);
  // importance scores rank instead of the values
  const scores = tensor([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], { device });
  await prune.l1Unstructured(lin, "weight", { amount: 4, importanceScores: scores });
  assert.deepEqual(
    [...await (lin as unknown as Record<string, Tensor>).weight_mask.data()],
    [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1],
  );
  lin.dispose();
});

webgpuTest("prune: a pruned model moves with to(), its mask too", async () => {
  const lin = new nn.Linear(4, 3, { device: "cpu" });
  await prune.l1Unstructured(lin, "weight", { amount: 6 });
  lin.to("webgpu");
  const fields = lin as unknown as Record<string, Tensor>;
  assert.equal(fields.weight_orig.device, "webgpu");
  assert.equal(fields.weight_mask.device, "webgpu");
  const y = lin.forward(randn([2, 4], { device: "webgpu" }));
  assert.equal(lin.weight.device, "webgpu", "the forward pre-hook recomputed the weight on the new device");
  assert.equal([...await lin.weight.data()].filter((v) => v === 0).length, 6);
  y.dispose();
  lin.dispose();
});
