/**
 * Records dispatches into one command encoder and submits them in batches, so that enqueuing an op never
 * waits. Kernel parameters go into a uniform arena that is uploaded once per submit.
 * @module
 */
import type { PooledBuffer } from "./buffer_pool.ts";
import type { DispatchTimer } from "./profiler.ts";

/** Dispatches recorded before a submit is forced (keeps the device busy while JS keeps enqueuing). */
const MAX_DISPATCHES_PER_SUBMIT = 256;

/** One binding of a dispatch: a pooled buffer bound whole. */
export type Binding = PooledBuffer | GPUBuffer;

/** Bind groups cached before the cache is cleared (a training loop reuses far fewer). */
const MAX_CACHED_BIND_GROUPS = 8192;

let nextBufferId = 1;
const bufferIds = new WeakMap<GPUBuffer, number>();

/** A stable small id per GPU buffer, for bind group cache keys. */
function bufferId(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) {
    id = nextBufferId++;
    bufferIds.set(b, id);
  }
  return id;
}

/** Encodes dispatches and copies, flushing to the queue when full or asked. */
export class CommandBatch {
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #dispatches = 0;
  /** Id of the batch being recorded; buffers remember the batch that last used them. */
  batchId = 0;
  readonly #slotBytes: number;
  readonly #arena: Uint32Array<ArrayBuffer>;
  readonly #uniforms: GPUBuffer;
  #slots = 0;
  readonly #layouts = new Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  readonly #bindGroups = new Map<string, GPUBindGroup>();
  readonly #offsets = new Uint32Array(1);
  /** Label of the op last recorded, used in error messages. */
  lastLabel = "";
  /**
   * Set only while `profile()` runs (see ./profiler.ts): each dispatch then gets its own compute pass with
   * timestamp writes, resolved at each submit. Null otherwise: dispatches share one pass, at no extra cost.
   */
  timer: DispatchTimer | null = null;
  /** Total dispatches recorded since creation. */
  totalDispatches = 0;
  /** Total submits since creation. */
  totalSubmits = 0;
  /**
   * Queue operations (submits, buffer writes) held back, in program order, behind an incoming cross-device
   * copy whose data has not arrived yet (see {@linkcode holdUntil}). Empty in the common case, when every
   * operation goes to the queue at once.
   */
  readonly #held: { run: (() => void) | null }[] = [];

