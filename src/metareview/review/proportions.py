"""Single-group proportions from `proportions.csv`: one count per study, outcome and group.

`derive_proportions(review)` picks, for every study and outcome, the rows of the treatment
groups (`role` treatment) to pool, and lists the others with the reason:

1. the latest stated timepoint (or the earliest, with `timepoint="first"`; an unstated
   timepoint counts after the stated ones);
2. among the rows left, the definition with the most people (a study's whole-sample result
   before a subgroup of it, e.g. men only);
3. the groups (arms) reporting that definition are added together (several doses of the same
   therapy; Cochrane Handbook 23.3.4);
4. a count printed only as a percentage of n becomes round(percent/100 · n), flagged.

Rows without a count (narrative) and comparator arms are listed, not pooled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metareview.review.effect import missing
from metareview.review.schema import analysed_design
from metareview.stats.conversions import counts_from_percent

PROPORTION_COLUMNS = [
    "study_id", "outcome", "definition", "timepoint_weeks", "arms", "events", "total",
    "proportion", "from_percent", "condition", "intervention_class", "design", "year",
    "main_analysis", "derivation", "source_url", "source_location",
]
UNUSED_COLUMNS = ["study_id", "outcome", "definition", "arm", "reason"]


def _count(row: dict) -> tuple[int | None, bool]:
    if not missing(row["events"]) and not missing(row["total"]):
        return int(row["events"]), False
    if not missing(row["percent"]) and not missing(row["total"]):
        return int(counts_from_percent(float(row["percent"]), int(row["total"]))), True
    return None, False


def derive_proportions(review, timepoint: str = "last",
                       exclude_studies=()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(proportions to pool, rows not used with the reason); see the module docstring."""
    rows = review.proportions
    studies = review.studies.set_index("study_id")
    definitions = review.definitions
    excluded = set(exclude_studies)
    chosen, unused = [], []
    for (study_id, outcome), part in rows.groupby(["study_id", "outcome"], sort=True):
        records = part.to_dict("records")
        usable = []
        for record in records:
            why = None
            if record["role"] != "treatment":
                why = "comparator arm (not a treatment group)"
            elif study_id in excluded:
                why = "excluded by the exclude_studies parameter"
            else:
                count, _ = _count(record)
                if count is None:
                    why = "no count or percentage of a stated n (narrative)"
            if why:
                unused.append({"study_id": study_id, "outcome": outcome,
                               "definition": record["definition"], "arm": record["arm"],
                               "reason": why})
            else:
                usable.append(record)
        if not usable:
            continue
        weeks = [r["timepoint_weeks"] for r in usable]
        stated = sorted({w for w in weeks if not missing(w)}, reverse=(timepoint == "last"))
        week = stated[0] if stated else np.nan
        at_week = [r for r in usable if (missing(r["timepoint_weeks"]) if missing(week)
                                         else r["timepoint_weeks"] == week)]
        totals: dict[str, int] = {}
        for r in at_week:
            totals[r["definition"]] = totals.get(r["definition"], 0) + int(r["total"])
        definition = max(totals, key=lambda d: (totals[d], -list(totals).index(d)))
        picked = [r for r in at_week if r["definition"] == definition]
        for r in usable:
            if r not in picked:
                why = ("another timepoint of the same result was used" if r not in at_week
                       else "another definition (or a subgroup) of the same result was used")
                unused.append({"study_id": study_id, "outcome": outcome,
                               "definition": r["definition"], "arm": r["arm"], "reason": why})
        counts = [_count(r) for r in picked]
        events = sum(c for c, _ in counts)
        total = sum(int(r["total"]) for r in picked)
        from_percent = any(flag for _, flag in counts)
        arms = " + ".join(str(r["arm"]) for r in picked)
        how = f"{events}/{total}"
        if from_percent:
            how += " (count from the printed percentage of n, rounded)"
        if len(picked) > 1:
            how += f"; groups added together ({arms})"
        study = studies.loc[study_id]
        chosen.append({
            "study_id": study_id, "outcome": outcome, "definition": definition,
            "timepoint_weeks": week, "arms": arms, "events": events, "total": total,
            "proportion": events / total, "from_percent": from_percent,
            "condition": study["condition"], "intervention_class": study["intervention_class"],
            "design": analysed_design(study["design"], study["randomised"]),
            "year": study["year"],
            "main_analysis": definitions.in_main_analysis(study_id, study["intervention_class"]),
            "derivation": how, "source_url": picked[0]["source_url"],
            "source_location": picked[0]["source_location"],
            # the review's own study columns (its subgroups) travel along
            **{c.name: study[c.name] for c in definitions.study_columns},
        })
    extra = [c.name for c in definitions.study_columns if c.name not in PROPORTION_COLUMNS]
    return (pd.DataFrame(chosen, columns=PROPORTION_COLUMNS + extra),
            pd.DataFrame(unused, columns=UNUSED_COLUMNS))
