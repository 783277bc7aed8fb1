"""Wall time of the pipeline against its floor and against the command-line way, by hand:

    .venv/bin/python benchmarks/bench_pipeline.py [--review acne-scars ...] [--repeat 3]

Measured per review (medians over --repeat runs):

1. floor: one Python process imports the stack once and runs the code cells of every notebook
   in turn, each in a fresh namespace, with the review's parameters: the least any runner can
   take (no kernel, no papermill, no HTML); in it, the time of each figure save (PNG, and SVG
   where a reader gets one) and the modules it had to compile (no cached bytecode);
2. runner: `python -m metareview.run.pipeline run --review <r>` (one kernel per review, reports
   exported to HTML);
3. command line: per notebook `papermill` then `jupyter nbconvert --to html --no-input`, as
   one would run them by hand.

Then, when no --review is given, all reviews together: `make reproduce` against the
command-line way; and always a no-op `make reports` (everything up to date). Deletes data/processed/* and reports/* as
`make reproduce` does; the command-line outputs go to a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
BIN = ROOT / ".venv" / "bin"

FLOOR = r"""
import contextlib, io, json, sys, time, yaml
start = time.perf_counter()
import numpy, pandas, scipy.stats, matplotlib
matplotlib.use("agg")
import matplotlib.pyplot
import metareview, metareview.report.notebook
from metareview.report.figures import style
review, notebooks = sys.argv[1], sys.argv[2:]
saves = []
original_save = style.save_figure
def timed_save(*args, **kwargs):
    began = time.perf_counter()
    written = original_save(*args, **kwargs)
    saves.append(time.perf_counter() - began)
    return written
style.save_figure = timed_save  # notebook.figure imports it when it saves
params = yaml.safe_load(open(f"params/{review}.yaml"))
for path in notebooks:
    cells = json.load(open(path))["cells"]
    namespace = {"__name__": "__main__"}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            exec(source, namespace)
            namespace.update(params)
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            exec(source, namespace)
    matplotlib.pyplot.close("all")
seconds = time.perf_counter() - start
# a module imported from source whose bytecode is not cached was compiled by this process
import importlib.util, os
compiled_here = [name for name, module in list(sys.modules.items())
                 if (getattr(module, "__file__", None) or "").endswith(".py")
                 and not os.path.exists(importlib.util.cache_from_source(module.__file__))]
print(json.dumps({"seconds": seconds, "saves": saves, "compiled": compiled_here}))
"""


def _timed(command: list[str], **options) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, **options)
    return time.perf_counter() - start


def _clean() -> None:
    subprocess.run(["make", "clean"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def _notebooks() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def floor(review: str) -> dict:
    """{"seconds", "saves" (seconds of each figure save), "compiled" (modules compiled)}."""
    # run once through the runner first, so that every file a notebook reads exists
    out = subprocess.run([str(PYTHON), "-c", FLOOR, review, *_notebooks()], cwd=ROOT,
                         capture_output=True, text=True, check=True,
                         # no bytecode written, so a module without a cached one was compiled
                         env={**os.environ, "MPLBACKEND": "agg", "PYTHONDONTWRITEBYTECODE": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def runner(review: str) -> float:
    return _timed([str(PYTHON), "-m", "metareview.run.pipeline", "run", "--review", review])


def command_line(review: str, scratch: Path) -> float:
    start = time.perf_counter()
    for notebook in _notebooks():
        out = scratch / f"{review}-{Path(notebook).name}"
        subprocess.run([str(BIN / "papermill"), notebook, str(out), "-f",
                        f"params/{review}.yaml", "-k", "metareview", "--cwd", str(ROOT)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input",
                        str(out)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--review", action="append")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    reviews = args.review or subprocess.run(
        [str(PYTHON), "-m", "metareview.run.pipeline", "reviews"], cwd=ROOT, capture_output=True,
        text=True, check=True).stdout.split()
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for review in reviews:
            _clean()
            measured = {"runner": [], "floor": [], "command line": []}
            saves, compiled = [], set()
            for _ in range(args.repeat):
                measured["runner"].append(runner(review))
                in_process = floor(review)
                measured["floor"].append(in_process["seconds"])
                saves += in_process["saves"]
                compiled.update(in_process["compiled"])
                measured["command line"].append(command_line(review, Path(scratch)))
            medians = {k: statistics.median(v) for k, v in measured.items()}
            results[review] = medians
            print(f"{review}: floor {medians['floor']:.1f} s, runner {medians['runner']:.1f} s "
                  f"({medians['runner'] / medians['floor']:.2f}x the floor), command line "
                  f"{medians['command line']:.1f} s; {len(saves) // args.repeat} figures "
                  f"saved in {statistics.mean(saves) if saves else 0:.3f} s on average "
                  f"(slowest {max(saves, default=0):.3f} s); modules compiled in the run: "
                  f"{', '.join(sorted(compiled)) or 'none'}", flush=True)
        _clean()
        if args.review is None:
            # make reproduce runs every review, so it is set against the command-line times
            # only when all of them were measured
            reproduce = _timed(["make", "reproduce"])
            cli_all = sum(results[r]["command line"] for r in reviews)
            print(f"all reviews: make reproduce {reproduce:.1f} s, command line one by one "
                  f"{cli_all:.1f} s ({cli_all / reproduce:.1f}x faster)")
        else:
            subprocess.run(["make", "reports"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        noop = [_timed(["make", "reports"]) for _ in range(5)]
        print(f"no-op make reports: median {statistics.median(noop) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
