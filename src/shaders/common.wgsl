// common.wgsl: helpers shared by denograd's generated kernels. NaN and infinity are tested on bit patterns,
// since WGSL lets implementations assume they never occur in arithmetic.

fn dg_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn dg_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn dg_nan() -> f32 { return bitcast<f32>(0x7fc00000u); }
fn dg_neg_inf() -> f32 { return bitcast<f32>(0xff800000u); }
fn dg_pos_inf() -> f32 { return bitcast<f32>(0x7f800000u); }

// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
fn dg_erf(x: f32) -> f32 {
  let s = sign(x);
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return s * y;
}

fn dg_gelu(x: f32) -> f32 { return 0.5 * x * (1.0 + dg_erf(x * 0.7071067811865476)); }

fn dg_gelu_grad(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + dg_erf(x * 0.7071067811865476));
  let pdf = exp(-0.5 * x * x) * 0.3989422804014327;
  return cdf + x * pdf;
}

fn dg_sigmoid(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}

fn dg_tanh(x: f32) -> f32 {
  if (dg_isnan(x)) { return x; }
  return tanh(clamp(x, -15.0, 15.0));
}

// pow with PyTorch's semantics for negative bases and integer exponents.
fn dg_pow(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (dg_isnan(a) || dg_isnan(b)) { return dg_nan(); }
  if (a == 0.0) {
    if (b > 0.0) { return 0.0; }
    return dg_pos_inf();
  }
  if (a > 0.0) { return exp2(b * log2(a)); }
  if (fract(b) != 0.0) { return dg_nan(); }
  let r = exp2(b * log2(-a));
  if (abs(b) % 2.0 == 1.0) { return -r; }
  return r;
}

fn dg_max(a: f32, b: f32) -> f32 {
  if (dg_isnan(a)) { return a; }
  if (dg_isnan(b)) { return b; }
  return max(a, b);
}

fn dg_min(a: f32, b: f32) -> f32 {
  if (dg_isnan(a)) { return a; }
  if (dg_isnan(b)) { return b; }
  return min(a, b);
}
