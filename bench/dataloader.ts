/**
 * Does the data loader hide its uploads behind the GPU's work? Times a slice of an epoch of a small
 * training-like loop (an MLP 784→hidden→10 with Adam on Fashion-MNIST, or synthetic images when Debian's
 * `dataset-fashion-mnist` is absent) on WebGPU, four ways:
 *
 * - `compute only`: the same batch, already on the GPU, every step (the floor);
 * - `loader only`: batches assembled and uploaded, no step (the cost to hide);
 * - `prefetch 0`: the loader feeding the step, each batch made when the loop asks for it;
 * - `prefetch N`: the next N batches made and uploaded while the current step runs.
 *
 * The upload is hidden when `prefetch N` approaches `compute only`, i.e. when
 * `prefetch 0 − prefetch N` approaches `loader only`. The time the JS thread spends blocked inside
 * `GPUQueue.submit` is printed too: on a software adapter (lavapipe) the submit runs the work before it
 * returns, which leaves nothing for an upload to overlap with. `profile()` of one step gives the GPU time
 * of its kernels (timestamp queries), the other half of the overlap budget: with perfect overlap a step
 * would take max(GPU time, everything else), not their sum.
 *
 * ```sh
 * deno run -A bench/dataloader.ts [--steps 40] [--batch 128] [--hidden 256] [--prefetch 2] [--repeats 3]
 *   [--out bench/results/2026-11-23-dataloader.json]
 * ```
 * @module
 */
import { data, F, gpu, nn, optim, profile, type Tensor, tidy } from "../mod.ts";

/** Milliseconds the JS thread spent inside `GPUQueue.submit` (lavapipe runs the work there, synchronously). */
let submitMs = 0;
const queueProto = GPUQueue.prototype as unknown as { submit: (...a: unknown[]) => unknown };
const submit = queueProto.submit;
queueProto.submit = function (this: GPUQueue, ...a: unknown[]) {
  const t0 = performance.now();
  try {
    return submit.apply(this, a);
  } finally {
    submitMs += performance.now() - t0;
  }
};

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const steps = arg("steps", 40);
const batchSize = arg("batch", 128);
const hidden = arg("hidden", 256);
const prefetch = arg("prefetch", 2);
const repeats = arg("repeats", 3);

if (!(await gpu.isAvailable())) {
  console.log(`bench/dataloader: WebGPU unavailable (${gpu.unavailableReason()}); nothing to measure`);
  Deno.exit(0);
}
const device = "webgpu";
const info = await gpu.info();

let dataset: data.ImageClassificationDataset;
let source: string;
try {
  dataset = await data.FashionMNIST.load({ train: true });
  source = "Fashion-MNIST train";
} catch {
  const n = 10000;
  const pixels = new Uint8Array(n * 28 * 28).map((_, i) => (i * 2654435761) >>> 24);
  dataset = new data.ImageClassificationDataset(
    pixels,
    Int32Array.from({ length: n }, (_, i) => i % 10),
    [28, 28],
    [..."0123456789"],
  );
  source = "synthetic 28×28";
}

const model = new nn.Sequential(
  new nn.Flatten(),
  new nn.Linear(784, hidden),
  new nn.ReLU(),
  new nn.Linear(hidden, 10),
);
model.to(device);
const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });

/** One training step; returns the loss (not read). */
function step(x: Tensor, y: Tensor): Tensor {
  opt.zeroGrad();
  const loss = tidy(() => F.crossEntropy(model.forward(x) as Tensor, y));
  loss.backward();
  opt.step();
  return loss;
}

async function timeLoader(pf: number, compute: boolean): Promise<number> {
  const loader = new data.DataLoader(dataset, { batchSize, shuffle: true, seed: 0, device, prefetch: pf });
  let last: Tensor | null = null;
  let k = 0;
  const t0 = performance.now();
  for await (using batch of loader) {
    if (compute) {
      last?.dispose();
      last = step(batch[0], batch[1]);
    }
    if (++k === steps) break;
  }
  if (last) await last.item();
  else await gpu.sync();
  const ms = performance.now() - t0;
  last?.dispose();
  return ms / steps;
}

