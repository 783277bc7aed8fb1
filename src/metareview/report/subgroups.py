"""Subgroup analyses and meta-regression per outcome, as tidy tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

import metareview as mr
from metareview.report.frames import outcome_groups, with_exp
from metareview.report.pooled import result_row, single_study_row
from metareview.report.progress import progress
from metareview.report.text import md, plural
from metareview.review import ordering

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
    levels: tuple[str, ...] = ()
    n_not_reported: int = 0


@dataclass(frozen=True)
class SubgroupAnalyses:
    """`table` (columns `SUBGROUP_COLUMNS`) and the `fits` behind its tested rows."""

    table: pd.DataFrame
    fits: list[SubgroupFit]


def subgroup_table(effects: pd.DataFrame, moderators: Sequence[str] = SUBGROUP_MODERATORS,
                   method: str = "REML", test: str = "knha", level: float = 0.95,
                   n_perm: int = 5000, seed: int = 20260101,
                   permutation_below_k: int = 30, definitions=None) -> pd.DataFrame:
    """The table of `subgroup_analyses` alone."""
    return subgroup_analyses(effects, moderators=moderators, method=method, test=test,
                             level=level, n_perm=n_perm, seed=seed,
                             permutation_below_k=permutation_below_k,
                             definitions=definitions).table


def left_out_text(n_studies: int, column: str) -> str:
    """"2 studies that do not report alloc left out" (the note of a test or a fit)."""
    return (f"{plural(n_studies, 'study')} that {'does' if n_studies == 1 else 'do'} not "
            f"report {column} left out")


def is_tested(status: pd.Series) -> pd.Series:
    """Rows of a subgroups table whose test was done ("tested", or "tested; <note>")."""
    return status.astype(str).str.match(r"tested(;|$)")


def is_fitted(status: pd.Series) -> pd.Series:
    """Rows of a meta-regression table that were fitted ("fitted", or "fitted; <note>")."""
    return status.astype(str).str.match(r"fitted(;|$)")


def _with_note(status: str, note: str) -> str:
    return f"{status}; {note}" if note else status


def _group_row(base: dict, level: str, sub: pd.DataFrame, status: str, method: str, test: str,
               level_ci: float) -> tuple[dict, Any]:
    """A subgroup's row (its own tau²) and its model (None for a single study)."""
    row = {**base, "row": "group", "level": level, "k": len(sub), "tau2_mode": "separate",
           "status": status}
    if len(sub) == 1:
        row.update(single_study_row(sub, level_ci))
        return with_exp(row), None
    fit = mr.pool(sub["yi"].to_numpy(float), sub["vi"].to_numpy(float), method=method,
                  test=test, level=level_ci)
    shown = result_row(fit)
    row.update({key: shown[key] for key in ("estimate", "se", "ci_low", "ci_high", "pval",
                                           "tau2", "i2")})
    return with_exp(row), fit


