"""The rules of the extraction sheets beyond each cell's own: within a row, over a sheet and
across sheets.

Each `metareview.review.schema.Sheet` names its rules (`Sheet.rules`, a key of `RULES`): the
check of each of its rows, the checks of the whole sheet and the wording for a repeated key.
Then come the unique keys of every sheet (`Sheet.key`), the rules across sheets (ids another
sheet must list, numbers per arm within the study's, single-arm studies, risk-of-bias tools)
and the study ids of the analysis plan. `metareview.review.sheets.load_review` runs them on the
parsed sheets; every problem names the file, row, column, value, rule and fix
(docs/EXTRACTION.md).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

from metareview.review import schema
from metareview.review.definitions import Definitions
from metareview.review.sheet_problems import Problem, Problems, Table, closest
from metareview.stats.vocabulary import is_ratio

__all__ = ["RULES", "SheetRules", "check_across_sheets", "check_duplicate_keys",
           "check_plan_studies", "check_rows", "study_ids_problem"]

# Cells each reported form needs (docs/EXTRACTION.md, rule 3).
_ARM_FORM_NEEDS = {
    "mean_sd": ("mean", "sd"),
    "mean_se": ("mean", "se"),
    "mean_unlabelled": ("mean", "dispersion_unlabelled"),
    "mean_only": ("mean",),
    "percent_only": ("percent", "total"),
    "median_iqr": ("median", "q1", "q3"),
    "median_range": ("median", "min", "max"),
    "events_total": ("events", "total"),
}
_CONTRAST_FORM_NEEDS = {
    "estimate_ci": ("estimate", "ci_low", "ci_high"),
    "estimate_p": ("estimate", "p_value"),
    "estimate_se": ("estimate", "se"),
    "estimate_variance": ("estimate", "variance"),
    "p_value": ("p_value",),
    "t_stat": ("t_stat",),
    "estimate_only": ("estimate",),
    "direction_only": ("favours",),
}
_PROPORTION_FORM_NEEDS = {
    "events_total": ("events", "total"),
    "percent_n": ("percent", "total"),
}
_ROB_DOMAINS = {
    "RoB2": tuple(f"D{i}" for i in range(1, 6)) + ("overall",),
    "ROBINS-I": tuple(f"D{i}" for i in range(1, 8)) + ("overall",),
    # RevMan 5's quality items by their number (the tool has no overall judgement)
    "RoB1": tuple(f"D{i}" for i in range(1, 21)),
}
_OUTCOME_MEASURES_BY_TYPE = {"continuous": ("SMD", "MD"), "binary": ("RR", "OR", "RD"),
                             "proportion": ("PLO", "PFT")}

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


# ---------------------------------------------------------------------------------------------
# rules within a row


def check_rows(table: Table, problems: Problems) -> None:
    """The rules its sheet names (`Sheet.rules`): each row's, then the whole sheet's."""
    rules = RULES.get(table.sheet.rules)
    if rules is None:
        return
    if rules.row is not None:
        for i, row in enumerate(table.rows):
            rules.row(table, i, row, problems)
    for check in rules.whole:
        check(table, problems)


def _ordered(table, i, row, problems, names: tuple[str, ...], rule: str, fix: str) -> None:
    """Report when the filled cells of `names` are not in ascending order (ties allowed)."""
    filled = [(n, table.get(n, i)) for n in names if table.get(n, i) is not None]
    for (left, lv), (right, rv) in zip(filled, filled[1:]):
        if lv > rv:
            problems.add(
                table.file, row, left, table.raw(left, i),
                f"{rule}: {left} = {table.raw(left, i)} is larger than {right} = "
                f"{table.raw(right, i)}.",
                fix,
            )
            return


def _needs(table, i, row, problems, form_column: str, needs: dict) -> None:
    form = table.get(form_column, i)
    for name in needs.get(form, ()):
        if table.raw(name, i) is None:
            problems.add(
                table.file, row, name, "",
                f"{form_column} '{form}' needs {', '.join(needs[form])}, but {name} is empty.",
                f"fill {name} from the source, or set {form_column} to the form the source "
                "really reports.",
            )


def _not_above_total(table, i, row, problems, part: str, hint: str) -> None:
    """A count (`part`: events, count) cannot exceed the row's total."""
    value, total = table.get(part, i), table.get("total", i)
    if value is not None and total is not None and value > total:
        problems.add(
            table.file, row, part, table.raw(part, i),
            f"{part} ({value}) must not exceed total ({total}).", hint,
        )


