/**
 * Differential tests: random shapes, views and values run on WebGPU and on the CPU reference must agree,
 * forward and backward. fast-check shrinks any counterexample to its smallest shape. CI runs a fixed seed
 * and few cases; `deno task fuzz` sets FUZZ_RUNS=1000 and FUZZ_SEED=random (printed) for a long run.
 *
 * Coverage: every entry of the gradcheck table (tests/helpers/op_table.ts: every differentiable Tensor
 * method, `F` function, top-level op and `nn` layer) with drawn values; random shapes (size-0 and size-1
 * dims, non-contiguous views, broadcasting corners, sizes off the workgroup tile) for the unary, binary,
 * reduction, matmul, softmax, gather/indexSelect, cat/stack, where, conv2d and pooling families; int32, bool
 * and float16 operands where the ops take them; and tensors past one dispatch's 65 535 workgroups.
 */
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.10.2";
import { cat, F, gpu, manualSeed, noGrad, stack, type Tensor, tensor, where } from "../mod.ts";
import { assertClose } from "./helpers/assert_close.ts";
import { fuzzSeed } from "./helpers/fuzz.ts";
import { GRADCHECK_MODULES, GRADCHECK_OPS } from "./helpers/op_table.ts";

const hasGpu = await gpu.isAvailable();
const RUNS = Number(Deno.env.get("FUZZ_RUNS") ?? 25);
const SEED = fuzzSeed("differential");
const params = { numRuns: RUNS, seed: SEED, endOnFailure: true };
const opts = { ignore: !hasGpu, sanitizeResources: false, sanitizeOps: false };

/** A shape of rank 0..4 with dims 0..6 (size-0 and size-1 dims included). */
const shapeArb = fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 4 });
/** How to view a base tensor: a permutation of its dims and a step-2 slice of one dim, or none. */
const viewArb = fc.record({ permute: fc.boolean(), sliceDim: fc.integer({ min: -1, max: 3 }) });

function values(n: number, seed: number, positive = false): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    out[i] = positive ? 0.1 + 3 * u : 6 * u - 3;
  }
  return out;
}

/** The same tensor on the CPU and on WebGPU, viewed the same way (possibly non-contiguous). */
function pair(
  shape: number[],
  view: { permute: boolean; sliceDim: number },
  seed: number,
  positive = false,
): [Tensor, Tensor] {
  // build the base with an extra doubled dim when slicing, so the view has `shape` after slicing
  const sd = view.sliceDim >= 0 && view.sliceDim < shape.length ? view.sliceDim : -1;
  const baseShape = shape.map((d, i) => (i === sd ? d * 2 : d));
  const n = baseShape.reduce((a, b) => a * b, 1);
  const data = values(n, seed, positive);
  const make = (device: "cpu" | "webgpu") => {
    let t = tensor(data, { shape: baseShape, device });
    if (sd >= 0) t = t.slice(sd, 0, undefined, 2);
    if (view.permute && shape.length >= 2) {
      const dims = [...shape.keys()].reverse();
      t = t.permute(dims).contiguous().permute(dims);
    }
    return t;
  };
  return [make("cpu"), make("webgpu")];
}

async function same(cpu: Tensor, gpuT: Tensor, rtol = 1e-4, atol = 1e-5, msg = ""): Promise<void> {
  if (cpu.shape.join() !== gpuT.shape.join()) throw new Error(`${msg}: shapes ${cpu.shape} vs ${gpuT.shape}`);
  assertClose(await gpuT.data() as Float32Array, await cpu.data() as Float32Array, { rtol, atol, msg });
}

const UNARY: [string, (t: Tensor) => Tensor, boolean][] = [
  ["neg", (t) => t.neg(), false],
  ["abs", (t) => t.abs(), false],
  ["exp", (t) => t.exp(), false],
  ["log", (t) => t.log(), true],
  ["sqrt", (t) => t.sqrt(), true],
  ["rsqrt", (t) => t.rsqrt(), true],
  ["sin", (t) => t.sin(), false],
  ["cos", (t) => t.cos(), false],
  ["tanh", (t) => t.tanh(), false],
  ["sigmoid", (t) => t.sigmoid(), false],
  ["relu", (t) => t.relu(), false],
  ["gelu", (t) => t.gelu(), false],
  ["leakyRelu", (t) => t.leakyRelu(0.2), false],
  ["clamp", (t) => t.clamp(-1, 0.5), false],
];

