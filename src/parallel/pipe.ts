/**
 * `Pipe`: model parallelism with GPipe-style pipelining. The stages of a model live on different devices;
 * each batch is split into micro-batches that flow through the stages on a clock schedule, so that stage k
 * works on micro-batch i while stage k + 1 works on micro-batch i - 1.
 * @module
 */
import { backendFor, type Device } from "../backend/registry.ts";
import { isGradEnabled } from "../autograd/grad_mode.ts";
import { Module } from "../nn/module.ts";
import { cat } from "../ops/join.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type DeviceId, toDevice } from "./devices.ts";
import { chunkSizes } from "./scatter_gather.ts";

/** A stage of a {@linkcode Pipe}: a module taking one tensor and returning one. */
export type Stage = Module & { forward(x: Tensor): Tensor };

/** Options of {@linkcode Pipe}. */
export interface PipeOptions {
  /** Micro-batches per batch (default 1: no pipelining). A batch smaller than this makes fewer. */
  chunks?: number;
  /**
   * The device of each stage; default: the device of the stage's first parameter or buffer (a stage
   * without any runs on the previous stage's device). Stages are not moved: place them with `.to()` first.
   */
  devices?: readonly DeviceId[];
}

/**
 * A sequence of stages on (usually) different devices run as a pipeline (GPipe; PyTorch's `Pipe`). `forward`
 * splits the batch (dim 0) into `chunks` micro-batches and runs stage k on micro-batch i at clock tick
 * i + k, moving each activation to the next stage's device with a differentiable `.to()`, then joins the
 * outputs on the last stage's device. Every device's commands are submitted as soon as its tick is recorded,
 * so the devices work at once; backward runs through the same graph. The result equals the stages run one
 * after the other on the whole batch (up to float rounding), except for layers whose result depends on the
 * batch, such as BatchNorm in training mode (it sees micro-batches).
 *
 * @example
 * ```ts
 * import { gpu, nn, parallel, randn } from "../../mod.ts";
 * if (await gpu.isAvailable()) {
 *   await gpu.devices({ logical: 2 });
 *   const a = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU()).to("webgpu");
 *   const b = new nn.Linear(16, 2).to("webgpu:1");
 *   const pipe = new parallel.Pipe([a, b], { chunks: 4 });
 *   const y = pipe.forward(randn([32, 8], { device: "webgpu" })); // [32, 2] on webgpu:1
 * }
 * ```
 */
export class Pipe extends Module {
  /** Micro-batches per batch. */
  readonly chunks: number;
  readonly #stages: Stage[];
  readonly #devices: readonly DeviceId[] | undefined;

  /** Builds a pipeline over `stages` (an array of modules or a `Sequential`). */
  constructor(stages: Iterable<Stage>, { chunks = 1, devices }: PipeOptions = {}) {
    super();
    const list = [...stages];
    if (!list.length) throw new RangeError("Pipe: expected at least one stage");
    list.forEach((s, i) => {
      if (!(s instanceof Module)) throw new TypeError(`Pipe: stage ${i} is not a Module`);
    });
    if (!Number.isInteger(chunks) || chunks < 1) {
      throw new RangeError(`Pipe: chunks must be a positive integer, got ${chunks}`);
    }
    if (devices && devices.length !== list.length) {
      throw new RangeError(`Pipe: ${list.length} stages but ${devices.length} devices`);
    }
    this.chunks = chunks;
    this.#stages = list;
    this.#devices = devices;
    list.forEach((s, i) => this.registerModule(String(i), s));
  }

  /** The stages, in order. */
  get stages(): readonly Stage[] {
    return this.#stages;
  }

  /** The device each stage runs on (see {@linkcode PipeOptions.devices}); null: wherever the input is. */
  stageDevices(): (Device | null)[] {
    let prev: Device | null = null;
    return this.#stages.map((s, i) => {
      const given = this.#devices?.[i];
      const own = [...s.parameters(), ...s.buffers()].map((t) => t.device);
      const d: Device | null = given !== undefined ? toDevice(given, "Pipe") : own[0] ?? prev;
      const stray = own.find((o) => o !== d);
      if (stray) {
        throw new Error(
          `Pipe: stage ${i} is meant to run on ${d} but holds a tensor on ${stray}: move it first`,
        );
      }
      prev = d;
      return d;
    });
  }

  /** Runs the micro-batches through the stages on the GPipe schedule and joins the outputs. */
  forward(x: Tensor): Tensor {
    x.checkLive("Pipe.forward");
    if (x.ndim === 0) throw new RangeError("Pipe.forward: the input needs a batch dimension");
    const devices = this.stageDevices();
    const cpu = devices.indexOf("cpu");
    const gpuStage = devices.findIndex((d) => d !== null && d !== "cpu");
    if (cpu >= 0 && gpuStage >= 0 && isGradEnabled() && [...this.parameters()].some((p) => p.requiresGrad)) {
      throw new Error(
        `Pipe: stage ${cpu} is on cpu and stage ${gpuStage} on ${devices[gpuStage]}: gradients cannot flow ` +
          "between the CPU and WebGPU without an (async) read. Put every stage on a WebGPU device, or run " +
          "under noGrad for inference",
      );
    }
    const sizes = chunkSizes(x.shape[0], this.chunks);
    const acts: Tensor[] = [];
    let start = 0;
    for (const n of sizes) {
      acts.push(sizes.length === 1 ? x : x.narrow(0, start, n));
      start += n;
    }
    const m = acts.length;
    const k = this.#stages.length;
    for (let tick = 0; tick < m + k - 1; tick++) {
      for (let j = Math.max(0, tick - m + 1); j <= Math.min(tick, k - 1); j++) {
        const i = tick - j;
        const input = acts[i];
        const d = devices[j];
        const moved = d && input.device !== d ? input.to(d) : input;
        const y = this.#stages[j].forward(moved);
        if (moved !== input && moved !== y) moved.dispose();
        if (input !== x && input !== y) input.dispose();
        acts[i] = y;
        backendFor(y.device).flush(); // this device starts while the next tick is recorded
      }
    }
    if (m === 1) return acts[0];
    const out = cat(acts, 0);
    for (const a of acts) a.dispose();
    return out;
  }

  /** E.g. `chunks=4`. */
  override extraRepr(): string {
    return `chunks=${this.chunks}`;
  }
}

/**
 * A {@linkcode Pipe} over `stages` (GPipe pipelining with `chunks` micro-batches).
 *
 * @example
 * ```ts
 * import { nn, parallel, randn } from "../../mod.ts";
 * const pipe = parallel.pipeline([new nn.Linear(4, 8), new nn.Linear(8, 1)], { chunks: 2 });
 * const y = pipe.forward(randn([6, 4])); // [6, 1]
 * ```
 */
export function pipeline(stages: Iterable<Stage>, options: PipeOptions = {}): Pipe {
  return new Pipe(stages, options);
}
