/**
 * Pooling: `F.maxPool2d` (and its indices), `F.avgPool2d` and `F.adaptiveAvgPool2d` against PyTorch fixtures
 * (`tests/fixtures/conv.json`, made by `tests/fixtures/make_conv_fixtures.py`) on every device, forward and
 * gradient; NaN; float16; strided inputs; the backward's own gradient; errors; and the pooling modules.
 * @module
 */
import assert from "node:assert/strict";
import { autograd, F, gpu, manualSeed, nn, randn, type Tensor, tensor } from "../mod.ts";
import { pool2d, pool2dBackward } from "../src/ops/pool2d.ts";
import type { Pool2d } from "../src/backend/backend.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";

type Device = "cpu" | "webgpu";
const devices: Device[] = (await gpu.isAvailable()) ? ["cpu", "webgpu"] : ["cpu"];
const opts = { sanitizeResources: false, sanitizeOps: false };

interface Values {
  shape: number[];
  values: number[];
}

interface PoolCase {
  op: "maxPool2d" | "avgPool2d" | "adaptiveAvgPool2d";
  label: string;
  x: Values;
  kernelSize?: number | [number, number];
  kwargs: Record<string, unknown>;
  out: Values;
  indices?: number[];
  gradOut: number[];
  grads: { x: number[] };
}

const fixtures = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/conv.json", import.meta.url)),
) as { pool: PoolCase[] };

const TOL = { rtol: 1e-5, atol: 1e-6 };
const GRAD_NAMES = {
  maxPool2d: "MaxPool2DWithIndicesBackward0",
  avgPool2d: "AvgPool2DBackward0",
  adaptiveAvgPool2d: "AdaptiveAvgPool2DBackward0",
};

function apply(c: PoolCase, x: Tensor): Tensor {
  switch (c.op) {
    case "maxPool2d":
      return F.maxPool2d(x, c.kernelSize!, c.kwargs as F.MaxPool2dOptions);
    case "avgPool2d":
      return F.avgPool2d(x, c.kernelSize!, c.kwargs as F.AvgPool2dOptions);
    case "adaptiveAvgPool2d":
      return F.adaptiveAvgPool2d(x, c.kwargs.outputSize as F.AdaptiveSize);
  }
}

