"""Synthesis without meta-analysis for every outcome (Cochrane Handbook ch. 12; SWiM, Campbell
et al. 2020, doi 10.1136/bmj.l6890).

`study_results(review, effects)` gathers, per analysis outcome, one result per study and
comparison: its direction (+1 favours the treatment, −1 the control, 0 no difference), its
two-sided p value with the printed operator and its size. Where a result became an effect,
direction and p come from the effect (p of its Wald test, or of its t test when its interval
is t-based); otherwise from the contrast as printed (`favours`, `p_value`). Results whose
direction the source does not give cannot be oriented and are listed apart.

Each result is of one of two kinds (`kind`): a comparison between groups (or sides) of a
study, or a before–after change within a single group (a single-arm study, or a result whose
comparison is `pre_post`). A before–after change says that people improved, not that the
treatment did better than a control, so the two kinds are never counted together: each outcome
gets one row per kind, and only between-group rows say "favour the treatment".

`synthesise(results)` then gives per outcome and kind the vote count with its sign test and
Wilson interval (its denominator: the results with a direction; results of no difference are
counted apart), and, where two or more results print a p value, the p values combined by
Stouffer's weighted Z (weights √n, when every n is known) and by Fisher's method, oriented
towards the treatment. One p value is that study's own one-sided p (`single_p`), not a
combination. A result that gives no p value is never entered as p = 1: it counts in the vote
and is left out of the combined test (`k_without_p`). Each outcome is labelled with the
strongest synthesis its data allow: "meta-analysis" where k ≥ `min_k` effects exist,
"synthesis without meta-analysis" otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

import metareview as mr
from metareview.report.text import md
from metareview.review.derive import analysis_of
from metareview.review.effect import missing
from metareview.review.ordering import sort_studies

FAVOURS_DIRECTION = {"treatment": 1, "control": -1, "none": 0}
BETWEEN_GROUPS = "between groups"
BEFORE_AFTER = "before-after"
# Comparison ids that name a change within one group rather than a comparison of groups.
WITHIN_GROUP_COMPARISONS = ("pre_post", "single")
RESULT_COLUMNS = ["outcome", "kind", "study_id", "comparison", "reported_outcome", "direction",
                  "p", "p_operator", "n", "source", "main_analysis"]
SWIM_COLUMNS = [
    "outcome", "kind", "synthesis", "k_effects", "k_studies", "n_favour", "n_against",
    "n_unclear", "proportion_favour", "ci_low", "ci_high", "sign_test_p", "k_p", "k_without_p",
    "single_p", "stouffer_z", "stouffer_p", "fisher_p", "weighted", "bounded", "not_oriented",
]


def result_kind(design: str, comparison: str) -> str:
    """"before-after" for a change within one group (a single-arm study, or a `pre_post`
    comparison of any study), "between groups" otherwise."""
    if str(design) == "single_arm" or str(comparison) in WITHIN_GROUP_COMPARISONS:
        return BEFORE_AFTER
    return BETWEEN_GROUPS


def _effect_p(effect) -> float:
    z = effect["yi"] / effect["se"]
    if not missing(effect.get("df")) and np.isfinite(effect["df"]):
        return float(2 * stats.t.sf(abs(z), effect["df"]))
    return float(2 * stats.norm.sf(abs(z)))


def effect_direction(yi: float, measure: str, outcome_direction: str) -> int:
    """+1 when an effect favours the treatment, −1 when it favours the control, 0 for neither.

    Effects are treatment minus control (ratios on the log scale: treatment over control) on
    the outcome's own scale, so a positive yi favours the treatment exactly when higher values
    of the outcome are better; for an outcome without a better direction ("neutral") no side
    is favoured. `measure` is kept for callers; every measure follows the same rule.
    """
    if outcome_direction == "neutral":
        return 0
    sign = int(np.sign(yi))
    return sign if outcome_direction == "higher_is_better" else -sign


def study_results(review, effects: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(oriented results, results whose direction is not given); see the module docstring."""
    analyses = analysis_of(review.outcomes)
    studies = review.studies.set_index("study_id")
    rows, unoriented = [], []
    seen = set()
    for _, e in effects.iterrows():
        direction = effect_direction(e["yi"], e["measure"],
                                     analyses[e["reported_outcome"]].direction)
        n = e["n_treatment"] if e["paired"] else e["n_treatment"] + e["n_control"]
        design = studies["design"].get(e["study_id"], "")
        rows.append({"outcome": e["outcome"], "study_id": e["study_id"],
                     "kind": result_kind(design, e["comparison"]),
                     "comparison": e["comparison"], "reported_outcome": e["reported_outcome"],
                     "direction": direction, "p": _effect_p(e), "p_operator": "=",
                     "n": n, "source": "effect", "main_analysis": bool(e["main_analysis"])})
        seen.add((e["study_id"], e["comparison"], e["outcome"]))
    contrasts = review.contrasts.sort_values("timepoint_weeks", na_position="first")
    for _, c in contrasts.iloc[::-1].iterrows():  # latest timepoint first
        analysis = analyses[c["outcome"]]
        key = (c["study_id"], c["comparison"], analysis.outcome)
        if key in seen or c["study_id"] not in studies.index:
            continue
        seen.add(key)
        study = studies.loc[c["study_id"]]
        main = review.definitions.in_main_analysis(c["study_id"], study["intervention_class"])
        direction = FAVOURS_DIRECTION.get(c["favours"]) if not missing(c["favours"]) else None
        if direction is None:
            unoriented.append({"outcome": analysis.outcome, "study_id": c["study_id"],
                               "comparison": c["comparison"], "reason":
                               "the source does not say which arm did better"})
            continue
        paired = c["paired"] is True
        n = c["n_treatment"] if paired else (
            c["n_treatment"] + c["n_control"]
            if not (missing(c["n_treatment"]) or missing(c["n_control"])) else np.nan)
        p, operator = c["p_value"], c["p_operator"]
        if missing(p):
            # no p printed: the result counts in the vote, never as p = 1 in a combined test
            p, operator = np.nan, ""
        rows.append({"outcome": analysis.outcome, "study_id": c["study_id"],
                     "kind": result_kind(study["design"], c["comparison"]),
                     "comparison": c["comparison"], "reported_outcome": c["outcome"],
                     "direction": direction, "p": float(p) if not missing(p) else np.nan,
                     "p_operator": operator, "n": float(n) if not missing(n) else np.nan,
                     "source": "contrast as printed", "main_analysis": main})
    frame = sort_studies(pd.DataFrame(rows, columns=RESULT_COLUMNS),
                         ["outcome", "kind", "study_id", "comparison"]).reset_index(drop=True)
    return frame, pd.DataFrame(unoriented, columns=["outcome", "study_id", "comparison",
                                                    "reason"])


