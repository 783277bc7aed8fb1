"""Pooled single-group proportions by outcome and subgroup (e.g. disease), as tidy tables.

The main model is the random-effects logistic model (`mr.pool_glmm`, metafor's rma.glmm with
measure "PLO"): it uses 0/n and n/n studies as they are. Inverse-variance pooling of logit
(PLO) and Freeman-Tukey (PFT) transformed proportions, with metafor's continuity rules, is kept
as a sensitivity analysis (Schwarzer et al. 2019, doi 10.1002/jrsm.1348, on why it is not the
main one). Differences between subgroups are tested on the logit scale with separate tau² per
subgroup (Q-between of `mr.subgroup`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

import metareview as mr
from metareview.report.subgroups import left_out_text
from metareview.review import ordering
from metareview.review.ordering import sort_studies
from metareview.stats.escalc import back_transform

POOLED_PROPORTION_COLUMNS = [
    "outcome", "group", "model", "k", "events", "participants", "proportion", "ci_low",
    "ci_high", "pi_low", "pi_high", "tau2", "i2", "status", "studies",
]


@dataclass(frozen=True)
class ProportionFit:
    """One outcome in one group: its study rows and the GLMM (None when k < 1)."""

    outcome: str
    group: str
    rows: pd.DataFrame
    result: Any


@dataclass(frozen=True)
class PooledProportions:
    """`table` (columns `POOLED_PROPORTION_COLUMNS`), `fits` for the forest plots, and the
    `between` table of tests of subgroup differences."""

    table: pd.DataFrame
    fits: list[ProportionFit]
    between: pd.DataFrame


def _glmm_row(outcome, group, part, level, nagq) -> tuple[dict, Any]:
    base = {"outcome": outcome, "group": group, "k": len(part),
            "events": int(part["events"].sum()), "participants": int(part["total"].sum()),
            "studies": "; ".join(part["study_id"])}
    events, total = base["events"], base["participants"]
    if len(part) == 1 or events in (0, total):
        # one study, or no study with an event (or none without): no model has a finite
        # estimate to offer, so the summed counts are shown with their exact interval
        low, high = stats.binomtest(events, total).proportion_ci(level, method="exact")
        why = ("single study" if len(part) == 1 else
               f"no events in any study" if events == 0 else "every participant had the event")
        return {**base, "model": f"GLMM (nAGQ = {nagq})", "proportion": events / total,
                "ci_low": low, "ci_high": high, "status": f"{why}: {events}/{total} with its "
                "exact (Clopper-Pearson) interval, not a pooled model"}, None
    try:
        fit = mr.pool_glmm(part["events"].to_numpy(float), part["total"].to_numpy(float),
                           nagq=nagq, level=level)
    except ValueError as error:
        return {**base, "model": f"GLMM (nAGQ = {nagq})", "status": f"not pooled: {error}"}, None
    status = "pooled"
    if fit.note:
        status += f" ({fit.note})"
    return {**base, "model": f"GLMM (nAGQ = {nagq})", "proportion": fit.pred,
            "ci_low": fit.pred_ci_low, "ci_high": fit.pred_ci_high, "pi_low": fit.pi_low,
            "pi_high": fit.pi_high, "tau2": fit.tau2, "i2": fit.i2, "status": status}, fit


def _inverse_variance_rows(outcome, group, part, level, method) -> list[dict]:
    rows = []
    base = {"outcome": outcome, "group": group, "k": len(part),
            "events": int(part["events"].sum()), "participants": int(part["total"].sum()),
            "studies": "; ".join(part["study_id"])}
    for measure in ("PLO", "PFT"):
        es = mr.effect_sizes(measure, xi=part["events"].to_numpy(float),
                             ni=part["total"].to_numpy(float))
        try:
            r = mr.pool(es["yi"], es["vi"], method=method, test="z", level=level)
        except ValueError as error:
            rows.append({**base, "model": f"inverse variance, {measure}",
                         "status": f"not pooled: {error}"})
            continue
        ni = part["total"].to_numpy(float)
        back = {name: float(back_transform(value, measure, ni))
                for name, value in (("proportion", r.estimate), ("ci_low", r.ci_low),
                                    ("ci_high", r.ci_high), ("pi_low", r.pi_low),
                                    ("pi_high", r.pi_high))}
        rows.append({**base, "model": f"inverse variance, {measure}", **back, "tau2": r.tau2,
                     "i2": r.i2, "status": "pooled (sensitivity)"})
    return rows


def pool_proportions(rows: pd.DataFrame, *, group_by: str = "condition", level: float = 0.95,
                     nagq: int = 7, method: str = "REML", sensitivity: bool = True,
                     definitions=None) -> PooledProportions:
    """Pool every outcome of `rows` (from `derive_proportions`) within each value of `group_by`.

    Per outcome and group (in the order review.yaml lists the levels, `definitions`): the GLMM
    with `nagq` quadrature points, and (with `sensitivity`) inverse-variance PLO and PFT with
    the `method` tau² estimator. Per outcome with two or more groups of k ≥ 2: the test of
    subgroup differences on the logit scale. Studies whose cell of `group_by` is empty are
    pooled as the group "not reported", which the test leaves out (its `method` says how many
    studies were left out).
    """
    table, fits, between = [], [], []
    for outcome in sorted(rows["outcome"].unique()) if len(rows) else []:
        part_outcome = rows[rows["outcome"] == outcome]
        groups = pd.Series([ordering.NOT_REPORTED if ordering.is_missing(value)
                            else ordering.level_text(value)
                            for value in part_outcome[group_by]], index=part_outcome.index,
                           dtype=object)
        levels = ordering.ordered_levels(groups[groups != ordering.NOT_REPORTED], definitions,
                                         group_by)
        unreported = groups == ordering.NOT_REPORTED
        for group in levels + ([ordering.NOT_REPORTED] if unreported.any() else []):
            part = sort_studies(part_outcome[groups == group], ["study_id"])
            row, fit = _glmm_row(outcome, group, part, level, nagq)
            table.append(row)
            fits.append(ProportionFit(outcome, group, part, fit))
            if sensitivity and len(part) > 1:
                table += _inverse_variance_rows(outcome, group, part, level, method)
        sizes = groups[~unreported].value_counts()
        testable = [group for group in levels if sizes.get(group, 0) >= 2]
        if len(testable) >= 2:
            kept = part_outcome[groups.isin(testable)]
            es = mr.effect_sizes("PLO", xi=kept["events"].to_numpy(float),
                                 ni=kept["total"].to_numpy(float))
            test = mr.subgroup(es["yi"], es["vi"],
                               pd.Series(pd.Categorical(groups[kept.index], testable)),
                               method=method, tau2="separate")
            how = ("Q-between on the logit scale, separate tau² per "
                   f"{group_by.replace('_', ' ')}")
            n_left_out = part_outcome.loc[unreported, "study_id"].nunique()
            if n_left_out:
                how += f"; {left_out_text(n_left_out, group_by)}"
            between.append({"outcome": outcome, "groups": ", ".join(testable),
                            "k": len(kept), "q_between": test.q_between, "df": test.df,
                            "pval": test.pval, "method": how})
    frame = pd.DataFrame(table, columns=POOLED_PROPORTION_COLUMNS)
    return PooledProportions(frame, fits, pd.DataFrame(between, columns=[
        "outcome", "groups", "k", "q_between", "df", "pval", "method"]))


def pool_by_subgroups(rows: pd.DataFrame, columns: list[str], *, level: float = 0.95,
                      nagq: int = 7, method: str = "REML",
                      definitions=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`pool_proportions` (GLMM only) within the values of each of `columns` in turn.

    Returns (pooled rows, tests of subgroup differences), each with a `subgroup` column naming
    the column the row belongs to; empty frames when `columns` is empty.
    """
    tables, tests = [], []
    for column in columns:
        by = pool_proportions(rows, group_by=column, level=level, nagq=nagq, method=method,
                              sensitivity=False, definitions=definitions)
        tables.append(by.table.assign(subgroup=column))
        tests.append(by.between.assign(subgroup=column))
    if not tables:
        return pd.DataFrame(), pd.DataFrame()
    return pd.concat(tables, ignore_index=True), pd.concat(tests, ignore_index=True)


