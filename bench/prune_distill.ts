/**
 * Pruning and knowledge distillation on Fashion-MNIST (issue #7), recorded in bench/RESULTS.md and
 * `bench/results/<date>-prune-distill.json` (which notebooks 10 and 11 chart).
 *
 * ```sh
 * deno run -A bench/prune_distill.ts prune     # MLP 784-256-128-100-10: dense, then global L1 pruning to 50,
 *                                               # 70, 80, 90 % with a fine-tuning epoch after each; one-shot 50/80 %
 * deno run -A bench/prune_distill.ts distill   # teacher MLP, then the same <100K student alone and distilled
 * deno run -A bench/prune_distill.ts report    # merges both into bench/results/<date>-prune-distill.json (or --results FILE)
 * deno run -A bench/prune_distill.ts all       # the three in one process
 * ```
 *
 * Options: `--epochs N` (dense MLP epochs for prune, default 4; student epochs for distill, default 5),
 * `--teacher-epochs N` (default 6); for distill also `--teacher mlp|cnn|cnn-bn`, `--teacher-file F` (weights
 * saved by `bench/fashion_mnist.ts cnn-bn --save F`), `--student mlp|cnn|cnn-wide|separable` (`separable`: the
 * depthwise-separable MobileNet-small of `bench/mobilenet_small.ts` at `--width N`, default 20), `--batch N`,
 * `--augment` (online distillation on augmented batches), `--flip` (a random horizontal flip per training
 * image; the offline teacher logits are then the mean of the teacher's logits on the image and on its mirror,
 * the same for either orientation), `--lr X` (default 1e-3), `--onecycle` (OneCycle to `--lr` per step instead
 * of cosine per epoch), `--kd "T:alpha,..."`, `--variants 0,1` (which of [alone, ...kd] to run; `--variants 0`
 * alone needs no teacher, so it can run while the teacher still trains). Trained dense
 * and teacher models are kept under out/prune_distill/ and reused by later runs.
 *
 * ```sh
 * deno run -A bench/prune_distill.ts distill --teacher cnn-bn --teacher-file /tmp/cnn_bn.safetensors \
 *   --student separable --width 20 --flip --onecycle --lr 4e-3 --epochs 12 --kd 4:0.7
 * ```
 * @module
 */
import { data, F, gpu, io, manualSeed, nn, noGrad, optim, type Tensor, tensor, tidy } from "../mod.ts";
import { convBnNet, convNet, evaluateAccuracy, mlpNet, studentCnn, studentCnnWide } from "./models.ts";
import { mobileNetSmall } from "./mobilenet_small.ts";

const args = Deno.args;
const phase = args[0] ?? "all";
/** The number after `--name` on the command line, or `fallback`. */
function option(name: string, fallback: number): number {
  const at = args.indexOf(name);
  return at < 0 ? fallback : Number(args[at + 1]);
}
const device = gpu.defaultDevice();
const OUT = "out/prune_distill";
await Deno.mkdir(OUT, { recursive: true });
const norm = data.normalize(0.2860, 0.3530);
const train = await data.FashionMNIST.load({ train: true, transform: norm });
const test = await data.FashionMNIST.load({ train: false, transform: norm });
const testLoader = new data.DataLoader(test, { batchSize: 500, device });

/** The teacher: a wide MLP (535K parameters); MLPs are what this shared 2-core lavapipe machine can train. */
function mlpTeacherNet(): nn.Sequential {
  return new nn.Sequential(
    new nn.Flatten(),
    new nn.Linear(784, 512),
    new nn.ReLU(),
    new nn.Dropout(0.2),
    new nn.Linear(512, 256),
    new nn.ReLU(),
    new nn.Dropout(0.2),
    new nn.Linear(256, 10),
  );
}

/** The convolutional teacher (206K parameters): two conv + BatchNorm + pool blocks and a hidden layer. */
function cnnTeacherNet(): nn.Sequential {
  return convNet(16, 32, { hidden: 128, dropout: 0.25 });
}

/** The student: an MLP 784-hidden-10, under 100K parameters (50,890 with 64 hidden units). */
function studentNet(hidden = 64): nn.Sequential {
  return new nn.Sequential(
    new nn.Flatten(),
    new nn.Linear(784, hidden),
    new nn.ReLU(),
    new nn.Linear(hidden, 10),
  );
}