def synthesise(results: pd.DataFrame, effects: pd.DataFrame, unoriented: pd.DataFrame,
               min_k: int = 2) -> pd.DataFrame:
    """One row per outcome and kind of result: vote count, sign test and combined p values
    (SWIM_COLUMNS; see the module docstring)."""
    rows = []
    outcomes = sorted(set(results["outcome"]) | set(unoriented["outcome"]))
    for outcome in outcomes:
        k_effects = int((effects["outcome"] == outcome).sum()) if len(effects) else 0
        of_outcome = results[results["outcome"] == outcome]
        kinds = sorted(set(of_outcome["kind"])) or [BETWEEN_GROUPS]
        for kind in kinds:
            part = of_outcome[of_outcome["kind"] == kind]
            rows.append(_synthesis_row(outcome, kind, part, k_effects, unoriented, min_k))
    return pd.DataFrame(rows, columns=SWIM_COLUMNS)


def _synthesis_row(outcome: str, kind: str, part: pd.DataFrame, k_effects: int,
                   unoriented: pd.DataFrame, min_k: int) -> dict:
    between = kind == BETWEEN_GROUPS
    row = {"outcome": outcome, "kind": kind, "k_effects": k_effects if between else 0,
           "k_studies": part["study_id"].nunique(),
           "synthesis": ("meta-analysis" if between and k_effects >= min_k
                         else "synthesis without meta-analysis"),
           "not_oriented": "; ".join(unoriented.loc[unoriented["outcome"] == outcome,
                                                    "study_id"]) if between else ""}
    directions = part["direction"].astype(int).tolist()
    row.update(n_favour=directions.count(1), n_against=directions.count(-1),
               n_unclear=directions.count(0))
    if any(d != 0 for d in directions):
        votes = mr.vote_count(directions)
        row.update(proportion_favour=votes.proportion, ci_low=votes.ci_low,
                   ci_high=votes.ci_high, sign_test_p=votes.pval)
    with_p = part[part["p"].notna()]
    row["k_p"], row["k_without_p"] = len(with_p), len(part) - len(with_p)
    if not len(with_p):
        return row
    operators = with_p["p_operator"].replace("", "=").tolist()
    p_values = with_p["p"].clip(upper=1.0).tolist()
    signs = with_p["direction"].astype(int).tolist()
    weighted = bool(with_p["n"].notna().all())
    stouffer = mr.combine_pvalues(p_values, signs, n=with_p["n"].tolist() if weighted else None,
                                  method="stouffer", operators=operators)
    bounded = ("; ".join(with_p.iloc[list(stouffer.bounded)]["study_id"])
               if len(stouffer.bounded) else "")
    if len(with_p) == 1:
        # one study's own one-sided p towards the treatment: nothing is combined
        row.update(single_p=stouffer.pval, bounded=bounded)
        return row
    fisher = mr.combine_pvalues(p_values, signs, method="fisher", operators=operators)
    row.update(stouffer_z=stouffer.z, stouffer_p=stouffer.pval, fisher_p=fisher.pval,
               weighted="√n" if weighted else "equal", bounded=bounded)
    return row


