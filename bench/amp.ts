/**
 * Mixed precision (`amp.autocast` + `amp.GradScaler`) against float32 on the same adapter, same run:
 *
 * 1. step time, dispatches and peak memory (`gpu.memory().peak` after `gpu.resetPeakMemory()`) of a training
 *    step of a matmul-heavy MLP 784-1024-1024-10 (batch 256, Adam with lr 0, see `trainer`) and of the demo's
 *    CNN (demo.ts; batch 64), float32 and AMP in alternating rounds;
 * 2. square matmul GFLOP/s in float32 and float16 (why AMP is or is not faster on this adapter);
 * 3. Fashion-MNIST convergence: MLP 784-256-128-100-10, Adam 1e-3, batch 128, same seed, f32 vs AMP, test
 *    accuracy after each epoch.
 *
 * Writes bench/results/amp.json (read by notebooks/06-mixed-precision.ipynb).
 *
 * ```sh
 * XDG_RUNTIME_DIR=/tmp deno run -A bench/amp.ts              # both parts (3 epochs)
 * XDG_RUNTIME_DIR=/tmp deno run -A bench/amp.ts --part steps --steps 5   # or --part converge|matmul
 * ```
 * @module
 */
import {
  amp,
  data,
  F,
  gpu,
  manualSeed,
  nn,
  noGrad,
  optim,
  randint,
  randn,
  type Tensor,
  tidy,
} from "../mod.ts";
import { demoCnn, mlpNet } from "./models.ts";

const args = Deno.args;
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const epochs = arg("--epochs", 3);
const steps = arg("--steps", 10);
const device = gpu.defaultDevice();
const info = await gpu.info();
const adapter = info ? `${info.name} (${info.backend}${info.f16 ? ", shader-f16" : ""})` : "cpu";

function mlpBig(): nn.Sequential {
  return new nn.Sequential(
    new nn.Flatten(),
    new nn.Linear(784, 1024),
    new nn.ReLU(),
    new nn.Linear(1024, 1024),
    new nn.ReLU(),
    new nn.Linear(1024, 10),
  );
}

/** One training step: autocast forward + scaled backward + scaler step when `useAmp`. */
function trainStep(
  model: nn.Sequential,
  opt: optim.Optimizer,
  scaler: amp.GradScaler | null,
  x: Tensor,
  y: Tensor,
): Tensor {
  opt.zeroGrad();
  const loss = scaler
    ? amp.autocast(() => F.crossEntropy(model.forward(x), y))
    : F.crossEntropy(model.forward(x), y);
  if (scaler) {
    const scaled = scaler.scale(loss);
    scaled.backward();
    scaled.dispose();
    scaler.step(opt);
    scaler.update();
  } else {
    loss.backward();
    opt.step();
  }
  return loss;
}

interface StepResult {
  model: string;
  batch: number;
  mode: "float32" | "amp";
  /** Median over rounds of the mean step time of a round. */
  msPerStep: number;
  /** Every round's mean step time. */
  roundsMs: number[];
  peakMiB: number;
  /** Compute dispatches per step (`gpu.stats().dispatches`). */
  dispatchesPerStep: number;
  finalLoss: number;
}

interface Trainer {
  model: nn.Sequential;
  opt: optim.Adam;
  scaler: amp.GradScaler | null;
  x: Tensor;
  y: Tensor;
}

function trainer(make: () => nn.Sequential, shape: number[], batch: number, useAmp: boolean): Trainer {
  manualSeed(0);
  const model = make().to(device);
  return {
    model,
    // lr 0: every timed step computes on the same values (a model memorizing one fixed batch would drive
    // its loss and gradients to 0 over the rounds), so that rounds compare like with like
    opt: new optim.Adam(model.parameters(), { lr: 0 }),
    scaler: useAmp ? new amp.GradScaler() : null,
    x: randn([batch, ...shape], { device }),
    y: randint(0, 10, [batch], { device }),
  };
}

