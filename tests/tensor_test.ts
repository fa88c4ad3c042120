/**
 * Tensors themselves: creation and dtype inference, the seeded RNG (reproducible, identical on CPU and
 * WebGPU), views and their strides, copies, reading back, dtype conversions, device moves, tidy, float16,
 * empty tensors, and WebGPU tensors past one dispatch dimension.
 */
import assert from "node:assert/strict";
import {
  arange,
  cat,
  eye,
  full,
  linspace,
  manualSeed,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  type Tensor,
  tensor,
  tidy,
  zeros,
  zerosLike,
} from "../mod.ts";
import { assertClose } from "./helpers/assert_close.ts";
import { forEachDevice, webgpuTest } from "./helpers/devices.ts";

// ---------------------------------------------------------------- creation

forEachDevice("tensor: numbers infer int32 when all are integers, float32 otherwise", async (device) => {
  const i = tensor([1, 2, 3], { device });
  assert.equal(i.dtype, "int32");
  assert.deepEqual(await i.toArray(), [1, 2, 3]);
  const f = tensor([1, 2.5], { device });
  assert.equal(f.dtype, "float32");
  assert.deepEqual(await f.toArray(), [1, 2.5]);
  assert.equal(tensor([1, 2], { device, dtype: "float32" }).dtype, "float32");
  assert.equal(tensor([1, 2], { device, requiresGrad: true }).dtype, "float32", "requiresGrad implies float");
});

forEachDevice("tensor: nested arrays give the shape and row-major strides", async (device) => {
  const a = tensor([[[1, 2, 3], [4, 5, 6]]], { device });
  assert.deepEqual(a.shape, [1, 2, 3]);
  assert.deepEqual(a.strides, [6, 3, 1]);
  assert.equal(a.ndim, 3);
  assert.equal(a.size, 6);
  assert.equal(a.numel(), 6);
  assert.equal(a.isContiguous(), true);
  assert.deepEqual(await a.toArray(), [[[1, 2, 3], [4, 5, 6]]]);
});

forEachDevice("tensor: typed arrays keep their dtype and take a shape", async (device) => {
  const f = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { device, shape: [2, 3] });
  assert.equal(f.dtype, "float32");
  assert.deepEqual(await f.toArray(), [[1, 2, 3], [4, 5, 6]]);
  const i = tensor(new Int32Array([7, -8]), { device });
  assert.equal(i.dtype, "int32");
  assert.deepEqual(await i.data(), new Int32Array([7, -8]));
  const h = tensor(new Float16Array([0.5, 1.5]), { device });
  assert.equal(h.dtype, "float16");
  assert.deepEqual(await h.toArray(), [0.5, 1.5]);
});

forEachDevice("tensor: booleans give a bool tensor read back as booleans", async (device) => {
  const b = tensor([[true, false], [false, true]], { device });
  assert.equal(b.dtype, "bool");
  assert.deepEqual(await b.toArray(), [[true, false], [false, true]]);
  assert.deepEqual(await b.data(), new Uint8Array([1, 0, 0, 1]));
});

forEachDevice("tensor: a plain number gives a 0-d tensor", async (device) => {
  const s = tensor(3.5, { device });
  assert.equal(s.ndim, 0);
  assert.deepEqual(s.shape, []);
  assert.equal(s.size, 1);
  assert.equal(await s.item(), 3.5);
  assert.equal(await s.toArray(), 3.5);
  assert.equal(await tensor(true, { device }).toArray(), true);
});

forEachDevice("tensor: zeros, ones and full", async (device) => {
  assert.deepEqual(await zeros([2, 2], { device }).toArray(), [[0, 0], [0, 0]]);
  assert.equal(zeros([2], { device }).dtype, "float32");
  const o = ones([3], { device, dtype: "int32" });
  assert.equal(o.dtype, "int32");
  assert.deepEqual(await o.toArray(), [1, 1, 1]);
  assert.deepEqual(await full([2], 7, { device }).toArray(), [7, 7]);
  assert.equal(full([2], 7, { device }).dtype, "int32");
  assert.equal(full([2], 0.5, { device }).dtype, "float32");
  assert.deepEqual(await full([2], true, { device }).toArray(), [true, true]);
});

