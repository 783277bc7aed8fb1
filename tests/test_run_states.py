"""What a run leaves when it fails or has overrides, through the Makefile and the real runner.

The three tiny notebooks of tests/fixtures/mini_notebooks run on copies of the fixture review
(valid sheets and checksums, so the runner's input checks pass). `MINI_FAIL=<review>` in the
environment makes notebook 02_summary of that review fail, without editing any file Make
watches, so that a rerun shows where the runner resumes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from metareview.run import pipeline

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "tests" / "fixtures" / "mini_notebooks"
FIXTURE = REPO / "tests" / "fixtures" / "review_fixture"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _root(path: Path, reviews=("alpha",)) -> Path:
    for name in ("Makefile", "requirements.lock", "pyproject.toml"):
        shutil.copy(REPO / name, path / name)
    (path / "notebooks").mkdir()
    for notebook in MINI.glob("*.ipynb"):
        shutil.copy(notebook, path / "notebooks" / notebook.name)
    (path / "params").mkdir()
    for review in reviews:
        shutil.copytree(FIXTURE, path / "data" / "raw" / review)
        (path / "params" / f"{review}.yaml").write_text(f"review: {review}\n")
    (path / ".ready").touch()
    return path


def _env(root: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "MINI_FAIL"}
    return {**env, "METAREVIEW_ROOT": str(root), **extra}


def _make(root: Path, *args: str, **env) -> subprocess.CompletedProcess:
    venv = REPO / ".venv"
    variables = [f"PY={venv / 'bin' / 'python'}", f"SETUP_STAMP={root / '.ready'}",
                 f"VENV={venv}"]
    return subprocess.run(["make", "--no-print-directory", *args, *variables], cwd=root,
                          env=_env(root, **env), capture_output=True, text=True, timeout=900)


def _python(root: Path, *args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=root, env=_env(root, **env),
                          capture_output=True, text=True, timeout=900)


def _started(output: str, review: str) -> list[str]:
    """The notebooks whose start the runner announced, in order."""
    return re.findall(rf"^{review} (\S+)  started \d\d:\d\d:\d\d$", output, flags=re.M)


# --- a failure keeps what succeeded ------------------------------------------------------------


@pytest.mark.slow
def test_a_failure_keeps_earlier_reports_and_the_rerun_resumes_at_the_failed_notebook(tmp_path):
    root = _root(tmp_path)
    reports = root / "reports" / "alpha"
    failed = _make(root, "reports", MINI_FAIL="alpha")
    assert failed.returncode != 0
    assert _started(failed.stdout, "alpha") == ["01_numbers", "02_summary"]
    # the first line of a run says what it does while the kernel starts
    assert re.match(r"alpha checking parameters, sheets and checksums; a kernel starts "
                    r"meanwhile  \d\d:\d\d:\d\d\nalpha inputs valid in \d+\.\d s\n"
                    r"alpha kernel ready \(waited ", failed.stdout)
    # before: Make's .DELETE_ON_ERROR removed 01_numbers.html, whose recipe ran the failing run
    assert (reports / "01_numbers.html").is_file() and (reports / "01_numbers.ipynb").is_file()
    assert (reports / "02_summary.FAILED.ipynb").is_file()
    assert not (reports / "02_summary.html").exists() and not (reports / "03_final.html").exists()
    index = (root / "reports" / "index.html").read_text()
    # the failed notebook as a page beside where its report goes, linked from the index
    # (before: only the .FAILED.ipynb, which a browser cannot show)
    page = (reports / "02_summary.FAILED.html").read_text()
    assert "02_summary of alpha failed in cell 4: <code>ZeroDivisionError: the summary cannot " \
           "be computed</code>" in page
    import html
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "raise ZeroDivisionError('the summary" in text  # the code, unlike in a report
    # the banner, the two raising lines of the code and the traceback
    assert text.count("the summary cannot be computed") >= 4
    assert not pipeline.remote_references(page)
    assert "02_summary.FAILED.html" in failed.stderr
    assert re.search(r"<code>02_summary</code>: <span class='failed'>FAILED</span> \(<a "
                     r"href='alpha/02_summary.FAILED.html'>the notebook up to the error, as a "
                     r"page</a>, <a href='alpha/02_summary.FAILED.ipynb'>", index)
    assert "alpha/01_numbers.html" in index
    kept = (reports / "01_numbers.html").stat().st_mtime_ns

    again = _make(root, "reports")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _started(again.stdout, "alpha") == ["02_summary", "03_final"]  # resumed at 02
    assert (reports / "01_numbers.html").stat().st_mtime_ns == kept
    assert (reports / "03_final.html").is_file()
    assert not (reports / "02_summary.FAILED.ipynb").exists()
    assert not (reports / "02_summary.FAILED.html").exists()
    assert "FAILED" not in (root / "reports" / "index.html").read_text()


# --- make record, one review at a time ---------------------------------------------------------


@pytest.mark.slow
def test_make_record_records_each_complete_review_and_a_failing_one_blocks_only_itself(tmp_path):
    root = _root(tmp_path, ("alpha", "beta"))
    results = root / "results"
    done = _make(root, "record", MINI_FAIL="beta")
    assert done.returncode != 0
    assert (results / "alpha.json").is_file()  # before: nothing was recorded for any review
    assert not (results / "beta.json").exists()
    assert "beta: not recorded" in done.stderr and "alpha: not recorded" not in done.stderr

    (results / "alpha.json").unlink()
    one = _make(root, "record", "REVIEW=alpha", MINI_FAIL="beta")
    assert one.returncode == 0, one.stdout + one.stderr
    assert (results / "alpha.json").is_file() and not (results / "beta.json").exists()
    assert _started(one.stdout, "beta") == []  # the other review is not touched
    assert "wrote results/alpha.json" in one.stdout

    unknown = _make(root, "record", "REVIEW=gamma")
    assert unknown.returncode != 0 and "gamma" in unknown.stderr and "alpha" in unknown.stderr


# --- runs with overrides -----------------------------------------------------------------------


@pytest.mark.slow
def test_a_run_with_overrides_is_marked_rerun_by_make_and_recorded_only_when_asked(tmp_path):
    root = _root(tmp_path)
    reports, processed = root / "reports" / "alpha", root / "data" / "processed" / "alpha"
    assert _make(root, "record").returncode == 0
    record = (root / "results" / "alpha.json").read_text()

    same = _python(root, "metareview.run.pipeline", "run", "--review", "alpha", "--from", "03",
                   "-p", "paired_r=0.5")  # the file's own value: no override
    assert same.returncode == 0, same.stderr
    assert not (processed / "OVERRIDDEN.txt").exists()

    run = _python(root, "metareview.run.pipeline", "run", "--review", "alpha", "--from", "02",
                  "-p", "paired_r=0.8")
    assert run.returncode == 0, run.stderr
    assert "run-overridden" not in (reports / "01_numbers.html").read_text()
    for stem in ("02_summary", "03_final"):
        page = (reports / f"{stem}.html").read_text()
        assert "Run with parameter overrides: <code>paired_r=0.8</code>." in page
    note = (processed / "OVERRIDDEN.txt").read_text()
    assert "paired_r=0.8 in 02_summary, 03_final" in note
    assert "Run with parameter overrides: paired_r=0.8 in 02_summary, 03_final" in (
        root / "reports" / "index.html").read_text()

    check = _python(root, "metareview.run.record", "check", "--review", "alpha")
    assert check.returncode == 1
    assert check.stderr.strip().splitlines() == [
        "alpha: run with overrides: paired_r=0.8 in 02_summary, 03_final (not params/alpha.yaml, "
        "so its results differ from the record by design; `make reports` runs it with the file)"]

    refused = _python(root, "metareview.run.record", "write", "--review", "alpha")
    assert refused.returncode == 1 and "run with overrides: paired_r=0.8" in refused.stderr
    assert (root / "results" / "alpha.json").read_text() == record

    asked = _make(root, "record", "REVIEW=alpha", "ALLOW_OVERRIDES=1")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert _started(asked.stdout, "alpha") == []  # recorded as it is, not run again
    assert json.loads((root / "results" / "alpha.json").read_text())["overrides"] == {
        "paired_r": 0.8}
    assert "named in the record" in asked.stdout
    assert _python(root, "metareview.run.record", "check", "--review", "alpha").returncode == 0

    # before: `make reports` had nothing to do after a run with overrides
    rerun = _make(root, "reports")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert _started(rerun.stdout, "alpha") == ["02_summary", "03_final"]
    assert not (processed / "OVERRIDDEN.txt").exists()
    assert "run-overridden" not in (reports / "02_summary.html").read_text()
    assert "overrides" not in (root / "reports" / "index.html").read_text()
    assert _make(root, "reports").stdout.count("started") == 0  # and now nothing to do
    stale = _python(root, "metareview.run.record", "check", "--review", "alpha")
    assert stale.returncode == 1
    assert "was written from a run with overrides: paired_r=0.8" in stale.stderr


@pytest.mark.slow
def test_a_parameter_that_acts_before_the_first_notebook_run_is_refused(tmp_path):
    root = _root(tmp_path)
    assert _make(root, "reports").returncode == 0
    report = root / "reports" / "alpha" / "03_final.html"
    before = report.stat().st_mtime_ns
    run = _python(root, "metareview.run.pipeline", "run", "--review", "alpha", "--from", "03",
                  "-p", "paired_r=0.8")
    assert run.returncode == 2
    assert ("parameter paired_r=0.8 cannot act in 03_final: it acts in 02_summary "
            "(02_summary ran with paired_r=0.5)") in run.stderr
    assert "--from 02" in run.stderr and "params/alpha.yaml" in run.stderr
    assert report.stat().st_mtime_ns == before  # nothing invalidated


@pytest.mark.slow
def test_check_says_not_run_in_one_line(tmp_path):
    root = _root(tmp_path, ("alpha", "beta"))
    assert _python(root, "metareview.run.pipeline", "run", "--review", "alpha").returncode == 0
    assert _python(root, "metareview.run.record", "write", "--review", "alpha").returncode == 0
    check = _make(root, "check")
    assert check.returncode != 0
    lines = [line for line in check.stderr.splitlines() if line.startswith(("alpha", "beta", "  "))]
    assert lines == ["beta: not run (no report in reports/beta): run `make reports`"]
    assert "alpha: ok" in check.stdout
    verbose = _make(root, "-n", "check", "VERBOSE=1")
    assert "metareview.run.record check --verbose" in verbose.stdout
