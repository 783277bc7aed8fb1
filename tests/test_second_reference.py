"""A second reference beside metafor: the engine against results another program published.

Every other numeric test holds the engine to metafor 3.8-1, so a convention the engine shares
with metafor would pass unseen there. Here the public engine functions (`mr.effect_sizes`,
`mr.pool`, `mr.mantel_haenszel`) are held to numbers that did not come from metafor.

Source: Fleiss JL (1993). The statistical basis of meta-analysis. Stat Methods Med Res
2(2):121-145. doi:10.1177/096228029300200202 -- its two examples (aspirin after myocardial
infarction, seven trials; mental health treatment, five trials) as a Cochrane review file,
analysed and stored by Review Manager 5 (The Cochrane Collaboration), distributed with R's
meta package (guido-s/meta, inst/extdata) and copied unchanged into
`tests/fixtures/revman/Fleiss1993_CR.csv` (RevMan's CSV export: one row per outcome with the
pooled result, one row per study with its estimate, SE, interval and weight). RevMan 5 is its
own implementation of these methods (Deeks & Higgins 2010, Statistical algorithms in Review
Manager 5); no number here passed through R.

The test reads both the data and RevMan's results from that file, so no number is retyped.
Tolerance: the CSV export writes 8 decimals, so the engine must agree to half a unit of the 8th
decimal (5e-9, absolute): every digit RevMan wrote (the largest difference measured is 4.4e-9).
One exception: RevMan's P value of Q comes from an approximate chi-square tail (0.12694225
where the exact tail of Q = 9.946056 on 6 df is 0.12694218), so P(Q) is held to a relative
1e-6 (measured: 5.7e-7 and 2.5e-7); `review.revman_pooling` allows the same.

What is checked, and by which function:

- aspirin, Mantel-Haenszel odds ratio, fixed effect: per-study OR, SE of log OR and 95% CI
  (`mr.effect_sizes("OR")`); pooled MH OR and its CI, z, p, Q (chi²), its p and I²
  (`mr.mantel_haenszel`);
- mental health, mean difference, inverse variance, fixed effect: per-study MD and SE
  (`mr.effect_sizes("MD")`, which like RevMan uses the unpooled variance s1²/n1 + s2²/n2);
  pooled MD and CI, z, p, weights, Q, its p and I² (`mr.pool(method="FE")`).

Not covered by this source (RevMan stored only fixed-effect analyses for these data):
Hedges' g, DerSimonian-Laird tau² and Peto's odds ratio. DerSimonian-Laird and the other tau²
estimators, random-effects pooling, subgroups, meta-regression and Peto's odds ratio are held to
published worked examples in `tests/test_published_examples.py`, and so is Hedges' g (its point
estimates, to Morris 2008; its variance has no published check, see that module).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from scipy import stats

import metareview as mr

REVMAN_CSV = Path(__file__).parent / "fixtures" / "revman" / "Fleiss1993_CR.csv"
HALF_LAST_DIGIT = 5e-9  # RevMan's CSV export writes 8 decimals
Z_975 = stats.norm.ppf(0.975)  # RevMan's 95% intervals are Wald intervals


def _outcome(name: str) -> tuple[dict, list[dict]]:
    """RevMan's row for the outcome called `name` and the rows of its studies (text cells)."""
    with REVMAN_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    total = next(row for row in rows if row["Name"] == name)
    key = (total["Comparison Number"], total["Outcome Number"])
    studies = [row for row in rows
               if (row["Comparison Number"], row["Outcome Number"]) == key
               and row is not total and row["Data Type"] == ""]
    return total, studies


def _numbers(rows: list[dict], column: str) -> np.ndarray:
    return np.array([float(row[column]) for row in rows])


CHI2_TAIL = 1e-6  # relative: RevMan's approximate chi-square tail


def _close(actual, expected) -> None:
    np.testing.assert_allclose(actual, expected, rtol=0, atol=HALF_LAST_DIGIT)


def _close_chi2_tail(actual, expected) -> None:
    np.testing.assert_allclose(actual, expected, rtol=CHI2_TAIL, atol=0)


ASPIRIN = "Aspirin for Preventing Death after Myocardial Infarction"
MENTAL_HEALTH = "Mental Health Treatment versus Control"


