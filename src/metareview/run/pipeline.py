"""Run the review notebooks and turn them into offline HTML reports.

    python -m metareview.run.pipeline run --review acne-scars [--review other] \\
        [--notebooks 03 04 | --from 03] [-p paired_r=0.8 ...]

What one run does, in this order:

1. Checks the inputs of every requested review before anything is written: the parameters
   (`metareview.review.params.load_params`: params/<review>.yaml plus `-p` overrides), the
   raw-data checksums (`metareview.review.checksums.verify`) and the extraction sheets
   (`metareview.review.sheets.load_review`), and that no parameter acts only in a notebook before
   the first one run (`metareview.run.upstream`: `--from 03 -p exclude_studies=[...]` is refused,
   studies are excluded in 02). Any problem stops the run with exit code 2.
2. Invalidates what the run is about to replace: the reports of the selected notebooks and of
   every notebook after them (a later notebook reads what an earlier one writes, so it is stale
   too), their executed notebooks, earlier failure notebooks, and the files those notebooks wrote
   last time (listed in reports/<review>/.outputs/). A run that is interrupted therefore leaves
   missing reports, never stale ones that look current, and `make reports` reruns them.
3. Executes the notebooks of a review one after another with papermill (parameters injected after
   the cell tagged `parameters`, working directory = repository root), exports each to
   reports/<review>/NN_name.html with the code hidden and keeps the executed notebook beside it
   as NN_name.ipynb. The notebooks of a review share one kernel, which starts (and imports
   what the notebooks import) while the inputs are checked; its namespace is reset before each
   notebook, so every notebook sees only its own variables, as in a fresh kernel, while the
   stack is imported once per review. Independent reviews run in parallel, one process per
   review (at most two). Each notebook prints a line when it starts (with the clock time) and
   one when it ends (with its wall time). A run whose `-p` overrides change a value of the
   parameter file records them with each notebook's inputs and marks its reports (a banner),
   data/processed/<review>/OVERRIDDEN.txt and the index; each report's override stamp makes
   `make reports` run it again with the parameter file.
4. On a failing cell: the executed notebook is kept as NN_name.FAILED.ipynb, with an HTML copy
   that shows its code and a banner naming the cell and error (NN_name.FAILED.html), the files it wrote
   before failing are removed, nothing after it runs, and the run exits with code 1 and a
   message naming the review, notebook, cell and exception. The reports of the notebooks before
   it stay, so `make reports` resumes at the failed notebook.

Notebooks are `notebooks/NN_name.ipynb` (two digits, underscore, name), run in the order of NN.
Every file is written atomically (see `metareview.files`).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import functools
import multiprocessing
import os
import queue
import re
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from metareview import files
from metareview.run import locks

# jsonschema imports rfc3987_syntax, when installed, to check IRI formats; that module builds a
# grammar at import, about 2.4 s here, and nbformat's notebook schema uses no IRI format. Marking
# it absent (a None entry makes the import fail, which jsonschema expects) keeps those seconds
# off every run of the runner; nothing else in this process needs the module.
sys.modules.setdefault("rfc3987_syntax", None)

NOTEBOOK_NAME = re.compile(r"^(?P<number>\d{2})_[A-Za-z0-9_-]+\.ipynb$")
PROJECT_KERNEL = "metareview"
FALLBACK_KERNEL = "python3"
MAX_PARALLEL_REVIEWS = 2
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
OFFLINE_TEMPLATE = "offline"
OUTPUTS_MANIFEST_DIR = ".outputs"
PARTIAL_DIR = ".partial"

EXIT_FAILED = 1
# Marks the kernels the runner starts (metareview.report.progress.RUNNER_ENV, the same name).
RUNNER_ENV = "METAREVIEW_RUNNER"
EXIT_BAD_INPUT = 2


# --- notebooks and reviews ---------------------------------------------------------------------


@dataclass(frozen=True)
class Notebook:
    """One analysis notebook: `number` "03", `stem` "03_pooled_models", its `path`."""

    number: str
    stem: str
    path: Path


def discover_notebooks(directory: Path | None = None) -> list[Notebook]:
    """The notebooks `NN_name.ipynb` of `notebooks/`, in the order of their numbers."""
    directory = directory or files.notebooks_dir()
    found = []
    for path in sorted(directory.glob("*.ipynb")):
        match = NOTEBOOK_NAME.match(path.name)
        if match:
            found.append(Notebook(match["number"], path.stem, path))
    numbers = [nb.number for nb in found]
    duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicated:
        raise InputError(f"two notebooks share the number(s) {', '.join(duplicated)} in {directory}")
    return found


def discover_reviews() -> list[str]:
    """Reviews = folders of data/raw that have a params/<review>.yaml (the Makefile's rule),
    and whose name follows `files.NAME_RULE` (the others are listed by `unusable_folders`)."""
    raw = files.repo_root() / "data" / "raw"
    if not raw.is_dir():
        return []
    return sorted(
        p.name for p in raw.iterdir()
        if p.is_dir() and files.is_safe_name(p.name) and files.params_path(p.name).is_file()
    )


def unusable_folders() -> list[str]:
    """Folders of data/raw whose names break `files.NAME_RULE` (a space, a dot, ...): Make
    cannot handle them, so no run or check includes them; the runner says so."""
    raw = files.repo_root() / "data" / "raw"
    if not raw.is_dir():
        return []
    return sorted(p.name for p in raw.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and not files.is_safe_name(p.name))


def unusable_folders_message() -> str:
    """One line per unusable folder of data/raw, saying how to mend it ("" when none)."""
    return "".join(
        f"warning: data/raw/{name!r} is not run or checked: a review folder's name must use "
        f"{files.NAME_RULE}. Rename the folder (e.g. to {_suggested_name(name)!r}) and its "
        "params/<review>.yaml.\n"
        for name in unusable_folders())


def _suggested_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:files.MAX_NAME_LENGTH] or "review"


def select_notebooks(
    notebooks: list[Notebook], numbers: list[str] | None = None, start: str | None = None
) -> list[Notebook]:
    """The notebooks to run: all, those with the given numbers, or `start` and every later one."""
    known = {nb.number: nb for nb in notebooks}
    wanted = [n.zfill(2) for n in (numbers or [])] + ([start.zfill(2)] if start else [])
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise InputError(
            f"no notebook numbered {', '.join(unknown)}; "
            f"notebooks: {', '.join(nb.stem for nb in notebooks) or 'none'}"
        )
    if start:
        return [nb for nb in notebooks if nb.number >= start.zfill(2)]
    if numbers:
        chosen = {n.zfill(2) for n in numbers}
        return [nb for nb in notebooks if nb.number in chosen]
    return list(notebooks)


def project_kernel() -> str:
    """The project's kernel ("metareview", installed into .venv by `make setup`) or python3."""
    from jupyter_client.kernelspec import KernelSpecManager

    return PROJECT_KERNEL if PROJECT_KERNEL in KernelSpecManager().find_kernel_specs() else (
        FALLBACK_KERNEL
    )


# --- errors ------------------------------------------------------------------------------------


class InputError(Exception):
    """Bad parameters, raw data or sheets: found before anything is written."""


class NotebookFailed(Exception):
    """A notebook raised (or its kernel died): names review, notebook and cell."""

    def __init__(
        self,
        review: str,
        notebook: str,
        cell: int | None,
        first_line: str,
        error: str,
        kept: Path | None,
        skipped: list[str],
    ):
        self.review = review
        self.notebook = notebook
        self.cell = cell
        self.first_line = first_line
        self.error = error
        self.kept = kept
        self.skipped = skipped
        super().__init__(self.message())

    def message(self) -> str:
        where = f"cell {self.cell}" if self.cell is not None else "an unknown cell"
        lines = [f"{self.review}: notebook {self.notebook} failed in {where}"]
        if self.first_line:
            lines[0] += f" (first line: {self.first_line})"
        lines.append(f"  {self.error}")
        if self.kept is not None:
            lines.append(f"  executed notebook with the error kept as {files.display_path(self.kept)}")
            page = failed_page_path(self.kept)
            if page.is_file():
                lines.append(f"  and as a page with its code: {files.display_path(page)}")
        after = f"; not run: {', '.join(self.skipped)}" if self.skipped else ""
        lines.append(f"  no report written for {self.notebook}{after}")
        return "\n".join(lines)

    def __reduce__(self):  # lets the exception cross the process boundary of the pool
        return (
            NotebookFailed,
            (self.review, self.notebook, self.cell, self.first_line, self.error, self.kept,
             self.skipped),
        )


# --- input checks ------------------------------------------------------------------------------


def parse_overrides(pairs: list[str] | None) -> dict:
    """`-p name=value` pairs -> {name: "value"}; `load_params` reads and checks the values."""
    overrides = {}
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"parameter {pair!r} is not of the form name=value")
        overrides[name.strip()] = text.strip()
    return overrides


