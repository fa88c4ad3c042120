/**
 * The `"mpi"` backend: Open MPI's `libmpi.so.40` driven through Deno's FFI, with no C shim. Open MPI's
 * handles (`MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`...) are the addresses of its predefined globals
 * (`ompi_mpi_comm_world`...), found with libc's `dlsym`. Collectives are `nonblocking` FFI calls: they run
 * on a worker thread while the event loop goes on, one at a time (`MPI_THREAD_SERIALIZED`).
 *
 * Start the processes with `mpirun -np N deno run -A script.ts` (as root, set `OMPI_ALLOW_RUN_AS_ROOT=1
 * OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`). Set `DENOGRAD_LIBMPI` to load another libmpi. MPI can't name the rank
 * at fault when a collective times out; mpirun itself names a rank that exited with an error and stops the
 * others.
 * @module
 */
import { envVar } from "../backend/registry.ts";
import {
  DistributedError,
  type ReduceOp,
  type ReducibleArray,
  type Transport,
  withTimeout,
} from "./transport.ts";

const RTLD_NOW = 2;
const RTLD_GLOBAL = 0x100;
const MPI_THREAD_SERIALIZED = 2;

const MPI_SYMBOLS = {
  MPI_Init_thread: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  MPI_Initialized: { parameters: ["buffer"], result: "i32" },
  MPI_Finalize: { parameters: [], result: "i32" },
  MPI_Comm_rank: { parameters: ["pointer", "buffer"], result: "i32" },
  MPI_Comm_size: { parameters: ["pointer", "buffer"], result: "i32" },
  MPI_Allreduce: {
    parameters: ["pointer", "buffer", "i32", "pointer", "pointer", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  MPI_Bcast: { parameters: ["buffer", "i32", "pointer", "i32", "pointer"], result: "i32", nonblocking: true },
  MPI_Allgather: {
    parameters: ["buffer", "i32", "pointer", "buffer", "i32", "pointer", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  MPI_Barrier: { parameters: ["pointer"], result: "i32", nonblocking: true },
} as const;

type MpiLib = Deno.DynamicLibrary<typeof MPI_SYMBOLS>["symbols"];

const cstr = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s + "\0");

/** Addresses of Open MPI's predefined handles. */
interface Handles {
  comm: Deno.PointerValue;
  float: Deno.PointerValue;
  int: Deno.PointerValue;
  byte: Deno.PointerValue;
  sum: Deno.PointerValue;
  prod: Deno.PointerValue;
  min: Deno.PointerValue;
  max: Deno.PointerValue;
}

let loaded: { lib: MpiLib; h: Handles } | null = null;

function load(): { lib: MpiLib; h: Handles } {
  if (loaded) return loaded;
  const path = envVar("DENOGRAD_LIBMPI") ?? "libmpi.so.40";
  let libc: Deno.DynamicLibrary<{
    dlopen: { parameters: ["buffer", "i32"]; result: "pointer" };
    dlsym: { parameters: ["pointer", "buffer"]; result: "pointer" };
  }>;
  try {
    libc = Deno.dlopen("libc.so.6", {
      dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
      dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
    });
  } catch (e) {
    throw new DistributedError(
      `backend "mpi": can't use the FFI (${(e as Error).message}); run with --allow-ffi (or -A)`,
    );
  }
  // RTLD_GLOBAL: Open MPI's plugins resolve libmpi's symbols from the global namespace
  const handle = libc.symbols.dlopen(cstr(path), RTLD_NOW | RTLD_GLOBAL);
  if (handle === null) {
    throw new DistributedError(
      `backend "mpi": can't load ${path}; install Open MPI (Debian: apt-get install openmpi-bin libopenmpi3) ` +
        "or set DENOGRAD_LIBMPI to its libmpi.so",
    );
  }
  const sym = (name: string): Deno.PointerValue => {
    const p = libc.symbols.dlsym(handle, cstr(name));
    if (p === null) throw new DistributedError(`backend "mpi": ${path} lacks ${name} (is it Open MPI?)`);
    return p;
  };
  const h: Handles = {
    comm: sym("ompi_mpi_comm_world"),
    float: sym("ompi_mpi_float"),
    int: sym("ompi_mpi_int"),
    byte: sym("ompi_mpi_byte"),
    sum: sym("ompi_mpi_op_sum"),
    prod: sym("ompi_mpi_op_prod"),
    min: sym("ompi_mpi_op_min"),
    max: sym("ompi_mpi_op_max"),
  };
  const lib = Deno.dlopen(path, MPI_SYMBOLS).symbols;
  loaded = { lib, h };
  return loaded;
}

function check(rc: number, what: string): void {
  if (rc !== 0) throw new DistributedError(`${what} failed with MPI error code ${rc}`);
}

/** The `"mpi"` backend over `MPI_COMM_WORLD`. */
export class MpiTransport implements Transport {
  /** Always "mpi". */
  readonly backend = "mpi" as const;
  #queue: Promise<unknown> = Promise.resolve();
  #broken: Error | null = null;
  #seq = 0;

  private constructor(
    readonly rank: number,
    readonly worldSize: number,
    readonly lib: MpiLib,
    readonly h: Handles,
  ) {}

  /** Loads libmpi, initializes MPI (once per process) and reads rank and size of `MPI_COMM_WORLD`. */
  static init(): MpiTransport {
    const { lib, h } = load();
    const flag = new Int32Array(1);
    check(lib.MPI_Initialized(flag), "MPI_Initialized");
    if (!flag[0]) {
      const provided = new Int32Array(1);
      check(lib.MPI_Init_thread(null, null, MPI_THREAD_SERIALIZED, provided), "MPI_Init_thread");
      if (provided[0] < MPI_THREAD_SERIALIZED) {
        throw new DistributedError(
          `backend "mpi": this Open MPI provides thread level ${provided[0]}, and Deno's nonblocking FFI ` +
            "calls need MPI_THREAD_SERIALIZED",
        );
      }
    }
    const r = new Int32Array(1);
    const n = new Int32Array(1);
    check(lib.MPI_Comm_rank(h.comm, r), "MPI_Comm_rank");
    check(lib.MPI_Comm_size(h.comm, n), "MPI_Comm_size");
    return new MpiTransport(r[0], n[0], lib, h);
  }

  #run(op: string, timeoutMs: number, call: () => Promise<number>): Promise<void> {
    const task = this.#queue.then(async () => {
      if (this.#broken) {
        throw new DistributedError(
          `${op}: the MPI group is broken by an earlier failure (${this.#broken.message})`,
        );
      }
      const seq = ++this.#seq;
      try {
        const rc = await withTimeout(call(), timeoutMs, () =>
          new DistributedError(
            `${op} #${seq} timed out after ${timeoutMs} ms in MPI (a rank died or hangs; MPI can't say which: ` +
              "mpirun names a rank that exited)",
          ));
        check(rc, `${op} #${seq}`);
      } catch (e) {
        this.#broken ??= e as Error;
        throw e;
      }
    });
    this.#queue = task.catch(() => {});
    return task;
  }

  /** `MPI_Allreduce` in place (`MPI_IN_PLACE`). */
  allReduce(buf: ReducibleArray, op: ReduceOp, timeoutMs: number): Promise<void> {
    const { h } = this;
    const type = buf instanceof Float32Array ? h.float : h.int;
    const mop = op === "sum" || op === "avg"
      ? h.sum
      : op === "product"
      ? h.prod
      : op === "min"
      ? h.min
      : h.max;
    return this.#run(
      "allReduce",
      timeoutMs,
      () => this.lib.MPI_Allreduce(Deno.UnsafePointer.create(1n), buf, buf.length, type, mop, h.comm),
    ).then(() => {
      if (op === "avg") { for (let i = 0; i < buf.length; i++) buf[i] /= this.worldSize; }
    });
  }

  /** `MPI_Bcast` of bytes. */
  broadcast(buf: Uint8Array, src: number, timeoutMs: number): Promise<void> {
    return this.#run(
      "broadcast",
      timeoutMs,
      () => this.lib.MPI_Bcast(buf, buf.length, this.h.byte, src, this.h.comm),
    );
  }

  /** `MPI_Allgather` of bytes. */
  allGather(buf: Uint8Array, out: Uint8Array, timeoutMs: number): Promise<void> {
    if (out.length !== buf.length * this.worldSize) {
      throw new RangeError(
        `allGather: the output holds ${out.length} bytes, expected ${buf.length * this.worldSize}`,
      );
    }
    return this.#run(
      "allGather",
      timeoutMs,
      () => this.lib.MPI_Allgather(buf, buf.length, this.h.byte, out, buf.length, this.h.byte, this.h.comm),
    );
  }

  /** `MPI_Barrier`. */
  barrier(timeoutMs: number): Promise<void> {
    return this.#run("barrier", timeoutMs, () => this.lib.MPI_Barrier(this.h.comm));
  }

  /** `MPI_Finalize` (after the pending collectives). */
  async close(): Promise<void> {
    await this.#queue;
    if (this.#broken) return; // a collective may still be blocked in MPI: finalizing would hang
    this.#broken = new DistributedError("the process group was destroyed");
    check(this.lib.MPI_Finalize(), "MPI_Finalize");
  }
}
