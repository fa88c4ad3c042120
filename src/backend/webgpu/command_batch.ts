/**
 * Records dispatches into one command encoder and submits them in batches, so that enqueuing an op never
 * waits. Kernel parameters go into a uniform arena that is uploaded once per submit.
 * @module
 */
import type { PooledBuffer } from "./buffer_pool.ts";

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
  /** Total dispatches recorded since creation. */
  totalDispatches = 0;
  /** Total submits since creation. */
  totalSubmits = 0;

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
    const pass = this.#passNow();
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
    if (this.#slots > 0) {
      this.device.queue.writeBuffer(this.#uniforms, 0, this.#arena, 0, (this.#slots * this.#slotBytes) / 4);
    }
    this.device.queue.submit([this.#encoder.finish()]);
    this.#encoder = null;
    this.#slots = 0;
    this.#dispatches = 0;
    this.batchId++;
    this.totalSubmits++;
  }
}