def check_inputs(review: str, overrides: dict | None = None) -> dict:
    """Validate parameters, checksums and sheets of `review`; return the notebook parameters.

    Raises InputError with the message of the first failing check (each check lists all of
    its own problems).
    """
    from metareview.review import checksums, params, sheets

    raw = files.raw_dir(review)
    if not raw.is_dir():
        known = ", ".join(discover_reviews()) or "none"
        raise InputError(f"{review}: no review folder {files.display_path(raw)} (reviews: {known})")
    path = files.params_path(review)
    if not path.is_file():
        raise InputError(f"{review}: no parameter file {files.display_path(path)}")
    found = {}
    checks = (  # (what the result is kept as, the label of a problem, the check)
        ("parameters", "parameters",
         lambda: params.load_params(review, path=path, overrides=overrides)),
        # sheets before checksums: the checksum message (which says how to accept a change)
        # must never come for sheets that are not valid
        ("sheets", "sheets", lambda: sheets.load_review(raw)),
        # the parameters' study ids are checked against the validated studies.csv
        ("study ids", "parameters", lambda: params.check_study_ids(
            found["parameters"], found["sheets"].studies["study_id"],
            files.display_path(path))),
        ("checksums", "checksums", lambda: checksums.verify(raw)),
    )
    for key, label, check in checks:
        try:
            found[key] = check()
        except (ValueError, OSError, KeyError, TypeError) as exc:
            raise InputError(f"{review}: {label}: {exc}") from None
    values = dict(found["parameters"])
    if values.get("review", review) != review:
        raise InputError(
            f"{review}: parameter review is {values['review']!r} in {files.display_path(path)}; "
            f"it must name its own review ({review!r})"
        )
    values["review"] = review
    return values


def effective_overrides(review: str, overrides: dict | None, values: dict) -> dict:
    """{name: value} of the `-p` overrides that change a value of params/<review>.yaml (an
    override equal to the file's value is no override): what marks a run as overridden."""
    if not overrides:
        return {}
    from metareview.review import params

    from_file = params.load_params(review, path=files.params_path(review))
    names = sorted({params.read_as(name) for name in overrides})  # -p alpha=... sets level
    return {name: values[name] for name in names
            if name in values and from_file.get(name) != values[name]}


def check_start(review: str, values: dict, first: Notebook, overridden: dict) -> None:
    """Refuse a run that starts after the notebook where one of its parameters acts (e.g.
    `--from 03 -p exclude_studies=[...]`: studies are excluded in 02): InputError naming where
    to set it. Nothing has been written yet."""
    from metareview.run import upstream

    conflicts = upstream.parameter_conflicts(review, values, first.number, overridden)
    if conflicts:
        raise InputError(f"{review}: " + "\n  ".join(conflicts))


def overrides_text(overrides: dict) -> str:
    """"tau2_method=DL, paired_r=0.8": the overrides as they are typed after `-p`."""
    from metareview.run import upstream

    return ", ".join(f"{name}={upstream.shown(value)}" for name, value in sorted(overrides.items()))


# --- what a notebook wrote ---------------------------------------------------------------------


RUNNER_FILE = re.compile(r"^\d{2}_[A-Za-z0-9_-]+(\.FAILED)?\.(ipynb|html)$")


def _managed_by_runner(path: Path, review_reports: Path) -> bool:
    """Reports and executed notebooks belong to the runner, not to a notebook's outputs."""
    return path.parent == review_reports and bool(RUNNER_FILE.match(path.name))