Deno.test("differential: unary ops on random shapes and views, forward and backward", opts, async () => {
  await fc.assert(
    fc.asyncProperty(
      shapeArb,
      viewArb,
      fc.integer({ min: 0, max: UNARY.length - 1 }),
      fc.integer(),
      async (shape, view, k, seed) => {
        const [name, f, positive] = UNARY[k];
        const [c, g] = pair(shape, view, seed, positive);
        c.requiresGrad = true;
        g.requiresGrad = true;
        const yc = f(c);
        const yg = f(g);
        await same(yc, yg, 1e-4, 2e-5, `${name} forward ${shape}`);
        yc.sum().backward();
        yg.sum().backward();
        await same(c.grad!, g.grad!, 1e-4, 2e-5, `${name} backward ${shape}`);
      },
    ),
    params,
  );
});

/** Two shapes that broadcast: `b` is `a` with some dims set to 1 and some leading dims dropped. */
const broadcastArb = fc.tuple(shapeArb, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.nat(4))
  .map(([a, ones, drop]) => {
    const b = a.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, a.length));
    return [a, b] as const;
  });

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor][] = [
  ["add", (a, b) => a.add(b)],
  ["sub", (a, b) => a.sub(b)],
  ["mul", (a, b) => a.mul(b)],
  ["div", (a, b) => a.div(b.abs().add(0.5))],
  ["maximum", (a, b) => a.maximum(b)],
  ["pow", (a, b) => a.abs().add(0.1).pow(b)],
];

Deno.test("differential: broadcasting binary ops, forward and backward", opts, async () => {
  await fc.assert(
    fc.asyncProperty(
      broadcastArb,
      fc.boolean(),
      viewArb,
      fc.integer({ min: 0, max: BINARY.length - 1 }),
      fc.integer(),
      async ([sa, sb], swap, view, k, seed) => {
        const [name, f] = BINARY[k];
        const [s1, s2] = swap ? [sb, sa] : [sa, sb];
        const [ac, ag] = pair([...s1], view, seed);
        const [bc, bg] = pair([...s2], { permute: false, sliceDim: -1 }, seed + 1);
        for (const t of [ac, ag, bc, bg]) t.requiresGrad = true;
        const yc = f(ac, bc);
        const yg = f(ag, bg);
        await same(yc, yg, 2e-4, 2e-5, `${name} ${s1} ${s2}`);
        yc.sum().backward();
        yg.sum().backward();
        await same(ac.grad!, ag.grad!, 2e-4, 1e-4, `${name} grad a ${s1} ${s2}`);
        await same(bc.grad!, bg.grad!, 2e-4, 1e-4, `${name} grad b ${s1} ${s2}`);
      },
    ),
    params,
  );
});

Deno.test("differential: reductions over random dims with keepdim", opts, async () => {
  await fc.assert(
    fc.asyncProperty(
      shapeArb.filter((s) => s.length > 0 && !s.includes(0)),
      viewArb,
      fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      fc.boolean(),
      fc.constantFrom("sum", "mean", "max", "min", "logSumExp", "var"),
      fc.integer(),
      async (shape, view, pick, keepdim, op, seed) => {
        const dims = shape.map((_, i) => i).filter((i) => pick[i]);
        const d = dims.length ? dims : [0];
        const [c, g] = pair(shape, view, seed);
        c.requiresGrad = true;
        g.requiresGrad = true;
        const f = (t: Tensor): Tensor =>
          op === "logSumExp"
            ? t.logSumExp(d, keepdim)
            : op === "var"
            ? t.var(d, keepdim, 0)
            : (t[op as "sum"] as (dim: number[], k: boolean) => Tensor).call(t, d, keepdim);
        const yc = f(c);
        const yg = f(g);
        await same(yc, yg, 1e-4, 1e-4, `${op} ${shape} dims ${d}`);
        yc.sum().backward();
        yg.sum().backward();
        await same(c.grad!, g.grad!, 1e-4, 1e-4, `${op} grad ${shape} dims ${d}`);
      },
    ),
    params,
  );
});

