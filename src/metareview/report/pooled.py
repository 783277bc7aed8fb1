"""The pooled result of every outcome, its sensitivity analyses, leave-one-out and the
small-study tests, as tidy tables (one fact per row, sorted, so that CSVs are byte-identical).

Ratio measures (log RR, log OR) stay on the log scale in `estimate`, `ci_*` and `pi_*`, as
metafor keeps them; the `*_exp` columns give the back-transformed ratios for presentation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd

import metareview as mr
from metareview.report.frames import outcome_groups, sorted_frame, study_labels, with_exp
from metareview.stats.vocabulary import TESTS

ESTIMATORS = ("FE", "DL", "REML", "PM", "SJ")
# Small-study tests need enough studies to have any power (Cochrane Handbook 13.3.5.4).
MIN_K_SMALL_STUDY = 10
SINGLE_STUDY_WARNING = "single study, not pooled: its own estimate and interval"
K2_WARNING = (
    "only 2 studies: tau² and its interval are very imprecise and the Hartung-Knapp interval "
    "is wide (t with 1 df)"
)

POOLED_COLUMNS = [
    "outcome", "measure", "k", "status", "warning", "studies", "method", "test", "level",
    "estimate", "se", "ci_low", "ci_high", "pval", "tau2", "tau2_ci_low", "tau2_ci_high",
    "i2", "i2_ci_low", "i2_ci_high", "h2", "q", "q_df", "q_pval", "pi_low", "pi_high",
    "estimate_exp", "ci_low_exp", "ci_high_exp", "pi_low_exp", "pi_high_exp",
]


def single_study_row(part: pd.DataFrame, level: float) -> dict:
    """The one study of an outcome shown as it is: estimate with its Wald interval."""
    single = mr.pool(part["yi"].to_numpy(float), part["vi"].to_numpy(float), method="FE",
                     test="z", level=level)
    return {"estimate": single.estimate, "se": single.se, "ci_low": single.ci_low,
            "ci_high": single.ci_high, "pval": single.pval}


def result_row(r) -> dict:
    """The fields of a `mr.pool` result, flattened for a table."""
    return {
        "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low, "ci_high": r.ci_high,
        "pval": r.pval, "tau2": r.tau2, "tau2_ci_low": r.tau2_ci[0], "tau2_ci_high": r.tau2_ci[1],
        "i2": r.i2, "i2_ci_low": r.i2_ci[0], "i2_ci_high": r.i2_ci[1], "h2": r.h2, "q": r.q,
        "q_df": r.q_df, "q_pval": r.q_pval, "pi_low": r.pi_low, "pi_high": r.pi_high,
    }


def pool_row(part: pd.DataFrame, method: str, test: str, level: float) -> dict:
    """`result_row` of `mr.pool` on the rows of one outcome."""
    return result_row(mr.pool(part["yi"].to_numpy(float), part["vi"].to_numpy(float),
                              method=method, test=test, level=level))


@dataclass(frozen=True)
class OutcomeFit:
    """One outcome's effects, their study labels and its pooled model (None when not pooled)."""

    outcome: str
    measure: str
    effects: pd.DataFrame
    labels: list[str]
    result: Any


@dataclass(frozen=True)
class PooledOutcomes:
    """`table`: one row per outcome (columns `POOLED_COLUMNS`); `fits`: the models behind it,
    for the forest and funnel plots, so that nothing is fitted twice."""

    table: pd.DataFrame
    fits: list[OutcomeFit]


def pool_outcomes(effects: pd.DataFrame, *, method: str = "REML", test: str = "knha",
                  min_k: int = 2, alpha: float = 0.05) -> PooledOutcomes:
    """The random-effects model of `mr.pool` for every outcome (and measure) of `effects`.

    Outcomes with fewer than `min_k` effects are listed with status "not pooled (k=…)"; a
    single study is shown as it is (its estimate and interval). With k = 2 the model is fitted
    but the `warning` column says how little it can tell.
    """
    level = 1 - alpha
    rows, fits = [], []
    for outcome, measure, part in outcome_groups(effects):
        k = len(part)
        labels = study_labels(part)
        row = {"outcome": outcome, "measure": measure, "k": k, "method": method, "test": test,
               "level": level, "warning": "", "studies": "; ".join(labels)}
        result = None
        if k < min_k:
            row["status"] = f"not pooled (k={k})"
            if k == 1:
                row.update(single_study_row(part, level))
                row["warning"] = SINGLE_STUDY_WARNING
        else:
            try:
                result = mr.pool(part["yi"].to_numpy(float), part["vi"].to_numpy(float),
                                 method=method, test=test, level=level)
                row.update(result_row(result))
                row["status"] = "pooled"
                if k == 2:
                    row["warning"] = K2_WARNING
            except ValueError as error:
                row["status"] = f"not pooled ({error})"
        rows.append(with_exp(row))
        fits.append(OutcomeFit(outcome, measure, part, labels, result))
    table = sorted_frame(pd.DataFrame(rows, columns=POOLED_COLUMNS), ["outcome", "measure"])
    return PooledOutcomes(table, fits)


