"""One way to say that a comparison was not randomised: `design: parallel` with
`randomised: false` (issue 19: "`non_randomised` overlaps with `parallel` + `randomised:
false`").

Before, both spellings validated and meant different things to the analyses: a subgroup by
design put `non_randomised` studies in one level and `parallel` ones with `randomised: false`
in another. Now the design vocabulary has no `non_randomised`; a sheet that still writes it
validates, is read as parallel and not randomised, and the validation log names the one-line
change. Either spelling gives the same analysed design (a non-randomised comparison), so
committed reviews keep their numbers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metareview.review import schema
from metareview.review.codebook import generated_part
from metareview.review.sheets import SheetValidationError, load_review
from test_sheets_validation import set_cell, write_review

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "review_fixture"
EARLIER = ["FrimodtMoller1973", "SteinAronson1953", "Rosenthal1961", "Comstock1974",
           "ComstockWebster1969", "Comstock1976"]  # the fixture's non_randomised trials


def _rewritten(folder: Path) -> Path:
    """The fixture with its non_randomised studies written the current way."""
    studies = folder / "studies.csv"
    studies.write_text(studies.read_text().replace(",non_randomised,false,", ",parallel,false,"))
    return folder


def test_the_vocabulary_offers_one_way():
    assert "non_randomised" not in schema.DESIGNS
    column = schema.STUDIES.column("design")
    assert "non_randomised" not in column.allowed and column.earlier == ("non_randomised",)
    assert "randomised" in column.description
    row = generated_part(FIXTURE).split("| `design` |")[1].split("\n")[0]
    assert "`non_randomised`" not in row.split("|")[0]  # the values offered
    assert "randomised false" in row  # the description says how to write it


def test_an_earlier_sheet_validates_and_is_read_as_parallel_not_randomised(tmp_path):
    folder = shutil.copytree(FIXTURE, tmp_path / "fixture")
    assert "non_randomised" in (folder / "studies.csv").read_text()
    review = load_review(folder)
    studies = review.studies.set_index("study_id")
    assert set(studies["design"]) <= set(schema.DESIGNS)
    assert (studies.loc[EARLIER, "design"] == "parallel").all()
    assert not studies.loc[EARLIER, "randomised"].any()
    (note,) = review.notes
    assert "design non_randomised is an earlier value, read as design parallel with " \
           "randomised false" in note
    assert "write parallel in the sheet" in note and "Comstock1976" in note


def test_both_spellings_are_analysed_alike(tmp_path):
    from metareview.report.descriptive import study_characteristics
    from metareview.review.derive import derive_effects

    earlier = load_review(shutil.copytree(FIXTURE, tmp_path / "earlier"))
    current = load_review(_rewritten(shutil.copytree(FIXTURE, tmp_path / "current")))
    assert current.notes == ()
    for review in (earlier, current):
        effects = derive_effects(review, paired_r=0.5).effects
        designs = dict(zip(effects["study_id"], effects["design"]))
        assert {designs[s] for s in EARLIER if s in designs} == {"non_randomised"}
        assert designs["Aronson1948"] == "parallel"  # randomised: a level of its own
        shown = study_characteristics(review).set_index("study_id")["design"]
        assert (shown.loc[EARLIER] == "non_randomised").all()
    assert earlier.studies.equals(current.studies)


def test_an_earlier_value_beside_randomised_true_names_the_one_line_change(tmp_path,
                                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = Path("data/raw/test-review")
    write_review(folder)
    set_cell(folder, "studies.csv", 2, "design", "non_randomised")  # randomised is true
    with pytest.raises(SheetValidationError) as raised:
        load_review(folder)
    (problem,) = raised.value.problems
    assert (problem.column, problem.value, problem.row) == ("design", "non_randomised", 2)
    assert "contradicts randomised true" in problem.rule
    assert problem.fix == "write design parallel and keep randomised as the source says it."


def test_a_misspelt_design_is_offered_the_current_values_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = Path("data/raw/test-review")
    write_review(folder)
    set_cell(folder, "studies.csv", 2, "design", "non-randomised")
    with pytest.raises(SheetValidationError) as raised:
        load_review(folder)
    (problem,) = raised.value.problems
    assert "Use one of: parallel, split_face, crossover, cluster, single_arm, " \
           "within_person." in problem.fix
