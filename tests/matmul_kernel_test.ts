/**
 * Tests of the matmul kernel generator (`src/backend/webgpu/matmul_kernel.ts`): the spec chooser and the
 * dispatch grid on their own, then the generated kernels against a CPU matmul on the WebGPU adapter
 * (tiny, odd and tile-straddling shapes, all four transpositions, unaligned offsets, padded leading
 * dimensions, batch broadcasting, a folded grid).
 * @module
 */
import assert from "node:assert/strict";
import { gpu as gpuInfo, manualSeed, randn } from "../mod.ts";
import { assertClose } from "./helpers/assert_close.ts";
import {
  chooseMatmulSpec,
  chooseMatmulTile,
  defaultMatmulTile,
  MATMUL_PARAM_WORDS,
  matmulDispatch,
  type MatmulDType,
  matmulShader,
  type MatmulSpec,
  type MatmulTile,
  REGISTER_TILE,
  WORKGROUP_TILE,
} from "../src/backend/webgpu/matmul_kernel.ts";
import {
  caseName,
  correctnessCases,
  type Gpu,
  type MatmulCase,
  maxRelError,
  openGpu,
  runCase,
} from "../bench/matmul_kernel_tune.ts";

const base = { dtype: "f32" as const, aOffset: 0, bOffset: 0, adapterIsCpu: true };

Deno.test("matmul spec: layout flags from unit strides", () => {
  const M = 8, N = 12, K = 16;
  const nn = chooseMatmulSpec({ ...base, M, N, K, aStrides: [M * K, K, 1], bStrides: [K * N, N, 1] });
  assert.deepEqual(nn, {
    dtype: "f32",
    aKContiguous: true,
    bNContiguous: true,
    vec4: true,
    variant: "register",
  });
  const tt = chooseMatmulSpec({ ...base, M, N, K, aStrides: [M * K, 1, M], bStrides: [K * N, 1, K] });
  assert.equal(tt.aKContiguous, false);
  assert.equal(tt.bNContiguous, false);
  assert.equal(tt.vec4, true);
  const gpu = chooseMatmulSpec({
    ...base,
    adapterIsCpu: false,
    M,
    N,
    K,
    aStrides: [0, K, 1],
    bStrides: [0, N, 1],
  });
  assert.equal(gpu.variant, "workgroup");
  assert.equal(gpu.vec4, true, "batch stride 0 (broadcast) keeps vec4");
  // No unit stride at all: scalar strided loads.
  const odd = chooseMatmulSpec({ ...base, M, N, K, aStrides: [0, 2 * K, 2], bStrides: [0, N, 1] });
  assert.equal(odd.aKContiguous, true);
  assert.equal(odd.vec4, false);
});

Deno.test("matmul spec: vec4 only when every vector is aligned", () => {
  const M = 8, N = 12, K = 16;
  const ok = {
    ...base,
    M,
    N,
    K,
    aStrides: [M * K, K, 1] as [number, number, number],
    bStrides: [K * N, N, 1] as [number, number, number],
  };
  assert.equal(chooseMatmulSpec(ok).vec4, true);
  assert.equal(chooseMatmulSpec({ ...ok, aOffset: 2 }).vec4, false, "unaligned a offset");
  assert.equal(chooseMatmulSpec({ ...ok, bOffset: 4 }).vec4, true, "aligned b offset");
  assert.equal(
    chooseMatmulSpec({ ...ok, K: 6, aStrides: [M * 6, 6, 1], bStrides: [6 * N, N, 1] }).vec4,
    false,
  );
  assert.equal(
    chooseMatmulSpec({ ...ok, N: 10, bStrides: [K * 10, 10, 1] }).vec4,
    false,
    "N not a multiple of 4",
  );
  assert.equal(
    chooseMatmulSpec({ ...ok, aStrides: [M * K + 2, K, 1] }).vec4,
    false,
    "unaligned batch stride",
  );
  assert.equal(chooseMatmulSpec({ ...ok, aStrides: [M * 20, 20, 1] }).vec4, true, "padded leading dimension");
  // A transposed: M is the vector dim.
  const t = { ...ok, aStrides: [M * K, 1, M] as [number, number, number] };
  assert.equal(chooseMatmulSpec(t).vec4, true);
  assert.equal(chooseMatmulSpec({ ...t, M: 6, aStrides: [6 * K, 1, 6] }).vec4, false);
});

