/**
 * Kill a process at random moments while it saves checkpoints: the file on disk is always a complete
 * checkpoint that loads (the atomic write: temp file, fsync, rename). A child (tests/helpers/save_loop.ts)
 * saves a ~1 MB model and its Adam state in a loop; the parent kills it with SIGKILL after a random delay,
 * then loads the checkpoint and checks that every parameter carries one epoch stamp, no older than the last
 * save the child reported. CI does KILLS (default 10) kills; `deno task fuzz` sets KILLS=100.
 */
import assert from "node:assert/strict";
import { io, nn } from "../mod.ts";
import { fuzzSeed } from "./helpers/fuzz.ts";

const KILLS = Number(Deno.env.get("KILLS") ?? 10);
const SEED = fuzzSeed("kill during save");
const child = new URL("./helpers/save_loop.ts", import.meta.url).pathname;

/** A seeded uniform in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

Deno.test({
  name: `kill during save: ${KILLS} SIGKILLs at random moments, the previous checkpoint always loads`,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "denograd-kill-" });
    const path = `${dir}/ckpt.safetensors`;
    const rand = rng(SEED);
    let lastEpoch = 0;
    let midWrite = 0;
    let saves = 0;
    try {
      for (let k = 0; k < KILLS; k++) {
        const proc = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--no-check", child, path, String(lastEpoch + 1)],
          stdout: "piped",
          stderr: "piped",
          env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
        }).spawn();
        // wait for the first completed save of this child, then kill it at a random moment
        const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let reported = lastEpoch;
        let buffered = "";
        const readSaves = async () => {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            buffered += value;
            for (const m of buffered.matchAll(/saved (\d+)\n/g)) reported = Math.max(reported, Number(m[1]));
            buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
          }
        };
        const pump = readSaves();
        const started = performance.now();
        while (reported === lastEpoch && performance.now() - started < 60_000) {
          await new Promise((r) => setTimeout(r, 5));
        }
        assert.ok(reported > lastEpoch, `child ${k} saved nothing within 60 s`);
        await new Promise((r) => setTimeout(r, rand() * 400));
        proc.kill("SIGKILL");
        const status = await proc.status;
        await pump;
        await proc.stderr.cancel();
        assert.equal(status.signal, "SIGKILL");
        // a temp file left behind means the kill landed inside a write
        const leftovers = [];
        for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".tmp")) leftovers.push(e.name);
        if (leftovers.length) midWrite++;
        for (const f of leftovers) await Deno.remove(`${dir}/${f}`);
        // the file is a whole checkpoint, at least as new as the last save the child reported
        const model = new nn.Sequential(new nn.Linear(256, 512), new nn.ReLU(), new nn.Linear(512, 256));
        const { epoch, extra } = await io.loadCheckpoint(path, { model });
        assert.ok(
          epoch !== undefined && epoch >= reported,
          `epoch ${epoch} after the child reported ${reported}`,
        );
        assert.equal(extra.stamp, epoch);
        for (const p of model.parameters()) {
          const d = await p.data();
          assert.ok(d.every((v) => v === epoch), `every parameter carries epoch ${epoch}`);
        }
        model.dispose();
        saves += epoch! - lastEpoch;
        lastEpoch = epoch!;
      }
      console.log(
        `kill during save: ${KILLS} kills (seed ${SEED}), ${midWrite} inside a write (temp file left), ` +
          `${saves} completed saves; the checkpoint loaded after every kill`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
