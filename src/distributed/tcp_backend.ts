/**
 * The built-in `"tcp"` backend: a rendezvous through a store on rank 0 (`MASTER_ADDR:MASTER_PORT`), then a
 * ring of TCP connections (each rank sends to rank+1 and receives from rank-1). All-reduce is the ring
 * algorithm: a reduce-scatter then an all-gather, N-1 steps each, every step moving 1/N of the data; the
 * received bytes are reduced segment by segment while the rest is still arriving. Broadcast is a pipelined
 * chain along the ring, all-gather is the ring's second half.
 *
 * Every message carries a header (magic, collective, sequence number, byte length), so ranks that call
 * different collectives, or the same one with different sizes, fail with an error instead of desyncing.
 * A closed connection is reported naming the peer rank; every collective has a deadline.
 * @module
 */
import {
  bytesOf,
  DistributedError,
  reduceInto,
  type ReduceOp,
  type ReducibleArray,
  type Transport,
  withTimeout,
} from "./transport.ts";

const MAGIC = 0x44524744; // "DGRD"
/** Bytes reduced at a time while the rest of a ring step is still arriving. */
const SEGMENT_BYTES = 1 << 20;
const COLLECTIVES = ["", "allReduce", "broadcast", "allGather", "barrier"] as const;
type Collective = Exclude<(typeof COLLECTIVES)[number], "">;

/** Options of {@linkcode TcpTransport.connect}. */
export interface TcpConnectOptions {
  /** This process's rank. */
  rank: number;
  /** Number of processes. */
  worldSize: number;
  /** Host of rank 0's store. */
  masterAddr: string;
  /** Port of rank 0's store. */
  masterPort: number;
  /** Deadline of the rendezvous in ms. */
  timeoutMs: number;
}

/** One direction of the ring: a connection to or from a peer rank. */
class Link {
  #closed = false;
  constructor(readonly conn: Deno.TcpConn, readonly peer: number) {}

  async readExact(dst: Uint8Array, during: string): Promise<void> {
    let off = 0;
    while (off < dst.length) {
      let n: number | null;
      try {
        n = await this.conn.read(dst.subarray(off));
      } catch (e) {
        throw this.#lost(during, e as Error);
      }
      if (n === null) throw this.#lost(during);
      off += n;
    }
  }

  async writeAll(src: Uint8Array, during: string): Promise<void> {
    let off = 0;
    while (off < src.length) {
      try {
        off += await this.conn.write(src.subarray(off));
      } catch (e) {
        throw this.#lost(during, e as Error);
      }
    }
  }

