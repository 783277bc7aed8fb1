"""Effects from per-arm data: means with their spread, events, percentages, or means with a
between-arm p value. See `metareview.review.derive` for where these routes sit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from metareview.review.effect import (
    Effect,
    NotPoolable,
    missing,
    number,
    on_analysis_scale,
    same_scale_or_refuse,
    paired_df,
    parallel_df,
    records,
)
from metareview.review.within_person import is_within_person, kind_words, unit_of
from metareview.stats import consistency, conversions, paired
from metareview.stats.escalc import effect_sizes
from metareview.stats.vocabulary import BINARY_MEASURES, is_ratio

WITH_MEAN = ("mean_sd", "mean_se", "mean_unlabelled", "mean_only")


# When a source prints both, changes from baseline are used before final values (either is
# valid for an MD, Cochrane Handbook 10.5.2; a change removes baseline imbalance).
VALUE_TYPE_PREFERENCE = ("change", "final", "percent_change", "count")


def _two_arms(rows: pd.DataFrame) -> tuple[dict, dict]:
    """The treatment and control rows of one kind of value (see VALUE_TYPE_PREFERENCE)."""
    if rows.empty:
        raise NotPoolable("")
    pairs = {}
    for record in records(rows):
        pairs.setdefault(record["value_type"], {}).setdefault(record["role"], record)
    for value_type in VALUE_TYPE_PREFERENCE:
        roles = pairs.get(value_type, {})
        if set(roles) == {"treatment", "control"}:
            return roles["treatment"], roles["control"]
    if len({r for roles in pairs.values() for r in roles}) == 2:
        raise NotPoolable("arms report different kinds of value (final vs change)")
    raise NotPoolable("arm data for only one arm")


def _n(row: dict) -> float:
    if missing(row["n"]):
        raise NotPoolable(f"n of the arm '{row['arm']}' not reported")
    return float(row["n"])


def _source(row: dict) -> dict:
    return {"source_url": str(row["source_url"]), "source_location": str(row["source_location"])}


# --- continuous: mean and spread per arm -------------------------------------------------------


def _reading(treat: dict, ctrl: dict, contrast: dict | None, split_face: bool, paired_r: float,
             dispersion: str) -> tuple[str, bool, str]:
    """How both arms' unlabelled "±" are read: (reading, decided, why)."""
    p = None if contrast is None else contrast.get("p_value")
    operator = None if contrast is None else contrast.get("p_operator")
    if missing(p) or missing(operator):
        reading, decided = "SD", False
        why = "read as SD by convention (no printed p value to decide SD or SE)"
    else:
        n_t, n_c = _n(treat), _n(ctrl)
        check = consistency.read_unlabelled_dispersion(
            float(treat["mean"]), float(treat["dispersion_unlabelled"]), n_t,
            float(ctrl["mean"]), float(ctrl["dispersion_unlabelled"]), n_c,
            float(p), str(operator), paired=split_face, r=paired_r)
        reading, decided, why = check.reading, check.decided, check.reason
    if dispersion == "other":
        reading = "SE" if reading == "SD" else "SD"
        why = f"sensitivity analysis: read as {reading}, the other reading ({why})"
    return reading, decided, why


