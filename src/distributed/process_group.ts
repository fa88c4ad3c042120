/**
 * The default process group: `initProcessGroup` joins the other processes (PyTorch's environment
 * conventions: `MASTER_ADDR`, `MASTER_PORT`, `RANK`, `WORLD_SIZE`, `LOCAL_RANK`), and the collectives
 * (`allReduce`, `broadcast`, `allGather`, `barrier`) work on tensors of any device: a WebGPU tensor is read
 * back once, communicated, and uploaded into the same tensor.
 * @module
 */
import { envVar } from "../backend/registry.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { tensor as makeTensor } from "../tensor/creation.ts";
import type { TypedArray } from "../tensor/dtype.ts";
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { TcpTransport } from "./tcp_backend.ts";
import {
  type BackendName,
  bytesOf,
  DistributedError,
  REDUCE_OPS,
  type ReduceOp,
  type ReducibleArray,
  type Transport,
} from "./transport.ts";

/** Options of {@linkcode initProcessGroup}; each falls back to the environment the launcher sets. */
export interface InitProcessGroupOptions {
  /**
   * `"tcp"` (built in: a ring of TCP connections) or `"mpi"` (Open MPI's `libmpi.so.40` through Deno's FFI,
   * for processes started by `mpirun`). Default: "mpi" under mpirun (`OMPI_COMM_WORLD_SIZE` is set), else
   * "tcp".
   */
  backend?: BackendName;
  /** This process's rank, 0 ≤ rank < worldSize (default: `RANK`; mpi: MPI's rank). */
  rank?: number;
  /** Number of processes (default: `WORLD_SIZE`; mpi: MPI's size). */
  worldSize?: number;
  /** `"env://"` (default: `MASTER_ADDR` and `MASTER_PORT`) or `"tcp://host:port"` (rank 0's store). */
  initMethod?: string;
  /** Deadline of the rendezvous and default deadline of every collective, in ms (default 300 000). */
  timeoutMs?: number;
}

/** Options of a collective. */
export interface CollectiveOptions {
  /** Deadline in ms (default: the group's `timeoutMs`). */
  timeoutMs?: number;
}

interface Group {
  transport: Transport;
  timeoutMs: number;
}

let group: Group | null = null;

/**
 * The default deadline of the rendezvous and of collectives: 5 minutes.
 *
 * @example
 * ```ts
 * import { distributed } from "../../mod.ts";
 * // a rank waits this long for the others before a collective throws a timeout error naming them
 * console.log(distributed.DEFAULT_TIMEOUT_MS / 60_000); // 5 (minutes)
 * ```
 */
export const DEFAULT_TIMEOUT_MS = 300_000;

function intFrom(what: string, given: number | undefined, env: string, fallback?: number): number {
  const raw = given ?? (envVar(env) !== undefined ? Number(envVar(env)) : fallback);
  if (raw === undefined) {
    throw new DistributedError(
      `initProcessGroup: ${what} is not given and the environment variable ${env} is not set ` +
        "(start the processes with `deno task launch --nproc N script.ts`, or pass it)",
    );
  }
  if (!Number.isInteger(raw) || raw < 0) {
    throw new DistributedError(`initProcessGroup: ${what} must be a non-negative integer, got ${raw}`);
  }
  return raw;
}

/**
 * Joins the default process group; every process of the job calls it once. With the `"tcp"` backend, rank
 * 0 serves a store on `MASTER_ADDR:MASTER_PORT` where the ranks exchange their addresses, then each rank
 * connects to the next one, forming a ring. With `"mpi"`, the processes were started by `mpirun` and MPI
 * provides rank and size.
 *
 * @example
 * ```ts
 * import { distributed, ones } from "../../mod.ts";
 * // run with: deno task launch --nproc 2 script.ts
 * await distributed.initProcessGroup({ backend: "tcp" });
 * const t = ones([4]);
 * await distributed.allReduce(t); // every rank now holds [2, 2, 2, 2]
 * await distributed.destroyProcessGroup();
 * ```
 */
