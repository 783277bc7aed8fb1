"""Load and validate the extraction sheets of a review folder.

`load_review(review_dir)` reads the review's definitions (`review.yaml`), then every sheet of
`metareview.review.schema.SHEETS` with the review's vocabulary applied, checks it cell by
cell, row by row and across sheets, and returns typed DataFrames only when nothing is wrong.
Otherwise it raises `SheetValidationError` listing every problem found (not just the first),
each with the file, the row as a spreadsheet shows it (header = row 1), the column, the value,
the rule broken and how to fix it. The folder is only read, never written.

Files are accepted the way spreadsheets save them: UTF-8 with or without a byte-order mark,
CRLF line ends, semicolon-separated exports (decimal commas allowed in their numeric columns),
trailing empty rows and stray spaces. Workbooks (.xlsx/.xls/.ods) and non-UTF-8 text are refused
with a message saying how to export the sheet as CSV UTF-8.
"""

from __future__ import annotations

import csv
import datetime
import difflib
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metareview.files import NAME_RULE, display_path, is_safe_name, shorten
from metareview.review import schema
from metareview.review.definitions import (
    DEFINITIONS_FILE,
    DefinitionError,
    Definitions,
    load_definitions,
)
from metareview.review.schema import Column, Sheet
from metareview.stats.vocabulary import is_ratio

__all__ = ["Problem", "Review", "SHEET_NAMES", "SheetValidationError", "load_review"]

# pandas >= 3 has a dedicated string dtype with NaN for missing; older pandas uses object.
_STR_DTYPE = "str" if int(pd.__version__.split(".")[0]) >= 3 else object

_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
_ZIP_MAGIC = b"PK\x03\x04"  # .xlsx and .ods are zip archives
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls
_UTF8_BOM = b"\xef\xbb\xbf"
_EXPORT_CSV = (
    "open it in your spreadsheet program and use File > Save As (or Export) with the format "
    "'CSV UTF-8 (comma delimited)'"
)

_FLOAT_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INT_RE = re.compile(r"[+-]?\d+(?:\.0*)?", re.ASCII)
_INT64_LIMIT = 2**63 - 1
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# Longest cell accepted: 128 KB of text (the csv module's own default field limit). A real cell
# is a number, an id or a sentence; a longer one is pasted text or an unclosed quote.
MAX_CELL_CHARS = 128 * 1024

# Cells each reported form needs (docs/EXTRACTION.md, rule 3).
_ARM_FORM_NEEDS = {
    "mean_sd": ("mean", "sd"),
    "mean_se": ("mean", "se"),
    "mean_unlabelled": ("mean", "dispersion_unlabelled"),
    "mean_only": ("mean",),
    "percent_only": ("percent", "total"),
    "median_iqr": ("median", "q1", "q3"),
    "median_range": ("median", "min", "max"),
    "events_total": ("events", "total"),
}
_CONTRAST_FORM_NEEDS = {
    "estimate_ci": ("estimate", "ci_low", "ci_high"),
    "estimate_p": ("estimate", "p_value"),
    "estimate_se": ("estimate", "se"),
    "estimate_variance": ("estimate", "variance"),
    "p_value": ("p_value",),
    "t_stat": ("t_stat",),
    "estimate_only": ("estimate",),
    "direction_only": ("favours",),
}
_PROPORTION_FORM_NEEDS = {
    "events_total": ("events", "total"),
    "percent_n": ("percent", "total"),
}
_ROB_DOMAINS = {
    "RoB2": tuple(f"D{i}" for i in range(1, 6)) + ("overall",),
    "ROBINS-I": tuple(f"D{i}" for i in range(1, 8)) + ("overall",),
    # RevMan 5's quality items by their number (the tool has no overall judgement)
    "RoB1": tuple(f"D{i}" for i in range(1, 21)),
}
_OUTCOME_MEASURES_BY_TYPE = {"continuous": ("SMD", "MD"), "binary": ("RR", "OR", "RD"),
                             "proportion": ("PLO", "PFT")}


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a review folder, located as a spreadsheet user would look for it."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    fix: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        if self.value is not None:
            where.append(f"value {shorten(self.value, 80)}")
        text = f"{', '.join(where)}: {self.rule}"
        return f"{text} Fix: {self.fix[:1].upper()}{self.fix[1:]}" if self.fix else text