Deno.test(
  "differential: matmul with odd sizes, transposed operands and broadcast batches",
  opts,
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 70 }),
        fc.constantFrom([] as number[], [2], [3, 1]),
        fc.boolean(),
        fc.boolean(),
        fc.integer(),
        async (m, k, n, batch, ta, tb, seed) => {
          const mk = (rows: number, cols: number, t: boolean, s: number, b: number[]) => {
            const shape = t ? [...b, cols, rows] : [...b, rows, cols];
            const [c, g] = pair(shape, { permute: false, sliceDim: -1 }, s);
            return t ? [c.transpose(-1, -2), g.transpose(-1, -2)] : [c, g];
          };
          const [ac, ag] = mk(m, k, ta, seed, batch);
          const [bc, bg] = mk(k, n, tb, seed + 7, batch.length ? [batch[0]] : []);
          await same(ac.matmul(bc), ag.matmul(bg), 1e-4, 1e-4, `matmul ${batch} ${m}x${k}x${n} ${ta} ${tb}`);
        },
      ),
      { ...params, numRuns: Math.max(5, Math.round(RUNS / 2)) },
    );
  },
);

// ---------------------------------------------------------------- every op of the gradcheck table

/** Sum of out ⊙ w with fixed weights: a cotangent that makes every output element count. */
function weightedSum(t: Tensor): Tensor {
  const w = Float32Array.from({ length: t.size }, (_, i) => 0.5 + ((i * 7919) % 13) / 13);
  return t.float().mul(tensor(w, { shape: [...t.shape], device: t.device })).sum();
}

async function compareGrads(cs: Tensor[], gs: Tensor[], tol: number, msg: string): Promise<void> {
  for (let i = 0; i < cs.length; i++) {
    if (!cs[i].requiresGrad) continue;
    assert(cs[i].grad && gs[i].grad, `${msg}: input ${i} has a gradient on both devices`);
    await same(cs[i].grad!, gs[i].grad!, tol, tol, `${msg}: gradient of input ${i}`);
  }
}

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

const OP_NAMES = Object.keys(GRADCHECK_OPS);
Deno.test(
  "differential: every op of the gradcheck table, forward and backward, drawn values",
  opts,
  async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: OP_NAMES.length - 1 }), fc.nat(1000), async (k, seed) => {
        const name = OP_NAMES[k];
        const spec = GRADCHECK_OPS[name];
        const ci = spec.inputs("cpu", seed);
        const gi = spec.inputs("webgpu", seed);
        const tol = spec.tol ?? 1e-4;
        const yc = spec.fn(...ci);
        const yg = spec.fn(...gi);
        await same(yc.float(), yg.float(), tol, tol, `${name} forward (seed ${seed})`);
        weightedSum(yc).backward();
        weightedSum(yg).backward();
        await compareGrads(ci, gi, tol, `${name} backward (seed ${seed})`);
      }),
      { ...params, numRuns: Math.max(OP_NAMES.length, RUNS * 4) },
    );
  },
);

Deno.test("differential: every nn layer of the gradcheck table, forward and backward", opts, async () => {
  for (const [name, spec] of Object.entries(GRADCHECK_MODULES)) {
    manualSeed(5);
    const mc = spec.make("cpu");
    const mg = spec.make("webgpu");
    mg.loadStateDict(mc.stateDict()); // the same weights on both devices
    const [xc, ...rc] = spec.inputs("cpu", 1);
    const [xg, ...rg] = spec.inputs("webgpu", 1);
    const fc_ = mc.forward.bind(mc) as (...a: Tensor[]) => Tensor;
    const fg = mg.forward.bind(mg) as (...a: Tensor[]) => Tensor;
    const yc = fc_(xc, ...rc);
    const yg = fg(xg, ...rg);
    await same(yc.float(), yg.float(), 2e-4, 2e-4, `nn.${name} forward`);
    weightedSum(yc).backward();
    weightedSum(yg).backward();
    await compareGrads([xc, ...mc.parameters()], [xg, ...mg.parameters()], 2e-4, `nn.${name} backward`);
  }
});