def snapshot(review: str) -> dict[Path, tuple[int, int]]:
    """Every file under processed/<review> and reports/<review> a notebook may have written."""
    state = {}
    review_reports = files.reports_dir(review)
    for base in (files.processed_dir(review), review_reports):
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            if any(part.startswith(".") for part in path.relative_to(base).parts):
                continue
            if path.is_file() and not _managed_by_runner(path, review_reports):
                stat = path.stat()
                state[path] = (stat.st_mtime_ns, stat.st_size)
    return state


def _manifest_path(review: str, notebook: Notebook) -> Path:
    return files.reports_dir(review) / OUTPUTS_MANIFEST_DIR / f"{notebook.stem}.txt"


def _write_manifest(review: str, notebook: Notebook, written: list[Path]) -> None:
    root = files.repo_root()
    lines = sorted(str(p.relative_to(root)) for p in written)
    files.write_text("".join(f"{line}\n" for line in lines), _manifest_path(review, notebook),
                     within=files.reports_dir(review))


def invalidate(review: str, notebooks: list[Notebook]) -> None:
    """Remove the reports and last outputs of `notebooks`, so that nothing stale looks current.

    Every report goes first (a report is what marks a notebook as done), then the files each
    notebook wrote last time, as its manifest lists them; a manifest line that points outside
    the review's folders is ignored, never followed."""
    root = files.repo_root()
    reports = files.reports_dir(review)
    for nb in notebooks:
        for suffix in (".html", ".ipynb", ".FAILED.ipynb", ".FAILED.html"):
            (reports / f"{nb.stem}{suffix}").unlink(missing_ok=True)
    own = (files.processed_dir(review), reports)
    for nb in notebooks:
        manifest = _manifest_path(review, nb)
        if manifest.is_file():
            for line in manifest.read_text(encoding="utf-8").splitlines():
                target = root / line.strip()
                if line.strip() and any(_lies_in(target, folder) for folder in own):
                    target.unlink(missing_ok=True)
            manifest.unlink()
        _inputs_path(review, nb).unlink(missing_ok=True)
        override_stamp(review, nb).unlink(missing_ok=True)


def _lies_in(path: Path, folder: Path) -> bool:
    try:
        files.inside(path, folder)
    except files.OutsideFolderError:
        return False
    return True


# --- executing one notebook --------------------------------------------------------------------

REMOTE_PATTERNS = (
    re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?\s*(?:https?:)?//", re.I),
    re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?\s*(?:https?:)?//", re.I),
    re.compile(r"<(?:img|iframe|source|video|audio|embed)\b[^>]*\bsrc\s*=\s*[\"']?\s*(?:https?:)?//",
               re.I),
    re.compile(r"@import\s+(?:url\()?\s*[\"']?\s*(?:https?:)?//", re.I),
    re.compile(r"url\(\s*[\"']?\s*(?:https?:)?//", re.I),
    re.compile(r"\bimport\(\s*[\"'](?:https?:)?//", re.I),
)


def remote_references(html: str) -> list[str]:
    """Scripts, style sheets, fonts or images that `html` would fetch from the network.

    Ordinary links (`<a href="https://doi.org/...">`) are fine: they load nothing by themselves.
    """
    found = []
    for pattern in REMOTE_PATTERNS:
        for match in pattern.finditer(html):
            found.append(html[match.start() : match.end() + 60].split("\n")[0])
    return found


@functools.lru_cache(maxsize=2)
def _html_exporter(with_code: bool = False):
    """One exporter per process and kind: loading the templates once saves time on every
    notebook. Reports hide the code; the page of a failed notebook shows it (and the prompts),
    so that the failing cell can be read beside its traceback."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name=OFFLINE_TEMPLATE,
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=not with_code,
        exclude_input_prompt=not with_code,
        exclude_output_prompt=not with_code,
        embed_images=True,  # markdown images become data URIs too
    )


def export_html(nb, title: str, with_code: bool = False) -> str:
    """The executed notebook as an offline HTML page with the code hidden (shown `with_code`).

    Built on nbconvert's lab template (its CSS is inlined) with the blocks that load require.js,
    MathJax, mermaid and the widget manager from CDNs removed; figures are embedded as base64.
    """
    resources = {"metadata": {"name": title, "path": str(files.notebooks_dir())}}
    body, _ = _html_exporter(with_code).from_notebook_node(nb, resources=resources)
    body = add_table_of_contents(body)
    remote = remote_references(body)
    if remote:
        raise RuntimeError(
            f"the report {title} would load resources from the network: " + "; ".join(remote[:5])
        )
    return body


_HEADING = re.compile(r'<h2 id="(?P<id>[^"]+)"[^>]*>(?P<text>.*?)(?:<a class="anchor-link".*?</a>)?</h2>',
                      re.S)
_FIRST_TITLE_END = re.compile(r"</h1>")


def add_table_of_contents(html: str) -> str:
    """Insert, after the report's title, a list of links to its sections (its h2 headings)."""
    entries = [(m["id"], re.sub(r"<[^>]+>", "", m["text"]).strip())
               for m in _HEADING.finditer(html)]
    title = _FIRST_TITLE_END.search(html)
    if len(entries) < 2 or title is None:
        return html
    items = "".join(f'<li><a href="#{anchor}">{text}</a></li>' for anchor, text in entries)
    toc = f'<nav class="report-toc"><strong>Contents</strong><ol>{items}</ol></nav>'
    return html[: title.end()] + toc + html[title.end():]


FAILED_BANNER = (
    '<div class="run-failed" role="alert" style="border:2px solid #a40000;background:#fff3f3;'
    'padding:.5rem 1rem;margin:1rem auto;max-width:72rem;font-family:system-ui,sans-serif">'
    "<strong>{stem} of {review} failed in {where}: <code>{error}</code></strong><br>This is not "
    "a report: it is the executed notebook up to the error, with its code. Fix the cause and run "
    "<code>make reports</code>, which resumes at this notebook. The notebook itself is "
    '<a href="{notebook}">{notebook}</a> (open it with <code>make lab</code>).</div>'
)


def failed_page_path(kept: Path) -> Path:
    """reports/<review>/NN_name.FAILED.html beside NN_name.FAILED.ipynb."""
    return kept.with_name(kept.name.removesuffix(".ipynb") + ".html")