class SheetValidationError(ValueError):
    """The review folder has problems; `.problems` lists every one of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the extraction sheets:"
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]))

    def __reduce__(self):
        # rebuilt from the problems (not the message) when sent between processes
        return (SheetValidationError, (self.problems,))


@dataclass(frozen=True, eq=False)  # DataFrames have no single truth value for ==
class Review:
    """The validated sheets of one review folder, as typed DataFrames (one per name of
    `SHEET_NAMES`; an optional sheet that is absent is an empty frame with its columns)."""

    name: str
    path: Path
    studies: pd.DataFrame
    arms: pd.DataFrame
    contrasts: pd.DataFrame
    adverse_events: pd.DataFrame
    risk_of_bias: pd.DataFrame
    outcomes: pd.DataFrame
    search_log: pd.DataFrame
    screening: pd.DataFrame
    published: pd.DataFrame
    proportions: pd.DataFrame
    ordinal_counts: pd.DataFrame
    extraction_checks: pd.DataFrame
    grade: pd.DataFrame
    definitions: Definitions


SHEET_NAMES = tuple(sheet.filename[: -len(".csv")] for sheet in schema.SHEETS)


@dataclass
class _Table:
    """One sheet after parsing: raw cell text and parsed values (None = empty or invalid)."""

    sheet: Sheet
    file: str
    rows: list[int]
    text: dict[str, list[str | None]]
    values: dict[str, list[Any]]
    header: frozenset[str]

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, column: str, i: int) -> Any:
        return self.values[column][i]

    def raw(self, column: str, i: int) -> str | None:
        return self.text[column][i]


class _Problems(list):
    def add(self, file, row, column, value, rule, fix=""):
        self.append(Problem(file, row, column, value, rule, fix))


# ---------------------------------------------------------------------------------------------
# entry point


def load_review(review_dir: str | os.PathLike) -> Review:
    """Read and validate every sheet of `review_dir`; raise SheetValidationError on any problem."""
    folder = Path(review_dir)
    shown = display_path(folder)
    problems = _Problems()
    if not folder.is_dir():
        problems.add(
            shown, None, None, None, "the review folder does not exist.",
            "check the review name; review folders live in data/raw/<review>/.",
        )
        raise SheetValidationError(problems)

    try:
        definitions = load_definitions(folder)
    except DefinitionError as error:
        value = None if error.value is None else str(error.value)
        problems.add(f"{shown}/{DEFINITIONS_FILE}", None, error.key, value, error.rule,
                     error.fix)
        raise SheetValidationError(problems) from None
    review_sheets = schema.sheets_for(definitions)
    if not (folder / "CODEBOOK.md").is_file():
        problems.add(f"{shown}/CODEBOOK.md", None, None, None,
                     "the review's codebook is missing.",
                     f"`make codebook REVIEW={folder.resolve().name}` writes one from the "
                     "schema; add the review's conventions in its prose.")

    tables: dict[str, _Table | None] = {}
    for sheet in review_sheets:
        tables[sheet.filename] = _read_sheet(folder, shown, sheet, problems)
    for table in tables.values():
        if table is not None:
            _check_rows(table, problems)
            _check_duplicate_keys(table, problems)
    _check_across_sheets(tables, problems)
    _check_plan_studies(f"{shown}/{DEFINITIONS_FILE}", definitions, tables, problems)

    if problems:
        order = {s.filename: i for i, s in enumerate(review_sheets)}
        problems.sort(key=lambda p: (order.get(p.file.rsplit("/", 1)[-1], -1), p.row or 0))
        raise SheetValidationError(problems)

    frames = {
        sheet.filename[: -len(".csv")]: _to_frame(sheet, tables[sheet.filename])
        for sheet in review_sheets
    }
    return Review(name=folder.resolve().name, path=folder, definitions=definitions, **frames)


# ---------------------------------------------------------------------------------------------
# reading one file


def _read_sheet(folder: Path, shown: str, sheet: Sheet, problems: _Problems) -> _Table | None:
    file = f"{shown}/{sheet.filename}"
    path = folder / sheet.filename
    header_hint = ",".join(sheet.names)
    if not path.is_file():
        _report_missing(folder, shown, sheet, problems)
        return None
    data = path.read_bytes()

    if data.startswith(_ZIP_MAGIC) or data.startswith(_OLE_MAGIC):
        problems.add(
            file, None, None, None,
            "this file is a spreadsheet workbook (Excel/LibreOffice), not a CSV text file.",
            f"{_EXPORT_CSV}, keeping the name {sheet.filename}.",
        )
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        problems.add(
            file, None, None, None,
            "this file is not UTF-8 text (it holds NUL bytes: UTF-16 text or a binary file).",
            f"{_EXPORT_CSV}.",
        )
        return None
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        # the extra byte makes a line that has just begun count as a line
        line_no = len((data[: err.start] + b"x").splitlines())
        line = data.splitlines()[line_no - 1].decode("cp1252", errors="replace").strip()
        problems.add(
            file, line_no, None, line[:80],
            f"this line has bytes that are not UTF-8 (byte {data[err.start]:#04x}); the file was "
            "probably saved as Latin-1/Windows-1252 (an accented letter or a symbol such as ±).",
            f"save the file as CSV UTF-8 ({_EXPORT_CSV}).",
        )
        return None

    # The csv module refuses a cell over its field limit with an error that names neither row
    # nor column; the limit is lifted while this file is read, and over-long cells are then
    # reported one by one below.
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(max(limit, len(text) + 1))
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    except csv.Error as err:
        problems.add(
            file, None, None, None, f"the file cannot be read as CSV ({err}).",
            f"{_EXPORT_CSV}.",
        )
        return None
    finally:
        csv.field_size_limit(limit)
    if _report_long_cells(file, records, problems):
        return None
    records = [[cell.strip() for cell in record] for record in records]
    if not any(any(record) for record in records):
        problems.add(
            file, None, None, None, "the file is empty.",
            f"the first row must be the header: {header_hint}",
        )
        return None
    if not any(records[0]):
        problems.add(
            file, 1, None, None, "the first row is empty; the header must be in row 1.",
            f"delete the empty rows above the header ({header_hint}).",
        )
        return None

    decimal_comma = _delimiter(text) == ";"
    header = [name.lstrip("\ufeff") for name in records[0]]
    positions = _check_header(file, sheet, header, records, problems)
    return _parse_cells(file, sheet, records, positions, decimal_comma, problems)


def _report_long_cells(file, records, problems: _Problems) -> bool:
    """Report every cell longer than MAX_CELL_CHARS with its row and column; True if any."""
    header = [name.strip().lstrip("\ufeff") for name in records[0]] if records else []
    found = False
    for index, record in enumerate(records):
        for position, cell in enumerate(record):
            if len(cell) > MAX_CELL_CHARS:
                found = True
                name = header[position] if position < len(header) and header[position] else (
                    f"#{position + 1}")
                problems.add(
                    file, index + 1, name, cell[:40] + "...",
                    f"this cell holds {len(cell):,} characters; a cell may hold at most "
                    f"{MAX_CELL_CHARS:,} (128 KB).",
                    "a cell holds one value: keep a short quotation and put long text in "
                    "extraction_notes.md; a quote character left open also makes one huge "
                    "cell of the rest of the file.",
                )
    return found


def _delimiter(text: str) -> str:
    """Comma, or ';' for European spreadsheet exports whose header has ';' and no ','."""
    header = re.split(r"[\r\n]", text, maxsplit=1)[0]
    if ";" in header and "," not in header:
        return ";"
    if "\t" in header and "," not in header and ";" not in header:
        return "\t"
    return ","


def _report_missing(folder: Path, shown: str, sheet: Sheet, problems: _Problems) -> None:
    file = f"{shown}/{sheet.filename}"
    stem = sheet.filename[: -len(".csv")]
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    workbooks = [n for n in present if n.lower() in {stem + s for s in _WORKBOOK_SUFFIXES}]
    if workbooks:
        problems.add(
            f"{shown}/{workbooks[0]}", None, None, None,
            f"{sheet.filename} is missing and {workbooks[0]} is a spreadsheet workbook, "
            "which the pipeline does not read.",
            f"{_EXPORT_CSV}, saving it as {sheet.filename} in the same folder.",
        )
        return
    known = {s.filename for s in schema.SHEETS}
    candidates = [n for n in present if n not in known and n != "SHA256SUMS"]
    close = difflib.get_close_matches(sheet.filename, candidates, n=1, cutoff=0.75)
    if close:
        problems.add(
            f"{shown}/{close[0]}", None, None, None,
            f"{sheet.filename} is missing; {close[0]} looks like it but is not read.",
            f"rename {close[0]} to {sheet.filename}.",
        )
    elif not sheet.optional:
        problems.add(
            file, None, None, None, f"the required sheet {sheet.filename} is missing.",
            f"create it with the header row: {','.join(sheet.names)}",
        )


def _check_header(file, sheet: Sheet, header, records, problems: _Problems) -> dict[str, int]:
    """Map each schema column to its position; report missing, unknown and repeated columns."""
    positions: dict[str, int] = {}
    unknown: list[tuple[int, str]] = []
    for index, name in enumerate(header):
        if name == "":
            if any(index < len(r) and r[index] for r in records[1:]):
                problems.add(
                    file, 1, f"#{index + 1}", "",
                    f"column {index + 1} has values but no name in the header.",
                    "type the column name in row 1 or delete the column.",
                )
            continue
        if name in positions:
            problems.add(
                file, 1, name, name, "this column name appears twice in the header.",
                "delete or rename one of the two columns.",
            )
        elif name in sheet.names:
            positions[name] = index
        else:
            unknown.append((index, name))
    missing = [c.name for c in sheet.columns
               if c.name not in positions and not c.may_be_absent]
    for _, name in unknown:
        guess = _closest(name, missing) or _closest(name, sheet.names)
        hint = f"did you mean '{guess}'? " if guess else ""
        problems.add(
            file, 1, name, name, f"unknown column '{name}' for {sheet.filename}.",
            f"{hint}Columns of this sheet: {', '.join(sheet.names)}.",
        )
    # Every column of the schema must be in the header, even one whose cells may all be
    # empty: a missing column is more often a slip than a decision, and an empty column says
    # "looked for, not reported".
    for name in missing:
        column = sheet.column(name)
        cells = "its cells may not be empty" if column.required else "its cells may be empty"
        problems.add(
            file, 1, name, None, f"the column '{name}' is missing from the header.",
            f"add a column named '{name}' ({_describe(column)}; {cells}).",
        )
    return positions


def _closest(name: str, options) -> str | None:
    lowered = {o.lower(): o for o in options}
    if name.lower() in lowered:
        return lowered[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def _describe(column: Column) -> str:
    if column.kind == "category":
        return "one of " + ", ".join(column.allowed)
    if column.kind == "bool":
        return "true or false"
    kind = {"int": "a whole number", "float": "a number", "str": "text"}[column.kind]
    bounds = _bounds_text(column)
    return f"{kind}{' ' + bounds if bounds else ''}"


def _bounds_text(column: Column) -> str:
    parts = []
    if column.minimum is not None:
        parts.append(f"{'>' if column.exclusive_minimum else '>='} {column.minimum:g}")
    if column.maximum is not None:
        parts.append(f"<= {column.maximum:g}")
    return " and ".join(parts)


# ---------------------------------------------------------------------------------------------
# cells


def _parse_cells(file, sheet, records, positions, decimal_comma, problems) -> _Table:
    rows: list[int] = []
    text: dict[str, list] = {c.name: [] for c in sheet.columns}
    values: dict[str, list] = {c.name: [] for c in sheet.columns}
    width = len(records[0])
    for offset, record in enumerate(records[1:]):
        row = offset + 2  # header is row 1
        if not any(record):
            continue  # blank rows (often trailing) are not data
        extra = [cell for cell in record[width:] if cell]
        if extra:
            problems.add(
                file, row, None, ", ".join(extra)[:80],
                f"this row has {len(record)} cells but the header has {width} columns.",
                "a text or number probably contains an unquoted separator (',' or ';'); "
                "quote it or remove the extra cells.",
            )
        rows.append(row)
        for column in sheet.columns:
            index = positions.get(column.name)
            raw = record[index] if index is not None and index < len(record) else ""
            text[column.name].append(raw or None)
            values[column.name].append(
                _parse_cell(file, row, column, raw, decimal_comma, problems)
                if index is not None else None
            )
    return _Table(sheet, file, rows, text, values, frozenset(positions))


def _parse_cell(file, row, column: Column, raw: str, decimal_comma: bool, problems):
    """The cell's typed value, or None when it is empty or invalid (invalid is reported)."""
    if raw == "":
        if column.required:
            problems.add(
                file, row, column.name, "", f"'{column.name}' must not be empty.",
                f"enter {_describe(column)} as the source reports it.",
            )
        return None
    kind = column.kind
    if kind == "str":
        if column.identifier and not is_safe_name(raw):
            problems.add(
                file, row, column.name, raw,
                f"'{column.name}' is an id, and ids become parts of file names (a figure is "
                f"named after its outcome): use {NAME_RULE}.",
                f"rename the id, e.g. '{_safe_suggestion(raw)}', here and wherever it is used.",
            )
            return None
        return raw
    if kind == "category":
        if raw in column.allowed:
            return raw
        guess = _closest(raw, column.allowed)
        hint = f"did you mean '{guess}'? " if guess else ""
        problems.add(
            file, row, column.name, raw, f"'{raw}' is not an allowed value of {column.name}.",
            f"{hint}Use one of: {', '.join(column.allowed)}.",
        )
        return None
    if kind == "bool":
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        problems.add(
            file, row, column.name, raw, f"{column.name} must be true or false.",
            "write true or false.",
        )
        return None
    number = _parse_number(raw, kind, decimal_comma)
    if number is None:
        what = "a whole number" if kind == "int" else "a number"
        problems.add(
            file, row, column.name, raw, f"{column.name} must be {what}.",
            _number_fix(raw, column, decimal_comma),
        )
        return None
    if not _within_bounds(number, column):
        problems.add(
            file, row, column.name, raw, f"{column.name} must be {_bounds_text(column)}.",
            _range_fix(column),
        )
        return None
    return number


