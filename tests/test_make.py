"""The Makefile's dependency logic, checked with a stand-in runner (no notebook is executed).

A copy of the Makefile runs in a temporary tree where `PY` is a small script that logs each
call and touches the reports a real run would write. This shows which runner calls `make reports`
makes after each kind of change: none when nothing changed, one per affected review, starting at
the first notebook the change touches.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STEMS = ("01_clean", "02_effects", "03_pooled")

FAKE_RUNNER = r'''#!/usr/bin/env bash
# stand-in for .venv/bin/python: log the call, write what the real runner would write
set -eu
echo "$*" >> calls.log
if [[ "$2" == "metareview.run.pipeline" ]]; then
  review="$5"; from="$7"
  for nb in notebooks/[0-9][0-9]_*.ipynb; do
    stem="$(basename "$nb" .ipynb)"
    if [[ "${stem:0:2}" > "$from" || "${stem:0:2}" == "$from" ]]; then
      mkdir -p "reports/$review"; sleep 0.01; touch "reports/$review/$stem.html"
    fi
  done
elif [[ "$2" == "metareview.run.record" ]]; then
  touch reports/index.html
fi
'''


def _touch_later(path: Path) -> None:
    """Make `path` newer than everything written so far (mtime resolution safety)."""
    time.sleep(0.02)
    path.touch()


@pytest.fixture()
def tree(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    for name in ("requirements.lock", "pyproject.toml"):
        (tmp_path / name).write_text("x\n")
    for review in ("alpha", "beta"):
        raw = tmp_path / "data" / "raw" / review
        raw.mkdir(parents=True)
        (raw / "arms.csv").write_text("a\n")
        (tmp_path / "params").mkdir(exist_ok=True)
        (tmp_path / "params" / f"{review}.yaml").write_text(f"review: {review}\n")
    (tmp_path / "data" / "raw" / "no-params").mkdir()  # not a review: no params file
    (tmp_path / "notebooks").mkdir()
    for stem in STEMS:
        (tmp_path / "notebooks" / f"{stem}.ipynb").write_text("{}\n")
    (tmp_path / "src" / "metareview").mkdir(parents=True)
    (tmp_path / "src" / "metareview" / "pooling.py").write_text("\n")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_RUNNER)
    fake.chmod(0o755)
    (tmp_path / ".venv").mkdir()
    _touch_later(tmp_path / ".venv" / ".metareview-setup")
    return tmp_path


def make(tree: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(
        ["make", f"PY={tree / 'fake-python'}", *args],
        cwd=tree, capture_output=True, text=True, env=env, timeout=120,
    )


def calls(tree: Path) -> list[str]:
    log = tree / "calls.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [line for line in lines if "metareview.run.pipeline" in line]


def test_help_is_the_default_goal_and_lists_targets(tree):
    result = make(tree)
    assert result.returncode == 0, result.stderr
    for target in ("setup", "reproduce", "reports", "check", "record", "test", "lab", "share",
                   "clean", "checksums", "fixtures"):
        assert f"make {target}" in result.stdout
    assert "reviews: alpha beta" in result.stdout


def test_first_run_calls_the_runner_once_per_review(tree):
    result = make(tree, "reports")
    assert result.returncode == 0, result.stderr
    assert sorted(calls(tree)) == [
        "-m metareview.run.pipeline run --review alpha --from 01",
        "-m metareview.run.pipeline run --review beta --from 01",
    ]
    for review in ("alpha", "beta"):
        for stem in STEMS:
            assert (tree / "reports" / review / f"{stem}.html").is_file()


def test_no_op_run_is_fast_and_runs_nothing(tree):
    assert make(tree, "reports").returncode == 0
    calls(tree)
    before = {p: p.stat().st_mtime_ns for p in (tree / "reports").rglob("*")}
    start = time.perf_counter()
    result = make(tree, "reports")
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    assert calls(tree) == []
    assert {p: p.stat().st_mtime_ns for p in (tree / "reports").rglob("*")} == before
    assert elapsed < 1.0
    assert make(tree, "-q", "reports").returncode == 0  # make itself agrees: up to date


def test_edited_notebook_reruns_itself_and_downstream_only(tree):
    assert make(tree, "reports").returncode == 0
    calls(tree)
    _touch_later(tree / "notebooks" / "02_effects.ipynb")
    result = make(tree, "reports")
    assert result.returncode == 0, result.stderr
    assert sorted(calls(tree)) == [
        "-m metareview.run.pipeline run --review alpha --from 02",
        "-m metareview.run.pipeline run --review beta --from 02",
    ]


def test_edited_raw_sheet_reruns_its_review_only(tree):
    assert make(tree, "reports").returncode == 0
    calls(tree)
    _touch_later(tree / "data" / "raw" / "beta" / "arms.csv")
    assert make(tree, "reports").returncode == 0
    assert calls(tree) == ["-m metareview.run.pipeline run --review beta --from 01"]
    _touch_later(tree / "params" / "alpha.yaml")
    assert make(tree, "reports").returncode == 0
    assert calls(tree) == ["-m metareview.run.pipeline run --review alpha --from 01"]


def test_missing_report_resumes_from_that_notebook(tree):
    """What an interrupted or failed run leaves (reports removed from a notebook on) reruns."""
    assert make(tree, "reports").returncode == 0
    calls(tree)
    for stem in ("02_effects", "03_pooled"):
        (tree / "reports" / "alpha" / f"{stem}.html").unlink()
    assert make(tree, "reports").returncode == 0
    assert calls(tree) == ["-m metareview.run.pipeline run --review alpha --from 02"]


def test_package_change_reruns_every_review(tree):
    assert make(tree, "reports").returncode == 0
    calls(tree)
    _touch_later(tree / "src" / "metareview" / "pooling.py")
    assert make(tree, "reports").returncode == 0
    assert len(calls(tree)) == 2


def test_an_override_stamp_newer_than_a_report_reruns_from_that_notebook(tree):
    """The runner leaves reports/<review>/.outputs/NN_name.overridden, newer than the report,
    after a run with `-p` overrides: the report is out of date for params/<review>.yaml."""
    assert make(tree, "reports").returncode == 0
    calls(tree)
    stamp = tree / "reports" / "beta" / ".outputs" / "02_effects.overridden"
    stamp.parent.mkdir()
    _touch_later(stamp)
    assert make(tree, "reports").returncode == 0
    assert calls(tree) == ["-m metareview.run.pipeline run --review beta --from 02"]


def test_make_share_notebooks_1_ships_the_notebooks(tree):
    # before: NOTEBOOKS=1 replaced the Makefile's list of notebooks ("No rule to make target")
    result = make(tree, "share", "NOTEBOOKS=1")
    assert result.returncode == 0, result.stdout + result.stderr
    log = (tree / "calls.log").read_text().splitlines()
    assert "-m metareview.run.record share --with-notebooks" in log
    assert "-m metareview.run.pipeline run --review alpha --from 01" in log


def test_a_failing_run_keeps_the_reports_it_wrote(tree):
    """One runner call writes several reports; when it fails later on, Make must not delete
    the report whose recipe it was (.DELETE_ON_ERROR), else the next run restarts at 01."""
    failing = tree / "failing-python"
    failing.write_text(FAKE_RUNNER.replace('touch "reports/$review/$stem.html"',
                                           'touch "reports/$review/$stem.html"; '
                                           '[[ "$stem" != 01_clean ]] || exit 1'))
    failing.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    done = subprocess.run(["make", f"PY={failing}", "reports"], cwd=tree, capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode != 0
    assert (tree / "reports" / "alpha" / "01_clean.html").is_file()
    calls(tree)
    assert make(tree, "reports").returncode == 0
    assert sorted(calls(tree)) == ["-m metareview.run.pipeline run --review alpha --from 02",
                                   "-m metareview.run.pipeline run --review beta --from 02"]


def test_makefile_rules_of_the_house():
    text = (REPO / "Makefile").read_text()
    assert ".DELETE_ON_ERROR:" in text and ".PRECIOUS: reports/%.html" in text
    assert ".PHONY:" in text
    assert "SHELL := bash" in text and "-eu -o pipefail" in text
    assert "ipykernel install --prefix $(VENV)" in text  # kernel into .venv, never into ~
    assert "--user" not in text


def test_make_test_fails_when_pytest_collects_nothing(tree):
    """pytest's exit code 5 (no tests ran) must fail `make test`, and so `.ci/run`."""
    no_tests = tree / "no-tests-python"
    no_tests.write_text("#!/usr/bin/env bash\necho 'no tests ran'\nexit 5\n")
    no_tests.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    result = subprocess.run(["make", f"PY={no_tests}", "test"], cwd=tree, capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode != 0
    assert "no tests ran" in result.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_ci_script_runs_make_test_strictly():
    script = (REPO / ".ci" / "run").read_text()
    assert script.startswith("#!/usr/bin/env bash")
    assert "set -euo pipefail" in script
    assert "\nmake test\n" in script
    assert "|| true" not in script.replace("`|| true`", "")


def test_make_test_selects_the_deterministic_hypothesis_profile():
    """`make test` (and so `.ci/run`) runs property tests on fixed examples, with no database."""
    from hypothesis import settings

    recipe = (REPO / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "-m pytest -q --hypothesis-profile=ci" in recipe
    # and the engine's doctests (the Examples sections of src/metareview/stats) run too
    assert "-m pytest -q --doctest-modules src/metareview/stats" in recipe
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.database is None
    assert not settings.get_profile("random").derandomize
