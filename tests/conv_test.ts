/**
 * Convolution: `F.conv2d` against PyTorch fixtures (`tests/fixtures/conv.json`, made by
 * `tests/fixtures/make_conv_fixtures.py`) on every device, forward and gradients of x, weight and bias;
 * gradcheck on the CPU; the columns kept for the weight's gradient (and the path gathering them again);
 * float16; strided inputs; `F.unfold`/`F.fold`; second derivatives; errors;
 * `nn.Conv2d`; and GPU memory staying flat over training steps.
 * @module
 */
import assert from "node:assert/strict";
import { autograd, F, gpu, manualSeed, nn, noGrad, randn, type Tensor, tensor, tidy } from "../mod.ts";
import { backendFor } from "../src/backend/registry.ts";
import { convColumnsKept } from "../src/ops/unfold.ts";
import { convWeightGradSlice } from "../src/nn/functional/conv.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { settledInUse } from "./helpers/memory.ts";

type Device = "cpu" | "webgpu";
const devices: Device[] = (await gpu.isAvailable()) ? ["cpu", "webgpu"] : ["cpu"];
const opts = { sanitizeResources: false, sanitizeOps: false };

interface Values {
  shape: number[];
  values: number[];
}

interface ConvCase {
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
  await Deno.readTextFile(new URL("./fixtures/conv.json", import.meta.url)),
) as { conv: ConvCase[] };

const TOL = { rtol: 1e-4, atol: 1e-5 };

function leaf(v: Values, device: Device): Tensor {
  return tensor(v.values, { shape: v.shape, device, dtype: "float32", requiresGrad: true });
}

