/**
 * denograd's side of the benchmark workloads, with the same command line and one-JSON-line output as the
 * peer scripts in `bench/peers/` (see `bench/peers/README.md` for what each number means):
 *
 * ```sh
 * deno run -A bench/ours.ts matmul 256,512,1024,2048 --max-seconds 60
 * deno run -A bench/ours.ts chain 50
 * deno run -A bench/ours.ts dispatch 1000
 * deno run -A bench/ours.ts nograd-memory
 * ```
 * @module
 */
import { gpu, noGrad, randn, type Tensor, tensor } from "../mod.ts";
import {
  CHAIN_LEN,
  chainResult,
  countGpuDispatches,
  DEFAULT_MATMUL_SIZES,
  dispatchData,
  dispatchResult,
  intArg,
  matmulSweep,
  now,
  parseCli,
  quietStdout,
  round,
  sizeList,
  USAGE,
} from "./peers/common.ts";

const emit = quietStdout();
const cli = parseCli(Deno.args);
const device = cli.device === "cpu" ? "cpu" : "webgpu";
if (device === "webgpu" && !(await gpu.isAvailable())) {
  emit({ peer: "denograd", error: `WebGPU unavailable: ${gpu.unavailableReason()}` });
  Deno.exit(1);
}
const dispatches = countGpuDispatches();
const info = await gpu.info();
const base = {
  peer: `denograd-${device}`,
  workload: cli.workload,
  backend: device,
  adapter: info ? `${info.name}${info.isSoftware ? " [fallback adapter]" : ""}` : "none",
};
const t0 = now();

async function matmul(): Promise<unknown> {
  const sizes = sizeList(cli.arg, DEFAULT_MATMUL_SIZES);
  return await matmulSweep(sizes, cli.maxSeconds, (n) => {
    const a = randn([n, n], { device });
    const b = randn([n, n], { device });
    const outs: Tensor[] = [];
    return Promise.resolve({
      issue() {
        outs.push(a.matmul(b));
        // keep at most two products alive: the pool recycles the rest
        while (outs.length > 2) outs.shift()!.dispose();
      },
      async sync() {
        await outs[outs.length - 1].narrow(0, 0, 1).narrow(1, 0, 1).item();
      },
      dispose() {
        for (const t of [a, b, ...outs]) t.dispose();
      },
    });
  });
}

async function chain(): Promise<unknown> {
  const reps = intArg(cli.arg, 50);
  const x = randn([CHAIN_LEN], { device });
  const a = randn([CHAIN_LEN], { device });
  const b = randn([CHAIN_LEN], { device });
  const c = randn([CHAIN_LEN], { device });
  const run = () => {
    const t1 = x.mul(a);
    const t2 = t1.add(b);
    t1.dispose();
    const t3 = t2.relu();
    t2.dispose();
    const t4 = t3.mul(c);
    t3.dispose();
    const y = t4.sub(x);
    t4.dispose();
    return y;
  };
  for (let i = 0; i < 3; i++) run().dispose();
  await gpu.sync();
  const d0 = dispatches();
  const start = now();
  let last: Tensor | null = null;
  for (let i = 0; i < reps; i++) {
    last?.dispose();
    last = run();
  }
  await last!.narrow(0, 0, 1).item();
  const total = now() - start;
  return [chainResult("eager", reps, total, { gpu_dispatches_per_chain: round((dispatches() - d0) / reps) })];
}

async function dispatch(): Promise<unknown> {
  const ops = intArg(cli.arg, 1000);
  const trials: number[] = [];
  let finalValue = 0;
  for (let trial = -1; trial < 3; trial++) {
    let x = tensor(dispatchData(), { device });
    await x.data();
    const n = trial < 0 ? 100 : ops;
    const start = now();
    for (let i = 0; i < n; i++) {
      const y = x.add(1);
      x.dispose();
      x = y;
    }
    const d = await x.data();
    if (trial >= 0) trials.push(now() - start);
    finalValue = d[0];
    x.dispose();
  }
  return [dispatchResult("eager", ops, trials, { final_value: finalValue })];
}

/** Peak memory of an MLP forward with and without autograd recording (what noGrad saves). */
async function nogradMemory(): Promise<unknown> {
  const sizes = [512, 1024, 1024, 10];
  const batch = 256;
  const ws = sizes.slice(1).map((n, i) => randn([sizes[i], n], { device, requiresGrad: true }));
  const x = randn([batch, sizes[0]], { device });
  // each intermediate is disposed as soon as the next layer has used it, as a tidy forward does: without
  // grad its memory is recycled at once; with grad the graph keeps what backward needs
  const forward = () => {
    let h: Tensor = x;
    ws.forEach((w, i) => {
      const z = h.matmul(w);
      if (h !== x) h.dispose();
      h = i < ws.length - 1 ? z.relu() : z;
      if (h !== z) z.dispose();
    });
    return h;
  };
  const measure = async (grad: boolean) => {
    await gpu.sync();
    gpu.resetPeakMemory();
    const before = gpu.memory().inUse;
    const out = grad ? forward() : noGrad(forward);
    const afterForward = gpu.memory().inUse - before;
    const s = out.sum();
    await s.item();
    s.dispose();
    const peak = gpu.memory().peak - before;
    out.gradFn?.release(); // drop the graph (backward would do it)
    out.dispose();
    return { peak_bytes: peak, in_use_after_forward_bytes: afterForward };
  };
  const withGrad = await measure(true);
  const without = await measure(false);
  return [{
    model: `MLP ${sizes.join("-")}, batch ${batch}, float32`,
    with_grad: withGrad,
    no_grad: without,
    saved_bytes: withGrad.peak_bytes - without.peak_bytes,
    ratio: round(without.peak_bytes / withGrad.peak_bytes),
  }];
}

const workloads: Record<string, () => Promise<unknown>> = {
  matmul,
  chain,
  dispatch,
  "nograd-memory": nogradMemory,
};

const run = workloads[cli.workload];
if (!run) {
  emit({ ...base, error: USAGE });
  Deno.exit(2);
}
try {
  const results = await run();
  emit({ ...base, results, engine: gpu.stats(), wall_s: round((now() - t0) / 1000) });
} catch (e) {
  emit({ ...base, error: String((e as Error).stack ?? e) });
  Deno.exit(1);
}
