/**
 * gradcheck of every differentiable op, collected from one table (tests/helpers/op_table.ts): the Tensor
 * prototype, the `F` namespace, the `nn` layers and the functions exported by mod.ts are enumerated, and a
 * name that is neither in the table nor in its NOT_DIFFERENTIABLE list (with a reason) fails the first test.
 * Every entry is then checked in float32 on the CPU against central finite differences.
 */
import assert from "node:assert/strict";
import * as denograd from "../mod.ts";
import { autograd, F, nn, Tensor } from "../mod.ts";
import { GRADCHECK_MODULES, GRADCHECK_OPS, NOT_DIFFERENTIABLE } from "./helpers/op_table.ts";

/** Every public name that could be an op: Tensor members, F functions, nn classes, top-level functions. */
function publicOpNames(): string[] {
  const names: string[] = [];
  for (const k of Object.getOwnPropertyNames(Tensor.prototype)) names.push(`Tensor.${k}`);
  for (const [k, v] of Object.entries(F)) if (typeof v === "function") names.push(`F.${k}`);
  for (const [k, v] of Object.entries(nn)) if (typeof v === "function") names.push(`nn.${k}`);
  for (const [k, v] of Object.entries(denograd)) {
    // top-level functions; classes (capitalised) are the Tensor, autograd nodes and display widgets
    if (typeof v === "function" && !/^[A-Z]/.test(k)) names.push(k);
  }
  return names;
}

function tableName(name: string): string {
  return name.startsWith("nn.") ? name.slice(3) : name;
}

Deno.test("gradcheck table: every public op is in the table or listed as not differentiable", () => {
  const missing = publicOpNames().filter((n) => {
    if (Object.hasOwn(NOT_DIFFERENTIABLE, n)) return false;
    if (n.startsWith("nn.")) return !Object.hasOwn(GRADCHECK_MODULES, tableName(n));
    return !Object.hasOwn(GRADCHECK_OPS, n);
  });
  assert.deepEqual(
    missing,
    [],
    `add these to GRADCHECK_OPS / GRADCHECK_MODULES in tests/helpers/op_table.ts, or to NOT_DIFFERENTIABLE ` +
      `with a reason: ${missing.join(", ")}`,
  );
});

Deno.test("gradcheck table: no stale entries, and every exclusion has a reason", () => {
  const all = new Set(publicOpNames());
  const stale = [
    ...Object.keys(GRADCHECK_OPS).filter((n) => !all.has(n)),
    ...Object.keys(GRADCHECK_MODULES).filter((n) => !all.has(`nn.${n}`)),
    ...Object.keys(NOT_DIFFERENTIABLE).filter((n) => !all.has(n)),
  ];
  assert.deepEqual(stale, [], `entries naming nothing public: ${stale.join(", ")}`);
  for (const [n, why] of Object.entries(NOT_DIFFERENTIABLE)) assert.ok(why.trim().length > 0, n);
  for (const n of Object.keys(GRADCHECK_OPS)) {
    assert.ok(!Object.hasOwn(NOT_DIFFERENTIABLE, n), `${n} in both`);
  }
});

for (const [name, spec] of Object.entries(GRADCHECK_OPS)) {
  Deno.test(`gradcheck table: ${name} (float32, cpu)`, async () => {
    const inputs = spec.inputs("cpu", 0);
    assert.ok(inputs.some((t) => t.requiresGrad), "at least one input is checked");
    for (const t of inputs) if (t.requiresGrad) assert.equal(t.dtype, "float32");
    assert.equal(await autograd.gradcheck(spec.fn, inputs, spec.opts), true);
  });
}

for (const [name, spec] of Object.entries(GRADCHECK_MODULES)) {
  Deno.test(`gradcheck table: nn.${name} (float32, cpu), input and parameters`, async () => {
    const m = spec.make("cpu");
    const [x, ...rest] = spec.inputs("cpu", 0);
    const params = m.parameters();
    const checked = [x, ...params].filter((t) => t.requiresGrad);
    assert.ok(checked.length > 0, "the input or a parameter is checked");
    // gradcheck perturbs its inputs in place, so the parameters can be passed as inputs the fn ignores
    const forward = m.forward.bind(m) as (...a: Tensor[]) => Tensor;
    const fn = (input: Tensor) => forward(input, ...rest);
    assert.equal(await autograd.gradcheck(fn, [x, ...params], spec.opts), true);
  });
}
