"""The figures of a review, from its fitted models and its own definitions (labels, favours).

The drawing lives in `metareview.report.figures`; this module only decides what each figure of
a review shows, in the review's own words: the outcome's label and direction from outcomes.csv,
the "favours" labels and the names of subgroups from review.yaml, the studies' labels, the
interval a single study's source printed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metareview.report import figures
from metareview.report.descriptive import study_names
from metareview.report.figures.layout import MAX_STUDY_ROWS, summarised as _banded
from metareview.report.frames import study_intervals, with_exp
from metareview.report.pooled import ALL_STUDIES, MAIN
from metareview.review.ordering import NOT_REPORTED


def _outcome_info(review, outcome: str) -> tuple[str, str]:
    table = review.outcomes.set_index("outcome")
    if outcome in table.index:
        return str(table.loc[outcome, "label"]), str(table.loc[outcome, "direction"])
    return outcome.replace("_", " "), "lower_is_better"


DIRECTION_WORDS = {"lower_is_better": "lower is better", "higher_is_better": "higher is better",
                   "neutral": "no better direction"}


def _title(label: str, inside: str, direction: str) -> str:
    """"Scar volume, percent improvement (MD; higher is better)": the outcome's better side is
    in the title because it decides on which side each "favours" label stands."""
    words = DIRECTION_WORDS.get(direction)
    return f"{label} ({inside}{'; ' + words if words else ''})"


def favours(definitions, measure: str, direction: str) -> tuple[str, str]:
    """The review's own "favours" labels, on the sides its effects put them."""
    return figures.favours_labels(measure, direction, treatment=definitions.favours_treatment,
                                  control=definitions.favours_control)


def _capitalised(text: str) -> str:
    """First letter upper case, the rest as written ("MSC therapy" stays "MSC therapy")."""
    return text[:1].upper() + text[1:]


def arm_labels(definitions) -> tuple[str, str]:
    """Headings of the two arms' columns, from the review's "favours" labels."""
    return (_capitalised(definitions.favours_treatment),
            _capitalised(definitions.favours_control))


def _row_labels(part: pd.DataFrame, names: dict[str, str]) -> list[str]:
    """One label per effect row: the study's name, plus the comparison when the study gives
    more than one row (as `frames.study_labels`)."""
    counts = part["study_id"].value_counts()
    return [f"{names.get(str(s), str(s))} ({c})" if counts[s] > 1 else names.get(str(s), str(s))
            for s, c in zip(part["study_id"], part["comparison"])]


def _rob_for_rows(review, rows: pd.DataFrame):
    """The risk-of-bias judgements of the rows' studies, keyed by each row's label (a study
    with two rows gets its judgements on both); None when no study has any."""
    rob = review.risk_of_bias
    if not len(rob):
        return None
    pairs = rows[["study_id", "label"]].drop_duplicates()
    # one merge, not a filter per study: a review of thousands of studies stays fast
    frame = (pairs.rename(columns={"study_id": "_study"})
             .merge(rob.rename(columns={"study_id": "_study"}), on="_study", how="inner")
             .rename(columns={"label": "study_id"}))
    frame = frame[list(rob.columns)].reset_index(drop=True)
    return frame if len(frame) else None


def _single_intervals(effects: pd.DataFrame, level: float) -> list:
    """Per row the t interval of an effect whose SE came from a t-based interval or test its
    source printed (so the plot shows the interval the tables show), else None (the Wald
    interval the plot draws itself); the rule of `frames.study_intervals`."""
    low, high, t_based = study_intervals(effects, level)
    return [(lo, hi) if t else None for lo, hi, t in zip(low, high, t_based)]


def _rows(effects: pd.DataFrame, review) -> pd.DataFrame:
    part = effects.reset_index(drop=True)
    return part.assign(label=_row_labels(part, study_names(review)))


def forest_for(named, review, level: float = 0.95, bayes=None):
    """RevMan-style forest plot of one outcome of `pooled.analyses` (its `NamedFit`): per-arm
    data, weights, the pooled diamond and prediction interval, the heterogeneity line, the
    test for the overall effect and the risk-of-bias columns; with `bayes` (the outcome's row
    of `report.bayes`'s table under the review's prior, or a `pool_bayes` result), the
    Bayesian model's diamond and prediction interval under them."""
    fit = named.fit
    label, direction = _outcome_info(review, fit.outcome)
    where = "" if named.analysis == MAIN else f", {ALL_STUDIES}"
    rows = _rows(fit.effects, review)
    intervals = _single_intervals(rows, level)
    return figures.forest_plot(
        rows, fit.result, measure=fit.measure,
        title=_title(label, f"{fit.measure}{where}", direction),
        favours=favours(review.definitions, fit.measure, direction), direction=direction,
        level=level, rob=_rob_for_rows(review, rows),
        single_interval=intervals if any(i is not None for i in intervals) else None,
        arm_labels=arm_labels(review.definitions),
        bayes=bayes if fit.result is not None else None)


