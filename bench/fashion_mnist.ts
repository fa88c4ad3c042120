/**
 * Fashion-MNIST accuracy targets (the dataset README's table): trains a model with our library and prints
 * the test accuracy after every epoch, the best, and the time, as one JSON line at the end.
 *
 * ```sh
 * deno run -A bench/fashion_mnist.ts mlp --epochs 20        # MLP 784-256-128-100-10, target 0.883
 * deno run -A bench/fashion_mnist.ts cnn-bn --epochs 10     # 2 conv + pool + BatchNorm, target 0.934
 * deno run -A bench/fashion_mnist.ts cnn-bn --epochs 12 --augment --save /tmp/cnn_bn.safetensors
 * deno run -A bench/fashion_mnist.ts cnn-bn --epochs 15 --flip --save /tmp/cnn_bn.safetensors  # 0.9300, 52 min
 * ```
 *
 * Options: `--augment` (random crop with 2 pixels of padding and horizontal flip, per image, on the device),
 * `--flip` (horizontal flip only),
 * `--lr` (Adam's learning rate, default 1e-3), `--label-smoothing` (default 0), `--save FILE` (the weights
 * of the best epoch as safetensors, written atomically), `--out FILE` (appends the summary JSON line).
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
const t0 = performance.now();
const accs: number[] = [];
for (let epoch = 1; epoch <= epochs; epoch++) {
  net.train();
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
  saved: saveFile ?? null,
});
console.log(summary);
if (outFile) await Deno.writeTextFile(outFile, summary + "\n", { append: true });
