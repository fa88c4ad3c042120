/**
 * Depthwise convolution (`F.conv2d` with groups = input channels, routed to `src/ops/depthwise_conv2d.ts`):
 * forward and the gradients of x, weight and bias against PyTorch fixtures (`tests/fixtures/depthwise.json`,
 * made by `tests/fixtures/make_depthwise_fixtures.py`) on cpu and webgpu; the fast path is the one taken and
 * agrees with the generic im2col path; the chunked weight-gradient reduction; second derivatives;
 * `nn.DepthwiseSeparableConv2d`; and the multiply-adds that `summary` reports, against hand counts.
 * @module
 */
import assert from "node:assert/strict";
import { autograd, F, manualSeed, nn, randn, summary, tensor } from "../mod.ts";
import {
  depthwiseConv2dBackwardInput,
  depthwiseConv2dBackwardWeight,
  depthwiseFastPath,
} from "../src/ops/depthwise_conv2d.ts";
import { WEIGHT_GRAD_ITERS, WEIGHT_GRAD_WORKGROUP } from "../src/backend/webgpu/kernels/depthwise_conv2d.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { forEachDevice, webgpuTest } from "./helpers/devices.ts";

interface Values {
  shape: number[];
  values: number[];
}

interface DepthwiseCase {
  label: string;
  x: Values;
  weight: Values;
  bias: Values | null;
  kwargs: F.Conv2dOptions;
  out: Values;
  gradOut: number[];
  grads: { x: number[]; weight: number[]; bias: number[] | null };
}

const fixtures = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/depthwise.json", import.meta.url)),
) as { cases: DepthwiseCase[] };

const TOL = { rtol: 1e-4, atol: 1e-5 };

/** Runs `fn` with the depthwise fast path on or off, restoring the switch. */
function withFastPath<T>(enabled: boolean, fn: () => T): T {
  const was = depthwiseFastPath.enabled;
  depthwiseFastPath.enabled = enabled;
  try {
    return fn();
  } finally {
    depthwiseFastPath.enabled = was;
  }
}

forEachDevice(
  "depthwise conv2d: PyTorch fixtures, forward and gradients of x, weight, bias",
  async (device) => {
    assert.ok(fixtures.cases.length >= 8);
    for (const c of fixtures.cases) {
      const leaf = (v: Values) => tensor(v.values, { shape: v.shape, device, requiresGrad: true });
      const x = leaf(c.x);
      const w = leaf(c.weight);
      const b = c.bias ? leaf(c.bias) : null;
      const calls = depthwiseFastPath.calls;
      const out = F.conv2d(x, w, b, c.kwargs);
      // a single input channel (groups = C = 1) is a plain convolution: conv2d keeps im2col there (faster)
      const fast = c.x.shape[1] > 1 ? 1 : 0;
      assert.equal(
        depthwiseFastPath.calls,
        calls + fast,
        `${c.label}: the depthwise kernel ran ${fast} time(s)`,
      );
      assert.equal(out.gradFn?.name, "ConvolutionBackward0");
      assert.deepEqual(out.shape, c.out.shape, c.label);
      assertClose(await out.data(), c.out.values, { ...TOL, msg: `${c.label}: forward` });
      out.backward(tensor(c.gradOut, { shape: c.out.shape, device }));
      assertClose(await x.grad!.data(), c.grads.x, { ...TOL, msg: `${c.label}: grad of x` });
      assertClose(await w.grad!.data(), c.grads.weight, { ...TOL, msg: `${c.label}: grad of weight` });
      if (b) assertClose(await b.grad!.data(), c.grads.bias!, { ...TOL, msg: `${c.label}: grad of bias` });
      for (const t of [x, w, b, out]) t?.dispose();
    }
  },
);

