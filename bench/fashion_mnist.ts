/**
 * Fashion-MNIST accuracy targets (the dataset README's table): trains a model with our library and prints
 * the test accuracy after every epoch, the best, and the time, as one JSON line at the end.
 *
 * ```sh
 * deno run -A bench/fashion_mnist.ts mlp --epochs 20        # MLP 784-256-128-100-10, target 0.883
 * deno run -A bench/fashion_mnist.ts cnn-bn --epochs 10     # 2 conv + pool + BatchNorm, target 0.934
 * deno run -A bench/fashion_mnist.ts cnn-bn --epochs 12 --augment --save /tmp/cnn_bn.safetensors
 * deno run -A bench/fashion_mnist.ts cnn-bn --epochs 15 --flip --save /tmp/cnn_bn.safetensors  # 0.9300, 52 min
 * deno run -A bench/fashion_mnist.ts cnn-bn --epochs 40 --flip --checkpoint out/cnn_bn_40.ckpt  # 0.9337; stop, rerun: resumes
 * ```
 *
 * Options: `--augment` (random crop with 2 pixels of padding and horizontal flip, per image, on the device),
 * `--flip` (horizontal flip only),
 * `--lr` (Adam's learning rate, default 1e-3), `--label-smoothing` (default 0), `--save FILE` (the weights
 * of the best epoch as safetensors, written atomically), `--out FILE` (appends the summary JSON line),
 * `--checkpoint FILE` (after every epoch the model, Adam, the scheduler, the global RNG and the accuracies so
 * far go to FILE, atomically; a run given an existing FILE resumes after its last epoch, and refuses one
 * written with other options: a long schedule can be trained a few epochs at a time, with the same result).
 * @module
 */
import { data, F, gpu, io, manualSeed, type nn, optim, tidy } from "../mod.ts";
import { convBnNet, evaluateAccuracy, mlpNet } from "./models.ts";

const args = Deno.args;
const which = args[0] ?? "mlp";
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const epochs = Number(option("--epochs") ?? 10);
const lr = Number(option("--lr") ?? 1e-3);
const labelSmoothing = Number(option("--label-smoothing") ?? 0);
const augment = args.includes("--augment");
const flip = args.includes("--flip");
const saveFile = option("--save");
const outFile = option("--out");
const checkpointFile = option("--checkpoint");
const device = gpu.defaultDevice();
manualSeed(0);

const norm = data.normalize(0.2860, 0.3530);
const trainTransform = augment
  ? data.compose([data.randomCrop(28, { padding: 2 }), data.randomHorizontalFlip(), norm])
  : flip
  ? data.compose([data.randomHorizontalFlip(), norm])
  : norm;
const train = await data.FashionMNIST.load({ train: true, transform: trainTransform });
const test = await data.FashionMNIST.load({ train: false, transform: norm });

const model = (): nn.Sequential => (which === "mlp" ? mlpNet() : convBnNet());

const net = model().to(device);
const batchSize = which === "mlp" ? 128 : 64;
const opt = new optim.Adam(net.parameters(), { lr });
const sched = new optim.CosineAnnealingLR(opt, { tMax: epochs });
const loader = new data.DataLoader(train, { batchSize, shuffle: true, seed: 0, prefetch: 2, device });
const testLoader = new data.DataLoader(test, { batchSize: 500, device });
// what a checkpoint must agree on to be resumed: everything that shapes the run
const runKey = JSON.stringify({ which, epochs, lr, labelSmoothing, augment, flip });
let accs: number[] = [];
let before = 0; // training seconds of the earlier processes of a resumed run
let first = 1;
let sessions = 1;
if (checkpointFile && await Deno.stat(checkpointFile).then(() => true, () => false)) {
  const resumed = await io.loadCheckpoint(checkpointFile, {
    model: net,
    optimizer: opt,
    scheduler: sched,
    device,
  });
  const extra = resumed.extra as {
    run: string;
    accuracy_per_epoch: number[];
    seconds: number;
    sessions: number;
  };
  if (extra.run !== runKey) {
    throw new Error(
      `--checkpoint ${checkpointFile} was written by another run (${extra.run}), not ${runKey}`,
    );
  }
  accs = extra.accuracy_per_epoch;
  before = extra.seconds;
  sessions = extra.sessions + 1;
  first = resumed.epoch! + 1;
  console.error(
    `resumed from ${checkpointFile} after epoch ${resumed.epoch} (${before.toFixed(0)} s so far)`,
  );
}
const t0 = performance.now() - before * 1000;
for (let epoch = first; epoch <= epochs; epoch++) {
  net.train();
  loader.setEpoch(epoch - 1); // the order and flips of this epoch, whichever process trains it
  for await (using batch of loader) {
    const [x, y] = batch;
    opt.zeroGrad();
    const loss = tidy(() => F.crossEntropy(net.forward(x), y, { labelSmoothing }));
    loss.backward();
    opt.step();
    loss.dispose();
  }
  sched.step();
  accs.push(await evaluateAccuracy(net, testLoader));
  if (saveFile && accs[epoch - 1] === Math.max(...accs)) await io.save(net.stateDict(), saveFile);
  if (checkpointFile) {
    await io.saveCheckpoint(checkpointFile, {
      model: net,
      optimizer: opt,
      scheduler: sched,
      epoch,
      extra: { run: runKey, accuracy_per_epoch: accs, seconds: (performance.now() - t0) / 1000, sessions },
    });
  }
  console.error(
    `epoch ${epoch}: test accuracy ${(accs[epoch - 1] * 100).toFixed(2)}% (${
      ((performance.now() - t0) / 1000).toFixed(0)
    } s)`,
  );
}
const summary = JSON.stringify({
  date: new Date().toISOString().slice(0, 10),
  model: which,
  recipe: `Adam lr ${lr}, cosine over ${epochs} epochs, batch ${batchSize}, ${
    augment ? "random crop (padding 2) + horizontal flip, " : flip ? "horizontal flip, " : ""
  }${labelSmoothing ? `label smoothing ${labelSmoothing}, ` : ""}normalize(0.2860, 0.3530), seed 0`,
  parameters: net.numParameters(),
  device,
  adapter: (await gpu.info())?.name ?? "cpu",
  accuracy_per_epoch: accs,
  final: accs[accs.length - 1],
  best: Math.max(...accs),
  seconds: (performance.now() - t0) / 1000,
  ...(checkpointFile ? { processes: sessions } : {}),
  saved: saveFile ?? null,
});
console.log(summary);
if (outFile) await Deno.writeTextFile(outFile, summary + "\n", { append: true });