// ---------------------------------------------------------------- softmax, gather, cat/stack, where

Deno.test("differential: softmax and logSoftmax along a random dim of random views", opts, async () => {
  await fc.assert(
    fc.asyncProperty(
      shapeArb.filter((s) => s.length > 0),
      viewArb,
      fc.nat(3),
      fc.boolean(),
      fc.integer(),
      async (shape, view, d, log, seed) => {
        const dim = d % shape.length;
        const [c, g] = pair(shape, view, seed);
        c.requiresGrad = true;
        g.requiresGrad = true;
        const f = (t: Tensor) => (log ? t.logSoftmax(dim) : t.softmax(dim));
        const yc = f(c);
        const yg = f(g);
        await same(yc, yg, 1e-4, 1e-5, `${log ? "logSoftmax" : "softmax"} ${shape} dim ${dim}`);
        weightedSum(yc).backward();
        weightedSum(yg).backward();
        await same(c.grad!, g.grad!, 1e-4, 1e-5, `softmax grad ${shape} dim ${dim}`);
      },
    ),
    params,
  );
});

Deno.test("differential: gather and indexSelect with random indices (repeats included)", opts, async () => {
  await fc.assert(
    fc.asyncProperty(
      shapeArb.filter((s) => s.length > 0 && !s.includes(0)),
      viewArb,
      fc.nat(3),
      fc.integer({ min: 0, max: 6 }),
      fc.boolean(),
      fc.integer(),
      async (shape, view, d, count, useGather, seed) => {
        const dim = d % shape.length;
        const [c, g] = pair(shape, view, seed);
        c.requiresGrad = true;
        g.requiresGrad = true;
        const idxShape = useGather ? shape.map((s, i) => (i === dim ? count : s)) : [count];
        const n = idxShape.reduce((a, b) => a * b, 1);
        const idx = Int32Array.from(values(n, seed + 3, true), (v) => Math.floor((v - 0.1) / 3 * shape[dim]));
        const make = (device: "cpu" | "webgpu") => tensor(idx, { shape: idxShape, device, dtype: "int32" });
        const f = (t: Tensor, i: Tensor) => (useGather ? t.gather(dim, i) : t.indexSelect(dim, i));
        const yc = f(c, make("cpu"));
        const yg = f(g, make("webgpu"));
        const what = `${useGather ? "gather" : "indexSelect"} ${shape} dim ${dim} index ${idxShape}`;
        await same(yc, yg, 1e-6, 1e-6, what);
        weightedSum(yc).backward();
        weightedSum(yg).backward();
        await same(c.grad!, g.grad!, 1e-5, 1e-5, `${what} grad`);
      },
    ),
    params,
  );
});

Deno.test("differential: cat and stack of random shapes (empty parts included)", opts, async () => {
  await fc.assert(
    fc.asyncProperty(
      shapeArb.filter((s) => s.length > 0),
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 }),
      fc.nat(3),
      fc.boolean(),
      fc.integer(),
      async (shape, sizes, d, useStack, seed) => {
        const dim = d % shape.length;
        const shapes = sizes.map((n) => (useStack ? shape : shape.map((s, i) => (i === dim ? n : s))));
        const parts = shapes.map((sh, i) => pair(sh, { permute: i % 2 === 1, sliceDim: -1 }, seed + i));
        for (const [c, g] of parts) {
          c.requiresGrad = true;
          g.requiresGrad = true;
        }
        const f = (ts: Tensor[]) => (useStack ? stack(ts, dim) : cat(ts, dim));
        const yc = f(parts.map((p) => p[0]));
        const yg = f(parts.map((p) => p[1]));
        await same(yc, yg, 0, 0, `${useStack ? "stack" : "cat"} ${JSON.stringify(shapes)} dim ${dim}`);
        weightedSum(yc).backward();
        weightedSum(yg).backward();
        for (const [c, g] of parts) await same(c.grad!, g.grad!, 1e-6, 1e-6, `cat grad ${shapes}`);
      },
    ),
    params,
  );
});

