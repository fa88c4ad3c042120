/**
 * Differential tests: random shapes, views and values run on WebGPU and on the CPU reference must agree,
 * forward and backward. fast-check shrinks any counterexample to its smallest shape. CI runs a fixed seed
 * and few cases; `deno task fuzz` sets FUZZ_RUNS (and FUZZ_SEED) for a long randomized run.
 */
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.10.2";
import { gpu, type Tensor, tensor } from "../mod.ts";
import { assertClose } from "./helpers/assert_close.ts";

const hasGpu = await gpu.isAvailable();
const RUNS = Number(Deno.env.get("FUZZ_RUNS") ?? 25);
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261123);
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
