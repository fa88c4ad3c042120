/**
 * A fuzzer for the safetensors reader (src/io/safetensors.ts). Valid files of random tensors (every
 * safetensors dtype, size-0 and size-1 dims, metadata) are corrupted: truncated, bit-flipped, given huge or
 * random declared header lengths, rewritten with overlapping, gapped or out-of-range offsets, huge or invalid
 * shapes, wrong dtypes, missing fields, bad JSON, bad UTF-8, deep nesting. For every case:
 *
 * - no crash: `deserialize` either returns tensors whose data matches their shapes, or throws a
 *   `SafetensorsError` (the library's own class) whose message starts with the file's name and names a key
 *   (`tensor "k"`, `"__metadata__"`) or a byte offset;
 * - no allocation beyond what the file's bytes justify: every tensor buffer the reader creates goes through
 *   one function (`hostBuffer`, recorded in `readerAllocations`), and the largest is at most 4 bytes per byte
 *   of the file (U8/I8 widen to int32). The header text and JSON are bounded by the header bytes present, so
 *   a declared length or shape can never size an allocation.
 *
 * CI runs SAFETENSORS_FUZZ_RUNS (default 400) cases with a fixed seed; `deno task fuzz` runs 10 000 with a
 * random seed (printed, with the shrunk counterexample on failure).
 */
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.10.2";
import assert from "node:assert/strict";
import { io } from "../mod.ts";
import { readerAllocations } from "../src/io/safetensors.ts";
import { fuzzSeed } from "./helpers/fuzz.ts";

const RUNS = Number(Deno.env.get("SAFETENSORS_FUZZ_RUNS") ?? 400);
const SEED = fuzzSeed("safetensors fuzz");

const DTYPES = ["F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"] as const;
const WIDTH: Record<string, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};
const NAME = "fuzz.safetensors";

interface Spec {
  name: string;
  dtype: string;
  shape: number[];
}

/** A valid file: tensors laid out back to back, random data bytes (I64 kept in int32 range). */
function build(specs: Spec[], metadata: Record<string, string> | null, seed: number): {
  header: Record<string, unknown>;
  data: Uint8Array;
} {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const s of specs) {
    const bytes = s.shape.reduce((a, b) => a * b, 1) * WIDTH[s.dtype];
    header[s.name] = { dtype: s.dtype, shape: s.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  const data = new Uint8Array(off);
  let r = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    r = (Math.imul(r, 1664525) + 1013904223) >>> 0;
    data[i] = r >>> 24;
  }
  // I64 values beyond int32 are a legitimate error; keep most valid by zeroing the high words
  for (const s of specs) {
    if (s.dtype !== "I64") continue;
    const [b, e] = (header[s.name] as { data_offsets: number[] }).data_offsets;
    const v = new DataView(data.buffer, b, e - b);
    for (let i = 0; i + 8 <= e - b; i += 8) v.setInt32(i + 4, v.getInt32(i, true) < 0 ? -1 : 0, true);
  }
  return { header, data };
}

