"""What a reader sees of RevMan's own analyses (`analysis_method: revman`, notebook 03).

`metareview.review.revman_pooling` pools each outcome with RevMan 5's statistical method and
analysis model; this module lays the result out as RevMan would show it: a table of the
outcomes and subgroups, the totals RevMan stored beside the computed ones, and one forest plot
per outcome with RevMan's heading ("M-H, Fixed, 95% CI") and weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metareview.report import figures, review_figures
from metareview.report.figures.forest import revman_p
from metareview.review.revman_pooling import RevManAnalyses, side_by_side
from metareview.stats.revman_methods import RevManResult

# RevMan's abbreviation of each statistical method, and how it weights the studies
METHOD_NAMES = {"MH": "M-H", "IV": "IV", "Peto": "Peto"}
WEIGHTS = {"MH": "Mantel-Haenszel weights", "IV": "inverse-variance weights",
           "Peto": "Peto's variances as weights"}
QUANTITY_LABELS = {
    "estimate": "estimate", "ci_low": "CI lower", "ci_high": "CI upper", "chi2": "Chi²",
    "df": "df", "p_chi2": "P (Chi²)", "i2": "I² (%)", "tau2": "Tau²", "z": "Z", "p_z": "P (Z)",
    "q_int": "Chi² between subgroups", "p_q_int": "P (between subgroups)",
    "i2_q_int": "I² between subgroups (%)",
}


def model_text(fit: RevManResult) -> str:
    """The model line under a RevMan forest plot, e.g. "fixed effect, Mantel-Haenszel, as
    RevMan 5 computes it; Mantel-Haenszel weights"."""
    if fit.model == "random":
        how = (f"random effects, DerSimonian-Laird with RevMan's Chi² ({METHOD_NAMES[fit.method]}"
               " heterogeneity), as RevMan 5 computes it; inverse-variance weights with tau²")
        return how
    names = {"MH": "Mantel-Haenszel", "IV": "inverse variance", "Peto": "Peto"}
    return (f"fixed effect, {names[fit.method]}, as RevMan 5 computes it; "
            f"{WEIGHTS[fit.method]}")


def as_forest_result(fit: RevManResult) -> dict:
    """A RevMan analysis in the fields `figures.forest_plot` reads (ln scale for ratios)."""
    return {
        "method": "FE" if fit.model == "fixed" else "DL", "test": "z", "k": fit.k,
        "estimate": fit.estimate, "ci_low": fit.ci_low, "ci_high": fit.ci_high, "se": fit.se,
        "statistic": fit.statistic, "pval": fit.pval, "q": fit.q, "q_df": fit.q_df,
        "q_pval": fit.q_pval, "i2": fit.i2, "tau2": fit.tau2, "weights": fit.weights,
        "pooling": METHOD_NAMES[fit.method], "model_text": model_text(fit),
    }


def forest_rows(analyses: RevManAnalyses, outcome: str) -> pd.DataFrame:
    """The studies of one outcome (all subgroups together), in the order they were pooled, with
    their effects (yi, vi on the analysis scale) and the per-arm numbers of the forest plot."""
    fit = analyses.fits[(outcome, 0)]
    studies = analyses.studies
    own = studies[(studies["outcome"] == outcome) & (studies["subgroup"] == 0)]
    own = own.reset_index(drop=True)
    return pd.DataFrame({
        "label": own["study_id"].astype(str), "study_id": own["study_id"].astype(str),
        "yi": fit.yi, "vi": fit.sei ** 2,
        "events_treatment": own["events_1"], "total_treatment": own["total_1"],
        "events_control": own["events_2"], "total_control": own["total_2"],
        "mean_treatment": own["mean_1"], "sd_treatment": own["sd_1"],
        "n_treatment": own["total_1"].where(own["events_1"].isna()),
        "mean_control": own["mean_2"], "sd_control": own["sd_2"],
        "n_control": own["total_2"].where(own["events_2"].isna()),
    })


