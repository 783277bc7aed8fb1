"""The pooled result of every outcome, its sensitivity analyses, leave-one-out and the
small-study tests, as tidy tables (one fact per row, sorted, so that CSVs are byte-identical).

Ratio measures (log RR, log OR) stay on the log scale in `estimate`, `ci_*` and `pi_*`, as
metafor keeps them; the `*_exp` columns give the back-transformed ratios for presentation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

import metareview as mr
from metareview.report.figure_names import ALL_STUDIES_SUFFIX
from metareview.report.frames import (
    MAX_STUDY_ROWS,
    outcome_groups,
    sorted_frame,
    study_intervals,
    study_labels,
    with_exp,
)
from metareview.report.progress import progress
from metareview.report.words import CODED_WORDS
from metareview.review.ordering import sort_studies
from metareview.stats.vocabulary import TESTS

ESTIMATORS = ("FE", "DL", "REML", "PM", "SJ")
# Small-study tests need enough studies to have any power (Cochrane Handbook 13.3.5.4).
MIN_K_SMALL_STUDY = 10
SINGLE_STUDY_WARNING = "single study, not pooled: its own estimate and interval"

# A prediction interval needs at least three studies: its t quantile has k - 2 degrees of
# freedom (Higgins, Thompson & Spiegelhalter 2009, doi 10.1111/j.1467-985X.2008.00552.x), none
# with two. With k >= 3 it is metafor's (z, or t on k - 1 df under Hartung-Knapp).
MIN_K_PREDICTION = 3


def few_studies_caution(k: int, test: str) -> str:
    """The caution shown beside every interval of a model of two studies, naming the test the
    run used (empty for k >= 3)."""
    if k != 2:
        return ""
    interval = ("the Hartung-Knapp interval uses t with 1 df, so it is very wide"
                if test == "knha" else
                "the z interval ignores the uncertainty in tau², so it may be too narrow")
    return (f"only 2 studies: tau² cannot be estimated with any precision and {interval}; no "
            "prediction interval (it needs at least 3 studies)")

POOLED_COLUMNS = [
    "outcome", "measure", "k", "status", "warning", "studies", "method", "test", "level",
    "interval",
    "estimate", "se", "ci_low", "ci_high", "pval", "tau2", "tau2_ci_low", "tau2_ci_high",
    "i2", "i2_ci_low", "i2_ci_high", "h2", "q", "q_df", "q_pval", "pi_low", "pi_high",
    "estimate_exp", "ci_low_exp", "ci_high_exp", "pi_low_exp", "pi_high_exp",
]


def single_study_row(part: pd.DataFrame, level: float) -> dict:
    """The one study of an outcome shown as it is, with its own interval by the rule of
    `frames.study_intervals` (t on the effect's df where its source printed a t-based
    interval or test, so "−17.00 (−24.56 to −9.44)" is shown as printed; else z)."""
    yi, se = float(part["yi"].iloc[0]), float(np.sqrt(part["vi"].iloc[0]))
    low, high, t_based = study_intervals(part.iloc[:1], level)
    if t_based[0]:
        df = float(part["df"].iloc[0])
        pval = float(2 * stats.t.sf(abs(yi / se), df))
        interval = f"t, df = {df:g}"
    else:
        pval = float(2 * stats.norm.sf(abs(yi / se)))
        interval = "z"
    return {"estimate": yi, "se": se, "ci_low": float(low[0]), "ci_high": float(high[0]),
            "pval": pval, "interval": interval}


def result_row(r) -> dict:
    """The fields of a `mr.pool` result, flattened for a table."""
    return {
        "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low, "ci_high": r.ci_high,
        "pval": r.pval, "tau2": r.tau2, "tau2_ci_low": r.tau2_ci_low,
        "tau2_ci_high": r.tau2_ci_high, "i2": r.i2, "i2_ci_low": r.i2_ci_low,
        "i2_ci_high": r.i2_ci_high, "h2": r.h2, "q": r.q,
        "q_df": r.q_df, "q_pval": r.q_pval, "pi_low": r.pi_low, "pi_high": r.pi_high,
    }


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
                  min_k: int = 2, level: float = 0.95) -> PooledOutcomes:
    """The random-effects model of `mr.pool` for every outcome (and measure) of `effects`.

    Outcomes with fewer than `min_k` effects are listed with status "not pooled (k=…)"; a
    single study is shown as it is (its estimate and interval). With k = 2 the model is fitted
    but the `warning` column says how little it can tell.
    """
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
                row.update(result_row(result), interval="t, df = k - 1" if test == "knha"
                           else "z")
                row["status"] = "pooled"
                if k < MIN_K_PREDICTION:
                    row["pi_low"] = row["pi_high"] = np.nan
                row["warning"] = few_studies_caution(k, test)
            except ValueError as error:
                row["status"] = f"not pooled ({error})"
        rows.append(with_exp(row))
        fits.append(OutcomeFit(outcome, measure, part, labels, result))
    table = sorted_frame(pd.DataFrame(rows, columns=POOLED_COLUMNS), ["outcome", "measure"])
    return PooledOutcomes(table, fits)


def pooled_table(effects: pd.DataFrame, method: str = "REML", test: str = "knha",
                 min_k: int = 2, level: float = 0.95) -> pd.DataFrame:
    """The table of `pool_outcomes` alone."""
    return pool_outcomes(effects, method=method, test=test, min_k=min_k, level=level).table


# --- sensitivity ------------------------------------------------------------------------------

SENSITIVITY_COLUMNS = [
    "analysis", "setting", "outcome", "measure", "k", "status", "method", "test", "estimate",
    "ci_low", "ci_high", "pval", "tau2", "i2", "pi_low", "pi_high", "estimate_exp",
    "ci_low_exp", "ci_high_exp",
]
_KEEP = [c for c in SENSITIVITY_COLUMNS if c not in ("analysis", "setting")]
HIGH_RISK = ("high", "serious", "critical")


def _scenario_rows(effects: pd.DataFrame, analysis: str, setting: str, method: str, test: str,
                   min_k: int, level: float) -> list[dict]:
    table = pooled_table(effects, method, test, min_k, level)
    rows = table[_KEEP].to_dict("records")
    for row in rows:
        row.update(analysis=analysis, setting=setting)
    return rows


# Two effects are the same when yi and vi agree to this relative difference: the processed
# tables keep 10 significant digits, so the main analysis read back from effects.csv and the
# same effects derived again differ at about 1e-11, while any real change is far larger.
SAME_EFFECT_RTOL = 1e-8


def _signature(effects: pd.DataFrame) -> dict:
    """Per outcome, the effects that enter it: (study, comparison) pairs and their yi, vi."""
    if effects.empty:
        return {}
    return {o: (tuple(map(tuple, p[["study_id", "comparison"]].astype(str).to_numpy().tolist())),
                p[["yi", "vi"]].to_numpy(float))
            for o, p in sort_studies(effects, ["study_id", "comparison"]).groupby("outcome")}


def _same_effects(a: dict, b: dict) -> bool:
    """Whether two `_signature`s hold the same studies with the same yi and vi (to
    SAME_EFFECT_RTOL), i.e. a scenario changes nothing."""
    return a.keys() == b.keys() and all(
        a[o][0] == b[o][0] and np.allclose(a[o][1], b[o][1], rtol=SAME_EFFECT_RTOL, atol=0)
        for o in a)


@dataclass(frozen=True)
class Sensitivity:
    """`table`: the pooled result of every outcome under each scenario that changes it
    (columns `SENSITIVITY_COLUMNS`); `unchanged`: the name of each scenario that changes no
    effect ("within-person correlation, r = 0.5"), so that no grid repeats the main result
    (`unchanged_sentence` says them in words)."""

    table: pd.DataFrame
    unchanged: list[str]


def sensitivity_analyses(effects: pd.DataFrame, *, rederive, method: str = "REML",
                         test: str = "knha", min_k: int = 2, level: float = 0.95,
                         rs: Sequence[float] = (0.2, 0.5, 0.8), risk_of_bias=None,
                         estimators: Sequence[str] = ESTIMATORS) -> Sensitivity:
    """Every sensitivity analysis of the pooled outcomes, kept only where it differs.

    Scenarios (each against the main analysis, `effects`): without effects whose SE came from a
    p value; without effects from a "p < x" bound (conservative); randomised studies only;
    without studies at high (serious, critical) overall risk of bias; the other reading of
    unlabelled "±" and each within-person correlation of `rs` (both re-derived by
    `rederive(dispersion=..., paired_r=...)`, which returns effects); then each tau²
    estimator × test. Only outcomes pooled (k ≥ `min_k`) in the main analysis are reported.
    """
    pooled = set(pooled_table(effects, method, test, min_k, level)
                 .query("status == 'pooled'")["outcome"])
    main = effects[effects["outcome"].isin(pooled)]
    base = _signature(main)
    high = set()
    if risk_of_bias is not None and len(risk_of_bias):
        overall = risk_of_bias[risk_of_bias["domain"] == "overall"]
        high = set(overall.loc[overall["judgement"].isin(HIGH_RISK), "study_id"])
    scenarios = [
        ("exclusion", "without SEs derived from p values", main[~main["p_derived"]]),
        ("exclusion", "without conservative 'p <' bounds", main[~main["p_bound"]]),
        ("exclusion", "randomised studies only", main[main["randomised"]]),
        ("exclusion", "without studies at high risk of bias",
         main[~main["study_id"].isin(high)]),
    ]
    other = rederive(dispersion="other")
    scenarios.append(("unlabelled ±", "the other reading (SE for SD, or SD for SE)",
                      other[other["outcome"].isin(pooled)]))
    for r in progress(rs, "sensitivity: effects for each paired_r"):
        again = rederive(paired_r=float(r))
        scenarios.append(("paired_r", f"r = {float(r):g}", again[again["outcome"].isin(pooled)]))
    rows, unchanged = [], []
    for analysis, setting, subset in scenarios:
        if _same_effects(_signature(subset), base):
            unchanged.append(f"{CODED_WORDS.get(analysis, analysis)}, {setting}")
            continue
        rows += _scenario_rows(subset, analysis, setting, method, test, min_k, level)
    for estimator in progress(estimators, "sensitivity: tau² estimators x tests"):
        for each_test in TESTS:
            if (estimator, each_test) == (method, test):
                continue
            rows += _scenario_rows(main, "estimator x test", f"{estimator} / {each_test}",
                                   estimator, each_test, min_k, level)
    table = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    return Sensitivity(sorted_frame(table, ["outcome", "analysis", "setting"]), unchanged)


def unchanged_sentence(unchanged: Sequence[str]) -> str:
    """One sentence for the scenarios that change no effect of the review (a review without
    within-person data, say, has nothing that the within-person correlation acts on); "" when
    every scenario changed something."""
    if not unchanged:
        return ""
    # the settings of one parameter are said once: "within-person correlation, r = 0.2, 0.5, 0.8"
    said: dict[str, list[str]] = {}
    for item in unchanged:
        label, _, setting = item.partition(", ")
        name, equals, value = setting.partition(" = ")
        key = f"{label}, {name} = " if equals else item
        said.setdefault(key, []).append(value if equals else "")
    parts = [key + ", ".join(values) if values[0] else key for key, values in said.items()]
    return ("Not shown, as they change no effect of this review and would repeat the main "
            "analysis: " + "; ".join(parts) + ".")


LEAVE_ONE_OUT_COLUMNS = [
    "outcome", "measure", "omitted", "k", "estimate", "ci_low", "ci_high", "pval", "tau2", "i2",
    "q", "estimate_exp", "ci_low_exp", "ci_high_exp",
]


# an outcome with more studies has the leave-one-out rows of its most influential studies only
MAX_LEAVE_ONE_OUT = MAX_STUDY_ROWS


def most_influential(yi: np.ndarray, vi: np.ndarray, method: str, limit: int) -> np.ndarray:
    """Positions of the `limit` studies whose omission moves the pooled estimate most with
    tau² held at its value from all studies, in input order.

    That shift has a closed form, Δ_i = w_i (y_i − μ̂) / (Σw − w_i) with w = 1/(v + τ̂²): the
    weighted mean without study i. It only chooses which studies are refitted; the refits
    themselves re-estimate tau², as metafor's leave1out does."""
    full = mr.pool(yi, vi, method=method)
    w = 1.0 / (vi + full.tau2)
    shift = np.abs(w * (yi - full.estimate) / (w.sum() - w))
    return np.sort(np.argsort(-shift, kind="stable")[:limit])


