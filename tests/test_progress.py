"""Progress bars where people wait, never in a report (`metareview.report.progress`).

Before: the loops of notebooks 03 and 04 (sensitivity grid, leave-one-out, permutation tests)
printed nothing for seconds, in JupyterLab as under `make reports`.
"""

from __future__ import annotations

import io
import sys
import time

import pytest

from metareview.report import progress as progress_module
from metareview.report.progress import RUNNER_ENV, destination, progress
from metareview.run import pipeline


class OutStream(io.StringIO):
    """Stands in for ipykernel's stream: what a cell writes to stderr lands in its output."""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _drain(iterable) -> None:
    for _ in iterable:
        time.sleep(0.02)


def test_in_a_persons_kernel_the_bar_is_the_cells_output(monkeypatch):
    monkeypatch.delenv(RUNNER_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "ipykernel", sys.modules.get("ipykernel", object()))
    cell = OutStream()
    monkeypatch.setattr(sys, "stderr", cell)
    monkeypatch.setattr(progress_module, "DELAY", 0)
    assert destination() == (cell, True)
    _drain(progress(range(5), "leave-one-out"))
    shown = cell.getvalue()
    assert "leave-one-out:" in shown and "/5 [" in shown
    assert shown.endswith("\r")  # leave=False: the bar is cleared when the loop ends


def test_in_a_pipeline_run_nothing_reaches_the_notebook(monkeypatch):
    """Under the runner a cell's stderr is the executed notebook (and its HTML report): the
    bar goes to the kernel's own stderr, the terminal of `make reports`, if it is one."""
    monkeypatch.setenv(RUNNER_ENV, "1")
    cell, log, terminal = OutStream(), io.StringIO(), Terminal()
    monkeypatch.setattr(sys, "stderr", cell)
    monkeypatch.setattr(progress_module, "DELAY", 0)
    monkeypatch.setattr(sys, "__stderr__", log)  # make reports > log: no bar at all
    assert destination() == (log, False)
    _drain(progress(range(5), "sensitivity"))
    assert cell.getvalue() == "" and log.getvalue() == ""
    monkeypatch.setattr(sys, "__stderr__", terminal)  # make reports in a terminal
    assert destination() == (terminal, True)
    _drain(progress(range(5), "sensitivity"))
    assert "sensitivity" in terminal.getvalue() and cell.getvalue() == ""


def test_a_script_shows_a_bar_on_a_terminal_only(monkeypatch):
    monkeypatch.delenv(RUNNER_ENV, raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert destination()[1] is False
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert destination()[1] is True


def test_a_short_loop_shows_nothing(monkeypatch):
    monkeypatch.delenv(RUNNER_ENV, raising=False)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    for _ in progress(range(3), "quick"):
        pass
    assert terminal.getvalue() == ""  # under DELAY seconds


@pytest.mark.slow
def test_the_runners_kernels_are_marked():
    """The runner's kernels carry RUNNER_ENV, so their bars stay out of the reports."""
    from jupyter_client import BlockingKernelClient

    assert pipeline.RUNNER_ENV == RUNNER_ENV
    warm = pipeline.WarmKernel(pipeline.project_kernel(), [])
    try:
        client = BlockingKernelClient()
        client.load_connection_info(warm.km.get_connection_info())
        client.start_channels()
        # the kernel answers once its channels are up; a request sent before may be lost
        client.wait_for_ready(timeout=120)
        seen = []
        client.execute_interactive(
            "import os; print(repr(os.environ.get('METAREVIEW_RUNNER')))", timeout=60,
            output_hook=lambda msg: seen.append(msg["content"].get("text", "")))
        client.stop_channels()
    finally:
        warm.shutdown()
    assert "'1'" in "".join(seen)
