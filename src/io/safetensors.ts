/**
 * The safetensors format (Hugging Face's, read by PyTorch, JAX and TF): an 8-byte little-endian header
 * length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`,
 * then the raw little-endian tensor bytes. Reading validates every field and byte range and never runs or
 * allocates anything the file size does not bound; writing is atomic.
 * @module
 */
import { checkDevice, type Device } from "../backend/registry.ts";
import { tensor } from "../tensor/creation.ts";
import type { DType, TypedArray } from "../tensor/dtype.ts";
import { fmtShape } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";
import { writeFileAtomic } from "./atomic_write.ts";

/** The safetensors dtypes this reader accepts, and what they load as. */
export type SafetensorsDType = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** Bytes per element and the dtype a safetensors dtype loads as. */
const DTYPES: Record<SafetensorsDType, { bytes: number; loads: DType }> = {
  F32: { bytes: 4, loads: "float32" },
  F16: { bytes: 2, loads: "float16" },
  BF16: { bytes: 2, loads: "float32" },
  F64: { bytes: 8, loads: "float32" },
  I64: { bytes: 8, loads: "int32" },
  I32: { bytes: 4, loads: "int32" },
  I16: { bytes: 2, loads: "int32" },
  I8: { bytes: 1, loads: "int32" },
  U8: { bytes: 1, loads: "int32" },
  BOOL: { bytes: 1, loads: "bool" },
};

/** Our dtypes as written. */
const WRITES: Record<DType, SafetensorsDType> = {
  float32: "F32",
  float16: "F16",
  int32: "I32",
  bool: "BOOL",
};

