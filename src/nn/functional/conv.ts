/**
 * `conv2d`: 2-D convolution (PyTorch's cross-correlation) as im2col plus the batched matrix product, with
 * groups as a batch dim.
 *
 * - Forward: im2col gathers x's windows into [N, G, R, OH·OW] (per group its R ≥ C/G·KH·KW rows: the taps,
 *   a row of ones when there is a bias, zero rows up to a multiple of 4 so that the product loads
 *   4-vectors), and each group's weight [OC/G, R] (its taps, its bias as the column meeting the ones, zero
 *   columns) multiplies them: [N, OC, OH, OW] with the bias added and no copy.
 * - Depthwise (groups = input channels, output channels any multiple of them): no im2col, a dedicated
 *   kernel per direction (`src/ops/depthwise_conv2d.ts`).
 * - Backward (node `ConvolutionBackward0`): the input's gradient is weightᵀ·grad folded back onto the
 *   pixels by col2im (each pixel sums its windows in a fixed order: deterministic); the weight's is
 *   grad·colsᵀ per sample summed over the batch, whose row of ones gives the bias's gradient in the same
 *   product. The node keeps the forward's columns for it (about KH·KW times x's size) when the weight needs
 *   a gradient and they take at most 64 MiB (`convColumnsKept` in `src/ops/unfold.ts`), and frees them with
 *   its other saved tensors; beyond that it saves x and gathers the columns again.
 * - When L = OH·OW is not a multiple of 4, the columns' rows are padded with zeros to a multiple of 4 and
 *   the products run over them (vector loads: 1.4x to 3x faster on lavapipe for L = 121); the forward drops
 *   the extra outputs and the gradient gets zero columns appended.
 * @module
 */
import type { Window2d } from "../../backend/backend.ts";
import { isGradEnabled, noGrad } from "../../autograd/grad_mode.ts";
import { hostBytes, isFloating } from "../../tensor/dtype.ts";
import { fmtShape } from "../../tensor/shape.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { matmul } from "../../ops/matmul.ts";
import { convColumnsKept, fold, im2colRaw } from "../../ops/unfold.ts";
import { depthwiseConv2d, depthwiseFastPath } from "../../ops/depthwise_conv2d.ts";
import { cat } from "../../ops/join.ts";
import { zeros } from "../../tensor/creation.ts";
import { record, sameDevice, sameDType } from "../../ops/util.ts";
import { autocastLowerPrecision } from "../../autograd/autocast_mode.ts";
import { batched4d, convOutputSize, type IntPair, pair, unbatched } from "./window.ts";

/** Options of {@linkcode conv2d}; every size is one int or `[height, width]`. */
export interface Conv2dOptions {
  /** Step between windows (default 1). */
  stride?: IntPair;
  /**
   * Zero padding on each side (default 0), or `"same"` (output as large as the input; stride 1 only) or
   * `"valid"` (no padding).
   */
  padding?: IntPair | "same" | "valid";
  /** Spacing between kernel taps (default 1). */
  dilation?: IntPair;
  /** Blocked connections from input to output channels (default 1; `inChannels` for depthwise). */
  groups?: number;
}

