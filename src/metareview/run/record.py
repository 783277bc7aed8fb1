"""The committed numeric record of a review, the check against it, and the reports' index page.

    python -m metareview.run.record write [--review X ...] [--allow-overrides]
    python -m metareview.run.record check [--review X ...] [--verbose]
    python -m metareview.run.record index                    # reports/index.html
    python -m metareview.run.record share [--with-notebooks] # dist/reports.zip

`results/<review>.json` holds every number of the result tables the notebooks write to
data/processed/<review>/ (pooled, Bayesian, sensitivity, leave-one-out, small-study, subgroups,
meta-regression, safety), one entry per table row, keyed by the row's text columns (outcome,
comparison, method, ...) with its numeric columns (k, estimate, CI, tau², I², p, ...) as values,
plus the list of figures the run drew. It is written deterministically (sorted keys, floats with
12 significant digits, no dates), so that `git diff results/` shows exactly which results moved.

`write` records only a review whose run is complete and current (every report there, no
failed notebook, not stale, no run under way); one that is not is named and left as it is, and
the others are written. A run with `-p` overrides is recorded only with `--allow-overrides`,
and the record then names them (`"overrides": {...}`).

`check` holds the current run against that record: numbers must agree to a relative 1e-9;
every report, executed notebook and recorded figure must exist; no executed notebook may hold an
error; no report may load anything from the network; the raw data must match SHA256SUMS. A
review that was not run, or was run with overrides the record does not name, is one line
("not run", "run with overrides: tau2_method=DL"); `--verbose` lists its differences.
"""

from __future__ import annotations

import argparse
import datetime
import html
import json
import math
import platform
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from metareview import files
from metareview.report.alt_text import read_alt_text
from metareview.report.figure_names import has_vector, is_main_figure

# Result tables in the order they are recorded; whichever exist are used.
RESULT_TABLES = (
    "pooled",
    "bayes",
    "sensitivity",
    "leave_one_out",
    "small_study",
    "subgroups",
    "meta_regression",
    "safety",
    "swim",
    "pooled_proportions",
    "proportion_differences",
)
RELATIVE_TOLERANCE = 1e-9
# Below this, numbers are zero for the comparison (a tau² of 1e-17 and one of 0 are the same fit).
ABSOLUTE_TOLERANCE = 1e-12
FIGURE_SUFFIXES = (".png", ".svg")
# Text columns that describe a result rather than identify it: recorded as values, so that a
# changed warning shows as a change of that result, not as one result removed and another added
# (prior_reason: why bayes.csv's prior was chosen, with the numbers behind its scale).
TEXT_VALUE_COLUMNS = frozenset(
    {"status", "warning", "warnings", "note", "notes", "reason", "message", "interpretation",
     "prior_reason"}
)
# Packages whose versions the index lists as provenance.
PROVENANCE_PACKAGES = (
    "metareview",
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "nbclient",
    "nbformat",
    "ipykernel",
    "pyyaml",
)


# --- building the record -----------------------------------------------------------------------


