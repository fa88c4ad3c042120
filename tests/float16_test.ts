/**
 * float16 ops against the same ops in float32, on the CPU reference and on WebGPU (`shader-f16`): casts both
 * ways, elementwise ops, matmul and conv2d (f16 storage, f32 accumulation), im2col, reductions, softmax,
 * gather and indexSelect, and gradients through them. Tolerances are stated per op: float16 holds about
 * 3 decimal digits (a relative rounding error of 2^-11 ≈ 4.9e-4 per stored value), so an op that reads
 * rounded inputs and rounds its output once is within ~1e-3 relative; products and sums over K terms
 * accumulate in f32, so their error stays that of the rounded inputs.
 * @module
 */
import assert from "node:assert/strict";
import { F, manualSeed, randn, type Tensor, tensor } from "../mod.ts";
import { assertClose } from "./helpers/assert_close.ts";
import { forEachDevice } from "./helpers/devices.ts";

/** float16 rounding of a number (round to nearest even). */
const f16 = (x: number) => new Float16Array([x])[0];

/** `x` rounded to float16 and back: the float32 reference sees the same inputs as the float16 op. */
function roundTrip(x: Tensor): Tensor {
  const h = x.half();
  const f = h.float();
  h.dispose();
  return f;
}

async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.data(), Number);
}

forEachDevice("float16: casts both ways round to nearest even and overflow to Inf", async (device) => {
  const src = [0.1, 1 / 3, 65504, 65519, 65520, -1e6, 1e-8, 6e-8, 2049];
  const h = tensor(src, { device }).half();
  assert.equal(h.dtype, "float16");
  const back = h.float();
  assert.equal(back.dtype, "float32");
  assert.deepEqual(await values(back), src.map(f16));
  assert.deepEqual(await values(back), [
    0.0999755859375,
    0.333251953125,
    65504,
    65504,
    Infinity,
    -Infinity,
    0,
    5.960464477539063e-8,
    2048,
  ]);
});

forEachDevice("float16: elementwise ops compute in f32 and round once", async (device) => {
  manualSeed(1);
  const a = roundTrip(randn([257], { device }));
  const b = roundTrip(randn([257], { device }).abs().add(0.5));
  const ah = a.half();
  const bh = b.half();
  const cases: [string, (x: Tensor, y: Tensor) => Tensor][] = [
    ["add", (x, y) => x.add(y)],
    ["mul", (x, y) => x.mul(y)],
    ["div", (x, y) => x.div(y)],
    ["exp", (x) => x.exp()],
    ["tanh", (x) => x.tanh()],
    ["relu", (x) => x.relu()],
    ["gelu", (x) => x.gelu()],
    ["sigmoid", (x) => x.sigmoid()],
    ["log", (_x, y) => y.log()],
  ];
  for (const [name, fn] of cases) {
    const out = fn(ah, bh);
    assert.equal(out.dtype, "float16", name);
    // the float32 result rounded once to float16 is what the kernel stores
    const ref = (await values(fn(a, b))).map(f16);
    assertClose(await values(out), ref, { rtol: 1e-3, atol: 1e-6, msg: name });
  }
});

forEachDevice("float16: matmul reads f16 and accumulates in f32", async (device) => {
  manualSeed(2);
  for (const [m, k, n] of [[3, 5, 4], [33, 70, 17], [64, 256, 32]]) {
    const a = roundTrip(randn([m, k], { device }));
    const b = roundTrip(randn([k, n], { device }));
    const out = a.half().matmul(b.half());
    assert.equal(out.dtype, "float16");
    const ref = await values(a.matmul(b));
    // only the output's rounding (2^-11 relative) separates them; a f16 accumulator would be far worse
    assertClose(await values(out), ref, { rtol: 1e-3, atol: 2e-3, msg: `${m}x${k}x${n}` });
  }
  // 2048 + 1 + 1 + ... in f16 steps would stay 2048; accumulated in f32 the sum is exact before rounding
  const ones = tensor(new Array(64).fill(1), { device, dtype: "float16", shape: [1, 64] });
  const col = tensor([2048, ...new Array(63).fill(1)], { device, dtype: "float16", shape: [64, 1] });
  assert.deepEqual(await values(ones.matmul(col)), [f16(2048 + 63)]);
});

forEachDevice("float16: matmul gradients match float32", async (device) => {
  manualSeed(3);
  const a = roundTrip(randn([6, 9], { device }));
  const b = roundTrip(randn([9, 5], { device }));
  const g = roundTrip(randn([6, 5], { device }));
  const a16 = a.half().detach().requiresGrad_();
  const b16 = b.half().detach().requiresGrad_();
  a16.matmul(b16).backward(g.half());
  const a32 = a.detach().requiresGrad_();
  const b32 = b.detach().requiresGrad_();
  a32.matmul(b32).backward(g);
  assert.equal(a16.grad!.dtype, "float16");
  assertClose(await values(a16.grad!), await values(a32.grad!), { rtol: 2e-3, atol: 2e-3, msg: "grad a" });
  assertClose(await values(b16.grad!), await values(b32.grad!), { rtol: 2e-3, atol: 2e-3, msg: "grad b" });
});

