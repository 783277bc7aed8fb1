"""Tables that describe the evidence: the included studies, the PRISMA flow, the risk of bias
and how each result was made analysable."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from metareview import files
from metareview.report.frames import sorted_frame
from metareview.report.text import md, plural
from metareview.review import checksums
from metareview.review.sheets import SHEET_NAMES, Review


def validate_and_copy(review: Review, processed: Path) -> str:
    """Check the raw files against SHA256SUMS (after the sheets passed validation), write a
    clean copy of every sheet to `processed/clean_<sheet>.csv` and a validation log; return
    the log's text."""
    checksums.verify(review.path)
    log = [f"review: {review.name}", f"folder: {files.display_path(review.path)}",
           "validation: every sheet passed", "checksums: every file matches SHA256SUMS", ""]
    for sheet in SHEET_NAMES:
        frame = getattr(review, sheet)
        files.write_csv(frame, processed / f"clean_{sheet}.csv", within=processed)
        log.append(f"{sheet}.csv: {plural(len(frame), 'row')}")
    text = "\n".join(log) + "\n"
    files.write_text(text, processed / "validation_log.txt", within=processed)
    return text


def studies_sentence(characteristics: pd.DataFrame) -> str:
    """"The review holds **14 studies**: 2 non randomised, 8 split face, ..."."""
    designs = characteristics["design"].value_counts().sort_index()
    return (f"The review holds **{plural(len(characteristics), 'study')}**: "
            + ", ".join(f"{n} {md(d.replace('_', ' '))}" for d, n in designs.items()) + ".")


def effects_sentence(effects: pd.DataFrame, not_pooled: pd.DataFrame,
                     proportions: pd.DataFrame | None = None) -> str:
    """How many results became effects (and single-group proportions), how many of them after
    a conversion, and how many could not be used."""
    if effects.empty:
        head = "No comparative result could be turned into an effect size"
    else:
        converted = int(effects["converted"].astype(bool).sum())
        paired = int(effects["paired"].astype(bool).sum())
        head = (f"**{plural(len(effects), 'effect')}** from "
                f"{plural(effects['study_id'].nunique(), 'study')} on "
                f"{plural(effects['outcome'].nunique(), 'outcome')}: "
                f"{converted} after a conversion, {paired} from paired (split-face) data")
    if proportions is not None and len(proportions):
        head += (f"; **{plural(len(proportions), 'single-group proportion')}** from "
                 f"{plural(proportions['study_id'].nunique(), 'study')}")
    return f"{head}; {plural(len(not_pooled), 'comparative result')} could not be used (below)."


def not_pooled_counts(not_pooled: pd.DataFrame) -> pd.DataFrame:
    """How many results could not be used, by reason (the timepoint prefix dropped)."""
    reasons = not_pooled["reason"].str.replace(r"^(week [\d.]+|timepoint not stated): ", "",
                                               regex=True).str.split("; ").str[0]
    counts = reasons.value_counts().rename_axis("reason").reset_index(name="results")
    return counts.sort_values(["results", "reason"], ascending=[False, True]).reset_index(
        drop=True)


def extraction_check_summary(checks: pd.DataFrame) -> pd.DataFrame:
    """Disagreements between the two extractions, per sheet (summary rows left out)."""
    disagreements = checks[checks["field"] != "all other fields"]
    if disagreements.empty:
        return pd.DataFrame(columns=["sheet", "disagreements", "studies"])
    return (disagreements.groupby("sheet").agg(disagreements=("field", "size"),
                                                studies=("study_id", "nunique"))
            .reset_index().sort_values("disagreements", ascending=False)
            .reset_index(drop=True))


def extraction_sentence(checks: pd.DataFrame, studies: pd.DataFrame) -> str:
    """One sentence on the double extraction."""
    if checks.empty:
        return ("This review has no record of a second extraction (extraction_checks.csv): "
                "its numbers were extracted once.")
    covered = checks["study_id"].nunique()
    disagreements = int((checks["field"] != "all other fields").sum())
    return (f"{plural(covered, 'study')} of {len(studies)} were extracted twice; the passes "
            f"disagreed on {plural(disagreements, 'field')}, each settled against the source "
            "(counted by sheet below; every one is listed in extraction_checks.csv).")


