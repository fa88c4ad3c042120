/**
 * Training checkpoints in one safetensors file: the model's, optimizer's and scheduler's state dicts, the
 * epoch, the global RNG state and extra values. Tensors become safetensors entries (`model.fc1.weight`,
 * `optimizer.state.0.exp_avg`...); everything else (nested numbers, strings, lists) is JSON in
 * `__metadata__`, where each tensor is a reference `{"$tensor": key}`.
 * @module
 */
import { checkDevice, type Device } from "../backend/registry.ts";
import { zeros } from "../tensor/creation.ts";
import { getRngState, type RngState, setRngState } from "../tensor/random.ts";
import { Tensor } from "../tensor/tensor.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { deserialize, type HostTensor, serialize, toTensors } from "./safetensors.ts";

/** Anything with PyTorch's state-dict protocol: a module, an optimizer, a scheduler. */
export interface Stateful {
  /** The state: tensors, numbers, strings, booleans, null, and arrays and plain objects of them. */
  stateDict(): Record<string, unknown> | object;
  /** Restores a state from `stateDict()` (copying the tensors it is given, as modules and optimizers do). */
  loadStateDict(stateDict: never): unknown;
}

/** What {@linkcode saveCheckpoint} stores. */
export interface CheckpointState {
  /** The model (`stateDict()` saved under `model.`). */
  model?: Stateful;
  /** The optimizer (saved under `optimizer.`). */
  optimizer?: Stateful;
  /** The learning-rate scheduler (saved under `scheduler.`). */
  scheduler?: Stateful;
  /** The epoch (or step) reached. */
  epoch?: number;
  /** Anything else: numbers, strings, tensors, arrays and plain objects of them. */
  extra?: Record<string, unknown>;
}

/** Options of {@linkcode loadCheckpoint}: the objects to restore, and where loaded tensors go. */
export interface LoadCheckpointOptions {
  /** Receives the saved model state. */
  model?: Stateful;
  /** Receives the saved optimizer state. */
  optimizer?: Stateful;
  /** Receives the saved scheduler state. */
  scheduler?: Stateful;
  /** Where tensors are created before `loadStateDict` copies them, and where `extra` tensors stay (default "cpu"). */
  device?: Device;
  /** Restore the global RNG state saved with the checkpoint (default true). */
  restoreRng?: boolean;
}

/** What {@linkcode loadCheckpoint} returns. */
export interface LoadedCheckpoint {
  /** The saved epoch, if any. */
  epoch?: number;
  /** The saved extra values (tensors on the requested device, yours to dispose). */
  extra: Record<string, unknown>;
  /** The global RNG state at save time. */
  rngState: RngState;
  /** The file's raw `__metadata__`. */
  metadata: Record<string, string>;
}

const FORMAT = "denograd.checkpoint";
const VERSION = "1";
const PARTS = ["model", "optimizer", "scheduler"] as const;