def _safe_suggestion(raw: str) -> str:
    """A name like `raw` that follows NAME_RULE ("../tmp/evil" -> "tmp_evil")."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", raw).strip("_-")[:40] or "id1"


def _parse_number(raw: str, kind: str, decimal_comma: bool):
    text = raw
    if decimal_comma and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    if kind == "int":
        if not _INT_RE.fullmatch(text):
            return None
        value = int(text.split(".")[0])
        return value if abs(value) <= _INT64_LIMIT else None
    if not _FLOAT_RE.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


_NOT_REPORTED_MARKS = {"NA", "N/A", "NR", "ND", "NS", "-", "--", ".", "?", "NONE", "NULL", "NAN"}


def _number_fix(raw: str, column: Column, decimal_comma: bool) -> str:
    if raw.upper() in _NOT_REPORTED_MARKS:
        return "leave the cell empty when the source does not report a value (no NA, NR or -)."
    if "\u2212" in raw or "\u2013" in raw:
        return "replace the typographic minus sign (\u2212) copied from the PDF with '-'."
    if "%" in raw:
        return "enter the number without the % sign (the codebook says what unit the column has)."
    if "±" in raw or "+/-" in raw or "(" in raw:
        return "put one number per cell: mean, sd, se, median, q1, q3 have their own columns."
    if raw[:1] in "<>=" or raw[:2] in ("<=", ">="):
        if column.name == "p_value":
            return "put the operator in p_operator and only the number in p_value."
        return "enter only the number; put any qualifier in the note column."
    if "," in raw and not decimal_comma:
        return "use a point as decimal separator and no thousands separator (1.5, 1200)."
    if column.kind == "int" and _FLOAT_RE.fullmatch(raw.replace(",", ".")):
        return "this column counts people or events: enter a whole number as printed."
    return f"enter {_describe(column)}, or leave the cell empty if the source does not report it."


def _within_bounds(value: float, column: Column) -> bool:
    if column.minimum is not None:
        if value < column.minimum or (column.exclusive_minimum and value == column.minimum):
            return False
    return column.maximum is None or value <= column.maximum


_RANGE_FIXES = {
    "sd": "an SD is positive; a negative number is usually a change score that belongs in mean. "
    "Leave sd empty if the source gives none.",
    "se": "an SE is positive; leave se empty if the source gives none.",
    "p_value": "a p value lies in (0, 1]; 'p < 0.001' is p_operator '<' and p_value 0.001; "
    "percentages must be divided by 100.",
    "ci_level": "write the confidence level as a fraction, e.g. 0.95 for a 95% CI.",
    "i2_percent": "I² is given in percent, between 0 and 100.",
}


def _range_fix(column: Column) -> str:
    return _RANGE_FIXES.get(
        column.name,
        f"check the number against the source; {column.name} must be {_bounds_text(column)}.",
    )


# ---------------------------------------------------------------------------------------------
# rules within a row


def _check_rows(table: _Table, problems: _Problems) -> None:
    check = _ROW_RULES.get(table.sheet.filename)
    if check is None:
        return
    for i, row in enumerate(table.rows):
        check(table, i, row, problems)
    if table.sheet.filename == "contrasts.csv":
        _check_basis_column(table, problems)


def _ordered(table, i, row, problems, names: tuple[str, ...], rule: str, fix: str) -> None:
    """Report when the filled cells of `names` are not in ascending order (ties allowed)."""
    filled = [(n, table.get(n, i)) for n in names if table.get(n, i) is not None]
    for (left, lv), (right, rv) in zip(filled, filled[1:]):
        if lv > rv:
            problems.add(
                table.file, row, left, table.raw(left, i),
                f"{rule}: {left} = {table.raw(left, i)} is larger than {right} = "
                f"{table.raw(right, i)}.",
                fix,
            )
            return


def _needs(table, i, row, problems, form_column: str, needs: dict) -> None:
    form = table.get(form_column, i)
    for name in needs.get(form, ()):
        if table.raw(name, i) is None:
            problems.add(
                table.file, row, name, "",
                f"{form_column} '{form}' needs {', '.join(needs[form])}, but {name} is empty.",
                f"fill {name} from the source, or set {form_column} to the form the source "
                "really reports.",
            )


def _not_above_total(table, i, row, problems, part: str, hint: str) -> None:
    """A count (`part`: events, count) cannot exceed the row's total."""
    value, total = table.get(part, i), table.get("total", i)
    if value is not None and total is not None and value > total:
        problems.add(
            table.file, row, part, table.raw(part, i),
            f"{part} ({value}) must not exceed total ({total}).", hint,
        )


