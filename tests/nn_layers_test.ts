/**
 * nn layers against PyTorch 1.13 (tests/fixtures/nn.json): forward values and gradients of inputs and
 * parameters with PyTorch's weights loaded through loadStateDict, BatchNorm running statistics over training
 * steps, on every device; plus dropout, initialisation statistics and layer-specific behaviour.
 */
import assert from "node:assert/strict";
import { F, manualSeed, nn, noGrad, ones, onesLike, randn, type Tensor, tensor, zeros } from "../mod.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { DEFAULT_TOL, devices, fixtures, replayCase, testOpts, type Tol } from "./helpers/nn_fixtures.ts";

const layerCases = fixtures.cases.filter((c) => !c.module.endsWith("Loss"));

/** WGSL's exp/tanh/erf may be a little less accurate than the host's. */
const GPU_TOL: Tol = { rtol: 2e-4, atol: 5e-5 };

for (const device of devices) {
  Deno.test(`nn layers [${device}]: match PyTorch`, testOpts, async (t) => {
    assert.ok(layerCases.length >= 20, "fixtures hold the layer cases");
    for (const c of layerCases) {
      await t.step(c.name, () => replayCase(c, device, device === "cpu" ? DEFAULT_TOL : GPU_TOL));
    }
  });
}

for (const device of devices) {
  Deno.test(`Dropout [${device}]: seeded, scaled, identity in eval`, testOpts, async (t) => {
    const x = ones([64, 32], { device, requiresGrad: true });
    await t.step("the same seed gives the same mask, on every device", async () => {
      const drop = new nn.Dropout(0.25);
      manualSeed(7);
      const a = await drop.forward(x).data();
      manualSeed(7);
      const b = await drop.forward(x).data();
      assertClose(a, b, { atol: 0, rtol: 0 });
      manualSeed(7);
      const onCpu = await new nn.Dropout(0.25).forward(ones([64, 32])).data();
      assertClose(a, onCpu, { atol: 0, rtol: 0, msg: "same mask as on the CPU" });
      manualSeed(8);
      const c = await drop.forward(x).data();
      assert.ok(c.some((v, i) => v !== a[i]), "another seed, another mask");
    });
    await t.step("about p of the elements are zeroed and the rest scaled by 1/(1-p)", async () => {
      manualSeed(1);
      const y = new nn.Dropout(0.25).forward(x);
      const v = await y.data();
      const zeros = v.filter((e) => e === 0).length;
      assert.ok(Math.abs(zeros / v.length - 0.25) < 0.04, `zero fraction ${zeros / v.length}`);
      assert.ok(v.every((e) => e === 0 || Math.abs(e - 4 / 3) < 1e-6), "survivors are 1/(1-p)");
      y.backward(onesLike(y));
      const g = await x.grad!.data();
      assertClose(g, v, { msg: "the gradient goes through the same mask and scale" });
      x.grad = null;
    });
    await t.step("eval, p = 0 and training = false return the input; p = 1 zeroes", async () => {
      const drop = new nn.Dropout(0.5);
      drop.eval();
      assert.equal(drop.forward(x), x);
      assert.equal(new nn.Dropout(0).forward(x), x);
      assert.equal(F.dropout(x, 0.5, false), x);
      assertClose(await F.dropout(x, 1).data(), new Array(x.size).fill(0));
    });
    await t.step("bad probabilities and dtypes are errors", () => {
      assertThrowsMessage(() => new nn.Dropout(1.5), /probability has to be between 0 and 1, but got 1.5/);
      assertThrowsMessage(() => F.dropout(x, -0.1), /between 0 and 1/);
      assertThrowsMessage(
        () => F.dropout(tensor([1, 2], { device }), 0.5),
        /floating point tensor, got int32/,
      );
    });
  });
}

/** Mean, standard deviation, min and max of a tensor's values. */
async function stats(t: Tensor): Promise<{ mean: number; std: number; min: number; max: number }> {
  const v = Array.from(await t.data(), Number);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  return { mean, std, min: Math.min(...v), max: Math.max(...v) };
}

