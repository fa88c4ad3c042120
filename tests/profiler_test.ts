import assert from "node:assert/strict";
import { gpu, mimeBundle, nn, optim, profile, profileChart, randn, type Tensor, tensor } from "../mod.ts";
import { cpuBackend } from "../src/backend/cpu/cpu_backend.ts";
import { webgpuBackend } from "../src/backend/registry.ts";
import { forEachDevice, type TestDevice, webgpuTest } from "./helpers/devices.ts";

/** Bytes in use on `device` now. */
function inUse(device: TestDevice): number {
  return device === "webgpu" ? gpu.memory().inUse : cpuBackend.memory().inUse;
}

/** Whether any profiling hook is still installed. */
function hooksInstalled(): string[] {
  const left: string[] = [];
  for (const k of Object.getOwnPropertyNames(cpuBackend)) {
    if (typeof (cpuBackend as unknown as Record<string, unknown>)[k] === "function") left.push(`cpu.${k}`);
  }
  const b = webgpuBackend();
  if (b?.batch.timer) left.push("webgpu batch timer");
  if (b && Object.hasOwn(b.pool, "acquire")) left.push("webgpu pool.acquire");
  return left;
}

forEachDevice("profile: a known sequence gives its op names, call counts and times", async (device) => {
  const a = randn([8, 16], { device });
  const b = randn([16, 4], { device });
  const p = await profile(async () => {
    const c = a.matmul(b); // [8, 4]
    const d = c.add(c);
    const e = d.mul(d);
    const s = e.sum();
    const value = await s.item();
    for (const t of [c, d, e, s]) t.dispose();
    return value;
  });
  assert.equal(typeof p.result, "number");
  const names = p.rows.map((r) => r.op).sort();
  assert.deepEqual(names, ["add", "matmul", "mul", "reduce.sum"]);
  for (const op of names) {
    const r = p.row(op, device)!;
    assert.equal(r.device, device);
    assert.equal(r.calls, 1, op);
    assert.ok(r.totalMs !== null && r.totalMs >= 0, `${op}: time ${r.totalMs}`);
    assert.ok(r.meanMs !== null && Math.abs(r.meanMs - r.totalMs) < 1e-12);
    assert.ok(r.share !== null && r.share >= 0 && r.share <= 1);
  }
  assert.equal(p.timing, device === "webgpu" ? ((await gpu.info())!.timestamps ? "gpu" : "none") : "host");
  assert.ok(p.wallMs > 0);
  // op time is part of the region's wall time (loose: timers of different clocks)
  assert.ok(p.opMs <= p.wallMs * 1.05 + 0.5, `ops ${p.opMs} ms > wall ${p.wallMs} ms`);
  assert.ok(Math.abs(p.opMs + p.otherMs - p.wallMs) < 1e-6 || p.opMs > p.wallMs);
  // bytes: each op made one 8×4 float32 output (the pool rounds to 256-byte classes), the sum one scalar
  const bytes = device === "webgpu" ? 256 : 128;
  for (const op of ["matmul", "add", "mul"]) assert.equal(p.row(op)!.bytesAllocated, bytes, op);
  assert.equal(p.row("reduce.sum")!.bytesAllocated, device === "webgpu" ? 256 : 4);
  assert.deepEqual(hooksInstalled(), []);
  a.dispose();
  b.dispose();
});

forEachDevice("profile: memory figures agree with the backend's accounting", async (device) => {
  const x = randn([64, 64], { device });
  gpu.resetPeakMemory();
  const start = inUse(device);
  let keep: Tensor | null = null;
  const p = await profile(() => {
    const t1 = x.mul(x); // 16 KiB
    const t2 = t1.add(x); // 16 KiB, peak with t1 alive
    t1.dispose();
    keep = t2.relu();
    t2.dispose();
  });
  const m = p.memoryOf(device)!;
  assert.equal(m.device, device);
  assert.equal(m.startBytes, start);
  assert.equal(m.endBytes, inUse(device));
  assert.equal(m.endBytes - m.startBytes, 64 * 64 * 4);
  assert.equal(m.peakBytes, start + 2 * 64 * 64 * 4);
  if (device === "webgpu") {
    assert.equal(m.peakBytes, gpu.memory().peak);
    assert.equal(m.heldBytes, gpu.memory().allocated);
  }
  assert.equal(p.row("relu")!.peakBytes, start + 2 * 64 * 64 * 4);
  assert.equal(p.row("mul")!.bytesAllocated + p.row("add")!.bytesAllocated, 2 * 64 * 64 * 4);
  (keep as Tensor | null)?.dispose();
  x.dispose();
});

