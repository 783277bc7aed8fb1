"""Subgroup analyses and meta-regression per outcome, as tidy tables."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

import metareview as mr
from metareview.report.frames import outcome_groups, with_exp
from metareview.report.pooled import result_row, single_study_row
from metareview.report.text import md

SUBGROUP_MODERATORS = ("intervention_class", "design", "co_intervention")
# About ten studies per moderator before a meta-regression (Cochrane Handbook 10.11.5.1).
MIN_K_META_REGRESSION = 10

SUBGROUP_COLUMNS = [
    "outcome", "measure", "moderator", "row", "level", "k", "estimate", "se", "ci_low",
    "ci_high", "pval", "tau2", "i2", "tau2_mode", "statistic", "q_between", "df", "df2",
    "q_between_pval", "p_permutation", "status", "estimate_exp", "ci_low_exp", "ci_high_exp",
]


@dataclass(frozen=True)
class SubgroupFit:
    """One outcome split by one moderator: its effects, each subgroup's model (None for a
    single-study subgroup), the overall model and the two tests of subgroup differences."""

    outcome: str
    measure: str
    moderator: str
    effects: pd.DataFrame
    groups: dict[str, Any]
    overall: Any
    common: Any
    separate: Any
    p_permutation: float


@dataclass(frozen=True)
class SubgroupAnalyses:
    """`table` (columns `SUBGROUP_COLUMNS`) and the `fits` behind its tested rows."""

    table: pd.DataFrame
    fits: list[SubgroupFit]


def subgroup_table(effects: pd.DataFrame, moderators: Sequence[str] = SUBGROUP_MODERATORS,
                   method: str = "REML", test: str = "knha", alpha: float = 0.05,
                   n_perm: int = 5000, seed: int = 20260101,
                   permutation_below_k: int = 30) -> pd.DataFrame:
    """The table of `subgroup_analyses` alone."""
    return subgroup_analyses(effects, moderators=moderators, method=method, test=test,
                             alpha=alpha, n_perm=n_perm, seed=seed,
                             permutation_below_k=permutation_below_k).table


def subgroup_analyses(effects: pd.DataFrame, *, moderators: Sequence[str] = SUBGROUP_MODERATORS,
                      method: str = "REML", test: str = "knha", alpha: float = 0.05,
                      n_perm: int = 5000, seed: int = 20260101,
                      permutation_below_k: int = 30) -> SubgroupAnalyses:
    """Subgroup analyses per outcome and moderator.

    Rows with row = "group": each subgroup pooled on its own (its own tau²). Rows with
    row = "between": the test of subgroup differences with a common tau² (meta-regression on
    the subgroup dummies, QM) and with separate tau² (Q-between of the subgroup estimates), and,
    when k < `permutation_below_k`, the permutation p of QM (Higgins & Thompson 2004), because
    the asymptotic test is unreliable with few studies. A moderator with one level, or an
    outcome with fewer than 3 studies, gets one row saying why nothing was tested.
    """
    level_ci = 1 - alpha
    rows, fits = [], []
    for outcome, measure, part in outcome_groups(effects):
        for moderator in moderators:
            base = {"outcome": outcome, "measure": measure, "moderator": moderator}
            values = part[moderator].astype(str).to_numpy()
            levels = sorted(set(values))
            k = len(part)
            if k < 3 or len(levels) < 2:
                why = (f"k = {k}: too few studies to compare subgroups" if k < 3
                       else f"one level only ({levels[0]})")
                rows.append({**base, "row": "between", "k": k, "status": f"not tested: {why}"})
                continue
            yi, vi = part["yi"].to_numpy(float), part["vi"].to_numpy(float)
            group_fits = {}
            for level in levels:
                sub = part[values == level]
                row = {**base, "row": "group", "level": level, "k": len(sub),
                       "tau2_mode": "separate", "status": "pooled"}
                group_fits[level] = None
                if len(sub) == 1:
                    row.update(single_study_row(sub, level_ci))
                    row["status"] = "single study (not pooled)"
                else:
                    group_fits[level] = mr.pool(sub["yi"].to_numpy(float),
                                                sub["vi"].to_numpy(float), method=method,
                                                test=test, level=level_ci)
                    fit = result_row(group_fits[level])
                    row.update({key: fit[key] for key in ("estimate", "se", "ci_low", "ci_high",
                                                         "pval", "tau2", "i2")})
                rows.append(with_exp(row))
            p_perm = math.nan
            if k < permutation_below_k:
                try:
                    perm = mr.permutation_test(yi, vi, pd.DataFrame({moderator: values}),
                                               n_perm=n_perm, seed=seed, method=method, test=test)
                    p_perm = float(perm.pval)
                except ValueError:
                    p_perm = math.nan
            tests = {}
            for mode in ("common", "separate"):
                row = {**base, "row": "between", "level": f"Q-between ({mode} tau²)", "k": k,
                       "tau2_mode": mode}
                try:
                    tests[mode] = mr.subgroup(yi, vi, values, method=method, tau2=mode,
                                              test=test, level=level_ci)
                    t = tests[mode]
                    # under Hartung-Knapp the common-tau² test is F(df, df2); otherwise chi² (Q)
                    row.update(statistic="F" if np.isfinite(t.df2) else "Q",
                               q_between=t.q_between, df=t.df, df2=t.df2,
                               q_between_pval=t.pval,
                               tau2=t.tau2, status="tested",
                               p_permutation=p_perm if mode == "common" else math.nan)
                except ValueError as error:
                    row["status"] = f"not tested: {error}"
                rows.append(row)
            if len(tests) == 2:
                overall = mr.pool(yi, vi, method=method, test=test, level=level_ci)
                fits.append(SubgroupFit(outcome, measure, moderator, part, group_fits, overall,
                                        tests["common"], tests["separate"], p_perm))
    return SubgroupAnalyses(pd.DataFrame(rows, columns=SUBGROUP_COLUMNS), fits)


META_REGRESSION_COLUMNS = [
    "outcome", "measure", "moderator", "k", "term", "estimate", "se", "ci_low", "ci_high",
    "pval", "qm", "qm_df", "qm_pval", "p_permutation", "tau2", "r2", "status",
]


@dataclass(frozen=True)
class RegressionFit:
    """One outcome regressed on one continuous moderator: its effects and the fitted model."""

    outcome: str
    measure: str
    moderator: str
    effects: pd.DataFrame
    result: Any


@dataclass(frozen=True)
class MetaRegressions:
    """`table` (columns `META_REGRESSION_COLUMNS`) and the `fits` for the bubble plots."""

    table: pd.DataFrame
    fits: list[RegressionFit]


def meta_regression_table(effects: pd.DataFrame, moderator: str = "timepoint_weeks",
                          method: str = "REML", test: str = "knha", alpha: float = 0.05,
                          min_k: int = MIN_K_META_REGRESSION, n_perm: int = 5000,
                          seed: int = 20260101) -> pd.DataFrame:
    """The table of `meta_regressions` for one continuous moderator."""
    return _regress(effects, moderator, method, test, alpha, min_k, n_perm, seed)[0]


def meta_regressions(effects: pd.DataFrame, moderators, *, method: str = "REML",
                     test: str = "knha", alpha: float = 0.05,
                     min_k: int = MIN_K_META_REGRESSION, n_perm: int = 5000,
                     seed: int = 20260101) -> MetaRegressions:
    """Meta-regression of each outcome on each continuous moderator of review.yaml.

    Fitted only where k ≥ `min_k` (about ten studies per moderator, Cochrane Handbook
    10.11.5.1) and the moderator takes at least two values; otherwise one row with the reason.
    The permutation p of QM is added, since k is small in any case. Categorical moderators are
    analysed as subgroups (`subgroup_analyses`, whose common-tau² test is the meta-regression
    QM on the subgroup).
    """
    tables, fits = [], []
    for moderator in moderators:
        if moderator.kind != "continuous":
            continue
        table, found = _regress(effects, moderator.column, method, test, alpha, min_k, n_perm,
                                seed)
        tables.append(table)
        fits += found
    table = (pd.concat(tables, ignore_index=True) if tables
             else pd.DataFrame(columns=META_REGRESSION_COLUMNS))
    return MetaRegressions(table, fits)


def meta_regression_sentence(table: pd.DataFrame) -> str:
    """Why no meta-regression was fitted, in one sentence."""
    if table.empty:
        return "The review defines no continuous moderator for meta-regression."
    reasons = sorted(set(table["status"].str.replace("not fitted: ", "", regex=False)))
    return "No meta-regression could be fitted: " + "; ".join(md(r) for r in reasons) + "."


def _regress(effects, moderator, method, test, alpha, min_k, n_perm, seed):
    rows, fits = [], []
    for outcome, measure, part in outcome_groups(effects):
        k = len(part)
        base = {"outcome": outcome, "measure": measure, "moderator": moderator, "k": k}
        if moderator not in part.columns:
            rows.append({**base, "status": f"not fitted: {moderator} is not a study column"})
            continue
        x = pd.to_numeric(part[moderator], errors="coerce")
        distinct = x.dropna().nunique()
        if k < min_k or distinct < 2 or x.isna().any():
            if k < min_k:
                why = f"k = {k} < {min_k} (about ten studies per moderator)"
            elif x.isna().any():
                why = f"{int(x.isna().sum())} effect(s) lack {moderator}"
            else:
                why = f"{moderator} takes one value only"
            rows.append({**base, "status": f"not fitted: {why}"})
            continue
        yi, vi = part["yi"].to_numpy(float), part["vi"].to_numpy(float)
        mods = pd.DataFrame({moderator: x.to_numpy(float)})
        m = mr.meta_regression(yi, vi, mods, method=method, test=test, level=1 - alpha)
        perm = mr.permutation_test(yi, vi, mods, n_perm=n_perm, seed=seed, method=method,
                                   test=test)
        fits.append(RegressionFit(outcome, measure, moderator, part.assign(**{moderator: x}), m))
        for term in m.terms:
            rows.append({**base, "term": term, "estimate": m.estimate[term], "se": m.se[term],
                         "ci_low": m.ci_low[term], "ci_high": m.ci_high[term],
                         "pval": m.pval[term], "qm": m.qm, "qm_df": m.qm_df,
                         "qm_pval": m.qm_pval, "p_permutation": perm.pval, "tau2": m.tau2,
                         "r2": m.r2, "status": "fitted"})
    return pd.DataFrame(rows, columns=META_REGRESSION_COLUMNS), fits
