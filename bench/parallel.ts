/**
 * Single-process parallelism on logical WebGPU devices: DataParallel training steps per second on 1 vs 2
 * devices, and model parallelism (two stages on two devices) with and without GPipe pipelining, each beside
 * the same model on one device. Writes bench/results/parallel.json.
 *
 * ```sh
 * XDG_RUNTIME_DIR=/tmp deno run -A bench/parallel.ts [--steps 20] [--quick]
 * ```
 * @module
 */
import { gpu, manualSeed, nn, optim, parallel, randn, type Tensor, tidy } from "../mod.ts";

const args = Deno.args;
const quick = args.includes("--quick");
const stepsAt = args.indexOf("--steps");
const steps = stepsAt >= 0 ? Number(args[stepsAt + 1]) : quick ? 4 : 10;
const warmup = quick ? 1 : 3;
const WIDTH = quick ? 256 : 512;
const BATCH = quick ? 64 : 256;
/** Each configuration is measured this many times, interleaved with the others; the best run counts. */
const ROUNDS = quick ? 1 : 3;

if (!(await gpu.isAvailable())) {
  console.error("bench/parallel.ts needs WebGPU");
  Deno.exit(1);
}
const devices = await gpu.devices({ logical: 2 });
const info = (await gpu.info())!;
const D = ["webgpu", "webgpu:1"] as const;

function mlp(): nn.Sequential {
  return new nn.Sequential(
    new nn.Linear(WIDTH, WIDTH),
    new nn.ReLU(),
    new nn.Linear(WIDTH, WIDTH),
    new nn.ReLU(),
    new nn.Linear(WIDTH, WIDTH),
    new nn.ReLU(),
    new nn.Linear(WIDTH, 10),
  );
}

/** Runs `step` warmup + steps times, reading the last loss once; returns steps per second. */
async function measure(step: () => Tensor): Promise<{ stepsPerSec: number; msPerStep: number }> {
  for (let i = 0; i < warmup; i++) await step().item();
  await gpu.sync();
  const t0 = performance.now();
  let last: Tensor | null = null;
  for (let i = 0; i < steps; i++) {
    last?.dispose();
    last = step();
  }
  await last!.item(); // the only read: every device has finished the work it depends on
  await gpu.sync();
  const ms = (performance.now() - t0) / steps;
  last!.dispose();
  return { stepsPerSec: 1000 / ms, msPerStep: ms };
}

/** A step over `x` in `n` micro-batches on one device, accumulating gradients before one update. */
function accumulateStep(
  model: nn.Module & { forward(x: Tensor): Tensor },
  opt: optim.Optimizer,
  x: Tensor,
  y: Tensor,
  n: number,
) {
  const xs = parallel.chunkSizes(x.shape[0], n).map((len, i, all) => {
    const start = all.slice(0, i).reduce((a, b) => a + b, 0);
    return [x.narrow(0, start, len), y.narrow(0, start, len)] as const;
  });
  return () =>
    tidy(() => {
      opt.zeroGrad();
      let total: Tensor | null = null;
      for (const [xi, yi] of xs) {
        const loss = model.forward(xi).sub(yi).square().mean().mul(xi.shape[0] / x.shape[0]);
        loss.backward();
        total = total ? total.add(loss.detach()) : loss.detach();
      }
      opt.step();
      return total!;
    });
}

function trainStep(
  model: nn.Module & { forward(x: Tensor): Tensor },
  opt: optim.Optimizer,
  x: Tensor,
  y: Tensor,
) {
  return () =>
    tidy(() => {
      opt.zeroGrad();
      const loss = model.forward(x).sub(y).square().mean();
      loss.backward();
      opt.step();
      return loss;
    });
}

interface Config {
  name: string;
  group: "data parallel" | "model parallel";
  step: () => Tensor;
  extra?: Record<string, unknown>;
}
const configs: Config[] = [];

// ------------------------------------------------------------------ data parallelism
manualSeed(0);
{
  const x = randn([BATCH, WIDTH], { device: "webgpu" });
  const y = randn([BATCH, 10], { device: "webgpu" });
  const model = mlp().to("webgpu");
  const opt = new optim.SGD(model.parameters(), { lr: 1e-3 });
  const half = x.narrow(0, 0, BATCH / 2).contiguous();
  const yhalf = y.narrow(0, 0, BATCH / 2).contiguous();
  const dp = new parallel.DataParallel(model, { deviceIds: D });
  const dp1 = new parallel.DataParallel(model, { deviceIds: ["webgpu"] });
  const group = "data parallel";
  configs.push(
    { group, name: `1 device, batch ${BATCH}`, step: trainStep(model, opt, x, y) },
    {
      group,
      name: `1 device, batch ${BATCH / 2} (one replica's share)`,
      step: trainStep(model, opt, half, yhalf),
    },
    {
      group,
      name: `1 device, batch ${BATCH} as 2 × ${BATCH / 2} (gradient accumulation)`,
      step: accumulateStep(model, opt, x, y, 2),
    },
    { group, name: `DataParallel, 1 device, batch ${BATCH}`, step: trainStep(dp1, opt, x, y) },
    { group, name: `DataParallel, 2 logical devices, batch ${BATCH}`, step: trainStep(dp, opt, x, y) },
  );
}

