"""Small helpers shared by the table builders: grouping effects by outcome, study labels,
back-transformed ratio columns and deterministic sorting."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from metareview.review.ordering import sort_studies
from metareview.stats.vocabulary import is_ratio

# A figure draws at most this many studies one row each (forest, subgroup, cumulative and
# traffic-light plots), and a leave-one-out table refits at most this many: a review with
# more gets figures of bounded size that summarise its studies, each study's numbers in a
# table beside them (a row per study would make a figure metres long, slow to draw and
# unreadable, and thousands of refits would take minutes).
MAX_STUDY_ROWS = 60


def exp_if_ratio(measure: str, value: float) -> float:
    return float(np.exp(value)) if is_ratio(measure) and np.isfinite(value) else math.nan


def with_exp(row: dict) -> dict:
    for name in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "estimate_adjusted",
                 "ci_low_adjusted", "ci_high_adjusted"):
        if name in row:
            row[f"{name}_exp"] = exp_if_ratio(row.get("measure", ""), row[name])
    return row


def outcome_groups(effects: pd.DataFrame) -> Iterable[tuple[str, str, pd.DataFrame]]:
    """(outcome, measure, rows) in sorted order, rows sorted by study."""
    if effects is None or len(effects) == 0:
        return []
    keys = effects[["outcome", "measure"]].drop_duplicates().sort_values(["outcome", "measure"])
    out = []
    for outcome, measure in keys.itertuples(index=False):
        part = effects[(effects["outcome"] == outcome) & (effects["measure"] == measure)]
        out.append((str(outcome), str(measure), sort_studies(part, ["study_id", "comparison"])))
    return out


def study_labels(part: pd.DataFrame) -> list[str]:
    """Study id, plus the comparison when a study contributes more than one row."""
    counts = part["study_id"].value_counts()
    return [
        f"{s} ({c})" if counts[s] > 1 else str(s)
        for s, c in zip(part["study_id"], part["comparison"])
    ]


def sorted_frame(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    keys = [k for k in keys if k in frame.columns]
    if not keys or frame.empty:
        return frame.reset_index(drop=True)
    return sort_studies(frame, keys).reset_index(drop=True)


def study_intervals(effects: pd.DataFrame, level: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, t_based) of each study's own interval, on the analysis scale.

    The one rule for a single study's interval, wherever it is shown (forest plots, the pooled
    table, the summary of findings, GRADE): t on the effect's `df` where its SE came from a
    t-based interval, test or p value the source printed (so the interval is the printed one,
    or the one the printed p implies), otherwise the Wald (z) interval of metafor and RevMan.
    """
    from metareview.stats.conversions import critical_value

    yi = effects["yi"].to_numpy(float)
    se = np.sqrt(effects["vi"].to_numpy(float))
    df = (effects["df"].to_numpy(float) if "df" in effects
          else np.full(yi.size, math.nan))
    t_based = np.isfinite(df)
    crit = np.full(yi.size, float(critical_value(level)))
    if t_based.any():
        crit[t_based] = critical_value(level, df[t_based])
    return yi - crit * se, yi + crit * se, t_based