async function timeComputeOnly(): Promise<number> {
  const [x, y] = dataset.getBatch(
    new data.RandomGenerator(0).permutation(dataset.length).subarray(0, batchSize),
    {
      device,
      generator: new data.RandomGenerator(0),
    },
  );
  await y.data(); // uploaded before the clock starts
  let last: Tensor | null = null;
  const t0 = performance.now();
  for (let k = 0; k < steps; k++) {
    last?.dispose();
    last = step(x, y);
  }
  await last!.item();
  const ms = performance.now() - t0;
  for (const t of [last!, x, y]) t.dispose();
  return ms / steps;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const runs: Record<string, () => Promise<number>> = {
  "compute only": timeComputeOnly,
  "loader only": () => timeLoader(0, false),
  "prefetch 0": () => timeLoader(0, true),
  [`prefetch ${prefetch}`]: () => timeLoader(prefetch, true),
};
for (const run of Object.values(runs)) await run(); // warm-up: pipelines compile, the pool fills
// Interleaved repeats, so that drift (other processes on the machine) hits every variant alike.
const times: Record<string, number[]> = {};
const blocked: Record<string, number[]> = {};
for (let r = 0; r < repeats; r++) {
  for (const [name, run] of Object.entries(runs)) {
    submitMs = 0;
    (times[name] ??= []).push(await run());
    (blocked[name] ??= []).push(submitMs / steps);
  }
}
const results: Record<string, number> = {};
const submitBlocked: Record<string, number> = {};
for (const name of Object.keys(runs)) {
  results[name] = median(times[name]);
  submitBlocked[name] = median(blocked[name]);
}

console.log(
  `adapter: ${info?.name}${
    info?.isSoftware ? " (software)" : ""
  }; data: ${source}; MLP 784→${hidden}→10, Adam; ` +
    `batch ${batchSize}; ${steps} steps; median of ${repeats}`,
);
for (const [name, ms] of Object.entries(results)) {
  const b = submitBlocked[name].toFixed(2);
  console.log(
    `${name.padEnd(14)} ${ms.toFixed(2).padStart(8)} ms/step  (JS blocked in queue.submit: ${b} ms/step)`,
  );
}
// GPU time of one step's kernels (median of 3 profiled steps on the resident batch)
const [px, py] = dataset.getBatch(
  new data.RandomGenerator(0).permutation(dataset.length).subarray(0, batchSize),
  { device, generator: new data.RandomGenerator(0) },
);
const gpuMs: number[] = [];
const profiledWall: number[] = [];
for (let r = 0; r < 3; r++) {
  const p = await profile(async () => {
    const loss = step(px, py);
    await loss.item();
    loss.dispose();
  });
  gpuMs.push(p.opMs);
  profiledWall.push(p.wallMs);
}
const gpuMsPerStep = median(gpuMs);
px.dispose();
py.dispose();
console.log(
  `GPU time of a step's kernels (timestamp queries): ${gpuMsPerStep.toFixed(2)} ms of a ${
    median(profiledWall).toFixed(2)
  } ms profiled step; the rest is JavaScript, submits and the read`,
);
const cost = results["prefetch 0"] - results["compute only"];
const left = results[`prefetch ${prefetch}`] - results["compute only"];
console.log(
  `loading adds ${cost.toFixed(2)} ms/step without prefetch and ${
    left.toFixed(2)
  } ms/step with prefetch ${prefetch}` +
    ` (${cost > 0 ? Math.max(0, Math.min(100, (1 - left / cost) * 100)).toFixed(0) : "—"}% of it hidden)`,
);
console.log(
  JSON.stringify({
    bench: "dataloader",
    adapter: info?.name,
    source,
    batchSize,
    hidden,
    steps,
    results,
    submitBlocked,
    gpuMsPerStep,
  }),
);
const outIdx = Deno.args.indexOf("--out");
if (outIdx >= 0) {
  const out = Deno.args[outIdx + 1];
  const json = {
    bench: "dataloader",
    date: new Date().toISOString(),
    adapter: info?.name,
    isSoftware: info?.isSoftware,
    source,
    model: `MLP 784-${hidden}-10, Adam`,
    batchSize,
    steps,
    repeats,
    prefetch,
    msPerStep: results,
    submitBlockedMsPerStep: submitBlocked,
    gpuMsPerStep,
  };
  await Deno.writeTextFile(`${out}.tmp`, JSON.stringify(json, null, 2) + "\n");
  await Deno.rename(`${out}.tmp`, out);
}
