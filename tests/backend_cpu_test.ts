/**
 * Direct tests of the CPU reference backend's kernels against hand-computed values: strided, transposed,
 * offset and broadcast (stride 0) operands, dtype conversions, float16 rounding, int32 wraparound, NaN
 * propagation and empty tensors.
 * @module
 */
import assert from "node:assert/strict";
import type { Operand, Storage } from "../src/backend/backend.ts";
import { CpuBackend, cpuBackend as be, CpuStorage } from "../src/backend/cpu/cpu_backend.ts";
import { erf, erfc } from "../src/backend/cpu/erf.ts";
import { coalesce, readView, scatterInto, viewOffsets } from "../src/backend/cpu/strided.ts";
import { type DType, toHost } from "../src/tensor/dtype.ts";
import { contiguousStrides } from "../src/tensor/shape.ts";

// ---------------------------------------------------------------------------------------------- helpers

/** A storage of `dtype` holding `values`. */
function st(dtype: DType, values: ArrayLike<number>): CpuStorage {
  return be.upload(dtype, toHost(dtype, values));
}

/** An operand: a view of `shape` (contiguous unless `strides` are given) at `offset`. */
function op(storage: Storage, shape: number[], strides?: number[], offset = 0): Operand {
  return { storage, view: { shape, strides: strides ?? contiguousStrides(shape), offset } };
}

/** A contiguous operand over a new storage. */
function t(dtype: DType, values: ArrayLike<number>, shape: number[] = [values.length]): Operand {
  return op(st(dtype, values), shape);
}

/** The elements of a storage as a plain array. */
async function vals(s: Storage): Promise<number[]> {
  return Array.from(await be.read(s));
}

