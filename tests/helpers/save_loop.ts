/**
 * The child of tests/kill_during_save_test.ts: saves checkpoints of a model and its Adam state in a loop
 * to the path given as the first argument, stamping every parameter with the epoch number, and prints
 * "saved <epoch>" once each save has returned (the parent kills it with SIGKILL at a random moment).
 * The second argument is the first epoch number.
 * @module
 */
import { io, nn, noGrad, optim } from "../../mod.ts";

const [path, first = "1"] = Deno.args;
const model = new nn.Sequential(new nn.Linear(256, 512), new nn.ReLU(), new nn.Linear(512, 256));
const optimizer = new optim.Adam(model.parameters(), { lr: 1e-3 });
const encoder = new TextEncoder();
for (let epoch = Number(first);; epoch++) {
  noGrad(() => {
    for (const p of model.parameters()) p.fill_(epoch);
  });
  await io.saveCheckpoint(path, { model, optimizer, epoch, extra: { stamp: epoch } });
  await Deno.stdout.write(encoder.encode(`saved ${epoch}\n`));
}