def _mean_sd(row: dict, reading: str = "SD") -> tuple[float, float, str, bool]:
    """Mean and SD of one arm from its reported form: (mean, sd, how, converted)."""
    form, arm = row["reported_form"], row["arm"]
    if form == "mean_sd":
        if missing(row["mean"]) or missing(row["sd"]):
            raise NotPoolable("mean or SD missing")
        return float(row["mean"]), float(row["sd"]), "", False
    if form == "mean_se":
        if missing(row["mean"]) or missing(row["se"]):
            raise NotPoolable("mean or SE missing")
        sd = float(row["se"]) * math.sqrt(_n(row))  # exact: SE of a mean = SD / sqrt(n)
        return float(row["mean"]), sd, f"SD of {arm} from SE x sqrt(n)", False
    if form == "mean_unlabelled":
        x = float(row["dispersion_unlabelled"])
        if reading == "SE":
            return float(row["mean"]), x * math.sqrt(_n(row)), "", True
        return float(row["mean"]), x, "", False
    if form in ("median_iqr", "median_range"):
        n = _n(row)
        spread = ("q1", "q3") if form == "median_iqr" else ("min", "max")
        if any(missing(row[c]) for c in ("median", *spread)):
            raise NotPoolable(f"{form} with a missing value")
        if form == "median_iqr":
            mean, sd = conversions.mean_sd_from_median_iqr(row["q1"], row["median"], row["q3"], n)
        else:
            mean, sd = conversions.mean_sd_from_median_range(row["min"], row["median"],
                                                             row["max"], n)
        how = f"mean and SD of {arm} from median and {'IQR' if form == 'median_iqr' else 'range'}"
        return float(mean), float(sd), how + " (Luo 2018, Wan 2014)", True
    reasons = {"mean_only": "mean without SD or SE", "percent_only": "percentage of people "
               "for a continuous outcome", "narrative": "narrative result only"}
    raise NotPoolable(reasons.get(form, f"reported form {form} gives no mean and SD"))


def effect_from_arms(rows: pd.DataFrame, contrast: dict | None, study, analysis, paired_r: float,
                     dispersion: str = "data", control_share: int = 1) -> Effect:
    """An effect from one treatment and one control row (route 1 of `derive_effects`)."""
    treat, ctrl = _two_arms(rows)
    if analysis.measure in BINARY_MEASURES:
        return _binary(treat, ctrl, study, analysis, paired_r, control_share)
    split_face = is_within_person(study)
    reading, decided, why = "", True, ""
    if treat["reported_form"] == "mean_unlabelled" or ctrl["reported_form"] == "mean_unlabelled":
        if treat["reported_form"] != ctrl["reported_form"]:
            raise NotPoolable("one arm's '±' is labelled and the other's is not")
        reading, decided, why = _reading(treat, ctrl, contrast, split_face, paired_r, dispersion)
    mean_t, sd_t, how_t, conv_t = _mean_sd(treat, reading or "SD")
    mean_c, sd_c, how_c, conv_c = _mean_sd(ctrl, reading or "SD")
    n_t, n_c = _n(treat), _n(ctrl)
    notes = [h for h in (why, how_t, how_c) if h]
    measure = analysis.measure
    if measure not in ("SMD", "MD"):
        raise NotPoolable(f"measure {measure} is not defined for continuous data")
    if split_face:
        if n_t != n_c:
            raise NotPoolable(f"the {unit_of(study)}s of a within-person study report "
                              "different numbers of patients")
        fit = paired.paired_smd if measure == "SMD" else paired.paired_md
        es = fit(mean_t, sd_t, mean_c, sd_c, n_t, paired_r)
        how = (f"paired {measure}{kind_words(study)} from per-{unit_of(study)} mean and SD of "
               f"{n_t:g} patients, r = {paired_r:g}")
    else:
        if control_share > 1:
            n_c = n_c / control_share
            notes.append(f"control arm shared by {control_share} comparisons: its n split to "
                         f"{n_c:g}")
        es = effect_sizes(measure, m1i=[mean_t], sd1i=[sd_t], n1i=[n_t], m2i=[mean_c],
                          sd2i=[sd_c], n2i=[n_c])
        label = "SMD (Hedges' g)" if measure == "SMD" else "MD"
        how = f"{label} from mean and SD per arm ({n_t:g} vs {n_c:g})"
    yi, flip = on_analysis_scale(float(es["yi"].iloc[0]), analysis)
    # the SE comes from the arms' SDs, not from a t-based interval or test: a z interval
    return Effect(
        yi=yi, vi=float(es["vi"].iloc[0]),
        derivation="; ".join([how, *notes, *([flip] if flip else [])]),
        value_type=treat["value_type"], **_source(treat),
        n_treatment=n_t, n_control=n_c,
        mean_treatment=mean_t, sd_treatment=sd_t, mean_control=mean_c, sd_control=sd_c,
        converted=conv_t or conv_c or reading == "SE", paired=split_face,
        paired_r=paired_r if split_face else np.nan,
        dispersion_reading=reading, dispersion_decided=decided,
    )


