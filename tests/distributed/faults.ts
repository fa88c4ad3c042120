// Subprocess of tests/distributed_test.ts. Args: <mode> <faulty rank> <timeoutMs>
//   die:  the faulty rank exits (code 3) after one good all-reduce; the others all-reduce again
//   hang: the faulty rank sleeps instead of calling the second all-reduce
//   fail: the faulty rank throws (for the launcher test); the others sleep for a minute
// Survivors print "ERROR <name> <rank> <message>" for the error they got, and exit with code 1.
import { distributed, ones } from "../../mod.ts";

const [mode, faultyArg, timeoutArg] = Deno.args;
const faulty = Number(faultyArg);
await distributed.initProcessGroup({ backend: "tcp", timeoutMs: Number(timeoutArg) });
const rank = distributed.getRank();
const t = ones([1000]);
await distributed.allReduce(t);
console.log(`rank ${rank} passed the first all-reduce`);
if (rank === faulty) {
  if (mode === "die") Deno.exit(3);
  if (mode === "hang") await new Promise((r) => setTimeout(r, Number(timeoutArg) + 2000));
  if (mode === "fail") throw new Error(`rank ${rank} fails on purpose`);
}
try {
  if (mode === "fail") await new Promise((r) => setTimeout(r, 60_000)); // only the launcher can stop it
  else await distributed.allReduce(t);
  console.log("no error");
  await distributed.destroyProcessGroup();
} catch (e) {
  const err = e as distributed.DistributedError;
  console.log(`ERROR ${err.name} ${err.rank} ${err.message}`);
  Deno.exit(1);
}
