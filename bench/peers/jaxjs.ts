/**
 * jax-js peer benchmark, on its WebGPU device (default) or its WebAssembly device
 * (`--device wasm`). Prints one JSON line; see README.md.
 *
 *   deno run -A bench/peers/jaxjs.ts matmul 256,512,1024,2048 --max-seconds 60
 *   deno run -A bench/peers/jaxjs.ts mlp-step --device wasm
 *
 * jax-js arrays are reference counted: every op consumes its array arguments, `.ref` adds a
 * reference. Ops are queued lazily and only submitted when something is read or awaited
 * (`blockUntilReady`), so every timed loop here ends with such a wait.
 *
 * @module
 */
// Pinned inline on purpose (the bench pins peer versions here, not in deno.json).
import {
  blockUntilReady,
  defaultDevice,
  type Device,
  getWebGPUDevice,
  init,
  jit,
  lax,
  nn,
  numpy as np,
  tree,
  valueAndGrad,
  // deno-lint-ignore no-import-prefix
} from "npm:@jax-js/jax@0.1.25";
import {
  CHAIN_LEN,
  chainResult,
  type Cli,
  CNN_MODEL,
  cnnData,
  DEFAULT_MATMUL_SIZES,
  DEFAULT_STEPS,
  describeAdapter,
  DISPATCH_LEN,
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
  rng,
  round,
  sizeList,
  stepResult,
  uniform,
  USAGE,
  WARMUP_STEPS,
} from "./common.ts";

const JAXJS_VERSION = "0.1.25"; // keep in step with the import specifier above

const arr = (data: Float32Array<ArrayBuffer>, shape: number[]) => np.array(data, { shape });

/** Reads one element of `x` (consumes `x`), which waits for everything it depends on. */
async function readFirst(x: np.Array): Promise<number> {
  return (await x.reshape([-1]).slice([0, 1]).data())[0];
}

async function matmul(cli: Cli) {
  const sizes = sizeList(cli.arg, DEFAULT_MATMUL_SIZES);
  const results = await matmulSweep(sizes, cli.maxSeconds, async (n): Promise<MatmulCase> => {
    const r = rng(n);
    const a = arr(uniform(r, n * n, 1), [n, n]);
    const b = arr(uniform(r, n * n, 1), [n, n]);
    await blockUntilReady([a, b]);
    let issued: np.Array[] = [];
    return {
      // Lazy: the product is submitted when waited on; sync() waits on all issued ones together.
      issue() {
        issued.push(np.matmul(a.ref, b.ref));
      },
      async sync() {
        await blockUntilReady(issued);
        for (const c of issued) c.dispose();
        issued = [];
      },
      dispose() {
        for (const c of issued) c.dispose();
        a.dispose();
        b.dispose();
      },
    };
  });
  return { results };
}

/** y = relu(x*a + b) * c - x; consumes x, borrows a, b, c. */
const chainStep = (x: np.Array, a: np.Array, b: np.Array, c: np.Array) =>
  nn.relu(x.ref.mul(a).add(b)).mul(c).sub(x);

async function chain(cli: Cli) {
  const reps = intArg(cli.arg, 50);
  const r = rng(42);
  const x0 = uniform(r, CHAIN_LEN, 1);
  const a = arr(uniform(r, CHAIN_LEN, 1).map(Math.abs), [CHAIN_LEN]);
  const b = arr(uniform(r, CHAIN_LEN, 1), [CHAIN_LEN]);
  const c = arr(uniform(r, CHAIN_LEN, 1).map(Math.abs), [CHAIN_LEN]);
  await blockUntilReady([a, b, c]);
  const jitted = jit(chainStep);
  const results = [];
  for (const [mode, f] of [["eager (one kernel per op)", chainStep], ["jit (fused)", jitted]] as const) {
    let x = arr(x0, [CHAIN_LEN]);
    const run = (n: number) => {
      for (let i = 0; i < n; i++) x = f(x, a.ref, b.ref, c.ref);
    };
    run(3);
    await x.blockUntilReady();
    const t = now(), d0 = gpuDispatches();
    run(reps);
    await x.blockUntilReady();
    const total = now() - t;
    const perChain = (gpuDispatches() - d0) / reps;
    x.dispose();
    results.push(chainResult(mode, reps, total, { gpu_dispatches_per_chain: round(perChain) }));
  }
  jitted.dispose();
  a.dispose();
  b.dispose();
  c.dispose();
  return { results };
}

