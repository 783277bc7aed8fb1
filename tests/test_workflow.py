"""The workflow as a user meets it: make checksums, a broken review among good ones, make lab as
root, and every command line's --help and missing-file message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "review_fixture"


def _make(root: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    venv = REPO / ".venv"
    variables = [f"PY={venv / 'bin' / 'python'}", f"SETUP_STAMP={root / '.ready'}",
                 f"VENV={venv}"]
    env = {**os.environ, "METAREVIEW_ROOT": str(root)}
    return subprocess.run(["make", "--no-print-directory", *args, *variables], cwd=root,
                          env=env, capture_output=True, text=True, timeout=timeout)


def _root(path: Path, reviews: tuple[str, ...]) -> Path:
    for name in ("Makefile", "requirements.lock", "pyproject.toml"):
        shutil.copy(REPO / name, path / name)
    shutil.copytree(REPO / "notebooks", path / "notebooks")
    (path / "params").mkdir()
    for review in reviews:
        shutil.copytree(FIXTURE, path / "data" / "raw" / review)
        (path / "params" / f"{review}.yaml").write_text(f"review: {review}\nn_perm: 1000\n")
    (path / ".ready").touch()
    return path


# --- make checksums ------------------------------------------------------------------------------


def test_checksums_rewrites_only_the_review_that_changed(tmp_path):
    root = _root(tmp_path, ("alpha", "beta"))
    sums = {r: root / "data" / "raw" / r / "SHA256SUMS" for r in ("alpha", "beta")}
    before = {r: p.stat().st_mtime_ns for r, p in sums.items()}
    notes = root / "data" / "raw" / "alpha" / "studies.csv"
    notes.write_text(notes.read_text().replace("routine care", "routine ward care", 1))
    done = _make(root, "checksums")
    assert done.returncode == 0, done.stderr
    assert "alpha: accepted" in done.stdout and "changed:  studies.csv" in done.stdout
    assert "beta: unchanged" in done.stdout
    assert sums["beta"].stat().st_mtime_ns == before["beta"]  # untouched: Make sees no change
    assert sums["alpha"].stat().st_mtime_ns != before["alpha"]


def test_checksums_refuses_sheets_that_are_not_valid(tmp_path):
    root = _root(tmp_path, ("alpha",))
    studies = root / "data" / "raw" / "alpha" / "studies.csv"
    studies.write_text(studies.read_text().replace(",parallel,", ",paralel,", 1))
    before = (root / "data" / "raw" / "alpha" / "SHA256SUMS").read_bytes()
    done = _make(root, "checksums", "REVIEW=alpha")
    assert done.returncode != 0
    assert "not accepted, the sheets are not valid" in done.stderr
    assert "did you mean 'parallel'" in done.stderr.lower()
    assert (root / "data" / "raw" / "alpha" / "SHA256SUMS").read_bytes() == before


def test_a_bad_edit_is_reported_as_a_sheet_problem_before_any_checksum(tmp_path):
    root = _root(tmp_path, ("alpha",))
    studies = root / "data" / "raw" / "alpha" / "studies.csv"
    studies.write_text(studies.read_text().replace(",parallel,", ",paralel,", 1))
    env = {**os.environ, "METAREVIEW_ROOT": str(root)}
    run = subprocess.run([sys.executable, "-m", "metareview.run.pipeline", "run", "--review",
                          "alpha"], cwd=root, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 2
    assert "paralel" in run.stderr and "make checksums" not in run.stderr


# --- independent reviews -------------------------------------------------------------------------


@pytest.mark.slow
def test_one_broken_review_does_not_stop_the_others(tmp_path):
    root = _root(tmp_path, ("alpha", "broken"))
    arms = root / "data" / "raw" / "broken" / "arms.csv"
    arms.write_text(arms.read_text().replace(",treatment,", ",treatmnt,", 1))
    done = _make(root, "reports")
    assert done.returncode != 0
    assert (root / "reports" / "alpha" / "06_summary.html").is_file()
    assert not (root / "reports" / "broken").exists()
    tail = done.stdout[done.stdout.rindex("did not run to the end"):]
    assert "broken failed" in tail and "treatmnt" in tail  # the message, again, at the end
    index = (root / "reports" / "index.html").read_text()
    assert "alpha" in index and "broken" in index and "did not run to the end" in index
    # fixing the sheet clears the failure on the next run
    arms.write_text(arms.read_text().replace(",treatmnt,", ",treatment,", 1))
    again = _make(root, "reports")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "did not run to the end" not in (root / "reports" / "index.html").read_text()


def test_make_reports_runs_reviews_in_parallel(tmp_path):
    root = _root(tmp_path, ("alpha", "beta"))
    plan = _make(root, "-n", "reports")
    # JOBS reaches the recipe through the environment (one review more than the cores)
    assert '--jobs="$JOBS"' in plan.stdout and "--keep-going" in plan.stdout
    shown = subprocess.run(["make", "-s", "-f", "Makefile", "-f", "-", "jobs"], cwd=root,
                           input="jobs:\n\t@echo $(JOBS)\n", capture_output=True, text=True)
    assert shown.stdout.strip() == str(os.cpu_count() + 1), shown.stderr
    refused = _make(root, "reports", "JOBS=0")
    assert refused.returncode == 2 and "JOBS must be a whole number" in refused.stdout


def test_reports_compile_the_package_once_before_any_notebook_runs(tmp_path):
    root = _root(tmp_path, ("alpha",))
    plan = _make(root, "-n", "reports")
    lines = plan.stdout.splitlines()
    compiling = [i for i, line in enumerate(lines) if "compileall.compile_dir" in line]
    running = [i for i, line in enumerate(lines) if "metareview.run.pipeline run" in line]
    assert compiling and running and compiling[0] < running[0], plan.stdout
    (root / ".make").mkdir(exist_ok=True)
    (root / ".make" / "bytecode").touch()
    assert "compileall" not in _make(root, "-n", "reports").stdout


# --- make lab -------------------------------------------------------------------------------------


def test_make_lab_passes_allow_root_as_root_and_lab_args(tmp_path):
    root = _root(tmp_path, ())
    # a stand-in for JupyterLab that records its arguments, one per line
    fake = root / "fake-venv" / "bin" / "jupyter"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/usr/bin/env bash\nfor a in "$@"; do printf \'%s\\n\' "$a"; done > lab.log\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    done = subprocess.run(["make", "--no-print-directory", "lab",
                           "LAB_ARGS=--no-browser --port 8899", f"VENV={fake.parents[1]}",
                           f"SETUP_STAMP={root / '.ready'}"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    args = (root / "lab.log").read_text().splitlines()
    # the repository is the root (a trailing notebooks/ used to override it), notebooks/ opens
    # first and new notebooks get the project's kernel
    assert args[:4] == ["lab", "--ServerApp.root_dir=.", "--LabApp.default_url=/lab/tree/notebooks",
                        "--MappingKernelManager.default_kernel_name=metareview"]
    assert not [a for a in args[1:] if not a.startswith("-") and a not in ("8899",)]
    assert args[-3:] == ["--no-browser", "--port", "8899"]
    assert ("--allow-root" in args) == (os.getuid() == 0)


# --- command lines --------------------------------------------------------------------------------

COMMANDS = ["metareview.run.pipeline", "metareview.run.record", "metareview.review.sheets",
            "metareview.review.checksums", "metareview.review.codebook",
            "metareview.review.scaffold"]
MISSING = {
    "metareview.run.pipeline": ["run", "--review", "nowhere"],
    "metareview.run.record": ["check", "--review", "nowhere"],
    "metareview.review.sheets": ["data/raw/nowhere"],
    "metareview.review.checksums": ["verify", "data/raw/nowhere"],
    "metareview.review.codebook": ["data/raw/nowhere"],
    "metareview.review.scaffold": ["Not A Name"],
}


@pytest.mark.parametrize("module", COMMANDS)
def test_every_command_line_has_help_and_no_traceback(module, tmp_path):
    env = {**os.environ, "METAREVIEW_ROOT": str(tmp_path)}
    shown = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                           text=True, env=env, cwd=tmp_path, timeout=120)
    assert shown.returncode == 0 and "usage:" in shown.stdout
    failed = subprocess.run([sys.executable, "-m", module, *MISSING[module]],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr and failed.stderr.strip()


SUBCOMMANDS = {
    "metareview.run.record": ("write", "check", "index", "share"),
    "metareview.run.pipeline": ("run", "reviews", "failures", "notebooks", "folders"),
    "metareview.review.revman": ("import", "export"),
}


@pytest.mark.parametrize(("module", "command"),
                         [(m, c) for m, commands in SUBCOMMANDS.items() for c in commands])
def test_every_subcommand_help_describes_that_command(module, command, tmp_path):
    env = {**os.environ, "METAREVIEW_ROOT": str(tmp_path)}
    shown = subprocess.run([sys.executable, "-m", module, command, "--help"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert shown.returncode == 0, shown.stderr
    # before: `record share --help` printed the module's text about write, check and index
    assert shown.stdout.startswith(f"usage: python -m {module} {command}")
    # a sentence of its own under the usage lines, not only the arguments
    described = shown.stdout.split("\n\n")[1]
    assert not described.startswith(("positional arguments", "options")), shown.stdout
    others = [c for c in SUBCOMMANDS[module] if c != command]
    assert not any(f"python -m {module} {c}" in shown.stdout for c in others)
