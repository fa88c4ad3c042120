#!/usr/bin/python3
"""Executes denograd's notebooks headless with Deno's Jupyter kernel, and fails loudly.

    /usr/bin/python3 notebooks/run_notebooks.py [NOTEBOOK.ipynb ...] [--out DIR]

With no notebook given it runs every notebooks/*.ipynb. For each notebook it:

1. type-checks the code cells (the kernel does not): they are joined into one TypeScript file beside the
   notebook and passed to `deno check`; errors are reported by cell. Cells tagged `no-typecheck` are left out.
2. executes it with the kernelspec kept in notebooks/kernels/deno (found through JUPYTER_PATH) and a
   NotebookClient that keeps listening for a grace period after the kernel reports idle: Deno's kernel can
   send outputs (display updates, late prints) after that, and the stock client drops them.
3. fails on any error output, and on a cell tagged `expect-output` with no output or `expect:<mime type>`
   (e.g. `expect:image/svg+xml`) without an output of that type.
4. writes the executed notebook and an HTML page (a template that keeps inline SVG and loads nothing from the
   network) to out/notebooks/ (or --out).

Needs Debian's python3-nbclient and jupyter-nbconvert. Exit status 0 when every notebook passed, 1 otherwise.
"""

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError, CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async
from nbconvert import HTMLExporter
from traitlets import Float

NOTEBOOKS = Path(__file__).resolve().parent
ROOT = NOTEBOOKS.parent


class GraceNotebookClient(NotebookClient):
    """A NotebookClient that keeps collecting a cell's outputs for `grace` seconds after the kernel is idle."""

    grace = Float(0.5, help="seconds of quiet to wait for late outputs after the kernel reports idle").tag(
        config=True
    )
    grace_max = Float(5.0, help="at most this many seconds of late outputs per cell").tag(config=True)

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        await super()._async_poll_output_msg(parent_msg_id, cell, cell_index)
        loop = asyncio.get_running_loop()
        end = loop.time() + self.grace_max
        quiet_until = loop.time() + self.grace
        while True:
            remaining = min(quiet_until, end) - loop.time()
            if remaining <= 0:
                return
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=remaining))
            except Empty:
                return
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                continue
            try:
                self.process_message(msg, cell, cell_index)
            except CellExecutionComplete:
                pass
            quiet_until = loop.time() + self.grace


def code_cells(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def tags(cell):
    return set(cell.get("metadata", {}).get("tags", []))


def type_check(path: Path, nb) -> list:
    """Joins the code cells into a .ts file beside the notebook and runs `deno check`; returns error lines."""
    lines, where = [], []  # where[k]: (cell index, line in cell) of line k+1 of the joined file
    for i, cell in code_cells(nb):
        if "no-typecheck" in tags(cell):
            continue
        lines.append(f"// ---- cell {i + 1} ----")
        where.append((i, 0))
        for n, line in enumerate(cell.source.splitlines(), start=1):
            lines.append(line)
            where.append((i, n))
        lines.append(";")
        where.append((i, 0))
    lines.append("export {};")
    where.append((-1, 0))
    tmp = path.parent / f".typecheck-{path.stem}.ts"
    tmp.write_text("\n".join(lines) + "\n")
    try:
        proc = subprocess.run(
            ["deno", "check", "--quiet", tmp.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
    finally:
        tmp.unlink(missing_ok=True)
    if proc.returncode == 0:
        return []
    out = proc.stdout + proc.stderr

    def locate(m):
        k = int(m.group(1)) - 1
        if 0 <= k < len(where) and where[k][0] >= 0:
            cell, line = where[k]
            return f"cell {cell + 1}, line {line}:{m.group(2)}"
        return m.group(0)

    out = re.sub(re.escape(tmp.name) + r":(\d+):(\d+)", locate, out)
    out = re.sub(r"file://\S*/cell ", "cell ", out)
    noise = ("Stack backtrace", "<unknown>")
    return ["type check failed:"] + [l for l in out.splitlines() if l.strip() and not l.strip().startswith(noise)]


def check_outputs(nb) -> list:
    problems = []
    for i, cell in code_cells(nb):
        outputs = cell.get("outputs", [])
        for out in outputs:
            if out.get("output_type") == "error":
                problems.append(f"cell {i + 1} raised {out.get('ename', 'Error')}: {out.get('evalue', '')}".strip())
        t = tags(cell)
        if "expect-output" in t and not outputs:
            problems.append(f"cell {i + 1} is tagged expect-output but produced no output")
        for tag in sorted(t):
            if tag.startswith("expect:"):
                mime = tag[len("expect:"):]
                if not any(mime in out.get("data", {}) for out in outputs):
                    problems.append(f"cell {i + 1} is tagged {tag} but has no {mime} output")
    return problems


def export_html(nb, dest: Path) -> None:
    exporter = HTMLExporter(template_name="denograd", extra_template_basedirs=[str(NOTEBOOKS / "templates")])
    body, _ = exporter.from_notebook_node(nb)
    dest.write_text(body, encoding="utf-8")


def run_one(path: Path, out_dir: Path, timeout: int, skip_check: bool, grace: float) -> list:
    nb = nbformat.read(path, as_version=4)
    problems = [] if skip_check else type_check(path, nb)
    if problems:
        return problems
    client = GraceNotebookClient(
        nb,
        kernel_name="deno",
        timeout=timeout,
        startup_timeout=120,
        allow_errors=False,
        record_timing=True,
        grace=grace,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as e:
        first = str(e).strip().splitlines()
        problems.append("execution stopped: " + (first[-1] if first else "cell raised"))
    except (CellTimeoutError, DeadKernelError) as e:
        problems.append(f"execution stopped: {type(e).__name__}: {e}")
    problems += [p for p in check_outputs(nb) if p not in problems]
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / path.name)
    export_html(nb, out_dir / (path.stem + ".html"))
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "notebooks", help="default: out/notebooks")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per cell (default 300)")
    ap.add_argument("--grace", type=float, default=0.5, help="seconds of quiet after idle (default 0.5)")
    ap.add_argument("--skip-typecheck", action="store_true")
    args = ap.parse_args()

    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(NOTEBOOKS)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    )
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    os.environ.setdefault("DENO_NO_UPDATE_CHECK", "1")
    os.environ["NO_COLOR"] = "1"

    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    failed = 0
    for path in paths:
        start = time.monotonic()
        try:
            problems = run_one(path, args.out.resolve(), args.timeout, args.skip_typecheck, args.grace)
        except Exception as e:  # a broken notebook file, a kernel that does not start...
            problems = [f"{type(e).__name__}: {e}"]
        took = time.monotonic() - start
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if problems:
            failed += 1
            print(f"FAILED {name} ({took:.1f} s)")
            for p in problems:
                print(f"  {p}")
        else:
            print(f"ok     {name} ({took:.1f} s) -> {args.out / path.name}, {args.out / (path.stem + '.html')}")
    print(f"{len(paths) - failed} notebook(s) passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
