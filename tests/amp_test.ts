/**
 * Mixed precision: `amp.autocast` follows PyTorch's op lists (matmul/linear/conv2d in float16; softmax,
 * sums, losses and layer norm in float32), float32 master weights get float32 gradients that match a
 * float32 run, weight casts are cached per region, devices without float16 fall back with one notice; and
 * `amp.GradScaler` unscales exactly, skips steps whose gradients hold Inf/NaN (parameters and optimizer
 * state unchanged) without reading the device, backs off and grows the scale with PyTorch's arithmetic,
 * keeps Adam's bias corrections right across skipped steps, saves and restores its state, and trains a
 * small Fashion-MNIST MLP as well as float32 does.
 * @module
 */
import assert from "node:assert/strict";
import { amp, data, F, manualSeed, nn, noGrad, optim, randn, type Tensor, tensor, tidy } from "../mod.ts";
import { backendFor } from "../src/backend/registry.ts";
import { autocastCacheSize } from "../src/autograd/autocast_mode.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { forEachDevice, hasWebGpu, webgpuTest } from "./helpers/devices.ts";

async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.data(), Number);
}

forEachDevice("autocast: lower_precision_fp ops run in float16, fp32 ops in float32", (device) => {
  manualSeed(0);
  const x = randn([4, 8], { device });
  const w = randn([3, 8], { device, requiresGrad: true });
  const img = randn([2, 3, 6, 6], { device });
  const k = randn([4, 3, 3, 3], { device, requiresGrad: true });
  const target = tensor([0, 2, 1, 0], { device, dtype: "int32" });
  assert.equal(amp.isAutocastEnabled(), false);
  amp.autocast(() => {
    assert.equal(amp.isAutocastEnabled(), true);
    const h = x.matmul(w.T);
    assert.equal(h.dtype, "float16", "matmul");
    assert.equal(F.linear(x, w).dtype, "float16", "linear");
    assert.equal(new nn.Linear(8, 2).to(device).forward(x).dtype, "float16", "nn.Linear");
    assert.equal(F.conv2d(img, k, null, { padding: 1 }).dtype, "float16", "conv2d");
    // ops on neither list keep their input's dtype
    assert.equal(h.relu().dtype, "float16", "relu");
    assert.equal(h.mean().dtype, "float16", "mean");
    // fp32 ops widen float16 inputs
    assert.equal(h.softmax(1).dtype, "float32", "softmax");
    assert.equal(h.logSoftmax(1).dtype, "float32", "logSoftmax");
    assert.equal(h.sum().dtype, "float32", "sum");
    assert.equal(h.logSumExp(1).dtype, "float32", "logSumExp");
    assert.equal(F.crossEntropy(h, target).dtype, "float32", "crossEntropy");
    assert.equal(F.mseLoss(h, h).dtype, "float32", "mseLoss");
    assert.equal(F.layerNorm(h, [3]).dtype, "float32", "layerNorm");
    // float16 mixed with float32 promotes
    assert.equal(h.add(randn([3], { device })).dtype, "float32", "promotion");
  });
  assert.equal(amp.isAutocastEnabled(), false);
  assert.equal(x.matmul(w.T).dtype, "float32", "outside autocast");
  assert.ok(amp.LOWER_PRECISION_FP_OPS.includes("matmul"));
  assert.ok(amp.FP32_OPS.includes("softmax"));
});

forEachDevice("autocast: the using guard, nesting with enabled: false, and errors", (device) => {
  const a = randn([2, 2], { device });
  {
    using _ = amp.autocast();
    assert.equal(a.matmul(a).dtype, "float16");
    {
      using _off = amp.autocast({ enabled: false });
      assert.equal(a.matmul(a).dtype, "float32");
    }
    assert.equal(a.matmul(a).dtype, "float16");
  }
  assert.equal(a.matmul(a).dtype, "float32");
  assert.throws(() =>
    amp.autocast(() => {
      throw new Error("boom");
    }), /boom/);
  assert.equal(amp.isAutocastEnabled(), false, "an error leaves the region");
  assertThrowsMessage(() => amp.autocast({ dtype: "bfloat16" as "float16" }), /dtype must be "float16"/);
});

