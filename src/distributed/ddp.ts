/**
 * `DistributedDataParallel`: data-parallel training over the default process group, PyTorch's
 * `torch.nn.parallel.DistributedDataParallel` for a runtime whose `backward()` is synchronous.
 *
 * At construction rank 0's parameters and buffers are broadcast to every rank (`await ddp.ready`). The
 * parameters are grouped in buckets of about `bucketCapMb` (in reverse order, the order backward produces
 * their gradients); a post-accumulate-grad hook on each parameter starts the averaging all-reduce of a
 * bucket the moment its last gradient is accumulated. `backward()` can't wait for the network, so the one
 * explicit wait is `await ddp.syncGradients()` between `backward()` and `optimizer.step()`: it reduces the
 * buckets not started yet, waits for all, and broadcasts rank 0's buffers. A forward after a backward
 * whose gradients were never synchronized throws, rather than letting the ranks drift apart.
 *
 * What overlaps: a bucket's concatenation and its read-back are issued from inside backward (on WebGPU the
 * copy to a mappable buffer is queued behind the gradient kernels, while backward goes on encoding the rest);
 * the network traffic starts once backward has returned (JavaScript runs one thing at a time), and then the
 * buckets form a pipeline: one bucket is on the wire (for "mpi" on an FFI worker thread) while the next is read
 * back and the previous one is uploaded.
 * @module
 */
import { Module } from "../nn/module.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import type { RemovableHandle } from "../autograd/node.ts";
import { cat } from "../ops/join.ts";
import { tensor as makeTensor, zeros } from "../tensor/creation.ts";
import { keep } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { broadcast, defaultGroup } from "./process_group.ts";
import type { Transport } from "./transport.ts";

/** Options of {@linkcode DistributedDataParallel}. */
export interface DistributedDataParallelOptions {
  /** Size of a gradient bucket in MiB (default 25, as PyTorch). */
  bucketCapMb?: number;
  /** Broadcast rank 0's buffers (BatchNorm's running statistics...) at every `syncGradients()` (default true). */
  broadcastBuffers?: boolean;
  /** Deadline of each collective in ms (default: the process group's). */
  timeoutMs?: number;
}

interface Bucket {
  params: Tensor[];
  /** Parameters whose gradient of the current backward is accumulated. */
  ready: Set<Tensor>;
  /** The running reduction of this step, once started. */
  reduction: Promise<void> | null;
}

type ForwardOf<M> = M extends { forward(...args: infer A): infer R } ? (...args: A) => R : never;

/**
 * Wraps `module` for data-parallel training: every rank runs the same model on its own share of the data
 * (see {@linkcode DistributedSampler}), and gradients are averaged over the ranks, so every rank takes the
 * same optimizer step as one process with the whole batch would.
 *
 * @example
 * ```ts
 * import { distributed, nn, optim, randn } from "../../mod.ts";
 * await distributed.initProcessGroup(); // started by: deno task launch --nproc 2 train.ts
 * const ddp = new distributed.DistributedDataParallel(new nn.Linear(4, 1));
 * await ddp.ready; // rank 0's parameters everywhere
 * const opt = new optim.SGD(ddp.parameters(), { lr: 0.1 });
 * for (let step = 0; step < 10; step++) {
 *   opt.zeroGrad();
 *   const loss = ddp.forward(randn([8, 4])).square().mean();
 *   loss.backward(); // buckets start their all-reduce as their gradients arrive
 *   await ddp.syncGradients(); // the gradients are now averaged over the ranks
 *   opt.step();
 * }
 * ```
 */
export class DistributedDataParallel<M extends Module = Module> extends Module {
  /** The wrapped model (its state-dict keys get the prefix "module.", as in PyTorch). */
  declare module: M;
  #transport: Transport;
  #timeoutMs: number;
  #broadcastBuffers: boolean;
  #buckets: Bucket[] = [];
  #bucketOf = new Map<Tensor, Bucket>();
  #handles: RemovableHandle[] = [];
  #ready: Promise<void>;
  #isReady = false;
  #error: Error | null = null;
  #noSyncDepth = 0;
  /** A backward outside noSync produced gradients that syncGradients has not reduced yet. */
  #unsynced = false;