Deno.test("differential: where with broadcast condition and branches", opts, async () => {
  await fc.assert(
    fc.asyncProperty(
      broadcastArb,
      fc.boolean(),
      fc.boolean(),
      fc.integer(),
      async ([sa, sb], swap, scalar, seed) => {
        const [s1, s2] = swap ? [sb, sa] : [sa, sb];
        const [ac, ag] = pair([...s1], { permute: true, sliceDim: 0 }, seed);
        const [bc, bg] = pair([...s2], { permute: false, sliceDim: -1 }, seed + 1);
        const [kc, kg] = pair([...s2], { permute: false, sliceDim: 1 }, seed + 2);
        for (const t of [ac, ag, bc, bg]) t.requiresGrad = true;
        const f = (a: Tensor, b: Tensor, k: Tensor) => where(k.gt(0), a, scalar ? 0.5 : b);
        const yc = f(ac, bc, kc);
        const yg = f(ag, bg, kg);
        await same(yc, yg, 0, 0, `where ${s1} ${s2}`);
        weightedSum(yc).backward();
        weightedSum(yg).backward();
        await same(ac.grad!, ag.grad!, 1e-5, 1e-5, `where grad a ${s1} ${s2}`);
        if (!scalar) await same(bc.grad!, bg.grad!, 1e-5, 1e-5, `where grad b ${s1} ${s2}`);
      },
    ),
    params,
  );
});

// ---------------------------------------------------------------- conv2d and pooling

const convArb = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  groups: fc.integer({ min: 1, max: 3 }),
  cPer: fc.integer({ min: 1, max: 2 }),
  ocPer: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
  kh: fc.integer({ min: 1, max: 3 }),
  kw: fc.integer({ min: 1, max: 3 }),
  stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  padding: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
  dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  bias: fc.boolean(),
  seed: fc.integer(),
}).filter((c) =>
  c.h + 2 * c.padding[0] >= c.dilation[0] * (c.kh - 1) + 1 &&
  c.w + 2 * c.padding[1] >= c.dilation[1] * (c.kw - 1) + 1
);

Deno.test("differential: conv2d with random sizes, strides, padding, dilation and groups", opts, async () => {
  await fc.assert(
    fc.asyncProperty(convArb, async (c) => {
      const cin = c.groups * c.cPer;
      const cout = c.groups * c.ocPer;
      const [xc, xg] = pair([c.n, cin, c.h, c.w], { permute: c.seed % 2 === 0, sliceDim: -1 }, c.seed);
      const [wc, wg] = pair([cout, c.cPer, c.kh, c.kw], { permute: false, sliceDim: -1 }, c.seed + 1);
      const [bc, bg] = pair([cout], { permute: false, sliceDim: -1 }, c.seed + 2);
      for (const t of [xc, xg, wc, wg, bc, bg]) t.requiresGrad = true;
      const o = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
      const yc = F.conv2d(xc, wc, c.bias ? bc : null, o);
      const yg = F.conv2d(xg, wg, c.bias ? bg : null, o);
      const what = `conv2d ${JSON.stringify(c)}`;
      await same(yc, yg, 2e-4, 2e-4, what);
      weightedSum(yc).backward();
      weightedSum(yg).backward();
      await same(xc.grad!, xg.grad!, 2e-4, 2e-4, `${what} grad x`);
      await same(wc.grad!, wg.grad!, 2e-4, 2e-4, `${what} grad w`);
      if (c.bias) await same(bc.grad!, bg.grad!, 2e-4, 2e-4, `${what} grad b`);
    }),
    params,
  );
});

