/**
 * WGSL generator for the batched, strided matrix product `out[b] = a[b] @ b[b]` (a: [batch, M, K],
 * b: [batch, K, N], out: contiguous [batch, M, N]), and how to dispatch it. A pure module: it holds no
 * device state; the engine compiles {@linkcode matmulShader}'s code, binds
 * `a` (0), `b` (1), `out` (2) and a uniform block of {@linkcode MATMUL_PARAM_WORDS} u32 (3), and dispatches
 * {@linkcode matmulDispatch}'s workgroup counts.
 *
 * Two kernel shapes share the loads and the multiply-accumulate code:
 * - `"register"` (`src/shaders/matmul_register_tile.wgsl`): each invocation accumulates a register tile
 *   straight from global memory. No workgroup memory and no barriers, which is what CPU adapters
 *   (lavapipe/llvmpipe, SwiftShader) run fastest.
 * - `"workgroup"` (`src/shaders/matmul_workgroup_tile.wgsl`): a workgroup stages K-slices of A and B in
 *   workgroup memory (prefetching the next slice into registers while it multiplies the current one);
 *   each invocation accumulates a register tile from there. The shape for real GPUs.
 *
 * @module
 */
import registerTemplate from "../../shaders/matmul_register_tile.wgsl" with { type: "text" };
import workgroupTemplate from "../../shaders/matmul_workgroup_tile.wgsl" with { type: "text" };

/**
 * Number of u32 words in the kernel's uniform block, in this order: `M, N, K, batch, aOffset, aStrideB,
 * aStrideM, aStrideK, bOffset, bStrideB, bStrideK, bStrideN` (element units; batch strides may be 0).
 */
export const MATMUL_PARAM_WORDS = 12;

/** Largest workgroup count per grid dimension that WebGPU guarantees. */
const MAX_GROUPS = 65535;

/** Element type of the matmul kernels' storage: f16 loads convert to f32 and accumulate in f32. */
export type MatmulDType = "f32" | "f16";

/** What a generated matmul kernel is specialised for. */
export interface MatmulSpec {
  /** Element type of `a`, `b` and `out` storage; f16 accumulates in f32. */
  dtype: MatmulDType;
  /** true: a's K stride is 1 (row-major A); false: a's M stride is 1 (A transposed). */
  aKContiguous: boolean;
  /** true: b's N stride is 1 (row-major B); false: b's K stride is 1 (B transposed). */
  bNContiguous: boolean;
  /**
   * `a` and `b` are bound as arrays of 4-vectors along their contiguous dims. Valid only when each
   * operand's contiguous dim has stride 1 and a size that is a multiple of 4, and its offset and other
   * strides are multiples of 4 ({@linkcode chooseMatmulSpec} checks this).
   */
  vec4: boolean;
  /** Register tile reading global memory (best on CPU adapters) or workgroup-memory tiling (real GPUs). */
  variant: "register" | "workgroup";
}

/**
 * The work split of a generated kernel (the defaults are {@linkcode REGISTER_TILE} and
 * {@linkcode WORKGROUP_TILE}).
 */
export interface MatmulTile {
  /** Output rows per invocation (a multiple of 4, at most 32). */
  readonly tm: number;
  /** Output columns per invocation (a multiple of 4, at most 32). */
  readonly tn: number;
  /** Invocations per workgroup along N (workgroup_size x). */
  readonly wgx: number;
  /** Invocations per workgroup along M (workgroup_size y). */
  readonly wgy: number;
  /**
   * A multiple of 4: K steps per iteration of the unrolled K loop (register variant), or K depth of one
   * workgroup-memory slice (workgroup variant).
   */
  readonly bk: number;
  /**
   * How an invocation's 4-row (4-column) groups sit in the workgroup's block: `true` strides them by the
   * workgroup size (neighbouring invocations read and write neighbouring vectors), `false` keeps them adjacent.
   */
  readonly interleave: boolean;
}

/**
 * Tile of the `"register"` variant, tuned on lavapipe (llvmpipe 22.3, 256-bit SIMD): a workgroup is one row
 * strip of 8 invocations (one llvmpipe SIMD vector) side by side along N, each accumulating 16 x 16 outputs
 * (a 16 x 128 block), 4 K steps per loop iteration. llvmpipe turns every storage-buffer load into a loop
 * over the SIMD lanes, so loads dominate and big tiles win despite spilling their accumulators: per CPU
 * time, 16 x 16 ran about 1.25x 8 x 16, 1.7x 8 x 8 and 3x 4 x 8 (`bench/matmul_kernel_tune.ts --sweep`).
 * Larger tiles compile too slowly (24 x 32: 20 s); 16 x 16 takes 2 to 5 s per pipeline the first time.
 */
