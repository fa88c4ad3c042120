/**
 * Bad input gets a clear error naming what was wrong (shapes, dims, dtypes, devices, indices), on every
 * device. Each test checks one misuse and its message.
 */
import assert from "node:assert/strict";
import {
  arange,
  eye,
  full,
  gpu,
  linspace,
  noGrad,
  ones,
  rand,
  randint,
  randn,
  type Tensor,
  tensor,
  zeros,
} from "../mod.ts";
import { assertRejectsMessage, assertThrowsMessage } from "./helpers/assert_close.ts";
import { forEachDevice, type TestDevice } from "./helpers/devices.ts";

// ---------------------------------------------------------------- shapes

forEachDevice("errors: add of incompatible shapes names both shapes", (device) => {
  const a = zeros([2, 3], { device });
  const b = zeros([4, 3], { device });
  assertThrowsMessage(
    () => a.add(b),
    /add: shapes \[2, 3\] and \[4, 3\] cannot be broadcast together \(dimension -2 is 2 vs 4\)/,
  );
});

forEachDevice("errors: matmul with mismatched inner dims names both shapes", (device) => {
  const a = zeros([2, 3], { device });
  const b = zeros([4, 3], { device });
  assertThrowsMessage(
    () => a.matmul(b),
    /matmul: shapes \[2, 3\] and \[4, 3\] cannot be multiplied \(2x3 and 4x3\)/,
  );
});

forEachDevice("errors: view of a layout that needs a copy points to reshape", (device) => {
  const t = zeros([2, 3], { device }).transpose(0, 1);
  assertThrowsMessage(
    () => t.view([6]),
    /view: size \[6\] is not compatible with the input's size and strides \(\[3, 2\], strides \[1, 3\]\); use reshape\(\)/,
  );
});

forEachDevice("errors: reshape to a wrong element count names the sizes", (device) => {
  assertThrowsMessage(
    () => zeros([2, 3], { device }).reshape([4, 2]),
    /reshape: shape \[4, 2\] is invalid for input of size 6/,
  );
});

forEachDevice("errors: narrow out of range names start, length and the dim size", (device) => {
  const t = zeros([2, 3], { device });
  assertThrowsMessage(
    () => t.narrow(1, 2, 2),
    /narrow: start \(2\) \+ length \(2\) exceeds dimension size \(3\)/,
  );
  assertThrowsMessage(
    () => t.narrow(0, -5, 1),
    /narrow: start \(-5\) \+ length \(1\) exceeds dimension size \(2\)/,
  );
});

forEachDevice("errors: ragged nested arrays name the offending index", (device) => {
  assertThrowsMessage(
    () => tensor([[1, 2], [3]], { device }),
    /tensor: ragged nested array at index \[1\]: expected length 2, got 1/,
  );
  assertThrowsMessage(
    () => tensor([[1, 2], 3] as never, { device }),
    /tensor: ragged nested array at index \[1\]: expected an array, got 3/,
  );
});

forEachDevice("errors: a number followed by an array is ragged too", (device) => {
  // [1, [2]] must not be read as [[1], [2]], nor [1, [2, 3]] reported as a size mismatch
  assertThrowsMessage(() => tensor([1, [2]] as never, { device }), /ragged nested array at index \[1\]/);
  assertThrowsMessage(() => tensor([1, [2, 3]] as never, { device }), /ragged nested array at index \[1\]/);
});

// ---------------------------------------------------------------- dims and indices

forEachDevice("errors: an out-of-range dim names the dim and the rank", (device) => {
  const a = zeros([2, 3], { device });
  assertThrowsMessage(
    () => a.sum(2),
    /sum: dimension 2 out of range for a tensor of rank 2 \(expected -2\.\.1\)/,
  );
  assertThrowsMessage(
    () => a.transpose(0, -3),
    /transpose: dimension -3 out of range for a tensor of rank 2/,
  );
  assertThrowsMessage(() => a.softmax(5), /softmax: dimension 5 out of range/);
  assertThrowsMessage(() => a.unsqueeze(4), /unsqueeze: dimension 4 out of range for a tensor of rank 3/);
  assertThrowsMessage(
    () => a.indexSelect(2, tensor([0], { device })),
    /indexSelect: dimension 2 out of range/,
  );
});

