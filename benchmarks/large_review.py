"""A synthetic review of many studies, and the time, memory and report size of its run.

Run by hand from the repository root:

    .venv/bin/python benchmarks/large_review.py [--studies 2000] [--keep DIR]

The review (`large`, in a temporary bundle root, never in data/raw/) has `--studies` parallel
randomised trials, each reporting one continuous outcome (means and SDs, pooled as MD) and one
binary outcome (events of total, pooled as RR) at one time point, a RoB 2 judgement for every
domain, a screening record and two adverse-event rows. Effects are drawn from a random-effects
model (seed 2026), so that every pooled k is known: the run must report k = `--studies` for
both outcomes.

The bundle runs `python -m metareview.run.pipeline run --review large` under `/usr/bin/time -v`
and prints the wall time per notebook (from the runner's lines), the peak resident memory of
the largest process, the size of `reports/large/`, the largest files there, and the profile:
the `--slowest` cells of the executed notebooks with their durations (papermill's
``metadata.papermill.duration``) and first lines.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
REVIEW = "large"
URL = "https://example.org/synthetic-review"
DOMAINS = ("D1", "D2", "D3", "D4", "D5", "overall")

REVIEW_YAML = """\
title: Synthetic review of many trials (benchmark only)
question: Does the pipeline finish a review of the largest published size in time?
years: [1990, 2026]
conditions:
  condition_a: Condition A
  condition_b: Condition B
intervention_classes:
  class_a: Class A
  class_b: Class B
subgroups: [intervention_class, condition]
moderators:
  - {column: follow_up_weeks, kind: continuous}
favours: {treatment: treatment, control: control}
"""

OUTCOMES = pd.DataFrame([
    {"outcome": "score", "label": "Symptom score", "type": "continuous", "measure": "MD",
     "scale": "synthetic score", "unit": "points", "direction": "lower_is_better",
     "range_min": 0, "range_max": 100},
    {"outcome": "response", "label": "Response", "type": "binary", "measure": "RR",
     "scale": "responders", "unit": "", "direction": "higher_is_better"},
])


def _source(i: int) -> dict:
    return {"source_url": URL, "source_location": f"synthetic study {i + 1}",
            "source_level": "full_text"}


def _write_sheet(folder: Path, name: str, frame: pd.DataFrame) -> None:
    """A sheet with every column of its schema, in the schema's order."""
    from metareview.review.schema import SHEETS

    sheet = next(s for s in SHEETS if s.filename == f"{name}.csv")
    frame.reindex(columns=list(sheet.names)).to_csv(folder / sheet.filename, index=False)