export const REGISTER_TILE: MatmulTile = { tm: 16, tn: 16, wgx: 8, wgy: 1, bk: 4, interleave: true };

/**
 * Tile of the `"workgroup"` variant: 64 x 64 blocks, K slices of 16, 8 x 8 invocations each computing
 * 8 x 8 outputs (two 4 x 4 groups per dimension, strided so that neighbouring invocations read neighbouring
 * vectors of workgroup memory): 8 KiB of workgroup memory, one 4 x 4 (or four 4-vector) load per operand
 * per invocation per slice.
 */
export const WORKGROUP_TILE: MatmulTile = { tm: 8, tn: 8, wgx: 8, wgy: 8, bk: 16, interleave: true };

/**
 * The tile for an `M` x `N` product: {@linkcode defaultMatmulTile}, except that the register variant narrows
 * its 16 x 128 block when N is small, where most of the block's invocations would have no columns (a conv's
 * weight gradient per sample is [OC, C·KH·KW], e.g. 16 x 12: 9 % of the block). The narrow tiles keep 8
 * invocations (one llvmpipe SIMD vector) per workgroup, stacked along M instead of N.
 */
export function chooseMatmulTile(spec: MatmulSpec, M: number, N: number): MatmulTile {
  if (spec.variant !== "register" || M < 16) return defaultMatmulTile(spec);
  if (N <= 16) return { tm: 8, tn: 4, wgx: 4, wgy: 2, bk: 4, interleave: true }; // 16 x 16 blocks
  if (N <= 32) return { tm: 8, tn: 8, wgx: 4, wgy: 2, bk: 4, interleave: true }; // 16 x 32
  if (N <= 64) return { tm: 16, tn: 8, wgx: 8, wgy: 1, bk: 4, interleave: true }; // 16 x 64
  return defaultMatmulTile(spec);
}

/** The tile {@linkcode matmulShader} and {@linkcode matmulDispatch} use for a spec when none is given. */
export function defaultMatmulTile(spec: MatmulSpec): MatmulTile {
  return spec.variant === "register" ? REGISTER_TILE : WORKGROUP_TILE;
}

/** Arguments of {@linkcode chooseMatmulSpec}: the operands' layouts (element units) and the adapter. */
export interface MatmulLayoutArgs {
  /** Element type of the operands and the output. */
  dtype: MatmulDType;
  /** a's strides over [batch, M, K]. */
  aStrides: readonly [number, number, number];
  /** b's strides over [batch, K, N]. */
  bStrides: readonly [number, number, number];
  /** a's offset in its buffer. */
  aOffset: number;
  /** b's offset in its buffer. */
  bOffset: number;
  /** Rows of a and out. */
  M: number;
  /** Columns of b and out. */
  N: number;
  /** Columns of a, rows of b. */
  K: number;
  /** The adapter runs on the CPU (`GPUAdapterInfo.isFallbackAdapter`, llvmpipe, SwiftShader). */
  adapterIsCpu: boolean;
}

/**
 * Picks the kernel for a product: each operand's layout flag from its unit stride (a size-1 dim counts as
 * unit-strided; an operand with no unit stride gets scalar strided loads), 4-vector loads when both
 * operands allow them, and the `"register"` variant on CPU adapters, `"workgroup"` otherwise.
 */
export function chooseMatmulSpec(args: MatmulLayoutArgs): MatmulSpec {
  const { M, N, K } = args;
  const [, aSM, aSK] = args.aStrides;
  const [, bSK, bSN] = args.bStrides;
  const aKUnit = aSK === 1 || K === 1;
  const aMUnit = aSM === 1 || M === 1;
  const bNUnit = bSN === 1 || N === 1;
  const bKUnit = bSK === 1 || K === 1;
  const aKContiguous = aKUnit || !aMUnit;
  const bNContiguous = bNUnit || !bKUnit;
  const m4 = (x: number) => x % 4 === 0;
  // The vector dim must be unit-strided with a size that is a multiple of 4; the other strides and the
  // offset must keep every vector 16-byte (8-byte for f16) aligned. A stride over a size-1 dim is never used.
  const vecA = m4(args.aOffset) && m4(args.aStrides[0]) &&
    (aKContiguous ? aSK === 1 && m4(K) && (M === 1 || m4(aSM)) : aSM === 1 && m4(M) && (K === 1 || m4(aSK)));
  const vecB = m4(args.bOffset) && m4(args.bStrides[0]) &&
    (bNContiguous ? bSN === 1 && m4(N) && (K === 1 || m4(bSK)) : bSK === 1 && m4(K) && (N === 1 || m4(bSN)));
  return {
    dtype: args.dtype,
    aKContiguous,
    bNContiguous,
    vec4: vecA && vecB,
    variant: args.adapterIsCpu ? "register" : "workgroup",
  };
}

