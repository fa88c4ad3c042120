/**
 * Generates the fused optimizer-update kernels from `src/shaders/optimizer_step.wgsl`: one pipeline per
 * rule, dtype and set of compile-time switches (maximize, weight decay, momentum, nesterov, decoupled
 * decay, amsgrad, centered); every per-step number is a uniform.
 * @module
 */
import type { OptimizerRule } from "../../backend.ts";
import type { DType } from "../../../tensor/dtype.ts";
import template from "../../../shaders/optimizer_step.wgsl" with { type: "text" };
import common from "../../../shaders/common.wgsl" with { type: "text" };
import { enableF16, grid, ParamBlock, storageType, WORKGROUP } from "./layout.ts";
import type { KernelLaunch } from "./elementwise.ts";

/**
 * The state slots (`s0`, `s1`, `s2` of the shader's `Elem`) a rule binds, in binding order: the state
 * buffers handed to `optimizerStep` are these slots, in this order.
 *
 * @example
 * ```ts ignore
 * stateSlots({ kind: "adam", amsgrad: true, ... }); // [0, 1, 2]: exp_avg, exp_avg_sq, max_exp_avg_sq
 * ```
 */
export function stateSlots(rule: OptimizerRule): number[] {
  switch (rule.kind) {
    case "sgd":
      return rule.momentum !== 0 ? [0] : [];
    case "adam":
      return rule.amsgrad ? [0, 1, 2] : [0, 1];
    case "rmsprop":
      return [0, ...(rule.momentum > 0 ? [1] : []), ...(rule.centered ? [2] : [])];
  }
}

/** The compile-time switches of a rule, by the shader's constant names. */
function switches(rule: OptimizerRule): Record<string, boolean> {
  const s = {
    MAXIMIZE: rule.maximize,
    WEIGHT_DECAY: rule.weightDecay !== 0,
    MOMENTUM: false,
    NESTEROV: false,
    DECOUPLED: false,
    AMSGRAD: false,
    CENTERED: false,
  };
  if (rule.kind === "sgd") {
    s.MOMENTUM = rule.momentum !== 0;
    s.NESTEROV = rule.nesterov;
  } else if (rule.kind === "adam") {
    s.DECOUPLED = rule.decoupledWeightDecay;
    s.AMSGRAD = rule.amsgrad;
  } else {
    s.MOMENTUM = rule.momentum > 0;
    s.CENTERED = rule.centered;
  }
  return s;
}

/** The uniform block, in the order of the shader's `Params`. */
function params(rule: OptimizerRule, n: number, paramOffset: number, gradOffset: number): Uint32Array {
  const pb = new ParamBlock().u32("n", n).u32("x_off", paramOffset).u32("g_off", gradOffset)
    .u32("first", rule.kind === "sgd" && rule.firstStep ? 1 : 0)
    .f32("lr", rule.lr).f32("wd", rule.weightDecay)
    .f32("momentum", rule.kind === "adam" ? 0 : rule.momentum)
    .f32("keep", rule.kind === "sgd" ? 1 - rule.dampening : 0);
  if (rule.kind === "adam") {
    pb.f32("beta1", rule.beta1).f32("one_minus_beta1", 1 - rule.beta1)
      .f32("beta2", rule.beta2).f32("one_minus_beta2", 1 - rule.beta2)
      .f32("eps", rule.eps).f32("step_size", rule.stepSize).f32("bc2_sqrt", rule.biasCorrection2Sqrt)
      .f32("decay", 1 - rule.lr * rule.weightDecay);
  } else {
    pb.f32("beta1", 0).f32("one_minus_beta1", 0).f32("beta2", 0).f32("one_minus_beta2", 0)
      .f32("eps", rule.kind === "rmsprop" ? rule.eps : 0).f32("step_size", 0).f32("bc2_sqrt", 1).f32(
        "decay",
        1,
      );
  }
  const alpha = rule.kind === "rmsprop" ? rule.alpha : 0;
  pb.f32("alpha", alpha).f32("one_minus_alpha", 1 - alpha);
  pb.f32("step", rule.kind === "adam" ? rule.step ?? 0 : 0);
  return pb.words();
}

/**
 * The launch of one fused update of `n` elements of `dtype`: bindings are the gradient (read), with `skip`
 * the f32 flag buffer [foundInf, skippedSteps] (read), the parameter and the state buffers of
 * {@linkcode stateSlots} (read-write), then the uniforms.
 */
export function optimizerStepKernel(
  rule: OptimizerRule,
  dtype: DType,
  n: number,
  paramOffset: number,
  gradOffset: number,
  skip = false,
): KernelLaunch {
  const slots = stateSlots(rule);
  const sw = { ...switches(rule), SKIP: skip };
  const key = `optimizerStep|${rule.kind}|${dtype}|${
    Object.entries(sw).filter(([, on]) => on).map(([k]) => k).join(",")
  }`;
  const code = () => {
    const t = storageType(dtype);
    const base = skip ? 2 : 1; // binding of the parameter
    const bindings = [
      `@group(0) @binding(0) var<storage, read> grad: array<${t}>;`,
      skip ? "@group(0) @binding(1) var<storage, read> skip: array<f32>;" : "",
      `@group(0) @binding(${base}) var<storage, read_write> param: array<${t}>;`,
      ...slots.map((s, k) =>
        `@group(0) @binding(${k + base + 1}) var<storage, read_write> state${s}: array<${t}>;`
      ),
      // without a flag buffer the shader still names `skip`: a constant that is never read
      skip ? "" : "const skip = array<f32, 2>(0.0, 0.0);",
    ];
    const load = [
      "  let x = f32(param[p.x_off + i]);",
      ...[0, 1, 2].map((s) => `  let s${s} = ${slots.includes(s) ? `f32(state${s}[i])` : "0.0"};`),
    ];
    const store = [
      `  param[p.x_off + i] = ${t}(e.x);`,
      ...slots.map((s) => `  state${s}[i] = ${t}(e.s${s});`),
    ];
    let src = template
      .replace("{{ENABLE}}", enableF16([dtype]))
      .replace("{{COMMON}}", common)
      .replace("{{BINDINGS}}", bindings.join("\n"))
      .replace("{{PARAM_BINDING}}", String(slots.length + (skip ? 3 : 2)))
      .replaceAll("{{WG}}", String(WORKGROUP))
      .replace("{{LOAD}}", load.join("\n"))
      .replace("{{RULE}}", rule.kind)
      .replace("{{STORE}}", store.join("\n"));
    for (const [name, on] of Object.entries(sw)) src = src.replace(`{{${name}}}`, String(on));
    return src;
  };
  return { key, code, params: params(rule, n, paramOffset, gradOffset), groups: grid(n) };
}
