"""Tables and sentences shown in the review's words, not its identifiers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metareview.report import words as words_module
from metareview.report.display import to_html
from metareview.report.words import CODED_WORDS, Words, review_words
from metareview.review import schema
from metareview.review.sheets import load_review
from metareview.run.wording import SNAKE_CASE, text_problems

FIXTURE = "tests/fixtures/review_fixture"


def _coded_values() -> set[str]:
    values = set()
    for name in dir(schema):
        value = getattr(schema, name)
        if name.isupper() and isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            values.update(value)
    for judgements in schema.ROB_JUDGEMENTS.values():
        values.update(judgements)
    return values


def test_every_coded_value_of_the_schema_has_words():
    """A coded value with an underscore (a design, a form, a judgement) has its words, so a new
    value added to the schema cannot reach a report as an identifier."""
    missing = sorted(v for v in _coded_values() if "_" in v and v not in CODED_WORDS)
    assert missing == []
    assert not any(SNAKE_CASE.search(w) for w in CODED_WORDS.values())


def test_a_frame_in_words_keeps_numbers_and_missing_cells():
    words = Words(values={"ecca": "ECCA score", "S1": "Smith 2020"})
    frame = pd.DataFrame({
        "study_id": ["S1", "S2"],
        "outcome": ["ecca", "scar_volume"],
        "design": ["split_face", "parallel"],
        "judgement": ["some_concerns", None],
        "outcomes": ["ecca; scar_volume", ""],
        "n_analysed": pd.array([10, None], dtype="Int64"),
        "estimate": [0.25, np.nan],
    })
    shown = words.frame(frame)
    assert list(shown.columns) == ["study", "outcome", "design", "judgement", "outcomes",
                                   "analysed (n)", "estimate"]
    assert shown["study"].tolist() == ["Smith 2020", "S2"]
    assert shown["outcome"].tolist() == ["ECCA score", "scar volume"]
    assert shown["design"].tolist() == ["split-face", "parallel groups"]
    assert shown["judgement"].iloc[0] == "some concerns" and pd.isna(shown["judgement"].iloc[1])
    assert shown["outcomes"].iloc[0] == "ECCA score; scar volume"
    assert pd.isna(shown["analysed (n)"].iloc[1])
    assert shown["estimate"].iloc[0] == 0.25
    assert frame["outcome"].iloc[0] == "ecca"  # the frame itself is not changed
    html = to_html(shown)
    assert text_problems(html, "table") == []


def test_a_sentence_in_words_and_a_header():
    words = Words(values={"ecca": "ECCA score"})
    assert words.text("ecca and follow_up_weeks; co_intervention") == (
        "ecca and follow-up (weeks); co-intervention")  # "ecca" has no underscore: kept
    assert words.text("x by some_concerns") == "x by some concerns"
    assert words.header("co_intervention") == "co-intervention"
    assert words.header("k") == "k"


def test_an_empty_table_shows_nothing_or_its_caption():
    empty = pd.DataFrame()
    assert to_html(empty) == ""
    assert to_html(empty, caption="Pooled results") == "<p><em>Pooled results: none.</em></p>"


def test_the_fixture_review_in_its_own_words():
    review = load_review(FIXTURE)
    words = review_words(review)
    for outcome, label in zip(review.outcomes["outcome"], review.outcomes["label"]):
        assert words.word(outcome) == label or "_" not in outcome
    from metareview.report.descriptive import study_labels

    for study_id, label in study_labels(review.studies).items():
        assert words.values[study_id] == label
    for key, label in review.definitions.intervention_classes.items():
        assert words.values[key] == label


def test_a_comparison_of_one_study_is_named_by_its_arms():
    arms = pd.DataFrame({"study_id": ["A", "A", "B", "B", "C", "C"],
                         "comparison": ["gel_vs_laser", "gel_vs_laser", "shared", "shared",
                                        "shared", "shared"],
                         "role": ["treatment", "control"] * 3,
                         "arm": ["gel side", "laser side", "x", "y", "p", "q"]})

    class Definitions:
        comparison_labels = {"labelled_one": "As labelled"}

    class Review:
        definitions = Definitions()

    Review.arms = arms
    labels = words_module._comparison_labels(Review())
    assert labels == {"labelled_one": "As labelled", "gel_vs_laser": "gel side vs laser side"}


@pytest.mark.parametrize("cell", ["<NA>", "nan"])
def test_missing_values_show_as_empty_cells(cell):
    frame = pd.DataFrame({"n": pd.array([1, None], dtype="Int64"), "x": [1.5, np.nan]})
    assert cell not in to_html(frame)


def test_risk_of_bias_in_parts_without_empty_domain_cells():
    """A study judged overall only goes to its own table, so no part has empty cells."""
    from metareview.report.descriptive import rob_table_parts

    rows = [("A", "RoB2", d, "low") for d in ("D1", "D2", "overall")]
    rows += [("B", "RoB2", d, "high") for d in ("D1", "D2", "overall")]
    rows += [("C", "RoB2", "overall", "some_concerns")]
    rob = pd.DataFrame(rows, columns=["study_id", "tool", "domain", "judgement"])
    parts = rob_table_parts(rob)
    assert [caption for caption, _ in parts] == [
        "RoB2: domains D1 to D2 and overall (2 studies)",
        "RoB2: overall judgement only (1 study)"]
    for _, part in parts:
        assert not part.isna().any().any()
    assert parts[1][1].columns.tolist() == ["study_id", "overall"]


def test_a_table_more_than_half_empty_is_named():
    from metareview.run.wording import half_empty_tables

    full = "<table><tr><th>study</th></tr><tr><td>A</td><td>1</td></tr></table>"
    sparse = ("<table><tr><th>study</th><th>D1</th></tr><tr><td>A</td><td></td><td> </td>"
              "</tr></table>")
    assert half_empty_tables(full, "page") == []
    assert half_empty_tables(sparse, "page") == [
        "page: table starting 'study' has 2 of 3 cells empty"]