def forest_for(analyses: RevManAnalyses, review, outcome: str, level: float | None = None):
    """RevMan's forest plot of one outcome, pooled with RevMan's method and model; study
    intervals at `level` (default: the level the RevMan file set for them)."""
    fit = analyses.fits[(outcome, 0)]
    level = fit.level_study if level is None else level
    rows = forest_rows(analyses, outcome)
    binary = rows["events_treatment"].notna().any()
    rows = rows.drop(columns=[c for c in rows.columns if c.startswith(
        ("mean_", "sd_", "n_") if binary else ("events_", "total_"))])
    label, direction = review_figures._outcome_info(review, outcome)
    rob = review.risk_of_bias
    rob = rob[rob["study_id"].isin(set(rows["study_id"]))] if len(rob) else None
    definitions = review.definitions
    return figures.forest_plot(
        rows, as_forest_result(fit), measure=fit.measure,
        title=f"{label} ({fit.measure}, RevMan's method)",
        favours=review_figures.favours(definitions, fit.measure, direction), level=level,
        rob=rob if rob is not None and len(rob) else None, show_prediction=False,
        arm_labels=(definitions.favours_treatment.capitalize(),
                    definitions.favours_control.capitalize()))


def _interval(row) -> str:
    if not np.isfinite(row["estimate"]):
        return "not estimable"
    return f"{row['estimate']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"


def present(analyses: RevManAnalyses) -> pd.DataFrame:
    """The pooled table for readers: one row per outcome and subgroup, as RevMan prints its
    totals (estimate with CI, heterogeneity, the test for the overall effect and, on an
    outcome's row, the test for subgroup differences)."""
    rows = []
    for row in analyses.table.to_dict("records"):
        between = ""
        if np.isfinite(row["q_int"]):
            between = (f"Chi² = {row['q_int']:.2f}, df = {row['df_int']:.0f} "
                       f"({revman_p(row['p_q_int'])}), I² = {row['i2_q_int']:.1f}%")
        rows.append({
            "outcome": row["label"], "subgroup": row["subgroup_name"] if row["subgroup"] else "",
            "method": f"{METHOD_NAMES[row['method']]}, {row['model']}", "k": row["k"],
            "measure": row["measure"], "estimate [95% CI]": _interval(row),
            "Chi² (df)": f"{row['chi2']:.2f} ({row['df']:.0f})" if row["k"] > 1 else "",
            "P (Chi²)": revman_p(row["p_chi2"]) if row["k"] > 1 else "",
            "I²": f"{row['i2']:.0f}%" if np.isfinite(row["i2"]) else "",
            "Tau²": f"{row['tau2']:.4g}" if row["model"] == "random" else "",
            "Z": f"{row['z']:.2f}", "P (Z)": revman_p(row["p_z"]),
            "subgroup differences": between,
        })
    return pd.DataFrame(rows)


def present_side_by_side(analyses: RevManAnalyses, review) -> pd.DataFrame:
    """RevMan's stored totals beside the computed ones, for readers (full digits)."""
    table = side_by_side(analyses, review)
    labels = review.outcomes.set_index("outcome")["label"]
    return pd.DataFrame({
        "outcome": [labels.get(o, o) for o in table["outcome"]],
        "subgroup": table["subgroup"],
        "quantity": [QUANTITY_LABELS.get(q, q) for q in table["quantity"]],
        "computed here": [f"{v:.10g}" for v in table["computed"]],
        "stored by RevMan": table["stored"],
        "difference": [f"{v:.2g}" for v in table["difference"]],
        "agrees": ["yes" if a else "NO" for a in table["agrees"]],
    })


def agreement_sentence(analyses: RevManAnalyses, review) -> str:
    """One sentence: how many stored totals there are and whether each is reproduced."""
    table = side_by_side(analyses, review)
    if table.empty:
        return ("The file stores no totals computed by RevMan, so nothing is compared (RevMan "
                "stores them once it has drawn an analysis).")
    failed = table[~table["agrees"]]
    largest = table["relative_difference"].max()
    text = (f"{len(table)} totals stored by RevMan; {len(table) - len(failed)} are reproduced "
            "to the digits the file stores (largest relative difference "
            f"{largest:.1g}, within the rounding of the stored value; RevMan's P of Chi² "
            "comes from an approximate chi-square routine and differs from the exact tail by "
            "up to about 6e-7 relative).")
    if len(failed):
        text += (" Not reproduced: " + "; ".join(
            f"{r.outcome} subgroup {r.subgroup} {r.quantity} (computed {r.computed:.8g}, "
            f"stored {r.stored})" for r in failed.itertuples()) + ".")
    return text


__all__ = ["agreement_sentence", "as_forest_result", "forest_for", "forest_rows", "model_text",
           "present", "present_side_by_side"]