forEachDevice("tensor: arange with integer, fractional and negative steps", async (device) => {
  const a = arange(4, undefined, 1, { device });
  assert.equal(a.dtype, "int32");
  assert.deepEqual(await a.toArray(), [0, 1, 2, 3]);
  assert.deepEqual(await arange(2, 8, 3, { device }).toArray(), [2, 5]);
  const f = arange(0, 1, 0.25, { device });
  assert.equal(f.dtype, "float32");
  assert.deepEqual(await f.toArray(), [0, 0.25, 0.5, 0.75]);
  assert.deepEqual(await arange(3, 0, -1, { device }).toArray(), [3, 2, 1]);
  assert.deepEqual(arange(3, 3, 1, { device }).shape, [0]);
});

forEachDevice("tensor: linspace includes both ends", async (device) => {
  assertClose(await linspace(0, 1, 5, { device }).data(), [0, 0.25, 0.5, 0.75, 1]);
  assertClose(await linspace(-1, 1, 3, { device }).data(), [-1, 0, 1]);
  assert.deepEqual(await linspace(2, 3, 1, { device }).toArray(), [2]);
});

forEachDevice("tensor: eye, square and rectangular", async (device) => {
  assert.deepEqual(await eye(2, undefined, { device }).toArray(), [[1, 0], [0, 1]]);
  assert.deepEqual(await eye(2, 3, { device }).toArray(), [[1, 0, 0], [0, 1, 0]]);
});

forEachDevice("tensor: zerosLike and onesLike keep shape, dtype and device", async (device) => {
  const src = tensor([[1, 2, 3]], { device });
  const z = zerosLike(src);
  assert.deepEqual(z.shape, [1, 3]);
  assert.equal(z.dtype, "int32");
  assert.equal(z.device, device);
  assert.deepEqual(await z.toArray(), [[0, 0, 0]]);
  const o = onesLike(src, { dtype: "float32" });
  assert.equal(o.dtype, "float32");
  assert.deepEqual(await o.toArray(), [[1, 1, 1]]);
});

forEachDevice("tensor: rand is uniform in [0, 1)", async (device) => {
  manualSeed(1);
  const d = await rand([10_000], { device }).data();
  let sum = 0;
  for (const v of d) {
    assert.ok(v >= 0 && v < 1, `${v} in [0, 1)`);
    sum += v;
  }
  assertClose(sum / d.length, 0.5, { atol: 0.02 });
});

forEachDevice("tensor: randn has mean 0 and standard deviation 1", async (device) => {
  manualSeed(2);
  const x = randn([10_000], { device });
  assertClose(await x.mean().item(), 0, { atol: 0.05 });
  assertClose(await x.std().item(), 1, { atol: 0.05 });
});

forEachDevice("tensor: randint draws integers in [low, high)", async (device) => {
  manualSeed(3);
  const r = randint(-3, 3, [1000], { device });
  assert.equal(r.dtype, "int32");
  const d = await r.data();
  const seen = new Set(d);
  for (const v of d) assert.ok(Number.isInteger(v) && v >= -3 && v < 3, `${v} in [-3, 3)`);
  assert.equal(seen.size, 6, "every value in the range shows up");
});

forEachDevice("tensor: manualSeed makes rand, randn and randint reproducible", async (device) => {
  const draw = async () => [
    await rand([5], { device }).data(),
    await randn([5], { device }).data(),
    await randint(0, 10, [5], { device }).data(),
  ];
  manualSeed(42);
  const a = await draw();
  manualSeed(42);
  assert.deepEqual(await draw(), a);
  manualSeed(43);
  assert.notDeepEqual((await draw())[0], a[0]);
});

webgpuTest("tensor: the same seed gives identical rand, randn and randint on CPU and WebGPU", async () => {
  const draw = async (device: "cpu" | "webgpu") => {
    manualSeed(7);
    return [
      await rand([33], { device }).data(),
      await randn([33], { device }).data(),
      await randint(-5, 5, [33], { device }).data(),
    ];
  };
  assert.deepEqual(await draw("webgpu"), await draw("cpu"));
});

