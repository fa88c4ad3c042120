/**
 * What a communication backend implements: collectives over host arrays, with a deadline. The process group
 * (`process_group.ts`) turns tensors into host arrays and back; backends (`tcp_backend.ts`, `mpi_backend.ts`)
 * move bytes.
 * @module
 */

/** How {@linkcode allReduce} combines the ranks' values (PyTorch's `ReduceOp`). */
export type ReduceOp = "sum" | "avg" | "product" | "min" | "max";

/** The reduce ops, for validation. */
export const REDUCE_OPS: readonly ReduceOp[] = ["sum", "avg", "product", "min", "max"];

/** A host array a backend can reduce. */
export type ReducibleArray = Float32Array | Int32Array;

/** The name of a communication backend. */
export type BackendName = "tcp" | "mpi";

/**
 * The error a collective throws when a peer died, hung past the timeout, or called a different collective.
 * `rank` is the peer at fault when known.
 *
 * @example
 * ```ts
 * import { distributed } from "../../mod.ts";
 * try {
 *   // await distributed.allReduce(t);
 * } catch (e) {
 *   if (e instanceof distributed.DistributedError) console.error("peer", e.rank, e.message);
 * }
 * ```
 */
export class DistributedError extends Error {
  /** The peer rank at fault, when known. */
  readonly rank: number | null;
  /** An error naming what failed and, when known, the rank at fault. */
  constructor(message: string, rank: number | null = null, options?: ErrorOptions) {
    super(message, options);
    this.name = "DistributedError";
    this.rank = rank;
  }
}

/** One communication backend, bound to a rank of a group. */
export interface Transport {
  /** The backend's name. */
  readonly backend: BackendName;
  /** This process's rank. */
  readonly rank: number;
  /** Number of processes. */
  readonly worldSize: number;
  /** Reduces `buf` across ranks in place (`avg` divides the sum by the world size). */
  allReduce(buf: ReducibleArray, op: ReduceOp, timeoutMs: number): Promise<void>;
  /** Copies `buf` of rank `src` into every rank's `buf`. */
  broadcast(buf: Uint8Array, src: number, timeoutMs: number): Promise<void>;
  /** Gathers every rank's `buf` into `out` (rank r's bytes at offset r·buf.length). */
  allGather(buf: Uint8Array, out: Uint8Array, timeoutMs: number): Promise<void>;
  /** Returns when every rank has called it. */
  barrier(timeoutMs: number): Promise<void>;
  /** Closes connections (MPI: finalizes). */
  close(): Promise<void>;
}

/** Reduces `src` into `dst` elementwise with `op` ("avg" accumulates a sum). */
export function reduceInto(dst: ReducibleArray, src: ReducibleArray, op: ReduceOp): void {
  const n = dst.length;
  switch (op) {
    case "sum":
    case "avg":
      for (let i = 0; i < n; i++) dst[i] += src[i];
      break;
    case "product":
      for (let i = 0; i < n; i++) dst[i] *= src[i];
      break;
    case "min":
      for (let i = 0; i < n; i++) if (src[i] < dst[i] || src[i] !== src[i]) dst[i] = src[i];
      break;
    case "max":
      for (let i = 0; i < n; i++) if (src[i] > dst[i] || src[i] !== src[i]) dst[i] = src[i];
      break;
  }
}

/** Bytes of a typed array, as a Uint8Array over the same memory. */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Runs `work` with a deadline: when `timeoutMs` passes first, `onTimeout` is called (to close connections
 * and so abort the pending reads) and the error it returns is thrown.
 */
export async function withTimeout<T>(
  work: Promise<T>,
  timeoutMs: number,
  onTimeout: () => Error,
): Promise<T> {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) return await work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut: Error | null = null;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = onTimeout();
      reject(timedOut);
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } catch (e) {
    if (timedOut) {
      work.catch(() => {}); // the aborted work rejects too; the timeout is the error to report
      throw timedOut;
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
