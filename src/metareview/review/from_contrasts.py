"""Effects from a between-arm result as the source reports it (route 2 of `derive_effects`):
an MD, SMD, RR or OR with its CI, p value, t statistic, SE or variance.

The distribution behind a printed interval or p value is read from the row (`basis`: z, or t
with `df`), never from whether arm sizes are filled: read as t, a printed interval gives a
variance smaller by the factor (z/t)², 16.5% smaller on 14 df (8 patients per arm), 50% on 4
df, so a guess would change results without a word."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metareview.review.effect import (Effect, NotPoolable, missing, number, on_analysis_scale,
                                     records, same_scale_or_refuse)
from metareview.review.from_arms import md_se_to_measure
from metareview.stats import conversions
from metareview.stats.vocabulary import is_ratio

_UNUSABLE = {
    "narrative": "narrative result only",
    "estimate_only": "estimate without CI, p value or test statistic",
    "direction_only": "direction of effect only (used in the synthesis without meta-analysis)",
}


def _direction(row: dict, arms: pd.DataFrame, estimate: float) -> tuple[str, str]:
    """Which arm was subtracted: as stated, or from the arm means when the source is silent."""
    stated = row["contrast_direction"]
    if stated in ("treatment_minus_control", "control_minus_treatment"):
        return stated, ""
    means = {r["role"]: number(r["mean"]) for r in records(arms)}
    if {"treatment", "control"} <= set(means) and np.isfinite(means["treatment"] -
                                                              means["control"]):
        difference = means["treatment"] - means["control"]
        if difference != 0 and estimate != 0:
            same = np.sign(difference) == np.sign(estimate)
            return (("treatment_minus_control" if same else "control_minus_treatment"),
                    "direction taken from the arm means")
    raise NotPoolable("the source does not say which arm was subtracted")


def _df(row: dict, paired: bool) -> float | None:
    """Degrees of freedom of the reported test: as printed (`df`), else n − 1 if paired,
    n1 + n2 − 2 if not (None when the sizes are missing)."""
    if not missing(row.get("df")):
        return float(row["df"])
    n_t, n_c = row["n_treatment"], row["n_control"]
    if paired:
        n = n_t if not missing(n_t) else n_c
        return None if missing(n) else float(n) - 1
    if missing(n_t) or missing(n_c):
        return None
    return float(n_t) + float(n_c) - 2


# forms whose SE is printed (or its square): no interval or test to read a basis from
_SE_FORMS = ("estimate_se", "estimate_variance")


def quantile_df(row: dict, ratio: bool) -> float | None:
    """The t df of the row's interval or p value, or None for z.

    `basis` z: None. `basis` t: the printed `df`, else the design's (`_df`). Empty basis: z for
    a ratio (log-scale intervals are z-based) and for a printed SE or variance, a t statistic's
    df from the design (only the single study's interval uses it); an MD or SMD with an
    interval or p value and no basis is refused (the validator asks for it first).
    """
    form, basis = row["reported_form"], row.get("basis")
    paired = bool(row["paired"])
    if not missing(basis):
        if basis == "z":
            return None
        df = _df(row, paired)
        if df is None:
            raise NotPoolable("a t-based interval or p value without df or the number of "
                              "patients")
        return df
    if ratio or form in _SE_FORMS:
        return None
    if form == "t_stat":
        return _df(row, paired)
    raise NotPoolable("the basis of the interval or p value (z, or t with its df) is not "
                      "stated")


def effect_from_contrast(row: dict | None, arms: pd.DataFrame, study, analysis,
                         paired_r: float) -> Effect:
    """An effect from a reported between-arm estimate with its CI, p value or t statistic.

    SE = (upper − lower)/(2 q), with q the quantile of the row's basis (z, or t with its df;
    `quantile_df`); SE = |estimate|/q(1 − p/2); SE = |estimate/t| (Cochrane Handbook
    6.5.2.3); an SE reported with the estimate (form estimate_se, of the log for a ratio) as
    it is; a reported variance (form estimate_variance) as SE = √variance.
    A difference reported where the outcome is pooled as SMD is standardised
    (`md_se_to_measure`).
    """
    if row is None:
        raise NotPoolable("")
    form, measure = row["reported_form"], row["measure"]
    if form in _UNUSABLE:
        raise NotPoolable(_UNUSABLE[form])
    if missing(row["estimate"]):
        if form == "p_value":
            raise NotPoolable("p value without an estimate or arm means (used in the synthesis "
                              "without meta-analysis)")
        raise NotPoolable("estimate missing")
    wanted = analysis.measure
    if measure != wanted and not (measure == "MD" and wanted == "SMD"):
        raise NotPoolable(f"{measure} reported; the outcome is pooled as {wanted}")
    ratio = is_ratio(measure)
    if ratio:
        same_scale_or_refuse(analysis)
    estimate = float(row["estimate"])
    lower, upper = number(row["ci_low"]), number(row["ci_high"])
    if ratio:
        estimate, lower, upper = np.log(estimate), np.log(lower), np.log(upper)
    direction, direction_note = _direction(row, arms, estimate)
    split_face = bool(row["paired"])
    # a reported SE comes with no test, so its interval is a z interval (as RevMan's) unless
    # the row states a t basis
    df = quantile_df(row, ratio)
    quantile = f"t, df = {df:g}" if df is not None else "z"
    p_derived = bound = False
    if form == "estimate_ci":
        level = 0.95 if missing(row["ci_level"]) else float(row["ci_level"])
        if not (np.isfinite(lower) and np.isfinite(upper)):
            raise NotPoolable("confidence interval incomplete")
        se = float(conversions.se_from_ci(lower, upper, level=level, df=df))
        how = f"SE from the {level:.0%} CI ({quantile})"
    elif form in ("estimate_p", "p_value"):
        operator = row["p_operator"] if not missing(row["p_operator"]) else "="
        if operator == ">":
            raise NotPoolable("p value reported only as 'p >' a threshold")
        converted = conversions.se_from_p(estimate, float(row["p_value"]), df=df,
                                          operator=operator)
        se, p_derived, bound = float(converted.se), True, bool(converted.p_is_bound)
        how = f"SE from p {operator} {float(row['p_value']):g} ({quantile})"
        if bound:
            how += ", the bound used as p (conservative)"
    elif form == "estimate_se":
        se = number(row.get("se"))
        how = "SE as reported"
    elif form == "estimate_variance":
        variance = number(row.get("variance"))
        se = float(np.sqrt(variance)) if np.isfinite(variance) and variance > 0 else np.nan
        how = "SE as the square root of the reported variance"
    elif form == "t_stat":
        se = float(conversions.se_from_t(estimate, float(row["t_stat"])))
        how = f"SE from t = {float(row['t_stat']):g}"
    else:
        raise NotPoolable(f"reported form {form} gives no standard error")
    if not np.isfinite(se) or se <= 0:
        raise NotPoolable("no positive standard error can be derived")
    notes = [n for n in (direction_note,) if n]
    if direction == "control_minus_treatment":
        estimate = -estimate
        notes.append("reversed to treatment minus control")
    how = "; ".join([f"{'log ' if ratio else ''}{measure} as reported", how, *notes])
    n_t, n_c = number(row["n_treatment"]), number(row["n_control"])
    if ratio:
        yi, vi, df_out = estimate, se**2, np.nan
    elif measure == "SMD":
        yi, flip = on_analysis_scale(estimate, analysis)
        vi, df_out = se**2, np.nan
        how = "; ".join([how, *([flip] if flip else [])])
    else:
        yi, vi, how, df_out = md_se_to_measure(estimate, se, n_t, n_c, split_face, analysis,
                                               paired_r, how, np.nan if df is None else df)
    means = {r["role"]: r for r in records(arms)}
    return Effect(
        yi=yi, vi=vi, derivation=how, value_type=row["value_type"],
        source_url=str(row["source_url"]), source_location=str(row["source_location"]),
        n_treatment=n_t, n_control=n_c, df=df_out,
        mean_treatment=number(means.get("treatment", {}).get("mean")),
        mean_control=number(means.get("control", {}).get("mean")),
        converted=True, paired=split_face, paired_r=paired_r if split_face else np.nan,
        p_derived=p_derived, p_bound=bound,
    )
