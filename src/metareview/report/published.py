"""This bundle's results beside the published reviews', matched by outcome and subgroup."""

from __future__ import annotations

import pandas as pd

from metareview.report.frames import sorted_frame
from metareview.report.subgroups import SUBGROUP_MODERATORS
from metareview.stats.vocabulary import is_ratio

PUBLISHED_COMPARISON_COLUMNS = [
    "review_id", "outcome", "subgroup", "published_measure", "published_k",
    "published_estimate", "published_ci_low", "published_ci_high", "published_i2",
    "published_p", "bundle_measure", "bundle_k", "bundle_estimate", "bundle_ci_low",
    "bundle_ci_high", "bundle_i2", "bundle_pval", "comment",
]


def published_comparison(pooled: pd.DataFrame, published: pd.DataFrame,
                         subgroups: pd.DataFrame | None = None) -> pd.DataFrame:
    """This bundle's results beside each published result, matched by outcome (and subgroup).

    Ratios are compared on the ratio scale (published reviews print RR, not log RR). When the
    measures differ (say SMD against MD) the numbers are shown but the comment says they are
    not directly comparable. A subgroup row is matched to the bundle's subgroup of the same
    name (case-insensitive) in `subgroups` (intervention class first).
    """
    if published is None or published.empty:
        return pd.DataFrame(columns=PUBLISHED_COMPARISON_COLUMNS)
    rows = []
    for _, pub in published.iterrows():
        subgroup_name = pub.get("subgroup")
        subgroup_name = "" if pd.isna(subgroup_name) else str(subgroup_name)
        row = {"review_id": pub["review_id"], "outcome": pub["outcome"],
               "subgroup": subgroup_name, "published_measure": pub["measure"],
               "published_k": pub.get("k"), "published_estimate": pub.get("estimate"),
               "published_ci_low": pub.get("ci_low"), "published_ci_high": pub.get("ci_high"),
               "published_i2": pub.get("i2_percent"), "published_p": pub.get("p_value_text")}
        mine = _bundle_match(pooled, subgroups, str(pub["outcome"]), subgroup_name)
        if mine is None:
            row["comment"] = "no result in this bundle for this outcome"
            rows.append(row)
            continue
        measure = str(mine["measure"])
        ratio = is_ratio(measure)
        pick = (lambda name: mine.get(f"{name}_exp")) if ratio else (lambda name: mine.get(name))
        row.update(bundle_measure=measure, bundle_k=mine.get("k"),
                   bundle_estimate=pick("estimate"), bundle_ci_low=pick("ci_low"),
                   bundle_ci_high=pick("ci_high"), bundle_i2=mine.get("i2"),
                   bundle_pval=mine.get("pval"))
        comments = []
        if str(pub["measure"]).upper() != measure.upper():
            comments.append(f"measures differ ({pub['measure']} vs {measure}): not directly "
                            "comparable")
        status = str(mine.get("status", ""))
        if status and status != "pooled":
            comments.append(status)
        row["comment"] = "; ".join(comments)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=PUBLISHED_COMPARISON_COLUMNS)
    return sorted_frame(frame, ["outcome", "review_id", "subgroup"])


def _bundle_match(pooled, subgroups, outcome: str, subgroup_name: str):
    if not subgroup_name:
        hits = pooled[pooled["outcome"] == outcome] if pooled is not None and len(pooled) else []
        return None if len(hits) == 0 else hits.iloc[0].to_dict()
    if subgroups is None or subgroups.empty:
        return None
    groups = subgroups[(subgroups["outcome"] == outcome) & (subgroups["row"] == "group")]
    groups = groups[groups["level"].astype(str).str.lower() == subgroup_name.lower()]
    if groups.empty:
        return None
    order = {m: i for i, m in enumerate(SUBGROUP_MODERATORS)}
    groups = groups.assign(_o=groups["moderator"].map(order)).sort_values("_o")
    return groups.iloc[0].drop("_o").to_dict()
