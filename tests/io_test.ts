/** Safetensors files (round trips, PyTorch interop both ways, hostile files, atomic writes) and checkpoints. */
import assert from "node:assert/strict";
import { getRngState, io, manualSeed, nn, optim, rand, type Tensor, tensor, zeros } from "../mod.ts";
import { assertClose, assertRejectsMessage, assertThrowsMessage } from "./helpers/assert_close.ts";
import { DEVICES } from "./helpers/devices.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const FIXTURES = new URL("./fixtures/", import.meta.url);
const fixture = (name: string) => new URL(name, FIXTURES).pathname;

/** The state dict written to tests/fixtures/ours.safetensors (EXPECTED_OURS in make_safetensors_fixtures.py). */
function oursStateDict(device: "cpu" | "webgpu"): Record<string, Tensor> {
  return {
    "fc.weight": tensor(Array.from({ length: 12 }, (_, i) => (i - 6) / 8), {
      shape: [3, 4],
      dtype: "float32",
      device,
    }),
    "fc.bias": tensor([0.5, -1.25, 3], { device }),
    "emb.half": tensor([1.5, -2, 0.25, 65504], { shape: [2, 2], dtype: "float16", device }),
    "steps": tensor([7, -2147483648], { dtype: "int32", device }),
    "mask": tensor([true, false, true], { device }),
    "scalar": tensor(3.140625, { device }),
    "empty": zeros([0, 2], { device }),
  };
}
const OURS_METADATA = { format: "pt", producer: "denograd" };

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "denograd_io_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A valid file with two tensors: a F32 [2] at [0, 8) and a I32 [1] at [8, 12). */
function header(h: unknown, data = new Uint8Array(12)): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(h));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}
const GOOD = {
  a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
  b: { dtype: "I32", shape: [1], data_offsets: [8, 12] },
};