def _check_events(table, i, row, problems) -> None:
    _not_above_total(table, i, row, problems, "events", "check both numbers against the "
                     "source; total is the number of people in the arm.")


def _arm_row(table, i, row, problems) -> None:
    _check_events(table, i, row, problems)
    events, n = table.get("events", i), table.get("n", i)
    if events is not None and n is not None and events > n:  # whether or not total is filled
        problems.add(
            table.file, row, "events", table.raw("events", i),
            f"events ({events}) must not exceed n ({n}), the people analysed in the arm.",
            "check both numbers against the source; a count of lesions, sides or episodes is "
            "not a count of people (say what the source counts in note and leave events "
            "empty).",
        )
    _ordered(table, i, row, problems, ("q1", "median", "q3"), "q1 <= median <= q3",
             "check the quartiles against the source (q1 is the lower one).")
    _ordered(table, i, row, problems, ("min", "median", "max"), "min <= median <= max",
             "check the range against the source (min is the lower one).")
    _needs(table, i, row, problems, "reported_form", _ARM_FORM_NEEDS)
    _one_dispersion(table, i, row, problems)


def _one_dispersion(table, i, row, problems) -> None:
    """An unlabelled "±" value is neither an SD nor an SE: it cannot sit beside either."""
    if table.raw("dispersion_unlabelled", i) is None:
        return
    for name in ("sd", "se"):
        if table.raw(name, i) is not None:
            problems.add(
                table.file, row, "dispersion_unlabelled", table.raw("dispersion_unlabelled", i),
                f"dispersion_unlabelled is for a '±' the source does not label, but {name} is "
                "filled too.",
                f"keep the value in {name} if the source labels it, else in "
                "dispersion_unlabelled only.",
            )


def _proportion_row(table, i, row, problems) -> None:
    _check_events(table, i, row, problems)
    _needs(table, i, row, problems, "reported_form", _PROPORTION_FORM_NEEDS)


def _ordinal_row(table, i, row, problems) -> None:
    _not_above_total(table, i, row, problems, "count", "check both numbers against the source.")
    count = table.get("count", i)
    if count is None and table.get("percent", i) is None and table.raw("note", i) is None:
        problems.add(
            table.file, row, "count", "",
            "the row has neither a count, nor a percentage, nor a note saying what is printed.",
            "enter the number of people in this grade or the printed percentage; when the "
            "source gives only words (e.g. 'under 20%'), leave both empty and quote it in note.",
        )


def _contrast_row(table, i, row, problems) -> None:
    _ordered(table, i, row, problems, ("ci_low", "estimate", "ci_high"),
             "ci_low <= estimate <= ci_high",
             "check the interval and the estimate's sign against the source.")
    _needs(table, i, row, problems, "reported_form", _CONTRAST_FORM_NEEDS)
    if is_ratio(table.get("measure", i)):
        for name in ("estimate", "ci_low", "ci_high"):
            value = table.get(name, i)
            if value is not None and value <= 0:
                problems.add(
                    table.file, row, name, table.raw(name, i),
                    f"a {table.get('measure', i)} is a ratio and must be > 0.",
                    "enter the ratio as printed (not its logarithm).",
                )
    if table.raw("se", i) is not None and table.raw("variance", i) is not None:
        problems.add(
            table.file, row, "variance", table.raw("variance", i),
            "se and variance are both filled; one of them is what the source prints.",
            "keep the one the source prints (form estimate_se or estimate_variance) and clear "
            "the other.")
    _contrast_basis(table, i, row, problems)
    has_p, has_op = table.raw("p_value", i) is not None, table.raw("p_operator", i) is not None
    if has_p and not has_op:
        problems.add(
            table.file, row, "p_operator", "", "a p value needs its operator.",
            "write '=' for an exact p value, '<' for 'p < x', '>' for 'p > x'.",
        )
    if has_op and not has_p:
        problems.add(
            table.file, row, "p_value", "", "p_operator is set but p_value is empty.",
            "enter the p value, or clear p_operator.",
        )


