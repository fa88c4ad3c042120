/**
 * Optimizers and gradient clipping against PyTorch: every optimizer's 5-step trajectory for several options
 * (`tests/fixtures/optim.json`, made by `tests/fixtures/make_optim_fixtures.py`), its final state and
 * state-dict layout, state-dict round trips, clipGradNorm/clipGradValue, one fused kernel per parameter,
 * flat GPU memory over 50 steps, and clear errors. Every behaviour runs on the CPU and, when available,
 * on WebGPU.
 * @module
 */

import assert from "node:assert/strict";
import { gpu, nn, noGrad, optim, randn, type Tensor, tensor, tidy } from "../mod.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { ALL_DEVICES, hasWebGpu, type TestDevice as Device } from "./helpers/devices.ts";

type OptimizerName = "SGD" | "Adam" | "AdamW" | "RMSprop";

/** One recorded trajectory (see the generator's docstring). */
interface OptimCase {
  name: string;
  optimizer: OptimizerName;
  options: Record<string, unknown>;
  groups: ({ params: number[] } & Record<string, unknown>)[] | null;
  shapes: number[][];
  init: number[][];
  steps: { grads: (number[] | null)[]; params: number[][] }[];
  state: Record<string, Record<string, number | number[] | null>>;
  paramGroups: Record<string, unknown>[];
}

interface ClipCase {
  maxNorm?: number;
  normType?: number | "inf";
  clipValue?: number;
  shapes: number[][];
  grads: number[][];
  totalNorm?: number;
  clipped: number[][];
}

const fixtures: { torch: string; optim: OptimCase[]; clip: ClipCase[] } = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/optim.json", import.meta.url)),
);

/** Parameters after each step within 1e-5 relative of PyTorch's (atol for elements near zero). */
const TOL = { rtol: 1e-5, atol: 1e-6 };
const opts = { sanitizeResources: false, sanitizeOps: false };

/** One test per device, named "<name> [<device>]" (WebGPU ignored without an adapter), with steps per case. */
function deviceTest(name: string, fn: (t: Deno.TestContext, device: Device) => Promise<void>): void {
  for (const device of ALL_DEVICES) {
    Deno.test({
      name: `${name} [${device}]`,
      ignore: device === "webgpu" && !hasWebGpu,
      ...opts,
      fn: (t) => fn(t, device),
    });
  }
}

const CTORS = { SGD: optim.SGD, Adam: optim.Adam, AdamW: optim.AdamW, RMSprop: optim.RMSprop };

function makeParams(c: OptimCase, values: number[][], device: Device): Tensor[] {
  return values.map((v, i) =>
    tensor(Float32Array.from(v), { shape: c.shapes[i], device, dtype: "float32", requiresGrad: true })
  );
}

function build(c: OptimCase, params: Tensor[]): optim.Optimizer {
  const Ctor = CTORS[c.optimizer] as unknown as new (p: unknown, o: unknown) => optim.Optimizer;
  const arg = c.groups ? c.groups.map((g) => ({ ...g, params: g.params.map((i) => params[i]) })) : params;
  return new Ctor(arg, c.options);
}

function setGrads(c: OptimCase, params: Tensor[], step: number, device: Device): void {
  c.steps[step].grads.forEach((g, i) => {
    params[i].grad?.dispose();
    params[i].grad = g === null
      ? null
      : tensor(Float32Array.from(g), { shape: c.shapes[i], device, dtype: "float32" });
  });
}

async function checkParams(c: OptimCase, params: Tensor[], step: number, label: string): Promise<void> {
  for (let i = 0; i < params.length; i++) {
    assertClose(await params[i].data(), c.steps[step].params[i], {
      ...TOL,
      msg: `${label}: param ${i} after step ${step + 1}`,
    });
  }
}

/** Runs steps [from, to) of a case with the recorded gradients, checking the parameters after each. */
async function replay(
  c: OptimCase,
  opt: optim.Optimizer,
  params: Tensor[],
  from: number,
  to: number,
  device: Device,
): Promise<void> {
  for (let s = from; s < to; s++) {
    setGrads(c, params, s, device);
    opt.step();
    await checkParams(c, params, s, `${c.name} on ${device}`);
  }
}