for (const device of devices) {
  Deno.test(`nn.init [${device}]: bounds and statistics follow torch's fans`, testOpts, async (t) => {
    const { init } = nn;
    const w = () => zeros([256, 64, 3], { device }); // fanIn = 192, fanOut = 768
    await t.step("fans and gains", () => {
      assert.deepEqual(init.calculateFanInAndFanOut(zeros([8, 3, 5, 5])), [75, 200]);
      assert.deepEqual(init.calculateFanInAndFanOut([4, 2]), [2, 4]);
      assertThrowsMessage(() => init.calculateFanInAndFanOut(zeros([5])), /fewer than 2 dimensions/);
      assertClose(init.calculateGain("relu"), Math.SQRT2);
      assertClose(init.calculateGain("tanh"), 5 / 3);
      assertClose(init.calculateGain("leaky_relu", Math.sqrt(5)), Math.sqrt(1 / 3));
      assertClose(init.calculateGain("leaky_relu"), Math.sqrt(2 / (1 + 1e-4)));
      assertThrowsMessage(() => init.calculateGain("swish" as "relu"), /unsupported nonlinearity "swish"/);
    });
    await t.step("kaimingUniform_ with a = √5 (Linear's default): U(±1/√fanIn)", async () => {
      const bound = 1 / Math.sqrt(192);
      const s = await stats(init.kaimingUniform_(w(), { a: Math.sqrt(5) }));
      assert.ok(s.min >= -bound && s.max <= bound, `within ±${bound}: ${s.min}..${s.max}`);
      assert.ok(s.max > 0.98 * bound && s.min < -0.98 * bound, "fills the range");
      assertClose(s.std, bound / Math.sqrt(3), { rtol: 0.03, msg: "std" });
    });
    await t.step("kaimingNormal_ fan_out, relu: std √2/√fanOut", async () => {
      const s = await stats(init.kaimingNormal_(w(), { mode: "fan_out", nonlinearity: "relu" }));
      assertClose(s.std, Math.SQRT2 / Math.sqrt(768), { rtol: 0.03, msg: "std" });
      assert.ok(Math.abs(s.mean) < 0.003, `mean ${s.mean}`);
      assertThrowsMessage(() => init.kaimingNormal_(w(), { mode: "fan_avg" as "fan_in" }), /mode must be/);
    });
    await t.step("xavierUniform_ and xavierNormal_", async () => {
      const bound = Math.sqrt(6 / (192 + 768));
      const u = await stats(init.xavierUniform_(w()));
      assert.ok(u.min >= -bound && u.max <= bound && u.max > 0.98 * bound, `±${bound}: ${u.min}..${u.max}`);
      const n = await stats(init.xavierNormal_(w(), 2));
      assertClose(n.std, 2 * Math.sqrt(2 / 960), { rtol: 0.03, msg: "std" });
    });
    await t.step("normal_, uniform_, constant_, zeros_, ones_", async () => {
      const n = await stats(init.normal_(w(), 3, 0.5));
      assertClose(n.mean, 3, { rtol: 0.01, msg: "mean" });
      assertClose(n.std, 0.5, { rtol: 0.03, msg: "std" });
      const u = await stats(init.uniform_(w(), -2, -1));
      assert.ok(u.min >= -2 && u.max < -1 && u.min < -1.99 && u.max > -1.01, `${u.min}..${u.max}`);
      assert.deepEqual(await stats(init.constant_(w(), 0.25)), { mean: 0.25, std: 0, min: 0.25, max: 0.25 });
      assert.equal((await stats(init.zeros_(ones([3], { device })))).max, 0);
      assert.equal((await stats(init.ones_(zeros([3], { device })))).min, 1);
      assertThrowsMessage(() => init.uniform_(w(), 1, 0), /low <= high/);
      assertThrowsMessage(() => init.normal_(tensor([1, 2], { device })), /floating point tensor, got int32/);
    });
    await t.step("in place on parameters, not recorded, seeded", async () => {
      const p = zeros([4, 4], { device, requiresGrad: true });
      manualSeed(3);
      assert.equal(init.xavierUniform_(p), p);
      assert.ok(p.isLeaf && p.requiresGrad && p.gradFn === null);
      const a = await p.data();
      manualSeed(3);
      assertClose(await init.xavierUniform_(p).data(), a, { atol: 0, rtol: 0 });
    });
    await t.step("layers' default initialisation", async () => {
      const lin = new nn.Linear(48, 300, { device });
      const bound = 1 / Math.sqrt(48);
      const ws = await stats(lin.weight);
      const bs = await stats(lin.bias!);
      assert.ok(ws.max <= bound && ws.min >= -bound && ws.max > 0.98 * bound, "weight U(±1/√in)");
      assert.ok(bs.max <= bound && bs.min >= -bound && bs.max > 0.9 * bound, "bias U(±1/√in)");
      const emb = new nn.Embedding(500, 16, { paddingIdx: 3, device });
      assertClose((await stats(emb.weight)).std, 1, { rtol: 0.05, msg: "Embedding N(0, 1)" });
      assert.deepEqual(await emb.weight.narrow(0, 3, 1).toArray(), [new Array(16).fill(0)]);
      const ln = new nn.LayerNorm([2, 3], { device });
      assert.deepEqual(await ln.weight!.toArray(), [[1, 1, 1], [1, 1, 1]]);
      assert.deepEqual(await ln.bias!.toArray(), [[0, 0, 0], [0, 0, 0]]);
      const bn = new nn.BatchNorm2d(2, { device });
      assert.deepEqual(await bn.runningVar!.toArray(), [1, 1]);
      assert.equal(bn.numBatchesTracked!.dtype, "int32");
      assert.equal(bn.weight!.device, device);
    });
  });
}

