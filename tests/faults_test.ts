/**
 * Fault injection: misuse of tensor lifetimes (use after dispose, double dispose, disposing inside `tidy`),
 * requests past the adapter's buffer limits, running out of device memory (a child process under a data-size
 * limit, so that lavapipe's host-backed device memory runs out), and the loss of the GPU device in the middle
 * of training (`destroy()` on the raw GPUDevice): the next op names the loss, `gpu.reset()` gives a new
 * device, and a checkpoint saved before the loss loads onto it. The device-loss test runs last: it replaces
 * the device every later test would use.
 */
import assert from "node:assert/strict";
import {
  F,
  gpu,
  io,
  keep,
  nn,
  noGrad,
  ones,
  optim,
  randn,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../mod.ts";
import { assertRejectsMessage, assertThrowsMessage } from "./helpers/assert_close.ts";
import { forEachDevice, hasWebGpu, webgpuTest } from "./helpers/devices.ts";
import { settledInUse } from "./helpers/memory.ts";

// ---------------------------------------------------------------- lifetimes

forEachDevice("faults: every kind of use after dispose is a clear error, never a crash", async (device) => {
  const t = tensor([[1.5, 2], [3, 4]], { device });
  const other = tensor([[1.5, 1], [1, 1]], { device });
  t.dispose();
  const uses: [string, () => unknown][] = [
    ["add", () => t.add(1)],
    ["matmul", () => other.matmul(t)],
    ["sum", () => t.sum()],
    ["softmax", () => t.softmax(1)],
    ["reshape", () => t.reshape([4])],
    ["narrow", () => t.narrow(0, 0, 1)],
    ["contiguous", () => t.T.contiguous()],
    ["copy_", () => other.copy_(t)],
    ["add_", () => t.add_(1)],
    ["gather", () => other.gather(1, tensor([[0, 1], [1, 0]], { device, dtype: "int32" }).mul(t.int()))],
  ];
  for (const [name, use] of uses) {
    const e = assertThrowsMessage(() => use(), /used after dispose/);
    assert.ok(e instanceof Error, name);
  }
  await assertRejectsMessage(() => t.data(), /used after dispose/);
  const one = tensor([2.5], { device });
  one.dispose();
  await assertRejectsMessage(() => one.item(), /used after dispose/);
  // the operand that was not disposed still works
  assert.deepEqual(await other.add(1).toArray(), [[2.5, 2], [2, 2]]);
});

forEachDevice(
  "faults: double dispose of tensors, views, modules and optimizers is a no-op",
  async (device) => {
    const scenario = () => {
      const a = randn([16, 16], { device });
      const v = a.narrow(0, 2, 4);
      v.dispose();
      v.dispose();
      a.dispose();
      a.dispose();
      v.dispose();
      const lin = new nn.Linear(4, 3).to(device);
      const opt = new optim.Adam(lin.parameters(), { lr: 1e-2 });
      tidy(() => F.mseLoss(lin.forward(randn([2, 4], { device })), zeros([2, 3], { device })).backward());
      opt.step();
      opt.zeroGrad();
      opt.dispose();
      opt.dispose();
      lin.dispose();
      lin.dispose();
    };
    scenario(); // compiles pipelines and caches the scalar constants
    const base = await (device === "webgpu" ? settledInUse() : Promise.resolve(0));
    scenario();
    if (device === "webgpu") assert.equal(await settledInUse(), base, "every byte is back once, none twice");
  },
);

forEachDevice(
  "faults: disposing inside tidy never frees twice and keeps what tidy returns",
  async (device) => {
    const scenario = async () => {
      const outside = tensor([1, 2, 3], { device, dtype: "float32" });
      const r = tidy(() => {
        const a = outside.mul(2);
        a.dispose(); // disposed by hand, then again by tidy's end: a no-op
        const b = outside.add(1);
        outside.dispose(); // a tensor from outside the scope may be disposed inside it
        return b;
      });
      assert.deepEqual(await r.toArray(), [2, 3, 4]);
      assert.equal(outside.isDisposed, true);
      // returning a tensor disposed inside the scope gives it back disposed: using it is a clear error
      const gone = tidy(() => {
        const c = r.mul(3);
        c.dispose();
        return c;
      });
      assert.equal(gone.isDisposed, true);
      assertThrowsMessage(() => gone.add(1), /used after dispose/);
      // keep() inside a nested tidy, then dispose it inside the outer one
      const kept = tidy(() => {
        let inner: Tensor | null = null;
        tidy(() => {
          inner = keep(r.add(10));
        });
        const k = inner! as Tensor;
        const out = k.mul(2);
        k.dispose();
        return out;
      });
      assert.deepEqual(await kept.toArray(), [24, 26, 28]);
      // `using` inside tidy: disposed at the block's end, and tidy's end does not trip on it
      const u = tidy(() => {
        using tmp = r.add(1);
        return tmp.mul(1);
      });
      assert.deepEqual(await u.toArray(), [3, 4, 5]);
      for (const t of [r, kept, u]) t.dispose();
    };
    await scenario(); // caches the scalar constants
    const base = await (device === "webgpu" ? settledInUse() : Promise.resolve(0));
    await scenario();
    if (device === "webgpu") assert.equal(await settledInUse(), base, "nothing leaked, nothing freed twice");
  },
);

forEachDevice(
  "faults: backward after a saved input was disposed still computes the gradient",
  async (device) => {
    // the graph holds its own alias of every tensor it saved, so disposing the user's handle is safe
    const w = tensor([1, 2, 3], { device, requiresGrad: true });
    const c = tensor([4, 5, 6], { device });
    const y = w.mul(c).sum();
    c.dispose();
    y.backward();
    assert.deepEqual(await w.grad!.toArray(), [4, 5, 6]);
  },
);

// ---------------------------------------------------------------- limits and out of memory

webgpuTest("faults: requests past the adapter's buffer limits name the bytes and the limit", async () => {
  const { limits } = (await gpu.info())!;
  const maxElems = Math.floor(Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize) / 4);
  const side = Math.ceil(Math.sqrt(maxElems)) + 16;
  const col = zeros([side, 1], { device: "webgpu" });
  const row = zeros([1, side], { device: "webgpu" });
  const re = /\d+ bytes.*(maxStorageBufferBindingSize|largest buffer)/;
  const cases: [string, () => Tensor][] = [
    [
      "zeros past maxBufferSize",
      () => zeros([Math.floor(limits.maxBufferSize / 4) + 1], { device: "webgpu" }),
    ],
    ["ones past the binding size", () => ones([maxElems + 1], { device: "webgpu" })],
    ["a matmul whose output is too large", () => col.matmul(row)],
    ["an expanded view made contiguous", () => col.expand(side, side).contiguous()],
    ["a broadcast add", () => col.add(row)],
  ];
  for (const [what, make] of cases) {
    const e = assertThrowsMessage(make, re);
    assert.ok(e instanceof RangeError, `${what}: ${e.name}`);
  }
  // nothing was half-allocated, and the library computes as before
  assert.deepEqual(await tensor([1, 2], { device: "webgpu" }).mul(3).toArray(), [3, 6]);
  col.dispose();
  row.dispose();
});