function dispose(opt: optim.Optimizer, params: Tensor[]): void {
  opt.dispose();
  for (const p of params) {
    p.grad?.dispose();
    p.dispose();
  }
}

/** A state dict as PyTorch's would look after a JSON round trip: tensors (and `step`) as arrays of numbers. */
async function toJson(sd: optim.OptimizerStateDict): Promise<optim.LoadableStateDict> {
  const state: optim.LoadableStateDict["state"] = {};
  for (const [k, st] of Object.entries(sd.state)) {
    const entry: Record<string, optim.LoadableStateValue> = {};
    for (const [name, v] of Object.entries(st)) {
      // Tensors become arrays of numbers; `step` becomes [n], as PyTorch's one-element step tensor does.
      entry[name] = v !== null && typeof v === "object"
        ? Array.from(await v.data())
        : name === "step" && typeof v === "number"
        ? [v]
        : v;
      if (v !== null && typeof v === "object") v.dispose();
    }
    state[k] = entry;
  }
  return JSON.parse(JSON.stringify({ state, param_groups: sd.param_groups }));
}

deviceTest(`optim: trajectories match PyTorch ${fixtures.torch}`, async (t, device) => {
  for (const c of fixtures.optim) {
    await t.step(`${c.name}`, async () => {
      const params = makeParams(c, c.init, device);
      const opt = build(c, params);
      await replay(c, opt, params, 0, c.steps.length, device);

      // The final state and the state dict's layout are PyTorch's.
      const sd = opt.stateDict();
      assert.deepEqual(Object.keys(sd.state).sort(), Object.keys(c.state).sort(), "state indices");
      for (const [k, expected] of Object.entries(c.state)) {
        const got = sd.state[Number(k)];
        assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort(), `state[${k}] keys`);
        for (const [name, v] of Object.entries(expected)) {
          const mine = got[name];
          if (Array.isArray(v)) {
            assert.ok(mine !== null && typeof mine === "object", `state[${k}].${name} is a tensor`);
            assert.equal(mine.device, device, `state[${k}].${name} lives on the parameter's device`);
            assertClose(await mine.data(), v, { ...TOL, msg: `state[${k}].${name}` });
            mine.dispose();
          } else assert.equal(mine, v, `state[${k}].${name}`);
        }
      }
      assert.equal(sd.param_groups.length, c.paramGroups.length);
      sd.param_groups.forEach((g, i) => {
        for (const [key, v] of Object.entries(g)) {
          assert.ok(key in c.paramGroups[i], `param_groups[${i}] key "${key}" is one of PyTorch's`);
          assert.deepEqual(v, c.paramGroups[i][key], `param_groups[${i}].${key}`);
        }
      });
      dispose(opt, params);
    });
  }
});

const ROUND_TRIP = [
  "sgd nesterov",
  "sgd param groups and a skipped grad",
  "adam weight decay amsgrad",
  "adam param groups and a skipped grad",
  "adamw weight decay amsgrad",
  "rmsprop centered momentum weight decay",
];

deviceTest("optim: stateDict round trip (save after 2 steps, load, continue)", async (t, device) => {
  for (const name of ROUND_TRIP) {
    const c = fixtures.optim.find((x) => x.name === name)!;
    for (const viaJson of [false, true]) {
      await t.step(`${name}${viaJson ? " via JSON" : ""}`, async () => {
        const params = makeParams(c, c.init, device);
        const opt = build(c, params);
        await replay(c, opt, params, 0, 2, device);
        const sd = opt.stateDict();
        const saved = viaJson ? await toJson(sd) : sd;
        const fresh = makeParams(c, c.steps[1].params, device);
        // Built with other hyperparameters: loading restores the saved ones.
        const opt2 = build({ ...c, options: { ...c.options, lr: 123 } }, fresh);
        opt2.loadStateDict(saved);
        dispose(opt, params); // the loaded state is a copy: freeing the original leaves it intact
        assert.equal(opt2.paramGroups[0].lr, c.paramGroups[0].lr, "the saved lr replaced the one built with");
        await replay(c, opt2, fresh, 2, c.steps.length, device);
        if (!viaJson) {
          for (const st of Object.values(sd.state)) {
            for (const v of Object.values(st)) if (v !== null && typeof v === "object") v.dispose();
          }
        }
        dispose(opt2, fresh);
      });
    }
  }
});

