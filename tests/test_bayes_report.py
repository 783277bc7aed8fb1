"""The Bayesian model of the pooled outcomes in the report (`report.bayes`): the default prior of
each measure, the unit-information SD by hand, and the table beside the frequentist model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview.report import bayes, pooled
from metareview.review.params import ParameterError, load_params
from metareview.stats.bayes_priors import half_normal


def effects_frame(rows) -> pd.DataFrame:
    base = {"comparison": "a vs b", "main_analysis": True, "df": np.nan, "paired": False,
            "design": "parallel", "randomised": True}
    return pd.DataFrame([{**base, **row} for row in rows])


def md_effects() -> pd.DataFrame:
    return effects_frame([
        {"study_id": "A", "outcome": "score", "measure": "MD", "yi": 13.48, "vi": 14.74,
         "n_treatment": 10, "n_control": 10, "paired": True},
        {"study_id": "B", "outcome": "score", "measure": "MD", "yi": 33.24, "vi": 15.07,
         "n_treatment": 10, "n_control": 10, "paired": True},
        {"study_id": "C", "outcome": "score", "measure": "MD", "yi": 8.5, "vi": 30.0,
         "n_treatment": 15, "n_control": 12},
    ])


def test_unit_information_sd_by_hand():
    effects = md_effects()
    n = bayes.persons(effects)
    # paired studies count their persons once, a parallel one both arms
    assert n.tolist() == [10, 10, 27]
    expected = math.sqrt(47 / (1 / 14.74 + 1 / 15.07 + 1 / 30.0))
    assert bayes.unit_information_sd(n, effects["vi"]) == pytest.approx(expected, rel=1e-14)
    assert math.isnan(bayes.unit_information_sd([10, np.nan], [1.0, 2.0]))


def test_default_priors_per_measure():
    effects = md_effects()
    prior, reason = bayes.default_tau_prior("OR", effects)
    assert prior == half_normal(0.5)
    assert prior.parameters == {"scale": 0.5} and "Friede" in reason
    assert bayes.default_tau_prior("RR", effects)[0].parameters == {"scale": 0.5}
    assert bayes.default_tau_prior("SMD", effects)[0].parameters == {"scale": 0.25}
    md_prior, md_reason = bayes.default_tau_prior("MD", effects)
    uisd = bayes.unit_information_sd(bayes.persons(effects), effects["vi"])
    # an eighth of the unit-information SD, to three significant digits
    assert md_prior.parameters["scale"] == float(f"{uisd / 8:.3g}")
    assert md_prior.parameters["scale"] == pytest.approx(uisd / 8, rel=5e-3)
    assert "estimated from the studies" in md_reason
    no_n = effects.assign(n_control=np.nan, n_treatment=np.nan)
    with pytest.raises(ValueError, match="sample size"):
        bayes.default_tau_prior("MD", no_n)


def test_sensitivity_priors():
    main = half_normal(0.5)
    ratio = bayes.sensitivity_priors("OR", main)
    assert [p.parameters for p, _ in ratio] == [{"scale": 1.0}, {"meanlog": -1.28,
                                                                 "sdlog": 0.87}]
    # Turner's priors are for log odds ratios: a risk ratio gets the heavy tail instead
    risk_ratio = bayes.sensitivity_priors("RR", main)
    assert [p.family for p, _ in risk_ratio] == ["halfnormal", "halft"]
    assert risk_ratio[1][0].parameters == {"scale": 0.5, "df": 1.0}
    smd = bayes.sensitivity_priors("SMD", half_normal(0.25))
    assert smd[1][0].family == "logt"
    md = bayes.sensitivity_priors("MD", half_normal(2.0))
    assert md[1][0].parameters == {"scale": 2.0, "df": 1.0}


def test_table_beside_the_frequentist_model():
    effects = md_effects()
    analyses = pooled.analyses(effects, method="REML", test="knha")
    models = bayes.bayesian_models(analyses)
    table = models.table
    assert table.columns.tolist() == bayes.BAYES_COLUMNS
    assert table["prior_role"].tolist() == ["main", "sensitivity", "sensitivity"]
    main = table.iloc[0]
    freq = mr.pool(effects["yi"], effects["vi"], method="REML", test="knha")
    assert main["frequentist_estimate"] == pytest.approx(freq.estimate)
    assert main["frequentist_ci_low"] == pytest.approx(freq.ci_low)
    prior, _ = bayes.default_tau_prior("MD", effects)
    again = mr.pool_bayes(effects["yi"], effects["vi"], tau_prior=prior)
    assert main["estimate"] == again.mu_median
    assert (main["ci_low"], main["ci_high"]) == (again.mu_shortest_low, again.mu_shortest_high)
    assert (main["pi_low"], main["pi_high"]) == (again.theta_shortest_low,
                                                 again.theta_shortest_high)
    assert main["tau_median"] == again.tau_median
    # a wider prior of tau gives a wider credible interval
    width = table["ci_high"] - table["ci_low"]
    assert width.iloc[1] > width.iloc[0]
    shown = bayes.present(table)
    assert shown.iloc[0]["Bayesian median [credible interval]"].startswith(
        f"{again.mu_median:.2f} [")
    # an explicit prior is used for every outcome, without sensitivity rows
    fixed = bayes.bayesian_models(analyses, tau_prior="halfcauchy(5)").table
    assert fixed["tau_prior"].tolist() == ["half-Cauchy(scale=5)"]


def test_ratios_are_exponentiated_and_two_studies_have_no_frequentist_prediction():
    effects = effects_frame([
        {"study_id": "A", "outcome": "response", "measure": "RR", "yi": 1.18, "vi": 0.286,
         "n_treatment": 59, "n_control": 55},
        {"study_id": "B", "outcome": "response", "measure": "RR", "yi": -0.105, "vi": 0.061,
         "n_treatment": 12, "n_control": 6},
    ])
    table = bayes.bayesian_models(pooled.analyses(effects)).table
    main = table.iloc[0]
    assert main["estimate_exp"] == pytest.approx(math.exp(main["estimate"]))
    assert math.isnan(main["frequentist_pi_low"])
    assert table.iloc[2]["tau_prior"].startswith("half-Cauchy")  # Turner 2015 is for log OR
    shown = bayes.present(table)
    assert shown.iloc[0]["frequentist (REML, Hartung-Knapp) prediction interval"] == "none (k < 3)"
    assert shown.iloc[0]["measure"] == "RR (ratio)"


def test_parameters_of_the_bayesian_model(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("bayes_tau_prior: halfcauchy(0.5)\nbayes_mu_prior: normal(0, 4)\n")
    params = load_params("r", path)
    assert params["bayes_tau_prior"] == "halfcauchy(0.5)"
    path.write_text("bayes_tau_prior: halfnormal(-1)\n")
    with pytest.raises(ParameterError, match="bayes_tau_prior"):
        load_params("r", path)
    path.write_text("bayes_mu_prior: cauchy(0, 1)\n")
    with pytest.raises(ParameterError, match="bayes_mu_prior"):
        load_params("r", path)


def test_prior_sensitivity_rows_of_the_sensitivity_table():
    effects = md_effects()
    analyses = pooled.analyses(effects, method="REML", test="knha")
    models = bayes.bayesian_models(analyses)
    rows = bayes.prior_sensitivity(models.table)
    assert rows.columns.tolist() == pooled.SENSITIVITY_COLUMNS
    assert len(rows) == 3 and set(rows["analysis"]) == {bayes.PRIOR_SENSITIVITY}
    for shown, fitted in zip(rows.to_dict("records"), models.table.to_dict("records")):
        assert (shown["estimate"], shown["ci_low"], shown["ci_high"]) == \
            (fitted["estimate"], fitted["ci_low"], fitted["ci_high"])
        assert (shown["pi_low"], shown["pi_high"]) == (fitted["pi_low"], fitted["pi_high"])
        # tau² is the square of tau's posterior median (the median of tau²)
        assert shown["tau2"] == fitted["tau_median"] ** 2
        assert math.isnan(shown["pval"]) and math.isnan(shown["i2"])
        assert shown["method"] == "Bayesian" and fitted["tau_prior"] in shown["setting"]
    assert rows["setting"].str.contains("the review's prior").sum() == 1
    assert rows["setting"].str.contains("alternative").sum() == 2
    # added to the frequentist scenarios, which keep their rows and sentences
    frequentist = pooled.Sensitivity(
        pd.DataFrame([{"analysis": "paired_r", "setting": "r = 0.2", "outcome": "score",
                       "measure": "MD", "k": 3, "status": "pooled", "estimate": 1.0}],
                     columns=pooled.SENSITIVITY_COLUMNS), ["exclusion: the same effects"])
    both = bayes.add_prior_sensitivity(frequentist, models)
    assert len(both.table) == 4 and both.unchanged == ["exclusion: the same effects"]
    assert both.table["analysis"].tolist() == [bayes.PRIOR_SENSITIVITY] * 3 + ["paired_r"]
    empty = bayes.BayesModels(models.table.iloc[0:0], [])
    assert bayes.add_prior_sensitivity(frequentist, empty) is frequentist


def test_rows_of_one_outcome_and_an_outcome_without_a_default_prior():
    effects = md_effects()
    no_n = effects.assign(outcome="other", n_treatment=np.nan)
    analyses = pooled.analyses(pd.concat([effects, no_n], ignore_index=True))
    models = bayes.bayesian_models(analyses)
    # the mean difference without sample sizes has no default prior: skipped, saying why
    assert set(models.table["outcome"]) == {"score"}
    (skipped,) = models.skipped
    assert skipped.startswith("other (main): not fitted") and "sample size" in skipped
    main = models.main_row("main", "score")
    assert main["prior_role"] == "main" and main["outcome"] == "score"
    assert models.main_row("main", "other") is None
    assert models.main_row("main", "score", measure="SMD") is None
    alternatives = bayes.alternative_rows(models.table, "main", "score")
    assert [r["prior_role"] for r in alternatives] == ["sensitivity", "sensitivity"]
    assert bayes.main_row(pd.DataFrame(), "main", "score") is None
    # an explicit prior needs no sample sizes
    explicit = bayes.bayesian_models(analyses, tau_prior="halfnormal(5)")
    assert set(explicit.table["outcome"]) == {"score", "other"} and not explicit.skipped


def test_the_readers_table_shows_the_review_prior_with_the_outcome_label():
    table = bayes.bayesian_models(pooled.analyses(md_effects())).table
    outcomes = pd.DataFrame({"outcome": ["score"], "label": ["Scar score"]})
    shown = bayes.present(table, outcomes=outcomes)
    assert len(shown) == 1 and shown.iloc[0]["outcome"] == "Scar score"
    assert "(sensitivity)" not in shown.iloc[0]["prior of tau"]
    every = bayes.present(table, main_only=False)
    assert len(every) == 3 and every["outcome"].tolist() == ["score"] * 3
    assert every["prior of tau"].str.endswith("(sensitivity)").sum() == 2


def test_prior_sensitivity_lists_the_main_analysis_and_the_reviews_prior_first():
    effects = md_effects()
    wider = effects.assign(main_analysis=[True, True, False])
    models = bayes.bayesian_models(pooled.analyses(wider))
    rows = bayes.prior_sensitivity(models.table)
    assert rows["setting"].tolist()[0].endswith("(the review's prior)")
    assert [s.endswith("all studies)") for s in rows["setting"]] == [False] * 3 + [True] * 3
    assert rows["setting"].tolist()[3].endswith("(the review's prior; all studies)")
