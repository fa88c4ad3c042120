/** Tensor creation, dtypes, views, devices, the seeded RNG, empty tensors and tensors past a dispatch limit. */
import assert from "node:assert/strict";
import {
  arange,
  cat,
  eye,
  full,
  gpu,
  linspace,
  manualSeed,
  noGrad,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  stack,
  tensor,
  zeros,
  zerosLike,
} from "../mod.ts";
import { assertClose } from "./helpers/assert_close.ts";

const hasGpu = await gpu.isAvailable();
const devices = hasGpu ? (["cpu", "webgpu"] as const) : (["cpu"] as const);
const opts = { sanitizeResources: false, sanitizeOps: false };

for (const device of devices) {
  Deno.test(`tensor [${device}]: creation and dtype inference`, opts, async () => {
    const a = tensor([[1, 2], [3, 4]], { device });
    assert.equal(a.dtype, "int32");
    assert.deepEqual(a.shape, [2, 2]);
    assert.deepEqual(a.strides, [2, 1]);
    assert.equal(tensor([0.5, 1], { device }).dtype, "float32");
    assert.equal(tensor([true, false], { device }).dtype, "bool");
    assert.deepEqual(await tensor([true, false], { device }).toArray(), [true, false]);
    assert.equal(tensor([1, 2], { device, requiresGrad: true }).dtype, "float32");
    assert.equal(tensor(3.5, { device }).ndim, 0);
    assert.equal(await tensor(3.5, { device }).item(), 3.5);
    const f = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { device, shape: [2, 3] });
    assert.deepEqual(await f.toArray(), [[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(await zeros([2], { device }).toArray(), [0, 0]);
    assert.deepEqual(await ones([2], { device, dtype: "int32" }).toArray(), [1, 1]);
    assert.deepEqual(await full([2], 7, { device }).toArray(), [7, 7]);
    assert.deepEqual(await arange(4, undefined, 1, { device }).toArray(), [0, 1, 2, 3]);
    assert.deepEqual(await arange(0, 1, 0.25, { device }).toArray(), [0, 0.25, 0.5, 0.75]);
    assertClose(await linspace(0, 1, 5, { device }).data(), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(await eye(2, 3, { device }).toArray(), [[1, 0, 0], [0, 1, 0]]);
    assert.deepEqual(zerosLike(f).shape, [2, 3]);
    assert.equal(onesLike(a).dtype, "int32");
  });

  Deno.test(`tensor [${device}]: dtype conversions`, opts, async () => {
    const x = tensor([0.1, -1.7, 2.5], { device });
    assertClose(await x.half().float().data(), [0.0999755859375, -1.7001953125, 2.5], { rtol: 0, atol: 0 });
    assert.deepEqual(await x.int().toArray(), [0, -1, 2]);
    assert.deepEqual(await x.bool().toArray(), [true, true, true]);
    assert.deepEqual(await tensor([0, 2], { device }).bool().toArray(), [false, true]);
    const h = x.half();
    assertClose(await h.mul(h).add(1).float().data(), [1.01, 3.89, 7.25], { rtol: 2e-3 });
  });

  Deno.test(
    `tensor [${device}]: views share storage; reshape of a non-contiguous tensor copies`,
    opts,
    async () => {
      const base = arange(6, undefined, 1, { device }).float().reshape([2, 3]);
      const t = base.transpose(0, 1);
      assert.deepEqual(t.shape, [3, 2]);
      assert.deepEqual(t.strides, [1, 3]);
      assert.equal(t.isContiguous(), false);
      noGrad(() => t.narrow(0, 1, 1).fill_(9));
      assert.deepEqual(await base.toArray(), [[0, 9, 2], [3, 9, 5]]);
      const r = t.reshape([6]);
      assert.deepEqual(await r.toArray(), [0, 3, 9, 9, 2, 5]);
      noGrad(() => r.fill_(0));
      assert.deepEqual(await base.toArray(), [[0, 9, 2], [3, 9, 5]], "the reshape copied");
      assert.deepEqual(await base.slice(1, 0, 3, 2).toArray(), [[0, 2], [3, 5]]);
      assert.deepEqual((await base.unsqueeze(0).expand([2, 2, 3]).toArray() as number[][][])[1], [[0, 9, 2], [
        3,
        9,
        5,
      ]]);
      assert.deepEqual(base.flatten().shape, [6]);
      assert.deepEqual(base.unsqueeze(1).squeeze().shape, [2, 3]);
      assert.deepEqual(await stack([base.narrow(1, 0, 1), base.narrow(1, 2, 1)], 0).reshape([4]).toArray(), [
        0,
        3,
        2,
        5,
      ]);
    },
  );

  Deno.test(`tensor [${device}]: empty tensors`, opts, async () => {
    const e = zeros([0, 3], { device });
    assert.equal(e.size, 0);
    assert.deepEqual(await e.toArray(), []);
    assert.equal(await e.sum().item(), 0);
    assert.deepEqual(await e.sum(0).toArray(), [0, 0, 0]);
    const c = cat([e, ones([2, 3], { device })], 0);
    assert.deepEqual(c.shape, [2, 3]);
    assert.deepEqual(await e.add(1).toArray(), []);
  });
}

Deno.test(
  "tensor: manualSeed makes random tensors reproducible and identical on every device",
  opts,
  async () => {
    manualSeed(42);
    const a = await rand([5]).data();
    const b = await randn([5]).data();
    const c = await randint(0, 10, [5]).data();
    manualSeed(42);
    assert.deepEqual(await rand([5]).data(), a);
    assert.deepEqual(await randn([5]).data(), b);
    assert.deepEqual(await randint(0, 10, [5]).data(), c);
    if (hasGpu) {
      manualSeed(42);
      assert.deepEqual(await rand([5], { device: "webgpu" }).data(), a);
      assert.deepEqual(await randn([5], { device: "webgpu" }).data(), b);
      assert.deepEqual(await randint(0, 10, [5], { device: "webgpu" }).data(), c);
    }
    manualSeed(43);
    assert.notDeepEqual(await rand([5]).data(), a);
    for (const v of c) assert.ok(v >= 0 && v < 10);
  },
);

Deno.test("tensor: moves between devices", { ...opts, ignore: !hasGpu }, async () => {
  const c = tensor([[1, 2], [3, 4]]);
  const g = c.to("webgpu");
  assert.equal(g.device, "webgpu");
  const back = await g.mul(2).cpu();
  assert.equal(back.device, "cpu");
  assert.deepEqual(await back.toArray(), [[2, 4], [6, 8]]);
  const w = tensor([1, 2], { requiresGrad: true }).to("webgpu");
  assert.ok(w.requiresGrad && w.isLeaf, "a moved tensor that requires grad is a new leaf");
  assert.equal(c.transpose(0, 1).to("webgpu").device, "webgpu");
  assert.deepEqual(await c.transpose(0, 1).to("webgpu").toArray(), [[1, 3], [2, 4]]);
});

Deno.test("tensor: tensors past one dispatch dimension (over 65 535 × 256 elements)", {
  ...opts,
  ignore: !hasGpu,
}, async () => {
  const n = 70_000 * 256;
  const x = ones([n], { device: "webgpu" });
  const y = x.add(x); // vec4 path: 4.5M invocations, 17 500 workgroups
  const z = x.narrow(0, 1, n - 1).mul(3); // scalar path with an offset: 70 000 workgroups, folded in 2-D
  assert.equal(await y.sum().item(), 2 * n);
  assertClose([await z.sum().item()], [3 * (n - 1)], { rtol: 1e-6 }); // past 2^24: float32 rounding
  // a reduction with more than 65 535 outputs
  const r = ones([70_000, 3], { device: "webgpu" }).sum(1);
  const d = await r.data();
  assert.equal(d.length, 70_000);
  assert.equal(d[69_999], 3);
  for (const t of [x, y, z, r]) t.dispose();
});

Deno.test("tensor: reductions of rows longer than one workgroup's chunk (two passes)", {
  ...opts,
  ignore: !hasGpu,
}, async () => {
  const n = 300_000;
  const host = new Float32Array(n).map((_, i) => Math.sin(i) * 0.5);
  host[250_001] = 7;
  host[270_000] = 7; // a later tie: argmax keeps the first
  host[123_456] = -9;
  for (const device of devices) {
    const x = tensor(host, { device });
    assert.equal(await x.argmax().item(), 250_001, device);
    assert.equal(await x.argmin().item(), 123_456, device);
    assert.equal(await x.max().item(), 7);
    assert.equal(await x.min().item(), -9);
    const rows = x.reshape([2, n / 2]);
    let first = 0;
    for (let i = 1; i < n / 2; i++) if (host[i] > host[first]) first = i;
    assert.deepEqual(await rows.argmax(1).toArray(), [first, 100_001]);
    assert.deepEqual(await rows.argmin(1).toArray(), [
      123_456,
      await x.narrow(0, n / 2, n / 2).argmin().item(),
    ]);
    assertClose([await x.sum().item()], [host.reduce((a, b) => a + b, 0)], { rtol: 1e-4, atol: 1e-3 });
  }
});