/**
 * 2-D convolution over x [N, C, H, W] (or unbatched [C, H, W]) with weight [OC, C/groups, KH, KW] and an
 * optional bias [OC], as `torch.nn.functional.conv2d`. float32 or float16, on any device; under
 * `amp.autocast` it runs in float16.
 *
 * @example
 * ```ts
 * import { F, randn } from "../../../mod.ts";
 * const x = randn([8, 3, 28, 28]);
 * const w = randn([16, 3, 3, 3], { requiresGrad: true });
 * const y = F.conv2d(x, w, null, { padding: 1 }); // [8, 16, 28, 28]
 * y.sum().backward(); // w.grad: [16, 3, 3, 3]
 * ```
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  x.checkLive("conv2d");
  if (x.ndim !== 3 && x.ndim !== 4) {
    throw new RangeError(
      `conv2d: Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: ${
        fmtShape(x.shape)
      }`,
    );
  }
  const autocast = autocastLowerPrecision(
    "conv2d",
    [x, weight, bias ?? null] as const,
    (x16, w16, b16) => conv2d(x16, w16, b16, opts),
  );
  if (autocast) return autocast;
  const x4 = batched4d("conv2d", x);
  try {
    return unbatched(x, x4, convolution(x4, weight, bias ?? null, opts, x.shape));
  } catch (e) {
    if (x4 !== x) x4.dispose();
    throw e;
  }
}

/** The checked geometry of a convolution. */
function geometry(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  opts: Conv2dOptions,
  userShape: readonly number[],
) {
  if (weight.ndim !== 4) {
    throw new RangeError(
      `conv2d: weight must be 4-D [outChannels, inChannels/groups, kH, kW], but got weight of size ${
        fmtShape(weight.shape)
      }`,
    );
  }
  sameDevice("conv2d", x, weight, ...(bias ? [bias] : []));
  sameDType("conv2d", x, weight);
  if (bias) sameDType("conv2d", x, bias);
  if (!isFloating(x.dtype)) {
    throw new TypeError(`conv2d: expected floating point tensors, but got ${x.dtype}; convert with .float()`);
  }
  const stride = pair("conv2d", "stride", opts.stride ?? 1);
  const dilation = pair("conv2d", "dilation", opts.dilation ?? 1);
  const groups = opts.groups ?? 1;
  const pad = opts.padding ?? 0;
  if (typeof pad === "string" && pad !== "same" && pad !== "valid") {
    throw new RangeError(`conv2d: Invalid padding string: '${pad}'`);
  }
  if (stride.some((s) => s <= 0)) throw new RangeError("conv2d: non-positive stride is not supported");
  if (dilation.some((d) => d <= 0)) {
    throw new RangeError(`conv2d: dilation should be greater than zero, but got ${fmtShape(dilation)}`);
  }
  if (!Number.isInteger(groups) || groups <= 0) {
    throw new RangeError(`conv2d: non-positive groups is not supported (got groups=${groups})`);
  }
  const [OC, Cg, KH, KW] = weight.shape;
  const [N, C, H, W] = x.shape;
  const wShape = fmtShape(weight.shape);
  if (OC % groups !== 0) {
    throw new RangeError(
      `conv2d: Given groups=${groups}, expected weight to be divisible by ${groups} at dimension 0, but got ` +
        `weight of size ${wShape} instead`,
    );
  }
  if (C !== Cg * groups) {
    throw new RangeError(
      `conv2d: Given groups=${groups}, weight of size ${wShape}, expected input${
        fmtShape(userShape)
      } to have ${Cg * groups} channels, but got ${C} channels instead`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== OC)) {
    throw new RangeError(
      `conv2d: Given weight of size ${wShape}, expected bias to be 1-dimensional with ${OC} elements, but got ` +
        `bias of size ${fmtShape(bias.shape)} instead`,
    );
  }
  const kernel: [number, number] = [KH, KW];
  const reach = kernel.map((k, i) => dilation[i] * (k - 1) + 1);
  let padding: [number, number];
  let out: [number, number];
  if (pad === "same") {
    if (stride.some((s) => s !== 1)) {
      throw new RangeError("conv2d: padding='same' is not supported for strided convolutions");
    }
    // PyTorch's rule: the total padding d·(k-1), the odd one out going to the bottom/right
    padding = [Math.floor((reach[0] - 1) / 2), Math.floor((reach[1] - 1) / 2)];
    out = [H, W];
  } else {
    padding = pad === "valid" ? [0, 0] : pair("conv2d", "padding", pad);
    if (padding.some((p) => p < 0)) throw new RangeError("conv2d: negative padding is not supported");
    if (H + 2 * padding[0] < reach[0] || W + 2 * padding[1] < reach[1]) {
      throw new RangeError(
        `conv2d: Calculated padded input size per channel: (${H + 2 * padding[0]} x ${
          W + 2 * padding[1]
        }). Kernel size: (${reach[0]} x ${reach[1]}). Kernel size can't be greater than actual input size`,
      );
    }
    out = [0, 1].map((i) =>
      convOutputSize(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i])
    ) as [
      number,
      number,
    ];
  }
  const win: Window2d = { kernel, stride, padding, dilation, out };
  return { win, N, C, H, W, OC, G: groups, K: Cg * KH * KW, L: out[0] * out[1] };
}