/** The training set with the teacher's logits for each image appended to every sample (offline distillation). */
class WithTeacherLogits extends data.Dataset {
  constructor(readonly inner: data.Dataset, readonly logits: Float32Array, readonly classes = 10) {
    super();
  }
  get length(): number {
    return this.inner.length;
  }
  get(i: number): data.Sample {
    return [...this.inner.get(i), tensor(this.logits.slice(i * this.classes, (i + 1) * this.classes))];
  }
  override getBatch(indices: Int32Array, opts: data.BatchOptions): data.Batch {
    const batch = this.inner.getBatch!(indices, opts);
    const rows = new Float32Array(indices.length * this.classes);
    indices.forEach((k, j) =>
      rows.set(this.logits.subarray(k * this.classes, (k + 1) * this.classes), j * this.classes)
    );
    return [...batch, tensor(rows, { shape: [indices.length, this.classes], device: opts.device })];
  }
}

function accuracy(net: nn.Module & { forward(x: Tensor): Tensor }): Promise<number> {
  return evaluateAccuracy(net, testLoader);
}

/**
 * The teacher's logits for every training image, in dataset order (teacher in eval() under noGrad); with
 * `mirrored`, the mean of its logits on each image and on the image flipped left–right, which is the same for
 * both orientations and so serves a student trained on randomly flipped images.
 */
async function teacherLogits(teacher: nn.Sequential, mirrored = false): Promise<Float32Array> {
  teacher.eval();
  const out = new Float32Array(train.length * 10);
  const plain = new data.DataLoader(train, { batchSize: 500, device });
  const mirror = data.randomHorizontalFlip(1);
  let at = 0;
  for await (using batch of plain) {
    const logits = noGrad(() =>
      tidy(() => {
        const x = batch[0];
        if (!mirrored) return teacher.forward(x);
        return teacher.forward(x).add(teacher.forward(mirror(x))).mul(0.5);
      })
    );
    out.set((await logits.data()) as Float32Array, at);
    at += logits.size;
    logits.dispose();
  }
  return out;
}