  #lost(during: string, cause?: Error): DistributedError {
    const why = this.#closed
      ? "the connection was closed here"
      : "it exited, crashed, or gave up after an error of its own";
    return new DistributedError(
      `rank ${this.peer} closed its connection during ${during} (${why}${cause ? `: ${cause.message}` : ""})`,
      this.peer,
      { cause },
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

function header(op: Collective, seq: number, bytes: number): Uint8Array {
  const h = new Uint32Array([MAGIC, COLLECTIVES.indexOf(op), seq >>> 0, bytes]);
  return bytesOf(h);
}

/** Chunk `i` of `n` elements split in `parts`: [start, end) (sizes differ by at most one element). */
function chunk(n: number, parts: number, i: number): [number, number] {
  return [Math.floor((i * n) / parts), Math.floor(((i + 1) * n) / parts)];
}

/** The `"tcp"` backend: a ring of TCP connections set up through rank 0's store. */
export class TcpTransport implements Transport {
  /** Always "tcp". */
  readonly backend = "tcp" as const;
  #next: Link | null;
  #prev: Link | null;
  #seq = 0;
  #broken: Error | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  /** Peers this rank is waiting on right now (for timeout messages). */
  #waitingRecv: number | null = null;
  #waitingSend: number | null = null;

  private constructor(
    readonly rank: number,
    readonly worldSize: number,
    next: Link | null,
    prev: Link | null,
  ) {
    this.#next = next;
    this.#prev = prev;
  }

  /**
   * Joins the group: rank 0 serves the store on `masterAddr:masterPort`; every rank registers its own
   * listening address there, receives everyone's, connects to rank+1 and accepts rank-1.
   */
  static async connect(opts: TcpConnectOptions): Promise<TcpTransport> {
    const { rank, worldSize, masterAddr, masterPort, timeoutMs } = opts;
    if (worldSize === 1) return new TcpTransport(rank, worldSize, null, null);
    const deadline = Date.now() + timeoutMs;
    let store: Promise<void> | null = null;
    let storeListener: Deno.TcpListener | null = null;
    if (rank === 0) {
      try {
        storeListener = Deno.listen({ hostname: masterAddr, port: masterPort, transport: "tcp" });
      } catch (e) {
        throw new DistributedError(
          `rank 0 can't serve the rendezvous store on ${masterAddr}:${masterPort} (${
            (e as Error).message
          }); set MASTER_PORT to a free port`,
        );
      }
      store = serveStore(storeListener, worldSize, deadline);
    }
    let ringListener: Deno.TcpListener | null = null;
    const links: Link[] = [];
    try {
      const storeConn = await connectRetry(masterAddr, masterPort, deadline, () =>
        new DistributedError(
          `rank ${rank}: the rendezvous store of rank 0 at ${masterAddr}:${masterPort} did not answer within ` +
            `${timeoutMs} ms (is rank 0 running, with the same MASTER_ADDR and MASTER_PORT?)`,
          0,
        ));
      // listen on the interface that reaches the store, so peers on other hosts can reach this rank too
      const host = (storeConn.localAddr as Deno.NetAddr).hostname;
      ringListener = Deno.listen({ hostname: host, port: 0, transport: "tcp" });
      const port = (ringListener.addr as Deno.NetAddr).port;
      const reply = await withTimeout(
        exchangeLine(storeConn, { rank, worldSize, host, port }),
        Math.max(1, deadline - Date.now()),
        () => {
          storeConn.close();
          return new DistributedError(
            `rank ${rank}: rendezvous timed out after ${timeoutMs} ms waiting for the other ranks to join`,
          );
        },
      ).finally(() => {
        try {
          storeConn.close();
        } catch { /* closed */ }
      });
      if (typeof reply.error === "string") throw new DistributedError(reply.error);
      const peers = reply.peers as { host: string; port: number }[];
      const nextRank = (rank + 1) % worldSize;
      const prevRank = (rank - 1 + worldSize) % worldSize;
      const listener = ringListener;
      const [next, prev] = await withTimeout(
        Promise.all([
          (async () => {
            const c = await connectRetry(
              peers[nextRank].host,
              peers[nextRank].port,
              deadline,
              () => new DistributedError(`rank ${rank}: could not connect to rank ${nextRank}`, nextRank),
            );
            c.setNoDelay(true);
            const l = new Link(c, nextRank);
            links.push(l);
            await l.writeAll(bytesOf(new Int32Array([MAGIC, rank, worldSize])), "the ring setup");
            return l;
          })(),
          (async () => {
            const c = await listener.accept() as Deno.TcpConn;
            c.setNoDelay(true);
            const l = new Link(c, prevRank);
            links.push(l);
            const hello = new Int32Array(3);
            await l.readExact(bytesOf(hello), "the ring setup");
            if (hello[0] !== MAGIC || hello[1] !== prevRank || hello[2] !== worldSize) {
              throw new DistributedError(
                `rank ${rank}: expected rank ${prevRank} of ${worldSize} to connect, got a connection saying ` +
                  `rank ${hello[1]} of ${hello[2]}`,
              );
            }
            return l;
          })(),
        ]),
        Math.max(1, deadline - Date.now()),
        () => {
          for (const l of links) l.close();
          ringListener?.close();
          return new DistributedError(
            `rank ${rank}: ring setup timed out after ${timeoutMs} ms (rank ${nextRank} or ${prevRank} ` +
              `did not connect)`,
          );
        },
      );
      await store;
      return new TcpTransport(rank, worldSize, next, prev);
    } catch (e) {
      for (const l of links) l.close();
      try {
        storeListener?.close();
      } catch { /* closed */ }
      await store?.catch(() => {});
      throw e;
    } finally {
      try {
        ringListener?.close();
      } catch { /* closed */ }
    }
  }

  /** Runs collectives one at a time, in call order (every rank must call them in the same order). */
  #run(op: Collective, timeoutMs: number, work: (seq: number) => Promise<void>): Promise<void> {
    const task = this.#queue.then(async () => {
      if (this.#broken) {
        throw new DistributedError(
          `${op}: the process group is broken by an earlier failure (${this.#broken.message})`,
        );
      }
      const seq = ++this.#seq;
      try {
        await withTimeout(work(seq), timeoutMs, () => {
          const who = this.#waitingRecv ?? this.#waitingSend;
          const err = new DistributedError(
            `${op} #${seq} timed out after ${timeoutMs} ms waiting for rank ${who} ` +
              `(it died, hangs, or has not called ${op})`,
            who,
          );
          this.#fail(err);
          return err;
        });
      } catch (e) {
        this.#fail(e as Error);
        throw e;
      } finally {
        this.#waitingRecv = this.#waitingSend = null;
      }
    });
    this.#queue = task.catch(() => {});
    return task;
  }

  #fail(e: Error): void {
    this.#broken ??= e;
    this.#next?.close();
    this.#prev?.close();
  }

  async #send(op: Collective, seq: number, payload: Uint8Array): Promise<void> {
    const next = this.#next!;
    this.#waitingSend = next.peer;
    const during = `${op} #${seq}`;
    await next.writeAll(header(op, seq, payload.length), during);
    await next.writeAll(payload, during);
    this.#waitingSend = null;
  }

  /** Reads a message header from rank-1 and checks it is the expected collective and size. */
  async #recvHeader(op: Collective, seq: number, bytes: number): Promise<void> {
    const prev = this.#prev!;
    this.#waitingRecv = prev.peer;
    const h = new Uint32Array(4);
    await prev.readExact(bytesOf(h), `${op} #${seq}`);
    if (h[0] !== MAGIC) {
      throw new DistributedError(`${op} #${seq}: rank ${prev.peer} sent a corrupt message`, prev.peer);
    }
    const theirs = COLLECTIVES[h[1]] ?? `collective ${h[1]}`;
    if (theirs !== op || h[2] !== seq >>> 0) {
      throw new DistributedError(
        `collective mismatch: rank ${prev.peer} is in ${theirs} #${h[2]} while rank ${this.rank} is in ` +
          `${op} #${seq} (every rank must call the same collectives in the same order)`,
        prev.peer,
      );
    }
    if (h[3] !== bytes) {
      throw new DistributedError(
        `${op} #${seq}: rank ${prev.peer} sent ${h[3]} bytes where rank ${this.rank} expected ${bytes} ` +
          `(the tensors differ in size between ranks)`,
        prev.peer,
      );
    }
  }

  /** Receives `dst.length` bytes (after the header) from rank-1. */
  async #recv(op: Collective, seq: number, dst: Uint8Array): Promise<void> {
    await this.#recvHeader(op, seq, dst.length);
    await this.#prev!.readExact(dst, `${op} #${seq}`);
    this.#waitingRecv = null;
  }

  /** Ring all-reduce: reduce-scatter, then all-gather. */
  allReduce(buf: ReducibleArray, op: ReduceOp, timeoutMs: number): Promise<void> {
    return this.#run("allReduce", timeoutMs, async (seq) => {
      const N = this.worldSize;
      if (N > 1) {
        const r = this.rank;
        const n = buf.length;
        const el = buf.BYTES_PER_ELEMENT;
        const segEls = Math.max(1, Math.floor(SEGMENT_BYTES / el));
        const tmp = new (buf.constructor as { new (n: number): ReducibleArray })(Math.min(segEls, n));
        const tmpBytes = bytesOf(tmp);
        const prev = this.#prev!;
        const during = `allReduce #${seq}`;
        // reduce-scatter: after step s, chunk (r - s - 1) holds the sum of s + 2 ranks
        for (let s = 0; s < N - 1; s++) {
          const [a0, a1] = chunk(n, N, (r - s + N) % N);
          const [b0, b1] = chunk(n, N, (r - s - 1 + 2 * N) % N);
          const recv = async () => {
            await this.#recvHeader("allReduce", seq, (b1 - b0) * el);
            for (let i = b0; i < b1; i += segEls) {
              const m = Math.min(segEls, b1 - i);
              await prev.readExact(tmpBytes.subarray(0, m * el), during);
              reduceInto(buf.subarray(i, i + m), tmp.subarray(0, m), op);
            }
            this.#waitingRecv = null;
          };
          await Promise.all([this.#send("allReduce", seq, bytesOf(buf.subarray(a0, a1))), recv()]);
        }
        // all-gather: pass the finished chunks around the ring
        for (let s = 0; s < N - 1; s++) {
          const [a0, a1] = chunk(n, N, (r + 1 - s + N) % N);
          const [b0, b1] = chunk(n, N, (r - s + N) % N);
          await Promise.all([
            this.#send("allReduce", seq, bytesOf(buf.subarray(a0, a1))),
            this.#recv("allReduce", seq, bytesOf(buf.subarray(b0, b1))),
          ]);
        }
      }
      if (op === "avg") { for (let i = 0; i < buf.length; i++) buf[i] /= N; }
    });
  }

  /** Pipelined chain from `src` along the ring. */
  broadcast(buf: Uint8Array, src: number, timeoutMs: number): Promise<void> {
    return this.#run("broadcast", timeoutMs, async (seq) => {
      const N = this.worldSize;
      if (N === 1) return;
      const during = `broadcast #${seq}`;
      const forward = (this.rank + 1) % N !== src;
      if (this.rank === src) {
        await this.#send("broadcast", seq, buf);
        return;
      }
      await this.#recvHeader("broadcast", seq, buf.length);
      if (forward) {
        this.#waitingSend = this.#next!.peer;
        await this.#next!.writeAll(header("broadcast", seq, buf.length), during);
      }
      let writing: Promise<void> = Promise.resolve();
      for (let i = 0; i < buf.length; i += SEGMENT_BYTES) {
        const seg = buf.subarray(i, Math.min(buf.length, i + SEGMENT_BYTES));
        await this.#prev!.readExact(seg, during);
        if (forward) writing = writing.then(() => this.#next!.writeAll(seg, during));
      }
      this.#waitingRecv = null;
      await writing;
    });
  }

  /** Ring all-gather: each rank's block travels N-1 hops. */
  allGather(buf: Uint8Array, out: Uint8Array, timeoutMs: number): Promise<void> {
    return this.#run("allGather", timeoutMs, async (seq) => {
      const N = this.worldSize;
      const b = buf.length;
      if (out.length !== b * N) {
        throw new RangeError(`allGather: the output holds ${out.length} bytes, expected ${b * N}`);
      }
      out.set(buf, this.rank * b);
      const r = this.rank;
      for (let s = 0; s < N - 1; s++) {
        const a = (r - s + N) % N;
        const c = (r - s - 1 + N) % N;
        await Promise.all([
          this.#send("allGather", seq, out.subarray(a * b, (a + 1) * b)),
          this.#recv("allGather", seq, out.subarray(c * b, (c + 1) * b)),
        ]);
      }
    });
  }

  /** A one-element all-reduce: it completes only when every rank has sent. */
  barrier(timeoutMs: number): Promise<void> {
    return this.#run("barrier", timeoutMs, async (seq) => {
      const N = this.worldSize;
      if (N === 1) return;
      // two laps of a token around the ring: after the first every rank has arrived; the second tells them
      const token = new Uint8Array(1);
      for (let lap = 0; lap < 2; lap++) {
        if (this.rank === 0) {
          await this.#send("barrier", seq, token);
          await this.#recv("barrier", seq, token);
        } else {
          await this.#recv("barrier", seq, token);
          await this.#send("barrier", seq, token);
        }
      }
    });
  }

  /** Closes the ring (after the pending collectives). */
  async close(): Promise<void> {
    await this.#queue;
    this.#broken ??= new DistributedError("the process group was destroyed");
    this.#next?.close();
    this.#prev?.close();
  }
}

