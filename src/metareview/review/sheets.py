"""Load the extraction sheets of a review folder: read, parse and validate them.

`load_review(review_dir)` reads the review's definitions (`review.yaml`), then every sheet of
`metareview.review.schema.SHEETS` with the review's vocabulary applied, checks it cell by
cell, then by the rules of `metareview.review.sheet_rules` (row by row and across sheets), and
returns typed DataFrames only when nothing is wrong. Otherwise it raises `SheetValidationError`
listing every problem found (not just the first), each with the file, the row as a spreadsheet
shows it (header = row 1), the column, the value, the rule broken and how to fix it. The folder
is only read, never written.

Files are accepted the way spreadsheets save them: UTF-8 with or without a byte-order mark,
CRLF line ends, semicolon-separated exports (decimal commas allowed in their numeric columns),
trailing empty rows and stray spaces. Workbooks (.xlsx/.xls/.ods) and non-UTF-8 text are refused
with a message saying how to export the sheet as CSV UTF-8.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from metareview.files import NAME_RULE, display_path, is_safe_name
from metareview.review import schema
from metareview.review.definitions import (
    DEFINITIONS_FILE,
    DefinitionError,
    Definitions,
    load_definitions,
)
from metareview.review.schema import Column, Sheet
from metareview.review.sheet_problems import (
    Problem,
    Problems,
    SheetValidationError,
    Table,
    closest,
)
from metareview.review.sheet_rules import (  # noqa: F401  (the forms' needs: used by tests)
    _ARM_FORM_NEEDS,
    _CONTRAST_FORM_NEEDS,
    check_across_sheets,
    check_duplicate_keys,
    check_plan_studies,
    check_rows,
)

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
# Longest cell accepted: 128 KB of text (the csv module's own default field limit). A real cell
# is a number, an id or a sentence; a longer one is pasted text or an unclosed quote.
MAX_CELL_CHARS = 128 * 1024


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
    # what the loader read in today's terms (earlier design values), for the validation log
    notes: tuple[str, ...] = ()


SHEET_NAMES = tuple(sheet.filename[: -len(".csv")] for sheet in schema.SHEETS)


# ---------------------------------------------------------------------------------------------
# entry point


def load_review(review_dir: str | os.PathLike) -> Review:
    """Read and validate every sheet of `review_dir`; raise SheetValidationError on any problem."""
    folder = Path(review_dir)
    shown = display_path(folder)
    problems = Problems()
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

    tables: dict[str, Table | None] = {}
    for sheet in review_sheets:
        tables[sheet.filename] = _read_sheet(folder, shown, sheet, problems)
    for table in tables.values():
        if table is not None:
            check_rows(table, problems)
            check_duplicate_keys(table, problems)
    check_across_sheets(tables, problems)
    check_plan_studies(f"{shown}/{DEFINITIONS_FILE}", definitions, tables, problems)

    if problems:
        order = {s.filename: i for i, s in enumerate(review_sheets)}
        problems.sort(key=lambda p: (order.get(p.file.rsplit("/", 1)[-1], -1), p.row or 0))
        raise SheetValidationError(problems)

    frames = {
        sheet.filename[: -len(".csv")]: _to_frame(sheet, tables[sheet.filename])
        for sheet in review_sheets
    }
    notes = _read_earlier_designs(frames["studies"], f"{shown}/studies.csv")
    return Review(name=folder.resolve().name, path=folder, definitions=definitions,
                  notes=notes, **frames)


def _read_earlier_designs(studies: pd.DataFrame, file: str) -> tuple[str, ...]:
    """Rewrite, in the frame, design values of earlier sheets in today's terms (design
    non_randomised is parallel with randomised false), so that the analyses see one way of
    saying it; return one note per value found, naming the change to make in the sheet."""
    notes = []
    for earlier, today in schema.EARLIER_DESIGNS.items():
        rows = studies["design"] == earlier
        if rows.any():
            ids = ", ".join(str(s) for s in studies.loc[rows, "study_id"])
            studies.loc[rows, "design"] = today
            studies.loc[rows, "randomised"] = False
            notes.append(f"{file}: design {earlier} is an earlier value, read as design {today} "
                         f"with randomised false ({ids}); write {today} in the sheet to say "
                         "it the one current way.")
    return tuple(notes)


# ---------------------------------------------------------------------------------------------
# reading one file


def _read_sheet(folder: Path, shown: str, sheet: Sheet, problems: Problems) -> Table | None:
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


def _report_long_cells(file, records, problems: Problems) -> bool:
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


def _report_missing(folder: Path, shown: str, sheet: Sheet, problems: Problems) -> None:
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


def _check_header(file, sheet: Sheet, header, records, problems: Problems) -> dict[str, int]:
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
        guess = closest(name, missing) or closest(name, sheet.names)
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


def _parse_cells(file, sheet, records, positions, decimal_comma, problems) -> Table:
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
    return Table(sheet, file, rows, text, values, frozenset(positions))


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
        if raw in column.allowed or raw in column.earlier:
            return raw
        guess = closest(raw, column.allowed)
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
# typed frames


def _to_frame(sheet: Sheet, table: Table | None) -> pd.DataFrame:
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
