"""Synthesis without meta-analysis for every outcome (Cochrane Handbook ch. 12; SWiM, Campbell
et al. 2020, doi 10.1136/bmj.l6890).

`study_results(review, effects)` gathers, per analysis outcome, one result per study and
comparison: its direction (+1 favours the treatment, −1 the control, 0 no difference), its
two-sided p value with the printed operator and its size. Where a result became an effect,
direction and p come from the effect (p of its Wald test, or of its t test when its interval
is t-based); otherwise from the contrast as printed (`favours`, `p_value`). Results whose
direction the source does not give cannot be oriented and are listed apart.

`synthesise(results)` then gives per outcome the vote count with its sign test and Wilson
interval, and the p values combined by Stouffer's weighted Z (weights √n, when every n is
known) and by Fisher's method, oriented towards the treatment. Each outcome is labelled with
the strongest synthesis its data allow: "meta-analysis" where k ≥ `min_k` effects exist,
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

FAVOURS_DIRECTION = {"treatment": 1, "control": -1, "none": 0}
RESULT_COLUMNS = ["outcome", "study_id", "comparison", "reported_outcome", "direction", "p",
                  "p_operator", "n", "source", "main_analysis"]
SWIM_COLUMNS = [
    "outcome", "synthesis", "k_effects", "k_studies", "n_favour", "n_against", "n_unclear",
    "proportion_favour", "ci_low", "ci_high", "sign_test_p", "k_p", "stouffer_z",
    "stouffer_p", "fisher_p", "weighted", "bounded", "not_oriented",
]


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
        rows.append({"outcome": e["outcome"], "study_id": e["study_id"],
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
            p, operator = (1.0, "=") if direction == 0 else (np.nan, "")
        rows.append({"outcome": analysis.outcome, "study_id": c["study_id"],
                     "comparison": c["comparison"], "reported_outcome": c["outcome"],
                     "direction": direction, "p": float(p) if not missing(p) else np.nan,
                     "p_operator": operator, "n": float(n) if not missing(n) else np.nan,
                     "source": "contrast as printed", "main_analysis": main})
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS).sort_values(
        ["outcome", "study_id", "comparison"]).reset_index(drop=True)
    return frame, pd.DataFrame(unoriented, columns=["outcome", "study_id", "comparison",
                                                    "reason"])


def synthesise(results: pd.DataFrame, effects: pd.DataFrame, unoriented: pd.DataFrame,
               min_k: int = 2) -> pd.DataFrame:
    """One row per outcome: vote count, sign test and combined p values (SWIM_COLUMNS)."""
    rows = []
    outcomes = sorted(set(results["outcome"]) | set(unoriented["outcome"]))
    for outcome in outcomes:
        part = results[results["outcome"] == outcome]
        k_effects = int((effects["outcome"] == outcome).sum()) if len(effects) else 0
        row = {"outcome": outcome, "k_effects": k_effects,
               "k_studies": part["study_id"].nunique(),
               "synthesis": ("meta-analysis" if k_effects >= min_k
                             else "synthesis without meta-analysis"),
               "not_oriented": "; ".join(unoriented.loc[unoriented["outcome"] == outcome,
                                                        "study_id"])}
        directions = part["direction"].astype(int).tolist()
        row.update(n_favour=directions.count(1), n_against=directions.count(-1),
                   n_unclear=directions.count(0))
        if any(d != 0 for d in directions):
            votes = mr.vote_count(directions)
            row.update(proportion_favour=votes.proportion, ci_low=votes.ci_low,
                       ci_high=votes.ci_high, sign_test_p=votes.pval)
        with_p = part[part["p"].notna()]
        row["k_p"] = len(with_p)
        if len(with_p):
            operators = with_p["p_operator"].replace("", "=").tolist()
            weighted = bool(with_p["n"].notna().all())
            stouffer = mr.combine_pvalues(with_p["p"].clip(upper=1.0).tolist(),
                                          with_p["direction"].astype(int).tolist(),
                                          n=with_p["n"].tolist() if weighted else None,
                                          method="stouffer", operators=operators)
            fisher = mr.combine_pvalues(with_p["p"].clip(upper=1.0).tolist(),
                                        with_p["direction"].astype(int).tolist(),
                                        method="fisher", operators=operators)
            row.update(stouffer_z=stouffer.z, stouffer_p=stouffer.pval, fisher_p=fisher.pval,
                       weighted="√n" if weighted else "equal",
                       bounded="; ".join(with_p.iloc[list(stouffer.bounded)]["study_id"])
                       if len(stouffer.bounded) else "")
        rows.append(row)
    return pd.DataFrame(rows, columns=SWIM_COLUMNS)


def direction_table(results: pd.DataFrame, risk_of_bias: pd.DataFrame) -> pd.DataFrame:
    """The input of the effect direction plot: study, outcome, direction, n, overall RoB."""
    overall = risk_of_bias[risk_of_bias["domain"] == "overall"]
    rob = dict(zip(overall["study_id"], overall["judgement"]))
    table = results.groupby(["study_id", "outcome"], as_index=False).agg(
        direction=("direction", "first"), n=("n", "max"))
    table["rob"] = table["study_id"].map(rob)
    return table.rename(columns={"study_id": "study"})


def sentence(row) -> str:
    """The synthesis of one outcome in one plain sentence."""
    if not math.isfinite(row.get("proportion_favour", math.nan)):
        return (f"**{md(row['outcome'])}**: {row['k_studies']} results, none with a direction; "
                "nothing can be synthesised.")
    text = (f"**{md(row['outcome'])}** ({md(row['synthesis'])}): {row['n_favour']} of "
            f"{row['n_favour'] + row['n_against']} results with a direction favour the "
            f"treatment (sign test p = {row['sign_test_p']:.3g})")
    if math.isfinite(row.get("stouffer_p", math.nan)):
        text += (f"; combined one-sided p = {row['stouffer_p']:.2g} (Stouffer, "
                 f"{row['weighted']} weights, {row['k_p']} p values)")
    if row.get("bounded"):
        text += f"; 'p <' values used as bounds: {md(row['bounded'])}"
    return text + "."