/** n rounded up to a multiple of 4 (rows of im2col padded so that the matrix products load 4-vectors). */
function roundUp4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/**
 * Each group's weight as [G, OC/G, rows]: its K taps, then its bias (when given) as the column that meets
 * im2col's row of ones, then zero columns. Just a view when nothing is appended.
 */
function weightRows(weight: Tensor, bias: Tensor | null, G: number, K: number, rows: number): Tensor {
  const OCg = weight.shape[0] / G;
  const w = weight.reshape([G, OCg, K]);
  if (rows === K) return w;
  const parts = [w];
  if (bias) parts.push(bias.reshape([G, OCg, 1]));
  const pad = rows - K - (bias ? 1 : 0);
  if (pad > 0) parts.push(zeros([G, OCg, pad], { device: weight.device, dtype: weight.dtype }));
  const out = cat(parts, 2);
  for (const t of parts) t.dispose();
  return out;
}

/**
 * The row length of the products' column operands: L, or L rounded up to a multiple of 4 (zero columns
 * appended) when that adds at most a quarter, so that both operands load 4-vectors.
 */
function productLength(L: number): number {
  const LP = roundUp4(L);
  return 4 * (LP - L) <= L ? LP : L;
}

/**
 * Internal knob (not exported from `mod.ts`): the most bytes of per-sample weight-gradient products held at
 * once; past it the batch is summed in slices (tests set it low to exercise the slicing).
 */
export const convWeightGradSlice: { maxBytes: number } = { maxBytes: 32 * 1024 * 1024 };

/**
 * Σₙ g[n]·cols[n]ᵀ: g [N, G, OC/G, LP] and cols [N, G, rows, LP] → [G, OC/G, rows], as per-sample products
 * summed over the batch, in slices of the batch small enough that the per-sample products stay below
 * `convWeightGradSlice.maxBytes` (a wide conv at a large batch would otherwise need more than a storage buffer may hold).
 */
function weightGradient(g4: Tensor, colsG: Tensor): Tensor {
  const [N, G, OCg] = g4.shape;
  const rows = colsG.shape[2];
  const perSampleBytes = G * OCg * rows * 4;
  const slice = Math.max(1, Math.min(N, Math.floor(convWeightGradSlice.maxBytes / perSampleBytes)));
  let total: Tensor | null = null;
  for (let n0 = 0; n0 < N; n0 += slice) {
    const n = Math.min(slice, N - n0);
    const gs = n === N ? g4 : g4.narrow(0, n0, n);
    const cs = n === N ? colsG : colsG.narrow(0, n0, n);
    const ct = cs.transpose(2, 3);
    const perSample = matmul(gs, ct); // [n, G, OC/G, rows]
    const part = perSample.sum(0);
    for (const t of new Set([gs, cs, ct, perSample])) if (t !== g4 && t !== colsG) t.dispose();
    if (total) {
      const sum: Tensor = total.add(part);
      total.dispose();
      part.dispose();
      total = sum;
    } else total = part;
  }
  return total!;
}

