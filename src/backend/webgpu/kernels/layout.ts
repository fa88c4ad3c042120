/**
 * Index arithmetic shared by the generated WebGPU kernels: collapsing dims, WGSL types per dtype,
 * parameter blocks and dispatch grids.
 * @module
 */
import type { DType } from "../../../tensor/dtype.ts";

/** Threads per workgroup of the 1-D kernels. */
export const WORKGROUP = 256;
/** Largest workgroup count in one grid dimension that WebGPU guarantees. */
export const MAX_GROUPS = 65535;

/** The WGSL type that stores a dtype. */
export function storageType(d: DType): string {
  return d === "float32" ? "f32" : d === "float16" ? "f16" : d === "int32" ? "i32" : "u32";
}

/** The WGSL type a dtype is computed in (float16 computes in f32, as PyTorch's opmath does). */
export function computeType(d: DType): "f32" | "i32" | "u32" {
  return d === "float32" || d === "float16" ? "f32" : d === "int32" ? "i32" : "u32";
}

/** WGSL converting a stored value `v` of dtype `d` to its compute type. */
export function loadAs(v: string, d: DType): string {
  return d === "float16" ? `f32(${v})` : v;
}

/** The kinds of WGSL value an expression can produce. */
export type ValueKind = "f32" | "i32" | "u32" | "bool";

/** WGSL converting a value of kind `k` to the storage type of dtype `d`. */
export function storeAs(v: string, k: ValueKind, d: DType): string {
  switch (d) {
    case "float32":
    case "float16": {
      const f = k === "f32" ? v : k === "bool" ? `select(0.0, 1.0, ${v})` : `f32(${v})`;
      return d === "float16" ? `f16(${f})` : f;
    }
    case "int32":
      return k === "i32" ? v : k === "bool" ? `select(0i, 1i, ${v})` : `i32(${v})`;
    case "bool":
      return k === "bool"
        ? `select(0u, 1u, ${v})`
        : `select(0u, 1u, ${v} != ${k === "f32" ? "0.0" : k === "i32" ? "0i" : "0u"})`;
  }
}

/** `enable f16;` when any of the dtypes is float16. */
export function enableF16(dtypes: readonly DType[]): string {
  return dtypes.includes("float16") ? "enable f16;" : "";
}

/**
 * Merges adjacent dims that every operand walks contiguously and drops size-1 dims, so that most kernels
 * see rank 1. Returns the collapsed shape and each operand's collapsed strides.
 */
export function collapse(
  shape: readonly number[],
  stridesList: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (
      last >= 0 &&
      stridesList.every((s, k) => outStrides[k][last] === s[d] * shape[d])
    ) {
      outShape[last] *= shape[d];
      stridesList.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      stridesList.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** A 1-D grid of `n` threads in workgroups of `wg`, folded into two dims past 65535 workgroups. */
export function grid(n: number, wg = WORKGROUP): [number, number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= MAX_GROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  if (y > MAX_GROUPS) throw new RangeError(`a kernel over ${n} elements exceeds WebGPU's dispatch limits`);
  return [MAX_GROUPS, y, 1];
}

/** Builds the parameter block of a kernel: named u32 fields, in order. */
export class ParamBlock {
  readonly names: string[] = [];
  readonly values: number[] = [];

  /** Adds a u32 field. */
  u32(name: string, value: number): this {
    this.names.push(name);
    this.values.push(value >>> 0);
    return this;
  }

  /** Adds an f32 field, stored as its bit pattern. */
  f32(name: string, value: number): this {
    F32[0] = value;
    return this.u32(name, U32[0]);
  }

  /** Adds an i32 field, stored as its bit pattern. */
  i32(name: string, value: number): this {
    return this.u32(name, value | 0);
  }

  /** The WGSL struct body. */
  struct(): string {
    return this.names.map((n) => `  ${n}: u32,`).join("\n");
  }

  /** The words to upload. */
  words(): Uint32Array {
    return Uint32Array.from(this.values);
  }
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * WGSL computing the element offset `idx<name>` of an operand from the flat output index `i`, given the
 * collapsed shape's dims `d0..` and the operand's fields `<name>_off`, `<name>_s0..`.
 */
export function indexCode(name: string, rank: number, contiguous: boolean): string {
  if (contiguous) return `  let idx${name} = p.${name}_off + i;`;
  if (rank === 0) return `  let idx${name} = p.${name}_off;`;
  const lines = [`  var r${name} = i;`, `  var idx${name} = p.${name}_off;`];
  for (let d = rank - 1; d >= 1; d--) {
    lines.push(`  idx${name} += (r${name} % p.d${d}) * p.${name}_s${d}; r${name} = r${name} / p.d${d};`);
  }
  lines.push(`  idx${name} += r${name} * p.${name}_s0;`);
  return lines.join("\n");
}
