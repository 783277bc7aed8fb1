"""Validation of extraction sheets: one corrupted copy of a valid review folder per rule.

The valid folder is built here from a small invented dataset, so these tests do not depend on
any real review. Each case corrupts one cell, column or file and asserts that the error names
the file, the spreadsheet row (header = row 1), the column and the rule.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import string
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metareview.review import schema
from metareview.review.sheets import Problem, Review, SheetValidationError, load_review

REVIEW = "data/raw/test-review"
SRC = "https://doi.org/10.0000/example"


def _source(location="abstract, results", level="abstract"):
    return {"source_url": SRC, "source_location": location, "source_level": level}


# Spreadsheet rows: the header is row 1, so the n-th dict below is row n + 1.
VALID = {
    "studies.csv": [
        dict(study_id="Alpha2020", citation="Alpha A et al. J Skin 2020", year="2020",
             design="parallel", randomised="true", country="Italy", condition="acne_scars",
             intervention_class="svf", intervention="SVF-gel + laser", comparator="laser alone",
             co_intervention="fractional CO2 laser", n_randomised="40", n_analysed="38",
             follow_up_weeks="12", **_source()),
        dict(study_id="Beta2021", citation="Beta B et al. Derm Rep 2021", year="2021",
             design="split_face", randomised="true", condition="acne_scars",
             intervention_class="fat_grafting", intervention="nanofat", comparator="saline",
             co_intervention="none", n_randomised="20", n_analysed="20",
             follow_up_weeks="24", **_source("Table 2", "full_text")),
        dict(study_id="Gamma2022", citation="Gamma C. Case series 2022", year="2022",
             design="single_arm", randomised="false", condition="acne_scars",
             intervention_class="stem_cells", intervention="cultured MSCs", comparator="none",
             co_intervention="none", n_randomised="15", **_source()),
    ],
    "arms.csv": [
        dict(study_id="Alpha2020", comparison="c1", outcome="ecca", timepoint_weeks="12",
             arm="SVF", role="treatment", n="19", mean="40.5", sd="10.2", value_type="final",
             reported_form="mean_sd", **_source("Table 3", "full_text")),
        dict(study_id="Alpha2020", comparison="c1", outcome="ecca", timepoint_weeks="12",
             arm="laser", role="control", n="19", mean="55.1", sd="12.0", value_type="final",
             reported_form="mean_sd", **_source("Table 3", "full_text")),
        dict(study_id="Beta2021", comparison="c1", outcome="ecca", timepoint_weeks="24",
             arm="nanofat side", role="treatment", n="20", median="30", q1="22", q3="41",
             value_type="final", reported_form="median_iqr", **_source()),
        dict(study_id="Beta2021", comparison="c1", outcome="ecca", timepoint_weeks="24",
             arm="saline side", role="control", n="20", median="45", min="20", max="80",
             value_type="final", reported_form="median_range", **_source()),
        dict(study_id="Alpha2020", comparison="c1", outcome="satisfied", timepoint_weeks="12",
             arm="SVF", role="treatment", events="15", total="19", value_type="count",
             reported_form="events_total", **_source()),
        dict(study_id="Gamma2022", comparison="c1", outcome="ecca", timepoint_weeks="8",
             arm="MSC", role="treatment", n="15", mean="-12.5", se="2.1",
             value_type="change", reported_form="mean_se", **_source()),
    ],
    "contrasts.csv": [
        dict(study_id="Alpha2020", comparison="c1", outcome="satisfied", timepoint_weeks="12",
             measure="RR", estimate="1.5", ci_low="1.1", ci_high="2.2", ci_level="0.95",
             paired="false", n_treatment="19", n_control="19",
             contrast_direction="treatment_minus_control", value_type="count",
             reported_form="estimate_ci", **_source()),
        dict(study_id="Beta2021", comparison="c1", outcome="ecca", timepoint_weeks="24",
             measure="MD", estimate="-8.2", p_value="0.01", p_operator="<", paired="true",
             n_treatment="20", n_control="20", value_type="final", reported_form="estimate_p",
             basis="t", **_source()),
    ],
    "adverse_events.csv": [
        dict(study_id="Alpha2020", event="erythema", arm="SVF", role="treatment", events="5",
             total="19", **_source()),
        dict(study_id="Alpha2020", event="erythema", arm="laser", role="control", events="4",
             total="19", **_source()),
        dict(study_id="Gamma2022", event="any adverse event", arm="MSC", role="single",
             narrative="no serious adverse events", **_source()),
    ],
    "risk_of_bias.csv": [
        dict(study_id="Alpha2020", tool="RoB2", domain="D1", judgement="low",
             support="computer-generated list", **_source()),
        dict(study_id="Alpha2020", tool="RoB2", domain="overall", judgement="some_concerns",
             support="outcome assessors not blinded", **_source()),
        dict(study_id="Gamma2022", tool="ROBINS-I", domain="overall", judgement="serious",
             support="no comparison group", **_source()),
    ],
    "outcomes.csv": [
        dict(outcome="ecca", label="ECCA score", type="continuous", measure="SMD",
             scale="ECCA", unit="points", direction="lower_is_better", range_min="0",
             range_max="540"),
        dict(outcome="satisfied", label="Satisfied patients", type="binary", measure="RR",
             scale="patient-reported", direction="higher_is_better"),
    ],
    "search_log.csv": [
        dict(search_id="S1", date="2026-01-15", source="PubMed", query="acne scar AND fat",
             records_seen="120", records_kept="10"),
    ],
    "screening.csv": [
        dict(record_id="R1", citation="Alpha A et al. 2020", stage="full_text",
             decision="included", study_id="Alpha2020"),
        dict(record_id="R2", citation="Delta D 2019", stage="full_text", decision="excluded",
             reason="no cell-based intervention"),
        dict(record_id="R3", citation="Alpha A et al. 2020 (conference)", stage="title_abstract",
             decision="duplicate"),
    ],
    "published.csv": [
        dict(review_id="Zed2026", citation="Zed Z. Review 2026", outcome="ecca", measure="SMD",
             k="5", estimate="-1.2", ci_low="-1.8", ci_high="-0.6", i2_percent="60",
             p_value_text="p < 0.001", **_source()),
    ],
}


def sheet_text(filename: str, rows: list[dict], delimiter: str = ",", newline: str = "\n"):
    names = schema.SHEETS_BY_FILE[filename].names
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(names)
    for row in rows:
        writer.writerow([row.get(n, "") for n in names])
    return out.getvalue()


REVIEW_YAML = """\
title: Test review
years: [1990, 2030]
conditions: [acne_scars]
intervention_classes: {svf: SVF, fat_grafting: Fat grafting, stem_cells: Stem cells}
"""


def write_review(folder: Path, sheets: dict = VALID) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "review.yaml").write_text(REVIEW_YAML, encoding="utf-8")
    for filename, rows in sheets.items():
        (folder / filename).write_text(sheet_text(filename, rows), encoding="utf-8")
    (folder / "CODEBOOK.md").write_text("# Codebook\n\necca, satisfied\n", encoding="utf-8")


@pytest.fixture
def review(tmp_path, monkeypatch) -> Path:
    """A valid review folder at data/raw/test-review under a temporary working directory."""
    monkeypatch.chdir(tmp_path)
    folder = Path(REVIEW)
    write_review(folder)
    return folder


def problems_of(folder) -> list[Problem]:
    with pytest.raises(SheetValidationError) as info:
        load_review(folder)
    return info.value.problems


def set_cell(folder: Path, filename: str, row: int, column: str, value: str) -> None:
    rows = [dict(r) for r in VALID[filename]]
    rows[row - 2][column] = value
    (folder / filename).write_text(sheet_text(filename, rows), encoding="utf-8")


def edit_rows(folder: Path, filename: str, change) -> None:
    rows = [dict(r) for r in VALID[filename]]
    change(rows)
    (folder / filename).write_text(sheet_text(filename, rows), encoding="utf-8")


# ---------------------------------------------------------------------------------------------


def test_valid_folder_loads_with_types(review):
    loaded = load_review(review)
    assert isinstance(loaded, Review)
    assert loaded.name == "test-review"
    assert len(loaded.studies) == 3 and len(loaded.arms) == 6
    assert str(loaded.arms["n"].dtype) == "Int64"
    assert loaded.arms["sd"].dtype == "float64"
    assert loaded.studies["randomised"].dtype == bool
    assert loaded.studies["randomised"].tolist() == [True, True, False]
    assert pd.isna(loaded.arms.loc[2, "mean"]) and pd.isna(loaded.arms.loc[0, "note"])
    assert loaded.arms.loc[5, "mean"] == -12.5
    assert list(loaded.arms.columns) == list(schema.ARMS.names)


def test_optional_sheet_absent_gives_empty_frame(review):
    (review / "contrasts.csv").unlink()
    loaded = load_review(review)
    assert loaded.contrasts.empty
    assert list(loaded.contrasts.columns) == list(schema.CONTRASTS.names)


# (file, row, column, value, rule fragment): row 0 means "check row is None"
def _cell(filename, row, column, value, rule):
    return pytest.param(
        lambda folder: set_cell(folder, filename, row, column, value),
        filename, row, column, rule, id=f"{filename}:{column}={value!r}",
    )


def _rows(filename, change, row, column, rule, name):
    return pytest.param(lambda folder: edit_rows(folder, filename, change),
                        filename, row, column, rule, id=name)


UNKNOWN_STUDY = "not listed in the study_id column of studies.csv"
UNKNOWN_OUTCOME = "not listed in the outcome column of outcomes.csv"

CELL_CASES = [
    # types
    _cell("studies.csv", 2, "year", "2020a", "must be a whole number"),
    _cell("arms.csv", 2, "n", "19.5", "must be a whole number"),
    _cell("arms.csv", 2, "mean", "40,5", "must be a number"),
    _cell("arms.csv", 2, "mean", "nan", "must be a number"),
    _cell("arms.csv", 2, "sd", "10.2%", "must be a number"),
    _cell("studies.csv", 3, "randomised", "yes", "must be true or false"),
    _cell("studies.csv", 2, "design", "Parallel", "not an allowed value of design"),
    _cell("arms.csv", 3, "role", "placebo", "not an allowed value of role"),
    _cell("contrasts.csv", 3, "p_value", "<0.01", "must be a number"),
    # required cells
    _cell("studies.csv", 3, "citation", "", "must not be empty"),
    _cell("arms.csv", 4, "timepoint_weeks", "-4", "must be >= 0"),
    _cell("outcomes.csv", 2, "direction", "", "must not be empty"),
    # ranges
    _cell("arms.csv", 2, "n", "0", "n must be >= 1"),
    _cell("arms.csv", 3, "sd", "-1", "sd must be > 0"),
    _cell("arms.csv", 3, "sd", "0", "sd must be > 0"),
    _cell("arms.csv", 7, "se", "0", "se must be > 0"),
    _cell("arms.csv", 6, "events", "-2", "events must be >= 0"),
    _cell("arms.csv", 2, "timepoint_weeks", "-4", "timepoint_weeks must be >= 0"),
    _cell("contrasts.csv", 3, "p_value", "0", "p_value must be > 0"),
    _cell("contrasts.csv", 3, "p_value", "1.5", "p_value must be > 0 and <= 1"),
    _cell("contrasts.csv", 2, "ci_level", "95", "ci_level must be > 0 and <= 1"),
    _cell("studies.csv", 2, "year", "1985", "year must be >= 1990"),
    _cell("published.csv", 2, "i2_percent", "160", "i2_percent must be >= 0 and <= 100"),
    _cell("search_log.csv", 2, "records_seen", "-1", "records_seen must be >= 0"),
    # cross-column rules
    _cell("arms.csv", 6, "events", "25", "must not exceed total"),
    _cell("adverse_events.csv", 2, "events", "20", "must not exceed total"),
    _cell("contrasts.csv", 2, "estimate", "3.1", "ci_low <= estimate <= ci_high"),
    _cell("contrasts.csv", 2, "ci_low", "2.5", "ci_low <= estimate <= ci_high"),
    _rows("published.csv", lambda rows: rows[0].update(ci_high="-1.5"), 2, "estimate",
          "ci_low <= estimate <= ci_high", "published CI below estimate"),
    _cell("arms.csv", 4, "q1", "35", "q1 <= median <= q3"),
    _cell("arms.csv", 5, "min", "90", "min <= median <= max"),
    _cell("arms.csv", 2, "sd", "", "mean_sd' needs mean, sd"),
    _cell("arms.csv", 7, "se", "", "mean_se' needs mean, se"),
    _cell("arms.csv", 4, "q3", "", "median_iqr' needs median, q1, q3"),
    _rows("arms.csv", lambda rows: rows[0].update(reported_form="mean_only", mean="", sd=""),
          2, "mean", "mean_only' needs mean", "mean_only without mean"),
    _cell("arms.csv", 5, "max", "", "median_range' needs median, min, max"),
    _cell("arms.csv", 6, "total", "", "events_total' needs events, total"),
    _cell("contrasts.csv", 2, "ci_high", "", "estimate_ci' needs estimate, ci_low, ci_high"),
    _cell("contrasts.csv", 3, "p_value", "", "estimate_p' needs estimate, p_value"),
    _cell("contrasts.csv", 3, "p_operator", "", "needs its operator"),
    _cell("contrasts.csv", 2, "ci_low", "-0.2", "must be > 0"),
    _rows("adverse_events.csv", lambda rows: rows[2].update(narrative=""), 4, "events",
          "neither events nor a narrative", "no events no narrative"),
    _cell("adverse_events.csv", 2, "total", "", "without the arm's total"),
    _cell("screening.csv", 3, "reason", "", "excluded record needs a reason"),
    _rows("screening.csv", lambda rows: rows[1].update(decision="not_retrieved", reason=""),
          3, "reason", "not retrieved needs a reason", "not retrieved without a reason"),
    _cell("screening.csv", 2, "identified_via", "hand search", "not an allowed value"),
    _cell("screening.csv", 2, "study_id", "", "included at full text needs its study_id"),
    _cell("risk_of_bias.csv", 2, "judgement", "moderate", "not a RoB2 judgement"),
    _cell("risk_of_bias.csv", 4, "judgement", "some_concerns", "not a ROBINS-I judgement"),
    _cell("risk_of_bias.csv", 2, "domain", "D6", "not a RoB2 domain"),
    _cell("studies.csv", 2, "n_analysed", "41", "must not exceed n_randomised"),
    _cell("studies.csv", 4, "randomised", "true", "cannot be randomised"),
    _cell("outcomes.csv", 3, "measure", "SMD", "binary outcome cannot be pooled as SMD"),
    _rows("outcomes.csv", lambda rows: rows[0].update(range_max="-5"), 2, "range_min",
          "range_min <= range_max", "range reversed"),
    _cell("search_log.csv", 2, "records_kept", "500", "records_kept <= records_seen"),
    _cell("search_log.csv", 2, "date", "15/01/2026", "YYYY-MM-DD"),
    # across sheets
    _cell("arms.csv", 3, "study_id", "Alpha2021", UNKNOWN_STUDY),
    _cell("contrasts.csv", 2, "study_id", "Omega1999", UNKNOWN_STUDY),
    _cell("adverse_events.csv", 3, "study_id", "alpha2020", UNKNOWN_STUDY),
    _cell("risk_of_bias.csv", 2, "study_id", "Zeta", UNKNOWN_STUDY),
    _cell("screening.csv", 2, "study_id", "Nobody2020", UNKNOWN_STUDY),
    _cell("arms.csv", 2, "outcome", "ECCA", UNKNOWN_OUTCOME),
    _cell("contrasts.csv", 3, "outcome", "scar_depth", UNKNOWN_OUTCOME),
    _cell("published.csv", 2, "outcome", "pain", UNKNOWN_OUTCOME),
    _cell("arms.csv", 2, "n", "41", "exceeds the study's n_randomised"),
    _cell("contrasts.csv", 3, "n_control", "21", "exceeds the study's n_randomised"),
    _cell("arms.csv", 7, "role", "control", "single_arm study (studies.csv) has no control"),
    _cell("adverse_events.csv", 4, "role", "control", "has no control arm"),
    _cell("arms.csv", 3, "comparison", "c2", "no treatment row"),
    _rows("risk_of_bias.csv", lambda rows: rows[1].update(domain="D2"), 2, "domain",
          "no 'overall' risk-of-bias judgement", "no overall judgement"),
    _cell("risk_of_bias.csv", 3, "tool", "ROBINS-I", "one tool per study"),
    # the basis of a printed interval or p value, estimates with their SE or variance
    _cell("contrasts.csv", 3, "basis", "", "needs the basis of its interval or test"),
    _cell("contrasts.csv", 3, "basis", "normal", "not an allowed value of basis"),
    _rows("contrasts.csv", lambda rows: rows[1].update(basis="z", df="19"), 3, "df",
          "basis is not t", "df with a z basis"),
    _rows("contrasts.csv", lambda rows: rows[1].update(n_treatment="", n_control=""), 3, "df",
          "a t basis needs the df", "t basis without df or patients"),
    _rows("contrasts.csv", lambda rows: rows[1].update(reported_form="estimate_variance"), 3,
          "variance", "estimate_variance' needs estimate, variance",
          "estimate_variance without variance"),
    _rows("contrasts.csv", lambda rows: rows[1].update(reported_form="estimate_se", se="1.2",
                                                       variance="1.44"),
          3, "variance", "se and variance are both filled", "se and variance"),
    _cell("contrasts.csv", 3, "variance", "0", "variance must be > 0"),
    # within-person designs
    _rows("studies.csv", lambda rows: rows[0].update(design="within_person"), 2,
          "within_person_kind", "needs its kind", "within_person without its kind"),
    _cell("studies.csv", 3, "within_person_kind", "crossover",
          "design split_face is the within-person kind split_face"),
    _cell("studies.csv", 2, "within_person_kind", "split_scalp",
          "within_person_kind is for within-person designs"),
    _cell("studies.csv", 3, "within_person_kind", "split_body",
          "not an allowed value of within_person_kind"),
]


def _duplicate(index):
    return lambda rows: rows.append(dict(rows[index]))


ROW_CASES = [
    _rows("studies.csv", _duplicate(0), 5, "study_id", "same study_id as row 2", "dup study"),
    _rows("outcomes.csv", _duplicate(1), 4, "outcome", "same outcome as row 3", "dup outcome"),
    _rows("arms.csv", _duplicate(1), 8, "role", "already has a control row", "dup control"),
    _rows("arms.csv", lambda rows: rows.append(dict(rows[0], arm="SVF high dose", n="10")),
          8, "role", "at most one treatment and one control row", "two treatment arms"),
    _rows("arms.csv", lambda rows: rows.append(dict(rows[0], timepoint_weeks="12.0")),
          8, "role", "already has a treatment row", "same timepoint written differently"),
    _rows("contrasts.csv", _duplicate(0), 4, "timepoint_weeks", "same study_id", "dup contrast"),
    _rows("adverse_events.csv", _duplicate(2), 5, "arm", "same study_id", "dup event"),
    _rows("risk_of_bias.csv", _duplicate(0), 5, "domain", "same study_id", "dup rob"),
    _rows("search_log.csv", _duplicate(0), 3, "search_id", "same search_id", "dup search"),
    _rows("screening.csv", _duplicate(0), 5, "record_id", "same record_id", "dup record"),
    _rows("published.csv", _duplicate(0), 3, "subgroup", "same review_id", "dup published"),
    _rows("contrasts.csv",
          lambda rows: rows.append(dict(rows[0], study_id="Gamma2022", n_treatment="10",
                                        n_control="", outcome="ecca", measure="MD",
                                        estimate="-1", ci_low="-2", ci_high="0")),
          4, "study_id", "single_arm study has no between-arm contrasts", "single-arm contrast"),
]


@pytest.mark.parametrize("corrupt, filename, row, column, rule", CELL_CASES + ROW_CASES)
def test_each_rule_names_file_row_and_column(review, corrupt, filename, row, column, rule):
    corrupt(review)
    problems = problems_of(review)
    expected_file = f"{REVIEW}/{filename}"
    matching = [p for p in problems if p.file == expected_file and p.row == row
                and p.column == column and rule in p.rule]
    assert matching, "\n".join(str(p) for p in problems)
    problem = matching[0]
    assert problem.fix, "every problem says how to fix it"
    text = str(problem)
    assert text.startswith(f"{expected_file}, row {row}, column {column}")
    assert rule in text and " Fix: " in text


def test_message_format_matches_contract(review):
    set_cell(review, "arms.csv", 7, "se", "-1")
    with pytest.raises(SheetValidationError) as info:
        load_review(review)
    lines = str(info.value).splitlines()
    assert lines[0] == "1 problem in the extraction sheets:"
    assert lines[1].startswith(
        "data/raw/test-review/arms.csv, row 7, column se, value '-1': se must be > 0. Fix: ")
    assert isinstance(info.value, ValueError)


def test_error_survives_pickling(review):
    import pickle

    set_cell(review, "arms.csv", 2, "sd", "-1")
    with pytest.raises(SheetValidationError) as info:
        load_review(review)
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.problems == info.value.problems and str(copy) == str(info.value)


def test_all_problems_are_collected(review):
    set_cell(review, "arms.csv", 2, "sd", "-1")
    set_cell(review, "studies.csv", 3, "year", "soon")
    (review / "outcomes.csv").write_text(
        sheet_text("outcomes.csv", VALID["outcomes.csv"]).replace("direction", "directoin"),
        encoding="utf-8")
    problems = problems_of(review)
    seen = {(p.file.rsplit("/", 1)[1], p.row, p.column) for p in problems}
    assert ("arms.csv", 2, "sd") in seen
    assert ("studies.csv", 3, "year") in seen
    assert ("outcomes.csv", 1, "directoin") in seen
    assert ("outcomes.csv", 1, "direction") in seen


# ---------------------------------------------------------------------------------------------
# header problems


def test_unknown_column_suggests_the_right_name(review):
    text = sheet_text("arms.csv", VALID["arms.csv"]).replace(",sd,", ",SD ,", 1)
    (review / "arms.csv").write_text(text, encoding="utf-8")
    problems = problems_of(review)
    unknown = [p for p in problems if p.column == "SD"]
    assert unknown and unknown[0].row == 1 and "did you mean 'sd'?" in unknown[0].fix


def _without_columns(folder: Path, filename: str, dropped: tuple[str, ...],
                     rows: list[dict]) -> None:
    names = [n for n in schema.SHEETS_BY_FILE[filename].names if n not in dropped]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([row.get(n, "") for n in names])
    (folder / filename).write_text(out.getvalue(), encoding="utf-8")


LATER_CONTRAST_COLUMNS = ("se", "variance", "basis", "df")


def test_a_sheet_from_before_the_basis_column_is_told_the_one_change(review):
    _without_columns(review, "contrasts.csv", LATER_CONTRAST_COLUMNS, VALID["contrasts.csv"])
    problems = problems_of(review)
    assert len(problems) == 1, problems
    problem = problems[0]
    assert (problem.file, problem.row, problem.column) == (f"{REVIEW}/contrasts.csv", 1,
                                                           "basis")
    # row 3 is the MD with a p value; row 2 is a risk ratio, whose interval is z by convention
    assert problem.rule.startswith("rows 3 give an MD or SMD with a CI or p value")
    assert "add the column basis" in problem.fix and "write t when" in problem.fix


def test_a_sheet_from_before_the_basis_column_without_such_rows_keeps_validating(review):
    rows = [r for r in VALID["contrasts.csv"] if r["measure"] == "RR"]
    _without_columns(review, "contrasts.csv", LATER_CONTRAST_COLUMNS, rows)
    contrasts = load_review(review).contrasts
    assert contrasts["basis"].isna().all() and contrasts["variance"].isna().all()


def test_studies_from_before_within_person_kind_keep_validating(review):
    _without_columns(review, "studies.csv", ("within_person_kind",), VALID["studies.csv"])
    assert load_review(review).studies["within_person_kind"].isna().all()


def test_condition_and_co_intervention_may_be_empty(review):
    edit_rows(review, "studies.csv", lambda rows: [r.update(condition="", co_intervention="")
                                                   for r in rows])
    studies = load_review(review).studies
    assert studies["condition"].isna().all() and studies["co_intervention"].isna().all()


@pytest.mark.parametrize("level", ["dataset", "secondary_source"])
def test_datasets_and_secondary_sources_are_source_levels(review, level):
    set_cell(review, "studies.csv", 2, "source_level", level)
    assert load_review(review).studies["source_level"].iloc[0] == level


def test_an_outcome_may_have_no_better_direction(review):
    set_cell(review, "outcomes.csv", 2, "direction", "neutral")
    assert load_review(review).outcomes["direction"].iloc[0] == "neutral"


@pytest.mark.parametrize("kind", schema.WITHIN_PERSON_KINDS)
def test_every_within_person_kind_is_accepted(review, kind):
    edit_rows(review, "studies.csv", lambda rows: rows[1].update(design="within_person",
                                                                 within_person_kind=kind))
    studies = load_review(review).studies
    assert studies.loc[1, "design"] == "within_person"
    assert studies.loc[1, "within_person_kind"] == kind


def test_missing_required_column(review):
    names = [n for n in schema.STUDIES.names if n != "design"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in VALID["studies.csv"]:
        writer.writerow([row.get(n, "") for n in names])
    (review / "studies.csv").write_text(out.getvalue(), encoding="utf-8")
    problems = problems_of(review)
    assert any(p.file.endswith("studies.csv") and p.row == 1 and p.column == "design"
               and "column 'design' is missing" in p.rule
               and "may not be empty" in p.fix for p in problems)


def test_missing_column_whose_cells_may_be_empty_is_an_error(review):
    # `n` of arms.csv may be empty cell by cell, but the column itself must be there.
    names = [n for n in schema.ARMS.names if n != "n"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in VALID["arms.csv"]:
        writer.writerow([row.get(n, "") for n in names])
    (review / "arms.csv").write_text(out.getvalue(), encoding="utf-8")
    problems = problems_of(review)
    hits = [p for p in problems if p.file.endswith("arms.csv") and p.column == "n"]
    assert len(hits) == 1 and hits[0].row == 1
    assert "column 'n' is missing from the header" in hits[0].rule
    assert "its cells may be empty" in hits[0].fix


def test_duplicated_header_and_extra_cells(review):
    text = sheet_text("outcomes.csv", VALID["outcomes.csv"])
    lines = text.splitlines()
    lines[0] = lines[0] + ",note"
    lines[2] = lines[2] + ",unexpected,cells"
    (review / "outcomes.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = problems_of(review)
    assert any(p.row == 1 and p.column == "note" and "appears twice" in p.rule for p in problems)
    assert any(p.row == 3 and "cells but the header has" in p.rule for p in problems)


def test_missing_required_sheet(review):
    (review / "studies.csv").unlink()
    problems = problems_of(review)
    assert any(p.file == f"{REVIEW}/studies.csv" and "required sheet studies.csv is missing"
               in p.rule and "study_id,citation" in p.fix for p in problems)


def test_misnamed_optional_sheet_is_not_silently_ignored(review):
    (review / "adverse_events.csv").rename(review / "adverse_event.csv")
    problems = problems_of(review)
    assert any(p.file == f"{REVIEW}/adverse_event.csv" and "rename" in p.fix
               for p in problems)


def test_missing_folder(tmp_path):
    problems = problems_of(tmp_path / "nowhere")
    assert "does not exist" in problems[0].rule


# ---------------------------------------------------------------------------------------------
# files as spreadsheets save them


def test_bom_and_crlf_are_read(review):
    for filename, rows in VALID.items():
        text = sheet_text(filename, rows, newline="\r\n")
        (review / filename).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    loaded = load_review(review)
    assert loaded.studies["study_id"].tolist() == ["Alpha2020", "Beta2021", "Gamma2022"]
    assert loaded.arms.loc[0, "mean"] == 40.5


def test_semicolon_export_with_decimal_commas(review):
    text = sheet_text("arms.csv", VALID["arms.csv"], delimiter=";")
    text = text.replace("40.5", "40,5").replace("10.2", "10,2")
    assert ";40,5;10,2;" in text
    (review / "arms.csv").write_text(text, encoding="utf-8")
    loaded = load_review(review)
    assert loaded.arms.loc[0, "mean"] == 40.5 and loaded.arms.loc[0, "sd"] == 10.2
    # text columns keep their commas: "abstract, results" is a source_location
    assert loaded.arms.loc[2, "source_location"] == "abstract, results"


@pytest.mark.parametrize("raw, hint", [
    ("NR", "leave the cell empty"),
    ("n/a", "leave the cell empty"),
    ("\u221212.5", "typographic minus"),
    ("40.5 ± 10.2", "one number per cell"),
    ("12%", "without the % sign"),
])
def test_number_fixes_say_what_to_do(review, raw, hint):
    set_cell(review, "arms.csv", 2, "mean", raw)
    problem = next(p for p in problems_of(review) if p.column == "mean")
    assert problem.row == 2 and problem.value == raw and hint in problem.fix


def test_decimal_comma_in_comma_file_is_refused(review):
    set_cell(review, "arms.csv", 2, "mean", "40,5")
    problem = next(p for p in problems_of(review) if p.column == "mean")
    assert "decimal separator" in problem.fix


def test_trailing_empty_rows_and_spaces(review):
    text = sheet_text("studies.csv", VALID["studies.csv"])
    text = text.replace("study_id,", "study_id ,", 1).replace("Beta2021,", " Beta2021 ,", 1)
    width = len(schema.STUDIES.names)
    text += ("," * (width - 1) + "\n") * 3 + "\n\n"
    (review / "studies.csv").write_text(text, encoding="utf-8")
    loaded = load_review(review)
    assert loaded.studies["study_id"].tolist() == ["Alpha2020", "Beta2021", "Gamma2022"]


def test_blank_row_in_the_middle_keeps_spreadsheet_row_numbers(review):
    rows = [dict(r) for r in VALID["arms.csv"]]
    rows[1]["sd"] = "-3"  # the second data row, shown as row 4 after the blank row
    lines = sheet_text("arms.csv", rows).splitlines()
    lines.insert(2, ",,,")
    (review / "arms.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    problem = next(p for p in problems_of(review) if p.column == "sd")
    assert problem.row == 4  # header 1, first data row 2, blank row 3


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf", b" \r\n", b",,,\n"])
def test_empty_file(review, content):
    (review / "arms.csv").write_bytes(content)
    problem = next(p for p in problems_of(review) if p.file.endswith("arms.csv"))
    assert "empty" in problem.rule
    assert ",".join(schema.ARMS.names) in problem.fix


def test_xlsx_saved_instead_of_csv(review):
    (review / "arms.csv").unlink()
    with zipfile.ZipFile(review / "arms.xlsx", "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
    problem = next(p for p in problems_of(review) if "arms" in p.file)
    assert problem.file == f"{REVIEW}/arms.xlsx"
    assert "CSV UTF-8" in problem.fix and "arms.csv" in problem.fix


def test_csv_that_is_really_a_workbook(review):
    with zipfile.ZipFile(review / "studies.csv", "w") as book:
        book.writestr("xl/workbook.xml", "<workbook/>")
    problem = next(p for p in problems_of(review) if p.file.endswith("studies.csv"))
    assert "workbook" in problem.rule and "CSV UTF-8" in problem.fix
    (review / "studies.csv").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64)
    problem = next(p for p in problems_of(review) if p.file.endswith("studies.csv"))
    assert "workbook" in problem.rule


def test_latin1_bytes_are_refused_with_the_line(review):
    rows = [dict(r) for r in VALID["studies.csv"]]
    rows[1]["country"] = "España"
    text = sheet_text("studies.csv", rows)
    (review / "studies.csv").write_bytes(text.encode("latin-1"))
    problem = next(p for p in problems_of(review) if p.file.endswith("studies.csv"))
    assert problem.row == 3
    assert "not UTF-8" in problem.rule and "UTF-8" in problem.fix
    assert "España" in problem.value


def test_utf16_is_refused(review):
    text = sheet_text("outcomes.csv", VALID["outcomes.csv"])
    (review / "outcomes.csv").write_bytes(text.encode("utf-16"))
    problem = next(p for p in problems_of(review) if p.file.endswith("outcomes.csv"))
    assert "UTF-16" in problem.rule and "CSV UTF-8" in problem.fix
    (review / "outcomes.csv").write_bytes(text.encode("utf-16-le"))  # no byte-order mark
    problem = next(p for p in problems_of(review) if p.file.endswith("outcomes.csv"))
    assert "UTF-16" in problem.rule


def test_latin1_line_number_with_old_mac_line_ends(review):
    rows = [dict(r) for r in VALID["outcomes.csv"]]
    rows[1]["label"] = "Patients satisfaits à 12 semaines"
    text = sheet_text("outcomes.csv", rows, newline="\r")
    (review / "outcomes.csv").write_bytes(text.encode("latin-1"))
    problem = next(p for p in problems_of(review) if p.file.endswith("outcomes.csv"))
    assert problem.row == 3 and "satisfaits à" in problem.value


def test_unicode_text_is_kept(review):
    set_cell(review, "studies.csv", 2, "country", "Côte d'Ivoire <script>alert(1)</script>")
    assert load_review(review).studies.loc[0, "country"].startswith("Côte d'Ivoire <script>")


# ---------------------------------------------------------------------------------------------
# the loader only reads


def _folder_digest(folder: Path) -> dict:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir())}


def test_loader_never_modifies_the_folder(review):
    before = _folder_digest(review)
    load_review(review)
    set_cell(review, "arms.csv", 2, "sd", "-1")
    before_bad = _folder_digest(review)
    problems_of(review)
    assert _folder_digest(review) == before_bad
    assert set(before) == set(before_bad)


# ---------------------------------------------------------------------------------------------
# random mutations: the loader returns or raises SheetValidationError, nothing else

cell_values = st.one_of(
    st.just(""),
    st.text(max_size=12),
    st.text(alphabet=string.digits + ".,-+eE%<> ", max_size=8),
    st.integers(min_value=-10**20, max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["true", "FALSE", "nan", "inf", "1e999", "0", "-0", "ecca", "control",
                     "Alpha2020", "overall", "RoB2", "excluded", "single_arm"]),
)


@st.composite
def mutated_sheet(draw):
    """A sheet of the valid folder with 1-4 random cell, row or header mutations."""
    filename = draw(st.sampled_from(sorted(VALID)))
    names = list(schema.SHEETS_BY_FILE[filename].names)
    header = list(names)
    rows = [[r.get(n, "") for n in names] for r in VALID[filename]]
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["cell", "cell", "delete", "duplicate", "rename"]))
        if action == "rename":
            header[draw(st.integers(0, len(names) - 1))] = draw(st.text(max_size=10))
        elif rows:
            index = draw(st.integers(0, len(rows) - 1))
            if action == "cell":
                rows[index][draw(st.integers(0, len(names) - 1))] = draw(cell_values)
            elif action == "delete":
                rows.pop(index)
            else:
                rows.insert(index, list(rows[index]))
    return filename, header, rows


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pristine") / "test-review"
    write_review(folder)
    return folder


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sheet=mutated_sheet(), delimiter=st.sampled_from([",", ";"]))
def test_random_mutations_only_raise_validation_errors(pristine, tmp_path, sheet, delimiter):
    filename, header, rows = sheet
    folder = tmp_path / "mut" / "test-review"
    if folder.parent.exists():
        shutil.rmtree(folder.parent)
    shutil.copytree(pristine, folder)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    (folder / filename).write_text(out.getvalue(), encoding="utf-8")
    try:
        loaded = load_review(folder)
    except SheetValidationError as err:
        assert err.problems, "a validation error always lists its problems"
        for problem in err.problems:
            assert problem.rule and problem.fix
            if problem.file.endswith(filename) and problem.row is not None:
                assert 1 <= problem.row <= len(rows) + 1
    else:
        assert isinstance(loaded, Review)
        frame = getattr(loaded, filename[: -len(".csv")])
        assert list(frame.columns) == list(schema.SHEETS_BY_FILE[filename].names)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=300))
def test_random_bytes_only_raise_validation_errors(pristine, tmp_path, content):
    folder = tmp_path / "bytes" / "test-review"
    if folder.parent.exists():
        shutil.rmtree(folder.parent)
    shutil.copytree(pristine, folder)
    (folder / "outcomes.csv").write_bytes(content)
    with pytest.raises(SheetValidationError):
        load_review(folder)


def test_count_sheets_keep_counts_within_their_totals(review):
    """proportions.csv and ordinal_counts.csv: a count above its total, and a grade row with
    nothing printed, are each reported at their cell."""
    common = dict(study_id="Alpha2020", outcome="satisfied", timepoint_weeks="12", **_source())
    (review / "proportions.csv").write_text(sheet_text("proportions.csv", [
        dict(common, arm="SVF", role="treatment", events="21", total="20",
             reported_form="events_total"),
    ]), encoding="utf-8")
    (review / "ordinal_counts.csv").write_text(sheet_text("ordinal_counts.csv", [
        dict(common, comparison="c1", arm="SVF", role="treatment", grade="excellent",
             grade_rank="1", count="25", total="20"),
        dict(common, comparison="c1", arm="SVF", role="treatment", grade="good",
             grade_rank="2", total="20"),
    ]), encoding="utf-8")
    found = {(Path(p.file).name, p.row, p.column): p.rule for p in problems_of(review)}
    assert "events (21) must not exceed total (20)" in found[("proportions.csv", 2, "events")]
    assert "count (25) must not exceed total (20)" in found[("ordinal_counts.csv", 2, "count")]
    assert "neither a count" in found[("ordinal_counts.csv", 3, "count")]


# ---------------------------------------------------------------------------------------------
# paths and the committed folders

ROOT = Path(__file__).resolve().parents[1]


def test_absolute_path_is_shown_relative_to_the_working_directory(review):
    set_cell(review, "arms.csv", 2, "sd", "-1")
    problem = next(p for p in problems_of(review.resolve()) if p.column == "sd")
    assert problem.file == f"{REVIEW}/arms.csv"


def test_command_line_reports_problems(review, capsys):
    from metareview.review.sheets import main

    assert main([str(review)]) == 0
    set_cell(review, "arms.csv", 2, "sd", "-1")
    assert main([str(review)]) == 1
    assert "arms.csv, row 2, column sd" in capsys.readouterr().err


FIXTURE = ROOT / "tests" / "fixtures" / "review_fixture"


def test_fixture_review_is_valid():
    load_review(FIXTURE)


@pytest.mark.parametrize(
    "folder", sorted(p for p in (ROOT / "data" / "raw").glob("*") if p.is_dir()),
    ids=lambda p: p.name,
)
def test_committed_review_folders_are_valid(folder):
    """docs/EXTRACTION.md, "Before a change is accepted": the committed sheets pass every check."""
    load_review(folder)


def test_every_reported_form_has_a_completeness_rule():
    """A form added to schema.py must be given its required cells here (or be text-only)."""
    from metareview.review.sheets import _ARM_FORM_NEEDS, _CONTRAST_FORM_NEEDS

    assert set(schema.ARM_FORMS) == set(_ARM_FORM_NEEDS) | {"percent_only", "narrative"}
    assert set(schema.CONTRAST_FORMS) == set(_CONTRAST_FORM_NEEDS) | {"narrative"}
    for needs in (*_ARM_FORM_NEEDS.values(), *_CONTRAST_FORM_NEEDS.values()):
        assert all(name in schema.ARMS.names + schema.CONTRASTS.names for name in needs)


# ---------------------------------------------------------------------------------------------
# the review's own definitions (review.yaml)


def test_the_review_sets_the_year_range(review):
    (review / "review.yaml").write_text(REVIEW_YAML.replace("[1990, 2030]", "[1940, 2030]"),
                                        encoding="utf-8")
    set_cell(review, "studies.csv", 2, "year", "1948")
    assert load_review(review).studies.loc[0, "year"] == 1948


def test_intervention_classes_come_from_the_review(review):
    set_cell(review, "studies.csv", 2, "intervention_class", "vaccine")
    problems = [p for p in problems_of(review) if p.column == "intervention_class"]
    assert problems and problems[0].row == 2 and "svf" in problems[0].fix
    (review / "review.yaml").write_text(REVIEW_YAML.replace("svf: SVF", "vaccine: Vaccine"),
                                        encoding="utf-8")
    edit_rows(review, "studies.csv", lambda rows: rows[0].update(intervention_class="vaccine"))
    assert load_review(review).studies.loc[0, "intervention_class"] == "vaccine"


def test_timepoints_may_be_absent_unless_the_review_requires_them(review):
    set_cell(review, "arms.csv", 2, "timepoint_weeks", "")
    edit_rows(review, "arms.csv", lambda rows: [r.update(timepoint_weeks="")
                                                for r in rows if r["study_id"] == "Alpha2020"
                                                and r["outcome"] == "ecca"])
    assert load_review(review).arms["timepoint_weeks"].isna().sum() == 2
    (review / "review.yaml").write_text(REVIEW_YAML + "required: {arms: [timepoint_weeks]}\n",
                                        encoding="utf-8")
    problems = [p for p in problems_of(review) if p.column == "timepoint_weeks"]
    assert [p.row for p in problems] == [2, 3] and "must not be empty" in problems[0].rule


def test_extra_study_columns_are_declared_by_the_review(review):
    (review / "review.yaml").write_text(
        REVIEW_YAML + "study_columns: [{name: latitude, kind: float}]\n"
                      "moderators: [{column: latitude, kind: continuous}]\n", encoding="utf-8")
    problems = problems_of(review)
    assert any(p.column == "latitude" and "missing from the header" in p.rule for p in problems)
    rows = [dict(r, latitude=str(10 * i)) for i, r in enumerate(VALID["studies.csv"])]
    names = list(schema.STUDIES.names) + ["latitude"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([row.get(n, "") for n in names])
    (review / "studies.csv").write_text(out.getvalue(), encoding="utf-8")
    loaded = load_review(review)
    assert loaded.studies["latitude"].tolist() == [0.0, 10.0, 20.0]
    assert loaded.definitions.moderators[0].column == "latitude"


@pytest.mark.parametrize("text, fragment", [
    ("", "must be a YAML mapping"),
    ("title: x\n", "needs at least one class"),
    ("title: x\nintervention_classes: [a]\nyears: [2020, 2000]\n", "two whole years in order"),
    ("title: x\nintervention_classes: [a]\nsubgroups: [colour]\n", "studies.csv does not have"),
    ("title: x\nintervention_classes: [a]\ncolour: red\n", "is not a key of review.yaml"),
    ("title: [unclosed\n", "not readable as YAML"),
])
def test_bad_definitions_name_the_key_and_the_rule(review, text, fragment):
    (review / "review.yaml").write_text(text, encoding="utf-8")
    problems = problems_of(review)
    assert len(problems) == 1 and problems[0].file == f"{REVIEW}/review.yaml"
    assert fragment in problems[0].rule and problems[0].fix


def test_missing_definitions_say_how_to_make_them(review):
    (review / "review.yaml").unlink()
    problems = problems_of(review)
    assert "make new-review NAME=test-review" in problems[0].fix


def test_missing_codebook_says_how_to_write_one(review):
    (review / "CODEBOOK.md").unlink()
    problems = problems_of(review)
    assert any(p.file.endswith("CODEBOOK.md") and "make codebook REVIEW=test-review" in p.fix
               for p in problems)