def _read_table(path: Path):
    import pandas as pd

    # keep_default_na=False: an outcome called "NA" stays text; only empty cells are missing
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _cell(value):
    """A CSV cell as a plain JSON value (NaN -> None; an infinite value, such as the SD of a
    Bayesian posterior with a heavy tail, as the text "inf" or "-inf", which JSON has no
    number for)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def table_entries(frame) -> dict[str, dict]:
    """Rows of a result table as {row key: {numeric column: value}}.

    The row key joins the text columns ("outcome=acne_severity; method=REML"); numeric and
    true/false columns, and descriptive text such as `status` or `warning`, are the values. Rows with the same text are numbered in file order
    ("... #2"), so that no row is lost.
    """
    import pandas as pd

    key_columns = [
        c for c in frame.columns
        if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
        and c not in TEXT_VALUE_COLUMNS
    ]
    value_columns = [c for c in frame.columns if c not in key_columns]
    entries: dict[str, dict] = {}
    for position, row in enumerate(frame.itertuples(index=False), start=1):
        cells = dict(zip(frame.columns, row))
        parts = []
        for column in key_columns:
            value = _cell(cells[column])
            parts.append(f"{column}={'' if value is None else value}")
        key = "; ".join(parts) if parts else f"row {position}"
        if key in entries:
            copy = 2
            while f"{key} #{copy}" in entries:
                copy += 1
            key = f"{key} #{copy}"
        entries[key] = {column: _cell(cells[column]) for column in value_columns}
    return entries


def figure_files(review: str) -> list[str]:
    """Figures of the review, relative to reports/<review>/ ("figures/forest_x.png")."""
    folder = files.figures_dir(review)
    if not folder.is_dir():
        return []
    base = files.reports_dir(review)
    return sorted(
        p.relative_to(base).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in FIGURE_SUFFIXES and not p.name.startswith(".")
    )


def build_record(review: str) -> dict:
    """The numeric record of the current run of `review` (see the module docstring)."""
    processed = files.processed_dir(review)
    tables = {}
    for name in RESULT_TABLES:
        path = processed / f"{name}.csv"
        if path.is_file() and path.stat().st_size > 0:
            tables[name] = table_entries(_read_table(path))
    return {"review": review, "tables": tables, "figures": figure_files(review)}


def write(review: str, overrides: dict | None = None) -> Path:
    """Rewrite results/<review>.json from the current run; `overrides` ({name: value}), when
    the run had them, are named in the record."""
    record = build_record(review)
    if overrides:
        record["overrides"] = dict(sorted(overrides.items()))
    return files.write_json(record, files.results_path(review),
                            within=files.repo_root() / "results")


def run_overrides(review: str) -> dict:
    """{name: value} of the overrides the current run of `review` had (those of its first
    notebook with any; `pipeline.overrides_summary` says which notebooks had which)."""
    from metareview.run import pipeline

    found = pipeline.run_overrides(review)
    merged: dict = {}
    for overrides in found.values():
        for name, value in overrides.items():
            merged.setdefault(name, value)
    return merged


def not_recordable(review: str, allow_overrides: bool = False) -> list[str]:
    """Why the current run of `review` must not be recorded ([] when it may be): no review
    folder, not run, a run under way or interrupted, a failed or missing notebook, reports older
    than the raw data or parameters, or `-p` overrides (unless `allow_overrides`)."""
    from metareview.run import pipeline

    if not files.raw_dir(review).is_dir():
        known = ", ".join(pipeline.discover_reviews()) or "none"
        return [f"no review folder {files.display_path(files.raw_dir(review))} (reviews: "
                f"{known})"]
    if not_run(review):
        return ["not run (no report): run `make reports` first"]
    reasons = []
    state = run_state(review)
    failure = pipeline.failed_reviews().get(review)
    if failure:  # its message, not the index's "see below"
        reasons.append("the last run failed: " + failure.splitlines()[0].strip())
    elif state is not None:
        reasons.append(state)
    reasons += pipeline.stale_reports(review)
    summary = pipeline.overrides_summary(review)
    if summary and not allow_overrides:
        reasons.append(f"run with overrides: {summary}; `make record` runs it again with "
                       f"params/{review}.yaml first, and `make record REVIEW={review} "
                       "ALLOW_OVERRIDES=1` records it as it is, naming the overrides")
    return reasons


def not_run(review: str) -> bool:
    """True when nothing of a run of `review` is there: no report, no kept failure and no
    processed table (a run with tables but no reports is checked in full)."""
    reports, processed = files.reports_dir(review), files.processed_dir(review)
    ran = reports.is_dir() and (any(reports.glob("[0-9][0-9]_*.html"))
                                or any(reports.glob("[0-9][0-9]_*.FAILED.ipynb")))
    return not ran and not (processed.is_dir() and any(processed.iterdir()))


# --- comparing ---------------------------------------------------------------------------------


def _flatten(record: dict) -> dict[str, object]:
    flat = {}
    for table, rows in record.get("tables", {}).items():
        for key, values in rows.items():
            for column, value in values.items():
                flat[f"{table}: {key}: {column}"] = value
    return flat


def _same(old, new) -> bool:
    """Equal values of the same kind: true is not 1 and "1" is not 1 (Python's == says
    True == 1); whole and real numbers compare as numbers (a column that gains an empty cell
    is read as real), to a relative 1e-9."""
    numeric = (int, float)
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, numeric) and isinstance(new, numeric):
        return math.isclose(old, new, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)
    return type(old) is type(new) and old == new


def compare(committed: dict, fresh: dict) -> list[str]:
    """Differences between two records: added, removed and changed entries, one per line."""
    old, new = _flatten(committed), _flatten(fresh)
    problems = []
    for key in sorted(old.keys() - new.keys()):
        problems.append(f"result removed: {key} (recorded {old[key]!r})")
    for key in sorted(new.keys() - old.keys()):
        problems.append(f"result added: {key} = {new[key]!r}")
    for key in sorted(old.keys() & new.keys()):
        if not _same(old[key], new[key]):
            problems.append(f"result changed: {key}: recorded {old[key]!r}, now {new[key]!r}")
    return problems


def _error_outputs(path: Path) -> list[str]:
    """'cell N: Ename: value' for each error output in an executed notebook."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return [f"not readable as a notebook ({type(error).__name__}); rerun `make reports`"]
    if not isinstance(notebook, dict):
        return ["not a notebook; rerun `make reports`"]
    found = []
    for position, cell in enumerate(notebook.get("cells", []), start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {position}: {output.get('ename')}: {output.get('evalue')}")
    return found


def read_record(path: Path) -> dict:
    """A committed record, read and its shape checked; ValueError naming the file otherwise
    (a merge conflict or a hand edit can leave it unreadable)."""
    shown = files.display_path(path)
    fix = ("restore it (`git checkout -- " + shown + "`) or rewrite it from a good run "
           "(`make record`) and review the diff")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"record {shown} is not UTF-8 text: {fix}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"record {shown} is not valid JSON (line {error.lineno}, column "
                         f"{error.colno}: {error.msg}): {fix}") from None
    tables = record.get("tables", {}) if isinstance(record, dict) else None
    if not isinstance(tables, dict) or not all(
            isinstance(rows, dict) and all(isinstance(v, dict) for v in rows.values())
            for rows in tables.values()) or not isinstance(record.get("figures", []), list) \
            or not all(isinstance(f, str) for f in record.get("figures", [])):
        raise ValueError(f"record {shown} is not a record of results (an object with "
                         f"tables of rows and a list of figures): {fix}")
    return record


NOT_RUN_HEAD = "not run (no report in "


def _partly_run(review: str) -> str | None:
    """"not run to the end: ..." when some notebooks of `review` have a report and later ones
    have none (run by hand with --notebooks, or in JupyterLab), or "the last run failed in
    ...", naming what ran; None when every notebook has its report.

    A run that stopped early has no tables of the later notebooks, so comparing it with the
    record would list every result of those tables as removed (578 lines for cm-resurfacing
    after 01 and 02): the cause is one line, the differences are for --verbose.
    """
    from metareview.run import pipeline

    reports = files.reports_dir(review)
    stems = [nb.stem for nb in pipeline.discover_notebooks()]
    missing = [stem for stem in stems if not (reports / f"{stem}.html").is_file()]
    if not missing:
        return None
    ran = [stem for stem in stems if stem not in missing]
    done = f"ran {', '.join(ran)}" if ran else "no report written"
    failure = pipeline.failed_reviews().get(review)
    if failure:
        first = failure.strip().splitlines()[0].strip()
        return (f"the last run failed ({done}; no report of {', '.join(missing)}): {first}; "
                "fix it and run `make reports`, which resumes at the failed notebook")
    return (f"not run to the end ({done}; not run: {', '.join(missing)}): run `make reports`, "
            "which runs the rest")


def check_headline(review: str) -> str | None:
    """One line that says why the run of `review` cannot match its record, when that is so
    by design: "not run", "not run to the end" (later notebooks have no report), "the last
    run failed", or "run with overrides: tau2_method=DL" (overrides the committed record does
    not name); None otherwise."""
    from metareview.run import pipeline

    if not_run(review):
        return NOT_RUN_HEAD + files.display_path(files.reports_dir(review)) + \
            "): run `make reports`"
    partly = _partly_run(review)
    if partly is not None:
        return partly
    summary = pipeline.overrides_summary(review)
    if not summary:
        return None
    try:
        recorded = read_record(files.results_path(review)).get("overrides") or {}
    except (OSError, ValueError):
        recorded = {}
    if recorded and recorded == run_overrides(review):
        return None
    return (f"run with overrides: {summary} (not params/{review}.yaml, so its results differ "
            "from the record by design; `make reports` runs it with the file)")


def check(review: str) -> list[str]:
    """Everything wrong with the current run of `review`; an empty list means all is well."""
    from metareview.review import checksums
    from metareview.run import pipeline

    problems = []
    raw = files.raw_dir(review)
    try:
        checksums.verify(raw)
    except (ValueError, OSError) as exc:
        problems.append(f"raw data: {exc}")
    problems += pipeline.stale_reports(review)
    state = run_state(review)
    if state is not None and (state.startswith("a run is under way")
                              or "did not finish" in state):
        problems.append(f"not current: {state}")

    reports = files.reports_dir(review)
    for nb in pipeline.discover_notebooks():
        failed = reports / f"{nb.stem}.FAILED.ipynb"
        if failed.is_file():
            problems.append(f"notebook failed: {files.display_path(failed)} (fix the cause and run make reports)")
        report = reports / f"{nb.stem}.html"
        if not report.is_file():
            problems.append(f"report missing: {files.display_path(report)}")
        else:
            remote = pipeline.remote_references(report.read_text(encoding="utf-8"))
            if remote:
                problems.append(f"report loads from the network: {files.display_path(report)}: {remote[0]}")
        executed = reports / f"{nb.stem}.ipynb"
        if not executed.is_file():
            problems.append(f"executed notebook missing: {files.display_path(executed)}")
        else:
            for error in _error_outputs(executed):
                problems.append(f"error in executed notebook {files.display_path(executed)}, {error}")

    record_path = files.results_path(review)
    if not record_path.is_file():
        problems.append(
            f"no committed record {files.display_path(record_path)}: run `make record` and commit it"
        )
        return problems
    try:
        committed = read_record(record_path)
    except ValueError as error:
        problems.append(str(error))
        return problems
    fresh = build_record(review)
    problems += compare(committed, fresh)
    recorded_overrides = committed.get("overrides") or {}
    if recorded_overrides and recorded_overrides != run_overrides(review):
        problems.append(f"the record {files.display_path(record_path)} was written from a run "
                        "with overrides: " + pipeline.overrides_text(recorded_overrides))
    from metareview.run import consistency, wording

    problems += [f"shown differently: {p}" for p in consistency.problems(review)]
    problems += [f"not in words: {p}" for p in wording.problems(review)]
    for figure in committed.get("figures", []):
        if not (reports / figure).is_file():
            problems.append(f"figure missing: {files.display_path(reports / figure)}")
    for figure in sorted(set(fresh["figures"]) - set(committed.get("figures", []))):
        problems.append(f"figure not in the record: {files.display_path(reports / figure)} (make record)")
    for figure in fresh["figures"]:
        path = reports / figure
        if path.suffix == ".png" and has_vector(path.stem) and not path.with_suffix(".svg").is_file():
            problems.append(f"figure without its SVG: {files.display_path(path)}")
    return problems


# --- reports/index.html ------------------------------------------------------------------------

INDEX_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 72rem; padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.failed { color: #a40000; font-weight: bold; } .missing { color: #8a5a00; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; }
.figures figure { margin: 0; max-width: 34rem; }
.summary-link { font-size: 1.1rem; font-weight: bold; }
pre.failure { background: #fff3f3; border: 1px solid #e0b4b4; padding: .5rem; white-space: pre-wrap; }
.figures img { max-width: 100%; border: 1px solid #ddd; }
code { font-size: .85rem; }
.answers { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr));
           gap: .8rem; margin-bottom: 1.5rem; }
.answer { border: 1px solid #ccc; border-radius: 4px; padding: .4rem .8rem; font-size: .92rem; }
.answer h2 { font-size: 1.05rem; border: 0; margin: .3rem 0; }
.answer p { margin: .3rem 0; } .rule { font-size: .85rem; color: #555; }
.caution { font-size: .85rem; color: #8a4b00; }
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _href(path: str) -> str:
    return html.escape(quote(path), quote=True)


def _key_results(review: str):
    """The review's key results as notebook 06 chose them (key_results.csv), or None."""
    path = files.processed_dir(review) / "key_results.csv"
    return _read_table(path) if path.is_file() else None


def _plain_language(review: str) -> str:
    key = _key_results(review)
    if key is None or key.empty:
        return ""
    from metareview.report.summary import plain_language

    class _Key:  # the one field plain_language reads
        def __init__(self, frame):
            self.key = frame

    return plain_language(_Key(key))


def _key_results_table(review: str) -> str:
    """The key results in the summary of findings' own words, and how much was not pooled."""
    from metareview.report.summary import KEY_RESULTS_RULE

    key = _key_results(review)
    parts = []
    if key is not None and len(key):
        columns = ("Outcome", "Effect (95% CI)", "Participants (studies)", "Certainty")
        head = "".join(f"<th>{_e(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{_e(r[c])}</td>" for c in columns) + "</tr>"
                       + (f"<tr><td colspan='4' class='caution'>Caution: {_e(r['Caution'])}"
                          "</td></tr>" if isinstance(r.get("Caution"), str) and r["Caution"]
                          else "")
                       for _, r in key.iterrows())
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        parts.append(f"<p class='rule'>{_e(KEY_RESULTS_RULE)}</p>")
    else:
        parts.append("<p>No key results: the summary report has not been written.</p>")
    not_pooled = files.processed_dir(review) / "not_pooled.csv"
    if not_pooled.is_file():
        count = len(_read_table(not_pooled))
        parts.append(f"<p>{count} comparative result{'s' if count != 1 else ''} could not be "
                     "turned into an effect (each listed with its reason in report 02).</p>")
    return "\n".join(parts)


def run_state(review: str) -> str | None:
    """Why the reports of `review` are not current, or None when they are: a run under way
    (its lock is held), a run that did not finish (interrupted or killed), a failed run, or a
    report missing."""
    from metareview.run import locks, pipeline

    info = locks.holder(review)
    if info is not None:
        return (f"a run is under way (process {info.get('pid', '?')}, started "
                f"{info.get('started', '?')}); its reports are being replaced")
    marker = pipeline.running_path(review)
    if marker.is_file():
        started = marker.read_text(encoding="utf-8", errors="replace").strip()[:40]
        return (f"the run started {started} did not finish (interrupted or killed); run "
                "`make reports` again")
    if review in pipeline.failed_reviews():
        return "the last run failed (see below)"
    reports = files.reports_dir(review)
    missing = [nb.stem for nb in pipeline.discover_notebooks()
               if not (reports / f"{nb.stem}.html").is_file()]
    if missing:
        return f"not run to the end (no report of {', '.join(missing)})"
    return None


def _answers(reviews: list[str]) -> str:
    """The first screen: per review its headline result with direction and certainty, and
    the plain-language summary, linked to the summary report. A review whose run is not
    current shows why instead of results that may be an earlier run's."""
    from metareview.run import pipeline

    parts = ["<section class='answers'>"]
    for review in reviews:
        key = _key_results(review)
        summary = f"{review}/06_summary.html"
        title = _e(_review_title(review))
        state = run_state(review)
        if (files.reports_dir() / summary).is_file():
            title = f"<a href='{_href(summary)}'>{title}</a>"
        parts.append(f"<div class='answer'><h2>{title}</h2>")
        overridden = pipeline.overrides_summary(review)
        if overridden:
            parts.append(f"<p class='failed'>Run with parameter overrides: {_e(overridden)}."
                         "</p>")
        if state is not None:
            parts.append(f"<p class='missing'>Not current: {_e(state)}.</p>")
        elif key is not None and len(key):
            first = key.iloc[0]
            parts.append(f"<p class='headline'><strong>{_e(first['Outcome'])}</strong>: "
                         f"{_e(first['Effect (95% CI)'])}; {_e(first['Participants (studies)'])};"
                         f" {_e(first['Certainty'])}.</p>")
            caution = first.get("Caution", "")
            if isinstance(caution, str) and caution:
                parts.append(f"<p class='caution'>Caution: {_e(caution)}</p>")
            parts.append(f"<p>{_e(_plain_language(review))}</p>")
        else:
            parts.append("<p class='missing'>Not run to the end: no key result yet.</p>")
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _published_table(review: str) -> str:
    path = files.processed_dir(review) / "published_comparison.csv"
    if not path.is_file():
        return ""
    from metareview.report.published import present

    shown = present(_read_table(path))
    if shown.empty:
        return ""
    columns = ("published result", "published", "this bundle", "how")
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(row[c])}</td>" for c in columns) + "</tr>"
                   for _, row in shown.iterrows())
    return ("<h3>Beside the published reviews</h3>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _review_section(review: str, notebooks: bool = True) -> str:
    from metareview.run import pipeline

    reports = files.reports_dir(review)
    title = _review_title(review)
    parts = [f"<h2 id='{_e(review)}'>{_e(review)}: {_e(title)}</h2>"]
    state = run_state(review)
    if state is not None:
        parts.append(f"<p class='missing'>Not current: {_e(state)}. Only the files that "
                     "exist are linked; key results appear when a run completes.</p>")
    overridden = pipeline.overrides_summary(review)
    if overridden:
        parts.append(f"<p class='failed'>Run with parameter overrides: {_e(overridden)}. "
                     f"These are not the results of params/{_e(review)}.yaml; "
                     "<code>make reports</code> runs the review again with that file.</p>")
    failure = pipeline.failed_reviews().get(review)
    if failure:
        parts.append("<p class='failed'>This review did not run to the end; the other reviews "
                     f"are not affected.</p><pre class='failure'>{_e(failure)}</pre>")
    summary = reports / "06_summary.html"
    if summary.is_file():
        parts.append(f"<p class='summary-link'><a href='{_href(f'{review}/{summary.name}')}'>"
                     "Summary of the review: start here</a>")
        word = reports / "summary.docx"
        if word.is_file():
            parts[-1] += f" · <a href='{_href(f'{review}/{word.name}')}'>Word document</a>"
        parts[-1] += "</p>"
    if state is None:
        parts += ["<h3>Key results</h3>", _key_results_table(review), _published_table(review)]
    parts += ["<h3>Reports</h3>", "<ul>"]
    for nb in pipeline.discover_notebooks():
        report, executed = reports / f"{nb.stem}.html", reports / f"{nb.stem}.ipynb"
        failed = reports / f"{nb.stem}.FAILED.ipynb"
        item = f"<li><code>{_e(nb.stem)}</code>: "
        if report.is_file():
            item += f"<a href='{_href(f'{review}/{report.name}')}'>report</a>"
            if executed.is_file() and notebooks:
                item += f", <a href='{_href(f'{review}/{executed.name}')}'>executed notebook</a>"
        elif failed.is_file():
            page = pipeline.failed_page_path(failed)
            shown = (f"<a href='{_href(f'{review}/{page.name}')}'>the notebook up to the "
                     "error, as a page</a>, " if page.is_file() else "")
            item += (
                f"<span class='failed'>FAILED</span> ({shown}"
                f"<a href='{_href(f'{review}/{failed.name}')}'>notebook with the error</a>)"
            )
        else:
            item += "<span class='missing'>not run</span>"
        parts.append(item + "</li>")
    parts.append("</ul>")

    pngs = [f for f in figure_files(review) if f.endswith(".png")]
    figures = [f for f in pngs if is_main_figure(Path(f).stem)]
    others = [f for f in pngs if f not in figures]
    if figures:
        parts += ["<h3>Figures</h3>", "<div class='figures'>"]
        for figure in figures:
            svg = figure[: -len(".png")] + ".svg"
            svg_link = (
                f" · <a href='{_href(f'{review}/{svg}')}'>SVG</a>"
                if (reports / svg).is_file() else ""
            )
            # the description the figure function wrote into the PNG (see figures.style)
            alt = read_alt_text(reports / figure) or Path(figure).stem.replace("_", " ")
            parts.append(
                f"<figure><a href='{_href(f'{review}/{figure}')}'>"
                f"<img src='{_href(f'{review}/{figure}')}' alt='{_e(alt)}'></a>"
                f"<figcaption><code>{_e(Path(figure).stem)}</code>{svg_link}</figcaption></figure>"
            )
        parts.append("</div>")

    if others:
        parts += ["<h3>Other figures</h3>", "<ul>"]
        parts += [f"<li><a href='{_href(f'{review}/{f}')}'><code>{_e(Path(f).stem)}</code></a></li>"
                  for f in others]
        parts.append("</ul>")

    tables_dir = files.tables_dir(review)
    tables = sorted(p for p in tables_dir.rglob("*.csv")) if tables_dir.is_dir() else []
    if tables:
        parts += ["<h3>Tables</h3>", "<ul>"]
        for table in tables:
            rel = table.relative_to(reports).as_posix()
            parts.append(
                f"<li><a href='{_href(f'{review}/{rel}')}'><code>{_e(table.name)}</code></a></li>")
        parts.append("</ul>")
    return "\n".join(parts)


def _review_title(review: str) -> str:
    from metareview.review.definitions import DefinitionError, load_definitions

    try:
        return load_definitions(files.raw_dir(review)).title
    except DefinitionError:
        return "(review.yaml missing or not valid)"


def _git_commit() -> str:
    root = files.repo_root()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return "not a git checkout"
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=10,
        )
        dirty = " (with uncommitted changes)" if status.stdout.strip() else ""
        return commit.stdout.strip() + dirty
    except (OSError, subprocess.SubprocessError):
        return "git not available"


def _package_versions() -> list[tuple[str, str]]:
    from importlib import metadata

    found = []
    for name in PROVENANCE_PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, "not installed"))
    return found


