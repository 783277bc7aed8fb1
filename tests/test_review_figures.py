"""A review's figures speak its own words: outcome labels and directions from outcomes.csv,
"favours" and arm labels and subgroup names from review.yaml, a study's `label` where the
studies sheet gives one; checked on the fixture review (dat.bcg, dat.normand1999)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from metareview.report import pooled, review_figures, subgroups, swim
from metareview.report.figures.style import alt_text
from metareview.review.derive import derive_effects
from metareview.review.sheets import load_review

FIXTURE = Path(__file__).parent / "fixtures" / "review_fixture"


@pytest.fixture(scope="module")
def review():
    """The fixture review with its own arm names (a vaccine against none, as in dat.bcg), an
    arm name whose capitals must survive, and a `label` per study (as "Author Year")."""
    base = load_review(FIXTURE)
    definitions = dataclasses.replace(base.definitions, favours_treatment="BCG vaccine",
                                      favours_control="no vaccine")
    studies = base.studies.assign(label=[f"{s[:8]} et al." for s in base.studies["study_id"]])
    return dataclasses.replace(base, definitions=definitions, studies=studies)


@pytest.fixture(scope="module")
def effects(review):
    return derive_effects(review).effects


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def _favours(fig) -> tuple[str, str]:
    left = [a.get_text() for a in fig.findobj() if a.get_gid() == "favours-left"]
    right = [a.get_text() for a in fig.findobj() if a.get_gid() == "favours-right"]
    return left[0], right[0]


def test_subgroup_forest_plot_in_the_reviews_words(review, effects):
    analysis = subgroups.subgroup_analyses(effects, moderators=["design"])
    (fit,) = [f for f in analysis.fits if f.outcome == "tb"]
    fig = review_figures.subgroup_forest_for(fit, review)
    texts = _texts(fig)
    # design values "non_randomised" and "parallel", as `label_of` words them, capitalised,
    # in the schema's order of designs
    assert [t for t in texts if "(k = " in t] == ["Parallel (k = 7)", "Non randomised (k = 6)"]
    assert "Experimental" not in texts and "BCG vaccine" in texts and "No vaccine" in texts
    # fewer cases is better: the vaccine's side is the left, as in the outcome's forest plot
    assert _favours(fig) == ("Favours BCG vaccine", "Favours no vaccine")
    # study labels from the studies sheet, not ids
    assert "Aronson1 et al." in texts and "Aronson1948" not in texts
    assert alt_text(fig).startswith("Subgroup forest plot: Tuberculosis cases (RR, by design; "
                                    "lower is better).")


def test_every_forest_plot_of_a_review_puts_favours_on_the_outcomes_side(review, effects):
    flipped = dataclasses.replace(review, outcomes=review.outcomes.assign(
        direction=review.outcomes["direction"].where(review.outcomes["outcome"] != "los",
                                                     "higher_is_better")))
    analyses = pooled.analyses(effects, review.definitions)
    sides, titles = {}, {}
    for named in analyses.plotted():
        fig = review_figures.forest_for(named, flipped)
        sides[named.fit.outcome] = _favours(fig)
        titles[named.fit.outcome] = fig.texts[-1].get_text()
    # the title says which side is better, since it decides where each label stands
    assert titles["tb"] == "Tuberculosis cases (RR; lower is better)"
    assert titles["los"] == "Length of hospital stay (MD; higher is better)"
    assert sides["tb"] == ("Favours BCG vaccine", "Favours no vaccine")
    assert sides["los"] == ("Favours no vaccine", "Favours BCG vaccine")


def test_forest_plot_keeps_an_arm_names_capitals_and_draws_risk_of_bias(review, effects):
    renamed = dataclasses.replace(review, definitions=dataclasses.replace(
        review.definitions, favours_treatment="MSC therapy"))
    (named,) = [n for n in pooled.analyses(effects, review.definitions).plotted()
                if n.fit.outcome == "tb"]
    fig = review_figures.forest_for(named, renamed)
    texts = _texts(fig)
    assert "MSC therapy" in texts and "Msc therapy" not in texts
    # judgements keyed by study id reach rows labelled by the studies' names
    assert len(review.risk_of_bias) and [a for a in fig.findobj()
                                         if (a.get_gid() or "").startswith("rob-")]


def test_effect_direction_plot_in_the_reviews_words(review, effects):
    results, _ = swim.study_results(review, effects)
    fig = review_figures.effect_direction_for(results, review)
    headers = [" ".join(t.get_text().split()) for ax in fig.axes for t in ax.get_xticklabels()]
    labels = dict(zip(review.outcomes["outcome"], review.outcomes["label"]))
    present = [o for o in review.outcomes["outcome"] if o in set(results["outcome"])]
    assert headers == [" ".join(labels[o].split()) for o in present]
    rows = {t.get_text() for ax in fig.axes for t in ax.get_yticklabels()}
    assert rows <= set(review.studies["label"])
    sections = {legend.get_title().get_text(): [t.get_text() for t in legend.get_texts()]
                for legend in fig.legends}
    assert sections["Direction of effect"][:2] == ["Favours BCG vaccine", "Favours no vaccine"]
