/**
 * Throughput and memory against batch size: for the demo's CNN (two conv + BatchNorm + pool blocks and a
 * linear classifier, as in `demo.ts`) and an MLP 784→256→128→10, both trained with Adam and
 * cross-entropy, measures for batch sizes 8..512 (or until an allocation fails):
 *
 * - samples/s of full training steps (zeroGrad, forward, loss, backward, Adam step), timed over a run of
 *   steps with one read at the end (the loss of the last step), median of `--repeats` interleaved runs;
 * - the peak GPU memory of a step (`gpu.resetPeakMemory()` before, `gpu.memory().peak` after), and the part of
 *   it above what the model, gradients and optimizer state hold between steps (activations and temporaries).
 *
 * The inputs are fixed random batches already on the device (the data loader is measured by
 * `bench/dataloader.ts`). Prints a Markdown table and one JSON line; `--out FILE` also writes the JSON.
 *
 * ```sh
 * deno run -A bench/batch_size.ts [--device webgpu|cpu] [--sizes 8,16,...,512] [--budget-ms 1500]
 *   [--repeats 3] [--models cnn,mlp] [--out bench/results/2026-11-23-batch-size.json]
 * ```
 * @module
 */
import { F, gpu, manualSeed, nn, optim, randint, randn, type Tensor, tidy } from "../mod.ts";
import { demoCnn } from "./models.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

const device = arg("device", gpu.defaultDevice()) as "webgpu" | "cpu";
const sizes = arg("sizes", "8,16,32,64,128,256,512").split(",").map(Number);
const budgetMs = Number(arg("budget-ms", "1500"));
const repeats = Number(arg("repeats", "3"));
const models = arg("models", "cnn,mlp").split(",");
const outPath = Deno.args.includes("--out") ? arg("out", "") : null;

/** An MLP 784→256→128→10 (235K parameters). */
function mlp(): nn.Sequential {
  return new nn.Sequential(
    new nn.Flatten(),
    new nn.Linear(784, 256),
    new nn.ReLU(),
    new nn.Linear(256, 128),
    new nn.ReLU(),
    new nn.Linear(128, 10),
  );
}

const builders: Record<string, () => nn.Sequential> = { cnn: demoCnn, mlp };

/** One row of the result. */
interface Row {
  model: string;
  batchSize: number;
  /** Steps per timed run. */
  steps: number;
  msPerStep: number;
  samplesPerSec: number;
  /** Peak bytes in use during a step. */
  peakBytes: number;
  /** Bytes in use between steps (parameters, gradients, optimizer state, the input batch). */
  baseBytes: number;
  /** peak − base: activations and temporaries of one step. */
  stepBytes: number;
  /** Every timed run's ms/step (the median is msPerStep). */
  runs: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const memory = () => device === "webgpu" ? gpu.memory() : null;

async function measure(name: string, batchSize: number): Promise<Row> {
  manualSeed(0);
  const model = builders[name]().to(device);
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const x = randn([batchSize, 1, 28, 28], { device });
  const y = randint(0, 10, [batchSize], { device });
  const step = (): Tensor => {
    opt.zeroGrad();
    const loss = tidy(() => F.crossEntropy(model.forward(x), y));
    loss.backward();
    opt.step();
    return loss;
  };
  const run = async (steps: number): Promise<number> => {
    let last: Tensor | null = null;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      last?.dispose();
      last = step();
    }
    await last!.item(); // the only read: waits for every step
    const ms = performance.now() - t0;
    last!.dispose();
    return ms / steps;
  };
  try {
    // warm-up: kernels compile, Adam creates its state, the pool fills
    const warm = await run(2);
    const steps = Math.max(3, Math.min(50, Math.round(budgetMs / warm)));
    await run(1);
    const base = memory()?.inUse ?? 0;
    gpu.resetPeakMemory();
    const runs: number[] = [];
    for (let r = 0; r < repeats; r++) runs.push(await run(steps));
    const peak = memory()?.peak ?? 0;
    const msPerStep = median(runs);
    return {
      model: name,
      batchSize,
      steps,
      msPerStep,
      samplesPerSec: (batchSize * 1000) / msPerStep,
      peakBytes: peak,
      baseBytes: base,
      stepBytes: peak - base,
      runs,
    };
  } finally {
    opt.zeroGrad();
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
    gpu.emptyCache();
  }
}

const info = await gpu.info();
const adapter = device === "webgpu" ? info?.name ?? "none" : "cpu (reference backend)";
const rows: Row[] = [];
const failures: { model: string; batchSize: number; error: string }[] = [];
for (const name of models) {
  if (!builders[name]) throw new Error(`unknown model "${name}": expected one of ${Object.keys(builders)}`);
  for (const bs of sizes) {
    try {
      const row = await measure(name, bs);
      rows.push(row);
      console.error(
        `${name} batch ${bs}: ${row.msPerStep.toFixed(1)} ms/step, ${
          row.samplesPerSec.toFixed(0)
        } samples/s, ` +
          `peak ${(row.peakBytes / 2 ** 20).toFixed(2)} MiB`,
      );
    } catch (e) {
      // out of memory (or a buffer over the adapter's limit): larger batches would fail too
      failures.push({ model: name, batchSize: bs, error: (e as Error).message.slice(0, 300) });
      console.error(`${name} batch ${bs}: failed: ${(e as Error).message.slice(0, 300)}`);
      break;
    }
  }
}

const mib = (b: number) => (b / 2 ** 20).toFixed(2);
console.log(`\nadapter: ${adapter}; device ${device}; Adam; median of ${repeats} runs\n`);
console.log("| model | batch | ms/step | samples/s | peak MiB | held between steps MiB | step's own MiB |");
console.log("| ----- | ----: | ------: | --------: | -------: | ---------------------: | -------------: |");
for (const r of rows) {
  console.log(
    `| ${r.model} | ${r.batchSize} | ${r.msPerStep.toFixed(1)} | ${r.samplesPerSec.toFixed(0)} | ` +
      `${mib(r.peakBytes)} | ${mib(r.baseBytes)} | ${mib(r.stepBytes)} |`,
  );
}
const result = {
  bench: "batch-size",
  date: new Date().toISOString(),
  adapter,
  isSoftware: info?.isSoftware ?? null,
  device,
  optimizer: "Adam",
  repeats,
  budgetMs,
  models: { cnn: "demo CNN conv16-BN-pool-conv32-BN-pool-linear", mlp: "MLP 784-256-128-10" },
  rows,
  failures,
};
console.log(JSON.stringify(result));
if (outPath) {
  const tmp = `${outPath}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(result, null, 2) + "\n");
  await Deno.rename(tmp, outPath);
}
