/**
 * The Fashion-MNIST models and the test-accuracy loop shared by the training benches
 * (`bench/fashion_mnist.ts`, `bench/prune_distill.ts`, `bench/amp.ts`, `bench/batch_size.ts`, `bench/soak.ts`): like torchvision next to `torch.nn`, architectures
 * live beside the benches that train them, not in the library.
 * @module
 */
import { type data, nn, noGrad, type Tensor, tidy } from "../mod.ts";

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
  return new nn.Sequential(
    new nn.Conv2d(1, 32, 3, { padding: 1 }),
    new nn.BatchNorm2d(32),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 3, { padding: 1 }),
    new nn.BatchNorm2d(64),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(64 * 7 * 7, 128),
    new nn.ReLU(),
    new nn.Dropout(0.25),
    new nn.Linear(128, 10),
  );
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
  return new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }),
    new nn.BatchNorm2d(16),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1 }),
    new nn.BatchNorm2d(32),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(32 * 7 * 7, 56),
    new nn.ReLU(),
    new nn.Dropout(0.2),
    new nn.Linear(56, 10),
  );
}

/**
 * The demo's CNN (27 562 parameters): conv(16)+BN+ReLU+pool, conv(32)+BN+ReLU+pool, linear 1568→10.
 *
 * @example
 * ```ts
 * import { demoCnn } from "./models.ts";
 * console.log(demoCnn().numParameters());
 * ```
 */
export function demoCnn(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }),
    new nn.BatchNorm2d(16),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1 }),
    new nn.BatchNorm2d(32),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(32 * 7 * 7, 10),
  );
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
