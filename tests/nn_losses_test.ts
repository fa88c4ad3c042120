/**
 * Loss modules and `F` losses against PyTorch 1.13 (tests/fixtures/nn.json) on every device, plus their
 * stability, error messages and the agreement of the functional and module forms.
 */
import assert from "node:assert/strict";
import { F, nn, randn, tensor, zeros } from "../mod.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { DEFAULT_TOL, devices, fixtures, replayCase, testOpts, type Tol } from "./helpers/nn_fixtures.ts";

const lossCases = fixtures.cases.filter((c) => c.module.endsWith("Loss"));
const GPU_TOL: Tol = { rtol: 2e-4, atol: 5e-5 };

for (const device of devices) {
  Deno.test(`nn losses [${device}]: match PyTorch`, testOpts, async (t) => {
    assert.ok(lossCases.length >= 30, "fixtures hold the loss cases");
    for (const c of lossCases) {
      await t.step(c.name, () => replayCase(c, device, device === "cpu" ? DEFAULT_TOL : GPU_TOL));
    }
  });
}

for (const device of devices) {
  Deno.test(`nn losses [${device}]: stability, functional forms and errors`, testOpts, async (t) => {
    await t.step("crossEntropy is stable for huge logits", async () => {
      const logits = tensor([[1000, -1000, 0], [-5e4, 5e4, 0]], { device, requiresGrad: true });
      const loss = F.crossEntropy(logits, tensor([1, 1], { device }), { reduction: "none" });
      assertClose(await loss.data(), [2000, 0], { rtol: 1e-6 });
      loss.sum().backward();
      assertClose(await logits.grad!.data(), [1, -1, 0, 0, 0, 0], { atol: 1e-6 });
    });
    await t.step("binaryCrossEntropyWithLogits is stable and has the right gradient at 0", async () => {
      const x = tensor([-200, 0, 0, 200], { device, requiresGrad: true });
      const y = tensor([1, 1, 0, 0], { device, dtype: "float32" });
      const loss = F.binaryCrossEntropyWithLogits(x, y, { reduction: "none" });
      assertClose(await loss.data(), [200, Math.LN2, Math.LN2, 200], { rtol: 1e-6 });
      loss.sum().backward();
      assertClose(await x.grad!.data(), [-1, -0.5, 0.5, 1], { atol: 1e-6 });
    });
    await t.step("all targets ignored: mean is NaN and sum is 0, as torch", async () => {
      const logits = randn([2, 3], { device });
      const target = tensor([-100, -100], { device });
      assert.ok(Number.isNaN(await F.crossEntropy(logits, target).item()));
      assert.equal(await F.crossEntropy(logits, target, { reduction: "sum" }).item(), 0);
    });
    await t.step("module and functional forms agree", async () => {
      const logits = randn([4, 3], { device });
      const target = tensor([0, 2, 1, 0], { device });
      const w = tensor([1, 2, 0.5], { device });
      const opts = { weight: w, labelSmoothing: 0.1, ignoreIndex: 2 };
      assertClose(
        await new nn.CrossEntropyLoss(opts).to(device).forward(logits, target).data(),
        await F.crossEntropy(logits, target, opts).data(),
      );
      assertClose(
        await F.crossEntropy(logits, target).data(),
        await F.nllLoss(F.logSoftmax(logits, 1), target).data(),
      );
      assert.equal(new nn.BCEWithLogitsLoss({ posWeight: w }).posWeight, w);
      assert.equal(
        new nn.CrossEntropyLoss({ reduction: "sum" }).toString(),
        'CrossEntropyLoss(reduction="sum")',
      );
    });
    await t.step("bad targets, shapes and options are clear errors", () => {
      const logits = zeros([4, 3], { device });
      assertThrowsMessage(
        () => F.crossEntropy(logits, tensor([0, 1, 2], { device })),
        /expected target of shape \[4\] for input of shape \[4, 3\] \(classes along dim 1\), got \[3\]/,
      );
      assertThrowsMessage(
        () => F.crossEntropy(logits, zeros([4], { device })),
        /probability targets must have the input's shape \[4, 3\], got \[4\] \(class-index targets must be int32\)/,
      );
      assertThrowsMessage(
        () => F.crossEntropy(logits, tensor([0, 1, 2, 0], { device }), { labelSmoothing: 2 }),
        /labelSmoothing must be between 0 and 1/,
      );
      assertThrowsMessage(
        () => F.crossEntropy(logits, tensor([0, 1, 2, 0], { device }), { reduction: "avg" as "mean" }),
        /reduction must be "mean", "sum", "none", got "avg"/,
      );
      assertThrowsMessage(
        () => F.crossEntropy(logits, tensor([0, 1, 2, 0], { device }), { weight: zeros([4], { device }) }),
        /weight must have shape \[3\] \(one per class\), got \[4\]/,
      );
      assertThrowsMessage(
        () => F.crossEntropy(tensor([1, 2], { device }), tensor(0, { device })),
        /input must have a floating point dtype, got int32/,
      );
      assertThrowsMessage(
        () => F.nllLoss(logits, zeros([4], { device })),
        /expected int32 class indices as target, got float32/,
      );
      assertThrowsMessage(
        () => F.mseLoss(zeros([3, 1], { device }), zeros([3], { device })),
        /input of shape \[3, 1\] and target of shape \[3\] differ/,
      );
      assertThrowsMessage(() => F.klDiv(logits, logits, { reduction: "max" as "sum" }), /"batchmean"/);
      assertThrowsMessage(
        () => F.binaryCrossEntropyWithLogits(logits, logits, { posWeight: zeros([4], { device }) }),
        /posWeight of shape \[4\] does not broadcast to the input's \[4, 3\]/,
      );
      if (device === "webgpu") {
        assertThrowsMessage(
          () => F.crossEntropy(logits, tensor([0, 1, 2, 0])),
          /target is on cpu but the input is on webgpu/,
        );
      }
    });
  });
}
