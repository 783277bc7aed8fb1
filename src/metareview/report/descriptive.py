"""Tables that describe the evidence: the included studies, the risk of bias and how each
result was made analysable (the PRISMA flow is `metareview.report.prisma`)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from metareview import files
from metareview.report.frames import sorted_frame
from metareview.report.text import md, plural
from metareview.review import checksums
from metareview.review.ordering import natural_sorted, sort_studies
from metareview.review.schema import analysed_design
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
    log += [f"note: {note}" for note in getattr(review, "notes", ())]
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
                f"{converted} after a conversion")
        if paired:  # a review of parallel trials has no word of within-person data
            head += f", {paired} from within-person (paired) data"
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
        return ("This review has no record of a second extraction (`extraction_checks.csv`): "
                "its numbers were extracted once.")
    covered = checks["study_id"].nunique()
    disagreements = int((checks["field"] != "all other fields").sum())
    return (f"{plural(covered, 'study')} of {len(studies)} were extracted twice; the passes "
            f"disagreed on {plural(disagreements, 'field')}, each settled against the source "
            "(counted by sheet below; every one is listed in `extraction_checks.csv`).")


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
# The designs of `metareview.review.schema.DESIGNS` in words.
DESIGN_LABELS = {"parallel": "parallel groups", "split_face": "split-face (within-person)",
                 "crossover": "crossover", "cluster": "cluster", "non_randomised":
                 "non-randomised comparison", "single_arm": "single group (no control)",
                 "within_person": "within-person"}
NOT_STATED = "not stated"
# A first author at the start of a citation: a capitalised surname (with a particle such as
# "La" or "Del"), then initials and a comma or full stop, or "et al".
_FIRST_AUTHOR = re.compile(
    r"^\s*((?:(?:La|Le|De|Del|Della|Di|Da|Van|Von|El|Al)\s+)?[A-Z][^\s,.\[\]()]*)"
    r"(?:\s+[A-Z]{1,4}[,.]|\s+[A-Z]{1,4}\s*$|,?\s+et al)")
# What the table of notebook 01 shows (the CSV keeps every column, citations included).
SHOWN_STUDY_COLUMNS = ["study_id", "design", "randomised", "n_analysed", "condition",
                       "intervention_class", "intervention", "comparator", "outcomes"]


def study_characteristics(review) -> pd.DataFrame:
    """One row per study with design, population, intervention and the outcomes it reports."""
    studies = review.studies[[c for c in STUDY_COLUMNS if c in review.studies.columns]].copy()
    reported = pd.concat([review.arms[["study_id", "outcome"]],
                          review.contrasts[["study_id", "outcome"]]], ignore_index=True)
    outcomes = (sort_studies(reported.drop_duplicates(), ["study_id", "outcome"])
                .groupby("study_id")["outcome"].agg("; ".join))
    studies["outcomes"] = studies["study_id"].map(outcomes).fillna("")
    # grouped and labelled as analysed: a parallel study not randomised is a non-randomised
    # comparison (schema.analysed_design)
    studies["design"] = [analysed_design(d, r)
                         for d, r in zip(studies["design"], studies["randomised"])]
    return sorted_frame(studies, ["study_id"])


def study_names(review) -> dict[str, str]:
    """Study id → the name a reader sees, in tables and figures alike: the studies sheet's
    `label` where it has one, otherwise "Author Year" (`study_labels`)."""
    studies = review.studies
    names = study_labels(studies)
    if "label" not in studies.columns:
        return names
    return {str(s): (str(label) if isinstance(label, str) and label.strip() else names[str(s)])
            for s, label in zip(studies["study_id"], studies["label"])}


def study_labels(studies: pd.DataFrame) -> dict[str, str]:
    """Each study's label for readers, "First author Year" (Cochrane's and RevMan's study
    names), from the citation's first author and the `year` column.

    A citation that does not start with an author (a title, "[authors not shown ...]") or a
    study without a year keeps its study id, with spaces for underscores. Labels that would be
    the same within the review get the letters a, b, ... in the order of the study ids, as
    reference lists do.
    """
    labels = {}
    for study_id, citation, year in zip(studies["study_id"],
                                        studies.get("citation", pd.Series(dtype=str)).reindex(
                                            studies.index),
                                        studies.get("year", pd.Series(dtype=float)).reindex(
                                            studies.index)):
        author = _FIRST_AUTHOR.match(str(citation)) if isinstance(citation, str) else None
        has_year = year is not None and not pd.isna(year)
        if author and has_year:
            labels[str(study_id)] = f"{author.group(1)} {int(float(year))}"
        else:
            labels[str(study_id)] = str(study_id).replace("_", " ")
    counts = pd.Series(labels).value_counts()
    seen: dict[str, int] = {}
    for study_id in natural_sorted(labels):
        label = labels[study_id]
        if counts[label] > 1:
            seen[label] = seen.get(label, 0) + 1
            labels[study_id] = f"{label}{chr(ord('a') + seen[label] - 1)}"
    return labels


def present_characteristics(characteristics: pd.DataFrame, definitions=None) -> pd.DataFrame:
    """The characteristics of the included studies for a manuscript: one row per study in the
    order of their labels, the review's words for coded values (conditions from review.yaml,
    designs from `DESIGN_LABELS`) and headers in words.

    Columns: Study (`study_labels`), Year, Country, Design, Participants (randomised or
    enrolled, and analysed where the source gives a different number), Condition,
    Intervention, Comparator, Follow-up. A value the sources do not give reads "not stated".
    """
    columns = ["Study", "Year", "Country", "Design", "Participants", "Condition",
               "Intervention", "Comparator", "Follow-up"]
    if characteristics is None or characteristics.empty:
        return pd.DataFrame(columns=columns)
    frame = characteristics.reset_index(drop=True)
    labels = study_labels(frame)

    def cell(row, name):
        value = row.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            return None
        return value

    rows = []
    for row in frame.to_dict("records"):
        design = DESIGN_LABELS.get(str(row.get("design")), str(row.get("design", "")))
        if cell(row, "randomised") is not None and row.get("design") not in (
                "non_randomised", "single_arm"):
            design += ", randomised" if _true(row["randomised"]) else ", not randomised"
        condition = cell(row, "condition")
        if condition is not None:
            condition = (definitions.label_of("condition", condition) if definitions is not None
                         else str(condition).replace("_", " "))
        year, weeks = cell(row, "year"), cell(row, "follow_up_weeks")
        rows.append({
            "Study": labels[str(row["study_id"])],
            "Year": str(int(float(year))) if year is not None else NOT_STATED,
            "Country": cell(row, "country") or NOT_STATED,
            "Design": design,
            "Participants": _participants(cell(row, "n_randomised"), cell(row, "n_analysed"),
                                          _true(row.get("randomised"))),
            "Condition": condition or NOT_STATED,
            "Intervention": cell(row, "intervention") or NOT_STATED,
            "Comparator": cell(row, "comparator") or NOT_STATED,
            "Follow-up": (f"{float(weeks):g} weeks" if weeks is not None else NOT_STATED),
        })
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("Study", key=lambda s: s.str.lower(), kind="stable").reset_index(
        drop=True)


def _true(value) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def _participants(randomised, analysed, is_randomised: bool) -> str:
    """"20 randomised", "20 randomised, 18 analysed", "18 analysed" or "not stated";
    "enrolled" for a study that was not randomised (`n_randomised` then counts the people
    enrolled)."""
    parts = []
    if randomised is not None:
        parts.append(f"{int(float(randomised))} {'randomised' if is_randomised else 'enrolled'}")
    if analysed is not None and (randomised is None or float(analysed) != float(randomised)):
        parts.append(f"{int(float(analysed))} analysed")
    return ", ".join(parts) or NOT_STATED


def rob_table(risk_of_bias: pd.DataFrame) -> pd.DataFrame:
    """Risk-of-bias judgements wide: one row per study, one column per domain, plus the tool."""
    if risk_of_bias is None or risk_of_bias.empty:
        return pd.DataFrame(columns=["study_id", "tool"])
    wide = risk_of_bias.pivot(index=["study_id", "tool"], columns="domain", values="judgement")
    domains = sorted(wide.columns, key=lambda d: (d == "overall", len(d), d))
    return sort_studies(wide[domains].reset_index().rename_axis(columns=None),
                        ["tool", "study_id"]).reset_index(drop=True)


def rob_table_parts(risk_of_bias: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """`rob_table` split for reading: one table per tool and set of domains judged, so that a
    study judged overall only (a case series, an abstract) does not leave a row of empty
    domain cells in a table of fully judged trials. Each part comes with its caption."""
    wide = rob_table(risk_of_bias)
    if wide.empty:
        return []
    domains = [c for c in wide.columns if c not in ("study_id", "tool")]
    judged = wide[domains].notna() & (wide[domains].astype(str) != "")
    signature = judged.apply(lambda row: tuple(d for d in domains if row[d]), axis=1)
    parts = []
    for (tool, shown), index in sorted(wide.groupby([wide["tool"], signature]).groups.items(),
                                       key=lambda item: (item[0][0], -len(item[0][1]))):
        part = wide.loc[index, ["study_id", *shown]].reset_index(drop=True)
        count = f"{len(part)} {'study' if len(part) == 1 else 'studies'}"
        named = [d for d in shown if d != "overall"]
        what = (f"domains {named[0]} to {named[-1]} and overall" if named
                else "overall judgement only")
        parts.append((f"{tool}: {what} ({count})", part))
    return parts


def conversions_table(effects: pd.DataFrame) -> pd.DataFrame:
    """How each result was made analysable: the derivation text and the conversion flags."""
    columns = ["study_id", "comparison", "outcome", "timepoint_weeks", "measure", "converted",
               "paired", "paired_r", "derivation", "source_location"]
    if effects is None or effects.empty:
        return pd.DataFrame(columns=columns)
    return sorted_frame(effects[columns], ["outcome", "study_id", "comparison"])
