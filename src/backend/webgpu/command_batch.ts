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
  readonly #layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
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
   * Records one dispatch of `pipeline` with `buffers` bound at bindings 0..n-1 and, when `params` is given,
   * a uniform block with those 32-bit words bound next.
   */
  dispatch(
    pipeline: GPUComputePipeline,
    buffers: readonly Binding[],
    params: Uint32Array | null,
    groups: readonly [number, number, number],
    label: string,
  ): void {
    if (groups[0] === 0 || groups[1] === 0 || groups[2] === 0) return;
    if (params && params.length * 4 > this.#slotBytes) {
      throw new Error(`${label}: kernel parameters too large (${params.length} words)`);
    }
    if (this.#slots >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
    const entries: GPUBindGroupEntry[] = [];
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i];
      if (b instanceof GPUBuffer) entries.push({ binding: i, resource: { buffer: b } });
      else {
        b.lastBatch = this.batchId;
        entries.push({ binding: i, resource: { buffer: b.buffer } });
      }
    }
    if (params) {
      const slot = this.#slots++;
      const base = (slot * this.#slotBytes) / 4;
      this.#arena.set(params, base);
      const size = Math.max(16, Math.ceil(params.length / 4) * 16);
      entries.push({
        binding: buffers.length,
        resource: { buffer: this.#uniforms, offset: slot * this.#slotBytes, size },
      });
    }
    let layout = this.#layouts.get(pipeline);
    if (!layout) {
      layout = pipeline.getBindGroupLayout(0);
      this.#layouts.set(pipeline, layout);
    }
    const bindGroup = this.device.createBindGroup({ layout, entries });
    const pass = this.#passNow();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
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