def _check_events(table, i, row, problems) -> None:
    _not_above_total(table, i, row, problems, "events", "check both numbers against the "
                     "source; total is the number of people in the arm.")


def _arm_row(table, i, row, problems) -> None:
    _check_events(table, i, row, problems)
    events, n = table.get("events", i), table.get("n", i)
    if events is not None and n is not None and events > n:  # whether or not total is filled
        problems.add(
            table.file, row, "events", table.raw("events", i),
            f"events ({events}) must not exceed n ({n}), the people analysed in the arm.",
            "check both numbers against the source; a count of lesions, sides or episodes is "
            "not a count of people (say what the source counts in note and leave events "
            "empty).",
        )
    _ordered(table, i, row, problems, ("q1", "median", "q3"), "q1 <= median <= q3",
             "check the quartiles against the source (q1 is the lower one).")
    _ordered(table, i, row, problems, ("min", "median", "max"), "min <= median <= max",
             "check the range against the source (min is the lower one).")
    _needs(table, i, row, problems, "reported_form", _ARM_FORM_NEEDS)
    _one_dispersion(table, i, row, problems)


def _one_dispersion(table, i, row, problems) -> None:
    """An unlabelled "±" value is neither an SD nor an SE: it cannot sit beside either."""
    if table.raw("dispersion_unlabelled", i) is None:
        return
    for name in ("sd", "se"):
        if table.raw(name, i) is not None:
            problems.add(
                table.file, row, "dispersion_unlabelled", table.raw("dispersion_unlabelled", i),
                f"dispersion_unlabelled is for a '±' the source does not label, but {name} is "
                "filled too.",
                f"keep the value in {name} if the source labels it, else in "
                "dispersion_unlabelled only.",
            )