def leave_one_out_scope(effects: pd.DataFrame, limit: int = MAX_LEAVE_ONE_OUT) -> str:
    """The sentence a report gives when an outcome has more studies than `limit`, whose
    leave-one-out table then holds the `limit` most influential (`most_influential`); "" when
    every outcome has its full table."""
    large = [(outcome, len(part)) for outcome, _, part in outcome_groups(effects)
             if len(part) > limit]
    if not large:
        return ""
    counts = ", ".join(f"{k:,} studies of {outcome}" for outcome, k in large)
    return (f"With more than {limit} studies ({counts}), the table holds the {limit} studies "
            "whose omission moves the pooled estimate most with tau² held at its value from "
            "all studies (w_i (y_i − μ̂)/(Σw − w_i)); each of them is refitted with tau² "
            "estimated again.")


def leave_one_out_table(effects: pd.DataFrame, method: str = "REML", test: str = "knha",
                        level: float = 0.95, min_k: int = 3,
                        limit: int = MAX_LEAVE_ONE_OUT) -> pd.DataFrame:
    """Each outcome with k ≥ `min_k` re-pooled once without each study (metafor's leave1out).

    With k = 2 leaving one out leaves a single study, which says nothing new, hence min_k = 3.
    An outcome with more than `limit` studies is refitted without each of its `limit` most
    influential studies only (`most_influential`; a table of thousands of rows is not read,
    and each refit of thousands of studies costs milliseconds).
    """
    rows = []
    for outcome, measure, part in progress(list(outcome_groups(effects)), "leave-one-out"):
        if len(part) < min_k:
            continue
        yi, vi = part["yi"].to_numpy(float), part["vi"].to_numpy(float)
        chosen = (np.arange(len(part)) if len(part) <= limit
                  else most_influential(yi, vi, method, limit))
        every_label = study_labels(part)
        labels = [every_label[i] for i in chosen]
        table = mr.leave_one_out(yi, vi, method=method, test=test, level=level, omitted=chosen)
        for label, fit in zip(labels, table.to_dict("records")):
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
                     "statistic": rank.kendall_tau, "pval": rank.pval, "detail": "Kendall's tau"})
        tf = mr.trim_and_fill(yi, vi, method=method)
        rows.append(with_exp({**base, "test": "trim-and-fill", "status": "run",
                               "k_filled": tf.k0,
                               "detail": f"{tf.k0} missing on the {tf.side} side ({tf.estimator})",
                               "estimate_adjusted": tf.pooled.estimate,
                               "ci_low_adjusted": tf.pooled.ci_low,
                               "ci_high_adjusted": tf.pooled.ci_high}))
    return pd.DataFrame(rows, columns=SMALL_STUDY_COLUMNS)