Deno.test("matmul dispatch: block counts, folding beyond 65535, RangeError when impossible", () => {
  const spec: MatmulSpec = {
    dtype: "f32",
    aKContiguous: true,
    bNContiguous: true,
    vec4: true,
    variant: "register",
  };
  const t = REGISTER_TILE;
  const bm = t.tm * t.wgy, bn = t.tn * t.wgx;
  assert.deepEqual(matmulDispatch(spec, 1, 1, 1), [1, 1, 1]);
  assert.equal(
    matmulDispatch(spec, 0, 5, 2).reduce((x, y) => x * y),
    0,
    "an empty output dispatches nothing",
  );
  assert.deepEqual(matmulDispatch(spec, bm + 1, 2 * bn, 3), [2, 2, 3]);
  const folded = matmulDispatch(spec, 1, 1, 100_000);
  assert.ok(folded.every((g) => g >= 1 && g <= 65535), `folded grid ${folded}`);
  assert.ok(folded[0] * folded[1] * folded[2] >= 100_000);
  const wide = matmulDispatch(spec, 1, bn * 70_000, 1);
  assert.ok(wide.every((g) => g <= 65535) && wide[0] * wide[1] * wide[2] >= 70_000);
  assert.throws(() => matmulDispatch(spec, 65535 * bm, 65535 * bn, 65535), RangeError);
  assert.throws(() => matmulDispatch(spec, 65535 * bm, 65535 * bn, 65535), /65535/);
});

Deno.test("matmul shader: bindings, parameter block, workgroup size, f16", () => {
  assert.equal(MATMUL_PARAM_WORDS, 12);
  for (const variant of ["register", "workgroup"] as const) {
    for (const dtype of ["f32", "f16"] as const) {
      for (const vec4 of [false, true]) {
        const spec: MatmulSpec = { dtype, aKContiguous: true, bNContiguous: false, vec4, variant };
        const { code, workgroupSize } = matmulShader(spec);
        const tile = defaultMatmulTile(spec);
        assert.deepEqual(workgroupSize, [tile.wgx, tile.wgy, 1]);
        const elem = vec4 ? `vec4<${dtype}>` : dtype;
        assert.match(code, new RegExp(`@binding\\(0\\) var<storage, read> a: array<${elem}>;`));
        assert.match(code, new RegExp(`@binding\\(1\\) var<storage, read> b: array<${elem}>;`));
        assert.match(code, new RegExp(`@binding\\(2\\) var<storage, read_write> out: array<${dtype}>;`));
        assert.match(code, /@binding\(3\) var<uniform> p: Params;/);
        assert.match(
          code,
          /M: u32, N: u32, K: u32, batch: u32,\s*aOffset: u32, aStrideB: u32, aStrideM: u32, aStrideK: u32,\s*bOffset: u32, bStrideB: u32, bStrideK: u32, bStrideN: u32,/,
        );
        assert.equal(code.includes("enable f16;"), dtype === "f16");
        assert.ok(!code.includes("{{"), "every placeholder is filled");
      }
    }
  }
  assert.equal(
    defaultMatmulTile({
      dtype: "f32",
      aKContiguous: true,
      bNContiguous: true,
      vec4: true,
      variant: "workgroup",
    }),
    WORKGROUP_TILE,
  );
  assert.throws(
    () =>
      matmulShader(
        { dtype: "f32", aKContiguous: true, bNContiguous: true, vec4: true, variant: "register" },
        { ...REGISTER_TILE, tm: 6 },
      ),
    RangeError,
  );
});

let gpuPromise: Promise<Gpu | null> | undefined;
function gpu(): Promise<Gpu | null> {
  gpuPromise ??= openGpu();
  return gpuPromise;
}