def _proportion_row(table, i, row, problems) -> None:
    _check_events(table, i, row, problems)
    _needs(table, i, row, problems, "reported_form", _PROPORTION_FORM_NEEDS)


def _ordinal_row(table, i, row, problems) -> None:
    _not_above_total(table, i, row, problems, "count", "check both numbers against the source.")
    count = table.get("count", i)
    if count is None and table.get("percent", i) is None and table.raw("note", i) is None:
        problems.add(
            table.file, row, "count", "",
            "the row has neither a count, nor a percentage, nor a note saying what is printed.",
            "enter the number of people in this grade or the printed percentage; when the "
            "source gives only words (e.g. 'under 20%'), leave both empty and quote it in note.",
        )


def _contrast_row(table, i, row, problems) -> None:
    _ordered(table, i, row, problems, ("ci_low", "estimate", "ci_high"),
             "ci_low <= estimate <= ci_high",
             "check the interval and the estimate's sign against the source.")
    _needs(table, i, row, problems, "reported_form", _CONTRAST_FORM_NEEDS)
    if is_ratio(table.get("measure", i)):
        for name in ("estimate", "ci_low", "ci_high"):
            value = table.get(name, i)
            if value is not None and value <= 0:
                problems.add(
                    table.file, row, name, table.raw(name, i),
                    f"a {table.get('measure', i)} is a ratio and must be > 0.",
                    "enter the ratio as printed (not its logarithm).",
                )
    if table.raw("se", i) is not None and table.raw("variance", i) is not None:
        problems.add(
            table.file, row, "variance", table.raw("variance", i),
            "se and variance are both filled; one of them is what the source prints.",
            "keep the one the source prints (form estimate_se or estimate_variance) and clear "
            "the other.")
    _contrast_basis(table, i, row, problems)
    has_p, has_op = table.raw("p_value", i) is not None, table.raw("p_operator", i) is not None
    if has_p and not has_op:
        problems.add(
            table.file, row, "p_operator", "", "a p value needs its operator.",
            "write '=' for an exact p value, '<' for 'p < x', '>' for 'p > x'.",
        )
    if has_op and not has_p:
        problems.add(
            table.file, row, "p_value", "", "p_operator is set but p_value is empty.",
            "enter the p value, or clear p_operator.",
        )


# Forms and measures whose SE depends on the distribution of the printed interval or p value.
_FORMS_WITH_BASIS = ("estimate_ci", "estimate_p")
_MEASURES_WITH_BASIS = ("MD", "SMD")
_BASIS_FIX = ("write t when the source's interval or p value comes from a t test or t "
              "interval (its df in df, or df empty for n - 1 paired, n_treatment + n_control "
              "- 2 otherwise), z when it is a normal (Wald) interval or z test; the code no "
              "longer guesses it from whether the arm sizes are filled.")


def _needs_basis(table, i) -> bool:
    return (table.get("reported_form", i) in _FORMS_WITH_BASIS
            and table.get("measure", i) in _MEASURES_WITH_BASIS)


def _contrast_basis(table, i, row, problems) -> None:
    """The basis of an MD or SMD interval or p value is stated; a df goes with t only, and a
    t basis has its df or the numbers of patients that give it."""
    if "basis" not in table.header:
        return  # reported once for the sheet (`_check_basis_column`)
    basis = table.get("basis", i)
    if basis is None and table.raw("basis", i) is None and _needs_basis(table, i):
        problems.add(
            table.file, row, "basis", "",
            f"an {table.get('measure', i)} with a {'CI' if table.get('reported_form', i) == 'estimate_ci' else 'p value'} "
            "needs the basis of its interval or test: its SE differs by the ratio of the t and z "
            "quantiles.", _BASIS_FIX)
    if table.raw("df", i) is not None and basis != "t":
        problems.add(
            table.file, row, "df", table.raw("df", i),
            "df is the degrees of freedom of a t-based interval or test, but basis is not t.",
            "set basis to t, or clear df.")
    if basis == "t" and table.raw("df", i) is None:
        paired = table.get("paired", i) is True
        sizes = [table.get(c, i) for c in ("n_treatment", "n_control")]
        known = any(v is not None for v in sizes) if paired else all(
            v is not None for v in sizes)
        if not known and table.get("reported_form", i) != "t_stat":
            problems.add(
                table.file, row, "df", "",
                "a t basis needs the df, or the numbers of patients that give it.",
                "enter df as printed, or n_treatment and n_control (the number of patients, "
                "twice, for a paired result).")


