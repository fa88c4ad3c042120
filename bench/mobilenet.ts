/**
 * Fashion-MNIST: the small MobileNet (`bench/mobilenet_small.ts`, depthwise-separable blocks) against the same
 * architecture with dense 3×3 convolutions, trained with one recipe. Prints one JSON line per epoch to stderr
 * and a summary JSON line to stdout; with `--out FILE` appends the summary to FILE.
 *
 * ```sh
 * deno run -A bench/mobilenet.ts separable --epochs 6
 * deno run -A bench/mobilenet.ts dense --epochs 6
 * deno run -A bench/mobilenet.ts separable --epochs 12 --flip --width 16
 * deno run -A bench/mobilenet.ts step-cost               # CPU and wall ms per batch-128 training step, both nets
 * ```
 * @module
 */
import process from "node:process";
import { data, F, gpu, manualSeed, nn, noGrad, optim, randint, randn, type Tensor, tidy } from "../mod.ts";
import { mobileNetSmall } from "./mobilenet_small.ts";
import { evaluateAccuracy } from "./models.ts";

const args = Deno.args;
const which = args[0] ?? "separable";
if (which === "step-cost") {
  await stepCost();
  Deno.exit(0);
}
if (which !== "separable" && which !== "dense") {
  throw new Error(`expected separable, dense or step-cost, got ${which}`);
}
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const epochs = opt("--epochs", 6);
const batchSize = opt("--batch", 128);
const maxLr = opt("--lr", 4e-3);
const limit = opt("--limit", 0); // train on the first `limit` images only (0: all), for quick checks
const testLimit = opt("--test-limit", 0); // evaluate on the first `testLimit` test images only (0: all 10 000)
// before each evaluation, recompute BatchNorm's running statistics as a plain average over this many training
// batches (forward only): after a short training the exponential averages lag the weights (0: off)
const recalibrate = opt("--recalibrate-bn", 0);
// --width N: the stem's channels (default 16; the blocks have 2, 4, 8 and 8 times as many)
const width = opt("--width", 16);
// --flip: a random horizontal flip per training image
const flip = args.includes("--flip");
const outIdx = args.indexOf("--out");
const outFile = outIdx >= 0 ? args[outIdx + 1] : null;
const device = gpu.defaultDevice();
manualSeed(0);

const norm = data.normalize(0.2860, 0.3530);
const trainTransform = flip ? data.compose([data.randomHorizontalFlip(), norm]) : norm;
const full = await data.FashionMNIST.load({ train: true, transform: trainTransform });
const train = limit
  ? new data.ImageClassificationDataset(
    full.pixels.subarray(0, limit * 784),
    full.labels.subarray(0, limit),
    [28, 28],
    full.classes,
    trainTransform,
  )
  : full;
const fullTest = await data.FashionMNIST.load({ train: false, transform: norm });
const test = testLimit
  ? new data.ImageClassificationDataset(
    fullTest.pixels.subarray(0, testLimit * 784),
    fullTest.labels.subarray(0, testLimit),
    [28, 28],
    fullTest.classes,
    norm,
  )
  : fullTest;