// ---------------------------------------------------------------- rendezvous

async function connectRetry(
  hostname: string,
  port: number,
  deadline: number,
  onTimeout: () => Error,
): Promise<Deno.TcpConn> {
  for (;;) {
    try {
      return await Deno.connect({ hostname, port, transport: "tcp" });
    } catch (e) {
      if (!(e instanceof Deno.errors.ConnectionRefused) && !(e instanceof Deno.errors.ConnectionReset)) {
        throw new DistributedError(`could not connect to ${hostname}:${port} (${(e as Error).message})`);
      }
      if (Date.now() >= deadline) throw onTimeout();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function readLine(conn: Deno.Conn): Promise<Record<string, unknown> | null> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return null;
    const nl = buf.subarray(0, n).indexOf(10);
    parts.push(buf.slice(0, nl < 0 ? n : nl));
    if (nl >= 0) break;
    if (parts.length > 256) throw new DistributedError("rendezvous: a message longer than 1 MB");
  }
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  try {
    return JSON.parse(new TextDecoder().decode(all));
  } catch {
    throw new DistributedError("rendezvous: a peer sent something that is not a denograd message");
  }
}

async function writeLine(conn: Deno.Conn, msg: unknown): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify(msg) + "\n");
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

async function exchangeLine(conn: Deno.Conn, msg: unknown): Promise<Record<string, unknown>> {
  await writeLine(conn, msg);
  const reply = await readLine(conn);
  if (!reply) throw new DistributedError("rendezvous: rank 0's store closed the connection", 0);
  return reply;
}