def _check_basis_column(table: _Table, problems) -> None:
    """A sheet from before the basis column, with rows that need it: one problem naming the
    one change (the column, and a value in each of those rows)."""
    if "basis" in table.header:
        return
    rows = [row for i, row in enumerate(table.rows) if _needs_basis(table, i)]
    if rows:
        shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
        problems.add(
            table.file, 1, "basis", None,
            f"rows {shown} give an MD or SMD with a CI or p value, and the sheet has no "
            "column basis (z, or t with its df).",
            "add the column basis (and df, if the source prints it) to the header and fill it "
            "in those rows: " + _BASIS_FIX)


def _adverse_event_row(table, i, row, problems) -> None:
    _check_events(table, i, row, problems)
    if (table.raw("events", i) is not None and table.raw("total", i) is None
            and table.raw("narrative", i) is None):
        problems.add(
            table.file, row, "total", "", "events are given without the arm's total.",
            "enter the number of people in the arm; for a count of events (not people) say so "
            "in narrative.",
        )
    if table.raw("events", i) is None and table.raw("narrative", i) is None:
        problems.add(
            table.file, row, "events", "", "the row has neither events nor a narrative.",
            "enter the count, or describe in narrative what the source says.",
        )


def _rob_row(table, i, row, problems) -> None:
    tool = table.get("tool", i)
    if tool is None:
        return
    judgement = table.get("judgement", i)
    allowed = schema.ROB_JUDGEMENTS[tool]
    if judgement is not None and judgement not in allowed:
        guess = _closest(judgement, allowed)
        hint = f"did you mean '{guess}'? " if guess else ""
        problems.add(
            table.file, row, "judgement", judgement,
            f"'{judgement}' is not a {tool} judgement.",
            f"{hint}{tool} judgements are: {', '.join(allowed)}.",
        )
    domain = table.get("domain", i)
    if domain is not None and domain not in _ROB_DOMAINS[tool]:
        problems.add(
            table.file, row, "domain", domain, f"'{domain}' is not a {tool} domain.",
            f"{tool} domains are: {', '.join(_ROB_DOMAINS[tool])}.",
        )


def _study_row(table, i, row, problems) -> None:
    n_rand, n_anal = table.get("n_randomised", i), table.get("n_analysed", i)
    if n_rand is not None and n_anal is not None and n_anal > n_rand:
        problems.add(
            table.file, row, "n_analysed", table.raw("n_analysed", i),
            f"n_analysed ({n_anal}) must not exceed n_randomised ({n_rand}).",
            "check both against the source; n_randomised counts everyone allocated.",
        )
    design = table.get("design", i)
    if design in ("single_arm", "non_randomised") and table.get("randomised", i) is True:
        problems.add(
            table.file, row, "randomised", table.raw("randomised", i),
            f"a {design} study cannot be randomised.",
            "set randomised to false, or correct the design.",
        )
    _within_person_kind(table, i, row, problems, design)


def _within_person_kind(table, i, row, problems, design) -> None:
    """design within_person names its kind; split_face and crossover are their own kind; other
    designs have none."""
    kind, raw = table.get("within_person_kind", i), table.raw("within_person_kind", i)
    kinds = ", ".join(schema.WITHIN_PERSON_KINDS)
    if design == "within_person" and raw is None:
        problems.add(
            table.file, row, "within_person_kind", "",
            "a within_person study needs its kind: how each patient receives both conditions.",
            f"write one of {kinds} in within_person_kind (add the column to the header if the "
            "sheet has none).")
    elif design in schema.DESIGNS_WITH_KIND and kind is not None and (
            kind != schema.DESIGNS_WITH_KIND[design]):
        problems.add(
            table.file, row, "within_person_kind", raw,
            f"design {design} is the within-person kind {schema.DESIGNS_WITH_KIND[design]}, "
            f"not {kind}.",
            f"set design to within_person with within_person_kind {kind}, or clear the kind.")
    elif design is not None and design not in ("within_person", *schema.DESIGNS_WITH_KIND) \
            and raw is not None:
        problems.add(
            table.file, row, "within_person_kind", raw,
            f"within_person_kind is for within-person designs, and this study's design is "
            f"{design}.",
            "set design to within_person, or clear within_person_kind.")


def _outcome_row(table, i, row, problems) -> None:
    _ordered(table, i, row, problems, ("range_min", "range_max"), "range_min <= range_max",
             "the scale's lowest possible score goes in range_min.")
    kind, measure = table.get("type", i), table.get("measure", i)
    if kind is not None and measure is not None:
        if measure not in _OUTCOME_MEASURES_BY_TYPE[kind]:
            problems.add(
                table.file, row, "measure", measure,
                f"a {kind} outcome cannot be pooled as {measure}.",
                f"use one of: {', '.join(_OUTCOME_MEASURES_BY_TYPE[kind])}.",
            )


def _search_row(table, i, row, problems) -> None:
    _ordered(table, i, row, problems, ("records_kept", "records_seen"),
             "records_kept <= records_seen", "records kept are a subset of the records seen.")
    date = table.raw("date", i)
    if date is not None and not _is_date(date):
        problems.add(
            table.file, row, "date", date, "date must be a calendar date written YYYY-MM-DD.",
            "write the date as e.g. 2026-01-31 (format the column as text in the spreadsheet).",
        )