export async function initProcessGroup(options: InitProcessGroupOptions = {}): Promise<void> {
  if (group) {
    throw new DistributedError(
      "initProcessGroup: the default process group is already initialized (call destroyProcessGroup first)",
    );
  }
  const backend = options.backend ?? (envVar("OMPI_COMM_WORLD_SIZE") !== undefined ? "mpi" : "tcp");
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) {
    throw new DistributedError(`initProcessGroup: timeoutMs must be positive, got ${timeoutMs}`);
  }
  let transport: Transport;
  if (backend === "mpi") {
    // loaded on demand: importing the library never needs libmpi or --allow-ffi
    const { MpiTransport } = await import("./mpi_backend.ts");
    transport = MpiTransport.init();
    if (options.rank !== undefined && options.rank !== transport.rank) {
      throw new DistributedError(
        `initProcessGroup: rank ${options.rank} was given, but MPI says ${transport.rank}`,
      );
    }
    if (options.worldSize !== undefined && options.worldSize !== transport.worldSize) {
      throw new DistributedError(
        `initProcessGroup: worldSize ${options.worldSize} was given, but MPI says ${transport.worldSize}`,
      );
    }
  } else if (backend === "tcp") {
    const worldSize = intFrom("worldSize", options.worldSize, "WORLD_SIZE");
    const rank = intFrom("rank", options.rank, "RANK");
    if (worldSize < 1 || rank >= worldSize) {
      throw new DistributedError(
        `initProcessGroup: rank ${rank} is out of range for world size ${worldSize}`,
      );
    }
    const init = options.initMethod ?? "env://";
    let masterAddr: string;
    let masterPort: number;
    if (init === "env://") {
      masterAddr = envVar("MASTER_ADDR") ?? "127.0.0.1";
      const p = envVar("MASTER_PORT");
      if (p === undefined && worldSize > 1) {
        throw new DistributedError(
          "initProcessGroup: MASTER_PORT is not set (initMethod env:// needs MASTER_ADDR and MASTER_PORT)",
        );
      }
      masterPort = Number(p ?? 0);
    } else {
      const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(init);
      if (!m) {
        throw new DistributedError(
          `initProcessGroup: initMethod must be "env://" or "tcp://host:port", got ${JSON.stringify(init)}`,
        );
      }
      masterAddr = m[1].replace(/^\[|\]$/g, "");
      masterPort = Number(m[2]);
    }
    if (!Number.isInteger(masterPort) || masterPort < 0 || masterPort > 65535) {
      throw new DistributedError(`initProcessGroup: invalid master port ${masterPort}`);
    }
    transport = await TcpTransport.connect({ rank, worldSize, masterAddr, masterPort, timeoutMs });
  } else {
    throw new DistributedError(
      `initProcessGroup: unknown backend ${JSON.stringify(backend)}: expected "tcp" or "mpi"`,
    );
  }
  group = { transport, timeoutMs };
}

function current(what: string): Group {
  if (!group) {
    throw new DistributedError(
      `${what}: the default process group is not initialized; call initProcessGroup() first`,
    );
  }
  return group;
}

/**
 * Whether {@linkcode initProcessGroup} has run (and {@linkcode destroyProcessGroup} has not).
 *
 * @example
 * ```ts
 * import { distributed } from "../../mod.ts";
 * if (!distributed.isInitialized()) console.log("single process");
 * ```
 */
export function isInitialized(): boolean {
  return group !== null;
}

/**
 * This process's rank in the default group (it throws when the group is not initialized, as PyTorch does).
 *
 * @example
 * ```ts
 * import { distributed } from "../../mod.ts";
 * if (distributed.isInitialized() && distributed.getRank() === 0) console.log("I log");
 * ```
 */
export function getRank(): number {
  return current("getRank").transport.rank;
}

/**
 * Number of processes in the default group.
 *
 * @example
 * ```ts
 * import { distributed } from "../../mod.ts";
 * const n = distributed.isInitialized() ? distributed.getWorldSize() : 1;
 * ```
 */
export function getWorldSize(): number {
  return current("getWorldSize").transport.worldSize;
}

/**
 * The rank of this process on its machine (`LOCAL_RANK`, or Open MPI's local rank; 0 when neither is set):
 * the index to pick a device by.
 *
 * @example
 * ```ts
 * import { distributed } from "../../mod.ts";
 * const local = distributed.getLocalRank();
 * ```
 */
export function getLocalRank(): number {
  const v = envVar("LOCAL_RANK") ?? envVar("OMPI_COMM_WORLD_LOCAL_RANK");
  return v === undefined ? 0 : Number(v);
}

/**
 * The backend of the default group: "tcp" or "mpi".
 *
 * @example
 * ```ts
 * import { distributed } from "../../mod.ts";
 * if (distributed.isInitialized()) console.log(distributed.getBackend());
 * ```
 */
export function getBackend(): BackendName {
  return current("getBackend").transport.backend;
}

/**
 * Leaves the group: waits for pending collectives, closes the connections (MPI: `MPI_Finalize`).
 *
 * @example
 * ```ts
 * import { distributed } from "../../mod.ts";
 * if (distributed.isInitialized()) await distributed.destroyProcessGroup();
 * ```
 */
export async function destroyProcessGroup(): Promise<void> {
  const g = current("destroyProcessGroup");
  group = null;
  await g.transport.close();
}

/** Internal: the default group's transport and deadline (for DistributedDataParallel). */
export function defaultGroup(what: string): { transport: Transport; timeoutMs: number } {
  return current(what);
}

