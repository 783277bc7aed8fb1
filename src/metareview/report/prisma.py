r"""The counts of a PRISMA 2020 flow diagram, from a review's search log and screening sheet.

Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated guideline for
reporting systematic reviews. BMJ 2021;372:n71. doi:10.1136/bmj.n71 (figure 1, the flow
diagram for new reviews that searched databases, registers and other sources).

What the two sheets say, and where each count comes from:

- ``search_log.csv`` has one row per query: ``records_seen`` records in its result list, of
  which ``records_kept`` were kept (on a glance at the title) for the screening sheet.
- ``screening.csv`` has one row per record kept: ``stage`` is what the decision was made on
  (title and abstract, or full text) and ``decision`` is included, excluded, duplicate (the
  same article, trial or registration as a record already listed) or not retrieved (passed
  screening, but no page with the methods and results could be reached).
  ``identified_via`` is empty for a record found by a search of the log and names PRISMA's
  other methods otherwise (citation searching, websites, organisations).

Databases and registers (records of the sheet with ``identified_via`` empty, ``S``):

.. math::

    \text{identified} &= \textstyle\sum \text{records\_seen} + \max(0, |S| - \textstyle\sum
        \text{records\_kept}) \\
    \text{removed} &= \max(0, \textstyle\sum\text{records\_kept} - |S|) + |S_{duplicate}| \\
    \text{screened} &= \text{identified} - \text{removed} \\
    \text{excluded at screening} &= (\textstyle\sum\text{records\_seen} - \textstyle\sum
        \text{records\_kept}) + |S_{excluded,\ title/abstract}| \\
    \text{sought} &= \text{screened} - \text{excluded at screening} \\
    \text{assessed} &= \text{sought} - |S_{not\ retrieved}| \\
    \text{included reports} &= \text{assessed} - |S_{excluded,\ full\ text}|

``records_kept − |S|`` is the number of times a record already listed was kept again by a later
search (the sheet lists it once); a sheet with more records than the searches kept gets the
difference as records identified. The records not kept from a result list were screened on
their title; a record seen by several searches counts once per search there, because the log
does not tell repeat sightings apart.

Other methods (records with ``identified_via`` set, ``O``): identified = ``|O|``; duplicates are
removed; the rest are reports sought for retrieval (PRISMA's other-methods column has no
screening step), and an exclusion on title and abstract is a report excluded.

Included (both columns): reports = records included; studies = distinct ``study_id`` of them.
"""

from __future__ import annotations

import math

import pandas as pd

from metareview.report.text import plural
from metareview.review.schema import SCREENING_DECISIONS

__all__ = ["OTHER_METHODS", "PRISMA_BOXES", "PRISMA_COLUMNS", "prisma_counts", "box_count",
           "box_items", "reasons_table"]

# One row per box of the diagram (item empty) and one per count within a box (a source, a
# kind of removal, a reason), whose counts add up to the box's.
PRISMA_COLUMNS = ["route", "phase", "box", "item", "count", "note"]
DATABASES = "databases_registers"
OTHER = "other_methods"
INCLUDED = "included"
# The boxes in the order PRISMA draws them, per column.
PRISMA_BOXES = {
    DATABASES: ("identified", "removed", "screened", "screening_excluded", "sought",
                "not_retrieved", "assessed", "reports_excluded"),
    OTHER: ("identified", "removed", "sought", "not_retrieved", "assessed", "reports_excluded"),
    INCLUDED: ("studies", "reports"),
}
PHASES = {"identified": "identification", "removed": "identification",
          "studies": "included", "reports": "included"}
# The words for PRISMA's other methods (screening.csv's identified_via).
OTHER_METHODS = {"citation": "Citation searching", "website": "Websites",
                 "organisation": "Organisations"}

_SCREENING_COLUMNS = ["record_id", "stage", "decision", "reason", "study_id", "identified_via"]