Deno.test("differential: max, average and adaptive pooling with random windows", opts, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        n: fc.integer({ min: 1, max: 2 }),
        c: fc.integer({ min: 1, max: 3 }),
        h: fc.integer({ min: 1, max: 9 }),
        w: fc.integer({ min: 1, max: 9 }),
        k: fc.integer({ min: 1, max: 3 }),
        stride: fc.integer({ min: 1, max: 3 }),
        padding: fc.integer({ min: 0, max: 1 }),
        kind: fc.constantFrom("max", "avg", "adaptive"),
        out: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
        seed: fc.integer(),
      }).filter((p) =>
        p.kind === "adaptive" ||
        (p.h + 2 * p.padding >= p.k && p.w + 2 * p.padding >= p.k && 2 * p.padding <= p.k)
      ),
      async (p) => {
        const [xc, xg] = pair([p.n, p.c, p.h, p.w], { permute: p.seed % 2 === 0, sliceDim: 3 }, p.seed);
        xc.requiresGrad = true;
        xg.requiresGrad = true;
        const f = (x: Tensor) =>
          p.kind === "max"
            ? F.maxPool2d(x, p.k, { stride: p.stride, padding: p.padding })
            : p.kind === "avg"
            ? F.avgPool2d(x, p.k, { stride: p.stride, padding: p.padding })
            : F.adaptiveAvgPool2d(x, p.out);
        const yc = f(xc);
        const yg = f(xg);
        await same(yc, yg, 1e-5, 1e-6, `pool ${JSON.stringify(p)}`);
        weightedSum(yc).backward();
        weightedSum(yg).backward();
        await same(xc.grad!, xg.grad!, 1e-5, 1e-6, `pool grad ${JSON.stringify(p)}`);
      },
    ),
    params,
  );
});

// ---------------------------------------------------------------- int32, bool and float16

