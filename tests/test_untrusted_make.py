"""Make variables are data: `make new-review NAME='x;touch pwned'` runs nothing, and review
names given to Make are checked by the program before anything is read or written (issue 24).

The stand-in runner of tests/test_make.py logs each call; a second group of tests runs the
real package (the repository's .venv python) inside a temporary root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_make import REPO, make, tree  # noqa: F401  (the fixture is used by name)

# "$$" is Make's escape of "$": the program receives "x$(touch pwned)"
PAYLOADS = ["x;touch pwned", "x$$(touch pwned)", "x`touch pwned`", "x' ; touch pwned; '",
            'x" ; touch pwned; "', "x&&touch pwned", "x|touch pwned"]


def _logged(tree: Path) -> list[str]:
    log = tree / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("target, variable", [("new-review", "NAME"), ("codebook", "REVIEW"),
                                              ("checksums", "REVIEW")])
def test_a_variable_reaches_the_program_as_one_argument_and_runs_nothing(tree, target,
                                                                          variable, payload):
    result = make(tree, target, f"{variable}={payload}")
    assert not (tree / "pwned").exists(), result.stdout + result.stderr
    calls = [line for line in _logged(tree) if "metareview" in line]
    assert len(calls) == 1 and calls[0].endswith(payload.replace("$$", "$")), calls


@pytest.mark.parametrize("payload", ["2;touch pwned", "$(touch pwned)", "x"])
def test_jobs_must_be_a_number(tree, payload):
    result = make(tree, "reports", f"JOBS={payload}")
    assert result.returncode != 0 and "JOBS must be a whole number" in result.stdout
    assert not (tree / "pwned").exists()
    assert _logged(tree) == []


def test_lab_args_are_words_never_commands(tree):
    result = make(tree, "lab", "LAB_ARGS=--port 1; touch pwned $(touch pwned2) *")
    assert result.returncode != 0  # there is no jupyter in the test tree
    assert not (tree / "pwned").exists() and not (tree / "pwned2").exists()


def test_a_review_folder_name_is_never_a_command(tree):
    evil = "x;touch pwned"
    (tree / "data" / "raw" / evil).mkdir()
    (tree / "params" / f"{evil}.yaml").write_text("review: x\n")
    spaced = tree / "data" / "raw" / "my review"
    spaced.mkdir()
    (tree / "params" / "my review.yaml").write_text("review: x\n")
    result = make(tree, "reports")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tree / "pwned").exists()
    reviews = sorted({line.split()[4] for line in _logged(tree)
                      if "metareview.run.pipeline run" in line})
    assert reviews == ["alpha", "beta"]
    # the runner is asked once to say which folders were left out
    assert [line for line in _logged(tree) if "pipeline folders" in line] == [
        "-m metareview.run.pipeline folders"]
    assert "reviews: alpha beta;" in make(tree, "help").stdout


# --- with the real package ---------------------------------------------------------------------


@pytest.fixture()
def real(tree):
    """The test tree with the repository's python as PY and the fixture review as data/raw/rev."""
    shutil.copytree(REPO / "tests" / "fixtures" / "review_fixture", tree / "data" / "raw" / "rev")
    (tree / "params" / "rev.yaml").write_text("review: rev\n")
    return tree


def _make_real(tree: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env["METAREVIEW_ROOT"] = str(tree)
    return subprocess.run(["make", f"PY={sys.executable}", *args], cwd=tree,
                          capture_output=True, text=True, env=env, timeout=120)


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("args, refusal", [
    (("codebook", "REVIEW=../x"), "review name '../x' cannot be used as a file name"),
    (("codebook", "REVIEW=../../../x"), "cannot be used as a file name"),
    (("checksums", "REVIEW=../../usr"), "review name '../../usr' cannot be used as a file name"),
    (("checksums", "REVIEW=../../../../usr"), "cannot be used as a file name"),
    (("new-review", "NAME=../x"), "use lower-case letters"),
    (("new-review", "NAME=x;touch pwned"), "use lower-case letters"),
])
def test_make_refuses_review_names_that_are_paths(real, args, refusal):
    outside = real / "data" / "x"
    shutil.copytree(real / "data" / "raw" / "rev", outside)
    (outside / "CODEBOOK.md").unlink()
    before = _listing(real)
    result = _make_real(real, *args)
    assert result.returncode != 0
    assert refusal in result.stderr, result.stdout + result.stderr
    assert _listing(real) == before
    assert not (real / "pwned").exists()


def test_make_checksums_and_codebook_still_work_by_name(real):
    result = _make_real(real, "codebook", "REVIEW=rev")
    assert result.returncode == 0, result.stderr
    assert "wrote data/raw/rev/CODEBOOK.md" in result.stdout
    with (real / "data" / "raw" / "rev" / "CODEBOOK.md").open("a") as codebook:
        codebook.write("An intended edit.\n")
    result = _make_real(real, "checksums", "REVIEW=rev")
    assert result.returncode == 0, result.stderr
    assert "data/raw/rev: accepted" in result.stdout and "changed:  CODEBOOK.md" in result.stdout