function checkTile(spec: MatmulSpec, t: MatmulTile): void {
  const ok = (x: number, max: number) => Number.isInteger(x) && x >= 1 && x <= max;
  if (!ok(t.tm, 32) || !ok(t.tn, 32) || t.tm % 4 !== 0 || t.tn % 4 !== 0) {
    throw new RangeError(`matmul tile: tm and tn must be multiples of 4 up to 32, got ${t.tm} x ${t.tn}`);
  }
  if (!ok(t.wgx, 256) || !ok(t.wgy, 256) || t.wgx * t.wgy > 256) {
    throw new RangeError(`matmul tile: workgroup ${t.wgx} x ${t.wgy} exceeds 256 invocations`);
  }
  if (!ok(t.bk, 64) || t.bk % 4 !== 0) {
    throw new RangeError(`matmul tile: bk must be a multiple of 4 up to 64`);
  }
  if (spec.variant === "workgroup") {
    const threads = t.wgx * t.wgy;
    const bm = t.tm * t.wgy, bn = t.tn * t.wgx;
    const aUnits = spec.aKContiguous ? (bm / 4) * (t.bk / 4) : t.bk * (bm / 4);
    const bUnits = spec.bNContiguous ? t.bk * (bn / 4) : (bn / 4) * (t.bk / 4);
    if (aUnits % threads !== 0 || bUnits % threads !== 0) {
      throw new RangeError(
        `matmul tile: ${threads} invocations cannot split the ${bm} x ${t.bk} and ${t.bk} x ${bn} slices evenly`,
      );
    }
  }
}

const C = ["x", "y", "z", "w"];

