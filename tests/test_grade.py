"""GRADE certainty (metareview.report.grade): each rule with a case that triggers it and one that
does not, the numbers written out; overrides that replace a judgement and keep both."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview.report.grade import (
    SYMBOLS,
    Thresholds,
    assess,
    optimal_information_size,
)


@dataclass(frozen=True)
class Fit:
    """The fields of a pooled result that the rules read, set by hand."""

    estimate: float = -0.4
    ci_low: float = -0.6
    ci_high: float = -0.2
    i2: float = 0.0
    pi_low: float = -0.7
    pi_high: float = -0.1
    k: int = 4
    weights: np.ndarray = field(default_factory=lambda: np.array([40.0, 30.0, 20.0, 10.0]))


def effects(yi=(-0.5, -0.4, -0.3, -0.2), n=(100, 100, 100, 100), randomised=True,
            events_control=None):
    """Effects of studies A, B, C, ... with n participants per arm."""
    k = len(yi)
    frame = pd.DataFrame({
        "study_id": [chr(ord("A") + i) for i in range(k)],
        "yi": list(yi),
        "vi": [0.01] * k,
        "n_treatment": list(n),
        "n_control": list(n),
        "randomised": [randomised] * k if isinstance(randomised, bool) else list(randomised),
    })
    if events_control is not None:
        frame["events_control"] = list(events_control)
    return frame


def rob(*judgements, tool="RoB2"):
    """Overall judgements of studies A, B, C, ... (None: no row for that study)."""
    rows = [{"study_id": chr(ord("A") + i), "tool": tool, "domain": "overall", "judgement": j}
            for i, j in enumerate(judgements) if j is not None]
    return pd.DataFrame(rows, columns=["study_id", "tool", "domain", "judgement"])


LOW4 = rob("low", "low", "low", "low")


DEFAULT = object()


def grade(result=DEFAULT, eff=None, risk=LOW4, measure="SMD", **kwargs):
    eff = effects() if eff is None else eff
    result = Fit() if result is DEFAULT else result
    kwargs.setdefault("design_randomised", None)
    return assess("outcome", result=result, effects=eff, rob=risk, measure=measure, **kwargs)


def domain(certainty, name):
    return certainty.domains[name]


# --- start -------------------------------------------------------------------------------------


def test_all_randomised_starts_high():
    c = grade()
    assert c.start == "high"
    assert "all randomised" in c.start_reason


def test_one_non_randomised_study_starts_low():
    c = grade(eff=effects(randomised=[True, True, True, False]))
    assert c.start == "low"
    assert "3 of 4 studies randomised" in c.start_reason


def test_design_randomised_argument_wins_over_the_column():
    assert grade(design_randomised=False).start == "low"
    assert grade(eff=effects(randomised=False), design_randomised=True).start == "high"


# --- risk of bias: weights 40, 30, 20, 10 % for A, B, C, D ------------------------------------


def test_risk_of_bias_not_serious_below_half_the_weight():
    # A at high risk: 40 % high, 40 % high or some concerns -> both under 50 %
    j = domain(grade(risk=rob("high", "low", "low", "low")), "risk_of_bias")
    assert j.computed == "not_serious"
    assert "40% of the weight from studies at high risk" in j.reason


def test_risk_of_bias_serious_at_half_the_weight_with_concerns():
    # A some concerns (40) + D no information (10) = 50 % -> serious (>= 50 %)
    j = domain(grade(risk=rob("some_concerns", "low", "low", "no_information")), "risk_of_bias")
    assert j.computed == "serious"
    assert "50% at high risk or with some concerns" in j.reason


def test_risk_of_bias_very_serious_at_half_the_weight_at_high_risk():
    # A high (40) + D critical (ROBINS-I, 10) = 50 % at high risk -> very serious
    risk = pd.concat([rob("high", "low", "low", None),
                      rob(None, None, None, "critical", tool="ROBINS-I")])
    j = domain(grade(risk=risk), "risk_of_bias")
    assert j.computed == "very_serious"
    # A high (40) + C some concerns (20): 40 % high only -> serious, not very serious
    j = domain(grade(risk=rob("high", "low", "some_concerns", "low")), "risk_of_bias")
    assert j.computed == "serious"


def test_risk_of_bias_robins_moderate_counts_as_some_concerns():
    risk = rob("moderate", "low", "low", "moderate", tool="ROBINS-I")  # 40 + 10 = 50 %
    assert domain(grade(risk=risk), "risk_of_bias").computed == "serious"


def test_a_study_without_an_overall_judgement_counts_as_some_concerns():
    # no rows for A (40) and D (10): 50 % -> serious, and the reason names them
    j = domain(grade(risk=rob(None, "low", "low", None)), "risk_of_bias")
    assert j.computed == "serious"
    assert "no overall judgement for A, D" in j.reason


def test_only_the_overall_row_of_risk_of_bias_counts():
    risk = pd.concat([LOW4, pd.DataFrame([{"study_id": "A", "tool": "RoB2", "domain": "D1",
                                           "judgement": "high"}])])
    assert domain(grade(risk=risk), "risk_of_bias").computed == "not_serious"


def test_unknown_overall_judgement_is_an_error():
    with pytest.raises(ValueError, match="overall judgement 'unclear'"):
        grade(risk=rob("unclear", "low", "low", "low"))


def test_risk_of_bias_uses_the_weights_of_a_real_fit():
    eff = effects(yi=(-0.5, -0.4, -0.3, -0.2))
    eff["vi"] = [0.01, 0.04, 0.04, 0.04]      # A carries 4/7 = 57 % of the fixed-effect weight
    fit = mr.pool(eff["yi"], eff["vi"], method="FE")
    assert fit.weights[0] == pytest.approx(100 * 4 / 7)
    j = domain(grade(result=fit, eff=eff, risk=rob("high", "low", "low", "low")),
               "risk_of_bias")
    assert j.computed == "very_serious"


# --- inconsistency -----------------------------------------------------------------------------


def test_single_study_inconsistency_not_assessable():
    eff = effects(yi=(-0.4,), n=(200,))
    j = domain(grade(result=None, eff=eff, risk=rob("low")), "inconsistency")
    assert j.computed == "not_assessed"                # nothing to be consistent with
    assert "single study" in j.reason
    assert j.downgrade == 0


def test_i2_under_50_not_serious_and_50_serious():
    assert domain(grade(result=Fit(i2=49.9)), "inconsistency").computed == "not_serious"
    j = domain(grade(result=Fit(i2=50.0)), "inconsistency")
    assert j.computed == "serious"
    assert "I² = 50%" in j.reason


def test_prediction_interval_crossing_while_the_ci_does_not_is_serious():
    # I² 30 %, CI -0.6 to -0.2 excludes 0, PI -0.8 to 0.2 includes it
    j = domain(grade(result=Fit(i2=30.0, pi_low=-0.8, pi_high=0.2)), "inconsistency")
    assert j.computed == "serious"
    assert "prediction interval" in j.reason
    # the same PI when the CI (-0.6 to 0.1) includes 0 too adds nothing
    fit = Fit(i2=30.0, ci_high=0.1, pi_low=-0.8, pi_high=0.2)
    assert domain(grade(result=fit), "inconsistency").computed == "not_serious"


def test_very_serious_needs_i2_75_and_opposite_directions():
    mixed = effects(yi=(-0.5, -0.4, -0.3, 0.2))
    same = effects(yi=(-0.5, -0.4, -0.3, -0.2))
    assert domain(grade(result=Fit(i2=80.0), eff=mixed), "inconsistency").computed == \
        "very_serious"
    assert domain(grade(result=Fit(i2=80.0), eff=same), "inconsistency").computed == "serious"
    assert domain(grade(result=Fit(i2=74.0), eff=mixed), "inconsistency").computed == "serious"


# --- imprecision -------------------------------------------------------------------------------


def test_optimal_information_size_by_hand():
    z2 = (1.959963985 + 0.841621234) ** 2          # 7.8489
    # continuous: 2 z² / 0.2² = 392.44 per arm -> 393 -> 786
    assert optimal_information_size("SMD") == 2 * math.ceil(2 * z2 / 0.04) == 786
    assert optimal_information_size("MD") == 786
    # binary at a control risk of 0.2: p_t = 0.15,
    # z² (0.2·0.8 + 0.15·0.85) / 0.05² = 7.8489 · 0.2875 / 0.0025 = 902.6 -> 903 -> 1806
    assert optimal_information_size("RR", 0.2) == 2 * math.ceil(z2 * 0.2875 / 0.0025) == 1806
    assert optimal_information_size("RR", None) is None
    assert optimal_information_size("PLO") is None
    # 0.28 SD gives about GRADE's rule of thumb of 400
    assert optimal_information_size("SMD", thresholds={"ois_smd": 0.28}) == 402


def test_imprecision_not_serious_when_ci_excludes_null_and_ois_met():
    # CI -0.6 to -0.2; 4 x 200 = 800 participants >= 786
    eff = effects(n=(100, 100, 100, 100))
    j = domain(grade(eff=eff), "imprecision")
    assert j.computed == "not_serious"
    assert "800 participants, at least the optimal information size of 786" in j.reason


def test_imprecision_serious_below_the_ois():
    eff = effects(n=(98, 98, 98, 98))            # 784 < 786
    j = domain(grade(eff=eff), "imprecision")
    assert j.computed == "serious"
    assert "784 participants, below the optimal information size of 786" in j.reason


def test_imprecision_serious_when_the_ci_includes_no_effect():
    j = domain(grade(result=Fit(ci_low=-0.6, ci_high=0.3)), "imprecision")  # 800 participants
    assert j.computed == "serious"
    assert "includes the null value 0" in j.reason


def test_imprecision_very_serious_when_both():
    eff = effects(n=(50, 50, 50, 50))            # 400 < 786
    j = domain(grade(result=Fit(ci_low=-0.6, ci_high=0.3), eff=eff), "imprecision")
    assert j.computed == "very_serious"


def test_a_narrow_interval_around_no_effect_is_precise():
    # SMD CI -0.15 to 0.18 lies inside -0.2 to 0.2: no appreciable benefit or harm
    j = domain(grade(result=Fit(estimate=0.01, ci_low=-0.15, ci_high=0.18)), "imprecision")
    assert j.computed == "not_serious"
    assert "band of unimportant effects" in j.reason


def test_md_band_needs_a_minimal_important_difference():
    fit = Fit(estimate=-0.05, ci_low=-0.4, ci_high=0.3)
    assert domain(grade(result=fit, measure="MD"), "imprecision").computed == "serious"
    j = domain(grade(result=fit, measure="MD", thresholds={"mid": 0.5}), "imprecision")
    assert j.computed == "not_serious"


def test_single_small_study_excluding_the_null_is_rated_on_its_information_size():
    # one study, CI yi ± 1.96·0.1 = -0.6 to -0.2 excludes 0; 90 participants are below the
    # optimal information size, which rates down once (GRADE 6); size alone is no second step
    small = effects(yi=(-0.4,), n=(45,))          # 90 participants
    j = domain(grade(result=None, eff=small, risk=rob("low")), "imprecision")
    assert j.computed == "serious"
    assert "optimal information size" in j.reason


def test_binary_ois_from_the_median_control_risk():
    # control risks 10/251, 40/200, 40/200, 60/251 or 60/252: median 0.2 -> OIS 1806
    ci = {"estimate": math.log(0.7), "ci_low": math.log(0.5), "ci_high": math.log(0.98)}
    small = effects(n=(251, 200, 200, 251), events_control=(10, 40, 40, 60))   # 2 x 902 = 1804
    large = effects(n=(251, 200, 200, 252), events_control=(10, 40, 40, 60))   # 2 x 903 = 1806
    j_small = domain(grade(result=Fit(**ci), eff=small, measure="RR"), "imprecision")
    j_large = domain(grade(result=Fit(**ci), eff=large, measure="RR"), "imprecision")
    assert j_small.computed == "serious"
    assert "1804 participants, below the optimal information size of 1806" in j_small.reason
    assert "control risk of 0.2" in j_small.reason
    assert j_large.computed == "not_serious"


def test_binary_without_control_events_skips_the_ois():
    ci = {"estimate": math.log(0.7), "ci_low": math.log(0.5), "ci_high": math.log(0.98)}
    j = domain(grade(result=Fit(**ci), measure="RR"), "imprecision")
    assert j.computed == "not_serious"
    assert "OIS not computed" in j.reason
    assert "0.50 to 0.98" in j.reason              # shown as a ratio


# --- indirectness ------------------------------------------------------------------------------


def test_indirectness_not_serious_without_input():
    j = domain(grade(), "indirectness")
    assert j.computed == "not_serious"


def test_indirectness_from_the_reviewers_input():
    j = domain(grade(indirectness=("serious", "comparator is placebo gel, not laser")),
               "indirectness")
    assert (j.computed, j.reason) == ("serious", "comparator is placebo gel, not laser")
    j = domain(grade(indirectness={"judgement": "very_serious", "reason": "other population"}),
               "indirectness")
    assert j.computed == "very_serious"
    with pytest.raises(ValueError, match="judgement 'bad'"):
        grade(indirectness="bad")


# --- publication bias --------------------------------------------------------------------------

# Ten studies whose effects grow with their standard errors (small studies, big effects), and
# ten whose effects do not depend on them.
SE10 = np.array([0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50, 0.55])
ASYMMETRIC = 2.0 * SE10 + np.array([0.02, -0.02] * 5)
SYMMETRIC = np.array([0.30, 0.10, 0.25, 0.15, 0.35, 0.05, 0.30, 0.10, 0.20, 0.20])


def ten(yi):
    eff = effects(yi=tuple(yi), n=(100,) * 10)
    eff["vi"] = SE10**2
    return eff, mr.pool(eff["yi"], eff["vi"])


def test_egger_p_under_0_10_with_ten_studies_is_serious():
    eff, fit = ten(ASYMMETRIC)
    p = mr.egger_test(eff["yi"], eff["vi"]).pval
    assert p < 0.10
    j = domain(grade(result=fit, eff=eff, risk=None), "publication_bias")
    assert j.computed == "serious"
    assert f"Egger's test p = {p:.3f}" in j.reason


def test_egger_p_over_0_10_is_not_serious():
    eff, fit = ten(SYMMETRIC)
    assert mr.egger_test(eff["yi"], eff["vi"]).pval >= 0.10
    assert domain(grade(result=fit, eff=eff, risk=None), "publication_bias").computed == \
        "not_serious"


def test_fewer_than_ten_studies_not_assessable():
    eff, _ = ten(ASYMMETRIC)
    eff9 = eff.iloc[:9]
    fit9 = mr.pool(eff9["yi"], eff9["vi"])
    j = domain(grade(result=fit9, eff=eff9, risk=None), "publication_bias")
    assert j.computed == "not_assessed"
    assert "9 studies: Egger's test needs at least 10" in j.reason
    assert j.downgrade == 0


def test_reviewers_publication_bias_input_replaces_the_test():
    eff, fit = ten(SYMMETRIC)
    j = domain(grade(result=fit, eff=eff, risk=None,
                     publication_bias=("serious", "industry-funded trials only")),
               "publication_bias")
    assert (j.computed, j.reason) == ("serious", "industry-funded trials only")


# --- levels, symbols, overrides ----------------------------------------------------------------


def test_levels_and_symbols():
    assert SYMBOLS == {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯",
                       "very low": "⊕◯◯◯"}
    c = grade()                                     # nothing rated down
    assert (c.level, c.symbol, c.label) == ("high", "⊕⊕⊕⊕", "⊕⊕⊕⊕ High")
    assert "Not rated down: high certainty." in c.explanation
    c = grade(risk=rob("some_concerns", "low", "low", "no_information"))   # serious RoB
    assert (c.level, c.symbol) == ("moderate", "⊕⊕⊕◯")
    c = grade(indirectness="very_serious")
    assert c.level == "low"
    assert "Rated down 2 levels for indirectness: low certainty." in c.explanation


def test_never_below_very_low():
    c = grade(eff=effects(randomised=False), indirectness="very_serious",
              risk=rob("high", "high", "high", "high"))
    assert c.start == "low" and c.downgrades == 4
    assert (c.level, c.symbol) == ("very low", "⊕◯◯◯")


def test_override_replaces_the_judgement_and_keeps_both():
    overrides = pd.DataFrame([
        {"outcome": "outcome", "domain": "imprecision", "judgement": "not_serious",
         "reason": "the OIS is met when the split-face pairs are counted"},
        {"outcome": "other", "domain": "risk_of_bias", "judgement": "very_serious",
         "reason": "another outcome: skipped"},
    ])
    eff = effects(n=(98, 98, 98, 98))              # computed: serious imprecision
    computed = grade(eff=eff)
    assert computed.level == "moderate"
    c = grade(eff=eff, overrides=overrides)
    j = domain(c, "imprecision")
    assert (j.computed, j.final) == ("serious", "not_serious")
    assert j.overridden and j.overridden_by.startswith("the OIS is met")
    assert "below the optimal information size of 786" in j.reason    # the computed rule is kept
    assert domain(c, "risk_of_bias").overridden_by is None
    assert c.level == "high"
    assert "computed serious" in c.explanation
    assert any("replacing the computed serious" in note for note in c.footnotes())
    frame = c.to_frame().set_index("domain")
    assert frame.loc["imprecision", "computed"] == "serious"
    assert frame.loc["imprecision", "final"] == "not_serious"


def test_override_can_rate_down():
    c = grade(overrides=[{"domain": "indirectness", "judgement": "serious",
                          "reason": "outcome measured at 4 weeks only"}])
    assert domain(c, "indirectness").computed == "not_serious"
    assert c.level == "moderate"


@pytest.mark.parametrize("row, message", [
    ({"domain": "precision", "judgement": "serious", "reason": "x"}, "domain 'precision'"),
    ({"domain": "imprecision", "judgement": "grave", "reason": "x"}, "judgement 'grave'"),
    ({"domain": "imprecision", "judgement": "serious", "reason": ""}, "needs a reason"),
])
def test_bad_override_rows_are_errors(row, message):
    with pytest.raises(ValueError, match=message):
        grade(overrides=[row])


def test_two_overrides_of_one_domain_are_an_error():
    row = {"domain": "imprecision", "judgement": "serious", "reason": "x"}
    with pytest.raises(ValueError, match="second override"):
        grade(overrides=[row, row])


def test_result_and_effects_must_match():
    with pytest.raises(ValueError, match="pooled 4 studies but effects has 3"):
        grade(eff=effects(yi=(-0.5, -0.4, -0.3), n=(100, 100, 100)))


def test_unknown_threshold_is_an_error():
    with pytest.raises(ValueError, match="unknown GRADE thresholds"):
        Thresholds.of({"i2": 40})


def test_certainty_is_frozen():
    c = grade()
    with pytest.raises(AttributeError):
        c.level = "low"
    with pytest.raises(TypeError):
        c.domains["imprecision"] = None


# --- which estimate leads with few studies ------------------------------------------------------


@pytest.mark.parametrize("k, fitted, lead", [
    (2, True, "bayesian"), (3, True, "bayesian"), (4, True, "frequentist"),
    (10, True, "frequentist"), (2, False, "frequentist"), (1, True, "frequentist")])
def test_the_bayesian_estimate_leads_with_three_studies_or_fewer(k, fitted, lead):
    from scipy import stats

    from metareview.report.grade import FEW_STUDIES, leading_estimate

    assert FEW_STUDIES == 3
    chosen, why = leading_estimate(k, fitted)
    assert chosen == lead
    if lead == "bayesian":
        # the reason names the t quantile of the Hartung-Knapp interval on k - 1 df
        quantile = float(stats.t.ppf(0.975, k - 1))     # 12.71 (1 df), 4.30 (2 df)
        assert f"t with {k - 1} df (quantile {quantile:.2f})" in why
        assert "Friede et al. 2017" in why


def test_the_rule_is_written_in_the_module_documentation():
    import metareview.report.grade as grade_module

    doc = grade_module.__doc__
    assert "Few studies: which estimate the summary of findings leads with" in doc
    assert "k <= 3" in doc and "10.1002/bimj.201500236" in doc and "10.1002/jrsm.1475" in doc


def test_imprecision_is_rated_on_the_interval_the_row_leads_with():
    wide = Fit(ci_low=-0.9, ci_high=0.3)                  # includes 0
    eff = effects(n=(400, 400, 400, 400))                # 3200 >= 786: only the CI counts
    assert domain(grade(result=wide, eff=eff), "imprecision").computed == "serious"
    narrow = (-0.5, -0.1, "95% credible interval (Bayesian)")
    j = domain(grade(result=wide, eff=eff, interval=narrow), "imprecision")
    assert j.computed == "not_serious"
    assert "the 95% credible interval (Bayesian) -0.50 to -0.10 excludes" in j.reason.replace(
        "\u2212", "-")