/** Runs `n` steps and waits for them; returns the mean ms per step, the last loss and dispatches per step. */
async function timed(t: Trainer, n: number): Promise<[number, number, number]> {
  await gpu.sync(device);
  const d0 = gpu.stats(device).dispatches;
  const t0 = performance.now();
  let last: Tensor | null = null;
  for (let i = 0; i < n; i++) {
    last?.dispose();
    last = trainStep(t.model, t.opt, t.scaler, t.x, t.y);
  }
  const ms = (performance.now() - t0) / n;
  const dispatches = (gpu.stats(device).dispatches - d0) / n;
  const loss = await last!.item();
  last!.dispose();
  return [ms, loss, dispatches];
}

function free(t: Trainer): void {
  t.opt.zeroGrad(); // frees the gradients
  t.opt.dispose();
  t.scaler?.dispose();
  for (const p of t.model.parameters()) p.dispose();
  for (const b of t.model.buffers()) b.dispose();
  t.x.dispose();
  t.y.dispose();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round1 = (v: number) => Math.round(v * 10) / 10;

/**
 * float32 and AMP in alternating rounds of `steps` steps (so that a busy machine slows both alike); the
 * peak memory of each is measured alone, over one round, after the other's trainer is freed.
 */
async function stepBench(
  name: string,
  make: () => nn.Sequential,
  shape: number[],
  batch: number,
  rounds = 4,
): Promise<StepResult[]> {
  const out: StepResult[] = [];
  const times: Record<string, number[]> = { float32: [], amp: [] };
  const losses: Record<string, number> = {};
  const dispatches: Record<string, number> = {};
  {
    const ts = { float32: trainer(make, shape, batch, false), amp: trainer(make, shape, batch, true) };
    for (const t of Object.values(ts)) await timed(t, 3); // warm-up: pipelines compiled, pools filled
    for (let r = 0; r < rounds; r++) {
      for (const [mode, t] of Object.entries(ts)) {
        const [ms, loss, d] = await timed(t, steps);
        times[mode].push(ms);
        losses[mode] = loss;
        dispatches[mode] = d;
      }
    }
    for (const t of Object.values(ts)) free(t);
  }
  for (const mode of ["float32", "amp"] as const) {
    const t = trainer(make, shape, batch, mode === "amp");
    await timed(t, 2);
    gpu.resetPeakMemory(device);
    await timed(t, 2);
    const peak = gpu.memory(device).peak;
    free(t);
    const r: StepResult = {
      model: name,
      batch,
      mode,
      msPerStep: round1(median(times[mode])),
      roundsMs: times[mode].map(round1),
      peakMiB: round1(peak / 2 ** 20),
      dispatchesPerStep: Math.round(dispatches[mode]),
      finalLoss: losses[mode],
    };
    console.log(JSON.stringify(r));
    out.push(r);
  }
  return out;
}

const part = args.includes("--part") ? args[args.indexOf("--part") + 1] : "all";

/** Square matmul GFLOP/s in float32 and float16 (f16 storage, f32 accumulation), alternating, median of 5. */
async function matmulBench(n: number): Promise<{ n: number; float32: number; float16: number }> {
  const a = randn([n, n], { device });
  const b = randn([n, n], { device });
  const h = [a.half(), b.half()];
  const times: Record<string, number[]> = { float32: [], float16: [] };
  for (let r = 0; r < 6; r++) {
    for (const [mode, [x, y]] of [["float32", [a, b]], ["float16", h]] as const) {
      await gpu.sync(device);
      const t0 = performance.now();
      const outs = [0, 1, 2].map(() => x.matmul(y));
      await gpu.sync(device);
      if (r > 0) times[mode].push((performance.now() - t0) / 3);
      for (const o of outs) o.dispose();
    }
  }
  for (const t of [a, b, ...h]) t.dispose();
  const gflops = (ms: number) => round1((2 * n ** 3) / (ms * 1e6));
  const r = { n, float32: gflops(median(times.float32)), float16: gflops(median(times.float16)) };
  console.log(JSON.stringify({ matmulGflops: r }));
  return r;
}

const stepResults: StepResult[] = [];
const matmulResults: { n: number; float32: number; float16: number }[] = [];
if (part === "matmul" || part === "all") {
  for (const n of [512, 1024]) matmulResults.push(await matmulBench(n));
}
if (part === "steps" || part === "all") {
  stepResults.push(...await stepBench("MLP 784-1024-1024-10", mlpBig, [784], 256));
  stepResults.push(...await stepBench("demo CNN (2 conv+BN+pool, FC)", demoCnn, [1, 28, 28], 64));
}

interface ConvergenceRun {
  mode: "float32" | "amp";
  accuracy: number[];
  seconds: number;
  finalScale: number | null;
  skippedSteps: number | null;
}

const norm = data.normalize(0.2860, 0.3530);
const train = part !== "converge" && part !== "all"
  ? null!
  : await data.FashionMNIST.load({ train: true, transform: norm });
const test = part !== "converge" && part !== "all"
  ? null!
  : await data.FashionMNIST.load({ train: false, transform: norm });

async function evaluate(model: nn.Sequential): Promise<number> {
  model.eval();
  const loader = new data.DataLoader(test, { batchSize: 500, device });
  const hits: Tensor[] = [];
  for await (const [x, y] of loader) {
    hits.push(noGrad(() => tidy(() => model.forward(x).argmax(1).eq(y).float().sum())));
    x.dispose();
    y.dispose();
  }
  let correct = 0;
  for (const h of hits) {
    correct += await h.item();
    h.dispose();
  }
  model.train();
  return correct / test.length;
}

async function converge(useAmp: boolean): Promise<ConvergenceRun> {
  manualSeed(0);
  const model = mlpNet().to(device);
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const scaler = useAmp ? new amp.GradScaler() : null;
  const loader = new data.DataLoader(train, { batchSize: 128, shuffle: true, seed: 0, prefetch: 2, device });
  const accuracy: number[] = [];
  const t0 = performance.now();
  for (let e = 0; e < epochs; e++) {
    for await (const [x, y] of loader) {
      trainStep(model, opt, scaler, x, y).dispose();
      x.dispose();
      y.dispose();
    }
    accuracy.push(await evaluate(model));
    console.log(`${useAmp ? "amp" : "float32"} epoch ${e + 1}: test accuracy ${accuracy.at(-1)}`);
  }
  const run: ConvergenceRun = {
    mode: useAmp ? "amp" : "float32",
    accuracy,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    finalScale: scaler ? await scaler.getScale() : null,
    skippedSteps: scaler ? await scaler.skippedSteps() : null,
  };
  opt.dispose();
  scaler?.dispose();
  return run;
}

const path = new URL("./results/amp.json", import.meta.url);
// a partial run (--part steps|converge) keeps the other part of an earlier result
let previous: Record<string, unknown> = {};
try {
  previous = JSON.parse(await Deno.readTextFile(path));
} catch { /* first run */ }
const convergence = part !== "converge" && part !== "all" ? null : {
  model: "MLP 784-256-128-100-10",
  recipe: `Adam 1e-3, batch 128, normalize, seed 0, ${epochs} epochs, full 60k/10k`,
  date: new Date().toISOString(),
  runs: [await converge(false), await converge(true)],
};
const result = {
  ...previous,
  date: new Date().toISOString(),
  adapter,
  device,
  deno: Deno.version.deno,
  ...(part === "steps" || part === "all" ? { steps, stepResults } : {}),
  ...(part === "matmul" || part === "all" ? { matmulGflops: matmulResults } : {}),
  ...(convergence ? { convergence } : {}),
};
console.log(JSON.stringify(result));
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
const tmp = new URL("./results/amp.json.tmp", import.meta.url);
await Deno.writeTextFile(tmp, JSON.stringify(result, null, 2) + "\n");
await Deno.rename(tmp, path);
