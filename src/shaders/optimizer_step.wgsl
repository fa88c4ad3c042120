// optimizer_step.wgsl: one fused optimizer update per parameter (SGD, Adam/AdamW, RMSprop), updating the
// parameter and its state buffers in place: one dispatch per parameter and step, no temporaries.
// The formulas and their order are PyTorch's single-tensor implementations (torch/optim/*.py); the CPU
// reference is src/backend/cpu/optimizer_step.ts. Everything is computed in f32.
//
// The engine (src/backend/webgpu/kernels/optimizer_step.ts) fills in: the storage bindings (grad, param,
// then the bound state buffers), the rule's compile-time switches, and the loads and stores of `main`.
// Per-step scalars (lr, momentum, bias corrections...) are uniforms, so a learning-rate schedule never
// compiles a new pipeline.
{{ENABLE}}
{{COMMON}}
{{BINDINGS}}

struct Params {
  n: u32,          // elements
  x_off: u32,      // element offset of the parameter in its buffer
  g_off: u32,      // element offset of the gradient in its buffer
  first: u32,      // SGD: 1 on the step that creates the momentum buffer (buf = g)
  lr: f32,
  wd: f32,         // weight decay
  momentum: f32,
  keep: f32,       // SGD: 1 - dampening
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  step_size: f32,  // Adam: lr / (1 - beta1^t)
  bc2_sqrt: f32,   // Adam: sqrt(1 - beta2^t)
  decay: f32,      // AdamW: 1 - lr * wd
  alpha: f32,      // RMSprop: smoothing constant
  one_minus_alpha: f32,
  step: f32,       // Adam: the step count t, when SKIP (the corrections are recomputed for t - skipped)
}
@group(0) @binding({{PARAM_BINDING}}) var<uniform> p: Params;

const MAXIMIZE: bool = {{MAXIMIZE}};
const WEIGHT_DECAY: bool = {{WEIGHT_DECAY}};
const MOMENTUM: bool = {{MOMENTUM}};
const NESTEROV: bool = {{NESTEROV}};
const DECOUPLED: bool = {{DECOUPLED}};
const AMSGRAD: bool = {{AMSGRAD}};
const CENTERED: bool = {{CENTERED}};
// A GradScaler's flag buffer `skip` = [foundInf, skippedSteps] is bound: the update does nothing when
// foundInf != 0, and Adam's bias corrections count only the steps taken (PyTorch's fused Adam with found_inf).
const SKIP: bool = {{SKIP}};

// beta^t, 0 for beta = 0 (log2(0) is undefined in WGSL)
fn pow_beta(beta: f32, t: f32) -> f32 {
  if (beta <= 0.0) { return 0.0; }
  return exp2(t * log2(beta));
}

// One element: the parameter x and its state values in fixed slots (unbound slots hold 0 and are dropped).
// SGD: s0 momentum_buffer. Adam: s0 exp_avg, s1 exp_avg_sq, s2 max_exp_avg_sq.
// RMSprop: s0 square_avg, s1 momentum_buffer, s2 grad_avg.
struct Elem {
  x: f32,
  s0: f32,
  s1: f32,
  s2: f32,
}

fn sgd(e0: Elem, grad: f32) -> Elem {
  var e = e0;
  var g = grad;
  if (WEIGHT_DECAY) { g = g + p.wd * e.x; }
  if (MOMENTUM) {
    if (p.first != 0u) { e.s0 = g; } else { e.s0 = p.momentum * e.s0 + p.keep * g; }
    if (NESTEROV) { g = g + p.momentum * e.s0; } else { g = e.s0; }
  }
  e.x = e.x - p.lr * g;
  return e;
}

fn adam(e0: Elem, grad: f32) -> Elem {
  var e = e0;
  var g = grad;
  if (DECOUPLED) { e.x = e.x * p.decay; } else if (WEIGHT_DECAY) { g = g + p.wd * e.x; }
  e.s0 = p.beta1 * e.s0 + p.one_minus_beta1 * g;
  e.s1 = p.beta2 * e.s1 + p.one_minus_beta2 * g * g;
  var v = e.s1;
  if (AMSGRAD) {
    e.s2 = dg_max(e.s2, e.s1);
    v = e.s2;
  }
  var step_size = p.step_size;
  var bc2_sqrt = p.bc2_sqrt;
  if (SKIP) {
    let t = p.step - skip[1];
    step_size = p.lr / (1.0 - pow_beta(p.beta1, t));
    bc2_sqrt = sqrt(1.0 - pow_beta(p.beta2, t));
  }
  let denom = sqrt(v) / bc2_sqrt + p.eps;
  e.x = e.x - step_size * (e.s0 / denom);
  return e;
}

fn rmsprop(e0: Elem, grad: f32) -> Elem {
  var e = e0;
  var g = grad;
  if (WEIGHT_DECAY) { g = g + p.wd * e.x; }
  e.s0 = p.alpha * e.s0 + p.one_minus_alpha * g * g;
  var avg: f32;
  if (CENTERED) {
    e.s2 = p.alpha * e.s2 + p.one_minus_alpha * g;
    avg = sqrt(e.s0 - e.s2 * e.s2);
  } else {
    avg = sqrt(e.s0);
  }
  avg = avg + p.eps;
  if (MOMENTUM) {
    e.s1 = p.momentum * e.s1 + g / avg;
    e.x = e.x - p.lr * e.s1;
  } else {
    e.x = e.x - p.lr * (g / avg);
  }
  return e;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * {{WG}}u + lid;
  if (i >= p.n) { return; }
  if (SKIP && skip[0] != 0.0) { return; }
  var g = f32(grad[p.g_off + i]);
  if (MAXIMIZE) { g = -g; }
{{LOAD}}
  let e = {{RULE}}(Elem(x, s0, s1, s2), g);
{{STORE}}
}
