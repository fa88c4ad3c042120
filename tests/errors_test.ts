/** Bad input gets a clear error naming what was wrong (shape, dtype, device), on every device. */
import { gpu, noGrad, tensor, zeros } from "../mod.ts";
import { assertRejectsMessage, assertThrowsMessage } from "./helpers/assert_close.ts";

const hasGpu = await gpu.isAvailable();
const devices = hasGpu ? (["cpu", "webgpu"] as const) : (["cpu"] as const);
const opts = { sanitizeResources: false, sanitizeOps: false };

for (const device of devices) {
  Deno.test(`errors [${device}]: shapes, dims, indices and dtypes are named`, opts, async () => {
    const a = zeros([2, 3], { device });
    const b = zeros([4, 3], { device });
    assertThrowsMessage(() => a.add(b), /add: shapes \[2, 3\] and \[4, 3\] cannot be broadcast/);
    assertThrowsMessage(
      () => a.matmul(b),
      /matmul: shapes \[2, 3\] and \[4, 3\] cannot be multiplied \(2x3 and 4x3\)/,
    );
    assertThrowsMessage(
      () => a.matmul(b.half()),
      /matmul: expected both tensors to have the same dtype, but got float32 and float16/,
    );
    assertThrowsMessage(() => a.sum(2), /sum: dimension 2 out of range for a tensor of rank 2/);
    assertThrowsMessage(() => a.transpose(0, -3), /transpose: dimension -3 out of range/);
    assertThrowsMessage(
      () => a.narrow(1, 2, 2),
      /narrow: start \(2\) \+ length \(2\) exceeds dimension size \(3\)/,
    );
    assertThrowsMessage(() => a.reshape([4, 2]), /reshape: shape \[4, 2\] is invalid for input of size 6/);
    assertThrowsMessage(() => a.transpose(0, 1).view([6]), /view: size \[6\] is not compatible.*use reshape/);
    assertThrowsMessage(
      () => a.gather(1, tensor([[0.5]], { device })),
      /gather: expected an int32 index tensor, but got float32/,
    );
    assertThrowsMessage(() => a.to("float64" as never), /unsupported dtype "float64"/);
    assertThrowsMessage(
      () => tensor([1, 2], { device }).requiresGrad_(),
      /only tensors of floating point dtype can require gradients \(this one is int32\)/,
    );
    await assertRejectsMessage(
      () => a.item(),
      /item: a tensor with 6 elements cannot be converted to a number/,
    );
    assertThrowsMessage(
      () => tensor([[1, 2], [3]], { device }),
      /ragged nested array at index \[1\]: expected length 2, got 1/,
    );
    assertThrowsMessage(() => tensor([1, 2], { device: "tpu" as never }), /unknown device "tpu"/);
  });

  Deno.test(`errors [${device}]: out-of-range indices`, opts, async () => {
    const x = tensor([[1, 2, 3]], { device });
    const bad = tensor([5], { device, dtype: "int32" });
    if (device === "cpu") {
      assertThrowsMessage(() => x.indexSelect(1, bad), /out of range/);
    } else {
      const y = x.indexSelect(1, bad);
      await assertRejectsMessage(() => y.data(), /out of range/);
    }
  });

  Deno.test(`errors [${device}]: autograd misuse`, opts, () => {
    const w = tensor([1, 2], { device, requiresGrad: true });
    assertThrowsMessage(
      () => w.sub_(1),
      /sub_: a leaf tensor that requires grad is being used in an in-place operation.*noGrad/,
    );
    noGrad(() => w.sub_(1)); // fine under noGrad
    const y = w.mul(2);
    assertThrowsMessage(() => y.backward(), /only for scalar outputs \(shape is \[2\]\)/);
    assertThrowsMessage(
      () => y.backward(tensor([1, 1, 1], { device })),
      /grad has shape \[3\] but the output has shape \[2\]/,
    );
  });

  Deno.test(`errors [${device}]: use after dispose`, opts, () => {
    const t = tensor([1, 2], { device });
    t.dispose();
    t.dispose(); // a second dispose is a no-op
    assertThrowsMessage(() => t.add(1), /add: tensor used after dispose\(\)/);
    assertThrowsMessage(() => t.reshape([2, 1]), /reshape: tensor used after dispose\(\)/);
  });
}

Deno.test(
  "errors: mixing devices names both, and a WebGPU read-back is async",
  { ...opts, ignore: !hasGpu },
  () => {
    const c = tensor([1, 2]);
    const g = tensor([1, 2], { device: "webgpu" });
    assertThrowsMessage(
      () => c.add(g),
      /add: expected all tensors to be on the same device, but found at least two devices, cpu and webgpu/,
    );
    assertThrowsMessage(
      () => g.matmul(c),
      /matmul: expected all tensors to be on the same device.*webgpu and cpu/,
    );
    assertThrowsMessage(() => g.to("cpu"), /await t\.cpu\(\)/);
  },
);
