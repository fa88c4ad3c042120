/**
 * Soak: trains the demo's CNN (two conv + BatchNorm + ReLU + max-pool blocks and a linear classifier, Adam,
 * cross-entropy) on seeded Fashion-MNIST batches for many steps, sampling `gpu.memory()` as it goes, twice
 * from the same seed. It reports the growth of in-use and allocated GPU memory after warm-up (the target is
 * zero) and whether the two runs' losses are bit-identical (the target on one adapter).
 *
 * `deno task soak` runs 10 000 steps at batch 16, then a second run of the first 1 000 steps from the same
 * seed whose losses must match bit for bit (`--steps N`, `--runs R`, `--compare-steps N` for the runs after
 * the first, `--batch B`, `--warmup W`, `--sample-every S`, `--seed S`, `--out FILE`), and writes a JSON under
 * bench/results/. On 2 shared cores a batch-64 step of this model takes ~0.8 s, so 2 × 10 000 steps of the
 * demo's own batch size would take most of a day: batch 16 keeps the same model and kernels in an hour.
 * tests/soak_test.ts runs a short version through {@linkcode soakRun}.
 * @module
 */
import { data, F, gpu, manualSeed, optim, stack, type Tensor, tidy } from "../mod.ts";
import { demoCnn } from "./models.ts";

/** Options of one soak run. */
export interface SoakOptions {
  /** Training steps. */
  steps: number;
  /** Global and loader seed. */
  seed?: number;
  /** Batch size (the demo's 64 by default). */
  batchSize?: number;
  /** Sample memory (and read the losses) every this many steps. */
  sampleEvery?: number;
  /** Called after every sample (progress output). */
  onSample?: (s: MemorySample) => void;
}

/** `gpu.memory()` after a step, once the queued work has finished. */
export interface MemorySample {
  /** Steps done. */
  step: number;
  /** Bytes held by live tensors. */
  inUse: number;
  /** Bytes the pool holds from the driver. */
  allocated: number;
  /** Milliseconds since the run started. */
  ms: number;
  /**
   * Whether the step was the last batch of an epoch: the loader then holds no prefetched batches (two
   * batches fewer in use), so these samples are reported but left out of the growth figures.
   */
  epochEnd: boolean;
}

/** What one soak run measured. */
export interface SoakRun {
  /** The loss of every step, as float32 values read from the device. */
  losses: Float32Array;
  /** Memory samples every `sampleEvery` steps. */
  samples: MemorySample[];
  /** Wall time of the run in seconds. */
  seconds: number;
}

let trainSet: data.Dataset | null = null;

/**
 * Trains the demo CNN for `steps` steps on WebGPU from `seed`. Losses stay on the device and are read in one
 * transfer per sample; memory is sampled after that read (so the sampled figure holds only the model, the
 * optimizer state, the loader's prefetched batches and the pool's caches).
 */