forEachDevice(
  "autocast: float32 master weights get float32 gradients matching a float32 run",
  async (device) => {
    manualSeed(1);
    const make = () => {
      manualSeed(2);
      return new nn.Sequential(new nn.Linear(20, 32), new nn.ReLU(), new nn.Linear(32, 5)).to(device);
    };
    const x = randn([16, 20], { device });
    const y = tensor([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0], { device, dtype: "int32" });
    const ref = make();
    F.crossEntropy(ref.forward(x), y).backward();
    const model = make();
    const loss = amp.autocast(() => F.crossEntropy(model.forward(x), y));
    assert.equal(loss.dtype, "float32");
    loss.backward();
    const refParams = [...ref.parameters()];
    let i = 0;
    for (const p of model.parameters()) {
      assert.equal(p.dtype, "float32");
      assert.equal(p.grad!.dtype, "float32", "gradients flow back through the casts as float32");
      const r = await values(refParams[i++].grad!);
      const scale = Math.max(...r.map(Math.abs));
      // float16 activations and weights: about 3 significant digits, relative to the largest gradient
      assertClose(await values(p.grad!), r, { rtol: 1e-2, atol: 1e-2 * scale, msg: `parameter ${i - 1}` });
    }
  },
);

forEachDevice("autocast: conv2d gradients of float32 weights match a float32 run", async (device) => {
  manualSeed(3);
  const x = randn([2, 3, 8, 8], { device });
  const w = randn([4, 3, 3, 3], { device }).mul(0.3);
  const b = randn([4], { device });
  const run = (useAmp: boolean) => {
    const wl = w.detach().requiresGrad_();
    const bl = b.detach().requiresGrad_();
    const f = () => F.conv2d(x, wl, bl, { padding: 1 }).square().mean();
    const loss = useAmp ? amp.autocast(() => f().float()) : f();
    loss.backward();
    return [wl.grad!, bl.grad!];
  };
  const [w32, b32] = run(false);
  const [w16, b16] = run(true);
  assert.equal(w16.dtype, "float32");
  assertClose(await values(w16), await values(w32), { rtol: 1e-2, atol: 1e-2, msg: "weight" });
  assertClose(await values(b16), await values(b32), { rtol: 1e-2, atol: 1e-2, msg: "bias" });
});

forEachDevice(
  "autocast: casts of weights are cached for the region and renewed after in-place changes",
  async (device) => {
    const w = randn([4, 4], { device, requiresGrad: true });
    const x = randn([2, 4], { device });
    const before = autocastCacheSize();
    amp.autocast(() => {
      x.matmul(w);
      x.matmul(w);
      assert.equal(autocastCacheSize(), before + 1, "one cached cast for a weight used twice");
      x.matmul(x.T); // not a leaf that requires grad: not cached
      assert.equal(autocastCacheSize(), before + 1);
    });
    assert.equal(autocastCacheSize(), 0, "the outermost region frees the cache");
    // a weight changed in place inside the region is cast again
    const y = amp.autocast(() => {
      const a = x.matmul(w);
      noGrad(() => w.mul_(2));
      const b = x.matmul(w);
      return [a, b];
    });
    assertClose(await values(y[1]), (await values(y[0])).map((v) => 2 * v), { rtol: 2e-3, atol: 1e-3 });
  },
);

