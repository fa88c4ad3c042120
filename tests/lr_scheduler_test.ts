/**
 * Learning-rate schedulers against PyTorch: StepLR, CosineAnnealingLR and OneCycleLR learning-rate (and
 * momentum/β1) sequences from `tests/fixtures/optim.json`, state-dict round trips, errors, and a schedule
 * driving real updates on every device (uniforms only: no new pipeline per step on WebGPU).
 * @module
 */

import assert from "node:assert/strict";
import { gpu, optim, type Tensor, tensor, zeros } from "../mod.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { forEachDevice } from "./helpers/devices.ts";

interface SchedCase {
  name: string;
  optimizer: "SGD" | "Adam" | "AdamW" | "RMSprop";
  options: Record<string, unknown>;
  groups: ({ params: number[] } & Record<string, unknown>)[] | null;
  scheduler: "StepLR" | "CosineAnnealingLR" | "OneCycleLR";
  args: Record<string, unknown>;
  steps: number;
  lrs: number[][];
  momentums: number[][] | null;
}

const fixtures: { torch: string; schedulers: SchedCase[] } = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/optim.json", import.meta.url)),
);

const opts = { sanitizeResources: false, sanitizeOps: false };
/** The schedules are host arithmetic in float64, as PyTorch's: they should agree to rounding. */
const EXACT = { rtol: 1e-12, atol: 1e-15 };

const OPTIMIZERS = { SGD: optim.SGD, Adam: optim.Adam, AdamW: optim.AdamW, RMSprop: optim.RMSprop };
const SCHEDULERS = {
  StepLR: optim.StepLR,
  CosineAnnealingLR: optim.CosineAnnealingLR,
  OneCycleLR: optim.OneCycleLR,
};

function build(c: SchedCase): { opt: optim.Optimizer; sched: optim.LRScheduler; params: Tensor[] } {
  const params = [zeros([3, 4], { requiresGrad: true }), zeros([4], { requiresGrad: true })];
  const Opt = OPTIMIZERS[c.optimizer] as unknown as new (p: unknown, o: unknown) => optim.Optimizer;
  const arg = c.groups ? c.groups.map((g) => ({ ...g, params: g.params.map((i) => params[i]) })) : params;
  const opt = new Opt(arg, c.options);
  const Sched = SCHEDULERS[c.scheduler] as unknown as new (
    o: optim.Optimizer,
    a: unknown,
  ) => optim.LRScheduler;
  return { opt, sched: new Sched(opt, c.args), params };
}

function momentums(opt: optim.Optimizer): number[] {
  return opt.paramGroups.map((g) => {
    const m = g as optim.ParamGroup & { momentum?: number; betas?: [number, number] };
    return m.betas ? m.betas[0] : m.momentum!;
  });
}

function check(c: SchedCase, i: number, opt: optim.Optimizer, sched: optim.LRScheduler): void {
  assertClose(sched.getLastLr(), c.lrs[i], { ...EXACT, msg: `${c.name}: lr after ${i} steps` });
  assertClose(opt.paramGroups.map((g) => g.lr), c.lrs[i], {
    ...EXACT,
    msg: `${c.name}: group lr after ${i}`,
  });
  if (c.momentums) {
    assertClose(momentums(opt), c.momentums[i], { ...EXACT, msg: `${c.name}: momentum after ${i} steps` });
  }
}

Deno.test(`lr_scheduler: sequences match PyTorch ${fixtures.torch}`, opts, async (t) => {
  for (const c of fixtures.schedulers) {
    await t.step(c.name, () => {
      const { opt, sched } = build(c);
      check(c, 0, opt, sched);
      for (let i = 1; i <= c.steps; i++) {
        opt.step();
        sched.step();
        check(c, i, opt, sched);
      }
      if (!c.momentums && c.scheduler === "OneCycleLR") {
        assert.equal(momentums(opt)[0], c.options.momentum, "cycleMomentum: false leaves the momentum alone");
      }
    });
  }
});

Deno.test(
  "lr_scheduler: stateDict round trip (with the optimizer's) continues the same sequence",
  opts,
  async (t) => {
    for (const c of fixtures.schedulers) {
      await t.step(c.name, () => {
        const k = Math.floor(c.steps / 2);
        const a = build(c);
        for (let i = 1; i <= k; i++) {
          a.opt.step();
          a.sched.step();
        }
        const saved = JSON.parse(JSON.stringify({ opt: a.opt.stateDict(), sched: a.sched.stateDict() }));
        assert.equal(saved.sched.last_epoch, k);
        assert.ok(Array.isArray(saved.sched.base_lrs));
        const b = build(c); // a fresh schedule at epoch 0
        b.opt.loadStateDict(saved.opt);
        b.sched.loadStateDict(saved.sched);
        check(c, k, b.opt, b.sched);
        for (let i = k + 1; i <= c.steps; i++) {
          b.opt.step();
          b.sched.step();
          check(c, i, b.opt, b.sched);
        }
      });
    }
  },
);