deviceTest("optim: clipGradNorm and clipGradValue match PyTorch", async (t, device) => {
  for (const c of fixtures.clip) {
    const label = c.clipValue !== undefined
      ? `clipGradValue ${c.clipValue}`
      : `clipGradNorm maxNorm ${c.maxNorm} normType ${c.normType}`;
    await t.step(`${label}`, async () => {
      const params = c.shapes.map((s) => randn(s, { device, requiresGrad: true }));
      params.forEach((p, i) => {
        p.grad = tensor(Float32Array.from(c.grads[i]), { shape: c.shapes[i], device });
      });
      const extra = randn([2], { device, requiresGrad: true }); // no grad: skipped
      if (c.clipValue !== undefined) optim.clipGradValue([...params, extra], c.clipValue);
      else {
        const normType = c.normType === "inf" ? Infinity : c.normType!;
        const total = optim.clipGradNorm([...params, extra], c.maxNorm!, normType);
        assert.equal(total.device, device);
        assert.deepEqual(total.shape, []);
        assertClose(await total.item(), c.totalNorm!, { rtol: 1e-5, msg: "total norm" });
        total.dispose();
      }
      for (let i = 0; i < params.length; i++) {
        assertClose(await params[i].grad!.data(), c.clipped[i], {
          rtol: 1e-5,
          atol: 1e-6,
          msg: `grad ${i}`,
        });
      }
      assert.equal(extra.grad, null);
    });
  }
  await t.step(`clipGradNorm without gradients returns 0`, async () => {
    const total = optim.clipGradNorm([randn([2], { device, requiresGrad: true })], 1);
    assert.equal(await total.item(), 0);
  });
  assertThrowsMessage(() => optim.clipGradNorm([], 1, 0), /normType must be a positive number/);
  assertThrowsMessage(() => optim.clipGradValue([], -1), /clipValue must be a number >= 0/);
});

deviceTest("optim: zeroGrad, skipped parameters, closures and dtypes", async (t, device) => {
  await t.step(`zeroGrad frees the gradients and sets them to null`, () => {
    const w = randn([3], { device, requiresGrad: true });
    const opt = new optim.SGD([w], { lr: 0.1 });
    w.square().sum().backward();
    const g = w.grad!;
    opt.zeroGrad();
    assert.equal(w.grad, null);
    assert.ok(g.isDisposed, "the old gradient was disposed");
    opt.zeroGrad(); // no gradient: nothing to do
  });
  await t.step(`zeroGrad(false) zeroes in place`, async () => {
    const w = randn([3], { device, requiresGrad: true });
    const opt = new optim.SGD([w], { lr: 0.1 });
    w.square().sum().backward();
    const g = w.grad!;
    opt.zeroGrad(false);
    assert.equal(w.grad, g);
    assert.deepEqual(await g.toArray(), [0, 0, 0]);
  });
  await t.step(`a parameter without gradient keeps its value and gets no state`, async () => {
    const a = tensor([1, 2], { device, requiresGrad: true });
    const b = tensor([3, 4], { device, requiresGrad: true });
    const opt = new optim.Adam([a, b], { lr: 0.1 });
    a.grad = tensor([1, -1], { device, dtype: "float32" });
    opt.step();
    assert.deepEqual(await b.toArray(), [3, 4]);
    assert.equal(opt.state.has(b), false);
    assertClose(await a.data(), [0.9, 2.1], { rtol: 1e-6 });
  });
  await t.step(
    `step(closure) evaluates the closure with grad on and returns its loss`,
    async () => {
      const w = tensor([1, -2], { device, requiresGrad: true });
      const opt = new optim.SGD([w], { lr: 0.1 });
      const loss = noGrad(() =>
        opt.step(() => {
          opt.zeroGrad();
          const l = w.square().sum();
          l.backward();
          return l;
        })
      );
      assert.equal(await loss!.item(), 5);
      assertClose(await w.data(), [0.8, -1.6], { rtol: 1e-6 });
    },
  );
  await t.step(`non-contiguous parameters are updated in place`, async () => {
    const base = tensor([[1, 2, 3], [4, 5, 6]], { device, dtype: "float32" });
    const w = base.transpose(0, 1).requiresGrad_(); // a leaf view, shape [3, 2]
    const opt = new optim.SGD([w], { lr: 0.5, momentum: 0.9 });
    w.grad = tensor([[1, 1], [1, 1], [1, 1]], { device, dtype: "float32" });
    opt.step();
    opt.step();
    // step 1: x -= 0.5; step 2: b = 0.9 + 1 = 1.9, x -= 0.95
    assertClose(await w.data(), [1, 4, 2, 5, 3, 6].map((v) => v - 1.45), { rtol: 1e-6 });
    assertClose(await base.data(), [1, 2, 3, 4, 5, 6].map((v) => v - 1.45), { rtol: 1e-6 });
  });
  const f16 = device === "cpu" || (await gpu.info())?.f16;
  if (f16) {
    await t.step(`float16 parameters keep float16 state`, async () => {
      const init = [0.5, -1, 2, 0.25];
      const grads = [0.1, -0.2, 0.3, 0.4];
      const ref = tensor(init, { device, dtype: "float32", requiresGrad: true });
      const half = tensor(init, { device, dtype: "float16", requiresGrad: true });
      const opts32 = new optim.Adam([ref], { lr: 0.01 });
      const opts16 = new optim.Adam([half], { lr: 0.01 });
      for (let s = 0; s < 3; s++) {
        ref.grad = tensor(grads, { device, dtype: "float32" });
        half.grad = tensor(grads, { device, dtype: "float16" });
        opts32.step();
        opts16.step();
      }
      assert.equal((opts16.state.get(half)!.exp_avg as Tensor).dtype, "float16");
      assertClose(await half.data(), await ref.data(), { rtol: 2e-3, atol: 1e-3 });
    });
  }
});