# --- binary: events or percentages per arm ------------------------------------------------------


def _counts(row: dict) -> tuple[int, int, bool]:
    """(events, total, from_percent) of one arm."""
    form = row["reported_form"]
    if form == "events_total":
        return int(row["events"]), int(row["total"]), False
    if form == "percent_only":
        events = int(conversions.counts_from_percent(float(row["percent"]), int(row["total"])))
        return events, int(row["total"]), True
    raise NotPoolable(f"binary outcome reported as {form}")


def _binary(treat: dict, ctrl: dict, study, analysis, paired_r: float,
            control_share: int = 1) -> Effect:
    same_scale_or_refuse(analysis)
    e_t, n_t, pct_t = _counts(treat)
    e_c, n_c, pct_c = _counts(ctrl)
    measure = analysis.measure
    from_percent = pct_t or pct_c
    shown = (f"{e_t}/{n_t} vs {e_c}/{n_c}"
             + (f" (counts from {treat['percent']:g}% and {ctrl['percent']:g}% of the totals)"
                if from_percent else ""))
    if is_within_person(study):
        unit = unit_of(study)
        if n_t != n_c:
            raise NotPoolable(f"the {unit}s of a within-person study report different numbers "
                              "of patients")
        if measure not in ("RR", "OR"):
            raise NotPoolable(f"{measure} is not defined here for within-person binary data")
        if min(e_t, e_c) == 0 or max(e_t, e_c) == n_t:
            raise NotPoolable(f"a within-person binary outcome with 0 or all events in a {unit}:"
                              " the marginal paired method needs both proportions inside (0, 1)")
        es = paired.paired_binary(e_t / n_t, e_c / n_c, n_t, paired_r, measure)
        how = (f"paired log {measure}{kind_words(study)} from {shown} {unit}s of {n_t} patients "
               f"(Becker-Balagtas marginal method), r = {paired_r:g}")
        paired_design = True
    else:
        notes = []
        if control_share > 1:
            # Cochrane Handbook 23.3.4: a control group shared by k comparisons enters each
            # with its events and its total divided by k, so that no patient counts twice
            e_c, n_c = e_c / control_share, n_c / control_share
            notes.append(f"control arm shared by {control_share} comparisons: its events and "
                         f"total split to {e_c:g}/{n_c:g}")
        es = effect_sizes(measure, ai=[e_t], bi=[n_t - e_t], ci=[e_c], di=[n_c - e_c])
        how = "; ".join([f"{'log ' if is_ratio(measure) else ''}{measure} from {shown}", *notes])
        if 0 in (e_t, n_t - e_t, e_c, n_c - e_c) and is_ratio(measure):
            how += "; 0.5 added to each cell (zero cell)"
        paired_design = False
    return Effect(
        yi=float(es["yi"].iloc[0]), vi=float(es["vi"].iloc[0]), derivation=how,
        value_type=treat["value_type"], **_source(treat),
        n_treatment=n_t, n_control=n_c,
        events_treatment=e_t, total_treatment=n_t, events_control=e_c, total_control=n_c,
        converted=from_percent, paired=paired_design,
        paired_r=paired_r if paired_design else np.nan, from_percent=from_percent,
    )


# --- means with a between-arm p value -----------------------------------------------------------


