// Several processes: collectives, DistributedDataParallel, DistributedSampler, faults and the launcher.
// Multi-process tests spawn `deno run` subprocesses (scripts in tests/distributed/) that talk over loopback
// on free ports; the MPI variants run when Open MPI's mpirun is installed.
import assert from "node:assert/strict";
import { distributed, nn, ones, tensor } from "../mod.ts";
import { assertClose, assertRejectsMessage } from "./helpers/assert_close.ts";
import { forEachDevice, hasWebGpu } from "./helpers/devices.ts";
import { train } from "./distributed/ddp_train.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const FIXTURES = JSON.parse(await Deno.readTextFile(new URL("./fixtures/distributed.json", import.meta.url)));

const hasMpirun = await (async () => {
  try {
    const { success } = await new Deno.Command("mpirun", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return success;
  } catch {
    return false;
  }
})();

const OMPI_ROOT = { OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };

interface Run {
  code: number;
  out: string;
  results: Record<string, unknown>[];
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  // each rank writes its result to a file (mpirun interleaves long lines of different ranks)
  const dir = await Deno.makeTempDir({ prefix: "denograd-dist-" });
  try {
    const { code, stdout, stderr } = await new Deno.Command(cmd, {
      args,
      cwd: ROOT,
      env: { DENOGRAD_DEVICE: "cpu", NO_COLOR: "1", DENOGRAD_TEST_RESULTS: dir, ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    const results: Record<string, unknown>[] = [];
    for await (const f of Deno.readDir(dir)) {
      results.push(JSON.parse(await Deno.readTextFile(`${dir}/${f.name}`)));
    }
    results.sort((a, b) => (a.rank as number) - (b.rank as number));
    return { code, out, results };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `script` on `n` processes with our launcher (tcp) or mpirun (mpi). */
function spawnRanks(
  backend: "tcp" | "mpi",
  n: number,
  script: string,
  args: string[],
  env = {},
): Promise<Run> {
  if (backend === "tcp") {
    return run(Deno.execPath(), [
      "run",
      "-A",
      "src/distributed/launch.ts",
      "--nproc",
      String(n),
      script,
      ...args,
    ], env);
  }
  return run("mpirun", ["-np", String(n), "--oversubscribe", Deno.execPath(), "run", "-A", script, ...args], {
    ...OMPI_ROOT,
    ...env,
  });
}

const opts = { sanitizeResources: false, sanitizeOps: false };

// ------------------------------------------------------------------ single process

Deno.test("DistributedSampler gives every rank PyTorch's indices", () => {
  for (const c of FIXTURES.samplers) {
    c.ranks.forEach((want: number[], rank: number) => {
      const s = new distributed.DistributedSampler(c.length, { ...c, rank });
      s.setEpoch(c.epoch);
      assert.equal(s.length, want.length);
      assert.deepEqual(
        Array.from(s.indices()),
        want,
        `${JSON.stringify({ ...c, ranks: undefined })} rank ${rank}`,
      );
    });
  }
  for (const p of FIXTURES.randperm) {
    assert.deepEqual(Array.from(distributed.torchRandperm(p.n, p.seed)), p.perm);
  }
});

Deno.test("DistributedSampler: hand-computed partitions and errors", () => {
  // 10 indices over 3 ranks, padded with 0, 1 to 12: every third from the rank
  const ranks = [0, 1, 2].map((rank) =>
    Array.from(new distributed.DistributedSampler(10, { numReplicas: 3, rank, shuffle: false }).indices())
  );
  assert.deepEqual(ranks, [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]);
  const dropped = new distributed.DistributedSampler(10, {
    numReplicas: 3,
    rank: 2,
    shuffle: false,
    dropLast: true,
  });
  assert.deepEqual(Array.from(dropped.indices()), [2, 5, 8]);
  // every epoch a different permutation, the same on every rank: the ranks' shares partition the data
  const s0 = new distributed.DistributedSampler(12, { numReplicas: 2, rank: 0 });
  const s1 = new distributed.DistributedSampler(12, { numReplicas: 2, rank: 1 });
  const e0 = Array.from(s0.indices());
  s0.setEpoch(1);
  s1.setEpoch(1);
  const both = [...s0.indices(), ...s1.indices()].sort((a, b) => a - b);
  assert.deepEqual(both, [...Array(12).keys()]);
  assert.notDeepEqual(Array.from(s0.indices()), e0);
  assert.throws(() => new distributed.DistributedSampler(10, { numReplicas: 2, rank: 2 }), /invalid rank 2/);
  assert.throws(() => new distributed.DistributedSampler(10), /give numReplicas and rank, or call/);
});

forEachDevice("post-accumulate-grad hook fires once per backward with the whole gradient", async (device) => {
  const w = tensor([1, 2, 3], { device, requiresGrad: true });
  const seen: number[][] = [];
  const handle = w.accumulateGrad().registerPostHook((p) => {
    seen.push([]); // placeholder filled after the (async) read below
    const slot = seen.length - 1;
    reads.push(p.grad!.data().then((d) => seen[slot] = Array.from(d)));
  });
  const reads: Promise<unknown>[] = [];
  // w is used three times: the hook must run after all three contributions are summed
  w.mul(w).add(w).sum().backward();
  await Promise.all(reads);
  assert.deepEqual(seen, [[3, 5, 7]]);
  w.mul(2).sum().backward(); // a second backward: accumulated into .grad, hook again
  await Promise.all(reads);
  assert.deepEqual(seen, [[3, 5, 7], [5, 7, 9]]);
  handle.remove();
  w.sum().backward();
  assert.equal(seen.length, 2);
});

Deno.test("process group of one process; clear errors before init and on bad input", opts, async () => {
  assert.equal(distributed.isInitialized(), false);
  await assertRejectsMessage(
    () => distributed.allReduce(ones([2])),
    /not initialized; call initProcessGroup/,
  );
  assert.throws(() => distributed.getRank(), /not initialized/);
  await assertRejectsMessage(
    () =>
      distributed.initProcessGroup({ backend: "tcp", initMethod: "file:///tmp/x", rank: 0, worldSize: 2 }),
    /initMethod must be "env:\/\/" or "tcp:\/\/host:port"/,
  );
  await assertRejectsMessage(
    () =>
      distributed.initProcessGroup({
        backend: "tcp",
        rank: 3,
        worldSize: 2,
        initMethod: "tcp://127.0.0.1:1",
      }),
    /rank 3 is out of range for world size 2/,
  );
  await distributed.initProcessGroup({ backend: "tcp", rank: 0, worldSize: 1 });
  try {
    assert.equal(distributed.getWorldSize(), 1);
    assert.equal(distributed.getBackend(), "tcp");
    const t = tensor([1.5, -2]);
    await distributed.allReduce(t);
    assert.deepEqual(await t.toArray(), [1.5, -2]);
    await assertRejectsMessage(
      () => distributed.allReduce(t, "mean" as distributed.ReduceOp),
      /unknown op "mean"/,
    );
    await assertRejectsMessage(() => distributed.allReduce(tensor([true])), /bool tensors can't be reduced/);
    await assertRejectsMessage(
      () => distributed.allGather([ones([3])], ones([2])),
      /outList\[0\] is float32 \[3\] but the input is float32 \[2\]/,
    );
    await assertRejectsMessage(() => distributed.initProcessGroup(), /already initialized/);
    // checkpoints: rank 0 writes (atomically), the others wait
    const path = await Deno.makeTempFile({ suffix: ".safetensors" });
    const model = new nn.Linear(2, 1);
    assert.equal(await distributed.saveOnRank0(path, { model, epoch: 4 }), true);
    const { epoch } = await (await import("../mod.ts")).io.loadCheckpoint(path, { model });
    assert.equal(epoch, 4);
    await Deno.remove(path);
  } finally {
    await distributed.destroyProcessGroup();
  }
  assert.equal(distributed.isInitialized(), false);
});

Deno.test(
  "DistributedDataParallel guards: ready, forgotten sync, double backward, noSync",
  opts,
  async () => {
    await distributed.initProcessGroup({ backend: "tcp", rank: 0, worldSize: 1 });
    try {
      const model = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
      const ddp = new distributed.DistributedDataParallel(model, { bucketCapMb: 0.00003 }); // 31 bytes
      assert.throws(() => ddp.forward(ones([2, 3])), /`await ddp.ready` first/);
      await ddp.ready;
      // buckets in reverse parameter order, as PyTorch: the last layer's gradients come first
      assert.deepEqual(ddp.bucketNames, [["2.bias"], ["2.weight"], ["0.bias"], ["0.weight"]]);
      assert.deepEqual(Object.keys(ddp.stateDict()), [
        "module.0.weight",
        "module.0.bias",
        "module.2.weight",
        "module.2.bias",
      ]);
      const x = tensor([[1, 2, 3], [-1, 0.5, 2]]);
      ddp.forward(x).sum().backward();
      assert.throws(() => ddp.forward(x), /previous backward\(\) were never synchronized/);
      await ddp.syncGradients();
      const g1 = Array.from(await (model.at(0) as nn.Linear).weight.grad!.data());
      // a second backward through a retained graph before syncing would go unreduced: it throws instead
      const y = ddp.forward(x).sum();
      y.backward(undefined, { retainGraph: true });
      assert.throws(() => y.backward(), /a second backward\(\) reached a parameter/);
      await ddp.syncGradients(); // one rank: nothing was in flight, nothing is lost
      ddp.removeHooks();
      model.zeroGrad();
      const ddp2 = new distributed.DistributedDataParallel(model);
      await ddp2.ready;
      // noSync: accumulate locally, and the next synchronized backward reduces the sum
      ddp2.noSync(() => ddp2.forward(x).sum().backward());
      {
        using _ = ddp2.noSync();
        ddp2.forward(x).sum().backward();
        await ddp2.syncGradients(); // inside noSync: nothing to do
      }
      ddp2.forward(x).sum().backward();
      await ddp2.syncGradients();
      assertClose(await (model.at(0) as nn.Linear).weight.grad!.data(), g1.map((v) => 3 * v));
      ddp2.removeHooks();
    } finally {
      await distributed.destroyProcessGroup();
    }
  },
);

// ------------------------------------------------------------------ several processes

const SIZES = ["1", "2", "7", "1001", "262147"]; // odd sizes, not divisible by 3; the last spans segments

for (const backend of ["tcp", "mpi"] as const) {
  Deno.test({
    name: `allReduce / broadcast / allGather / barrier on 3 ranks (${backend})`,
    ignore: backend === "mpi" && !hasMpirun,
    ...opts,
    fn: async () => {
      const r = await spawnRanks(backend, 3, "tests/distributed/collectives.ts", [backend, ...SIZES]);
      assert.equal(r.code, 0, r.out);
      assert.equal(r.results.length, 3, r.out);
      for (const res of r.results) {
        for (const s of SIZES) {
          assert.equal(res[`sum${s}`], "ok", `rank ${res.rank} sum of ${s}`);
          assert.equal(res[`max${s}`], "ok", `rank ${res.rank} max of ${s}`);
        }
        assert.deepEqual(res.avg, [2.5, 1.5]);
        assert.deepEqual(res.minInt, [0, 1, -2]);
        assert.equal(res.broadcast, "ok");
        assert.deepEqual(res.allGather, [0, 10, 20]);
        assert.equal(res.done, true);
      }
    },
  });

  Deno.test({
    name: `DistributedDataParallel on 2 ranks equals one process with the full batch (${backend}, cpu)`,
    ignore: backend === "mpi" && !hasMpirun,
    ...opts,
    fn: async () => {
      const r = await spawnRanks(backend, 2, "tests/distributed/ddp_train.ts", [backend, "cpu"]);
      assert.equal(r.code, 0, r.out);
      assert.equal(r.results.length, 2, r.out);
      const single = await train({ worldSize: 1, device: "cpu" });
      for (const res of r.results) {
        (res.params as number[][]).forEach((p, i) =>
          assertClose(p, (single.params as number[][])[i], {
            atol: 1e-5,
            rtol: 1e-5,
            msg: `rank ${res.rank} param ${i}`,
          })
        );
        assert.ok((res.buckets as number) > 1, "several gradient buckets");
        assert.match(
          res.forgotten as string,
          /gradients of the previous backward\(\) were never synchronized/,
        );
        assert.match(res.doubleBackward as string, /a second backward\(\) reached a parameter/);
        assert.match(
          res.doubleBackwardSync as string,
          /a gradient was replaced while its bucket was being reduced/,
        );
      }
    },
  });
}

Deno.test({
  name: "DistributedDataParallel on 2 ranks equals one process with the full batch (tcp, webgpu)",
  ignore: !hasWebGpu,
  ...opts,
  fn: async () => {
    const r = await spawnRanks("tcp", 2, "tests/distributed/ddp_train.ts", ["tcp", "webgpu"], {
      DENOGRAD_DEVICE: "",
    });
    assert.equal(r.code, 0, r.out);
    assert.equal(r.results.length, 2, r.out);
    const single = await train({ worldSize: 1, device: "cpu" });
    for (const res of r.results) {
      (res.params as number[][]).forEach((p, i) =>
        assertClose(p, (single.params as number[][])[i], {
          atol: 1e-5,
          rtol: 1e-4,
          msg: `rank ${res.rank} param ${i}`,
        })
      );
    }
  },
});

/** Starts 3 ranks of tests/distributed/faults.ts directly (no launcher: it would stop the survivors). */
async function faultRun(mode: string, faulty: number, timeoutMs: number, n = 3): Promise<Run> {
  const port = distributed.freePort();
  const runs = await Promise.all(
    Array.from({ length: n }, (_, rank) =>
      run(Deno.execPath(), [
        "run",
        "-A",
        "tests/distributed/faults.ts",
        mode,
        String(faulty),
        String(timeoutMs),
      ], {
        RANK: String(rank),
        WORLD_SIZE: String(n),
        MASTER_ADDR: "127.0.0.1",
        MASTER_PORT: String(port),
      })),
  );
  return {
    code: runs.map((r) => r.code).reduce((a, b) => Math.max(a, b)),
    out: runs.map((r, i) => `--- rank ${i} (exit ${r.code})\n${r.out}`).join("\n"),
    results: [],
  };
}

Deno.test("a worker that dies is reported by its neighbour, naming its rank", opts, async () => {
  // rank 2 exits; the survivors' all-reduce fails at once (the deadline of 60 s is never reached)
  const r = await faultRun("die", 2, 60_000);
  const errors = [...r.out.matchAll(/^ERROR (\w+) (\S+) (.*)$/gm)];
  assert.equal(errors.length, 2, r.out);
  for (const e of errors) assert.equal(e[1], "DistributedError", r.out);
  // rank 0 receives from rank 2: it names it
  assert.match(
    r.out,
    /--- rank 0 \(exit 1\)[^]*ERROR DistributedError 2 rank 2 closed its connection during allReduce #2/,
  );
  assert.match(r.out, /--- rank 2 \(exit 3\)/);
});

Deno.test("a worker that hangs makes the others fail at the deadline, naming it", opts, async () => {
  // rank 1 of 2 sleeps instead of calling the second all-reduce: rank 0 gives up after 1.5 s
  const r = await faultRun("hang", 1, 1500, 2);
  assert.match(
    r.out,
    /--- rank 0 \(exit 1\)[^]*ERROR DistributedError 1 allReduce #2 timed out after 1500 ms waiting for rank 1/,
  );
});

Deno.test("the launcher prefixes output with the rank and propagates a failure", opts, async () => {
  // rank 1 throws; rank 0 sleeps for a minute: the launcher must stop it
  const t0 = Date.now();
  const r = await spawnRanks("tcp", 2, "tests/distributed/faults.ts", ["fail", "1", "60000"]);
  assert.ok(Date.now() - t0 < 50_000, "the launcher stopped rank 0 instead of waiting for it");
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /^\[rank1\] rank 1 passed the first all-reduce$/m);
  assert.match(r.out, /^\[rank1\] .*rank 1 fails on purpose/m);
  assert.match(r.out, /launch: rank 1 exited with code 1; stopping the other 1 rank/);
  assert.doesNotMatch(r.out, /no error/);
  // and a clean run exits 0
  const ok = await spawnRanks("tcp", 2, "tests/distributed/faults.ts", ["none", "5", "60000"]);
  assert.equal(ok.code, 0, ok.out);
  assert.equal(
    distributed.parseLaunchArgs(["--nproc", "4", "train.ts", "--lr", "0.1"]).args!.join(" "),
    "--lr 0.1",
  );
  assert.throws(
    () => distributed.parseLaunchArgs(["--nproc", "0", "x.ts"]),
    /--nproc must be a positive integer/,
  );
});