forEachDevice("depthwise conv2d: the fast path agrees with the generic im2col path", async (device) => {
  manualSeed(4);
  const configs: [number, number, F.Conv2dOptions, number, number][] = [
    [5, 1, { stride: 2, padding: 1 }, 11, 9],
    [3, 2, { padding: [2, 1], dilation: [2, 1] }, 8, 7],
  ];
  for (const [C, M, o, H, W] of configs) {
    const x = randn([3, C, H, W], { device, requiresGrad: true });
    const w = randn([C * M, 1, 3, 3], { device, requiresGrad: true });
    const b = randn([C * M], { device, requiresGrad: true });
    const run = async (fast: boolean) => {
      const calls = depthwiseFastPath.calls;
      const y = withFastPath(fast, () => F.conv2d(x, w, b, { ...o, groups: C }));
      assert.equal(depthwiseFastPath.calls - calls, fast ? 1 : 0, "the switch picks the path");
      // a non-trivial upstream gradient: d(Σ y²)/dy = 2y
      y.square().sum().backward();
      const r = [await y.data(), await x.grad!.data(), await w.grad!.data(), await b.grad!.data()];
      for (const t of [x, w, b]) t.grad = null;
      return r;
    };
    const fast = await run(true);
    const generic = await run(false);
    for (let k = 0; k < 4; k++) {
      assertClose(fast[k], generic[k], { rtol: 1e-4, atol: 1e-4, msg: ["y", "x", "w", "b"][k] });
    }
  }
});

forEachDevice("depthwise conv2d: strided (non-contiguous) inputs and weights", async (device) => {
  manualSeed(5);
  const x = randn([2, 7, 6, 4], { device }).permute(0, 3, 1, 2); // [2, 4, 7, 6] from NHWC storage
  const w = randn([8, 1, 3, 6], { device }).slice(3, 0, 6, 2); // [8, 1, 3, 3], strided
  assert.equal(x.isContiguous(), false);
  const got = await F.conv2d(x, w, null, { groups: 4, stride: 2, padding: 1 }).data();
  const want = await F.conv2d(x.contiguous(), w.contiguous(), null, { groups: 4, stride: 2, padding: 1 })
    .data();
  assertClose(got, want, TOL);
});

forEachDevice("depthwise conv2d: second derivatives through the backward (createGraph)", async (device) => {
  // as in conv_test: ⟨g_x, x⟩ = ⟨c, y - b⟩ and ⟨g_w, w⟩ = ⟨c, y - b⟩, so both gradients in c are y - b
  manualSeed(6);
  const x = randn([2, 3, 6, 5], { device, requiresGrad: true });
  const w = randn([6, 1, 3, 3], { device, requiresGrad: true });
  const b = randn([6], { device });
  const y = F.conv2d(x, w, b, { groups: 3, stride: 2, padding: 1 });
  const c = randn(y.shape, { device, requiresGrad: true });
  const want = await y.sub(b.reshape([6, 1, 1])).data();
  const [gx, gw] = autograd.grad([y.mul(c).sum()], [x, w], undefined, { createGraph: true });
  gx!.mul(x.detach()).sum().backward(undefined, { retainGraph: true });
  assertClose(await c.grad!.data(), want, TOL);
  c.grad = null;
  gw!.mul(w.detach()).sum().backward();
  assertClose(await c.grad!.data(), want, TOL);
});

Deno.test("depthwise conv2d [cpu]: gradcheck, including second-order terms through the three kernels", async () => {
  manualSeed(7);
  const x = randn([1, 2, 5, 4], { requiresGrad: true });
  const w = randn([4, 1, 2, 3], { requiresGrad: true });
  const b = randn([4], { requiresGrad: true });
  const o = {
    groups: 2,
    stride: [2, 1] as [number, number],
    padding: 1,
    dilation: [1, 2] as [number, number],
  };
  await autograd.gradcheck((x, w, b) => F.conv2d(x, w, b, o), [x, w, b]);
  // the backward kernels are ops with their own gradients (made of the other two kernels): check those too
  const win = {
    kernel: [2, 3] as const,
    stride: [2, 1] as const,
    padding: [1, 1] as const,
    dilation: [1, 2] as const,
    out: [3, 2] as const,
  };
  const g = randn([1, 4, 3, 2], { requiresGrad: true });
  await autograd.gradcheck((g, w) => depthwiseConv2dBackwardInput(g, w, [1, 2, 5, 4], win), [g, w]);
  await autograd.gradcheck((g, x) => depthwiseConv2dBackwardWeight(g, x, win), [g, x]);
});