def write_failed_page(review: str, kept: Path, cell: int | None, error: str) -> Path | None:
    """The failed notebook `kept` as an offline HTML page with its code and a banner naming the
    cell and the error, beside it; None when it cannot be exported (the .ipynb stays)."""
    import html as html_module

    import nbformat

    stem = kept.name.removesuffix(".FAILED.ipynb")
    try:
        page = export_html(nbformat.read(kept, as_version=4), f"{stem} (failed)", with_code=True)
    except Exception:  # an export that fails must not hide the notebook's own failure
        return None
    banner = FAILED_BANNER.format(
        stem=html_module.escape(stem), review=html_module.escape(review),
        where=f"cell {cell}" if cell is not None else "an unknown cell",
        error=html_module.escape(error), notebook=html_module.escape(kept.name))
    found = _BODY_TAG.search(page)
    page = page[: found.end()] + banner + page[found.end():] if found else banner + page
    reports = files.reports_dir(review)
    return Path(files.write_text(page, failed_page_path(kept), within=reports))


def _failing_cell(notebook: Notebook, source: str) -> int | None:
    """1-based position, in the notebook as authored, of the cell whose source is `source`."""
    import nbformat

    original = nbformat.read(notebook.path, as_version=4)
    for position, cell in enumerate(original.cells, start=1):
        if cell.cell_type == "code" and cell.source == source:
            return position
    return None


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:100]
    return ""


def _exception_line(error) -> str:
    """The last line of the traceback, e.g. 'ZeroDivisionError: division by zero'."""
    if getattr(error, "ename", None):
        evalue = str(error.evalue).strip().splitlines()
        return f"{error.ename}: {evalue[-1] if evalue else ''}".rstrip(": ")
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}".rstrip(": ")


IMPORT_LINE = re.compile(
    r"^\s*(?:import\s+(?P<modules>[\w., ]+?)|from\s+(?P<package>[\w.]+)\s+import\s+(?P<names>[\w, ]+))"
    r"\s*(?:#.*)?$",
    re.M,
)


