"""Adverse events: counts per arm, Mantel-Haenszel and Peto estimates per event type, and the
events reported in words only."""

from __future__ import annotations

import pandas as pd

import metareview as mr
from metareview.report.frames import sorted_frame, with_exp
from metareview.review.ordering import sort_studies

SAFETY_COLUMNS = [
    "event", "method", "measure", "k_studies", "k_double_zero", "events_treatment",
    "total_treatment", "events_control", "total_control", "estimate", "se", "ci_low", "ci_high",
    "pval", "q", "i2", "estimate_exp", "ci_low_exp", "ci_high_exp", "status", "note",
]
ZERO_EVENT_NOTE = (
    "Mantel-Haenszel and Peto use the raw counts: a study with no events in one arm needs no "
    "continuity correction; a study with no events in either arm carries no information on a "
    "ratio and is left out of the pooled estimate (counted as studies without events)"
)


def _counted(adverse_events: pd.DataFrame) -> pd.DataFrame:
    """Comparative event counts: one row per study × event with both arms counted.

    Several arms of the same role in one study are added together (Cochrane Handbook 23.3.4).
    """
    ae = adverse_events
    if ae is None or ae.empty:
        return pd.DataFrame(columns=["study_id", "event", "a", "n1", "c", "n2"])
    ae = ae[ae["role"].isin(["treatment", "control"]) & ae["events"].notna() &
            ae["total"].notna()]
    sums = (ae.groupby(["study_id", "event", "role"], sort=True)[["events", "total"]]
              .sum().reset_index())
    wide = sums.pivot(index=["study_id", "event"], columns="role", values=["events", "total"])
    if ("events", "treatment") not in wide.columns or ("events", "control") not in wide.columns:
        return pd.DataFrame(columns=["study_id", "event", "a", "n1", "c", "n2"])
    wide = wide.dropna()
    out = pd.DataFrame({
        "study_id": [i[0] for i in wide.index], "event": [i[1] for i in wide.index],
        "a": wide[("events", "treatment")].to_numpy(float),
        "n1": wide[("total", "treatment")].to_numpy(float),
        "c": wide[("events", "control")].to_numpy(float),
        "n2": wide[("total", "control")].to_numpy(float),
    })
    return sort_studies(out, ["event", "study_id"]).reset_index(drop=True)


def adverse_events_by_arm(adverse_events: pd.DataFrame) -> pd.DataFrame:
    """Events and participants per event type and arm role, over studies reporting counts."""
    columns = ["event", "role", "studies", "events", "total", "percent"]
    if adverse_events is None or adverse_events.empty:
        return pd.DataFrame(columns=columns)
    ae = adverse_events[adverse_events["events"].notna() & adverse_events["total"].notna()]
    if ae.empty:
        return pd.DataFrame(columns=columns)
    out = (ae.groupby(["event", "role"], sort=True)
             .agg(studies=("study_id", "nunique"), events=("events", "sum"), total=("total", "sum"))
             .reset_index())
    out["events"] = out["events"].astype(int)
    out["total"] = out["total"].astype(int)
    out["percent"] = 100.0 * out["events"] / out["total"]
    return out[columns]