for (const device of devices) {
  for (const op of ["maxPool2d", "avgPool2d", "adaptiveAvgPool2d"] as const) {
    Deno.test(`${op} [${device}]: PyTorch fixtures, forward and gradient`, opts, async (t) => {
      for (const c of fixtures.pool.filter((k) => k.op === op)) {
        await t.step(c.label, async () => {
          const x = tensor(c.x.values, { shape: c.x.shape, device, dtype: "float32", requiresGrad: true });
          const out = apply(c, x);
          assert.deepEqual(out.shape, c.out.shape);
          if (c.x.shape.length === 4) assert.equal(out.gradFn?.name, GRAD_NAMES[op]);
          assertClose(await out.data(), c.out.values, { ...TOL, msg: "forward" });
          out.backward(tensor(c.gradOut, { shape: c.out.shape, device, dtype: "float32" }));
          assertClose(await x.grad!.data(), c.grads.x, { ...TOL, msg: "grad of x" });
          if (c.indices) {
            const [, idx] = F.maxPool2dWithIndices(x, c.kernelSize!, c.kwargs as F.MaxPool2dOptions);
            assert.equal(idx.dtype, "int32");
            assert.deepEqual(Array.from(await idx.data()), c.indices, "indices");
          }
        });
      }
    });
  }

  Deno.test(`maxPool2d [${device}]: NaN wins its windows, as in PyTorch`, opts, async () => {
    const x = tensor([[[[1, NaN, 3, 4], [5, 6, 7, 8]]]], { device });
    const [y, idx] = F.maxPool2dWithIndices(x, 2);
    const v = await y.data();
    assert.ok(Number.isNaN(v[0]));
    assert.equal(v[1], 8);
    assert.deepEqual(Array.from(await idx.data()), [1, 7]);
  });

  Deno.test(`pooling [${device}]: strided inputs and float16`, opts, async () => {
    manualSeed(1);
    const base = randn([2, 7, 6, 3], { device });
    const x = base.permute(0, 3, 1, 2); // [2, 3, 7, 6], non-contiguous
    const xc = x.contiguous();
    for (
      const f of [
        (t: Tensor) => F.maxPool2d(t, 3, { stride: 2, padding: 1 }),
        (t: Tensor) => F.avgPool2d(t, 2),
        (t: Tensor) => F.adaptiveAvgPool2d(t, [3, 4]),
      ]
    ) {
      const want = await f(xc).data();
      assertClose(await f(x).data(), want, TOL);
      const h = f(x.half());
      assert.equal(h.dtype, "float16");
      assertClose(await h.data(), want, { rtol: 1e-2, atol: 1e-2 });
    }
    const xh = x.half().requiresGrad_();
    F.avgPool2d(xh, 3, { stride: 2, padding: 1, ceilMode: true }).sum().backward();
    assert.equal(xh.grad!.dtype, "float16");
    const x32 = xc.detach().requiresGrad_();
    F.avgPool2d(x32, 3, { stride: 2, padding: 1, ceilMode: true }).sum().backward();
    assertClose(await xh.grad!.data(), await x32.grad!.data(), { rtol: 1e-2, atol: 1e-2 });
  });

  Deno.test(
    `pooling [${device}]: other batch sizes and offset views reuse a layer's kernels`,
    opts,
    async () => {
      manualSeed(5);
      const x = randn([3, 2, 6, 6], { device });
      for (const f of [(t: Tensor) => F.maxPool2d(t, 2), (t: Tensor) => F.avgPool2d(t, 3, { padding: 1 })]) {
        const all = f(x);
        assertClose(await f(x.narrow(0, 1, 2)).data(), await all.narrow(0, 1, 2).data(), TOL);
        assertClose(await f(x.narrow(0, 2, 1)).data(), await all.narrow(0, 2, 1).data(), TOL);
      }
    },
  );

  Deno.test(
    `pooling [${device}]: the backward is differentiable (its gradient is the forward's linear part)`,
    opts,
    async () => {
      // For max pooling, g ↦ grad_x scatters g to the argmaxes, so ⟨grad_x(g), x⟩ = ⟨g, maxPool(x)⟩ and the
      // gradient of that in g is maxPool(x); for average pooling ⟨grad_x(g), x⟩ = ⟨g, avgPool(x)⟩ likewise.
      manualSeed(2);
      const x = randn([2, 2, 5, 5], { device });
      const pools: Pool2d[] = [
        {
          op: "max",
          kernel: [3, 3],
          stride: [2, 2],
          padding: [1, 1],
          dilation: [1, 1],
          out: [3, 3],
          countIncludePad: false,
          divisor: 0,
        },
        {
          op: "avg",
          kernel: [3, 3],
          stride: [2, 2],
          padding: [1, 1],
          dilation: [1, 1],
          out: [3, 3],
          countIncludePad: true,
          divisor: 0,
        },
        {
          op: "adaptiveAvg",
          kernel: [1, 1],
          stride: [1, 1],
          padding: [0, 0],
          dilation: [1, 1],
          out: [3, 2],
          countIncludePad: false,
          divisor: 0,
        },
      ];
      for (const pool of pools) {
        const { out, indices } = pool2d(x, pool);
        const g = randn([...out.shape], { device, requiresGrad: true });
        const gx = pool2dBackward(g, indices, x.shape, pool);
        assert.ok(gx.requiresGrad, `${pool.op}: the backward is recorded`);
        gx.mul(x).sum().backward();
        assertClose(await g.grad!.data(), await out.data(), { rtol: 1e-5, atol: 1e-5, msg: pool.op });
      }
    },
  );

  Deno.test(`pooling modules [${device}]: forward matches the functions`, opts, async () => {
    manualSeed(3);
    const x = randn([2, 3, 9, 8], { device });
    const pairs: [nn.Module & { forward(x: Tensor): Tensor }, (t: Tensor) => Tensor][] = [
      [
        new nn.MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }),
        (t) => F.maxPool2d(t, 3, { stride: 2, padding: 1, ceilMode: true }),
      ],
      [
        new nn.AvgPool2d([3, 2], { countIncludePad: false, padding: 1 }),
        (t) => F.avgPool2d(t, [3, 2], { countIncludePad: false, padding: 1 }),
      ],
      [new nn.AdaptiveAvgPool2d([4, null]), (t) => F.adaptiveAvgPool2d(t, [4, null])],
    ];
    for (const [m, f] of pairs) {
      const y = m.forward(x);
      assertClose(await y.data(), await f(x).data(), { rtol: 0, atol: 0 });
      assert.equal([...m.parameters()].length, 0);
    }
    assert.deepEqual(new nn.AdaptiveAvgPool2d([4, null]).forward(x).shape, [2, 3, 4, 8]);
  });
}