def effects_per_outcome(effects: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per outcome and measure: effects, studies, converted and paired effects."""
    summary = (effects.groupby(["outcome", "measure"])
               .agg(k=("yi", "size"), studies=("study_id", "nunique"),
                    converted=("converted", "sum"), paired=("paired", "sum"))
               .reset_index())
    labels = dict(zip(outcomes["outcome"], outcomes["label"]))
    summary.insert(1, "label", summary["outcome"].map(labels))
    return summary

STUDY_COLUMNS = [
    "study_id", "citation", "year", "design", "randomised", "condition", "intervention_class",
    "intervention", "comparator", "co_intervention", "n_randomised", "n_analysed",
    "follow_up_weeks", "country", "source_level",
]
# What a reader's table shows (the CSV keeps every column, citations included).
WORD_STUDY_COLUMNS = ["study_id", "year", "country", "design", "n_analysed", "condition",
                      "intervention", "comparator", "follow_up_weeks"]
SHOWN_STUDY_COLUMNS = ["study_id", "design", "randomised", "n_analysed", "condition",
                       "intervention_class", "intervention", "comparator", "outcomes"]


def study_characteristics(review) -> pd.DataFrame:
    """One row per study with design, population, intervention and the outcomes it reports."""
    studies = review.studies[[c for c in STUDY_COLUMNS if c in review.studies.columns]].copy()
    reported = pd.concat([review.arms[["study_id", "outcome"]],
                          review.contrasts[["study_id", "outcome"]]], ignore_index=True)
    outcomes = (reported.drop_duplicates().sort_values(["study_id", "outcome"])
                .groupby("study_id")["outcome"].agg("; ".join))
    studies["outcomes"] = studies["study_id"].map(outcomes).fillna("")
    return sorted_frame(studies, ["study_id"])


def prisma_counts(search_log: pd.DataFrame, screening: pd.DataFrame) -> pd.DataFrame:
    """The numbers of a PRISMA 2020-style flow diagram from the search log and screening sheet.

    identified = Σ records_seen over the searches; not kept on a title glance =
    Σ (records_seen − records_kept); records assessed = rows of the screening sheet (a record
    kept by several searches is assessed once: the difference is shown as repeat hits);
    duplicates = decisions "duplicate"; screened = the other records; then exclusions on
    title/abstract and after full assessment with their reasons, and the included records with
    the number of distinct studies they make. Columns: step, count, detail, side ("main" or
    "excluded") and after (the main step an exclusion box leaves from).
    """
    seen = int(search_log["records_seen"].sum()) if len(search_log) else 0
    kept = int(search_log["records_kept"].sum()) if len(search_log) else 0
    scr = screening if screening is not None and len(screening) else pd.DataFrame(
        columns=["stage", "decision", "reason", "study_id"])
    decisions = scr["decision"].astype(str)
    stages = scr["stage"].astype(str)
    duplicates = int((decisions == "duplicate").sum())
    screened = int((decisions != "duplicate").sum())
    excluded_ta = scr[(decisions == "excluded") & (stages == "title_abstract")]
    excluded_ft = scr[(decisions == "excluded") & (stages == "full_text")]
    included = scr[decisions == "included"]
    n_studies = int(included["study_id"].dropna().nunique())

    def reasons(frame) -> str:
        if len(frame) == 0:
            return ""
        counts = frame["reason"].fillna("no reason given").value_counts()
        return "\n".join(f"{reason}: {n}" for reason, n in sorted(counts.items()))

    assessed = len(scr)
    repeat_hits = kept - assessed
    rows = [
        {"step": "Records identified by the searches", "count": seen, "side": "main",
         "detail": f"{len(search_log)} searches"},
        {"step": "Not kept on a title glance", "count": seen - kept, "side": "excluded",
         "after": "Records identified by the searches"},
        {"step": "Records kept", "count": kept, "side": "main"},
        {"step": "Repeat hits of the same record", "count": max(repeat_hits, 0),
         "side": "excluded", "after": "Records kept",
         "detail": "" if repeat_hits >= 0 else
         f"the screening sheet lists {-repeat_hits} records more than the searches kept"},
        {"step": "Records assessed", "count": assessed, "side": "main"},
        {"step": "Duplicates removed", "count": duplicates, "side": "excluded",
         "after": "Records assessed"},
        {"step": "Records screened (title/abstract)", "count": screened, "side": "main"},
        {"step": "Excluded on title/abstract", "count": len(excluded_ta), "side": "excluded",
         "after": "Records screened (title/abstract)", "detail": reasons(excluded_ta)},
        {"step": "Reports assessed for eligibility", "count": screened - len(excluded_ta),
         "side": "main"},
        {"step": "Excluded after assessment", "count": len(excluded_ft), "side": "excluded",
         "after": "Reports assessed for eligibility", "detail": reasons(excluded_ft)},
        {"step": "Reports included", "count": len(included), "side": "main",
         "detail": f"{n_studies} studies"},
    ]
    return pd.DataFrame(rows, columns=["step", "count", "detail", "side", "after"]).fillna(
        {"detail": "", "after": ""})


def rob_table(risk_of_bias: pd.DataFrame) -> pd.DataFrame:
    """Risk-of-bias judgements wide: one row per study, one column per domain, plus the tool."""
    if risk_of_bias is None or risk_of_bias.empty:
        return pd.DataFrame(columns=["study_id", "tool"])
    wide = risk_of_bias.pivot(index=["study_id", "tool"], columns="domain", values="judgement")
    domains = sorted(wide.columns, key=lambda d: (d == "overall", len(d), d))
    return wide[domains].reset_index().rename_axis(columns=None).sort_values(
        ["tool", "study_id"]).reset_index(drop=True)


def conversions_table(effects: pd.DataFrame) -> pd.DataFrame:
    """How each result was made analysable: the derivation text and the conversion flags."""
    columns = ["study_id", "comparison", "outcome", "timepoint_weeks", "measure", "converted",
               "paired", "paired_r", "derivation", "source_location"]
    if effects is None or effects.empty:
        return pd.DataFrame(columns=columns)
    return sorted_frame(effects[columns], ["outcome", "study_id", "comparison"])