forEachDevice("errors: an out-of-range index in gather is reported", async (device) => {
  const x = tensor([[1, 2, 3], [4, 5, 6]], { device });
  const bad = tensor([[0, 3]], { device });
  if (device === "cpu") {
    const e = assertThrowsMessage(
      () => x.gather(1, bad),
      /gather\/indexSelect: index 3 is out of range for dimension 1 with size 3/,
    );
    assert.ok(e instanceof RangeError);
  } else {
    const y = x.gather(1, bad); // the kernel flags the bad index; the next read rejects
    await assertRejectsMessage(() => y.data(), /gather\/indexSelect: an index was out of range/);
    assert.deepEqual(await x.toArray(), [[1, 2, 3], [4, 5, 6]], "reads work again afterwards");
  }
});

forEachDevice("errors: an out-of-range index in indexSelect is reported", async (device) => {
  const x = tensor([[1, 2, 3]], { device });
  for (const i of [5, -1]) {
    const bad = tensor([i], { device });
    if (device === "cpu") {
      const e = assertThrowsMessage(() => x.indexSelect(1, bad), new RegExp(`index ${i} is out of range`));
      assert.ok(e instanceof RangeError);
    } else {
      const y = x.indexSelect(1, bad);
      await assertRejectsMessage(() => y.toArray(), /out of range/);
    }
  }
});

forEachDevice("errors: a non-int32 index names its dtype", (device) => {
  const a = zeros([2, 3], { device });
  assertThrowsMessage(
    () => a.gather(1, tensor([[0.5]], { device })),
    /gather: expected an int32 index tensor, but got float32/,
  );
});

forEachDevice("errors: item() on a multi-element tensor names its size and shape", async (device) => {
  const e = await assertRejectsMessage(
    () => zeros([2, 3], { device }).item(),
    /item: a tensor with 6 elements cannot be converted to a number \(shape \[2, 3\]\)/,
  );
  assert.ok(e instanceof RangeError);
});

// ---------------------------------------------------------------- dtypes

forEachDevice("errors: matmul of mixed dtypes names both dtypes", (device) => {
  const a = zeros([2, 3], { device });
  const b = zeros([3, 2], { device, dtype: "float16" });
  assertThrowsMessage(
    () => a.matmul(b),
    /matmul: expected both tensors to have the same dtype, but got float32 and float16/,
  );
});

forEachDevice("errors: an unsupported dtype string in tensor() and to() is named", (device) => {
  assertThrowsMessage(
    () => tensor([1, 2], { device, dtype: "float64" as never }),
    /unsupported dtype "float64": expected one of float32, float16, int32, bool/,
  );
  assertThrowsMessage(() => zeros([2], { device }).to("int64" as never), /unsupported dtype "int64"/);
});

const creators: [string, (device: TestDevice) => Tensor][] = [
  ["zeros", (device) => zeros([2], { device, dtype: "float64" as never })],
  ["ones", (device) => ones([2], { device, dtype: "float64" as never })],
  ["full", (device) => full([2], 1, { device, dtype: "float64" as never })],
  ["arange", (device) => arange(3, undefined, 1, { device, dtype: "float64" as never })],
  ["linspace", (device) => linspace(0, 1, 3, { device, dtype: "float64" as never })],
  ["eye", (device) => eye(2, 2, { device, dtype: "float64" as never })],
  ["randint", (device) => randint(0, 3, [2], { device, dtype: "float64" as never })],
];

for (const [name, make] of creators) {
  forEachDevice(`errors: an unsupported dtype string in ${name}() is named`, async (device) => {
    try {
      assertThrowsMessage(
        () => make(device),
        /unsupported dtype "float64": expected one of float32, float16, int32, bool/,
      );
    } finally {
      if (device === "webgpu") await drainGpuErrors();
    }
  });
}

/** Consumes WebGPU validation errors that a wrongly accepted call left behind, so later tests start clean. */
async function drainGpuErrors(): Promise<void> {
  await gpu.sync();
  await new Promise((resolve) => setTimeout(resolve, 10));
  try {
    await tensor([0], { device: "webgpu" }).toArray();
  } catch { /* the leftover error surfaced here */ }
}

forEachDevice("errors: random floats of an integer dtype are refused", (device) => {
  assertThrowsMessage(
    () => rand([2], { device, dtype: "int32" }),
    /rand: expected a floating point dtype, got int32/,
  );
  assertThrowsMessage(
    () => randn([2], { device, dtype: "bool" }),
    /randn: expected a floating point dtype, got bool/,
  );
});