async function dispatch(cli: Cli) {
  const ops = intArg(cli.arg, 1000);
  const addOne = jit((x: np.Array) => x.add(1));
  const results = [];
  for (
    const [mode, f] of [
      ["eager, x = x.add(1)", (x: np.Array) => x.add(1)],
      ["jit, x = f(x) with f = jit(x => x.add(1))", addOne],
    ] as const
  ) {
    // Distinct values: jax-js folds small constant arrays (< 128 equal elements) into symbolic
    // expressions that never reach the device.
    let x = arr(dispatchData(), [DISPATCH_LEN]);
    const run = (n: number) => {
      for (let i = 0; i < n; i++) x = f(x);
    };
    run(100);
    await x.blockUntilReady();
    const trials: number[] = [];
    const d0 = gpuDispatches();
    for (let trial = 0; trial < 3; trial++) {
      const t = now();
      run(ops);
      await x.blockUntilReady();
      trials.push(now() - t);
    }
    const perOp = (gpuDispatches() - d0) / (3 * ops);
    const check = await readFirst(x);
    results.push(
      dispatchResult(mode, ops, trials, { gpu_dispatches_per_op: round(perOp), final_value: check }),
    );
  }
  addOne.dispose();
  return { results };
}

type Params = Record<string, np.Array>;
type StepFn = (p: Params, x: np.Array, y: np.Array) => [np.Array, Params];

/** Mean softmax cross-entropy of logits [B, 10] against one-hot y; consumes both. */
const xent = (logits: np.Array, y: np.Array) => nn.logSoftmax(logits, -1).mul(y).sum(-1).mean().neg();

/** One SGD step as a pure function: returns [loss, new params]. Consumes all arguments. */
function sgdStep(loss: (p: Params, x: np.Array, y: np.Array) => np.Array): StepFn {
  return (p, x, y) => {
    const [value, grads] = valueAndGrad(loss)(tree.ref(p), x, y);
    const next = tree.map((w: np.Array, g: np.Array) => w.sub(g.mul(LR)), p, grads) as Params;
    return [value, next];
  };
}

/** Times `steps` training steps per mode (eager and jit) after warm-up; one loss read at the end. */
async function trainModes(
  init: () => Params,
  x: np.Array,
  y: np.Array,
  steps: number,
  step: StepFn,
  extra: Record<string, unknown>,
) {
  const jitted = jit(step);
  const results = [];
  for (
    const [mode, f] of [["jit(valueAndGrad + SGD)", jitted], ["eager valueAndGrad + SGD", step]] as const
  ) {
    let p = init();
    const once = () => {
      const [loss, next] = f(p, x.ref, y.ref);
      p = next;
      return loss;
    };
    const lossFirst = await readFirst(once());
    for (let i = 1; i < WARMUP_STEPS; i++) once().dispose();
    await blockUntilReady(p);
    const t = now(), d0 = gpuDispatches();
    let loss: np.Array | undefined;
    for (let i = 0; i < steps; i++) {
      loss?.dispose();
      loss = once();
    }
    await blockUntilReady([loss!, p]);
    const lossLast = await readFirst(loss!);
    const total = now() - t;
    const perStep = (gpuDispatches() - d0) / steps;
    tree.dispose(p);
    results.push(
      stepResult(mode, steps, total, lossFirst, lossLast, {
        gpu_dispatches_per_step: round(perStep),
        ...extra,
      }),
    );
  }
  jitted.dispose();
  x.dispose();
  y.dispose();
  return results;
}

