/**
 * Replays the PyTorch golden fixtures (`tests/fixtures/ops.json`, made by `tests/fixtures/make_fixtures.py`)
 * against denograd on every available device: forward values, shape and dtype, then the gradients of every
 * input after `out.backward(gradOut)`.
 *
 * One `Deno.test` per op, with one step per case and device, so that failures name both.
 * @module
 */

import assert from "node:assert/strict";
import { gpu, type Tensor, tensor } from "../mod.ts";
import { assertClose } from "./helpers/assert_close.ts";
import { OPS } from "./helpers/op_table.ts";

type FixtureDType = "float32" | "int32" | "bool";
type Device = "cpu" | "webgpu";

/** One input of a case: the leaf's values; when `transpose` is set the op gets `leaf.transpose(d0, d1)`. */
interface FixtureInput {
  values: number[];
  shape: number[];
  dtype: FixtureDType;
  requiresGrad: boolean;
  transpose?: [number, number];
}

/** One recorded PyTorch case. `grads[i]` is the gradient of input i's leaf, or null when it has none. */
interface FixtureCase {
  op: string;
  label: string;
  inputs: FixtureInput[];
  kwargs: Record<string, unknown>;
  out: { values: number[]; shape: number[]; dtype: FixtureDType };
  gradOut: number[] | null;
  grads: (number[] | null)[];
}

interface Fixtures {
  generator: string;
  torch: string;
  cases: FixtureCase[];
}

interface Tol {
  rtol: number;
  atol: number;
}

/** Default float32 tolerance. */
const DEFAULT_TOL: Tol = { rtol: 1e-4, atol: 1e-5 };

/** Looser tolerances, per op, for every device (none needed so far: every op meets the default on the CPU). */
const OP_TOL: Record<string, Tol> = {};

/**
 * Looser tolerances on WebGPU only: WGSL's transcendental builtins may be less accurate than the host's
 * (the spec allows an absolute error of 2^-11 for sin/cos on [-pi, pi], and 3 + 2|x| ULP for exp), and
 * gelu's erf is approximated in the shader. A software adapter meets the default; real GPUs may not.
 */
const GPU_TOL: Record<string, Tol> = {
  sin: { rtol: 1e-4, atol: 5e-4 },
  cos: { rtol: 1e-4, atol: 5e-4 },
  gelu: { rtol: 1e-4, atol: 1e-4 },
  tanh: { rtol: 1e-4, atol: 5e-5 },
  sigmoid: { rtol: 1e-4, atol: 5e-5 },
  pow: { rtol: 2e-4, atol: 1e-5 },
};

function tolFor(op: string, device: Device): Tol {
  return (device === "webgpu" ? GPU_TOL[op] : undefined) ?? OP_TOL[op] ?? DEFAULT_TOL;
}

const fixtures: Fixtures = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/ops.json", import.meta.url)),
);

const hasGpu = await gpu.isAvailable();
const DEVICES: Device[] = hasGpu ? ["cpu", "webgpu"] : ["cpu"];

function hostArray(dtype: FixtureDType, values: number[]): Float32Array | Int32Array | Uint8Array {
  switch (dtype) {
    case "float32":
      return Float32Array.from(values);
    case "int32":
      return Int32Array.from(values);
    case "bool":
      return Uint8Array.from(values);
  }
}

/** Builds the input's leaf tensor on `device`. */
function buildLeaf(inp: FixtureInput, device: Device): Tensor {
  return tensor(hostArray(inp.dtype, inp.values), {
    shape: inp.shape,
    dtype: inp.dtype,
    device,
    requiresGrad: inp.requiresGrad,
  });
}

async function runCase(c: FixtureCase, device: Device): Promise<void> {
  const tol = tolFor(c.op, device);
  const where = `${c.op} / ${c.label} [${device}]`;
  const leaves = c.inputs.map((inp) => buildLeaf(inp, device));
  const args = leaves.map((leaf, i) => {
    const tr = c.inputs[i].transpose;
    return tr ? leaf.transpose(tr[0], tr[1]) : leaf;
  });
  const owned: Tensor[] = [...leaves];
  try {
    const out = OPS[c.op](args, c.kwargs);
    owned.push(out);

    // forward
    assert.deepEqual([...out.shape], c.out.shape, `${where}: output shape`);
    assert.equal(out.dtype, c.out.dtype, `${where}: output dtype`);
    assert.equal(out.device, device, `${where}: output device`);
    const exact = c.out.dtype !== "float32";
    assertClose(await out.data(), c.out.values, {
      ...(exact ? { rtol: 0, atol: 0 } : tol),
      msg: `${where}: forward values`,
    });

    // backward
    const anyGrad = c.inputs.some((inp) => inp.requiresGrad);
    assert.equal(
      out.requiresGrad,
      anyGrad && !exact,
      `${where}: out.requiresGrad should be ${anyGrad && !exact}`,
    );
    if (c.gradOut === null) return;
    const gradOut = tensor(Float32Array.from(c.gradOut), { shape: c.out.shape, dtype: "float32", device });
    owned.push(gradOut);
    out.backward(gradOut);
    for (let i = 0; i < c.inputs.length; i++) {
      const expected = c.grads[i];
      const leaf = leaves[i];
      if (expected === null) {
        assert.equal(leaf.grad, null, `${where}: input ${i} should have no grad`);
        continue;
      }
      const g = leaf.grad;
      assert.ok(g !== null, `${where}: input ${i} has no grad after backward`);
      assert.deepEqual([...g.shape], c.inputs[i].shape, `${where}: grad ${i} shape`);
      assert.equal(g.dtype, "float32", `${where}: grad ${i} dtype`);
      assertClose(await g.data(), expected, { ...tol, msg: `${where}: grad of input ${i}` });
    }
  } finally {
    // Free GPU buffers eagerly (the CPU relies on GC). Outputs first; an op may return its input itself.
    if (device === "webgpu") { for (const t of new Set(owned.reverse())) t.dispose(); }
  }
}

const byOp = new Map<string, FixtureCase[]>();
for (const c of fixtures.cases) {
  if (!byOp.has(c.op)) byOp.set(c.op, []);
  byOp.get(c.op)!.push(c);
}

Deno.test("op fixtures: every fixture op has an op-table entry and vice versa", () => {
  const fixtureOps = [...byOp.keys()].sort();
  const tableOps = Object.keys(OPS).sort();
  assert.deepEqual(tableOps, fixtureOps);
});

for (const [op, cases] of byOp) {
  Deno.test({
    name: `op ${op} matches PyTorch ${fixtures.torch} (${cases.length} cases x ${DEVICES.join("+")})`,
    // WebGPU keeps a device and pending map operations alive across tests.
    sanitizeResources: !hasGpu,
    sanitizeOps: !hasGpu,
    fn: async (t) => {
      for (const c of cases) {
        for (const device of DEVICES) {
          await t.step(`${c.label} [${device}]`, () => runCase(c, device));
        }
      }
    },
  });
}
