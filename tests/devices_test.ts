/**
 * WebGPU devices: names, logical devices, moves between them (`.to`, `Module.to`), gradients across moves,
 * per-device memory, and mixed-device errors.
 * @module
 */
import assert from "node:assert/strict";
import { gpu, manualSeed, nn, noGrad, optim, randn, type Tensor, tensor, zeros } from "../mod.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { hasWebGpu, webgpuTest } from "./helpers/devices.ts";

if (hasWebGpu) await gpu.devices({ logical: 2 });

const D0 = "webgpu";
const D1 = "webgpu:1";

async function flat(t: Tensor): Promise<number[]> {
  return Array.from(await t.data(), Number);
}

Deno.test("device names: webgpu:0 is webgpu, unknown names are refused", () => {
  assert.equal(tensor([1, 2]).to("cpu").device, "cpu");
  assertThrowsMessage(
    () => tensor([1]).to({ device: "cuda:0" as never }),
    /unknown device "cuda:0".*webgpu:N/,
  );
  assertThrowsMessage(() => tensor([1], { device: "webgpu:x" as never }), /unknown device "webgpu:x"/);
});

webgpuTest("gpu.devices lists the open devices and says which are logical", async () => {
  const list = await gpu.devices();
  assert.ok(list.length >= 2);
  assert.deepEqual(list.slice(0, 2).map((d) => d.device), [D0, D1]);
  assert.deepEqual(list.map((d) => d.index), list.map((_, i) => i));
  assert.equal(list[0].logical, false);
  // one adapter here (lavapipe): device 1 is a second GPUDevice on the same adapter
  if (list[1].adapter === list[0].adapter) assert.equal(list[1].logical, true);
  assert.equal(gpu.deviceCount(), list.length);
  await assert.rejects(() => gpu.devices({ logical: 0 }), /positive integer/);
});

webgpuTest("webgpu:0 names device 0, reported as webgpu", async () => {
  const t = tensor([1, 2, 3], { device: "webgpu:0" });
  assert.equal(t.device, "webgpu");
  assert.equal(t.to("webgpu:0"), t); // same device: no copy
  assert.deepEqual(await t.toArray(), [1, 2, 3]);
});

webgpuTest("a device that is not open names the open ones and how to open more", () => {
  const n = gpu.deviceCount();
  assertThrowsMessage(
    () => tensor([1], { device: `webgpu:${n + 3}` as never }),
    new RegExp(`device webgpu:${n + 3} is not open.*webgpu, webgpu:1.*logical: ${n + 4}`),
  );
});

webgpuTest("tensors move between logical devices with their values, in every dtype", async () => {
  const f = tensor([[1.5, -2], [3, 4.25], [0, -7]], { device: D0 });
  const g = f.to(D1);
  assert.equal(g.device, D1);
  assert.deepEqual(g.shape, [3, 2]);
  assert.deepEqual(await g.toArray(), [[1.5, -2], [3, 4.25], [0, -7]]);
  const i = tensor([5, -6, 7], { dtype: "int32", device: D1 }).to(D0);
  assert.equal(i.dtype, "int32");
  assert.deepEqual(await i.toArray(), [5, -6, 7]);
  const b = tensor([true, false, true], { dtype: "bool", device: D0 }).to(D1);
  assert.deepEqual(await b.toArray(), [true, false, true]);
  if ((await gpu.info())?.f16) {
    const h = tensor([0.5, 1.5, -2.25], { dtype: "float16", device: D0 }).to(D1); // odd length
    assert.equal(h.dtype, "float16");
    assert.deepEqual(await h.toArray(), [0.5, 1.5, -2.25]);
  }
  // dtype and device at once, and a strided (transposed) source
  const t = f.T.to({ device: D1, dtype: "int32" });
  assert.deepEqual(await t.toArray(), [[1, 3, 0], [-2, 4, -7]]);
  assert.deepEqual(await zeros([0], { device: D0 }).to(D1).toArray(), []);
});

webgpuTest("a move returns at once; work queued behind it runs after the data arrives", async () => {
  manualSeed(1);
  const x = randn([64, 32], { device: D0 });
  const expected = await flat(x.mul(3).add(1));
  const y = x.mul(3).to(D1); // the data is still on its way
  x.dispose(); // the source may be freed at once: the copy out was already recorded
  const junk = randn([64, 32], { device: D0 }).mul(100); // reuses x's buffer on device 0
  const one = tensor([1], { device: D1 }); // an upload while device 1 waits
  const z = y.add(one);
  assertClose(await z.data(), expected);
  junk.dispose();
  await gpu.sync(); // waits for every device
  await gpu.sync(D1);
});

webgpuTest("chains of moves back and forth stay exact", async () => {
  const x = tensor([1, 2, 3, 4], { device: D0 });
  let y = x;
  for (let k = 0; k < 6; k++) y = y.to(k % 2 === 0 ? D1 : D0).add(1);
  assert.equal(y.device, D0);
  assert.deepEqual(await y.toArray(), [7, 8, 9, 10]);
});