/** A JSON value. */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Encodes `value` as JSON, moving tensors into `tensors` under unique dotted keys. */
function encode(value: unknown, path: string[], tensors: Map<string, Tensor>, depth = 0): Json {
  const where = path.join(".");
  if (depth > 64) throw new RangeError(`saveCheckpoint: ${where} is nested more than 64 levels (a cycle?)`);
  if (value instanceof Tensor) {
    if (value.isDisposed) throw new Error(`saveCheckpoint: the tensor at ${where} was disposed`);
    let key = where;
    for (let k = 2; tensors.has(key); k++) key = `${where}#${k}`;
    tensors.set(key, value);
    return { $tensor: key };
  }
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (value === undefined) return { $undefined: true };
  if (typeof value === "number") return Number.isFinite(value) ? value : { $number: String(value) };
  if (Array.isArray(value)) return value.map((v, i) => encode(v, [...path, String(i)], tensors, depth + 1));
  if (typeof value === "object" && isPlain(value)) {
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, {
        value: encode(v, [...path, k], tensors, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    const keys = Object.keys(out);
    // an object that looks like one of our markers is wrapped so it decodes as itself
    return keys.length === 1 && keys[0].startsWith("$") ? { $object: out } : out;
  }
  const kind = typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
  throw new TypeError(
    `saveCheckpoint: ${where} is a ${kind}, which a checkpoint can't hold ` +
      "(tensors, numbers, strings, booleans, null, arrays and plain objects only)",
  );
}

/** Decodes JSON made by {@linkcode encode}, taking tensors from `tensors` (their keys recorded in `used`). */
function decode(json: Json, tensors: Record<string, Tensor>, used: Set<string>, path: string): unknown {
  if (json === null || typeof json !== "object") return json;
  if (Array.isArray(json)) return json.map((v, i) => decode(v, tensors, used, `${path}.${i}`));
  const keys = Object.keys(json);
  if (keys.length === 1 && keys[0].startsWith("$")) {
    const v = json[keys[0]];
    switch (keys[0]) {
      case "$tensor": {
        if (typeof v !== "string" || !Object.hasOwn(tensors, v)) {
          throw new RangeError(
            `loadCheckpoint: ${path} refers to tensor ${JSON.stringify(v)}, which the file lacks`,
          );
        }
        used.add(v);
        return tensors[v];
      }
      case "$number":
        return Number(v);
      case "$undefined":
        return undefined;
      case "$object":
        return decode(v, tensors, used, path);
    }
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    Object.defineProperty(out, k, {
      value: decode(json[k], tensors, used, `${path}.${k}`),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** The id the next tensor will get (tensors made after this call have larger ids). */
function nextTensorId(): number {
  const probe = zeros([0]);
  probe.dispose();
  return probe.id + 1;
}

function checkStateful(obj: unknown, name: string, what: string): Stateful {
  if (
    obj === null || typeof obj !== "object" || typeof (obj as Stateful).stateDict !== "function" ||
    typeof (obj as Stateful).loadStateDict !== "function"
  ) {
    throw new TypeError(`${what}: ${name} must have stateDict() and loadStateDict() methods`);
  }
  return obj as Stateful;
}

/**
 * Saves a training checkpoint to `path` (atomically, as {@linkcode save}): the model's, optimizer's and
 * scheduler's state dicts, `epoch`, `extra` and the global RNG state ({@linkcode getRngState}).
 *
 * @example
 * ```ts
 * import { io, nn, optim } from "../../mod.ts";
 * const model = new nn.Linear(4, 2);
 * const optimizer = new optim.Adam(model.parameters(), { lr: 1e-3 });
 * await io.saveCheckpoint("/tmp/ckpt.safetensors", { model, optimizer, epoch: 3, extra: { bestLoss: 0.25 } });
 * const { epoch } = await io.loadCheckpoint("/tmp/ckpt.safetensors", { model, optimizer }); // 3
 * ```
 */
export async function saveCheckpoint(path: string, state: CheckpointState): Promise<void> {
  const what = "saveCheckpoint";
  if (state === null || typeof state !== "object") {
    throw new TypeError(`${what}: expected { model, optimizer, ... }`);
  }
  const { epoch, extra } = state;
  if (epoch !== undefined && !Number.isFinite(epoch)) throw new TypeError(`${what}: epoch must be a number`);
  const tensors = new Map<string, Tensor>();
  const metadata: Record<string, string> = {
    format: FORMAT,
    version: VERSION,
    rng: JSON.stringify(getRngState()),
  };
  if (epoch !== undefined) metadata.epoch = String(epoch);
  // stateDict() hands out aliases of the live tensors: those made during the calls are freed once written.
  const firstNew = nextTensorId();
  try {
    for (const part of PARTS) {
      const obj = state[part];
      if (obj === undefined) continue;
      metadata[part] = JSON.stringify(encode(checkStateful(obj, part, what).stateDict(), [part], tensors));
    }
    if (extra !== undefined) metadata.extra = JSON.stringify(encode(extra, ["extra"], tensors));
    const host: Record<string, HostTensor> = {};
    for (const [key, t] of tensors) {
      Object.defineProperty(host, key, {
        value: { dtype: t.dtype, shape: [...t.shape], data: await t.data() },
        enumerable: true,
      });
    }
    await writeFileAtomic(path, [serialize(host, metadata)]);
  } finally {
    for (const t of tensors.values()) if (t.id >= firstNew) t.dispose();
  }
}

/**
 * Restores a checkpoint written by {@linkcode saveCheckpoint}: calls `loadStateDict` of the given model,
 * optimizer and scheduler with their saved states (tensors created on `device`, default "cpu", and freed
 * after the calls copied them), restores the global RNG state, and returns the epoch and the extra values.
 *
 * @example
 * ```ts
 * import { io, nn } from "../../mod.ts";
 * const model = new nn.Linear(4, 2);
 * await io.saveCheckpoint("/tmp/ckpt.safetensors", { model, epoch: 1 });
 * const { epoch } = await io.loadCheckpoint("/tmp/ckpt.safetensors", { model });
 * ```
 */
export async function loadCheckpoint(
  path: string,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  const what = "loadCheckpoint";
  const device = checkDevice(options.device ?? "cpu");
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`${what}: can't read ${path} (${(e as Error).message})`);
  }
  const { tensors: host, metadata } = deserialize(bytes, path);
  if (metadata.format !== FORMAT) {
    throw new Error(
      `${what}: ${path} is not a denograd checkpoint (__metadata__.format is ${
        JSON.stringify(metadata.format)
      }); load plain safetensors with io.load`,
    );
  }
  if (metadata.version !== VERSION) {
    throw new Error(
      `${what}: ${path} has checkpoint version ${
        JSON.stringify(metadata.version)
      }; this reader knows ${VERSION}`,
    );
  }
  const parse = (key: string): Json => {
    try {
      return JSON.parse(metadata[key]);
    } catch (e) {
      throw new Error(`${what}: ${path}: __metadata__.${key} is not valid JSON (${(e as Error).message})`);
    }
  };
  const rng = parse("rng");
  if (!Array.isArray(rng) || rng.length !== 4 || !rng.every((v) => Number.isInteger(v))) {
    throw new Error(`${what}: ${path}: __metadata__.rng is not four integers`);
  }
  for (const part of PARTS) {
    if (options[part] !== undefined) checkStateful(options[part], part, what);
    if (options[part] && metadata[part] === undefined) {
      throw new Error(`${what}: ${path} holds no ${part} state, but a ${part} was given to restore`);
    }
  }
  const tensors = toTensors(host, device);
  const used = new Set<string>();
  const restored = new Set<string>();
  let ok = false;
  try {
    const states = PARTS.map((part) =>
      options[part] && metadata[part] !== undefined ? decode(parse(part), tensors, used, part) : undefined
    );
    for (const k of used) restored.add(k);
    const extra = metadata.extra !== undefined ? decode(parse("extra"), tensors, used, "extra") : {};
    PARTS.forEach((part, i) => {
      if (states[i] !== undefined) (options[part]!.loadStateDict as (sd: unknown) => unknown)(states[i]);
    });
    if (options.restoreRng ?? true) setRngState(rng as RngState);
    const epoch = metadata.epoch !== undefined ? Number(metadata.epoch) : undefined;
    ok = true;
    return { epoch, extra: extra as Record<string, unknown>, rngState: rng as RngState, metadata };
  } finally {
    // loadStateDict copied what it needed; only the tensors handed to the caller in `extra` live on
    for (const [k, t] of Object.entries(tensors)) if (!ok || restored.has(k) || !used.has(k)) t.dispose();
  }
}
