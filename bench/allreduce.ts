// All-reduce bandwidth: our "tcp" ring and our "mpi" backend (Open MPI through Deno's FFI) beside Open MPI's
// own MPI_Allreduce from C (bench/mpi_allreduce.c, built here with mpicc into out/), in the same run, on
// loopback, float32 sums in place, 1 MB to 400 MB, 2 and 4 ranks.
//
//   deno run -A bench/allreduce.ts [--ranks 2,4] [--sizes-mb 1,4,16,64,256,400] [--iters 3]
//
// For each size: one warm-up call, then `iters` calls each after a barrier; the median per rank and the
// maximum over ranks. Algorithm bandwidth = bytes / time; bus bandwidth = algbw * 2(n-1)/n (nccl-tests'
// definition for all-reduce: the bytes each rank must send and receive). Ours is timed on host arrays (the
// backend alone) and, at 64 MB, through the tensor API (`distributed.allReduce` of a CPU tensor, which adds
// a read and a write of the data). Writes bench/results/allreduce.json and prints a markdown table.
import { distributed } from "../mod.ts";
import { defaultGroup } from "../src/distributed/process_group.ts";

const MB = 2 ** 20;

function argList(name: string, fallback: number[]): number[] {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1].split(",").map(Number) : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// ------------------------------------------------------------------ a rank (started by the runner below)
if (Deno.args[0] === "--worker") {
  const backend = Deno.args[1] as distributed.BackendName;
  const iters = Number(Deno.args[2]);
  const sizes = Deno.args[3].split(",").map(Number);
  await distributed.initProcessGroup({ backend, timeoutMs: 600_000 });
  const { transport } = defaultGroup("bench");
  const T = 600_000;
  const rank = transport.rank;
  const worst = async (ms: number) => {
    const m = new Float32Array([ms]);
    await transport.allReduce(m, "max", T);
    return m[0];
  };
  for (const bytes of sizes) {
    const buf = new Float32Array(bytes / 4).fill(1);
    await transport.allReduce(buf, "sum", T);
    const times: number[] = [];
    for (let k = 0; k < iters; k++) {
      await transport.barrier(T);
      const t0 = performance.now();
      await transport.allReduce(buf, "sum", T);
      times.push(performance.now() - t0);
    }
    const ms = await worst(median(times));
    if (rank === 0) {
      console.log("BENCH " + JSON.stringify({ impl: backend, ranks: transport.worldSize, bytes, ms }));
    }
  }
  // the tensor API at 64 MB: read back, all-reduce, write back
  {
    const { tensor } = await import("../mod.ts");
    const t = tensor(new Float32Array(16 * MB).fill(1));
    await distributed.allReduce(t);
    const times: number[] = [];
    for (let k = 0; k < iters; k++) {
      await distributed.barrier();
      const t0 = performance.now();
      await distributed.allReduce(t);
      await t.data();
      times.push(performance.now() - t0);
    }
    const ms = await worst(median(times));
    if (rank === 0) {
      console.log(
        "BENCH " +
          JSON.stringify({ impl: `${backend}-tensor`, ranks: transport.worldSize, bytes: 64 * MB, ms }),
      );
    }
  }
  await distributed.destroyProcessGroup();
  Deno.exit(0);
}