Deno.test("autocast: without float16 it warns once and stays float32 [cpu]", () => {
  const backend = backendFor("cpu") as unknown as { supportsF16: boolean };
  const warn = console.warn;
  const messages: string[] = [];
  console.warn = (...m: unknown[]) => void messages.push(m.join(" "));
  Object.defineProperty(backend, "supportsF16", { value: false, configurable: true, writable: true });
  try {
    const a = randn([3, 3]);
    amp.autocast(() => {
      assert.equal(a.matmul(a).dtype, "float32");
      assert.equal(F.linear(a, a).dtype, "float32");
    });
    assert.equal(messages.length, 1);
    assert.match(messages[0], /autocast: float16 needs the shader-f16 feature.*float32/);
  } finally {
    Object.defineProperty(backend, "supportsF16", { value: true, configurable: true, writable: true });
    console.warn = warn;
  }
});

forEachDevice(
  "GradScaler: scale multiplies the loss and unscale divides the gradients exactly",
  async (device) => {
    const w = tensor([1, -2, 3], { device, requiresGrad: true });
    const opt = new optim.SGD([w], { lr: 0.5 });
    const scaler = new amp.GradScaler({ initScale: 1024 });
    assert.equal(await scaler.getScale(), 1024);
    const loss = w.mul(tensor([0.25, 0.5, -1], { device })).sum();
    const scaled = scaler.scale(loss);
    assert.equal(await scaled.item(), 1024 * (0.25 - 1 - 3));
    scaled.backward();
    assert.deepEqual(await values(w.grad!), [256, 512, -1024]);
    scaler.unscale(opt);
    assert.deepEqual(await values(w.grad!), [0.25, 0.5, -1]);
    assertThrowsMessage(() => scaler.unscale(opt), /already been called on this optimizer/);
    scaler.step(opt);
    assertThrowsMessage(() => scaler.step(opt), /step\(\) has already been called/);
    scaler.update();
    assert.deepEqual(await values(w), [1 - 0.125, -2 - 0.25, 3 + 0.5]);
    assert.equal(await scaler.skippedSteps(), 0);
    assertThrowsMessage(() => scaler.update(), /No inf checks were recorded/);
  },
);

forEachDevice("GradScaler: an Inf or NaN gradient skips the step and halves the scale", async (device) => {
  for (const kind of ["sgd", "adam"] as const) {
    for (const bad of [Infinity, -Infinity, NaN]) {
      const w = tensor([1, 2, 3], { device, requiresGrad: true });
      const u = tensor([0.5, -0.5], { device, requiresGrad: true });
      const opt = kind === "sgd"
        ? new optim.SGD([w, u], { lr: 0.1, momentum: 0.9 })
        : new optim.Adam([w, u], { lr: 0.1 });
      const scaler = new amp.GradScaler({ initScale: 256 });
      // one clean step, so that the optimizer has state
      scaler.scale(w.sum().add(u.sum())).backward();
      scaler.step(opt);
      scaler.update();
      const params = [await values(w), await values(u)];
      const state = [...opt.state.values()].flatMap((st) => Object.values(st));
      const stateBefore = await Promise.all(
        state.map((v) => (typeof v === "number" || v === null ? v : values(v))),
      );
      opt.zeroGrad();
      // the first parameter's gradient overflows; the second's is fine but must not move either
      scaler.scale(w.mul(tensor([1, bad, 1], { device })).sum().add(u.sum())).backward();
      scaler.step(opt);
      scaler.update();
      const what = `${kind}, ${bad}`;
      assert.deepEqual([await values(w), await values(u)], params, `${what}: parameters unchanged`);
      const stateAfter = await Promise.all(
        [...opt.state.values()].flatMap((st) => Object.values(st)).map((v) =>
          typeof v === "number" || v === null ? v : values(v)
        ),
      );
      // Adam's host step counts calls (2); its tensors are unchanged
      assert.deepEqual(
        stateAfter.filter((v) => typeof v !== "number"),
        stateBefore.filter((v) => typeof v !== "number"),
        `${what}: optimizer state unchanged`,
      );
      assert.equal(await scaler.getScale(), 128, `${what}: scale halved`);
      assert.equal(await scaler.skippedSteps(), 1);
      // a clean step afterwards moves the parameters again
      opt.zeroGrad();
      scaler.scale(w.sum().add(u.sum())).backward();
      scaler.step(opt);
      scaler.update();
      assert.notDeepEqual(await values(w), params[0], `${what}: the next clean step updates`);
      opt.dispose();
      scaler.dispose();
    }
  }
});

