/**
 * Knowledge distillation (Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural Network", 2015):
 * the loss that trains a student on a teacher's softened predictions and on the true labels.
 * @module
 */
import { fmtShape } from "../../tensor/shape.ts";
import { tidy } from "../../tensor/scope.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { crossEntropy, klDiv } from "./loss.ts";

/** Options of {@linkcode distillationLoss}. */
export interface DistillationOptions {
  /**
   * T, the softmax temperature of both teacher and student in the soft term (default 4): T > 1 spreads the
   * teacher's probability over the wrong classes, whose relative sizes ("dark knowledge") are what the
   * student learns from.
   */
  temperature?: number;
  /**
   * α in [0, 1], the weight of the **soft** (teacher) term; the hard cross-entropy term on the labels gets
   * 1 − α (default 0.9). α = 1 is pure distillation, α = 0 ignores the teacher.
   */
  alpha?: number;
}

/**
 * The distillation loss of Hinton et al.:
 *
 *   α · T² · KL(softmax(teacher / T) ‖ softmax(student / T)) + (1 − α) · crossEntropy(student, target)
 *
 * with the KL divergence averaged over the batch (`F.klDiv` with log-softmax input and "batchmean"), so the
 * soft term is a true per-sample KL. **α weights the soft (teacher) term**, 1 − α the hard (label) term;
 * the T² factor keeps the soft term's gradients the same size as T changes (they scale as 1/T²).
 *
 * `studentLogits` and `teacherLogits` are `[N, C]` logits (not probabilities) and `target` holds `[N]` int32
 * class indices. The teacher must not be trained by this loss: compute its logits in `eval()` mode under
 * `noGrad` (or pass `detach()`ed logits). A `teacherLogits` that requires grad is an error, as are logits of
 * different shapes, a non-positive temperature or an α outside [0, 1].
 *
 * @example
 * ```ts
 * import { F, nn, noGrad, randint, randn } from "../../../mod.ts";
 * const teacher = new nn.Linear(8, 4).eval();
 * const student = new nn.Linear(8, 4);
 * const x = randn([16, 8]);
 * const y = randint(0, 4, [16]);
 * const teacherLogits = noGrad(() => teacher.forward(x)); // no graph into the teacher
 * const loss = F.distillationLoss(student.forward(x), teacherLogits, y, { temperature: 4, alpha: 0.9 });
 * loss.backward(); // gradients reach the student only
 * ```
 */
export function distillationLoss(
  studentLogits: Tensor,
  teacherLogits: Tensor,
  target: Tensor,
  { temperature = 4, alpha = 0.9 }: DistillationOptions = {},
): Tensor {
  for (
    const [what, t] of [["studentLogits", studentLogits], ["teacherLogits", teacherLogits], [
      "target",
      target,
    ]] as const
  ) {
    if (!(t instanceof Tensor)) throw new TypeError(`distillationLoss: ${what} must be a Tensor`);
  }
  if (typeof temperature !== "number" || !Number.isFinite(temperature) || temperature <= 0) {
    throw new RangeError(`distillationLoss: temperature must be a positive number, got ${temperature}`);
  }
  if (typeof alpha !== "number" || !(alpha >= 0 && alpha <= 1)) {
    throw new RangeError(
      `distillationLoss: alpha (the weight of the soft teacher term) must be in [0, 1], got ${alpha}`,
    );
  }
  if (studentLogits.ndim !== 2) {
    throw new RangeError(
      `distillationLoss: studentLogits must be [batch, classes] logits, got shape ${
        fmtShape(studentLogits.shape)
      }`,
    );
  }
  if (
    teacherLogits.ndim !== 2 || teacherLogits.shape[0] !== studentLogits.shape[0] ||
    teacherLogits.shape[1] !== studentLogits.shape[1]
  ) {
    throw new RangeError(
      `distillationLoss: teacherLogits has shape ${fmtShape(teacherLogits.shape)} but studentLogits has ` +
        `shape ${fmtShape(studentLogits.shape)}; they must match (same batch, same classes)`,
    );
  }
  if (teacherLogits.requiresGrad) {
    throw new Error(
      "distillationLoss: teacherLogits requires grad, so the loss would train the teacher too: compute them " +
        "with the teacher in eval() mode under noGrad(() => teacher.forward(x)), or pass teacherLogits.detach()",
    );
  }
  if (target.ndim !== 1 || target.shape[0] !== studentLogits.shape[0]) {
    throw new RangeError(
      `distillationLoss: target must be [batch] class indices (batch ${studentLogits.shape[0]}), got shape ${
        fmtShape(target.shape)
      }`,
    );
  }
  return tidy(() => {
    const terms: Tensor[] = [];
    if (alpha > 0) {
      const logQ = studentLogits.div(temperature).logSoftmax(1);
      const p = teacherLogits.div(temperature).softmax(1);
      terms.push(klDiv(logQ, p, { reduction: "batchmean" }).mul(alpha * temperature * temperature));
    }
    if (alpha < 1) terms.push(crossEntropy(studentLogits, target).mul(1 - alpha));
    return terms.length === 2 ? terms[0].add(terms[1]) : terms[0];
  });
}