Deno.test("optim: one fused kernel per parameter, and GPU memory stays flat over 50 steps [webgpu]", {
  ...opts,
  ignore: !hasWebGpu,
}, async (t) => {
  const device = "webgpu";
  const makers: [string, (ps: Tensor[]) => optim.Optimizer][] = [
    [
      "SGD nesterov",
      (ps) => new optim.SGD(ps, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }),
    ],
    ["Adam amsgrad", (ps) => new optim.Adam(ps, { lr: 1e-3, amsgrad: true })],
    ["AdamW", (ps) => new optim.AdamW(ps, { lr: 1e-3 })],
    ["RMSprop centered momentum", (ps) => new optim.RMSprop(ps, { lr: 1e-3, momentum: 0.9, centered: true })],
  ];
  for (const [name, make] of makers) {
    await t.step(name, async () => {
      const model = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 4)).to(device);
      const params = [...model.parameters()];
      const opt = make(params);
      const sched = new optim.CosineAnnealingLR(opt, { tMax: 20 });
      const x = randn([16, 8], { device });
      const y = randn([16, 4], { device });
      const losses: number[] = [];
      const trainStep = () => {
        opt.zeroGrad();
        const loss = tidy(() => model.forward(x).sub(y).square().mean());
        loss.backward();
        optim.clipGradNorm(params, 10).dispose();
        opt.step();
        sched.step();
        return loss;
      };
      for (let i = 0; i < 5; i++) trainStep().dispose();

      // One dispatch per parameter and no new pipeline, though the learning rate changes every step.
      const grads = trainStep();
      grads.dispose();
      const before = gpu.stats();
      opt.step();
      const after = gpu.stats();
      assert.equal(after.dispatches - before.dispatches, params.length, "dispatches of one step()");
      assert.equal(after.pipelines, before.pipelines, "no pipeline compiled by a step");

      await gpu.sync();
      const inUse = gpu.memory().inUse;
      for (let i = 0; i < 50; i++) {
        const loss = trainStep();
        if (i === 0 || i === 49) losses.push(await loss.item());
        loss.dispose();
      }
      await gpu.sync();
      assert.equal(gpu.memory().inUse, inUse, `in-use GPU memory after 50 more steps (was ${inUse} bytes)`);
      assert.ok(losses[1] < losses[0], `the loss falls: ${losses}`);
      opt.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    });
  }
});