// ---------------------------------------------------------------- views

forEachDevice(
  "tensor: transpose, permute, narrow, slice, expand and unsqueeze are strided views",
  (device) => {
    const base = zeros([2, 3, 4], { device });
    const t = base.transpose(0, 2);
    assert.deepEqual([t.shape, t.strides, t.offset], [[4, 3, 2], [1, 4, 12], 0]);
    assert.equal(t.isContiguous(), false);
    const p = base.permute(1, 2, 0);
    assert.deepEqual([p.shape, p.strides], [[3, 4, 2], [4, 1, 12]]);
    const n = base.narrow(1, 1, 2);
    assert.deepEqual([n.shape, n.strides, n.offset], [[2, 2, 4], [12, 4, 1], 4]);
    const s = base.slice(2, 1, 4, 2);
    assert.deepEqual([s.shape, s.strides, s.offset], [[2, 3, 2], [12, 4, 2], 1]);
    const e = zeros([3, 1], { device }).expand(2, 3, 4);
    assert.deepEqual([e.shape, e.strides], [[2, 3, 4], [0, 1, 0]]);
    const u = base.unsqueeze(1);
    assert.deepEqual(u.shape, [2, 1, 3, 4]);
    for (const v of [t, p, n, s, u]) assert.equal(v.storage, base.storage, "a view shares the storage");
  },
);

forEachDevice("tensor: a transpose shares storage: copy_ through it shows in the base", async (device) => {
  const base = zeros([2, 3], { device });
  const t = base.transpose(0, 1);
  t.copy_(tensor([[1, 2], [3, 4], [5, 6]], { device }));
  assert.deepEqual(await base.toArray(), [[1, 3, 5], [2, 4, 6]]);
  assert.deepEqual(await t.toArray(), [[1, 2], [3, 4], [5, 6]]);
});

forEachDevice("tensor: writes through narrow and strided slices land in the base", async (device) => {
  const base = zeros([2, 6], { device });
  base.narrow(0, 1, 1).slice(1, 1, 6, 2).copy_(tensor([1, 2, 3], { device }));
  base.narrow(1, 0, 1).fill_(9);
  assert.deepEqual(await base.toArray(), [[9, 0, 0, 0, 0, 0], [9, 1, 0, 2, 0, 3]]);
});

forEachDevice("tensor: copy_ broadcasts its source and converts its dtype", async (device) => {
  const dst = zeros([2, 3], { device });
  dst.copy_(tensor([1, 2, 3], { device }));
  assert.equal(dst.dtype, "float32");
  assert.deepEqual(await dst.toArray(), [[1, 2, 3], [1, 2, 3]]);
});

forEachDevice(
  "tensor: copy_ between overlapping views of one tensor reads the source first",
  async (device) => {
    // PyTorch refuses partial overlap; the CPU copies as if the source were cloned first. Either way no
    // device-level error may escape.
    const t = tensor([1, 2, 3, 4], { device, dtype: "float32" });
    let threw: Error | null = null;
    try {
      t.narrow(0, 1, 3).copy_(t.narrow(0, 0, 3));
    } catch (e) {
      threw = e as Error;
    }
    if (threw) assert.match(threw.message, /overlap|same memory/);
    else assert.deepEqual(await t.toArray(), [1, 1, 2, 3]);
  },
);

forEachDevice("tensor: reshape of a contiguous tensor is a view", async (device) => {
  const base = zeros([2, 3], { device });
  const r = base.reshape([3, 2]);
  assert.equal(r.storage, base.storage);
  r.fill_(4);
  assert.deepEqual(await base.toArray(), [[4, 4, 4], [4, 4, 4]]);
});

