"""The consistency audit: do a review's printed numbers fit together?

Validation (`metareview.review.sheets`) refuses what cannot be true (events above the total, an
estimate outside its CI). The audit flags what is possible but suspicious, so an extractor can
hold the sheet against the source once more:

- **p values**: where a result has both arms' means, spreads and n and a printed between-arm p
  value, the p of the t test they imply (parallel, or paired with `paired_r` for split-face
  data; an unlabelled "±" under both readings) is compared with the printed one;
- **GRIM** (Brown & Heathers 2017): a mean of n whole-number scores (outcomes marked
  `integer_scale` in outcomes.csv, final or change values) must be a whole number over n;
- **percentages**: a printed percentage of n people must be k/n for a whole k (arms,
  proportions and ordinal counts);
- **events <= n**: repeated here so that the audit table lists every check that ran.

`audit(review)` returns one row per check with `status` "ok" or "warning"; nothing stops a run.
"""

from __future__ import annotations

import math

import pandas as pd

from metareview.review.effect import missing
from metareview.review.ordering import sort_studies
from metareview.review.within_person import is_within_person
from metareview.stats import consistency

AUDIT_COLUMNS = ["study_id", "sheet", "row", "outcome", "check", "status", "detail"]


def _raw(review, filename: str) -> pd.DataFrame:
    path = review.path / filename
    if not path.is_file():
        return pd.DataFrame()
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _row(study, sheet, row, outcome, check, ok, detail) -> dict:
    return {"study_id": study, "sheet": sheet, "row": row, "outcome": outcome, "check": check,
            "status": "ok" if ok else "warning", "detail": detail}


def _p_checks(review, paired_r: float) -> list[dict]:
    arms, contrasts = review.arms, review.contrasts
    within = {row["study_id"]: is_within_person(row)
              for row in review.studies.to_dict("records")}
    found = []
    for _, c in contrasts.iterrows():
        if missing(c["p_value"]):
            continue
        select = ((arms["study_id"] == c["study_id"]) & (arms["comparison"] == c["comparison"])
                  & (arms["outcome"] == c["outcome"]))
        same_week = (arms["timepoint_weeks"].isna() if missing(c["timepoint_weeks"])
                     else arms["timepoint_weeks"] == c["timepoint_weeks"])
        pair = {r["role"]: r for r in arms[select & same_week].to_dict("records")}
        if set(pair) != {"treatment", "control"}:
            continue
        t, k = pair["treatment"], pair["control"]
        if any(missing(x) for x in (t["mean"], k["mean"], t["n"], k["n"])):
            continue
        split = within.get(c["study_id"], False)
        printed = f"p {c['p_operator']} {c['p_value']:g}"
        row = int(contrasts.index.get_loc(_)) + 2
        if t["reported_form"] == "mean_unlabelled" and k["reported_form"] == "mean_unlabelled":
            reading = consistency.read_unlabelled_dispersion(
                t["mean"], t["dispersion_unlabelled"], t["n"], k["mean"],
                k["dispersion_unlabelled"], k["n"], c["p_value"], c["p_operator"], split, paired_r)
            found.append(_row(c["study_id"], "contrasts.csv", row, c["outcome"],
                              "unlabelled ± read by p", reading.decided, reading.reason))
            continue
        sds = []
        for arm in (t, k):
            if arm["reported_form"] == "mean_sd":
                sds.append(float(arm["sd"]))
            elif arm["reported_form"] == "mean_se":
                sds.append(float(arm["se"]) * math.sqrt(float(arm["n"])))
        if len(sds) != 2:
            continue
        p = (consistency.paired_p(t["mean"], sds[0], k["mean"], sds[1], t["n"], paired_r)
             if split else consistency.two_sample_p(t["mean"], sds[0], t["n"], k["mean"],
                                                    sds[1], k["n"]))
        ok = consistency.p_agrees(p, c["p_value"], c["p_operator"])
        design = f"paired, r = {paired_r:g}" if split else "two-sample t"
        found.append(_row(c["study_id"], "contrasts.csv", row, c["outcome"], "p recomputed",
                          ok, f"printed {printed}; the means, SDs and n give p = {p:.2g} "
                              f"({design})"))
    return found