forEachDevice("float16: conv2d (im2col + matmul) and its gradients match float32", async (device) => {
  manualSeed(4);
  const x = roundTrip(randn([2, 3, 9, 9], { device }));
  const w = roundTrip(randn([5, 3, 3, 3], { device }).mul(0.3));
  const bias = roundTrip(randn([5], { device }));
  for (const opts of [{ padding: 1 }, { stride: 2 }, { padding: 1, dilation: 2 }]) {
    const x16 = x.half().detach().requiresGrad_();
    const w16 = w.half().detach().requiresGrad_();
    const b16 = bias.half().detach().requiresGrad_();
    const y16 = F.conv2d(x16, w16, b16, opts);
    const x32 = x.detach().requiresGrad_();
    const w32 = w.detach().requiresGrad_();
    const b32 = bias.detach().requiresGrad_();
    const y32 = F.conv2d(x32, w32, b32, opts);
    assert.equal(y16.dtype, "float16");
    const msg = JSON.stringify(opts);
    assertClose(await values(y16), await values(y32), { rtol: 2e-3, atol: 3e-3, msg: `forward ${msg}` });
    y16.sum().backward();
    y32.sum().backward();
    assertClose(await values(x16.grad!), await values(x32.grad!), {
      rtol: 2e-3,
      atol: 3e-3,
      msg: `gx ${msg}`,
    });
    // the weight's gradient sums 2·81 products per tap: f32 accumulation keeps it within rounding
    assertClose(await values(w16.grad!), await values(w32.grad!), {
      rtol: 2e-3,
      atol: 0.05,
      msg: `gw ${msg}`,
    });
    assertClose(await values(b16.grad!), await values(b32.grad!), {
      rtol: 2e-3,
      atol: 0.05,
      msg: `gb ${msg}`,
    });
  }
  // im2col alone (F.unfold) moves f16 values exactly
  const cols16 = F.unfold(x.half(), 3, { padding: 1 });
  assert.equal(cols16.dtype, "float16");
  assert.deepEqual(await values(cols16), await values(F.unfold(x, 3, { padding: 1 })));
});

forEachDevice("float16: reductions and softmax accumulate in f32", async (device) => {
  manualSeed(5);
  const x = roundTrip(randn([7, 300], { device }));
  const h = x.half();
  for (
    const [name, fn, atol] of [
      ["sum", (t: Tensor) => t.sum(1), 0.05],
      ["mean", (t: Tensor) => t.mean(1), 1e-3],
      ["max", (t: Tensor) => t.max(1), 0],
      ["var", (t: Tensor) => t.var(1), 2e-3],
      ["softmax", (t: Tensor) => t.softmax(1), 1e-5],
      ["logSoftmax", (t: Tensor) => t.logSoftmax(1), 5e-3],
    ] as const
  ) {
    const out = fn(h);
    assert.equal(out.dtype, "float16", name);
    assertClose(await values(out), (await values(fn(x))).map(f16), { rtol: 1e-3, atol, msg: name });
  }
  // 2048 + 1 + 1 + 1 + 1 summed in f16 steps stays 2048; accumulated in f32 it is 2052
  const s = tensor([2048, 1, 1, 1, 1], { device, dtype: "float16" }).sum();
  assert.deepEqual(await values(s), [2052]);
  assert.deepEqual(await values(tensor([1, 5, 3], { device, dtype: "float16" }).argmax()), [1]);
});

forEachDevice("float16: gather and indexSelect copy values exactly, with gradients", async (device) => {
  manualSeed(6);
  const x = roundTrip(randn([4, 6], { device }));
  const idx = tensor([[0, 5, 2], [1, 1, 4], [3, 0, 0], [5, 5, 5]], { device, dtype: "int32" });
  const h = x.half().detach().requiresGrad_();
  const g = h.gather(1, idx);
  assert.equal(g.dtype, "float16");
  assert.deepEqual(await values(g), await values(x.gather(1, idx)));
  g.sum().backward();
  assert.equal(h.grad!.dtype, "float16");
  const x32 = x.detach().requiresGrad_();
  x32.gather(1, idx).sum().backward();
  assert.deepEqual(await values(h.grad!), await values(x32.grad!));
  const rows = x.half().indexSelect(0, tensor([3, 1], { device, dtype: "int32" }));
  assert.deepEqual(
    await values(rows),
    await values(x.indexSelect(0, tensor([3, 1], { device, dtype: "int32" }))),
  );
});

forEachDevice("float16: mixing float16 and float32 promotes to float32", async (device) => {
  const a = tensor([1.5, 2], { device, dtype: "float16" });
  const b = tensor([0.1, 0.2], { device });
  const c = a.add(b);
  assert.equal(c.dtype, "float32");
  assertClose(await values(c), [1.6, 2.2], { rtol: 1e-6 });
});
