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
from metareview.report.pooled import ALL_STUDIES, MAIN
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


# --- figures, labels and plain text -------------------------------------------------------------

SNAKE_CASE = __import__("re").compile(r"\b[A-Za-z0-9]+_[A-Za-z0-9_]+\b")


def _png(path, width_in, height_in):
    from matplotlib.figure import Figure

    from metareview.report.figures import save_figure

    fig = Figure(figsize=(width_in, height_in))
    fig.add_subplot().plot([0, 1], [0, 1])
    png, _ = save_figure(fig, path)
    return png


def _all_text(document) -> str:
    texts = [p.text for p in document.paragraphs]
    texts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(texts)


def test_figures_embedded_after_the_notes_with_numbered_captions(tmp_path, sof, characteristics):
    from metareview.report.word import WordFigure

    tall = _png(tmp_path / "figures" / "prisma_flow", 8, 9)
    wide = _png(tmp_path / "figures" / "forest_ecca", 14, 4)
    figures = [WordFigure(tall, "Flow of records through the review."),
               WordFigure(wide, "Forest plot of **ECCA score**: standardised mean difference.")]
    path = write(tmp_path / "s.docx", sof, characteristics, notes=["A note."], figures=figures)
    document = docx.Document(str(path))
    assert len(document.inline_shapes) == 2
    captions = [p for p in document.paragraphs if p.style.name == "Caption"]
    assert [p.text for p in captions] == [
        "Figure 1. Flow of records through the review.",
        "Figure 2. Forest plot of ECCA score: standardised mean difference."]
    # each picture is described by its caption, for screen readers
    descriptions = [shape._inline.docPr.get("descr") for shape in document.inline_shapes]
    assert descriptions == ["Flow of records through the review.",
                            "Forest plot of ECCA score: standardised mean difference."]
    # the pictures fit the page, keep their proportions and are kept with their captions
    section = document.sections[0]
    usable_width = section.page_width - section.left_margin - section.right_margin
    usable_height = section.page_height - section.top_margin - section.bottom_margin
    from PIL import Image

    for shape, png in zip(document.inline_shapes, [tall, wide]):
        assert shape.width <= usable_width and shape.height <= usable_height
        with Image.open(png) as image:
            assert shape.width / shape.height == pytest.approx(image.width / image.height,
                                                               rel=1e-3)
    assert document.inline_shapes[1].width == pytest.approx(usable_width, rel=1e-3)
    order = []
    for child in document.element.body:
        name = child.tag.split("}")[1]
        text = "".join(t.text or "" for t in child.iter(qn("w:t")))
        if name == "tbl":
            order.append("<table>")
        elif child.findall(".//" + qn("w:drawing")):
            order.append("<picture>")
        elif text:
            order.append(text)
    assert order[order.index("A note."):] == [
        "A note.", "Figures", "<picture>", "Figure 1. Flow of records through the review.",
        "<picture>", "Figure 2. Forest plot of ECCA score: standardised mean difference.",
        "Characteristics of included studies", "<table>"]


def test_no_markdown_and_no_identifiers_reach_the_document(tmp_path, sof):
    from metareview.report import descriptive
    from metareview.review.definitions import Definitions

    studies = pd.DataFrame({
        "study_id": ["Behrangi2022", "AmnioticCM_MN_2019", "Khanna_STAR"],
        "citation": ["Behrangi E, Moradi S. SVF in nanofat. Stem Cell Res Ther 2022",
                     "[authors not shown on page read] Amniotic CM with microneedling",
                     "Khanna D, Caldron P, et al. ADRC in systemic sclerosis"],
        "year": [2022, 2019, float("nan")], "country": ["Iran", None, "USA"],
        "design": ["split_face", "parallel", "single_arm"],
        "randomised": [True, True, False], "condition": ["acne_scars", "skin_ageing",
                                                        "systemic_sclerosis"],
        "intervention": ["nanofat plus SVF", "conditioned medium", "ADRC"],
        "comparator": ["nanofat", "saline", "none"],
        "n_randomised": [7, 48, 88], "n_analysed": [7, 44, float("nan")],
        "follow_up_weeks": [12, float("nan"), 48],
    })
    definitions = Definitions(title="t", conditions={"acne_scars": "Atrophic acne scars",
                                                     "skin_ageing": "Facial skin ageing",
                                                     "systemic_sclerosis": "Systemic sclerosis"})
    table = descriptive.present_characteristics(studies, definitions)
    path = write(tmp_path / "s.docx", sof, table,
                 notes=["**Main findings.** Cell therapy may reduce the `ECCA` score."])
    document = docx.Document(str(path))
    text = _all_text(document)
    assert "**" not in text and "`" not in text
    assert SNAKE_CASE.findall(text) == []
    note = next(p for p in document.paragraphs if p.text.startswith("Main findings."))
    assert [(run.text, bool(run.bold)) for run in note.runs] == [
        ("Main findings.", True), (" Cell therapy may reduce the ECCA score.", False)]
    rows = cells(document.tables[1])
    assert rows[0] == ["Study", "Year", "Country", "Design", "Participants", "Condition",
                       "Intervention", "Comparator", "Follow-up"]
    assert rows[1:] == [
        ["AmnioticCM MN 2019", "2019", "not stated", "parallel groups, randomised",
         "48 randomised, 44 analysed", "Facial skin ageing", "conditioned medium", "saline",
         "not stated"],
        ["Behrangi 2022", "2022", "Iran", "split-face (within-person), randomised",
         "7 randomised", "Atrophic acne scars", "nanofat plus SVF", "nanofat", "12 weeks"],
        ["Khanna STAR", "not stated", "USA", "single group (no control)", "88 enrolled",
         "Systemic sclerosis", "ADRC", "none", "48 weeks"],
    ]


