/**
 * Autograd behaviour on every device: accumulation, retainGrad, detach, noGrad/enableGrad, data-dependent
 * control flow, graph structure, autograd.grad, retained graphs, and gradcheck over composite functions.
 */
import assert from "node:assert/strict";
import {
  AccumulateGrad,
  autograd,
  cat,
  enableGrad,
  gpu,
  isGradEnabled,
  noGrad,
  type Tensor,
  tensor,
  where,
} from "../mod.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";

const devices = (await gpu.isAvailable()) ? (["cpu", "webgpu"] as const) : (["cpu"] as const);
const opts = { sanitizeResources: false, sanitizeOps: false };

for (const device of devices) {
  Deno.test(
    `autograd [${device}]: gradients accumulate across backward calls until reset`,
    opts,
    async () => {
      const x = tensor([1, 2, 3], { device, requiresGrad: true });
      x.mul(x).sum().backward();
      assertClose(await x.grad!.data(), [2, 4, 6]);
      x.mul(3).sum().backward();
      assertClose(await x.grad!.data(), [5, 7, 9]);
      noGrad(() => x.grad!.zero_());
      x.sum().backward();
      assertClose(await x.grad!.data(), [1, 1, 1]);
      x.grad = null;
      x.mul(2).sum().backward();
      assertClose(await x.grad!.data(), [2, 2, 2]);
    },
  );

  Deno.test(
    `autograd [${device}]: retainGrad keeps a non-leaf gradient; detach cuts the graph`,
    opts,
    async () => {
      const x = tensor([1, -2], { device, requiresGrad: true });
      const h = x.mul(3).retainGrad();
      const d = h.detach();
      assert.equal(d.requiresGrad, false);
      assert.equal(d.gradFn, null);
      h.mul(h).add(d).sum().backward();
      assertClose(await h.grad!.data(), [6, -12]);
      assertClose(await x.grad!.data(), [18, -36]);
      assert.equal(d.grad, null);
    },
  );

  Deno.test(`autograd [${device}]: noGrad, its guard, and enableGrad`, opts, () => {
    const w = tensor([1, 2], { device, requiresGrad: true });
    const a = noGrad(() => w.mul(2));
    assert.equal(a.requiresGrad, false);
    assert.equal(a.gradFn, null);
    {
      using _g = noGrad();
      assert.equal(isGradEnabled(), false);
      const b = w.mul(2);
      assert.equal(b.requiresGrad, false);
      const c = enableGrad(() => w.mul(2));
      assert.equal(c.gradFn?.name, "MulBackward0");
    }
    assert.equal(isGradEnabled(), true);
    assert.throws(() =>
      noGrad(() => {
        throw new Error("boom");
      }), /boom/);
    assert.equal(isGradEnabled(), true, "grad mode restored after an exception");
  });

  Deno.test(`autograd [${device}]: data-dependent control flow and where`, opts, async () => {
    const x = tensor([0.5, -1.5, 2], { device, requiresGrad: true });
    // keep doubling while the sum is small: the number of iterations depends on the data
    let y: Tensor = x;
    let n = 0;
    while ((await y.sum().item()) < 8) {
      y = y.mul(2);
      n++;
    }
    assert.equal(n, 3);
    const z = (await x.sum().item()) > 0 ? y.sum() : y.neg().sum();
    z.backward();
    assertClose(await x.grad!.data(), [8, 8, 8]);
    const x2 = tensor([-1, 2, -3], { device, requiresGrad: true });
    const w = where(x2.gt(0), x2.mul(x2), x2.mul(-0.5));
    w.sum().backward();
    assertClose(await w.data(), [0.5, 4, 1.5]);
    assertClose(await x2.grad!.data(), [-0.5, 4, -0.5]);
  });

  Deno.test(`autograd [${device}]: broadcasting gradients reduce to the input shapes`, opts, async () => {
    const a = tensor([[1], [2], [3]], { device, requiresGrad: true });
    const b = tensor([[10, 20, 30, 40]], { device, requiresGrad: true });
    a.add(b).mul(a).sum().backward();
    assert.deepEqual(a.grad!.shape, [3, 1]);
    assert.deepEqual(b.grad!.shape, [1, 4]);
    // d/da sum((a+b)·a) = Σ_j (2a + b_j); d/db_j = Σ_i a_i
    assertClose(await a.grad!.data(), [108, 116, 124]);
    assertClose(await b.grad!.data(), [6, 6, 6, 6]);
  });

  Deno.test(
    `autograd [${device}]: autograd.grad returns gradients without touching .grad`,
    opts,
    async () => {
      const x = tensor([1, 2, 3], { device, requiresGrad: true });
      const y = tensor([4, 5, 6], { device, requiresGrad: true });
      const h = x.mul(y);
      const [gx, gh] = autograd.grad([h.sum()], [x, h]);
      assertClose(await gx!.data(), [4, 5, 6]);
      assertClose(await gh!.data(), [1, 1, 1]);
      assert.equal(x.grad, null);
      assert.equal(y.grad, null);
    },
  );

  Deno.test(`autograd [${device}]: a second backward needs retainGraph`, opts, async () => {
    const x = tensor([1, 2], { device, requiresGrad: true });
    const y = x.exp().sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assertClose(await x.grad!.data(), [2 * Math.E, 2 * Math.E ** 2], { rtol: 1e-5 });
    assertThrowsMessage(() => y.backward(), /backward through the graph a second time.*retainGraph/);
  });

  Deno.test(`autograd [${device}]: gradFn names and nextFunctions`, opts, () => {
    const x = tensor([1, 2], { device, requiresGrad: true });
    const c = tensor([3, 4], { device });
    const y = x.mul(c).add(x).sum();
    assert.equal(y.gradFn!.name, "SumBackward1");
    const [add] = y.gradFn!.nextFunctions;
    assert.equal(add!.name, "AddBackward0");
    const [mul, leaf] = (add as import("../mod.ts").Node).nextFunctions;
    assert.equal(mul!.name, "MulBackward0");
    assert.ok(leaf instanceof AccumulateGrad);
    assert.equal((leaf as AccumulateGrad).variable, x);
    assert.deepEqual((mul as import("../mod.ts").Node).nextFunctions.map((n) => n?.name ?? null), [
      "AccumulateGrad",
      null,
    ]);
  });

  Deno.test(
    `autograd [${device}]: non-scalar backward needs a gradient of the output's shape`,
    opts,
    async () => {
      const x = tensor([1, 2], { device, requiresGrad: true });
      const y = x.mul(2);
      assertThrowsMessage(() => y.backward(), /only for scalar outputs.*\[2\]/);
      assertThrowsMessage(() => y.backward(tensor([1, 1, 1], { device })), /grad has shape \[3\].*\[2\]/);
      y.backward(tensor([1, 10], { device }));
      assertClose(await x.grad!.data(), [2, 20]);
    },
  );
}