/** Code generation shared by both variants: coordinates, accumulators, multiply-accumulates, stores. */
class Gen {
  readonly t: string;
  readonly v4: string;
  constructor(readonly spec: MatmulSpec, readonly tile: MatmulTile) {
    this.t = spec.dtype;
    this.v4 = `vec4<${spec.dtype}>`;
  }
  f4(e: string): string {
    return this.t === "f16" ? `vec4<f32>(${e})` : e;
  }
  f1(e: string): string {
    return this.t === "f16" ? `f32(${e})` : e;
  }
  /** Index (in 4-row groups, within the block) of the invocation's 4-row group `i4` (a WGSL expression). */
  rowGroup(i4: string): string {
    const { tm, wgy, interleave } = this.tile;
    if (wgy === 1) return i4;
    return interleave ? `(lid.y + ${i4} * ${wgy}u)` : `(lid.y * ${tm / 4}u + ${i4})`;
  }
  /** Index (in 4-column groups, within the block) of the invocation's 4-column group `j4`. */
  colGroup(j4: string): string {
    const { tn, wgx, interleave } = this.tile;
    if (wgx === 1) return j4;
    return interleave ? `(lid.x + ${j4} * ${wgx}u)` : `(lid.x * ${tn / 4}u + ${j4})`;
  }
  /** `let r<i>`, `let c<j>`: the global rows and columns of the invocation's outputs. */
  coords(): string[] {
    const { tm, tn } = this.tile;
    const lines: string[] = [];
    for (let i = 0; i < tm; i++) {
      lines.push(`  let r${i} = rowBase + 4u * ${this.rowGroup(`${i >> 2}u`)} + ${i & 3}u;`);
    }
    for (let j = 0; j < tn; j++) {
      lines.push(`  let c${j} = colBase + 4u * ${this.colGroup(`${j >> 2}u`)} + ${j & 3}u;`);
    }
    return lines;
  }
  accDecl(): string[] {
    const lines: string[] = [];
    for (let i = 0; i < this.tile.tm; i++) {
      const row = [];
      for (let j4 = 0; j4 < this.tile.tn / 4; j4++) row.push(`var acc${i}_${j4} = vec4<f32>(0.0);`);
      lines.push("  " + row.join(" "));
    }
    return lines;
  }
  /**
   * FMAs of `ku` K steps, given scalar A values aval(i, kk) and 4-column B vectors bvec(kk, j4). `kInner`
   * puts K innermost: each accumulator is then read and written once per `ku` steps, which is what CPU
   * adapters need (large tiles spill the accumulators; this order makes the spills cheap, 2x faster on
   * lavapipe). GPUs prefer K outermost, which keeps fewer operands live.
   */
  fmas(
    ku: number,
    aval: (i: number, kk: number) => string,
    bvec: (kk: number, j4: number) => string,
    indent: string,
    kInner: boolean,
  ): string[] {
    const lines: string[] = [];
    const { tm, tn } = this.tile;
    const fma = (i: number, j4: number, kk: number) =>
      lines.push(`${indent}acc${i}_${j4} = fma(vec4<f32>(${aval(i, kk)}), ${bvec(kk, j4)}, acc${i}_${j4});`);
    for (let o = 0; o < (kInner ? 1 : ku); o++) {
      for (let i = 0; i < tm; i++) {
        for (let j4 = 0; j4 < tn / 4; j4++) {
          if (kInner) { for (let kk = 0; kk < ku; kk++) fma(i, j4, kk); }
          else fma(i, j4, o);
        }
      }
    }
    return lines;
  }
  /**
   * Stores the accumulators to `out`, skipping rows and columns outside [M, N]. A loop over a row's columns
   * rather than straight-line code: on CPU adapters every store is a loop over the SIMD lanes, and unrolled
   * stores made up a third of the compile time.
   */
  store(): string[] {
    const { tm, tn } = this.tile;
    const lines = ["  let oBase = bt * p.M * p.N;", `  var row: array<vec4<f32>, ${tn / 4}>;`];
    const value = "row[j / 4u][j % 4u]";
    for (let i = 0; i < tm; i++) {
      lines.push(`  if (r${i} < p.M) {`, `    let o${i} = oBase + r${i} * p.N;`);
      for (let j4 = 0; j4 < tn / 4; j4++) lines.push(`    row[${j4}] = acc${i}_${j4};`);
      lines.push(
        `    for (var j = 0u; j < ${tn}u; j += 1u) {`,
        `      let col = colBase + 4u * ${this.colGroup("(j / 4u)")} + j % 4u;`,
        `      if (col < p.N) { out[o${i} + col] = ${this.t === "f16" ? `f16(${value})` : value}; }`,
        "    }",
        "  }",
      );
    }
    return lines;
  }
  fill(template: string, body: string[], extra: Record<string, string>): string {
    const { spec, tile } = this;
    const elem = spec.vec4 ? this.v4 : this.t;
    const subs: Record<string, string> = {
      "{{ENABLE}}": spec.dtype === "f16" ? "enable f16;" : "",
      "{{A_ELEM}}": elem,
      "{{B_ELEM}}": elem,
      "{{T}}": this.t,
      "{{TM}}": String(tile.tm),
      "{{TN}}": String(tile.tn),
      "{{BM}}": String(tile.tm * tile.wgy),
      "{{BN}}": String(tile.tn * tile.wgx),
      "{{BK}}": String(tile.bk),
      "{{WGX}}": String(tile.wgx),
      "{{WGY}}": String(tile.wgy),
      ...extra,
      "{{BODY}}": body.join("\n"),
    };
    let code = template;
    for (const [k, v] of Object.entries(subs)) code = code.replaceAll(k, v);
    return code;
  }
}