def prisma_counts(search_log: pd.DataFrame | None, screening: pd.DataFrame | None
                  ) -> pd.DataFrame:
    """Every count of the PRISMA 2020 flow diagram (the module docstring gives the formulas).

    Returns a table with the columns of `PRISMA_COLUMNS`: route (``databases_registers``,
    ``other_methods`` or ``included``), phase (identification, screening, included), box, item
    (empty for the box's total; else a source, a kind or a reason), count and note (words a
    reader needs beside the count, e.g. how many searches a source had). The other-methods
    column is present only when the screening sheet has records found by other methods.
    """
    log = _log(search_log)
    sheet = _sheet(screening)
    via = sheet["identified_via"]
    rows: list[dict] = []
    searched = sheet[via == ""]
    rows += _databases(log, searched)
    other = sheet[via != ""]
    if len(other):
        rows += _other_methods(other)
    rows += _included(sheet)
    frame = pd.DataFrame(rows)
    frame["phase"] = [PHASES.get(box, "screening") for box in frame["box"]]
    for column in ("item", "note"):
        frame[column] = frame[column].fillna("")
    frame["count"] = frame["count"].astype(int)
    return frame[PRISMA_COLUMNS]


def box_count(counts: pd.DataFrame, route: str, box: str) -> int | None:
    """The total of one box, or None when the diagram has no such box."""
    row = counts[(counts["route"] == route) & (counts["box"] == box) & (counts["item"] == "")]
    return int(row["count"].iloc[0]) if len(row) else None


def box_items(counts: pd.DataFrame, route: str, box: str) -> pd.DataFrame:
    """The counts within one box (item, count, note), in their order."""
    rows = counts[(counts["route"] == route) & (counts["box"] == box) & (counts["item"] != "")]
    return rows[["item", "count", "note"]].reset_index(drop=True)


def reasons_table(counts: pd.DataFrame) -> pd.DataFrame:
    """The reports not retrieved and the reports excluded, one row per reason with its count,
    for the table under the flow diagram."""
    boxes = {"not_retrieved": "Not retrieved", "reports_excluded": "Excluded after assessment"}
    two_columns = (counts["route"] == OTHER).any()
    columns = (["Identified via"] if two_columns else []) + ["Report", "Reason", "Reports"]
    parts = []
    for route in (DATABASES, OTHER):
        for box, label in boxes.items():
            items = box_items(counts, route, box)
            if len(items):
                parts.append(pd.DataFrame({
                    "Identified via": ("Databases and registers" if route == DATABASES
                                       else "Other methods"),
                    "Report": label, "Reason": items["item"], "Reports": items["count"]}))
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


# --- the columns ------------------------------------------------------------------------------


def _databases(log: pd.DataFrame, sheet: pd.DataFrame) -> list[dict]:
    route = DATABASES
    seen, kept = int(log["records_seen"].sum()), int(log["records_kept"].sum())
    listed = len(sheet)
    beyond = max(listed - kept, 0)  # records in the sheet that no logged search kept
    kept_again = max(kept - listed, 0)  # kept by a later search again, listed once
    decision, stage = sheet["decision"], sheet["stage"]
    duplicates = int((decision == "duplicate").sum())
    excluded_title = sheet[(decision == "excluded") & (stage != "full_text")]
    excluded_full = sheet[(decision == "excluded") & (stage == "full_text")]
    not_retrieved = sheet[decision == "not_retrieved"]
    included = sheet[decision == "included"]

    identified = seen + beyond
    removed = kept_again + duplicates
    screened = identified - removed
    screening_excluded = (seen - kept) + len(excluded_title)
    sought = screened - screening_excluded
    assessed = sought - len(not_retrieved)

    rows = [_box(route, "identified", identified)]
    for source, part in log.groupby("source", sort=False):
        rows.append(_item(route, "identified", source, part["records_seen"].sum(),
                          plural(len(part), "search", "searches")))
    if beyond:
        rows.append(_item(route, "identified", "records in the screening sheet that no logged "
                          "search kept", beyond))
    rows.append(_box(route, "removed", removed))
    if kept_again:
        rows.append(_item(route, "removed", "the same record kept again by a later search "
                          "(listed once)", kept_again))
    if duplicates:
        rows.append(_item(route, "removed", "the same article, trial or registration as a "
                          "record already listed", duplicates))
    rows.append(_box(route, "screened", screened))
    rows.append(_box(route, "screening_excluded", screening_excluded))
    if seen - kept:
        rows.append(_item(route, "screening_excluded", "not kept from a search's result list "
                          "(title)", seen - kept,
                          "a record seen by several searches counts once per search"))
    if len(excluded_title):
        rows.append(_item(route, "screening_excluded", "excluded on the title and abstract",
                          len(excluded_title), "each with its reason in screening.csv"))
    rows.append(_box(route, "sought", sought))
    rows += _reasons(route, "not_retrieved", not_retrieved)
    rows.append(_box(route, "assessed", assessed))
    rows += _assessed_on(route, pd.concat([included, excluded_full]))
    rows += _reasons(route, "reports_excluded", excluded_full)
    return rows


