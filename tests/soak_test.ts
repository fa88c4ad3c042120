/**
 * The quick soak (CI): the demo's CNN trains SOAK_STEPS steps (default 200, batch 8) on Fashion-MNIST, twice
 * from the same seed, through bench/soak.ts's `soakRun`. In-use and allocated GPU memory must be flat after
 * warm-up, and the two runs' losses bit-identical. `deno task soak` runs the 10 000-step version.
 */
import assert from "node:assert/strict";
import { firstDifference, growthAfter, soakRun } from "../bench/soak.ts";
import { hasWebGpu } from "./helpers/devices.ts";

const STEPS = Number(Deno.env.get("SOAK_STEPS") ?? 200);
const BATCH = Number(Deno.env.get("SOAK_BATCH") ?? 8);
let hasData = true;
try {
  await Deno.stat("/usr/share/datasets/fashion-mnist");
} catch {
  hasData = false;
}

Deno.test({
  name: `soak: ${STEPS} steps of the demo CNN twice: flat GPU memory, bit-identical losses`,
  ignore: !hasWebGpu || !hasData,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const warmup = Math.round(STEPS * 0.3);
    const a = await soakRun({ steps: STEPS, batchSize: BATCH, seed: 3, sampleEvery: 20 });
    const b = await soakRun({ steps: STEPS, batchSize: BATCH, seed: 3, sampleEvery: 20 });
    for (const [name, run] of [["first", a], ["second", b]] as const) {
      const inUse = growthAfter(run.samples, warmup, "inUse");
      const allocated = growthAfter(run.samples, warmup, "allocated");
      assert.ok(run.samples.filter((s) => s.step >= warmup).length >= 5, "enough samples after warm-up");
      assert.equal(
        inUse.max - inUse.min,
        0,
        `${name} run: in-use memory moved after warm-up: ${JSON.stringify(inUse)}`,
      );
      assert.equal(
        allocated.growth,
        0,
        `${name} run: the pool grew after warm-up: ${JSON.stringify(allocated)}`,
      );
      assert.ok(run.losses.every(Number.isFinite), `${name} run: every loss is finite`);
    }
    const first = firstDifference(a.losses, b.losses);
    assert.equal(
      first,
      -1,
      `the runs' losses differ first at step ${first}: ${a.losses[first]} vs ${b.losses[first]}`,
    );
    // training happened: the loss of the last 20 steps is well below the first 20's
    const mean = (x: Float32Array) => x.reduce((s, v) => s + v, 0) / x.length;
    assert.ok(mean(a.losses.slice(-20)) < mean(a.losses.slice(0, 20)) - 0.3, "the loss went down");
    console.log(
      `soak: 2 × ${STEPS} steps (batch ${BATCH}), ${
        (a.seconds + b.seconds).toFixed(0)
      } s: memory flat after step ` +
        `${warmup} (inUse ${a.samples.at(-1)!.inUse} B), losses bit-identical ` +
        `(${a.losses[0].toFixed(4)} → ${a.losses[STEPS - 1].toFixed(4)})`,
    );
  },
});
