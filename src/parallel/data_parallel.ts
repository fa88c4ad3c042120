/**
 * `DataParallel`: PyTorch's `nn.DataParallel` for the devices of one process: every forward scatters the
 * batch, replicates the module, runs the replicas concurrently and gathers the outputs; backward sums the
 * replicas' gradients into the module's own parameters.
 * @module
 */
import type { Device } from "../backend/registry.ts";
import { Module } from "../nn/module.ts";
import { Tensor } from "../tensor/tensor.ts";
import { type DeviceId, forEachTensor, toDevice, toDevices } from "./devices.ts";
import { parallelApply } from "./parallel_apply.ts";
import { replicate } from "./replicate.ts";
import { gather, scatter } from "./scatter_gather.ts";

/** Options of {@linkcode DataParallel}. */
export interface DataParallelOptions {
  /** The devices to run on (names or WebGPU indices); default: every open WebGPU device. */
  deviceIds?: readonly DeviceId[];
  /** Where the output is gathered; default: the first of `deviceIds`. */
  outputDevice?: DeviceId;
  /** The batch dimension that inputs are split along and outputs joined along (default 0). */
  dim?: number;
}

/**
 * Runs `module` on several devices at once by splitting each batch (PyTorch's `nn.DataParallel`). The module
 * lives on the first device, and so do its gradients: each forward scatters the inputs along `dim`
 * ({@linkcode scatter}), copies the module to the devices ({@linkcode replicate}: differentiable copies of
 * its parameters), runs the replicas ({@linkcode parallelApply}) and gathers the outputs on `outputDevice`
 * ({@linkcode gather}). Backward sends every replica's gradients back to the first device and sums them
 * into the parameters' `.grad`, so an optimizer built over `model.parameters()` (or
 * `dp.parameters()`, the same tensors) trains it as on one device.
 *
 * Between WebGPU devices every copy goes through the host (WebGPU devices share no memory), and the devices
 * wait on their queues, never in JavaScript: a step costs a few read-backs' latency more than on one device,
 * which pays off when the model's compute dominates (see bench/parallel.ts).
 *
 * @example
 * ```ts
 * import { gpu, nn, optim, parallel, randn } from "../../mod.ts";
 * if (await gpu.isAvailable()) {
 *   await gpu.devices({ logical: 2 });
 *   const model = new nn.Linear(4, 1).to("webgpu"); // move first, then build the optimizer
 *   const dp = new parallel.DataParallel(model, { deviceIds: ["webgpu", "webgpu:1"] });
 *   const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
 *   const loss = dp.forward(randn([8, 4], { device: "webgpu" })).square().mean();
 *   loss.backward(); // model.weight.grad: both halves of the batch, on webgpu
 *   opt.step();
 * }
 * ```
 */
export class DataParallel<M extends Module = Module> extends Module {
  /** The wrapped module (its state dict keys are prefixed with "module.", as in PyTorch). */
  readonly module: M;
  /** The devices the batch is split across. */
  readonly deviceIds: readonly Device[];
  /** The device the outputs are gathered on. */
  readonly outputDevice: Device;
  /** The batch dimension. */
  readonly dim: number;

  /** Wraps `module`, which should already be on the first device. */
  constructor(module: M, { deviceIds, outputDevice, dim = 0 }: DataParallelOptions = {}) {
    super();
    if (!(module instanceof Module)) {
      throw new TypeError(
        `DataParallel: expected a Module to wrap, got ${module === null ? "null" : typeof module}`,
      );
    }
    this.module = module;
    this.deviceIds = toDevices(deviceIds, "DataParallel");
    this.outputDevice = outputDevice === undefined
      ? this.deviceIds[0]
      : toDevice(outputDevice, "DataParallel");
    this.dim = dim;
  }

  /** Scatters the inputs, runs a replica per device and gathers the outputs on `outputDevice`. */
  forward(...inputs: Parameters<M["forward"]>): ReturnType<M["forward"]> {
    const source = this.deviceIds[0];
    for (const t of [...this.module.parameters(), ...this.module.buffers()]) {
      if (t.device !== source) {
        throw new Error(
          `DataParallel: the module must have its parameters and buffers on ${source} (deviceIds[0]) but ` +
            `found one of them on ${t.device}: call model.to("${source}") first`,
        );
      }
    }
    const run = this.module.forward as (...a: unknown[]) => ReturnType<M["forward"]>;
    if (this.deviceIds.length === 1) {
      const moved = moveAll(inputs, source);
      return run.apply(this.module, moved as unknown[]);
    }
    const chunks = scatter(inputs as unknown[], this.deviceIds, this.dim);
    const replicas = replicate(this.module, this.deviceIds.slice(0, chunks.length));
    try {
      const outputs = parallelApply(replicas, chunks);
      const out = gather(outputs, this.outputDevice, this.dim);
      const keep = new Set<Tensor>();
      forEachTensor(out, (t) => keep.add(t));
      forEachTensor(inputs, (t) => keep.add(t));
      // the per-device pieces are only handles now: the graph keeps what backward needs
      for (const part of [chunks, outputs]) forEachTensor(part, (t) => keep.has(t) || t.dispose());
      return out as ReturnType<M["forward"]>;
    } finally {
      for (const r of replicas) r.dispose();
    }
  }

  /** E.g. `deviceIds=[webgpu, webgpu:1], outputDevice=webgpu, dim=0`. */
  override extraRepr(): string {
    return `deviceIds=[${this.deviceIds.join(", ")}], outputDevice=${this.outputDevice}, dim=${this.dim}`;
  }
}

function moveAll(value: unknown, device: Device): unknown {
  if (value instanceof Tensor) return value.to(device);
  if (Array.isArray(value)) return value.map((v) => moveAll(v, device));
  return value;
}