def subgroup_analyses(effects: pd.DataFrame, *, moderators: Sequence[str] = SUBGROUP_MODERATORS,
                      method: str = "REML", test: str = "knha", level: float = 0.95,
                      n_perm: int = 5000, seed: int = 20260101,
                      permutation_below_k: int = 30, definitions=None) -> SubgroupAnalyses:
    """Subgroup analyses per outcome and moderator.

    Rows with row = "group": each subgroup pooled on its own (its own tau²), in the order
    review.yaml lists the levels (`definitions`; `ordering.ordered_levels`). Rows with
    row = "between": the test of subgroup differences with a common tau² (meta-regression on
    the subgroup dummies, QM) and with separate tau² (Q-between of the subgroup estimates), and,
    when k < `permutation_below_k`, the permutation p of QM (Higgins & Thompson 2004), because
    the asymptotic test is unreliable with few studies. A moderator with one level, or an
    outcome with fewer than 3 studies, gets one row saying why nothing was tested.

    A study whose cell of the subgroup column is empty does not report it: its effects form a
    last group, level "not reported" (pooled on its own for display), and are left out of the
    tests, whose k counts the studies tested and whose status says how many were left out
    ("tested; 2 studies that do not report alloc left out"), as metafor leaves out rows with a
    missing moderator.
    """
    rows, fits = [], []
    groups_of = list(outcome_groups(effects))
    for outcome, measure, part in progress(groups_of, "subgroup tests (outcomes)"):
        for moderator in moderators:
            base = {"outcome": outcome, "measure": measure, "moderator": moderator}
            if moderator not in part.columns:
                rows.append({**base, "row": "between", "k": len(part),
                             "status": f"not tested: {moderator} is not a study column"})
                continue
            missing = part[moderator].map(ordering.is_missing).to_numpy(bool)
            unreported, part_reported = part[missing], part[~missing]
            values = part_reported[moderator].map(ordering.level_text).to_numpy(object)
            levels = ordering.ordered_levels(values, definitions, moderator)
            n_left_out = unreported["study_id"].nunique()
            note = left_out_text(n_left_out, moderator) if n_left_out else ""
            k = len(part_reported)
            if k < 3 or len(levels) < 2:
                why = (f"k = {k}: too few studies to compare subgroups" if k < 3
                       else f"one level only ({levels[0]})")
                rows.append({**base, "row": "between", "k": k,
                             "status": _with_note(f"not tested: {why}", note)})
                continue
            yi = part_reported["yi"].to_numpy(float)
            vi = part_reported["vi"].to_numpy(float)
            group_fits = {}
            for group in levels:
                row, group_fits[group] = _group_row(
                    base, group, part_reported[values == group],
                    "pooled", method, test, level)
                if group_fits[group] is None:
                    row["status"] = "single study (not pooled)"
                rows.append(row)
            if len(unreported):
                row, group_fits[ordering.NOT_REPORTED] = _group_row(
                    base, ordering.NOT_REPORTED, unreported,
                                    "not reported: left out of the tests", method, test,
                                    level)
                rows.append(row)
            # the levels in review.yaml order: the first is the reference of the dummies
            groups = pd.Categorical(values, categories=levels)
            p_perm = math.nan
            if k < permutation_below_k:
                try:
                    perm = mr.permutation_test(yi, vi, pd.DataFrame({moderator: groups}),
                                               n_perm=n_perm, seed=seed, method=method, test=test)
                    p_perm = float(perm.pval)
                except ValueError:
                    p_perm = math.nan
            tests = {}
            for mode in ("common", "separate"):
                row = {**base, "row": "between", "level": f"Q-between ({mode} tau²)", "k": k,
                       "tau2_mode": mode}
                try:
                    tests[mode] = mr.subgroup(yi, vi, pd.Series(groups), method=method,
                                              tau2=mode, test=test, level=level)
                    t = tests[mode]
                    # under Hartung-Knapp the common-tau² test is F(df, df2); otherwise chi² (Q)
                    row.update(statistic="F" if np.isfinite(t.df2) else "Q",
                               q_between=t.q_between, df=t.df, df2=t.df2,
                               q_between_pval=t.pval,
                               tau2=t.tau2, status=_with_note("tested", note),
                               p_permutation=p_perm if mode == "common" else math.nan)
                except ValueError as error:
                    row["status"] = _with_note(f"not tested: {error}", note)
                rows.append(row)
            if len(tests) == 2:
                # the overall diamond of the figure pools every study, reported or not
                overall = mr.pool(part["yi"].to_numpy(float), part["vi"].to_numpy(float),
                                  method=method, test=test, level=level)
                shown = part.assign(**{moderator: [
                    ordering.NOT_REPORTED if gone else ordering.level_text(value)
                    for gone, value in zip(missing, part[moderator])]})
                fits.append(SubgroupFit(outcome, measure, moderator, shown, group_fits, overall,
                                        tests["common"], tests["separate"], p_perm,
                                        levels=tuple(levels), n_not_reported=len(unreported)))
    return SubgroupAnalyses(pd.DataFrame(rows, columns=SUBGROUP_COLUMNS), fits)


META_REGRESSION_COLUMNS = [
    "outcome", "measure", "moderator", "k", "term", "estimate", "se", "ci_low", "ci_high",
    "pval", "qm", "qm_df", "qm_pval", "p_permutation", "tau2", "r2", "status",
]


@dataclass(frozen=True)
class RegressionFit:
    """One outcome regressed on one moderator: the effects fitted (those with a value of the
    moderator; a continuous one as numbers, a categorical one as its level text) and the
    fitted model."""

    outcome: str
    measure: str
    moderator: str
    effects: pd.DataFrame
    result: Any
    kind: str = "continuous"
    n_left_out: int = 0


@dataclass(frozen=True)
class MetaRegressions:
    """`table` (columns `META_REGRESSION_COLUMNS`), the `fits` of continuous moderators for the
    bubble plots, and the `factor_fits` of categorical moderators."""

    table: pd.DataFrame
    fits: list[RegressionFit]
    factor_fits: list[RegressionFit] = field(default_factory=list)


def meta_regression_table(effects: pd.DataFrame, moderator: str = "timepoint_weeks",
                          method: str = "REML", test: str = "knha", level: float = 0.95,
                          min_k: int = MIN_K_META_REGRESSION, n_perm: int = 5000,
                          seed: int = 20260101, kind: str = "continuous",
                          definitions=None) -> pd.DataFrame:
    """The table of `meta_regressions` for one moderator."""
    return _regress(effects, moderator, method, test, level, min_k, n_perm, seed, kind,
                    definitions)[0]


