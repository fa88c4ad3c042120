/**
 * GPU memory (WebGPU only; skipped on CPU-only machines): a training loop holds in-use memory flat, noGrad
 * saves the activations, backward frees everything the graph saved, dispose/using/tidy give memory back,
 * a view keeps its base alive, and a disposed tensor refuses to be used.
 */
import assert from "node:assert/strict";
import { F, gpu, nn, noGrad, optim, randint, randn, type Tensor, tensor, tidy, zeros } from "../mod.ts";
import { assertRejectsMessage, assertThrowsMessage } from "./helpers/assert_close.ts";
import { webgpuTest } from "./helpers/devices.ts";
import { settledInUse } from "./helpers/memory.ts";

const device = "webgpu";

/** In-use bytes once queued work has finished. */
function inUse(): Promise<number> {
  return settledInUse();
}

/**
 * A WebGPU parameter initialised on the CPU (so that creating it allocates exactly its own buffer), scaled
 * like PyTorch's default init.
 */
function param(shape: number[]): Tensor {
  const host = tidy(() => randn(shape).mul(1 / Math.sqrt(shape[0])));
  const p = host.to(device).requiresGrad_();
  host.dispose();
  return p;
}

/** A multilayer perceptron with ReLU between layers. */
class Mlp {
  readonly params: Tensor[] = [];
  constructor(sizes: number[]) {
    for (let i = 0; i + 1 < sizes.length; i++) {
      this.params.push(param([sizes[i], sizes[i + 1]]), param([sizes[i + 1]]));
    }
  }

  /**
   * Mean squared output, disposing each intermediate as soon as the next op has used it: what stays in use
   * is exactly what the autograd graph saved.
   */
  loss(x: Tensor): Tensor {
    const ops: ((t: Tensor) => Tensor)[] = [];
    const layers = this.params.length / 2;
    for (let i = 0; i < layers; i++) {
      ops.push((t) => t.matmul(this.params[2 * i]), (t) => t.add(this.params[2 * i + 1]));
      if (i + 1 < layers) ops.push((t) => t.relu());
    }
    ops.push((t) => t.square(), (t) => t.mean());
    let h = x;
    for (const op of ops) {
      const next = op(h);
      if (h !== x) h.dispose();
      h = next;
    }
    return h;
  }

