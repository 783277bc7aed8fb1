"""The PRISMA 2020 flow: counts worked by hand on a small constructed sheet, the invariants of
the flow on the committed reviews, and the diagram's boxes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from metareview.report import figures
from metareview.report.prisma import (
    DATABASES,
    INCLUDED,
    OTHER,
    PRISMA_BOXES,
    PRISMA_COLUMNS,
    box_count,
    box_items,
    prisma_counts,
    reasons_table,
)
from metareview.review.sheets import load_review

ROOT = Path(__file__).resolve().parents[1]
REVIEWS = sorted(p.name for p in (ROOT / "data" / "raw").iterdir() if p.is_dir())


def _sheet(rows):
    columns = ["record_id", "stage", "decision", "reason", "study_id", "identified_via"]
    return pd.DataFrame([dict(zip(columns, row)) for row in rows], columns=columns)


# Two sources: 50 records seen, 12 kept; the sheet lists 10 of the searches' records (R0-R9)
# and 4 found by other methods (R10-R13).
LOG = pd.DataFrame({"source": ["PubMed", "Registry", "PubMed"],
                    "records_seen": [30, 10, 10], "records_kept": [6, 4, 2]})
SHEET = _sheet([
    ("R0", "title_abstract", "duplicate", "same article as R3", None, None),
    ("R1", "title_abstract", "excluded", "review", None, None),
    ("R2", "title_abstract", "excluded", "no control", None, None),
    ("R3", "title_abstract", "included", None, "S1", None),
    ("R4", "full_text", "excluded", "not acne scars", None, None),
    ("R5", "full_text", "excluded", "not acne scars", None, None),
    ("R6", "full_text", "included", None, "S2", None),
    ("R7", "full_text", "included", None, "S3", None),
    ("R8", "title_abstract", "included", None, "S3", None),
    ("R9", "title_abstract", "not_retrieved", "full text not reachable", None, None),
    ("R10", "full_text", "included", None, "S4", "citation"),
    ("R11", "title_abstract", "duplicate", "same article as R6", None, "citation"),
    ("R12", "title_abstract", "excluded", "animal study", None, "website"),
    ("R13", "title_abstract", "not_retrieved", "behind a paywall", None, "website"),
])


def _n(counts, route, box):
    return box_count(counts, route, box)


def test_counts_worked_by_hand():
    counts = prisma_counts(LOG, SHEET)
    assert list(counts.columns) == PRISMA_COLUMNS
    db = {box: _n(counts, DATABASES, box) for box in PRISMA_BOXES[DATABASES]}
    # 50 seen; 12 kept for 10 listed records: 2 kept again, plus R0 a duplicate.
    assert db == {"identified": 50, "removed": 3, "screened": 47,
                  # 38 not kept from the result lists, R1 and R2 on title and abstract
                  "screening_excluded": 40, "sought": 7,
                  "not_retrieved": 1, "assessed": 6, "reports_excluded": 2}
    other = {box: _n(counts, OTHER, box) for box in PRISMA_BOXES[OTHER]}
    assert other == {"identified": 4, "removed": 1, "sought": 3, "not_retrieved": 1,
                     "assessed": 2, "reports_excluded": 1}
    # Reports R3, R6, R7, R8, R10; studies S1-S4 (S3 has two reports).
    assert _n(counts, INCLUDED, "reports") == 5
    assert _n(counts, INCLUDED, "studies") == 4


def test_items_worked_by_hand():
    counts = prisma_counts(LOG, SHEET)
    sources = box_items(counts, DATABASES, "identified")
    assert dict(zip(sources["item"], sources["count"])) == {"PubMed": 40, "Registry": 10}
    assert list(sources["note"]) == ["2 searches", "1 search"]
    removed = box_items(counts, DATABASES, "removed")["count"].tolist()
    assert removed == [2, 1]
    assert box_items(counts, DATABASES, "screening_excluded")["count"].tolist() == [38, 2]
    excluded = box_items(counts, DATABASES, "reports_excluded")
    assert dict(zip(excluded["item"], excluded["count"])) == {"not acne scars": 2}
    assessed = box_items(counts, DATABASES, "assessed")
    assert dict(zip(assessed["item"], assessed["count"])) == {
        "on the title and abstract or the record page": 2, "on the full text": 4}
    kinds = box_items(counts, OTHER, "identified")
    assert dict(zip(kinds["item"], kinds["count"])) == {"Citation searching": 2, "Websites": 2}
    # An exclusion on title and abstract of a record found by other methods is a report
    # excluded (that column has no screening step).
    other_excluded = box_items(counts, OTHER, "reports_excluded")
    assert other_excluded["item"].tolist() == ["animal study"]


def test_not_retrieved_is_not_an_exclusion():
    counts = prisma_counts(LOG, SHEET)
    reasons = reasons_table(counts)
    not_retrieved = reasons[reasons["Report"] == "Not retrieved"]
    assert sorted(not_retrieved["Reason"]) == ["behind a paywall", "full text not reachable"]
    excluded_reasons = set(box_items(counts, DATABASES, "reports_excluded")["item"])
    screening = box_items(counts, DATABASES, "screening_excluded")
    assert "full text not reachable" not in excluded_reasons
    # Recording R9 as an exclusion on title and abstract instead moves it to screening.
    as_exclusion = SHEET.copy()
    as_exclusion.loc[as_exclusion["record_id"] == "R9", "decision"] = "excluded"
    moved = prisma_counts(LOG, as_exclusion)
    assert _n(moved, DATABASES, "not_retrieved") == 0
    assert _n(moved, DATABASES, "screening_excluded") == 41
    assert _n(moved, DATABASES, "sought") == 6
    assert screening["count"].sum() == 40


def test_a_sheet_with_more_records_than_the_searches_kept():
    log = pd.DataFrame({"source": ["PubMed"], "records_seen": [5], "records_kept": [2]})
    sheet = _sheet([("A", "full_text", "included", None, "S1", None),
                    ("B", "full_text", "included", None, "S2", None),
                    ("C", "title_abstract", "excluded", "review", None, None)])
    counts = prisma_counts(log, sheet)
    assert _n(counts, DATABASES, "identified") == 6
    assert box_items(counts, DATABASES, "identified")["count"].tolist() == [5, 1]
    assert _n(counts, DATABASES, "removed") == 0
    assert _n(counts, DATABASES, "screened") == 6
    assert _n(counts, DATABASES, "screening_excluded") == 4
    assert _n(counts, DATABASES, "assessed") == 2
    assert not (counts["route"] == OTHER).any()


def test_empty_sheets_and_unknown_decisions():
    counts = prisma_counts(None, None)
    assert counts["count"].sum() == 0
    bad = _sheet([("A", "full_text", "maybe", None, None, None)])
    with pytest.raises(ValueError, match="not PRISMA decisions"):
        prisma_counts(LOG, bad)


def _flow_adds_up(counts: pd.DataFrame, sheet: pd.DataFrame) -> None:
    for (route, box), rows in counts.groupby(["route", "box"]):
        total = rows[rows["item"] == ""]["count"]
        items = rows[rows["item"] != ""]["count"]
        assert len(total) == 1
        if len(items) and box != "studies":
            assert items.sum() == total.iloc[0], (route, box)
    n = {box: _n(counts, DATABASES, box) for box in PRISMA_BOXES[DATABASES]}
    assert n["identified"] - n["removed"] == n["screened"]
    assert n["screened"] - n["screening_excluded"] == n["sought"]
    assert n["sought"] - n["not_retrieved"] == n["assessed"]
    included_here = n["assessed"] - n["reports_excluded"]
    other = 0
    if (counts["route"] == OTHER).any():
        m = {box: _n(counts, OTHER, box) for box in PRISMA_BOXES[OTHER]}
        assert m["identified"] - m["removed"] == m["sought"]
        assert m["sought"] - m["not_retrieved"] == m["assessed"]
        other = m["assessed"] - m["reports_excluded"]
    assert included_here + other == _n(counts, INCLUDED, "reports")
    assert _n(counts, INCLUDED, "reports") == (sheet["decision"] == "included").sum()
    assert _n(counts, DATABASES, "not_retrieved") + (_n(counts, OTHER, "not_retrieved") or 0) \
        == (sheet["decision"] == "not_retrieved").sum()


def test_constructed_flow_adds_up():
    _flow_adds_up(prisma_counts(LOG, SHEET), SHEET)


@pytest.mark.parametrize("review", REVIEWS)
def test_committed_reviews_flow_adds_up(review):
    data = load_review(ROOT / "data" / "raw" / review)
    counts = prisma_counts(data.search_log, data.screening)
    _flow_adds_up(counts, data.screening)
    assert _n(counts, DATABASES, "identified") >= data.search_log["records_seen"].sum()
    # Every study of studies.csv is one of the studies included, and no other.
    assert _n(counts, INCLUDED, "studies") == len(data.studies)
    sources = box_items(counts, DATABASES, "identified")
    logged = data.search_log.groupby("source")["records_seen"].sum()
    for source, seen in logged.items():
        assert sources.loc[sources["item"] == source, "count"].iloc[0] == seen


def test_fixture_flow():
    data = load_review(ROOT / "tests" / "fixtures" / "review_fixture")
    counts = prisma_counts(data.search_log, data.screening)
    _flow_adds_up(counts, data.screening)
    assert _n(counts, DATABASES, "identified") == 35
    assert _n(counts, INCLUDED, "reports") == 22


# --- the diagram ------------------------------------------------------------------------------


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _gids(fig) -> set[str]:
    return {p.get_gid() for ax in fig.axes for p in ax.patches if p.get_gid()}


def test_diagram_has_every_box_phase_and_reason():
    counts = prisma_counts(LOG, SHEET)
    fig = figures.prisma_flow(counts, title="Flow of records")
    gids = _gids(fig)
    for route in (DATABASES, OTHER):
        for box in PRISMA_BOXES[route]:
            assert f"prisma-{route}-{box}" in gids
    assert {"prisma-phase-identification", "prisma-phase-screening",
            "prisma-phase-included", f"prisma-header-{OTHER}"} <= gids
    text = "\n".join(_texts(fig))
    flat = " ".join(text.split())
    assert "Reports excluded (n = 2), by reason:" in flat
    assert "• not acne scars: 2" in flat
    assert "• animal study: 1" in flat
    assert "Reports not retrieved (n = 1)" in flat
    assert "Studies included in the review (n = 4)" in flat
    assert "Reports of included studies (n = 5)" in flat
    assert "• PubMed: 40 (2 searches)" in flat
    for phase in ("Identification", "Screening", "Included"):
        assert phase in _texts(fig)


def test_no_other_methods_column_without_such_records_and_plain_words_for_none():
    sheet = _sheet([("A", "full_text", "included", None, "S1", None),
                    ("B", "title_abstract", "excluded", "review", None, None)])
    log = pd.DataFrame({"source": ["PubMed"], "records_seen": [9], "records_kept": [2]})
    fig = figures.prisma_flow(prisma_counts(log, sheet))
    gids = _gids(fig)
    assert not any(g.startswith(f"prisma-{OTHER}") for g in gids)
    flat = " ".join(" ".join(_texts(fig)).split())
    assert "Reports excluded (n = 0)" not in flat
    assert "Reports excluded: none" in flat
    assert "the one report assessed was not excluded; every exclusion was made at screening" \
        in flat
    assert "No record was identified by other methods" in flat