def test_study_labels_from_citations():
    from metareview.report.descriptive import study_labels

    studies = pd.DataFrame({
        "study_id": ["Ahn2021", "MMUCMSC_PsoCase", "LaPadula2025", "ElDomyati2019",
                     "Park2020", "ECMSVFgel2025", "Eitta2019", "Human2020"],
        "citation": ["Ahn H, Lee SY, Jung WJ, Lee KH. Alopecia treatment",
                     "Ahn H, Lee SY, Jung WJ, Pi J, Lee KH. Psoriasis treated",
                     "La Padula S, Pensato R. Nanofat in striae",
                     "El-Domyati M, Moftah NH. Amniotic fluid MSC-CM",
                     "Park, et al. Clinical efficacy of SVF",
                     "Comparison of the effects of adipose extracellular matrix",
                     "Eitta et al. [first author and year as listed in a review table]",
                     "Human Umbilical Cord MSC (UC-MSC) for lupus"],
        "year": [2021, 2021, 2025, 2019, 2020, 2025, 2019, 2020],
    })
    assert study_labels(studies) == {
        "Ahn2021": "Ahn 2021a", "MMUCMSC_PsoCase": "Ahn 2021b", "LaPadula2025": "La Padula 2025",
        "ElDomyati2019": "El-Domyati 2019", "Park2020": "Park 2020",
        "ECMSVFgel2025": "ECMSVFgel2025", "Eitta2019": "Eitta 2019", "Human2020": "Human2020"}


def test_manuscript_figures_order_captions_and_missing_files(tmp_path):
    from types import SimpleNamespace

    from metareview.report.word_figures import PRISMA_CAPTION, manuscript_figures

    folder = tmp_path / "figures"
    for name in ("prisma_flow", "forest_ecca", "forest_healing_all_studies",
                 "proportions_response", "effect_direction"):
        _png(folder / name, 4, 3)
    numbers = pd.DataFrame({
        "kind": ["pooled", "pooled", "single", "pooled"],
        "analysis": [MAIN, ALL_STUDIES, MAIN, MAIN],
        "outcome": ["ecca", "healing", "pain", "missing_plot"],
        "measure": ["SMD", "MD", "MD", "RR"]})
    key = pd.DataFrame({"outcome": ["response:psoriasis"], "measure": ["PLO"]})
    summary = SimpleNamespace(numbers=numbers, key=key)
    outcomes = pd.DataFrame({"outcome": ["ecca", "healing", "response"],
                             "label": ["ECCA score", "Healing time", "Response"]})
    figures = manuscript_figures(folder, summary, pd.DataFrame(), outcomes,
                                 "autologous cell therapies")
    assert [f.path.stem for f in figures] == ["prisma_flow", "forest_ecca",
                                              "forest_healing_all_studies",
                                              "proportions_response"]
    assert [f.caption for f in figures] == [
        PRISMA_CAPTION,
        "Forest plot of ECCA score: standardised mean difference, main analysis "
        "(autologous cell therapies).",
        "Forest plot of Healing time: mean difference, all studies.",
        "Pooled proportions of Response by subgroup."]
    nothing_pooled = SimpleNamespace(numbers=numbers.iloc[2:3], key=key.iloc[0:0])
    fallback = manuscript_figures(folder, nothing_pooled, pd.DataFrame(), outcomes)
    assert [f.path.stem for f in fallback] == ["prisma_flow", "effect_direction"]
