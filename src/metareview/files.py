"""Where generated files live, and how they are written.

Every file the pipeline or a notebook generates goes through the writers here, for two reasons:

- Atomic: the content is written to a hidden temporary file in the same folder and then moved
  over the target with `os.replace`, which is atomic on one file system. A run that is killed
  half-way leaves the previous version or nothing, never a truncated file that looks finished.
- Deterministic: the same data always gives the same bytes (fixed float format, "\\n" line ends,
  sorted JSON keys, no timestamps), so that two runs can be compared byte for byte.

Paths are relative to the repository root. The environment variable `METAREVIEW_ROOT`
overrides the root, which lets tests run the whole pipeline inside a temporary directory.

Names are data, never paths. A review folder travels between coauthors, so every name that
becomes part of a path (a review, an outcome, a study, a comparison, a figure or table name) must
pass one rule, `NAME_RULE` (`check_name`), and every writer is given the folder it writes into
and refuses a target that resolves outside it (`inside`): an outcome id `../../tmp/evil` is an
error, never a file in /tmp.

The module imports one module of the package, `metareview.stats.plain` (numpy and pandas values
made plain Python values, the conversion a result's `to_dict()` uses too); it loads neither
numpy nor pandas.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from metareview.stats.plain import plain

# One fixed format for floats in CSV files: 10 significant digits keeps far more precision than
# any reported estimate needs while making tiny floating-point noise (last-bit differences
# between machines) invisible.
CSV_FLOAT_FORMAT = "%.10g"
# Significant digits of floats in JSON records.
JSON_SIGNIFICANT_DIGITS = 12

ROOT_ENV = "METAREVIEW_ROOT"

# One rule for every name that becomes part of a file name: portable on every file system, no
# path separator, no "..", no hidden (leading-dot) files, nothing a shell or Make splits.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*", re.ASCII)
MAX_NAME_LENGTH = 80
NAME_RULE = (f"letters, digits, '-' and '_' only, starting with a letter or a digit, at most "
             f"{MAX_NAME_LENGTH} characters (no spaces, '/', '.' or other signs)")


class UnsafeNameError(ValueError):
    """A name that would become part of a path breaks `NAME_RULE`."""


class OutsideFolderError(ValueError):
    """A file would be written outside the folder it belongs in."""


def shorten(value: Any, limit: int = 60) -> str:
    """`repr(value)` cut to about `limit` characters, for messages: an error never echoes a
    whole (possibly huge or hostile) value."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def is_safe_name(name: Any) -> bool:
    """Does `name` follow `NAME_RULE`?"""
    return (isinstance(name, str) and len(name) <= MAX_NAME_LENGTH
            and SAFE_NAME.fullmatch(name) is not None)


def check_name(name: Any, what: str = "name") -> str:
    """Return `name` if it follows `NAME_RULE`, else raise `UnsafeNameError` naming `what`."""
    if not is_safe_name(name):
        raise UnsafeNameError(f"{what} {shorten(name)} cannot be used as a file name: use "
                              f"{NAME_RULE}.")
    return name


