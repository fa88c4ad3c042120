/**
 * `summary(model, inputShape)`, like torchinfo: the layer tree with each layer's output shape for a given
 * input, parameter counts (trainable and not), multiply-adds (Linear and Conv2d, grouped convolutions
 * counted per group), and the memory of parameters and activations.
 * @module
 */
import type { Device } from "../backend/registry.ts";
import { noGrad } from "../autograd/grad_mode.ts";
import { randn } from "../tensor/creation.ts";
import { type DType, hostBytes } from "../tensor/dtype.ts";
import { getRngState, setRngState } from "../tensor/random.ts";
import { tidy } from "../tensor/scope.ts";
import { Tensor } from "../tensor/tensor.ts";
import { Module } from "../nn/module.ts";
import { Conv2d } from "../nn/conv.ts";
import { Linear } from "../nn/linear.ts";
import { escapeHtml, fmtBytes, fmtCount, MONO } from "./format.ts";
import { JUPYTER_DISPLAY, type MimeBundle } from "./jupyter.ts";

/** Options of {@linkcode summary}. */
export interface SummaryOptions {
  /** Show modules down to this depth (default 3; the model itself is depth 0). */
  depth?: number;
  /** Device of the generated input (default: the device of the model's first parameter, else "cpu"). */
  device?: Device;
  /** Dtype of the generated input (default float32). */
  dtype?: DType;
}

/** What {@linkcode summary} uses of a model: the parts of an `nn.Module` it reads. */
export interface SummaryModel {
  /** Training mode flag (set to false during the run, then restored). */
  training: boolean;
  /** This module and every module under it, with dotted names. */
  namedModules(): Iterable<[string, SummaryModel]>;
  /** Immediate submodules. */
  children(): Iterator<unknown>;
  /** Parameters (recursively unless `recurse` is false). */
  parameters(recurse?: boolean): Iterable<Tensor>;
  /** Buffers (recursively unless `recurse` is false). */
  buffers(recurse?: boolean): Iterable<Tensor>;
  /** Number of parameter elements. */
  numParameters(opts?: { trainableOnly?: boolean }): number;
}

/** One row of a {@linkcode ModelSummary}. */
export interface SummaryRow {
  /** Dotted name ("" for the model itself). */
  name: string;
  /** The module's class name. */
  type: string;
  /** Nesting depth (0 for the model). */
  depth: number;
  /** Output shapes of the module's first call (several for several outputs), or null when it was not called. */
  outputShapes: number[][] | null;
  /** How many times the module ran during the forward pass. */
  calls: number;
  /** Parameters of the module itself (not its children). */
  ownParams: number;
  /** Parameters of the module and everything under it. */
  totalParams: number;
  /** Whether the module has children. */
  isLeaf: boolean;
  /** Bytes of the module's outputs (counted for leaves only, in the activation total). */
  outputBytes: number;
  /** Multiply-adds of the module and everything under it for this input, over all its calls (Linear and Conv2d layers; bias additions not counted). */
  multAdds: number;
}

/**
 * Multiply-adds of one call of a layer that produced `out`: Linear, out elements · inFeatures; Conv2d, out
 * elements · (inChannels/groups)·kH·kW (a grouped or depthwise convolution multiplies only within its group).
 * Bias additions are not counted (torchinfo's convention); other layers count 0.
 */
function multAddsOf(m: unknown, out: Tensor): number {
  if (m instanceof Conv2d) {
    const [, cg, kh, kw] = m.weight.shape;
    return out.size * cg * kh * kw;
  }
  if (m instanceof Linear) return out.size * m.weight.shape[1];
  return 0;
}

function tensorsIn(v: unknown, out: Tensor[] = [], depth = 0): Tensor[] {
  if (v instanceof Tensor) out.push(v);
  else if (depth < 3 && Array.isArray(v)) { for (const x of v) tensorsIn(x, out, depth + 1); }
  else if (
    depth < 3 && v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype
  ) {
    for (const x of Object.values(v)) tensorsIn(x, out, depth + 1);
  }
  return out;
}

const shapeText = (shapes: number[][] | null) =>
  shapes === null ? "--" : shapes.map((s) => `[${s.join(", ")}]`).join(", ") || "--";

