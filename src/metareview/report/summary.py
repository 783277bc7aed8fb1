"""The first page of a review's reports: its main findings, summary of findings with GRADE,
what was not pooled, and the side by side with the published reviews.

`summarise(review, processed, settings)` reads what the five notebooks wrote
(`data/processed/<review>/`), refits each reported outcome with the review's model (the fits
are cheap; only their inputs are stored), rates its certainty (`metareview.report.grade`) and
builds the summary-of-findings rows (`metareview.report.findings`). Which outcomes get a row:
every outcome pooled (k ≥ 2) or with a single effect, every outcome a published review reports,
and single-group proportions by subgroup; the other outcomes synthesised without meta-analysis
are listed in a second table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import metareview as mr
from metareview.report import findings, grade
from metareview.report.text import natural, plural
from metareview.review.derive import analysis_of, read_effects


@dataclass(frozen=True)
class Summary:
    """The pieces of the summary report."""

    headline: list[str]
    sof: pd.DataFrame
    certainties: dict
    other_outcomes: pd.DataFrame
    not_pooled: pd.DataFrame


def _read(processed: Path, name: str) -> pd.DataFrame:
    path = processed / f"{name}.csv"
    if not path.is_file():
        return pd.DataFrame()
    return pd.read_csv(path, keep_default_na=False, na_values=[""],
                       dtype={"outcome": str, "study_id": str, "group": str})


def _outcome_order(review) -> list[str]:
    analyses = analysis_of(review.outcomes)
    return list(dict.fromkeys(a.outcome for a in analyses.values()))


def _comparative(review, effects, settings, swim, intervention, overrides):
    """OutcomeSummary objects of comparative outcomes, in the codebook's order."""
    outcomes = review.outcomes.set_index("outcome")
    published = set(analysis_of(review.outcomes).get(o, None).outcome
                    for o in review.published["outcome"] if o in outcomes.index) \
        if len(review.published) else set()
    summaries, certainties = [], {}
    main = effects[effects["main_analysis"]] if len(effects) else effects
    order = _outcome_order(review)
    for outcome in order:
        part = main[main["outcome"] == outcome].sort_values(["study_id", "comparison"])
        if part.empty:
            part = effects[effects["outcome"] == outcome].sort_values(["study_id", "comparison"])
        swim_row = swim[swim["outcome"] == outcome] if len(swim) else swim
        primary = outcome == order[0]
        worth_a_row = len(part) >= settings["min_k_pool"] or outcome in published or primary
        if not worth_a_row or (part.empty and swim_row.empty):
            continue
        info = outcomes.loc[outcome]
        measure = str(info["measure"])
        result = None
        if len(part) >= settings["min_k_pool"]:
            result = mr.pool(part["yi"].to_numpy(float), part["vi"].to_numpy(float),
                             method=settings["tau2_method"], test=settings["test"],
                             level=1 - settings["alpha"])
        vote = combined = None
        if part.empty and len(swim_row):
            vote, combined = _swim_results(swim_row.iloc[0])
        certainty = None
        if len(part):
            certainty = grade.assess(outcome, result=result, effects=part,
                                     rob=review.risk_of_bias, design_randomised=None,
                                     measure=measure, overrides=overrides)
            certainties[outcome] = certainty
        summaries.append(findings.OutcomeSummary(
            outcome=outcome, label=str(info["label"]), measure=measure,
            direction=str(info["direction"]), result=result, effects=part,
            certainty=certainty, unit=str(info.get("unit") or ""), vote=vote,
            combined=combined))
    return summaries, certainties


def _swim_results(row):
    """Minimal vote-count and combined-p objects for a synthesis-only row."""
    from types import SimpleNamespace

    directed = int(row["n_favour"]) + int(row["n_against"])
    vote = SimpleNamespace(k=int(row["k_studies"]), n_favour=int(row["n_favour"]),
                           n_against=int(row["n_against"]), n_unclear=int(row["n_unclear"]),
                           proportion=row["proportion_favour"], ci_low=row["ci_low"],
                           ci_high=row["ci_high"], pval=row["sign_test_p"]) if directed else None
    combined = (SimpleNamespace(z=row["stouffer_z"], pval=row["stouffer_p"], k=int(row["k_p"]),
                                method="stouffer")
                if np.isfinite(row.get("stouffer_p", np.nan)) else None)
    return vote, combined