function checkTensor(t: unknown, what: string): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${what}: expected a Tensor, got ${typeof t}`);
  t.checkLive(what);
  return t;
}

/** Writes host values back into `t` in place (uploading when `t` lives on WebGPU). */
function writeBack(t: Tensor, values: TypedArray): void {
  noGrad(() => {
    using src = makeTensor(values, { shape: t.shape, device: t.device });
    t.copy_(src);
  });
}

/**
 * Reduces `tensor` across all ranks, in place, like `torch.distributed.all_reduce`: every rank ends with
 * the sum (or product, min, max, or average with "avg") of every rank's values. float32, float16 (reduced
 * in float32) and int32 tensors. Returns the tensor.
 *
 * @example
 * ```ts
 * import { distributed, tensor } from "../../mod.ts";
 * const t = tensor([distributed.getRank() + 1]);
 * await distributed.allReduce(t, "sum"); // [1 + 2 + ... + worldSize] on every rank
 * ```
 */
export async function allReduce(
  tensor: Tensor,
  op: ReduceOp = "sum",
  options: CollectiveOptions = {},
): Promise<Tensor> {
  const g = current("allReduce");
  checkTensor(tensor, "allReduce");
  if (!REDUCE_OPS.includes(op)) {
    throw new RangeError(
      `allReduce: unknown op ${JSON.stringify(op)}: expected one of ${REDUCE_OPS.join(", ")}`,
    );
  }
  if (tensor.dtype === "bool") {
    throw new TypeError("allReduce: bool tensors can't be reduced; cast them to int32");
  }
  if (op === "avg" && tensor.dtype === "int32") {
    throw new TypeError('allReduce: op "avg" needs a floating point tensor (this one is int32)');
  }
  const data = await tensor.data();
  const host: ReducibleArray = data instanceof Float32Array || data instanceof Int32Array
    ? data
    : Float32Array.from(data as Float16Array);
  await g.transport.allReduce(host, op, options.timeoutMs ?? g.timeoutMs);
  writeBack(tensor, host);
  return tensor;
}

/**
 * Copies `tensor` of rank `src` into `tensor` on every rank, in place (`torch.distributed.broadcast`).
 * Returns the tensor.
 *
 * @example
 * ```ts
 * import { distributed, randn } from "../../mod.ts";
 * const w = randn([3, 3]);
 * await distributed.broadcast(w, 0); // every rank now holds rank 0's values
 * ```
 */
export async function broadcast(tensor: Tensor, src = 0, options: CollectiveOptions = {}): Promise<Tensor> {
  const g = current("broadcast");
  checkTensor(tensor, "broadcast");
  checkRank(src, g.transport.worldSize, "broadcast: src");
  const data = await tensor.data();
  await g.transport.broadcast(bytesOf(data), src, options.timeoutMs ?? g.timeoutMs);
  if (g.transport.rank !== src) writeBack(tensor, data);
  return tensor;
}

/**
 * Gathers `tensor` from every rank into `outList` (rank r's values copied into `outList[r]`), like
 * `torch.distributed.all_gather`. Every tensor must have `tensor`'s shape and dtype; `outList` has one per
 * rank.
 *
 * @example
 * ```ts
 * import { distributed, tensor, zeros } from "../../mod.ts";
 * const n = distributed.getWorldSize();
 * const out = Array.from({ length: n }, () => zeros([2]));
 * await distributed.allGather(out, tensor([distributed.getRank(), 0.5]));
 * ```
 */
export async function allGather(
  outList: Tensor[],
  tensor: Tensor,
  options: CollectiveOptions = {},
): Promise<Tensor[]> {
  const g = current("allGather");
  checkTensor(tensor, "allGather");
  const n = g.transport.worldSize;
  if (!Array.isArray(outList) || outList.length !== n) {
    throw new RangeError(
      `allGather: outList must hold one tensor per rank (${n}), got ${
        Array.isArray(outList) ? outList.length : typeof outList
      }`,
    );
  }
  outList.forEach((o, r) => {
    checkTensor(o, `allGather: outList[${r}]`);
    if (
      o.dtype !== tensor.dtype || o.shape.length !== tensor.shape.length ||
      o.shape.some((d, i) => d !== tensor.shape[i])
    ) {
      throw new RangeError(
        `allGather: outList[${r}] is ${o.dtype} ${fmtShape(o.shape)} but the input is ${tensor.dtype} ` +
          `${fmtShape(tensor.shape)}`,
      );
    }
  });
  const data = await tensor.data();
  const bytes = bytesOf(data);
  const out = new Uint8Array(bytes.length * n);
  await g.transport.allGather(bytes, out, options.timeoutMs ?? g.timeoutMs);
  const Ctor = data.constructor as { new (b: ArrayBuffer, o: number, n: number): TypedArray };
  outList.forEach((o, r) => writeBack(o, new Ctor(out.buffer, r * bytes.length, data.length)));
  return outList;
}

/**
 * Waits until every rank has called `barrier()`.
 *
 * @example
 * ```ts
 * import { distributed } from "../../mod.ts";
 * await distributed.barrier(); // e.g. after rank 0 wrote a file the others read
 * ```
 */
export async function barrier(options: CollectiveOptions = {}): Promise<void> {
  const g = current("barrier");
  await g.transport.barrier(options.timeoutMs ?? g.timeoutMs);
}

function checkRank(r: number, n: number, what: string): void {
  if (!Number.isInteger(r) || r < 0 || r >= n) {
    throw new RangeError(`${what} must be a rank in [0, ${n}), got ${r}`);
  }
}