def imported_modules(notebook: Notebook) -> list[str]:
    """Modules the notebook's code cells import (`import a.b`, `from a import b` -> a, a.b)."""
    import nbformat

    found: list[str] = []
    for cell in nbformat.read(notebook.path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for match in IMPORT_LINE.finditer(cell.source):
            if match["modules"]:
                found += [part.split(" as ")[0].strip() for part in match["modules"].split(",")]
            else:
                found.append(match["package"])
                # `from pkg import name` may name a submodule: try it too (failures are ignored)
                found += [
                    f"{match['package']}.{name.strip()}"
                    for name in match["names"].split(",") if name.strip()
                ]
    return list(dict.fromkeys(m for m in found if m and not m.startswith(".")))


class WarmKernel:
    """A kernel started ahead of its notebook, with the notebook's imports already loaded.

    Starting a kernel and importing pandas, SciPy and matplotlib takes seconds; the runner
    starts the next notebook's kernel while the current notebook runs, so that this time
    overlaps with useful work. The preloading only fills Python's module cache, in a throwaway
    namespace: the notebook's own variables are exactly those of a fresh kernel, and each
    notebook still gets a kernel of its own (no state is shared between notebooks).
    """

    def __init__(self, kernel: str, modules: list[str]):
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync
        from traitlets.config import Config

        loader = (
            "import importlib\n"
            f"for _name in {modules!r}:\n"
            "    try:\n"
            "        importlib.import_module(_name)\n"
            "    except Exception:\n"
            "        pass\n"
        )
        # run in a throwaway namespace: nothing is defined in the notebook's namespace
        preload = f"exec({loader!r}, {{}})"
        self.km = AsyncKernelManager(
            kernel_name=kernel,
            # encrypt the kernel's local sockets when the kernel supports it (this also keeps
            # the kernel from warning about plain-text TCP on every start)
            config=Config({"KernelManager": {"transport_encryption": "auto"}}),
        )
        # exec_lines run before the kernel answers its first request, so nbclient's
        # wait-for-ready returns once the imports are done
        run_sync(self.km.start_kernel)(
            cwd=str(files.repo_root()),
            extra_arguments=[f"--IPKernelApp.exec_lines={preload}"],
            # progress bars of the reports go to the terminal, never into a report
            # (metareview.report.progress)
            env={**os.environ, RUNNER_ENV: "1"},
        )

    def shutdown(self) -> None:
        from jupyter_core.utils import run_sync

        try:
            if self.km.has_kernel:
                run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:  # a kernel that is already gone needs no shutdown
            pass


def execute(
    review: str, notebook: Notebook, params: dict, kernel: str, later: list[str],
    warm: WarmKernel | None = None, report: bool = True,
) -> None:
    """Execute one notebook and write its report (with `report` False the executed notebook is
    left in .partial/ for `publish`); raise NotebookFailed on an error."""
    import logging

    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    # papermill warns about parameters a notebook does not declare; the runner deliberately
    # passes the review's full, validated parameter set to every notebook.
    logging.getLogger("papermill").setLevel(logging.ERROR)
    reports = files.reports_dir(review)
    partial = reports / PARTIAL_DIR / notebook.path.name
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.unlink(missing_ok=True)
    owned = warm is None
    warm = warm or WarmKernel(kernel, imported_modules(notebook))
    try:
        papermill.execute_notebook(
            str(notebook.path),
            str(partial),
            parameters=params,
            kernel_name=kernel,
            language="python",  # the project's kernels are Python, whatever the metadata says
            cwd=str(files.repo_root()),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            km=warm.km,
        )
    except Exception as exc:
        if owned:
            warm.shutdown()
        kept = None
        if partial.is_file():
            kept = reports / f"{notebook.stem}.FAILED.ipynb"
            os.replace(partial, kept)
        source = getattr(exc, "source", "") if isinstance(exc, PapermillExecutionError) else ""
        cell = _failing_cell(notebook, source) if source else None
        if kept is not None:
            write_failed_page(review, kept, cell, _exception_line(exc))
        raise NotebookFailed(
            review, notebook.stem, cell, _first_line(source), _exception_line(exc), kept, later
        ) from None
    if owned:
        warm.shutdown()
    if report:
        publish(review, notebook, later)


OVERRIDE_BANNER = (
    '<div class="run-overridden" role="note" style="border:2px solid #a40000;background:#fff3f3;'
    'padding:.5rem 1rem;margin:1rem auto;max-width:72rem;font-family:system-ui,sans-serif">'
    "<strong>Run with parameter overrides: <code>{text}</code>.</strong> These are not the "
    "results of "
    "params/{review}.yaml; <code>make reports</code> runs the review again with that file.</div>"
)
_BODY_TAG = re.compile(r"<body\b[^>]*>", re.I)


def mark_overridden(html: str, review: str, overrides: dict) -> str:
    """The report with a banner under its opening <body> tag naming the overrides."""
    import html as html_module

    banner = OVERRIDE_BANNER.format(text=html_module.escape(overrides_text(overrides)),
                                    review=html_module.escape(review))
    found = _BODY_TAG.search(html)
    return html[: found.end()] + banner + html[found.end():] if found else banner + html


def override_stamp(review: str, notebook: Notebook) -> Path:
    """reports/<review>/.outputs/NN_name.overridden: present, and newer than the report, when
    the notebook ran with overrides. It is a prerequisite of the report in the Makefile, so
    `make reports` runs the notebook again with params/<review>.yaml."""
    return files.reports_dir(review) / OUTPUTS_MANIFEST_DIR / f"{notebook.stem}.overridden"


def publish(review: str, notebook: Notebook, later: list[str],
            overrides: dict | None = None) -> None:
    """Export an executed notebook (left in .partial/ by `execute`) to its HTML report and move
    both to their final names; raise NotebookFailed if the export fails. With `overrides`, the
    report says so in a banner and its override stamp is written after it."""
    import nbformat

    reports = files.reports_dir(review)
    partial = reports / PARTIAL_DIR / notebook.path.name
    executed = nbformat.read(partial, as_version=4)
    try:
        html = export_html(executed, notebook.stem)
    except Exception as exc:
        kept = reports / f"{notebook.stem}.FAILED.ipynb"
        os.replace(partial, kept)
        raise NotebookFailed(
            review, notebook.stem, None, "", f"HTML export: {_exception_line(exc)}", kept, later
        ) from None
    if overrides:
        html = mark_overridden(html, review, overrides)
    # the executed notebook first, the HTML (Make's target) last: the HTML marks completion
    os.replace(partial, files.inside(reports / notebook.path.name, reports))
    report = files.write_text(html, reports / f"{notebook.stem}.html", within=reports)
    if overrides:
        stamp = files.write_text(overrides_text(overrides) + "\n",
                                 override_stamp(review, notebook), within=reports)
        # one second newer than the report, whatever the file system's time resolution
        later_ns = Path(report).stat().st_mtime_ns + 1_000_000_000
        os.utime(stamp, ns=(later_ns, later_ns))


# Run before each notebook after the first in a review's kernel: a fresh namespace and
# execution count, no figure left open, pandas' display options back to their defaults. The
# module cache is kept: that is the point of sharing the kernel.
RESET_KERNEL = (
    "get_ipython().reset(new_session=True, aggressive=False)\n"
    "import sys as _sys\n"
    "if 'matplotlib.pyplot' in _sys.modules:\n"
    "    _sys.modules['matplotlib.pyplot'].close('all')\n"
    "if 'pandas' in _sys.modules:\n"
    "    _sys.modules['pandas'].reset_option('all')\n"
    "del _sys\n"
)


def reset_kernel(warm: WarmKernel, timeout: float = 60) -> None:
    """Give the next notebook a clean namespace in the review's kernel (see RESET_KERNEL).

    The reset goes over the shell channel alone, as a silent execute request, and waits for its
    reply. A client's `wait_for_ready` would also drain IOPub for 0.2 s each time; the kernel is
    known to be up (the previous notebook just ran in it) and a silent request publishes no
    output, so neither IOPub nor that wait is needed.
    """
    _silent_request(warm, RESET_KERNEL, "the reset", timeout)


def wait_until_ready(warm: WarmKernel, timeout: float = 120) -> float:
    """Wait until the kernel has imported the notebooks' stack (its exec_lines run before it
    answers any request); return the seconds waited. Lets the runner say "kernel ready"
    instead of folding the start-up into the first notebook's time without a word."""
    start = time.perf_counter()
    _silent_request(warm, "pass", "its first request", timeout)
    return time.perf_counter() - start


def _silent_request(warm: WarmKernel, code: str, what: str, timeout: float) -> None:
    from jupyter_core.utils import run_sync

    client = warm.km.client()
    client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        msg_id = client.execute(code, silent=True, store_history=False)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"the kernel did not answer {what} within {timeout:g} s")
            try:
                reply = run_sync(client.get_shell_msg)(timeout=remaining)
            except queue.Empty:
                continue  # the deadline check above reports it
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        if reply["content"].get("status") != "ok":
            raise RuntimeError(f"the kernel refused {what}: {reply['content']}")
    finally:
        client.stop_channels()


def run_review(
    review: str,
    params: dict,
    notebooks: list[Notebook],
    downstream: list[Notebook],
    kernel: str,
    first_kernel: WarmKernel | None = None,
    overrides: dict | None = None,
) -> list[tuple[str, float]]:
    """Run `notebooks` of one review in order; return (notebook, seconds) per notebook.

    `downstream` are all notebooks from the first selected one to the last: they are
    invalidated first, because they depend on what the selected ones write. The notebooks of a
    review share one kernel, started (with their imports) while the inputs are checked; before
    each notebook after the first, the kernel's namespace is reset, so that every notebook
    sees only its own variables, as in a fresh kernel, while the stack is imported once.
    `first_kernel`, if given, is that already started kernel.

    The run holds the review's lock (`locks.ReviewLock`: a second run waits for it), marks
    the review as running in `.runs/<review>.running` until it ends, and rewrites the index page
    when it starts and when it ends, so that the index never shows the reports or key results
    of an earlier run as current while this one replaces them (nor after an interruption). An
    interruption (Ctrl-C, SIGTERM) removes what the current notebook wrote and is recorded as
    a failure; a folder that cannot be written is a `RunFailed` naming it.

    `overrides` ({name: value}, from `effective_overrides`) are recorded with each notebook's
    inputs and mark its report (`publish`), data/processed/<review>/ (`mark_processed`) and the
    index as a run with overrides.
    """
    try:
        held = contextlib.ExitStack()
        try:
            held.enter_context(locks.ReviewLock(review))
        except OSError as error:  # .runs/ cannot be written: nothing can be run or recorded
            if first_kernel is not None:
                first_kernel.shutdown()
            lock = locks.lock_path(review)
            where = files.display_path(error.filename or lock)
            failure = RunFailed(review, f"{review}: cannot write {where} (for the run's lock "
                                f"{files.display_path(lock)}): {error.strerror or error}. Make "
                                f"{files.display_path(files.runs_dir())} a writable folder (or "
                                "free disk space) and run `make reports` again; nothing was "
                                "run or removed.")
            _record_failure(review, failure.message())
            raise failure from None
        with held:
            try:
                timings = _run_locked(review, params, notebooks, downstream, kernel,
                                      first_kernel, overrides or {})
            except (NotebookFailed, RunFailed) as failure:
                _record_failure(review, failure.message())
                raise
        failure_path(review).unlink(missing_ok=True)
        return timings
    finally:
        refresh_index()


