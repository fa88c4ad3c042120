/**
 * The backward pass: walks the recorded graph in reverse topological order, frees saved tensors as soon
 * as they are used, and accumulates gradients into leaves (`backward`) or returns them (`grad`).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { keep } from "../tensor/scope.ts";
import { Node } from "./node.ts";
import { setGradEnabled } from "./grad_mode.ts";
import { resumeAutocast, suspendAutocast } from "./autocast_mode.ts";

/** Options of a backward pass. */
export interface BackwardOptions {
  /** Keep saved tensors so that backward can run through this graph again. */
  retainGraph?: boolean;
  /** Record the backward computation itself (for higher-order gradients). */
  createGraph?: boolean;
}

function topoOrder(roots: readonly Node[]): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  const stack: [Node, number][] = roots.filter((r) => !seen.has(r) && seen.add(r)).map((r) => [r, 0]);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const next = node.inputs[i]?.gradFn;
      if (next && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse();
}

/**
 * Runs backward from `outputs` seeded with `grads`. Leaves' `.grad` accumulate, unless `capture` is given:
 * then the gradients of the tensors in `capture` are returned instead and no `.grad` changes.
 */
export function runBackward(
  outputs: readonly Tensor[],
  grads: readonly Tensor[],
  opts: BackwardOptions = {},
  capture?: readonly Tensor[],
): (Tensor | null)[] {
  const pending = new Map<Node, Tensor>();
  const captured = new Map<Tensor, Tensor>();
  const captureSet = new Set(capture ?? []);
  // leaves with post-accumulate hooks: each fires once every node that can send its leaf a gradient has run
  const hooked = new Map<Tensor, number>();
  const received = new Set<Tensor>();
  const firePostHooks = (t: Tensor) => {
    for (const hook of [...t.accumulateGrad().postHooks]) hook(t);
  };
  const settle = (node: Node) => {
    for (const inp of node.inputs) {
      const left = inp ? hooked.get(inp) : undefined;
      if (!left) continue;
      hooked.set(inp!, left - 1);
      if (left === 1 && received.delete(inp!)) firePostHooks(inp!);
    }
  };
  const prevMode = setGradEnabled(opts.createGraph ?? false);
  const prevAutocast = suspendAutocast(); // backward ops are not autocast, as in PyTorch
  const add = (a: Tensor | undefined, b: Tensor): Tensor => {
    if (!a) return b;
    const s = a.add(b);
    a.dispose();
    b.dispose();
    return s;
  };
  // a node that hands its incoming gradient on unchanged (add, views...) passes a new handle on it; when the
  // backward is recorded (createGraph) the handle must keep leading back through the gradient's own graph
  const passOn = (g: Tensor): Tensor => {
    const a = g.alias();
    if (opts.createGraph && g.requiresGrad) {
      const link = new Node("AliasBackward0", [g]);
      link.setBackward((x) => [x.alias()]);
      a.setGradFn(link);
    }
    return a;
  };
  const deliver = (t: Tensor, g0: Tensor) => {
    // gradients take their input's dtype, as in PyTorch
    let g = g0;
    if (g.dtype !== t.dtype) {
      g = g0.to(t.dtype);
      g0.dispose();
    }
    if (captureSet.has(t) && !t.gradFn) {
      captured.set(t, add(captured.get(t), g));
    } else if (t.gradFn) {
      pending.set(t.gradFn, add(pending.get(t.gradFn), g));
    } else if (!capture) {
      t.accumulate(g);
      if (t.accumulateGrad().postHooks.length) received.add(t);
    } else g.dispose();
  };
  try {
    const roots: Node[] = [];
    outputs.forEach((out, k) => {
      if (!out.requiresGrad) {
        throw new Error(
          "element 0 of tensors does not require grad and does not have a gradFn".replace("0", `${k}`),
        );
      }
      deliver(out, grads[k]);
      if (out.gradFn) roots.push(out.gradFn);
    });
    const order = topoOrder(roots);
    if (!capture) {
      for (const node of order) {
        for (const inp of node.inputs) {
          if (inp && !inp.gradFn && inp.requiresGrad && inp.accumulateGrad().postHooks.length) {
            hooked.set(inp, (hooked.get(inp) ?? 0) + 1);
          }
        }
      }
    }
    for (const node of order) {
      const g = pending.get(node);
      if (!g) {
        settle(node);
        continue;
      }
      pending.delete(node);
      const gi = node.apply(g);
      const owner = nodeOutputs.get(node)?.deref();
      if (owner && captureSet.has(owner)) captured.set(owner, g.alias());
      else if (owner && owner.retainsGrad && !capture) owner.accumulate(g.alias());
      node.inputs.forEach((inp, i) => {
        const gin = gi[i];
        if (!inp || !inp.requiresGrad || !gin) {
          if (gin && gin !== g) gin.dispose();
          return;
        }
        if (gin.shape.length !== inp.shape.length || gin.shape.some((d, j) => d !== inp.shape[j])) {
          throw new Error(
            `${node.name}: gradient of input ${i} has shape ${fmtShape(gin.shape)} but the input has shape ` +
              `${fmtShape(inp.shape)} (internal error)`,
          );
        }
        deliver(inp, gin === g ? passOn(g) : gin);
      });
      g.dispose();
      if (!opts.retainGraph) node.release();
      settle(node);
    }
    for (const t of received) firePostHooks(t); // leaves that were outputs themselves
  } finally {
    for (const g of pending.values()) g.dispose();
    setGradEnabled(prevMode);
    resumeAutocast(prevAutocast);
  }
  return (capture ?? []).map((t) => {
    const g = captured.get(t);
    return g ? keep(g) : null;
  });
}

/** The output tensor of each node (weakly held), so that `retainGrad` and `grad()` can find it. */
export const nodeOutputs: WeakMap<Node, WeakRef<Tensor>> = new WeakMap();