/** PyTorch's `_amp_update_scale_` (aten/src/ATen/native/cuda/AmpKernels.cu), in doubles then float32. */
function torchUpdateScale(
  scale: number,
  tracker: number,
  foundInf: boolean,
  growthFactor: number,
  backoffFactor: number,
  growthInterval: number,
): [number, number] {
  if (foundInf) return [Math.fround(scale * backoffFactor), 0];
  const successful = tracker + 1;
  if (successful === growthInterval) {
    const grown = Math.fround(scale * growthFactor);
    return [Number.isFinite(grown) ? grown : scale, 0];
  }
  return [scale, successful];
}

forEachDevice("GradScaler: the scale sequence follows PyTorch's update arithmetic", async (device) => {
  const pattern = [0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
  const opts = { initScale: 2 ** 10, growthFactor: 2, backoffFactor: 0.5, growthInterval: 3 };
  const w = tensor([1, 2], { device, requiresGrad: true });
  const opt = new optim.SGD([w], { lr: 0.01 });
  const scaler = new amp.GradScaler(opts);
  let [scale, tracker] = [opts.initScale, 0];
  const ours: number[] = [];
  const expected: number[] = [];
  for (const bad of pattern) {
    opt.zeroGrad();
    scaler.scale(w.mul(bad ? Infinity : 1).sum()).backward();
    scaler.step(opt);
    scaler.update();
    [scale, tracker] = torchUpdateScale(scale, tracker, bad === 1, 2, 0.5, 3);
    expected.push(scale);
    ours.push(await scaler.getScale());
  }
  assert.deepEqual(ours, expected);
  // growth after every growthInterval clean steps, backoff at each overflow
  assert.deepEqual(expected.slice(0, 4), [1024, 1024, 2048, 1024]);
  assert.equal(await scaler.skippedSteps(), pattern.filter((b) => b).length);
  const sd = await scaler.stateDict();
  assert.deepEqual(sd, {
    scale,
    growth_factor: 2,
    backoff_factor: 0.5,
    growth_interval: 3,
    _growth_tracker: tracker,
  });
  // the scale never grows to Inf
  const top = new amp.GradScaler({ initScale: 3e38, growthInterval: 1 });
  top.scale(w.sum()).backward();
  top.step(opt);
  top.update();
  assert.equal(await top.getScale(), Math.fround(3e38));
});

forEachDevice(
  "GradScaler: stateDict and loadStateDict round trip; disabled passes through",
  async (device) => {
    const w = tensor([1, 2], { device, requiresGrad: true });
    const opt = new optim.SGD([w], { lr: 0.1 });
    const a = new amp.GradScaler({ initScale: 64, growthInterval: 2 });
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      a.scale(w.sum()).backward();
      a.step(opt);
      a.update();
    }
    const sd = await a.stateDict();
    assert.deepEqual(sd, {
      scale: 128,
      growth_factor: 2,
      backoff_factor: 0.5,
      growth_interval: 2,
      _growth_tracker: 1,
    });
    const b = new amp.GradScaler();
    b.loadStateDict(sd);
    assert.deepEqual(await b.stateDict(), sd);
    opt.zeroGrad();
    b.scale(w.sum()).backward();
    b.step(opt);
    b.update();
    assert.equal(await b.getScale(), 256, "the restored tracker counts on");
    assertThrowsMessage(() => b.loadStateDict({}), /state dict is empty/);

    const off = new amp.GradScaler({ enabled: false });
    const [w0, w1] = await values(w);
    const loss = w.sum();
    assert.equal(off.scale(loss), loss);
    assert.deepEqual(await off.stateDict(), {});
    assert.equal(await off.getScale(), 1);
    opt.zeroGrad();
    loss.backward();
    off.step(opt); // a plain step
    off.update();
    assertClose(await values(w), [w0 - 0.1, w1 - 0.1]);
    assertThrowsMessage(() => new amp.GradScaler({ growthFactor: 1 }), /growth factor must be > 1.0/);
    assertThrowsMessage(() => new amp.GradScaler({ backoffFactor: 1 }), /backoff factor must be < 1.0/);
  },
);