// ------------------------------------------------------------------ the runner
const ranksList = argList("--ranks", [2, 4]);
const sizesMb = argList("--sizes-mb", [1, 4, 16, 64, 256, 400]);
const iters = argList("--iters", [3])[0];
const sizes = sizesMb.map((m) => m * MB);
const root = new URL("../", import.meta.url).pathname;
const ompi = { OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1", DENOGRAD_DEVICE: "cpu" };

async function collect(cmd: string, args: string[]): Promise<Record<string, number | string>[]> {
  const p = new Deno.Command(cmd, { args, cwd: root, env: ompi, stdout: "piped", stderr: "inherit" }).spawn();
  const { stdout, success } = await p.output();
  const text = new TextDecoder().decode(stdout);
  if (!success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text}`);
  return [...text.matchAll(/BENCH (\{.*\})/g)].map((m) => JSON.parse(m[1]));
}

await Deno.mkdir(`${root}out`, { recursive: true });
const cc = await new Deno.Command("mpicc", {
  args: ["-O2", "-o", "out/mpi_allreduce", "bench/mpi_allreduce.c"],
  cwd: root,
}).output();
if (!cc.success) throw new Error("mpicc failed: " + new TextDecoder().decode(cc.stderr));

const rows: Record<string, number | string>[] = [];
for (const n of ranksList) {
  const sizeArg = sizes.join(",");
  console.error(`ranks ${n}: tcp`);
  rows.push(
    ...await collect(Deno.execPath(), [
      "run",
      "-A",
      "src/distributed/launch.ts",
      "--nproc",
      String(n),
      "bench/allreduce.ts",
      "--worker",
      "tcp",
      String(iters),
      sizeArg,
    ]),
  );
  console.error(`ranks ${n}: mpi (FFI)`);
  rows.push(
    ...await collect("mpirun", [
      "-np",
      String(n),
      "--oversubscribe",
      Deno.execPath(),
      "run",
      "-A",
      "bench/allreduce.ts",
      "--worker",
      "mpi",
      String(iters),
      sizeArg,
    ]),
  );
  console.error(`ranks ${n}: Open MPI from C`);
  rows.push(
    ...await collect("mpirun", [
      "-np",
      String(n),
      "--oversubscribe",
      "out/mpi_allreduce",
      String(iters),
      ...sizes.map(String),
    ]),
  );
}
for (const r of rows) {
  const n = r.ranks as number;
  r.algbwGBs = (r.bytes as number) / (r.ms as number) / 1e6;
  r.busbwGBs = (r.algbwGBs as number) * 2 * (n - 1) / n;
}

const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ").slice(0, 3).join(" ");
const result = {
  date: new Date().toISOString(),
  machine: `${navigator.hardwareConcurrency} CPU cores, loopback, load average ${load}`,
  deno: Deno.version.deno,
  iters,
  rows,
};
await Deno.writeTextFile(`${root}bench/results/allreduce.json`, JSON.stringify(result, null, 1) + "\n");

const impls = ["tcp", "mpi", "c-mpi"];
const label: Record<string, string> = {
  tcp: "ours, tcp ring",
  mpi: "ours, mpi (FFI)",
  "c-mpi": "Open MPI from C",
};
console.log(`\n${result.date}, ${result.machine}; median of ${iters}, max over ranks; GB/s = 1e9 B/s\n`);
console.log(`| ranks | size | ${impls.map((i) => `${label[i]}: ms, algbw, busbw`).join(" | ")} |`);
console.log(`| ---: | ---: | ${impls.map(() => "---:").join(" | ")} |`);
for (const n of ranksList) {
  for (const b of sizes) {
    const cells = impls.map((impl) => {
      const r = rows.find((x) => x.impl === impl && x.ranks === n && x.bytes === b);
      return r
        ? `${(r.ms as number).toFixed(1)} ms, ${(r.algbwGBs as number).toFixed(2)}, ${
          (r.busbwGBs as number).toFixed(2)
        }`
        : "-";
    });
    console.log(`| ${n} | ${b / MB} MB | ${cells.join(" | ")} |`);
  }
  for (const impl of ["tcp-tensor", "mpi-tensor"]) {
    const r = rows.find((x) => x.impl === impl && x.ranks === n);
    if (r) {
      console.log(
        `| ${n} | 64 MB via the tensor API (${impl}) | ${(r.ms as number).toFixed(1)} ms, ${
          (r.algbwGBs as number).toFixed(2)
        } GB/s |`,
      );
    }
  }
}