def write_review(folder: Path, studies: int, seed: int = 2026) -> None:
    """Write the sheets of the synthetic review into `folder` (created)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    ids = [f"S{i + 1:04d}" for i in range(studies)]
    n = rng.integers(20, 400, size=(studies, 2))
    rows_studies, rows_arms, rows_rob, rows_screen, rows_ae = [], [], [], [], []
    theta = rng.normal(-5.0, 3.0, studies)
    log_rr = rng.normal(0.2, 0.2, studies)
    for i, sid in enumerate(ids):
        rows_studies.append({
            "study_id": sid, "citation": f"Author{i + 1} A ({1990 + i % 36}) Synthetic",
            "year": 1990 + i % 36, "design": "parallel", "randomised": "true",
            "condition": ("condition_a", "condition_b")[i % 2],
            "intervention_class": ("class_a", "class_b")[(i // 2) % 2],
            "intervention": "treatment", "comparator": "control", "co_intervention": "none",
            "n_randomised": int(n[i].sum()), "n_analysed": int(n[i].sum()),
            "follow_up_weeks": int(4 + i % 48), **_source(i)})
        sd = rng.uniform(8, 15, 2)
        means = (50 + theta[i] + rng.normal(0, sd[0] / np.sqrt(n[i, 0])),
                 50 + rng.normal(0, sd[1] / np.sqrt(n[i, 1])))
        risk_control = rng.uniform(0.2, 0.5)
        risks = (min(0.95, risk_control * np.exp(log_rr[i])), risk_control)
        for arm, role, k in (("treatment arm", "treatment", 0), ("control arm", "control", 1)):
            common = {"study_id": sid, "comparison": "treatment_vs_control",
                      "timepoint_weeks": 12, "arm": arm, "role": role, **_source(i)}
            rows_arms.append({**common, "outcome": "score", "n": int(n[i, k]),
                              "mean": round(float(means[k]), 2), "sd": round(float(sd[k]), 2),
                              "value_type": "final", "reported_form": "mean_sd"})
            events = int(rng.binomial(int(n[i, k]), risks[k]))
            rows_arms.append({**common, "outcome": "response", "events": max(events, 1),
                              "total": int(n[i, k]), "value_type": "count",
                              "reported_form": "events_total"})
            rows_ae.append({"study_id": sid, "event": "any adverse event", "arm": arm,
                            "role": role, "events": int(rng.binomial(int(n[i, k]), 0.1)),
                            "total": int(n[i, k]), "severity": "any", **_source(i)})
        for domain in DOMAINS:
            rows_rob.append({"study_id": sid, "tool": "RoB2", "domain": domain,
                             "judgement": ("low", "some_concerns", "high")[rng.integers(3)],
                             "support": "synthetic judgement", **_source(i)})
        rows_screen.append({"record_id": f"R{i + 1:04d}", "citation": rows_studies[-1]["citation"],
                            "url": URL, "stage": "full_text", "decision": "included",
                            "study_id": sid})
    search = [{"search_id": "S1", "date": "2026-12-01", "source": "synthetic register",
               "query": "all trials", "records_seen": studies, "records_kept": studies}]
    for name, rows in (("studies", rows_studies), ("arms", rows_arms),
                       ("risk_of_bias", rows_rob), ("screening", rows_screen),
                       ("adverse_events", rows_ae), ("outcomes", OUTCOMES),
                       ("search_log", search)):
        _write_sheet(folder, name, pd.DataFrame(rows))
    (folder / "review.yaml").write_text(REVIEW_YAML, encoding="utf-8")


def _bundle(root: Path, studies: int) -> dict:
    shutil.copytree(REPO / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    write_review(root / "data" / "raw" / REVIEW, studies)
    (root / "params").mkdir()
    (root / "params" / f"{REVIEW}.yaml").write_text(f"review: {REVIEW}\nn_perm: 1000\n")
    env = {**os.environ, "METAREVIEW_ROOT": str(root)}
    for command in (("metareview.review.codebook", "--write", "--review", REVIEW),
                    ("metareview.review.checksums", "accept", "--review", REVIEW)):
        done = subprocess.run([sys.executable, "-m", *command], cwd=root, env=env, text=True,
                              capture_output=True)
        if done.returncode:
            raise SystemExit(done.stdout + done.stderr)
    return env


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _print_slowest(reports: Path, count: int) -> None:
    """The slowest cells of the executed notebooks: seconds, notebook, cell, first line."""
    import nbformat

    cells = []
    for path in sorted(reports.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
            if cell.cell_type == "code" and duration:
                first = next((line for line in cell.source.splitlines()
                              if line.strip() and not line.startswith(("#", "from ", "import "))),
                             "")
                cells.append((float(duration), path.stem, index, first.strip()[:60]))
    print(f"  slowest cells (of {len(cells)}):")
    for duration, notebook, index, first in sorted(cells, reverse=True)[:count]:
        print(f"    {duration:6.1f} s  {notebook} cell {index}: {first}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--keep", type=Path, help="build the bundle here and keep it")
    parser.add_argument("--slowest", type=int, default=10,
                        help="how many of the slowest notebook cells to list (default 10)")
    options = parser.parse_args()
    root = options.keep or Path(tempfile.mkdtemp(prefix="large-review-"))
    env = _bundle(root, options.studies)
    run = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "metareview.run.pipeline",
                          "run", "--review", REVIEW], cwd=root, env=env, text=True,
                         capture_output=True)
    print(f"studies: {options.studies}; exit status {run.returncode}")
    for line in run.stdout.splitlines() + run.stderr.splitlines():
        if line.startswith(REVIEW + " ") or line.startswith("error") or "Elapsed (wall" in line \
                or "Maximum resident" in line:
            print(" ", line.strip())
    reports = root / "reports" / REVIEW
    if reports.is_dir():
        print(f"  reports/{REVIEW}: {_size(reports) / 1e6:.1f} MB")
        largest = sorted(reports.rglob("*"), key=lambda p: p.stat().st_size if p.is_file()
                         else 0, reverse=True)[:5]
        for path in largest:
            print(f"    {path.relative_to(reports)}: {path.stat().st_size / 1e6:.2f} MB")
    if reports.is_dir():
        _print_slowest(reports, options.slowest)
    pooled = root / "data" / "processed" / REVIEW / "pooled.csv"
    if pooled.is_file():
        table = pd.read_csv(pooled)
        print(table[[c for c in ("analysis", "outcome", "k", "status") if c in table]]
              .to_string(index=False))
    if run.returncode:
        tail = "\n".join((run.stdout + run.stderr).splitlines()[-30:])
        print(re.sub(r"\n\s*\n", "\n", tail))
    if not options.keep:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
