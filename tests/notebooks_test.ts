/**
 * The headless notebook runner (notebooks/run_notebooks.py) on the fixture notebooks: it fails on a cell
 * that raises, on a cell that does not type-check, and on a cell tagged expect-output without output; its
 * grace period catches output sent after the kernel reports idle; its HTML keeps inline SVG. Needs Debian's
 * python3-nbclient and jupyter-nbconvert (`.ci/run` installs them); skipped without them.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PYTHON = "/usr/bin/python3";

async function runnerAvailable(): Promise<boolean> {
  try {
    const { code } = await new Deno.Command(PYTHON, {
      args: ["-c", "import nbclient, nbconvert, nbformat"],
      stdout: "null",
      stderr: "null",
    }).output();
    return code === 0;
  } catch {
    return false;
  }
}

const available = await runnerAvailable();

interface RunResult {
  code: number;
  out: string;
  dir: string;
}

/** Runs the runner on one fixture notebook, writing into a fresh folder. */
async function run(fixture: string, ...extra: string[]): Promise<RunResult> {
  const dir = await Deno.makeTempDir({ prefix: "denograd-nb-" });
  const path = Deno.env.get("PATH") ?? "";
  const { code, stdout, stderr } = await new Deno.Command(PYTHON, {
    args: ["notebooks/run_notebooks.py", `notebooks/fixtures/${fixture}`, "--out", dir, ...extra],
    cwd: ROOT,
    env: {
      PATH: `${dirname(Deno.execPath())}:${path}`,
      XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  return { code, out, dir };
}

type Cell = { cell_type: string; outputs?: { output_type: string; text?: string | string[] }[] };

async function executed(dir: string, name: string): Promise<Cell[]> {
  return JSON.parse(await Deno.readTextFile(join(dir, name))).cells;
}

const streamText = (cell: Cell) =>
  (cell.outputs ?? []).filter((o) => o.output_type === "stream").map((o) => [o.text ?? ""].flat().join(""))
    .join(
      "",
    );

Deno.test({
  name: "notebooks: the kernelspec kept in the repo starts Deno's kernel",
  fn: async () => {
    const spec = JSON.parse(await Deno.readTextFile(join(ROOT, "notebooks/kernels/deno/kernel.json")));
    assert.deepEqual(spec.argv, ["deno", "jupyter", "--kernel", "--conn", "{connection_file}"]);
    assert.equal(spec.language, "typescript");
  },
});

Deno.test({
  name: "notebooks: the headless runner",
  ignore: !available,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await t.step(
      "a notebook whose cell raises fails the run, naming the error; output so far is kept",
      async () => {
        const r = await run("raises.ipynb");
        try {
          assert.equal(r.code, 1, r.out);
          assert.match(r.out, /FAILED notebooks\/fixtures\/raises\.ipynb/);
          assert.match(r.out, /cell 3 raised RangeError: add: shapes \[2\] and \[3\] cannot be broadcast/);
          assert.match(r.out, /0 notebook\(s\) passed, 1 failed/);
          const cells = await executed(r.dir, "raises.ipynb");
          assert.equal(streamText(cells[1]), "before the error\n");
          assert.equal(cells[3].outputs?.length ?? 0, 0, "the cell after the error did not run");
          assert.match(await Deno.readTextFile(join(r.dir, "raises.html")), /before the error/);
        } finally {
          await Deno.remove(r.dir, { recursive: true });
        }
      },
    );

    await t.step("a cell that does not type-check fails before anything runs, located by cell", async () => {
      const r = await run("type_error.ipynb");
      try {
        assert.equal(r.code, 1, r.out);
        assert.match(r.out, /type check failed/);
        assert.match(r.out, /Type 'number' is not assignable to type 'string'/);
        assert.match(r.out, /at cell 3, line 1:7/);
        await assert.rejects(Deno.stat(join(r.dir, "type_error.ipynb")), Deno.errors.NotFound);
      } finally {
        await Deno.remove(r.dir, { recursive: true });
      }
    });

    await t.step("output sent after idle is caught by the grace period; HTML keeps inline SVG", async () => {
      const r = await run("late_output.ipynb");
      try {
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /^ok {5}notebooks\/fixtures\/late_output\.ipynb/m);
        const cells = await executed(r.dir, "late_output.ipynb");
        assert.equal(streamText(cells[1]), "late output\n");
        const html = await Deno.readTextFile(join(r.dir, "late_output.html"));
        assert.match(html, /<circle cx="20" cy="20" r="15" fill="orange"\s*\/?>/);
        assert.doesNotMatch(html, /<script src="https?:/, "no scripts from the network");
      } finally {
        await Deno.remove(r.dir, { recursive: true });
      }
    });

    await t.step(
      "without the grace period the late output is lost and expect-output fails the run",
      async () => {
        const r = await run("late_output.ipynb", "--grace", "0");
        try {
          assert.equal(r.code, 1, r.out);
          assert.match(r.out, /cell 2 is tagged expect-output but produced no output/);
        } finally {
          await Deno.remove(r.dir, { recursive: true });
        }
      },
    );
  },
});
