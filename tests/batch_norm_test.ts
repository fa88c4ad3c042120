/**
 * Batch normalisation's fused kernels (`src/ops/batch_norm.ts`: the per-channel sums and the per-channel
 * affine map) and `F.batchNorm` built on them, on every device: the sums against plain loops (including
 * several chunks per channel, a channel with a large mean and a strided view), and `F.batchNorm`'s forward,
 * running statistics and gradients (training and evaluation, with and without γ and β) against the same
 * formula written with primitive ops and differentiated by autograd. PyTorch fixtures for the module live in
 * tests/nn_layers_test.ts.
 * @module
 */
import assert from "node:assert/strict";
import { F, manualSeed, randn, type Tensor, tensor } from "../mod.ts";
import { batchNormSums, channelAffine } from "../src/ops/batch_norm.ts";
import { assertClose } from "./helpers/assert_close.ts";
import { forEachDevice } from "./helpers/devices.ts";

/** [Σ(x − s), Σ(x − s)², s] per channel of x [N, C, L] given as nested arrays, in float64. */
function sumsRef(x: number[][][], shift: number[] | null, g: number[][][] | null): number[][] {
  const C = x[0].length;
  const out = [new Array(C).fill(0), new Array(C).fill(0), new Array(C).fill(0)];
  for (let c = 0; c < C; c++) {
    const s = shift ? shift[c] : x[0][c][0];
    out[2][c] = s;
    for (let n = 0; n < x.length; n++) {
      for (let l = 0; l < x[n][c].length; l++) {
        const d = x[n][c][l] - s;
        const a = g ? g[n][c][l] : d;
        out[0][c] += a;
        out[1][c] += a * d;
      }
    }
  }
  return out;
}

forEachDevice("batchNormSums: statistics and backward sums against loops", async (device) => {
  manualSeed(1);
  for (const shape of [[4, 3, 5], [2, 5, 8], [3, 1, 700], [1, 2, 1]]) {
    const x = randn(shape, { device }).mul(2).add(0.5);
    const g = randn(shape, { device });
    const shift = randn([shape[1]], { device });
    const xs = (await x.toArray()) as number[][][];
    const gs = (await g.toArray()) as number[][][];
    const ss = (await shift.toArray()) as number[];
    const stats = await batchNormSums(x, null, null).toArray();
    assertClose((stats as number[][]).flat(), sumsRef(xs, null, null).flat(), { rtol: 1e-4, atol: 1e-4 });
    const back = await batchNormSums(x, shift, g).toArray();
    assertClose((back as number[][]).flat(), sumsRef(xs, ss, gs).flat(), { rtol: 1e-4, atol: 1e-4 });
  }
});

forEachDevice("batchNormSums: many chunks per channel, a transposed view, a large mean", async (device) => {
  manualSeed(2);
  // 2 channels of 2·300 000 values: several chunks of 256·2048 positions, summed by a second reduction
  const big = randn([2, 2, 300_000], { device }).add(3);
  const s = (await batchNormSums(big, null, null).toArray()) as number[][];
  const first = (await big.narrow(2, 0, 1).toArray()) as number[][][];
  for (let c = 0; c < 2; c++) {
    const m = first[0][c][0] + s[0][c] / 600_000;
    const v = s[1][c] / 600_000 - (s[0][c] / 600_000) ** 2;
    assertClose(m, 3, { atol: 0.01, msg: `mean of channel ${c}` });
    assertClose(v, 1, { atol: 0.01, msg: `variance of channel ${c}` });
  }
  // a channel whose mean (10 000) dwarfs its spread (std 0.01): the shifted sums keep the variance
  const tight = randn([8, 1, 64], { device }).mul(0.01).add(10_000);
  const t = (await batchNormSums(tight, null, null).toArray()) as number[][];
  const vals = ((await tight.toArray()) as number[][][]).flat(2);
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  const variance = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length;
  assertClose(t[1][0] / 512 - (t[0][0] / 512) ** 2, variance, {
    rtol: 0.02,
    msg: "variance under a large mean",
  });
  // a strided (transposed) view of x
  const base = randn([5, 4, 3], { device });
  const xt = base.transpose(0, 2); // [3, 4, 5]
  const want = sumsRef((await xt.toArray()) as number[][][], null, null);
  assertClose(((await batchNormSums(xt, null, null).toArray()) as number[][]).flat(), want.flat(), {
    rtol: 1e-4,
    atol: 1e-4,
  });
});