def inside(path: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """`path`, after checking that it resolves (symbolic links and `..` followed) to `folder`
    or to something under it; raise `OutsideFolderError` otherwise.

    Every writer of the package calls this with the folder its file belongs in, so that no
    name taken from data can place a file elsewhere.
    """
    target, base = Path(path), Path(folder)
    resolved, root = target.resolve(), base.resolve()
    if resolved != root and root not in resolved.parents:
        raise OutsideFolderError(f"refusing to write {target.as_posix()}: it lies outside "
                                 f"{display_path(base)} (resolved to {resolved.as_posix()}).")
    return target


# --- paths -------------------------------------------------------------------------------------


def repo_root() -> Path:
    """The repository root: `$METAREVIEW_ROOT` if set, else the folder holding `src/`."""
    override = os.environ.get(ROOT_ENV)
    if override:
        return Path(override).resolve()
    # src/metareview/files.py -> the repository root is two levels above the package
    return Path(__file__).resolve().parents[2]


def display_path(path: str | os.PathLike) -> str:
    """`path` as the user knows it: relative to the repository root (or the working directory)
    when it lies inside it, as given otherwise. Every message that names a file uses this."""
    given = Path(path)
    if not given.is_absolute():
        return given.as_posix()
    resolved = given.resolve()
    for base in (repo_root(), Path.cwd()):
        try:
            return resolved.relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return given.as_posix()


def raw_dir(review: str) -> Path:
    """`data/raw/<review>/`: the extraction sheets (read-only for code)."""
    return repo_root() / "data" / "raw" / check_name(review, "review name")


def processed_dir(review: str) -> Path:
    """`data/processed/<review>/`: tables the notebooks derive from the sheets."""
    return repo_root() / "data" / "processed" / check_name(review, "review name")


def reports_dir(review: str | None = None) -> Path:
    """`reports/` or `reports/<review>/`: HTML reports, executed notebooks, figures, tables."""
    base = repo_root() / "reports"
    return base / check_name(review, "review name") if review else base


def figures_dir(review: str) -> Path:
    """`reports/<review>/figures/`: PNG figures, and SVG of the main ones."""
    return reports_dir(review) / "figures"


def tables_dir(review: str) -> Path:
    """`reports/<review>/tables/`: CSV tables meant for coauthors."""
    return reports_dir(review) / "tables"


def params_path(review: str) -> Path:
    """`params/<review>.yaml`: the review's notebook parameters."""
    return repo_root() / "params" / f"{check_name(review, 'review name')}.yaml"


def results_path(review: str) -> Path:
    """`results/<review>.json`: the committed numeric record of the review."""
    return repo_root() / "results" / f"{check_name(review, 'review name')}.json"


def runs_dir() -> Path:
    """`.runs/`: the runner's marks of failed runs and its locks (git-ignored)."""
    return repo_root() / ".runs"


def notebooks_dir() -> Path:
    """`notebooks/`: the ordered analysis notebooks."""
    return repo_root() / "notebooks"


# --- atomic writers ----------------------------------------------------------------------------


def write_bytes(data: bytes, path: str | os.PathLike, within: str | os.PathLike | None = None
                ) -> Path:
    """Write `data` to `path` atomically (hidden temporary file, then `os.replace`).

    `within`: the folder the file belongs in; a `path` resolving outside it is refused
    (`inside`) before anything is written. Every writer of the package passes it.
    """
    path = Path(path) if within is None else inside(path, within)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # os.open with mode 0o666 lets the umask decide the permissions, as for any ordinary file
    # (tempfile would create it readable by the owner only).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(text: str, path: str | os.PathLike, within: str | os.PathLike | None = None
               ) -> Path:
    """Write UTF-8 text atomically; line ends are written exactly as given ("\\n")."""
    return write_bytes(text.encode("utf-8"), path, within)


# A spreadsheet reads a cell that starts with one of these as a formula (`=HYPERLINK(...)`,
# `+cmd|' /C calc'!A0`, `@SUM(...)`), also after a tab or carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|nan)",
                           re.ASCII | re.IGNORECASE)