def _other_methods(sheet: pd.DataFrame) -> list[dict]:
    route = OTHER
    decision = sheet["decision"]
    duplicates = int((decision == "duplicate").sum())
    not_retrieved = sheet[decision == "not_retrieved"]
    excluded = sheet[decision == "excluded"]
    rows = [_box(route, "identified", len(sheet))]
    for via, part in sheet.groupby("identified_via", sort=True):
        rows.append(_item(route, "identified", OTHER_METHODS.get(via, via), len(part)))
    rows.append(_box(route, "removed", duplicates))
    if duplicates:
        rows.append(_item(route, "removed", "the same article, trial or registration as a "
                          "record already listed", duplicates))
    sought = len(sheet) - duplicates
    rows.append(_box(route, "sought", sought))
    rows += _reasons(route, "not_retrieved", not_retrieved)
    assessed = sought - len(not_retrieved)
    rows.append(_box(route, "assessed", assessed))
    rows += _assessed_on(route, sheet[decision.isin(["included", "excluded"])])
    rows += _reasons(route, "reports_excluded", excluded)
    return rows


def _included(sheet: pd.DataFrame) -> list[dict]:
    included = sheet[sheet["decision"] == "included"]
    ids = included["study_id"]
    unnamed = int((ids == "").sum())
    rows = [_box(INCLUDED, "studies", ids[ids != ""].nunique())]
    if unnamed:
        rows[0]["note"] = (f"{plural(unnamed, 'included record')} name no study "
                           "(study_id empty) and are not counted here")
    rows.append(_box(INCLUDED, "reports", len(included)))
    return rows


# --- helpers ----------------------------------------------------------------------------------


def _log(search_log: pd.DataFrame | None) -> pd.DataFrame:
    if search_log is None or len(search_log) == 0:
        return pd.DataFrame({"source": pd.Series(dtype=str),
                             "records_seen": pd.Series(dtype=int),
                             "records_kept": pd.Series(dtype=int)})
    log = search_log.copy()
    if "source" not in log.columns:
        log["source"] = "searches"
    log["source"] = log["source"].fillna("source not named").astype(str)
    return log


def _sheet(screening: pd.DataFrame | None) -> pd.DataFrame:
    if screening is None or len(screening) == 0:
        return pd.DataFrame({c: pd.Series(dtype=str) for c in _SCREENING_COLUMNS})
    sheet = screening.copy()
    for column in _SCREENING_COLUMNS:
        if column not in sheet.columns:
            sheet[column] = ""
        sheet[column] = [_text(v) for v in sheet[column]]
    unknown = sorted(set(sheet["decision"]) - set(SCREENING_DECISIONS))
    if unknown:
        # Each record must take exactly one branch of the flow, or the boxes stop adding up.
        raise ValueError(f"screening decisions {unknown} are not PRISMA decisions; use one "
                         f"of {', '.join(SCREENING_DECISIONS)}")
    return sheet.reset_index(drop=True)


def _text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _box(route: str, box: str, count: int, note: str = "") -> dict:
    return {"route": route, "box": box, "item": "", "count": int(count), "note": note}


def _item(route: str, box: str, item: str, count: int, note: str = "") -> dict:
    return {"route": route, "box": box, "item": str(item), "count": int(count), "note": note}


def _reasons(route: str, box: str, records: pd.DataFrame) -> list[dict]:
    """A box with one item per distinct reason (most frequent first, then alphabetically)."""
    rows = [_box(route, box, len(records))]
    reasons = records["reason"].replace("", "no reason given").value_counts()
    ordered = sorted(reasons.items(), key=lambda pair: (-pair[1], pair[0].lower()))
    rows += [_item(route, box, reason, n) for reason, n in ordered]
    return rows


def _assessed_on(route: str, assessed: pd.DataFrame) -> list[dict]:
    """What the reports assessed were: abstracts and record pages, or full texts."""
    on_full = int((assessed["stage"] == "full_text").sum())
    on_abstract = len(assessed) - on_full
    rows = []
    if on_abstract:
        rows.append(_item(route, "assessed", "on the title and abstract or the record page",
                          on_abstract))
    if on_full:
        rows.append(_item(route, "assessed", "on the full text", on_full))
    return rows