/** Body of the register-tile kernel. */
function registerBody(g: Gen): string[] {
  const { spec, tile } = g;
  const { tm, tn } = tile;
  const aMode = spec.vec4 ? (spec.aKContiguous ? "k4" : "m4") : "s";
  const bMode = spec.vec4 ? (spec.bNContiguous ? "n4" : "k4") : "s";
  const lines = g.coords();

  // Per-row (per-column) base indices, rows and columns clamped into the matrix.
  if (aMode === "k4") {
    for (let i = 0; i < tm; i++) {
      lines.push(`  let ai${i} = (aBase + min(r${i}, p.M - 1u) * p.aStrideM) / 4u;`);
    }
  } else if (aMode === "m4") {
    lines.push("  let aB4 = aBase / 4u;", "  let aK4 = p.aStrideK / 4u;", "  let aLast4 = p.M / 4u - 1u;");
    for (let i4 = 0; i4 < tm / 4; i4++) lines.push(`  let ai${i4} = min(r${4 * i4} / 4u, aLast4);`);
  } else {
    for (let i = 0; i < tm; i++) lines.push(`  let ai${i} = aBase + min(r${i}, p.M - 1u) * p.aStrideM;`);
  }
  if (bMode === "n4") {
    lines.push("  let bB4 = bBase / 4u;", "  let bK4 = p.bStrideK / 4u;", "  let bLast4 = p.N / 4u - 1u;");
    for (let j4 = 0; j4 < tn / 4; j4++) lines.push(`  let bj${j4} = min(c${4 * j4} / 4u, bLast4);`);
  } else if (bMode === "k4") {
    for (let j = 0; j < tn; j++) {
      lines.push(`  let bj${j} = (bBase + min(c${j}, p.N - 1u) * p.bStrideN) / 4u;`);
    }
  } else {
    for (let j = 0; j < tn; j++) lines.push(`  let bj${j} = bBase + min(c${j}, p.N - 1u) * p.bStrideN;`);
  }
  lines.push(...g.accDecl());

  // `ku` K steps from k: loads, then FMAs.
  const step = (ku: number): string[] => {
    const ind = "    ";
    const out: string[] = [];
    let aval: (i: number, kk: number) => string;
    let bvec: (kk: number, j4: number) => string;
    if (aMode === "k4" || bMode === "k4") out.push(`${ind}let kq = k / 4u;`);
    if (aMode === "k4") {
      for (let q = 0; q < ku / 4; q++) {
        for (let i = 0; i < tm; i++) out.push(`${ind}let a${i}_${q} = ${g.f4(`a[ai${i} + kq + ${q}u]`)};`);
      }
      aval = (i, kk) => `a${i}_${kk >> 2}.${C[kk & 3]}`;
    } else if (aMode === "m4") {
      for (let kk = 0; kk < ku; kk++) {
        out.push(`${ind}let ak${kk} = aB4 + (k + ${kk}u) * aK4;`);
        for (let i4 = 0; i4 < tm / 4; i4++) {
          out.push(`${ind}let a${kk}_${i4} = ${g.f4(`a[ak${kk} + ai${i4}]`)};`);
        }
      }
      aval = (i, kk) => `a${kk}_${i >> 2}.${C[i & 3]}`;
    } else {
      for (let kk = 0; kk < ku; kk++) {
        out.push(`${ind}let ak${kk} = (k + ${kk}u) * p.aStrideK;`);
        for (let i = 0; i < tm; i++) out.push(`${ind}let a${i}_${kk} = ${g.f1(`a[ai${i} + ak${kk}]`)};`);
      }
      aval = (i, kk) => `a${i}_${kk}`;
    }
    if (bMode === "n4") {
      for (let kk = 0; kk < ku; kk++) {
        out.push(`${ind}let bk${kk} = bB4 + (k + ${kk}u) * bK4;`);
        for (let j4 = 0; j4 < tn / 4; j4++) {
          out.push(`${ind}let b${kk}_${j4} = ${g.f4(`b[bk${kk} + bj${j4}]`)};`);
        }
      }
      bvec = (kk, j4) => `b${kk}_${j4}`;
    } else if (bMode === "k4") {
      for (let q = 0; q < ku / 4; q++) {
        for (let j = 0; j < tn; j++) out.push(`${ind}let b${j}_${q} = ${g.f4(`b[bj${j} + kq + ${q}u]`)};`);
      }
      bvec = (kk, j4) =>
        `vec4<f32>(${[0, 1, 2, 3].map((e) => `b${4 * j4 + e}_${kk >> 2}.${C[kk & 3]}`).join(", ")})`;
    } else {
      for (let kk = 0; kk < ku; kk++) {
        out.push(`${ind}let bk${kk} = (k + ${kk}u) * p.bStrideK;`);
        for (let j = 0; j < tn; j++) out.push(`${ind}let b${j}_${kk} = ${g.f1(`b[bj${j} + bk${kk}]`)};`);
      }
      bvec = (kk, j4) => `vec4<f32>(${[0, 1, 2, 3].map((e) => `b${4 * j4 + e}_${kk}`).join(", ")})`;
    }
    return [...out, ...g.fmas(ku, aval, bvec, ind, true)];
  };

  // `bk` K steps per iteration, then the rest: 4 at a time with 4-vectors along K (K is then a multiple
  // of 4), else one at a time.
  const ku = tile.bk;
  const kVec = aMode === "k4" || bMode === "k4";
  lines.push("  var k = 0u;", `  for (; k + ${ku - 1}u < p.K; k += ${ku}u) {`, ...step(ku), "  }");
  if (kVec && ku > 4) lines.push("  for (; k < p.K; k += 4u) {", ...step(4), "  }");
  if (!kVec) lines.push("  for (; k < p.K; k += 1u) {", ...step(1), "  }");
  lines.push(...g.store());
  return lines;
}

