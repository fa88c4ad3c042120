/**
 * The WebGPU engine's contract: ops enqueue without submitting or waiting, pipelines and bind groups are
 * reused in loops, buffers return to the pool, oversize requests and device loss give clear errors, and
 * `gpu.reset()` recovers.
 */
import assert from "node:assert/strict";
import { gpu, randn, tensor, tidy, zeros } from "../mod.ts";
import { assertRejectsMessage, assertThrowsMessage } from "./helpers/assert_close.ts";
import { settledInUse } from "./helpers/memory.ts";

const hasGpu = await gpu.isAvailable();
const opts = { ignore: !hasGpu, sanitizeResources: false, sanitizeOps: false };

Deno.test("webgpu: ops enqueue without submitting; a read submits once", opts, async () => {
  const x = randn([64, 64], { device: "webgpu" });
  x.mul(1.0001).add(0.5).relu().dispose(); // makes the scalar constants and pipelines
  await x.data();
  const before = gpu.stats();
  let y = x;
  for (let i = 0; i < 50; i++) {
    const z = y.mul(1.0001).add(0.5).relu();
    if (y !== x) y.dispose();
    y = z;
  }
  const mid = gpu.stats();
  assert.equal(mid.dispatches - before.dispatches, 150, "one dispatch per elementwise op");
  assert.equal(mid.submits, before.submits, "nothing is submitted before a read");
  await y.data();
  assert.equal(gpu.stats().submits - before.submits, 1, "the read submits the batch once");
  y.dispose();
  x.dispose();
});

Deno.test(
  "webgpu: a training-like loop compiles no pipeline and leaks no buffer after warm-up",
  opts,
  async () => {
    const w = randn([32, 16], { device: "webgpu", requiresGrad: true });
    const x = randn([8, 32], { device: "webgpu" });
    const step = () =>
      tidy(() => {
        const loss = x.matmul(w).tanh().square().mean();
        loss.backward();
        return loss;
      });
    for (let i = 0; i < 3; i++) step().dispose();
    w.grad!.dispose();
    w.grad = null;
    await gpu.sync();
    const compiled = gpu.stats().pipelines;
    const inUse = gpu.memory().inUse;
    const allocated = gpu.memory().allocated;
    for (let i = 0; i < 20; i++) {
      step().dispose();
      w.grad!.dispose();
      w.grad = null;
    }
    await gpu.sync();
    assert.equal(gpu.stats().pipelines, compiled, "no new pipelines in the loop");
    assert.equal(gpu.memory().inUse, inUse, "in-use memory is flat");
    assert.equal(gpu.memory().allocated, allocated, "the pool serves every allocation");
    w.dispose();
    x.dispose();
  },
);

Deno.test("webgpu: disposing returns bytes to the pool and a view keeps its base alive", opts, async () => {
  const before = await settledInUse();
  const a = zeros([1024], { device: "webgpu" });
  assert.ok(gpu.memory().inUse >= before + 4096);
  const v = a.narrow(0, 0, 10);
  a.dispose();
  assert.ok(gpu.memory().inUse >= before + 4096, "the view holds the storage");
  assert.deepEqual(await v.toArray(), new Array(10).fill(0));
  v.dispose();
  assert.equal(gpu.memory().inUse, before);
});

Deno.test(
  "webgpu: a tensor larger than the adapter allows is a clear error naming the request",
  opts,
  async () => {
    const info = (await gpu.info())!;
    const n = Math.floor(info.limits.maxStorageBufferBindingSize / 4) + 1024;
    assertThrowsMessage(
      () => zeros([n], { device: "webgpu" }),
      /bytes.*(maxStorageBufferBindingSize|largest buffer)/,
    );
    // the library stays usable
    const t = tensor([1, 2], { device: "webgpu" });
    assert.deepEqual(await t.add(1).toArray(), [2, 3]);
  },
);

Deno.test(
  "webgpu: an out-of-range gather index rejects the next read with a clear message",
  opts,
  async () => {
    const x = tensor([[1, 2, 3]], { device: "webgpu" });
    const idx = tensor([[0, 7]], { device: "webgpu", dtype: "int32" });
    const g = x.gather(1, idx);
    await assertRejectsMessage(() => g.data(), /out of range/);
    // the error flag is cleared: the next read works
    assert.deepEqual(await x.toArray(), [[1, 2, 3]]);
  },
);

Deno.test("webgpu: device loss is reported with what to do, and gpu.reset() recovers", opts, async () => {
  const x = tensor([1, 2, 3], { device: "webgpu" });
  gpu.rawDevice()!.destroy();
  await new Promise((r) => setTimeout(r, 20));
  assertThrowsMessage(() => x.add(1), /device was lost.*gpu\.reset\(\)/);
  await assertRejectsMessage(() => x.data(), /device was lost/);
  await gpu.reset();
  const y = tensor([1, 2, 3], { device: "webgpu" });
  assert.deepEqual(await y.mul(2).toArray(), [2, 4, 6]);
  assertThrowsMessage(() => x.add(1), /device was lost/);
});