def test_the_file_holds_what_the_tests_assume():
    aspirin, aspirin_studies = _outcome(ASPIRIN)
    mental, mental_studies = _outcome(MENTAL_HEALTH)
    assert (aspirin["Statistical Method"], aspirin["Effect Measure"],
            aspirin["Analysis Model"]) == ("MH", "OR", "Fixed")
    assert (mental["Statistical Method"], mental["Effect Measure"],
            mental["Analysis Model"]) == ("IV", "MD", "Fixed")
    # Fleiss (1993): seven aspirin trials, 2128 + 2286 deaths; five mental health trials
    assert [row["Name"] for row in aspirin_studies] == [
        "MRC-1", "CDP", "MRC-2", "GASP", "PARIS", "AMIS", "ISIS-2"]
    assert _numbers(aspirin_studies, "Events 1").sum() == float(aspirin["Events 1"]) == 2128
    assert _numbers(aspirin_studies, "Events 2").sum() == float(aspirin["Events 2"]) == 2286
    assert [row["Name"] for row in mental_studies] == [
        "Davis", "Florell", "Gruen", "Hart", "Wilson"]


def _aspirin_tables():
    total, studies = _outcome(ASPIRIN)
    return total, studies, dict(ai=_numbers(studies, "Events 1"), n1i=_numbers(studies, "Total 1"),
                                ci=_numbers(studies, "Events 2"), n2i=_numbers(studies, "Total 2"))


def test_aspirin_study_odds_ratios_equal_revman():
    _, studies, tables = _aspirin_tables()
    effects = mr.effect_sizes("OR", **tables)
    se = np.sqrt(effects["vi"].to_numpy())
    _close(np.exp(effects["yi"].to_numpy()), _numbers(studies, "Effect Estimate"))
    _close(se, _numbers(studies, "SE"))
    _close(np.exp(effects["yi"].to_numpy() - Z_975 * se),
           _numbers(studies, "CI Start"))
    _close(np.exp(effects["yi"].to_numpy() + Z_975 * se),
           _numbers(studies, "CI End"))


def test_aspirin_mantel_haenszel_odds_ratio_equals_revman():
    total, _, tables = _aspirin_tables()
    result = mr.mantel_haenszel(tables["ai"], ci=tables["ci"], n1i=tables["n1i"],
                                n2i=tables["n2i"], measure="OR")
    _close(result.exp_estimate, float(total["Effect Estimate"]))  # 0.897
    _close(result.exp_ci_low, float(total["CI Start"]))
    _close(result.exp_ci_high, float(total["CI End"]))
    _close(abs(result.statistic), float(total["Z"]))
    _close(result.pval, float(total["P(Z)"]))
    # RevMan's heterogeneity of an MH analysis: Q around the MH estimate with
    # inverse-variance weights, on k - 1 df
    _close(result.q, float(total["Q"]))
    assert result.q_df == int(total["df"]) == 6
    _close_chi2_tail(result.q_pval, float(total["P(Q)"]))
    _close(result.i2, float(total["I²(Q)"]))


def _mental_health():
    total, studies = _outcome(MENTAL_HEALTH)
    effects = mr.effect_sizes(
        "MD", m1i=_numbers(studies, "Mean 1"), sd1i=_numbers(studies, "SD 1"),
        n1i=_numbers(studies, "Total 1"), m2i=_numbers(studies, "Mean 2"),
        sd2i=_numbers(studies, "SD 2"), n2i=_numbers(studies, "Total 2"))
    return total, studies, effects


def test_mental_health_mean_differences_equal_revman():
    _, studies, effects = _mental_health()
    _close(effects["yi"].to_numpy(), _numbers(studies, "Effect Estimate"))
    _close(np.sqrt(effects["vi"].to_numpy()), _numbers(studies, "SE"))


def test_mental_health_inverse_variance_fixed_effect_equals_revman():
    total, studies, effects = _mental_health()
    result = mr.pool(effects["yi"], effects["vi"], method="FE")
    _close(result.estimate, float(total["Effect Estimate"]))  # -0.709
    _close(result.ci_low, float(total["CI Start"]))
    _close(result.ci_high, float(total["CI End"]))
    _close(abs(result.statistic), float(total["Z"]))
    _close(result.pval, float(total["P(Z)"]))
    _close(np.asarray(result.weights), _numbers(studies, "Weight"))  # percent
    _close(result.q, float(total["Q"]))
    assert result.q_df == int(total["df"]) == 4
    _close_chi2_tail(result.q_pval, float(total["P(Q)"]))
    _close(result.i2, float(total["I²(Q)"]))
    assert result.tau2 == float(total["Tau²"]) == 0
