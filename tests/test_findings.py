"""The summary-of-findings table (metareview.report.findings): the effect on its natural scale,
absolute effects per 1000 checked by hand, and GRADE's wording for every certainty level."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview.report.findings import (
    NUMBER_COLUMNS,
    SOF_COLUMNS,
    OutcomeSummary,
    absolute_effects,
    build,
    effect_text,
    plain_language,
    smd_reading,
    strip_marks,
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
    """The table row of one outcome, footnote letters removed from its cells."""
    table = summary_of_findings([summary], **kwargs)
    assert list(table.columns) == SOF_COLUMNS
    r = table.iloc[0]
    return r.map(lambda v: v if v == r["Footnotes"] else strip_marks(v))


def rr_summary(level="high", fit=None, label="Wound infection"):
    fit = log_fit(0.7, 0.5, 0.98, pi=(0.4, 1.2)) if fit is None else fit
    return OutcomeSummary("o", label, "RR", "lower_is_better", fit, binary_effects(),
                          certainty(level, fit=fit))


# --- effect, participants, prediction interval -------------------------------------------------


def test_ratio_effect_on_the_natural_scale():
    r = row(rr_summary())
    assert r["Outcome"] == "Wound infection (lower is better)"
    assert r["Participants (studies)"] == "600 (3 studies)"
    assert r["Effect (95% CI)"] == "RR 0.70 (0.50 to 0.98)"
    assert "95% prediction interval 0.40 to 1.20." in r["Comments"]


def test_mean_difference_with_its_unit_and_minus_signs():
    eff = binary_effects().drop(columns="events_control")
    fit = StubFit(-2.5, -3.9, -1.1, pi_low=-5.0, pi_high=0.4)
    s = OutcomeSummary("days", "Time to healing", "MD", "lower_is_better", fit, eff, None,
                       unit="days")
    r = row(s)
    assert r["Outcome"] == "Time to healing (days; lower is better)"
    assert r["Effect (95% CI)"] == "MD \u22122.50 days (\u22123.90 to \u22121.10)"
    assert "95% prediction interval \u22125.00 to 0.40." in r["Comments"]
    assert r["Risk with control"] == ""    # no absolute effects for a continuous outcome
    assert r["Certainty"] == "Not assessed"


def test_an_empty_unit_is_not_printed_and_percent_reads_as_percentage_points():
    eff = binary_effects()
    for unit in ("", None, math.nan):
        s = OutcomeSummary("f", "Clinical failure", "MD", "lower_is_better",
                           StubFit(-1.0, -2.0, 0.0), eff, None, unit=unit)
        assert row(s)["Outcome"] == "Clinical failure (lower is better)"
    s = OutcomeSummary("v", "Scar volume", "MD", "higher_is_better",
                       StubFit(23.35, -102.19, 148.89), eff, None, unit="percent")
    r = row(s)
    assert r["Outcome"] == "Scar volume (percentage points; higher is better)"
    assert r["Effect (95% CI)"] == \
        "MD 23.35 percentage points (\u2212102.19 to 148.89)"


def test_higher_is_better_continuous_effect_is_shown_as_stored():
    # effects are treatment minus control on the outcome's scale: +0.45 is 0.45 SD higher
    fit = StubFit(0.45, 0.10, 0.80)
    s = OutcomeSummary("sat", "Satisfaction", "SMD", "higher_is_better", fit,
                       binary_effects(), None)
    assert row(s)["Effect (95% CI)"] == "SMD 0.45 (0.10 to 0.80)"
    assert row(s)["Comments"].startswith(
        "The intervention increases satisfaction (certainty not assessed). An SMD of 0.45 is "
        "a small difference")
    lower = OutcomeSummary("pain", "Pain", "SMD", "lower_is_better", StubFit(-0.45, -0.80, -0.10),
                           binary_effects(), None)
    assert row(lower)["Effect (95% CI)"] == "SMD \u22120.45 (\u22120.80 to \u22120.10)"
    assert row(lower)["Comments"].startswith(
        "The intervention reduces pain (certainty not assessed).")


@pytest.mark.parametrize("smd, word", [(0.1, "less than small"), (-0.3, "small"),
                                       (0.5, "moderate"), (-1.47, "large")])
def test_smd_reading(smd, word):
    assert f" is a {word} difference " in smd_reading(smd)


def test_proportion_back_transformed_to_percent():
    def logit(p):
        return math.log(p / (1 - p))

    fit = StubFit(logit(0.62), logit(0.501), logit(0.728))
    eff = pd.DataFrame({"study_id": ["A", "B", "C"], "yi": [0.4, 0.5, 0.6],
                        "vi": [0.1, 0.1, 0.1], "n_treatment": [30, 40, 50]})
    s = OutcomeSummary("clear", "Clearance", "PLO", "higher_is_better", fit, eff, None)
    r = row(s, intervention="fat grafting")
    assert r["Effect (95% CI)"] == "62.0% (50.1% to 72.8%)"
    assert r["Participants (studies)"] == "120 (3 studies)"
    assert r["Comments"].startswith(
        "With fat grafting, clearance is about 62.0% (certainty not assessed).")


def test_within_person_studies_count_each_person_once():
    eff = binary_effects().assign(paired=[True, True, False])
    r = row(OutcomeSummary("o", "Wound infection", "RR", "lower_is_better",
                           log_fit(0.7, 0.5, 0.98), eff, None))
    assert r["Participants (studies)"] == "400 (3 studies)"     # 100 + 100 + (100 + 100)
    assert "count each person once" in r["Footnotes"]


def test_single_study_uses_its_wald_interval():
    eff = binary_effects().iloc[:1]                # yi -0.4, vi 0.05
    s = OutcomeSummary("o", "Wound infection", "RR", "lower_is_better", None, eff, None)
    r = row(s)
    low, high = -0.4 - 1.959964 * math.sqrt(0.05), -0.4 + 1.959964 * math.sqrt(0.05)
    assert r["Effect (95% CI)"] == \
        f"RR {math.exp(-0.4):.2f} ({math.exp(low):.2f} to {math.exp(high):.2f})"
    assert "prediction interval" not in r["Comments"]
    assert "One study" in r["Footnotes"]


def test_single_study_with_a_t_based_source_interval():
    eff = pd.DataFrame({"study_id": ["A"], "yi": [13.48], "vi": [4.0 ** 2], "df": [9.0],
                        "n_treatment": [10], "n_control": [10], "paired": [True]})
    s = OutcomeSummary("v", "Scar volume", "MD", "higher_is_better", None, eff, None)
    r = row(s)
    half = 2.2621572 * 4.0                         # qt(0.975, 9) * SE = 9.0486
    assert r["Effect (95% CI)"] == f"MD 13.48 ({13.48 - half:.2f} to {13.48 + half:.2f})"
    assert "t, df = 9" in r["Footnotes"]
    assert r["Participants (studies)"] == "10 (1 study)"


def test_the_pooled_row_decides_the_numbers_shown():
    # the pooled table's row wins over the fit, so every page shows that row's numbers
    shown = {"k": 2, "estimate": 23.351746, "ci_low": -102.185513, "ci_high": 148.889005,
             "pi_low": math.nan, "pi_high": math.nan, "interval": "t",
             "warning": "2 studies: the Hartung-Knapp interval has 1 df"}
    eff = binary_effects().iloc[:2]
    s = OutcomeSummary("v", "Scar volume", "MD", "higher_is_better", StubFit(-1, -2, 0), eff,
                       None, unit="percent", row=shown)
    out = build([s])
    assert strip_marks(out.table.iloc[0]["Effect (95% CI)"]) == \
        "MD 23.35 percentage points (\u2212102.19 to 148.89)"
    number = out.numbers.iloc[0]
    assert list(out.numbers.columns) == NUMBER_COLUMNS
    assert (number["estimate"], number["ci_low"], number["ci_high"], number["k"]) == \
        (23.351746, -102.185513, 148.889005, 2)
    assert any("Hartung-Knapp interval has 1 df" in n for n in out.footnotes)
    assert number["caution"] == "2 studies: the Hartung-Knapp interval has 1 df."
    assert effect_text("MD", 23.351746, -102.185513, 148.889005, "percent") == \
        strip_marks(out.table.iloc[0]["Effect (95% CI)"])


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
    assert r["Risk with control"] == "200 per 1000"
    assert r["Risk with intervention (95% CI)"] == \
        "140 per 1000 (100 to 196): 60 fewer per 1000 (100 fewer to 4 fewer)"
    assert "median control-arm risk of the 3 included studies" in r["Footnotes"]
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


def test_no_control_event_gives_no_absolute_effect():
    # 0 per 1000 with control would read "0 per 1000 (0 to 0)" whatever the ratio says
    assert absolute_effects("RR", 0.0, 1.62, 0.08, 34.66) is None
    eff = binary_effects().assign(events_control=[0, 0, 0])
    r = row(OutcomeSummary("d", "Death", "RR", "lower_is_better", log_fit(1.62, 0.08, 34.66),
                           eff, None))
    assert r["Risk with control"] == "not estimable"
    assert r["Risk with intervention (95% CI)"] == ""


def test_difference_crossing_zero_reads_fewer_to_more():
    # RR 0.90 (0.60 to 1.35) at 0.2: 180 (120 to 270); 20 fewer (80 fewer to 70 more)
    r = row(rr_summary(fit=log_fit(0.9, 0.6, 1.35)))
    assert r["Risk with intervention (95% CI)"] == \
        "180 per 1000 (120 to 270): 20 fewer per 1000 (80 fewer to 70 more)"


def test_no_control_events_no_absolute_effects():
    eff = binary_effects().drop(columns="events_control")
    s = OutcomeSummary("o", "Wound infection", "RR", "lower_is_better",
                       log_fit(0.7, 0.5, 0.98), eff, None)
    r = row(s)
    assert r["Risk with control"] == "not estimable"
    assert "no control-arm events" in r["Footnotes"]


# --- wording -----------------------------------------------------------------------------------


def _statement(r):
    return r["Comments"].split(". ")[0].rstrip(".") + "."


@pytest.mark.parametrize("level, sentence", [
    ("high", "Cell therapy reduces wound infection."),
    ("moderate", "Cell therapy probably reduces wound infection."),
    ("low", "Cell therapy may reduce wound infection."),
    ("very low", "We are very uncertain whether cell therapy reduces wound infection."),
])
def test_wording_of_each_certainty_level(level, sentence):
    r = row(rr_summary(level), intervention="cell therapy")
    assert _statement(r) == sentence
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
    assert _statement(r) == sentence


def test_a_wide_ci_around_no_effect_is_not_little_or_no_difference():
    # RR 0.85 (0.60 to 1.20) includes 1 but reaches below 0.75: the point estimate speaks
    r = row(rr_summary("low", fit=log_fit(0.85, 0.60, 1.20)), intervention="cell therapy")
    assert _statement(r) == "Cell therapy may reduce wound infection."


def test_an_increase_and_an_acronym_label():
    r = row(rr_summary("moderate", fit=log_fit(1.4, 1.1, 1.8), label="ECCA improvement"),
            intervention="cell therapy")
    assert _statement(r) == "Cell therapy probably increases ECCA improvement."


def test_plain_language_rejects_an_unknown_change():
    with pytest.raises(ValueError, match="change must be"):
        plain_language("high", "X", "Y", change="improve")


# --- footnotes, synthesis without meta-analysis ------------------------------------------------


def test_footnotes_carry_the_reasons_for_rating_down_on_the_cells_they_explain():
    out = build([rr_summary("moderate")])
    cells = out.table.iloc[0]
    marks = "".join(c for c in cells["Certainty"] if not c.isascii() and c not in "⊕◯")
    assert marks                                   # the certainty cell carries letters
    certainty_notes = [n for n in out.footnotes if n[0] in marks]
    assert any("Indirectness: serious (reviewers' judgement, replacing the computed not "
               "serious: set for the test)" in n for n in certainty_notes)
    risk = cells["Risk with control"]
    assert risk != strip_marks(risk)               # the absolute-effect note sits on its cell
    assert any("Risk with control: the median control-arm risk" in n for n in out.footnotes)


def test_footnotes_are_lettered_across_the_table_and_shared_notes_keep_their_letter():
    out = build([rr_summary("moderate", label="First"), rr_summary("moderate", label="Second")])
    first, second = out.table["Certainty"]
    assert first == second                         # the same reasons, the same letters
    letters = [n.split(" ")[0] for n in out.footnotes]
    assert letters == sorted(set(letters), key=letters.index)     # each letter once
    assert "\\n" not in " ".join(out.footnotes)


def test_synthesis_without_meta_analysis_row_says_so():
    vote = mr.vote_count([1, 1, 1, -1, 0])
    combined = mr.combine_pvalues([0.01, 0.04, 0.2, 0.5, 0.3], [1, 1, 1, -1, 0])
    s = OutcomeSummary("pain", "Pain", "SMD", "lower_is_better", None, pd.DataFrame(), None,
                       vote=vote, combined=combined)
    r = row(s, intervention="cell therapy")
    assert r["Participants (studies)"] == "not reported (5 studies)"
    assert r["Effect (95% CI)"].startswith(
        "Not pooled; 3 of 4 studies with a direction favour cell therapy (sign test "
        "p = 0.625); combined one-sided p = ")
    assert r["Comments"] == (
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


# --- the Bayesian estimate beside the frequentist one ------------------------------------------


def bayes_row(estimate, low, high, pi=(math.nan, math.nan), k=2, prior="half-normal(scale=2)",
              role="main"):
    return {"k": k, "estimate": estimate, "ci_low": low, "ci_high": high, "pi_low": pi[0],
            "pi_high": pi[1], "tau_prior": prior, "mu_prior": "uniform (improper)",
            "prior_role": role}


def md_two_studies(**extra):
    shown = {"k": 2, "estimate": 23.351746, "ci_low": -102.185513, "ci_high": 148.889005,
             "pi_low": math.nan, "pi_high": math.nan, "interval": "t", "method": "REML",
             "test": "knha", "warning": "only 2 studies: the Hartung-Knapp interval has 1 df"}
    eff = binary_effects().iloc[:2]
    return OutcomeSummary("v", "Scar volume", "MD", "higher_is_better", StubFit(-1, -2, 0),
                          eff, None, unit="percent", row=shown, **extra)


def test_with_two_studies_the_bayesian_estimate_leads():
    main = bayes_row(23.28, 16.82, 29.74, pi=(14.95, 31.63))
    alternatives = (bayes_row(23.31, 13.95, 32.69, prior="half-normal(scale=4)",
                              role="sensitivity"),
                    bayes_row(23.32, -2.18, 48.89, prior="half-Cauchy(scale=2)",
                              role="sensitivity"))
    out = build([md_two_studies(bayes=main, bayes_alternatives=alternatives)])
    r = out.table.iloc[0]
    assert strip_marks(r["Effect (95% CI)"]) == \
        "MD 23.28 percentage points (16.82 to 29.74), Bayesian 95% CrI"
    assert "95% prediction interval (Bayesian) 14.95 to 31.63." in r["Comments"]
    number = out.numbers.iloc[0]
    assert (number["estimate"], number["ci_low"], number["ci_high"], number["basis"]) == \
        (23.28, 16.82, 29.74, "bayesian")
    assert "the Bayesian estimate leads" in number["caution"]
    note = next(n for n in out.footnotes if "Few studies" in n)
    # which prior, why, the frequentist estimate, and what the alternative priors do
    assert "prior of tau half-normal(scale=2)" in note
    assert "t with 1 df (quantile 12.71)" in note
    assert ("The frequentist estimate (REML, Hartung-Knapp) is MD 23.35 percentage points "
            "(\u2212102.19 to 148.89) (95% CI)") in note
    assert "half-Cauchy(scale=2): \u22122.18 to 48.89" in note
    assert "the conclusion depends on the prior" in note
    # the frequentist caution about its prediction interval is not put on the Bayesian cell
    assert not any("Hartung-Knapp interval has 1 df." in n for n in out.footnotes)
    # the statement reads the estimate the row leads with
    assert "increases scar volume" in r["Comments"]


def test_every_prior_agreeing_is_said_so_and_a_ratio_is_exponentiated():
    eff = binary_effects().iloc[:2]
    fit = StubFit(math.log(1.57), math.log(0.003), math.log(5206.7), k=2, weights=(60.0, 40.0))
    shown = {"k": 2, "estimate": fit.estimate, "ci_low": fit.ci_low, "ci_high": fit.ci_high,
             "pi_low": math.nan, "pi_high": math.nan, "interval": "t", "method": "REML",
             "test": "knha", "measure": "RR"}
    main = bayes_row(math.log(1.34), math.log(0.54), math.log(4.08))
    other = bayes_row(math.log(1.43), math.log(0.33), math.log(8.05), prior="half-normal(1)",
                      role="sensitivity")
    s = OutcomeSummary("r", "Response", "RR", "higher_is_better", fit, eff, None, row=shown,
                       bayes=main, bayes_alternatives=(other,))
    out = build([s])
    assert strip_marks(out.table.iloc[0]["Effect (95% CI)"]) == \
        "RR 1.34 (0.54 to 4.08), Bayesian 95% CrI"
    assert out.numbers.iloc[0]["estimate"] == pytest.approx(1.34)
    note = next(n for n in out.footnotes if "Few studies" in n)
    assert "half-normal(1): 0.33 to 8.05" in note
    assert "it includes no effect under every prior" in note
    assert "credible interval (Bayesian)" in " ".join(out.footnotes)   # absolute effects


def test_from_four_studies_the_frequentist_estimate_leads_and_the_bayesian_is_a_comment():
    eff = pd.concat([binary_effects(), binary_effects().iloc[:1].assign(study_id="D")],
                    ignore_index=True)
    fit = StubFit(math.log(0.7), math.log(0.5), math.log(0.98), k=4,
                  weights=(25.0, 25.0, 25.0, 25.0))
    main = bayes_row(math.log(0.72), math.log(0.45), math.log(1.1), pi=(math.log(0.3),
                                                                       math.log(1.8)), k=4)
    s = OutcomeSummary("o", "Wound infection", "RR", "lower_is_better", fit, eff, None,
                       bayes=main)
    out = build([s])
    r = out.table.iloc[0]
    assert strip_marks(r["Effect (95% CI)"]) == "RR 0.70 (0.50 to 0.98)"
    assert ("Bayesian random-effects model (prior of tau half-normal(scale=2), of the effect "
            "uniform (improper)): RR 0.72 (0.45 to 1.10) (95% CrI), 95% prediction interval "
            "0.30 to 1.80.") in r["Comments"]
    assert out.numbers.iloc[0]["basis"] == "frequentist"
    assert not any("Few studies" in n for n in out.footnotes)


def test_an_smd_is_re_expressed_on_its_own_scale_by_the_largest_study():
    """Cochrane Handbook 15.5.3.1: the SMD times a representative control-group SD; only a
    study that reports the outcome on its own scale with an SD supplies it."""
    from metareview.report.findings import smd_reexpression

    effects = pd.DataFrame({
        "study_id": ["A", "B", "C"], "reported_outcome": ["score", "score", "score_percent"],
        "sd_control": [10.0, 8.0, 30.0], "n_control": [20, 40, 90]})
    text = smd_reexpression(-0.5, -0.9, -0.1, effects, "score", "Symptom score", "points")
    assert text == ("On the Symptom score scale: about −4.0 points (−7.2 to −0.8), the SMD "
                    "times the control-group SD (8.0) of the largest study reporting it "
                    "(n = 40 controls).")
    none = smd_reexpression(-0.5, -0.9, -0.1, effects.iloc[2:], "score", "Symptom score", "")
    assert none.startswith("Not re-expressed on the Symptom score scale")
