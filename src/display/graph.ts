/**
 * The autograd graph behind a tensor's `gradFn`, drawn as torchviz draws PyTorch's: DOT text rendered to
 * SVG by Graphviz (`npm:@viz-js/viz`, WebAssembly, no system Graphviz needed).
 * @module
 */
import { AccumulateGrad, type Node } from "../autograd/node.ts";
import { Tensor } from "../tensor/tensor.ts";
import { escapeHtml } from "./format.ts";
import { JUPYTER_DISPLAY, type MimeBundle } from "./jupyter.ts";

/** Options of {@linkcode toDot} and {@linkcode drawGraph}. */
export interface GraphOptions {
  /** Names for leaf tensors (e.g. `model.namedParameters()` or `{ w, b }`); otherwise `t.name` or `#id`. */
  params?: Iterable<[string, Tensor]> | Record<string, Tensor>;
  /** Show the tensors each op saved for backward (default true). */
  showSaved?: boolean;
  /** Stop after this many nodes (default 500), so a huge graph stays drawable. */
  maxNodes?: number;
}

/** The colours and shapes of the graph, as torchviz uses them. */
export const GRAPH_STYLE = {
  /** The tensor the graph was drawn for. */
  output: { shape: "box", fillcolor: "darkolivegreen1" },
  /** A recorded operation (`MulBackward0`...). */
  op: { shape: "box", fillcolor: "lightgrey" },
  /** A leaf that requires grad (a parameter): gradients accumulate into its `.grad`. */
  leaf: { shape: "box", fillcolor: "lightblue" },
  /** A tensor an op saved for its backward pass. */
  saved: { shape: "ellipse", fillcolor: "orange" },
} as const;

function q(s: string): string {
  return `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`;
}

function shapeText(t: Tensor): string {
  return `[${t.shape.join(", ")}]`;
}

function nameTable(params: GraphOptions["params"]): Map<Tensor, string> {
  const names = new Map<Tensor, string>();
  if (!params) return names;
  const entries = Symbol.iterator in params
    ? params as Iterable<[string, Tensor]>
    : Object.entries(params as Record<string, Tensor>);
  for (const [name, t] of entries) if (t instanceof Tensor) names.set(t, name);
  return names;
}

/** Counts of what a drawn graph holds. */
export interface GraphCounts {
  /** Recorded operations. */
  ops: number;
  /** Leaves that require grad. */
  leaves: number;
  /** Saved tensors shown. */
  saved: number;
}

/**
 * The DOT text of the autograd graph that produced `root` (ops grey, leaves blue, saved tensors orange, the
 * output green, shapes on the edges). Data flows top to bottom: leaves first, `root` last.
 *
 * @example
 * ```ts
 * import { tensor } from "../../mod.ts";
 * import { toDot } from "./graph.ts";
 * const w = tensor([1, 2], { requiresGrad: true });
 * const dot = toDot(w.mul(w).sum()); // contains "SumBackward0" and "MulBackward0"
 * ```
 */
export function toDot(root: Tensor, opts: GraphOptions = {}): string {
  return buildDot(root, opts).dot;
}

function buildDot(root: Tensor, opts: GraphOptions): { dot: string; counts: GraphCounts } {
  if (!(root instanceof Tensor)) {
    throw new TypeError(`drawGraph: expected a Tensor, got ${root === null ? "null" : typeof root}`);
  }
  const { showSaved = true, maxNodes = 500 } = opts;
  const names = nameTable(opts.params);
  const ids = new Map<object, string>();
  const lines: string[] = [];
  const counts: GraphCounts = { ops: 0, leaves: 0, saved: 0 };
  let truncated = false;
  const idOf = (o: object) => {
    let id = ids.get(o);
    if (!id) {
      id = `n${ids.size}`;
      ids.set(o, id);
    }
    return id;
  };
  const style = (s: { shape: string; fillcolor: string }, extra = "") =>
    `shape=${s.shape}, style="filled${extra}", fillcolor=${s.fillcolor}`;
  const leafLabel = (t: Tensor) => `${names.get(t) ?? t.name ?? `#${t.id}`}\n${shapeText(t)}`;

  const outId = idOf(root);
  lines.push(
    `  ${outId} [label=${q(`${root.name ?? "output"}\n${shapeText(root)}`)}, ${style(GRAPH_STYLE.output)}];`,
  );
  if (!root.gradFn) {
    if (root.requiresGrad) counts.leaves++;
    const dot =
      `digraph autograd {\n  graph [rankdir=TB, fontsize=11];\n  node [fontname="monospace", fontsize=11, height=0.3];\n${
        lines.join("\n")
      }\n}\n`;
    return { dot, counts };
  }

  const seen = new Set<Node | AccumulateGrad>();
  const queue: (Node | AccumulateGrad)[] = [root.gradFn];
  lines.push(`  ${idOf(root.gradFn)} -> ${outId} [label=${q(` ${shapeText(root)}`)}];`);
  while (queue.length) {
    const fn = queue.shift()!;
    if (seen.has(fn)) continue;
    if (seen.size >= maxNodes) {
      truncated = true;
      break;
    }
    seen.add(fn);
    const id = idOf(fn);
    if (fn instanceof AccumulateGrad) {
      counts.leaves++;
      lines.push(`  ${id} [label=${q(leafLabel(fn.variable))}, ${style(GRAPH_STYLE.leaf, ", rounded")}];`);
      continue;
    }
    counts.ops++;
    const released = fn.released;
    lines.push(
      `  ${id} [label=${q(fn.name)}, ${style(GRAPH_STYLE.op, released ? ", dashed" : "")}${
        released ? `, tooltip=${q("backward already ran: saved tensors freed")}` : ""
      }];`,
    );
    if (showSaved) {
      fn.saved.forEach((s, i) => {
        if (s.isDisposed) return;
        counts.saved++;
        const sid = `${id}_s${i}`;
        lines.push(
          `  ${sid} [label=${q(`saved\n${shapeText(s)}`)}, ${style(GRAPH_STYLE.saved)}, fontsize=9];`,
        );
        lines.push(`  ${sid} -> ${id} [style=dashed, arrowhead=none, color=darkorange];`);
      });
    }
    const next = fn.nextFunctions;
    const edges = new Map<string, string[]>(); // one edge per input node, e.g. "2 × [8, 1]" for x.mul(x)
    fn.inputs.forEach((input, i) => {
      const nf = next[i];
      if (!nf || !input) return;
      const from = idOf(nf);
      edges.set(from, [...(edges.get(from) ?? []), shapeText(input)]);
      if (!seen.has(nf)) queue.push(nf);
    });
    for (const [from, shapes] of edges) {
      const label = shapes.every((s) => s === shapes[0]) && shapes.length > 1
        ? `${shapes.length} × ${shapes[0]}`
        : shapes.join(", ");
      lines.push(`  ${from} -> ${id} [label=${q(` ${label}`)}];`);
    }
  }
  if (truncated) {
    lines.push(`  more [label=${q(`… graph cut at ${maxNodes} nodes`)}, shape=plaintext];`);
  }
  const dot =
    `digraph autograd {\n  graph [rankdir=TB, fontsize=11];\n  node [fontname="monospace", fontsize=11, height=0.3];\n  edge [fontname="monospace", fontsize=9, fontcolor="#555555"];\n${
      lines.join("\n")
    }\n}\n`;
  return { dot, counts };
}