def summarised(named) -> bool:
    """Whether the forest plot of this fit draws its studies as one band
    (`figures.layout.summarised`), so that a report shows each study's numbers in a table
    beside it (`forest_table`)."""
    return _banded(len(named.fit.effects))


def effect_direction_drawn(results: pd.DataFrame) -> bool:
    """Whether the effect direction plot of `swim.study_results` is drawn: it has a row per
    study, so not for more than `MAX_STUDY_ROWS` studies (the synthesis table counts them)."""
    return not _banded(results["study_id"].nunique())


def forest_table(named, review, level: float = 0.95) -> pd.DataFrame:
    """Each study of a forest plot as a row: its estimate and interval (the interval the
    plot would draw: `frames.study_intervals`), and its weight in the pooled fit (%), on the
    analysis scale with the back-transformed ratios beside (`_exp` columns)."""
    fit = named.fit
    part = fit.effects.reset_index(drop=True)
    low, high, _ = study_intervals(part, level)
    table = pd.DataFrame({"outcome": fit.outcome, "measure": fit.measure,
                          "study_id": part["study_id"].astype(str),
                          "comparison": part["comparison"].astype(str),
                          "estimate": part["yi"].to_numpy(float), "ci_low": low, "ci_high": high})
    weights = None if fit.result is None else getattr(fit.result, "weights", None)
    if weights is not None and len(weights) == len(part):
        table["weight_pct"] = 100 * np.asarray(weights, float) / np.sum(weights)
    return pd.DataFrame([with_exp(row) for row in table.to_dict("records")])


def _subgroup_label(definitions, column: str, value: str) -> str:
    return _capitalised(definitions.label_of(column, str(value)))


def subgroup_forest_for(fit, review, level: float = 0.95):
    """Subgroup forest plot of one outcome × moderator of `subgroups.subgroup_analyses`, with
    subtotals and the test for subgroup differences, in the review's words: subgroup headings
    from review.yaml (`label_of`), study labels, arm and "favours" labels as in every other
    forest plot of the review (sides from the outcome's direction). Subgroups in review.yaml's
    order; the studies that do not report the column last, under "Not reported", outside the
    test for subgroup differences."""
    groups = {level_: result for level_, result in fit.groups.items() if result is not None}
    part = fit.effects.assign(**{fit.moderator: fit.effects[fit.moderator].astype(str)})
    part = _rows(part, review)
    label, direction = _outcome_info(review, fit.outcome)
    definitions = review.definitions
    headings = {value: _subgroup_label(definitions, fit.moderator, value)
                for value in part[fit.moderator].unique()}
    intervals = _single_intervals(part, level)
    return figures.subgroup_forest_plot(
        part, fit.moderator, groups, fit.overall, measure=fit.measure,
        favours=favours(definitions, fit.measure, direction), direction=direction,
        title=_title(label, f"{fit.measure}, by {fit.moderator.replace('_', ' ')}", direction),
        level=level, arm_labels=arm_labels(definitions), group_labels=headings,
        single_interval=intervals if any(i is not None for i in intervals) else None,
        group_order=[*fit.levels, NOT_REPORTED],
        untested=(NOT_REPORTED,) if fit.n_not_reported else ())


def proportions_for(fits, outcome: str, review=None, group_column: str = "condition"):
    """Forest plot of one single-group outcome on the 0–100% axis, grouped by subgroup (the
    groups' and the outcome's labels from the review when it is given), in the order of
    `fits` (`report.proportions.pool_proportions`: review.yaml's order of the levels)."""
    names = study_names(review) if review is not None else {}
    rows = pd.concat([f.rows.assign(group=f.group,
                                    label=f.rows["study_id"].astype(str).map(
                                        lambda s: names.get(s, s)))
                      for f in fits], ignore_index=True)
    groups = {f.group: f.result for f in fits if f.result is not None}
    if review is None:
        return figures.proportion_forest_plot(rows, groups, title=outcome.replace("_", " "))
    headings = {f.group: _subgroup_label(review.definitions, group_column, f.group)
                for f in fits}
    return figures.proportion_forest_plot(rows, groups, title=_outcome_info(review, outcome)[0],
                                          group_labels=headings,
                                          group_order=[f.group for f in fits])