webgpuTest("mixed devices throw PyTorch's error naming both", () => {
  const a = tensor([1, 2], { device: D0 });
  const b = tensor([1, 2], { device: D1 });
  assertThrowsMessage(
    () => a.add(b),
    /expected all tensors to be on the same device, but found at least two devices, webgpu and webgpu:1/,
  );
  assertThrowsMessage(() => b.matmul(a.reshape(2, 1)), /same device.*webgpu:1 and webgpu/);
});

webgpuTest("reading back: to('cpu') asks for await t.cpu(), which works from any device", async () => {
  const t = tensor([1, 2], { device: D1 });
  assertThrowsMessage(() => t.to("cpu"), /await t\.cpu\(\)/);
  const c = await t.cpu();
  assert.equal(c.device, "cpu");
  assert.deepEqual(await c.toArray(), [1, 2]);
  const u = tensor([3, 4]).to(D1); // cpu -> webgpu:1 is an upload
  assert.deepEqual(await u.toArray(), [3, 4]);
});

webgpuTest("gradients flow back across .to between WebGPU devices", async () => {
  const w = tensor([[1, 2], [3, 4]], { device: D0, requiresGrad: true });
  const y = w.mul(w).to(D1); // y = w², on device 1
  assert.equal(y.gradFn?.name, "ToCopyBackward0");
  const loss = y.mul(tensor([[1, 10], [100, 1000]], { device: D1 })).sum();
  loss.backward();
  assert.equal(w.grad!.device, D0);
  assert.deepEqual(await w.grad!.toArray(), [[2, 40], [600, 8000]]); // 2w · c
  // and back again: D0 -> D1 -> D0
  const v = tensor([1, -2, 3], { device: D1, requiresGrad: true });
  v.to(D0).exp().to(D1).sum().backward();
  assertClose(await v.grad!.data(), [Math.E, Math.exp(-2), Math.exp(3)], { rtol: 1e-6 });
  // under noGrad nothing is recorded
  const n = noGrad(() => w.to(D1));
  assert.equal(n.gradFn, null);
});

webgpuTest(
  "modules move between logical devices in place; an optimizer built before still works",
  async () => {
    manualSeed(3);
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2)).to(D0);
    const params = [...model.parameters()];
    const before = await Promise.all(params.map(flat));
    const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
    model.to(D1);
    assert.deepEqual([...model.parameters()], params); // same tensor objects
    assert.ok(params.every((p) => p.device === D1 && p.isLeaf && p.requiresGrad));
    for (const [k, p] of params.entries()) assert.deepEqual(await flat(p), before[k]);
    const x = randn([5, 3], { device: D1 });
    const loss = model.forward(x).square().mean();
    loss.backward();
    assert.ok(params.every((p) => p.grad?.device === D1));
    opt.step();
    for (const [k, p] of params.entries()) assert.notDeepEqual(await flat(p), before[k]);
    model.to(D0); // gradients move too
    assert.ok(params.every((p) => p.device === D0 && p.grad?.device === D0));
    assertThrowsMessage(() => model.to("cpu"), /await model\.cpu\(\)/);
  },
);

webgpuTest("gpu.memory, stats and emptyCache are per device", async () => {
  await gpu.sync();
  const m0 = gpu.memory(D0).inUse;
  const m1 = gpu.memory(D1).inUse;
  const big = zeros([1 << 16], { device: D1 });
  assert.equal(gpu.memory(D0).inUse, m0);
  assert.ok(gpu.memory(D1).inUse >= m1 + (1 << 18));
  assert.deepEqual(gpu.memory(), gpu.memory(D0));
  big.dispose();
  assert.equal(gpu.memory(D1).inUse, m1);
  gpu.emptyCache(D1);
  assert.ok(gpu.stats(D1).dispatches >= 0 && gpu.stats(D1).submits > 0);
  assert.equal(gpu.memory("cpu").inUse, 0);
});

webgpuTest("DENOGRAD_LOGICAL_DEVICES opens the devices at import", async () => {
  const mod = new URL("../mod.ts", import.meta.url).href;
  const code = `import { gpu, tensor } from "${mod}";
const t = tensor([1, 2], { device: "webgpu:1" }); // no await gpu.devices() needed
console.log(JSON.stringify({ n: gpu.deviceCount(), v: await t.to("webgpu").toArray() }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { DENOGRAD_LOGICAL_DEVICES: "2", XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(text.split("\n").pop()!), { n: 2, v: [1, 2] });
});

// last: it replaces every device
webgpuTest("gpu.reset re-creates as many devices as were open", async () => {
  const n = gpu.deviceCount();
  await gpu.reset();
  assert.equal(gpu.deviceCount(), n);
  assert.deepEqual(await tensor([5, 6], { device: D1 }).to(D0).toArray(), [5, 6]);
});