forEachDevice("channelAffine: a·x + b (+ d·y) per channel, vector and scalar rows", async (device) => {
  manualSeed(3);
  for (const shape of [[2, 3, 8], [2, 3, 5]]) {
    const [N, C, L] = shape;
    const x = randn(shape, { device });
    const y = randn(shape, { device });
    const coef = randn([3, C], { device });
    const xs = (await x.toArray()) as number[][][];
    const ys = (await y.toArray()) as number[][][];
    const k = (await coef.toArray()) as number[][];
    const want2: number[] = [];
    const want3: number[] = [];
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        for (let l = 0; l < L; l++) {
          want2.push(k[0][c] * xs[n][c][l] + k[1][c]);
          want3.push(k[0][c] * xs[n][c][l] + k[1][c] + k[2][c] * ys[n][c][l]);
        }
      }
    }
    assertClose(await channelAffine(x, coef.narrow(0, 0, 2)).data(), want2, { rtol: 1e-5, atol: 1e-5 });
    assertClose(await channelAffine(x, coef, y).data(), want3, { rtol: 1e-5, atol: 1e-5 });
    const xt = x.transpose(0, 1).contiguous().transpose(0, 1); // same values, strided
    assertClose(await channelAffine(xt, coef.narrow(0, 0, 2)).data(), want2, { rtol: 1e-5, atol: 1e-5 });
  }
  assert.throws(() => channelAffine(randn([2, 3, 4], { device }), randn([2, 4], { device })), /\[2, 3\]/);
});

/** The batch norm formula from primitive ops (autograd differentiates it): the reference. */
function reference(x: Tensor, mean: Tensor, variance: Tensor, w: Tensor | null, b: Tensor | null): Tensor {
  const shape = [1, x.shape[1], ...x.shape.slice(2).map(() => 1)];
  let y = x.sub(mean.reshape(shape)).mul(variance.reshape(shape).add(1e-5).rsqrt());
  if (w) y = y.mul(w.reshape(shape));
  if (b) y = y.add(b.reshape(shape));
  return y;
}

forEachDevice("F.batchNorm: forward, running statistics and gradients against primitives", async (device) => {
  manualSeed(4);
  for (
    const [shape, affine, training] of [
      [[4, 3, 4, 4], true, true],
      [[4, 3, 3, 3], false, true],
      [[6, 5], true, true],
      [[4, 3, 4, 4], true, false],
      [[2, 3, 5], true, false],
    ] as [number[], boolean, boolean][]
  ) {
    const what = `${shape} affine=${affine} training=${training}`;
    const C = shape[1];
    const dims = shape.map((_, i) => i).filter((i) => i !== 1);
    const x = randn(shape, { device, requiresGrad: true });
    const w = affine ? randn([C], { device, requiresGrad: true }) : null;
    const b = affine ? randn([C], { device, requiresGrad: true }) : null;
    const rm = randn([C], { device });
    const rv = randn([C], { device }).square().add(0.5);
    const rm0 = (await rm.toArray()) as number[];
    const rv0 = (await rv.toArray()) as number[];
    const r = randn(shape, { device });
    const y = F.batchNorm(x, rm, rv, { weight: w, bias: b, training, momentum: 0.2 });
    assert.equal(y.dtype, "float32");
    y.mul(r).sum().backward();
    const grads = [x.grad!, ...(affine ? [w!.grad!, b!.grad!] : [])].map((g) => g.data());
    const fused = await Promise.all(grads);
    const x2 = x.detach().requiresGrad_();
    const w2 = w ? w.detach().requiresGrad_() : null;
    const b2 = b ? b.detach().requiresGrad_() : null;
    const mean = training ? x2.mean(dims) : tensor(rm0, { device });
    const variance = training ? x2.var(dims, false, 0) : tensor(rv0, { device });
    const want = reference(x2, mean, variance, w2, b2);
    assertClose(await y.data(), await want.data(), { rtol: 1e-4, atol: 1e-4, msg: `${what}: forward` });
    want.mul(r).sum().backward();
    const refs = await Promise.all(
      [x2.grad!, ...(affine ? [w2!.grad!, b2!.grad!] : [])].map((g) => g.data()),
    );
    fused.forEach((g, i) => assertClose(g, refs[i], { rtol: 1e-3, atol: 1e-4, msg: `${what}: grad ${i}` }));
    if (training) {
      const n = x.numel() / C;
      const m = (await x.detach().mean(dims).toArray()) as number[];
      const v = (await x.detach().var(dims, false, 1).toArray()) as number[];
      assertClose(await rm.data(), m.map((mi, i) => 0.8 * rm0[i] + 0.2 * mi), { rtol: 1e-4, atol: 1e-5 });
      assertClose(await rv.data(), v.map((vi, i) => 0.8 * rv0[i] + 0.2 * vi), {
        rtol: 1e-4,
        atol: 1e-5,
        msg: `unbiased variance over ${n} values`,
      });
    } else {
      assert.deepEqual(await rm.toArray(), rm0, "evaluation leaves the running mean alone");
    }
  }
});

forEachDevice("F.batchNorm: float16 input gives float16 output with float32 statistics", async (device) => {
  manualSeed(5);
  const x = randn([8, 4, 3, 3], { device });
  const w = randn([4], { device });
  const b = randn([4], { device });
  const y16 = F.batchNorm(x.half(), null, null, { weight: w, bias: b, training: true });
  assert.equal(y16.dtype, "float16");
  const y32 = F.batchNorm(x, null, null, { weight: w, bias: b, training: true });
  assertClose(await y16.float().data(), await y32.data(), { rtol: 1e-2, atol: 1e-2 });
});