def _proportion_rows(review, processed: Path, settings) -> list[dict]:
    """SoF-like rows for single-group proportions: outcome and group, k, people, rate."""
    table = _read(processed, "pooled_proportions")
    if table.empty:
        return []
    labels = dict(zip(review.outcomes["outcome"], review.outcomes["label"]))
    glmm = table[table["model"].str.startswith("GLMM")]
    anchors = set(zip(review.published["outcome"], review.published["subgroup"].fillna(""))) \
        if len(review.published) else set()
    rows = []
    for r in glmm.to_dict("records"):
        if not np.isfinite(r.get("proportion", np.nan)):
            continue
        if r["k"] < settings["min_k_pool"] and (r["outcome"], r["group"]) not in anchors:
            continue
        label = f"{labels.get(r['outcome'], r['outcome'])}: {r['group'].replace('_', ' ')}"
        rate = f"{100 * r['proportion']:.1f}% ({100 * r['ci_low']:.1f}% to {100 * r['ci_high']:.1f}%)"
        pi = (f"{100 * r['pi_low']:.1f}% to {100 * r['pi_high']:.1f}%"
              if np.isfinite(r.get("pi_low", np.nan)) else "")
        how = "GLMM" if r["status"] == "pooled" else r["status"].split(":")[0]
        rows.append({"Outcome": label,
                     "Studies (participants)": f"{int(r['k'])} ({int(r['participants'])})",
                     "Effect (95% CI)": f"{rate}; {how}", "95% prediction interval": pi,
                     "Certainty": "⊕◯◯◯ Very low (single-group series, no control group)",
                     "What happens": f"{int(r['events'])} of {int(r['participants'])} people"})
    return rows


def summarise(review, processed: Path, settings: dict) -> Summary:
    """Everything the summary report shows; see the module docstring."""
    processed = Path(processed)
    effects_path = processed / "effects.csv"
    effects = read_effects(effects_path) if effects_path.is_file() else pd.DataFrame()
    swim = _read(processed, "swim")
    overrides = review.grade if len(review.grade) else None
    intervention = review.definitions.favours_treatment
    summaries, certainties = _comparative(review, effects, settings, swim, intervention,
                                          overrides)
    sof = findings.summary_of_findings(summaries, intervention=intervention)
    extra = _proportion_rows(review, processed, settings)
    if extra:
        sof = pd.concat([sof, pd.DataFrame(extra, columns=findings.SOF_COLUMNS)],
                        ignore_index=True).fillna("")
    listed = {s.outcome for s in summaries}
    other = swim[~swim["outcome"].isin(listed)] if len(swim) else swim
    not_pooled = _read(processed, "not_pooled")
    return Summary(headline=_headline(review, effects, swim, processed, summaries),
                   sof=sof, certainties=certainties, other_outcomes=other,
                   not_pooled=not_pooled)


def _headline(review, effects, swim, processed: Path, summaries) -> list[str]:
    """The main finding first: the evidence base, then each pooled outcome in one line."""
    studies = review.studies
    lines = [f"{plural(len(studies), 'study')} included "
             f"({', '.join(f'{n} {d.replace(chr(95), chr(32))}' for d, n in studies['design'].value_counts().sort_index().items())})."]
    pooled = _read(processed, "pooled")
    if len(pooled):
        for r in pooled[pooled["status"] == "pooled"].to_dict("records"):
            est, low, high = (natural(r, name) for name in ("estimate", "ci_low", "ci_high"))
            label = dict(zip(review.outcomes["outcome"], review.outcomes["label"])).get(
                r["outcome"], r["outcome"])
            lines.append(f"**{label}** ({r['analysis']} analysis, {int(r['k'])} studies): "
                         f"{r['measure']} {est:.2f} (95% CI {low:.2f} to {high:.2f}), "
                         f"I² = {r['i2']:.0f}%.")
    proportions = _read(processed, "pooled_proportions")
    if len(proportions):
        glmm = proportions[proportions["model"].str.startswith("GLMM")
                           & (proportions["status"] == "pooled")]
        for r in glmm.to_dict("records"):
            lines.append(f"**{r['outcome'].replace('_', ' ')}, {r['group'].replace('_', ' ')}** "
                         f"({int(r['k'])} studies, {int(r['participants'])} people): "
                         f"{100 * r['proportion']:.1f}% (95% CI {100 * r['ci_low']:.1f}% to "
                         f"{100 * r['ci_high']:.1f}%).")
    if len(lines) == 1:
        lines.append("No outcome has two or more effects to pool; the synthesis without "
                     "meta-analysis below gives the direction of the evidence.")
    if len(swim):
        directed = swim[(swim["n_favour"] + swim["n_against"]) > 0]
        lines.append(f"Synthesis without meta-analysis: {len(directed)} outcomes with a "
                     f"direction; {int((directed['n_favour'] > directed['n_against']).sum())} "
                     "of them with more results favouring the treatment than the control.")
    return lines


def present_other(other: pd.DataFrame) -> pd.DataFrame:
    """Outcomes synthesised without meta-analysis and not in the SoF table, for readers."""
    from metareview.report.text import format_p

    rows = []
    for r in other.to_dict("records"):
        directed = int(r["n_favour"]) + int(r["n_against"])
        rows.append({"outcome": r["outcome"].replace("_", " "), "results": int(r["k_studies"]),
                     "favour treatment": f"{int(r['n_favour'])} of {directed}" if directed
                     else "none with a direction",
                     "combined p (Stouffer)": format_p(r["stouffer_p"])})
    return pd.DataFrame(rows)