def is_pooled(status: str) -> bool:
    """True for a pooled model's status, with or without a note ("pooled (tau² is estimated
    at its lower bound 0)"); False for a single study or a table of zero events."""
    text = str(status)
    return text == "pooled" or text.startswith("pooled (")


def percent(value: float, digits: int = 1) -> str:
    """A proportion as a percentage for readers ("41.7%"); empty when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{100 * value:.{digits}f}%"


def present(table: pd.DataFrame) -> pd.DataFrame:
    """The GLMM rows for readers: k, participants, the pooled percentage with CI and PI."""
    glmm = table[table["model"].str.startswith("GLMM")]
    return pd.DataFrame({
        "outcome": glmm["outcome"], "group": glmm["group"].str.replace("_", " "),
        "studies": glmm["k"], "people": glmm["participants"], "events": glmm["events"],
        "% (95% CI)": [f"{percent(p)} ({percent(lo)} to {percent(hi)})"
                       if np.isfinite(p) else "" for p, lo, hi in
                              zip(glmm["proportion"], glmm["ci_low"], glmm["ci_high"])],
        "prediction interval": [f"{percent(lo)} to {percent(hi)}" if np.isfinite(lo) else ""
                                for lo, hi in zip(glmm["pi_low"], glmm["pi_high"])],
        "status": glmm["status"],
    }).reset_index(drop=True)