/** The order the reference implementation gives dtypes (data is laid out by dtype, largest first, then name). */
const ORDER: SafetensorsDType[] = ["BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "F64", "I64"];

/** The reference implementation's cap on the header size. */
const MAX_HEADER = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A malformed safetensors file; the message names the file, the key and the byte offset.
 *
 * @example
 * ```ts
 * import { io } from "../../mod.ts";
 * try {
 *   io.deserialize(new Uint8Array(3), "broken.safetensors");
 * } catch (e) {
 *   console.log(e instanceof io.SafetensorsError, (e as Error).message); // true "broken.safetensors: 3 bytes is too short..."
 * }
 * ```
 */
export class SafetensorsError extends Error {
  /** A safetensors error with `message`. */
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

/** A tensor's data on the host, as stored or loaded. */
export interface HostTensor {
  /** The element type. */
  dtype: DType;
  /** The dimensions. */
  shape: number[];
  /** The elements, row-major. */
  data: TypedArray;
}

/** What {@linkcode deserialize} returns: host tensors by name and the string metadata. */
export interface SafetensorsContents {
  /** The tensors by name, in the file's data order. */
  tensors: Record<string, HostTensor>;
  /** The `__metadata__` strings (empty when absent). */
  metadata: Record<string, string>;
}

/** A tensor entry of the header, validated. */
interface Entry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

function define<T>(obj: Record<string, T>, key: string, value: T): void {
  // defineProperty, so that a key like "__proto__" is an ordinary own key
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + "..." : s;
}

/**
 * Validates the header of a safetensors file and returns its entries sorted by data offset, the metadata,
 * and where the data starts. `name` (a path) prefixes every error.
 */
function parseHeader(bytes: Uint8Array, name: string): {
  entries: Entry[];
  metadata: Record<string, string>;
  dataStart: number;
} {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${name}: ${msg}`);
  };
  if (bytes.length < 8) {
    fail(
      `${bytes.length} bytes is too short for a safetensors file: the 8-byte header length at offset 0 is cut off`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) {
    fail(`header length ${n} (the u64 at offset 0) runs past the end of the file (${bytes.length} bytes)`);
  }
  if (n > BigInt(MAX_HEADER)) {
    fail(`header length ${n} (the u64 at offset 0) exceeds the ${MAX_HEADER}-byte limit`);
  }
  const headerLen = Number(n);
  const dataStart = 8 + headerLen;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    return fail(`header at offset 8 (${headerLen} bytes) is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header at offset 8 (${headerLen} bytes) is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(header)) {
    return fail(`header at offset 8 is not a JSON object (got ${describe(header)})`);
  }
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [key, value] of Object.entries(header)) {
    if (key === "__metadata__") {
      if (!isPlainObject(value)) fail(`"__metadata__" in the header at offset 8 is not an object of strings`);
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) {
        if (typeof mv !== "string") {
          fail(`"__metadata__"."${mk}" in the header at offset 8 is not a string (got ${describe(mv)})`);
        }
        define(metadata, mk, mv as string);
      }
      continue;
    }
    const at = `tensor "${key}" in the header at offset 8`;
    if (!isPlainObject(value)) fail(`${at} is not an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== "string" || !Object.hasOwn(DTYPES, dtype)) {
      fail(`${at} has unknown dtype ${describe(dtype)} (supported: ${Object.keys(DTYPES).join(", ")})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${at} has an invalid shape ${describe(shape)}: expected a list of non-negative integers`);
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(
        `${at} has invalid data_offsets ${describe(offsets)}: expected [begin, end], non-negative integers`,
      );
    }
    const [begin, end] = offsets as number[];
    if (begin > end) fail(`${at} has data_offsets [${begin}, ${end}] with begin after end`);
    if (end > dataLen) {
      fail(
        `${at} has data_offsets [${begin}, ${end}], bytes ${dataStart + begin}..${
          dataStart + end
        } of the file, ` +
          `out of range: the data section (from offset ${dataStart}) has ${dataLen} bytes`,
      );
    }
    const info = DTYPES[dtype as SafetensorsDType];
    let count = (shape as number[]).includes(0) ? 0 : 1;
    for (const d of shape as number[]) {
      if (count * info.bytes > dataLen) break; // can't fit (reported just below); keeps the product finite
      count *= d;
    }
    if (count * info.bytes !== end - begin) {
      fail(
        `${at}: shape ${fmtShape(shape as number[])} of ${dtype} needs ${
          count * info.bytes
        } bytes but data_offsets ` +
          `[${begin}, ${end}] (file offset ${dataStart + begin}) span ${end - begin}`,
      );
    }
    entries.push({ name: key, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | null = null;
  for (const e of entries) {
    if (e.begin < pos) {
      fail(
        `tensor "${e.name}" (data_offsets [${e.begin}, ${e.end}], file offset ${
          dataStart + e.begin
        }) overlaps ` +
          `tensor "${prev!.name}" (data_offsets [${prev!.begin}, ${prev!.end}])`,
      );
    }
    if (e.begin > pos) {
      fail(
        `bytes ${dataStart + pos}..${
          dataStart + e.begin
        } of the data section belong to no tensor (a gap before ` +
          `tensor "${e.name}" at data offset ${e.begin})`,
      );
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLen) {
    fail(
      `bytes ${dataStart + pos}..${bytes.length} at the end of the file belong to no tensor ` +
        `(file offset ${dataStart + pos} onwards; the tensors cover ${pos} of the ${dataLen} data bytes)`,
    );
  }
  return { entries, metadata, dataStart };
}

/**
 * The reader's allocation record: every host buffer {@linkcode deserialize} creates for tensor data goes
 * through {@linkcode hostBuffer}, which refuses a buffer larger than 4 bytes per byte of the entry's data in
 * the file (the widest conversion, U8/I8 to int32) and records the largest one. Internal: the fuzz test
 * (tests/safetensors_fuzz_test.ts) checks that no buffer exceeds what the file's own bytes justify.
 */
export const readerAllocations: { largest: number; total: number } = { largest: 0, total: 0 };

/** The element types the reader creates. */
type HostArrayType =
  | Float32ArrayConstructor
  | Float16ArrayConstructor
  | Int32ArrayConstructor
  | Uint8ArrayConstructor;

/**
 * The one place the reader allocates tensor data: a zeroed array of `n` elements for entry `e`, whose
 * `e.end - e.begin` bytes are present in the file (parseHeader checked them against the file's length).
 */
function hostBuffer<C extends HostArrayType>(Type: C, n: number, e: Entry): InstanceType<C> {
  const bytes = n * Type.BYTES_PER_ELEMENT;
  if (bytes > 4 * (e.end - e.begin)) {
    // unreachable after parseHeader's checks; guards the invariant the fuzz test measures
    throw new SafetensorsError(
      `tensor "${e.name}": refusing a ${bytes}-byte buffer for ${e.end - e.begin} bytes of data`,
    );
  }
  readerAllocations.largest = Math.max(readerAllocations.largest, bytes);
  readerAllocations.total += bytes;
  return new Type(n) as InstanceType<C>;
}

/** Decodes one validated entry's bytes into our host representation. */
function decode(e: Entry, raw: Uint8Array, fileOffset: number, name: string): HostTensor {
  const n = e.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const loads = DTYPES[e.dtype].loads;
  let data: TypedArray;
  switch (e.dtype) {
    case "F32": {
      const out = hostBuffer(Float32Array, n, e);
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(raw);
      else for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      data = out;
      break;
    }
    case "I32": {
      const out = hostBuffer(Int32Array, n, e);
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(raw);
      else for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      data = out;
      break;
    }
    case "F16": {
      const out = hostBuffer(Float16Array, n, e);
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(raw);
      else for (let i = 0; i < n; i++) out[i] = view.getFloat16(i * 2, true);
      data = out;
      break;
    }
    case "BF16": {
      const out = hostBuffer(Float32Array, n, e);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      data = out;
      break;
    }
    case "F64": {
      const out = hostBuffer(Float32Array, n, e);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      data = out;
      break;
    }
    case "I64": {
      const out = hostBuffer(Int32Array, n, e);
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v < -2147483648n || v > 2147483647n) {
          throw new SafetensorsError(
            `${name}: tensor "${e.name}" (I64) holds ${v} at element ${i} (file offset ${
              fileOffset + i * 8
            }), ` +
              "outside the int32 range that I64 tensors load into",
          );
        }
        out[i] = Number(v);
      }
      data = out;
      break;
    }
    case "I16": {
      const out = hostBuffer(Int32Array, n, e);
      for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
      data = out;
      break;
    }
    case "I8": {
      const out = hostBuffer(Int32Array, n, e);
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      data = out;
      break;
    }
    case "U8": {
      const out = hostBuffer(Int32Array, n, e);
      out.set(raw);
      data = out;
      break;
    }
    case "BOOL": {
      const out = hostBuffer(Uint8Array, n, e);
      for (let i = 0; i < n; i++) out[i] = raw[i] !== 0 ? 1 : 0;
      data = out;
      break;
    }
  }
  return { dtype: loads, shape: [...e.shape], data };
}

/**
 * Parses and validates safetensors bytes into host tensors (F32, F16, I32 and BOOL as such; BF16 and F64 as
 * float32; I64, I16, I8 and U8 as int32, I64 only when every value fits). `name` prefixes errors.
 *
 * @example
 * ```ts
 * import { io } from "../../mod.ts";
 * const bytes = io.serialize({ w: { dtype: "float32", shape: [2], data: new Float32Array([1, 2]) } });
 * const { tensors } = io.deserialize(bytes); // tensors.w.data: Float32Array [1, 2]
 * ```
 */
export function deserialize(bytes: Uint8Array, name = "safetensors data"): SafetensorsContents {
  const { entries, metadata, dataStart } = parseHeader(bytes, name);
  const tensors: Record<string, HostTensor> = {};
  for (const e of entries) {
    const raw = bytes.subarray(dataStart + e.begin, dataStart + e.end);
    define(tensors, e.name, decode(e, raw, dataStart + e.begin, name));
  }
  return { tensors, metadata };
}

function checkMetadata(metadata: Record<string, string> | undefined, what: string): Record<string, string> {
  if (metadata === undefined) return {};
  if (!isPlainObject(metadata)) throw new TypeError(`${what}: metadata must be an object of strings`);
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") {
      throw new TypeError(
        `${what}: metadata "${k}" must be a string (got ${typeof v}); JSON.stringify it first`,
      );
    }
  }
  return metadata;
}

/** Header and data layout of tensors about to be written, in the reference implementation's order. */
function layout(
  items: { name: string; dtype: DType; shape: readonly number[]; size: number }[],
  metadata: Record<string, string>,
): { header: Uint8Array; order: number[] } {
  const order = items.map((_, i) => i).sort((a, b) => {
    const da = ORDER.indexOf(WRITES[items[a].dtype]);
    const db = ORDER.indexOf(WRITES[items[b].dtype]);
    return db - da || (items[a].name < items[b].name ? -1 : items[a].name > items[b].name ? 1 : 0);
  });
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) define(header, "__metadata__", metadata);
  let offset = 0;
  for (const i of order) {
    const it = items[i];
    const bytes = it.size * DTYPES[WRITES[it.dtype]].bytes;
    define(header, it.name, {
      dtype: WRITES[it.dtype],
      shape: [...it.shape],
      data_offsets: [offset, offset + bytes],
    });
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8;
  json += " ".repeat(pad); // the data section starts 8-byte aligned, as the reference implementation writes it
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  return { header: out, order };
}

/** The little-endian bytes of a host array as written (bools as 0/1 bytes). */
function leBytes(dtype: DType, data: TypedArray): Uint8Array {
  if (dtype === "bool") return Uint8Array.from(data as Uint8Array, (b) => (b ? 1 : 0));
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes.length);
  const w = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += w) for (let k = 0; k < w; k++) out[i + k] = bytes[i + w - 1 - k];
  return out;
}

function checkName(name: string, what: string): void {
  if (name === "" || name === "__metadata__") {
    throw new RangeError(`${what}: ${JSON.stringify(name)} can't be a tensor name in a safetensors file`);
  }
}