def _run_locked(review, params, notebooks, downstream, kernel, first_kernel, overrides):
    try:
        prepare_folders(review)
    except RunFailed:
        if first_kernel is not None:
            first_kernel.shutdown()
        raise
    timings = []
    warm = None
    exporter = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    pending = None
    current, before = None, {}
    try:
        inputs = {**current_inputs(review), "parameters": dict(params),
                  "overrides": dict(overrides)}
        files.write_text(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n", running_path(review),
                         within=files.runs_dir())
        invalidate(review, downstream)
        mark_processed(review)
        # the index without the reports just removed, built (its first build imports the report
        # layer, seconds) while the kernel starts rather than before; done before 01 runs
        indexed = exporter.submit(refresh_index)
        modules = list(dict.fromkeys(m for nb in notebooks for m in imported_modules(nb)))
        warm = first_kernel or WarmKernel(kernel, modules)
        waited = wait_until_ready(warm)
        indexed.result()
        print(f"{review} kernel ready (waited {waited:.1f} s for it to import the stack, once "
              f"for {len(notebooks)} notebook{'s' if len(notebooks) != 1 else ''})", flush=True)
        # A notebook's HTML export runs in this process while the kernel runs the next notebook
        # (two processes, two cores); at most one export is pending, so a failed export stops
        # the review one notebook later at most, and every report is written before this
        # returns.
        for position, notebook in enumerate(notebooks):
            later = [nb.stem for nb in notebooks[position + 1 :]]
            current, before = notebook, snapshot(review)
            print(f"{review} {notebook.stem}  started {time.strftime('%H:%M:%S')}", flush=True)
            start = time.perf_counter()
            try:
                if position:
                    reset_kernel(warm)
                execute(review, notebook, params, kernel, later, warm, report=False)
            except NotebookFailed:
                _remove_written_since(review, before)
                if pending is not None:
                    pending.result()
                raise
            if pending is not None:
                pending.result()
            pending = exporter.submit(publish, review, notebook, later, overrides)
            seconds = time.perf_counter() - start
            after = snapshot(review)
            _write_manifest(review, notebook, [p for p, s in after.items() if before.get(p) != s])
            write_inputs(review, notebook, inputs)
            mark_processed(review)
            current = None
            print(f"{review} {notebook.stem}  done in {seconds:.1f} s", flush=True)
            timings.append((notebook.stem, seconds))
        if pending is not None:
            pending.result()
    except OSError as error:
        if current is not None:
            _remove_written_since(review, before)
        where = files.display_path(error.filename) if error.filename else "a file"
        during = (f"during {current.stem}, whose outputs were removed; no later notebook ran"
                  if current is not None else "before the next notebook started")
        raise RunFailed(review, f"{review}: cannot write {where}: {error.strerror or error} "
                        f"({during}). Check the folder's permissions and the free disk space, "
                        "then run `make reports` again.") from None
    except (KeyboardInterrupt, SystemExit) as stop:
        if current is not None:
            _remove_written_since(review, before)
            (files.reports_dir(review) / PARTIAL_DIR / current.path.name).unlink(
                missing_ok=True)
        why = "Ctrl-C" if isinstance(stop, KeyboardInterrupt) else "stopped"
        during = f" during {current.stem}" if current is not None else ""
        _record_failure(review, f"{review}: the run was interrupted ({why}){during}; what "
                        "that notebook had written was removed and no later notebook ran. "
                        "Run `make reports` again.")
        raise
    finally:
        exporter.shutdown(wait=True)
        if warm is not None:
            warm.shutdown()
        elif first_kernel is not None:
            first_kernel.shutdown()
        running_path(review).unlink(missing_ok=True)
    return timings


def _remove_written_since(review: str, before: dict) -> None:
    """What a notebook wrote before failing is incomplete: remove it."""
    for path, state in snapshot(review).items():
        if before.get(path) != state:
            path.unlink(missing_ok=True)


class RunFailed(Exception):
    """A review's run stopped outside a notebook (a folder it cannot write)."""

    def __init__(self, review: str, text: str):
        self.review, self.text = review, text
        super().__init__(text)

    def message(self) -> str:
        return self.text

    def __reduce__(self):
        return (RunFailed, (self.review, self.text))


def running_path(review: str) -> Path:
    """`.runs/<review>.running`: present while a run of the review is under way, and left
    behind by a run that was killed before it could clean up (the index says so)."""
    return files.runs_dir() / f"{files.check_name(review, 'review name')}.running"


def prepare_folders(review: str) -> None:
    """Create the folders a run writes, check that each can be written, and remove the stray
    `.partial` notebooks and temporary files an interrupted run left; raise RunFailed naming a
    folder that cannot be written (before anything of the review is invalidated)."""
    folders = (files.processed_dir(review), files.reports_dir(review), files.runs_dir(),
               files.reports_dir())
    for folder in folders:
        probe = folder / f".write-test.{os.getpid()}.tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise RunFailed(review, f"{review}: cannot write to {files.display_path(folder)}: "
                            f"{error.strerror or error}. Make the folder writable (or free "
                            "disk space) and run `make reports` again; nothing was run or "
                            "removed.") from None
    for folder in folders[:2]:
        for stray in folder.rglob(".*.tmp"):
            if stray.is_file():
                stray.unlink(missing_ok=True)
    partial = files.reports_dir(review) / PARTIAL_DIR
    if partial.is_dir():
        for stray in partial.iterdir():
            if stray.is_file():
                stray.unlink(missing_ok=True)


