/**
 * The IDX file format of MNIST and Fashion-MNIST, raw or gzip-compressed: a 4-byte magic number
 * (`0x00 0x00 type ndim`), `ndim` big-endian u32 sizes, then the elements, big-endian, row-major.
 * Every check names the file and the byte offset that failed.
 * @module
 */

/** Element types of IDX files, by their type byte. */
export type IdxType = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";

/** The elements of an IDX file, in a host typed array of the file's type. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A parsed IDX file. */
export interface IdxArray {
  /** The element type (from the magic number's third byte). */
  type: IdxType;
  /** The sizes of the dimensions. */
  shape: number[];
  /** The elements, row-major (for uint8, a view of the file's bytes). */
  data: IdxData;
}

const TYPES: Record<number, [IdxType, number]> = {
  0x08: ["uint8", 1],
  0x09: ["int8", 1],
  0x0b: ["int16", 2],
  0x0c: ["int32", 4],
  0x0d: ["float32", 4],
  0x0e: ["float64", 8],
};

/** Largest element count accepted (far above any IDX dataset; guards against absurd headers). */
const MAX_ELEMENTS = 2 ** 31;

function hex(n: number, digits: number): string {
  return "0x" + n.toString(16).padStart(digits, "0");
}

/**
 * Parses IDX bytes (already decompressed). `name` (a path) prefixes every error.
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * const bytes = new Uint8Array([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]); // ubyte, 1-D, 3 elements
 * data.parseIdx(bytes, "labels"); // { type: "uint8", shape: [3], data: Uint8Array [7, 8, 9] }
 * ```
 */
export function parseIdx(bytes: Uint8Array, name = "IDX data"): IdxArray {
  if (bytes.length < 4) {
    throw new RangeError(
      `${name}: ${bytes.length} bytes is too short for an IDX file: the 4-byte magic number at offset 0 is cut off`,
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const got = (bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]) >>> 0;
    throw new RangeError(
      `${name}: bad IDX magic number at offset 0: expected 0x0000 then type and ndim bytes, got ${
        hex(got, 8)
      }` +
        (bytes[0] === 0x1f && bytes[1] === 0x8b ? " (gzip data: decompress it first, or use readIdx)" : ""),
    );
  }
  const entry = TYPES[bytes[2]];
  if (!entry) {
    throw new RangeError(
      `${name}: unknown IDX element type ${
        hex(bytes[2], 2)
      } at offset 2 (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)`,
    );
  }
  const [type, size] = entry;
  const ndim = bytes[3];
  if (ndim === 0) throw new RangeError(`${name}: IDX file declares 0 dimensions at offset 3`);
  const header = 4 + 4 * ndim;
  if (bytes.length < header) {
    throw new RangeError(
      `${name}: ${bytes.length} bytes is too short for the ${ndim} dimension sizes at offset 4 (needs ${header} bytes)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < ndim; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    shape.push(n);
    count *= n;
    if (count > MAX_ELEMENTS) {
      throw new RangeError(
        `${name}: IDX dimension sizes at offset 4 declare more than ${MAX_ELEMENTS} elements ([${
          shape.join(", ")
        }, ...])`,
      );
    }
  }
  const have = bytes.length - header;
  if (have !== count * size) {
    throw new RangeError(
      `${name}: IDX header declares shape [${shape.join(", ")}] of ${type}, ${
        count * size
      } bytes from offset ` +
        `${header}, but the file has ${have} bytes there (${
          have < count * size ? "truncated" : "trailing data"
        })`,
    );
  }
  const body = bytes.subarray(header);
  let data: IdxData;
  switch (type) {
    case "uint8":
      data = body;
      break;
    case "int8":
      data = new Int8Array(body.buffer, body.byteOffset, body.length);
      break;
    default: {
      data = type === "int16"
        ? new Int16Array(count)
        : type === "int32"
        ? new Int32Array(count)
        : type === "float32"
        ? new Float32Array(count)
        : new Float64Array(count);
      const get = type === "int16"
        ? (o: number) => view.getInt16(o, false)
        : type === "int32"
        ? (o: number) => view.getInt32(o, false)
        : type === "float32"
        ? (o: number) => view.getFloat32(o, false)
        : (o: number) => view.getFloat64(o, false);
      for (let i = 0; i < count; i++) data[i] = get(header + i * size);
    }
  }
  return { type, shape, data };
}

/**
 * Decompresses gzip bytes with the platform's `DecompressionStream`; `name` prefixes errors.
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * const gz = await Deno.readFile("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
 * const raw = await data.gunzip(gz, "t10k-labels"); // 10 008 bytes of IDX
 * ```
 */
export async function gunzip(bytes: Uint8Array, name = "gzip data"): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new DecompressionStream("gzip"),
    );
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`${name}: not a valid gzip stream (${(e as Error).message})`);
  }
}

/**
 * Reads an IDX file, decompressing it when it starts with the gzip magic bytes `1f 8b`.
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * const labels = await data.readIdx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
 * console.log(labels.shape); // [10000]
 * ```
 */
export async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${path}: IDX file not found`);
    throw new Error(`${path}: can't read the IDX file (${(e as Error).message})`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = await gunzip(bytes, path);
  return parseIdx(bytes, path);
}
