/**
 * denograd's side of the benchmark workloads, with the same command line and one-JSON-line output as the
 * peer scripts in `bench/peers/` (see `bench/peers/README.md` for what each number means):
 *
 * ```sh
 * deno run -A bench/ours.ts matmul 256,512,1024,2048 --max-seconds 60
 * deno run -A bench/ours.ts chain 50
 * deno run -A bench/ours.ts dispatch 1000
 * deno run -A bench/ours.ts nograd-memory
 * ```
 * @module
 */
import { F, gpu, nn, noGrad, optim, randn, type Tensor, tensor, tidy } from "../mod.ts";
import {
  CHAIN_LEN,
  chainResult,
  CNN_MODEL,
  cnnData,
  countGpuDispatches,
  DEFAULT_MATMUL_SIZES,
  DEFAULT_STEPS,
  dispatchData,
  dispatchResult,
  intArg,
  LR,
  matmulSweep,
  MLP_MODEL,
  mlpData,
  now,
  parseCli,
  quietStdout,
  round,
  sizeList,
  stepResult,
  USAGE,
  WARMUP_STEPS,
} from "./peers/common.ts";

const emit = quietStdout();
const cli = parseCli(Deno.args);
const device = cli.device === "cpu" ? "cpu" : "webgpu";
if (device === "webgpu" && !(await gpu.isAvailable())) {
  emit({ peer: "denograd", error: `WebGPU unavailable: ${gpu.unavailableReason()}` });
  Deno.exit(1);
}
const dispatches = countGpuDispatches();
const info = await gpu.info();
const base = {
  peer: `denograd-${device}`,
  workload: cli.workload,
  backend: device,
  adapter: info ? `${info.name}${info.isSoftware ? " [fallback adapter]" : ""}` : "none",
};
const t0 = now();

async function matmul(): Promise<unknown> {
  const sizes = sizeList(cli.arg, DEFAULT_MATMUL_SIZES);
  return await matmulSweep(sizes, cli.maxSeconds, (n) => {
    const a = randn([n, n], { device });
    const b = randn([n, n], { device });
    const outs: Tensor[] = [];
    return Promise.resolve({
      issue() {
        outs.push(a.matmul(b));
        // keep at most two products alive: the pool recycles the rest
        while (outs.length > 2) outs.shift()!.dispose();
      },
      async sync() {
        await outs[outs.length - 1].narrow(0, 0, 1).narrow(1, 0, 1).item();
      },
      dispose() {
        for (const t of [a, b, ...outs]) t.dispose();
      },
    });
  });
}

async function chain(): Promise<unknown> {
  const reps = intArg(cli.arg, 50);
  const x = randn([CHAIN_LEN], { device });
  const a = randn([CHAIN_LEN], { device });
  const b = randn([CHAIN_LEN], { device });
  const c = randn([CHAIN_LEN], { device });
  const run = () => {
    const t1 = x.mul(a);
    const t2 = t1.add(b);
    t1.dispose();
    const t3 = t2.relu();
    t2.dispose();
    const t4 = t3.mul(c);
    t3.dispose();
    const y = t4.sub(x);
    t4.dispose();
    return y;
  };
  for (let i = 0; i < 3; i++) run().dispose();
  await gpu.sync();
  const d0 = dispatches();
  const start = now();
  let last: Tensor | null = null;
  for (let i = 0; i < reps; i++) {
    last?.dispose();
    last = run();
  }
  await last!.narrow(0, 0, 1).item();
  const total = now() - start;
  return [chainResult("eager", reps, total, { gpu_dispatches_per_chain: round((dispatches() - d0) / reps) })];
}

async function dispatch(): Promise<unknown> {
  const ops = intArg(cli.arg, 1000);
  const trials: number[] = [];
  let finalValue = 0;
  for (let trial = -1; trial < 3; trial++) {
    let x = tensor(dispatchData(), { device });
    await x.data();
    const n = trial < 0 ? 100 : ops;
    const start = now();
    for (let i = 0; i < n; i++) {
      const y = x.add(1);
      x.dispose();
      x = y;
    }
    const d = await x.data();
    if (trial >= 0) trials.push(now() - start);
    finalValue = d[0];
    x.dispose();
  }
  return [dispatchResult("eager", ops, trials, { final_value: finalValue })];
}