for (const device of devices) {
  Deno.test(`conv2d [${device}]: PyTorch fixtures, forward and gradients`, opts, async (t) => {
    for (const c of fixtures.conv) {
      await t.step(c.label, async () => {
        const x = leaf(c.x, device);
        const w = leaf(c.weight, device);
        const b = c.bias ? leaf(c.bias, device) : null;
        const out = F.conv2d(x, w, b, c.kwargs);
        assert.deepEqual(out.shape, c.out.shape);
        if (c.x.shape.length === 4) assert.equal(out.gradFn?.name, "ConvolutionBackward0");
        assertClose(await out.data(), c.out.values, { ...TOL, msg: "forward" });
        out.backward(tensor(c.gradOut, { shape: c.out.shape, device, dtype: "float32" }));
        assertClose(await x.grad!.data(), c.grads.x, { ...TOL, msg: "grad of x" });
        assertClose(await w.grad!.data(), c.grads.weight, { ...TOL, msg: "grad of weight" });
        if (b) assertClose(await b.grad!.data(), c.grads.bias!, { ...TOL, msg: "grad of bias" });
        for (const u of [x, w, b, out]) u?.dispose();
      });
    }
  });

  Deno.test(`conv2d [${device}]: only the gradients asked for are computed`, opts, async () => {
    const c = fixtures.conv.find((k) => k.label.startsWith("groups 2"))!;
    const x = tensor(c.x.values, { shape: c.x.shape, device });
    const w = leaf(c.weight, device);
    const b = tensor(c.bias!.values, { device });
    const out = F.conv2d(x, w, b, c.kwargs);
    out.backward(tensor(c.gradOut, { shape: c.out.shape, device }));
    assert.equal(x.grad, null);
    assert.equal(b.grad, null);
    assertClose(await w.grad!.data(), c.grads.weight, TOL);
  });

  Deno.test(
    `conv2d [${device}]: the weight's gradient from gathered columns matches the fixtures`,
    opts,
    async (t) => {
      // convColumnsKept.maxBytes = 0: the backward gathers x's columns again instead of keeping the forward's
      const was = convColumnsKept.maxBytes;
      convColumnsKept.maxBytes = 0;
      try {
        for (const c of fixtures.conv) {
          await t.step(c.label, async () => {
            const x = leaf(c.x, device);
            const w = leaf(c.weight, device);
            const b = c.bias ? leaf(c.bias, device) : null;
            const out = F.conv2d(x, w, b, c.kwargs);
            out.backward(tensor(c.gradOut, { shape: c.out.shape, device, dtype: "float32" }));
            assertClose(await x.grad!.data(), c.grads.x, { ...TOL, msg: "grad of x" });
            assertClose(await w.grad!.data(), c.grads.weight, { ...TOL, msg: "grad of weight" });
            if (b) assertClose(await b.grad!.data(), c.grads.bias!, { ...TOL, msg: "grad of bias" });
            for (const u of [x, w, b, out]) u?.dispose();
          });
        }
      } finally {
        convColumnsKept.maxBytes = was;
      }
    },
  );

  Deno.test(
    `conv2d [${device}]: the weight's gradient summed in batch slices matches the fixtures`,
    opts,
    async (t) => {
      // convWeightGradSlice.maxBytes = 1: one sample's products at a time, summed (as a wide conv at a large
      // batch is, whose per-sample products would not fit a storage buffer)
      const was = convWeightGradSlice.maxBytes;
      convWeightGradSlice.maxBytes = 1;
      try {
        for (const c of fixtures.conv.filter((k) => k.x.shape[0] > 1)) {
          await t.step(c.label, async () => {
            const x = tensor(c.x.values, { shape: c.x.shape, device });
            const w = leaf(c.weight, device);
            const b = c.bias ? leaf(c.bias, device) : null;
            const out = F.conv2d(x, w, b, c.kwargs);
            out.backward(tensor(c.gradOut, { shape: c.out.shape, device, dtype: "float32" }));
            assertClose(await w.grad!.data(), c.grads.weight, { ...TOL, msg: "grad of weight" });
            if (b) assertClose(await b.grad!.data(), c.grads.bias!, { ...TOL, msg: "grad of bias" });
            for (const u of [x, w, b, out]) u?.dispose();
          });
        }
      } finally {
        convWeightGradSlice.maxBytes = was;
      }
    },
  );

  Deno.test(`conv2d [${device}]: keeps its columns for the weight's gradient until backward`, opts, () => {
    manualSeed(3);
    const x = randn([2, 3, 8, 8], { device });
    const w = randn([4, 3, 3, 3], { device, requiresGrad: true });
    const b = randn([4], { device, requiresGrad: true });
    const saved = (out: Tensor) => out.gradFn!.saved.map((t) => t.shape.join("x"));
    // columns [N, groups, 3·3·3 taps + the row of ones, 6·6 windows]; the weight is not saved (x needs no grad)
    const out = F.conv2d(x, w, b);
    assert.deepEqual(saved(out), ["2x1x28x36"]);
    out.sum().backward();
    assert.ok(out.gradFn!.released);
    assert.deepEqual(out.gradFn!.saved, []);
    // beyond the limit x is saved instead, and nothing when the weight needs no gradient
    const was = convColumnsKept.maxBytes;
    convColumnsKept.maxBytes = 2 * 28 * 36 * 4 - 1;
    try {
      const out2 = F.conv2d(x, w, b);
      assert.deepEqual(saved(out2), ["2x3x8x8"]);
      out2.dispose();
    } finally {
      convColumnsKept.maxBytes = was;
    }
    const out3 = F.conv2d(x, w.detach(), b);
    assert.deepEqual(saved(out3), []);
    for (const t of [x, w, b, out, out3]) t.dispose();
  });

  Deno.test(`conv2d [${device}]: strided (non-contiguous) inputs give the same result`, opts, async () => {
    manualSeed(1);
    const base = randn([2, 5, 6, 3], { device }); // NHWC storage
    const x = base.permute(0, 3, 1, 2); // [2, 3, 5, 6], non-contiguous
    assert.equal(x.isContiguous(), false);
    const wBig = randn([4, 3, 3, 6], { device });
    const w = wBig.slice(3, 0, 6, 2); // [4, 3, 3, 3], strided
    const got = await F.conv2d(x, w, null, { padding: 1 }).data();
    const want = await F.conv2d(x.contiguous(), w.contiguous(), null, { padding: 1 }).data();
    assertClose(got, want, TOL);
  });

  Deno.test(
    `conv2d [${device}]: other batch sizes and offset views reuse a layer's kernels`,
    opts,
    async () => {
      manualSeed(9);
      const x = randn([3, 2, 5, 5], { device });
      const w = randn([4, 2, 3, 3], { device });
      const b = randn([4], { device });
      const all = F.conv2d(x, w, b, { padding: 1 });
      const part = F.conv2d(x.narrow(0, 1, 2), w, b, { padding: 1 }); // batch 2, at an offset
      assertClose(await part.data(), await all.narrow(0, 1, 2).data(), TOL);
      const one = F.conv2d(x.narrow(0, 2, 1), w, b, { padding: 1 });
      assertClose(await one.data(), await all.narrow(0, 2, 1).data(), TOL);
    },
  );

  Deno.test(`conv2d [${device}]: second derivative through the backward (createGraph)`, opts, async () => {
    // y = conv(x, w) + b; g_x = ∂⟨y, c⟩/∂x is linear in c and ⟨g_x, x⟩ = ⟨c, y - b⟩, so its gradient in c is
    // y - b; and g_w = ∂⟨y, c⟩/∂w gives ⟨g_w, w⟩ = ⟨c, y - b⟩ too
    manualSeed(2);
    const x = randn([2, 2, 5, 5], { device, requiresGrad: true });
    const w = randn([3, 2, 3, 3], { device, requiresGrad: true });
    const b = randn([3], { device });
    const c = randn([2, 3, 3, 3], { device, requiresGrad: true });
    const y = F.conv2d(x, w, b, { stride: [1, 1] });
    const want = await y.sub(b.reshape([3, 1, 1])).data();
    const [gx, gw] = autograd.grad([y.mul(c).sum()], [x, w], undefined, { createGraph: true });
    gx!.mul(x.detach()).sum().backward(undefined, { retainGraph: true });
    assertClose(await c.grad!.data(), want, TOL);
    c.grad = null;
    gw!.mul(w.detach()).sum().backward();
    assertClose(await c.grad!.data(), want, TOL);
  });

  Deno.test(`conv2d [${device}]: float16 follows float32`, opts, async () => {
    manualSeed(3);
    const x = randn([2, 3, 6, 6], { device });
    const w = randn([4, 3, 3, 3], { device });
    const b = randn([4], { device });
    const want = await F.conv2d(x, w, b, { padding: 1, stride: 2 }).data();
    const xh = x.half().requiresGrad_();
    const out = F.conv2d(xh, w.half(), b.half(), { padding: 1, stride: 2 });
    assert.equal(out.dtype, "float16");
    assertClose(await out.data(), want, { rtol: 1e-2, atol: 2e-2 });
    out.sum().backward();
    assert.equal(xh.grad!.dtype, "float16");
    const x32 = x.detach().requiresGrad_();
    F.conv2d(x32, w, b, { padding: 1, stride: 2 }).sum().backward();
    assertClose(await xh.grad!.data(), await x32.grad!.data(), { rtol: 1e-2, atol: 2e-2 });
  });

  Deno.test(
    `unfold/fold [${device}]: shapes, adjointness, and non-overlapping round trip`,
    opts,
    async () => {
      manualSeed(4);
      const x = randn([2, 3, 5, 7], { device });
      const cols = F.unfold(x, [2, 3], { padding: 1, stride: [2, 1], dilation: [1, 2] });
      // OH = ⌊(5 + 2 - 1 - 1) / 2⌋ + 1 = 3, OW = ⌊(7 + 2 - 4 - 1) / 1⌋ + 1 = 5
      assert.deepEqual(cols.shape, [2, 3 * 2 * 3, 15]);
      const y = randn([...cols.shape], { device });
      const folded = F.fold(y, [5, 7], [2, 3], { padding: 1, stride: [2, 1], dilation: [1, 2] });
      assert.deepEqual(folded.shape, [2, 3, 5, 7]);
      // ⟨unfold(x), y⟩ = ⟨x, fold(y)⟩
      const lhs = await cols.mul(y).sum().item();
      const rhs = await x.mul(folded).sum().item();
      assertClose(lhs, rhs, { rtol: 1e-4, atol: 1e-4 });
      // kernel = stride: every pixel is in exactly one window, so fold undoes unfold
      const z = randn([1, 2, 4, 6], { device });
      const back = F.fold(F.unfold(z, 2, { stride: 2 }), [4, 6], 2, { stride: 2 });
      assertClose(await back.data(), await z.data(), { rtol: 0, atol: 0 });
      // unbatched input
      assert.deepEqual(F.unfold(randn([3, 4, 4], { device }), 3).shape, [27, 4]);
    },
  );

  Deno.test(
    `nn.Conv2d [${device}]: parameters, PyTorch's init bounds, forward, depthwise`,
    opts,
    async () => {
      manualSeed(5);
      const conv = new nn.Conv2d(4, 8, 3, { padding: 1, device });
      assert.deepEqual(conv.weight.shape, [8, 4, 3, 3]);
      assert.deepEqual(conv.bias!.shape, [8]);
      assert.deepEqual(Object.keys(conv.stateDict()), ["weight", "bias"]);
      const bound = 1 / Math.sqrt(4 * 9); // kaiming_uniform(a=√5) on fan_in = 36, and the bias's bound
      const wv = Array.from(await conv.weight.data());
      assert.ok(wv.every((v) => Math.abs(v) <= bound), "weights within ±1/√fanIn");
      assert.ok(Math.max(...wv.map(Math.abs)) > bound * 0.8, "weights spread over the bound");
      assert.ok(new Set(wv).size > wv.length / 2, "weights are not constant");
      const bv = Array.from(await conv.bias!.data());
      assert.ok(bv.every((v) => Math.abs(v) <= bound) && new Set(bv).size > 1, "bias within ±1/√fanIn");
      const x = randn([2, 4, 6, 6], { device });
      const y = conv.forward(x);
      assert.deepEqual(y.shape, [2, 8, 6, 6]);
      assertClose(await y.data(), await F.conv2d(x, conv.weight, conv.bias, { padding: 1 }).data(), TOL);
      y.sum().backward();
      assert.deepEqual(conv.weight.grad!.shape, [8, 4, 3, 3]);

      const dw = new nn.Conv2d(4, 4, 3, { padding: 1, groups: 4, bias: false, device });
      assert.deepEqual(dw.weight.shape, [4, 1, 3, 3]);
      assert.equal(dw.bias, null);
      const dy = dw.forward(x);
      assert.deepEqual(dy.shape, [2, 4, 6, 6]);
      // depthwise: channel c of the output only sees channel c of the input
      const x0 = x.narrow(1, 0, 1);
      const w0 = dw.weight.narrow(0, 0, 1);
      assertClose(
        await dy.narrow(1, 0, 1).data(),
        await F.conv2d(x0, w0, null, { padding: 1 }).data(),
        TOL,
      );
    },
  );

  Deno.test(`nn.Conv2d [${device}]: a small CNN step keeps GPU memory flat`, opts, async () => {
    manualSeed(6);
    const model = new nn.Sequential(
      new nn.Conv2d(1, 4, 3, { padding: 1, device }),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
      new nn.Conv2d(4, 8, 3, { padding: 1, device }),
      new nn.ReLU(),
      new nn.AdaptiveAvgPool2d(1),
    );
    const x = randn([4, 1, 8, 8], { device });
    const step = () => {
      const loss = tidy(() => {
        const l = (model.forward(x) as Tensor).square().mean();
        l.backward();
        return l;
      });
      noGrad(() =>
        tidy(() => {
          for (const p of model.parameters()) {
            p.sub_(p.grad!.mul(0.01));
            p.grad!.zero_();
          }
        })
      );
      return loss;
    };
    const first = step();
    const l0 = await first.item();
    first.dispose();
    const before = device === "webgpu" ? await settledInUse() : backendFor(device).memory().inUse;
    let last = NaN;
    for (let i = 0; i < 5; i++) {
      const l = step();
      if (i === 4) last = await l.item();
      l.dispose();
    }
    const after = device === "webgpu" ? await settledInUse() : backendFor(device).memory().inUse;
    assert.equal(after, before, "memory in use after 5 more steps");
    assert.ok(last < l0, `loss falls (${l0} → ${last})`);
  });
}