/**
 * A torchinfo-style summary of a model for one input: see {@linkcode summary}.
 *
 * @example
 * ```ts
 * import { type ModelSummary, nn, summary } from "../../mod.ts";
 * const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2));
 * const s: ModelSummary = summary(model, [16, 4]);
 * console.log(s.totals.params, s.rows.length); // 58 parameters, one row per layer
 * ```
 */
export class ModelSummary {
  /** Internal: use {@linkcode summary}. */
  constructor(
    /** The model's class name. */
    readonly modelName: string,
    /** The rows, depth first, down to the depth asked for. */
    readonly rows: SummaryRow[],
    /** Shape of the input that was run. */
    readonly inputShape: number[],
    /** Parameter counts and memory. */
    readonly totals: {
      /** Parameter elements (shared ones once). */
      params: number;
      /** Of which `requiresGrad`. */
      trainable: number;
      /** Of which frozen. */
      nonTrainable: number;
      /** Bytes of parameters. */
      paramBytes: number;
      /** Bytes of buffers (e.g. batch-norm statistics). */
      bufferBytes: number;
      /** Bytes of the input. */
      inputBytes: number;
      /** Bytes of the outputs of every leaf layer for this input (the activations backward keeps). */
      activationBytes: number;
    },
  ) {}

  #paramCell(r: SummaryRow, maxDepth: number): string {
    if (r.isLeaf || r.depth === maxDepth) return r.totalParams ? fmtCount(r.totalParams) : "--";
    return r.ownParams ? fmtCount(r.ownParams) : "--";
  }

  #multAddsCell(r: SummaryRow, maxDepth: number): string {
    return (r.isLeaf || r.depth === maxDepth) && r.multAdds ? fmtCount(r.multAdds) : "--";
  }

  /** Multiply-adds of the whole model for this input (Linear and Conv2d layers). */
  get multAdds(): number {
    return this.rows.length ? this.rows[0].multAdds : 0;
  }

  #table(): { head: string[]; body: string[][]; depth: number[] } {
    const maxDepth = Math.max(...this.rows.map((r) => r.depth));
    const body = this.rows.map((r) => [
      r.depth === 0 ? `${r.type}` : `${r.type} (${r.name.split(".").pop()})`,
      shapeText(r.outputShapes) + (r.calls > 1 ? ` ×${r.calls}` : ""),
      this.#paramCell(r, maxDepth),
      this.#multAddsCell(r, maxDepth),
    ]);
    return {
      head: ["Layer (type)", "Output shape", "Param #", "Mult-adds"],
      body,
      depth: this.rows.map((r) => r.depth),
    };
  }

  /** The footer lines: counts and memory. */
  footer(): [string, string][] {
    const t = this.totals;
    return [
      ["Total params", fmtCount(t.params)],
      ["Trainable params", fmtCount(t.trainable)],
      ["Non-trainable params", fmtCount(t.nonTrainable)],
      ["Total mult-adds", fmtCount(this.multAdds)],
      ["Input size", fmtBytes(t.inputBytes)],
      ["Activations (forward, all layers)", fmtBytes(t.activationBytes)],
      ["Params + buffers size", fmtBytes(t.paramBytes + t.bufferBytes)],
      ["Estimated total", fmtBytes(t.inputBytes + t.activationBytes + t.paramBytes + t.bufferBytes)],
    ];
  }

  /** Tree prefixes ("│ ├─", "└─"...) of the rows, from their depths in depth-first order. */
  #treePrefixes(depth: number[]): string[] {
    const isLast = depth.map((d, i) => {
      for (let j = i + 1; j < depth.length; j++) {
        if (depth[j] < d) return true;
        if (depth[j] === d) return false;
      }
      return true;
    });
    const open: boolean[] = []; // open[d]: an ancestor at depth d still has siblings below
    return depth.map((d, i) => {
      if (d === 0) return "";
      open[d] = !isLast[i];
      let p = "";
      for (let k = 1; k < d; k++) p += open[k] ? "│ " : "  ";
      return p + (isLast[i] ? "└─" : "├─");
    });
  }

  /** The summary as a text table with a tree of layers. */
  toString(): string {
    const { head, body, depth } = this.#table();
    const tree = this.#treePrefixes(depth);
    const first = body.map((row, i) => tree[i] + row[0]);
    const w0 = Math.max(head[0].length, ...first.map((s) => s.length));
    const w1 = Math.max(head[1].length, ...body.map((r) => r[1].length));
    const w2 = Math.max(head[2].length, ...body.map((r) => r[2].length));
    const w3 = Math.max(head[3].length, ...body.map((r) => r[3].length));
    const line = "=".repeat(w0 + w1 + w2 + w3 + 9);
    const fmt = (a: string, b: string, c: string, d: string) =>
      `${a.padEnd(w0)}   ${b.padEnd(w1)}   ${c.padStart(w2)}   ${d.padStart(w3)}`;
    const out = [line, fmt(head[0], head[1], head[2], head[3]), line];
    body.forEach((r, i) => out.push(fmt(first[i], r[1], r[2], r[3])));
    out.push(line);
    const f = this.footer();
    const fw = Math.max(...f.map(([k]) => k.length));
    for (const [k, v] of f) out.push(`${k.padEnd(fw)}: ${v}`);
    out.push(line);
    return out.join("\n");
  }

  /** Shown by `deno jupyter`: an HTML table. */
  [JUPYTER_DISPLAY](): MimeBundle {
    const { head, body, depth } = this.#table();
    const tree = this.#treePrefixes(depth);
    const th = (s: string, align = "left") =>
      `<th style="text-align:${align};padding:2px 10px;border-bottom:1px solid #999">${escapeHtml(s)}</th>`;
    const rows = body.map((r, i) => {
      const color = i % 2 ? "#fff" : "#f6f6f6";
      return `<tr style="background:${color}"><td style="text-align:left;padding:1px 10px;white-space:pre">${
        escapeHtml(tree[i] + r[0])
      }</td><td style="text-align:left;padding:1px 10px">${
        escapeHtml(r[1])
      }</td><td style="text-align:right;padding:1px 10px">${escapeHtml(r[2])}</td>` +
        `<td style="text-align:right;padding:1px 10px">${escapeHtml(r[3])}</td></tr>`;
    }).join("");
    const foot = this.footer().map(([k, v]) =>
      `<tr><td style="text-align:left;padding:1px 10px" colspan="3">${escapeHtml(k)}</td>` +
      `<td style="text-align:right;padding:1px 10px">${escapeHtml(v)}</td></tr>`
    ).join("");
    const html = `<table class="denograd-summary" style="${MONO};font-size:12px;border-collapse:collapse">` +
      `<caption style="text-align:left;padding:2px 10px">input [${this.inputShape.join(", ")}]</caption>` +
      `<thead><tr>${th(head[0])}${th(head[1])}${th(head[2], "right")}${
        th(head[3], "right")
      }</tr></thead><tbody>${rows}</tbody>` +
      `<tbody style="border-top:1px solid #999">${foot}</tbody></table>`;
    return { "text/plain": this.toString(), "text/html": html };
  }
}