Deno.test("pooling [cpu]: gradcheck of average and adaptive average pooling", opts, async () => {
  manualSeed(4);
  const x = randn([1, 2, 5, 6], { requiresGrad: true });
  await autograd.gradcheck(
    (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
    [x],
  );
  await autograd.gradcheck((x) => F.adaptiveAvgPool2d(x, [3, 4]), [x]);
  // max pooling: distinct values, so that a step of eps never changes a window's argmax
  const d = tensor(Array.from({ length: 30 }, (_, i) => ((i * 7) % 30) / 3), {
    shape: [1, 1, 5, 6],
    requiresGrad: true,
  });
  await autograd.gradcheck((x) => F.maxPool2d(x, 2, { stride: 1 }), [d]);
});

Deno.test("pooling: clear errors", opts, () => {
  const x = randn([1, 4, 8, 8]);
  assertThrowsMessage(
    () => F.maxPool2d(randn([4, 4]), 2),
    /maxPool2d: expected a 3-D \[C, H, W\].*got input of size \[4, 4\]/,
  );
  assertThrowsMessage(() => F.maxPool2d(x, 3, { padding: 2 }), /pad should be at most half of kernel size/);
  assertThrowsMessage(() => F.avgPool2d(x, 3, { padding: 2 }), /pad should be at most half of kernel size/);
  assertThrowsMessage(() => F.maxPool2d(x, 0), /kernel size should be greater than zero/);
  assertThrowsMessage(() => F.maxPool2d(x, 2, { stride: 0 }), /stride should be greater than zero/);
  assertThrowsMessage(() => F.maxPool2d(x, 2, { dilation: 0 }), /dilation should be greater than zero/);
  assertThrowsMessage(
    () => F.maxPool2d(randn([1, 1, 2, 2]), 3),
    /Given input size: \(1x2x2\)\. Calculated output size: \(1x0x0\)\. Output size is too small/,
  );
  assertThrowsMessage(
    () => F.avgPool2d(x, 2, { divisorOverride: 0 }),
    /divisorOverride must be a positive integer/,
  );
  assertThrowsMessage(() => F.adaptiveAvgPool2d(randn([4, 4]), 2), /adaptiveAvgPool2d: expected a 3-D/);
  assertThrowsMessage(
    () => F.adaptiveAvgPool2d(x, [2, -1]),
    /outputSize must be one or two non-negative integers/,
  );
  assertThrowsMessage(
    () => F.adaptiveAvgPool2d(randn([1, 0, 4]), 2),
    /non-zero size for non-batch dimensions/,
  );
  assertThrowsMessage(() => F.maxPool2d(x.int(), 2), /expected a floating point tensor, but got int32/);
  assertThrowsMessage(
    () => F.maxPool2d(x, [2, 2, 2]),
    /expected kernelSize to be a single integer or a list of 2/,
  );
  assertThrowsMessage(
    () => new nn.AdaptiveAvgPool2d([1.5, 2]),
    /outputSize must be one or two non-negative integers/,
  );
});

Deno.test("pooling modules: toString as PyTorch prints them", opts, () => {
  assert.equal(
    new nn.MaxPool2d(2).toString(),
    "MaxPool2d(kernelSize=2, stride=2, padding=0, dilation=1, ceilMode=false)",
  );
  assert.equal(new nn.AvgPool2d(2).toString(), "AvgPool2d(kernelSize=2, stride=2, padding=0)");
  assert.equal(new nn.AdaptiveAvgPool2d([2, 3]).toString(), "AdaptiveAvgPool2d(outputSize=(2, 3))");
  assert.equal(new nn.AdaptiveAvgPool2d(1).toString(), "AdaptiveAvgPool2d(outputSize=1)");
});

Deno.test({
  name: "pooling [webgpu]: max pooling with disjoint windows scatters its gradient (the CPU's values)",
  ignore: !devices.includes("webgpu"),
  ...opts,
  fn: async () => {
    // disjoint windows take the scatter kernel (pool2d_max_backward_scatter.wgsl): 2×2/2, 3×3/3 with padding
    // and ceil mode (windows hanging over the edge), 2×3/[2, 4], dilation 2 with stride 3; NaN and ties
    // inside windows, odd sizes (pixels no window covers), a strided gradient (from a transpose)
    const cases: [number | [number, number], F.MaxPool2dOptions][] = [
      [2, {}],
      [3, { padding: 1, ceilMode: true }],
      [[2, 3], { stride: [2, 4] }],
      [2, { dilation: 2, stride: 3 }],
    ];
    for (const [k, o] of cases) {
      manualSeed(3);
      const vals = (await randn([2, 3, 11, 9]).data()).map((v) => Math.round(v * 2)); // ties
      vals[5] = NaN;
      const x = tensor(vals, { shape: [2, 3, 11, 9] });
      const grads: Float32Array[] = [];
      const [, , OH, OW] = F.maxPool2d(x, k, o).shape;
      const gT = randn([2, 3, OW, OH]);
      for (const device of ["cpu", "webgpu"] as const) {
        const xd = x.to(device).requiresGrad_();
        const y = F.maxPool2d(xd, k, o);
        const g = gT.to(device).transpose(2, 3);
        y.backward(g);
        grads.push(await xd.grad!.data() as Float32Array);
      }
      assertClose(grads[1], grads[0], { rtol: 0, atol: 0 });
    }
  },
});