// ------------------------------------------------------------------ model parallelism and pipelining
manualSeed(1);
{
  const whole = mlp().to("webgpu");
  const x = randn([BATCH, WIDTH], { device: "webgpu" });
  const y0 = randn([BATCH, 10], { device: "webgpu" });
  const y1 = y0.to("webgpu:1");
  const opt = new optim.SGD(whole.parameters(), { lr: 1e-3 });
  const group = "model parallel";
  configs.push({
    group,
    name: "whole model on 1 device",
    step: trainStep(whole, opt, x, y0),
    extra: { chunks: 0 },
  });
  for (const n of [2, 4]) {
    configs.push({
      group,
      name: `whole model on 1 device, ${n} micro-batches in sequence`,
      step: accumulateStep(whole, opt, x, y0, n),
      extra: { chunks: 0, sequential: n },
    });
  }
  manualSeed(1);
  const copy = mlp();
  const layers = [...copy.children()];
  const stage0 = new nn.Sequential(...layers.slice(0, 4)).to("webgpu");
  const stage1 = new nn.Sequential(...layers.slice(4)).to("webgpu:1");
  const opt2 = new optim.SGD([...stage0.parameters(), ...stage1.parameters()], { lr: 1e-3 });
  for (const chunks of [1, 2, 4, 8]) {
    const pipe = new parallel.Pipe([stage0, stage1], { chunks });
    const name = chunks === 1
      ? "2 stages on 2 devices, no pipelining"
      : `2 stages, pipelined, ${chunks} micro-batches`;
    configs.push({ group, name, step: trainStep(pipe, opt2, x, y1), extra: { chunks } });
  }
}

const loadBefore = Deno.loadavg();
const best = new Map<Config, { stepsPerSec: number; msPerStep: number }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const c of configs) {
    const r = await measure(c.step);
    const b = best.get(c);
    if (!b || r.msPerStep < b.msPerStep) best.set(c, r);
    console.log(`round ${round}: ${c.name.padEnd(48)} ${r.msPerStep.toFixed(1).padStart(8)} ms/step`);
  }
}
const results = configs.map((c) => ({ group: c.group, name: c.name, ...best.get(c)!, ...c.extra }));
console.log("\n| group | configuration | ms/step | steps/s |\n| --- | --- | ---: | ---: |");
for (const r of results) {
  console.log(`| ${r.group} | ${r.name} | ${r.msPerStep.toFixed(1)} | ${r.stepsPerSec.toFixed(2)} |`);
}

// ------------------------------------------------------------------ the cost of one move between devices
/** Milliseconds per move of a small tensor bouncing between the two devices (each move waits for the last). */
async function hopLatency(hops = 20): Promise<number> {
  let t = randn([4], { device: "webgpu" });
  await t.sum().item();
  const t0 = performance.now();
  for (let i = 0; i < hops; i++) t = t.to(i % 2 === 0 ? "webgpu:1" : "webgpu").add(1);
  await t.sum().item();
  return (performance.now() - t0) / hops;
}
const hops: number[] = [];
for (let round = 0; round < ROUNDS; round++) hops.push(await hopLatency());
const hopMs = Math.min(...hops);
console.log(`one move between the devices, chained: ${hopMs.toFixed(1)} ms`);

const out = {
  date: new Date().toISOString(),
  adapter: info.name,
  devices: devices.map((d) => ({ device: d.device, logical: d.logical })),
  width: WIDTH,
  batch: BATCH,
  steps,
  rounds: ROUNDS,
  /** The machine's 1, 5 and 15 minute load averages before and after: other processes share its cores. */
  loadavg: { before: loadBefore, after: Deno.loadavg() },
  /** Milliseconds per chained move of a 4-element tensor between webgpu and webgpu:1 (best round). */
  hopMs,
  results,
};
if (!quick) {
  await Deno.mkdir("bench/results", { recursive: true });
  const tmp = "bench/results/parallel.json.tmp";
  await Deno.writeTextFile(tmp, JSON.stringify(out, null, 2) + "\n");
  await Deno.rename(tmp, "bench/results/parallel.json");
  console.log("wrote bench/results/parallel.json");
}
