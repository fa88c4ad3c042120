// DistributedDataParallel training steps/s with 1, 2 and 4 processes on this machine (tcp backend, loopback,
// device cpu): a Fashion-MNIST-sized MLP (784-256-128-10, 235k parameters) on synthetic batches of 64 per
// rank (weak scaling: the global batch grows with the ranks).
//
//   deno run -A bench/ddp.ts [--procs 1,2,4] [--steps 20] [--device cpu]
//
// Each rank: 3 warm-up steps, then `steps` timed steps (forward, backward, `await ddp.syncGradients()`,
// SGD step, and a read of the loss so that the time includes the device). Writes bench/results/ddp.json.
import { distributed, F, manualSeed, nn, noGrad, optim, randint, randn } from "../mod.ts";

function argList(name: string, fallback: string[]): string[] {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1].split(",") : fallback;
}

const BATCH = 64;

if (Deno.args[0] === "--worker") {
  const steps = Number(Deno.args[1]);
  const device = Deno.args[2] as "cpu" | "webgpu";
  await distributed.initProcessGroup({ backend: "tcp", timeoutMs: 600_000 });
  const rank = distributed.getRank();
  manualSeed(rank);
  const model = new nn.Sequential(
    new nn.Linear(784, 256),
    new nn.ReLU(),
    new nn.Linear(256, 128),
    new nn.ReLU(),
    new nn.Linear(128, 10),
  ).to(device);
  const ddp = new distributed.DistributedDataParallel(model);
  await ddp.ready;
  const opt = new optim.SGD(ddp.parameters(), { lr: 0.05, momentum: 0.9 });
  const x = randn([BATCH, 784], { device });
  const y = randint(0, 10, [BATCH], { device });
  let syncMs = 0;
  const step = async (timed: boolean) => {
    opt.zeroGrad();
    const loss = F.crossEntropy(ddp.forward(x), y);
    loss.backward();
    const t0 = performance.now();
    await ddp.syncGradients();
    if (timed) syncMs += performance.now() - t0;
    noGrad(() => opt.step());
    await loss.item();
    loss.dispose();
  };
  for (let i = 0; i < 3; i++) await step(false);
  await distributed.barrier();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step(true);
  const ms = performance.now() - t0;
  const all = new Float32Array([ms, syncMs]);
  const t = (await import("../mod.ts")).tensor(all);
  await distributed.allReduce(t, "max");
  const [worst, worstSync] = await t.data();
  if (rank === 0) {
    console.log(
      "BENCH " +
        JSON.stringify({ procs: distributed.getWorldSize(), device, steps, ms: worst, syncMs: worstSync }),
    );
  }
  await distributed.destroyProcessGroup();
  Deno.exit(0);
}

const procs = argList("--procs", ["1", "2", "4"]).map(Number);
const steps = Number(argList("--steps", ["20"])[0]);
const device = argList("--device", ["cpu"])[0];
const root = new URL("../", import.meta.url).pathname;
const rows: Record<string, number | string>[] = [];
for (const n of procs) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "src/distributed/launch.ts",
      "--nproc",
      String(n),
      "bench/ddp.ts",
      "--worker",
      String(steps),
      device,
    ],
    cwd: root,
    env: device === "cpu" ? { DENOGRAD_DEVICE: "cpu" } : {},
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`${n} processes failed:\n${text}`);
  const r = JSON.parse(/BENCH (\{.*\})/.exec(text)![1]);
  r.stepsPerS = steps / (r.ms / 1000);
  r.samplesPerS = r.stepsPerS * BATCH * n;
  r.syncShare = r.syncMs / r.ms;
  rows.push(r);
  console.error(JSON.stringify(r));
}
const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ").slice(0, 3).join(" ");
const result = {
  date: new Date().toISOString(),
  machine: `${navigator.hardwareConcurrency} CPU cores, loopback, load average ${load}`,
  model: "MLP 784-256-128-10, batch 64 per rank, SGD momentum",
  rows,
};
await Deno.writeTextFile(`${root}bench/results/ddp.json`, JSON.stringify(result, null, 1) + "\n");
console.log(`\n${result.date}, ${result.machine}, device ${device}, ${result.model}\n`);
console.log("| processes | steps/s (each rank) | samples/s (all ranks) | time in syncGradients |");
console.log("| ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.procs} | ${(r.stepsPerS as number).toFixed(2)} | ${(r.samplesPerS as number).toFixed(0)} | ${
      ((r.syncShare as number) * 100).toFixed(0)
    }% |`,
  );
}