def refresh_index() -> None:
    """Rewrite reports/index.html from what exists now (never stops a run)."""
    try:
        from metareview.run import record

        record.write_index(discover_reviews())
    except Exception:  # the index is rebuilt by `make reports` in any case
        pass


# --- what a run was built from -------------------------------------------------------------


def current_inputs(review: str) -> dict:
    """The raw files' SHA-256 and the parameter file's, as they are now."""
    import hashlib

    from metareview.review import checksums

    raw = files.raw_dir(review)
    params_file = files.params_path(review)
    return {"raw": checksums.compute(raw) if raw.is_dir() else {},
            "params": hashlib.sha256(params_file.read_bytes()).hexdigest()
            if params_file.is_file() else None}


def _inputs_path(review: str, notebook: Notebook) -> Path:
    return files.reports_dir(review) / OUTPUTS_MANIFEST_DIR / f"{notebook.stem}.inputs.json"


def write_inputs(review: str, notebook: Notebook, inputs: dict | None = None) -> None:
    """Record what `notebook` of `review` was run on (`current_inputs` by default), beside
    its manifest; `make check` compares it with today's raw data (`stale_reports`)."""
    files.write_json(current_inputs(review) if inputs is None else inputs,
                     _inputs_path(review, notebook), within=files.reports_dir(review))


def stale_reports(review: str) -> list[str]:
    """Why reports of `review` are stale: one line per reason (other raw data, another
    parameter file, no record), naming the notebooks whose report exists but whose run used
    other inputs than today's."""
    import json

    now = current_inputs(review)
    no_record, other_params, changed_files, other_raw = [], [], set(), []
    for nb in discover_notebooks():
        if not (files.reports_dir(review) / f"{nb.stem}.html").is_file():
            continue
        try:
            used = json.loads(_inputs_path(review, nb).read_text(encoding="utf-8"))
            old = dict(used.get("raw", {}))
        except (OSError, ValueError, TypeError, AttributeError):
            no_record.append(nb.stem)
            continue
        changed = {n for n in set(old) | set(now["raw"]) if old.get(n) != now["raw"].get(n)}
        if changed:
            other_raw.append(nb.stem)
            changed_files |= changed
        elif used.get("params") != now["params"]:
            other_params.append(nb.stem)
    lines = []
    if other_raw:
        names = sorted(changed_files)
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        lines.append(f"stale: {', '.join(other_raw)} ran on other raw data than today's "
                     f"(changed since: {shown}), so the processed tables and reports predate "
                     "the data: rerun `make reports`")
    if other_params:
        lines.append(f"stale: {', '.join(other_params)} ran with another params/{review}.yaml:"
                     " rerun `make reports`")
    if no_record:
        lines.append(f"stale: {', '.join(no_record)} left no record of the raw data it ran "
                     "on: rerun `make reports`")
    return lines


def run_overrides(review: str, with_report: bool = True) -> dict[str, dict]:
    """{notebook stem: {name: value}} of the notebooks of `review` whose last run had `-p`
    overrides (as their recorded inputs say) and, `with_report`, whose report exists."""
    import json

    found = {}
    for nb in discover_notebooks():
        if with_report and not (files.reports_dir(review) / f"{nb.stem}.html").is_file():
            continue
        try:
            used = json.loads(_inputs_path(review, nb).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        overrides = used.get("overrides") if isinstance(used, dict) else None
        if isinstance(overrides, dict) and overrides:
            found[nb.stem] = overrides
    return found


def overrides_summary(review: str, with_report: bool = True) -> str:
    """"tau2_method=DL" (or "tau2_method=DL in 04_subgroups, 05_safety; ..." when the
    notebooks ran with different ones); "" when no notebook of `review` had overrides."""
    found = run_overrides(review, with_report)
    if not found:
        return ""
    texts = {stem: overrides_text(o) for stem, o in found.items()}
    if len(set(texts.values())) == 1 and len(found) == len(discover_notebooks()):
        return next(iter(texts.values()))
    by_text: dict[str, list[str]] = {}
    for stem, text in texts.items():
        by_text.setdefault(text, []).append(stem)
    return "; ".join(f"{text} in {', '.join(stems)}" for text, stems in by_text.items())


OVERRIDES_NOTE = "OVERRIDDEN.txt"


def mark_processed(review: str) -> None:
    """data/processed/<review>/OVERRIDDEN.txt: written while any notebook's last run had `-p`
    overrides (saying which), removed when none had."""
    note = files.processed_dir(review) / OVERRIDES_NOTE
    summary = overrides_summary(review, with_report=False)  # a report may still be exported
    if not summary:
        note.unlink(missing_ok=True)
        return
    files.write_text(
        f"The tables in this folder come from a run with parameter overrides: {summary}.\n"
        f"They are not the results of params/{review}.yaml; `make reports` runs the review "
        "again with that file.\n", note, within=files.processed_dir(review))


def _run_review_job(args) -> tuple[str, list[tuple[str, float]] | NotebookFailed | RunFailed]:
    review, params, notebooks, downstream, kernel, first_kernel, overrides = args
    try:
        return review, run_review(review, params, notebooks, downstream, kernel, first_kernel,
                                  overrides)
    except (NotebookFailed, RunFailed) as failure:
        return review, failure


def failure_path(review: str) -> Path:
    """`.runs/<review>.failed`: the message of a review's last failed run (removed when a run
    of it succeeds). `make reports` prints these at the end, and the index page marks the
    review, so one broken review neither hides nor stops the others."""
    return files.runs_dir() / f"{files.check_name(review, 'review name')}.failed"


def _record_failure(review: str, message: str) -> None:
    try:
        files.write_text(message.rstrip("\n") + "\n", failure_path(review),
                         within=files.runs_dir())
    except OSError as error:
        print(f"error: {review}: the failure could not be recorded in "
              f"{files.display_path(files.runs_dir())}: {error.strerror or error}",
              file=sys.stderr, flush=True)


def failed_reviews() -> dict[str, str]:
    """{review: message} of the reviews whose last run failed."""
    folder = files.runs_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p.read_text(encoding="utf-8").strip()
            for p in sorted(folder.glob("*.failed"))}


