"""The figures of a review, from its fitted models and its own definitions (labels, favours).

The drawing lives in `metareview.report.figures`; this module only decides what each figure of
a review shows: the outcome's label and direction from outcomes.csv, the "favours" labels from
review.yaml, the interval a single study's source printed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metareview.report import figures
from metareview.report.frames import study_intervals


def _outcome_info(review, outcome: str) -> tuple[str, str]:
    table = review.outcomes.set_index("outcome")
    if outcome in table.index:
        return str(table.loc[outcome, "label"]), str(table.loc[outcome, "direction"])
    return outcome, "lower_is_better"


def favours(definitions, measure: str, direction: str) -> tuple[str, str]:
    """The review's own "favours" labels, on the sides its effects put them."""
    return figures.favours_labels(measure, direction, treatment=definitions.favours_treatment,
                                  control=definitions.favours_control)


def _single_intervals(effects: pd.DataFrame, level: float) -> list:
    """Per row the t interval of an effect whose SE came from a t-based interval or test its
    source printed (so the plot shows the interval the tables show), else None (the Wald
    interval the plot draws itself); the rule of `frames.study_intervals`."""
    low, high, t_based = study_intervals(effects, level)
    return [(lo, hi) if t else None for lo, hi, t in zip(low, high, t_based)]


def _rows(effects: pd.DataFrame, labels) -> pd.DataFrame:
    return effects.assign(label=list(labels)).reset_index(drop=True)


def forest_for(named, review, level: float = 0.95):
    """RevMan-style forest plot of one outcome of `pooled.analyses` (its `NamedFit`): per-arm
    data, weights, the pooled diamond and prediction interval, the heterogeneity line, the
    test for the overall effect and the risk-of-bias columns."""
    fit = named.fit
    label, direction = _outcome_info(review, fit.outcome)
    where = "" if named.analysis == "main" else ", all studies"
    rows = _rows(fit.effects, fit.labels)
    intervals = _single_intervals(rows, level)
    rob = review.risk_of_bias
    rob = rob[rob["study_id"].isin(set(rows["study_id"]))] if len(rob) else None
    return figures.forest_plot(
        rows, fit.result, measure=fit.measure, title=f"{label} ({fit.measure}{where})",
        favours=favours(review.definitions, fit.measure, direction), level=level,
        rob=rob if rob is not None and len(rob) and set(rows["label"]) == set(rows["study_id"])
        else None,
        single_interval=intervals if any(i is not None for i in intervals) else None,
        arm_labels=(review.definitions.favours_treatment.capitalize(),
                    review.definitions.favours_control.capitalize()))


def subgroup_forest_for(fit, review, level: float = 0.95):
    """Subgroup forest plot of one outcome × moderator of `subgroups.subgroup_analyses`, with
    subtotals and the test for subgroup differences; favours sides from the outcome's
    direction, as in every other forest plot of the review."""
    groups = {level_: result for level_, result in fit.groups.items() if result is not None}
    part = fit.effects.assign(**{fit.moderator: fit.effects[fit.moderator].astype(str)})
    part = part.assign(label=part["study_id"]).reset_index(drop=True)
    label, direction = _outcome_info(review, fit.outcome)
    return figures.subgroup_forest_plot(
        part, fit.moderator, groups, fit.overall, measure=fit.measure,
        favours=favours(review.definitions, fit.measure, direction),
        title=f"{label} by {fit.moderator.replace('_', ' ')}",
        level=level)


def proportions_for(fits, outcome: str):
    """Forest plot of one single-group outcome on the 0–100% axis, grouped by subgroup."""
    rows = pd.concat([f.rows.assign(group=f.group, label=f.rows["study_id"]) for f in fits],
                     ignore_index=True)
    groups = {f.group: f.result for f in fits if f.result is not None}
    return figures.proportion_forest_plot(rows, groups, title=outcome.replace("_", " "))


def bubble_for(fit):
    """Bubble plot of a meta-regression on a continuous moderator."""
    return figures.bubble_plot(fit.effects["yi"].to_numpy(float),
                               fit.effects["vi"].to_numpy(float),
                               fit.effects[fit.moderator].to_numpy(float), fit.result,
                               xlabel=fit.moderator.replace("_", " "), measure=fit.measure)


def cumulative_for(named, review, method: str = "REML", test: str = "z", level: float = 0.95):
    """Cumulative meta-analysis of one pooled outcome, studies added in order of year."""
    from metareview.stats.diagnostics import cumulative

    fit = named.fit
    years = fit.effects["year"].to_numpy(float)
    order = np.where(np.isfinite(years), years, np.inf)
    table = cumulative(fit.effects["yi"].to_numpy(float), fit.effects["vi"].to_numpy(float),
                       order=order, method=method, test=test, level=level)
    label, direction = _outcome_info(review, fit.outcome)
    labels = [fit.labels[i] for i in table["study"]] if "study" in table else fit.labels
    return figures.cumulative_forest_plot(
        table, labels, fit.measure, favours(review.definitions, fit.measure, direction),
        years=[years[i] for i in table["study"]] if "study" in table else None, level=level,
        title=f"{label}: cumulative meta-analysis by year")


def baujat_for(named, method: str = "REML"):
    """Baujat plot of one pooled outcome: each study's contribution to heterogeneity against
    its influence on the pooled estimate."""
    from metareview.stats.diagnostics import baujat

    fit = named.fit
    coords = baujat(fit.effects["yi"].to_numpy(float), fit.effects["vi"].to_numpy(float),
                    method=method)
    return figures.baujat_plot(coords, fit.labels, method=method,
                               title=f"{fit.outcome.replace('_', ' ')}: Baujat plot")


def funnel_for(named, method: str = "REML"):
    """Funnel plot of one pooled outcome, with the studies trim-and-fill adds drawn open."""
    from metareview.stats.small_study import trim_and_fill

    fit = named.fit
    yi, vi = fit.effects["yi"].to_numpy(float), fit.effects["vi"].to_numpy(float)
    filled = trim_and_fill(yi, vi, method=method).filled
    return figures.funnel_plot(yi, vi, fit.result.estimate, filled_yi=filled["yi"],
                               filled_vi=filled["vi"], measure=fit.measure,
                               title=f"{fit.outcome}: funnel plot")