for (const device of devices) {
  Deno.test(`nn layers [${device}]: behaviour and errors`, testOpts, async (t) => {
    await t.step("Linear checks shapes", () => {
      const lin = new nn.Linear(3, 2, { device });
      assertThrowsMessage(
        () => lin.forward(zeros([4, 5], { device })),
        /linear: input of shape \[4, 5\] does not match weight of shape \[2, 3\] \(the input's last dim must be 3\)/,
      );
      assertThrowsMessage(() => new nn.Linear(3.5, 2), /inFeatures must be a non-negative integer, got 3.5/);
      assert.equal(lin.forward(zeros([3], { device })).shape[0], 2, "a 1-D input is one sample");
    });
    await t.step("BatchNorm checks rank, channels and batch size; eval uses running stats", async () => {
      const bn1 = new nn.BatchNorm1d(3, { device });
      assertThrowsMessage(
        () => bn1.forward(zeros([2, 3, 4, 5], { device })),
        /expected 2D or 3D input \(got 4D/,
      );
      assertThrowsMessage(() => bn1.forward(zeros([2, 4], { device })), /expected 3 channels \(dim 1\)/);
      assertThrowsMessage(() => bn1.forward(zeros([1, 3], { device })), /more than 1 value per channel/);
      assertThrowsMessage(() => new nn.BatchNorm2d(3).forward(zeros([2, 3])), /expected 4D input \(got 2D/);
      bn1.eval();
      const x = randn([1, 3], { device });
      assertClose(await bn1.forward(x).data(), Array.from(await x.data(), (v) => v / Math.sqrt(1 + 1e-5)), {
        msg: "eval with mean 0, var 1",
      });
      assert.equal(await bn1.numBatchesTracked!.item(), 0, "eval does not count batches");
      bn1.train();
      bn1.forward(randn([4, 3], { device }));
      bn1.forward(randn([4, 3], { device }));
      assert.equal(await bn1.numBatchesTracked!.item(), 2);
      bn1.resetRunningStats();
      assert.deepEqual(await bn1.runningMean!.toArray(), [0, 0, 0]);
      assert.equal(await bn1.numBatchesTracked!.item(), 0);
      const out = bn1.forward(randn([4, 3], { device, requiresGrad: true }));
      assert.equal(bn1.runningMean!.requiresGrad, false, "running stats stay out of the graph");
      assert.ok(out.requiresGrad);
    });
    await t.step("LayerNorm and Embedding check their inputs", () => {
      assertThrowsMessage(
        () => new nn.LayerNorm([3, 4], { device }).forward(zeros([2, 4, 3], { device })),
        /input of shape \[2, 4, 3\] does not end with the normalized shape \[3, 4\]/,
      );
      const emb = new nn.Embedding(5, 2, { device });
      assertThrowsMessage(() => emb.forward(zeros([2], { device })), /expected int32 indices, got float32/);
      assertThrowsMessage(
        () => new nn.Embedding(5, 2, { paddingIdx: 5 }),
        /paddingIdx must be an integer within \[-5, 4\]/,
      );
      assert.equal(new nn.Embedding(5, 2, { paddingIdx: -1 }).paddingIdx, 4);
    });
    await t.step("activations, Flatten, Identity and functional forms", async () => {
      const x = tensor([[-2, -0.5, 0.5, 2]], { device });
      assert.equal(nn.LeakyRelu, nn.LeakyReLU);
      assertClose(await new nn.LeakyRelu(0.1).forward(x).data(), [-0.2, -0.05, 0.5, 2]);
      assertClose(await F.relu(x).data(), [0, 0, 0.5, 2]);
      assertClose(await new nn.Softmax().forward(x).sum().data(), [1], { rtol: 1e-6 });
      assertThrowsMessage(
        () => new nn.GELU({ approximate: "erf" as "none" }),
        /approximate must be "none" or "tanh"/,
      );
      assert.deepEqual(new nn.Flatten(0).forward(zeros([2, 3, 4], { device })).shape, [24]);
      assert.deepEqual(new nn.Flatten(1, 2).forward(zeros([2, 3, 4, 5], { device })).shape, [2, 12, 5]);
      const id = new nn.Identity();
      assert.equal(id.forward(x), x);
      const w = randn([2, 4], { device });
      const b = randn([2], { device });
      const lin = new nn.Linear(4, 2, { device });
      lin.loadStateDict({ weight: w, bias: b });
      assertClose(await F.linear(x, w, b).data(), await lin.forward(x).data());
      assertClose(
        await F.layerNorm(x, 4).data(),
        await noGrad(() => new nn.LayerNorm(4, { device }).forward(x)).data(),
      );
    });
    await t.step("layers follow the default device and accept a dtype", () => {
      const lin = new nn.Linear(2, 2, { device, dtype: "float16" });
      assert.equal(lin.weight.dtype, "float16");
      assert.equal(lin.weight.device, device);
    });
  });
}