export async function soakRun(opts: SoakOptions): Promise<SoakRun> {
  const { steps, seed = 0, batchSize = 64, sampleEvery = 100 } = opts;
  trainSet ??= await data.FashionMNIST.load({ train: true, transform: data.normalize(0.2860, 0.3530) });
  manualSeed(seed);
  const model = demoCnn().to("webgpu");
  const opt = new optim.Adam(model.parameters(), { lr: 3e-3 });
  const loader = new data.DataLoader(trainSet, {
    batchSize,
    shuffle: true,
    seed,
    dropLast: true,
    prefetch: 2,
    device: "webgpu",
  });
  const losses = new Float32Array(steps);
  const samples: MemorySample[] = [];
  let pending: Tensor[] = [];
  let done = 0;
  const t0 = performance.now();
  const flush = async () => {
    if (!pending.length) return;
    // one read for the chunk: the scalar losses are stacked on the device
    const stacked = stack(pending, 0);
    const values = await stacked.data() as Float32Array;
    losses.set(values, done - pending.length);
    stacked.dispose();
    for (const t of pending) t.dispose();
    pending = [];
  };
  try {
    const perEpoch = loader.length;
    for (let epoch = 0; done < steps; epoch++) {
      loader.setEpoch(epoch);
      let inEpoch = 0;
      for await (using batch of loader) {
        if (done >= steps) break;
        const [x, y] = batch;
        opt.zeroGrad();
        const loss = tidy(() => F.crossEntropy(model.forward(x), y));
        loss.backward();
        opt.step();
        pending.push(loss.detach());
        loss.dispose();
        done++;
        inEpoch++;
        if (done % sampleEvery === 0 || done === steps) {
          await flush();
          await gpu.sync();
          const m = gpu.memory();
          const s = {
            step: done,
            inUse: m.inUse,
            allocated: m.allocated,
            ms: performance.now() - t0,
            epochEnd: inEpoch === perEpoch,
          };
          samples.push(s);
          opts.onSample?.(s);
        }
      }
    }
  } finally {
    await flush();
    opt.zeroGrad();
    opt.dispose();
    model.dispose();
  }
  return { losses, samples, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Growth of a memory figure after warm-up: the last sample minus the first at or after `warmup` steps, and the
 * range, over the samples not taken at an epoch's end (see {@linkcode MemorySample.epochEnd}).
 */
export function growthAfter(samples: MemorySample[], warmup: number, key: "inUse" | "allocated"): {
  growth: number;
  min: number;
  max: number;
} {
  const after = samples.filter((s) => s.step >= warmup && !s.epochEnd);
  if (!after.length) return { growth: 0, min: 0, max: 0 };
  const values = after.map((s) => s[key]);
  return {
    growth: values[values.length - 1] - values[0],
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/** The first step whose loss differs bit for bit between two runs (over the steps both ran), or -1. */
export function firstDifference(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const n = Math.min(ua.length, ub.length);
  for (let i = 0; i < n; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

if (import.meta.main) {
  const args = Deno.args;
  const steps = flag(args, "steps", 10_000);
  const runs = flag(args, "runs", 2);
  const batchSize = flag(args, "batch", 16);
  const warmup = flag(args, "warmup", 200);
  const sampleEvery = flag(args, "sample-every", 100);
  const seed = flag(args, "seed", 0);
  // the runs after the first may stop earlier: their losses are compared over the steps they ran
  const compareSteps = flag(args, "compare-steps", Math.min(steps, 1000));
  const outIdx = args.indexOf("--out");
  const info = await gpu.info();
  if (!info) {
    console.error(`soak needs WebGPU: ${gpu.unavailableReason()}`);
    Deno.exit(1);
  }
  console.log(
    `soak: ${runs} runs of ${steps} steps (runs after the first: ${compareSteps}), batch ${batchSize}, ` +
      `seed ${seed}, on ${info.name}`,
  );
  const results: SoakRun[] = [];
  for (let r = 0; r < runs; r++) {
    const n = r === 0 ? steps : compareSteps;
    const res = await soakRun({
      steps: n,
      seed,
      batchSize,
      sampleEvery,
      onSample: (s) => {
        if (s.step % (sampleEvery * 5) === 0 || s.step === n) {
          console.log(
            `run ${r + 1} step ${s.step}: inUse ${s.inUse} B, allocated ${s.allocated} B, ` +
              `${(s.ms / 1000).toFixed(0)} s`,
          );
        }
      },
    });
    results.push(res);
    const g = growthAfter(res.samples, warmup, "inUse");
    const ga = growthAfter(res.samples, warmup, "allocated");
    console.log(
      `run ${r + 1}: ${n} steps in ${res.seconds.toFixed(0)} s (${
        (n / res.seconds).toFixed(2)
      } steps/s), loss ` +
        `${res.losses[0].toFixed(4)} → ${res.losses[n - 1].toFixed(4)}; after step ${warmup}: inUse growth ` +
        `${g.growth} B (range ${g.min}..${g.max}), allocated growth ${ga.growth} B`,
    );
  }
  const diffs = results.slice(1).map((r) => firstDifference(results[0].losses, r.losses));
  const identical = diffs.every((d) => d === -1);
  console.log(
    runs > 1
      ? `determinism: ${
        identical
          ? `bit-identical losses over the ${Math.min(steps, compareSteps)} steps the runs share`
          : `runs differ first at step ${diffs.find((d) => d >= 0)}`
      }`
      : "determinism: one run only",
  );
  const date = new Date().toISOString().slice(0, 10);
  const out = outIdx >= 0 ? args[outIdx + 1] : `bench/results/${date}-soak-${steps}.json`;
  const json = {
    date: new Date().toISOString(),
    adapter: info.name,
    backend: info.backend,
    model: "demo CNN: conv16-BN-ReLU-pool, conv32-BN-ReLU-pool, linear; Adam lr 3e-3, cross-entropy",
    steps,
    runs,
    compareSteps,
    batchSize,
    seed,
    warmup,
    sampleEvery,
    identicalLosses: identical,
    firstDifference: diffs,
    runsMeasured: results.map((r) => ({
      steps: r.losses.length,
      seconds: r.seconds,
      stepsPerSecond: r.losses.length / r.seconds,
      firstLoss: r.losses[0],
      lastLoss: r.losses[r.losses.length - 1],
      inUseGrowthAfterWarmup: growthAfter(r.samples, warmup, "inUse"),
      allocatedGrowthAfterWarmup: growthAfter(r.samples, warmup, "allocated"),
      samples: r.samples,
      lossesEvery100: Array.from(r.losses.filter((_, i) => i % 100 === 99)),
    })),
  };
  await Deno.mkdir("bench/results", { recursive: true });
  await Deno.writeTextFile(out, JSON.stringify(json, null, 1) + "\n");
  console.log(`wrote ${out}`);
}