# --- the main analysis and the analysis of all studies ------------------------------------------

MAIN = "main"
ALL_STUDIES = "all studies"


def forest_name(outcome: str, analysis: str = MAIN) -> str:
    """The file name (without extension) of an outcome's forest plot in one analysis."""
    return f"forest_{outcome}" + ("" if analysis == MAIN else ALL_STUDIES_SUFFIX)


def main_effects(effects: pd.DataFrame) -> pd.DataFrame:
    """The effects of the review's main analysis (review.yaml `main_analysis`)."""
    return effects[effects["main_analysis"]] if len(effects) else effects


@dataclass(frozen=True)
class Analyses:
    """Pooled outcomes of the main analysis and, where it leaves effects out, of all studies.

    `table` is `POOLED_COLUMNS` with a first column `analysis` ("main" or "all studies");
    `fits` are the models behind it, each named for its figure files.
    """

    table: pd.DataFrame
    fits: list[tuple[str, OutcomeFit]]

    def plotted(self) -> list["NamedFit"]:
        """The fits worth a forest plot: every outcome with at least one effect."""
        return [NamedFit(forest_name(fit.outcome, analysis).removeprefix("forest_"), analysis,
                         fit) for analysis, fit in self.fits]


@dataclass(frozen=True)
class NamedFit:
    name: str
    analysis: str
    fit: OutcomeFit

    def __getattr__(self, item):
        return getattr(self.fit, item)


