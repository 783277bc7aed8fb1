"""Tables of the review's synthesis, as the notebooks show and save them.

Each builder takes the effects of `metareview.derive` (or the validated sheets) and returns a
tidy pandas DataFrame, one fact per row, sorted deterministically, so that the CSV written from
it is byte-identical from run to run. The statistics themselves live in the tested modules
(`pool`, `subgroup`, `meta_regression`, `permutation_test`, `mantel_haenszel`, `peto`,
`egger_test`, `rank_test`, `trim_and_fill`); this module decides what can be run on which data
and says why when something cannot.

Scales: ratio measures (log RR, log OR) stay on the log scale in the `estimate`, `ci_*` and
`pi_*` columns, as metafor keeps them; the `*_exp` columns give the back-transformed ratios for
presentation. For continuous outcomes the `*_exp` columns are empty.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

import metareview as mr
from metareview.stats.vocabulary import TESTS, is_ratio

ESTIMATORS = ("FE", "DL", "REML", "PM", "SJ")
# Small-study tests need enough studies to have any power (Cochrane Handbook 13.3.5.4).
MIN_K_SMALL_STUDY = 10
# About ten studies per moderator before a meta-regression (Cochrane Handbook 10.11.5.1).
MIN_K_META_REGRESSION = 10
SUBGROUP_MODERATORS = ("intervention_class", "design", "co_intervention")
K2_WARNING = (
    "only 2 studies: tau² and its interval are very imprecise and the Hartung-Knapp interval "
    "is wide (t with 1 df)"
)

POOLED_COLUMNS = [
    "outcome", "measure", "k", "status", "warning", "studies", "method", "test", "level",
    "estimate", "se", "ci_low", "ci_high", "pval", "tau2", "tau2_ci_low", "tau2_ci_high",
    "i2", "i2_ci_low", "i2_ci_high", "h2", "q", "q_df", "q_pval", "pi_low", "pi_high",
    "estimate_exp", "ci_low_exp", "ci_high_exp", "pi_low_exp", "pi_high_exp",
]


# --- small helpers ----------------------------------------------------------------------------


def _exp_if_ratio(measure: str, value: float) -> float:
    return float(np.exp(value)) if is_ratio(measure) and np.isfinite(value) else math.nan


def _with_exp(row: dict) -> dict:
    for name in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "estimate_adjusted",
                 "ci_low_adjusted", "ci_high_adjusted"):
        if name in row:
            row[f"{name}_exp"] = _exp_if_ratio(row.get("measure", ""), row[name])
    return row


def _groups(effects: pd.DataFrame) -> Iterable[tuple[str, str, pd.DataFrame]]:
    """(outcome, measure, rows) in sorted order, rows sorted by study."""
    if effects is None or len(effects) == 0:
        return []
    keys = effects[["outcome", "measure"]].drop_duplicates().sort_values(["outcome", "measure"])
    out = []
    for outcome, measure in keys.itertuples(index=False):
        part = effects[(effects["outcome"] == outcome) & (effects["measure"] == measure)]
        out.append((str(outcome), str(measure), part.sort_values(["study_id", "comparison"],
                                                                   kind="stable")))
    return out


def _study_labels(part: pd.DataFrame) -> list[str]:
    """Study id, plus the comparison when a study contributes more than one row."""
    counts = part["study_id"].value_counts()
    return [
        f"{s} ({c})" if counts[s] > 1 else str(s)
        for s, c in zip(part["study_id"], part["comparison"])
    ]


def _sorted(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    keys = [k for k in keys if k in frame.columns]
    if not keys or frame.empty:
        return frame.reset_index(drop=True)
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def _single_study_row(part: pd.DataFrame, level: float) -> dict:
    """The one study of an outcome shown as it is: estimate with its Wald interval."""
    single = mr.pool(part["yi"].to_numpy(float), part["vi"].to_numpy(float), method="FE",
                     test="z", level=level)
    return {"estimate": single.estimate, "se": single.se, "ci_low": single.ci_low,
            "ci_high": single.ci_high, "pval": single.pval}


def pool_row(part: pd.DataFrame, method: str, test: str, level: float) -> dict:
    """Fields of `mr.pool` on the rows of one outcome, flattened for a table."""
    r = mr.pool(part["yi"].to_numpy(float), part["vi"].to_numpy(float), method=method,
                test=test, level=level)
    return {
        "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low, "ci_high": r.ci_high,
        "pval": r.pval, "tau2": r.tau2, "tau2_ci_low": r.tau2_ci[0], "tau2_ci_high": r.tau2_ci[1],
        "i2": r.i2, "i2_ci_low": r.i2_ci[0], "i2_ci_high": r.i2_ci[1], "h2": r.h2, "q": r.q,
        "q_df": r.q_df, "q_pval": r.q_pval, "pi_low": r.pi_low, "pi_high": r.pi_high,
    }


# --- pooled results ---------------------------------------------------------------------------


def pooled_table(effects: pd.DataFrame, method: str = "REML", test: str = "knha",
                 min_k: int = 2, alpha: float = 0.05) -> pd.DataFrame:
    """One row per outcome (and measure): the random-effects model of `mr.pool`.

    Outcomes with fewer than `min_k` effects are listed with status "not pooled (k=…)"; a
    single study is shown as it is (estimate and Wald interval). With k = 2 the model is fitted
    but the `warning` column says how little it can tell. Columns: see `POOLED_COLUMNS`.
    """
    level = 1 - alpha
    rows = []
    for outcome, measure, part in _groups(effects):
        k = len(part)
        row = {"outcome": outcome, "measure": measure, "k": k, "method": method, "test": test,
               "level": level, "warning": "", "studies": "; ".join(_study_labels(part))}
        if k < min_k:
            row["status"] = f"not pooled (k={k})"
            if k == 1:
                row.update(_single_study_row(part, level))
                row["warning"] = "single study, not pooled: its effect with a normal (Wald) interval from the derived SE"
        else:
            try:
                row.update(pool_row(part, method, test, level))
                row["status"] = "pooled"
                if k == 2:
                    row["warning"] = K2_WARNING
            except ValueError as error:
                row["status"] = f"not pooled ({error})"
        rows.append(_with_exp(row))
    return _sorted(pd.DataFrame(rows, columns=POOLED_COLUMNS), ["outcome", "measure"])


# --- sensitivity ------------------------------------------------------------------------------


def _scenario_rows(effects: pd.DataFrame, analysis: str, setting: str, method: str, test: str,
                   min_k: int, alpha: float) -> list[dict]:
    table = pooled_table(effects, method, test, min_k, alpha)
    keep = ["outcome", "measure", "k", "status", "method", "test", "estimate", "ci_low",
            "ci_high", "pval", "tau2", "i2", "pi_low", "pi_high", "estimate_exp", "ci_low_exp",
            "ci_high_exp"]
    rows = table[keep].to_dict("records")
    for row in rows:
        row.update(analysis=analysis, setting=setting)
    return rows


SENSITIVITY_COLUMNS = [
    "analysis", "setting", "outcome", "measure", "k", "status", "method", "test", "estimate",
    "ci_low", "ci_high", "pval", "tau2", "i2", "pi_low", "pi_high", "estimate_exp",
    "ci_low_exp", "ci_high_exp",
]


def sensitivity_grid(effects: pd.DataFrame, methods: Sequence[str] = ESTIMATORS,
                     tests: Sequence[str] = TESTS, min_k: int = 2,
                     alpha: float = 0.05) -> pd.DataFrame:
    """The pooled estimate of every outcome under each tau² estimator × test (z, Hartung-Knapp).

    Shows how much the result depends on the choice of model (Veroniki et al. 2016 on tau²
    estimators; IntHout et al. 2014 on the Hartung-Knapp adjustment).
    """
    rows = []
    for method in methods:
        for test in tests:
            rows += _scenario_rows(effects, "estimator x test", f"{method} / {test}", method,
                                   test, min_k, alpha)
    return _sorted(pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS),
                   ["analysis", "outcome", "measure", "method", "test"])


def exclusion_sensitivity(effects: pd.DataFrame, method: str = "REML", test: str = "knha",
                          min_k: int = 2, alpha: float = 0.05) -> pd.DataFrame:
    """Pooled results with all effects, without converted results, and randomised studies only.

    "Converted" effects came from a CI, a p value, a median or an imputation (column
    `converted` of effects.csv); leaving them out shows whether the conversions drive the result.
    """
    converted = effects["converted"].astype(bool) if len(effects) else pd.Series(dtype=bool)
    randomised = effects["randomised"].astype(bool) if len(effects) else pd.Series(dtype=bool)
    scenarios = [
        ("all results", effects),
        ("excluding converted results", effects[~converted]),
        ("randomised studies only", effects[randomised]),
    ]
    rows = []
    for setting, subset in scenarios:
        rows += _scenario_rows(subset, "exclusion", setting, method, test, min_k, alpha)
        seen = {(r["outcome"], r["measure"]) for r in rows if r["setting"] == setting}
        # Outcomes that lose every study in this scenario still get a row saying so.
        for outcome, measure, _ in _groups(effects):
            if (outcome, measure) not in seen:
                rows.append({"analysis": "exclusion", "setting": setting, "outcome": outcome,
                             "measure": measure, "k": 0, "status": "not pooled (k=0)",
                             "method": method, "test": test})
    order = {name: i for i, (name, _) in enumerate(scenarios)}
    frame = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    frame["_order"] = frame["setting"].map(order)
    frame = _sorted(frame, ["outcome", "measure", "_order"])
    return frame.drop(columns="_order")


def paired_r_sensitivity(review, rs: Sequence[float] = (0.2, 0.5, 0.8), method: str = "REML",
                         test: str = "knha", min_k: int = 2, alpha: float = 0.05,
                         timepoint: str = "last",
                         exclude_studies: Sequence[str] = ()) -> pd.DataFrame:
    """Pooled results with the effects re-derived at each assumed within-person correlation.

    Split-face trials report each side's mean and SD; the SE of their paired difference depends
    on the correlation between sides, which is rarely reported (Cochrane Handbook 23.2.7.2).
    Outcomes without paired effects give the same result at every r, as they should.
    """
    from metareview.review.derive import derive_effects

    rows = []
    for r in rs:
        derived = derive_effects(review, paired_r=float(r), timepoint=timepoint,
                                 exclude_studies=tuple(exclude_studies))
        rows += _scenario_rows(derived.effects, "paired_r", f"r = {float(r):g}", method, test,
                               min_k, alpha)
    frame = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    frame["_r"] = [float(s.split("=")[1]) for s in frame["setting"]]
    return _sorted(frame, ["outcome", "measure", "_r"]).drop(columns="_r")


def sensitivity_table(effects: pd.DataFrame, review=None, method: str = "REML",
                      test: str = "knha", min_k: int = 2, alpha: float = 0.05,
                      rs: Sequence[float] = (0.2, 0.5, 0.8), timepoint: str = "last",
                      exclude_studies: Sequence[str] = ()) -> pd.DataFrame:
    """All sensitivity analyses in one tidy table (column `analysis` says which)."""
    parts = [sensitivity_grid(effects, min_k=min_k, alpha=alpha),
             exclusion_sensitivity(effects, method, test, min_k, alpha)]
    if review is not None:
        parts.append(paired_r_sensitivity(review, rs, method, test, min_k, alpha, timepoint,
                                          exclude_studies))
    frames = [p for p in parts if not p.empty]
    if not frames:
        return pd.DataFrame(columns=SENSITIVITY_COLUMNS)
    return pd.concat(frames, ignore_index=True)[SENSITIVITY_COLUMNS]


LEAVE_ONE_OUT_COLUMNS = [
    "outcome", "measure", "omitted", "k", "estimate", "ci_low", "ci_high", "pval", "tau2", "i2",
    "q", "estimate_exp", "ci_low_exp", "ci_high_exp",
]


def leave_one_out_table(effects: pd.DataFrame, method: str = "REML", test: str = "knha",
                        alpha: float = 0.05, min_k: int = 3) -> pd.DataFrame:
    """Each outcome with k ≥ `min_k` re-pooled once without each study (metafor's leave1out).

    With k = 2 leaving one out leaves a single study, which says nothing new, hence min_k = 3.
    """
    rows = []
    for outcome, measure, part in _groups(effects):
        if len(part) < min_k:
            continue
        table = mr.leave_one_out(part["yi"].to_numpy(float), part["vi"].to_numpy(float),
                                 method=method, test=test, level=1 - alpha)
        for label, fit in zip(_study_labels(part), table.to_dict("records")):
            row = {"outcome": outcome, "measure": measure, "omitted": label, "k": len(part) - 1}
            row.update({key: fit[key] for key in ("estimate", "ci_low", "ci_high", "pval",
                                                 "tau2", "i2", "q")})
            rows.append(_with_exp(row))
    return pd.DataFrame(rows, columns=LEAVE_ONE_OUT_COLUMNS)


# --- small-study effects -----------------------------------------------------------------------

SMALL_STUDY_COLUMNS = [
    "outcome", "measure", "k", "test", "status", "statistic", "pval", "detail", "k_filled",
    "estimate_adjusted", "ci_low_adjusted", "ci_high_adjusted", "estimate_adjusted_exp",
    "ci_low_adjusted_exp", "ci_high_adjusted_exp", "reason",
]


def small_study_table(effects: pd.DataFrame, method: str = "REML",
                      min_k: int = MIN_K_SMALL_STUDY) -> pd.DataFrame:
    """Egger's regression test, the rank correlation test and trim-and-fill per outcome.

    Run only where k ≥ `min_k` (10, Cochrane Handbook 13.3.5.4: with fewer studies the tests
    cannot tell chance from asymmetry); otherwise one row with the reason.
    """
    rows = []
    for outcome, measure, part in _groups(effects):
        k = len(part)
        base = {"outcome": outcome, "measure": measure, "k": k}
        if k < min_k:
            rows.append({**base, "test": "none", "status": "not run",
                         "reason": f"k = {k} < {min_k}: too few studies for small-study tests "
                                   "(Cochrane Handbook 13.3.5.4)"})
            continue
        yi, vi = part["yi"].to_numpy(float), part["vi"].to_numpy(float)
        egger = mr.egger_test(yi, vi, method=method)
        rows.append({**base, "test": "Egger regression", "status": "run",
                     "statistic": egger.statistic, "pval": egger.pval,
                     "detail": f"slope on SE {egger.slope:.4g}; limit estimate "
                               f"{egger.limit_estimate:.4g}"})
        rank = mr.rank_test(yi, vi)
        rows.append({**base, "test": "Begg rank correlation", "status": "run",
                     "statistic": rank.tau, "pval": rank.pval, "detail": "Kendall's tau"})
        tf = mr.trim_and_fill(yi, vi, method=method)
        rows.append(_with_exp({**base, "test": "trim-and-fill", "status": "run",
                               "k_filled": tf.k0,
                               "detail": f"{tf.k0} missing on the {tf.side} side ({tf.estimator})",
                               "estimate_adjusted": tf.pooled.estimate,
                               "ci_low_adjusted": tf.pooled.ci_low,
                               "ci_high_adjusted": tf.pooled.ci_high}))
    return pd.DataFrame(rows, columns=SMALL_STUDY_COLUMNS)


# --- subgroups and meta-regression --------------------------------------------------------------

SUBGROUP_COLUMNS = [
    "outcome", "measure", "moderator", "row", "level", "k", "estimate", "se", "ci_low",
    "ci_high", "pval", "tau2", "i2", "tau2_mode", "q_between", "df", "q_between_pval",
    "p_permutation", "status", "estimate_exp", "ci_low_exp", "ci_high_exp",
]


def subgroup_table(effects: pd.DataFrame, moderators: Sequence[str] = SUBGROUP_MODERATORS,
                   method: str = "REML", test: str = "knha", alpha: float = 0.05,
                   n_perm: int = 5000, seed: int = 20260101,
                   permutation_below_k: int = 30) -> pd.DataFrame:
    """Subgroup analyses per outcome and moderator.

    Rows with row = "group": each subgroup pooled on its own (its own tau²). Rows with
    row = "between": the test of subgroup differences with a common tau² (meta-regression on
    the subgroup dummies, QM) and with separate tau² (Q-between of the subgroup estimates), and,
    when k < `permutation_below_k`, the permutation p of QM (Higgins & Thompson 2004), because
    the asymptotic test is unreliable with few studies. A moderator with one level, or an
    outcome with fewer than 3 studies, gets one row saying why nothing was tested.
    """
    level_ci = 1 - alpha
    rows = []
    for outcome, measure, part in _groups(effects):
        for moderator in moderators:
            base = {"outcome": outcome, "measure": measure, "moderator": moderator}
            values = part[moderator].astype(str).to_numpy()
            levels = sorted(set(values))
            k = len(part)
            if k < 3 or len(levels) < 2:
                why = (f"k = {k}: too few studies to compare subgroups" if k < 3
                       else f"one level only ({levels[0]})")
                rows.append({**base, "row": "between", "k": k, "status": f"not tested: {why}"})
                continue
            yi, vi = part["yi"].to_numpy(float), part["vi"].to_numpy(float)
            for level in levels:
                sub = part[values == level]
                row = {**base, "row": "group", "level": level, "k": len(sub),
                       "tau2_mode": "separate", "status": "pooled"}
                if len(sub) == 1:
                    row.update(_single_study_row(sub, level_ci))
                    row["status"] = "single study (not pooled)"
                else:
                    fit = pool_row(sub, method, test, level_ci)
                    row.update({key: fit[key] for key in ("estimate", "se", "ci_low", "ci_high",
                                                         "pval", "tau2", "i2")})
                rows.append(_with_exp(row))
            p_perm = math.nan
            if k < permutation_below_k:
                try:
                    perm = mr.permutation_test(yi, vi, pd.DataFrame({moderator: values}),
                                               n_perm=n_perm, seed=seed, method=method, test=test)
                    p_perm = float(perm.pval)
                except ValueError:
                    p_perm = math.nan
            for mode in ("common", "separate"):
                row = {**base, "row": "between", "level": f"Q-between ({mode} tau²)", "k": k,
                       "tau2_mode": mode}
                try:
                    s = mr.subgroup(yi, vi, values, method=method, tau2=mode, test=test,
                                    level=level_ci)
                    row.update(q_between=s.q_between, df=s.df, q_between_pval=s.pval,
                               tau2=s.tau2, status="tested",
                               p_permutation=p_perm if mode == "common" else math.nan)
                except ValueError as error:
                    row["status"] = f"not tested: {error}"
                rows.append(row)
    return pd.DataFrame(rows, columns=SUBGROUP_COLUMNS)


META_REGRESSION_COLUMNS = [
    "outcome", "measure", "moderator", "k", "term", "estimate", "se", "ci_low", "ci_high",
    "pval", "qm", "qm_df", "qm_pval", "p_permutation", "tau2", "r2", "status",
]


def meta_regression_table(effects: pd.DataFrame, moderator: str = "timepoint_weeks",
                          method: str = "REML", test: str = "knha", alpha: float = 0.05,
                          min_k: int = MIN_K_META_REGRESSION, n_perm: int = 5000,
                          seed: int = 20260101) -> pd.DataFrame:
    """Meta-regression of each outcome on a numeric moderator (default: follow-up in weeks).

    Fitted only where k ≥ `min_k` (about ten studies per moderator, Cochrane Handbook
    10.11.5.1) and the moderator takes at least two values; otherwise one row with the reason.
    The permutation p of QM is added, since k is small in any case.
    """
    rows = []
    for outcome, measure, part in _groups(effects):
        k = len(part)
        base = {"outcome": outcome, "measure": measure, "moderator": moderator, "k": k}
        x = pd.to_numeric(part[moderator], errors="coerce")
        distinct = x.dropna().nunique()
        if k < min_k or distinct < 2 or x.isna().any():
            if k < min_k:
                why = f"k = {k} < {min_k} (about ten studies per moderator)"
            elif x.isna().any():
                why = f"{int(x.isna().sum())} effect(s) lack {moderator}"
            else:
                why = f"{moderator} takes one value only"
            rows.append({**base, "status": f"not fitted: {why}"})
            continue
        yi, vi = part["yi"].to_numpy(float), part["vi"].to_numpy(float)
        mods = pd.DataFrame({moderator: x.to_numpy(float)})
        m = mr.meta_regression(yi, vi, mods, method=method, test=test, level=1 - alpha)
        perm = mr.permutation_test(yi, vi, mods, n_perm=n_perm, seed=seed, method=method,
                                   test=test)
        for term in m.terms:
            rows.append({**base, "term": term, "estimate": m.coefs[term], "se": m.se[term],
                         "ci_low": m.ci_low[term], "ci_high": m.ci_high[term],
                         "pval": m.pval[term], "qm": m.qm, "qm_df": m.qm_df,
                         "qm_pval": m.qm_pval, "p_permutation": perm.pval, "tau2": m.tau2,
                         "r2": m.r2, "status": "fitted"})
    return pd.DataFrame(rows, columns=META_REGRESSION_COLUMNS)


# --- safety ----------------------------------------------------------------------------------

SAFETY_COLUMNS = [
    "event", "method", "measure", "k_studies", "k_double_zero", "events_treatment",
    "total_treatment", "events_control", "total_control", "estimate", "se", "ci_low", "ci_high",
    "pval", "q", "i2", "estimate_exp", "ci_low_exp", "ci_high_exp", "status", "note",
]
ZERO_EVENT_NOTE = (
    "Mantel-Haenszel and Peto use the raw counts: a study with no events in one arm needs no "
    "continuity correction; a study with no events in either arm carries no information on a "
    "ratio and is left out of the pooled estimate (counted in k_double_zero)"
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
    return out.sort_values(["event", "study_id"]).reset_index(drop=True)


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


def safety_table(adverse_events: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per event type: Mantel-Haenszel RR and OR and Peto OR where both arms have counts.

    Double-zero studies are left out of the estimate (see `ZERO_EVENT_NOTE`); an event type
    with no comparative counts, or with no events at all, gets one row saying so.
    """
    level = 1 - alpha
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
            rows.append(_with_exp(row))
    return pd.DataFrame(rows, columns=SAFETY_COLUMNS)


def narrative_safety_table(adverse_events: pd.DataFrame) -> pd.DataFrame:
    """Adverse events reported in words only (no counts), with where the source says so."""
    columns = ["study_id", "event", "arm", "role", "narrative", "source_url", "source_location"]
    if adverse_events is None or adverse_events.empty:
        return pd.DataFrame(columns=columns)
    ae = adverse_events
    words = ae["narrative"].notna() & (ae["narrative"].astype(str).str.strip() != "")
    rows = ae[words & ae["events"].isna()][columns]
    return _sorted(rows, ["study_id", "event", "arm"])


# --- data description (notebook 01) ----------------------------------------------------------

STUDY_COLUMNS = [
    "study_id", "citation", "year", "design", "randomised", "condition", "intervention_class",
    "intervention", "comparator", "co_intervention", "n_randomised", "n_analysed",
    "follow_up_weeks", "country", "source_level",
]


def study_characteristics(review) -> pd.DataFrame:
    """One row per study with design, population, intervention and the outcomes it reports."""
    studies = review.studies[[c for c in STUDY_COLUMNS if c in review.studies.columns]].copy()
    reported = pd.concat([review.arms[["study_id", "outcome"]],
                          review.contrasts[["study_id", "outcome"]]], ignore_index=True)
    outcomes = (reported.drop_duplicates().sort_values(["study_id", "outcome"])
                .groupby("study_id")["outcome"].agg("; ".join))
    studies["outcomes"] = studies["study_id"].map(outcomes).fillna("")
    return _sorted(studies, ["study_id"])


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
    return _sorted(effects[columns], ["outcome", "study_id", "comparison"])


# --- the published reviews ------------------------------------------------------------------

PUBLISHED_COMPARISON_COLUMNS = [
    "review_id", "outcome", "subgroup", "published_measure", "published_k",
    "published_estimate", "published_ci_low", "published_ci_high", "published_i2",
    "published_p", "bundle_measure", "bundle_k", "bundle_estimate", "bundle_ci_low",
    "bundle_ci_high", "bundle_i2", "bundle_pval", "comment",
]


def published_comparison(pooled: pd.DataFrame, published: pd.DataFrame,
                         subgroups: pd.DataFrame | None = None) -> pd.DataFrame:
    """This bundle's results beside each published result, matched by outcome (and subgroup).

    Ratios are compared on the ratio scale (published reviews print RR, not log RR). When the
    measures differ (say SMD against MD) the numbers are shown but the comment says they are
    not directly comparable. A subgroup row is matched to the bundle's subgroup of the same
    name (case-insensitive) in `subgroups` (intervention class first).
    """
    if published is None or published.empty:
        return pd.DataFrame(columns=PUBLISHED_COMPARISON_COLUMNS)
    rows = []
    for _, pub in published.iterrows():
        subgroup_name = pub.get("subgroup")
        subgroup_name = "" if pd.isna(subgroup_name) else str(subgroup_name)
        row = {"review_id": pub["review_id"], "outcome": pub["outcome"],
               "subgroup": subgroup_name, "published_measure": pub["measure"],
               "published_k": pub.get("k"), "published_estimate": pub.get("estimate"),
               "published_ci_low": pub.get("ci_low"), "published_ci_high": pub.get("ci_high"),
               "published_i2": pub.get("i2_percent"), "published_p": pub.get("p_value_text")}
        mine = _bundle_match(pooled, subgroups, str(pub["outcome"]), subgroup_name)
        if mine is None:
            row["comment"] = "no result in this bundle for this outcome"
            rows.append(row)
            continue
        measure = str(mine["measure"])
        ratio = is_ratio(measure)
        pick = (lambda name: mine.get(f"{name}_exp")) if ratio else (lambda name: mine.get(name))
        row.update(bundle_measure=measure, bundle_k=mine.get("k"),
                   bundle_estimate=pick("estimate"), bundle_ci_low=pick("ci_low"),
                   bundle_ci_high=pick("ci_high"), bundle_i2=mine.get("i2"),
                   bundle_pval=mine.get("pval"))
        comments = []
        if str(pub["measure"]).upper() != measure.upper():
            comments.append(f"measures differ ({pub['measure']} vs {measure}): not directly "
                            "comparable")
        status = str(mine.get("status", ""))
        if status and status != "pooled":
            comments.append(status)
        row["comment"] = "; ".join(comments)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=PUBLISHED_COMPARISON_COLUMNS)
    return _sorted(frame, ["outcome", "review_id", "subgroup"])