def _provenance_section(reviews: list[str]) -> str:
    from metareview.review import checksums

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ("Commit", _git_commit()),
        ("Run date", now),
        ("Python", f"{platform.python_version()} ({platform.system()} {platform.machine()})"),
    ]
    parts = ["<h2 id='provenance'>Provenance</h2>", "<table><tbody>"]
    parts += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows]
    parts.append("</tbody></table>")
    parts += ["<h3>Packages</h3>", "<table><tbody>"]
    parts += [f"<tr><td>{_e(n)}</td><td>{_e(v)}</td></tr>" for n, v in _package_versions()]
    parts.append("</tbody></table>")
    for review in reviews:
        raw = files.raw_dir(review)
        try:
            verified = checksums.verify(raw)
            status = "match SHA256SUMS"
        except (ValueError, OSError) as exc:
            verified = {}
            status = f"DO NOT match SHA256SUMS: {exc}"
        parts.append(f"<h3>Raw data of {_e(review)}: {_e(status)}</h3>")
        if verified:
            parts.append("<table><thead><tr><th>file</th><th>SHA-256</th></tr></thead><tbody>")
            parts += [
                f"<tr><td><code>{_e(name)}</code></td><td><code>{_e(digest)}</code></td></tr>"
                for name, digest in sorted(verified.items())
            ]
            parts.append("</tbody></table>")
    return "\n".join(parts)