type Viz = { renderString(dot: string, opts: { format: string }): string };
let vizPromise: Promise<Viz> | null = null;

/**
 * Renders DOT text to SVG with Graphviz compiled to WebAssembly (`npm:@viz-js/viz`, loaded on first use).
 *
 * @example
 * ```ts
 * import { dotToSvg } from "./graph.ts";
 * const svg = await dotToSvg("digraph { a -> b }");
 * ```
 */
export async function dotToSvg(dot: string): Promise<string> {
  // Pinned inline on purpose (loaded only when a graph is drawn), as bench/ pins its peers.
  // deno-lint-ignore no-import-prefix
  vizPromise ??= import("npm:@viz-js/viz@3.31.0").then((m) => m.instance() as Promise<Viz>);
  const svg = (await vizPromise).renderString(dot, { format: "svg" });
  const start = svg.indexOf("<svg");
  return start > 0 ? svg.slice(start) : svg;
}

/**
 * An autograd graph drawn by {@linkcode drawGraph}: SVG and DOT, displayed as SVG in notebooks.
 *
 * @example
 * ```ts
 * import { drawGraph, tensor } from "../../mod.ts";
 * const x = tensor([1, 2], { requiresGrad: true });
 * const view = await drawGraph(x.mul(x).sum());
 * console.log(view.toString()); // "autograd graph: 2 ops, 1 leaf, ..."; view.svg is the drawing
 * ```
 */
export class GraphView {
  /** Internal: use {@linkcode drawGraph}. */
  constructor(
    /** The DOT source. */
    readonly dot: string,
    /** The rendered SVG. */
    readonly svg: string,
    /** What the graph holds. */
    readonly counts: GraphCounts,
  ) {}

  /** A short description, e.g. "autograd graph: 3 ops, 2 leaves, 4 saved tensors". */
  toString(): string {
    const { ops, leaves, saved } = this.counts;
    return `autograd graph: ${ops} op${ops === 1 ? "" : "s"}, ${leaves} lea${
      leaves === 1 ? "f" : "ves"
    }, ${saved} saved tensor${saved === 1 ? "" : "s"}`;
  }

  /** Shown by `deno jupyter`: the SVG, with the description as text. */
  [JUPYTER_DISPLAY](): MimeBundle {
    return { "image/svg+xml": this.svg, "text/plain": this.toString() };
  }

  /** The SVG inside an HTML `<figure>` with a caption (for pages that inline HTML). */
  toHtml(): string {
    return `<figure style="margin:0">${this.svg}<figcaption style="color:#666;font-size:11px">${
      escapeHtml(this.toString())
    }</figcaption></figure>`;
  }
}

/**
 * Draws the autograd graph behind `root.gradFn` as SVG: ops as grey boxes, leaves that require grad as blue
 * rounded boxes (named from `params`, `t.name` or `#id`), tensors saved for backward as orange ellipses,
 * and shapes on the edges. Draw before `backward()` to see the saved tensors (backward frees them).
 *
 * @example
 * ```ts
 * import { drawGraph, tensor } from "../../mod.ts";
 * const w = tensor([1, 2], { requiresGrad: true });
 * const b = tensor([0.5], { requiresGrad: true });
 * const loss = w.mul(3).add(b).square().sum();
 * const g = await drawGraph(loss, { params: { w, b } }); // ends a notebook cell: shows the SVG
 * console.log(g.toString()); // autograd graph: 4 ops, 2 leaves, 3 saved tensors
 * ```
 */
export async function drawGraph(root: Tensor, opts: GraphOptions = {}): Promise<GraphView> {
  const { dot, counts } = buildDot(root, opts);
  return new GraphView(dot, await dotToSvg(dot), counts);
}