function encode(headerText: string | Uint8Array, data: Uint8Array, declared?: bigint): Uint8Array {
  const text = typeof headerText === "string" ? new TextEncoder().encode(headerText) : headerText;
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

const specArb: fc.Arbitrary<Spec[]> = fc.uniqueArray(
  fc.record({
    name: fc.oneof(
      fc.constantFrom("w", "b", "__proto__", "constructor", "a.b.c", "ünï", "toString"),
      fc.string({ minLength: 1, maxLength: 6 }),
    ),
    dtype: fc.constantFrom(...DTYPES),
    shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
  }),
  { maxLength: 4, selector: (s) => s.name },
).map((specs) => specs.filter((s) => s.name !== "__metadata__"));

/** What to do to a valid file. */
type Mutation =
  | { kind: "none" }
  | { kind: "truncate"; at: number }
  | { kind: "flip"; flips: [number, number][] }
  | { kind: "declared"; value: bigint }
  | { kind: "offsets"; which: number; begin: number; end: number }
  | { kind: "shape"; which: number; shape: unknown }
  | { kind: "dtype"; which: number; dtype: unknown }
  | { kind: "field"; which: number; drop: "dtype" | "shape" | "data_offsets" }
  | { kind: "entry"; which: number; value: unknown }
  | { kind: "metadata"; value: unknown }
  | { kind: "json"; cut: number; insert: string }
  | { kind: "utf8"; at: number }
  | { kind: "nesting"; depth: number }
  | { kind: "extra"; bytes: number };

const huge = fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 1e300, 2 ** 40);
const offsetArb = fc.oneof(fc.integer({ min: 0, max: 200 }), huge, fc.constantFrom(-1, -8, 0.5, NaN));
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>({ kind: "none" }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("flip" as const),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant("declared" as const),
    value: fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.constantFrom(0n, 1n, 2n ** 63n, 2n ** 64n - 1n, 100_000_001n, 2n ** 32n),
    ),
  }),
  fc.record({ kind: fc.constant("offsets" as const), which: fc.nat(), begin: offsetArb, end: offsetArb }),
  fc.record({
    kind: fc.constant("shape" as const),
    which: fc.nat(),
    shape: fc.oneof(
      fc.array(fc.oneof(fc.integer({ min: 0, max: 9 }), huge), { maxLength: 4 }),
      fc.constantFrom([-1], [1.5], ["2"], null, 3, [2 ** 50, 2 ** 50, 2 ** 50], [2 ** 60, 0], [[2]]),
    ),
  }),
  fc.record({
    kind: fc.constant("dtype" as const),
    which: fc.nat(),
    dtype: fc.constantFrom("F8", "f32", "U16", "I128", "", null, 4, "__proto__", "BOOL", "I8", "F64"),
  }),
  fc.record({
    kind: fc.constant("field" as const),
    which: fc.nat(),
    drop: fc.constantFrom("dtype" as const, "shape" as const, "data_offsets" as const),
  }),
  fc.record({
    kind: fc.constant("entry" as const),
    which: fc.nat(),
    value: fc.constantFrom(null, 1, "x", [], [1, 2], { dtype: "F32" }),
  }),
  fc.record({
    kind: fc.constant("metadata" as const),
    value: fc.constantFrom(null, 1, "x", [], { k: 1 }, { k: null }, { k: "v", n: { deep: "no" } }),
  }),
  fc.record({
    kind: fc.constant("json" as const),
    cut: fc.nat(),
    insert: fc.constantFrom("", ",", "}", "{", '"', "\\", "]", "[", "nul", "\u0000", "1e999", '"a":1'),
  }),
  fc.record({ kind: fc.constant("utf8" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("nesting" as const), depth: fc.constantFrom(10, 1000, 100_000) }),
  fc.record({ kind: fc.constant("extra" as const), bytes: fc.integer({ min: 1, max: 64 }) }),
);

/** The corrupted file bytes of a case. */
function makeCase(specs: Spec[], meta: boolean, seed: number, m: Mutation): Uint8Array {
  const { header, data } = build(specs, meta ? { format: "pt", note: "fuzz" } : null, seed);
  const keys = Object.keys(header).filter((k) => k !== "__metadata__");
  const pick = (i: number) => (keys.length ? keys[i % keys.length] : null);
  const entry = (i: number) => {
    const k = pick(i);
    return k === null ? null : header[k] as Record<string, unknown>;
  };
  let text: string | Uint8Array = JSON.stringify(header);
  let body = data;
  let declared: bigint | undefined;
  switch (m.kind) {
    case "none":
    case "truncate":
    case "flip":
      break;
    case "declared":
      declared = m.value;
      break;
    case "offsets": {
      const e = entry(m.which);
      if (e) e.data_offsets = [m.begin, m.end];
      text = JSON.stringify(header);
      break;
    }
    case "shape": {
      const e = entry(m.which);
      if (e) e.shape = m.shape;
      text = JSON.stringify(header);
      break;
    }
    case "dtype": {
      const e = entry(m.which);
      if (e) e.dtype = m.dtype;
      text = JSON.stringify(header);
      break;
    }
    case "field": {
      const e = entry(m.which);
      if (e) delete e[m.drop];
      text = JSON.stringify(header);
      break;
    }
    case "entry": {
      const k = pick(m.which);
      if (k !== null) Object.defineProperty(header, k, { value: m.value, enumerable: true });
      text = JSON.stringify(header);
      break;
    }
    case "metadata":
      header.__metadata__ = m.value;
      text = JSON.stringify(header);
      break;
    case "json": {
      const s = text as string;
      const at = m.cut % (s.length + 1);
      text = s.slice(0, at) + m.insert + s.slice(at + (m.insert ? 0 : 1));
      break;
    }
    case "utf8": {
      const bytes = new TextEncoder().encode(text as string);
      if (bytes.length) bytes[m.at % bytes.length] = 0xc0 | (m.at & 1 ? 0x3f : 0x1e);
      text = bytes;
      break;
    }
    case "nesting":
      text = `{"a":${"[".repeat(m.depth)}${"]".repeat(m.depth)}}`;
      break;
    case "extra":
      body = new Uint8Array(data.length + m.bytes);
      body.set(data);
      break;
  }
  let bytes = encode(text, body, declared);
  if (m.kind === "truncate") bytes = bytes.subarray(0, m.at % (bytes.length + 1));
  if (m.kind === "flip") {
    bytes = bytes.slice();
    for (const [at, bit] of m.flips) if (bytes.length) bytes[at % bytes.length] ^= 1 << bit;
  }
  return bytes;
}

