"""From extraction sheets to analysable effects: one row per study x comparison x outcome.

`derive_effects(review)` turns every result of `arms.csv` and `contrasts.csv` into an effect
size `yi` with sampling variance `vi` when its reported form honestly allows it, and lists the
others in a "not pooled" table with the reason. The routes, tried in this order at each
timepoint (the latest first, or the earliest with `timepoint="first"`):

1. **Arm data** (`metareview.review.from_arms`): mean and SD (or SE, or an unlabelled "±"
   read as SD or SE by the printed p value, or a median with IQR or range) per arm give an MD
   or SMD, paired for split-face designs; events per arm (or printed percentages of n, turned
   into counts) give RR, OR or RD, paired for split-face designs.
2. **A reported contrast** (`metareview.review.from_contrasts`): an MD, SMD, RR or OR with its
   CI, p value or t statistic, SE from the interval or the test (Cochrane Handbook 6.5.2.3).
3. **Arm means with a between-arm p value**: MD = the difference of the means (a mean percent
   change per arm is a mean, in percentage points), SE from the p value with t on n − 1 df
   (split-face) or n1 + n2 − 2 (parallel); "p < x" used as x (conservative, flagged).

An MD with its SE becomes an SMD where the outcome is pooled as SMD: d_z → d_av with
`paired_r` for split-face data (Morris & DeShon 2002), SD = SE/√(1/n1 + 1/n2) for parallel
arms. Outcomes that measure one construct on another scale or with another sign convention
name their analysis outcome in `outcomes.csv` (`pooled_with`), and are pooled there.

Every effect is treatment minus control (ratios: treatment over control) as the source
reports it, on the outcome's own scale, as RevMan and metafor keep it; the outcome's direction
(lower or higher is better) only says which side favours the treatment. An outcome reported on
the opposite scale of the outcome it is pooled with (`pooled_with`) has its sign reversed once,
named in `derivation`; a ratio cannot be turned around that way and is not pooled there. Every effect says in `derivation` how it was obtained, and carries
flags (`converted`, `paired`, `p_derived`, `p_bound`, `dispersion_reading`,
`dispersion_decided`, `from_percent`) that the sensitivity analyses use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

import numpy as np
import pandas as pd

from metareview.review.effect import (
    DISPERSION_READINGS,
    Effect,
    NotPoolable,
    missing,
    records,
)
from metareview.review.from_arms import effect_from_arms, effect_from_means_and_p
from metareview.review.from_contrasts import effect_from_contrast
from metareview.review.ordering import natural_key, sort_studies
from metareview.review.schema import analysed_design
from metareview.review.within_person import is_within_person
from metareview.stats.vocabulary import is_proportion

# How the events per arm of an outcome summarised as a single-group proportion are compared.
COMPARATIVE_PROPORTION_MEASURE = "RR"

EFFECT_COLUMNS = [
    "study_id", "comparison", "outcome", "reported_outcome", "timepoint_weeks", "measure",
    "yi", "vi", "se", "df", "n_treatment", "n_control",
    "mean_treatment", "sd_treatment", "mean_control", "sd_control",
    "events_treatment", "total_treatment", "events_control", "total_control",
    "design", "randomised", "year", "intervention_class", "co_intervention", "condition",
    "main_analysis", "value_type", "derivation", "converted", "paired", "paired_r",
    "p_derived", "p_bound", "dispersion_reading", "dispersion_decided", "from_percent",
    "source_url", "source_location",
]
NOT_POOLED_COLUMNS = [
    "study_id", "comparison", "outcome", "timepoint_weeks", "reported_form", "reason",
]


@dataclass(frozen=True)
class Derived:
    """Effects ready for pooling and the results that could not be made analysable."""

    effects: pd.DataFrame
    not_pooled: pd.DataFrame


@dataclass(frozen=True)
class Analysis:
    """Where an outcome's effects are pooled: the analysis outcome, its measure and direction,
    and the direction of the outcome as reported (they differ only for an outcome pooled with
    one on the opposite scale)."""

    outcome: str
    measure: str
    direction: str
    reported_direction: str = ""

    def __post_init__(self) -> None:
        if not self.reported_direction:
            object.__setattr__(self, "reported_direction", self.direction)

    def comparative(self) -> "Analysis":
        """The analysis of a comparison between arms: an outcome summarised as a single-group
        proportion (PLO, PFT, PR) is compared between arms as a risk ratio, so that the
        events per arm of a controlled study are analysed, not dropped."""
        if is_proportion(self.measure):
            return replace(self, measure=COMPARATIVE_PROPORTION_MEASURE)
        return self


def analysis_of(outcomes: pd.DataFrame) -> dict[str, Analysis]:
    """{reported outcome: Analysis}, following `pooled_with` one step."""
    table = outcomes.set_index("outcome")
    found = {}
    for outcome, row in table.iterrows():
        target = row.get("pooled_with")
        target = outcome if missing(target) or not str(target).strip() else str(target)
        found[outcome] = Analysis(target, str(table.loc[target, "measure"]),
                                  str(table.loc[target, "direction"]), str(row["direction"]))
    return found


def _timepoint_order(weeks: Iterable, timepoint: str) -> list:
    """Stated timepoints latest (or earliest) first; an unstated timepoint (NaN) last."""
    values = list(dict.fromkeys(weeks))
    stated = sorted((w for w in values if not missing(w)), reverse=(timepoint == "last"))
    return stated + ([np.nan] if any(missing(w) for w in values) else [])


def _at(rows: pd.DataFrame, week) -> pd.DataFrame:
    weeks = rows["timepoint_weeks"]
    here = weeks.isna() if missing(week) else weeks == week
    # most results have one timepoint: the rows themselves, without a selection's copy
    return rows if here.all() else rows[here]


def derive_effects(
    review,
    outcome: str | None = None,
    paired_r: float = 0.5,
    timepoint: str = "last",
    exclude_studies: Iterable[str] = (),
    dispersion: str = "data",
) -> Derived:
    """Turn a validated review (`metareview.review.sheets.Review`) into effects and the list of
    results that could not be used.

    `dispersion` says how an unlabelled "±" is read: "data" (by the printed p value, else as an
    SD) or "other" (the reading the data did not choose: the sensitivity analysis).
    """
    if timepoint not in ("last", "first"):
        raise ValueError(f"timepoint must be 'last' or 'first', not {timepoint!r}")
    if not -1 < paired_r < 1:
        raise ValueError(f"paired_r must lie strictly between -1 and 1, not {paired_r!r}")
    if dispersion not in DISPERSION_READINGS:
        raise ValueError(f"dispersion must be one of {DISPERSION_READINGS}, not {dispersion!r}")
    excluded = set(exclude_studies)
    studies = review.studies.set_index("study_id")
    analyses = analysis_of(review.outcomes)
    arms, contrasts = review.arms, review.contrasts
    if outcome is not None:
        wanted = {o for o, a in analyses.items() if a.outcome == outcome or o == outcome}
        arms = arms[arms["outcome"].isin(wanted)]
        contrasts = contrasts[contrasts["outcome"].isin(wanted)]
    shared_controls = _shared_control_counts(arms)

    effects, not_pooled = [], []
    keys = sorted(
        set(map(tuple, arms[["study_id", "comparison", "outcome"]].to_numpy().tolist()))
        | set(map(tuple, contrasts[["study_id", "comparison", "outcome"]].to_numpy().tolist())),
        key=lambda key: (natural_key(key[0]), key[1:]),
    )
    # each sheet split by (study, comparison, outcome) once, not filtered again for every key:
    # a review of thousands of studies stays linear in its rows
    arm_parts, contrast_parts = _parts(arms), _parts(contrasts)
    for study_id, comparison, outcome_id in keys:
        study = studies.loc[study_id]
        analysis = analyses[outcome_id].comparative()
        arm_rows = arm_parts.get((study_id, comparison, outcome_id), arms.iloc[:0])
        contrast_rows = contrast_parts.get((study_id, comparison, outcome_id), contrasts.iloc[:0])
        weeks = _timepoint_order(list(arm_rows["timepoint_weeks"])
                                 + list(contrast_rows["timepoint_weeks"]), timepoint)
        base = {"study_id": study_id, "comparison": comparison, "outcome": outcome_id}
        first = weeks[0]
        forms = _reported_forms(_at(arm_rows, first), _at(contrast_rows, first))
        if study_id in excluded or study["design"] == "single_arm":
            reason = ("excluded by the exclude_studies parameter" if study_id in excluded
                      else "single-arm series: no control group (described, not pooled)")
            not_pooled.append({**base, "timepoint_weeks": first, "reported_form": forms,
                               "reason": reason})
            continue
        effect, reasons = _first_effect(
            weeks, arm_rows, contrast_rows, study, analysis, paired_r, dispersion,
            lambda week: shared_controls.get((study_id, outcome_id, _week_key(week)), 1))
        if effect is None:
            not_pooled.append({**base, "timepoint_weeks": first, "reported_form": forms,
                               "reason": "; ".join(dict.fromkeys(reasons)) or "no data"})
            continue
        effects.append(_effect_row(base, effect, study, analysis, review.definitions))

    if outcome is None:
        with_results = {key[0] for key in keys} | _proportion_studies(review)
        for study_id in studies.index:
            if study_id not in with_results:
                not_pooled.append(
                    {"study_id": study_id, "comparison": "", "outcome": "",
                     "timepoint_weeks": np.nan, "reported_form": "",
                     "reason": "no comparative result could be extracted (see the study's "
                               "note)"})

    order = ["outcome", "study_id", "comparison"]
    extra = _carried_columns(review.definitions, review.studies.columns)
    effects_frame = pd.DataFrame(effects, columns=EFFECT_COLUMNS + extra)
    not_pooled_frame = pd.DataFrame(not_pooled, columns=NOT_POOLED_COLUMNS)
    return Derived(
        sort_studies(effects_frame, order).reset_index(drop=True),
        sort_studies(not_pooled_frame, order).reset_index(drop=True),
    )


def _first_effect(weeks, arm_rows, contrast_rows, study, analysis, paired_r, dispersion,
                  control_share) -> tuple[Effect | None, list[str]]:
    """The first route that yields an effect, at the first timepoint where one does."""
    reasons = []
    for week in weeks:
        arms_now, contrast_now = _at(arm_rows, week), _at(contrast_rows, week)
        contrast = records(contrast_now.iloc[:1])[0] if len(contrast_now) else None
        routes = (
            lambda: effect_from_arms(arms_now, contrast, study, analysis, paired_r, dispersion,
                                     control_share(week)),
            lambda: effect_from_contrast(contrast, arms_now, study, analysis, paired_r),
            lambda: effect_from_means_and_p(arms_now, contrast, study, analysis, paired_r),
        )
        for route in routes:
            try:
                effect = route()
            except NotPoolable as why:
                if str(why):
                    reasons.append(f"{_week_text(week)}: {why}")
                continue
            return effect.at(week), reasons
    return None, reasons


def _effect_row(base: dict, effect: Effect, study, analysis: Analysis, definitions) -> dict:
    main = definitions.in_main_analysis(base["study_id"], study["intervention_class"])
    row = {
        **base,
        "outcome": analysis.outcome,
        "reported_outcome": base["outcome"],
        "measure": analysis.measure,
        **effect.fields(),
        "design": analysed_design(study["design"], study["randomised"]),
        "randomised": bool(study["randomised"]),
        "year": study["year"],
        "intervention_class": study["intervention_class"],
        "co_intervention": study["co_intervention"],
        "condition": study["condition"],
        "main_analysis": bool(main),
    }
    # the review's own study columns, and the studies.csv columns its subgroups and moderators
    # name (follow_up_weeks, country...), travel along
    for column in _carried_columns(definitions, study.keys()):
        row[column] = study[column]
    return row


def _carried_columns(definitions, available) -> list[str]:
    """Study columns an effect carries beyond `EFFECT_COLUMNS`: the review's own
    `study_columns`, then the columns of studies.csv that a subgroup or a moderator names."""
    available = set(available)
    named = ([c.name for c in definitions.study_columns]
             + list(definitions.subgroups) + [m.column for m in definitions.moderators])
    carried: list[str] = []
    for name in named:
        if name not in EFFECT_COLUMNS and name not in carried and name in available:
            carried.append(name)
    return carried


def changes_effects(review, parameter: str) -> bool:
    """Whether another value of a `derive_effects` parameter can change any effect of `review`.

    "paired_r" acts only on within-person studies (`within_person.is_within_person`: the
    paired analyses and the paired reading of an unlabelled "±"); "dispersion" only on arms
    whose "±" is unlabelled (reported_form mean_unlabelled). A sensitivity analysis skips the
    re-derivation of a review where neither can (its result would be the main analysis).
    Any other parameter: True.
    """
    if parameter == "paired_r":
        return any(is_within_person(study) for _, study in review.studies.iterrows())
    if parameter == "dispersion":
        return bool(len(review.arms)) and bool(
            (review.arms["reported_form"] == "mean_unlabelled").any())
    return True


def _parts(sheet: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    """The rows of `sheet` per (study_id, comparison, outcome), each in the sheet's order."""
    if sheet.empty:
        return {}
    groups = sheet.groupby(["study_id", "comparison", "outcome"], sort=False, dropna=False)
    # `take` makes each part its own small arrays; a part that is a view of the whole sheet's
    # (string) arrays makes every later selection of it copy the whole sheet's buffer
    return {key: sheet.take(rows) for key, rows in groups.indices.items()}