/** Body of the workgroup-memory kernel. */
function workgroupBody(g: Gen): { body: string[]; aShared: number; bShared: number } {
  const { spec, tile } = g;
  const { tm, tn, bk, wgx, wgy } = tile;
  const threads = wgx * wgy;
  const bm = tm * wgy, bn = tn * wgx;
  const bm4 = bm / 4, bn4 = bn / 4, bk4 = bk / 4;
  const v = spec.vec4;
  const zero4 = "vec4<f32>(0.0)";
  const lines = g.coords();
  const fetch: string[] = []; // global -> registers, for the slice starting at k0
  const commit: string[] = []; // registers -> workgroup memory
  const regs: string[] = [];

  // A slice (bm x bk) into As[k][m4].
  if (spec.aKContiguous) {
    // 4 x 4 blocks (4 rows x 4 k), transposed on the way in.
    for (let s = 0; s < (bm4 * bk4) / threads; s++) {
      lines.push(`  let aU${s} = lidx + ${s * threads}u;`);
      lines.push(`  let aM${s} = aU${s} / ${bk4}u;`, `  let aQ${s} = aU${s} % ${bk4}u;`);
      for (let c = 0; c < 4; c++) {
        const r = `rowBase + 4u * aM${s} + ${c}u`;
        lines.push(`  let aOk${s}_${c} = ${r} < p.M;`);
        lines.push(
          v
            ? `  let aR${s}_${c} = (aBase + min(${r}, p.M - 1u) * p.aStrideM) / 4u;`
            : `  let aR${s}_${c} = aBase + min(${r}, p.M - 1u) * p.aStrideM;`,
        );
        regs.push(`  var pa${s}_${c} = ${zero4};`);
        if (v) {
          fetch.push(
            `    pa${s}_${c} = select(${zero4}, ${
              g.f4(`a[aR${s}_${c} + min(k0 + 4u * aQ${s}, p.K - 4u) / 4u]`)
            }, ` +
              `aOk${s}_${c} && k0 + 4u * aQ${s} < p.K);`,
          );
        } else {
          const el = [0, 1, 2, 3].map((e) => {
            const k = `k0 + 4u * aQ${s} + ${e}u`;
            return `select(0.0, ${
              g.f1(`a[aR${s}_${c} + min(${k}, p.K - 1u) * p.aStrideK]`)
            }, aOk${s}_${c} && ${k} < p.K)`;
          });
          fetch.push(`    pa${s}_${c} = vec4<f32>(`, ...el.map((e) => `      ${e},`), `    );`);
        }
      }
      for (let kk = 0; kk < 4; kk++) {
        commit.push(
          `    As[(4u * aQ${s} + ${kk}u) * ${bm4}u + aM${s}] = ` +
            `vec4<f32>(pa${s}_0.${C[kk]}, pa${s}_1.${C[kk]}, pa${s}_2.${C[kk]}, pa${s}_3.${C[kk]});`,
        );
      }
    }
  } else {
    // 4-row vectors, one K step each.
    for (let s = 0; s < (bk * bm4) / threads; s++) {
      lines.push(`  let aU${s} = lidx + ${s * threads}u;`);
      lines.push(`  let aR${s} = rowBase + 4u * (aU${s} % ${bm4}u);`);
      regs.push(`  var pa${s} = ${zero4};`);
      const k = `k0 + aU${s} / ${bm4}u`;
      if (v) {
        lines.push(`  let aOk${s} = aR${s} < p.M;`, `  let aC${s} = min(aR${s}, p.M - 4u) / 4u;`);
        fetch.push(
          `    pa${s} = select(${zero4}, ${
            g.f4(`a[(aBase + min(${k}, p.K - 1u) * p.aStrideK) / 4u + aC${s}]`)
          }, ` +
            `aOk${s} && ${k} < p.K);`,
        );
      } else {
        fetch.push(`    let aKo${s} = aBase + min(${k}, p.K - 1u) * p.aStrideK;`);
        const el = [0, 1, 2, 3].map((e) =>
          `select(0.0, ${g.f1(`a[aKo${s} + min(aR${s} + ${e}u, p.M - 1u) * p.aStrideM]`)}, ` +
          `aR${s} + ${e}u < p.M && ${k} < p.K)`
        );
        fetch.push(`    pa${s} = vec4<f32>(`, ...el.map((e) => `      ${e},`), `    );`);
      }
      commit.push(`    As[aU${s}] = pa${s};`);
    }
  }

  // B slice (bk x bn) into Bs[k][n4].
  if (spec.bNContiguous) {
    for (let s = 0; s < (bk * bn4) / threads; s++) {
      lines.push(`  let bU${s} = lidx + ${s * threads}u;`);
      lines.push(`  let bC${s} = colBase + 4u * (bU${s} % ${bn4}u);`);
      regs.push(`  var pb${s} = ${zero4};`);
      const k = `k0 + bU${s} / ${bn4}u`;
      if (v) {
        lines.push(`  let bOk${s} = bC${s} < p.N;`, `  let bN${s} = min(bC${s}, p.N - 4u) / 4u;`);
        fetch.push(
          `    pb${s} = select(${zero4}, ${
            g.f4(`b[(bBase + min(${k}, p.K - 1u) * p.bStrideK) / 4u + bN${s}]`)
          }, ` +
            `bOk${s} && ${k} < p.K);`,
        );
      } else {
        fetch.push(`    let bKo${s} = bBase + min(${k}, p.K - 1u) * p.bStrideK;`);
        const el = [0, 1, 2, 3].map((e) =>
          `select(0.0, ${g.f1(`b[bKo${s} + min(bC${s} + ${e}u, p.N - 1u) * p.bStrideN]`)}, ` +
          `bC${s} + ${e}u < p.N && ${k} < p.K)`
        );
        fetch.push(`    pb${s} = vec4<f32>(`, ...el.map((e) => `      ${e},`), `    );`);
      }
      commit.push(`    Bs[bU${s}] = pb${s};`);
    }
  } else {
    for (let s = 0; s < (bn4 * bk4) / threads; s++) {
      lines.push(`  let bU${s} = lidx + ${s * threads}u;`);
      lines.push(`  let bN${s} = bU${s} / ${bk4}u;`, `  let bQ${s} = bU${s} % ${bk4}u;`);
      for (let c = 0; c < 4; c++) {
        const col = `colBase + 4u * bN${s} + ${c}u`;
        lines.push(`  let bOk${s}_${c} = ${col} < p.N;`);
        lines.push(
          v
            ? `  let bR${s}_${c} = (bBase + min(${col}, p.N - 1u) * p.bStrideN) / 4u;`
            : `  let bR${s}_${c} = bBase + min(${col}, p.N - 1u) * p.bStrideN;`,
        );
        regs.push(`  var pb${s}_${c} = ${zero4};`);
        if (v) {
          fetch.push(
            `    pb${s}_${c} = select(${zero4}, ${
              g.f4(`b[bR${s}_${c} + min(k0 + 4u * bQ${s}, p.K - 4u) / 4u]`)
            }, ` +
              `bOk${s}_${c} && k0 + 4u * bQ${s} < p.K);`,
          );
        } else {
          const el = [0, 1, 2, 3].map((e) => {
            const k = `k0 + 4u * bQ${s} + ${e}u`;
            return `select(0.0, ${
              g.f1(`b[bR${s}_${c} + min(${k}, p.K - 1u) * p.bStrideK]`)
            }, bOk${s}_${c} && ${k} < p.K)`;
          });
          fetch.push(`    pb${s}_${c} = vec4<f32>(`, ...el.map((e) => `      ${e},`), `    );`);
        }
      }
      for (let kk = 0; kk < 4; kk++) {
        commit.push(
          `    Bs[(4u * bQ${s} + ${kk}u) * ${bn4}u + bN${s}] = ` +
            `vec4<f32>(pb${s}_0.${C[kk]}, pb${s}_1.${C[kk]}, pb${s}_2.${C[kk]}, pb${s}_3.${C[kk]});`,
        );
      }
    }
  }

  lines.push(...g.accDecl(), ...regs);
  lines.push(`  let numTiles = (p.K + ${bk - 1}u) / ${bk}u;`);
  lines.push("  if (numTiles > 0u) {", "    let k0 = 0u;", ...fetch, "  }");
  lines.push("  for (var t = 0u; t < numTiles; t += 1u) {");
  lines.push("    workgroupBarrier();", ...commit, "    workgroupBarrier();");
  lines.push(`    if (t + 1u < numTiles) {`, `      let k0 = (t + 1u) * ${bk}u;`);
  lines.push(...fetch.map((l) => "  " + l), "    }");
  // Multiply the slice in workgroup memory, 4 K steps at a time.
  const inner: string[] = [];
  const aval = (i: number, kk: number) => `a${kk}_${i >> 2}.${C[i & 3]}`;
  const bvec = (kk: number, j4: number) => `b${kk}_${j4}`;
  for (let kk = 0; kk < 4; kk++) {
    inner.push(
      `      let ka${kk} = (4u * kq + ${kk}u) * ${bm4}u;`,
      `      let kb${kk} = (4u * kq + ${kk}u) * ${bn4}u;`,
    );
    for (let i4 = 0; i4 < tm / 4; i4++) {
      inner.push(`      let a${kk}_${i4} = As[ka${kk} + ${g.rowGroup(`${i4}u`)}];`);
    }
    for (let j4 = 0; j4 < tn / 4; j4++) {
      inner.push(`      let b${kk}_${j4} = Bs[kb${kk} + ${g.colGroup(`${j4}u`)}];`);
    }
    inner.push(...g.fmas(1, (i) => aval(i, kk), (_, j4) => bvec(kk, j4), "      ", false));
  }
  lines.push(`    for (var kq = 0u; kq < ${bk4}u; kq += 1u) {`, ...inner, "    }", "  }");
  lines.push(...g.store());
  return { body: lines, aShared: bk * bm4, bShared: bk * bn4 };
}