def run(
    reviews: list[str],
    numbers: list[str] | None = None,
    start: str | None = None,
    overrides: dict | None = None,
    err=None,
) -> int:
    """Check inputs, then run the selected notebooks of every review; return the exit code.

    A review whose inputs are bad is not run (nothing of it is written) and the others still
    run; the exit code is 2 when some review had bad inputs, else 1 when a notebook failed.
    """
    err = err or sys.stderr
    early = None
    # folders of data/raw that no run can include are said once per `make reports` (by its
    # recipe) or once per direct call of the runner
    if not os.environ.get("MAKELEVEL"):
        print(unusable_folders_message(), end="", file=err, flush=True)
    try:
        # names come from a command line: checked before any path is built from them
        for review in reviews:
            files.check_name(review, "review name")
        all_notebooks = discover_notebooks()
        if not all_notebooks:
            raise InputError(
                f"no notebooks NN_name.ipynb in {files.display_path(files.notebooks_dir())}")
        chosen = select_notebooks(all_notebooks, numbers, start)
    except (InputError, files.UnsafeNameError) as exc:
        print(f"error: {exc}\nNothing was run or written.", file=err, flush=True)
        return EXIT_BAD_INPUT
    first = chosen[0].number
    downstream = [nb for nb in all_notebooks if nb.number >= first]
    kernel = project_kernel()
    if len(reviews) == 1:
        # one review (how Make calls the runner): its kernel starts up, and imports what the
        # notebooks import, while the inputs are checked; it is discarded if they are bad
        early = WarmKernel(kernel, list(dict.fromkeys(
            m for nb in chosen for m in imported_modules(nb))))
    bad_input = []
    params_by_review, overridden = {}, {}
    for review in reviews:
        # the first seconds of a run, said: before this line a run printed nothing until its
        # first notebook had started
        print(f"{review} checking parameters, sheets and checksums; a kernel starts meanwhile  "
              f"{time.strftime('%H:%M:%S')}", flush=True)
        checking = time.perf_counter()
        try:
            params_by_review[review] = check_inputs(review, overrides)
            overridden[review] = effective_overrides(review, overrides,
                                                     params_by_review[review])
            check_start(review, params_by_review[review], chosen[0], overridden[review])
            # the first check of a process also imports pandas and the sheet loader
            print(f"{review} inputs valid in {time.perf_counter() - checking:.1f} s", flush=True)
        except InputError as exc:
            params_by_review.pop(review, None)
            bad_input.append(review)
            print(f"error: {exc}\nNothing of {review} was run or written.", file=err,
                  flush=True)
            if files.raw_dir(review).is_dir():
                _record_failure(review, str(exc))
    if early is not None and reviews[0] in bad_input:
        early.shutdown()
        early = None

    jobs = [(r, params_by_review[r], chosen, downstream, kernel, early, overridden[r])
            for r in reviews if r in params_by_review]
    if len(jobs) == 1:
        results = [_run_review_job(jobs[0])]
    elif jobs:
        # fork: the children inherit the imported modules instead of importing them again
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        workers = min(MAX_PARALLEL_REVIEWS, len(jobs))
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = list(pool.map(_run_review_job, jobs))
    else:
        results = []
    failures = []
    for review, outcome in results:
        if isinstance(outcome, (NotebookFailed, RunFailed)):
            failures.append(outcome)  # recorded in .runs/ by run_review
    for failure in failures:
        print(f"error: {failure.message()}", file=err, flush=True)
    if bad_input:
        return EXIT_BAD_INPUT
    return EXIT_FAILED if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m metareview.run.pipeline",
        description="Run the review notebooks and write their HTML reports.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser(
        "run", help="execute notebooks of one or more reviews",
        description="Check the inputs of each review, then run its notebooks (all, --notebooks "
                    "NN ..., or --from NN on) and write their reports to reports/<review>/. "
                    "A run with -p overrides marks its reports, data/processed/<review>/ and "
                    "the index as overridden, and `make reports` runs them again with "
                    "params/<review>.yaml.")
    run_cmd.add_argument("--review", action="append", required=True,
                         help="review name (a folder of data/raw); repeat for several")
    which = run_cmd.add_mutually_exclusive_group()
    which.add_argument("--notebooks", nargs="+", metavar="NN",
                       help="run only these notebooks (by number)")
    which.add_argument("--from", dest="start", metavar="NN",
                       help="run this notebook and every later one")
    run_cmd.add_argument("-p", "--parameter", action="append", metavar="NAME=VALUE",
                         help="override a parameter of params/<review>.yaml")
    for name, text in (
            ("reviews", "list the reviews (data/raw folders with params)"),
            ("failures", "print the message of every review whose last run failed (exit 1 "
                         "if there is one)"),
            ("notebooks", "list the notebooks in run order"),
            ("folders", "warn about folders of data/raw whose names no run can use (exit 1 "
                        "if there is one)")):
        commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    args = parser.parse_args(argv)

    if args.command == "reviews":
        print("\n".join(discover_reviews()))
        return 0
    if args.command == "failures":
        failed = failed_reviews()
        for review, message in failed.items():
            print(f"{review} failed:\n{message}\n")
        return 1 if failed else 0
    if args.command == "folders":
        message = unusable_folders_message()
        print(message, end="", file=sys.stderr)
        return 1 if message else 0
    if args.command == "notebooks":
        print("\n".join(nb.stem for nb in discover_notebooks()))
        return 0
    try:
        overrides = parse_overrides(args.parameter)
    except InputError as exc:
        print(f"error: {exc}\nNothing was run or written.", file=sys.stderr)
        return EXIT_BAD_INPUT
    reviews = list(dict.fromkeys(args.review))  # keep order, drop repeats

    def stop(signum, frame):  # SIGTERM (kill, a closed terminal) ends a run as Ctrl-C does
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        return run(reviews, args.notebooks, args.start, overrides)
    except (KeyboardInterrupt, SystemExit) as stopped:
        print(f"\ninterrupted: {', '.join(reviews)} did not run to the end (recorded in "
              ".runs/; `make reports` reruns what is missing)", file=sys.stderr, flush=True)
        return stopped.code if isinstance(stopped, SystemExit) and stopped.code else 130


if __name__ == "__main__":
    sys.exit(main())