/** Peak memory of an MLP forward with and without autograd recording (what noGrad saves). */
async function nogradMemory(): Promise<unknown> {
  const sizes = [512, 1024, 1024, 10];
  const batch = 256;
  const ws = sizes.slice(1).map((n, i) => randn([sizes[i], n], { device, requiresGrad: true }));
  const x = randn([batch, sizes[0]], { device });
  // each intermediate is disposed as soon as the next layer has used it, as a tidy forward does: without
  // grad its memory is recycled at once; with grad the graph keeps what backward needs
  const forward = () => {
    let h: Tensor = x;
    ws.forEach((w, i) => {
      const z = h.matmul(w);
      if (h !== x) h.dispose();
      h = i < ws.length - 1 ? z.relu() : z;
      if (h !== z) z.dispose();
    });
    return h;
  };
  const measure = async (grad: boolean) => {
    await gpu.sync();
    gpu.resetPeakMemory();
    const before = gpu.memory().inUse;
    const out = grad ? forward() : noGrad(forward);
    const afterForward = gpu.memory().inUse - before;
    const s = out.sum();
    await s.item();
    s.dispose();
    const peak = gpu.memory().peak - before;
    out.gradFn?.release(); // drop the graph (backward would do it)
    out.dispose();
    return { peak_bytes: peak, in_use_after_forward_bytes: afterForward };
  };
  const withGrad = await measure(true);
  const without = await measure(false);
  return [{
    model: `MLP ${sizes.join("-")}, batch ${batch}, float32`,
    with_grad: withGrad,
    no_grad: without,
    saved_bytes: withGrad.peak_bytes - without.peak_bytes,
    ratio: round(without.peak_bytes / withGrad.peak_bytes),
  }];
}

/** The peers' training step (same data, weights, loss and SGD): steps/s after warm-up, one read at the end. */
async function trainLoop(
  model: nn.Sequential,
  x: Tensor,
  y: Tensor,
  mode: string,
  extra: Record<string, unknown>,
) {
  const steps = intArg(cli.arg, DEFAULT_STEPS);
  const opt = new optim.SGD(model.parameters(), { lr: LR });
  const step = () => {
    opt.zeroGrad();
    const loss = tidy(() => F.crossEntropy(model.forward(x), y));
    loss.backward();
    opt.step();
    return loss;
  };
  const first = step();
  const lossFirst = await first.item();
  first.dispose();
  for (let i = 1; i < WARMUP_STEPS; i++) step().dispose();
  await gpu.sync();
  const d0 = dispatches();
  const t = now();
  let loss: Tensor | undefined;
  for (let i = 0; i < steps; i++) {
    loss?.dispose();
    loss = step();
  }
  const lossLast = await loss!.item();
  const total = now() - t;
  return [stepResult(mode, steps, total, lossFirst, lossLast, {
    gpu_dispatches_per_step: round((dispatches() - d0) / steps),
    ...extra,
  })];
}

function setWeights(layer: nn.Module, w: Float32Array, shape: number[], b: Float32Array, transpose = false) {
  const wt = tensor(w, { shape: transpose ? [shape[1], shape[0]] : shape, device });
  const sd = { weight: transpose ? wt.transpose(0, 1).contiguous() : wt, bias: tensor(b, { device }) };
  layer.loadStateDict(sd);
}

async function mlpStep(): Promise<unknown> {
  const d = mlpData();
  const l1 = new nn.Linear(784, 256, { device });
  const l2 = new nn.Linear(256, 10, { device });
  // the peers keep weights as [in, out]; nn.Linear's are [out, in]
  setWeights(l1, d.w1, [256, 784], d.b1, true);
  setWeights(l2, d.w2, [10, 256], d.b2, true);
  const model = new nn.Sequential(l1, new nn.ReLU(), l2);
  const x = tensor(d.x, { shape: [d.batch, 784], device });
  const y = tensor(d.y, { shape: [d.batch, 10], device });
  return await trainLoop(model, x, y, "eager, optim.SGD", { model: MLP_MODEL });
}

async function cnnStep(): Promise<unknown> {
  const d = cnnData();
  const c1 = new nn.Conv2d(1, 16, 3, { device });
  const c2 = new nn.Conv2d(16, 32, 3, { device });
  const fc = new nn.Linear(800, 10, { device });
  setWeights(c1, d.c1w, [16, 1, 3, 3], d.c1b);
  setWeights(c2, d.c2w, [32, 16, 3, 3], d.c2b);
  setWeights(fc, d.fw, [10, 800], d.fb, true);
  const model = new nn.Sequential(
    c1,
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    c2,
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    fc,
  );
  const x = tensor(d.x, { shape: [d.batch, 1, 28, 28], device });
  const y = tensor(d.y, { shape: [d.batch, 10], device });
  return await trainLoop(model, x, y, "eager, optim.SGD", { model: CNN_MODEL });
}

const workloads: Record<string, () => Promise<unknown>> = {
  "mlp-step": mlpStep,
  "cnn-step": cnnStep,
  matmul,
  chain,
  dispatch,
  "nograd-memory": nogradMemory,
};

const run = workloads[cli.workload];
if (!run) {
  emit({ ...base, error: USAGE });
  Deno.exit(2);
}
try {
  const results = await run();
  emit({ ...base, results, engine: gpu.stats(), wall_s: round((now() - t0) / 1000) });
} catch (e) {
  emit({ ...base, error: String((e as Error).stack ?? e) });
  Deno.exit(1);
}
