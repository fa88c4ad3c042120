/**
 * conv2d forward and forward+backward times for the layers of the demo CNN (batch 64, 28×28 inputs,
 * 3×3 kernels, padding 1: conv1 1→16 channels at 28×28, conv2 16→32 at 14×14 after a 2×2 max pool, and
 * conv2 at 28×28 for comparison), on WebGPU and on the CPU backend.
 *
 * ```sh
 * deno run -A bench/conv.ts            # both devices
 * deno run -A bench/conv.ts webgpu     # one device
 * ```
 *
 * Each figure is the median over 5 rounds of the mean time per step of a round of `reps` steps issued
 * back to back and closed by a single read (reads cost ~11 ms on lavapipe; a step never waits). The first
 * steps compile the pipelines and are not timed.
 * @module
 */
import { F, gpu, randn, type Tensor } from "../mod.ts";

type Device = "cpu" | "webgpu";

interface Layer {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  /** Whether the input needs a gradient (false for the image fed to the first layer). */
  inputGrad: boolean;
}

const LAYERS: Layer[] = [
  { name: "conv1 1→16, 28×28", x: [64, 1, 28, 28], w: [16, 1, 3, 3], inputGrad: false },
  { name: "conv2 16→32, 14×14", x: [64, 16, 14, 14], w: [32, 16, 3, 3], inputGrad: true },
  { name: "conv2 16→32, 28×28", x: [64, 16, 28, 28], w: [32, 16, 3, 3], inputGrad: true },
];

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function time(step: () => Tensor, reps: number, rounds = 5): Promise<number> {
  for (let i = 0; i < 2; i++) {
    const t = step();
    await t.narrow(0, 0, 1).data();
    t.dispose();
  }
  const per: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    let last: Tensor | null = null;
    for (let i = 0; i < reps; i++) {
      last?.dispose();
      last = step();
    }
    await last!.reshape([-1]).narrow(0, 0, 1).data();
    last!.dispose();
    per.push((performance.now() - t0) / reps);
  }
  return median(per);
}

async function bench(device: Device, layer: Layer): Promise<{ fwd: number; fwdBwd: number; gflops: number }> {
  const x = randn(layer.x, { device, requiresGrad: layer.inputGrad });
  const w = randn(layer.w, { device }).mul(0.1).requiresGrad_();
  const b = randn([layer.w[0]], { device, requiresGrad: true });
  const reps = device === "cpu" ? 2 : 5;
  const fwd = await time(() => F.conv2d(x, w, b, { padding: 1 }), reps);
  const gOut = randn([layer.x[0], layer.w[0], layer.x[2], layer.x[3]], { device });
  const fwdBwd = await time(() => {
    for (const p of [x, w, b]) {
      p.grad?.dispose();
      p.grad = null;
    }
    const y = F.conv2d(x, w, b, { padding: 1 });
    y.backward(gOut);
    y.dispose();
    return w.grad!;
  }, reps);
  // the weight's gradient is returned (and disposed) by `time`; forget it here
  w.grad = null;
  const [N, C, H, W] = layer.x;
  const macs = N * layer.w[0] * H * W * C * 9;
  const passes = layer.inputGrad ? 3 : 2; // forward, grad of weight, grad of input
  for (const t of [x, w, b, gOut]) t.dispose();
  return { fwd, fwdBwd, gflops: (2 * macs * passes) / (fwdBwd * 1e6) };
}

const wanted = Deno.args.filter((a) => a === "cpu" || a === "webgpu") as Device[];
const devices: Device[] = wanted.length ? wanted : ["webgpu", "cpu"];
const info = await gpu.info();
console.log(`conv2d, batch 64, 3×3, padding 1 (adapter: ${info ? info.name : "none"})`);
console.log("device  layer                 forward ms  fwd+bwd ms  fwd+bwd GFLOP/s");
for (const device of devices) {
  if (device === "webgpu" && !(await gpu.isAvailable())) {
    console.log(`webgpu  unavailable: ${gpu.unavailableReason()}`);
    continue;
  }
  for (const layer of LAYERS) {
    const r = await bench(device, layer);
    console.log(
      `${device.padEnd(7)} ${layer.name.padEnd(21)} ${r.fwd.toFixed(1).padStart(10)}  ${
        r.fwdBwd.toFixed(1).padStart(10)
      }  ${r.gflops.toFixed(2).padStart(15)}`,
    );
  }
}