# Forms and measures whose SE depends on the distribution of the printed interval or p value.
_FORMS_WITH_BASIS = ("estimate_ci", "estimate_p")
_MEASURES_WITH_BASIS = ("MD", "SMD")
_BASIS_FIX = ("write t when the source's interval or p value comes from a t test or t "
              "interval (its df in df, or df empty for n - 1 paired, n_treatment + n_control "
              "- 2 otherwise), z when it is a normal (Wald) interval or z test; the code no "
              "longer guesses it from whether the arm sizes are filled.")


def _needs_basis(table, i) -> bool:
    return (table.get("reported_form", i) in _FORMS_WITH_BASIS
            and table.get("measure", i) in _MEASURES_WITH_BASIS)


def _contrast_basis(table, i, row, problems) -> None:
    """The basis of an MD or SMD interval or p value is stated; a df goes with t only, and a
    t basis has its df or the numbers of patients that give it."""
    if "basis" not in table.header:
        return  # reported once for the sheet (`_check_basis_column`)
    basis = table.get("basis", i)
    if basis is None and table.raw("basis", i) is None and _needs_basis(table, i):
        problems.add(
            table.file, row, "basis", "",
            f"an {table.get('measure', i)} with a {'CI' if table.get('reported_form', i) == 'estimate_ci' else 'p value'} "
            "needs the basis of its interval or test: its SE differs by the ratio of the t and z "
            "quantiles.", _BASIS_FIX)
    if table.raw("df", i) is not None and basis != "t":
        problems.add(
            table.file, row, "df", table.raw("df", i),
            "df is the degrees of freedom of a t-based interval or test, but basis is not t.",
            "set basis to t, or clear df.")
    if basis == "t" and table.raw("df", i) is None:
        paired = table.get("paired", i) is True
        sizes = [table.get(c, i) for c in ("n_treatment", "n_control")]
        known = any(v is not None for v in sizes) if paired else all(
            v is not None for v in sizes)
        if not known and table.get("reported_form", i) != "t_stat":
            problems.add(
                table.file, row, "df", "",
                "a t basis needs the df, or the numbers of patients that give it.",
                "enter df as printed, or n_treatment and n_control (the number of patients, "
                "twice, for a paired result).")


def _check_basis_column(table: Table, problems) -> None:
    """A sheet from before the basis column, with rows that need it: one problem naming the
    one change (the column, and a value in each of those rows)."""
    if "basis" in table.header:
        return
    rows = [row for i, row in enumerate(table.rows) if _needs_basis(table, i)]
    if rows:
        shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
        problems.add(
            table.file, 1, "basis", None,
            f"rows {shown} give an MD or SMD with a CI or p value, and the sheet has no "
            "column basis (z, or t with its df).",
            "add the column basis (and df, if the source prints it) to the header and fill it "
            "in those rows: " + _BASIS_FIX)


def _adverse_event_row(table, i, row, problems) -> None:
    _check_events(table, i, row, problems)
    if (table.raw("events", i) is not None and table.raw("total", i) is None
            and table.raw("narrative", i) is None):
        problems.add(
            table.file, row, "total", "", "events are given without the arm's total.",
            "enter the number of people in the arm; for a count of events (not people) say so "
            "in narrative.",
        )
    if table.raw("events", i) is None and table.raw("narrative", i) is None:
        problems.add(
            table.file, row, "events", "", "the row has neither events nor a narrative.",
            "enter the count, or describe in narrative what the source says.",
        )