webgpuTest(
  "depthwise conv2d: the weight gradient of a long reduction is chunked and still exact",
  async () => {
    // N·OH row segments of 8 (64 / 8 per row) above one workgroup's WEIGHT_GRAD_WORKGROUP·WEIGHT_GRAD_ITERS:
    // two chunks per channel, summed after
    const rows = WEIGHT_GRAD_WORKGROUP * WEIGHT_GRAD_ITERS + 5000;
    const N = Math.ceil(rows / (64 * 8));
    manualSeed(8);
    const xc = randn([N, 2, 64, 64]);
    const gc = randn([N, 4, 64, 64]);
    const dw = async (device: "cpu" | "webgpu") => {
      const x = xc.to(device);
      const w = randn([4, 1, 3, 3], { device: "cpu" }).to(device).requiresGrad_();
      const calls = depthwiseFastPath.calls;
      const y = F.conv2d(x, w, null, { padding: 1, groups: 2 });
      assert.equal(depthwiseFastPath.calls, calls + 1);
      y.backward(gc.to(device));
      return await w.grad!.data();
    };
    manualSeed(9);
    const cpu = await dw("cpu");
    manualSeed(9);
    const gpu = await dw("webgpu");
    assertClose(gpu, cpu, { rtol: 1e-3, atol: 1e-2 });
  },
);

webgpuTest("depthwise conv2d: float16 follows float32", async () => {
  manualSeed(10);
  const x = randn([2, 4, 7, 6], { device: "webgpu" });
  const w = randn([8, 1, 3, 3], { device: "webgpu" });
  const b = randn([8], { device: "webgpu" });
  const o = { groups: 4, stride: 2, padding: 1 };
  const want = await F.conv2d(x, w, b, o).data();
  const xh = x.half().requiresGrad_();
  const wh = w.half().requiresGrad_();
  const out = F.conv2d(xh, wh, b.half(), o);
  assert.equal(out.dtype, "float16");
  assertClose(await out.data(), want, { rtol: 1e-2, atol: 2e-2 });
  out.sum().backward();
  const x32 = x.detach().requiresGrad_();
  const w32 = w.detach().requiresGrad_();
  F.conv2d(x32, w32, b, o).sum().backward();
  assertClose(await xh.grad!.data(), await x32.grad!.data(), { rtol: 1e-2, atol: 2e-2 });
  assertClose(await wh.grad!.data(), await w32.grad!.data(), { rtol: 1e-2, atol: 1e-1 });
});

forEachDevice("depthwise conv2d: errors name what is wrong", (device) => {
  const x = randn([1, 4, 5, 5], { device });
  assertThrowsMessage(
    () => F.conv2d(x, randn([6, 1, 3, 3], { device }), null, { groups: 4 }),
    /expected weight to be divisible by 4 at dimension 0/,
  );
  assertThrowsMessage(
    () => F.conv2d(randn([1, 3, 5, 5], { device }), randn([4, 1, 3, 3], { device }), null, { groups: 4 }),
    /expected input\[1, 3, 5, 5\] to have 4 channels, but got 3 channels/,
  );
});

