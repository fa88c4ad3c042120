/**
 * TensorFlow.js (WebGPU backend) peer benchmark. Prints one JSON line; see README.md.
 *
 *   deno run -A bench/peers/tfjs.ts matmul 256,512,1024,2048 --max-seconds 60
 *
 * @module
 */
// Pinned inline on purpose (the bench pins peer versions here, not in deno.json).
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import {
  CHAIN_LEN,
  chainResult,
  chwRowsToHwc,
  type Cli,
  CNN_MODEL,
  cnnData,
  DEFAULT_MATMUL_SIZES,
  DEFAULT_STEPS,
  describeAdapter,
  dispatchData,
  dispatchResult,
  gpuDispatches,
  intArg,
  LR,
  main,
  type MatmulCase,
  matmulSweep,
  MLP_MODEL,
  mlpData,
  now,
  oihwToHwio,
  rng,
  round,
  sizeList,
  SkipError,
  stepResult,
  uniform,
  USAGE,
  WARMUP_STEPS,
} from "./common.ts";

/** Waits for everything queued before `t` by reading back one element of it. */
async function syncOn(t: tf.Tensor): Promise<number> {
  const one = tf.tidy(() => tf.slice(t.reshape([-1]), [0], [1]));
  const v = (await one.data())[0];
  one.dispose();
  return v;
}

async function matmul(cli: Cli) {
  const sizes = sizeList(cli.arg, DEFAULT_MATMUL_SIZES);
  const results = await matmulSweep(sizes, cli.maxSeconds, (n): Promise<MatmulCase> => {
    const r = rng(n);
    const a = tf.tensor2d(uniform(r, n * n, 1), [n, n]);
    const b = tf.tensor2d(uniform(r, n * n, 1), [n, n]);
    let last: tf.Tensor | undefined;
    return Promise.resolve({
      issue() {
        const c = tf.matMul(a, b);
        last?.dispose();
        last = c;
      },
      async sync() {
        if (last) await syncOn(last);
      },
      dispose() {
        last?.dispose();
        a.dispose();
        b.dispose();
      },
    });
  });
  return { results };
}

async function chain(cli: Cli) {
  const reps = intArg(cli.arg, 50);
  const r = rng(42);
  let x: tf.Tensor = tf.tensor1d(uniform(r, CHAIN_LEN, 1));
  const a = tf.tensor1d(uniform(r, CHAIN_LEN, 1).map(Math.abs));
  const b = tf.tensor1d(uniform(r, CHAIN_LEN, 1));
  const c = tf.tensor1d(uniform(r, CHAIN_LEN, 1).map(Math.abs));
  const step = (v: tf.Tensor) => tf.tidy(() => tf.relu(v.mul(a).add(b)).mul(c).sub(v));
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      const y = step(x);
      x.dispose();
      x = y;
    }
  };
  run(3);
  await syncOn(x);
  const t = now(), d0 = gpuDispatches();
  run(reps);
  await syncOn(x);
  const total = now() - t;
  // syncOn adds one slice kernel.
  const kernels = (gpuDispatches() - d0 - 1) / reps;
  tf.dispose([x, a, b, c]);
  return { results: [chainResult("eager", reps, total, { gpu_dispatches_per_chain: round(kernels) })] };
}

async function dispatch(cli: Cli) {
  const ops = intArg(cli.arg, 1000);
  const results = [];
  // TF.js runs ops whose inputs are all small (< 1000 elements) and still on the CPU on its CPU
  // backend (WEBGPU_CPU_FORWARD). The first mode turns that off so that every op is a GPU kernel;
  // the second shows the default behaviour, where this workload never touches the GPU.
  for (const forward of [false, true]) {
    tf.env().set("WEBGPU_CPU_FORWARD", forward);
    let x: tf.Tensor = tf.tensor1d(dispatchData());
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        const y = x.add(1);
        x.dispose();
        x = y;
      }
    };
    run(100);
    await syncOn(x);
    const trials: number[] = [];
    const d0 = gpuDispatches();
    for (let trial = 0; trial < 3; trial++) {
      const t = now();
      run(ops);
      await syncOn(x);
      trials.push(now() - t);
    }
    const perOp = (gpuDispatches() - d0) / (3 * ops);
    const check = await syncOn(x);
    x.dispose();
    const mode = forward
      ? "eager x = x.add(1), default flags (WEBGPU_CPU_FORWARD=true)"
      : "eager x = x.add(1), WEBGPU_CPU_FORWARD=false";
    results.push(
      dispatchResult(mode, ops, trials, { gpu_dispatches_per_op: round(perOp), final_value: check }),
    );
  }
  tf.env().set("WEBGPU_CPU_FORWARD", true);
  return { results };
}

