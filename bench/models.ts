/**
 * The Fashion-MNIST models and the test-accuracy loop shared by the training benches
 * (`bench/fashion_mnist.ts`, `bench/prune_distill.ts`, `bench/amp.ts`, `bench/batch_size.ts`, `bench/soak.ts`): like torchvision next to `torch.nn`, architectures
 * live beside the benches that train them, not in the library.
 * @module
 */
import { type data, nn, noGrad, type Tensor, tidy } from "../mod.ts";

/**
 * Two conv(3×3, padding 1)+BatchNorm+ReLU+max-pool blocks of `c1` and `c2` channels on 28×28×1 images,
 * then, with `hidden`, FC hidden + ReLU + dropout + FC 10, else one FC 10: the layout of every CNN below
 * (the layer order, hence the state-dict keys, is the same for all).
 *
 * @example
 * ```ts
 * import { convNet } from "./models.ts";
 * const net = convNet(16, 32, { hidden: 64, dropout: 0.1 });
 * ```
 */
export function convNet(
  c1: number,
  c2: number,
  head: { hidden?: number; dropout?: number } = {},
): nn.Sequential {
  const layers: nn.Module[] = [];
  for (const [cin, cout] of [[1, c1], [c1, c2]]) {
    layers.push(
      new nn.Conv2d(cin, cout, 3, { padding: 1 }),
      new nn.BatchNorm2d(cout),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
    );
  }
  layers.push(new nn.Flatten());
  if (head.hidden) {
    layers.push(
      new nn.Linear(c2 * 7 * 7, head.hidden),
      new nn.ReLU(),
      new nn.Dropout(head.dropout ?? 0),
      new nn.Linear(head.hidden, 10),
    );
  } else layers.push(new nn.Linear(c2 * 7 * 7, 10));
  return new nn.Sequential(...layers);
}

/**
 * The "2 conv + pooling + BatchNorm" network of the dataset README's table (421 834 parameters):
 * conv(32)+BN+ReLU+pool, conv(64)+BN+ReLU+pool, FC 128, dropout 0.25, FC 10.
 *
 * @example
 * ```ts
 * import { convBnNet } from "./models.ts";
 * console.log(convBnNet().numParameters()); // 421834
 * ```
 */
export function convBnNet(): nn.Sequential {
  return convNet(32, 64, { hidden: 128, dropout: 0.25 });
}

/**
 * The distillation student under 100K parameters (93 330): conv(16)+BN+ReLU+pool, conv(32)+BN+ReLU+pool,
 * FC 56, dropout 0.2, FC 10; a quarter of {@linkcode convBnNet}'s multiply-adds.
 *
 * @example
 * ```ts
 * import { studentCnn } from "./models.ts";
 * console.log(studentCnn().numParameters()); // 93330
 * ```
 */
export function studentCnn(): nn.Sequential {
  return convNet(16, 32, { hidden: 56, dropout: 0.2 });
}

/**
 * A wider distillation student, still under 100K parameters (86 426): conv(24)+BN+ReLU+pool,
 * conv(48)+BN+ReLU+pool, FC 32, dropout 0.1, FC 10; more convolution channels than {@linkcode studentCnn}
 * and a narrower head, about half of {@linkcode convBnNet}'s multiply-adds.
 *
 * @example
 * ```ts
 * import { studentCnnWide } from "./models.ts";
 * console.log(studentCnnWide().numParameters()); // 86426
 * ```
 */
export function studentCnnWide(): nn.Sequential {
  return convNet(24, 48, { hidden: 32, dropout: 0.1 });
}

/**
 * The CNN of the AMP, batch-size and soak benches (20 586 parameters): conv(16)+BN+ReLU+pool, conv(32)+BN+ReLU+pool, linear 1568→10.
 *
 * @example
 * ```ts
 * import { demoCnn } from "./models.ts";
 * console.log(demoCnn().numParameters());
 * ```
 */
export function demoCnn(): nn.Sequential {
  return convNet(16, 32);
}

/** The MLP 784-256-128-100-10 of the dataset README's table (247 766 parameters). */
export function mlpNet(): nn.Sequential {
  return new nn.Sequential(
    new nn.Flatten(),
    new nn.Linear(784, 256),
    new nn.ReLU(),
    new nn.Linear(256, 128),
    new nn.ReLU(),
    new nn.Linear(128, 100),
    new nn.ReLU(),
    new nn.Linear(100, 10),
  );
}

/**
 * The fraction of `loader`'s samples whose argmax logit is the label, with `net` in `eval()` mode under
 * `noGrad`; the hits are summed on the device and read once.
 *
 * @example
 * ```ts ignore
 * const acc = await evaluateAccuracy(net, new data.DataLoader(test, { batchSize: 500, device }));
 * ```
 */
export async function evaluateAccuracy(
  net: nn.Module & { forward(x: Tensor): Tensor },
  loader: data.DataLoader,
): Promise<number> {
  net.eval();
  let correct: Tensor | null = null;
  let count = 0;
  await noGrad(async () => {
    for await (using batch of loader) {
      const [x, y] = batch;
      count += x.shape[0];
      const hits = tidy(() => net.forward(x).argmax(1).eq(y).sum());
      const total: Tensor = correct ? correct.add(hits) : hits;
      if (correct) {
        correct.dispose();
        hits.dispose();
      }
      correct = total;
    }
  });
  const acc = (await correct!.item()) / count;
  (correct as Tensor | null)?.dispose();
  return acc;
}