forEachDevice("nn.DepthwiseSeparableConv2d: MobileNet v1's block", async (device) => {
  manualSeed(11);
  const block = new nn.DepthwiseSeparableConv2d(4, 6, { stride: 2, device });
  assert.equal(block.depthwise.groups, 4);
  assert.deepEqual(block.depthwise.weight.shape, [4, 1, 3, 3]);
  assert.deepEqual(block.pointwise.weight.shape, [6, 4, 1, 1]);
  assert.equal(block.depthwise.bias, null);
  assert.equal(block.pointwise.bias, null);
  // 4·9 + 6·4 weights, BatchNorm scale and shift of 4 and 6 channels
  assert.equal(block.numParameters(), 36 + 24 + 8 + 12);
  assert.deepEqual(Object.keys(block.stateDict()).filter((k) => k.endsWith("weight")), [
    "depthwise.weight",
    "bn1.weight",
    "pointwise.weight",
    "bn2.weight",
  ]);
  const x = randn([2, 4, 7, 9], { device, requiresGrad: true });
  const calls = depthwiseFastPath.calls;
  const y = block.forward(x);
  assert.equal(depthwiseFastPath.calls, calls + 1);
  assert.deepEqual(y.shape, [2, 6, 4, 5]);
  // the same computation written out with the functional forms (training-mode BatchNorm, fresh statistics)
  const d = F.conv2d(x, block.depthwise.weight, null, { groups: 4, stride: 2, padding: 1 });
  const h = F.batchNorm(d, null, null, { weight: block.bn1.weight, bias: block.bn1.bias, training: true })
    .relu();
  const p = F.conv2d(h, block.pointwise.weight);
  const want = F.batchNorm(p, null, null, { weight: block.bn2.weight, bias: block.bn2.bias, training: true })
    .relu();
  assertClose(await y.data(), await want.data(), { rtol: 1e-4, atol: 1e-4 });
  y.sum().backward();
  for (const q of block.parameters()) assert.ok(q.grad, "every parameter gets a gradient");
  assert.ok((await x.grad!.abs().sum().item()) > 0);
  assertThrowsMessage(() => new nn.DepthwiseSeparableConv2d(0, 4), /inChannels must be a positive integer/);
});

Deno.test("summary [cpu]: multiply-adds of Linear and of dense, grouped and depthwise Conv2d", () => {
  const model = new nn.Sequential(
    new nn.Conv2d(2, 4, 3, { padding: 1 }), // [2, 4, 6, 6]: 2·4·36 outputs × 2·3·3
    new nn.Conv2d(4, 8, 3, { groups: 2, stride: 2 }), // [2, 8, 2, 2]: 64 outputs × (4/2)·3·3
    new nn.Conv2d(8, 8, 1), // pointwise: [2, 8, 2, 2], 64 outputs × 8
    new nn.DepthwiseSeparableConv2d(8, 16), // depthwise 64 × 9, pointwise [2, 16, 2, 2]: 128 × 8
    new nn.Flatten(),
    new nn.Linear(64, 10), // 2·10 outputs × 64
  );
  const s = summary(model, [2, 2, 6, 6]);
  const byName = Object.fromEntries(s.rows.map((r) => [r.name, r.multAdds]));
  assert.equal(byName["0"], 288 * 18);
  assert.equal(byName["1"], 64 * 18);
  assert.equal(byName["2"], 64 * 8);
  assert.equal(byName["3.depthwise"], 64 * 9);
  assert.equal(byName["3.pointwise"], 128 * 8);
  assert.equal(byName["3"], 64 * 9 + 128 * 8, "a block sums its layers");
  assert.equal(byName["3.bn1"], 0);
  assert.equal(byName["5"], 20 * 64);
  const total = 288 * 18 + 64 * 18 + 64 * 8 + 64 * 9 + 128 * 8 + 20 * 64;
  assert.equal(s.multAdds, total);
  assert.equal(byName[""], total);
  const text = s.toString();
  assert.match(text, /Mult-adds/);
  assert.match(text, new RegExp(`^Total mult-adds +: ${total.toLocaleString("en-US")}$`, "m"));
  assert.match(text, /^├─Conv2d \(1\) .* 1,152$/m);
});

Deno.test("depthwise conv2d [cpu]: a depthwise-separable block has far fewer multiply-adds than a dense conv", () => {
  // the arithmetic of the notebook: C·k² + C·OC against C·OC·k² per output pixel
  const dense = summary(new nn.Conv2d(32, 64, 3, { padding: 1, bias: false }), [1, 32, 14, 14]);
  const sep = summary(new nn.DepthwiseSeparableConv2d(32, 64), [1, 32, 14, 14]);
  assert.equal(dense.multAdds, 196 * 32 * 64 * 9);
  assert.equal(sep.multAdds, 196 * (32 * 9 + 32 * 64));
  assert.ok(dense.multAdds / sep.multAdds > 7.8, "1/(1/64 + 1/9) ≈ 7.9 times fewer");
});