Deno.test({
  name: "faults: running out of device memory is a clear error and the library recovers",
  ignore: !hasWebGpu || Deno.build.os !== "linux",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // lavapipe's device memory is host memory: a 1.5 GB data-size limit (RLIMIT_DATA) on a child process makes
    // it run out after a few 64 MiB tensors, without touching the memory of this machine's other processes
    const child = new URL("./helpers/oom_child.ts", import.meta.url).pathname;
    const out = await new Deno.Command("bash", {
      args: ["-c", `ulimit -d 1500000 && exec "${Deno.execPath()}" run -A --no-check "${child}"`],
      stdout: "piped",
      stderr: "piped",
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `the child ended with ${out.code} (no crash expected): ${stderr.slice(-2000)}`);
    const line = stdout.trim().split("\n").pop()!;
    const r = JSON.parse(line) as {
      fitted: number;
      error: { name: string; message: string } | null;
      recovered: boolean;
      after: string;
    };
    console.log(`out of memory after ${r.fitted} tensors of 64 MiB: ${r.error?.message.slice(0, 200)}`);
    assert.ok(r.error, "the allocations ran out");
    assert.ok(r.fitted > 0 && r.fitted < 1000);
    assert.match(r.error.message, /out of GPU memory allocating \d+ bytes for "[^"]+"/);
    assert.doesNotMatch(
      r.error.message,
      /is invalid/,
      "one message, not the invalid-buffer errors it causes",
    );
    assert.ok(r.recovered, `after freeing, x.mul(2) gave ${r.after}`);
  },
});

