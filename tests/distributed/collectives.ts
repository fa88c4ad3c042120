// Subprocess of tests/distributed_test.ts: checks allReduce / broadcast / allGather / barrier on every rank
// and prints one JSON line "RESULT {...}" with what it saw. Args: <backend> [sizes...]
import { report } from "./report.ts";
import { distributed, tensor, zeros } from "../../mod.ts";

const backend = (Deno.args[0] ?? "tcp") as distributed.BackendName;
const sizes = Deno.args.slice(1).map(Number);
await distributed.initProcessGroup({ backend, timeoutMs: 20_000 });
const rank = distributed.getRank();
const n = distributed.getWorldSize();
const out: Record<string, unknown> = { rank, worldSize: n };

// the value of element i on rank r: distinct per rank and element, exact in float32
const value = (r: number, i: number) => (r + 1) * 1000 + (i % 997) - 0.5;
for (const size of sizes.length ? sizes : [1, 7, 1001]) {
  const t = tensor(Float32Array.from({ length: size }, (_, i) => value(rank, i)));
  await distributed.allReduce(t, "sum");
  const got = await t.data();
  let bad = -1;
  for (let i = 0; i < size && bad < 0; i++) {
    let want = 0;
    for (let r = 0; r < n; r++) want += value(r, i);
    if (Math.abs(got[i] - want) > 1e-3) bad = i;
  }
  out[`sum${size}`] = bad < 0 ? "ok" : `element ${bad}: ${got[bad]}`;
  const m = tensor(Float32Array.from({ length: size }, (_, i) => value(rank, i)));
  await distributed.allReduce(m, "max");
  const gm = await m.data();
  out[`max${size}`] = gm.every((v, i) => v === value(n - 1, i)) ? "ok" : "wrong";
}
const avg = tensor([rank * 2 + 0.5, 1.5]);
await distributed.allReduce(avg, "avg");
out.avg = await avg.toArray();
const ints = tensor(new Int32Array([rank, 1, -rank]));
await distributed.allReduce(ints, "min");
out.minInt = await ints.toArray();

const src = n - 1;
const b = tensor(Float32Array.from({ length: 13 }, (_, i) => rank * 100 + i));
await distributed.broadcast(b, src);
out.broadcast = (await b.data()).every((v, i) => v === src * 100 + i) ? "ok" : await b.toArray();

const outList = Array.from({ length: n }, () => zeros([2, 3]));
await distributed.allGather(
  outList,
  tensor(Float32Array.from({ length: 6 }, (_, i) => rank * 10 + i), { shape: [2, 3] }),
);
out.allGather = await Promise.all(outList.map(async (t) => (await t.data())[0]));

await distributed.barrier();
out.done = true;
await report(out);
await distributed.destroyProcessGroup();