async function sameExact(cpu: Tensor, g: Tensor, msg: string): Promise<void> {
  if (cpu.dtype !== g.dtype) throw new Error(`${msg}: dtype ${cpu.dtype} vs ${g.dtype}`);
  if (cpu.shape.join() !== g.shape.join()) throw new Error(`${msg}: shapes ${cpu.shape} vs ${g.shape}`);
  const a = Array.from(await cpu.data(), Number);
  const b = Array.from(await g.data(), Number);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${msg}: element ${i} is ${b[i]} on webgpu, ${a[i]} on cpu`);
  }
}

const INT_OPS: [string, (a: Tensor, b: Tensor) => Tensor][] = [
  ["add", (a, b) => a.add(b)],
  ["sub", (a, b) => a.sub(b)],
  ["mul", (a, b) => a.mul(b)],
  ["maximum", (a, b) => a.maximum(b)],
  ["minimum", (a, b) => a.minimum(b)],
  ["neg", (a) => a.neg()],
  ["abs", (a) => a.abs()],
  ["sign", (a) => a.sign()],
  ["clamp", (a) => a.clamp(-3, 4)],
  ["eq", (a, b) => a.eq(b)],
  ["ne", (a, b) => a.ne(b)],
  ["lt", (a, b) => a.lt(b)],
  ["le", (a, b) => a.le(b)],
  ["gt", (a, b) => a.gt(b)],
  ["ge", (a, b) => a.ge(b)],
  ["sum", (a) => a.sum(0)],
  ["max", (a) => a.max(-1)],
  ["min", (a) => a.min()],
  ["argmax", (a) => a.argmax(-1)],
  ["argmin", (a) => a.argmin(0, true)],
  ["where", (a, b) => where(a.gt(b), a, b)],
  ["cat", (a, b) => cat([a, b.expand(...a.shape)], 0)],
  ["gather", (a) => a.gather(0, a.abs().clamp(0, a.shape[0] - 1))],
  ["float", (a) => a.float().mul(0.5)],
  ["bool", (a) => a.bool()],
  ["logicalAnd", (a, b) => a.bool().logicalAnd(b.bool())],
  ["logicalOr", (a, b) => a.gt(0).logicalOr(b.lt(0))],
  ["logicalNot", (a) => a.bool().logicalNot()],
  ["bool to int", (a, b) => a.gt(b).int().add(a.le(b))],
];

Deno.test("differential: int32 and bool ops agree exactly, with broadcasting and views", opts, async () => {
  await fc.assert(
    fc.asyncProperty(
      broadcastArb.filter(([a]) => a.length > 0 && !a.includes(0)),
      viewArb,
      fc.integer({ min: 0, max: INT_OPS.length - 1 }),
      fc.integer(),
      async ([sa, sb], view, k, seed) => {
        const [name, f] = INT_OPS[k];
        const ints = (s: number[], v: typeof view, sd: number): [Tensor, Tensor] => {
          const [c, g] = pair(s, v, sd);
          return [noGrad(() => c.mul(3).int()), noGrad(() => g.mul(3).int())];
        };
        const [ac, ag] = ints([...sa], view, seed);
        const [bc, bg] = ints([...sb], { permute: false, sliceDim: -1 }, seed + 1);
        await sameExact(f(ac, bc), f(ag, bg), `int32 ${name} ${sa} ${sb}`);
      },
    ),
    params,
  );
});

const F16_OPS: [string, (a: Tensor, b: Tensor) => Tensor][] = [
  ["add", (a, b) => a.add(b)],
  ["mul", (a, b) => a.mul(b)],
  ["div", (a, b) => a.div(b.abs().add(0.5))],
  ["exp", (a) => a.exp()],
  ["tanh", (a) => a.tanh()],
  ["relu", (a) => a.relu()],
  ["gelu", (a) => a.gelu()],
  ["sigmoid", (a) => a.sigmoid()],
  ["sum", (a) => a.sum(-1)],
  ["mean", (a) => a.mean()],
  ["max", (a) => a.max(0)],
  ["softmax", (a) => a.softmax(-1)],
  ["matmul", (a) => a.matmul(a.transpose(-1, -2))],
  ["cat", (a, b) => cat([a, b.expand(...a.shape)], -1)],
  ["where", (a, b) => where(a.gt(0), a, b)],
];

Deno.test("differential: float16 ops agree within half precision, forward and backward", opts, async () => {
  if (!(await gpu.info())!.f16) return; // an adapter without shader-f16 computes float16 as float32
  await fc.assert(
    fc.asyncProperty(
      broadcastArb.filter(([a]) => a.length >= 2 && !a.includes(0)),
      fc.integer({ min: 0, max: F16_OPS.length - 1 }),
      fc.integer(),
      async ([sa, sb], k, seed) => {
        const [name, f] = F16_OPS[k];
        const half = (s: number[], sd: number): [Tensor, Tensor] => {
          const [c, g] = pair(s, { permute: sd % 2 === 0, sliceDim: -1 }, sd);
          const hc = c.half();
          const hg = g.half();
          hc.requiresGrad = true;
          hg.requiresGrad = true;
          return [hc, hg];
        };
        const [ac, ag] = half([...sa], seed);
        const [bc, bg] = half([...sb], seed + 1);
        const yc = f(ac, bc);
        const yg = f(ag, bg);
        if (yc.dtype !== yg.dtype) throw new Error(`float16 ${name}: dtype ${yc.dtype} vs ${yg.dtype}`);
        const tol = name === "matmul" || name === "sum" ? 2e-2 : 4e-3;
        await same(yc.float(), yg.float(), tol, tol, `float16 ${name} ${sa} ${sb}`);
        weightedSum(yc).backward();
        weightedSum(yg).backward();
        await same(ac.grad!.float(), ag.grad!.float(), 2e-2, 2e-2, `float16 ${name} grad ${sa} ${sb}`);
      },
    ),
    params,
  );
});

// ---------------------------------------------------------------- past one dispatch's workgroup limit

Deno.test("differential: tensors past 65 535 workgroups in one dimension", opts, async () => {
  // 65 535 workgroups of 64 threads cover 4 194 240 elements; these go past it in the elementwise, reduction,
  // copy, gather and matmul kernels, and past llvmpipe's ~65 535-iteration loop cap in a single row
  const n = 65_535 * 64 + 4_099;
  const [c, g] = pair([n], { permute: false, sliceDim: -1 }, 11);
  c.requiresGrad = true;
  g.requiresGrad = true;
  const f = (t: Tensor) => t.mul(1.5).tanh().add(t);
  const yc = f(c);
  const yg = f(g);
  await same(yc, yg, 1e-5, 1e-6, `elementwise over ${n}`);
  await same(yc.sum(), yg.sum(), 1e-4, 1e-2, `sum over ${n}`);
  await same(yc.max(), yg.max(), 0, 0, `max over ${n}`);
  yc.sum().backward();
  yg.sum().backward();
  await same(c.grad!, g.grad!, 1e-5, 1e-6, `elementwise grad over ${n}`);
  // a transposed copy of a 2100 × 2100 matrix (4.41M elements)
  const [mc, mg] = pair([2100, 2100], { permute: false, sliceDim: -1 }, 12);
  await same(mc.T.contiguous(), mg.T.contiguous(), 0, 0, "transpose copy 2100x2100");
  // a softmax over one row of 70 000 and over 70 000 rows
  const [rc, rg] = pair([2, 70_000], { permute: false, sliceDim: -1 }, 13);
  await same(rc.softmax(1), rg.softmax(1), 1e-4, 1e-9, "softmax over a row of 70 000");
  await same(rc.T.logSoftmax(1), rg.T.logSoftmax(1), 1e-5, 1e-5, "logSoftmax over 70 000 rows");
  // matmul with 70 000 output rows, gather of 4.2M+ indices
  const [ac, ag] = pair([70_000, 3], { permute: false, sliceDim: -1 }, 14);
  const [bc, bg] = pair([3, 61], { permute: false, sliceDim: -1 }, 15);
  await same(ac.matmul(bc), ag.matmul(bg), 1e-4, 1e-4, "matmul [70000, 3] x [3, 61]");
  // a batched matmul of 70 000 batches (past the limit in the batch dim) and one of 1.1M rows (in the row dim)
  const [pc, pg] = pair([70_000, 2, 3], { permute: false, sliceDim: -1 }, 16);
  const [qc, qg] = pair([70_000, 3, 2], { permute: false, sliceDim: -1 }, 17);
  await same(pc.matmul(qc), pg.matmul(qg), 1e-4, 1e-4, "matmul of 70 000 batches");
  const [lc, lg] = pair([1_100_000, 3], { permute: false, sliceDim: -1 }, 18);
  const [kc, kg] = pair([3, 5], { permute: false, sliceDim: -1 }, 21);
  await same(lc.matmul(kc), lg.matmul(kg), 1e-4, 1e-4, "matmul [1100000, 3] x [3, 5]");
  // a reduction with 4.2M output rows, and max pooling with 4.4M outputs
  const [sc, sg] = pair([4_200_000, 2], { permute: false, sliceDim: -1 }, 19);
  await same(sc.sum(1), sg.sum(1), 1e-5, 1e-6, "sum of 4.2M rows");
  const [oc, og] = pair([1, 1, 2100, 2100], { permute: false, sliceDim: -1 }, 20);
  const poolC = F.maxPool2d(oc, 2, { stride: 1 });
  const poolG = F.maxPool2d(og, 2, { stride: 1 });
  await same(poolC, poolG, 0, 0, "maxPool2d with 4.4M outputs");
  for (const t of [pc, pg, qc, qg, lc, lg, kc, kg, sc, sg, oc, og, poolC, poolG]) t.dispose();
  const idx = Int32Array.from({ length: n }, (_, i) => (i * 7919) % n);
  const gc = c.detach().gather(0, tensor(idx, { device: "cpu", dtype: "int32" }));
  const gg = g.detach().gather(0, tensor(idx, { device: "webgpu", dtype: "int32" }));
  await same(gc, gg, 0, 0, `gather of ${n} indices`);
  for (const t of [c, g, yc, yg, mc, mg, rc, rg, ac, ag, bc, bg, gc, gg]) t.dispose();
});
