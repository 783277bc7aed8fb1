"""Runs said plainly (issue 24): one run of a review at a time, an interrupted run leaves an
index that says so, `make check` catches processed tables older than the raw data, a folder
that cannot be written is a recorded failure naming it, and strays of an earlier run are
cleaned. The runner's own three mini notebooks (tests/fixtures/mini_notebooks) stand in for
the review's notebooks, with the fixture review's sheets as its raw data.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metareview import files
from metareview.review import checksums
from metareview.run import locks, pipeline, record

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "tests" / "fixtures" / "mini_notebooks"
STEMS = ["01_numbers", "02_summary", "03_final"]
OLD_KEY = "Outcome of an EARLIER run"


def make_tree(root: Path) -> Path:
    (root / "notebooks").mkdir(parents=True)
    for notebook in MINI.glob("*.ipynb"):
        shutil.copy(notebook, root / "notebooks" / notebook.name)
    shutil.copytree(REPO / "tests" / "fixtures" / "review_fixture",
                    root / "data" / "raw" / "mini")
    (root / "params").mkdir()
    (root / "params" / "mini.yaml").write_text("review: mini\n")
    return root


def driver(sleep: float) -> str:
    """A runner process: run_review of the three notebooks, as `pipeline run` calls it."""
    return ("import sys\n"
            "from metareview.run import pipeline as p\n"
            "nbs = p.discover_notebooks()\n"
            f"p.run_review('mini', {{'review': 'mini', 'sleep_seconds': {sleep}}}, nbs, nbs,"
            " 'python3')\n"
            "print('done', flush=True)\n")


def start_runner(root: Path, sleep: float) -> subprocess.Popen:
    env = {**os.environ, files.ROOT_ENV: str(root)}
    return subprocess.Popen([sys.executable, "-c", driver(sleep)], env=env, cwd=root,
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_here(root: Path, monkeypatch, **params):
    monkeypatch.setenv(files.ROOT_ENV, str(root))
    notebooks = pipeline.discover_notebooks()
    with contextlib.redirect_stdout(io.StringIO()):
        return pipeline.run_review("mini", {"review": "mini", **params}, notebooks, notebooks,
                                   "python3")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = make_tree(tmp_path_factory.mktemp("runs"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_here(root, monkeypatch)
    return root


def copy_of(root: Path, tmp_path: Path) -> Path:
    target = tmp_path / "tree"
    shutil.copytree(root, target, symlinks=True)
    return target


def strays(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
                  and (p.name.endswith(".tmp") or ".partial" in p.parts
                       or p.name.endswith(".FAILED.ipynb")))


# --- the lock ----------------------------------------------------------------------------------


def test_lock_is_exclusive_names_its_holder_and_dies_with_it(tmp_path, monkeypatch):
    monkeypatch.setenv(files.ROOT_ENV, str(tmp_path))
    assert locks.holder("rev") is None
    with locks.ReviewLock("rev"):
        info = locks.holder("rev")
        assert info["pid"] == os.getpid() and "UTC" in info["started"]
        with pytest.raises(BlockingIOError, match=rf"process {os.getpid()}.*holds .runs/rev.lock"):
            with locks.ReviewLock("rev", wait=False):
                pass
    assert locks.holder("rev") is None
    # a holder that is killed outright releases the lock with its death
    env = {**os.environ, files.ROOT_ENV: str(tmp_path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", "from metareview.run import locks; import time\n"
         "with locks.ReviewLock('rev'):\n    print('held', flush=True); time.sleep(60)"],
        env=env, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert locks.holder("rev")["pid"] == holder.pid
    holder.kill()
    holder.wait(timeout=30)
    with locks.ReviewLock("rev", wait=False):
        pass


@pytest.mark.slow
def test_two_runs_at_once_do_not_corrupt_each_other(finished, tmp_path, monkeypatch):
    root = copy_of(finished, tmp_path)
    monkeypatch.setenv(files.ROOT_ENV, str(root))
    first = start_runner(root, sleep=4)
    deadline = time.monotonic() + 60
    while locks.holder("mini") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert locks.holder("mini") is not None
    second = start_runner(root, sleep=0)
    outs = [process.communicate(timeout=600) for process in (first, second)]
    for process, (out, err) in zip((first, second), outs):
        assert process.returncode == 0, err[-3000:]
        assert "Traceback" not in err and "FileNotFoundError" not in err
        assert out.strip().endswith("done")
    assert "mini: waiting for the run of process" in outs[1][1]
    reports = root / "reports" / "mini"
    for stem in STEMS:
        assert (reports / f"{stem}.html").is_file() and (reports / f"{stem}.ipynb").is_file()
    assert (root / "data" / "processed" / "mini" / "final.csv").is_file()
    assert strays(root) == []
    assert not (root / ".runs" / "mini.failed").exists()
    assert record.run_state("mini") is None


# --- interrupted runs and the index -----------------------------------------------------------


def _index_text(root: Path) -> str:
    return (root / "reports" / "index.html").read_text(encoding="utf-8")


def _with_old_key_results(root: Path) -> None:
    (root / "data" / "processed" / "mini" / "key_results.csv").write_text(
        "rank,Outcome,Effect (95% CI),Participants (studies),Certainty,Statement\n"
        f"1,{OLD_KEY},MD -1,10 (2 studies),Low,It may reduce.\n")


def _wait_until_running(root: Path, process) -> None:
    reports = root / "reports" / "mini"
    deadline = time.monotonic() + 120
    while (reports / "01_numbers.html").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    # the runner rewrites the index right after removing the reports: on a loaded machine
    # building it takes seconds (it imports pandas and SciPy), so wait for it, not a set time
    index = root / "reports" / "index.html"
    while time.monotonic() < deadline and "a run is under way" not in index.read_text(
            encoding="utf-8"):
        time.sleep(0.2)
    # then the kernel starts (seconds on a loaded machine) and notebook 01 begins: wait for
    # the runner's start line, so that the stop comes while 01 sleeps, not before it began
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready and "01_numbers  started" in process.stdout.readline():
            break
    time.sleep(1)  # notebook 01 is sleeping
    assert process.poll() is None, process.communicate()


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["kill", "ctrl-c"])
def test_interrupted_run_leaves_an_index_that_says_not_current(finished, tmp_path, monkeypatch,
                                                               stop):
    root = copy_of(finished, tmp_path)
    monkeypatch.setenv(files.ROOT_ENV, str(root))
    _with_old_key_results(root)
    record.write_index(["mini"])
    assert OLD_KEY in _index_text(root) and "01_numbers.html" in _index_text(root)
    process = start_runner(root, sleep=120)
    try:
        _wait_until_running(root, process)
        page = _index_text(root)  # rewritten when the run started
        assert "Not current: a run is under way" in page and OLD_KEY not in page
        assert "not current: a run is under way" in "\n".join(record.check("mini"))
        if stop == "kill":
            os.killpg(process.pid, signal.SIGKILL)  # runner and kernel, like a hard stop
        else:
            os.kill(process.pid, signal.SIGINT)
        process.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    index = root / "reports" / "index.html"
    page = index.read_text(encoding="utf-8")
    assert OLD_KEY not in page and "Not current:" in page
    assert record.broken_links(index) == []  # it links only what exists
    for stem in STEMS:
        assert f"mini/{stem}.html" not in page
    if stop == "kill":
        # nothing could clean up: the next index says the run did not finish
        record.write_index(["mini"])
        assert "did not finish (interrupted or killed)" in _index_text(root)
        assert any(p.startswith("not current: the run started") for p in record.check("mini"))
    else:
        assert "interrupted (Ctrl-C) during 01_numbers" in pipeline.failed_reviews()["mini"]
        assert not pipeline.running_path("mini").exists()
        assert "the last run failed" in page
    # the next run cleans what the interrupted one left and completes
    run_here(root, monkeypatch)
    assert strays(root) == [] and record.run_state("mini") is None
    assert "Not current" not in _index_text(root)


# --- stale processed tables --------------------------------------------------------------------


def test_accepted_edit_without_a_rerun_is_stale_for_check(finished, tmp_path, monkeypatch):
    root = copy_of(finished, tmp_path)
    monkeypatch.setenv(files.ROOT_ENV, str(root))
    record.write("mini")
    assert not [p for p in record.check("mini") if p.startswith("stale")]
    arms = root / "data" / "raw" / "mini" / "arms.csv"
    arms.write_text(arms.read_text().replace(",55,47,", ",56,47,", 1))
    assert checksums.accept(root / "data" / "raw" / "mini")[0] == "accepted"  # make checksums
    problems = record.check("mini")
    assert not [p for p in problems if p.startswith("raw data")]  # the checksums match now
    (stale,) = [p for p in problems if p.startswith("stale")]
    assert "01_numbers, 02_summary, 03_final ran on other raw data" in stale
    assert "arms.csv" in stale and "rerun `make reports`" in stale
    out = io.StringIO()
    with contextlib.redirect_stderr(out):
        assert record.main(["check", "--review", "mini"]) == 1
    assert "stale:" in out.getvalue()
    # an edited parameter file is stale too
    run_here(root, monkeypatch)
    (root / "params" / "mini.yaml").write_text("review: mini\npaired_r: 0.3\n")
    assert any("ran with another params/mini.yaml" in p for p in record.check("mini"))


# --- folders that cannot be written, and strays -------------------------------------------------


def test_unwritable_processed_folder_is_a_recorded_failure_naming_it(finished, tmp_path,
                                                                    monkeypatch):
    root = copy_of(finished, tmp_path)
    processed = root / "data" / "processed"
    shutil.rmtree(processed)
    processed.write_text("not a folder\n")  # cannot be written even by root
    with pytest.raises(pipeline.RunFailed) as caught:
        run_here(root, monkeypatch)
    message = caught.value.message()
    assert "cannot write to data/processed/mini" in message and "nothing was run" in message
    assert pipeline.failed_reviews()["mini"] == message
    assert record.run_state("mini") == "the last run failed (see below)"
    assert "Not current: the last run failed" in _index_text(root)
    assert not pipeline.running_path("mini").exists()


def test_unwritable_runs_folder_names_it_and_runs_nothing(finished, tmp_path, monkeypatch):
    root = copy_of(finished, tmp_path)
    shutil.rmtree(root / ".runs")
    (root / ".runs").write_text("not a folder\n")
    before = sorted(p.name for p in (root / "reports" / "mini").iterdir())
    with pytest.raises(pipeline.RunFailed) as caught:
        run_here(root, monkeypatch)
    assert "cannot write .runs (for the run's lock .runs/mini.lock)" in caught.value.message()
    assert "nothing was run or removed" in caught.value.message()
    assert sorted(p.name for p in (root / "reports" / "mini").iterdir()) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_processed_folder_is_a_recorded_failure(finished, tmp_path, monkeypatch):
    root = copy_of(finished, tmp_path)
    folder = root / "data" / "processed" / "mini"
    folder.chmod(0o555)
    try:
        with pytest.raises(pipeline.RunFailed, match="cannot write to data/processed/mini"):
            run_here(root, monkeypatch)
    finally:
        folder.chmod(0o755)


def test_command_line_records_the_failure(finished, tmp_path):
    root = copy_of(finished, tmp_path)
    shutil.rmtree(root / "data" / "processed")
    (root / "data" / "processed").write_text("x")
    env = {**os.environ, files.ROOT_ENV: str(root)}
    done = subprocess.run([sys.executable, "-m", "metareview.run.pipeline", "run", "--review",
                           "mini"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == pipeline.EXIT_FAILED
    assert "Traceback" not in done.stderr and "PermissionError" not in done.stderr
    assert "cannot write to data/processed/mini" in done.stderr
    assert (root / ".runs" / "mini.failed").is_file()


@pytest.mark.slow
def test_strays_of_an_earlier_run_are_cleaned(finished, tmp_path, monkeypatch):
    root = copy_of(finished, tmp_path)
    partial = root / "reports" / "mini" / ".partial"
    partial.mkdir(exist_ok=True)
    (partial / "02_summary.ipynb").write_text("{}")
    (root / "data" / "processed" / "mini" / ".numbers.csv.4242.tmp").write_text("half")
    (root / "reports" / "mini" / "figures").mkdir(exist_ok=True)
    (root / "reports" / "mini" / "figures" / ".f.png.tmp").write_text("half")
    run_here(root, monkeypatch)
    assert strays(root) == []


def test_a_manifest_line_outside_the_review_is_never_followed(finished, tmp_path, monkeypatch):
    root = copy_of(finished, tmp_path)
    monkeypatch.setenv(files.ROOT_ENV, str(root))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    manifest = root / "reports" / "mini" / ".outputs" / "01_numbers.txt"
    manifest.write_text(manifest.read_text() + "../victim.txt\nparams/mini.yaml\n")
    pipeline.invalidate("mini", pipeline.discover_notebooks())
    assert victim.read_text() == "keep me" and (root / "params" / "mini.yaml").is_file()
