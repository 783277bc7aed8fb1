"""From extraction sheets to analysable effects: one row per study x comparison x outcome.

Every result in `arms.csv` or `contrasts.csv` is turned into an effect size `yi` with sampling
variance `vi` when its reported form honestly allows it, and otherwise listed in a "not pooled"
table with the reason. The rules follow the table "What can be pooled, and how" of the project's
extraction guide:

- mean and SD per arm (parallel or non-randomised): MD, or SMD as Hedges' g (`effect_sizes`);
- mean and SD per side of the same patients (split-face): paired MD or SMD with the assumed
  within-person correlation `paired_r` (Cochrane Handbook section 23.2.7);
- mean and SE per arm: SD = SE * sqrt(n) (Cochrane Handbook section 6.5.2.2), exact;
- median with IQR or range: mean and SD by Luo et al. 2018 and Wan et al. 2014, flagged as
  converted;
- a between-arm MD (or SMD, RR, OR) with its CI, p value or t statistic: SE from the interval or
  the test statistic (Cochrane Handbook section 6.5.2.3), flagged as converted; "p < x" is read as
  p = x, which overstates the SE (conservative);
- events and totals per arm: log RR, log OR or RD, 0.5 added to all four cells of a table with a
  zero cell;
- percentages without dispersion, narrative results, single-arm series: not pooled.

Continuous effects are oriented so that a negative value favours the cell-based treatment: the
difference is treatment minus control, and its sign is flipped for outcomes where higher is
better. Ratio measures keep treatment versus control (the codebook says which side is good).

When one study contributes several comparisons that share a control arm for the same outcome,
the shared arm's n is divided evenly among them (Cochrane Handbook section 23.3.4) so that its
patients are not counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from metareview.stats import conversions, paired
from metareview.stats.escalc import effect_sizes

EFFECT_COLUMNS = [
    "study_id",
    "comparison",
    "outcome",
    "timepoint_weeks",
    "measure",
    "yi",
    "vi",
    "se",
    "n_treatment",
    "n_control",
    "design",
    "randomised",
    "intervention_class",
    "co_intervention",
    "condition",
    "value_type",
    "derivation",
    "converted",
    "paired",
    "paired_r",
    "source_url",
    "source_location",
]
NOT_POOLED_COLUMNS = [
    "study_id",
    "comparison",
    "outcome",
    "timepoint_weeks",
    "reported_form",
    "reason",
]


@dataclass(frozen=True)
class Derived:
    """Effects ready for pooling and the results that could not be made analysable."""

    effects: pd.DataFrame
    not_pooled: pd.DataFrame


@dataclass(frozen=True)
class _Effect:
    yi: float
    vi: float
    n_treatment: float
    n_control: float
    derivation: str
    converted: bool
    paired: bool
    value_type: str
    source_url: str
    source_location: str
    paired_r: float = np.nan


class _NotPoolable(Exception):
    """A result whose reported form yields no honest effect size; the message is the reason."""


def derive_effects(
    review,
    outcome: str | None = None,
    paired_r: float = 0.5,
    timepoint: str = "last",
    exclude_studies: Iterable[str] = (),
) -> Derived:
    """Turn a validated review (`metareview.sheets.Review`) into effects and a not-pooled list.

    For each study x comparison x outcome the timepoint is chosen by `timepoint`: "last" takes
    the latest timepoint that yields an effect (the longest follow-up), "first" the earliest.
    Arm-level data are preferred over a reported contrast at the same timepoint because they
    need no conversion.
    """
    if timepoint not in ("last", "first"):
        raise ValueError(f"timepoint must be 'last' or 'first', not {timepoint!r}")
    if not -1 < paired_r < 1:
        raise ValueError(f"paired_r must lie strictly between -1 and 1, not {paired_r!r}")
    excluded = set(exclude_studies)
    studies = review.studies.set_index("study_id")
    outcomes = review.outcomes.set_index("outcome")
    arms = review.arms
    contrasts = review.contrasts
    if outcome is not None:
        arms = arms[arms["outcome"] == outcome]
        contrasts = contrasts[contrasts["outcome"] == outcome]

    shared_controls = _shared_control_counts(arms)
    effects, not_pooled = [], []
    keys = sorted(
        set(map(tuple, arms[["study_id", "comparison", "outcome"]].to_numpy().tolist()))
        | set(map(tuple, contrasts[["study_id", "comparison", "outcome"]].to_numpy().tolist()))
    )
    for study_id, comparison, outcome_id in keys:
        study = studies.loc[study_id]
        spec = outcomes.loc[outcome_id]
        arm_rows = arms[
            (arms["study_id"] == study_id)
            & (arms["comparison"] == comparison)
            & (arms["outcome"] == outcome_id)
        ]
        contrast_rows = contrasts[
            (contrasts["study_id"] == study_id)
            & (contrasts["comparison"] == comparison)
            & (contrasts["outcome"] == outcome_id)
        ]
        timepoints = sorted(
            set(arm_rows["timepoint_weeks"]) | set(contrast_rows["timepoint_weeks"]),
            reverse=(timepoint == "last"),
        )
        base = {"study_id": study_id, "comparison": comparison, "outcome": outcome_id}
        forms = _reported_forms(arm_rows, contrast_rows, timepoints[0])
        if study_id in excluded:
            not_pooled.append(
                {**base, "timepoint_weeks": timepoints[0], "reported_form": forms,
                 "reason": "excluded by the exclude_studies parameter"}
            )
            continue
        if study["design"] == "single_arm":
            not_pooled.append(
                {**base, "timepoint_weeks": timepoints[0], "reported_form": forms,
                 "reason": "single-arm series: described, not pooled"}
            )
            continue
        reasons = []
        for week in timepoints:
            attempts = (
                lambda: _from_arms(
                    arm_rows[arm_rows["timepoint_weeks"] == week], study, spec, paired_r,
                    shared_controls.get((study_id, outcome_id, week), 1),
                ),
                lambda: _from_contrast(
                    contrast_rows[contrast_rows["timepoint_weeks"] == week], study, spec
                ),
            )
            effect = None
            for attempt in attempts:
                try:
                    effect = attempt()
                    break
                except _NotPoolable as why:
                    if str(why):
                        reasons.append(f"week {_week(week)}: {why}")
            if effect is not None:
                effects.append(_effect_row(base, week, spec, study, effect))
                break
        else:
            not_pooled.append(
                {**base, "timepoint_weeks": timepoints[0], "reported_form": forms,
                 "reason": "; ".join(dict.fromkeys(reasons)) or "no data"}
            )

    if outcome is None:
        with_results = {key[0] for key in keys}
        for study_id, study in studies.iterrows():
            if study_id not in with_results:
                not_pooled.append(
                    {"study_id": study_id, "comparison": "", "outcome": "",
                     "timepoint_weeks": np.nan, "reported_form": "",
                     "reason": "no result could be extracted (see the study's note)"}
                )

    effects_frame = pd.DataFrame(effects, columns=EFFECT_COLUMNS)
    not_pooled_frame = pd.DataFrame(not_pooled, columns=NOT_POOLED_COLUMNS)
    order = ["outcome", "study_id", "comparison"]
    return Derived(
        effects_frame.sort_values(order, kind="stable").reset_index(drop=True),
        not_pooled_frame.sort_values(order, kind="stable").reset_index(drop=True),
    )


# --- arm-level data -----------------------------------------------------------------------------


def _from_arms(rows: pd.DataFrame, study, spec, paired_r: float, control_share: int) -> _Effect:
    """An effect from one treatment row and one control row, or _NotPoolable."""
    if rows.empty:
        raise _NotPoolable("")
    roles = dict(zip(rows["role"], rows.to_dict("records")))
    if set(roles) != {"treatment", "control"}:
        raise _NotPoolable("arm data for only one arm")
    treat, ctrl = roles["treatment"], roles["control"]
    if treat["value_type"] != ctrl["value_type"]:
        raise _NotPoolable("arms report different kinds of value (final vs change)")
    source = treat
    if spec["type"] == "binary":
        return _binary_from_arms(treat, ctrl, spec, study)

    split_face = study["design"] == "split_face"
    n_t, n_c = _n(treat, "treatment"), _n(ctrl, "control")
    mean_t, sd_t, how_t, conv_t = _mean_sd(treat)
    mean_c, sd_c, how_c, conv_c = _mean_sd(ctrl)
    notes = [h for h in (how_t, how_c) if h]
    sign = -1.0 if spec["direction"] == "higher_is_better" else 1.0
    measure = spec["measure"]
    if split_face:
        if n_t != n_c:
            raise _NotPoolable("split-face sides report different numbers of patients")
        if measure == "SMD":
            es = paired.paired_smd(mean_t, sd_t, mean_c, sd_c, n_t, paired_r)
        elif measure == "MD":
            es = paired.paired_md(mean_t, sd_t, mean_c, sd_c, n_t, paired_r)
        else:
            raise _NotPoolable(f"measure {measure} is not defined for paired continuous data")
        yi, vi = float(es["yi"].iloc[0]), float(es["vi"].iloc[0])
        how = f"paired {measure} from per-side mean and SD of {n_t:g} patients, r = {paired_r:g}"
    else:
        if control_share > 1:
            n_c = n_c / control_share
            notes.append(
                f"control arm shared by {control_share} comparisons: its n split to {n_c:g}"
            )
        if measure not in ("SMD", "MD"):
            raise _NotPoolable(f"measure {measure} is not defined for continuous data")
        es = effect_sizes(
            measure, m1i=[mean_t], sd1i=[sd_t], n1i=[n_t], m2i=[mean_c], sd2i=[sd_c], n2i=[n_c]
        )
        yi, vi = float(es["yi"].iloc[0]), float(es["vi"].iloc[0])
        label = "SMD (Hedges' g)" if measure == "SMD" else "MD"
        how = f"{label} from mean and SD per arm ({n_t:g} vs {n_c:g})"
    if sign < 0:
        how += "; sign flipped so that negative favours treatment"
    return _Effect(
        yi=sign * yi,
        vi=vi,
        n_treatment=n_t,
        n_control=n_c,
        derivation="; ".join([how, *notes]),
        converted=conv_t or conv_c,
        paired=split_face,
        value_type=treat["value_type"],
        source_url=str(source["source_url"]),
        source_location=str(source["source_location"]),
        paired_r=paired_r if split_face else np.nan,
    )


def _binary_from_arms(treat: dict, ctrl: dict, spec, study) -> _Effect:
    if treat["reported_form"] != "events_total" or ctrl["reported_form"] != "events_total":
        raise _NotPoolable(f"binary outcome reported as {treat['reported_form']}")
    if study["design"] == "split_face":
        raise _NotPoolable("paired binary data (split-face) need the discordant pairs")
    e_t, n_t = int(treat["events"]), int(treat["total"])
    e_c, n_c = int(ctrl["events"]), int(ctrl["total"])
    measure = spec["measure"]
    es = effect_sizes(measure, ai=[e_t], bi=[n_t - e_t], ci=[e_c], di=[n_c - e_c])
    zero = 0 in (e_t, n_t - e_t, e_c, n_c - e_c)
    how = f"{'log ' if measure in ('RR', 'OR') else ''}{measure} from {e_t}/{n_t} vs {e_c}/{n_c}"
    if zero and measure in ("RR", "OR"):
        how += "; 0.5 added to each cell (zero cell)"
    return _Effect(
        yi=float(es["yi"].iloc[0]),
        vi=float(es["vi"].iloc[0]),
        n_treatment=n_t,
        n_control=n_c,
        derivation=how,
        converted=False,
        paired=False,
        value_type=treat["value_type"],
        source_url=str(treat["source_url"]),
        source_location=str(treat["source_location"]),
    )


def _mean_sd(row: dict) -> tuple[float, float, str, bool]:
    """Mean and SD of one arm from its reported form: (mean, sd, how, converted)."""
    form, arm = row["reported_form"], row["arm"]
    if form == "mean_sd":
        if _missing(row["mean"]) or _missing(row["sd"]):
            raise _NotPoolable("mean or SD missing")
        return float(row["mean"]), float(row["sd"]), "", False
    if form == "mean_se":
        if _missing(row["mean"]) or _missing(row["se"]):
            raise _NotPoolable("mean or SE missing")
        n = _n(row, arm)
        sd = float(row["se"]) * np.sqrt(n)  # exact: SE of a mean = SD / sqrt(n)
        return float(row["mean"]), sd, f"SD of {arm} from SE x sqrt(n)", False
    if form in ("median_iqr", "median_range"):
        n = _n(row, arm)
        spread = ("q1", "q3") if form == "median_iqr" else ("min", "max")
        if any(_missing(row[c]) for c in ("median", *spread)):
            raise _NotPoolable(f"{form} with a missing value")
        if form == "median_iqr":
            mean, sd = conversions.mean_sd_from_median_iqr(row["q1"], row["median"], row["q3"], n)
        else:
            mean, sd = conversions.mean_sd_from_median_range(
                row["min"], row["median"], row["max"], n
            )
        how = f"mean and SD of {arm} from median and {'IQR' if form == 'median_iqr' else 'range'}"
        return float(mean), float(sd), how + " (Luo 2018, Wan 2014)", True
    if form == "mean_only":
        raise _NotPoolable("mean without SD or SE")
    if form == "percent_only":
        raise _NotPoolable("percentage without dispersion")
    if form == "narrative":
        raise _NotPoolable("narrative result only")
    raise _NotPoolable(f"reported form {form} does not give a mean and SD")


def _n(row: dict, arm: str) -> float:
    if _missing(row["n"]):
        raise _NotPoolable(f"n of the {arm} arm not reported")
    return float(row["n"])


def _shared_control_counts(arms: pd.DataFrame) -> dict:
    """(study, outcome, timepoint) -> how many comparisons use the same control arm label."""
    controls = arms[arms["role"] == "control"]
    counts = controls.groupby(["study_id", "outcome", "timepoint_weeks", "arm"])[
        "comparison"
    ].nunique()
    shared = {}
    for (study_id, outcome_id, week, _arm), n in counts.items():
        if n > 1:
            shared[(study_id, outcome_id, week)] = int(n)
    return shared


# --- reported contrasts -------------------------------------------------------------------------


def _from_contrast(rows: pd.DataFrame, study, spec) -> _Effect:
    """An effect from a between-arm result as reported, or _NotPoolable."""
    if rows.empty:
        raise _NotPoolable("")
    row = rows.iloc[0].to_dict()
    form, measure = row["reported_form"], row["measure"]
    if form in ("narrative", "estimate_only") or (form == "p_value" and _missing(row["estimate"])):
        raise _NotPoolable(
            {
                "narrative": "narrative result only",
                "estimate_only": "estimate without CI, p value or test statistic",
            }.get(form, "p value without an effect estimate")
        )
    wanted = spec["measure"]
    if measure != wanted:
        if wanted == "SMD" and measure == "MD":
            raise _NotPoolable("MD reported without a documented SD; the outcome is pooled as SMD")
        raise _NotPoolable(f"{measure} reported; the outcome is pooled as {wanted}")
    direction = row["contrast_direction"]
    if direction not in ("treatment_minus_control", "control_minus_treatment"):
        raise _NotPoolable("the source does not say which arm was subtracted")

    ratio = measure in ("RR", "OR")
    estimate = float(row["estimate"])
    lower, upper = row["ci_low"], row["ci_high"]
    if ratio:
        estimate = np.log(estimate)
        lower = np.log(lower) if not _missing(lower) else lower
        upper = np.log(upper) if not _missing(upper) else upper
    df = _contrast_df(row, study)
    quantile = f"t, df = {df:g}" if df is not None else "z"
    if form == "estimate_ci":
        level = 0.95 if _missing(row["ci_level"]) else float(row["ci_level"])
        if _missing(lower) or _missing(upper):
            raise _NotPoolable("confidence interval incomplete")
        se = float(conversions.se_from_ci(lower, upper, level=level, df=None if ratio else df))
        how = f"SE from the {level:.0%} CI ({'z' if ratio else quantile})"
    elif form in ("estimate_p", "p_value"):
        operator = row["p_operator"] if not _missing(row["p_operator"]) else "="
        if operator == ">":
            raise _NotPoolable("p value reported only as 'p >' a threshold")
        se = conversions.se_from_p(estimate, float(row["p_value"]), df=df, operator=operator).se
        how = f"SE from p {operator} {row['p_value']:g} ({quantile})"
        if operator == "<":
            how += ", read as p = the threshold (conservative)"
    elif form == "t_stat":
        se = float(conversions.se_from_t(estimate, float(row["t_stat"])))
        how = f"SE from t = {row['t_stat']:g}"
    else:
        raise _NotPoolable(f"reported form {form} gives no standard error")
    if not np.isfinite(se) or se <= 0:
        raise _NotPoolable("no positive standard error can be derived")

    if direction == "control_minus_treatment":
        estimate = -estimate
        how += "; reversed to treatment minus control"
    sign = -1.0 if (spec["direction"] == "higher_is_better" and not ratio) else 1.0
    if sign < 0:
        how += "; sign flipped so that negative favours treatment"
    return _Effect(
        yi=sign * estimate,
        vi=se**2,
        n_treatment=_float_or_nan(row["n_treatment"]),
        n_control=_float_or_nan(row["n_control"]),
        derivation=f"{'log ' if ratio else ''}{measure} as reported; {how}",
        converted=True,
        paired=bool(row["paired"]),
        value_type=row["value_type"],
        source_url=str(row["source_url"]),
        source_location=str(row["source_location"]),
    )


def _contrast_df(row: dict, study) -> float | None:
    """Degrees of freedom of a reported contrast: n - 1 if paired, n1 + n2 - 2 if not; else None."""
    n_t, n_c = row["n_treatment"], row["n_control"]
    if bool(row["paired"]):
        n = n_t if not _missing(n_t) else n_c
        return None if _missing(n) else float(n) - 1
    if _missing(n_t) or _missing(n_c):
        return None
    return float(n_t) + float(n_c) - 2


# --- helpers ------------------------------------------------------------------------------------


def _effect_row(base: dict, week, spec, study, effect: _Effect) -> dict:
    measure = spec["measure"]
    return {
        **base,
        "timepoint_weeks": week,
        "measure": measure,
        "yi": effect.yi,
        "vi": effect.vi,
        "se": float(np.sqrt(effect.vi)),
        "n_treatment": effect.n_treatment,
        "n_control": effect.n_control,
        "design": study["design"],
        "randomised": bool(study["randomised"]),
        "intervention_class": study["intervention_class"],
        "co_intervention": study["co_intervention"],
        "condition": study["condition"],
        "value_type": effect.value_type,
        "derivation": effect.derivation,
        "converted": effect.converted,
        "paired": effect.paired,
        "paired_r": effect.paired_r,
        "source_url": effect.source_url,
        "source_location": effect.source_location,
    }


def _reported_forms(arm_rows: pd.DataFrame, contrast_rows: pd.DataFrame, week) -> str:
    forms = list(arm_rows.loc[arm_rows["timepoint_weeks"] == week, "reported_form"])
    forms += list(contrast_rows.loc[contrast_rows["timepoint_weeks"] == week, "reported_form"])
    return ", ".join(dict.fromkeys(str(f) for f in forms))


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _float_or_nan(value) -> float:
    return np.nan if _missing(value) else float(value)


def _week(value) -> str:
    return f"{float(value):g}"


# --- reading effects.csv back ------------------------------------------------------------

TEXT_COLUMNS = ("study_id", "comparison", "outcome", "measure", "design", "intervention_class",
                "co_intervention", "condition", "value_type", "derivation", "source_url",
                "source_location", "direction")


def read_effects(path) -> pd.DataFrame:
    """effects.csv as written by notebook 02, with ids kept as text and flags as booleans."""
    effects = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False,
                          na_values=[""])
    for column in ("converted", "paired", "randomised"):
        if column in effects.columns:
            effects[column] = effects[column].map(
                lambda v: str(v).strip().lower() == "true").astype(bool)
    return effects
