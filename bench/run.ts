/**
 * `deno task bench`: runs every workload for denograd and its peers (TensorFlow.js webgpu, jax-js webgpu)
 * one after the other on the same adapter, then prints a Markdown table and writes the raw JSON lines to
 * `bench/results/<date>.json`. Each run is a separate process, so one library's pipelines and pools never
 * warm another's.
 *
 * ```sh
 * deno task bench                       # everything
 * deno task bench matmul dispatch       # some workloads
 * deno task bench --quick               # smaller sizes (CI-friendly)
 * ```
 * @module
 */

interface Run {
  name: string;
  script: string;
  args: string[];
}

const quick = Deno.args.includes("--quick");
const only = Deno.args.filter((a) => !a.startsWith("--"));
const onGpuMachine = !(await navigator.gpu?.requestAdapter())?.info.isFallbackAdapter;
const matmulSizes = quick ? "256,512" : onGpuMachine ? "256,512,1024,2048,4096" : "256,512,1024,2048";
const budget = quick ? "20" : "60";

const workloads: Record<string, string[]> = {
  matmul: ["matmul", matmulSizes, "--max-seconds", budget],
  chain: ["chain", quick ? "10" : "50"],
  dispatch: ["dispatch", "1000"],
  "nograd-memory": ["nograd-memory"],
  "mlp-step": ["mlp-step", "20"],
  "cnn-step": ["cnn-step", "10"],
};

const libraries: Run[] = [
  { name: "denograd", script: "bench/ours.ts", args: [] },
  { name: "tfjs", script: "bench/peers/tfjs.ts", args: [] },
  { name: "jax-js", script: "bench/peers/jaxjs.ts", args: [] },
  { name: "jax-js-wasm", script: "bench/peers/jaxjs.ts", args: ["--device", "wasm"] },
];

const results: Record<string, unknown>[] = [];
for (const [workload, args] of Object.entries(workloads)) {
  if (only.length && !only.includes(workload)) continue;
  for (const lib of libraries) {
    if (workload === "nograd-memory" && lib.name !== "denograd") continue;
    // jax-js's wasm backend (no WebGPU) is a peer for the training steps only
    if (lib.name === "jax-js-wasm" && !workload.endsWith("-step")) continue;
    const cmd = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", lib.script, ...args, ...lib.args],
      stdout: "piped",
      stderr: "piped",
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    });
    const t0 = performance.now();
    const out = await cmd.output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { peer: lib.name, workload, error: new TextDecoder().decode(out.stderr).slice(-500) };
    }
    parsed.library = lib.name;
    results.push(parsed);
    console.error(`${workload} ${lib.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

const date = new Date().toISOString().slice(0, 10);
await Deno.mkdir("bench/results", { recursive: true });
const path = `bench/results/${date}${only.length ? `-${only.join("-")}` : ""}${quick ? "-quick" : ""}.json`;
await Deno.writeTextFile(path, results.map((r) => JSON.stringify(r)).join("\n") + "\n");

// ---------------------------------------------------------------- the table
const fmt = (x: unknown) => (typeof x === "number" ? String(x) : "—");
const rows: string[] = [];
const adapter = results.find((r) => typeof r.adapter === "string")?.adapter ?? "unknown";
rows.push(`Run of ${date} on ${adapter}${quick ? " (quick)" : ""}; raw lines in ${path}.`, "");
const byWorkload = (w: string) => results.filter((r) => r.workload === w || (r.error && r.workload === w));
if (byWorkload("matmul").length) {
  rows.push("| matmul f32 GFLOP/s | " + matmulSizes.split(",").join(" | ") + " |");
  rows.push("| --- |" + matmulSizes.split(",").map(() => " ---: |").join(""));
  for (const r of byWorkload("matmul")) {
    const res = (r.results ?? []) as { n: number; gflops?: number; skipped?: string }[];
    const cells = matmulSizes.split(",").map((n) => {
      const e = res.find((x) => x.n === Number(n));
      return e?.gflops !== undefined ? fmt(e.gflops) : e?.skipped ? "skipped" : "—";
    });
    rows.push(`| ${r.peer ?? r.library}${r.error ? " (error)" : ""} | ${cells.join(" | ")} |`);
  }
  rows.push("");
}
for (
  const [w, key, label] of [["chain", "gbps", "elementwise chain GB/s (ms per chain)"], [
    "dispatch",
    "us_per_op",
    "dispatch overhead µs/op",
  ]] as const
) {
  if (!byWorkload(w).length) continue;
  rows.push(`| ${label} | mode | value |`, "| --- | --- | ---: |");
  for (const r of byWorkload(w)) {
    for (const e of (r.results ?? []) as Record<string, unknown>[]) {
      const extra = w === "chain" ? ` (${fmt(e.ms_per_chain)} ms)` : "";
      rows.push(`| ${r.peer ?? r.library} | ${e.mode ?? ""} | ${fmt(e[key])}${extra} |`);
    }
    if (r.error) rows.push(`| ${r.library} | error | ${String(r.error).slice(0, 80)} |`);
  }
  rows.push("");
}
for (const w of ["mlp-step", "cnn-step"]) {
  if (!byWorkload(w).length) continue;
  rows.push(`| ${w} | mode | steps/s | loss first → last |`, "| --- | --- | ---: | --- |");
  for (const r of byWorkload(w)) {
    for (const e of (r.results ?? []) as Record<string, unknown>[]) {
      rows.push(
        `| ${r.peer ?? r.library} | ${e.mode ?? ""} | ${
          fmt(e.steps_per_s)
        } | ${e.loss_first} → ${e.loss_last} |`,
      );
    }
    if (r.error || r.skipped) rows.push(`| ${r.library} | ${r.error ? "error" : "skipped"} | — | |`);
  }
  rows.push("");
}
for (const r of byWorkload("nograd-memory")) {
  for (const e of (r.results ?? []) as Record<string, Record<string, number> & { model: string }>[]) {
    rows.push(
      `noGrad on an ${e.model}: peak ${e.no_grad.peak_bytes} bytes vs ${e.with_grad.peak_bytes} with grad; ` +
        `after the forward the graph holds ${e.with_grad.in_use_after_forward_bytes} bytes vs ` +
        `${e.no_grad.in_use_after_forward_bytes} under noGrad.`,
    );
  }
}
console.log(rows.join("\n"));
