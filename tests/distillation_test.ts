/**
 * Knowledge distillation: `F.distillationLoss` and `nn.DistillationLoss` against PyTorch 1.13
 * (`tests/fixtures/prune.json`, made by `tests/fixtures/make_prune_fixtures.py`: value and gradient of the
 * student's logits), on cpu and webgpu; the teacher is never trained; errors for the common mistakes.
 * @module
 */
import assert from "node:assert/strict";
import { F, nn, noGrad, randint, randn, tensor } from "../mod.ts";
import { assertClose, assertThrowsMessage } from "./helpers/assert_close.ts";
import { forEachDevice } from "./helpers/devices.ts";

interface Values {
  shape: number[];
  values: number[];
}
interface DistillCase {
  label: string;
  student: Values;
  teacher: Values;
  target: number[];
  temperature: number;
  alpha: number;
  loss: number;
  kl: number;
  gradStudent: number[];
}

const fixtures = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/prune.json", import.meta.url)),
) as { distillation: DistillCase[] };

forEachDevice("distillationLoss: value and student gradient match PyTorch", async (device) => {
  for (const c of fixtures.distillation) {
    for (const form of ["functional", "module"] as const) {
      const s = tensor(c.student.values, { shape: c.student.shape, device, requiresGrad: true });
      const t = tensor(c.teacher.values, { shape: c.teacher.shape, device });
      const y = tensor(c.target, { dtype: "int32", device });
      const opts = { temperature: c.temperature, alpha: c.alpha };
      const loss = form === "functional"
        ? F.distillationLoss(s, t, y, opts)
        : new nn.DistillationLoss(opts).forward(s, t, y);
      assert.deepEqual(loss.shape, []);
      assertClose(await loss.item(), c.loss, { rtol: 1e-5, atol: 1e-6, msg: `${c.label} (${form}): loss` });
      loss.backward();
      assertClose(await s.grad!.data(), c.gradStudent, {
        rtol: 1e-4,
        atol: 1e-6,
        msg: `${c.label} (${form}): grad of the student's logits`,
      });
      assert.equal(t.grad, null);
      for (const u of [s, t, y, loss]) u.dispose();
    }
  }
});

forEachDevice(
  "distillationLoss: the teacher's logits are used, and the teacher is not trained",
  async (device) => {
    const x = randn([8, 5], { device });
    const y = randint(0, 3, [8], { device });
    const student = new nn.Linear(5, 3, { device });
    const teacher = new nn.Linear(5, 3, { device }).eval();
    const t1 = noGrad(() => teacher.forward(x));
    const t2 = noGrad(() => teacher.forward(x).mul(-1));
    const s = student.forward(x);
    const a = await F.distillationLoss(s, t1, y, { alpha: 1, temperature: 2 }).item();
    const b = await F.distillationLoss(s, t2, y, { alpha: 1, temperature: 2 }).item();
    assert.notEqual(a, b, "different teachers give different losses");
    // alpha 0 is plain cross-entropy, whatever the teacher says
    const ce = await F.crossEntropy(s, y).item();
    assertClose(await F.distillationLoss(s, t2, y, { alpha: 0 }).item(), ce, { rtol: 1e-6 });
    // the soft term is zero when the student already agrees with the teacher
    assertClose(await F.distillationLoss(t1, t1, y, { alpha: 1, temperature: 3 }).item(), 0, { atol: 1e-6 });
    const loss = F.distillationLoss(s, t1, y);
    loss.backward();
    assert.ok(student.weight.grad !== null);
    assert.equal(teacher.weight.grad, null, "no gradient reaches the teacher");
    student.dispose();
    teacher.dispose();
  },
);

forEachDevice("distillationLoss: clear errors for the common mistakes", (device) => {
  const s = randn([4, 3], { device, requiresGrad: true });
  const y = randint(0, 3, [4], { device });
  const teacher = new nn.Linear(3, 3, { device });
  const withGrad = teacher.forward(randn([4, 3], { device }));
  assertThrowsMessage(
    () => F.distillationLoss(s, withGrad, y),
    /teacherLogits requires grad.*noGrad\(\(\) => teacher.forward\(x\)\).*detach\(\)/,
  );
  assertThrowsMessage(
    () => F.distillationLoss(s, randn([4, 5], { device }), y),
    /teacherLogits has shape \[4, 5\] but studentLogits has shape \[4, 3\]/,
  );
  assertThrowsMessage(
    () => F.distillationLoss(s, randn([2, 3], { device }), y),
    /teacherLogits has shape \[2, 3\]/,
  );
  assertThrowsMessage(() => F.distillationLoss(s, s.detach(), y, { temperature: 0 }), /temperature must be/);
  assertThrowsMessage(() => F.distillationLoss(s, s.detach(), y, { alpha: 1.5 }), /alpha.*\[0, 1\]/);
  assertThrowsMessage(
    () => F.distillationLoss(s, s.detach(), randint(0, 3, [5], { device })),
    /target must be \[batch\] class indices \(batch 4\), got shape \[5\]/,
  );
  assertThrowsMessage(
    () => F.distillationLoss(randn([4], { device }), randn([4], { device }), y),
    /studentLogits must be \[batch, classes\]/,
  );
  assertThrowsMessage(() => new nn.DistillationLoss({ alpha: -1 }), /alpha must be in \[0, 1\]/);
  assert.equal(new nn.DistillationLoss().toString(), "DistillationLoss(temperature=4, alpha=0.9)");
  teacher.dispose();
});