def _proportion_studies(review) -> set[str]:
    return set(review.proportions["study_id"]) if len(review.proportions) else set()


def _shared_control_counts(arms: pd.DataFrame) -> dict:
    """(study, outcome, timepoint) -> how many comparisons use the same control arm label.

    A shared control arm's n is divided among its comparisons (Cochrane Handbook 23.3.4), so
    that its patients are not counted twice.
    """
    controls = arms[arms["role"] == "control"].assign(
        week=lambda f: f["timepoint_weeks"].map(_week_key))
    counts = controls.groupby(["study_id", "outcome", "week", "arm"])["comparison"].nunique()
    return {(s, o, w): int(n) for (s, o, w, _arm), n in counts.items() if n > 1}


def _week_key(week) -> str:
    return "unstated" if missing(week) else f"{float(week):g}"


def _week_text(week) -> str:
    return "timepoint not stated" if missing(week) else f"week {float(week):g}"


def _reported_forms(arm_rows: pd.DataFrame, contrast_rows: pd.DataFrame) -> str:
    forms = list(arm_rows["reported_form"]) + list(contrast_rows["reported_form"])
    return ", ".join(dict.fromkeys(str(f) for f in forms))


# --- reading effects.csv back ------------------------------------------------------------

TEXT_COLUMNS = ("study_id", "comparison", "outcome", "reported_outcome", "measure", "design",
                "intervention_class", "co_intervention", "condition", "value_type",
                "derivation", "source_url", "source_location", "direction",
                "dispersion_reading")
BOOLEAN_COLUMNS = ("converted", "paired", "randomised", "main_analysis", "p_derived",
                   "p_bound", "dispersion_decided", "from_percent")


def _read_derived(path) -> pd.DataFrame:
    """A table notebook 02 wrote, with ids kept as text and flags as booleans."""
    table = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False,
                        na_values=[""])
    for column in BOOLEAN_COLUMNS:
        if column in table.columns:
            table[column] = table[column].map(
                lambda v: str(v).strip().lower() == "true").astype(bool)
    return table


def read_effects(path) -> pd.DataFrame:
    """effects.csv as written by notebook 02, with ids kept as text and flags as booleans."""
    return _read_derived(path)


def read_proportions(path) -> pd.DataFrame:
    """proportions.csv (single-group counts) as written by notebook 02, read as `read_effects`."""
    return _read_derived(path)