for (const device of DEVICES) {
  Deno.test(`io [${device}]: safetensors save and load`, opts, async (t) => {
    await t.step("round trip of every dtype, with metadata", async () => {
      await withTempDir(async (dir) => {
        const sd = oursStateDict(device);
        await io.save(sd, `${dir}/m.safetensors`, { metadata: OURS_METADATA });
        const back = await io.load(`${dir}/m.safetensors`, { device });
        assert.deepEqual(Object.keys(back).sort(), Object.keys(sd).sort());
        for (const [k, v] of Object.entries(sd)) {
          assert.equal(back[k].device, device, k);
          assert.equal(back[k].dtype, v.dtype, k);
          assert.deepEqual(back[k].shape, v.shape, k);
          assert.deepEqual(await back[k].toArray(), await v.toArray(), k);
        }
        assert.deepEqual(await io.readMetadata(`${dir}/m.safetensors`), OURS_METADATA);
      });
    });

    await t.step("io.save writes exactly the committed tests/fixtures/ours.safetensors", async () => {
      await withTempDir(async (dir) => {
        await io.save(oursStateDict(device), `${dir}/ours.safetensors`, { metadata: OURS_METADATA });
        const bytes = await Deno.readFile(`${dir}/ours.safetensors`);
        if (Deno.env.get("UPDATE_FIXTURES") === "1" && device === "cpu") {
          await Deno.writeFile(fixture("ours.safetensors"), bytes);
        }
        assert.deepEqual(bytes, await Deno.readFile(fixture("ours.safetensors")));
        // the header is aligned and ordered as the reference implementation writes it
        const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        assert.equal((8 + n) % 8, 0);
        assert.match(new TextDecoder().decode(bytes.subarray(8, 8 + n)), /^\{"__metadata__":\{"format":"pt"/);
      });
    });

    await t.step("PyTorch's Linear(4, 3): x @ W.T + b with our tensors equals torch's output", async () => {
      const sd = await io.load(fixture("torch_linear.safetensors"), { device });
      const { x, y } = JSON.parse(await Deno.readTextFile(fixture("torch_linear.json")));
      assert.deepEqual(sd.weight.shape, [3, 4]);
      const out = tensor(x, { device }).matmul(sd.weight.T).add(sd.bias);
      assertClose(await out.data(), (y as number[][]).flat(), { rtol: 1e-5, atol: 1e-6 });
      const lin = new nn.Linear(4, 3);
      lin.to(device);
      lin.loadStateDict(sd);
      assertClose(await lin.forward(tensor(x, { device })).data(), (y as number[][]).flat(), { rtol: 1e-5 });
      assert.deepEqual(await io.readMetadata(fixture("torch_linear.safetensors")), {
        format: "pt",
        producer: "torch 1.13.0a0",
      });
    });

    await t.step("PyTorch's dtypes: BF16, F64 → float32; I64, I16, I8, U8 → int32; F16; BOOL", async () => {
      const sd = await io.load(fixture("torch_dtypes.safetensors"), { device });
      const { tensors } = JSON.parse(await Deno.readTextFile(fixture("torch_dtypes.json")));
      const dtypes: Record<string, string> = {
        bf16: "float32",
        f16: "float16",
        f64: "float32",
        i64: "int32",
        i32: "int32",
        i16: "int32",
        i8: "int32",
        u8: "int32",
        bool: "bool",
        scalar: "float32",
        empty: "float32",
      };
      for (
        const [k, want] of Object.entries(tensors as Record<string, { shape: number[]; values: number[] }>)
      ) {
        assert.equal(sd[k].dtype, dtypes[k], k);
        assert.deepEqual(sd[k].shape, want.shape, k);
        const got = Array.from(await sd[k].data(), Number);
        assertClose(got, want.values, { rtol: k === "f64" ? 1e-7 : 0, atol: 0, msg: k });
      }
    });
  });
}

Deno.test("io: hostile safetensors files give clear errors", opts, async (t) => {
  const name = "evil.safetensors";
  const reject = (bytes: Uint8Array, re: RegExp) => {
    const e = assertThrowsMessage(() => io.deserialize(bytes, name), re);
    assert.ok(e instanceof io.SafetensorsError, `${e.name}: ${e.message}`);
    assert.ok(e.message.startsWith(`${name}: `), e.message);
  };
  await t.step("a valid reference file parses", () => {
    const { tensors } = io.deserialize(header(GOOD), name);
    assert.deepEqual(Object.keys(tensors), ["a", "b"]);
  });
  await t.step("truncated", () => {
    reject(new Uint8Array(5), /5 bytes is too short .* header length at offset 0/);
    const good = header(GOOD);
    reject(
      good.subarray(0, good.length - 3),
      /tensor "b" .* data_offsets \[8, 12\], bytes \d+\.\.\d+ of the file, out of range/,
    );
    reject(
      good.subarray(0, 20),
      /header length \d+ \(the u64 at offset 0\) runs past the end of the file \(20 bytes\)/,
    );
  });
  await t.step("huge declared header length", () => {
    const bytes = header(GOOD);
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 63n, true);
    reject(bytes, /header length 9223372036854775808 .* runs past the end/);
  });
  await t.step("bit-flipped header and bad JSON", () => {
    const bytes = header(GOOD);
    bytes[8] ^= 0x01; // '{' becomes 'z'
    reject(bytes, /header at offset 8 \(\d+ bytes\) is not valid JSON/);
    const text = new TextEncoder().encode('{"a": [1, 2');
    const raw = new Uint8Array(8 + text.length);
    new DataView(raw.buffer).setBigUint64(0, BigInt(text.length), true);
    raw.set(text, 8);
    reject(raw, /not valid JSON/);
    reject(header([1, 2], new Uint8Array()), /not a JSON object/);
    const bad = header(GOOD);
    bad[9] = 0xff;
    reject(bad, /not valid UTF-8/);
  });
  await t.step("overlapping, gapped and out-of-range offsets", () => {
    reject(
      header({ ...GOOD, b: { dtype: "I32", shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
      /tensor "b" \(data_offsets \[4, 8\], file offset \d+\) overlaps tensor "a" \(data_offsets \[0, 8\]\)/,
    );
    reject(
      header({ a: GOOD.a, b: { dtype: "I32", shape: [1], data_offsets: [12, 16] } }, new Uint8Array(16)),
      /bytes \d+\.\.\d+ of the data section belong to no tensor \(a gap before tensor "b" at data offset 12\)/,
    );
    reject(header(GOOD, new Uint8Array(14)), /bytes \d+\.\.\d+ at the end of the file belong to no tensor/);
    reject(
      header({ a: { dtype: "F32", shape: [2], data_offsets: [1e12, 1e12 + 8] } }),
      /tensor "a" .* data_offsets \[1000000000000, 1000000000008\].* out of range/,
    );
    reject(
      header({ a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }),
      /tensor "a" .* begin after end/,
    );
    reject(
      header({ a: { dtype: "F32", shape: [2], data_offsets: [0, -8] } }),
      /tensor "a" .* invalid data_offsets/,
    );
  });
  await t.step("unknown dtype, bad shapes, shape/size mismatch", () => {
    reject(
      header({ ...GOOD, b: { dtype: "Q7", shape: [1], data_offsets: [8, 12] } }),
      /tensor "b" .* unknown dtype "Q7"/,
    );
    reject(
      header({ ...GOOD, b: { dtype: "I32", shape: [2], data_offsets: [8, 12] } }),
      /tensor "b" .*: shape \[2\] of I32 needs 8 bytes but data_offsets \[8, 12\] \(file offset \d+\) span 4/,
    );
    reject(
      header({ ...GOOD, b: { dtype: "I32", shape: [-1], data_offsets: [8, 12] } }),
      /tensor "b" .* invalid shape \[-1\]/,
    );
    reject(
      header({ ...GOOD, b: { dtype: "I32", shape: [2 ** 40, 2 ** 40, 0.5], data_offsets: [8, 12] } }),
      /tensor "b" .* invalid shape/,
    );
    reject(
      header({ ...GOOD, b: { dtype: "I32", shape: [2 ** 50, 2 ** 50, 2 ** 50], data_offsets: [8, 12] } }),
      /tensor "b" .* span 4/,
    );
    reject(header({ ...GOOD, b: "nope" }), /tensor "b" .* is not an object/);
    reject(header({ ...GOOD, __metadata__: { k: 1 } }), /"__metadata__"\."k" .* is not a string/);
  });
  await t.step("I64 beyond int32 names the element and its offset", () => {
    const data = new Uint8Array(16);
    new DataView(data.buffer).setBigInt64(8, 2n ** 40n, true);
    reject(
      header({ big: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, data),
      /tensor "big" \(I64\) holds 1099511627776 at element 1 \(file offset \d+\), outside the int32 range/,
    );
  });
  await t.step("__proto__ is an ordinary key", () => {
    const text = '{"__proto__":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}';
    const enc = new TextEncoder().encode(text);
    const raw = new Uint8Array(8 + enc.length + 4);
    new DataView(raw.buffer).setBigUint64(0, BigInt(enc.length), true);
    raw.set(enc, 8);
    const parsed = io.deserialize(raw, name).tensors;
    assert.ok(Object.hasOwn(parsed, "__proto__"));
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  });
  await t.step("random bit flips: a SafetensorsError or a valid parse, never a crash", () => {
    const base = io.serialize({
      w: { dtype: "float32", shape: [2, 3], data: new Float32Array(6).fill(1.5) },
      h: { dtype: "float16", shape: [3], data: new Float16Array([1, 2, 3]) },
    });
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    let errors = 0;
    for (let i = 0; i < 500; i++) {
      const bytes = base.slice();
      for (let k = 0; k < 1 + (i % 3); k++) bytes[next() % bytes.length] ^= 1 << (next() % 8);
      try {
        io.deserialize(bytes, name);
      } catch (e) {
        assert.ok(
          e instanceof io.SafetensorsError,
          `flip ${i}: ${(e as Error).name}: ${(e as Error).message}`,
        );
        errors++;
      }
    }
    assert.ok(errors > 100, `${errors} of 500 corrupted files were rejected`);
  });
  await t.step("load names the file", async () => {
    await withTempDir(async (dir) => {
      await Deno.writeFile(`${dir}/x.safetensors`, new Uint8Array(3));
      await assertRejectsMessage(
        () => io.load(`${dir}/x.safetensors`),
        /x\.safetensors: 3 bytes is too short/,
      );
      await assertRejectsMessage(
        () => io.load(`${dir}/missing.safetensors`),
        /missing\.safetensors not found/,
      );
    });
  });
});

Deno.test("io: atomic writes", opts, async (t) => {
  await t.step(
    "a write that fails midway leaves the previous file intact and no temporary file",
    async () => {
      await withTempDir(async (dir) => {
        const path = `${dir}/model.safetensors`;
        await io.save({ w: tensor([1, 2, 3]) }, path);
        const before = await Deno.readFile(path);
        async function* failing(): AsyncGenerator<Uint8Array> {
          yield new Uint8Array(1000);
          throw new Error("disk on fire");
        }
        await assertRejectsMessage(() => io.writeFileAtomic(path, failing()), /disk on fire/);
        assert.deepEqual(await Deno.readFile(path), before);
        assert.deepEqual(Array.from(Deno.readDirSync(dir), (e) => e.name), ["model.safetensors"]);
        // a read of a tensor that fails during save also keeps the old file
        const broken = tensor([5]);
        Object.defineProperty(broken, "data", { value: () => Promise.reject(new Error("device lost")) });
        await assertRejectsMessage(() => io.save({ a: tensor([1]), b: broken }, path), /device lost/);
        assert.deepEqual(await Deno.readFile(path), before);
        assert.deepEqual(Array.from(Deno.readDirSync(dir), (e) => e.name), ["model.safetensors"]);
      });
    },
  );
  await t.step("bad arguments fail before anything is written", async () => {
    await withTempDir(async (dir) => {
      const gone = tensor([1]);
      gone.dispose();
      await assertRejectsMessage(() => io.save({ w: gone }, `${dir}/a.safetensors`), /"w" was disposed/);
      await assertRejectsMessage(
        () => io.save({ w: [1] as unknown as Tensor }, `${dir}/a.safetensors`),
        /"w" is not a Tensor/,
      );
      await assertRejectsMessage(
        () =>
          io.save({ w: tensor([1]) }, `${dir}/a.safetensors`, { metadata: { n: 1 as unknown as string } }),
        /metadata "n" must be a string/,
      );
      await assertRejectsMessage(
        () => io.save({ __metadata__: tensor([1]) }, `${dir}/a.safetensors`),
        /can't be a tensor name/,
      );
      await assertRejectsMessage(
        () => io.save({ w: tensor([1]) }, `${dir}/no/such/dir/a.safetensors`),
        /can't create a temporary file/,
      );
      assert.deepEqual(Array.from(Deno.readDirSync(dir)), []);
    });
  });
});

/** A scheduler-like object with nested state. */
class StepLR {
  lastEpoch = 0;
  history: number[] = [];
  stateDict() {
    return {
      last_epoch: this.lastEpoch,
      history: [...this.history],
      nested: { inf: Infinity, nan: NaN, $odd: 1 },
    };
  }
  loadStateDict(
    sd: { last_epoch: number; history: number[]; nested: { inf: number; nan: number; $odd: number } },
  ) {
    assert.equal(sd.nested.inf, Infinity);
    assert.ok(Number.isNaN(sd.nested.nan));
    assert.equal(sd.nested.$odd, 1);
    this.lastEpoch = sd.last_epoch;
    this.history = sd.history;
  }
}

for (const device of DEVICES) {
  Deno.test(`io [${device}]: checkpoints`, opts, async (t) => {
    await t.step("model, Adam, scheduler, epoch, extra and the RNG resume exactly", async () => {
      await withTempDir(async (dir) => {
        const path = `${dir}/ckpt.safetensors`;
        manualSeed(0);
        const x = rand([8, 4], { device });
        const target = rand([8, 2], { device });
        const step = (model: nn.Linear, opt: optim.Adam) => {
          opt.zeroGrad();
          const loss = model.forward(x).sub(target).square().mean();
          loss.backward();
          opt.step();
          loss.dispose();
        };
        const model = new nn.Linear(4, 2);
        model.to(device);
        const opt = new optim.Adam(model.parameters(), { lr: 0.01 });
        const sched = new StepLR();
        sched.lastEpoch = 3;
        sched.history = [0.1, 0.05];
        step(model, opt);
        step(model, opt);
        await io.saveCheckpoint(path, {
          model,
          optimizer: opt,
          scheduler: sched,
          epoch: 2,
          extra: { best: 0.5, tags: ["a", "b"], anchor: tensor([1, 2], { device }), nothing: null },
        });
        const rng = getRngState();
        const afterSave = await rand([3]).toArray();
        step(model, opt); // the reference continues
        const want = await model.weight.toArray();

        const model2 = new nn.Linear(4, 2);
        model2.to(device);
        const opt2 = new optim.Adam(model2.parameters(), { lr: 0.5 });
        const sched2 = new StepLR();
        rand([7]); // move the global RNG
        const got = await io.loadCheckpoint(path, { model: model2, optimizer: opt2, scheduler: sched2 });
        assert.equal(got.epoch, 2);
        assert.deepEqual(got.rngState, rng);
        assert.deepEqual(await rand([3]).toArray(), afterSave); // RNG restored
        assert.equal(got.extra.best, 0.5);
        assert.deepEqual(got.extra.tags, ["a", "b"]);
        assert.equal(got.extra.nothing, null);
        assert.deepEqual(await (got.extra.anchor as Tensor).toArray(), [1, 2]);
        assert.equal(sched2.lastEpoch, 3);
        assert.deepEqual(sched2.history, [0.1, 0.05]);
        assert.equal(opt2.paramGroups[0].lr, 0.01);
        step(model2, opt2);
        assertClose(
          Array.from((await model2.weight.toArray() as number[][]).flat()),
          (want as number[][]).flat(),
          {
            rtol: 1e-6,
            atol: 1e-7,
          },
        );
        const meta = await io.readMetadata(path);
        assert.equal(meta.format, "denograd.checkpoint");
        assert.match(meta.optimizer, /"\$tensor":"optimizer\.state\.0\.exp_avg"/);
      });
    });

    await t.step("errors: not a checkpoint, missing part, unsupported values", async () => {
      await withTempDir(async (dir) => {
        await io.save({ w: tensor([1]) }, `${dir}/plain.safetensors`);
        await assertRejectsMessage(
          () => io.loadCheckpoint(`${dir}/plain.safetensors`, {}),
          /plain\.safetensors is not a denograd checkpoint .* use io\.load|load plain safetensors with io\.load/,
        );
        const model = new nn.Linear(2, 1);
        await io.saveCheckpoint(`${dir}/m.safetensors`, { model });
        await assertRejectsMessage(
          () => io.loadCheckpoint(`${dir}/m.safetensors`, { model, optimizer: new StepLR() }),
          /holds no optimizer state/,
        );
        await assertRejectsMessage(
          () => io.saveCheckpoint(`${dir}/bad.safetensors`, { model, extra: { when: new Date() } }),
          /extra\.when is a Date, which a checkpoint can't hold/,
        );
        await assertRejectsMessage(
          () => io.saveCheckpoint(`${dir}/bad.safetensors`, { model: {} as nn.Linear }),
          /model must have stateDict\(\) and loadStateDict\(\)/,
        );
        assert.ok(!Deno.readDirSync(dir).some((e) => e.name.startsWith("bad")));
      });
    });
  });
}