def bubble_for(fit):
    """Bubble plot of a meta-regression on a continuous moderator."""
    return figures.bubble_plot(fit.effects["yi"].to_numpy(float),
                               fit.effects["vi"].to_numpy(float),
                               fit.effects[fit.moderator].to_numpy(float), fit.result,
                               xlabel=fit.moderator.replace("_", " "), measure=fit.measure)


def cumulative_for(named, review, method: str = "REML", test: str = "knha", level: float = 0.95):
    """Cumulative meta-analysis of one pooled outcome, studies added in order of year (with
    more studies than a figure has rows, `figures.MAX_STUDY_ROWS` evenly spaced steps)."""
    from metareview.stats.diagnostics import cumulative

    fit = named.fit
    years = fit.effects["year"].to_numpy(float)
    order = np.where(np.isfinite(years), years, np.inf)
    k = len(fit.effects)
    # more studies than rows: evenly spaced steps, always the first and the last
    steps = (None if not _banded(k) else
             np.unique(np.linspace(1, k, figures.MAX_STUDY_ROWS).round().astype(int)))
    table = cumulative(fit.effects["yi"].to_numpy(float), fit.effects["vi"].to_numpy(float),
                       order=order, method=method, test=test, level=level, steps=steps)
    label, direction = _outcome_info(review, fit.outcome)
    # labels and years in input order: the plot finds each step's study by table["study"]
    labels = _row_labels(fit.effects.reset_index(drop=True), study_names(review))
    return figures.cumulative_forest_plot(
        table, labels, fit.measure, favours(review.definitions, fit.measure, direction),
        direction=direction, years=[_year_text(y) for y in years], level=level,
        title=f"{label}: cumulative meta-analysis by year")


def _year_text(year: float) -> str:
    return f"{year:.0f}" if np.isfinite(year) else "not stated"


def baujat_for(named, method: str = "REML", review=None):
    """Baujat plot of one pooled outcome: each study's contribution to heterogeneity against
    its influence on the pooled estimate."""
    from metareview.stats.diagnostics import baujat

    fit = named.fit
    coords = baujat(fit.effects["yi"].to_numpy(float), fit.effects["vi"].to_numpy(float),
                    method=method)
    if review is None:
        return figures.baujat_plot(coords, fit.labels, method=method,
                                   title=f"{fit.outcome.replace('_', ' ')}: Baujat plot")
    labels = _row_labels(fit.effects.reset_index(drop=True), study_names(review))
    return figures.baujat_plot(coords, labels, method=method,
                               title=f"{_outcome_info(review, fit.outcome)[0]}: Baujat plot")


def funnel_for(named, method: str = "REML", review=None):
    """Funnel plot of one pooled outcome, with the studies trim-and-fill adds drawn open."""
    from metareview.stats.small_study import trim_and_fill

    fit = named.fit
    yi, vi = fit.effects["yi"].to_numpy(float), fit.effects["vi"].to_numpy(float)
    filled = trim_and_fill(yi, vi, method=method).filled
    label = fit.outcome if review is None else _outcome_info(review, fit.outcome)[0]
    return figures.funnel_plot(yi, vi, fit.result.estimate, filled_yi=filled["yi"],
                               filled_vi=filled["vi"], measure=fit.measure,
                               title=f"{label}: funnel plot")


def effect_direction_for(results: pd.DataFrame, review):
    """The effect direction plot of the synthesis without meta-analysis (`swim.study_results`),
    in the review's words: outcome labels in the order of outcomes.csv, study labels, the
    "favours" labels, the overall risk of bias, and before–after results of single groups
    drawn apart from comparisons between groups."""
    from metareview.report.swim import direction_table

    table = direction_table(results, review.risk_of_bias)
    order = [o for o in review.outcomes["outcome"].astype(str) if o in set(table["outcome"])]
    order += sorted(set(table["outcome"]) - set(order))
    labels = dict(zip(review.outcomes["outcome"].astype(str),
                      review.outcomes["label"].astype(str)))
    definitions = review.definitions
    return figures.effect_direction_plot(
        table, outcomes=order, outcome_labels=labels, study_labels=study_names(review),
        favours=(definitions.favours_treatment, definitions.favours_control),
        title="Direction of effect by study and outcome")