def _rob_row(table, i, row, problems) -> None:
    tool = table.get("tool", i)
    if tool is None:
        return
    judgement = table.get("judgement", i)
    allowed = schema.ROB_JUDGEMENTS[tool]
    if judgement is not None and judgement not in allowed:
        guess = closest(judgement, allowed)
        hint = f"did you mean '{guess}'? " if guess else ""
        problems.add(
            table.file, row, "judgement", judgement,
            f"'{judgement}' is not a {tool} judgement.",
            f"{hint}{tool} judgements are: {', '.join(allowed)}.",
        )
    domain = table.get("domain", i)
    if domain is not None and domain not in _ROB_DOMAINS[tool]:
        problems.add(
            table.file, row, "domain", domain, f"'{domain}' is not a {tool} domain.",
            f"{tool} domains are: {', '.join(_ROB_DOMAINS[tool])}.",
        )


def _study_row(table, i, row, problems) -> None:
    n_rand, n_anal = table.get("n_randomised", i), table.get("n_analysed", i)
    if n_rand is not None and n_anal is not None and n_anal > n_rand:
        problems.add(
            table.file, row, "n_analysed", table.raw("n_analysed", i),
            f"n_analysed ({n_anal}) must not exceed n_randomised ({n_rand}).",
            "check both against the source; n_randomised counts everyone allocated.",
        )
    design = table.get("design", i)
    if design == "single_arm" and table.get("randomised", i) is True:
        problems.add(
            table.file, row, "randomised", table.raw("randomised", i),
            f"a {design} study cannot be randomised.",
            "set randomised to false, or correct the design.",
        )
    if design in schema.EARLIER_DESIGNS and table.get("randomised", i) is True:
        today = schema.EARLIER_DESIGNS[design]
        problems.add(
            table.file, row, "design", design,
            f"design {design} (an earlier value: {today} with randomised false) contradicts "
            "randomised true.",
            f"write design {today} and keep randomised as the source says it.",
        )
    _within_person_kind(table, i, row, problems, design)


def _within_person_kind(table, i, row, problems, design) -> None:
    """design within_person names its kind; split_face and crossover are their own kind; other
    designs have none."""
    kind, raw = table.get("within_person_kind", i), table.raw("within_person_kind", i)
    kinds = ", ".join(schema.WITHIN_PERSON_KINDS)
    if design == "within_person" and raw is None:
        problems.add(
            table.file, row, "within_person_kind", "",
            "a within_person study needs its kind: how each patient receives both conditions.",
            f"write one of {kinds} in within_person_kind (add the column to the header if the "
            "sheet has none).")
    elif design in schema.DESIGNS_WITH_KIND and kind is not None and (
            kind != schema.DESIGNS_WITH_KIND[design]):
        problems.add(
            table.file, row, "within_person_kind", raw,
            f"design {design} is the within-person kind {schema.DESIGNS_WITH_KIND[design]}, "
            f"not {kind}.",
            f"set design to within_person with within_person_kind {kind}, or clear the kind.")
    elif design is not None and design not in ("within_person", *schema.DESIGNS_WITH_KIND) \
            and raw is not None:
        problems.add(
            table.file, row, "within_person_kind", raw,
            f"within_person_kind is for within-person designs, and this study's design is "
            f"{design}.",
            "set design to within_person, or clear within_person_kind.")


def _outcome_row(table, i, row, problems) -> None:
    _ordered(table, i, row, problems, ("range_min", "range_max"), "range_min <= range_max",
             "the scale's lowest possible score goes in range_min.")
    kind, measure = table.get("type", i), table.get("measure", i)
    if kind is not None and measure is not None:
        if measure not in _OUTCOME_MEASURES_BY_TYPE[kind]:
            problems.add(
                table.file, row, "measure", measure,
                f"a {kind} outcome cannot be pooled as {measure}.",
                f"use one of: {', '.join(_OUTCOME_MEASURES_BY_TYPE[kind])}.",
            )


def _search_row(table, i, row, problems) -> None:
    _ordered(table, i, row, problems, ("records_kept", "records_seen"),
             "records_kept <= records_seen", "records kept are a subset of the records seen.")
    date = table.raw("date", i)
    if date is not None and not _is_date(date):
        problems.add(
            table.file, row, "date", date, "date must be a calendar date written YYYY-MM-DD.",
            "write the date as e.g. 2026-01-31 (format the column as text in the spreadsheet).",
        )