def analyses(effects: pd.DataFrame, definitions=None, *, method: str = "REML",
             test: str = "knha", min_k: int = 2, level: float = 0.95) -> Analyses:
    """`pool_outcomes` on the main analysis (`effects.main_analysis`) and, for outcomes where
    the main analysis leaves effects out, on all studies (the review's `main_analysis` in
    review.yaml says which studies the main analysis keeps)."""
    main_effects = effects[effects["main_analysis"]] if len(effects) else effects
    main = pool_outcomes(main_effects, method=method, test=test, min_k=min_k, level=level)
    tables = [main.table.assign(analysis=MAIN)]
    fits = [(MAIN, fit) for fit in main.fits]
    left_out = effects[~effects["main_analysis"]] if len(effects) else effects
    if len(left_out):
        wider = effects[effects["outcome"].isin(set(left_out["outcome"]))]
        everything = pool_outcomes(wider, method=method, test=test, min_k=min_k, level=level)
        tables.append(everything.table.assign(analysis=ALL_STUDIES))
        fits += [(ALL_STUDIES, fit) for fit in everything.fits]
    table = pd.concat(tables, ignore_index=True)
    table = table[["analysis", *POOLED_COLUMNS]]
    return Analyses(sorted_frame(table, ["outcome", "measure", "analysis"]), fits)