def build_index(reviews: list[str], notebooks: bool = True) -> str:
    """reports/index.html as text: links to everything, key results and provenance.

    Every text taken from data is HTML-escaped; the page loads nothing from the network.
    """
    nav = " · ".join(f"<a href='#{_e(r)}'>{_e(r)}</a>" for r in reviews)
    body = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>Review reports</title>",
        f"<style>{INDEX_STYLE}</style></head><body>",
        "<h1>Review reports</h1>",
        _answers(reviews),
        f"<p>Details: {nav or 'none'} · <a href='#provenance'>provenance</a></p>",
    ]
    body += [_review_section(r, notebooks) for r in reviews]
    body.append(_provenance_section(reviews))
    body.append("</body></html>")
    return "\n".join(body) + "\n"


def write_index(reviews: list[str]) -> Path:
    return files.write_text(build_index(reviews), files.reports_dir() / "index.html",
                            within=files.reports_dir())


SHARED_SUFFIXES = (".html", ".png", ".svg", ".csv", ".docx")


def share(with_notebooks: bool = False) -> tuple[Path, int]:
    """dist/reports.zip for coauthors: the index, every HTML report, figure, table and Word
    document; the executed notebooks only `with_notebooks` (the index then links them).
    Written atomically; returns the path and the number of files."""
    import zipfile

    reports = files.reports_dir()
    suffixes = SHARED_SUFFIXES + ((".ipynb",) if with_notebooks else ())
    shipped = sorted(p for p in reports.rglob("*") if p.is_file() and p.suffix in suffixes
                     and p.name != "index.html" and ".FAILED." not in p.name
                     and not any(part.startswith(".") for part in p.relative_to(reports).parts))
    from metareview.run import pipeline

    index = build_index(pipeline.discover_reviews(), notebooks=with_notebooks)
    target = files.repo_root() / "dist" / "reports.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(".reports.zip.tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("reports/index.html", index)
        for path in shipped:
            name = (Path("reports") / path.relative_to(reports)).as_posix()
            if path.suffix == ".csv":
                # tables are neutralised when written; a table left by an older run is too
                text = path.read_bytes().decode("utf-8")  # a CR inside a cell stays a CR
                archive.writestr(name, files.neutralise_csv_text(text))
            else:
                archive.write(path, name)
    temporary.replace(target)
    return target, len(shipped) + 1