if (phase === "distill" || phase === "all") {
  const teacherEpochs = option("--teacher-epochs", 6);
  const epochs = option("--epochs", 5);
  const hidden = option("--hidden", 64);
  const width = option("--width", 20);
  const lr = option("--lr", 1e-3);
  const oneCycle = args.includes("--onecycle");
  const flip = args.includes("--flip");
  const batchSize = option("--batch", 128);
  // --subset N: the students see only the first N training images (the teacher saw all of them)
  const subset = option("--subset", 0);
  const text = (
    name: string,
    fallback: string,
  ) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
  // --teacher mlp | cnn | cnn-bn (the 421K conv+BN net of bench/fashion_mnist.ts; give --teacher-file)
  // make, the name recorded in the results, and the tag of its checkpoint and result files
  const teachers: Record<string, { make: () => nn.Sequential; name: string; tag: string }> = {
    "mlp": { make: mlpTeacherNet, name: "MLP 784-512-256-10, dropout 0.2", tag: "mlp" },
    "cnn": { make: cnnTeacherNet, name: "CNN conv16-BN-pool-conv32-BN-pool-FC128-dropout 0.25", tag: "cnn" },
    "cnn-bn": {
      make: convBnNet,
      name: "CNN conv32-BN-pool-conv64-BN-pool-FC128-dropout 0.25 (bench/models.ts convBnNet)",
      tag: "cnn_bn",
    },
  };
  const teacherKind = text("--teacher", "mlp");
  const teacherSpec = teachers[teacherKind];
  if (!teacherSpec) {
    throw new Error(`--teacher: expected one of ${Object.keys(teachers)}, got ${teacherKind}`);
  }
  const { make: makeTeacher, tag } = teacherSpec;
  // --student mlp | cnn | cnn-wide (the 93K and 86K CNNs of bench/models.ts); the tag goes in the file name
  const students: Record<string, { make: () => nn.Sequential; name: string; tag: string }> = {
    "mlp": { make: () => studentNet(hidden), name: `MLP 784-${hidden}-10`, tag: "" },
    "cnn": { make: studentCnn, name: "CNN conv16-BN-pool-conv32-BN-pool-FC56-dropout 0.2", tag: "-scnn" },
    "cnn-wide": {
      make: studentCnnWide,
      name: "CNN conv24-BN-pool-conv48-BN-pool-FC32-dropout 0.1",
      tag: "-scnnw",
    },
    "separable": {
      make: () => mobileNetSmall({ separable: true, width }),
      name: `mobileNetSmall (depthwise-separable), width ${width} (bench/mobilenet_small.ts)`,
      tag: `-ssep${width}`,
    },
  };
  const studentKind = text("--student", "mlp");
  const studentSpec = students[studentKind];
  if (!studentSpec) {
    throw new Error(`--student: expected one of ${Object.keys(students)}, got ${studentKind}`);
  }
  const makeStudent = studentSpec.make;
  // --augment: random crop (padding 2) and flip on the students' batches, the teacher's logits computed on
  // the same augmented batch (online distillation) instead of once per image
  const augment = args.includes("--augment");
  // --variants 0,2: run only these of [alone, ...kd] (so that variants can run as separate processes)
  const only = args.includes("--variants") ? text("--variants", "").split(",").map(Number) : null;
  const runs: {
    label: string;
    temperature: number | null;
    alpha: number | null;
    accuracy_per_epoch: number[];
  }[] = [];
  const t0 = perfNow();
  const results: Record<string, unknown> = {};
  const studentParameters = makeStudent().numParameters();
  const suffix = `${teacherKind === "mlp" ? "" : `-${tag}`}${studentSpec.tag}${
    hidden === 64 ? "" : `-h${hidden}`
  }${subset ? `-n${subset}` : ""}${augment ? "-aug" : ""}${flip ? "-flip" : ""}${
    only ? `-v${only.join("")}` : ""
  }`;
  const save = async () => {
    await Deno.writeTextFile(
      `${OUT}/distill${suffix}.json`,
      JSON.stringify({
        teacher: {
          model: teacherSpec.name,
          ...results,
        },
        student: {
          model: studentSpec.name,
          parameters: studentParameters,
          epochs,
          trainingImages: subset || train.length,
        },
        recipe:
          `Adam ${
            oneCycle ? `OneCycle to max lr ${lr}, per step` : `lr ${lr}, cosine`
          }, batch ${batchSize}, ${
            augment ? "random crop (padding 2) + horizontal flip, " : flip ? "horizontal flip, " : ""
          }normalize(0.2860, 0.3530); every student: manualSeed(0), loader seed 2, ${epochs} epochs; the ` +
          `teacher's logits (eval(), noGrad) are computed ${
            augment
              ? "on each augmented batch"
              : flip
              ? "once per image, as the mean over the image and its mirror"
              : "once per image"
          }`,
        device,
        adapter: (await gpu.info())?.name ?? "cpu",
        runs,
        seconds: perfNow() - t0,
      }),
    );
  };
  // 1. the teacher (trained once; its checkpoint is reused by later runs; --teacher-file names another).
  // A process that runs only the student alone (--variants 0) needs none: it can start before the teacher exists.
  const needsTeacher = !only || only.some((index) => index > 0);
  const teacherPath = text("--teacher-file", `${OUT}/teacher_${tag}.safetensors`);
  const teacher = makeTeacher().to(device);
  if (!needsTeacher) {
    results.note = "student alone only: no teacher loaded";
  } else {
    try {
      teacher.loadStateDict(await io.load(teacherPath, { device }));
      try {
        Object.assign(results, JSON.parse(await Deno.readTextFile(`${OUT}/teacher_${tag}.json`)));
      } catch {
        Object.assign(results, {
          parameters: teacher.numParameters(),
          file: teacherPath,
          ...(args.includes("--teacher-epochs") ? { epochs: teacherEpochs } : {}),
        });
      }
      results.accuracy = await accuracy(teacher);
      console.error(`teacher from ${teacherPath}: test accuracy ${results.accuracy}`);
    } catch (e) {
      if (args.includes("--teacher-file")) throw e;
      manualSeed(1);
      const fresh = makeTeacher().to(device);
      teacher.loadStateDict(fresh.stateDict());
      fresh.dispose();
      const opt = new optim.Adam(teacher.parameters(), { lr: 1e-3 });
      const sched = new optim.CosineAnnealingLR(opt, { tMax: teacherEpochs });
      const loader = new data.DataLoader(train, {
        batchSize: 128,
        shuffle: true,
        seed: 1,
        prefetch: 2,
        device,
      });
      const accs: number[] = [];
      for (let epoch = 1; epoch <= teacherEpochs; epoch++) {
        await trainEpoch(teacher, opt, loader, epoch, `teacher epoch ${epoch}`);
        sched.step();
        accs.push(await accuracy(teacher));
        console.error(`teacher epoch ${epoch}: ${accs[epoch - 1]} (${perfNow() - t0} s)`);
      }
      Object.assign(results, {
        parameters: teacher.numParameters(),
        epochs: teacherEpochs,
        accuracy_per_epoch: accs,
        accuracy: accs[accs.length - 1],
      });
      await io.save(teacher.stateDict(), teacherPath);
      await Deno.writeTextFile(`${OUT}/teacher_${tag}.json`, JSON.stringify(results));
    }
  }
  teacher.eval();
  await save();
  // 2. the students' data: with --augment, augmented images (the teacher sees the same batch); otherwise
  // the teacher's logits for every training image, once, in eval() mode under noGrad. Augmented or flipped
  // images are the training set's own pixels under another transform (no second read of the files).
  const trainWith = (transform: data.Transform) =>
    new data.ImageClassificationDataset(train.pixels, train.labels, [28, 28], train.classes, transform);
  const studentImages = flip ? trainWith(data.compose([data.randomHorizontalFlip(), norm])) : train;
  const studentData = augment
    ? trainWith(data.compose([data.randomCrop(28, { padding: 2 }), data.randomHorizontalFlip(), norm]))
    : needsTeacher
    ? new WithTeacherLogits(studentImages, await teacherLogits(teacher, flip))
    : studentImages;
  // 3. the same student, same seed and batches, without and with the teacher
  // --kd "4:0.9,2:0.5": the (temperature, alpha) pairs of the distilled runs
  const kd = (args.includes("--kd") ? args[args.indexOf("--kd") + 1] : "4:0.9,2:0.5").split(",").map((p) =>
    p.split(":").map(Number)
  );
  const variants: { label: string; temperature: number | null; alpha: number | null }[] = [
    { label: "student alone", temperature: null, alpha: null },
    ...kd.map(([t, a]) => ({ label: `distilled, T ${t}, alpha ${a}`, temperature: t, alpha: a })),
  ];
  for (const [index, v] of variants.entries()) {
    if (only && !only.includes(index)) continue;
    manualSeed(0);
    const net = makeStudent().to(device);
    const opt = new optim.Adam(net.parameters(), { lr });
    const loader = new data.DataLoader(studentData, {
      batchSize,
      seed: 2,
      prefetch: 2,
      device,
      ...(subset
        ? { sampler: new data.SubsetRandomSampler(Array.from({ length: subset }, (_, k) => k)) }
        : { shuffle: true }),
    });
    const sched = oneCycle
      ? new optim.OneCycleLR(opt, { maxLr: lr, epochs, stepsPerEpoch: loader.length })
      : new optim.CosineAnnealingLR(opt, { tMax: epochs });
    const run = { ...v, accuracy_per_epoch: [] as number[] };
    runs.push(run);
    for (let epoch = 1; epoch <= epochs; epoch++) {
      net.train();
      loader.setEpoch(epoch);
      for await (using batch of loader) {
        const [x, y] = batch;
        opt.zeroGrad();
        const loss = tidy(() => {
          if (v.temperature === null) return F.crossEntropy(net.forward(x), y);
          // the teacher's logits really enter the loss: offline from the dataset, or online on this batch
          const teacherOut = augment ? noGrad(() => teacher.forward(x)) : batch[2];
          return F.distillationLoss(net.forward(x), teacherOut, y, {
            temperature: v.temperature,
            alpha: v.alpha!,
          });
        });
        loss.backward();
        opt.step();
        if (oneCycle) sched.step();
        loss.dispose();
      }
      if (!oneCycle) sched.step();
      run.accuracy_per_epoch.push(await accuracy(net));
      console.error(`${v.label} epoch ${epoch}: ${run.accuracy_per_epoch[epoch - 1]} (${perfNow() - t0} s)`);
      await save();
    }
    net.dispose();
  }
}

