"""results/<review>.json and `check`: deterministic record, and every kind of problem caught.

The run is laid out by hand in a temporary tree (processed CSVs, reports, figures, an executed
notebook), so each test changes one thing and asserts that `check` names it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from metareview import files
from metareview.run import record

REPO = Path(__file__).resolve().parents[1]
FIXTURE_REVIEW = REPO / "tests" / "fixtures" / "review_fixture"
REVIEW = "rev"

POOLED = (
    "outcome,measure,method,k,estimate,ci_low,ci_high,pval,tau2,i2\n"
    "scar_score,SMD,REML,5,-0.61,-1.02,-0.2,0.0123,0.0571,38.2\n"
    "satisfaction,MD,REML,3,1.25,0.1,2.4,0.041,0,0\n"
)
SUBGROUPS = (
    "outcome,variable,group,k,estimate,ci_low,ci_high,q_between,pval\n"
    "scar_score,design,parallel,3,-0.5,-1.1,0.1,0.84,0.36\n"
    "scar_score,design,split_face,2,-0.8,-1.5,-0.1,0.84,0.36\n"
)
SAFETY = "event,measure,k,estimate,ci_low,ci_high,pval\nerythema,RR,4,1.3,0.8,2.1,\n"


def executed_notebook(error: bool = False) -> str:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1")
    if error:
        cell.outputs = [nbformat.v4.new_output(
            "error", ename="ValueError", evalue="bad sheet", traceback=["ValueError: bad sheet"]
        )]
    nb.cells = [nbformat.v4.new_markdown_cell("# A"), cell]
    return nbformat.writes(nb)


@pytest.fixture()
def tree(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    for stem in ("01_first", "02_second"):
        (root / "notebooks" / f"{stem}.ipynb").write_text(executed_notebook())
    shutil.copytree(FIXTURE_REVIEW, root / "data" / "raw" / REVIEW)
    (root / "params").mkdir()
    (root / "params" / f"{REVIEW}.yaml").write_text(f"review: {REVIEW}\n")
    processed = root / "data" / "processed" / REVIEW
    processed.mkdir(parents=True)
    (processed / "pooled.csv").write_text(POOLED)
    (processed / "subgroups.csv").write_text(SUBGROUPS)
    (processed / "safety.csv").write_text(SAFETY)
    (processed / "effects.csv").write_text("study_id,yi,vi\nS1,0.1,0.2\n")  # not a result table
    reports = root / "reports" / REVIEW
    (reports / "figures").mkdir(parents=True)
    for stem in ("01_first", "02_second"):
        (reports / f"{stem}.html").write_text("<html><body>report</body></html>")
        (reports / f"{stem}.ipynb").write_text(executed_notebook())
    for suffix in (".png", ".svg"):
        (reports / "figures" / f"forest_scar_score{suffix}").write_bytes(b"figure")
    monkeypatch.setenv(files.ROOT_ENV, str(root))
    from metareview.run import pipeline

    for notebook in pipeline.discover_notebooks():  # what a run records of its inputs
        pipeline.write_inputs(REVIEW, notebook)
    record.write(REVIEW)
    return root


def test_record_holds_every_result_with_its_numbers(tree):
    data = json.loads((tree / "results" / f"{REVIEW}.json").read_text())
    assert data["review"] == REVIEW
    assert sorted(data["tables"]) == ["pooled", "safety", "subgroups"]
    smd = data["tables"]["pooled"]["outcome=scar_score; measure=SMD; method=REML"]
    assert smd == {"k": 5, "estimate": -0.61, "ci_low": -1.02, "ci_high": -0.2,
                   "pval": 0.0123, "tau2": 0.0571, "i2": 38.2}
    assert data["tables"]["safety"]["event=erythema; measure=RR"]["pval"] is None
    assert len(data["tables"]["subgroups"]) == 2
    assert data["figures"] == ["figures/forest_scar_score.png", "figures/forest_scar_score.svg"]


def test_record_is_byte_identical_sorted_and_ends_with_newline(tree):
    path = tree / "results" / f"{REVIEW}.json"
    first = path.read_bytes()
    record.write(REVIEW)
    assert path.read_bytes() == first
    assert first.endswith(b"}\n")
    text = first.decode()
    assert json.dumps(json.loads(text), sort_keys=True) == json.dumps(json.loads(text))
    keys = list(json.loads(text)["tables"]["pooled"]["outcome=scar_score; measure=SMD; method=REML"])
    assert keys == sorted(keys)
    assert "-0.61," in text and "0.0571" in text  # fixed, readable float format


def test_clean_run_passes(tree):
    assert record.check(REVIEW) == []


def _edit_pooled(tree: Path, old: str, new: str) -> None:
    path = tree / "data" / "processed" / REVIEW / "pooled.csv"
    path.write_text(path.read_text().replace(old, new))


def test_drifted_result_is_caught(tree):
    _edit_pooled(tree, "-0.61,", "-0.6100001,")
    problems = record.check(REVIEW)
    assert len(problems) == 1
    assert "result changed" in problems[0]
    assert "outcome=scar_score" in problems[0] and "estimate" in problems[0]
    assert "-0.61" in problems[0] and "-0.6100001" in problems[0]


def test_drift_below_relative_1e9_is_accepted(tree):
    _edit_pooled(tree, "-0.61,", "-0.6100000000001,")
    assert record.check(REVIEW) == []


def test_added_and_removed_results_are_caught(tree):
    _edit_pooled(tree, "satisfaction,MD", "pain,MD")
    problems = "\n".join(record.check(REVIEW))
    assert "result removed: pooled: outcome=satisfaction" in problems
    assert "result added: pooled: outcome=pain" in problems


def test_missing_report_is_caught(tree):
    (tree / "reports" / REVIEW / "02_second.html").unlink()
    problems = record.check(REVIEW)
    assert problems == [f"report missing: reports/{REVIEW}/02_second.html"]


def test_missing_figure_is_caught(tree):
    (tree / "reports" / REVIEW / "figures" / "forest_scar_score.svg").unlink()
    problems = "\n".join(record.check(REVIEW))
    assert f"figure missing: reports/{REVIEW}/figures/forest_scar_score.svg" in problems


def test_new_figure_must_be_recorded(tree):
    (tree / "reports" / REVIEW / "figures" / "funnel.png").write_bytes(b"figure")
    problems = "\n".join(record.check(REVIEW))
    assert f"figure not in the record: reports/{REVIEW}/figures/funnel.png" in problems
    # a diagnostic is saved as PNG only (report.figure_names.has_vector)
    assert "figure without its SVG" not in problems


def test_main_figure_without_its_svg_is_caught(tree):
    (tree / "reports" / REVIEW / "figures" / "forest_other.png").write_bytes(b"figure")
    (tree / "reports" / REVIEW / "figures" / "forest_other_all_studies.png").write_bytes(b"x")
    problems = record.check(REVIEW)
    assert f"figure without its SVG: reports/{REVIEW}/figures/forest_other.png" in problems
    assert not any("without its SVG" in p and "all_studies" in p for p in problems)


def test_error_cell_in_an_executed_notebook_is_caught(tree):
    (tree / "reports" / REVIEW / "01_first.ipynb").write_text(executed_notebook(error=True))
    problems = record.check(REVIEW)
    assert len(problems) == 1
    assert "01_first.ipynb" in problems[0] and "ValueError: bad sheet" in problems[0]


def test_failed_notebook_is_caught(tree):
    (tree / "reports" / REVIEW / "02_second.FAILED.ipynb").write_text(executed_notebook(True))
    assert any("notebook failed" in p for p in record.check(REVIEW))


def test_checksum_mismatch_is_caught(tree):
    studies = tree / "data" / "raw" / REVIEW / "studies.csv"
    studies.write_text(studies.read_text().replace("\n", "\r\n"))
    problems = record.check(REVIEW)
    assert len(problems) == 2
    assert problems[0].startswith("raw data:") and "studies.csv" in problems[0]
    assert problems[1].startswith("stale: 01_first, 02_second ran on other raw data")


def test_remote_script_in_a_report_is_caught(tree):
    page = tree / "reports" / REVIEW / "01_first.html"
    page.write_text('<html><script src="https://cdn.example.org/x.js"></script></html>')
    assert any("network" in p for p in record.check(REVIEW))


def test_missing_record_is_a_problem(tree):
    (tree / "results" / f"{REVIEW}.json").unlink()
    assert any("make record" in p for p in record.check(REVIEW))


def test_command_line_exit_codes(tree):
    env = {**os.environ, files.ROOT_ENV: str(tree)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "metareview.run.record", *args], cwd=tree,
                              env=env, capture_output=True, text=True, timeout=120)

    ok = run("check", "--review", REVIEW)
    assert ok.returncode == 0, ok.stderr
    _edit_pooled(tree, "1.25,", "1.35,")
    bad = run("check", "--review", REVIEW)
    assert bad.returncode == 1
    assert "result changed" in bad.stderr and "1.35" in bad.stderr
    assert run("write", "--review", REVIEW).returncode == 0  # `make record` accepts the change
    assert run("check", "--review", REVIEW).returncode == 0


def test_json_writer_formats_floats_fixed_and_handles_nan():
    text = files.dumps_json({"b": [1.0, float("nan"), 1 / 3, -0.0, 2], "a": True})
    assert text == (
        '{\n  "a": true,\n  "b": [\n    1.0,\n    null,\n    0.333333333333,\n    0.0,\n'
        "    2\n  ]\n}\n"
    )


def test_csv_writer_is_deterministic_and_atomic(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"s": ["a", None], "x": [1 / 3, -0.0], "n": [1, 2]})
    path = tmp_path / "out" / "t.csv"
    files.write_csv(frame, path)
    assert path.read_bytes() == b"s,x,n\na,0.3333333333,1\n,0,2\n"
    assert [p.name for p in path.parent.iterdir()] == ["t.csv"]  # no temporary file left
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # ordinary permissions


def test_an_infinite_value_is_recorded_as_text_and_checks_clean(tree):
    # the SD of a Bayesian posterior with a heavy-tailed prior and two studies is infinite
    processed = tree / "data" / "processed" / REVIEW
    (processed / "bayes.csv").write_text(
        "analysis,outcome,measure,k,tau_prior,estimate,sd\n"
        "main,scar_score,SMD,2,half-Cauchy(scale=0.25),-0.7,inf\n"
        "main,scar_score,SMD,2,half-normal(scale=0.25),-0.6,0.3\n")
    record.write(REVIEW)
    data = json.loads(files.results_path(REVIEW).read_text())
    rows = data["tables"]["bayes"]
    cauchy = next(v for k, v in rows.items() if "half-Cauchy" in k)
    assert cauchy["sd"] == "inf" and cauchy["estimate"] == -0.7
    assert record.check(REVIEW) == []
    # a finite SD where inf was recorded is a change
    (processed / "bayes.csv").write_text(
        "analysis,outcome,measure,k,tau_prior,estimate,sd\n"
        "main,scar_score,SMD,2,half-Cauchy(scale=0.25),-0.7,2.5\n"
        "main,scar_score,SMD,2,half-normal(scale=0.25),-0.6,0.3\n")
    assert any("half-Cauchy" in p and "recorded 'inf'" in p for p in record.check(REVIEW))