/** Rank 0's store: collects every rank's address, then sends the table to all (or an error naming why). */
async function serveStore(listener: Deno.TcpListener, worldSize: number, deadline: number): Promise<void> {
  const conns = new Map<number, Deno.Conn>();
  const peers: { host: string; port: number }[] = new Array(worldSize);
  const others: Deno.Conn[] = [];
  let error: string | null = null;
  const timer = setTimeout(() => {
    const missing = [...Array(worldSize).keys()].filter((r) => !conns.has(r));
    error =
      `rendezvous timed out: rank${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of ${worldSize} ` +
      `never joined the store of rank 0`;
    listener.close();
  }, Math.max(1, deadline - Date.now()));
  try {
    while (conns.size < worldSize && !error) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        break; // closed by the timer
      }
      const msg = await readLine(conn).catch(() => null);
      if (!msg) {
        conn.close();
        continue;
      }
      const r = msg.rank as number;
      if (msg.worldSize !== worldSize) {
        error = `rank ${r} was started with WORLD_SIZE=${msg.worldSize}, rank 0 with ${worldSize}`;
        others.push(conn);
        break;
      }
      if (!Number.isInteger(r) || r < 0 || r >= worldSize || conns.has(r)) {
        error = `two processes claim rank ${r} (or it is out of range for world size ${worldSize}); ` +
          `every process needs its own RANK`;
        others.push(conn);
        break;
      }
      conns.set(r, conn);
      peers[r] = { host: msg.host as string, port: msg.port as number };
    }
  } finally {
    clearTimeout(timer);
    try {
      listener.close();
    } catch { /* closed */ }
  }
  const reply = error ? { error } : { peers };
  await Promise.all([...conns.values(), ...others].map(async (c) => {
    try {
      await writeLine(c, reply);
    } catch { /* that rank is gone; it reports its own error */ }
    try {
      c.close();
    } catch { /* closed */ }
  }));
  if (error) throw new DistributedError(error);
}