def neutralise_cell(value: Any) -> Any:
    """`value` safe to open in a spreadsheet: text that starts like a formula gets a leading
    apostrophe (OWASP's rule for CSV injection), so the spreadsheet shows it as text; numbers,
    and text that is a plain number ("-0.52"), are left as they are."""
    if (isinstance(value, str) and value.startswith(FORMULA_STARTS)
            and not _PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def neutralise_csv_text(text: str) -> str:
    """Every cell of a CSV text through `neutralise_cell` (for files shipped to coauthors)."""
    import io

    rows = list(csv.reader(io.StringIO(text, newline="")))
    out = io.StringIO()
    has_cr = any("\r" in cell for row in rows for cell in row)
    csv.writer(out, lineterminator="\n",
               quoting=csv.QUOTE_ALL if has_cr else csv.QUOTE_MINIMAL).writerows(
        [[neutralise_cell(cell) for cell in row] for row in rows])
    return out.getvalue()


def write_csv(df, path: str | os.PathLike, within: str | os.PathLike | None = None,
              spreadsheet: bool = False) -> Path:
    """Write a DataFrame as CSV atomically and deterministically.

    No index, "\\n" line ends, floats with `CSV_FLOAT_FORMAT`, missing values as empty cells,
    negative zero written as 0 (it is the same number, and "-0" would differ from run to run
    depending on rounding paths). `spreadsheet`: the table is for coauthors, who open it in a
    spreadsheet: text cells that start like a formula are neutralised (`neutralise_cell`);
    numeric columns are written as numbers either way. Processed tables, which the pipeline
    reads back, keep every text as it is.
    """
    import pandas as pd  # local import: importing this module stays cheap

    frame = pd.DataFrame(df).copy()
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column].dtype):
            frame[column] = frame[column].where(frame[column] != 0, 0.0)
        elif spreadsheet and not pd.api.types.is_numeric_dtype(frame[column].dtype):
            frame[column] = frame[column].map(neutralise_cell)
    if spreadsheet:
        frame.columns = [neutralise_cell(str(c)) for c in frame.columns]
    # Python's csv writer (3.11) leaves a field holding a bare carriage return unquoted when
    # lines end in "\n", and readers then split the row there; such a file quotes every field.
    has_cr = any(isinstance(v, str) and "\r" in v
                 for column in frame.columns
                 if not pd.api.types.is_numeric_dtype(frame[column].dtype)
                 for v in frame[column]) or any("\r" in str(c) for c in frame.columns)
    text = frame.to_csv(
        index=False, lineterminator="\n", float_format=CSV_FLOAT_FORMAT, na_rep="",
        quoting=csv.QUOTE_ALL if has_cr else csv.QUOTE_MINIMAL,
    )
    return write_text(text, path, within)


def format_float(value: float) -> str:
    """A float as JSON text with `JSON_SIGNIFICANT_DIGITS` significant digits.

    The text always reads back as a float ("2.0", not "2"); NaN and infinities, which JSON
    cannot hold, must be handled by the caller.
    """
    if value == 0:
        return "0.0"
    text = format(value, f".{JSON_SIGNIFICANT_DIGITS}g")
    if not any(ch in text for ch in ".en"):
        text += ".0"
    return text


def dumps_json(obj: Any, indent: int = 2) -> str:
    """Deterministic JSON text: sorted keys, fixed float format, NaN as null, trailing newline."""

    def encode(value: Any, level: int) -> str:
        value = plain(value)
        pad = " " * (indent * (level + 1))
        end = " " * (indent * level)
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return "null" if not math.isfinite(value) else format_float(value)
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, dict):
            if not value:
                return "{}"
            items = sorted((str(k), v) for k, v in value.items())
            body = ",\n".join(
                f"{pad}{json.dumps(k, ensure_ascii=False)}: {encode(v, level + 1)}"
                for k, v in items
            )
            return "{\n" + body + "\n" + end + "}"
        if isinstance(value, (list, tuple, set, frozenset)):
            seq = sorted(value) if isinstance(value, (set, frozenset)) else value
            if not seq:
                return "[]"
            body = ",\n".join(f"{pad}{encode(v, level + 1)}" for v in seq)
            return "[\n" + body + "\n" + end + "]"
        raise TypeError(f"cannot write {type(value).__name__} to JSON: {value!r}")

    return encode(obj, 0) + "\n"


def write_json(obj: Any, path: str | os.PathLike, within: str | os.PathLike | None = None
               ) -> Path:
    """Write `obj` as deterministic JSON (see `dumps_json`) atomically."""
    return write_text(dumps_json(obj), path, within)