def effect_from_means_and_p(rows: pd.DataFrame, contrast: dict | None, study, analysis,
                            paired_r: float) -> Effect:
    """MD from the arm means with its SE from the printed p value (route 3).

    MD = mean_treatment − mean_control; SE = |MD|/t_df(1 − p/2), df = n − 1 for split-face
    data and n1 + n2 − 2 for parallel arms (Cochrane Handbook 6.5.2.3); "p < x" is used as
    x, which overstates the SE (conservative). Where the outcome is pooled as SMD, the MD and
    its SE become an SMD (`md_se_to_smd`).
    """
    treat, ctrl = _two_arms(rows)
    if treat["reported_form"] not in WITH_MEAN or ctrl["reported_form"] not in WITH_MEAN:
        raise NotPoolable("")
    if missing(treat["mean"]) or missing(ctrl["mean"]):
        raise NotPoolable("")
    if contrast is None or missing(contrast.get("p_value")):
        raise NotPoolable("arm means without SD and without a between-arm p value")
    operator = contrast.get("p_operator") or "="
    if operator == ">":
        raise NotPoolable("arm means with only 'p >' a threshold: no SE can be derived")
    split_face = is_within_person(study)
    n_t, n_c = _n(treat), _n(ctrl)
    df = _test_df(contrast, n_t, n_c, split_face)
    md = conversions.md_from_means_and_p(float(treat["mean"]), float(ctrl["mean"]),
                                         float(contrast["p_value"]), df=df, operator=operator)
    basis = "z" if df is None else f"t, df = {df:g}"
    how = (f"MD {md.estimate:g} from the arm means ({float(treat['mean']):g} vs "
           f"{float(ctrl['mean']):g}); SE from p {operator} {float(contrast['p_value']):g} "
           f"({basis}{', paired' if split_face else ''})")
    if md.p_is_bound:
        how += ", the bound used as p (conservative)"
    yi, vi, how, df_out = md_se_to_measure(md.estimate, md.se, n_t, n_c, split_face, analysis,
                                           paired_r, how, np.nan if df is None else df)
    return Effect(
        yi=yi, vi=vi, derivation=how, value_type=treat["value_type"],
        source_url=str(contrast["source_url"]), source_location=str(contrast["source_location"]),
        n_treatment=n_t, n_control=n_c, df=df_out,
        mean_treatment=float(treat["mean"]), mean_control=float(ctrl["mean"]),
        converted=True, paired=split_face, paired_r=paired_r if split_face else np.nan,
        p_derived=True, p_bound=md.p_is_bound,
    )


def _test_df(contrast: dict, n_t: float, n_c: float, within_person: bool) -> float | None:
    """df of the test behind a between-arm p value printed beside arm means: None for a
    stated z test, a stated df, else the t test of the design (n − 1 paired, n1 + n2 − 2)."""
    basis = contrast.get("basis")
    if not missing(basis) and basis == "z":
        return None
    if not missing(contrast.get("df")):
        return float(contrast["df"])
    return paired_df(n_t) if within_person else parallel_df(n_t, n_c)


def md_se_to_measure(md: float, se: float, n_t: float, n_c: float, split_face: bool, analysis,
                     paired_r: float, how: str, df: float) -> tuple[float, float, str, float]:
    """An MD (treatment minus control) with its SE as the analysis measure, on its scale.

    MD: kept, with the t df of its interval. SMD: split-face d_z → d_av with r (Morris &
    DeShon 2002, `paired.smd_from_paired_md`); parallel arms SD = SE/√(1/n1 + 1/n2)
    (Cochrane Handbook 6.5.2.3) and Hedges' g as `effect_sizes`.
    """
    measure = analysis.measure
    if measure == "MD":
        yi, flip = on_analysis_scale(md, analysis)
        return yi, se**2, "; ".join([how, *([flip] if flip else [])]), df
    if measure != "SMD":
        raise NotPoolable(f"a mean difference cannot be pooled as {measure}")
    if missing(n_t) or (not split_face and missing(n_c)):
        raise NotPoolable("an MD becomes an SMD only with the number of patients")
    if split_face:
        es = paired.smd_from_paired_md(md, se, n_t, paired_r)
        how += f"; SMD by d_z → d_av with r = {paired_r:g} (Morris & DeShon 2002)"
    else:
        sd = se / math.sqrt(1 / n_t + 1 / n_c)
        es = effect_sizes("SMD", m1i=[md], sd1i=[sd], n1i=[n_t], m2i=[0.0], sd2i=[sd],
                          n2i=[n_c])
        how += "; SMD with SD = SE/√(1/n1 + 1/n2)"
    yi, flip = on_analysis_scale(float(es["yi"].iloc[0]), analysis)
    return yi, float(es["vi"].iloc[0]), "; ".join([how, *([flip] if flip else [])]), np.nan


__all__ = ["effect_from_arms", "effect_from_means_and_p", "md_se_to_measure", "number"]