  constructor(private readonly device: GPUDevice) {
    this.#slotBytes = Math.max(256, device.limits.minUniformBufferOffsetAlignment);
    const arenaBytes = this.#slotBytes * MAX_DISPATCHES_PER_SUBMIT;
    this.#arena = new Uint32Array(arenaBytes / 4);
    this.#uniforms = device.createBuffer({
      size: arenaBytes,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: "denograd uniform arena",
    });
  }

  /** Whether commands are recorded but not yet submitted. */
  get pending(): boolean {
    return this.#encoder !== null;
  }

  #encoderNow(): GPUCommandEncoder {
    return this.#encoder ??= this.device.createCommandEncoder();
  }

  #passNow(): GPUComputePassEncoder {
    return this.#pass ??= this.#encoderNow().beginComputePass();
  }

  #endPass(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
  }

  /**
   * The bind group and pipeline layouts of a binding signature: one letter per storage buffer, "r" for
   * read-only and "w" for read-write, then a uniform block with a dynamic offset.
   */
  layout(signature: string): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    let l = this.#layouts.get(signature);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [...signature].map((c, i) => ({
        binding: i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: c === "r" ? "read-only-storage" : "storage" },
      }));
      entries.push({
        binding: signature.length,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "uniform", hasDynamicOffset: true },
      });
      const group = this.device.createBindGroupLayout({ entries, label: `denograd ${signature}u` });
      const pipeline = this.device.createPipelineLayout({ bindGroupLayouts: [group] });
      l = { group, pipeline };
      this.#layouts.set(signature, l);
    }
    return l;
  }

  /** Forgets cached bind groups (after buffers were destroyed). */
  clearBindGroups(): void {
    this.#bindGroups.clear();
  }

  /**
   * Records one dispatch of `pipeline` (made with {@linkcode layout}(signature)) with `buffers` bound at
   * bindings 0..n-1 and the uniform block `params` bound next, at a dynamic offset in the arena. Bind groups
   * are cached by their buffers, so a loop that reuses pooled buffers creates none after warm-up.
   */
  dispatch(
    pipeline: GPUComputePipeline,
    signature: string,
    buffers: readonly Binding[],
    params: Uint32Array,
    groups: readonly [number, number, number],
    label: string,
  ): void {
    if (groups[0] === 0 || groups[1] === 0 || groups[2] === 0) return;
    if (params.length * 4 > this.#slotBytes) {
      throw new Error(`${label}: kernel parameters too large (${params.length} words)`);
    }
    if (this.#slots >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
    let key = signature;
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i];
      if (b instanceof GPUBuffer) key += "," + bufferId(b);
      else {
        b.lastBatch = this.batchId;
        key += "," + bufferId(b.buffer);
      }
    }
    let bindGroup = this.#bindGroups.get(key);
    if (!bindGroup) {
      const entries: GPUBindGroupEntry[] = buffers.map((b, i) => ({
        binding: i,
        resource: { buffer: b instanceof GPUBuffer ? b : b.buffer },
      }));
      entries.push({
        binding: buffers.length,
        resource: { buffer: this.#uniforms, offset: 0, size: this.#slotBytes },
      });
      if (this.#bindGroups.size >= MAX_CACHED_BIND_GROUPS) this.#bindGroups.clear();
      bindGroup = this.device.createBindGroup({ layout: this.layout(signature).group, entries });
      this.#bindGroups.set(key, bindGroup);
    }
    const slot = this.#slots++;
    this.#arena.set(params, (slot * this.#slotBytes) / 4);
    this.#offsets[0] = slot * this.#slotBytes;
    let pass: GPUComputePassEncoder;
    if (this.timer) {
      this.#endPass();
      const timestampWrites = this.timer.next(label);
      pass = this.#pass = this.#encoderNow().beginComputePass(timestampWrites ? { timestampWrites } : {});
    } else pass = this.#passNow();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup, this.#offsets, 0, 1);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.lastLabel = label;
    this.#dispatches++;
    this.totalDispatches++;
  }

  /** Records a buffer-to-buffer copy (ordered with the dispatches around it). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.#endPass();
    this.#encoderNow().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Records zeroing of `bytes` bytes of a buffer. */
  clear(dst: GPUBuffer, offset: number, bytes: number): void {
    this.#endPass();
    this.#encoderNow().clearBuffer(dst, offset, bytes);
  }

  /** Submits everything recorded so far (uniforms first). Does not wait. */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    const words = (this.#slots * this.#slotBytes) / 4;
    this.timer?.resolve(this.#encoder);
    const commands = this.#encoder.finish();
    if (this.#held.length) {
      const arena = this.#arena.slice(0, words); // the arena is reused before the held submit runs
      this.#held.push({
        run: () => {
          if (words > 0) this.device.queue.writeBuffer(this.#uniforms, 0, arena, 0, words);
          this.device.queue.submit([commands]);
        },
      });
    } else {
      if (words > 0) this.device.queue.writeBuffer(this.#uniforms, 0, this.#arena, 0, words);
      this.device.queue.submit([commands]);
    }
    this.#encoder = null;
    this.#slots = 0;
    this.#dispatches = 0;
    this.batchId++;
    this.totalSubmits++;
  }

  /** Whether queue operations are held back behind an incoming cross-device copy. */
  get held(): boolean {
    return this.#held.length > 0;
  }

  /**
   * Writes `data` into `dst` at `offset` in queue order: at once, or after the held operations. Held data is
   * copied (the caller may reuse its array).
   */
  write(dst: GPUBuffer, offset: number, data: ArrayBufferView): void {
    if (data.byteLength === 0) return;
    if (!this.#held.length) {
      this.device.queue.writeBuffer(
        dst,
        offset,
        data.buffer as ArrayBuffer,
        data.byteOffset,
        data.byteLength,
      );
      return;
    }
    const copy = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    this.#held.push({ run: () => this.device.queue.writeBuffer(dst, offset, copy) });
  }

  /**
   * Holds every later queue operation of this device until `data` arrives, then runs `apply(value)` (which
   * writes it) in its place in the queue order. Commands recorded before are submitted first. Recording never
   * waits: the held submits go to the queue, in order, once the data is there. A rejected `data` calls
   * `failed` instead.
   */
  holdUntil<T>(data: Promise<T>, apply: (value: T) => void, failed: (e: Error) => void): void {
    this.flush();
    const entry: { run: (() => void) | null } = { run: null };
    this.#held.push(entry);
    data.then(
      (v) => {
        entry.run = () => apply(v);
        this.#drain();
      },
      (e) => {
        entry.run = () => failed(e instanceof Error ? e : new Error(String(e)));
        this.#drain();
      },
    );
  }

  /** Runs `fn` in queue order: now when nothing is held, else after the operations held so far. */
  afterHeld(fn: () => void): void {
    if (this.#held.length) this.#held.push({ run: fn });
    else fn();
  }

  /** Resolves once every operation held so far has gone to the queue (at once when none is). */
  submitted(): Promise<void> {
    if (!this.#held.length) return Promise.resolve();
    return new Promise((resolve) => this.#held.push({ run: resolve }));
  }

  /** Called with an error thrown by a held operation when it finally runs (the backend reports it later). */
  onHeldError: (e: Error) => void = () => {};

  #drain(): void {
    while (this.#held.length && this.#held[0].run) {
      const { run } = this.#held.shift()!;
      try {
        run!();
      } catch (e) {
        this.onHeldError(e instanceof Error ? e : new Error(String(e)));
      }
    }
  }
}