webgpuTest("profile: no extra dispatches, submits or hooks outside profiling", async () => {
  const b = webgpuBackend()!;
  const model = new nn.Sequential(new nn.Linear(32, 16), new nn.ReLU(), new nn.Linear(16, 4)).to("webgpu");
  const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const x = randn([8, 32], { device: "webgpu" });
  const step = async () => {
    opt.zeroGrad();
    const loss = model.forward(x).square().mean();
    loss.backward();
    opt.step();
    await loss.item();
    loss.dispose();
  };
  await step(); // warm-up: momentum buffers are created on the first step
  await step();
  const count = async (fn: () => Promise<unknown>) => {
    await gpu.sync();
    const s0 = gpu.stats();
    await fn();
    const s1 = gpu.stats();
    return { dispatches: s1.dispatches - s0.dispatches, submits: s1.submits - s0.submits };
  };
  const plain = await count(step);
  const again = await count(step);
  assert.deepEqual(again, plain);
  const p = await profile(step);
  // the profiled step runs the same dispatches in the same submits; reading the timestamps adds one submit
  assert.deepEqual(p.engine, plain);
  assert.equal(
    p.rows.reduce((s, r) => s + (r.op === "alloc" || r.op === "upload" ? 0 : r.calls), 0),
    plain.dispatches,
  );
  assert.deepEqual(hooksInstalled(), []);
  assert.equal(b.batch.timer, null);
  const after = await count(step);
  assert.deepEqual(after, plain);
  model.dispose();
  opt.dispose();
  x.dispose();
});

forEachDevice("profile: an exception inside fn ends profiling; profiles do not nest", async (device) => {
  const a = tensor([1.5, 2, 3], { device });
  await assert.rejects(
    profile(() => {
      a.exp().dispose();
      throw new Error("boom inside the region");
    }),
    /boom inside the region/,
  );
  assert.deepEqual(hooksInstalled(), []);
  await assert.rejects(
    profile(async () => {
      await profile(() => a.neg().dispose());
    }),
    /already running \(profiles do not nest\)/,
  );
  assert.deepEqual(hooksInstalled(), []);
  await assert.rejects(profile(42 as unknown as () => void), /expected a function/);
  // profiling works again, and nothing of the failed regions is counted
  const p = await profile(() => a.sqrt().dispose());
  assert.deepEqual(p.rows.map((r) => `${r.op}×${r.calls}`), ["sqrt×1"]);
  a.dispose();
});

forEachDevice("profile: a training step's table, JSON and display", async (device) => {
  const model = new nn.Sequential(new nn.Linear(16, 8), new nn.ReLU(), new nn.Linear(8, 2)).to(device);
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const x = randn([4, 16], { device });
  const p = await profile(async () => {
    opt.zeroGrad();
    const loss = model.forward(x).square().mean();
    loss.backward();
    opt.step();
    const v = await loss.item();
    loss.dispose();
    return v;
  });
  assert.ok(Number.isFinite(p.result));
  assert.equal(p.row("optimizer.adam")!.calls, 4); // two weights, two biases: one fused kernel each
  assert.equal(p.row("matmul")!.calls, 2 + 3); // forward 2; backward: 2 weight grads + 1 input grad
  assert.equal(p.row("relu")!.calls, 1);
  const text = p.toString();
  assert.match(text, /^Profile: \d+ ops in [\d.]+ ms wall/);
  assert.match(text, /optimizer\.adam/);
  assert.match(text, new RegExp(`memory ${device}: start`));
  const json = JSON.parse(JSON.stringify(p));
  assert.equal(json.rows.length, p.rows.length);
  assert.equal(json.wallMs, p.wallMs);
  const bundle = await mimeBundle(p);
  assert.equal(bundle["text/plain"], text);
  const html = bundle["text/html"] as string;
  assert.match(html, /<table class="denograd-profile"/);
  assert.match(html, /optimizer\.adam/);
  if (p.timing !== "none") assert.match(html, /<svg/);
  const chart = await mimeBundle(profileChart(p, { top: 3 }));
  assert.match(chart["image/svg+xml"] as string, /<svg/);
  const spec = chart["application/vnd.vegalite.v5+json"] as { data: { values: { op: string }[] } };
  assert.ok(spec.data.values.length <= 3 + 2); // the top 3, "(n others)" and "(outside ops)"
  model.dispose();
  opt.dispose();
  x.dispose();
});
