/**
 * A pool of GPU buffers by size class, with the byte accounting behind `gpu.memory()`.
 * @module
 */
import type { MemoryInfo } from "../backend.ts";

/** A pooled GPU buffer and the batch that last used it. */
export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  /** Capacity in bytes (the size class). */
  readonly bytes: number;
  /** Id of the command batch that last bound this buffer; -1 when none. */
  lastBatch: number;
}

/**
 * Rounds a request up to its size class: multiples of 256 bytes up to 4 KiB, then four classes per power
 * of two (at most 19 % slack).
 */
export function sizeClass(bytes: number): number {
  const b = Math.max(4, bytes);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

/** Reuses freed buffers of the same size class; counts allocated, in-use and peak bytes. */
export class BufferPool {
  readonly #free = new Map<number, PooledBuffer[]>();
  #allocated = 0;
  #inUse = 0;
  #peak = 0;
  /** Buffers whose creation ran out of memory: destroyed on release instead of pooled. */
  readonly #failed = new WeakSet<GPUBuffer>();
  /** Called (asynchronously) when creating a buffer ran out of memory. */
  onOutOfMemory: ((what: string, bytes: number, driverMessage: string) => void) | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: number,
    private readonly maxBytes: number,
  ) {}

  /** A buffer of at least `bytes` bytes, from the pool when one is free. */
  acquire(bytes: number, what: string): PooledBuffer {
    const cls = sizeClass(bytes);
    if (cls > this.maxBytes) {
      throw new RangeError(
        `${what}: cannot allocate ${bytes} bytes on WebGPU: this adapter's largest buffer is ${this.maxBytes} bytes`,
      );
    }
    let buf = this.#free.get(cls)?.pop();
    if (!buf) {
      this.device.pushErrorScope("out-of-memory");
      const buffer = this.device.createBuffer({ size: cls, usage: this.usage, label: what });
      this.device.popErrorScope().then((err) => {
        if (!err) return;
        this.#failed.add(buffer);
        this.onOutOfMemory?.(what, cls, err.message);
      }, () => {/* the device is gone: reported by its loss */});
      buf = { buffer, bytes: cls, lastBatch: -1 };
      this.#allocated += cls;
    }
    this.#inUse += cls;
    if (this.#inUse > this.#peak) this.#peak = this.#inUse;
    return buf;
  }

  /** Gives a buffer back to the pool. */
  release(buf: PooledBuffer): void {
    this.#inUse -= buf.bytes;
    if (this.#failed.has(buf.buffer)) {
      buf.buffer.destroy();
      this.#allocated -= buf.bytes;
      return;
    }
    const list = this.#free.get(buf.bytes);
    if (list) list.push(buf);
    else this.#free.set(buf.bytes, [buf]);
  }

  /** Destroys every free buffer (returns the memory to the driver). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const b of list) {
        b.buffer.destroy();
        this.#allocated -= b.bytes;
      }
    }
    this.#free.clear();
  }

  /** Resets the peak to the current in-use figure. */
  resetPeak(): void {
    this.#peak = this.#inUse;
  }

  /** Current accounting. */
  memory(): MemoryInfo {
    return { allocated: this.#allocated, inUse: this.#inUse, peak: this.#peak };
  }
}