def safety_table(adverse_events: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per event type: Mantel-Haenszel RR and OR and Peto OR where both arms have counts.

    Double-zero studies are left out of the estimate (see `ZERO_EVENT_NOTE`); an event type
    with no comparative counts, or with no events at all, gets one row saying so.
    """
    counts = _counted(adverse_events)
    rows = []
    events = sorted(set(adverse_events["event"])) if adverse_events is not None and \
        not adverse_events.empty else []
    for event in events:
        part = counts[counts["event"] == event]
        double_zero = (part["a"] == 0) & (part["c"] == 0)
        informative = part[~double_zero]
        base = {"event": event, "k_studies": len(part), "k_double_zero": int(double_zero.sum()),
                "events_treatment": part["a"].sum(), "total_treatment": part["n1"].sum(),
                "events_control": part["c"].sum(), "total_control": part["n2"].sum(),
                "note": ZERO_EVENT_NOTE}
        if part.empty:
            # no counts at all: leave the count columns empty rather than print 0 of 0
            rows.append({"event": event, "k_studies": 0, "k_double_zero": 0, "method": "none",
                         "status": "no comparative counts (narrative or single-arm only)",
                         "note": ""})
            continue
        if informative.empty:
            rows.append({**base, "method": "none", "status": "no events in any arm: no ratio "
                         "can be estimated"})
            continue
        a, c = informative["a"].to_numpy(), informative["c"].to_numpy()
        b, d = informative["n1"].to_numpy() - a, informative["n2"].to_numpy() - c
        fits = []
        for measure in ("RR", "OR"):
            fits.append(("Mantel-Haenszel", measure,
                         lambda m=measure: mr.mantel_haenszel(a, b, c, d, measure=m, level=level)))
        fits.append(("Peto", "OR", lambda: mr.peto(a, b, c, d, level=level)))
        for method, measure, fit in fits:
            row = {**base, "method": method, "measure": measure}
            try:
                r = fit()
                row.update(estimate=r.estimate, se=r.se, ci_low=r.ci_low, ci_high=r.ci_high,
                           pval=r.pval, q=r.q, i2=r.i2, status="pooled" if len(informative) > 1
                           else "single study")
                if r.note:
                    row["status"] = r.note
            except ValueError as error:
                row["status"] = f"not estimable: {error}"
            rows.append(with_exp(row))
    return pd.DataFrame(rows, columns=SAFETY_COLUMNS)


def narrative_safety_table(adverse_events: pd.DataFrame) -> pd.DataFrame:
    """Adverse events reported in words only (no counts), with where the source says so."""
    columns = ["study_id", "event", "arm", "role", "narrative", "source_url", "source_location"]
    if adverse_events is None or adverse_events.empty:
        return pd.DataFrame(columns=columns)
    ae = adverse_events
    words = ae["narrative"].notna() & (ae["narrative"].astype(str).str.strip() != "")
    rows = ae[words & ae["events"].isna()][columns]
    return sorted_frame(rows, ["study_id", "event", "arm"])


SAFETY_OUTCOMES = ("any_adverse_event", "moderate_severe_adverse_event",
                   "serious_adverse_event", "death")


def summary_sentence(estimates: pd.DataFrame) -> str:
    """What the comparative safety analysis could do, in one sentence."""
    if estimates.empty:
        return "No adverse-event rows: nothing to pool."
    counted = estimates[estimates["method"] != "none"]
    if counted.empty:
        return ("No event type is counted in both arms of a study, so no comparative safety "
                "estimate is possible; the events are listed below as the sources give them.")
    events = counted["event"].nunique()
    return (f"{events} event type{'s' if events != 1 else ''} counted in both arms of at least "
            "one study; Mantel-Haenszel and Peto estimates below.")


def single_group_rates(processed) -> pd.DataFrame:
    """Adverse-event and death rates of single-group series (pooled_proportions.csv of
    notebook 3), for readers: outcome, group, studies, people, events, rate (95% CI)."""
    from pathlib import Path

    path = Path(processed) / "pooled_proportions.csv"
    if not path.is_file():
        return pd.DataFrame()
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    table = table[table["outcome"].isin(SAFETY_OUTCOMES) & table["model"].str.startswith("GLMM")]
    if table.empty:
        return pd.DataFrame()

    def pct(value):
        return "" if pd.isna(value) else f"{100 * value:.1f}%"

    return pd.DataFrame({
        "outcome": table["outcome"].str.replace("_", " "),
        "group": table["group"].str.replace("_", " "), "studies": table["k"],
        "people": table["participants"], "events": table["events"],
        "rate (95% CI)": [f"{pct(p)} ({pct(lo)} to {pct(hi)})" if not pd.isna(p) else ""
                          for p, lo, hi in zip(table["proportion"], table["ci_low"],
                                               table["ci_high"])],
        "how": [s.split(":")[0] for s in table["status"]],
    }).reset_index(drop=True)
