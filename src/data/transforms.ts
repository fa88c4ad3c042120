/**
 * Image transforms applied to whole batches on the batch's device (torchvision's `transforms`, batched):
 * `normalize`, `randomCrop`, `randomHorizontalFlip` and `compose`. Images are `[C, H, W]` or batches
 * `[B, C, H, W]`; random transforms draw a choice per image from the generator they are given (a data
 * loader passes its per-epoch generator, so augmentation is reproducible for a seed).
 * @module
 */
import { noGrad } from "../autograd/grad_mode.ts";
import { full, tensor } from "../tensor/creation.ts";
import { fmtShape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { RandomGenerator, seedFromGlobal } from "./generator.ts";

/**
 * A batch transform: a new tensor from `x` (or `x` itself when nothing changes); `x` is left alone.
 * Random transforms draw from `generator`, or from a generator seeded by the global RNG when none is given.
 */
export type Transform = (x: Tensor, generator?: RandomGenerator) => Tensor;

function imageDims(x: Tensor, what: string): { batched: boolean; c: number; h: number; w: number } {
  x.checkLive(what);
  if (x.ndim !== 3 && x.ndim !== 4) {
    throw new RangeError(
      `${what}: expected an image [C, H, W] or a batch [B, C, H, W], got shape ${fmtShape(x.shape)}`,
    );
  }
  const [c, h, w] = x.shape.slice(-3);
  return { batched: x.ndim === 4, c, h, w };
}

function asBatch(x: Tensor, batched: boolean): Tensor {
  return batched ? x.alias() : x.unsqueeze(0);
}

function unBatch(y: Tensor, batched: boolean): Tensor {
  if (batched) return y;
  const out = y.squeeze(0);
  y.dispose();
  return out;
}

function perChannel(v: number | readonly number[], what: string, name: string): number[] {
  const arr = typeof v === "number" ? [v] : [...v];
  if (arr.length === 0 || !arr.every(Number.isFinite)) {
    throw new RangeError(`${what}: ${name} must be a finite number or a non-empty list of them, got ${v}`);
  }
  return arr;
}

/**
 * `(x - mean) / std` per channel (dim -3), as torchvision's `Normalize`.
 *
 * @example
 * ```ts
 * import { data, rand } from "../../mod.ts";
 * const norm = data.normalize(0.2860, 0.3530); // Fashion-MNIST's mean and std
 * const y = norm(rand([8, 1, 28, 28]));
 * ```
 */
export function normalize(mean: number | readonly number[], std: number | readonly number[]): Transform {
  const m = perChannel(mean, "normalize", "mean");
  const s = perChannel(std, "normalize", "std");
  if (s.some((v) => v === 0)) {
    throw new RangeError(`normalize: std must not contain 0, got [${s.join(", ")}]`);
  }
  if (m.length !== s.length && m.length !== 1 && s.length !== 1) {
    throw new RangeError(`normalize: mean has ${m.length} channels but std has ${s.length}`);
  }
  const channels = Math.max(m.length, s.length);
  return (x) => {
    x.checkLive("normalize");
    if (channels > 1) {
      const { c } = imageDims(x, "normalize");
      if (c !== channels) {
        throw new RangeError(
          `normalize: mean/std have ${channels} channels but the images of shape ${
            fmtShape(x.shape)
          } have ${c}`,
        );
      }
    }
    if (x.dtype !== "float32" && x.dtype !== "float16") {
      throw new TypeError(`normalize: expected float images, got ${x.dtype} (convert with .float() first)`);
    }
    return noGrad(() => {
      const shape = channels > 1 ? [channels, 1, 1] : [1];
      const mt = tensor(m.length === 1 ? new Array(channels).fill(m[0]) : m, {
        shape,
        dtype: x.dtype,
        device: x.device,
      });
      const st = tensor(s.length === 1 ? new Array(channels).fill(s[0]) : s, {
        shape,
        dtype: x.dtype,
        device: x.device,
      });
      const d = x.sub(mt);
      const out = d.div(st);
      for (const t of [mt, st, d]) t.dispose();
      return out;
    });
  };
}

/** Options of {@linkcode randomCrop}. */
export interface RandomCropOptions {
  /** Pixels added on every side before cropping (default 0). */
  padding?: number;
  /** The value of the padding pixels (default 0). */
  fill?: number;
}

/**
 * A random `size × size` (or `[h, w]`) window of each image, after padding every side by `padding`
 * (torchvision's `RandomCrop`): each image of a batch gets its own offsets. Runs as two gathers on the
 * batch's device.
 *
 * @example
 * ```ts
 * import { data, rand } from "../../mod.ts";
 * const crop = data.randomCrop(28, { padding: 4 });
 * const y = crop(rand([8, 1, 28, 28]), new data.RandomGenerator(0)); // shape [8, 1, 28, 28]
 * ```
 */
export function randomCrop(
  size: number | readonly [number, number],
  { padding = 0, fill = 0 }: RandomCropOptions = {},
): Transform {
  const [ch, cw] = typeof size === "number" ? [size, size] : size;
  if (![ch, cw].every((v) => Number.isInteger(v) && v > 0)) {
    throw new RangeError(`randomCrop: size must be a positive integer or a pair of them, got ${size}`);
  }
  if (!Number.isInteger(padding) || padding < 0) {
    throw new RangeError(`randomCrop: padding must be a non-negative integer, got ${padding}`);
  }
  return (x, generator) => {
    const { batched, c, h, w } = imageDims(x, "randomCrop");
    const hp = h + 2 * padding;
    const wp = w + 2 * padding;
    if (ch > hp || cw > wp) {
      throw new RangeError(
        `randomCrop: crop size [${ch}, ${cw}] is larger than the padded image [${hp}, ${wp}] (shape ${
          fmtShape(x.shape)
        }, padding ${padding})`,
      );
    }
    const g = generator ?? new RandomGenerator(seedFromGlobal());
    return noGrad(() => {
      const xb = asBatch(x, batched);
      const b = xb.shape[0];
      let padded = xb;
      if (padding > 0) {
        padded = full([b, c, hp, wp], fill, { dtype: x.dtype, device: x.device });
        const rows = padded.narrow(2, padding, h);
        const inner = rows.narrow(3, padding, w);
        inner.copy_(xb);
        rows.dispose();
        inner.dispose();
      }
      const rowIdx = new Int32Array(b * ch);
      const colIdx = new Int32Array(b * cw);
      for (let i = 0; i < b; i++) {
        const oy = g.int(0, hp - ch + 1);
        const ox = g.int(0, wp - cw + 1);
        for (let k = 0; k < ch; k++) rowIdx[i * ch + k] = oy + k;
        for (let k = 0; k < cw; k++) colIdx[i * cw + k] = ox + k;
      }
      const ri = tensor(rowIdx, { shape: [b, 1, ch, 1], device: x.device });
      const ci = tensor(colIdx, { shape: [b, 1, 1, cw], device: x.device });
      const riE = ri.expand([b, c, ch, wp]);
      const ciE = ci.expand([b, c, ch, cw]);
      const tall = padded.gather(2, riE);
      const out = tall.gather(3, ciE);
      for (const t of [ri, ci, riE, ciE, tall, xb]) t.dispose();
      if (padded !== xb) padded.dispose();
      return unBatch(out, batched);
    });
  };
}

/**
 * Mirrors each image left–right with probability `p` (torchvision's `RandomHorizontalFlip`), by one gather
 * on the batch's device. Returns the input itself when no image is flipped.
 *
 * @example
 * ```ts
 * import { data, rand } from "../../mod.ts";
 * const flip = data.randomHorizontalFlip(0.5);
 * const y = flip(rand([8, 1, 28, 28]), new data.RandomGenerator(0));
 * ```
 */
export function randomHorizontalFlip(p = 0.5): Transform {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`randomHorizontalFlip: p must be in [0, 1], got ${p}`);
  return (x, generator) => {
    const { batched, c, h, w } = imageDims(x, "randomHorizontalFlip");
    const g = generator ?? new RandomGenerator(seedFromGlobal());
    const b = batched ? x.shape[0] : 1;
    const flips: boolean[] = [];
    for (let i = 0; i < b; i++) flips.push(g.float() < p);
    if (!flips.some(Boolean)) return x;
    return noGrad(() => {
      const xb = asBatch(x, batched);
      const idx = new Int32Array(b * w);
      for (let i = 0; i < b; i++) {
        for (let k = 0; k < w; k++) idx[i * w + k] = flips[i] ? w - 1 - k : k;
      }
      const it = tensor(idx, { shape: [b, 1, 1, w], device: x.device });
      const itE = it.expand([b, c, h, w]);
      const out = xb.gather(3, itE);
      for (const t of [it, itE, xb]) t.dispose();
      return unBatch(out, batched);
    });
  };
}

/**
 * Applies transforms in order, disposing the intermediate results (torchvision's `Compose`).
 *
 * @example
 * ```ts
 * import { data } from "../../mod.ts";
 * const augment = data.compose([
 *   data.randomCrop(28, { padding: 2 }),
 *   data.randomHorizontalFlip(),
 *   data.normalize(0.2860, 0.3530),
 * ]);
 * ```
 */
export function compose(transforms: readonly Transform[]): Transform {
  transforms.forEach((t, i) => {
    if (typeof t !== "function") throw new TypeError(`compose: transform ${i} is not a function`);
  });
  return (x, generator) => {
    let cur = x;
    for (const t of transforms) {
      const next = t(cur, generator);
      if (cur !== x && next !== cur) cur.dispose();
      cur = next;
    }
    return cur;
  };
}
