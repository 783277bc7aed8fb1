"""The notebook runner, with three tiny notebooks of its own (tests/fixtures/mini_notebooks).

01_numbers writes numbers.csv, 02_summary reads it, writes summary.csv and draws a figure,
03_final reads summary.csv. Their `parameters` cells have two test switches: `fail` (02 raises)
and `sleep_seconds` (01 sleeps, to interrupt it). The real notebooks are run end to end by the
notebook tests; here only the runner's behaviour is under test.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metareview import files
from metareview.run import pipeline

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "tests" / "fixtures" / "mini_notebooks"
FIXTURE_REVIEW = REPO / "tests" / "fixtures" / "review_fixture"
STEMS = ["01_numbers", "02_summary", "03_final"]
PARAMS = {"review": "mini", "paired_r": 0.5}



def make_root(path: Path) -> Path:
    (path / "notebooks").mkdir(parents=True)
    for notebook in MINI.glob("*.ipynb"):
        shutil.copy(notebook, path / "notebooks" / notebook.name)
    return path


def run_in(root: Path, monkeypatch, params=PARAMS, start="01") -> tuple[str, object]:
    """run_review in-process under `root`; returns (stdout, timings or the NotebookFailed)."""
    monkeypatch.setenv(files.ROOT_ENV, str(root))
    notebooks = pipeline.discover_notebooks()
    chosen = pipeline.select_notebooks(notebooks, start=start)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            result = pipeline.run_review("mini", dict(params), chosen, chosen, "python3")
        except pipeline.NotebookFailed as failure:
            result = failure
    return out.getvalue(), result


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A tree in which the three mini notebooks ran successfully once."""
    root = make_root(tmp_path_factory.mktemp("finished"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        stdout, result = run_in(root, monkeypatch)
    assert not isinstance(result, Exception), result
    return root, stdout


def copy_of(finished_root: Path, tmp_path: Path) -> Path:
    target = tmp_path / "tree"
    shutil.copytree(finished_root, target, symlinks=True)
    return target


# --- success -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_reports_and_executed_notebooks_are_written(finished):
    root, _ = finished
    reports = root / "reports" / "mini"
    for stem in STEMS:
        assert (reports / f"{stem}.html").is_file()
        assert (reports / f"{stem}.ipynb").is_file()
        assert not (reports / f"{stem}.FAILED.ipynb").exists()
    processed = root / "data" / "processed" / "mini"
    assert (processed / "numbers.csv").read_text() == (
        "study,value\na,1\nb,2.5\nc,0.3333333333\n"
    )
    assert (processed / "final.csv").is_file()


@pytest.mark.slow
def test_a_progress_line_when_each_notebook_starts_and_ends_with_its_time(finished):
    _, stdout = finished
    lines = stdout.splitlines()
    assert len(lines) == 7
    # the kernel's start-up said (before: folded into the first notebook's time, unsaid); the
    # line before it, "checking parameters, ...", is printed by `run` (tests/test_run_states.py)
    assert re.fullmatch(r"mini kernel ready \(waited \d+\.\d s for it to import the stack, once "
                        r"for 3 notebooks\)", lines[0])
    for position, stem in enumerate(STEMS):
        assert re.fullmatch(rf"mini {stem}  started \d\d:\d\d:\d\d", lines[1 + 2 * position])
        assert re.fullmatch(rf"mini {stem}  done in \d+\.\d s", lines[2 + 2 * position])


@pytest.mark.slow
def test_html_hides_code_embeds_figures_and_loads_nothing_remote(finished):
    root, _ = finished
    page = (root / "reports" / "mini" / "02_summary.html").read_text()
    assert "data:image/png;base64," in page  # the bar chart is inside the page
    assert "plt.subplots" not in page  # code hidden
    assert "Reads what the first notebook wrote" in page  # narrative kept
    assert pipeline.remote_references(page) == []
    assert "cdnjs" not in page and "mathjax" not in page.lower()


@pytest.mark.slow
def test_parameters_are_injected(finished):
    root, _ = finished
    executed = (root / "reports" / "mini" / "02_summary.ipynb").read_text()
    assert "injected-parameters" in executed
    assert 'review = \\"mini\\"' in executed


@pytest.mark.slow
def test_outputs_of_each_notebook_are_listed(finished):
    root, _ = finished
    listed = (root / "reports" / "mini" / ".outputs" / "01_numbers.txt").read_text()
    assert listed == "data/processed/mini/numbers.csv\n"


# --- failure -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_failing_cell_is_named_kept_and_stops_everything_downstream(finished, tmp_path, monkeypatch):
    root = copy_of(finished[0], tmp_path)
    reports = root / "reports" / "mini"
    processed = root / "data" / "processed" / "mini"
    _, failure = run_in(root, monkeypatch, params={**PARAMS, "fail": True}, start="02")

    assert isinstance(failure, pipeline.NotebookFailed)
    message = str(failure)
    assert "mini" in message and "02_summary" in message
    assert "cell 4" in message  # counted as in Jupyter: markdown, parameters, imports, this one
    assert "if fail:" in message
    assert "ZeroDivisionError: the summary cannot be computed" in message
    assert "03_final" in message  # says what did not run

    assert (reports / "02_summary.FAILED.ipynb").is_file()
    for stem in ("02_summary", "03_final"):
        assert not (reports / f"{stem}.html").exists()
        assert not (reports / f"{stem}.ipynb").exists()
    assert (reports / "01_numbers.html").is_file()  # upstream untouched
    # what 02 and 03 wrote last time is gone: nothing stale looks current
    assert not (processed / "summary.csv").exists()
    assert not (processed / "final.csv").exists()
    assert (processed / "numbers.csv").exists()

    # fixing the cause and running again works without cleaning anything
    _, timings = run_in(root, monkeypatch, start="02")
    assert [stem for stem, _ in timings] == ["02_summary", "03_final"]
    assert not (reports / "02_summary.FAILED.ipynb").exists()
    assert (reports / "03_final.html").is_file()
    final = "data/processed/mini/final.csv"
    assert (root / final).read_bytes() == (finished[0] / final).read_bytes()  # deterministic


@pytest.mark.slow
def test_interrupted_run_leaves_nothing_that_looks_finished(finished, tmp_path):
    root = copy_of(finished[0], tmp_path)
    reports = root / "reports" / "mini"
    driver = (
        "from metareview.run import pipeline as p\n"
        "nbs = p.discover_notebooks()\n"
        "p.run_review('mini', {'review': 'mini', 'sleep_seconds': 120}, nbs, nbs, 'python3')\n"
    )
    env = {**os.environ, files.ROOT_ENV: str(root)}
    process = subprocess.Popen(
        [sys.executable, "-c", driver], env=env, cwd=root, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        # wait until the run has started notebook 01 (its old report is invalidated first)
        deadline = time.monotonic() + 120
        while (reports / "01_numbers.html").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(4)  # the kernel is now starting or sleeping inside the notebook
        assert process.poll() is None, process.communicate()
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the runner and its kernel, like a hard stop
        process.wait(timeout=60)

    for stem in STEMS:
        assert not (reports / f"{stem}.html").exists()
        assert not (reports / f"{stem}.ipynb").exists()
    assert not (root / "data" / "processed" / "mini" / "numbers.csv").exists()
    leftovers = [p for p in root.rglob("*") if p.is_file() and ".partial" in p.parts]
    # a partial notebook may be left only in the hidden .partial folder, never under a final name
    assert all(p.parent.name == ".partial" for p in leftovers)


# --- the command line: input checks before anything is written ---------------------------------


@pytest.fixture()
def cli_root(tmp_path):
    root = make_root(tmp_path / "cli")
    shutil.copytree(FIXTURE_REVIEW, root / "data" / "raw" / "fixture")
    (root / "params").mkdir()
    (root / "params" / "fixture.yaml").write_text("review: fixture\ntau2_method: REML\n")
    return root


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, files.ROOT_ENV: str(root)}
    return subprocess.run(
        [sys.executable, "-m", "metareview.run.pipeline", "run", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )


def nothing_written(root: Path) -> bool:
    return not (root / "reports").exists() and not (root / "data" / "processed").exists()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-p", "paired_r=3"], "paired_r"),
        (["-p", "pired_r=0.3"], "pired_r"),
        (["-p", "tau2_method=XX"], "tau2_method"),
        (["-p", "novalue"], "novalue"),
    ],
)
def test_bad_parameter_stops_before_anything_is_written(cli_root, args, named):
    result = cli(cli_root, "--review", "fixture", *args)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert nothing_written(cli_root)


def test_unknown_review_and_notebook_are_refused(cli_root):
    result = cli(cli_root, "--review", "nope")
    assert result.returncode == 2 and "nope" in result.stderr and "fixture" in result.stderr
    result = cli(cli_root, "--review", "fixture", "--from", "07")
    assert result.returncode == 2 and "07" in result.stderr
    assert nothing_written(cli_root)


def test_changed_raw_data_stops_the_run_naming_the_file(cli_root):
    arms = cli_root / "data" / "raw" / "fixture" / "arms.csv"
    arms.write_text(arms.read_text() + "\n")
    result = cli(cli_root, "--review", "fixture")
    assert result.returncode == 2
    assert "arms.csv" in result.stderr
    assert nothing_written(cli_root)


def _fixture_is_valid(root: Path) -> None:
    from metareview.review import checksums, sheets

    checksums.verify(root / "data" / "raw" / "fixture")
    sheets.load_review(root / "data" / "raw" / "fixture")


@pytest.mark.slow
def test_command_line_runs_reviews_in_parallel_then_reports_a_failure(cli_root):
    _fixture_is_valid(cli_root)
    shutil.copytree(cli_root / "data" / "raw" / "fixture", cli_root / "data" / "raw" / "twin")
    (cli_root / "params" / "twin.yaml").write_text("review: twin\n")
    result = cli(cli_root, "--review", "fixture", "--review", "twin")
    assert result.returncode == 0, result.stderr
    for review in ("fixture", "twin"):
        progress = [line for line in result.stdout.splitlines()
                    if line.startswith(f"{review} ") and " done in " in line]
        assert [line.split()[1] for line in progress] == STEMS
        assert (cli_root / "reports" / review / "03_final.html").is_file()
    # same inputs, same bytes
    assert (cli_root / "data" / "processed" / "fixture" / "final.csv").read_bytes() == (
        cli_root / "data" / "processed" / "twin" / "final.csv"
    ).read_bytes()

    summary = cli_root / "notebooks" / "02_summary.ipynb"
    summary.write_text(summary.read_text().replace("fail = False", "fail = True"))
    result = cli(cli_root, "--review", "fixture", "--from", "02")
    assert result.returncode == 1
    assert "fixture: notebook 02_summary failed in cell 4 (first line: if fail:)" in result.stderr
    assert "ZeroDivisionError: the summary cannot be computed" in result.stderr
    assert (cli_root / "reports" / "fixture" / "02_summary.FAILED.ipynb").is_file()
    assert not (cli_root / "reports" / "fixture" / "03_final.html").exists()
    assert (cli_root / "reports" / "twin" / "03_final.html").is_file()  # other review untouched


# --- helpers -----------------------------------------------------------------------------------


def test_notebooks_are_found_in_number_order_and_selected(tmp_path, monkeypatch):
    root = make_root(tmp_path)
    (root / "notebooks" / "README.ipynb").write_text("{}")  # not NN_name: ignored
    (root / "notebooks" / "10_later.ipynb").write_text("{}")
    monkeypatch.setenv(files.ROOT_ENV, str(root))
    found = pipeline.discover_notebooks()
    assert [nb.stem for nb in found] == [*STEMS, "10_later"]
    assert [nb.stem for nb in pipeline.select_notebooks(found, start="2")] == [
        "02_summary", "03_final", "10_later"]
    assert [nb.stem for nb in pipeline.select_notebooks(found, numbers=["10", "01"])] == [
        "01_numbers", "10_later"]
    with pytest.raises(pipeline.InputError, match="no notebook numbered 04"):
        pipeline.select_notebooks(found, numbers=["04"])
    (root / "notebooks" / "02_other.ipynb").write_text("{}")
    with pytest.raises(pipeline.InputError, match="share the number"):
        pipeline.discover_notebooks()


def test_parameter_overrides_are_split_not_interpreted():
    assert pipeline.parse_overrides(["paired_r=0.8", "exclude_studies=[S1, S2]"]) == {
        "paired_r": "0.8", "exclude_studies": "[S1, S2]"}
    with pytest.raises(pipeline.InputError, match="name=value"):
        pipeline.parse_overrides(["paired_r"])


def test_reviews_are_raw_folders_with_parameters(tmp_path, monkeypatch):
    for name in ("b", "a", "orphan"):
        (tmp_path / "data" / "raw" / name).mkdir(parents=True)
    (tmp_path / "params").mkdir()
    for name in ("a", "b", "no-data"):
        (tmp_path / "params" / f"{name}.yaml").write_text("")
    monkeypatch.setenv(files.ROOT_ENV, str(tmp_path))
    assert pipeline.discover_reviews() == ["a", "b"]


@pytest.mark.slow
def test_preloaded_kernel_starts_with_a_clean_namespace(tmp_path, monkeypatch):
    """The runner preloads a notebook's imports, but defines nothing in its namespace."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('review = "mini"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import sys\n"
            "leaked = {'pd', 'pandas', 'importlib', '_name'} & set(globals())\n"
            "assert not leaked, leaked\n"
            "assert 'pandas' in sys.modules  # preloaded all the same"
        ),
        nbformat.v4.new_code_cell("import pandas as pd"),
    ]
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "01_namespace.ipynb")
    _, result = run_in(tmp_path, monkeypatch)
    assert not isinstance(result, Exception), result


@pytest.mark.slow
def test_each_later_notebook_starts_from_a_reset_kernel(tmp_path, monkeypatch):
    """The second notebook shares the first one's kernel but sees none of its state."""
    import nbformat

    def notebook(*sources):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell('review = "mini"', metadata={"tags": ["parameters"]})]
        nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
        return nb

    (tmp_path / "notebooks").mkdir()
    nbformat.write(notebook(
        "import pandas as pd\nimport matplotlib.pyplot as plt\n"
        "leftover = 1\npd.set_option('display.max_rows', 3)\nplt.figure()"),
        tmp_path / "notebooks" / "01_dirty.ipynb")
    nbformat.write(notebook(
        "import sys\n"
        "assert 'leftover' not in globals()\n"
        "assert sys.modules['pandas'].get_option('display.max_rows') == 60\n"
        "assert sys.modules['matplotlib.pyplot'].get_fignums() == []"),
        tmp_path / "notebooks" / "02_clean.ipynb")
    _, result = run_in(tmp_path, monkeypatch)
    assert not isinstance(result, Exception), result
    assert [name for name, _ in result] == ["01_dirty", "02_clean"]