forEachDevice("tensor: reshape of a non-contiguous tensor copies in logical order", async (device) => {
  const base = arange(6, undefined, 1, { device }).reshape([2, 3]);
  const t = base.transpose(0, 1);
  const r = t.reshape([6]);
  assert.notEqual(r.storage, base.storage);
  assert.equal(r.isContiguous(), true);
  assert.deepEqual(await r.toArray(), [0, 3, 1, 4, 2, 5]);
  r.fill_(0);
  assert.deepEqual(await base.toArray(), [[0, 1, 2], [3, 4, 5]], "the base is untouched");
});

forEachDevice(
  "tensor: contiguous() copies a strided view and returns a contiguous tensor as is",
  async (device) => {
    const base = arange(6, undefined, 1, { device }).reshape([2, 3]);
    assert.equal(base.contiguous(), base);
    const c = base.T.contiguous();
    assert.deepEqual(c.strides, [2, 1]);
    assert.deepEqual(await c.toArray(), [[0, 3], [1, 4], [2, 5]]);
  },
);

// ---------------------------------------------------------------- reading back

forEachDevice("tensor: toArray nests like the shape", async (device) => {
  assert.deepEqual(await arange(8, undefined, 1, { device }).reshape([2, 2, 2]).toArray(), [
    [[0, 1], [2, 3]],
    [[4, 5], [6, 7]],
  ]);
  assert.deepEqual(await zeros([2, 0], { device }).toArray(), [[], []]);
  assert.deepEqual(await arange(6, undefined, 1, { device }).reshape([3, 2]).T.toArray(), [[0, 2, 4], [
    1,
    3,
    5,
  ]]);
});

forEachDevice("tensor: comparisons give bool tensors read back as booleans", async (device) => {
  const m = tensor([1, 0, 2], { device }).gt(0);
  assert.equal(m.dtype, "bool");
  assert.deepEqual(await m.toArray(), [true, false, true]);
});

forEachDevice("tensor: item() reads a one-element tensor", async (device) => {
  assert.equal(await tensor([[2.5]], { device }).item(), 2.5);
  assert.equal(await tensor([1, 2, 3], { device }).sum().item(), 6);
  assert.equal(await tensor([4, 5], { device }).narrow(0, 1, 1).item(), 5);
});

// ---------------------------------------------------------------- dtypes

forEachDevice('tensor: to("float16") rounds to the nearest half', async (device) => {
  const h = tensor([0.1, -1.7, 2.5, 65504, 1e-8], { device }).to("float16");
  assert.equal(h.dtype, "float16");
  assertClose(await h.float().data(), [0.0999755859375, -1.7001953125, 2.5, 65504, 0], { rtol: 0, atol: 0 });
  assert.deepEqual(await tensor([70000], { device }).half().toArray(), [Infinity]);
});

forEachDevice('tensor: to("int32") truncates toward zero', async (device) => {
  const i = tensor([-2.5, -0.5, 0.5, 1.7, 2.9], { device }).to("int32");
  assert.equal(i.dtype, "int32");
  assert.deepEqual(await i.toArray(), [-2, 0, 0, 1, 2]);
});

forEachDevice('tensor: to("bool") is x != 0 and bool to float gives 0 and 1', async (device) => {
  const b = tensor([0, 2, -0.5], { device }).to("bool");
  assert.deepEqual(await b.toArray(), [false, true, true]);
  assert.deepEqual(await b.float().toArray(), [0, 1, 1]);
});

forEachDevice("tensor: to() with the same dtype and device returns the tensor itself", (device) => {
  const t = tensor([1.5], { device });
  assert.equal(t.to("float32"), t);
  assert.equal(t.to(device), t);
});