def _grim_checks(review) -> list[dict]:
    integer = set()
    if "integer_scale" in review.outcomes.columns:
        integer = set(review.outcomes.loc[review.outcomes["integer_scale"].fillna(False)
                                          .astype(bool), "outcome"])
    raw = _raw(review, "arms.csv")
    found = []
    for position, row in review.arms.reset_index(drop=True).iterrows():
        if row["outcome"] not in integer or row["value_type"] not in ("final", "change"):
            continue
        if missing(row["mean"]) or missing(row["n"]) or raw.empty:
            continue
        decimals = consistency.decimals_of(raw.loc[position, "mean"])
        verdict = consistency.grim(float(row["mean"]), int(row["n"]), decimals)
        if verdict is None:
            continue
        found.append(_row(row["study_id"], "arms.csv", position + 2, row["outcome"], "GRIM",
                          verdict, f"mean {raw.loc[position, 'mean']} of n = {int(row['n'])} "
                          "whole-number scores" + ("" if verdict else ": no whole-number total "
                                                   "gives this mean (check n or the mean)")))
    return found


def _percent_checks(review) -> list[dict]:
    found = []
    for sheet, frame in (("arms.csv", review.arms), ("proportions.csv", review.proportions),
                         ("ordinal_counts.csv", review.ordinal_counts)):
        raw = _raw(review, sheet)
        if frame.empty or raw.empty:
            continue
        for position, row in frame.reset_index(drop=True).iterrows():
            if missing(row.get("percent")) or missing(row.get("total")):
                continue
            decimals = consistency.decimals_of(raw.loc[position, "percent"])
            ok = consistency.percent_possible(float(row["percent"]), int(row["total"]), decimals)
            detail = f"{raw.loc[position, 'percent']}% of {int(row['total'])}"
            detail += "" if ok else ": no whole count k of the total gives this percentage"
            found.append(_row(row["study_id"], sheet, position + 2, row.get("outcome", ""),
                              "percentage of n", ok, detail))
    return found


def _event_checks(review) -> list[dict]:
    found = []
    for sheet, frame in (("arms.csv", review.arms), ("proportions.csv", review.proportions),
                         ("adverse_events.csv", review.adverse_events)):
        for position, row in frame.reset_index(drop=True).iterrows():
            if missing(row.get("events")) or missing(row.get("total")):
                continue
            ok = int(row["events"]) <= int(row["total"])
            found.append(_row(row["study_id"], sheet, position + 2,
                              row.get("outcome", row.get("event", "")), "events <= n", ok,
                              f"{int(row['events'])} of {int(row['total'])}"))
    return found


def audit(review, paired_r: float = 0.5) -> pd.DataFrame:
    """Every consistency check of `review` (a loaded `Review`), one row each, warnings first."""
    rows = (_p_checks(review, paired_r) + _grim_checks(review) + _percent_checks(review)
            + _event_checks(review))
    frame = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    if frame.empty:
        return frame
    frame["_order"] = (frame["status"] != "warning").astype(int)
    return (sort_studies(frame, ["_order", "study_id", "sheet", "row"])
            .drop(columns="_order").reset_index(drop=True))


def summary(findings: pd.DataFrame) -> str:
    """One sentence: how many checks ran and which ones warn."""
    if findings.empty:
        return "The audit found no result it could check."
    warnings = findings[findings["status"] == "warning"]
    text = f"The audit ran {len(findings)} checks; "
    if warnings.empty:
        return text + "every printed number fits with the others."
    listed = "; ".join(f"{w.study_id} ({w.check}, {w.sheet} row {w.row})"
                       for w in warnings.itertuples())
    return text + f"{len(warnings)} warn: {listed}."