class _LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def broken_links(page: Path) -> list[str]:
    """Links of an HTML page that do not resolve to a file (or an anchor of the page)."""
    text = page.read_text(encoding="utf-8")
    collector = _LinkCollector()
    collector.feed(text)
    broken = []
    for link in collector.links:
        parts = urlsplit(link)
        if parts.scheme in ("http", "https", "mailto", "data"):
            if parts.scheme in ("http", "https"):
                broken.append(f"{link} (remote)")
            continue
        if not parts.path:
            anchor = unquote(parts.fragment)
            if anchor and f"id='{anchor}'" not in text and f'id="{anchor}"' not in text:
                broken.append(link)
            continue
        if not (page.parent / unquote(parts.path)).exists():
            broken.append(link)
    return broken


# --- command line ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    """One subcommand per job, each with a --help of its own."""
    parser = argparse.ArgumentParser(
        prog="python -m metareview.run.record",
        description="The committed numeric record of each review (results/<review>.json), the "
                    "check of a run against it, the reports' index page and the zip for "
                    "coauthors.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    reviews = argparse.ArgumentParser(add_help=False)
    reviews.add_argument("--review", action="append",
                         help="review name; repeat for several (default: every review)")
    write_cmd = commands.add_parser(
        "write", parents=[reviews], help="rewrite results/<review>.json from the current run",
        description="Rewrite results/<review>.json of every review (or each --review) whose "
                    "run is complete and current. A review that failed, was not run to the "
                    "end, is stale or ran with -p overrides is named and not recorded; the "
                    "others are. Exit 1 when some review was not recorded.")
    write_cmd.add_argument("--allow-overrides", action="store_true",
                           help="record a run that had -p overrides; the record names them")
    check_cmd = commands.add_parser(
        "check", parents=[reviews], help="compare the current run with results/*.json",
        description="Hold the current run of every review (or each --review) against "
                    "results/<review>.json (relative 1e-9) and check reports, figures, "
                    "executed notebooks and raw-data checksums; exit 1 and list what is wrong. "
                    "A review not run, or run with overrides, is one line.")
    check_cmd.add_argument("--verbose", action="store_true",
                           help="list every difference, also of a review not run or run with "
                                "overrides")
    commands.add_parser("index", help="write reports/index.html",
                        description="Write reports/index.html from the reports that exist: "
                                    "summaries, key results, failures, overrides, provenance.")
    share_cmd = commands.add_parser(
        "share", help="zip the reports for coauthors into dist/reports.zip",
        description="Write dist/reports.zip with the index, every HTML report, figure, table "
                    "and Word document; the executed notebooks only with --with-notebooks.")
    share_cmd.add_argument("--with-notebooks", action="store_true",
                           help="also ship the executed notebooks (the index then links them)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from metareview.run import pipeline

    args = _parser().parse_args(argv)
    chosen = getattr(args, "review", None)
    try:
        for review in chosen or []:
            files.check_name(review, "review name")
    except files.UnsafeNameError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    reviews = list(dict.fromkeys(chosen or pipeline.discover_reviews()))
    if args.command in ("index", "check"):
        print(pipeline.unusable_folders_message(), end="", file=sys.stderr)
    if not reviews and args.command == "index" and chosen is None:
        # the last review removed: an index that says so, not one that links to its reports
        print(f"wrote {files.display_path(write_index([]))} (no reviews: folders of data/raw "
              "with a params/<review>.yaml)")
        return 0
    if not reviews:
        print("error: no reviews (folders of data/raw with a params/<review>.yaml)",
              file=sys.stderr)
        return 1

    if args.command == "write":
        status = 0
        for review in reviews:
            reasons = not_recordable(review, args.allow_overrides)
            if reasons:
                status = 1
                print(f"{review}: not recorded ({files.display_path(files.results_path(review))}"
                      " left as it is):", file=sys.stderr)
                for reason in reasons:
                    print(f"  - {reason}", file=sys.stderr)
                continue
            overrides = run_overrides(review)
            path = write(review, overrides)
            named = (f" (a run with overrides: {pipeline.overrides_text(overrides)}, named in "
                     "the record)" if overrides else "")
            print(f"wrote {files.display_path(path)}{named}")
        return status
    if args.command == "index":
        print(f"wrote {files.display_path(write_index(pipeline.discover_reviews()))}")
        return 0
    if args.command == "share":
        path, count = share(args.with_notebooks)
        print(f"wrote {files.display_path(path)} with {count} files")
        return 0

    failed = False
    for review in reviews:
        headline = None
        try:
            headline = check_headline(review)
            problems = check(review)
        except (OSError, ValueError) as error:  # one unreadable review never hides the others
            problems = [f"the check could not finish: {error}"]
        if headline is not None:
            failed = True
            more = (f" [{len(problems)} problem(s), listed with --verbose (make check "
                    "VERBOSE=1)]" if problems and not args.verbose
                    and not headline.startswith(NOT_RUN_HEAD) else "")
            print(f"{review}: {headline}{more}", file=sys.stderr)
            if not args.verbose:
                continue
        if problems:
            failed = True
            print(f"{review}: {len(problems)} problem(s):", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
        elif headline is None:
            print(f"{review}: ok (results match {files.display_path(files.results_path(review))})")
    index = files.reports_dir() / "index.html"
    if chosen is None:
        if not index.is_file():
            failed = True
            print(f"index: {files.display_path(index)} is missing (run make reports)", file=sys.stderr)
        else:
            broken = broken_links(index)
            if broken:
                failed = True
                print(f"index: {len(broken)} link(s) do not resolve:", file=sys.stderr)
                for link in broken:
                    print(f"  - {link}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