Deno.test("lr_scheduler: state dicts use PyTorch's keys", () => {
  const opt = new optim.SGD([zeros([2], { requiresGrad: true })], { lr: 0.1, momentum: 0.9 });
  const sd = new optim.OneCycleLR(opt, { maxLr: 1, totalSteps: 10 }).stateDict();
  for (
    const key of ["base_lrs", "last_epoch", "_step_count", "_last_lr", "total_steps", "_schedule_phases"]
  ) {
    assert.ok(key in sd, `OneCycleLR state dict has ${key}`);
  }
  const g = opt.stateDict().param_groups[0];
  for (const key of ["initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"]) {
    assert.ok(key in g, `the optimizer's param group has ${key}`);
  }
  const cos = new optim.CosineAnnealingLR(new optim.SGD([zeros([2], { requiresGrad: true })], { lr: 1 }), {
    tMax: 5,
  });
  assert.deepEqual(Object.keys(cos.stateDict()).slice(-2), ["T_max", "eta_min"]);
});

Deno.test("lr_scheduler: bad input gets clear errors", () => {
  const opt = () => new optim.SGD([zeros([2], { requiresGrad: true })], { lr: 0.1 });
  const sched = new optim.OneCycleLR(opt(), { maxLr: 0.1, totalSteps: 3 });
  for (let i = 0; i < 3; i++) sched.step();
  assertThrowsMessage(() => sched.step(), /tried to step 5 times\. The specified number of total steps is 3/);
  assert.equal(sched.lastEpoch, 3, "a failed step leaves the schedule where it was");
  assertThrowsMessage(() => new optim.OneCycleLR(opt(), { maxLr: 0.1 }), /either totalSteps OR/);
  assertThrowsMessage(
    () => new optim.OneCycleLR(opt(), { maxLr: [0.1, 0.2], totalSteps: 5 }),
    /expected 1 values for maxLr, got 2/,
  );
  assertThrowsMessage(
    () => new optim.OneCycleLR(opt(), { maxLr: 0.1, totalSteps: 5, pctStart: 2 }),
    /pctStart/,
  );
  assertThrowsMessage(() => new optim.StepLR(opt(), { stepSize: 0 }), /stepSize must be a positive integer/);
  assertThrowsMessage(() => new optim.CosineAnnealingLR(opt(), { tMax: 0 }), /tMax must be a positive/);
  assertThrowsMessage(
    () => new optim.StepLR({} as optim.Optimizer, { stepSize: 1 }),
    /StepLR: expected an Optimizer/,
  );
  assertThrowsMessage(
    () => new optim.StepLR(opt(), { stepSize: 1, lastEpoch: 4 }),
    /initialLr' is not specified in paramGroups\[0\] when resuming/,
  );
});

forEachDevice("lr_scheduler: a one-cycle schedule drives SGD's updates", async (device) => {
  // Reference: SGD with momentum in float64 on the host, with the schedule's lr and momentum at each step.
  const grads = [0.5, -1, 2, 0.25];
  const w = tensor([1, 2, 3, 4], { device, dtype: "float32", requiresGrad: true });
  const opt = new optim.SGD([w], { lr: 0.1, momentum: 0.9 });
  const sched = new optim.OneCycleLR(opt, { maxLr: 0.5, totalSteps: 12 });
  const x = [1, 2, 3, 4];
  const buf = [0, 0, 0, 0];
  let pipelines = -1;
  for (let s = 0; s < 11; s++) {
    const g = opt.paramGroups[0];
    for (let i = 0; i < 4; i++) {
      buf[i] = s === 0 ? grads[i] : g.momentum * buf[i] + grads[i];
      x[i] -= g.lr * buf[i];
    }
    w.grad?.dispose();
    w.grad = tensor(grads, { device, dtype: "float32" });
    opt.step();
    sched.step();
    if (device === "webgpu" && s === 1) pipelines = gpu.stats().pipelines;
  }
  assertClose(await w.data(), x, { rtol: 1e-5, msg: "parameters after 11 scheduled steps" });
  if (device === "webgpu") {
    assert.equal(gpu.stats().pipelines, pipelines, "changing lr and momentum compiles no new pipeline");
  }
});
