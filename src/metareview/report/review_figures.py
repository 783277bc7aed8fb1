"""The figures of a review, from its fitted models and its own definitions (labels, favours).

The drawing lives in `metareview.report.figures`; this module only decides what each figure of
a review shows: the outcome's label and direction from outcomes.csv, the "favours" labels from
review.yaml, the interval a single study's source printed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metareview.report import figures


def _outcome_info(review, outcome: str) -> tuple[str, str]:
    table = review.outcomes.set_index("outcome")
    if outcome in table.index:
        return str(table.loc[outcome, "label"]), str(table.loc[outcome, "direction"])
    return outcome, "lower_is_better"


def favours(definitions, measure: str, direction: str) -> tuple[str, str]:
    """The review's own "favours" labels, on the sides its effects put them."""
    return figures.favours_labels(measure, direction, treatment=definitions.favours_treatment,
                                  control=definitions.favours_control)


def forest_for(named, review, level: float = 0.95):
    """Forest plot of one outcome of `pooled.analyses` (its `NamedFit`)."""
    fit = named.fit
    label, direction = _outcome_info(review, fit.outcome)
    where = "" if named.analysis == "main" else ", all studies"
    return figures.forest_plot(
        fit.labels, fit.effects["yi"], fit.effects["vi"], fit.result, measure=fit.measure,
        title=f"{label} ({fit.measure}{where})",
        favours=favours(review.definitions, fit.measure, direction), level=level)


def subgroup_forest_for(fit, definitions, level: float = 0.95):
    """Subgroup forest plot of one outcome × moderator of `subgroups.subgroup_analyses`."""
    from metareview.report.text import p_text

    test_text = (f"Test for subgroup differences: common tau² Q = {fit.common.q_between:.2f} "
                 f"(df = {fit.common.df}), {p_text(fit.common.pval)}, permutation "
                 f"{p_text(fit.p_permutation)}; separate tau² Q = "
                 f"{fit.separate.q_between:.2f}, {p_text(fit.separate.pval)}")
    groups = {level_: result for level_, result in fit.groups.items() if result is not None}
    part = fit.effects.assign(**{fit.moderator: fit.effects[fit.moderator].astype(str)})
    return figures.subgroup_forest_plot(part, fit.moderator, groups, fit.overall,
                                        measure=fit.measure,
                                        title=f"{fit.outcome} by {fit.moderator}",
                                        level=level, test_text=test_text)


def proportions_for(fits, outcome: str):
    """Forest plot of one single-group outcome, studies grouped by subgroup (0–100%)."""
    rows = pd.concat([f.rows.assign(group=f.group) for f in fits], ignore_index=True)
    groups = {}
    for f in fits:
        if f.result is not None:
            r = f.result
            groups[f.group] = {"pred": r.pred, "pred_ci_low": r.pred_ci_low,
                               "pred_ci_high": r.pred_ci_high, "pi_low": r.pi_low,
                               "pi_high": r.pi_high, "k": r.k,
                               "n": int(f.rows["total"].sum())}
    if hasattr(figures, "proportion_forest_plot"):
        return figures.proportion_forest_plot(rows, groups, title=outcome.replace("_", " "))
    # until the proportion forest plot exists: the studies' logits on a forest plot
    es = np.log((rows["events"] + 0.5) / (rows["total"] - rows["events"] + 0.5))
    vi = 1 / (rows["events"] + 0.5) + 1 / (rows["total"] - rows["events"] + 0.5)
    return figures.forest_plot(list(rows["study_id"] + " (" + rows["group"] + ")"), es, vi,
                               None, measure="PLO", title=outcome.replace("_", " "))


def bubble_for(fit):
    """Bubble plot of a meta-regression on a continuous moderator."""
    return figures.bubble_plot(fit.effects["yi"].to_numpy(float),
                               fit.effects["vi"].to_numpy(float),
                               fit.effects[fit.moderator].to_numpy(float), fit.result,
                               xlabel=fit.moderator.replace("_", " "), measure=fit.measure)