def _is_date(text: str) -> bool:
    if not _DATE_RE.fullmatch(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _screening_row(table, i, row, problems) -> None:
    decision = table.get("decision", i)
    if decision == "excluded" and table.raw("reason", i) is None:
        problems.add(
            table.file, row, "reason", "", "an excluded record needs a reason.",
            "give the reason for exclusion, e.g. 'no control group' or 'not cell-based'.",
        )
    if decision == "not_retrieved" and table.raw("reason", i) is None:
        problems.add(
            table.file, row, "reason", "", "a record not retrieved needs a reason.",
            "say what was read and what could not be reached, e.g. 'full text not reachable; "
            "abstract has no results'.",
        )
    if (decision == "included" and table.get("stage", i) == "full_text"
            and table.raw("study_id", i) is None):
        problems.add(
            table.file, row, "study_id", "", "a record included at full text needs its study_id.",
            "enter the study_id of studies.csv this record belongs to.",
        )


def _published_row(table, i, row, problems) -> None:
    _ordered(table, i, row, problems, ("ci_low", "estimate", "ci_high"),
             "ci_low <= estimate <= ci_high",
             "check the interval and the estimate's sign against the published review.")


def _arm_duplicate(table, i, first_row) -> tuple[str, str]:
    """The rule and fix for an arms row that repeats the key of row `first_row`."""
    rule = (
        f"comparison {table.raw('comparison', i)!r} already has a "
        f"{table.raw('role', i)} row for outcome {table.raw('outcome', i)!r} at "
        f"week {table.raw('timepoint_weeks', i)} with value_type "
        f"{table.raw('value_type', i)!r} (row {first_row}); each comparison "
        "has at most one treatment and one control row per outcome, timepoint and "
        "kind of value."
    )
    fix = ("give the other pair of arms its own comparison id, or delete the "
           "duplicated row.")
    return rule, fix


# ---------------------------------------------------------------------------------------------
# each sheet's rules, by the name its schema.Sheet gives (Sheet.rules)


@dataclass(frozen=True)
class SheetRules:
    """A sheet's rules beyond its columns' own, named by `Sheet.rules`.

    `row(table, i, row, problems)` checks row `i` (spreadsheet row `row`); each of
    `whole(table, problems)` checks the sheet once, after its rows; `duplicate(table, i,
    first_row)` returns the rule and fix, in the sheet's own words, for row `i` repeating the
    key of row `first_row`.
    """

    row: Callable | None = None
    whole: tuple[Callable, ...] = ()
    duplicate: Callable | None = None


RULES: dict[str, SheetRules] = {
    "studies": SheetRules(row=_study_row),
    "arms": SheetRules(row=_arm_row, duplicate=_arm_duplicate),
    "contrasts": SheetRules(row=_contrast_row, whole=(_check_basis_column,)),
    "adverse_events": SheetRules(row=_adverse_event_row),
    "risk_of_bias": SheetRules(row=_rob_row),
    "outcomes": SheetRules(row=_outcome_row),
    "search_log": SheetRules(row=_search_row),
    "screening": SheetRules(row=_screening_row),
    "published": SheetRules(row=_published_row),
    "proportions": SheetRules(row=_proportion_row),
    "ordinal_counts": SheetRules(row=_ordinal_row),
}


# ---------------------------------------------------------------------------------------------
# keys and rules across sheets


def check_duplicate_keys(table: Table, problems: Problems) -> None:
    """Each row's key (schema Sheet.key) must be unique; later copies are reported."""
    key_columns = table.sheet.key
    first_seen: dict[tuple, int] = {}
    for i, row in enumerate(table.rows):
        parts = [table.get(c, i) for c in key_columns]
        # a key cell that is required but empty or invalid is reported already
        if any(p is None and table.sheet.column(c).required for p, c in zip(parts, key_columns)):
            continue
        key = tuple(parts)
        if key in first_seen:
            shown = ", ".join(
                f"{c} = {table.raw(c, i) or '(empty)'}" for c in key_columns
            )
            rule = f"the same {' + '.join(key_columns)} as row {first_seen[key]} ({shown})."
            fix = "delete the duplicated row, or correct the cell that should differ."
            rules = RULES.get(table.sheet.rules)
            if rules is not None and rules.duplicate is not None:
                rule, fix = rules.duplicate(table, i, first_seen[key])
            problems.add(table.file, row, key_columns[-1], table.raw(key_columns[-1], i),
                         rule, fix)
        else:
            first_seen[key] = row


def check_across_sheets(tables: dict[str, Table | None], problems: Problems) -> None:
    studies = tables.get("studies.csv")
    outcomes = tables.get("outcomes.csv")
    study_info: dict[str, dict] | None = None
    if studies is not None and "study_id" in studies.header:
        study_info = {}
        for i in range(len(studies)):
            sid = studies.get("study_id", i)
            if sid is not None and sid not in study_info:
                study_info[sid] = {
                    "design": studies.get("design", i),
                    "n_randomised": studies.get("n_randomised", i),
                }
    outcome_ids = None
    if outcomes is not None and "outcome" in outcomes.header:
        outcome_ids = {o for o in outcomes.values["outcome"] if o is not None}

    if studies is not None and len(studies) == 0:
        problems.add(studies.file, None, None, None, "studies.csv has no study rows.",
                     "add one row per included study below the header.")
    if outcomes is not None and len(outcomes) == 0:
        problems.add(outcomes.file, None, None, None, "outcomes.csv has no outcome rows.",
                     "add one row per outcome (see CODEBOOK.md).")

    for name in ("arms.csv", "contrasts.csv", "adverse_events.csv", "risk_of_bias.csv",
                 "screening.csv", "proportions.csv", "ordinal_counts.csv",
                 "extraction_checks.csv"):
        table = tables.get(name)
        if table is not None and study_info is not None:
            _check_known(table, "study_id", set(study_info), "studies.csv", problems)
    if outcomes is not None and outcome_ids is not None:
        _check_known(outcomes, "pooled_with", outcome_ids, "outcomes.csv", problems)
    for name in ("arms.csv", "contrasts.csv", "published.csv", "proportions.csv",
                 "ordinal_counts.csv", "grade.csv"):
        table = tables.get(name)
        if table is not None and outcome_ids is not None:
            extra = {"narrative"} if name == "published.csv" else set()
            _check_known(table, "outcome", outcome_ids | extra, "outcomes.csv", problems)

    if study_info is not None:
        _check_arm_sizes(tables, study_info, problems)
        _check_single_arm(tables, study_info, problems)
    if tables.get("arms.csv") is not None:
        _check_control_has_treatment(tables["arms.csv"], problems)
    if tables.get("risk_of_bias.csv") is not None:
        _check_rob_studies(tables["risk_of_bias.csv"], problems)


def study_ids_problem(ids, known, file: str, key: str) -> Problem | None:
    """The problem of study ids of the analysis plan (`key` of `file`) that studies.csv does
    not list, or None: a misspelt id in an exclusion would otherwise exclude nothing."""
    unknown = [sid for sid in ids if sid not in known]
    if not unknown or not known:
        return None
    guess = closest(unknown[0], sorted(known))
    hint = f"did you mean '{guess}'? " if guess else ""
    shown = ", ".join(sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
    return Problem(file, None, key, ", ".join(unknown),
                   f"{'these ids are' if len(unknown) > 1 else 'this id is'} not a study_id of "
                   "studies.csv.", f"{hint}Use study_ids of studies.csv ({shown}).")


def check_plan_studies(file: str, definitions: Definitions, tables, problems) -> None:
    """review.yaml's main_analysis.exclude_studies and indirectness name studies of
    studies.csv."""
    studies = tables.get("studies.csv")
    if studies is None or "study_id" not in studies.header:
        return
    known = {sid for sid in studies.values["study_id"] if sid is not None}
    for key, ids in (("main_analysis.exclude_studies", definitions.main_excluded),
                     ("indirectness", tuple(definitions.indirect_studies))):
        problem = study_ids_problem(ids, known, file, key)
        if problem is not None:
            problems.append(problem)


def _check_known(table: Table, column: str, known: set, where: str, problems) -> None:
    for i, row in enumerate(table.rows):
        value = table.get(column, i)
        if value is not None and value not in known:
            guess = closest(value, sorted(known))
            hint = f"did you mean '{guess}'? " if guess else ""
            problems.add(
                table.file, row, column, value,
                f"'{value}' is not listed in the {column} column of {where}.",
                f"{hint}Use an id listed in {where}, or add it there first.",
            )


def _check_arm_sizes(tables, study_info, problems) -> None:
    """Numbers per arm cannot exceed the number randomised in the study."""
    for name, columns in (("arms.csv", ("n", "total")),
                          ("contrasts.csv", ("n_treatment", "n_control"))):
        table = tables.get(name)
        if table is None:
            continue
        for i, row in enumerate(table.rows):
            info = study_info.get(table.get("study_id", i))
            limit = info["n_randomised"] if info else None
            if limit is None:
                continue
            for column in columns:
                value = table.get(column, i)
                if value is not None and value > limit:
                    problems.add(
                        table.file, row, column, table.raw(column, i),
                        f"{column} ({value}) exceeds the study's n_randomised ({limit}) in "
                        "studies.csv.",
                        "check both numbers; a per-arm number cannot exceed the study's total.",
                    )


def _check_single_arm(tables, study_info, problems) -> None:
    for name, role_column in (("arms.csv", "role"), ("adverse_events.csv", "role"),
                              ("contrasts.csv", None)):
        table = tables.get(name)
        if table is None:
            continue
        for i, row in enumerate(table.rows):
            info = study_info.get(table.get("study_id", i))
            if not info or info["design"] != "single_arm":
                continue
            if role_column is None:
                # a before-after comparison within the one group is allowed (paired = true)
                if table.get("paired", i) is True:
                    continue
                problems.add(
                    table.file, row, "study_id", table.raw("study_id", i),
                    "a single_arm study has no between-arm contrasts.",
                    "set paired to true for a before-after comparison within the group, delete "
                    "the row, or correct the study's design in studies.csv.",
                )
            elif table.get(role_column, i) == "control":
                problems.add(
                    table.file, row, role_column, "control",
                    "a single_arm study (studies.csv) has no control arm.",
                    "use role 'treatment' (arms) or 'single' (adverse events), or correct the "
                    "design.",
                )


def _check_control_has_treatment(table: Table, problems) -> None:
    def group(i):
        return tuple(table.get(c, i) for c in ("study_id", "comparison", "outcome",
                                                "timepoint_weeks"))

    with_treatment = {group(i) for i in range(len(table)) if table.get("role", i) == "treatment"}
    for i, row in enumerate(table.rows):
        if table.get("role", i) == "control" and group(i) not in with_treatment:
            problems.add(
                table.file, row, "comparison", table.raw("comparison", i),
                "this control row has no treatment row with the same study_id, comparison, "
                "outcome and timepoint_weeks.",
                "add the treatment arm, or correct the comparison id or timepoint.",
            )


def _check_rob_studies(table: Table, problems) -> None:
    """One tool per study, and an overall judgement for each study assessed."""
    tools: dict[str, tuple[str, int]] = {}
    overall: set[str] = set()
    first_row: dict[str, int] = {}
    for i, row in enumerate(table.rows):
        sid, tool = table.get("study_id", i), table.get("tool", i)
        if sid is None:
            continue
        first_row.setdefault(sid, row)
        if table.get("domain", i) == "overall":
            overall.add(sid)
        if tool is None:
            continue
        if sid in tools and tools[sid][0] != tool:
            problems.add(
                table.file, row, "tool", tool,
                f"study {sid} is assessed with {tools[sid][0]} in row {tools[sid][1]}; "
                "one tool per study.",
                "use RoB2 for randomised and ROBINS-I for non-randomised studies.",
            )
        tools.setdefault(sid, (tool, row))
    for sid, row in first_row.items():
        if sid not in overall and tools.get(sid, ("",))[0] != "RoB1":
            problems.add(
                table.file, row, "domain", None,
                f"study {sid} has no 'overall' risk-of-bias judgement.",
                "add a row with domain 'overall' for this study.",
            )