forEachDevice("GradScaler: Adam's bias corrections count only the steps taken (PyTorch)", async (device) => {
  // run A: clean, overflow (skipped), clean, clean through the scaler; run B: the three clean steps alone
  const grads = [[0.3, -1.2, 2.0], [0.7, 0.1, -0.4], [-0.2, 0.5, 0.9]];
  const wa = tensor([1, 2, 3], { device, requiresGrad: true });
  const wb = tensor([1, 2, 3], { device, requiresGrad: true });
  const optA = new optim.Adam([wa], { lr: 0.1, betas: [0.8, 0.9] });
  const optB = new optim.Adam([wb], { lr: 0.1, betas: [0.8, 0.9] });
  const scaler = new amp.GradScaler({ initScale: 512 });
  const plan = [grads[0], null, grads[1], grads[2]];
  for (const g of plan) {
    optA.zeroGrad();
    const c = g ? tensor(g, { device }) : tensor([1, Infinity, 1], { device });
    scaler.scale(wa.mul(c).sum()).backward();
    scaler.step(optA);
    scaler.update();
  }
  for (const g of grads) {
    optB.zeroGrad();
    wb.mul(tensor(g, { device })).sum().backward();
    optB.step();
  }
  assertClose(await values(wa), await values(wb), { rtol: 1e-5, atol: 1e-6, msg: "parameters" });
  const sa = optA.state.get(wa)!;
  const sb = optB.state.get(wb)!;
  assertClose(await values(sa.exp_avg as Tensor), await values(sb.exp_avg as Tensor), { msg: "exp_avg" });
  assertClose(await values(sa.exp_avg_sq as Tensor), await values(sb.exp_avg_sq as Tensor), {
    msg: "exp_avg_sq",
  });
  assert.equal(sa.step, 4, "the host step counts calls, skipped ones included (documented)");
  assert.equal(await scaler.skippedSteps(), 1);
});

forEachDevice("GradScaler: float16 gradients are refused", (device) => {
  const w = tensor([1, 2], { device, dtype: "float16", requiresGrad: true });
  const opt = new optim.SGD([w], { lr: 0.1 });
  const scaler = new amp.GradScaler();
  scaler.scale(w.sum()).backward();
  assertThrowsMessage(() => scaler.unscale(opt), /Attempting to unscale FP16 gradients/);
});

webgpuTest("GradScaler: a training step reads nothing back from the device", async () => {
  const device = "webgpu";
  manualSeed(4);
  const model = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 3)).to(device);
  const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
  const scaler = new amp.GradScaler({ initScale: 2 ** 30, growthInterval: 2 });
  const x = randn([32, 8], { device });
  const y = tensor(Array.from({ length: 32 }, (_, i) => i % 3), { device, dtype: "int32" });
  const backend = backendFor(device);
  const read = backend.read.bind(backend);
  let reads = 0;
  backend.read = (s) => {
    reads++;
    return read(s);
  };
  try {
    for (let i = 0; i < 4; i++) {
      opt.zeroGrad();
      const loss = amp.autocast(() => F.crossEntropy(model.forward(x), y));
      tidy(() => scaler.scale(loss).backward());
      scaler.step(opt);
      scaler.update();
      loss.dispose();
    }
    assert.equal(reads, 0, "no read in scale/backward/step/update");
  } finally {
    backend.read = read;
  }
  assert.ok((await scaler.getScale()) <= 2 ** 30);
});