def _is_date(text: str) -> bool:
    if not _DATE_RE.fullmatch(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _screening_row(table, i, row, problems) -> None:
    decision = table.get("decision", i)
    if decision == "excluded" and table.raw("reason", i) is None:
        problems.add(
            table.file, row, "reason", "", "an excluded record needs a reason.",
            "give the reason for exclusion, e.g. 'no control group' or 'not cell-based'.",
        )
    if decision == "not_retrieved" and table.raw("reason", i) is None:
        problems.add(
            table.file, row, "reason", "", "a record not retrieved needs a reason.",
            "say what was read and what could not be reached, e.g. 'full text not reachable; "
            "abstract has no results'.",
        )
    if (decision == "included" and table.get("stage", i) == "full_text"
            and table.raw("study_id", i) is None):
        problems.add(
            table.file, row, "study_id", "", "a record included at full text needs its study_id.",
            "enter the study_id of studies.csv this record belongs to.",
        )


def _published_row(table, i, row, problems) -> None:
    _ordered(table, i, row, problems, ("ci_low", "estimate", "ci_high"),
             "ci_low <= estimate <= ci_high",
             "check the interval and the estimate's sign against the published review.")


_ROW_RULES = {
    "studies.csv": _study_row,
    "arms.csv": _arm_row,
    "contrasts.csv": _contrast_row,
    "adverse_events.csv": _adverse_event_row,
    "risk_of_bias.csv": _rob_row,
    "outcomes.csv": _outcome_row,
    "search_log.csv": _search_row,
    "screening.csv": _screening_row,
    "published.csv": _published_row,
    "proportions.csv": _proportion_row,
    "ordinal_counts.csv": _ordinal_row,
}


# ---------------------------------------------------------------------------------------------
# keys and rules across sheets


def _check_duplicate_keys(table: _Table, problems: _Problems) -> None:
    """Each row's key (schema Sheet.key) must be unique; later copies are reported."""
    key_columns = table.sheet.key
    first_seen: dict[tuple, int] = {}
    for i, row in enumerate(table.rows):
        parts = [table.get(c, i) for c in key_columns]
        # a key cell that is required but empty or invalid is reported already
        if any(p is None and table.sheet.column(c).required for p, c in zip(parts, key_columns)):
            continue
        key = tuple(parts)
        if key in first_seen:
            shown = ", ".join(
                f"{c} = {table.raw(c, i) or '(empty)'}" for c in key_columns
            )
            rule = f"the same {' + '.join(key_columns)} as row {first_seen[key]} ({shown})."
            fix = "delete the duplicated row, or correct the cell that should differ."
            if table.sheet.filename == "arms.csv":
                rule = (
                    f"comparison {table.raw('comparison', i)!r} already has a "
                    f"{table.raw('role', i)} row for outcome {table.raw('outcome', i)!r} at "
                    f"week {table.raw('timepoint_weeks', i)} with value_type "
                    f"{table.raw('value_type', i)!r} (row {first_seen[key]}); each comparison "
                    "has at most one treatment and one control row per outcome, timepoint and "
                    "kind of value."
                )
                fix = ("give the other pair of arms its own comparison id, or delete the "
                       "duplicated row.")
            problems.add(table.file, row, key_columns[-1], table.raw(key_columns[-1], i),
                         rule, fix)
        else:
            first_seen[key] = row


def _check_across_sheets(tables: dict[str, _Table | None], problems: _Problems) -> None:
    studies = tables.get("studies.csv")
    outcomes = tables.get("outcomes.csv")
    study_info: dict[str, dict] | None = None
    if studies is not None and "study_id" in studies.header:
        study_info = {}
        for i in range(len(studies)):
            sid = studies.get("study_id", i)
            if sid is not None and sid not in study_info:
                study_info[sid] = {
                    "design": studies.get("design", i),
                    "n_randomised": studies.get("n_randomised", i),
                }
    outcome_ids = None
    if outcomes is not None and "outcome" in outcomes.header:
        outcome_ids = {o for o in outcomes.values["outcome"] if o is not None}

    if studies is not None and len(studies) == 0:
        problems.add(studies.file, None, None, None, "studies.csv has no study rows.",
                     "add one row per included study below the header.")
    if outcomes is not None and len(outcomes) == 0:
        problems.add(outcomes.file, None, None, None, "outcomes.csv has no outcome rows.",
                     "add one row per outcome (see CODEBOOK.md).")

    for name in ("arms.csv", "contrasts.csv", "adverse_events.csv", "risk_of_bias.csv",
                 "screening.csv", "proportions.csv", "ordinal_counts.csv",
                 "extraction_checks.csv"):
        table = tables.get(name)
        if table is not None and study_info is not None:
            _check_known(table, "study_id", set(study_info), "studies.csv", problems)
    if outcomes is not None and outcome_ids is not None:
        _check_known(outcomes, "pooled_with", outcome_ids, "outcomes.csv", problems)
    for name in ("arms.csv", "contrasts.csv", "published.csv", "proportions.csv",
                 "ordinal_counts.csv", "grade.csv"):
        table = tables.get(name)
        if table is not None and outcome_ids is not None:
            extra = {"narrative"} if name == "published.csv" else set()
            _check_known(table, "outcome", outcome_ids | extra, "outcomes.csv", problems)

    if study_info is not None:
        _check_arm_sizes(tables, study_info, problems)
        _check_single_arm(tables, study_info, problems)
    if tables.get("arms.csv") is not None:
        _check_control_has_treatment(tables["arms.csv"], problems)
    if tables.get("risk_of_bias.csv") is not None:
        _check_rob_studies(tables["risk_of_bias.csv"], problems)


def study_ids_problem(ids, known, file: str, key: str) -> Problem | None:
    """The problem of study ids of the analysis plan (`key` of `file`) that studies.csv does
    not list, or None: a misspelt id in an exclusion would otherwise exclude nothing."""
    unknown = [sid for sid in ids if sid not in known]
    if not unknown or not known:
        return None
    guess = _closest(unknown[0], sorted(known))
    hint = f"did you mean '{guess}'? " if guess else ""
    shown = ", ".join(sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
    return Problem(file, None, key, ", ".join(unknown),
                   f"{'these ids are' if len(unknown) > 1 else 'this id is'} not a study_id of "
                   "studies.csv.", f"{hint}Use study_ids of studies.csv ({shown}).")


def _check_plan_studies(file: str, definitions: Definitions, tables, problems) -> None:
    """review.yaml's main_analysis.exclude_studies and indirectness name studies of
    studies.csv."""
    studies = tables.get("studies.csv")
    if studies is None or "study_id" not in studies.header:
        return
    known = {sid for sid in studies.values["study_id"] if sid is not None}
    for key, ids in (("main_analysis.exclude_studies", definitions.main_excluded),
                     ("indirectness", tuple(definitions.indirect_studies))):
        problem = study_ids_problem(ids, known, file, key)
        if problem is not None:
            problems.append(problem)


def _check_known(table: _Table, column: str, known: set, where: str, problems) -> None:
    for i, row in enumerate(table.rows):
        value = table.get(column, i)
        if value is not None and value not in known:
            guess = _closest(value, sorted(known))
            hint = f"did you mean '{guess}'? " if guess else ""
            problems.add(
                table.file, row, column, value,
                f"'{value}' is not listed in the {column} column of {where}.",
                f"{hint}Use an id listed in {where}, or add it there first.",
            )


def _check_arm_sizes(tables, study_info, problems) -> None:
    """Numbers per arm cannot exceed the number randomised in the study."""
    for name, columns in (("arms.csv", ("n", "total")),
                          ("contrasts.csv", ("n_treatment", "n_control"))):
        table = tables.get(name)
        if table is None:
            continue
        for i, row in enumerate(table.rows):
            info = study_info.get(table.get("study_id", i))
            limit = info["n_randomised"] if info else None
            if limit is None:
                continue
            for column in columns:
                value = table.get(column, i)
                if value is not None and value > limit:
                    problems.add(
                        table.file, row, column, table.raw(column, i),
                        f"{column} ({value}) exceeds the study's n_randomised ({limit}) in "
                        "studies.csv.",
                        "check both numbers; a per-arm number cannot exceed the study's total.",
                    )


def _check_single_arm(tables, study_info, problems) -> None:
    for name, role_column in (("arms.csv", "role"), ("adverse_events.csv", "role"),
                              ("contrasts.csv", None)):
        table = tables.get(name)
        if table is None:
            continue
        for i, row in enumerate(table.rows):
            info = study_info.get(table.get("study_id", i))
            if not info or info["design"] != "single_arm":
                continue
            if role_column is None:
                # a before-after comparison within the one group is allowed (paired = true)
                if table.get("paired", i) is True:
                    continue
                problems.add(
                    table.file, row, "study_id", table.raw("study_id", i),
                    "a single_arm study has no between-arm contrasts.",
                    "set paired to true for a before-after comparison within the group, delete "
                    "the row, or correct the study's design in studies.csv.",
                )
            elif table.get(role_column, i) == "control":
                problems.add(
                    table.file, row, role_column, "control",
                    "a single_arm study (studies.csv) has no control arm.",
                    "use role 'treatment' (arms) or 'single' (adverse events), or correct the "
                    "design.",
                )


def _check_control_has_treatment(table: _Table, problems) -> None:
    def group(i):
        return tuple(table.get(c, i) for c in ("study_id", "comparison", "outcome",
                                                "timepoint_weeks"))

    with_treatment = {group(i) for i in range(len(table)) if table.get("role", i) == "treatment"}
    for i, row in enumerate(table.rows):
        if table.get("role", i) == "control" and group(i) not in with_treatment:
            problems.add(
                table.file, row, "comparison", table.raw("comparison", i),
                "this control row has no treatment row with the same study_id, comparison, "
                "outcome and timepoint_weeks.",
                "add the treatment arm, or correct the comparison id or timepoint.",
            )


def _check_rob_studies(table: _Table, problems) -> None:
    """One tool per study, and an overall judgement for each study assessed."""
    tools: dict[str, tuple[str, int]] = {}
    overall: set[str] = set()
    first_row: dict[str, int] = {}
    for i, row in enumerate(table.rows):
        sid, tool = table.get("study_id", i), table.get("tool", i)
        if sid is None:
            continue
        first_row.setdefault(sid, row)
        if table.get("domain", i) == "overall":
            overall.add(sid)
        if tool is None:
            continue
        if sid in tools and tools[sid][0] != tool:
            problems.add(
                table.file, row, "tool", tool,
                f"study {sid} is assessed with {tools[sid][0]} in row {tools[sid][1]}; "
                "one tool per study.",
                "use RoB2 for randomised and ROBINS-I for non-randomised studies.",
            )
        tools.setdefault(sid, (tool, row))
    for sid, row in first_row.items():
        if sid not in overall and tools.get(sid, ("",))[0] != "RoB1":
            problems.add(
                table.file, row, "domain", None,
                f"study {sid} has no 'overall' risk-of-bias judgement.",
                "add a row with domain 'overall' for this study.",
            )


# ---------------------------------------------------------------------------------------------
# typed frames


def _to_frame(sheet: Sheet, table: _Table | None) -> pd.DataFrame:
    columns = {}
    for column in sheet.columns:
        cells = table.values[column.name] if table is not None else []
        columns[column.name] = _typed(column, cells)
    return pd.DataFrame(columns)


def _typed(column: Column, cells: list) -> pd.Series:
    if column.kind == "int":
        return pd.Series(pd.array(cells, dtype="Int64"))
    if column.kind == "float":
        return pd.Series(np.array([np.nan if v is None else v for v in cells], dtype="float64"))
    if column.kind == "bool":
        if any(v is None for v in cells):
            return pd.Series(pd.array(cells, dtype="boolean"))
        return pd.Series(np.array(cells, dtype=bool))
    return pd.Series(cells, dtype=_STR_DTYPE)


def main(argv: list[str] | None = None) -> int:
    """`python -m metareview.review.sheets DIR ...`: print every problem; exit 1 if there are
    any."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m metareview.review.sheets",
        description="Validate review folders: review.yaml, the codebook and every sheet, "
                    "listing each problem with its file, row, column, value, rule and fix.")
    parser.add_argument("folders", nargs="+", metavar="REVIEW_DIR", help="e.g. data/raw/my-review")
    args = parser.parse_args(argv)
    status = 0
    for folder in args.folders:
        try:
            review = load_review(folder)
        except SheetValidationError as err:
            print(err, file=sys.stderr)
            status = 1
        else:
            print(f"{folder}: valid ({len(review.studies)} studies, {len(review.arms)} arm rows, "
                  f"{len(review.contrasts)} contrast rows, {len(review.proportions)} proportion "
                  "rows)")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
