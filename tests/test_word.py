"""The Word export (metareview.report.word): reopened with python-docx, its tables hold the
DataFrames' cells; landscape, shaded header, fixed properties, same bytes twice, atomic."""

from __future__ import annotations

import docx
import pandas as pd
import pytest
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn

import metareview as mr
from metareview.report.findings import OutcomeSummary, summary_of_findings
from metareview.report.grade import assess
from metareview.report.word import CERTAINTY_DEFINITIONS, DOCUMENT_DATE, write_word

from support import StubFit


@pytest.fixture(scope="module")
def sof():
    eff = pd.DataFrame({
        "study_id": ["A", "B", "C"], "yi": [-0.4, -0.3, -0.35], "vi": [0.05, 0.04, 0.06],
        "n_treatment": [100, 100, 100], "n_control": [100, 100, 100],
        "events_control": [10, 20, 30], "randomised": [True, True, False],
    })
    rr = mr.pool(eff["yi"], eff["vi"])
    rr_certainty = assess("infection", result=rr, effects=eff, rob=None, design_randomised=None,
                          measure="RR")
    md = StubFit(-2.5, -3.9, -1.1, -5.0, 0.4)
    md_certainty = assess("healing", result=md, effects=eff, rob=None, design_randomised=True,
                          measure="MD")
    outcomes = [
        OutcomeSummary("infection", "Wound infection", "RR", "lower_is_better", rr, eff,
                       rr_certainty),
        OutcomeSummary("healing", "Time to healing", "MD", "lower_is_better", md, eff,
                       md_certainty, unit="days"),
        OutcomeSummary("pain", "Pain", "SMD", "lower_is_better", None, pd.DataFrame(), None,
                       vote=mr.vote_count([1, 1, -1])),
    ]
    return summary_of_findings(outcomes, intervention="cell therapy")


@pytest.fixture(scope="module")
def characteristics():
    return pd.DataFrame({
        "Study": ["A 2019", "B 2021", "C 2023"],
        "Design": ["parallel RCT", "split-face RCT", "non-randomised"],
        "Participants": [200, 200.0, float("nan")],
        "Follow-up (weeks)": [12, 24.5, 6],
    })


def write(path, sof, characteristics, **kwargs):
    return write_word(path, title="Cell therapy for acne scars",
                      question="In adults with atrophic acne scars, does cell therapy help?",
                      sof=sof, characteristics=characteristics, **kwargs)


def cells(table):
    return [[cell.text for cell in row.cells] for row in table.rows]


def test_sof_table_cells_are_the_dataframes(tmp_path, sof, characteristics):
    path = write(tmp_path / "summary.docx", sof, characteristics)
    document = docx.Document(str(path))
    assert len(document.tables) == 2
    table = cells(document.tables[0])
    assert table[0] == list(sof.columns)
    assert table[1:] == sof.to_numpy().tolist()
    # the footnote cells keep their line breaks
    assert "\n" in table[1][list(sof.columns).index("Footnotes")]


def test_characteristics_table(tmp_path, sof, characteristics):
    document = docx.Document(str(write(tmp_path / "s.docx", sof, characteristics)))
    table = cells(document.tables[1])
    assert table[0] == list(characteristics.columns)
    assert table[1:] == [
        ["A 2019", "parallel RCT", "200", "12"],
        ["B 2021", "split-face RCT", "200", "24.5"],
        ["C 2023", "non-randomised", "", "6"],
    ]


def test_title_question_notes_and_landscape(tmp_path, sof, characteristics):
    path = write(tmp_path / "s.docx", sof, characteristics,
                 notes=["Effects of split-face trials use a within-person correlation of 0.5."])
    document = docx.Document(str(path))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "Cell therapy for acne scars"
    assert texts[1] == "Question: In adults with atrophic acne scars, does cell therapy help?"
    assert CERTAINTY_DEFINITIONS in texts
    assert texts.index(CERTAINTY_DEFINITIONS) + 1 == texts.index(
        "Effects of split-face trials use a within-person correlation of 0.5.")
    section = document.sections[0]
    assert section.orientation == WD_ORIENT.LANDSCAPE
    assert section.page_width > section.page_height
    # order: headings and question, SoF table, the notes under it, the characteristics
    order = []
    for child in document.element.body:
        name = child.tag.split("}")[1]
        if name == "tbl":
            order.append("<table>")
        elif name == "p":
            order.append("".join(t.text or "" for t in child.iter(qn("w:t"))))
    assert order == [
        "Cell therapy for acne scars",
        "Question: In adults with atrophic acne scars, does cell therapy help?",
        "Summary of findings",
        "<table>",
        CERTAINTY_DEFINITIONS,
        "Effects of split-face trials use a within-person correlation of 0.5.",
        "Characteristics of included studies",
        "<table>",
    ]


def test_header_row_is_shaded_and_repeated(tmp_path, sof, characteristics):
    document = docx.Document(str(write(tmp_path / "s.docx", sof, characteristics)))
    header = document.tables[0].rows[0]
    for cell in header.cells:
        shading = cell._tc.tcPr.find(qn("w:shd"))
        assert shading is not None and shading.get(qn("w:fill")) == "D9D9D9"
        assert all(run.bold for run in cell.paragraphs[0].runs)
    assert header._tr.trPr.find(qn("w:tblHeader")) is not None
    body_cell = document.tables[0].rows[1].cells[0]
    assert body_cell._tc.tcPr is None or body_cell._tc.tcPr.find(qn("w:shd")) is None


def test_columns_share_the_page_width_and_footnotes_get_the_most(tmp_path, sof,
                                                                 characteristics):
    document = docx.Document(str(write(tmp_path / "s.docx", sof, characteristics)))
    section = document.sections[0]
    usable = section.page_width - section.left_margin - section.right_margin
    widths = [column.width for column in document.tables[0].columns]
    assert sum(widths) == pytest.approx(usable, rel=1e-3)
    assert widths.index(max(widths)) == list(sof.columns).index("Footnotes")


def test_fixed_properties_and_identical_bytes(tmp_path, sof, characteristics):
    first = write(tmp_path / "one.docx", sof, characteristics)
    second = write(tmp_path / "two.docx", sof, characteristics)
    assert first.read_bytes() == second.read_bytes()
    core = docx.Document(str(first)).core_properties
    assert core.created == DOCUMENT_DATE
    assert core.modified == core.created
    assert core.title == "Cell therapy for acne scars"


def test_written_atomically(tmp_path, sof, characteristics, monkeypatch):
    path = tmp_path / "reports" / "summary.docx"
    returned = write(path, sof, characteristics)
    assert returned == path and path.exists()
    assert sorted(p.name for p in path.parent.iterdir()) == ["summary.docx"]
    before = path.read_bytes()

    # a failure while writing leaves the previous file whole and no temporary file behind
    from metareview import files

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write(path, sof.iloc[:1], characteristics)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["summary.docx"]


def test_no_characteristics(tmp_path, sof):
    document = docx.Document(str(write(tmp_path / "s.docx", sof, pd.DataFrame())))
    assert len(document.tables) == 1
    assert "No included studies." in [p.text for p in document.paragraphs]