/**
 * The WGSL of the kernel for `spec` (with `tile`, by default {@linkcode defaultMatmulTile}) and its
 * workgroup size. Bindings (group 0): `a` (0) and `b` (1) read-only storage arrays of the element type or
 * of its 4-vectors (`spec.vec4`), `out` (2) a read-write storage array of the element type, contiguous
 * [batch, M, N], and the uniform parameter block (3) of {@linkcode MATMUL_PARAM_WORDS} u32.
 */
export function matmulShader(
  spec: MatmulSpec,
  tile: MatmulTile = defaultMatmulTile(spec),
): { code: string; workgroupSize: [number, number, number] } {
  checkTile(spec, tile);
  const g = new Gen(spec, tile);
  let code: string;
  if (spec.variant === "register") {
    code = g.fill(registerTemplate, registerBody(g), {});
  } else {
    const { body, aShared, bShared } = workgroupBody(g);
    code = g.fill(workgroupTemplate, body, {
      "{{A_SHARED}}": String(aShared),
      "{{B_SHARED}}": String(bShared),
    });
  }
  return { code, workgroupSize: [tile.wgx, tile.wgy, 1] };
}

/**
 * Workgroup counts for an `M` x `N` output over `batch` matrices: (column blocks, row blocks, batch), or,
 * when a count exceeds 65535, the same linear grid folded over x, y and z (the kernel skips the spare
 * workgroups). Throws a RangeError when even the folded grid does not fit.
 */