def pooled_table(effects: pd.DataFrame, method: str = "REML", test: str = "knha",
                 min_k: int = 2, alpha: float = 0.05) -> pd.DataFrame:
    """The table of `pool_outcomes` alone."""
    return pool_outcomes(effects, method=method, test=test, min_k=min_k, alpha=alpha).table


# --- sensitivity ------------------------------------------------------------------------------


def _scenario_rows(effects: pd.DataFrame, analysis: str, setting: str, method: str, test: str,
                   min_k: int, alpha: float) -> list[dict]:
    table = pooled_table(effects, method, test, min_k, alpha)
    keep = ["outcome", "measure", "k", "status", "method", "test", "estimate", "ci_low",
            "ci_high", "pval", "tau2", "i2", "pi_low", "pi_high", "estimate_exp", "ci_low_exp",
            "ci_high_exp"]
    rows = table[keep].to_dict("records")
    for row in rows:
        row.update(analysis=analysis, setting=setting)
    return rows


SENSITIVITY_COLUMNS = [
    "analysis", "setting", "outcome", "measure", "k", "status", "method", "test", "estimate",
    "ci_low", "ci_high", "pval", "tau2", "i2", "pi_low", "pi_high", "estimate_exp",
    "ci_low_exp", "ci_high_exp",
]


def sensitivity_grid(effects: pd.DataFrame, methods: Sequence[str] = ESTIMATORS,
                     tests: Sequence[str] = TESTS, min_k: int = 2,
                     alpha: float = 0.05) -> pd.DataFrame:
    """The pooled estimate of every outcome under each tau² estimator × test (z, Hartung-Knapp).

    Shows how much the result depends on the choice of model (Veroniki et al. 2016 on tau²
    estimators; IntHout et al. 2014 on the Hartung-Knapp adjustment).
    """
    rows = []
    for method in methods:
        for test in tests:
            rows += _scenario_rows(effects, "estimator x test", f"{method} / {test}", method,
                                   test, min_k, alpha)
    return sorted_frame(pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS),
                   ["analysis", "outcome", "measure", "method", "test"])


def exclusion_sensitivity(effects: pd.DataFrame, method: str = "REML", test: str = "knha",
                          min_k: int = 2, alpha: float = 0.05) -> pd.DataFrame:
    """Pooled results with all effects, without converted results, and randomised studies only.

    "Converted" effects came from a CI, a p value, a median or an imputation (column
    `converted` of effects.csv); leaving them out shows whether the conversions drive the result.
    """
    converted = effects["converted"].astype(bool) if len(effects) else pd.Series(dtype=bool)
    randomised = effects["randomised"].astype(bool) if len(effects) else pd.Series(dtype=bool)
    scenarios = [
        ("all results", effects),
        ("excluding converted results", effects[~converted]),
        ("randomised studies only", effects[randomised]),
    ]
    rows = []
    for setting, subset in scenarios:
        rows += _scenario_rows(subset, "exclusion", setting, method, test, min_k, alpha)
        seen = {(r["outcome"], r["measure"]) for r in rows if r["setting"] == setting}
        # Outcomes that lose every study in this scenario still get a row saying so.
        for outcome, measure, _ in outcome_groups(effects):
            if (outcome, measure) not in seen:
                rows.append({"analysis": "exclusion", "setting": setting, "outcome": outcome,
                             "measure": measure, "k": 0, "status": "not pooled (k=0)",
                             "method": method, "test": test})
    order = {name: i for i, (name, _) in enumerate(scenarios)}
    frame = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    frame["_order"] = frame["setting"].map(order)
    frame = sorted_frame(frame, ["outcome", "measure", "_order"])
    return frame.drop(columns="_order")


def paired_r_sensitivity(review, rs: Sequence[float] = (0.2, 0.5, 0.8), method: str = "REML",
                         test: str = "knha", min_k: int = 2, alpha: float = 0.05,
                         timepoint: str = "last",
                         exclude_studies: Sequence[str] = ()) -> pd.DataFrame:
    """Pooled results with the effects re-derived at each assumed within-person correlation.

    Split-face trials report each side's mean and SD; the SE of their paired difference depends
    on the correlation between sides, which is rarely reported (Cochrane Handbook 23.2.7.2).
    Outcomes without paired effects give the same result at every r, as they should.
    """
    from metareview.review.derive import derive_effects

    rows = []
    for r in rs:
        derived = derive_effects(review, paired_r=float(r), timepoint=timepoint,
                                 exclude_studies=tuple(exclude_studies))
        rows += _scenario_rows(derived.effects, "paired_r", f"r = {float(r):g}", method, test,
                               min_k, alpha)
    frame = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    frame["_r"] = [float(s.split("=")[1]) for s in frame["setting"]]
    return sorted_frame(frame, ["outcome", "measure", "_r"]).drop(columns="_r")


