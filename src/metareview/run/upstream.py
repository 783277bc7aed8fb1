"""What a notebook needs from the notebooks before it: their outputs, and the parameters they
ran with.

A notebook reads what the earlier ones wrote to data/processed/<review>/, and some parameters
act only where they are first used: `exclude_studies` removes studies when notebook 02 derives
the effects, so setting it in notebook 03 changes nothing of what 03 reads. Two checks follow:

- `missing_inputs`: the first earlier notebook whose outputs are not there (after `make clean`,
  or when a notebook is opened in JupyterLab before the ones it reads from have run);
- `parameter_conflicts`: parameters whose value differs from the one the notebook that first
  uses them ran with (as its run recorded in reports/<review>/.outputs/NN_name.inputs.json).

Notebooks call `check(globals(), "NN_name")` in their first code cell, so that either problem
stops the notebook there with one line that says what to run or where to set the parameter;
the runner calls `parameter_conflicts` before anything is written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from metareview import files

# One table each notebook always writes, the sign that it ran (tests/test_pipeline_end_to_end.py
# checks that each is in its notebook's list of outputs).
SIGN_OF_RUN = {
    "01": "clean_studies.csv",
    "02": "effects.csv",
    "03": "pooled.csv",
    "04": "subgroups.csv",
    "05": "safety.csv",
}


class UpstreamError(Exception):
    """A notebook cannot run yet, or a parameter cannot act in it: one line says why."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the line is the whole message
        return [f"{type(self).__name__}: {self}"]


def _notebooks():
    from metareview.run import pipeline

    return pipeline.discover_notebooks()


def _code_outside_parameters(path: Path) -> str:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code" or "parameters" in cell.get("metadata", {}).get(
                "tags", []):
            continue
        source = cell.get("source", "")
        parts.append("".join(source) if isinstance(source, list) else source)
    return "\n".join(parts)


def first_uses(notebooks=None) -> dict:
    """{parameter: the first notebook whose code, outside its `parameters` cell, names it}.

    A parameter that no notebook's code names (only passed on through `nb.settings`) is not
    listed: nothing is known of where it acts, so no check refuses it."""
    from metareview.review.params import DEFAULTS

    found = {}
    for notebook in notebooks if notebooks is not None else _notebooks():
        code = _code_outside_parameters(notebook.path)
        for name in DEFAULTS:
            if name != "review" and name not in found and re.search(rf"\b{name}\b", code):
                found[name] = notebook
    return found


def recorded_parameters(review: str, stem: str) -> dict | None:
    """The parameter values the last run of notebook `stem` used, or None when unknown: no
    record, or a record older than the notebook's sign of a run (it was run again by hand in
    JupyterLab, which records nothing)."""
    path = files.reports_dir(review) / ".outputs" / f"{stem}.inputs.json"
    sign = files.processed_dir(review) / SIGN_OF_RUN.get(stem[:2], "-")
    try:
        recorded = json.loads(path.read_text(encoding="utf-8")).get("parameters")
        if sign.is_file() and sign.stat().st_mtime_ns > path.stat().st_mtime_ns:
            return None
    except (OSError, ValueError, AttributeError):
        return None
    return recorded if isinstance(recorded, dict) else None


def shown(value) -> str:
    """A parameter value as it is typed after `-p name=`: DL, 0.8, [S1, S2]."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _same(old, new) -> bool:
    # through JSON, as the record holds them: a tuple and a list of the same ids are the same
    return json.loads(json.dumps(old)) == json.loads(json.dumps(new))


def parameter_conflicts(review: str, values: dict, start: str, overridden=(),
                        notebooks=None) -> list[str]:
    """Parameters that cannot act in a run (or a notebook) that starts at notebook `start`
    ("03"): one line per parameter, saying where it acts and how to set it.

    A parameter conflicts when the notebook that first uses it comes before `start` and ran
    with another value (its recorded run), or, without a record, when it is one of
    `overridden` (set on the command line for this run only)."""
    notebooks = notebooks if notebooks is not None else _notebooks()
    start_nb = next((nb for nb in notebooks if nb.number == start), None)
    lines = []
    for name, first in first_uses(notebooks).items():
        if first.number >= start or name not in values:
            continue
        recorded = recorded_parameters(review, first.stem)
        if recorded is not None and name in recorded:
            if _same(recorded[name], values[name]):
                continue
            ran = f"{first.stem} ran with {name}={shown(recorded[name])}"
        elif name in overridden:
            ran = f"{first.stem} is not part of this run"
        else:
            continue
        here = start_nb.stem if start_nb is not None else f"notebook {start}"
        lines.append(
            f"parameter {name}={shown(values[name])} cannot act in {here}: it acts in "
            f"{first.stem} ({ran}). Set it in params/{review}.yaml and run `make reports`, or "
            f"run from {first.number}: `python -m metareview.run.pipeline run --review {review} "
            f"--from {first.number} -p {name}=...`")
    return lines


def missing_inputs(review: str, number: str, notebooks=None) -> str | None:
    """The first notebook before notebook `number` whose outputs are missing, or None."""
    processed = files.processed_dir(review)
    for notebook in notebooks if notebooks is not None else _notebooks():
        if notebook.number >= number:
            break
        sign = SIGN_OF_RUN.get(notebook.number)
        if sign is not None and not (processed / sign).is_file():
            return notebook.stem
    return None


def check(namespace: dict, stem: str) -> None:
    """The first cell of notebook `stem`: raise UpstreamError (one line) when an earlier
    notebook's outputs are missing or a parameter here differs from the value the notebook
    that uses it first ran with."""
    from metareview.review.params import DEFAULTS

    review = namespace.get("review")
    if not isinstance(review, str) or not files.is_safe_name(review):
        return  # notebook.start names a bad review parameter
    number = stem[:2]
    notebooks = _notebooks()
    missing = missing_inputs(review, number, notebooks)
    if missing is not None:
        sign = files.processed_dir(review) / SIGN_OF_RUN[missing[:2]]
        raise UpstreamError(
            f"{stem} of {review} needs what {missing} writes ({files.display_path(sign)} is "
            f"missing): run {missing} first, or `make reports`, which runs every notebook "
            "in order.")
    values = {name: namespace[name] for name in DEFAULTS if name in namespace}
    conflicts = parameter_conflicts(review, values, number, (), notebooks)
    if conflicts:
        raise UpstreamError(" ".join(conflicts))


__all__ = ["SIGN_OF_RUN", "UpstreamError", "check", "first_uses", "missing_inputs",
           "parameter_conflicts", "recorded_parameters", "shown"]
