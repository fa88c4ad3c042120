/**
 * GPU memory: a training loop holds it flat, noGrad saves the activations, backward frees what it saved,
 * and dispose/using/tidy give memory back.
 */
import assert from "node:assert/strict";
import { gpu, noGrad, randn, type Tensor, tidy, zeros } from "../mod.ts";

const hasGpu = await gpu.isAvailable();
const opts = { ignore: !hasGpu, sanitizeResources: false, sanitizeOps: false };
const device = "webgpu";

Deno.test("memory: 1000 steps of forward, backward and SGD keep in-use GPU memory flat", opts, async () => {
  const w1 = randn([8, 16], { device }).mul(0.3).requiresGrad_();
  const w2 = randn([16, 4], { device }).mul(0.3).requiresGrad_();
  const x = randn([8, 8], { device });
  const y = randn([8, 4], { device });
  const params = [w1, w2];
  const samples: number[] = [];
  const losses: number[] = [];
  for (let step = 1; step <= 1000; step++) {
    const loss = tidy(() => {
      const l = x.matmul(w1).relu().matmul(w2).sub(y).square().mean();
      l.backward();
      return l;
    });
    noGrad(() =>
      tidy(() => {
        for (const p of params) {
          p.sub_(p.grad!.mul(0.05));
          p.grad!.dispose();
          p.grad = null;
        }
      })
    );
    if (step % 250 === 0) losses.push(await loss.item());
    loss.dispose();
    if (step === 20 || step === 1000) {
      await gpu.sync();
      samples.push(gpu.memory().inUse);
    }
  }
  assert.equal(
    samples[1],
    samples[0],
    `in use after step 20: ${samples[0]} bytes, after 1000: ${samples[1]}`,
  );
  assert.ok(losses[3] < losses[0], `the loss falls: ${losses}`);
});

Deno.test("memory: noGrad keeps no activations; backward frees what the graph saved", opts, async () => {
  const ws = [
    randn([64, 128], { device, requiresGrad: true }),
    randn([128, 10], { device, requiresGrad: true }),
  ];
  const x = randn([32, 64], { device });
  const forward = () => {
    const h = x.matmul(ws[0]);
    const a = h.relu();
    h.dispose();
    const out = a.matmul(ws[1]);
    a.dispose();
    return out;
  };
  await gpu.sync();
  const base = gpu.memory().inUse;
  const plain = noGrad(forward);
  const heldNoGrad = gpu.memory().inUse - base;
  plain.dispose();
  const out = forward();
  const heldWithGrad = gpu.memory().inUse - base;
  assert.ok(heldWithGrad > heldNoGrad, `with grad ${heldWithGrad} bytes held vs ${heldNoGrad} under noGrad`);
  const s = out.sum();
  s.backward();
  s.dispose();
  out.dispose();
  const grads = ws.reduce((n, w) => n + w.grad!.size * 4, 0);
  assert.ok(
    gpu.memory().inUse - base <= grads + 1024,
    `after backward only the gradients remain (${gpu.memory().inUse - base} bytes, grads ${grads})`,
  );
});

Deno.test("memory: dispose, using and tidy return bytes; views keep their base", opts, () => {
  zeros([1], { device }).add(1).mul(2).dispose(); // the scalar constants 1 and 2 are cached once
  const base = gpu.memory().inUse;
  const a = zeros([1000], { device });
  assert.ok(gpu.memory().inUse > base);
  a.dispose();
  assert.equal(gpu.memory().inUse, base);
  {
    using _b = zeros([1000], { device });
    assert.ok(gpu.memory().inUse > base);
  }
  assert.equal(gpu.memory().inUse, base);
  let kept: Tensor | null = null;
  const r = tidy(() => {
    const t = zeros([1000], { device });
    kept = t.add(1);
    return kept.mul(2);
  });
  assert.ok(kept!.isDisposed, "intermediates are disposed by tidy");
  assert.ok(!r.isDisposed, "the result survives");
  r.dispose();
  assert.equal(gpu.memory().inUse, base);
  const c = zeros([10, 10], { device });
  const v = c.transpose(0, 1);
  c.dispose();
  assert.ok(gpu.memory().inUse > base, "a view keeps its base's storage");
  v.dispose();
  assert.equal(gpu.memory().inUse, base);
});