def sensitivity_table(effects: pd.DataFrame, review=None, method: str = "REML",
                      test: str = "knha", min_k: int = 2, alpha: float = 0.05,
                      rs: Sequence[float] = (0.2, 0.5, 0.8), timepoint: str = "last",
                      exclude_studies: Sequence[str] = ()) -> pd.DataFrame:
    """All sensitivity analyses in one tidy table (column `analysis` says which)."""
    parts = [sensitivity_grid(effects, min_k=min_k, alpha=alpha),
             exclusion_sensitivity(effects, method, test, min_k, alpha)]
    if review is not None:
        parts.append(paired_r_sensitivity(review, rs, method, test, min_k, alpha, timepoint,
                                          exclude_studies))
    frames = [p for p in parts if not p.empty]
    if not frames:
        return pd.DataFrame(columns=SENSITIVITY_COLUMNS)
    return pd.concat(frames, ignore_index=True)[SENSITIVITY_COLUMNS]


LEAVE_ONE_OUT_COLUMNS = [
    "outcome", "measure", "omitted", "k", "estimate", "ci_low", "ci_high", "pval", "tau2", "i2",
    "q", "estimate_exp", "ci_low_exp", "ci_high_exp",
]


def leave_one_out_table(effects: pd.DataFrame, method: str = "REML", test: str = "knha",
                        alpha: float = 0.05, min_k: int = 3) -> pd.DataFrame:
    """Each outcome with k ≥ `min_k` re-pooled once without each study (metafor's leave1out).

    With k = 2 leaving one out leaves a single study, which says nothing new, hence min_k = 3.
    """
    rows = []
    for outcome, measure, part in outcome_groups(effects):
        if len(part) < min_k:
            continue
        table = mr.leave_one_out(part["yi"].to_numpy(float), part["vi"].to_numpy(float),
                                 method=method, test=test, level=1 - alpha)
        for label, fit in zip(study_labels(part), table.to_dict("records")):
            row = {"outcome": outcome, "measure": measure, "omitted": label, "k": len(part) - 1}
            row.update({key: fit[key] for key in ("estimate", "ci_low", "ci_high", "pval",
                                                 "tau2", "i2", "q")})
            rows.append(with_exp(row))
    return pd.DataFrame(rows, columns=LEAVE_ONE_OUT_COLUMNS)


# --- small-study effects -----------------------------------------------------------------------

SMALL_STUDY_COLUMNS = [
    "outcome", "measure", "k", "test", "status", "statistic", "pval", "detail", "k_filled",
    "estimate_adjusted", "ci_low_adjusted", "ci_high_adjusted", "estimate_adjusted_exp",
    "ci_low_adjusted_exp", "ci_high_adjusted_exp", "reason",
]


def small_study_table(effects: pd.DataFrame, method: str = "REML",
                      min_k: int = MIN_K_SMALL_STUDY) -> pd.DataFrame:
    """Egger's regression test, the rank correlation test and trim-and-fill per outcome.

    Run only where k ≥ `min_k` (10, Cochrane Handbook 13.3.5.4: with fewer studies the tests
    cannot tell chance from asymmetry); otherwise one row with the reason.
    """
    rows = []
    for outcome, measure, part in outcome_groups(effects):
        k = len(part)
        base = {"outcome": outcome, "measure": measure, "k": k}
        if k < min_k:
            rows.append({**base, "test": "none", "status": "not run",
                         "reason": f"k = {k} < {min_k}: too few studies for small-study tests "
                                   "(Cochrane Handbook 13.3.5.4)"})
            continue
        yi, vi = part["yi"].to_numpy(float), part["vi"].to_numpy(float)
        egger = mr.egger_test(yi, vi, method=method)
        rows.append({**base, "test": "Egger regression", "status": "run",
                     "statistic": egger.statistic, "pval": egger.pval,
                     "detail": f"slope on SE {egger.slope:.4g}; limit estimate "
                               f"{egger.limit_estimate:.4g}"})
        rank = mr.rank_test(yi, vi)
        rows.append({**base, "test": "Begg rank correlation", "status": "run",
                     "statistic": rank.tau, "pval": rank.pval, "detail": "Kendall's tau"})
        tf = mr.trim_and_fill(yi, vi, method=method)
        rows.append(with_exp({**base, "test": "trim-and-fill", "status": "run",
                               "k_filled": tf.k0,
                               "detail": f"{tf.k0} missing on the {tf.side} side ({tf.estimator})",
                               "estimate_adjusted": tf.pooled.estimate,
                               "ci_low_adjusted": tf.pooled.ci_low,
                               "ci_high_adjusted": tf.pooled.ci_high}))
    return pd.DataFrame(rows, columns=SMALL_STUDY_COLUMNS)
