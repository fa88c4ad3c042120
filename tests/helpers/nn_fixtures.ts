/**
 * Replays the PyTorch golden cases of `tests/fixtures/nn.json` (made by `tests/fixtures/make_nn_fixtures.py`):
 * builds the module, loads PyTorch's state with `loadStateDict`, moves it to the device with `to()`, then per
 * step checks the forward output, the input and parameter gradients after `out.backward(gradOut)`, and the
 * buffers (running statistics).
 * @module
 */
import assert from "node:assert/strict";
import { type Device, gpu, nn, type Tensor, tensor } from "../../mod.ts";
import { assertClose } from "./assert_close.ts";

/** A tensor as the fixtures store it. */
export interface FixtureTensor {
  values: number[];
  shape: number[];
  dtype: "float32" | "int32";
}

/** One forward/backward step of a case. */
export interface FixtureStep {
  train: boolean;
  inputs: FixtureTensor[];
  out: FixtureTensor;
  gradOut: FixtureTensor;
  inputGrads: (number[] | null)[];
  paramGrads: Record<string, number[] | null>;
  buffers: Record<string, FixtureTensor>;
}

/** One module (layer or loss) recorded in PyTorch. */
export interface FixtureCase {
  name: string;
  module: string;
  args: unknown[];
  opts: Record<string, unknown>;
  state: Record<string, FixtureTensor>;
  steps: FixtureStep[];
}

/** Names of parameters, buffers, modules and state-dict keys of a PyTorch model, in PyTorch's order. */
export interface FixtureKeys {
  stateDict: string[];
  parameters: string[];
  buffers: string[];
  modules: string[];
}

/** The whole fixture file. */
export interface NnFixtures {
  generator: string;
  torch: string;
  keys: Record<string, FixtureKeys>;
  cases: FixtureCase[];
}

/** The parsed `tests/fixtures/nn.json`. */
export const fixtures: NnFixtures = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/nn.json", import.meta.url)),
);

/** Devices to test on: the CPU, and WebGPU when an adapter is available. */
export const devices: readonly Device[] = (await gpu.isAvailable()) ? ["cpu", "webgpu"] : ["cpu"];

/** Deno.test options for tests that keep the GPU device open. */
export const testOpts = { sanitizeResources: false, sanitizeOps: false };

/** A fixture tensor on `device`. */
export function toTensor(t: FixtureTensor, device: Device = "cpu", requiresGrad = false): Tensor {
  return tensor(t.values, {
    shape: t.shape,
    dtype: t.dtype,
    device,
    requiresGrad,
  });
}

/** Builds the module a case names (tensor options become CPU tensors). */
export function buildModule(c: FixtureCase): nn.Module {
  if (c.module === "Sequential(Linear,BatchNorm1d,ReLU,Linear)") {
    return new nn.Sequential(new nn.Linear(4, 5), new nn.BatchNorm1d(5), new nn.ReLU(), new nn.Linear(5, 2));
  }
  const opts: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.opts)) {
    opts[k] = v !== null && typeof v === "object" && "tensor" in v
      ? toTensor((v as { tensor: FixtureTensor }).tensor)
      : v;
  }
  const ctor = (nn as unknown as Record<string, new (...args: unknown[]) => nn.Module>)[c.module];
  assert.ok(ctor, `nn.${c.module} does not exist`);
  return Object.keys(opts).length ? new ctor(...c.args, opts) : new ctor(...c.args);
}

/** Tolerance of a comparison. */
export interface Tol {
  rtol: number;
  atol: number;
}

/** Default float32 tolerance. */
export const DEFAULT_TOL: Tol = { rtol: 1e-4, atol: 1e-5 };

async function expectTensor(
  actual: Tensor | null,
  expected: FixtureTensor,
  what: string,
  tol: Tol,
): Promise<void> {
  assert.ok(actual, `${what}: missing`);
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  assertClose(await actual.data(), expected.values, { ...tol, msg: what });
}

async function expectGrad(
  actual: Tensor | null,
  expected: number[] | null,
  what: string,
  tol: Tol,
): Promise<void> {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected no gradient`);
    return;
  }
  assert.ok(actual, `${what}: expected a gradient, got null`);
  assertClose(await actual.data(), expected, { ...tol, msg: what });
}

/** Runs every step of a case on `device` and compares with PyTorch. */
export async function replayCase(c: FixtureCase, device: Device, tol: Tol = DEFAULT_TOL): Promise<void> {
  const model = buildModule(c);
  const state: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(c.state)) state[k] = toTensor(v);
  const { missingKeys, unexpectedKeys } = model.loadStateDict(state);
  assert.deepEqual([missingKeys, unexpectedKeys], [[], []]);
  model.to(device);
  for (const [i, step] of c.steps.entries()) {
    const where = `${c.name} [${device}] step ${i}`;
    model.train(step.train);
    model.zeroGrad();
    const inputs = step.inputs.map((t, j) => toTensor(t, device, step.inputGrads[j] !== null));
    const out = (model as unknown as { forward(...xs: Tensor[]): Tensor }).forward(...inputs);
    assert.equal(out.device, device, `${where}: output device`);
    await expectTensor(out, step.out, `${where}: output`, tol);
    if (out.requiresGrad) out.backward(toTensor(step.gradOut, device));
    for (const [j, x] of inputs.entries()) {
      await expectGrad(x.grad, step.inputGrads[j], `${where}: grad of input ${j}`, tol);
    }
    const params = Object.fromEntries(model.namedParameters());
    assert.deepEqual(Object.keys(params), Object.keys(step.paramGrads), `${where}: parameter names`);
    for (const [name, g] of Object.entries(step.paramGrads)) {
      await expectGrad(params[name].grad, g, `${where}: grad of ${name}`, tol);
    }
    const buffers = Object.fromEntries(model.namedBuffers());
    assert.deepEqual(Object.keys(buffers), Object.keys(step.buffers), `${where}: buffer names`);
    for (const [name, b] of Object.entries(step.buffers)) {
      await expectTensor(buffers[name], b, `${where}: buffer ${name}`, tol);
    }
    out.dispose();
    for (const x of inputs) x.dispose();
  }
  model.dispose();
}