def _bundle_match(pooled, subgroups, outcome: str, subgroup_name: str):
    if not subgroup_name:
        hits = pooled[pooled["outcome"] == outcome] if pooled is not None and len(pooled) else []
        return None if len(hits) == 0 else hits.iloc[0].to_dict()
    if subgroups is None or subgroups.empty:
        return None
    groups = subgroups[(subgroups["outcome"] == outcome) & (subgroups["row"] == "group")]
    groups = groups[groups["level"].astype(str).str.lower() == subgroup_name.lower()]
    if groups.empty:
        return None
    order = {m: i for i, m in enumerate(SUBGROUP_MODERATORS)}
    groups = groups.assign(_o=groups["moderator"].map(order)).sort_values("_o")
    return groups.iloc[0].drop("_o").to_dict()


# --- reading back and presenting -------------------------------------------------------------

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


def outcome_fits(effects: pd.DataFrame, method: str = "REML", test: str = "knha",
                 min_k: int = 2, alpha: float = 0.05) -> list[dict]:
    """Per outcome: its rows, study labels and the `mr.pool` result (None when k < min_k).

    What the notebooks need to draw forest and funnel plots with the same model as
    `pooled_table`.
    """
    fits = []
    for outcome, measure, part in _groups(effects):
        result = None
        if len(part) >= min_k:
            try:
                result = mr.pool(part["yi"].to_numpy(float), part["vi"].to_numpy(float),
                                 method=method, test=test, level=1 - alpha)
            except ValueError:
                result = None
        fits.append({"outcome": outcome, "measure": measure, "effects": part,
                     "labels": _study_labels(part), "result": result})
    return fits