export function matmulDispatch(
  spec: MatmulSpec,
  M: number,
  N: number,
  batch: number,
  tile: MatmulTile = defaultMatmulTile(spec),
): [number, number, number] {
  checkTile(spec, tile);
  for (const [name, v] of [["M", M], ["N", N], ["batch", batch]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`matmul: ${name} must be a non-negative integer, got ${v}`);
    }
  }
  const bm = tile.tm * tile.wgy, bn = tile.tn * tile.wgx;
  const gx = Math.ceil(N / bn);
  const gy = Math.ceil(M / bm);
  const total = gx * gy * batch;
  const tooLarge = () =>
    new RangeError(
      `matmul of shape [batch ${batch}, M ${M}, N ${N}] needs ${total} workgroups of ${bm} x ${bn} outputs: ` +
        `more than one WebGPU dispatch can address (the kernel's linear workgroup index is a u32)`,
    );
  if (total > 0xffffffff) throw tooLarge();
  if (gx <= MAX_GROUPS && gy <= MAX_GROUPS && batch <= MAX_GROUPS) return [gx, gy, batch];
  // Fold the linear grid: x * y * z >= total; the kernel skips workgroups past the last batch.
  const x = Math.min(total, MAX_GROUPS);
  let y = Math.ceil(total / x);
  let z = 1;
  if (y > MAX_GROUPS) {
    z = Math.ceil(y / MAX_GROUPS);
    y = MAX_GROUPS;
  }
  if (z > MAX_GROUPS || x * y * z > 0xffffffff) throw tooLarge();
  return [x, y, z];
}