/** One epoch of cross-entropy training. */
async function trainEpoch(
  net: nn.Sequential,
  opt: optim.Optimizer,
  loader: data.DataLoader,
  epoch: number,
  label: string,
): Promise<void> {
  net.train();
  loader.setEpoch(epoch);
  let step = 0;
  const t0 = performance.now();
  for await (using batch of loader) {
    const [x, y] = batch;
    opt.zeroGrad();
    const loss = tidy(() => F.crossEntropy(net.forward(x), y));
    loss.backward();
    opt.step();
    if (++step % 200 === 0) {
      console.error(
        `${label} step ${step} loss ${(await loss.item()).toFixed(4)} ${
          ((performance.now() - t0) / 1000).toFixed(0)
        } s`,
      );
    }
    loss.dispose();
  }
}

const weightsOf = (net: nn.Sequential) =>
  [...net.modules()].filter((m) => m instanceof nn.Linear).map((m) => [m, "weight"] as const);

if (phase === "prune" || phase === "all") {
  const epochs = option("--epochs", 4);
  const sparsities = [0.5, 0.7, 0.8, 0.9];
  manualSeed(0);
  const loader = new data.DataLoader(train, { batchSize: 128, shuffle: true, seed: 3, prefetch: 2, device });
  const t0 = perfNow();
  const net = mlpNet().to(device);
  let dense: number[] = [];
  try { // the dense model is trained once; its checkpoint under out/ is reused by later runs
    net.loadStateDict(await io.load(`${OUT}/mlp_dense.safetensors`, { device }));
    dense = JSON.parse(await Deno.readTextFile(`${OUT}/mlp_dense.json`));
    if (dense.length !== epochs) throw new Error("another number of epochs");
  } catch {
    manualSeed(0);
    net.loadStateDict(mlpNet().stateDict());
    dense = [];
    const opt = new optim.Adam(net.parameters(), { lr: 1e-3 });
    for (let epoch = 1; epoch <= epochs; epoch++) {
      await trainEpoch(net, opt, loader, epoch, `dense epoch ${epoch}`);
      dense.push(await accuracy(net));
      console.error(`dense epoch ${epoch}: ${dense[epoch - 1]} (${perfNow() - t0} s)`);
    }
    await io.save(net.stateDict(), `${OUT}/mlp_dense.safetensors`);
    await Deno.writeTextFile(`${OUT}/mlp_dense.json`, JSON.stringify(dense));
  }
  const denseAcc = dense[dense.length - 1];
  const oneShot: { sparsity: number; afterPrune: number; afterFineTune: number }[] = [];
  // iterative: prune globally (L1 over the four Linear weights) to each sparsity, fine-tune one epoch, go on
  const iterative: { sparsity: number; afterPrune: number; afterFineTune: number; layers: unknown[] }[] = [];
  const writeResults = async () => {
    await Deno.writeTextFile(
      `${OUT}/prune.json`,
      JSON.stringify({
        model: "MLP 784-256-128-100-10",
        parameters: net.numParameters(),
        recipe: `Adam lr 1e-3 for ${epochs} epochs, batch 128, normalize(0.2860, 0.3530), seed 0; ` +
          "global L1 pruning of the four Linear weights; one fine-tuning epoch (Adam lr 3e-4) after each prune",
        device,
        adapter: (await gpu.info())?.name ?? "cpu",
        dense_accuracy_per_epoch: dense,
        dense: denseAcc,
        iterative,
        one_shot: oneShot,
        seconds: perfNow() - t0,
      }),
    );
  };
  const ft = new optim.Adam(net.parameters(), { lr: 3e-4 }); // the same tensors: weight_orig is weight
  let epoch = epochs;
  let done = 0;
  for (const s of sparsities) {
    // the amount is a fraction of what is still unpruned (PruningContainer semantics)
    await nn.utils.prune.globalUnstructured(weightsOf(net), {
      pruningMethod: nn.utils.prune.L1Unstructured,
      amount: (s - done) / (1 - done),
    });
    done = s;
    const afterPrune = await accuracy(net);
    await trainEpoch(net, ft, loader, ++epoch, `iterative ${s}`);
    const afterFineTune = await accuracy(net);
    const report = await nn.utils.prune.sparsityReport(net, { weightsOnly: true });
    console.error(
      `iterative sparsity ${report.overall.sparsity.toFixed(4)}: ${afterPrune} -> ${afterFineTune}`,
    );
    console.error(report.toString());
    iterative.push({
      sparsity: report.overall.sparsity,
      afterPrune,
      afterFineTune,
      layers: [...report.rows],
    });
    await writeResults();
  }
  // one shot: prune the dense model straight to 50 % and to 80 %, fine-tune one epoch; sparsity 0 is the
  // control: the same fine-tuning epoch without pruning
  for (const s of [0.5, 0.8, 0]) {
    const m = mlpNet().to(device);
    m.loadStateDict(await io.load(`${OUT}/mlp_dense.safetensors`, { device }));
    if (s > 0) {
      await nn.utils.prune.globalUnstructured(weightsOf(m), {
        pruningMethod: nn.utils.prune.L1Unstructured,
        amount: s,
      });
    }
    const afterPrune = await accuracy(m);
    await trainEpoch(m, new optim.Adam(m.parameters(), { lr: 3e-4 }), loader, 100, `one-shot ${s}`);
    const afterFineTune = await accuracy(m);
    console.error(`one-shot ${s}: ${afterPrune} -> ${afterFineTune}`);
    oneShot.push({ sparsity: s, afterPrune, afterFineTune });
    m.dispose();
    await writeResults();
  }
}