/**
 * Host tensors to safetensors bytes (see {@linkcode save} for tensors on a device).
 *
 * @example
 * ```ts
 * import { io } from "../../mod.ts";
 * const bytes = io.serialize({ b: { dtype: "int32", shape: [1], data: new Int32Array([7]) } }, { note: "hi" });
 * ```
 */
export function serialize(
  tensors: Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const meta = checkMetadata(metadata, "serialize");
  const items = Object.entries(tensors).map(([name, t]) => {
    checkName(name, "serialize");
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new RangeError(
        `serialize: "${name}" has shape ${fmtShape(t.shape)} but ${t.data.length} elements`,
      );
    }
    return { name, dtype: t.dtype, shape: t.shape, size, data: t.data };
  });
  const { header, order } = layout(items, meta);
  const parts = [header, ...order.map((i) => leBytes(items[i].dtype, items[i].data))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Options of {@linkcode save}. */
export interface SaveOptions {
  /** Strings stored under `__metadata__` (e.g. `{ format: "pt" }`). */
  metadata?: Record<string, string>;
}

/**
 * Writes a state dict (tensors by name, on any device) to `path` as safetensors, atomically: a temporary
 * file in the same folder is written, fsynced and renamed over `path`, so a failure leaves any previous file
 * intact. Tensors are read one at a time (WebGPU tensors are read back, hence async).
 *
 * @example
 * ```ts
 * import { io, nn } from "../../mod.ts";
 * const model = new nn.Linear(4, 3);
 * await io.save(model.stateDict(), "/tmp/linear.safetensors", { metadata: { format: "pt" } });
 * ```
 */
export async function save(
  stateDict: Record<string, Tensor>,
  path: string,
  { metadata }: SaveOptions = {},
): Promise<void> {
  if (!isPlainObject(stateDict)) throw new TypeError("save: expected an object of tensors by name");
  const meta = checkMetadata(metadata, "save");
  const items = Object.entries(stateDict).map(([name, t]) => {
    checkName(name, "save");
    if (!(t instanceof Tensor)) throw new TypeError(`save: "${name}" is not a Tensor (got ${typeof t})`);
    if (t.isDisposed) throw new Error(`save: "${name}" was disposed`);
    return { name, dtype: t.dtype, shape: t.shape, size: t.size, t };
  });
  const { header, order } = layout(items, meta);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield header;
    for (const i of order) yield leBytes(items[i].dtype, await items[i].t.data());
  }
  await writeFileAtomic(path, chunks());
}