  /** Wraps `module`; starts broadcasting rank 0's parameters and buffers (`await ddp.ready`). */
  constructor(module: M, options: DistributedDataParallelOptions = {}) {
    super();
    if (!(module instanceof Module)) {
      throw new TypeError("DistributedDataParallel: expected an nn.Module to wrap");
    }
    const g = defaultGroup("DistributedDataParallel");
    this.#transport = g.transport;
    this.#timeoutMs = options.timeoutMs ?? g.timeoutMs;
    this.#broadcastBuffers = options.broadcastBuffers ?? true;
    const cap = options.bucketCapMb ?? 25;
    if (!(cap > 0)) throw new RangeError(`DistributedDataParallel: bucketCapMb must be positive, got ${cap}`);
    this.registerModule("module", module);
    this.#buildBuckets(cap * 2 ** 20);
    const ready = this.#broadcastState();
    ready.then(() => this.#isReady = true, (e) => this.#error ??= e);
    this.#ready = ready;
  }

  /** Resolves once every rank holds rank 0's parameters and buffers; forward() throws before. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** The buckets' parameter names, in reduction order (for inspection). */
  get bucketNames(): string[][] {
    const names = new Map<Tensor, string>();
    for (const [n, p] of this.module.namedParameters()) names.set(p, n);
    return this.#buckets.map((b) => b.params.map((p) => names.get(p) ?? "?"));
  }

  #buildBuckets(capBytes: number): void {
    const params = [...this.module.parameters()].filter((p) => p.requiresGrad).reverse();
    let cur: Bucket | null = null;
    let bytes = 0;
    for (const p of params) {
      const size = p.size * 4;
      const key = (t: Tensor) => `${t.device}/${t.dtype}`;
      if (!cur || bytes + size > capBytes && cur.params.length > 0 || key(cur.params[0]) !== key(p)) {
        cur = { params: [], ready: new Set(), reduction: null };
        this.#buckets.push(cur);
        bytes = 0;
      }
      cur.params.push(p);
      bytes += size;
      this.#bucketOf.set(p, cur);
      this.#handles.push(p.accumulateGrad().registerPostHook((t) => this.#onGradReady(t)));
    }
  }

  async #broadcastState(): Promise<void> {
    const opts = { timeoutMs: this.#timeoutMs };
    for (const p of this.module.parameters()) await broadcast(p, 0, opts);
    for (const b of this.module.buffers()) await broadcast(b, 0, opts);
  }

  #onGradReady(p: Tensor): void {
    if (this.#noSyncDepth > 0) return;
    const bucket = this.#bucketOf.get(p);
    if (!bucket) return;
    if (bucket.reduction) {
      throw new Error(
        "DistributedDataParallel: a second backward() reached a parameter whose gradients are already being " +
          "reduced; call `await ddp.syncGradients()` after each backward(), or run the earlier ones inside " +
          "ddp.noSync() to accumulate",
      );
    }
    this.#unsynced = true;
    bucket.ready.add(p);
    if (bucket.ready.size === bucket.params.length) this.#launch(bucket);
  }

  /** Starts the averaging all-reduce of a bucket: one read-back, one all-reduce, one upload. */
  #launch(bucket: Bucket): void {
    if (this.#transport.worldSize === 1) {
      bucket.reduction = Promise.resolve(); // the average over one rank is the gradient itself
      return;
    }
    const grads = noGrad(() =>
      bucket.params.map((p) => {
        if (p.grad === null || p.grad.isDisposed) {
          p.grad = keep(zeros(p.shape, { device: p.device, dtype: p.dtype }));
        }
        return p.grad;
      })
    );
    // the concatenation is made now, inside backward, and kept out of any tidy() scope around it
    const flat = keep(noGrad(() => {
      const views = grads.map((g) => g.reshape([g.size]));
      const c = cat(views);
      for (const v of views) v.dispose();
      return c;
    }));
    const run = async () => {
      try {
        const data = await flat.data();
        const host = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
        await this.#transport.allReduce(host, "avg", this.#timeoutMs);
        noGrad(() => {
          using src = makeTensor(host, { device: flat.device });
          let off = 0;
          for (const g of grads) {
            if (g.isDisposed) {
              throw new Error(
                "DistributedDataParallel: a gradient was replaced while its bucket was being reduced (another " +
                  "backward() ran before `await ddp.syncGradients()`)",
              );
            }
            using part = src.narrow(0, off, g.size);
            using view = part.reshape(g.shape);
            g.copy_(view);
            off += g.size;
          }
        });
      } finally {
        flat.dispose();
      }
    };
    const reduction = run();
    reduction.catch((e) => this.#error ??= e);
    bucket.reduction = reduction;
  }