Deno.test("autograd [cpu]: gradcheck of composite functions over every differentiable op", opts, async () => {
  const t = (data: number[][] | number[]) => tensor(data, { requiresGrad: true });
  const x = () => t([[0.3, -0.7, 1.1], [0.9, -0.2, 0.4]]);
  const pos = () => t([[0.3, 0.7, 1.1], [0.9, 1.2, 0.4]]);
  const cases: [string, (...a: Tensor[]) => Tensor, () => Tensor[]][] = [
    ["tanh·sigmoid·exp", (a) => a.tanh().mul(a.sigmoid()).add(a.exp()), () => [x()]],
    ["log sqrt rsqrt div", (a) => a.log().add(a.sqrt()).add(a.rsqrt()).div(a.add(1)), () => [pos()]],
    ["sin cos neg abs", (a) => a.sin().mul(a.cos()).sub(a.neg().abs()), () => [x()]],
    [
      "gelu leakyRelu clamp relu",
      (a) => a.gelu().add(a.leakyRelu(0.1)).add(a.clamp(-0.5, 0.5)).add(a.relu()),
      () => [
        x(),
      ],
    ],
    ["pow with a tensor exponent", (a, b) => a.pow(b), () => [pos(), x()]],
    ["maximum minimum", (a, b) => a.maximum(b).add(a.minimum(b.mul(0.5))), () => [
      x(),
      t([[0.1, 0.2, 0.3], [
        -1,
        2,
        0,
      ]]),
    ]],
    ["matmul", (a, b) => a.matmul(b), () => [x(), t([[0.1, 0.5], [-0.3, 0.2], [0.7, -0.4]])]],
    [
      "softmax logSoftmax logSumExp",
      (a) => a.softmax(1).mul(a.logSoftmax(0)).add(a.logSumExp(1, true)),
      () => [
        x(),
      ],
    ],
    [
      "var std mean max",
      (a) => a.var(1).add(a.std(0, false, 0).sum()).add(a.mean()).add(a.max(1).sum()),
      () => [
        x(),
      ],
    ],
    ["gather indexSelect", (a) =>
      a.gather(1, tensor([[2, 0], [1, 1]], { dtype: "int32" })).sum(0)
        .add(a.indexSelect(1, tensor([2, 2, 0], { dtype: "int32" })).sum(0).narrow(0, 0, 2)), () => [x()]],
    [
      "cat narrow transpose reshape expand",
      (a) =>
        cat([a, a.narrow(1, 1, 2)], 1).transpose(0, 1).reshape([5, 2]).mul(
          a.sum(1, true).reshape([1, 2]).expand([5, 2]),
        ),
      () => [x()],
    ],
    ["prod", (a) => a.prod(1), () => [pos()]],
  ];
  for (const [name, f, inputs] of cases) {
    await autograd.gradcheck(f, inputs()).catch((e) => {
      throw new Error(`${name}: ${e.message}`);
    });
  }
});

if (devices.includes("webgpu" as never)) {
  Deno.test("autograd [webgpu]: gradcheck on a few small composites", opts, async () => {
    const x = tensor([0.3, -0.7, 1.1], { device: "webgpu", requiresGrad: true });
    await autograd.gradcheck((a) => a.tanh().mul(a).softmax(0), [x]);
    const m = tensor([[0.2, -0.4], [0.5, 0.1]], { device: "webgpu", requiresGrad: true });
    await autograd.gradcheck((a) => a.matmul(a).logSumExp(1), [m]);
  });
}

Deno.test("autograd: gradcheck fails on a wrong gradient", opts, async () => {
  // a function whose recorded gradient is wrong: detach hides the dependence from autograd
  const x = tensor([0.5, 1.5], { requiresGrad: true });
  await assert.rejects(() => autograd.gradcheck((a) => a.mul(a.detach()), [x]), /gradcheck: gradient/);
});