// ---------------------------------------------------------------- device loss (last: it replaces the device)

webgpuTest(
  "faults: device loss mid-training; gpu.reset() and the checkpoint saved before it restore training",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "denograd-faults-" });
    const path = `${dir}/before-loss.safetensors`;
    try {
      const make = () =>
        new nn.Sequential(new nn.Linear(6, 8), new nn.Tanh(), new nn.Linear(8, 3)).to("webgpu");
      const model = make();
      const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
      const x = randn([5, 6], { device: "webgpu" });
      const y = tensor([0, 2, 1, 1, 0], { device: "webgpu", dtype: "int32" });
      const step = (m: nn.Sequential, o: optim.Optimizer, xb: Tensor, yb: Tensor) => {
        o.zeroGrad();
        const loss = tidy(() => F.crossEntropy(m.forward(xb), yb));
        loss.backward();
        o.step();
        return loss;
      };
      for (let i = 0; i < 3; i++) step(model, opt, x, y).dispose();
      await io.saveCheckpoint(path, { model, optimizer: opt, epoch: 3 });
      const saved = await Promise.all([...model.parameters()].map((p) => p.data()));
      const savedLoss = await noGrad(() => F.crossEntropy(model.forward(x), y)).item();
      const xHost = await x.data();
      step(model, opt, x, y).dispose(); // training goes on, then the device is lost mid-step
      const pending = model.forward(x);
      const read = pending.data(); // a read in flight when the device goes
      gpu.rawDevice()!.destroy();
      await read.then(() => {}, (e: Error) => assert.match(e.message, /lost|destroyed|invalid/i));
      await new Promise((r) => setTimeout(r, 20));
      assertThrowsMessage(() => step(model, opt, x, y), /device was lost.*gpu\.reset\(\)/);
      await assertRejectsMessage(() => [...model.parameters()][0].data(), /device was lost/);
      await gpu.reset();
      // a new model on the new device, restored from the checkpoint saved before the loss
      const fresh = make();
      const freshOpt = new optim.Adam(fresh.parameters(), { lr: 1e-2 });
      const { epoch } = await io.loadCheckpoint(path, {
        model: fresh,
        optimizer: freshOpt,
        device: "webgpu",
      });
      assert.equal(epoch, 3);
      const loaded = await Promise.all([...fresh.parameters()].map((p) => p.data()));
      assert.deepEqual(loaded.map((d) => Array.from(d)), saved.map((d) => Array.from(d)));
      const x2 = tensor(xHost, { shape: [5, 6], device: "webgpu" });
      const y2 = tensor([0, 2, 1, 1, 0], { device: "webgpu", dtype: "int32" });
      const restoredLoss = await noGrad(() => F.crossEntropy(fresh.forward(x2), y2)).item();
      assert.ok(
        Math.abs(restoredLoss - savedLoss) < 1e-6,
        `loss ${restoredLoss} after restoring, ${savedLoss} at save`,
      );
      const loss = step(fresh, freshOpt, x2, y2);
      assert.ok(Number.isFinite(await loss.item()), "training goes on");
      // the old tensors stay unusable, with the same clear message
      assertThrowsMessage(() => x.add(1), /device was lost/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