async function mlpStep(cli: Cli) {
  const steps = intArg(cli.arg, DEFAULT_STEPS);
  const d = mlpData();
  const loss = (p: Params, x: np.Array, y: np.Array) => {
    const h = nn.relu(np.matmul(x, p.w1).add(p.b1));
    return xent(np.matmul(h, p.w2).add(p.b2), y);
  };
  const params = () => ({
    w1: arr(d.w1, [784, 256]),
    b1: arr(d.b1, [256]),
    w2: arr(d.w2, [256, 10]),
    b2: arr(d.b2, [10]),
  });
  const x = arr(d.x, [d.batch, 784]), y = arr(d.y, [d.batch, 10]);
  return { results: await trainModes(params, x, y, steps, sgdStep(loss), { model: MLP_MODEL }) };
}

/** 2x2 max pool, stride 2, over the trailing two axes (NCHW), as `lax.reduce_window`. */
const maxPool2 = (h: np.Array) => lax.reduceWindow(h, (w: np.Array) => np.max(w), [2, 2], [2, 2]);

async function cnnStep(cli: Cli) {
  const steps = intArg(cli.arg, DEFAULT_STEPS);
  const d = cnnData();
  const B = d.batch;
  const loss = (p: Params, x: np.Array, y: np.Array) => {
    let h = lax.convGeneralDilated(x, p.c1w, [1, 1], "VALID").add(p.c1b.reshape([16, 1, 1]));
    h = maxPool2(nn.relu(h));
    h = lax.convGeneralDilated(h, p.c2w, [1, 1], "VALID").add(p.c2b.reshape([32, 1, 1]));
    h = maxPool2(nn.relu(h));
    return xent(np.matmul(h.reshape([B, 800]), p.fw).add(p.fb), y);
  };
  const params = () => ({
    c1w: arr(d.c1w, [16, 1, 3, 3]),
    c1b: arr(d.c1b, [16]),
    c2w: arr(d.c2w, [32, 16, 3, 3]),
    c2b: arr(d.c2b, [32]),
    fw: arr(d.fw, [800, 10]),
    fb: arr(d.fb, [10]),
  });
  const x = arr(d.x, [B, 1, 28, 28]), y = arr(d.y, [B, 10]);
  return { results: await trainModes(params, x, y, steps, sgdStep(loss), { model: CNN_MODEL + " (NCHW)" }) };
}

const WORKLOADS: Record<string, (cli: Cli) => Promise<{ results: unknown[] }>> = {
  matmul,
  chain,
  dispatch,
  "mlp-step": mlpStep,
  "cnn-step": cnnStep,
};

const deviceOf = (cli: Cli): Device => (cli.device ?? "webgpu") as Device;

await main((cli) => `jaxjs-${deviceOf(cli)}`, async (cli) => {
  const work = WORKLOADS[cli.workload];
  if (!work) throw new Error(`unknown workload '${cli.workload}'; ${USAGE}`);
  const device = deviceOf(cli);
  if (device !== "webgpu" && device !== "wasm") throw new Error("--device must be webgpu or wasm");
  const available = await init(device);
  if (!available.includes(device)) throw new Error(`jax-js could not start its ${device} device`);
  defaultDevice(device);
  const probe = np.zeros([1]);
  const actual = probe.device;
  probe.dispose();
  if (actual !== device) throw new Error(`arrays land on ${actual}, not ${device}`);
  const adapter = device === "webgpu"
    ? describeAdapter(getWebGPUDevice().adapterInfo)
    : `wasm (${typeof SharedArrayBuffer !== "undefined" ? navigator.hardwareConcurrency : 1} threads)`;
  const t0 = now();
  const { results } = await work(cli);
  return {
    backend: actual,
    adapter,
    versions: { "@jax-js/jax": JAXJS_VERSION },
    results,
    wall_s: Math.round(now() - t0) / 1000,
  };
});