const net = mobileNetSmall({ separable: which === "separable", width }).to(device);
const adam = new optim.Adam(net.parameters(), { lr: maxLr });
const loader = new data.DataLoader(train, { batchSize, shuffle: true, seed: 0, prefetch: 2, device });
const sched = new optim.OneCycleLR(adam, { maxLr, epochs, stepsPerEpoch: loader.length });
const testLoader = new data.DataLoader(test, { batchSize: 500, device });
const t0 = performance.now();
const accs: number[] = [];
const seconds: number[] = [];
for (let epoch = 1; epoch <= epochs; epoch++) {
  net.train();
  let step = 0;
  let lossSum: Tensor | null = null;
  for await (using batch of loader) {
    const [x, y] = batch;
    adam.zeroGrad();
    const loss = tidy(() => F.crossEntropy(net.forward(x), y));
    loss.backward();
    adam.step();
    sched.step();
    const sum: Tensor = noGrad(() => (lossSum ? lossSum.add(loss) : loss.detach()));
    lossSum?.dispose();
    loss.dispose();
    lossSum = sum;
    if (++step % 50 === 0 || step === loader.length) {
      // one read per 50 steps: the mean training loss of those steps
      const mean = (await lossSum.item()) / (step % 50 || 50);
      lossSum.dispose();
      lossSum = null;
      console.error(JSON.stringify({
        model: which,
        epoch,
        step,
        of: loader.length,
        trainLoss: Number(mean.toFixed(4)),
        seconds: Math.round((performance.now() - t0) / 1000),
      }));
    }
  }
  if (recalibrate > 0) await recalibrateBatchNorm(recalibrate);
  accs.push(await evaluateAccuracy(net, testLoader));
  seconds.push((performance.now() - t0) / 1000);
  console.error(
    JSON.stringify({ model: which, epoch, accuracy: accs[epoch - 1], seconds: seconds[epoch - 1] }),
  );
}
/** BatchNorm's running statistics recomputed as the plain average over `batches` training batches. */
async function recalibrateBatchNorm(batches: number): Promise<void> {
  const norms = [...net.modules()].filter((m): m is nn.BatchNorm => m instanceof nn.BatchNorm);
  const momenta = norms.map((m) => m.momentum);
  for (const m of norms) {
    m.resetRunningStats();
    m.momentum = null; // cumulative average
  }
  net.train();
  let seen = 0;
  await noGrad(async () => {
    for await (using batch of loader) {
      tidy(() => net.forward(batch[0]));
      if (++seen >= batches) break;
    }
  });
  norms.forEach((m, i) => (m.momentum = momenta[i]));
}

const result = {
  date: new Date().toISOString().slice(0, 10),
  bench: "mobilenet",
  model: (which === "separable" ? "mobileNetSmall (depthwise-separable)" : "mobileNetSmall dense 3x3 twin") +
    (width === 16 ? "" : `, width ${width}`),
  recipe:
    `Adam, OneCycleLR maxLr ${maxLr} over ${epochs} epochs, batch ${batchSize}, ${
      flip ? "horizontal flip, " : ""
    }normalize(0.2860, 0.3530), ` +
    `seed 0${limit ? `, first ${limit} training images` : ""}${
      testLimit ? `, first ${testLimit} test images` : ""
    }` +
    (recalibrate
      ? `, BatchNorm statistics recomputed over ${recalibrate} training batches before each test`
      : ""),
  parameters: net.numParameters(),
  device,
  adapter: (await gpu.info())?.name ?? "cpu",
  accuracy_per_epoch: accs,
  seconds_per_epoch: seconds,
  final: accs[accs.length - 1],
  best: Math.max(...accs),
  seconds: (performance.now() - t0) / 1000,
};
console.log(JSON.stringify(result));
if (outFile) await Deno.writeTextFile(outFile, JSON.stringify(result) + "\n", { append: true });

/**
 * The cost of one training step (batch 128, Adam) of each net on random data: wall-clock and process CPU
 * milliseconds (on lavapipe the "GPU" is this process's threads, so CPU time is the steadier figure on a
 * shared machine), after two untimed steps that compile the pipelines.
 */
async function stepCost(): Promise<void> {
  const device = gpu.defaultDevice();
  const rows = [];
  for (const separable of [true, false]) {
    manualSeed(0);
    const net = mobileNetSmall({ separable }).to(device);
    const adam = new optim.Adam(net.parameters(), { lr: 1e-3 });
    const x = randn([128, 1, 28, 28], { device });
    const y = randint(0, 10, [128], { device });
    const step = () => {
      adam.zeroGrad();
      const loss = tidy(() => F.crossEntropy(net.forward(x), y));
      loss.backward();
      adam.step();
      return loss;
    };
    for (let i = 0; i < 2; i++) {
      using l = step();
      await l.item();
    }
    const reps = 3;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) {
      using l = step();
      if (i === reps - 1) await l.item();
    }
    const c = process.cpuUsage(c0);
    rows.push({
      model: separable ? "separable" : "dense",
      parameters: net.numParameters(),
      wallMsPerStep: (performance.now() - t0) / reps,
      cpuMsPerStep: (c.user + c.system) / 1000 / reps,
    });
    console.error(JSON.stringify(rows[rows.length - 1]));
  }
  console.log(JSON.stringify({
    date: new Date().toISOString().slice(0, 10),
    bench: "mobilenet step-cost",
    adapter: (await gpu.info())?.name ?? "cpu",
    loadAverage: Deno.loadavg(),
    rows,
  }));
}