/** Times `steps` optimizer steps after warm-up; reads the loss once at the end. */
async function trainLoop(
  stepFn: () => tf.Scalar,
  steps: number,
  mode: string,
  extra: Record<string, unknown>,
) {
  const first = stepFn();
  const lossFirst = (await first.data())[0];
  first.dispose();
  for (let i = 1; i < WARMUP_STEPS; i++) stepFn().dispose();
  const t = now(), d0 = gpuDispatches();
  let loss: tf.Scalar | undefined;
  for (let i = 0; i < steps; i++) {
    loss?.dispose();
    loss = stepFn();
  }
  const lossLast = (await loss!.data())[0];
  const total = now() - t;
  const perStep = (gpuDispatches() - d0) / steps;
  loss!.dispose();
  return stepResult(mode, steps, total, lossFirst, lossLast, {
    gpu_dispatches_per_step: round(perStep),
    ...extra,
  });
}

async function mlpStep(cli: Cli) {
  const steps = intArg(cli.arg, DEFAULT_STEPS);
  const d = mlpData();
  const x = tf.tensor2d(d.x, [d.batch, 784]);
  const y = tf.tensor2d(d.y, [d.batch, 10]);
  const w1 = tf.variable(tf.tensor2d(d.w1, [784, 256]));
  const b1 = tf.variable(tf.tensor1d(d.b1));
  const w2 = tf.variable(tf.tensor2d(d.w2, [256, 10]));
  const b2 = tf.variable(tf.tensor1d(d.b2));
  const opt = tf.train.sgd(LR);
  const loss = () => {
    const h = tf.relu(tf.add(tf.matMul(x, w1), b1));
    const logits = tf.add(tf.matMul(h, w2), b2);
    return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
  };
  const stepFn = () => opt.minimize(loss, true, [w1, b1, w2, b2]) as tf.Scalar;
  const res = await trainLoop(stepFn, steps, "eager, optimizer.minimize", { model: MLP_MODEL });
  tf.dispose([x, y, w1, b1, w2, b2]);
  opt.dispose();
  return { results: [res] };
}

async function cnnStep(cli: Cli) {
  const steps = intArg(cli.arg, DEFAULT_STEPS);
  const d = cnnData();
  // NHWC is TF.js's native layout: C = 1 so x is unchanged; weights are permuted from PyTorch layouts.
  const x = tf.tensor4d(d.x, [d.batch, 28, 28, 1]);
  const y = tf.tensor2d(d.y, [d.batch, 10]);
  const c1w = tf.variable(tf.tensor4d(oihwToHwio(d.c1w, 16, 1, 3, 3), [3, 3, 1, 16]));
  const c1b = tf.variable(tf.tensor1d(d.c1b));
  const c2w = tf.variable(tf.tensor4d(oihwToHwio(d.c2w, 32, 16, 3, 3), [3, 3, 16, 32]));
  const c2b = tf.variable(tf.tensor1d(d.c2b));
  const fw = tf.variable(tf.tensor2d(chwRowsToHwc(d.fw, 32, 5, 5, 10), [800, 10]));
  const fb = tf.variable(tf.tensor1d(d.fb));
  const opt = tf.train.sgd(LR);
  const loss = () => {
    let h: tf.Tensor4D = tf.relu(tf.add(tf.conv2d(x, c1w, 1, "valid"), c1b));
    h = tf.maxPool(h, 2, 2, "valid");
    h = tf.relu(tf.add(tf.conv2d(h, c2w, 1, "valid"), c2b));
    h = tf.maxPool(h, 2, 2, "valid");
    const logits = tf.add(tf.matMul(tf.reshape(h, [d.batch, 800]), fw), fb);
    return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
  };
  const stepFn = () => opt.minimize(loss, true, [c1w, c1b, c2w, c2b, fw, fb]) as tf.Scalar;
  const res = await trainLoop(stepFn, steps, "eager, optimizer.minimize (NHWC)", { model: CNN_MODEL });
  tf.dispose([x, y, c1w, c1b, c2w, c2b, fw, fb]);
  opt.dispose();
  return { results: [res] };
}

const WORKLOADS: Record<string, (cli: Cli) => Promise<{ results: unknown[] }>> = {
  matmul,
  chain,
  dispatch,
  "mlp-step": mlpStep,
  "cnn-step": cnnStep,
};

await main(() => "tfjs-webgpu", async (cli) => {
  const work = WORKLOADS[cli.workload];
  if (!work) throw new Error(`unknown workload '${cli.workload}'; ${USAGE}`);
  if (cli.device && cli.device !== "webgpu") throw new SkipError("tfjs.ts runs only the webgpu backend");
  if (!navigator.gpu) throw new Error("navigator.gpu is missing: this Deno has no WebGPU");
  const ok = await tf.setBackend("webgpu");
  await tf.ready();
  const backend = tf.getBackend();
  if (!ok || backend !== "webgpu") throw new Error(`tf.setBackend("webgpu") failed (backend: ${backend})`);
  // deno-lint-ignore no-explicit-any
  const gpu = (tf.backend() as any).device as GPUDevice | undefined;
  const info = gpu?.adapterInfo ?? (await navigator.gpu.requestAdapter())?.info;
  const t0 = now();
  const { results } = await work(cli);
  return {
    backend,
    adapter: describeAdapter(info),
    versions: { "@tensorflow/tfjs": tf.version.tfjs, "@tensorflow/tfjs-backend-webgpu": "4.22.0" },
    results,
    wall_s: Math.round(now() - t0) / 1000,
  };
});