/**
 * Runs `model` once on an input of `input` shape (random normal; or on the tensor given) without recording
 * gradients, in eval mode, and reports each layer's output shape, the parameter counts and the memory, like
 * torchinfo. The model's training flags and the random number generator are restored afterwards, so the
 * summary changes nothing. Every module's `forward` is wrapped for the duration of the run.
 *
 * @example
 * ```ts
 * import { nn, summary } from "../../mod.ts";
 * const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2));
 * const s = summary(model, [16, 4]);
 * console.log(s.toString()); // Sequential / Linear (0) [16, 8] 40 / ... Total params: 58
 * ```
 */
export function summary(
  model: SummaryModel,
  input: readonly number[] | Tensor,
  opts: SummaryOptions = {},
): ModelSummary {
  if (!(model instanceof Module)) {
    throw new TypeError(`summary: expected an nn.Module, got ${model === null ? "null" : typeof model}`);
  }
  const maxDepth = opts.depth ?? 3;
  const modules = [...model.namedModules()];
  const records = new Map<Module, { shapes: number[][]; bytes: number; calls: number; multAdds: number }>();
  const restore: (() => void)[] = [];
  for (const [, m] of modules) {
    const self = m as unknown as { forward: (...a: unknown[]) => unknown };
    const had = Object.hasOwn(m, "forward");
    const own = had ? self.forward : undefined;
    const orig = self.forward;
    self.forward = function (this: unknown, ...args: unknown[]) {
      const out = orig.apply(this, args);
      const rec = records.get(m);
      const multAdds = out instanceof Tensor ? multAddsOf(m, out) : 0;
      if (rec) {
        rec.calls++;
        rec.multAdds += multAdds;
      } else {
        const ts = tensorsIn(out);
        records.set(m, {
          shapes: ts.map((t) => [...t.shape]),
          bytes: ts.reduce((s, t) => s + t.size * hostBytes(t.dtype), 0),
          calls: 1,
          multAdds,
        });
      }
      return out;
    };
    restore.push(() => {
      if (had) self.forward = own!;
      else delete (m as unknown as { forward?: unknown }).forward;
    });
  }
  const training = modules.map(([, m]) => m.training);
  const rng = getRngState();
  let inputShape: number[];
  let inputBytes: number;
  try {
    for (const [, m] of modules) m.training = false; // eval mode: dropout off, batch-norm statistics untouched
    noGrad(() =>
      tidy(() => {
        let device: Device = opts.device ?? "cpu";
        if (!opts.device) {
          for (const p of model.parameters()) {
            device = p.device; // the first parameter's device
            break;
          }
        }
        let x: Tensor;
        if (input instanceof Tensor) x = input;
        else {
          if (!Array.isArray(input) || input.some((d) => !Number.isInteger(d) || d < 0)) {
            throw new TypeError(
              `summary: the input shape must be an array of sizes, got ${JSON.stringify(input)}`,
            );
          }
          x = randn(input, { device, dtype: opts.dtype });
        }
        inputShape = [...x.shape];
        inputBytes = x.size * hostBytes(x.dtype);
        const out = (model as unknown as { forward(x: Tensor): unknown }).forward(x);
        if (out instanceof Promise) {
          throw new TypeError(
            "summary: the model's forward returned a promise; summary needs a synchronous forward",
          );
        }
        for (const t of tensorsIn(out)) if (t !== x) t.dispose();
      })
    );
  } finally {
    for (const r of restore) r();
    modules.forEach(([, m], i) => m.training = training[i]);
    setRngState(rng);
  }

  const rows: SummaryRow[] = [];
  let activationBytes = 0;
  // a module's multiply-adds: its own (a leaf layer's) plus its descendants'
  const multAddsUnder = new Map<string, number>();
  for (const [name, m] of modules) {
    const own = records.get(m)?.multAdds ?? 0;
    if (!own) continue;
    const parts = name === "" ? [] : name.split(".");
    for (let k = 0; k <= parts.length; k++) {
      const prefix = parts.slice(0, k).join(".");
      multAddsUnder.set(prefix, (multAddsUnder.get(prefix) ?? 0) + own);
    }
  }
  for (const [name, m] of modules) {
    const depth = name === "" ? 0 : name.split(".").length;
    const rec = records.get(m);
    const isLeaf = m.children().next().done === true;
    if (isLeaf && rec) activationBytes += rec.bytes * rec.calls;
    if (depth > maxDepth) continue;
    let own = 0;
    for (const p of m.parameters(false)) own += p.size;
    rows.push({
      name,
      type: m.constructor.name,
      depth,
      outputShapes: rec ? rec.shapes : null,
      calls: rec?.calls ?? 0,
      ownParams: own,
      totalParams: m.numParameters(),
      isLeaf,
      outputBytes: rec ? rec.bytes : 0,
      multAdds: multAddsUnder.get(name) ?? 0,
    });
  }
  let paramBytes = 0;
  for (const p of model.parameters()) paramBytes += p.size * hostBytes(p.dtype);
  let bufferBytes = 0;
  for (const b of model.buffers()) bufferBytes += b.size * hostBytes(b.dtype);
  const params = model.numParameters();
  const trainable = model.numParameters({ trainableOnly: true });
  return new ModelSummary(model.constructor.name, rows, inputShape!, {
    params,
    trainable,
    nonTrainable: params - trainable,
    paramBytes,
    bufferBytes,
    inputBytes: inputBytes!,
    activationBytes,
  });
}