def meta_regressions(effects: pd.DataFrame, moderators, *, method: str = "REML",
                     test: str = "knha", level: float = 0.95,
                     min_k: int = MIN_K_META_REGRESSION, n_perm: int = 5000,
                     seed: int = 20260101, definitions=None) -> MetaRegressions:
    """Meta-regression of each outcome on each moderator of review.yaml, one at a time.

    A continuous moderator enters as it is; a categorical one as a factor: dummy variables
    for its levels but the first, which is the reference, in the order review.yaml lists the
    levels (`definitions`; `ordering.ordered_levels`), as metafor's `factor(x, levels=...)`
    does, so QM tests all its levels together. Effects whose study has no value of the
    moderator are left out and the model is fitted on the rest, as metafor does with rows
    whose moderator is NA; k is the number fitted and the status says how many were left out
    ("fitted; 2 studies that do not report ablat left out").

    Fitted only where that k ≥ `min_k` (about ten studies per moderator, Cochrane Handbook
    10.11.5.1) and the moderator takes at least two values; otherwise one row with the reason.
    The permutation p of QM is added, since k is small in any case.
    """
    tables, fits, factor_fits = [], [], []
    for moderator in moderators:
        table, found = _regress(effects, moderator.column, method, test, level, min_k, n_perm,
                                seed, moderator.kind, definitions)
        tables.append(table)
        (fits if moderator.kind == "continuous" else factor_fits).extend(found)
    table = (pd.concat(tables, ignore_index=True) if tables
             else pd.DataFrame(columns=META_REGRESSION_COLUMNS))
    return MetaRegressions(table, fits, factor_fits)


def meta_regression_sentence(table: pd.DataFrame, words=None) -> str:
    """Why no meta-regression was fitted, in one sentence (identifiers in `words`, a
    `report.words.Words`, when given)."""
    if table.empty:
        return "The review defines no moderator for meta-regression."
    reasons = sorted(set(table["status"].str.replace("not fitted: ", "", regex=False)))
    if words is not None:
        reasons = [words.text(r) for r in reasons]
    return "No meta-regression could be fitted: " + "; ".join(md(r) for r in reasons) + "."


def _moderator_values(part: pd.DataFrame, moderator: str, kind: str, definitions):
    """(values of the rows that have one, mask of those rows); a categorical moderator as a
    Categorical whose categories are its levels in review.yaml order."""
    if kind == "continuous":
        x = pd.to_numeric(part[moderator], errors="coerce")
        present = x.notna().to_numpy(bool)
        return x[present].to_numpy(float), present
    present = ~part[moderator].map(ordering.is_missing).to_numpy(bool)
    text = part[moderator][present].map(ordering.level_text).to_numpy(object)
    levels = ordering.ordered_levels(text, definitions, moderator)
    return pd.Categorical(text, categories=levels), present


def _regress(effects, moderator, method, test, level, min_k, n_perm, seed,
             kind="continuous", definitions=None):
    rows, fits = [], []
    groups_of = list(outcome_groups(effects))
    for outcome, measure, part in progress(groups_of, f"meta-regression on {moderator}"):
        base = {"outcome": outcome, "measure": measure, "moderator": moderator, "k": len(part)}
        if moderator not in part.columns:
            rows.append({**base, "status": f"not fitted: {moderator} is not a study column"})
            continue
        x, present = _moderator_values(part, moderator, kind, definitions)
        fitted = part[present]
        n_left_out = part[~present]["study_id"].nunique()
        note = left_out_text(n_left_out, moderator) if n_left_out else ""
        k = len(fitted)
        base["k"] = k
        distinct = len(pd.unique(np.asarray(x, dtype=object)))
        if k < min_k or distinct < 2:
            if k < min_k:
                why = f"k = {k} < {min_k} (about ten studies per moderator)"
            else:
                why = f"{moderator} takes one value only"
            rows.append({**base, "status": _with_note(f"not fitted: {why}", note)})
            continue
        yi, vi = fitted["yi"].to_numpy(float), fitted["vi"].to_numpy(float)
        mods = pd.DataFrame({moderator: x})
        try:
            m = mr.meta_regression(yi, vi, mods, method=method, test=test, level=level)
        except ValueError as error:
            rows.append({**base, "status": _with_note(f"not fitted: {error}", note)})
            continue
        perm = mr.permutation_test(yi, vi, mods, n_perm=n_perm, seed=seed, method=method,
                                   test=test)
        shown = fitted.assign(**{moderator: np.asarray(x, dtype=float if kind == "continuous"
                                                       else object)})
        fits.append(RegressionFit(outcome, measure, moderator, shown, m, kind, n_left_out))
        for term in m.terms:
            rows.append({**base, "term": term, "estimate": m.estimate[term], "se": m.se[term],
                         "ci_low": m.ci_low[term], "ci_high": m.ci_high[term],
                         "pval": m.pval[term], "qm": m.qm, "qm_df": m.qm_df,
                         "qm_pval": m.qm_pval, "p_permutation": perm.pval, "tau2": m.tau2,
                         "r2": m.r2, "status": _with_note("fitted", note)})
    return pd.DataFrame(rows, columns=META_REGRESSION_COLUMNS), fits
