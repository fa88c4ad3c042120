/**
 * `replicate`: a copy of a module on each of several devices, whose parameters are differentiable copies of
 * the original's, so that gradients computed by every replica accumulate into the original parameters.
 * @module
 */
import type { Device } from "../backend/registry.ts";
import { isGradEnabled } from "../autograd/grad_mode.ts";
import { Module } from "../nn/module.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type DeviceId, toDevices } from "./devices.ts";

/** Where a module holds a parameter or buffer: the owning (sub)module and the field name. */
interface Slot {
  owner: Module;
  name: string;
  tensor: Tensor;
}

function slotsOf(module: Module): Slot[] {
  const slots: Slot[] = [];
  for (const [, m] of module.namedModules()) {
    for (const [name, t] of m.namedParameters("", false)) slots.push({ owner: m, name, tensor: t });
    for (const [name, t] of m.namedBuffers("", false)) slots.push({ owner: m, name, tensor: t });
  }
  return slots;
}

/**
 * A module's stand-in on one device, made by {@linkcode replicate}. Its parameters are copies of the
 * original's (the originals themselves on the original's device): non-leaf tensors whose backward sends the
 * gradient to the original's device, where it accumulates into the original's `.grad`. Buffers are plain
 * copies (their in-place updates, such as BatchNorm's running statistics, are lost on the other devices, as
 * in PyTorch). `forward` runs the original module's `forward` with the copies swapped into its fields, so
 * any module works, containers included. Rebuild replicas after the parameters change (an optimizer step):
 * they are cheap, and `DataParallel` makes new ones every forward, as PyTorch does.
 *
 * @example
 * ```ts
 * import { gpu, nn, parallel, randn } from "../../mod.ts";
 * if (await gpu.isAvailable()) {
 *   await gpu.devices({ logical: 2 });
 *   const model = new nn.Linear(3, 2).to("webgpu");
 *   const [r0, r1] = parallel.replicate(model, ["webgpu", "webgpu:1"]);
 *   const y = r1.forward(randn([4, 3], { device: "webgpu:1" })); // on webgpu:1
 * }
 * ```
 */
export class Replica<M extends Module = Module> extends Module {
  readonly #source: M;
  readonly #slots: Slot[];
  readonly #copies: Map<Tensor, Tensor>;
  readonly #owned: Tensor[];

  /** Internal: use {@linkcode replicate}. */
  constructor(source: M, device: Device, slots: Slot[], copies: Map<Tensor, Tensor>, owned: Tensor[]) {
    super();
    this.device = device;
    this.#source = source;
    this.#slots = slots;
    this.#copies = copies;
    this.#owned = owned;
    this.training = source.training;
  }

  /** The device this replica runs on. */
  readonly device: Device;

  /** The module this is a replica of. */
  get source(): M {
    return this.#source;
  }

  /** Runs the source module's forward with this replica's tensors in its fields. */
  forward(...args: Parameters<M["forward"]>): ReturnType<M["forward"]> {
    if (this.#owned.some((t) => t.isDisposed)) {
      throw new Error(`Replica(${this.device}): used after dispose()`);
    }
    const fields = (s: Slot) => s.owner as unknown as Record<string, Tensor>;
    for (const s of this.#slots) fields(s)[s.name] = this.#copies.get(s.tensor)!;
    try {
      return (this.#source.forward as (...a: unknown[]) => ReturnType<M["forward"]>)(...args);
    } finally {
      for (const s of this.#slots) fields(s)[s.name] = s.tensor;
    }
  }

  /** The replica's parameters under the source's names. */
  override *namedParameters(prefix = "", recurse = true): Generator<[string, Tensor]> {
    for (const [n, p] of this.#source.namedParameters(prefix, recurse)) yield [n, this.#copies.get(p) ?? p];
  }

  /** The replica's buffers under the source's names. */
  override *namedBuffers(prefix = "", recurse = true): Generator<[string, Tensor]> {
    for (const [n, b] of this.#source.namedBuffers(prefix, recurse)) yield [n, this.#copies.get(b) ?? b];
  }

  /** Frees the copies this replica made (never the source's own tensors). */
  override dispose(): void {
    for (const t of this.#owned) t.dispose();
  }

  /** E.g. `Replica(webgpu:1) of Linear(...)`. */
  override toString(): string {
    return `Replica(${this.device}) of ${this.#source.toString()}`;
  }
}

/**
 * One {@linkcode Replica} of `module` per device, in order (PyTorch's `replicate`). Every parameter and
 * buffer is copied to each device it is not already on; the copies of parameters are recorded for autograd
 * (unless `detach` or inside `noGrad`), so a backward through any replica accumulates into the original
 * parameters' `.grad`. Between WebGPU devices a copy returns at once (the target device waits for the data
 * on its own queue, not in JavaScript).
 *
 * @example
 * ```ts
 * import { gpu, nn, parallel } from "../../mod.ts";
 * if (await gpu.isAvailable()) {
 *   await gpu.devices({ logical: 2 });
 *   const model = new nn.Linear(3, 2).to("webgpu");
 *   const replicas = parallel.replicate(model, ["webgpu", "webgpu:1"]);
 *   console.log(replicas.map((r) => r.device)); // ["webgpu", "webgpu:1"]
 * }
 * ```
 */
export function replicate<M extends Module>(
  module: M,
  devices: readonly DeviceId[],
  { detach = false }: { detach?: boolean } = {},
): Replica<M>[] {
  if (!(module instanceof Module)) {
    throw new TypeError(`replicate: expected a Module, got ${module === null ? "null" : typeof module}`);
  }
  if (module instanceof Replica) {
    throw new TypeError("replicate: the module is already a Replica; replicate its source instead");
  }
  const targets = toDevices(devices, "replicate");
  const slots = slotsOf(module);
  const tensors = [...new Set(slots.map((s) => s.tensor))];
  const needGrad = !detach && isGradEnabled() && tensors.some((t) => t.requiresGrad);
  const from = tensors.find((t) => targets.some((d) => (d === "cpu") !== (t.device === "cpu")));
  if (needGrad && from) {
    throw new Error(
      `replicate: the module's parameters are on ${from.device}, and gradients cannot flow between the CPU and ` +
        "WebGPU without an (async) read: replicate across WebGPU devices only, or pass { detach: true } " +
        "(or run under noGrad) for inference",
    );
  }
  return targets.map((device) => {
    const copies = new Map<Tensor, Tensor>();
    const owned: Tensor[] = [];
    for (const t of tensors) {
      if (t.device === device) {
        copies.set(t, t);
        continue;
      }
      let c: Tensor;
      if (detach || !t.requiresGrad) {
        const a = t.detach();
        c = a.to(device);
        a.dispose();
      } else c = t.to(device);
      owned.push(c);
      copies.set(t, c);
    }
    return new Replica(module, device, slots, copies, owned);
  });
}
