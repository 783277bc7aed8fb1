"""The summary-of-findings table (metareview.report.findings): the effect on its natural scale,
absolute effects per 1000 checked by hand, and GRADE's wording for every certainty level."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview.report.findings import (
    SOF_COLUMNS,
    OutcomeSummary,
    absolute_effects,
    plain_language,
    summary_of_findings,
)
from metareview.report.grade import assess

from support import StubFit


def log_fit(rr, low, high, pi=(math.nan, math.nan)):
    return StubFit(math.log(rr), math.log(low), math.log(high),
               *(p if math.isnan(p) else math.log(p) for p in pi))


def binary_effects():
    """Three trials; control risks 10/100, 20/100, 30/100 (median 0.2); 400 + ... people."""
    return pd.DataFrame({
        "study_id": ["A", "B", "C"],
        "yi": [-0.4, -0.3, -0.35],
        "vi": [0.05, 0.04, 0.06],
        "n_treatment": [100, 100, 100],
        "n_control": [100, 100, 100],
        "events_control": [10, 20, 30],
        "randomised": [True, True, True],
    })


def certainty(level, eff=None, fit=None, measure="RR"):
    """A Certainty at `level`, by overriding domains of a body that is otherwise not rated
    down (overrides with reasons, as grade.csv would give them)."""
    eff = binary_effects() if eff is None else eff
    fit = log_fit(0.7, 0.5, 0.98) if fit is None else fit
    rows = [{"domain": d, "judgement": "not_serious", "reason": "checked by the reviewers"}
            for d in ("risk_of_bias", "inconsistency", "imprecision")]
    down = {"high": [], "moderate": ["serious"], "low": ["very_serious"],
            "very low": ["very_serious", "serious"]}[level]
    for domain, judgement in zip(("indirectness", "publication_bias"), down):
        rows.append({"domain": domain, "judgement": judgement, "reason": "set for the test"})
    c = assess("o", result=fit, effects=eff, rob=None, design_randomised=True,
               measure=measure, overrides=rows)
    assert c.level == level
    return c


def row(summary, **kwargs):
    table = summary_of_findings([summary], **kwargs)
    assert list(table.columns) == SOF_COLUMNS
    return table.iloc[0]


def rr_summary(level="high", fit=None, label="Wound infection"):
    fit = log_fit(0.7, 0.5, 0.98, pi=(0.4, 1.2)) if fit is None else fit
    return OutcomeSummary("o", label, "RR", "lower_is_better", fit, binary_effects(),
                          certainty(level, fit=fit))


# --- effect, participants, prediction interval -------------------------------------------------


def test_ratio_effect_on_the_natural_scale():
    r = row(rr_summary())
    assert r["Outcome"] == "Wound infection (lower is better)"
    assert r["Studies (participants)"] == "3 studies (600 participants)"
    assert r["Effect (95% CI)"] == "RR 0.70 (0.50 to 0.98)"
    assert r["95% prediction interval"] == "0.40 to 1.20"


def test_mean_difference_with_its_unit_and_minus_signs():
    eff = binary_effects().drop(columns="events_control")
    fit = StubFit(-2.5, -3.9, -1.1, pi_low=-5.0, pi_high=0.4)
    s = OutcomeSummary("days", "Time to healing", "MD", "lower_is_better", fit, eff, None,
                       unit="days")
    r = row(s)
    assert r["Outcome"] == "Time to healing (days; lower is better)"
    assert r["Effect (95% CI)"] == "MD \u22122.5 days (\u22123.9 to \u22121.1)"
    assert r["95% prediction interval"] == "\u22125.0 to 0.4"
    assert r["Assumed risk with control"] == ""    # no absolute effects for a continuous outcome
    assert r["Certainty"] == "Not assessed"


def test_higher_is_better_continuous_effect_is_shown_as_stored():
    # effects are treatment minus control on the outcome's scale: +0.45 is 0.45 SD higher
    fit = StubFit(0.45, 0.10, 0.80)
    s = OutcomeSummary("sat", "Satisfaction", "SMD", "higher_is_better", fit,
                       binary_effects(), None)
    assert row(s)["Effect (95% CI)"] == "SMD 0.45 (0.10 to 0.80)"
    assert row(s)["What happens"] == \
        "The intervention increases satisfaction (certainty not assessed)."
    lower = OutcomeSummary("pain", "Pain", "SMD", "lower_is_better", StubFit(-0.45, -0.80, -0.10),
                           binary_effects(), None)
    assert row(lower)["Effect (95% CI)"] == "SMD \u22120.45 (\u22120.80 to \u22120.10)"
    assert row(lower)["What happens"] == \
        "The intervention reduces pain (certainty not assessed)."


def test_proportion_back_transformed_to_percent():
    def logit(p):
        return math.log(p / (1 - p))

    fit = StubFit(logit(0.62), logit(0.501), logit(0.728))
    eff = pd.DataFrame({"study_id": ["A", "B", "C"], "yi": [0.4, 0.5, 0.6],
                        "vi": [0.1, 0.1, 0.1], "n_treatment": [30, 40, 50]})
    s = OutcomeSummary("clear", "Clearance", "PLO", "higher_is_better", fit, eff, None)
    r = row(s, intervention="fat grafting")
    assert r["Effect (95% CI)"] == "62.0% (50.1% to 72.8%)"
    assert r["Studies (participants)"] == "3 studies (120 participants)"
    assert r["What happens"] == \
        "With fat grafting, clearance is about 62.0% (certainty not assessed)."


def test_single_study_uses_its_wald_interval():
    eff = binary_effects().iloc[:1]                # yi -0.4, vi 0.05
    s = OutcomeSummary("o", "Wound infection", "RR", "lower_is_better", None, eff, None)
    r = row(s)
    low, high = -0.4 - 1.959964 * math.sqrt(0.05), -0.4 + 1.959964 * math.sqrt(0.05)
    assert r["Effect (95% CI)"] == \
        f"RR {math.exp(-0.4):.2f} ({math.exp(low):.2f} to {math.exp(high):.2f})"
    assert r["95% prediction interval"] == "not estimable (1 study)"
    assert "One study" in r["Footnotes"]


def test_a_real_pooled_result_goes_through():
    eff = binary_effects()
    fit = mr.pool(eff["yi"], eff["vi"])
    c = assess("o", result=fit, effects=eff, rob=None, design_randomised=None, measure="RR")
    s = OutcomeSummary("o", "Wound infection", "RR", "lower_is_better", fit, eff, c)
    r = row(s)
    assert r["Effect (95% CI)"].startswith(f"RR {math.exp(fit.estimate):.2f} (")
    assert r["Certainty"] == c.label


# --- absolute effects per 1000 ------------------------------------------------------------------


def test_absolute_effects_by_hand():
    # ACR = median(10/100, 20/100, 30/100) = 0.2 -> 200 per 1000
    # RR 0.70 (0.50 to 0.98): 0.2 x 0.70 = 0.140, 0.2 x 0.50 = 0.100, 0.2 x 0.98 = 0.196
    # difference: 140 - 200 = -60, 100 - 200 = -100, 196 - 200 = -4
    r = row(rr_summary())
    assert r["Assumed risk with control"] == "200 per 1000"
    assert r["Corresponding risk with intervention (95% CI)"] == "140 per 1000 (100 to 196)"
    assert r["Difference per 1000 (95% CI)"] == \
        "60 fewer per 1000 (100 fewer to 4 fewer)"
    assert "median control-arm risk of the 3 included studies (200 per 1000)" in r["Footnotes"]
    assert "assumed risk × RR" in r["Footnotes"]


def test_absolute_effects_of_odds_ratios_and_risk_differences():
    # OR 0.5 at 0.2: 0.2·0.5 / (1 − 0.2 + 0.2·0.5) = 0.1 / 0.9 = 0.1111 -> 111
    # OR 2.0 at 0.2: 0.4 / 1.2 = 0.3333 -> 333 (133 more)
    got = absolute_effects("OR", 0.2, 0.5, 0.5, 2.0)
    assert (got["control"], got["intervention"], got["intervention_low"],
            got["intervention_high"]) == (200, 111, 111, 333)
    assert (got["difference"], got["difference_high"]) == (-89, 133)
    # RD -0.05 (-0.12 to 0.02) at 0.2: 150 (80 to 220)
    got = absolute_effects("RD", 0.2, -0.05, -0.12, 0.02)
    assert (got["intervention"], got["intervention_low"], got["intervention_high"]) == \
        (150, 80, 220)
    # HR 0.5 at 0.2: 1 − 0.8^0.5 = 0.1056 -> 106
    assert absolute_effects("HR", 0.2, 0.5, 0.5, 0.5)["intervention"] == 106
    assert absolute_effects("RR", None, 0.7, 0.5, 0.98) is None


def test_difference_crossing_zero_reads_fewer_to_more():
    # RR 0.90 (0.60 to 1.35) at 0.2: 180 (120 to 270); 20 fewer (80 fewer to 70 more)
    r = row(rr_summary(fit=log_fit(0.9, 0.6, 1.35)))
    assert r["Corresponding risk with intervention (95% CI)"] == "180 per 1000 (120 to 270)"
    assert r["Difference per 1000 (95% CI)"] == "20 fewer per 1000 (80 fewer to 70 more)"


def test_no_control_events_no_absolute_effects():
    eff = binary_effects().drop(columns="events_control")
    s = OutcomeSummary("o", "Wound infection", "RR", "lower_is_better",
                       log_fit(0.7, 0.5, 0.98), eff, None)
    r = row(s)
    assert r["Assumed risk with control"] == ""
    assert "no control-arm events" in r["Footnotes"]


# --- wording -----------------------------------------------------------------------------------


@pytest.mark.parametrize("level, sentence", [
    ("high", "Cell therapy reduces wound infection."),
    ("moderate", "Cell therapy probably reduces wound infection."),
    ("low", "Cell therapy may reduce wound infection."),
    ("very low", "We are very uncertain whether cell therapy reduces wound infection."),
])
def test_wording_of_each_certainty_level(level, sentence):
    r = row(rr_summary(level), intervention="cell therapy")
    assert r["What happens"] == sentence
    assert r["Certainty"].split()[0] == {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯",
                                         "very low": "⊕◯◯◯"}[level]


@pytest.mark.parametrize("level, sentence", [
    ("high", "Cell therapy results in little or no difference in wound infection."),
    ("moderate", "Cell therapy probably results in little or no difference in wound infection."),
    ("low", "Cell therapy may result in little or no difference in wound infection."),
    ("very low", ("We are very uncertain whether cell therapy makes any difference to wound "
                  "infection.")),
])
def test_little_or_no_difference_when_the_ci_is_narrow_around_no_effect(level, sentence):
    # RR 0.98 (0.90 to 1.10): includes 1, inside 0.75 to 1.25
    r = row(rr_summary(level, fit=log_fit(0.98, 0.90, 1.10)), intervention="cell therapy")
    assert r["What happens"] == sentence


def test_a_wide_ci_around_no_effect_is_not_little_or_no_difference():
    # RR 0.85 (0.60 to 1.20) includes 1 but reaches below 0.75: the point estimate speaks
    r = row(rr_summary("low", fit=log_fit(0.85, 0.60, 1.20)), intervention="cell therapy")
    assert r["What happens"] == "Cell therapy may reduce wound infection."


def test_an_increase_and_an_acronym_label():
    r = row(rr_summary("moderate", fit=log_fit(1.4, 1.1, 1.8), label="ECCA improvement"),
            intervention="cell therapy")
    assert r["What happens"] == "Cell therapy probably increases ECCA improvement."


def test_plain_language_rejects_an_unknown_change():
    with pytest.raises(ValueError, match="change must be"):
        plain_language("high", "X", "Y", change="improve")


# --- footnotes, synthesis without meta-analysis ------------------------------------------------


def test_footnotes_carry_the_reasons_for_rating_down():
    r = row(rr_summary("moderate"))
    notes = r["Footnotes"].split("\n")
    assert notes[0].startswith("a. Risk of bias: not serious (reviewers' judgement")
    assert notes[1].startswith("b. Inconsistency: not serious (reviewers' judgement")
    assert notes[2] == ("c. Indirectness: serious (reviewers' judgement, replacing the "
                        "computed not serious: set for the test).")
    assert notes[3].startswith("d. Imprecision: not serious (reviewers' judgement")
    assert notes[-1].startswith(f"{chr(ord('a') + len(notes) - 1)}. Assumed risk with control")


def test_synthesis_without_meta_analysis_row_says_so():
    vote = mr.vote_count([1, 1, 1, -1, 0])
    combined = mr.combine_pvalues([0.01, 0.04, 0.2, 0.5, 0.3], [1, 1, 1, -1, 0])
    s = OutcomeSummary("pain", "Pain", "SMD", "lower_is_better", None, pd.DataFrame(), None,
                       vote=vote, combined=combined)
    r = row(s, intervention="cell therapy")
    assert r["Studies (participants)"] == "5 studies"
    assert r["Effect (95% CI)"].startswith(
        "Not pooled (synthesis without meta-analysis); 3 of 4 studies with a direction favour "
        "cell therapy (sign test p = 0.625); combined one-sided p = ")
    assert r["95% prediction interval"] == "not applicable"
    assert r["What happens"] == (
        "The studies could not be combined in a meta-analysis, so the size of the effect is "
        "unknown; 3 of 4 studies with a direction favour cell therapy.")
    assert "Synthesis without meta-analysis" in r["Footnotes"]


def test_direction_must_be_known():
    with pytest.raises(ValueError, match="direction 'down'"):
        OutcomeSummary("o", "O", "RR", "down", None, pd.DataFrame(), None)


def test_table_keeps_the_order_of_the_outcomes_and_is_all_text():
    table = summary_of_findings([rr_summary(label="First"), rr_summary(label="Second")])
    assert list(table["Outcome"].str.split(" ").str[0]) == ["First", "Second"]
    assert all(isinstance(v, str) for v in np.ravel(table.to_numpy()))