Deno.test("optim: bad input gets clear errors", opts, async (t) => {
  const w = randn([2], { requiresGrad: true });
  await t.step("construction", () => {
    assertThrowsMessage(() => new optim.SGD([], { lr: 0.1 }), /empty parameter list/);
    assertThrowsMessage(() => new optim.Adam(w as unknown as Tensor[]), /wrap it in an array/);
    assertThrowsMessage(() => new optim.Adam([w.mul(2)]), /can't optimize a non-leaf Tensor/);
    assertThrowsMessage(() => new optim.Adam([randn([2])]), /does not require grad/);
    assertThrowsMessage(() => new optim.Adam([tensor([1, 2])]), /floating point/);
    assertThrowsMessage(() => new optim.Adam([w, w]), /appears twice/);
    assertThrowsMessage(
      () => new optim.Adam([{ params: [w] }, { params: [w] }]),
      /more than one parameter group/,
    );
    assertThrowsMessage(() => new optim.SGD([w], {} as optim.SGDOptions), /options\.lr is required/);
    assertThrowsMessage(() => new optim.SGD([w], { lr: -1 }), /Invalid learning rate: -1/);
    assertThrowsMessage(() => new optim.SGD([w], { lr: 0.1, nesterov: true }), /Nesterov momentum requires/);
    assertThrowsMessage(
      () => new optim.Adam([w], { betas: [1, 0.9] }),
      /Invalid beta parameter at index 0: 1/,
    );
    assertThrowsMessage(() => new optim.Adam([{ params: [w], eps: -1 }]), /Invalid epsilon value: -1/);
    assertThrowsMessage(() => new optim.RMSprop([w], { alpha: -0.5 }), /Invalid alpha value/);
  });
  await t.step("optimizers are never moved with .to()", () => {
    const opt = new optim.Adam([w]);
    assertThrowsMessage(() => opt.to("webgpu"), /never moved with \.to\(\).*move the model first/i);
  });
  await t.step("a gradient of the wrong shape or dtype", () => {
    const p = randn([3], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 0.1 });
    p.grad = randn([2]);
    assertThrowsMessage(() => opt.step(), /parameter 0 has shape \[3\] but its gradient has shape \[2\]/);
    p.grad = tensor([1, 2, 3], { dtype: "float16" });
    assertThrowsMessage(() => opt.step(), /parameter 0 is float32 but its gradient is float16/);
  });
  await t.step("loadStateDict checks the groups and changes nothing on error", () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const opt = new optim.Adam([a], { lr: 0.1 });
    a.grad = tensor([1, 1], { dtype: "float32" });
    opt.step();
    const sd = opt.stateDict();
    const other = new optim.Adam([a, randn([2], { requiresGrad: true })]);
    assertThrowsMessage(() => other.loadStateDict(sd), /doesn't match the size of optimizer's group/);
    assertThrowsMessage(
      () => opt.loadStateDict({ ...sd, param_groups: [...sd.param_groups, ...sd.param_groups] }),
      /different number of parameter groups/,
    );
    const bad = { state: { 0: { ...sd.state[0], exp_avg: [1, 2, 3] } }, param_groups: sd.param_groups };
    assertThrowsMessage(() => opt.loadStateDict(bad), /exp_avg has shape \[3\].*parameter has shape \[2\]/);
    assert.equal(opt.state.get(a)!.step, 1, "the state is unchanged");
    assert.ok(!(opt.state.get(a)!.exp_avg as Tensor).isDisposed);
  });
  if (hasWebGpu) {
    await t.step("a model moved after its optimizer has state", () => {
      const p = randn([3], { requiresGrad: true });
      const opt = new optim.Adam([p]);
      p.grad = randn([3]);
      opt.step();
      p.grad.dispose();
      p.grad = null;
      p.replaceData_(p.to("webgpu")); // what Module.to() does
      p.grad = randn([3], { device: "webgpu" });
      assertThrowsMessage(
        () => opt.step(),
        /is float32 on cpu, but the parameter is now float32 on webgpu.*never moved/,
      );
    });
  }
});