def format_interval(estimate: float, low: float, high: float, digits: int = 2) -> str:
    """"-1.25 [-1.80, -0.70]"; empty when the estimate is missing."""
    if estimate is None or not np.isfinite(estimate):
        return ""
    if low is None or not np.isfinite(low):
        return f"{estimate:.{digits}f}"
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def format_p(p: float) -> str:
    """p values as a reader expects them: "< 0.001" or three decimals."""
    if p is None or not np.isfinite(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_text(p: float) -> str:
    """"p = 0.042" or "p < 0.001", for sentences."""
    shown = format_p(p)
    if not shown:
        return "p not available"
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def present_pooled(pooled: pd.DataFrame, outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The pooled table for readers: ratios back-transformed, intervals as text."""
    labels = {} if outcomes is None or outcomes.empty else dict(
        zip(outcomes["outcome"], outcomes["label"]))
    rows = []
    for _, r in pooled.iterrows():
        ratio = is_ratio(r["measure"])
        pick = (lambda n: r[f"{n}_exp"]) if ratio else (lambda n: r[n])
        rows.append({
            "outcome": labels.get(r["outcome"], r["outcome"]),
            "measure": r["measure"],
            "k": int(r["k"]),
            "status": r["status"],
            "estimate [CI]": format_interval(pick("estimate"), pick("ci_low"), pick("ci_high")),
            "p": format_p(r["pval"]),
            "prediction interval": format_interval(pick("estimate"), pick("pi_low"),
                                                   pick("pi_high")).split(" ", 1)[-1]
            if np.isfinite(r["pi_low"]) else "",
            "tau² [CI]": format_interval(r["tau2"], r["tau2_ci_low"], r["tau2_ci_high"], 3),
            "I² % [CI]": format_interval(r["i2"], r["i2_ci_low"], r["i2_ci_high"], 1),
            "Q (p)": "" if not np.isfinite(r["q"]) else f"{r['q']:.2f} ({format_p(r['q_pval'])})",
            "warning": r["warning"] if isinstance(r["warning"], str) else "",
        })
    return pd.DataFrame(rows)


def pooled_sentences(pooled: pd.DataFrame, outcomes: pd.DataFrame | None = None) -> list[str]:
    """One plain sentence per outcome of the pooled table, for the notebook's narrative.

    Says k, the estimate with its CI (ratios back-transformed), whether the CI and the prediction
    interval include no effect (0, or 1 for ratios), I², and any warning. Neutral wording: the
    sentence reports, it does not judge.
    """
    labels = {} if outcomes is None or outcomes.empty else dict(
        zip(outcomes["outcome"], outcomes["label"]))
    sentences = []
    for _, r in pooled.iterrows():
        label = labels.get(r["outcome"], r["outcome"])
        ratio = is_ratio(r["measure"])
        pick = (lambda n: r[f"{n}_exp"]) if ratio else (lambda n: r[n])
        pct = f"{100 * float(r['level']):g}%"
        interval = format_interval(pick("estimate"), pick("ci_low"), pick("ci_high"))
        if r["status"] != "pooled":
            text = f"**{label}**: {r['status']}"
            if int(r["k"]) == 1 and np.isfinite(r["estimate"]):
                text += f"; the single study ({r['studies']}) gives {r['measure']} {interval}"
            sentences.append(text + ".")
            continue

        def covers_null(low: float, high: float) -> bool:
            return low <= 0.0 <= high

        ci_text = ("includes no effect" if covers_null(r["ci_low"], r["ci_high"])
                   else "excludes no effect")
        text = (f"**{label}**: {int(r['k'])} studies, pooled {r['measure']} {interval} "
                f"({pct} CI, which {ci_text}; {p_text(r['pval'])})")
        if np.isfinite(r["pi_low"]):
            pi_text = ("includes" if covers_null(r["pi_low"], r["pi_high"]) else "excludes")
            text += (f"; prediction interval {pick('pi_low'):.2f} to {pick('pi_high'):.2f}, "
                     f"which {pi_text} no effect")
        if np.isfinite(r["i2"]):
            text += f"; I² = {r['i2']:.0f}%"
        text += "."
        if isinstance(r["warning"], str) and r["warning"]:
            text += f" Caution: {r['warning']}."
        sentences.append(text)
    return sentences


def _ratio_or_plain(row, name: str) -> float:
    return row[f"{name}_exp"] if is_ratio(row["measure"]) else row[name]


def subgroup_sentences(subgroups: pd.DataFrame) -> list[str]:
    """One sentence per tested outcome × moderator: each subgroup's estimate and the tests."""
    sentences = []
    if subgroups is None or subgroups.empty:
        return sentences
    tested = subgroups[(subgroups["row"] == "between") & (subgroups["status"] == "tested")]
    for (outcome, moderator), tests in tested.groupby(["outcome", "moderator"], sort=True):
        groups = subgroups[(subgroups["outcome"] == outcome)
                           & (subgroups["moderator"] == moderator)
                           & (subgroups["row"] == "group")]
        parts = []
        for _, g in groups.iterrows():
            interval = format_interval(_ratio_or_plain(g, "estimate"), _ratio_or_plain(g, "ci_low"),
                                       _ratio_or_plain(g, "ci_high"))
            parts.append(f"{g['level']} {interval} (k = {int(g['k'])})")
        common = tests[tests["tau2_mode"] == "common"]
        separate = tests[tests["tau2_mode"] == "separate"]
        test_parts = []
        if len(common):
            c = common.iloc[0]
            text = f"common tau² {p_text(c['q_between_pval'])}"
            if np.isfinite(c["p_permutation"]):
                text += f" (permutation {p_text(c['p_permutation'])})"
            test_parts.append(text)
        if len(separate):
            test_parts.append(f"separate tau² {p_text(separate.iloc[0]['q_between_pval'])}")
        measure = groups["measure"].iloc[0] if len(groups) else ""
        sentences.append(f"**{outcome}** by {moderator} ({measure}): " + "; ".join(parts)
                         + ". Test for subgroup differences: " + ", ".join(test_parts) + ".")
    return sentences


def safety_sentences(safety: pd.DataFrame) -> list[str]:
    """One sentence per event type: counts per arm and the Mantel-Haenszel risk ratio."""
    sentences = []
    if safety is None or safety.empty:
        return sentences
    for event, rows in safety.groupby("event", sort=True):
        first = rows.iloc[0]
        if first["method"] == "none":
            sentences.append(f"**{event}**: {first['status']}.")
            continue
        text = (f"**{event}**: {int(first['k_studies'])} studies, "
                f"{int(first['events_treatment'])}/{int(first['total_treatment'])} events with "
                f"treatment and {int(first['events_control'])}/{int(first['total_control'])} "
                "with control")
        mh = rows[(rows["method"] == "Mantel-Haenszel") & (rows["measure"] == "RR")]
        if len(mh) and np.isfinite(mh.iloc[0]["estimate"]):
            r = mh.iloc[0]
            interval = format_interval(r["estimate_exp"], r["ci_low_exp"], r["ci_high_exp"])
            text += f"; Mantel-Haenszel RR {interval}, {p_text(r['pval'])}"
        if int(first["k_double_zero"]):
            text += f"; {int(first['k_double_zero'])} studies without events in either arm"
        sentences.append(text + ".")
    return sentences
