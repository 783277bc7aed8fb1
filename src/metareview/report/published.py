"""This bundle's results beside the published reviews', number by number.

For each published result (`published.csv`) the bundle's counterpart is, in this order: a
pooled single-group proportion of the same outcome and subgroup (disease); a subgroup of a
pooled outcome; the pooled outcome (main analysis first); a single study; the synthesis without
meta-analysis of the outcome. Where fewer than two effects exist, the row says why, naming the
studies that report the outcome and the form they printed it in, and what they would have to
print for it to be pooled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from metareview.report.proportions import is_pooled
from metareview.report.pooled import MAIN
from metareview.report.text import format_interval, format_number, format_p, natural
from metareview.review.derive import analysis_of
from metareview.review.ordering import natural_key

COMPARISON_COLUMNS = [
    "review_id", "outcome", "subgroup", "published_measure", "published_k",
    "published_estimate", "published_ci_low", "published_ci_high", "published_i2",
    "published_p", "bundle_result", "bundle_measure", "bundle_k", "bundle_estimate",
    "bundle_ci_low", "bundle_ci_high", "bundle_i2", "bundle_pval", "comment",
]
NEEDED = ("per-arm means with SDs (or an effect estimate with its CI) for continuous outcomes, "
          "per-arm counts for binary ones")


def _read(processed: Path, name: str) -> pd.DataFrame:
    path = processed / f"{name}.csv"
    if not path.is_file():
        return pd.DataFrame()
    return pd.read_csv(path, keep_default_na=False, na_values=[""],
                       dtype={"outcome": str, "level": str, "group": str, "study_id": str})


def _why_not_pooled(outcome: str, effects, not_pooled, swim_results) -> str:
    """Which studies report the outcome, in what form, and what would let it be pooled."""
    parts = []
    if len(effects):
        for _, e in effects[effects["outcome"] == outcome].iterrows():
            parts.append(f"{e['study_id']} (an effect: {e['derivation'].split(';')[0]})")
    reported = {}
    if len(swim_results):
        for _, r in swim_results[(swim_results["outcome"] == outcome)
                                 & (swim_results["source"] != "effect")].iterrows():
            reported[r["study_id"]] = "a p value and direction" if np.isfinite(r["p"]) \
                else "a direction only"
    if len(not_pooled):
        for _, r in not_pooled[not_pooled["outcome"] == outcome].iterrows():
            reported.setdefault(r["study_id"], r["reason"].split(": ", 1)[-1])
    parts += [f"{study} ({form})" for study, form in
              sorted(reported.items(), key=lambda item: natural_key(item[0]))]
    if not parts:
        return ("no included study reports this outcome in a form that could be extracted; "
                f"pooling needs at least two studies printing {NEEDED}")
    return ("fewer than two effects: " + "; ".join(parts) + f". Pooling needs {NEEDED} from "
            "at least one more of them")


def side_by_side(processed: Path, review) -> pd.DataFrame:
    """One row per published result (COMPARISON_COLUMNS); see the module docstring."""
    published = review.published
    if published is None or published.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    pooled = _read(processed, "pooled")
    subgroups = _read(processed, "subgroups")
    proportions = _read(processed, "pooled_proportions")
    swim = _read(processed, "swim")
    swim_results = _read(processed, "swim_results")
    effects = _read(processed, "effects")
    not_pooled = _read(processed, "not_pooled")
    analysis_outcome = {o: a.outcome for o, a in analysis_of(review.outcomes).items()}
    rows = []
    for pub in published.to_dict("records"):
        outcome = analysis_outcome.get(str(pub["outcome"]), str(pub["outcome"]))
        subgroup = "" if pd.isna(pub.get("subgroup")) else str(pub["subgroup"])
        row = {"review_id": pub["review_id"], "outcome": outcome, "subgroup": subgroup,
               "published_measure": pub["measure"], "published_k": pub.get("k"),
               "published_estimate": pub.get("estimate"), "published_ci_low": pub.get("ci_low"),
               "published_ci_high": pub.get("ci_high"), "published_i2": pub.get("i2_percent"),
               "published_p": pub.get("p_value_text")}
        if outcome == "narrative":
            row.update(bundle_result="narrative figure", comment="counts of the published review "
                       "itself (studies, participants): see the PRISMA flow of notebook 1")
            rows.append(row)
            continue
        rows.append(_match(row, outcome, subgroup, pooled, subgroups, proportions, swim,
                           swim_results, effects, not_pooled))
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _match(row, outcome, subgroup, pooled, subgroups, proportions, swim, swim_results,
           effects, not_pooled) -> dict:
    if len(proportions):
        hits = proportions[(proportions["outcome"] == outcome)
                           & proportions["model"].str.startswith("GLMM")]
        if subgroup:
            hits = hits[hits["group"] == subgroup]
        if len(hits):
            h = hits.iloc[0].to_dict()
            row.update(bundle_result="pooled proportion (GLMM)" if is_pooled(h["status"])
                       else h["status"].split(":")[0], bundle_measure="proportion (%)",
                       bundle_k=h["k"], bundle_estimate=100 * h["proportion"],
                       bundle_ci_low=100 * h["ci_low"], bundle_ci_high=100 * h["ci_high"],
                       bundle_i2=h["i2"], comment=f"{h['events']} of {h['participants']} people")
            return row
        if subgroup and outcome in set(proportions["outcome"]) | {"death"}:
            row.update(bundle_result="no study", comment="no study of this subgroup reports "
                       "this outcome as a count of people")
            return row
    if subgroup and len(subgroups):
        groups = subgroups[(subgroups["outcome"] == outcome) & (subgroups["row"] == "group")
                           & (subgroups["level"].astype(str).str.lower() == subgroup.lower())]
        if len(groups):
            g = groups.iloc[0].to_dict()
            row.update(bundle_result="subgroup", bundle_measure=g["measure"], bundle_k=g["k"],
                       bundle_estimate=natural(g, "estimate"), bundle_ci_low=natural(g, "ci_low"),
                       bundle_ci_high=natural(g, "ci_high"), bundle_i2=g["i2"],
                       bundle_pval=g["pval"], comment=_measure_note(row, g["measure"]))
            return row
    mine = pooled[pooled["outcome"] == outcome] if len(pooled) else pooled
    if len(mine):
        # the main analysis first; the analysis of all studies where only it pools the outcome
        mine = mine.assign(_rank=[(a != MAIN) - 2 * (st == "pooled")
                                  for a, st in zip(mine["analysis"], mine["status"])])
        mine = mine.sort_values("_rank", kind="stable")
        m = mine.iloc[0].to_dict()
        pooled_here = m["status"] == "pooled"
        comment = [_measure_note(row, m["measure"])]
        main = mine[mine["analysis"] == MAIN]
        if m["analysis"] != MAIN and len(main):
            comment.append(f"the main analysis has k = {int(main.iloc[0]['k'])} "
                           f"({main.iloc[0]['studies']}); all studies pool k = {int(m['k'])}")
        if subgroup:
            comment.append(f"no '{subgroup}' subgroup with two or more studies; the whole "
                           "outcome is shown")
        if not pooled_here:
            comment.append(_why_not_pooled(outcome, effects, not_pooled, swim_results))
        row.update(bundle_result=("pooled" if pooled_here else "single study")
                   + f" ({m['analysis']} analysis)", bundle_measure=m["measure"],
                   bundle_k=m["k"], bundle_estimate=natural(m, "estimate"),
                   bundle_ci_low=natural(m, "ci_low"), bundle_ci_high=natural(m, "ci_high"),
                   bundle_i2=m["i2"], bundle_pval=m["pval"],
                   comment="; ".join(c for c in comment if c))
        return row
    if len(swim) and outcome in set(swim["outcome"]):
        s = swim[swim["outcome"] == outcome].iloc[0].to_dict()
        row.update(bundle_result="synthesis without meta-analysis", bundle_k=s["k_studies"],
                   bundle_pval=s["stouffer_p"],
                   comment=f"{s['n_favour']} of {s['n_favour'] + s['n_against']} results with a "
                           "direction favour the treatment; combined one-sided p (Stouffer); "
                           + _why_not_pooled(outcome, effects, not_pooled, swim_results))
        return row
    row.update(bundle_result="no result",
               comment=_why_not_pooled(outcome, effects, not_pooled, swim_results))
    return row


def _measure_note(row, measure) -> str:
    published = str(row["published_measure"])
    if published.upper() in ("SMD", "MD", "RR", "OR") and published.upper() != str(measure):
        return f"measures differ ({published} vs {measure}): not directly comparable"
    return ""


def present(comparison: pd.DataFrame) -> pd.DataFrame:
    """The side by side for readers: one line per published result."""
    rows = []
    for r in comparison.to_dict("records"):
        subgroup = r["subgroup"] if isinstance(r["subgroup"], str) else ""
        label = r["outcome"].replace("_", " ") + (f" ({subgroup.replace('_', ' ')})"
                                                  if subgroup else "")
        pub = (format_interval(r["published_estimate"], r["published_ci_low"],
                               r["published_ci_high"])
               if np.isfinite(r.get("published_ci_low", np.nan))
               else format_number(r["published_estimate"]))
        if isinstance(r["published_p"], str) and r["published_p"]:
            pub = f"{pub}, {r['published_p']}" if pub else r["published_p"]
        mine = format_interval(r["bundle_estimate"], r["bundle_ci_low"], r["bundle_ci_high"])
        if np.isfinite(r.get("bundle_pval", np.nan)):
            mine = f"{mine}, p {format_p(r['bundle_pval'])}" if mine else \
                f"p {format_p(r['bundle_pval'])}"
        rows.append({"published result": f"{r['review_id']}: {label}",
                     "published": f"{r['published_measure']} {pub}".strip(),
                     "this bundle": (f"{r['bundle_measure']} {mine}".strip()
                                     if isinstance(r["bundle_measure"], str) else mine),
                     "k": r["bundle_k"], "how": r["bundle_result"], "comment": r["comment"]})
    return pd.DataFrame(rows)
