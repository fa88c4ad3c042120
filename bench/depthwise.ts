/**
 * Depthwise convolution: the dedicated kernels (`src/ops/depthwise_conv2d.ts`) against the generic grouped
 * path (im2col plus a grouped matrix product, what `F.conv2d` did before) and against a dense 3×3
 * convolution of the same shape (C → C channels), forward and forward+backward, for the depthwise layers of
 * a small MobileNet (3×3, padding 1, batch 32).
 *
 * ```sh
 * deno run -A bench/depthwise.ts                       # webgpu (lavapipe here)
 * deno run -A bench/depthwise.ts --out bench/results/FILE.json
 * ```
 *
 * Each figure is the median over 5 rounds of the mean time per step of a round of `reps` steps issued back
 * to back and closed by a single read (as `bench/conv.ts`); the first two steps compile the pipelines and
 * are not timed. Beside the wall-clock time, the process's CPU time per step (user + system, every thread:
 * on lavapipe the "GPU" is this process's own worker threads) is recorded: on a machine shared with other
 * jobs it is the steadier figure.
 * @module
 */
import process from "node:process";
import { F, gpu, randn, type Tensor } from "../mod.ts";
import { depthwiseFastPath } from "../src/ops/depthwise_conv2d.ts";

interface Layer {
  name: string;
  x: [number, number, number, number];
  stride: number;
}

const BATCH = 32;
const LAYERS: Layer[] = [
  { name: "16 ch, 28×28, stride 2", x: [BATCH, 16, 28, 28], stride: 2 },
  { name: "32 ch, 14×14", x: [BATCH, 32, 14, 14], stride: 1 },
  { name: "64 ch, 14×14, stride 2", x: [BATCH, 64, 14, 14], stride: 2 },
  { name: "128 ch, 7×7", x: [BATCH, 128, 7, 7], stride: 1 },
];

type Path = "depthwise kernel" | "grouped im2col" | "dense conv";
const PATHS: Path[] = ["depthwise kernel", "grouped im2col", "dense conv"];

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Wall-clock and CPU milliseconds per step (medians over the rounds). */
async function time(step: () => Tensor, reps: number, rounds = 5): Promise<{ wall: number; cpu: number }> {
  for (let i = 0; i < 2; i++) {
    const t = step();
    await t.reshape([-1]).narrow(0, 0, 1).data();
    t.dispose();
  }
  const per: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let last: Tensor | null = null;
    for (let i = 0; i < reps; i++) {
      last?.dispose();
      last = step();
    }
    await last!.reshape([-1]).narrow(0, 0, 1).data();
    last!.dispose();
    per.push((performance.now() - t0) / reps);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000 / reps);
  }
  return { wall: median(per), cpu: median(cpu) };
}

async function bench(layer: Layer, path: Path, reps: number) {
  const device = "webgpu";
  const [, C] = layer.x;
  const x = randn(layer.x, { device, requiresGrad: true });
  const dense = path === "dense conv";
  const w = randn(dense ? [C, C, 3, 3] : [C, 1, 3, 3], { device }).mul(0.1).requiresGrad_();
  const b = randn([C], { device, requiresGrad: true });
  const opts = { padding: 1, stride: layer.stride, groups: dense ? 1 : C };
  depthwiseFastPath.enabled = path !== "grouped im2col";
  const conv = () => F.conv2d(x, w, b, opts);
  const fwd = await time(conv, reps);
  const probe = conv();
  const gOut = randn(probe.shape, { device });
  probe.dispose();
  const fwdBwd = await time(() => {
    for (const p of [x, w, b]) {
      p.grad?.dispose();
      p.grad = null;
    }
    const y = conv();
    y.backward(gOut);
    y.dispose();
    return w.grad!;
  }, reps);
  w.grad = null;
  depthwiseFastPath.enabled = true;
  const macs = gOut.size * (dense ? C : 1) * 9;
  for (const t of [x, w, b, gOut]) t.dispose();
  return {
    layer: layer.name,
    path,
    fwdMs: fwd.wall,
    fwdBwdMs: fwdBwd.wall,
    fwdCpuMs: fwd.cpu,
    fwdBwdCpuMs: fwdBwd.cpu,
    multAdds: macs,
  };
}

const outIdx = Deno.args.indexOf("--out");
const out = outIdx >= 0 ? Deno.args[outIdx + 1] : null;
const reps = Number(Deno.args[Deno.args.indexOf("--reps") + 1] || 5);
if (!(await gpu.isAvailable())) throw new Error("bench/depthwise.ts needs a WebGPU adapter");
const adapter = (await gpu.info())?.name ?? "?";
const rows = [];
for (const layer of LAYERS) {
  for (const path of PATHS) {
    const r = await bench(layer, path, reps);
    rows.push(r);
    const f = (v: number) => v.toFixed(2).padStart(8);
    console.error(
      `${layer.name.padEnd(24)} ${path.padEnd(17)} fwd ${f(r.fwdMs)} ms (cpu ${f(r.fwdCpuMs)})   fwd+bwd ${
        f(r.fwdBwdMs)
      } ms (cpu ${f(r.fwdBwdCpuMs)})`,
    );
  }
}
const result = {
  date: new Date().toISOString().slice(0, 10),
  bench: "depthwise",
  adapter,
  batch: BATCH,
  note: "median ms per step over 5 rounds (wall clock, and CPU time of the process); 3x3 kernels, " +
    "padding 1; dense conv is C→C channels",
  loadAverage: Deno.loadavg(),
  rows,
};
console.log(JSON.stringify(result));
if (out) {
  await Deno.writeTextFile(out + ".tmp", JSON.stringify(result, null, 1) + "\n");
  await Deno.rename(out + ".tmp", out);
}