  /**
   * Waits until the gradients of the last `backward()` are averaged over every rank: starts the buckets not
   * started yet (a parameter without a gradient on this rank counts as zeros), waits for all, then
   * broadcasts rank 0's buffers (with `broadcastBuffers`). Call it between `backward()` and
   * `optimizer.step()`; inside {@linkcode DistributedDataParallel.noSync} it does nothing.
   *
   * @example
   * ```ts
   * import { distributed, nn, randn } from "../../mod.ts";
   * const ddp = new distributed.DistributedDataParallel(new nn.Linear(2, 1));
   * await ddp.ready;
   * ddp.forward(randn([4, 2])).sum().backward();
   * await ddp.syncGradients();
   * ```
   */
  async syncGradients(): Promise<void> {
    await this.#ready;
    if (this.#noSyncDepth > 0) return;
    if (this.#unsynced) {
      for (const b of this.#buckets) if (!b.reduction) this.#launch(b);
      const all = this.#buckets.map((b) => b.reduction);
      for (const b of this.#buckets) {
        b.reduction = null;
        b.ready.clear();
      }
      this.#unsynced = false;
      try {
        await Promise.all(all);
      } catch (e) {
        this.#error ??= e as Error;
        throw e;
      }
    }
    if (this.#broadcastBuffers) {
      for (const b of this.module.buffers()) await broadcast(b, 0, { timeoutMs: this.#timeoutMs });
    }
  }

  /**
   * Runs the wrapped module's forward. Throws when `ready` has not resolved, when an earlier
   * synchronization failed, or when the gradients of the previous backward were never synchronized.
   */
  forward(...args: Parameters<ForwardOf<M>>): ReturnType<ForwardOf<M>> {
    if (this.#error) {
      throw new Error(`DistributedDataParallel: an earlier synchronization failed: ${this.#error.message}`, {
        cause: this.#error,
      });
    }
    if (!this.#isReady) {
      throw new Error(
        "DistributedDataParallel: forward() before the initial broadcast of rank 0's parameters finished; " +
          "`await ddp.ready` first",
      );
    }
    if (this.#unsynced) {
      throw new Error(
        "DistributedDataParallel: the gradients of the previous backward() were never synchronized across " +
          "ranks; call `await ddp.syncGradients()` after backward() and before optimizer.step() (or run the " +
          "forward and backward inside ddp.noSync() to accumulate gradients locally)",
      );
    }
    return (this.module.forward as (...a: unknown[]) => ReturnType<ForwardOf<M>>)(...args);
  }

  /**
   * Turns gradient synchronization off, for gradient accumulation (PyTorch's `no_sync()`): backward passes
   * inside only accumulate local gradients; the first backward after it reduces the accumulated sums.
   * Either give a function (awaited if it returns a promise) or hold the returned guard with `using`.
   *
   * @example
   * ```ts
   * import { distributed, nn, randn } from "../../mod.ts";
   * const ddp = new distributed.DistributedDataParallel(new nn.Linear(2, 1));
   * await ddp.ready;
   * {
   *   using _ = ddp.noSync();
   *   ddp.forward(randn([4, 2])).sum().backward(); // local only
   * }
   * ddp.forward(randn([4, 2])).sum().backward(); // reduces both micro-batches' sum
   * await ddp.syncGradients();
   * ```
   */
  noSync(): Disposable;
  /** Runs `fn` with synchronization off. */
  noSync<T>(fn: () => T): T;
  noSync<T>(fn?: () => T): T | Disposable {
    this.#noSyncDepth++;
    let done = false;
    const exit = () => {
      if (!done) this.#noSyncDepth--;
      done = true;
    };
    if (!fn) return { [Symbol.dispose]: exit };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      exit();
      throw e;
    }
    if (result instanceof Promise) return result.finally(exit) as T;
    exit();
    return result;
  }

  /** Unregisters the gradient hooks (the wrapped module is left as it was). */
  removeHooks(): void {
    for (const h of this.#handles) h.remove();
    this.#handles = [];
  }
}