Deno.test("conv2d [cpu]: gradcheck on a tiny grouped, strided, dilated case", opts, async () => {
  manualSeed(7);
  const x = randn([1, 4, 5, 5], { requiresGrad: true });
  const w = randn([2, 2, 2, 2], { requiresGrad: true });
  const b = randn([2], { requiresGrad: true });
  await autograd.gradcheck(
    (x, w, b) => F.conv2d(x, w, b, { groups: 2, stride: [2, 1], padding: 1, dilation: [1, 2] }),
    [x, w, b],
  );
});

Deno.test("unfold/fold [cpu]: gradcheck (each is the other's gradient)", opts, async () => {
  manualSeed(8);
  const o = { padding: 1, stride: 2, dilation: [2, 1] as [number, number] };
  const x = randn([1, 2, 5, 4], { requiresGrad: true });
  await autograd.gradcheck((x) => F.unfold(x, [2, 3], o), [x]);
  const cols = randn([1, 2 * 6, 3 * 2], { requiresGrad: true });
  await autograd.gradcheck((c) => F.fold(c, [5, 4], [2, 3], o), [cols]);
});

Deno.test("conv2d: clear errors for bad shapes, channels, groups and options", opts, () => {
  const x = randn([1, 4, 8, 8]);
  const w = randn([4, 4, 3, 3]);
  assertThrowsMessage(
    () => F.conv2d(randn([2, 3]), w),
    /Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: \[2, 3\]/,
  );
  assertThrowsMessage(() => F.conv2d(x, randn([4, 4, 3])), /weight must be 4-D.*\[4, 4, 3\]/);
  assertThrowsMessage(
    () => F.conv2d(x, randn([16, 3, 3, 3])),
    /Given groups=1, weight of size \[16, 3, 3, 3\], expected input\[1, 4, 8, 8\] to have 3 channels, but got 4 channels instead/,
  );
  assertThrowsMessage(
    () => F.conv2d(x, randn([3, 2, 3, 3]), null, { groups: 2 }),
    /Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight of size \[3, 2, 3, 3\]/,
  );
  assertThrowsMessage(
    () => F.conv2d(x, randn([4, 3, 3, 3]), null, { groups: 2 }),
    /Given groups=2, weight of size \[4, 3, 3, 3\], expected input\[1, 4, 8, 8\] to have 6 channels/,
  );
  assertThrowsMessage(
    () => F.conv2d(x, w, randn([3])),
    /expected bias to be 1-dimensional with 4 elements, but got bias of size \[3\]/,
  );
  assertThrowsMessage(
    () => F.conv2d(x, randn([4, 4, 9, 9])),
    /Calculated padded input size per channel: \(8 x 8\)\. Kernel size: \(9 x 9\)\. Kernel size can't be greater/,
  );
  assertThrowsMessage(
    () => F.conv2d(x, w, null, { dilation: 4 }),
    /Kernel size: \(9 x 9\)/,
  );
  assertThrowsMessage(() => F.conv2d(x, w, null, { stride: 0 }), /non-positive stride is not supported/);
  assertThrowsMessage(() => F.conv2d(x, w, null, { padding: -1 }), /negative padding is not supported/);
  assertThrowsMessage(() => F.conv2d(x, w, null, { dilation: 0 }), /dilation should be greater than zero/);
  assertThrowsMessage(() => F.conv2d(x, w, null, { groups: 0 }), /non-positive groups is not supported/);
  assertThrowsMessage(
    () => F.conv2d(x, w, null, { padding: "same", stride: 2 }),
    /padding='same' is not supported for strided convolutions/,
  );
  assertThrowsMessage(
    () => F.conv2d(x, w, null, { padding: "full" as "same" }),
    /Invalid padding string: 'full'/,
  );
  assertThrowsMessage(
    () => F.conv2d(x, w, null, { stride: [1, 2, 3] }),
    /expected stride to be a single integer or a list of 2 integers/,
  );
  assertThrowsMessage(() => F.conv2d(x, w.half()), /same dtype, but got float32 and float16/);
  assertThrowsMessage(
    () => F.conv2d(x.int(), w.int()),
    /expected floating point tensors, but got int32/,
  );
  assertThrowsMessage(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), /in_channels must be divisible by groups/);
  assertThrowsMessage(
    () => new nn.Conv2d(4, 3, 3, { groups: 2 }),
    /out_channels must be divisible by groups/,
  );
  assertThrowsMessage(
    () => new nn.Conv2d(4, 4, 3, { paddingMode: "reflect" as "zeros" }),
    /paddingMode must be "zeros".*"reflect"/,
  );
  assertThrowsMessage(
    () => F.fold(randn([1, 8, 11]), [4, 5], 2),
    /expected size of input's dimension 2 to match the calculated number of sliding blocks 3 \* 4 = 12, but got input.size\(2\)=11/,
  );
});

Deno.test("conv2d: tensors on different devices are refused", opts, async () => {
  if (!(await gpu.isAvailable())) return;
  assertThrowsMessage(
    () => F.conv2d(randn([1, 1, 4, 4]), randn([1, 1, 3, 3], { device: "webgpu" })),
    /same device.*cpu and webgpu/,
  );
});

Deno.test("nn.Conv2d: toString as PyTorch prints it", opts, () => {
  assert.equal(
    new nn.Conv2d(4, 8, 3, { stride: 2, padding: 1, groups: 2, bias: false }).toString(),
    "Conv2d(4, 8, kernelSize=(3, 3), stride=(2, 2), padding=(1, 1), groups=2, bias=false)",
  );
  assert.equal(new nn.Conv2d(1, 16, [3, 5]).toString(), "Conv2d(1, 16, kernelSize=(3, 5), stride=(1, 1))");
});