forEachDevice("tensor: float16 arithmetic is close to float32 (rtol 1e-3)", async (device) => {
  manualSeed(5);
  // inputs exactly representable in float16, so only the results' rounding differs
  const a32 = rand([512], { device }).add(0.5).half().float();
  const b32 = rand([512], { device }).add(0.5).half().float();
  const a16 = a32.half();
  const b16 = b32.half();
  const pairs: [string, Tensor, Tensor][] = [
    ["mul", a32.mul(b32), a16.mul(b16)],
    ["add", a32.add(b32), a16.add(b16)],
    ["div", a32.div(b32), a16.div(b16)],
    ["exp", a32.exp(), a16.exp()],
    ["sqrt", a32.sqrt(), a16.sqrt()],
    ["sum", a32.sum(), a16.sum()],
    ["row means", a32.reshape([16, 32]).mean(1), a16.reshape([16, 32]).mean(1)],
    [
      "matmul",
      a32.reshape([16, 32]).matmul(b32.reshape([32, 16])),
      a16.reshape([16, 32]).matmul(b16.reshape([32, 16])),
    ],
  ];
  for (const [name, f32, f16] of pairs) {
    assert.equal(f16.dtype, "float16", name);
    assertClose(await f16.float().data(), await f32.data(), { rtol: 1e-3, atol: 1e-4, msg: name });
  }
});

// ---------------------------------------------------------------- devices

webgpuTest('tensor: to("webgpu") uploads and await t.cpu() reads back', async () => {
  const c = tensor([[1, 2], [3, 4]]);
  const g = c.to("webgpu");
  assert.equal(g.device, "webgpu");
  assert.equal(g.dtype, "int32");
  const back = await g.mul(2).cpu();
  assert.equal(back.device, "cpu");
  assert.deepEqual(await back.toArray(), [[2, 4], [6, 8]]);
  const cpu = tensor([1.5]);
  assert.equal(await cpu.cpu(), cpu, "cpu() of a CPU tensor is itself");
});

webgpuTest("tensor: to() moves dtype and device together", async () => {
  const g = tensor([1.5, -2.7]).to({ device: "webgpu", dtype: "int32" });
  assert.equal(g.device, "webgpu");
  assert.equal(g.dtype, "int32");
  assert.deepEqual(await g.toArray(), [1, -2]);
  const h = tensor([0.1]).half().to("webgpu");
  assert.equal(h.dtype, "float16");
  assert.deepEqual(await h.toArray(), [0.0999755859375]);
});

webgpuTest("tensor: moving a strided view uploads its own elements", async () => {
  const c = tensor([[1, 2], [3, 4]]);
  assert.deepEqual(await c.T.to("webgpu").toArray(), [[1, 3], [2, 4]]);
  assert.deepEqual(await tensor([[1, 2]]).expand(3, 2).to("webgpu").toArray(), [[1, 2], [1, 2], [1, 2]]);
});

webgpuTest("tensor: moving a contiguous view with an offset uploads its own elements", async () => {
  const rows = tensor([[1, 2], [3, 4], [5, 6]]).narrow(0, 1, 2); // contiguous, offset 2
  const g = rows.to("webgpu");
  assert.deepEqual(await g.toArray(), [[3, 4], [5, 6]]);
  assert.deepEqual(await tensor([1, 2, 3, 4]).narrow(0, 1, 2).to("webgpu").toArray(), [2, 3]);
});

webgpuTest("tensor: a moved tensor that requires grad is a new leaf", () => {
  const w = tensor([1, 2], { requiresGrad: true }).to("webgpu");
  assert.equal(w.requiresGrad, true);
  assert.equal(w.isLeaf, true);
});

// ---------------------------------------------------------------- tidy

forEachDevice("tensor: tidy keeps the returned tensors and disposes the rest", (device) => {
  const x = tensor([1, 2, 3], { device });
  let inner: Tensor | null = null;
  const { a, list } = tidy(() => {
    inner = x.mul(2);
    return { a: inner.add(1), list: [inner.sub(1)] };
  });
  assert.equal(inner!.isDisposed, true, "an intermediate is disposed");
  assert.equal(a.isDisposed, false);
  assert.equal(list[0].isDisposed, false, "tensors in returned arrays are kept");
  assert.equal(x.isDisposed, false, "tensors from outside the scope are untouched");
});

forEachDevice("tensor: nested tidy hands returned tensors to the outer scope", (device) => {
  let mid: Tensor | null = null;
  const out = tidy(() => {
    mid = tidy(() => zeros([2], { device }).add(1));
    return mid.mul(2);
  });
  assert.equal(mid!.isDisposed, true, "the inner result is disposed by the outer scope");
  assert.equal(out.isDisposed, false);
});