  /** Drops the gradients (disposing them). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
}

webgpuTest("memory: 1000 SGD steps of an MLP keep in-use GPU memory flat after warm-up", async () => {
  const model = new Mlp([8, 16, 4]);
  const x = randn([8, 8], { device });
  const target = randn([8, 4], { device });
  const samples = new Map<number, number>();
  const losses: number[] = [];
  for (let step = 1; step <= 1000; step++) {
    const loss = tidy(() => {
      const out = x.matmul(model.params[0]).add(model.params[1]).relu().matmul(model.params[2]).add(
        model.params[3],
      );
      const l = out.sub(target).square().mean();
      l.backward();
      noGrad(() => {
        for (const p of model.params) {
          p.sub_(p.grad!.mul(0.05));
          p.grad!.zero_();
        }
      });
      return l;
    });
    if (step % 250 === 0) losses.push(await loss.item());
    loss.dispose();
    if (step === 20 || step === 1000) samples.set(step, await inUse());
  }
  assert.equal(
    samples.get(1000),
    samples.get(20),
    `in use after step 20: ${samples.get(20)} bytes, after step 1000: ${samples.get(1000)}`,
  );
  assert.ok(losses[3] < losses[0], `the loss falls: ${losses.join(", ")}`);
});

webgpuTest("memory: recording the graph raises peak memory above noGrad's", async () => {
  const model = new Mlp([512, 512, 512, 10]);
  const x = randn([256, 512], { device });
  // warm-up: compile the kernels and cache the scalar constants once
  const warm = model.loss(x);
  warm.backward();
  warm.dispose();
  model.zeroGrad();

  const base = await inUse();
  gpu.resetPeakMemory();
  const lossNoGrad = noGrad(() => model.loss(x));
  await gpu.sync();
  const peakNoGrad = gpu.memory().peak - base;
  const heldNoGrad = gpu.memory().inUse - base;
  lossNoGrad.dispose();
  assert.equal(await inUse(), base);

  gpu.resetPeakMemory();
  const loss = model.loss(x);
  await gpu.sync();
  const peakGrad = gpu.memory().peak - base;
  const heldGrad = gpu.memory().inUse - base;
  loss.backward();
  loss.dispose();
  model.zeroGrad();

  assert.ok(
    peakGrad > peakNoGrad,
    `peak above the parameters: ${peakGrad} bytes recording the graph vs ${peakNoGrad} under noGrad`,
  );
  // the graph keeps the activations the backward pass needs (at least the two 256x512 hidden layers)
  assert.ok(heldGrad - heldNoGrad >= 2 * 256 * 512 * 4, `held ${heldGrad} vs ${heldNoGrad} bytes`);
});

webgpuTest("memory: after backward only the parameters' gradients remain", async () => {
  const before = await inUse();
  const model = new Mlp([512, 512, 512, 10]);
  const paramBytes = (await inUse()) - before; // gradients take the same size classes
  const x = randn([256, 512], { device });
  const warm = model.loss(x);
  warm.backward();
  warm.dispose();
  model.zeroGrad();

  const base = await inUse();
  const loss = model.loss(x);
  assert.ok((await inUse()) > base, "the graph holds activations before backward");
  loss.backward();
  loss.dispose();
  assert.equal(
    (await inUse()) - base,
    paramBytes,
    "every tensor saved for backward was freed: only the gradients were added",
  );
  model.zeroGrad();
  assert.equal(await inUse(), base);
});

webgpuTest("memory: dispose() gives the bytes back", async () => {
  const base = await inUse();
  const a = zeros([1000], { device });
  assert.equal((await inUse()) - base, 4096);
  a.dispose();
  assert.equal(await inUse(), base);
});

webgpuTest("memory: `using` disposes at the end of the block", async () => {
  const base = await inUse();
  {
    using _t = zeros([1000], { device });
    assert.ok((await inUse()) > base);
  }
  assert.equal(await inUse(), base);
});

webgpuTest("memory: tidy frees intermediates and keeps the result", async () => {
  const x = zeros([1000], { device });
  x.add(1).mul(2).dispose(); // cache the scalar constants 1 and 2 once
  const base = await inUse();
  const r = tidy(() => x.add(1).mul(2).sub(x));
  assert.equal((await inUse()) - base, 4096, "only the result remains");
  assert.deepEqual(Array.from((await r.data()).slice(0, 2)), [2, 2]);
  r.dispose();
  assert.equal(await inUse(), base);
});

webgpuTest("memory: disposing a view does not free its base", async () => {
  const base = await inUse();
  const t = tensor([[1, 2], [3, 4]], { device, dtype: "float32" });
  const held = (await inUse()) - base;
  const v = t.transpose(0, 1);
  v.dispose();
  assert.equal((await inUse()) - base, held, "the base's storage is still in use");
  assert.deepEqual(await t.toArray(), [[1, 2], [3, 4]]);
});

webgpuTest("memory: a view keeps the storage alive after its base is disposed", async () => {
  const base = await inUse();
  const t = tensor([[1, 2], [3, 4]], { device, dtype: "float32" });
  const v = t.transpose(0, 1);
  t.dispose();
  assert.ok((await inUse()) > base);
  assert.deepEqual(await v.toArray(), [[1, 3], [2, 4]]);
  v.dispose();
  assert.equal(await inUse(), base, "freed with the last holder");
});

webgpuTest('memory: a disposed tensor throws "used after dispose"', async () => {
  const t = zeros([4], { device });
  t.dispose();
  assertThrowsMessage(() => t.add(1), /tensor used after dispose/);
  await assertRejectsMessage(() => t.data(), /used after dispose/);
});

Deno.test({
  name: "memory: 1000 training steps with nn, Adam and cross-entropy keep in-use GPU memory flat",
  ignore: !(await gpu.isAvailable()),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const model = new nn.Sequential(new nn.Linear(16, 32), new nn.ReLU(), new nn.Linear(32, 4)).to("webgpu");
    const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
    const x = randn([32, 16], { device: "webgpu" });
    const y = randint(0, 4, [32], { device: "webgpu" });
    const samples: number[] = [];
    const losses: number[] = [];
    for (let step = 1; step <= 1000; step++) {
      opt.zeroGrad();
      const loss = tidy(() => F.crossEntropy(model.forward(x), y));
      loss.backward();
      opt.step();
      if (step === 1 || step === 1000) losses.push(await loss.item());
      loss.dispose();
      if (step === 20 || step === 1000) samples.push(await settledInUse());
    }
    assert.equal(
      samples[1],
      samples[0],
      `in use after step 20: ${samples[0]} bytes, after 1000: ${samples[1]}`,
    );
    assert.ok(losses[1] < losses[0], `the loss falls: ${losses}`);
    opt.zeroGrad();
  },
});