forEachDevice("errors: requiresGrad on an int tensor is refused naming the dtype", (device) => {
  const msg = /only tensors of floating point dtype can require gradients \(this one is int32\)/;
  assertThrowsMessage(() => tensor([1, 2], { device }).requiresGrad_(), msg);
  assertThrowsMessage(() => zeros([2], { device, dtype: "int32", requiresGrad: true }), msg);
  assertThrowsMessage(() => tensor([1, 2], { device, dtype: "int32", requiresGrad: true }), msg);
});

// ---------------------------------------------------------------- devices

forEachDevice("errors: an unknown device string is named", () => {
  assertThrowsMessage(
    () => tensor([1, 2], { device: "tpu" as never }),
    /unknown device "tpu": expected "cpu" or "webgpu"/,
  );
  assertThrowsMessage(
    () => tensor([1, 2]).to("cuda" as never),
    /unsupported dtype "cuda"|unknown device "cuda"/,
  );
});

forEachDevice("errors: mixing cpu and webgpu tensors names both devices", () => {
  const c = tensor([1, 2]);
  const g = tensor([1, 2], { device: "webgpu" });
  assertThrowsMessage(
    () => c.add(g),
    /add: expected all tensors to be on the same device, but found at least two devices, cpu and webgpu/,
  );
  assertThrowsMessage(
    () => g.float().matmul(c.float()),
    /matmul: expected all tensors to be on the same device, but found at least two devices, webgpu and cpu/,
  );
}, { devices: ["webgpu"] });

forEachDevice('errors: to("cpu") on a WebGPU tensor says to await t.cpu()', () => {
  const g = tensor([1, 2], { device: "webgpu" });
  assertThrowsMessage(() => g.to("cpu"), /to\("cpu"\).*async: use `await t\.cpu\(\)`/);
  assertThrowsMessage(() => g.to({ device: "cpu" }), /await t\.cpu\(\)/);
}, { devices: ["webgpu"] });

// ---------------------------------------------------------------- lifetime

forEachDevice("errors: a tensor used after dispose says so", async (device) => {
  const t = tensor([1, 2], { device });
  t.dispose();
  t.dispose(); // a second dispose is a no-op
  assert.equal(t.isDisposed, true);
  assertThrowsMessage(() => t.add(1), /add: tensor used after dispose\(\)/);
  assertThrowsMessage(() => t.reshape([2, 1]), /reshape: tensor used after dispose\(\)/);
  assertThrowsMessage(() => t.transpose(0, 0), /transpose: tensor used after dispose\(\)/);
  assertThrowsMessage(() => ones([2], { device }).mul(t), /mul: tensor used after dispose\(\)/);
  await assertRejectsMessage(() => t.toArray(), /used after dispose/);
});

// ---------------------------------------------------------------- autograd misuse

forEachDevice(
  "errors: an in-place op on a leaf that requires grad is refused outside noGrad",
  async (device) => {
    const w = tensor([1, 2], { device, requiresGrad: true });
    const msg =
      /a leaf tensor that requires grad is being used in an in-place operation; wrap the update in noGrad/;
    assertThrowsMessage(() => w.sub_(1), new RegExp(`sub_: ${msg.source}`));
    assertThrowsMessage(() => w.mul_(2), msg);
    assertThrowsMessage(() => w.zero_(), msg);
    assertThrowsMessage(() => w.copy_(tensor([3, 4], { device, dtype: "float32" })), msg);
    noGrad(() => w.sub_(1)); // fine under noGrad
    assert.deepEqual(await w.toArray(), [0, 1]);
  },
);

forEachDevice("errors: backward with a grad of the wrong shape names both shapes", (device) => {
  const y = tensor([1, 2], { device, requiresGrad: true }).mul(2);
  const e = assertThrowsMessage(
    () => y.backward(tensor([1, 1, 1], { device, dtype: "float32" })),
    /backward: grad has shape \[3\] but the output has shape \[2\]/,
  );
  assert.ok(e instanceof RangeError);
});

forEachDevice("errors: backward of a tensor that does not require grad says so", (device) => {
  assertThrowsMessage(
    () => tensor([1.5], { device }).mul(2).sum().backward(),
    /element 0 of tensors does not require grad and does not have a gradFn/,
  );
});

forEachDevice("errors: requiresGrad = false on a non-leaf points to detach()", (device) => {
  const y = tensor([1, 2], { device, requiresGrad: true }).mul(2);
  assertThrowsMessage(
    () => (y.requiresGrad = false),
    /only change requiresGrad of leaf tensors; use detach\(\)/,
  );
});