def direction_table(results: pd.DataFrame, risk_of_bias: pd.DataFrame) -> pd.DataFrame:
    """The input of the effect direction plot: study, outcome, direction, n, kind, overall RoB.

    One row per study and outcome. Where a study has both a comparison between groups and a
    before–after result for an outcome, the comparison is the one shown (it is the stronger
    evidence, and the plot has one marker per cell); its direction, n and kind come from the
    comparison's rows only."""
    overall = risk_of_bias[risk_of_bias["domain"] == "overall"]
    rob = dict(zip(overall["study_id"], overall["judgement"]))
    between = (results["kind"] == BETWEEN_GROUPS).groupby(
        [results["study_id"], results["outcome"]]).transform("any")
    results = results[(results["kind"] == BETWEEN_GROUPS) | ~between]
    table = results.groupby(["study_id", "outcome"], as_index=False).agg(
        direction=("direction", "first"), n=("n", "max"), kind=("kind", "first"))
    table["rob"] = table["study_id"].map(rob)
    return table.rename(columns={"study_id": "study"})


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n == 1 else plural}"


def sentence(row, label: str | None = None) -> str:
    """The synthesis of one outcome and kind in one plain sentence, its denominator named.

    label: the outcome as readers call it (default: its id with spaces)."""
    name = md(label or str(row["outcome"]).replace("_", " "))
    between = row.get("kind", BETWEEN_GROUPS) == BETWEEN_GROUPS
    k = int(row["k_studies"])
    favour, against, unclear = int(row["n_favour"]), int(row["n_against"]), int(row["n_unclear"])
    directed = favour + against
    what = "comparisons between groups" if between else "before–after results of single groups"
    if not directed:
        text = (f"{name} ({what}): {_count(k, 'result', 'results')}, none with a direction"
                + (f" ({unclear} of no difference)" if unclear else "") + "; nothing can be "
                "synthesised")
        return text + "."
    if between:
        text = (f"{name} ({what}): {favour} of {directed} results with a direction favour the "
                "treatment over the control")
    else:
        text = (f"{name} ({what}, no control): {favour} of {directed} results with a direction "
                "improved from baseline")
    if unclear:
        text += f"; {unclear} more showed no difference"
    if directed > 1:
        text += f" (sign test p = {row['sign_test_p']:.3g})"
    if math.isfinite(row.get("stouffer_p", math.nan)):
        text += (f"; combined one-sided p = {row['stouffer_p']:.2g} (Stouffer, "
                 f"{row['weighted']} weights, {int(row['k_p'])} results with a p value)")
    elif math.isfinite(row.get("single_p", math.nan)):
        text += f"; a single study's one-sided p = {row['single_p']:.2g}"
    if int(row.get("k_without_p", 0) or 0) and (math.isfinite(row.get("stouffer_p", math.nan))
                                                or math.isfinite(row.get("single_p", math.nan))):
        text += f"; {_count(int(row['k_without_p']), 'result', 'results')} without a p value"
    if isinstance(row.get("bounded"), str) and row["bounded"]:
        text += f"; 'p <' values used as bounds: {md(row['bounded'])}"
    return text + "."
