/**
 * The seed of the property and fuzz tests: FUZZ_SEED from the environment, a fixed one by default (CI), or a
 * fresh random one with `FUZZ_SEED=random` (`deno task fuzz`), printed so that a failure can be replayed with
 * `FUZZ_SEED=<seed>`.
 * @module
 */

const DEFAULT_SEED = 20261123;

/** The seed to use; `what` names the test in the printed line. */
export function fuzzSeed(what: string): number {
  const raw = Deno.env.get("FUZZ_SEED");
  if (raw === undefined || raw === "") return DEFAULT_SEED;
  const seed = raw === "random" ? Math.floor(Math.random() * 2 ** 31) : Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer or "random", got ${raw}`);
  console.log(`${what}: FUZZ_SEED=${seed} (replay a failure with FUZZ_SEED=${seed})`);
  return seed;
}