/** Options of {@linkcode load}. */
export interface LoadOptions {
  /** Where the tensors go (default "cpu"). */
  device?: Device;
}

async function readWhole(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${what}: ${path} not found`);
    throw new Error(`${what}: can't read ${path} (${(e as Error).message})`);
  }
}

/** Host tensors to tensors on `device`. */
export function toTensors(host: Record<string, HostTensor>, device: Device): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  try {
    for (const [k, h] of Object.entries(host)) {
      define(out, k, tensor(h.data, { shape: h.shape, dtype: h.dtype, device }));
    }
  } catch (e) {
    for (const t of Object.values(out)) t.dispose();
    throw e;
  }
  return out;
}

/**
 * Reads a safetensors file into tensors by name on `device` (default "cpu"), validating it fully first.
 * Load it into a model with `model.loadStateDict(await io.load(path))`.
 *
 * @example
 * ```ts
 * import { io, nn } from "../../mod.ts";
 * const model = new nn.Linear(4, 3);
 * await io.save(model.stateDict(), "/tmp/linear.safetensors");
 * model.loadStateDict(await io.load("/tmp/linear.safetensors"));
 * ```
 */
export async function load(
  path: string,
  { device = "cpu" }: LoadOptions = {},
): Promise<Record<string, Tensor>> {
  const dev = checkDevice(device);
  const { tensors } = deserialize(await readWhole(path, "load"), path);
  return toTensors(tensors, dev);
}

/**
 * The `__metadata__` strings of a safetensors file (validating the whole file).
 *
 * @example
 * ```ts
 * import { io, zeros } from "../../mod.ts";
 * await io.save({ w: zeros([2]) }, "/tmp/w.safetensors", { metadata: { epoch: "3" } });
 * console.log(await io.readMetadata("/tmp/w.safetensors")); // { epoch: "3" }
 * ```
 */
export async function readMetadata(path: string): Promise<Record<string, string>> {
  return parseHeader(await readWhole(path, "readMetadata"), path).metadata;
}
