/**
 * A small MobileNet-style network for 28×28×1 images (Fashion-MNIST), and the same network with dense 3×3
 * convolutions in place of the depthwise-separable blocks, the "standard" net it is compared with.
 *
 * The model lives here, beside the benchmark that trains it, rather than in the library: like PyTorch, which
 * keeps architectures in torchvision and not in `torch.nn`, denograd ships layers (`nn.Conv2d`,
 * `nn.DepthwiseSeparableConv2d`) and leaves architectures to examples. `bench/mobilenet.ts` trains it and
 * `notebooks/12-depthwise-separable.ipynb` imports it.
 *
 * Layout (both variants): a stem 3×3 Conv2d 1→16 + BatchNorm + ReLU at 28×28, then four blocks
 * 16→32 (stride 2, 14×14), 32→64, 64→128 (stride 2, 7×7), 128→128, a global average pool and a Linear 128→10.
 * @module
 */
import { nn } from "../mod.ts";

/** Options of {@linkcode mobileNetSmall}. */
export interface MobileNetSmallOptions {
  /** Depthwise-separable blocks (true, the default) or dense 3×3 convolutions + BatchNorm + ReLU (false). */
  separable?: boolean;
  /** Channels of the stem (default 16); the blocks have 2, 4, 8 and 8 times as many. */
  width?: number;
  /** Number of classes (default 10). */
  classes?: number;
}

/** The blocks: output-channel multiple of the width, and stride. */
const BLOCKS: readonly [number, number][] = [[2, 2], [4, 1], [8, 2], [8, 1]];

/**
 * The small MobileNet (or, with `separable: false`, its dense twin) as an `nn.Sequential` with children
 * `stem`, `block1`..`block4`, `pool`, `flatten`, `fc`.
 *
 * @example
 * ```ts
 * import { randn } from "../mod.ts";
 * import { mobileNetSmall } from "./mobilenet_small.ts";
 * const net = mobileNetSmall();
 * const logits = net.forward(randn([2, 1, 28, 28])); // [2, 10]
 * console.log(net.numParameters(), mobileNetSmall({ separable: false }).numParameters());
 * ```
 */
export function mobileNetSmall(opts: MobileNetSmallOptions = {}): nn.Sequential {
  const { separable = true, width = 16, classes = 10 } = opts;
  const layers: Record<string, nn.Module> = {
    stem: new nn.Sequential(
      new nn.Conv2d(1, width, 3, { padding: 1, bias: false }),
      new nn.BatchNorm2d(width),
      new nn.ReLU(),
    ),
  };
  let c = width;
  BLOCKS.forEach(([mult, stride], i) => {
    const oc = width * mult;
    layers[`block${i + 1}`] = separable
      ? new nn.DepthwiseSeparableConv2d(c, oc, { stride })
      : new nn.Sequential(
        new nn.Conv2d(c, oc, 3, { stride, padding: 1, bias: false }),
        new nn.BatchNorm2d(oc),
        new nn.ReLU(),
      );
    c = oc;
  });
  layers.pool = new nn.AdaptiveAvgPool2d(1);
  layers.flatten = new nn.Flatten();
  layers.fc = new nn.Linear(c, classes);
  return new nn.Sequential(layers);
}