/** Checks one case: a valid parse or a clear SafetensorsError, and no buffer beyond 4 bytes per file byte. */
function check(bytes: Uint8Array): "ok" | "error" {
  readerAllocations.largest = 0;
  readerAllocations.total = 0;
  let outcome: "ok" | "error";
  try {
    const { tensors, metadata } = io.deserialize(bytes, NAME);
    for (const [k, t] of Object.entries(tensors)) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      assert.equal(t.data.length, n, `tensor "${k}": ${t.data.length} elements for shape ${t.shape}`);
    }
    for (const v of Object.values(metadata)) assert.equal(typeof v, "string");
    outcome = "ok";
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    const err = e as Error;
    assert.ok(e instanceof io.SafetensorsError, `not a SafetensorsError: ${err?.name}: ${err?.message}`);
    assert.ok(err.message.startsWith(`${NAME}: `), `the message names the file: ${err.message}`);
    assert.match(err.message, /offset|tensor "|"__metadata__"/, `names a key or an offset: ${err.message}`);
    outcome = "error";
  }
  assert.ok(
    readerAllocations.largest <= 4 * bytes.length,
    `a ${readerAllocations.largest}-byte buffer for a ${bytes.length}-byte file`,
  );
  assert.ok(readerAllocations.total <= 4 * bytes.length, `${readerAllocations.total} bytes allocated in all`);
  return outcome;
}

Deno.test("safetensors fuzz: corrupted files give a clear error or a valid parse, within the file's size", async (t) => {
  const outcomes = { ok: 0, error: 0 };
  const kinds = new Map<string, number>();
  await t.step(`${RUNS} cases`, () => {
    fc.assert(
      fc.property(specArb, fc.boolean(), fc.integer(), mutationArb, (specs, meta, seed, m) => {
        outcomes[check(makeCase(specs, meta, seed, m))]++;
        kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  });
  console.log(
    `safetensors fuzz: ${RUNS} cases (seed ${SEED}): ${outcomes.ok} parsed, ${outcomes.error} rejected ` +
      `with a SafetensorsError, 0 crashes; mutations ${JSON.stringify(Object.fromEntries(kinds))}`,
  );
  assert.ok(outcomes.error > RUNS / 4, "most corruptions are detected");
  assert.ok(outcomes.ok > 0, "some cases are valid files");
});

Deno.test("safetensors fuzz: huge declared sizes never size an allocation", () => {
  // a 2^60-element shape and offsets near 2^53 in a file of a few hundred bytes
  const cases = [
    encode(
      JSON.stringify({ a: { dtype: "F32", shape: [2 ** 30, 2 ** 30], data_offsets: [0, 2 ** 62] } }),
      new Uint8Array(8),
    ),
    encode(
      JSON.stringify({ a: { dtype: "U8", shape: [2 ** 53 - 1], data_offsets: [0, 2 ** 53 - 1] } }),
      new Uint8Array(8),
    ),
    encode(JSON.stringify({ a: { dtype: "I64", shape: [1e6], data_offsets: [0, 8e6] } }), new Uint8Array(16)),
    encode("{}", new Uint8Array(0), 2n ** 64n - 1n),
  ];
  for (const c of cases) assert.equal(check(c), "error");
  // and a legitimate widening: U8 data loads as int32, 4 bytes per file byte
  const u8 = encode(
    JSON.stringify({ a: { dtype: "U8", shape: [64], data_offsets: [0, 64] } }),
    new Uint8Array(64),
  );
  assert.equal(check(u8), "ok");
  assert.equal(readerAllocations.largest, 256);
});