/** Elementwise |a - e| <= atol + rtol·|e|, with NaN equal to NaN and infinities exact. */
function close(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-6,
  atol = 1e-7,
  msg = "",
): void {
  assert.equal(actual.length, expected.length, `${msg} length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const ok = Number.isNaN(e)
      ? Number.isNaN(a)
      : !Number.isFinite(e)
      ? a === e
      : Math.abs(a - e) <= atol + rtol * Math.abs(e);
    assert.ok(ok, `${msg} [${i}]: got ${a}, expected ${e} (actual ${Array.from(actual)})`);
  }
}

async function unary(
  name: Parameters<typeof be.unary>[0],
  x: Operand,
  outDtype: DType = "float32",
  p0?: number,
  p1?: number,
): Promise<number[]> {
  return await vals(be.unary(name, x, outDtype, p0, p1));
}

async function binary(
  name: Parameters<typeof be.binary>[0],
  a: Operand,
  b: Operand,
  outDtype: DType = "float32",
  p0?: number,
  p1?: number,
): Promise<number[]> {
  return await vals(be.binary(name, a, b, outDtype, p0, p1));
}

const f32 = (x: number) => Math.fround(x);
const f16 = (x: number) => new Float16Array([x])[0];

// ---------------------------------------------------------------------------------- storage & memory

Deno.test("cpu: alloc, fill, upload and read", async () => {
  assert.equal(be.device, "cpu");
  assert.equal(be.supportsF16, true);
  const z = be.alloc("float32", 3);
  assert.ok(z instanceof CpuStorage);
  assert.ok(z.data instanceof Float32Array);
  assert.deepEqual(await vals(z), [0, 0, 0]);
  assert.ok(be.alloc("float16", 1).data instanceof Float16Array);
  assert.ok(be.alloc("int32", 1).data instanceof Int32Array);
  assert.ok(be.alloc("bool", 1).data instanceof Uint8Array);
  assert.deepEqual(await vals(be.fill("int32", 3, 7)), [7, 7, 7]);
  assert.deepEqual(await vals(be.fill("bool", 2, 0.5)), [1, 1]);
  assert.deepEqual(await vals(be.fill("bool", 2, 0)), [0, 0]);
  assert.deepEqual(await vals(be.fill("float16", 1, 0.1)), [0.0999755859375]);
  // upload converts: float -> int32 truncates toward zero, anything -> bool is x != 0
  assert.deepEqual(await vals(be.upload("int32", new Float32Array([2.7, -2.7, 0.5]))), [2, -2, 0]);
  assert.deepEqual(await vals(be.upload("bool", new Float32Array([0, -0.5, NaN, 2]))), [0, 1, 1, 1]);
  assert.deepEqual(await vals(be.upload("float32", new Uint8Array([1, 0]))), [1, 0]);
  // upload copies; read returns a fresh copy
  const src = new Float32Array([1, 2]);
  const s = be.upload("float32", src);
  src[0] = 9;
  const r = await be.read(s);
  assert.deepEqual(Array.from(r), [1, 2]);
  r[1] = 9;
  assert.deepEqual(await vals(s), [1, 2]);
  assert.equal(s.size, 2);
  assert.equal(s.dtype, "float32");
  assert.equal(s.backend, be);
  be.flush();
  await be.sync();
});

Deno.test("cpu: memory accounting, free, and use after free", async () => {
  const b = new CpuBackend();
  assert.deepEqual(b.memory(), { allocated: 0, inUse: 0, peak: 0 });
  const a = b.alloc("float32", 10); // 40 bytes
  const h = b.alloc("float16", 10); // 20
  const i = b.fill("bool", 5, 1); // 5
  assert.deepEqual(b.memory(), { allocated: 65, inUse: 65, peak: 65 });
  const u = b.unary("neg", op(a, [10]), "float32"); // kernel outputs count too: 40
  assert.deepEqual(b.memory(), { allocated: 105, inUse: 105, peak: 105 });
  b.free(a);
  b.free(u);
  assert.deepEqual(b.memory(), { allocated: 25, inUse: 25, peak: 105 });
  assert.equal(a.freed, true);
  assert.throws(() => a.data, { message: "storage used after it was freed" });
  assert.throws(() => b.unary("neg", op(a, [10]), "float32"), { message: "storage used after it was freed" });
  assert.throws(() => b.copy(op(h, [10]), a, { shape: [10], strides: [1], offset: 0 }), {
    message: "storage used after it was freed",
  });
  await assert.rejects(b.read(a), { message: "storage used after it was freed" });
  assert.throws(() => b.free(a), { message: "storage used after it was freed" });
  b.free(h);
  b.free(i);
  assert.deepEqual(b.memory(), { allocated: 0, inUse: 0, peak: 105 });
});

Deno.test("cpu: storages of another backend are refused", () => {
  const other = new CpuBackend();
  const s = other.alloc("float32", 2);
  assert.throws(() => be.unary("neg", op(s, [2]), "float32"), TypeError);
  const fake = { backend: { device: "webgpu" }, dtype: "float32", size: 1 } as unknown as Storage;
  assert.throws(() => be.free(fake), /webgpu/);
});

// ------------------------------------------------------------------------------------ strided helpers

Deno.test("cpu strided: readView, viewOffsets, scatterInto, coalesce", () => {
  const data = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]);
  // dense with offset: a subarray sharing memory
  const dense = readView(data, { shape: [2, 2], strides: [2, 1], offset: 3 });
  assert.deepEqual(Array.from(dense), [3, 4, 5, 6]);
  assert.equal(dense.buffer, data.buffer);
  assert.notEqual(readView(data, { shape: [2], strides: [1], offset: 0 }, true).buffer, data.buffer);
  // transposed [2,3] stored at offset 1: element (i, j) at 1 + i + 2j
  assert.deepEqual(Array.from(readView(data, { shape: [2, 3], strides: [1, 2], offset: 1 })), [
    1,
    3,
    5,
    2,
    4,
    6,
  ]);
  // broadcast (stride 0)
  assert.deepEqual(Array.from(readView(data, { shape: [2, 3], strides: [1, 0], offset: 4 })), [
    4,
    4,
    4,
    5,
    5,
    5,
  ]);
  // scalar view
  assert.deepEqual(Array.from(readView(data, { shape: [], strides: [], offset: 7 })), [7]);
  // empty view
  assert.deepEqual(Array.from(readView(data, { shape: [2, 0], strides: [1, 2], offset: 0 })), []);
  assert.deepEqual(Array.from(viewOffsets({ shape: [2, 1, 2], strides: [4, 9, 1], offset: 2 })), [
    2,
    3,
    6,
    7,
  ]);
  // coalescing: [2,3,4] contiguous merges fully; a permuted [4,2,3] with strides [1,12,4] merges the last two
  assert.deepEqual(coalesce([2, 3, 4], [12, 4, 1]), { shape: [24], strides: [1] });
  assert.deepEqual(coalesce([4, 2, 3], [1, 12, 4]), { shape: [4, 6], strides: [1, 4] });
  assert.deepEqual(coalesce([1, 5, 1], [7, 2, 9]), { shape: [5], strides: [2] });
  const dst = new Int32Array(6);
  scatterInto(new Float64Array([1, 2, 3, 4]), dst, { shape: [2, 2], strides: [1, 3], offset: 1 });
  assert.deepEqual(Array.from(dst), [0, 1, 3, 0, 2, 4]);
});

// --------------------------------------------------------------------------------------------- unary

Deno.test("cpu unary: arithmetic and transcendental ops", async () => {
  const x = t("float32", [-2, -0.5, 0, 0.5, 4]);
  close(await unary("neg", x), [2, 0.5, -0, -0.5, -4]);
  close(await unary("abs", x), [2, 0.5, 0, 0.5, 4]);
  close(await unary("exp", x), [Math.exp(-2), Math.exp(-0.5), 1, Math.exp(0.5), Math.exp(4)].map(f32));
  close(await unary("log", x), [NaN, NaN, -Infinity, Math.log(0.5), Math.log(4)].map(f32));
  close(await unary("sqrt", x), [NaN, NaN, 0, Math.SQRT1_2, 2].map(f32));
  close(await unary("rsqrt", x), [NaN, NaN, Infinity, Math.SQRT2, 0.5].map(f32));
  close(await unary("reciprocal", x), [-0.5, -2, Infinity, 2, 0.25]);
  close(await unary("sin", x), [Math.sin(-2), Math.sin(-0.5), 0, Math.sin(0.5), Math.sin(4)].map(f32));
  close(await unary("cos", x), [Math.cos(-2), Math.cos(-0.5), 1, Math.cos(0.5), Math.cos(4)].map(f32));
  close(await unary("tanh", x), [
    -0.9640275800758169,
    -0.46211715726000974,
    0,
    0.46211715726000974,
    0.999329299739067,
  ]);
  close(await unary("sigmoid", t("float32", [-1000, -1, 0, 2, 1000, NaN])), [
    0,
    0.2689414213699951,
    0.5,
    0.8807970779778823,
    1,
    NaN,
  ]);
  // every result is rounded to float32
  const e = await unary("exp", t("float32", [1]));
  assert.equal(e[0], f32(Math.E));
});

Deno.test("cpu unary: sign, relu, leakyRelu, clamp and NaN", async () => {
  const x = t("float32", [-3, -0, 0, 2.5, NaN, -Infinity]);
  // PyTorch: sign(±0) = 0 and sign(NaN) = 0
  assert.deepEqual(await unary("sign", x), [-1, 0, 0, 1, 0, -1]);
  const r = await unary("relu", x);
  close(r, [0, 0, 0, 2.5, NaN, 0]);
  close(await unary("leakyRelu", x, "float32", 0.1), [f32(-0.3), -0, 0, 2.5, NaN, -Infinity]);
  close(await unary("leakyRelu", t("float32", [-1, 1]), "float32", 0.5), [-0.5, 1]);
  const c = t("float32", [-5, -1, 0, 1, 5, NaN]);
  close(await unary("clamp", c, "float32", -1.5, 2), [-1.5, -1, 0, 1, 2, NaN]);
  // a NaN bound means "no bound"
  close(await unary("clamp", c, "float32", NaN, 0.5), [-5, -1, 0, 0.5, 0.5, NaN]);
  close(await unary("clamp", c, "float32", 0, NaN), [0, 0, 0, 1, 5, NaN]);
  close(await unary("clamp", c, "float32", NaN, NaN), [-5, -1, 0, 1, 5, NaN]);
  // min > max gives max everywhere, as in PyTorch
  close(await unary("clamp", c, "float32", 3, 2), [2, 2, 2, 2, 2, NaN]);
  // int32 clamp and relu
  assert.deepEqual(await unary("clamp", t("int32", [-5, 3, 9]), "int32", 0, 4), [0, 3, 4]);
  assert.deepEqual(await unary("relu", t("int32", [-5, 3]), "int32"), [0, 3]);
  assert.deepEqual(await unary("sign", t("int32", [-5, 0, 3]), "int32"), [-1, 0, 1]);
});

Deno.test("cpu unary: exact gelu and erf", async () => {
  // gelu(x) = x·Φ(x), reference values from x·(1 + erf(x/√2))/2 in float64
  const x = t("float32", [-6, -3, -1, 0, 0.5, 1, 3, NaN]);
  close(
    await unary("gelu", x),
    [
      -5.919525870226207e-9,
      -0.004049694094890287,
      -0.15865525393145707,
      0,
      0.34573123063700656,
      0.8413447460685429,
      2.99595030590511,
      NaN,
    ],
    1e-6,
    1e-12,
  );
  close(
    [erf(0.5), erf(1), erf(2), erf(-0.3), erf(0), erf(Infinity), erf(-Infinity)],
    [
      0.5204998778130465,
      0.8427007929497149,
      0.9953222650189527,
      -0.3286267594591274,
      0,
      1,
      -1,
    ],
    1e-15,
    1e-16,
  );
  close(
    [erfc(5), erfc(-1), erfc(0.2), erfc(30)],
    [1.5374597944280351e-12, 1.842700792949715, 0.7772974107895215, 0],
    1e-14,
    0,
  );
  assert.ok(Number.isNaN(erf(NaN)) && Number.isNaN(erfc(NaN)));
});

Deno.test("cpu unary: logical and predicates produce bool", async () => {
  const x = t("float32", [0, 1, NaN, Infinity, -Infinity, -2]);
  const isnan = be.unary("isnan", x, "bool");
  assert.ok(isnan.data instanceof Uint8Array);
  assert.deepEqual(await vals(isnan), [0, 0, 1, 0, 0, 0]);
  assert.deepEqual(await unary("isinf", x, "bool"), [0, 0, 0, 1, 1, 0]);
  assert.deepEqual(await unary("not", x, "bool"), [1, 0, 0, 0, 0, 0]);
  assert.deepEqual(await unary("not", t("bool", [1, 0]), "bool"), [0, 1]);
  // an arithmetic op into bool is (result != 0)
  assert.deepEqual(await unary("abs", t("bool", [1, 0]), "bool"), [1, 0]);
});

Deno.test("cpu unary: copy converts dtypes", async () => {
  const x = t("float32", [-2.7, -0.5, 0, 0.5, 2.7, NaN]);
  assert.deepEqual(await unary("copy", x, "int32"), [-2, 0, 0, 0, 2, 0]);
  assert.deepEqual(await unary("copy", x, "bool"), [1, 1, 0, 1, 1, 1]);
  assert.deepEqual(await unary("copy", t("bool", [1, 0, 1]), "float32"), [1, 0, 1]);
  assert.deepEqual(await unary("copy", t("int32", [16777217, -3]), "float32"), [16777216, -3]);
  // float32 -> float16 rounds to nearest even; out of range overflows to infinity
  assert.deepEqual(
    await unary("copy", t("float32", [0.1, 1 / 3, 65519, 65520, -1e6, 1e-8, 2049]), "float16"),
    [
      0.0999755859375,
      0.333251953125,
      65504,
      Infinity,
      -Infinity,
      0,
      2048,
    ],
  );
  assert.deepEqual(await unary("copy", t("float16", [0.1]), "float32"), [0.0999755859375]);
  // same dtype still gives a new storage
  const s = st("float32", [1, 2]);
  const c = be.unary("copy", op(s, [2]), "float32");
  assert.notEqual(c.data.buffer, s.data.buffer);
});

Deno.test("cpu unary: strided, offset and broadcast inputs", async () => {
  const s = st("float32", [9, 1, -2, 3, -4, 5, -6]);
  // a [2,3] transposed view at offset 1: (i, j) at 1 + i + 2j -> [[1, 3, 5], [-2, -4, -6]]
  assert.deepEqual(await unary("abs", op(s, [2, 3], [1, 2], 1)), [1, 3, 5, 2, 4, 6]);
  // broadcast a column over 3 columns
  assert.deepEqual(await unary("neg", op(s, [2, 3], [1, 0], 1)), [-1, -1, -1, 2, 2, 2]);
  // a scalar broadcast everywhere
  assert.deepEqual(await unary("neg", op(s, [2, 2], [0, 0], 0)), [-9, -9, -9, -9]);
  // float16: computed in full precision, rounded once on store
  const h = t("float16", [1, 2, 3]);
  assert.deepEqual(await unary("sqrt", h, "float16"), [1, f16(Math.SQRT2), f16(Math.sqrt(3))]);
  assert.equal(be.unary("exp", h, "float16").data.constructor, Float16Array);
});

Deno.test("cpu unary: empty tensors", async () => {
  const e = op(be.alloc("float32", 0), [0, 3]);
  assert.deepEqual(await unary("exp", e), []);
  assert.deepEqual(await unary("copy", e, "int32"), []);
  assert.deepEqual(await unary("isnan", e, "bool"), []);
});

// -------------------------------------------------------------------------------------------- binary

Deno.test("cpu binary: arithmetic with broadcasting and strides", async () => {
  // a: [2,3] contiguous; b: a row [10,20,30] broadcast over rows (stride 0)
  const a = t("float32", [1, 2, 3, 4, 5, 6], [2, 3]);
  const b = op(st("float32", [10, 20, 30]), [2, 3], [0, 1]);
  assert.deepEqual(await binary("add", a, b), [11, 22, 33, 14, 25, 36]);
  assert.deepEqual(await binary("sub", a, b), [-9, -18, -27, -6, -15, -24]);
  assert.deepEqual(await binary("mul", a, b), [10, 40, 90, 40, 100, 180]);
  close(await binary("div", a, b), [0.1, 0.1, 0.1, 0.4, 0.25, 0.2].map(f32));
  // a transposed operand with an offset: storage [0, 1..6], view (i, j) at 1 + i + 2j of shape [2,3]
  const at = op(st("float32", [0, 1, 2, 3, 4, 5, 6]), [2, 3], [1, 2], 1);
  assert.deepEqual(await binary("add", at, a), [2, 5, 8, 6, 9, 12]);
  // scalar operand: all strides 0
  const two = op(st("float32", [2]), [2, 3], [0, 0]);
  assert.deepEqual(await binary("pow", a, two), [1, 4, 9, 16, 25, 36]);
  assert.deepEqual(await binary("pow", two, a), [2, 4, 8, 16, 32, 64]);
  // division by zero
  assert.deepEqual(await binary("div", t("float32", [1, -1, 0]), t("float32", [0, 0, 0])), [
    Infinity,
    -Infinity,
    NaN,
  ]);
});

Deno.test("cpu binary: pow edge cases follow C/PyTorch", async () => {
  const a = t("float32", [1, -1, NaN, -8, 4, 0, 0]);
  const b = t("float32", [NaN, Infinity, 0, 1 / 3, 0.5, -1, 0]);
  close(await binary("pow", a, b), [1, 1, 1, NaN, 2, Infinity, 1]);
});

Deno.test("cpu binary: int32 wraps, truncating division, integer pow", async () => {
  const max = 2147483647;
  const min = -2147483648;
  assert.deepEqual(await binary("add", t("int32", [max, min, 5]), t("int32", [1, -1, -7]), "int32"), [
    min,
    max,
    -2,
  ]);
  assert.deepEqual(await binary("sub", t("int32", [min, max]), t("int32", [1, -1]), "int32"), [max, min]);
  assert.deepEqual(
    await binary(
      "mul",
      t("int32", [65536, 123456789, -7, 46341]),
      t("int32", [65536, 987654321, 6, 46341]),
      "int32",
    ),
    [0, -67153019, -42, -2147479015],
  );
  assert.deepEqual(
    await binary("div", t("int32", [7, -7, 7, -7, 6]), t("int32", [2, 2, -2, -2, 3]), "int32"),
    [
      3,
      -3,
      -3,
      3,
      2,
    ],
  );
  assert.deepEqual(
    await binary(
      "pow",
      t("int32", [3, 2, 2, -1, -1, 1, 5, 0, 7]),
      t("int32", [4, 31, 32, -3, -2, -5, -1, 0, 13]),
      "int32",
    ),
    [81, min, 0, -1, 1, 1, 0, 1, 96889010407 | 0],
  );
  // int32 inputs with a float output: true division
  close(await binary("div", t("int32", [7]), t("int32", [2]), "float32"), [3.5]);
  assert.deepEqual(await binary("maximum", t("int32", [3, -4]), t("int32", [2, 9]), "int32"), [3, 9]);
});

Deno.test("cpu binary: maximum/minimum propagate NaN; comparisons and logic give bool", async () => {
  const a = t("float32", [1, NaN, 3, NaN, -0.5, Infinity]);
  const b = t("float32", [2, 1, NaN, NaN, -1, 5]);
  close(await binary("maximum", a, b), [2, NaN, NaN, NaN, -0.5, Infinity]);
  close(await binary("minimum", a, b), [1, NaN, NaN, NaN, -1, 5]);
  const x = t("float32", [1, 2, 3, NaN]);
  const y = t("float32", [2, 2, 2, NaN]);
  const eq = be.binary("eq", x, y, "bool");
  assert.ok(eq.data instanceof Uint8Array);
  assert.deepEqual(await vals(eq), [0, 1, 0, 0]);
  assert.deepEqual(await binary("ne", x, y, "bool"), [1, 0, 1, 1]);
  assert.deepEqual(await binary("lt", x, y, "bool"), [1, 0, 0, 0]);
  assert.deepEqual(await binary("le", x, y, "bool"), [1, 1, 0, 0]);
  assert.deepEqual(await binary("gt", x, y, "bool"), [0, 0, 1, 0]);
  assert.deepEqual(await binary("ge", x, y, "bool"), [0, 1, 1, 0]);
  const p = t("bool", [0, 0, 1, 1]);
  const q = t("bool", [0, 1, 0, 1]);
  assert.deepEqual(await binary("and", p, q, "bool"), [0, 0, 0, 1]);
  assert.deepEqual(await binary("or", p, q, "bool"), [0, 1, 1, 1]);
  // logical ops on numbers: non-zero (NaN included) is true
  assert.deepEqual(await binary("and", t("float32", [NaN, 2, 0]), t("float32", [1, -1, 1]), "bool"), [
    1,
    1,
    0,
  ]);
  // bool arithmetic into bool: add is "or", mul is "and"
  assert.deepEqual(await binary("add", p, q, "bool"), [0, 1, 1, 1]);
  assert.deepEqual(await binary("mul", p, q, "bool"), [0, 0, 0, 1]);
});

Deno.test("cpu binary: float16 rounds each result once", async () => {
  const a = t("float16", [1, 2048, 0.1]);
  const b = t("float16", [0.0001, 1, 0.2]);
  const out = be.binary("add", a, b, "float16");
  assert.ok(out.data instanceof Float16Array);
  // 1 + 1e-4 rounds to 1; 2049 is a tie between 2048 and 2050 (even wins); 0.1 + 0.2 in float16
  // f16(0.1) + f16(0.2) = 0.0999755859375 + 0.199951171875 = 0.2999267578125, a tie between float16
  // neighbours 0.2998046875 and 0.300048828125: rounds to even
  assert.deepEqual(await vals(out), [1, 2048, 0.2998046875]);
});

Deno.test("cpu binary: fused backward kernels", async () => {
  const g = t("float32", [2, 2, 2, 2, 2, 2]);
  const x = t("float32", [-1, 0, 0.5, 3, NaN, -0]);
  assert.deepEqual(await binary("reluGrad", g, x), [0, 0, 2, 2, 0, 0]);
  close(await binary("leakyReluGrad", g, x, "float32", 0.1), [0.2, 0.2, 2, 2, 0.2, 0.2].map(f32));
  // gelu'(x) = Φ(x) + x·φ(x)
  const gx = t("float32", [0, 1, -1, 10, -10]);
  close(
    await binary("geluGrad", t("float32", [2, 1, 1, 1, 1]), gx),
    [
      1,
      1.0833154705876864,
      -0.08331547058768637,
      1,
      0,
    ],
    1e-6,
    1e-12,
  );
  // geluGrad matches a central difference of gelu
  const pts = [-2.5, -0.7, 0.3, 1.7];
  const h = 1e-3;
  const plus = await unary("gelu", t("float32", pts.map((p) => p + h)));
  const minus = await unary("gelu", t("float32", pts.map((p) => p - h)));
  const grad = await binary("geluGrad", t("float32", [1, 1, 1, 1]), t("float32", pts));
  close(grad, pts.map((p, i) => (plus[i] - minus[i]) / (f32(p + h) - f32(p - h))), 1e-3, 1e-4);
  // sigmoid/tanh gradients take the forward output y
  close(await binary("sigmoidGrad", t("float32", [1, 2]), t("float32", [0.5, 0.25])), [0.25, 0.375]);
  close(await binary("tanhGrad", t("float32", [1, 2]), t("float32", [0.5, -0.25])), [0.75, 1.875]);
  // clampGrad: g where min <= x <= max (bounds inclusive), a NaN bound is no bound
  const cx = t("float32", [-2, -1, 0, 1, 2, NaN]);
  const cg = t("float32", [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(await binary("clampGrad", cg, cx, "float32", -1, 1), [0, 1, 1, 1, 0, 0]);
  assert.deepEqual(await binary("clampGrad", cg, cx, "float32", NaN, 1), [1, 1, 1, 1, 0, 0]);
  assert.deepEqual(await binary("clampGrad", cg, cx, "float32", 0, NaN), [0, 0, 1, 1, 1, 0]);
});

Deno.test("cpu binary: empty tensors", async () => {
  const e = op(be.alloc("float32", 0), [3, 0]);
  assert.deepEqual(await binary("add", e, e), []);
  assert.deepEqual(await binary("lt", e, e, "bool"), []);
});

// --------------------------------------------------------------------------------------------- where

Deno.test("cpu where: selects with broadcasting and converts", async () => {
  // cond is a column [1, 0] broadcast over 3 columns; b is a scalar (all strides 0)
  const cond = op(st("bool", [1, 0]), [2, 3], [1, 0]);
  const a = t("float32", [1, 2, 3, 4, 5, 6], [2, 3]);
  const b = op(st("float32", [-1]), [2, 3], [0, 0]);
  assert.deepEqual(await vals(be.where(cond, a, b, "float32")), [1, 2, 3, -1, -1, -1]);
  // a transposed a
  const aT = op(st("float32", [1, 2, 3, 4, 5, 6]), [2, 3], [1, 2]);
  assert.deepEqual(await vals(be.where(cond, aT, b, "float32")), [1, 3, 5, -1, -1, -1]);
  // float condition: non-zero (NaN included) is true
  const fc = t("float32", [0, NaN, 2]);
  assert.deepEqual(await vals(be.where(fc, t("int32", [1, 2, 3]), t("int32", [7, 8, 9]), "int32")), [
    7,
    2,
    3,
  ]);
  assert.deepEqual(await vals(be.where(fc, t("float32", [0.5, 0, 3]), t("float32", [0, 0.25, 0]), "bool")), [
    0,
    0,
    1,
  ]);
  assert.deepEqual(await vals(be.where(op(be.alloc("bool", 0), [0]), e0(), e0(), "float32")), []);
});

function e0(): Operand {
  return op(be.alloc("float32", 0), [0]);
}

// -------------------------------------------------------------------------------------------- reduce

Deno.test("cpu reduce: sum over axes of strided views", async () => {
  const x = t("float32", [1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual(await vals(be.reduce("sum", x, [0], "float32")), [5, 7, 9]);
  assert.deepEqual(await vals(be.reduce("sum", x, [1], "float32")), [6, 15]);
  assert.deepEqual(await vals(be.reduce("sum", x, [0, 1], "float32")), [21]);
  // the transpose [[1,4],[2,5],[3,6]]
  const xT = op(x.storage, [3, 2], [1, 3]);
  assert.deepEqual(await vals(be.reduce("sum", xT, [1], "float32")), [5, 7, 9]);
  assert.deepEqual(await vals(be.reduce("sum", xT, [0], "float32")), [6, 15]);
  // [2,3,4] = arange(24) at offset 2, summed over axes 0 and 2: 32j + 60
  const data = [7, 7, ...Array.from({ length: 24 }, (_, i) => i)];
  const y = op(st("float32", data), [2, 3, 4], [12, 4, 1], 2);
  assert.deepEqual(await vals(be.reduce("sum", y, [0, 2], "float32")), [60, 92, 124]);
  // a broadcast operand: [3] expanded to [4,3] summed over axis 0
  assert.deepEqual(
    await vals(be.reduce("sum", op(st("float32", [1, 2, 3]), [4, 3], [0, 1]), [0], "float32")),
    [4, 8, 12],
  );
});

Deno.test("cpu reduce: dtypes, wraparound and float16", async () => {
  assert.deepEqual(await vals(be.reduce("sum", t("bool", [1, 0, 1, 1]), [0], "int32")), [3]);
  const s = be.reduce("sum", t("int32", [2147483647, 1]), [0], "int32");
  assert.ok(s.data instanceof Int32Array);
  assert.deepEqual(await vals(s), [-2147483648]);
  assert.deepEqual(await vals(be.reduce("prod", t("int32", [65536, 65536]), [0], "int32")), [0]);
  assert.deepEqual(await vals(be.reduce("prod", t("int32", [-3, 5, 2]), [0], "int32")), [-30]);
  // float16: 2048 + 1 rounds back to 2048
  const h = be.reduce("sum", t("float16", [2048, 1]), [0], "float16");
  assert.ok(h.data instanceof Float16Array);
  assert.deepEqual(await vals(h), [2048]);
  close(await vals(be.reduce("prod", t("float32", [2, 3, -4, 0.5]), [0], "float32")), [-12]);
});

Deno.test("cpu reduce: max/min propagate NaN, argmax/argmin pick the first extreme", async () => {
  const x = t("float32", [1, 5, 5, -2, 0, NaN, 3, NaN, -7, -7, 4, 1], [3, 4]);
  close(await vals(be.reduce("max", x, [1], "float32")), [5, NaN, 4]);
  close(await vals(be.reduce("min", x, [1], "float32")), [-2, NaN, -7]);
  close(await vals(be.reduce("max", x, [0], "float32")), [1, NaN, 5, NaN]);
  const am = be.reduce("argmax", x, [1], "int32");
  assert.ok(am.data instanceof Int32Array);
  assert.deepEqual(await vals(am), [1, 1, 2]);
  // argmin: a NaN is the extreme too (PyTorch's LessOrNan)
  assert.deepEqual(await vals(be.reduce("argmin", x, [1], "int32")), [3, 1, 0]);
  assert.deepEqual(await vals(be.reduce("argmax", x, [0], "int32")), [0, 1, 0, 1]);
  assert.deepEqual(await vals(be.reduce("argmin", x, [0], "int32")), [2, 1, 1, 1]);
  // along a transposed view: columns of x become rows
  const xT = op(x.storage, [4, 3], [1, 4]);
  assert.deepEqual(await vals(be.reduce("argmax", xT, [1], "int32")), [0, 1, 0, 1]);
  // several axes: the row-major index within the reduced axes (the flat index over all)
  assert.deepEqual(await vals(be.reduce("argmax", t("float32", [1, 9, 3, 9]), [0], "int32")), [1]);
  assert.deepEqual(
    await vals(be.reduce("argmin", t("float32", [4, 2, 0, 3, 0, 1], [2, 3]), [0, 1], "int32")),
    [2],
  );
  assert.deepEqual(await vals(be.reduce("max", t("int32", [3, -1, 7], [3]), [0], "int32")), [7]);
  assert.deepEqual(await vals(be.reduce("min", t("float32", [-Infinity, 0]), [0], "float32")), [-Infinity]);
});

Deno.test("cpu reduce: empty axis list copies; size-0 axes", async () => {
  const x = t("float32", [1.5, -2, 3], [3]);
  assert.deepEqual(await vals(be.reduce("sum", x, [], "float32")), [1.5, -2, 3]);
  assert.deepEqual(await vals(be.reduce("max", x, [], "float32")), [1.5, -2, 3]);
  assert.deepEqual(await vals(be.reduce("sum", t("bool", [1, 0]), [], "int32")), [1, 0]);
  // argmax of a 0-d tensor along no axis is 0
  assert.deepEqual(await vals(be.reduce("argmax", op(st("float32", [4]), [], []), [], "int32")), [0]);
  // reducing an empty dimension: sum 0, prod 1, max/min error like PyTorch
  const e = op(be.alloc("float32", 0), [2, 0]);
  assert.deepEqual(await vals(be.reduce("sum", e, [1], "float32")), [0, 0]);
  assert.deepEqual(await vals(be.reduce("prod", e, [1], "float32")), [1, 1]);
  assert.deepEqual(await vals(be.reduce("sum", e, [0, 1], "float32")), [0]);
  assert.deepEqual(await vals(be.reduce("sum", op(be.alloc("int32", 0), [0]), [0], "int32")), [0]);
  assert.throws(() => be.reduce("max", e, [1], "float32"), {
    name: "RangeError",
    message: "max: cannot reduce an empty dimension",
  });
  assert.throws(() => be.reduce("min", e, [1], "float32"), {
    name: "RangeError",
    message: /min: cannot reduce/,
  });
  assert.throws(() => be.reduce("argmax", e, [1], "int32"), RangeError);
  // reducing a non-empty axis of an empty tensor gives an empty result
  assert.deepEqual(await vals(be.reduce("sum", op(be.alloc("float32", 0), [0, 3]), [1], "float32")), []);
  assert.deepEqual(await vals(be.reduce("max", op(be.alloc("float32", 0), [0, 3]), [1], "float32")), []);
});

// -------------------------------------------------------------------------------------------- matmul

Deno.test("cpu matmul: plain, transposed, offset", async () => {
  const a = t("float32", [1, 2, 3, 4, 5, 6], [1, 2, 3]);
  const b = t("float32", [7, 8, 9, 10, 11, 12], [1, 3, 2]);
  assert.deepEqual(await vals(be.matmul(a, b, "float32")), [58, 64, 139, 154]);
  // b given as the transpose of bt = [[7,9,11],[8,10,12]], stored at offset 2
  const bT = op(st("float32", [0, 0, 7, 9, 11, 8, 10, 12]), [1, 3, 2], [6, 1, 3], 2);
  assert.deepEqual(await vals(be.matmul(a, bT, "float32")), [58, 64, 139, 154]);
  // a transposed as well: at = [[1,4],[2,5],[3,6]] seen as [2,3]
  const aT = op(st("float32", [1, 4, 2, 5, 3, 6]), [1, 2, 3], [6, 1, 2]);
  assert.deepEqual(await vals(be.matmul(aT, bT, "float32")), [58, 64, 139, 154]);
  // [1,1,K] @ [1,K,1]: a dot product
  assert.deepEqual(
    await vals(be.matmul(t("float32", [1, 2, 3], [1, 1, 3]), t("float32", [4, 5, 6], [1, 3, 1]), "float32")),
    [32],
  );
});

Deno.test("cpu matmul: batch broadcast (batch stride 0)", async () => {
  // a is shared by both batches; b differs per batch
  const a = op(st("float32", [1, 2, 3, 4, 5, 6]), [2, 2, 3], [0, 3, 1]);
  const b = t("float32", [7, 8, 9, 10, 11, 12, 1, 0, 0, 1, 1, 1], [2, 3, 2]);
  assert.deepEqual(await vals(be.matmul(a, b, "float32")), [58, 64, 139, 154, 4, 5, 10, 11]);
  // both broadcast: b is one matrix too
  const b1 = op(st("float32", [1, 0, 0, 1, 1, 1]), [3, 3, 2], [0, 2, 1]);
  assert.deepEqual(await vals(be.matmul(op(a.storage, [3, 2, 3], [0, 3, 1]), b1, "float32")), [
    4,
    5,
    10,
    11,
    4,
    5,
    10,
    11,
    4,
    5,
    10,
    11,
  ]);
  // batch 1 of a real batch and b broadcast
  const a2 = t("float32", [1, 0, 0, 1, 2, 0, 0, 2], [2, 2, 2]);
  const b2 = op(st("float32", [1, 2, 3, 4]), [2, 2, 2], [0, 2, 1]);
  assert.deepEqual(await vals(be.matmul(a2, b2, "float32")), [1, 2, 3, 4, 2, 4, 6, 8]);
});

Deno.test("cpu matmul: dtypes, NaN, empty", async () => {
  // int32 products wrap
  assert.deepEqual(
    await vals(
      be.matmul(t("int32", [65536, 46341], [1, 1, 2]), t("int32", [65536, 46341], [1, 2, 1]), "int32"),
    ),
    [
      -2147479015,
    ],
  );
  // float16 inputs: 0.1 is 0.0999755859375; 3·that = 0.2999267578125 is a tie that rounds to even
  const h = be.matmul(t("float16", [1, 2], [1, 1, 2]), t("float16", [0.1, 0.1], [1, 2, 1]), "float16");
  assert.ok(h.data instanceof Float16Array);
  assert.deepEqual(await vals(h), [0.2998046875]);
  // a zero times infinity is NaN (no skipping of zeros)
  close(
    await vals(be.matmul(t("float32", [0, 1], [1, 1, 2]), t("float32", [Infinity, 2], [1, 2, 1]), "float32")),
    [NaN],
  );
  // K = 0 gives zeros, M = 0 or B = 0 gives an empty result
  const e = be.alloc("float32", 0);
  assert.deepEqual(await vals(be.matmul(op(e, [1, 2, 0]), op(e, [1, 0, 3]), "float32")), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(await vals(be.matmul(op(e, [1, 0, 2]), t("float32", [1, 2], [1, 2, 1]), "float32")), []);
  assert.deepEqual(await vals(be.matmul(op(e, [0, 2, 2]), op(e, [0, 2, 2]), "float32")), []);
});

Deno.test("cpu matmul: 512×512 is correct and fast", async () => {
  const n = 512;
  const ad = new Float32Array(n * n);
  const bd = new Float32Array(n * n);
  for (let i = 0; i < n * n; i++) {
    ad[i] = ((i * 7) % 13) - 6;
    bd[i] = ((i * 5) % 11) - 5;
  }
  const a = op(be.upload("float32", ad), [1, n, n]);
  // b transposed: element (k, j) of the product's right operand at bd[j*n + k]
  const b = op(be.upload("float32", bd), [1, n, n], [0, 1, n]);
  const t0 = performance.now();
  const out = be.matmul(a, b, "float32");
  const ms = performance.now() - t0;
  const d = await be.read(out);
  for (const [i, j] of [[0, 0], [3, 500], [511, 511], [200, 17]]) {
    let s = 0;
    for (let k = 0; k < n; k++) s += ad[i * n + k] * bd[j * n + k];
    assert.equal(d[i * n + j], s, `(${i}, ${j})`);
  }
  // typically ~0.15 s; a loose bound so a loaded machine does not fail the test
  assert.ok(ms < 5000, `matmul 512 took ${ms.toFixed(0)} ms`);
});

// -------------------------------------------------------------------------------------- gather/scatter

// x[i, j, k] = 4i + 2j + k, shape [2,2,2]
const X3 = [0, 1, 2, 3, 4, 5, 6, 7];

Deno.test("cpu gather: 3-D along each dim, smaller index", async () => {
  const x = t("float32", X3, [2, 2, 2]);
  // dim 0, index [1,2,2]: out[0,j,k] = x[idx, j, k]
  assert.deepEqual(await vals(be.gather(x, 0, t("int32", [1, 0, 0, 1], [1, 2, 2]))), [4, 1, 2, 7]);
  // dim 1, index [2,1,2]: out[i,0,k] = x[i, idx, k]
  assert.deepEqual(await vals(be.gather(x, 1, t("int32", [1, 0, 0, 1], [2, 1, 2]))), [2, 1, 4, 7]);
  // dim 2, index [2,2,1]: out[i,j,0] = x[i, j, idx]
  assert.deepEqual(await vals(be.gather(x, 2, t("int32", [1, 0, 0, 1], [2, 2, 1]))), [1, 2, 4, 7]);
  // index larger than x along dim (repeats allowed), smaller elsewhere: [1,1,4] along dim 2
  assert.deepEqual(await vals(be.gather(x, 2, t("int32", [1, 1, 0, 1], [1, 1, 4]))), [1, 1, 0, 1]);
  // dtype follows x
  const gi = be.gather(t("int32", X3, [2, 2, 2]), 0, t("int32", [1, 1, 1, 1], [1, 2, 2]));
  assert.ok(gi.data instanceof Int32Array);
  assert.deepEqual(await vals(gi), [4, 5, 6, 7]);
});

Deno.test("cpu gather: strided x and index", async () => {
  // x' = x.permute(2, 1, 0) stored at offset 3: x'[a, b, c] = x[c, b, a] = 4c + 2b + a
  const xp = op(st("float32", [9, 9, 9, ...X3]), [2, 2, 2], [1, 2, 4], 3);
  assert.deepEqual(await vals(be.gather(xp, 2, op(st("int32", [1]), [2, 2, 2], [0, 0, 0]))), [
    4,
    4,
    6,
    6,
    5,
    5,
    7,
    7,
  ]);
  assert.deepEqual(await vals(be.gather(xp, 0, t("int32", [1, 0, 0, 1, 1, 1, 0, 0], [2, 2, 2]))), [
    1,
    4,
    2,
    7,
    1,
    5,
    2,
    6,
  ]);
  // a transposed index: storage [1, 0, 1, 1] read with strides [1, 2] is [[1, 1], [0, 1]]
  const x2 = t("float32", [10, 20, 30, 40], [2, 2]);
  assert.deepEqual(await vals(be.gather(x2, 1, op(st("int32", [1, 0, 1, 1]), [2, 2], [1, 2]))), [
    20,
    20,
    30,
    40,
  ]);
  // empty index
  assert.deepEqual(await vals(be.gather(x2, 0, op(be.alloc("int32", 0), [0, 2]))), []);
});

Deno.test("cpu scatterAdd: 3-D along each dim with duplicates", async () => {
  // src[i, j, k] = 1 + 4i + 2j + k
  const src = t("float32", [1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
  // dim 0, all indices 0: out[0] = src[0] + src[1]
  assert.deepEqual(
    await vals(be.scatterAdd(src, 0, t("int32", [0, 0, 0, 0, 0, 0, 0, 0], [2, 2, 2]), [2, 2, 2])),
    [
      6,
      8,
      10,
      12,
      0,
      0,
      0,
      0,
    ],
  );
  // dim 1 into [2,3,2]
  const i1 = t("int32", [1, 0, 1, 1, 0, 0, 0, 1], [2, 2, 2]);
  assert.deepEqual(await vals(be.scatterAdd(src, 1, i1, [2, 3, 2])), [0, 2, 4, 4, 0, 0, 12, 6, 0, 8, 0, 0]);
  // dim 2 into [2,2,3]: index 1 - k swaps the pair
  const i2 = t("int32", [1, 0, 1, 0, 1, 0, 1, 0], [2, 2, 2]);
  assert.deepEqual(await vals(be.scatterAdd(src, 2, i2, [2, 2, 3])), [2, 1, 0, 4, 3, 0, 6, 5, 0, 8, 7, 0]);
  // scatterAdd is gather's adjoint: <gather(x, idx), g> = <x, scatterAdd(g, idx)>
  const x = t("float32", X3, [2, 2, 2]);
  const g = await vals(be.gather(x, 1, i1));
  const s = await vals(be.scatterAdd(src, 1, i1, [2, 2, 2]));
  const dot = (p: number[], q: number[]) => p.reduce((acc, v, i) => acc + v * q[i], 0);
  assert.equal(dot(g, [1, 2, 3, 4, 5, 6, 7, 8]), dot(X3, s));
});

Deno.test("cpu scatterAdd: strided and broadcast src, dtypes, empty", async () => {
  // src broadcast from a scalar (stride 0), index transposed: counts how often each slot is hit
  const ones = op(st("int32", [1]), [2, 3], [0, 0]);
  const idx = op(st("int32", [0, 2, 2, 2, 1, 2]), [2, 3], [1, 2]); // [[0,2,1],[2,2,2]]
  const counts = be.scatterAdd(ones, 1, idx, [2, 3]);
  assert.ok(counts.data instanceof Int32Array);
  assert.deepEqual(await vals(counts), [1, 1, 1, 0, 0, 3]);
  // int32 sums wrap
  assert.deepEqual(await vals(be.scatterAdd(t("int32", [2147483647, 1]), 0, t("int32", [0, 0]), [1])), [
    -2147483648,
  ]);
  // float16 rounds after each addition, in order: 2048 + 1 -> 2048, + 1 -> 2048
  const h = be.scatterAdd(t("float16", [2048, 1, 1]), 0, t("int32", [0, 0, 0]), [1]);
  assert.ok(h.data instanceof Float16Array);
  assert.deepEqual(await vals(h), [2048]);
  // src transposed with an offset: src'[i, j] = storage[1 + i + 2j] -> [[1,3],[2,4]]
  const srcT = op(st("float32", [0, 1, 2, 3, 4]), [2, 2], [1, 2], 1);
  assert.deepEqual(await vals(be.scatterAdd(srcT, 0, t("int32", [1, 1, 1, 0], [2, 2]), [2, 2])), [
    0,
    4,
    3,
    3,
  ]);
  // empty src: just zeros of outShape
  assert.deepEqual(
    await vals(be.scatterAdd(op(be.alloc("float32", 0), [0, 2]), 0, op(be.alloc("int32", 0), [0, 2]), [3])),
    [
      0,
      0,
      0,
    ],
  );
});

// ---------------------------------------------------------------------------------------------- copy

Deno.test("cpu copy: writes into strided views (cat) with conversion", async () => {
  const dst = be.alloc("float32", 6); // [2, 3]
  // columns 0..1 from a [2,2], then column 2 from an int32 [2,1]
  be.copy(t("float32", [1, 2, 4, 5], [2, 2]), dst, { shape: [2, 2], strides: [3, 1], offset: 0 });
  be.copy(t("int32", [3, 6], [2, 1]), dst, { shape: [2, 1], strides: [3, 1], offset: 2 });
  assert.deepEqual(await vals(dst), [1, 2, 3, 4, 5, 6]);
  // a transposed source into a dense destination
  const d2 = be.alloc("float32", 4);
  be.copy(op(st("float32", [1, 2, 3, 4]), [2, 2], [1, 2]), d2, { shape: [2, 2], strides: [2, 1], offset: 0 });
  assert.deepEqual(await vals(d2), [1, 3, 2, 4]);
  // a broadcast source fills a strided destination (every other element)
  const d3 = be.alloc("int32", 5);
  be.copy(op(st("float32", [-2.7]), [3], [0]), d3, { shape: [3], strides: [2], offset: 0 });
  assert.deepEqual(await vals(d3), [-2, 0, -2, 0, -2]);
  // conversions into bool and float16
  const b = be.alloc("bool", 3);
  be.copy(t("float32", [0, NaN, -0.1]), b, { shape: [3], strides: [1], offset: 0 });
  assert.deepEqual(await vals(b), [0, 1, 1]);
  const h = be.alloc("float16", 2);
  be.copy(t("float32", [0.1, 65520]), h, { shape: [2], strides: [1], offset: 0 });
  assert.deepEqual(await vals(h), [0.0999755859375, Infinity]);
  // empty copy is a no-op
  be.copy(op(be.alloc("float32", 0), [0]), dst, { shape: [0], strides: [1], offset: 6 });
  assert.deepEqual(await vals(dst), [1, 2, 3, 4, 5, 6]);
});

Deno.test("cpu copy: source and destination in the same storage", async () => {
  // overlapping shift by one (memmove semantics)
  const s = st("float32", [1, 2, 3, 4]);
  be.copy(op(s, [3]), s, { shape: [3], strides: [1], offset: 1 });
  assert.deepEqual(await vals(s), [1, 1, 2, 3]);
  // in-place transpose of a 2×2: the source is read fully before writing
  const m = st("float32", [1, 2, 3, 4]);
  be.copy(op(m, [2, 2], [1, 2]), m, { shape: [2, 2], strides: [2, 1], offset: 0 });
  assert.deepEqual(await vals(m), [1, 3, 2, 4]);
  // and into a strided destination of the same storage
  const r = st("float32", [1, 2, 3, 4]);
  be.copy(op(r, [2], [1], 0), r, { shape: [2], strides: [2], offset: 1 });
  assert.deepEqual(await vals(r), [1, 1, 3, 2]);
});
