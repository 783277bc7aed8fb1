"""The Bayesian random-effects model of every pooled outcome, beside the frequentist one.

With two or three studies the frequentist model has nothing good to offer: the Hartung-Knapp
interval on 1 or 2 df is enormous, the z interval with tau² near 0 falsely narrow. The
Bayesian normal-normal model with a weakly informative prior on the heterogeneity tau
(`metareview.pool_bayes`, equal to R's bayesmeta) gives a credible interval for mu and a
prediction interval for a new study that use what is known about plausible heterogeneity
(Friede et al. 2017, doi 10.1002/bimj.201500236; Röver et al. 2021, doi 10.1002/jrsm.1475).

`bayesian_models` fits it to every pooled outcome of `report.pooled.analyses`, under the
review's prior (parameter `bayes_tau_prior`; "default" is `default_tau_prior` of the measure)
and, as prior sensitivity, under the alternatives of `sensitivity_priors`; each row carries
the frequentist result beside it. Ratio measures stay on the log scale in `estimate`, `ci_*`,
`pi_*`; the `*_exp` columns are the ratios. `prior_sensitivity` turns the table into rows of
the sensitivity table (`report.pooled.sensitivity_analyses`), `add_prior_sensitivity` adds
them to it; the forest plots draw the main prior's row as a second diamond
(`review_figures.forest_for`), and the summary of findings reads it from bayes.csv
(`report.summary`, `report.findings`; which estimate leads with few studies is the rule of
`report.grade.leading_estimate`).

Direction: like every effect of the bundle, μ is treatment minus control (ratios: treatment
over control) on the outcome's own scale, so P(μ < 0) is the probability that the effect is
below no effect, whichever side is better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import metareview as mr
from metareview.report.frames import sorted_frame, with_exp
from metareview.report.pooled import MAIN, SENSITIVITY_COLUMNS, Sensitivity
from metareview.report.text import format_interval, format_number
from metareview.stats.bayes_priors import half_cauchy, half_normal, rhodes_prior, turner_prior
from metareview.stats.vocabulary import is_ratio

DEFAULT = "default"

# The role of a prior, column `prior_role` of the table: the review's own prior of tau, or an
# alternative fitted as prior sensitivity (in this order in the table). Not `pooled.MAIN`, which
# names the main *analysis* (all studies or a chosen subset); a row has both.
MAIN_PRIOR = "main"
SENSITIVITY_PRIOR = "sensitivity"
PRIOR_ROLES = (MAIN_PRIOR, SENSITIVITY_PRIOR)

# Unit-information SDs (Röver et al. 2021: sigma_u with SE_i = sigma_u / sqrt(n_i)) of the
# standardised measures: a log odds ratio from two arms of n/2 with risk p has variance
# 4 / (n p (1 - p)), so sigma_u = 2 / sqrt(p (1 - p)) >= 4 (4 at p = 1/2); a standardised
# mean difference has variance about 4 / n, so sigma_u = 2.
LOG_OR_UISD = 4.0
SMD_UISD = 2.0
# The default prior is half-normal with scale sigma_u / 8: for a log odds ratio 0.5, the
# weakly informative prior of Friede et al. (2017); the same fraction of the unit-information
# SD for every other measure (Röver et al. 2021 express heterogeneity relative to sigma_u).
UISD_FRACTION = 1.0 / 8.0
RATIO_SCALE = LOG_OR_UISD * UISD_FRACTION       # 0.5 for log OR, log RR, Peto OR, log HR
SMD_SCALE = SMD_UISD * UISD_FRACTION            # 0.25

BAYES_COLUMNS = [
    "analysis", "outcome", "measure", "k", "prior_role", "tau_prior", "mu_prior", "level",
    "estimate", "mean", "sd", "ci_low", "ci_high", "pi_low", "pi_high",
    "tau_median", "tau_ci_low", "tau_ci_high", "p_below_zero",
    "frequentist_method", "frequentist_estimate", "frequentist_ci_low", "frequentist_ci_high",
    "frequentist_pi_low", "frequentist_pi_high",
    "estimate_exp", "ci_low_exp", "ci_high_exp", "pi_low_exp", "pi_high_exp", "prior_reason",
    "note",
]


def persons(part: pd.DataFrame) -> np.ndarray:
    """Participants per effect: both arms of a parallel study, the persons (one arm's n) of a
    paired (within-person) one; nan where the sheet gives no n."""
    treated = pd.to_numeric(part["n_treatment"], errors="coerce").to_numpy(float)
    control = pd.to_numeric(part["n_control"], errors="coerce").to_numpy(float)
    paired = part["paired"].astype(bool).to_numpy() if "paired" in part else np.zeros(len(part),
                                                                                     bool)
    return np.where(paired, treated, treated + control)


def unit_information_sd(n: np.ndarray, vi: np.ndarray) -> float:
    """s_u = sqrt(Σ n_i / Σ 1/σ_i²), the pooled unit-information SD (Röver et al. 2021;
    bayesmeta's `uisd`); nan when a study has no n."""
    n = np.asarray(n, float)
    if not np.all(np.isfinite(n) & (n > 0)):
        return math.nan
    return float(math.sqrt(n.sum() / np.sum(1.0 / np.asarray(vi, float))))


class NoDefaultPrior(ValueError):
    """The measure's default prior of tau cannot be set from the outcome's data."""


def default_tau_prior(measure: str, part: pd.DataFrame) -> tuple[Any, str]:
    """The review's default prior of tau for one outcome's effects, and why.

    Half-normal with scale sigma_u / 8 (see the module constants): 0.5 for ratio measures on
    the log scale, 0.25 for a standardised mean difference, and for a mean difference (or any
    other unstandardised measure) an eighth of the unit-information SD estimated from the
    outcome's own studies (`unit_information_sd`), to three significant digits.
    """
    if is_ratio(measure):
        return (half_normal(RATIO_SCALE),
                f"half-normal(0.5) on the log scale: sigma_u/8 for a log odds ratio "
                f"(sigma_u = {LOG_OR_UISD:g}), the prior of Friede et al. 2017")
    if str(measure).upper() == "SMD":
        return (half_normal(SMD_SCALE),
                f"half-normal({SMD_SCALE:g}): sigma_u/8 for a standardised mean difference "
                f"(sigma_u = {SMD_UISD:g})")
    uisd = unit_information_sd(persons(part), part["vi"].to_numpy(float))
    if not math.isfinite(uisd):
        raise NoDefaultPrior("the default prior of a mean difference needs every study's "
                             "sample size (n_treatment, n_control) to estimate the "
                             "unit-information SD; set bayes_tau_prior explicitly")
    # three significant digits: the scale is a heuristic, and the prior's label (shown in
    # every table and note) is then the prior that was used
    scale = float(f"{uisd * UISD_FRACTION:.3g}")
    return (half_normal(scale),
            f"half-normal({scale:g}): sigma_u/8 with sigma_u = "
            f"{format_number(uisd)} estimated from the studies' sample sizes and SEs")


ODDS_RATIOS = ("OR", "PETO_OR")  # the measures Turner et al. (2015) derived their priors for


def sensitivity_priors(measure: str, main) -> list[tuple[Any, str]]:
    """Two alternatives to the main prior (a half-normal with scale s): twice as wide,
    half-normal(2s) (for log odds ratios the second prior of Friede et al. 2017), and one with
    a heavy tail or an empirical basis: Turner et al. 2015 (any outcome) for odds ratios,
    Rhodes et al. 2015 (any outcome) for a standardised mean difference, else half-Cauchy(s).
    Turner's distributions were derived for log odds ratios only, so a risk or hazard ratio
    gets the half-Cauchy, not an empirical prior of another scale."""
    scale = main.parameters.get("scale", None) if main.family == "halfnormal" else None
    out = []
    if scale is not None:
        out.append((half_normal(2 * scale), "twice the main prior's scale"))
    if str(measure).upper() in ODDS_RATIOS:
        out.append((turner_prior(), "empirical: Turner et al. 2015, any outcome and comparison"))
    elif str(measure).upper() == "SMD":
        out.append((rhodes_prior(), "empirical: Rhodes et al. 2015, any outcome and comparison"))
    elif scale is not None:
        out.append((half_cauchy(scale), "heavy tail: half-Cauchy with the main prior's scale"))
    return out


@dataclass(frozen=True)
class BayesModels:
    """`table`: one row per pooled outcome and prior (columns `BAYES_COLUMNS`; `prior_role`
    one of `PRIOR_ROLES`); `fits`: (analysis, outcome, measure, role, result) of each;
    `skipped`: one sentence per pooled outcome without a Bayesian model, saying why."""

    table: pd.DataFrame
    fits: list[tuple[str, str, str, str, Any]]
    skipped: tuple[str, ...] = ()

    def main_row(self, analysis: str, outcome: str, measure: str | None = None
                 ) -> dict | None:
        """The row of one outcome under the review's prior (None when not fitted)."""
        return main_row(self.table, analysis, outcome, measure)


def main_row(table: pd.DataFrame, analysis: str, outcome: str, measure: str | None = None
             ) -> dict | None:
    """The row of `table` (`BAYES_COLUMNS`, e.g. bayes.csv as read back) of one analysis and
    outcome under the main prior, or None."""
    rows = alternative_rows(table, analysis, outcome, measure, role=MAIN_PRIOR)
    return rows[0] if rows else None


def alternative_rows(table: pd.DataFrame, analysis: str, outcome: str,
                     measure: str | None = None, role: str = SENSITIVITY_PRIOR) -> list[dict]:
    """The rows of one analysis and outcome fitted under the alternative priors (or, with
    `role=MAIN_PRIOR`, the main prior), in the table's order."""
    if table is None or table.empty:
        return []
    chosen = ((table["analysis"] == analysis) & (table["outcome"] == outcome)
              & (table["prior_role"] == role))
    if measure is not None:
        chosen &= table["measure"] == measure
    return table[chosen].to_dict("records")


def _row(analysis: str, fit, role: str, reason: str, level: float, result) -> dict:
    freq = fit.result
    row = {
        "analysis": analysis, "outcome": fit.outcome, "measure": fit.measure,
        "k": len(fit.effects), "prior_role": role, "tau_prior": result.tau_prior,
        "mu_prior": result.mu_prior, "level": level,
        "estimate": result.mu_median, "mean": result.mu_mean, "sd": result.mu_sd,
        "ci_low": result.mu_shortest_low, "ci_high": result.mu_shortest_high,
        "pi_low": result.theta_shortest_low, "pi_high": result.theta_shortest_high,
        "tau_median": result.tau_median, "tau_ci_low": result.tau_shortest_low,
        "tau_ci_high": result.tau_shortest_high, "p_below_zero": result.p_mu_below_zero,
        "frequentist_method": f"{freq.method} / {freq.test}",
        "frequentist_estimate": freq.estimate, "frequentist_ci_low": freq.ci_low,
        "frequentist_ci_high": freq.ci_high,
        # as in the pooled table: no prediction interval from two studies
        "frequentist_pi_low": freq.pi_low if freq.k >= 3 else np.nan,
        "frequentist_pi_high": freq.pi_high if freq.k >= 3 else np.nan,
        "prior_reason": reason, "note": result.note,
    }
    return with_exp(row)


def bayesian_models(analyses, *, tau_prior: str = DEFAULT, mu_prior: str | None = "uniform",
                    level: float = 0.95, sensitivity: bool = True) -> BayesModels:
    """`mr.pool_bayes` on every pooled outcome of `analyses` (`report.pooled.analyses`).

    `tau_prior` "default" takes `default_tau_prior` of each outcome's measure; any other text
    (e.g. "halfnormal(0.5)") is used for every outcome. With `sensitivity`, each outcome is
    fitted again under `sensitivity_priors`. Intervals are bayesmeta's shortest intervals of
    probability `level`; the estimate is the posterior median.
    """
    rows, fits, skipped = [], [], []
    for analysis, fit in analyses.fits:
        if fit.result is None:
            continue
        yi = fit.effects["yi"].to_numpy(float)
        vi = fit.effects["vi"].to_numpy(float)
        if tau_prior == DEFAULT:
            try:
                main, reason = default_tau_prior(fit.measure, fit.effects)
            except NoDefaultPrior as error:
                skipped.append(f"{fit.outcome} ({analysis}): not fitted, {error}")
                continue
        else:
            main, reason = tau_prior, "set by the parameter bayes_tau_prior"
        priors = [(MAIN_PRIOR, main, reason)]
        if sensitivity and tau_prior == DEFAULT:
            priors += [(SENSITIVITY_PRIOR, p, why)
                       for p, why in sensitivity_priors(fit.measure, main)]
        for role, prior, why in priors:
            result = mr.pool_bayes(yi, vi, tau_prior=prior, mu_prior=mu_prior, level=level)
            rows.append(_row(analysis, fit, role, why, level, result))
            fits.append((analysis, fit.outcome, fit.measure, role, result))
    table = pd.DataFrame(rows, columns=BAYES_COLUMNS)
    table["_role"] = table["prior_role"].map({role: i for i, role in enumerate(PRIOR_ROLES)})
    table = sorted_frame(table, ["outcome", "measure", "analysis", "_role"]).drop(columns="_role")
    return BayesModels(table, fits, tuple(skipped))


# --- the sensitivity table ---------------------------------------------------------------------

PRIOR_SENSITIVITY = "Bayesian, prior of tau"


def prior_sensitivity(table: pd.DataFrame) -> pd.DataFrame:
    """The Bayesian rows of the sensitivity table (`report.pooled.SENSITIVITY_COLUMNS`): each
    outcome under each prior of tau, its posterior median with the shortest credible interval
    as estimate and CI, the prediction interval, and tau² as the square of tau's posterior
    median (the median of tau², since squaring keeps the order); no p value and no I².
    `setting` names the prior, whether it is the review's or an alternative, and the analysis
    of all studies where the row is not the main analysis."""
    rows = []
    records = [] if table is None else table.to_dict("records")
    # per outcome: the main analysis first, the review's prior before the alternatives
    records.sort(key=lambda r: (r["outcome"], r["analysis"] != MAIN, r["analysis"],
                                r["prior_role"] != MAIN_PRIOR))
    for r in records:
        where = "" if r["analysis"] == MAIN else f"; {r['analysis']}"
        role = "the review's prior" if r["prior_role"] == MAIN_PRIOR else "alternative"
        rows.append(with_exp({
            "analysis": PRIOR_SENSITIVITY, "setting": f"{r['tau_prior']} ({role}{where})",
            "outcome": r["outcome"], "measure": r["measure"], "k": r["k"], "status": "pooled",
            "method": "Bayesian", "test": "credible interval",
            "estimate": r["estimate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
            "pval": np.nan, "tau2": r["tau_median"] ** 2, "i2": np.nan,
            "pi_low": r["pi_low"], "pi_high": r["pi_high"]}))
    return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)


def add_prior_sensitivity(sensitivity: Sensitivity, models: BayesModels) -> Sensitivity:
    """`sensitivity` with the rows of `prior_sensitivity`, by outcome and scenario as the
    sensitivity table is sorted (the Bayesian rows in the order of `prior_sensitivity`)."""
    extra = prior_sensitivity(models.table)
    if extra.empty:
        return sensitivity
    parts = [part for part in (sensitivity.table, extra) if not part.empty]
    table = pd.concat(parts, ignore_index=True)
    return Sensitivity(sorted_frame(table, ["outcome", "analysis"]), sensitivity.unchanged)


def _bracket(low: float, high: float) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "none (k < 3)"
    return f"[{low:.2f}, {high:.2f}]"


_TESTS = {"knha": "Hartung-Knapp", "z": "z"}


def present(table: pd.DataFrame, main_only: bool = True,
            outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The table for readers: per outcome (and, without `main_only`, per prior), the Bayesian
    median with its credible interval and prediction interval beside the frequentist estimate
    with its confidence and prediction intervals (ratios exponentiated), tau and P(mu < 0), the
    probability that the effect is below no effect (a ratio below 1). The alternative priors
    are shown in the sensitivity table (`prior_sensitivity`). `outcomes` (outcomes.csv) gives
    the outcomes' labels."""
    labels = {} if outcomes is None or outcomes.empty else dict(
        zip(outcomes["outcome"], outcomes["label"]))
    rows = []
    if main_only and len(table):
        table = table[table["prior_role"] == MAIN_PRIOR]
    for row in table.to_dict("records"):
        ratio = is_ratio(row["measure"])

        def shown(name: str, prefix: str = "") -> float:
            value = row[f"{prefix}{name}"]
            return math.exp(value) if ratio and np.isfinite(value) else value

        method, _, test = str(row["frequentist_method"]).partition(" / ")
        frequentist = f"frequentist ({method}, {_TESTS.get(test, test)})"
        rows.append({
            "analysis": row["analysis"], "outcome": labels.get(row["outcome"], row["outcome"]),
            "measure": row["measure"] + (" (ratio)" if ratio else ""), "k": row["k"],
            "prior of tau": row["tau_prior"] + ("" if row["prior_role"] == MAIN_PRIOR
                                                else " (sensitivity)"),
            "Bayesian median [credible interval]": format_interval(
                shown("estimate"), shown("ci_low"), shown("ci_high")),
            "Bayesian prediction interval": _bracket(shown("pi_low"), shown("pi_high")),
            f"{frequentist} [CI]": format_interval(
                *(shown(n, "frequentist_") for n in ("estimate", "ci_low", "ci_high"))),
            f"{frequentist} prediction interval": _bracket(
                shown("pi_low", "frequentist_"), shown("pi_high", "frequentist_")),
            "tau, median [interval]": format_interval(row["tau_median"], row["tau_ci_low"],
                                                      row["tau_ci_high"]),
            "P(below no effect)": format_number(row["p_below_zero"]),
        })
    return pd.DataFrame(rows)