function perfNow(): number {
  return Math.round(performance.now() / 1000);
}

if (phase === "report" || phase === "all") {
  // merges the two phases' results into the committed JSON that bench/RESULTS.md and notebooks 10 and 11 cite
  const read = async (name: string) => JSON.parse(await Deno.readTextFile(`${OUT}/${name}`));
  const today = new Date().toISOString().slice(0, 10);
  // --results FILE: merge into an earlier day's file (runs that go on past midnight); default: today's
  const path = args.includes("--results")
    ? args[args.indexOf("--results") + 1]
    : `bench/results/${today}-prune-distill.json`;
  // what an earlier run recorded stays when this machine lacks its out/ files
  const before = await Deno.readTextFile(path).then(JSON.parse).catch(() => ({}));
  // the file keeps the date it was started on, and says when it was last merged
  const date = before.date ?? today;
  const keep = (key: string, name: string) => read(name).catch(() => before[key] ?? null);
  // variants run as separate processes (--variants) are merged into one configuration
  const variants = async (key: string, names: string[]) => {
    const parts = (await Promise.all(names.map((n) => read(n).catch(() => null)))).filter((p) => p);
    if (parts.length === 0) return before[key] ?? null;
    // the last part's teacher description: the distilled run is the one that loaded the final teacher
    return {
      ...parts[parts.length - 1],
      runs: parts.flatMap((p) => p.runs),
      seconds: Math.max(...parts.map((p) => p.seconds)),
    };
  };
  await io.writeFileAtomic(
    path,
    [
      new TextEncoder().encode(
        JSON.stringify(
          {
            date,
            ...(date === today ? {} : { updated: today }),
            prune: await keep("prune", "prune.json"),
            distill: await keep("distill", "distill.json"),
            distill_short: await keep("distill_short", "distill_short.json"),
            distill_small: await keep("distill_small", "distill-h16.json"),
            distill_few: await keep("distill_few", "distill-n3000.json"),
            distill_cnn: await keep("distill_cnn", "distill-cnn.json"),
            distill_cnn_bn: await variants("distill_cnn_bn", [
              "distill-cnn_bn-scnn-aug-v0.json",
              "distill-cnn_bn-scnn-aug-v1.json",
            ]),
            distill_cnn_bn_wide: await keep("distill_cnn_bn_wide", "distill-cnn_bn-scnnw.json"),
            distill_cnn_bn_separable: await keep(
              "distill_cnn_bn_separable",
              "distill-cnn_bn-ssep20-flip.json",
            ),
            distill_cnn_bn_wide_flip: await variants("distill_cnn_bn_wide_flip", [
              "distill-cnn_bn-scnnw-flip-v0.json",
              "distill-cnn_bn-scnnw-flip-v1.json",
              "distill-cnn_bn-scnnw-flip-v2.json",
            ]),
          },
          null,
          1,
        ) +
          "\n",
      ),
    ],
  );
  console.log(`wrote ${path}`);
}
