/**
 * Second derivatives (backward with `createGraph`): for each op, d/dx of ⟨∂(f(x)·r)/∂x, r2⟩ from autograd
 * against central finite differences of the first derivative, on every device. These caught three bugs: an
 * op's saved output (exp, sqrt, tanh...) was saved before the output had its node, so the recorded backward
 * lost y's dependence on x; a gradient handed on unchanged (add, sub, views) lost its graph in the engine; the
 * fused gradient kernels (tanhGrad, sigmoidGrad, reluGrad...) were not recorded at all.
 * @module
 */
import assert from "node:assert/strict";
import { autograd, F, manualSeed, randn, type Tensor, tensor } from "../mod.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { forEachDevice } from "./helpers/devices.ts";

const dims = [0, 2, 3];
const SHAPE = [4, 3, 2, 2];

const OPS: Record<string, (x: Tensor) => Tensor> = {
  "add then square": (x) => x.add(1).square(),
  "sub of a broadcast sum": (x) => x.sub(x.sum(dims, true)).square(),
  exp: (x) => x.exp(),
  sqrt: (x) => x.square().add(1).sqrt(),
  rsqrt: (x) => x.square().add(1).rsqrt(),
  reciprocal: (x) => x.square().add(1).reciprocal(),
  div: (x) => x.div(x.square().add(1)),
  var: (x) => x.var(dims, true, 0),
  tanh: (x) => x.tanh(),
  sigmoid: (x) => x.sigmoid(),
  softmax: (x) => x.softmax(1),
  logSoftmax: (x) => x.logSoftmax(1),
  "reshape and transpose": (x) => x.reshape([4, 12]).transpose(0, 1).square(),
  "relu times x": (x) => x.relu().mul(x),
  "batchNorm (training)": (x) => F.batchNorm(x, null, null, { training: true }).mul(x),
};

forEachDevice("double backward: second derivatives match finite differences of the first", async (device) => {
  manualSeed(2);
  const x0 = await randn(SHAPE).data() as Float32Array;
  for (const [name, f] of Object.entries(OPS)) {
    manualSeed(5);
    const outShape = f(tensor(x0, { shape: SHAPE })).shape;
    const r = randn(outShape, { device });
    const r2 = randn(SHAPE, { device });
    // φ(x) = ⟨∂(f(x)·r)/∂x, r2⟩ and its gradient from a recorded backward
    const phi = async (xv: Float32Array) => {
      const x = tensor(xv, { shape: SHAPE, device, requiresGrad: true });
      const [gx] = autograd.grad([f(x).mul(r).sum()], [x]);
      return await gx!.mul(r2).sum().item();
    };
    const x = tensor(x0, { shape: SHAPE, device, requiresGrad: true });
    const [gx] = autograd.grad([f(x).mul(r).sum()], [x], undefined, { createGraph: true, retainGraph: true });
    assert.ok(gx!.requiresGrad, `${name}: the recorded first derivative requires grad`);
    const [hx] = autograd.grad([gx!.mul(r2).sum()], [x]);
    const h = await hx!.data();
    const got: number[] = [], want: number[] = [];
    for (const i of [0, 7, 13, 30]) {
      const e = 1e-2;
      const p = x0.slice(), m = x0.slice();
      p[i] += e;
      m[i] -= e;
      want.push(((await phi(p)) - (await phi(m))) / (2 * e));
      got.push(h[i]);
    }
    assertClose(got, want, { rtol: 2e-2, atol: 2e-3, msg: name });
  }
});

forEachDevice("double backward: gelu refuses a recorded backward instead of a wrong one", (device) => {
  const x = randn([5], { device, requiresGrad: true });
  assertThrowsMessage(
    () => autograd.grad([x.gelu().sum()], [x], undefined, { createGraph: true }),
    /gelu: second derivatives .* not supported/,
  );
});