forEachDevice(
  "GradScaler: float16 overflow of a too-large scale is found, skipped and backed off",
  async (device) => {
    manualSeed(5);
    const model = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 3)).to(device);
    const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
    // float16's largest value is 65504: a scale of 2^40 overflows the float16 gradients of the activations
    const scaler = new amp.GradScaler({ initScale: 2 ** 40, growthInterval: 1000 });
    const x = randn([32, 8], { device });
    const y = tensor(Array.from({ length: 32 }, (_, i) => i % 3), { device, dtype: "int32" });
    const first = await values([...model.parameters()][0]);
    const scales: number[] = [];
    let skippedBefore = 0;
    for (let i = 0; i < 40; i++) {
      opt.zeroGrad();
      const loss = amp.autocast(() => F.crossEntropy(model.forward(x), y));
      const scaled = scaler.scale(loss);
      scaled.backward();
      scaler.step(opt);
      scaler.update();
      loss.dispose();
      scaled.dispose();
      scales.push(await scaler.getScale());
      if (i === 0) {
        skippedBefore = await scaler.skippedSteps();
        assert.deepEqual(await values([...model.parameters()][0]), first, "the overflowed step did not move");
      }
    }
    assert.equal(skippedBefore, 1);
    const skipped = await scaler.skippedSteps();
    assert.ok(skipped >= 10 && skipped < 40, `some steps skipped, then training went on (${skipped})`);
    assert.equal(scales.at(-1), 2 ** 40 / 2 ** skipped);
    assert.ok(scales.at(-1)! <= 65504 * 64, `the scale came down to float16's range (${scales.at(-1)})`);
  },
);

// Fashion-MNIST: 1500 training images, 3 epochs, same seed; float32 and AMP test accuracies within 3 points.
// (The full-size comparison is bench/amp.ts, recorded in bench/RESULTS.md.)
Deno.test({
  name: "amp: a small Fashion-MNIST MLP trains as well with AMP as in float32 [webgpu]",
  ignore: !hasWebGpu,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const device = "webgpu";
    const norm = data.normalize(0.2860, 0.3530);
    const train = await data.FashionMNIST.load({ train: true, transform: norm });
    const test = await data.FashionMNIST.load({ train: false, transform: norm });
    const trainIdx = Array.from({ length: 1500 }, (_, i) => i);
    const testIdx = Array.from({ length: 1000 }, (_, i) => i);
    const run = async (useAmp: boolean) => {
      manualSeed(0);
      const model = new nn.Sequential(
        new nn.Flatten(),
        new nn.Linear(784, 256),
        new nn.ReLU(),
        new nn.Linear(256, 128),
        new nn.ReLU(),
        new nn.Linear(128, 10),
      ).to(device);
      const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
      const scaler = new amp.GradScaler({ enabled: useAmp });
      const loader = new data.DataLoader(train, {
        batchSize: 100,
        sampler: new data.SubsetRandomSampler(trainIdx),
        seed: 0,
        device,
      });
      for (let e = 0; e < 3; e++) {
        for await (const [x, y] of loader) {
          opt.zeroGrad();
          const loss = amp.autocast(() => F.crossEntropy(model.forward(x), y), { enabled: useAmp });
          tidy(() => scaler.scale(loss).backward());
          scaler.step(opt);
          scaler.update();
          for (const t of [loss, x, y]) t.dispose();
        }
      }
      const testLoader = new data.DataLoader(test, {
        batchSize: 500,
        sampler: new data.SubsetRandomSampler(testIdx),
        device,
      });
      let correct = 0;
      for await (const [x, y] of testLoader) {
        const hits = noGrad(() => tidy(() => model.forward(x).argmax(1).eq(y).float().sum()));
        correct += await hits.item();
        for (const t of [hits, x, y]) t.dispose();
      }
      opt.dispose();
      scaler.dispose();
      return correct / testIdx.length;
    };
    const f32 = await run(false);
    const mixed = await run(true);
    assert.ok(f32 > 0.7, `float32 learns (${f32})`);
    assert.ok(Math.abs(mixed - f32) <= 0.03, `AMP ${mixed} vs float32 ${f32}`);
  },
});
