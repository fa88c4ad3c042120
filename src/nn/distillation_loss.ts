/**
 * `DistillationLoss`: the module form of `F.distillationLoss` (knowledge distillation, Hinton et al. 2015).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { distillationLoss, type DistillationOptions } from "./functional/distillation.ts";
import { Module } from "./module.ts";

/**
 * `α · T² · KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − α) · crossEntropy(student, target)`:
 * **α weights the soft (teacher) term**. `forward(studentLogits, teacherLogits, target)`; the teacher's
 * logits must not require grad (run the teacher in `eval()` under `noGrad`). See `F.distillationLoss`.
 *
 * @example
 * ```ts
 * import { nn, noGrad, randint, randn } from "../../mod.ts";
 * const teacher = new nn.Linear(8, 4).eval();
 * const student = new nn.Linear(8, 4);
 * const lossFn = new nn.DistillationLoss({ temperature: 4, alpha: 0.9 });
 * const x = randn([16, 8]);
 * const loss = lossFn.forward(student.forward(x), noGrad(() => teacher.forward(x)), randint(0, 4, [16]));
 * loss.backward();
 * ```
 */
export class DistillationLoss extends Module {
  /** The temperature T. */
  readonly temperature: number;
  /** α, the weight of the soft term (the hard term gets 1 − α). */
  readonly alpha: number;

  /** A loss with temperature T (default 4) and soft-term weight α (default 0.9). */
  constructor({ temperature = 4, alpha = 0.9 }: DistillationOptions = {}) {
    super();
    if (typeof temperature !== "number" || !Number.isFinite(temperature) || temperature <= 0) {
      throw new RangeError(`DistillationLoss: temperature must be a positive number, got ${temperature}`);
    }
    if (typeof alpha !== "number" || !(alpha >= 0 && alpha <= 1)) {
      throw new RangeError(`DistillationLoss: alpha must be in [0, 1], got ${alpha}`);
    }
    this.temperature = temperature;
    this.alpha = alpha;
  }

  /** The loss of the student's logits against the teacher's logits and the labels. */
  forward(studentLogits: Tensor, teacherLogits: Tensor, target: Tensor): Tensor {
    return distillationLoss(studentLogits, teacherLogits, target, {
      temperature: this.temperature,
      alpha: this.alpha,
    });
  }

  /** The settings shown by `toString()`. */
  override extraRepr(): string {
    return `temperature=${this.temperature}, alpha=${this.alpha}`;
  }
}
