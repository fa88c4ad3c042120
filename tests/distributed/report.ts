// Subprocesses of tests/distributed_test.ts report their results as rank<N>.json in $DENOGRAD_TEST_RESULTS
// (or print them when it is unset).

/** Writes `result` (which has a `rank`) where the test reads it. */
export async function report(result: Record<string, unknown>): Promise<void> {
  const dir = Deno.env.get("DENOGRAD_TEST_RESULTS");
  if (dir) await Deno.writeTextFile(`${dir}/rank${result.rank}.json`, JSON.stringify(result));
  else console.log("RESULT " + JSON.stringify(result));
}
