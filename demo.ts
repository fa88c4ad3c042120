/**
 * The demo: fits a small two-layer network to a noisy sine with autograd and plain SGD, on WebGPU when an
 * adapter is there (else on the CPU, after a notice), printing the loss as it falls.
 * Run it with `npx -y deno@2.9.6 task demo`.
 * @module
 */
import { gpu, linspace, manualSeed, noGrad, rand, randn, tidy } from "./mod.ts";

const device = gpu.defaultDevice();
const info = await gpu.info();
console.log(`denograd demo on ${device}${info ? ` (${info.name}, ${info.backend})` : ""}`);

manualSeed(0);
const n = 256;
const hidden = 32;
const x = linspace(-3, 3, n, { device }).reshape([n, 1]);
const noise = randn([n, 1], { device }).mul(0.05);
const y = x.sin().add(noise);

// parameters: leaves that require grad, initialised like PyTorch's Linear: uniform in ±1/√fan_in
const uniform = (shape: number[], bound: number) =>
  rand(shape, { device }).mul(2 * bound).sub(bound).requiresGrad_();
const w1 = uniform([1, hidden], 1);
const b1 = uniform([hidden], 1);
const w2 = uniform([hidden, 1], 1 / Math.sqrt(hidden));
const b2 = uniform([1], 1 / Math.sqrt(hidden));
const params = [w1, b1, w2, b2];
const lr = 0.1;
const steps = 1000;
const t0 = performance.now();
let first = NaN;
let last = NaN;
for (let step = 0; step <= steps; step++) {
  const loss = tidy(() => {
    const h = x.matmul(w1).add(b1).tanh();
    const pred = h.matmul(w2).add(b2);
    const l = pred.sub(y).square().mean();
    l.backward();
    return l;
  });
  // the update: in place, unrecorded, and inside tidy so that the temporaries (grad·lr) are freed at once
  noGrad(() =>
    tidy(() => {
      for (const p of params) {
        p.sub_(p.grad!.mul(lr));
        p.grad!.zero_();
      }
    })
  );
  if (step % 200 === 0) {
    // reading the loss waits for the GPU: do it only when printing
    last = await loss.item();
    if (step === 0) first = last;
    console.log(`step ${String(step).padStart(4)}  loss ${last.toFixed(5)}`);
  }
  loss.dispose();
}
const secs = (performance.now() - t0) / 1000;
const mem = gpu.memory();
console.log(
  `loss ${first.toFixed(4)} -> ${last.toFixed(4)} in ${steps} steps, ${secs.toFixed(1)} s` +
    (device === "webgpu"
      ? `; GPU memory in use ${(mem.inUse / 1024).toFixed(0)} KiB (peak ${(mem.peak / 1024).toFixed(0)} KiB)`
      : ""),
);
if (!(last < first / 5)) {
  console.error("the loss did not fall as expected");
  Deno.exit(1);
}
