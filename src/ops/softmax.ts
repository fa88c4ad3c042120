/**
 * softmax, logSoftmax and logSumExp along dims, computed stably (shifted by the max), each recorded as one
 * autograd node with its analytic gradient.
 * @module
 */
import { setGradEnabled } from "../autograd/grad_mode.ts";
import { autocastFp32 } from "../autograd/autocast_mode.ts";
import { zeros } from "../tensor/creation.ts";
import { isFloating } from "../tensor/dtype.ts";
import { normDim, normDims } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { expandBack, reduceRaw } from "./reduce.ts";
import { where } from "./compare.ts";
import { record } from "./util.ts";

function checkFloat(op: string, x: Tensor): void {
  if (!isFloating(x.dtype)) {
    throw new TypeError(`${op}: expected a floating point tensor, but got ${x.dtype}`);
  }
}

/** Runs `fn` without recording (the ops below record one node each). */
function raw<T>(fn: () => T): T {
  const prev = setGradEnabled(false);
  try {
    return fn();
  } finally {
    setGradEnabled(prev);
  }
}

/** max over axes (keepdim) with infinite maxima replaced by 0, so that x - m never makes NaN. */
function safeMax(x: Tensor, axes: number[]): Tensor {
  if (axes.some((a) => x.shape[a] === 0)) {
    // an empty reduction has nothing to shift (softmax is empty, logSumExp is log 0 = -inf): the CPU
    // backend refuses a max over an empty dim, so no max is taken
    return zeros(x.shape.map((d, i) => (axes.includes(i) ? 1 : d)), { device: x.device, dtype: x.dtype });
  }
  const m = reduceRaw("max", x, axes, true, x.dtype);
  const inf = m.isinf();
  const r = where(inf, 0, m);
  inf.dispose();
  m.dispose();
  return r;
}

/** log Σ exp(x) over `dim`. */
export function logSumExp(x: Tensor, dim: number | readonly number[], keepdim = false): Tensor {
  const autocast = autocastFp32("logSumExp", [x] as const, (x32) => logSumExp(x32, dim, keepdim));
  if (autocast) return autocast;
  checkFloat("logSumExp", x);
  const axes = normDims(dim, x.ndim, "logSumExp");
  const out = raw(() => {
    const m = safeMax(x, axes);
    const sh = x.sub(m);
    const e = sh.exp();
    sh.dispose();
    const s = e.sum(axes, true);
    e.dispose();
    const l = s.log();
    s.dispose();
    const r = l.add(m);
    l.dispose();
    m.dispose();
    if (keepdim) return r;
    const k = r.reshape(x.shape.filter((_, i) => !axes.includes(i)));
    r.dispose();
    return k;
  });
  return record("LogsumexpBackward0", out, [x], (node) => {
    const sx = node.save(x);
    const so = node.save(out);
    return (g) => {
      // d/dx = g · exp(x - lse)
      const oe = expandBack(so, x.shape, axes);
      const d = sx.sub(oe);
      oe.dispose();
      const p = d.exp();
      d.dispose();
      const ge = expandBack(g, x.shape, axes);
      const r = ge.mul(p);
      ge.dispose();
      p.dispose();
      return [r];
    };
  });
}

/** softmax along `dim`: exp(x - max) / Σ exp(x - max). */
export function softmax(x: Tensor, dim: number): Tensor {
  const autocast = autocastFp32("softmax", [x] as const, (x32) => softmax(x32, dim));
  if (autocast) return autocast;
  checkFloat("softmax", x);
  const d = normDim(dim, x.ndim, "softmax");
  const out = raw(() => {
    const m = safeMax(x, [d]);
    const sh = x.sub(m);
    m.dispose();
    const e = sh.exp();
    sh.dispose();
    const s = e.sum(d, true);
    const r = e.div(s);
    e.dispose();
    s.dispose();
    return r;
  });
  return record("SoftmaxBackward0", out, [x], (node) => {
    const y = node.save(out);
    return (g) => {
      // y · (g - Σ g·y)
      const gy = g.mul(y);
      const s = gy.sum(d, true);
      gy.dispose();
      const c = g.sub(s);
      s.dispose();
      const r = c.mul(y);
      c.dispose();
      return [r];
    };
  });
}

/** log-softmax along `dim`: x - max - log Σ exp(x - max). */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  const autocast = autocastFp32("logSoftmax", [x] as const, (x32) => logSoftmax(x32, dim));
  if (autocast) return autocast;
  checkFloat("logSoftmax", x);
  const d = normDim(dim, x.ndim, "logSoftmax");
  const out = raw(() => {
    const m = safeMax(x, [d]);
    const sh = x.sub(m);
    m.dispose();
    const e = sh.exp();
    const s = e.sum(d, true);
    e.dispose();
    const l = s.log();
    s.dispose();
    const r = sh.sub(l);
    sh.dispose();
    l.dispose();
    return r;
  });
  return record("LogSoftmaxBackward0", out, [x], (node) => {
    const y = node.save(out);
    return (g) => {
      // g - softmax · Σ g
      const s = g.sum(d, true);
      const p = y.exp();
      const ps = p.mul(s);
      p.dispose();
      s.dispose();
      const r = g.sub(ps);
      ps.dispose();
      return [r];
    };
  });
}