async function checkMatrix(
  t: Deno.TestContext,
  dtype: MatmulDType,
  variant: MatmulSpec["variant"],
  cases: MatmulCase[],
  tile?: MatmulTile,
): Promise<void> {
  const g = await gpu();
  if (!g) {
    console.warn(`skipping ${t.name}: navigator.gpu.requestAdapter() returned null (no WebGPU adapter)`);
    return;
  }
  if (dtype === "f16" && !g.hasF16) {
    console.warn(`skipping ${t.name}: the adapter lacks shader-f16`);
    return;
  }
  // Inputs are multiples of 1/64 in [-1, 1): f32 sums are exact; f16 rounds the output only.
  const tol = dtype === "f16" ? 2e-3 : 1e-6;
  let vec4Cases = 0;
  for (const c of cases) {
    const { got, want, spec } = await runCase(g, c, dtype, variant, { tile });
    if (spec.vec4) vec4Cases++;
    const err = maxRelError(got, want);
    assert.ok(
      err <= tol,
      `${dtype} ${variant} ${caseName(c)} (vec4 ${spec.vec4}): max relative error ${err}`,
    );
  }
  assert.ok(cases.length < 10 || vec4Cases > 0, "the matrix exercises vec4 loads");
  assert.ok(vec4Cases < cases.length, "the matrix exercises scalar loads");
}

const sanitize = { sanitizeResources: false, sanitizeOps: false };
const hasWebGpuAdapter = await gpuInfo.isAvailable();

for (const dtype of ["f32", "f16"] as const) {
  for (const variant of ["register", "workgroup"] as const) {
    Deno.test({
      name: `matmul kernel ${dtype} ${variant}: correctness matrix vs CPU`,
      ...sanitize,
      fn: (t) => checkMatrix(t, dtype, variant, correctnessCases()),
    });
  }
}

Deno.test({
  name: "matmul kernel: other tiles (multi-row workgroups, blocked placement, deeper K unroll)",
  ...sanitize,
  fn: async (t) => {
    const cases = correctnessCases().filter((c) => c.M > 1 && c.batch <= 2);
    const tiles: MatmulTile[] = [{ tm: 4, tn: 8, wgx: 4, wgy: 2, bk: 8, interleave: false }];
    for (const tile of tiles) await checkMatrix(t, "f32", "register", cases, tile);
    const wg: MatmulTile = { tm: 4, tn: 4, wgx: 8, wgy: 8, bk: 32, interleave: false };
    await checkMatrix(t, "f32", "workgroup", cases, wg);
  },
});

Deno.test({
  name: "matmul kernel: batch beyond 65535 folds the grid",
  ...sanitize,
  fn: async (t) => {
    const c: MatmulCase = { M: 2, N: 3, K: 5, batch: 70_000, bBroadcast: true };
    for (const variant of ["register", "workgroup"] as const) await checkMatrix(t, "f32", variant, [c]);
  },
});

Deno.test("matmul tile: narrow register tiles for small N, the default elsewhere", () => {
  const reg = chooseMatmulSpec({ ...base, M: 16, N: 12, K: 8, aStrides: [0, 8, 1], bStrides: [0, 12, 1] });
  const blockN = (t: MatmulTile) => t.tn * t.wgx;
  for (const [N, bn] of [[1, 16], [12, 16], [16, 16], [17, 32], [32, 32], [33, 64], [64, 64], [65, 128]]) {
    const t = chooseMatmulTile(reg, 64, N);
    assert.equal(blockN(t), bn, `N ${N}`);
    assert.equal(t.wgx * t.wgy, 8, "one SIMD vector of invocations per workgroup");
  }
  assert.deepEqual(chooseMatmulTile(reg, 8, 12), REGISTER_TILE, "M below one block row: the default");
  const wg = chooseMatmulSpec({
    ...base,
    adapterIsCpu: false,
    M: 64,
    N: 12,
    K: 8,
    aStrides: [0, 8, 1],
    bStrides: [0, 12, 1],
  });
  assert.deepEqual(chooseMatmulTile(wg, 64, 12), WORKGROUP_TILE);
});

Deno.test({
  name: "matmul tile: the narrow tiles agree with the CPU through the backend (all layouts, odd sizes)",
  ignore: !hasWebGpuAdapter,
  ...sanitize,
  fn: async () => {
    manualSeed(11);
    for (const N of [1, 5, 12, 16, 17, 31, 33, 64]) {
      for (const [M, K] of [[16, 3], [37, 676]]) {
        for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
          const a = ta ? randn([2, K, M]).transpose(1, 2) : randn([2, M, K]);
          const b = tb ? randn([2, N, K]).transpose(1, 2) : randn([2, K, N]);
          const want = await a.matmul(b).data();
          const got = await a.to("webgpu").matmul(b.to("webgpu")).data();
          assertClose(got, want, { rtol: 1e-4, atol: 1e-3, msg: `M ${M} N ${N} K ${K} ta ${ta} tb ${tb}` });
        }
      }
    }
  },
});