forEachDevice("tensor: tidy refuses an async function", async (device) => {
  assert.throws(() => tidy(() => Promise.resolve(zeros([1], { device }))), /scopes cannot span an await/);
  await Promise.resolve();
});

// ---------------------------------------------------------------- empty tensors

forEachDevice("tensor: the sum of an empty tensor is 0", async (device) => {
  const e = zeros([0], { device });
  assert.equal(e.size, 0);
  assert.equal(await e.sum().item(), 0);
  assert.deepEqual(await zeros([0, 3], { device }).sum(0).toArray(), [0, 0, 0]);
  assert.deepEqual(await zeros([3, 0], { device }).sum(1).toArray(), [0, 0, 0]);
});

forEachDevice("tensor: elementwise ops and matmul on empty tensors", async (device) => {
  assert.deepEqual(await zeros([0, 3], { device }).add(1).toArray(), []);
  assert.deepEqual(await zeros([2, 0], { device }).matmul(zeros([0, 3], { device })).toArray(), [[0, 0, 0], [
    0,
    0,
    0,
  ]]);
});

forEachDevice("tensor: cat with an empty tensor", async (device) => {
  const c = cat([zeros([0, 3], { device }), ones([2, 3], { device })], 0);
  assert.deepEqual(c.shape, [2, 3]);
  assert.deepEqual(await c.toArray(), [[1, 1, 1], [1, 1, 1]]);
  const d = cat([ones([2, 1], { device }), zeros([2, 0], { device })], 1);
  assert.deepEqual(d.shape, [2, 1]);
});

forEachDevice("tensor: cat skips 1-D empty tensors, as PyTorch documents", (device) => {
  // torch.cat: "All tensors must either have the same shape (except in the concatenating dimension) or be
  // a 1-D empty tensor with size (0,)"
  const c = cat([zeros([0], { device }), ones([2, 3], { device })], 0);
  assert.deepEqual(c.shape, [2, 3]);
});

forEachDevice("tensor: tensor([]) is an empty float32 tensor, as in PyTorch", (device) => {
  const e = tensor([], { device });
  assert.deepEqual(e.shape, [0]);
  assert.equal(e.dtype, "float32");
});

// ---------------------------------------------------------------- past one dispatch dimension

webgpuTest(
  "tensor: add and sum over 70 000 × 256 float32 elements (past one dispatch dimension)",
  async () => {
    const device = "webgpu";
    const rows = 70_000;
    const cols = 256;
    const col = arange(cols, undefined, 1, { device, dtype: "float32" });
    const x = ones([rows, cols], { device }).mul(col); // every row is 0..255
    const y = x.add(x);
    assert.deepEqual(y.shape, [rows, cols]);
    const last = (await y.narrow(0, rows - 1, 1).toArray()) as number[][];
    assert.deepEqual(last[0], Array.from({ length: cols }, (_, j) => 2 * j), "the last row was computed");
    assertClose(await y.sum().item(), rows * 2 * (cols * (cols - 1)) / 2, { rtol: 1e-6 });
    assertClose(await y.min().item(), 0);
    for (const t of [col, x, y]) t.dispose();
  },
);

forEachDevice("tensor: a reduction with more than 65 535 outputs", async (device) => {
  const n = 70_000;
  const x = arange(n * 3, undefined, 1, { device, dtype: "float32" });
  const rowSums = await x.reshape([n, 3]).sum(1).data(); // row i: 3i + 3i+1 + 3i+2
  assert.equal(rowSums.length, n);
  let bad = 0;
  for (let i = 0; i < n; i++) if (rowSums[i] !== 9 * i + 3) bad++;
  assert.equal(bad, 0, `${bad} of ${n} row sums wrong`);
  const colSums = await x.reshape([3, n]).sum(0).data(); // column j: j + (n + j) + (2n + j)
  bad = 0;
  for (let j = 0; j < n; j++) if (colSums[j] !== 3 * j + 3 * n) bad++;
  assert.equal(bad, 0, `${bad} of ${n} column sums wrong`);
  x.dispose();
});
