"""Progress bars on the loops of the reports that take seconds (subgroup permutation tests,
the sensitivity grid, leave-one-out), where a person would otherwise wait without a word.

Where a bar goes depends on who is running the notebook:

- In JupyterLab (a kernel started by a person), the bar is the cell's output while it runs;
  `leave=False` removes it when the loop ends, so a saved notebook keeps no bar.
- In a run of the pipeline (`make reports`), anything a cell writes to `sys.stderr` becomes
  part of the executed notebook and of its HTML report, where a bar is a defect. The runner
  marks its kernels with `RUNNER_ENV`; the bar then goes to the kernel process's own stderr
  (`sys.__stderr__`, inherited from the runner, so the terminal that runs `make reports`), and
  only when that is a terminal: in a log file or CI output, carriage-return updates would be
  noise, and the runner's per-notebook lines already say what runs.
- Anywhere else (a script, the tests) a bar is shown only on a terminal.

A loop that ends within `DELAY` seconds shows nothing at all (tqdm's `delay`).

The engine (`metareview.stats`) stays free of tqdm: the bars wrap the callers' loops here.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, TextIO, TypeVar

# Set (to "1") in the environment of the kernels the pipeline runner starts
# (metareview.run.pipeline.WarmKernel); the runner's copy of the name is checked by a test.
RUNNER_ENV = "METAREVIEW_RUNNER"
# Seconds a loop may take before its bar appears.
DELAY = 1.0

T = TypeVar("T")


def destination() -> tuple[TextIO | None, bool]:
    """(the stream a bar writes to, whether to show it), as the module docstring says."""
    if os.environ.get(RUNNER_ENV):
        stream = sys.__stderr__
        return stream, bool(stream is not None and stream.isatty())
    if "ipykernel" in sys.modules and type(sys.stderr).__name__ == "OutStream":
        return sys.stderr, True  # a person's kernel: the cell's output area
    stream = sys.stderr
    return stream, bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def progress(iterable: Iterable[T], description: str, total: int | None = None) -> Iterable[T]:
    """`iterable` with a progress bar named `description` where a bar belongs (see the module
    docstring), else `iterable` passed through by a disabled bar."""
    from tqdm import tqdm

    stream, show = destination()
    return tqdm(iterable, desc=description, total=total, file=stream, disable=not show,
                leave=False, delay=DELAY, mininterval=0.5, dynamic_ncols=True)