function convolution(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  opts: Conv2dOptions,
  userShape: readonly number[],
): Tensor {
  const { win, N, C, H, W, OC, G, K, L } = geometry(x, weight, bias, opts, userShape);
  // depthwise (one input channel per group, any channel multiplier OC/C): a dedicated kernel per direction.
  // Not for a single input channel (a stem conv, groups = C = 1): there the im2col product is faster (its
  // weight gradient is one matrix product; measured 13.5 against 9.3 steps/s on bench/ours.ts cnn-step)
  if (G === C && C > 1 && depthwiseFastPath.enabled) return depthwiseConv2d(x, weight, bias, win);
  const OCg = OC / G;
  const [OH, OW] = win.out;
  // The products run over LP ≥ L columns, zero past L: im2col writes rows LP long, the forward's output
  // drops the extra columns (a copy) and the gradient gets zero ones appended. With L = 121 (conv2 of
  // bench/ours.ts cnn-step) the three products then load 4-vectors and ran 1.4x to 3x faster on lavapipe.
  const LP = productLength(L);
  const gather = (x: Tensor, rows: number, ones: boolean) => {
    const cols = im2colRaw(x, win, { groups: G, rows, ones, columns: LP }); // [N, G·rows, LP]
    const colsG = cols.view([N, G, rows, LP]);
    cols.dispose();
    return colsG;
  };
  const wantGrad = isGradEnabled() &&
    (x.requiresGrad || weight.requiresGrad || (bias?.requiresGrad ?? false));
  const [out, cols] = noGrad((): [Tensor, Tensor] => {
    // the bias rides in the product: a row of ones in the columns meets a bias column in the weight
    const rows = roundUp4(K + (bias ? 1 : 0));
    const cols = gather(x, rows, bias !== null);
    const w = weightRows(weight, bias, G, K, rows);
    const y = matmul(w, cols); // [N, G, OC/G, LP]: NCHW as it stands when LP = L
    w.dispose();
    if (LP === L) {
      const y4 = y.view([N, OC, OH, OW]);
      y.dispose();
      return [y4, cols];
    }
    const y3 = y.view([N, OC, LP]);
    const crop = y3.narrow(2, 0, L);
    const yc = crop.contiguous();
    const y4 = yc.view([N, OC, OH, OW]);
    for (const t of [y, y3, crop, yc]) t.dispose();
    return [y4, cols];
  });
  // the forward's columns serve the weight's gradient (their row of ones the bias's) when they are not
  // too large; otherwise x is saved and its columns are gathered again
  const keepCols = wantGrad && weight.requiresGrad &&
    cols.size * hostBytes(x.dtype) <= convColumnsKept.maxBytes;
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const result = record("ConvolutionBackward0", out, inputs, (node) => {
    // the weight is needed only for x's gradient, x (or its columns) for the weight's and bias's
    const wantBias = bias?.requiresGrad ?? false;
    const sc = keepCols ? node.save(cols) : null;
    const sx = weight.requiresGrad && !keepCols ? node.save(x) : null;
    const sw = x.requiresGrad ? node.save(weight) : null;
    return (g) => {
      // g as [N, G, OC/G, LP], zeros in the columns past L
      let g4: Tensor;
      if (LP === L) g4 = g.reshape([N, G, OCg, L]);
      else {
        const g3 = g.reshape([N, OC, L]);
        const z = zeros([N, OC, LP - L], { device: g.device, dtype: g.dtype });
        const gp = cat([g3, z], 2);
        g4 = gp.view([N, G, OCg, LP]);
        for (const t of [g3, z, gp]) t.dispose();
      }
      let gx: Tensor | null = null;
      let gw: Tensor | null = null;
      let gb: Tensor | null = null;
      if (sw) {
        // the columns' gradient, Wᵀ·g per group, folded back onto the pixels; with one group the weight is
        // padded to a multiple of 4 rows (vector loads) and the extra rows of the result are skipped
        const rows = G === 1 ? roundUp4(K) : K;
        const w = weightRows(sw, null, G, K, rows);
        const wt = w.transpose(1, 2);
        const gcols = matmul(wt, g4); // [N, G, rows, LP]
        const gc = gcols.reshape([N, G * rows, LP]);
        const taps = rows === K ? gc : gc.narrow(1, 0, K);
        const used = LP === L ? taps : taps.narrow(2, 0, L);
        gx = fold(used, [H, W], win);
        for (const t of new Set([w, wt, gcols, gc, taps, used])) t.dispose();
      }
      if (sc || sx) {
        // grad·colsᵀ per sample, summed over the batch; the row of ones gives the bias's gradient
        const rows = roundUp4(K + ((sc ? bias : wantBias) ? 1 : 0));
        const colsG = sc ?? gather(sx!, rows, wantBias);
        const s = weightGradient(g4, colsG);
        const taps = s.narrow(2, 0, K);
        gw = taps.reshape(weight.shape);
        if (wantBias) {
          const col = s.narrow(2, K, 1);
          gb = col.reshape([OC]);
          col.dispose();
        }
        for (const t of [s, taps]) t.dispose();
        if (!sc) colsG.dispose();
      } else if (wantBias) gb = g.sum([0, 2, 3]);
      g4.dispose();
      return bias ? [gx, gw, gb] : [gx, gw];
    };
  });
  cols.dispose();
  return result;
}
