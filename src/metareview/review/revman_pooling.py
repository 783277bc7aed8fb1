"""Each outcome pooled as RevMan 5 would: the parameter `analysis_method: revman`.

`pool_outcomes(review)` takes every comparative outcome of a validated review, its statistical
method and analysis model from outcomes.csv (`pooling_method`, `pooling_model`; by default
Mantel-Haenszel for binary and inverse variance for continuous outcomes, fixed effect), the
study data from the sheets as they stand, and pools them with `metareview.stats.revman_methods`:

- binary outcomes with events of a total per arm (arms.csv, form events_total): OR, RR or RD by
  MH, IV or Peto;
- continuous outcomes with mean, SD and n per arm (form mean_sd): MD or SMD (Hedges' adjusted
  g, RevMan's variance) by inverse variance;
- results reported as an estimate with its SE (contrasts.csv, form estimate_se): generic
  inverse variance. An outcome that mixes the two is pooled by generic inverse variance, the
  arm data turned into RevMan's study effects first (the table says so).

Effects are experimental minus control on the outcome's own scale, as RevMan shows them (a
ratio below 1 or a negative difference means fewer events or lower values with the
experimental intervention); the outcome's direction only decides which side says "Favours".
Subgroups are those of an imported RevMan file (review.yaml `revman`, each subgroup one
comparison id), tested as RevMan does. RevMan's stored totals, where review.yaml keeps them,
are set beside each computed one (`stored_*` columns).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from metareview.review.effect import missing
from metareview.stats import revman_methods as rm

TABLE_COLUMNS = [
    "outcome", "label", "subgroup", "subgroup_name", "measure", "method", "model", "k",
    "events_1", "total_1", "events_2", "total_2", "estimate", "ci_low", "ci_high",
    "log_estimate", "se", "z", "p_z", "chi2", "df", "p_chi2", "i2", "tau2",
    "q_int", "df_int", "p_q_int", "i2_q_int", "note",
    "stored_estimate", "stored_ci_low", "stored_ci_high", "stored_chi2", "stored_p_chi2",
    "stored_i2", "stored_tau2", "stored_z", "stored_p_z", "stored_q_int", "stored_p_q_int",
    "stored_i2_q_int",
]
STUDY_COLUMNS = [
    "outcome", "subgroup", "study_id", "comparison", "events_1", "total_1", "mean_1", "sd_1",
    "events_2", "total_2", "mean_2", "sd_2", "estimate", "se", "ci_low", "ci_high", "weight",
    "estimable",
]
NOT_USED_COLUMNS = ["outcome", "study_id", "comparison", "reason"]
DEFAULT_METHOD = {"binary": "MH", "continuous": "IV"}


@dataclass(frozen=True)
class RevManAnalyses:
    """The pooled table (outcome and subgroup rows), the study rows behind it, the results that
    were not used (with the reason), and the engine's results by (outcome, subgroup)."""

    table: pd.DataFrame
    studies: pd.DataFrame
    not_used: pd.DataFrame
    fits: dict


def settings_of(review) -> dict[str, dict]:
    """{outcome: {method, model, subgroups: {comparison: (number, name)}, stored, ...}}."""
    found = {}
    block = review.definitions.revman or {}
    imported = {o["outcome"]: o for c in block.get("comparisons", [])
                for o in c.get("outcomes", [])}
    for row in review.outcomes.to_dict("records"):
        if row["type"] not in DEFAULT_METHOD:
            continue
        method = row.get("pooling_method")
        model = row.get("pooling_model")
        extra = imported.get(row["outcome"], {})
        found[row["outcome"]] = {
            "label": row["label"], "type": row["type"], "measure": row["measure"],
            "method": DEFAULT_METHOD[row["type"]] if missing(method) else str(method),
            "model": "fixed" if missing(model) else str(model),
            "level": float(extra.get("ci_total", 0.95)),
            "level_study": float(extra.get("ci_study", 0.95)),
            "swap_events": bool(extra.get("swap_events", False)),
            "subgroups": {s["comparison"]: (int(s["number"]), str(s.get("name", "")))
                          for s in extra.get("subgroups", []) or []},
            "stored": extra.get("stored", {}) or {},
            "stored_subgroups": {int(s["number"]): s.get("stored", {}) or {}
                                 for s in extra.get("subgroups", []) or []},
        }
    return found


def _latest(rows: pd.DataFrame, timepoint: str) -> pd.DataFrame:
    weeks = rows["timepoint_weeks"]
    if weeks.isna().all():
        return rows[weeks.isna()]
    stated = weeks.dropna()
    chosen = stated.max() if timepoint == "last" else stated.min()
    return rows[weeks == chosen]


def study_rows(review, outcome: str, settings: dict, exclude_studies: Iterable[str] = (),
               timepoint: str = "last") -> tuple[list[dict], list[dict]]:
    """The data RevMan would pool for one outcome: one dict per study x comparison (kind
    "arms" with the per-arm numbers, or "contrast" with estimate and SE), and the results not
    used with the reason."""
    excluded = set(exclude_studies)
    design = review.studies.set_index("study_id")["design"].to_dict()
    arms = review.arms[review.arms["outcome"] == outcome]
    contrasts = review.contrasts[review.contrasts["outcome"] == outcome]
    keys = sorted(set(zip(arms["study_id"], arms["comparison"]))
                  | set(zip(contrasts["study_id"], contrasts["comparison"])))
    used, not_used = [], []
    binary = settings["type"] == "binary"
    for study, comparison in keys:
        base = {"outcome": outcome, "study_id": study, "comparison": comparison}
        if study in excluded:
            not_used.append({**base, "reason": "excluded by the exclude_studies parameter"})
            continue
        if design.get(study) in ("single_arm", "split_face", "crossover", "cluster",
                                 "within_person"):
            not_used.append({**base, "reason": f"{design.get(study)} design: RevMan's methods "
                                               "take parallel groups only"})
            continue
        subgroup = settings["subgroups"].get(comparison, (0, ""))
        own_arms = arms[(arms["study_id"] == study) & (arms["comparison"] == comparison)]
        own_contrasts = contrasts[(contrasts["study_id"] == study)
                                  & (contrasts["comparison"] == comparison)]
        row = _from_arms(_latest(own_arms, timepoint), binary, settings) if len(own_arms) \
            else None
        if row is None and len(own_contrasts):
            row = _from_contrast(_latest(own_contrasts, timepoint).iloc[0], settings)
        if isinstance(row, str) or row is None:
            not_used.append({**base, "reason": row or "no usable data"})
            continue
        used.append({**base, **row, "subgroup": subgroup[0], "subgroup_name": subgroup[1]})
    return used, not_used


def _from_arms(rows: pd.DataFrame, binary: bool, settings: dict) -> dict | str | None:
    form = "events_total" if binary else "mean_sd"
    roles = {r["role"]: r for r in rows.to_dict("records") if r["reported_form"] == form}
    if set(roles) != {"treatment", "control"}:
        return None
    t, c = roles["treatment"], roles["control"]
    if binary:
        e1, n1, e2, n2 = (float(t["events"]), float(t["total"]), float(c["events"]),
                          float(c["total"]))
        if settings["swap_events"]:
            e1, e2 = n1 - e1, n2 - e2
        return {"kind": "arms", "events_1": e1, "total_1": n1, "events_2": e2, "total_2": n2}
    if missing(t["n"]) or missing(c["n"]):
        return "n of an arm not reported"
    return {"kind": "arms", "mean_1": float(t["mean"]), "sd_1": float(t["sd"]),
            "total_1": float(t["n"]), "mean_2": float(c["mean"]), "sd_2": float(c["sd"]),
            "total_2": float(c["n"])}


def _from_contrast(row, settings: dict) -> dict | str:
    measure = settings["measure"]
    if row["measure"] != measure:
        return f"{row['measure']} reported; the outcome is pooled as {measure}"
    if row["reported_form"] != "estimate_se" or missing(row.get("se")):
        return f"reported as {row['reported_form']}: RevMan's generic inverse variance needs " \
               "an estimate with its SE"
    estimate = float(row["estimate"])
    if measure in ("OR", "RR"):
        estimate = math.log(estimate)
    if row["contrast_direction"] == "control_minus_treatment":
        estimate = -estimate
    elif row["contrast_direction"] != "treatment_minus_control":
        return "the source does not say which arm was subtracted"
    return {"kind": "contrast", "yi": estimate, "sei": float(row["se"]),
            "total_1": float(row["n_treatment"]) if not missing(row["n_treatment"]) else np.nan,
            "total_2": float(row["n_control"]) if not missing(row["n_control"]) else np.nan}


def pool_rows(rows: list[dict], settings: dict) -> tuple[rm.RevManResult, str]:
    """One RevMan analysis of `rows` (from `study_rows`): (result, how it was pooled)."""
    measure, method, model = settings["measure"], settings["method"], settings["model"]
    levels = {"level": settings["level"], "level_study": settings["level_study"]}
    if all(r["kind"] == "arms" for r in rows):
        column = {k: [r.get(k, np.nan) for r in rows] for k in
                  ("events_1", "total_1", "events_2", "total_2", "mean_1", "sd_1", "mean_2",
                   "sd_2")}
        if settings["type"] == "binary":
            fit = rm.pool_dichotomous(column["events_1"], column["total_1"], column["events_2"],
                                      column["total_2"], measure, method, model, **levels)
            return fit, f"{method}, {model} effect"
        fit = rm.pool_continuous(column["mean_1"], column["sd_1"], column["total_1"],
                                 column["mean_2"], column["sd_2"], column["total_2"], measure,
                                 model, **levels)
        return fit, f"inverse variance, {model} effect"
    yi, sei = [], []
    for r in rows:
        if r["kind"] == "contrast":
            yi.append(r["yi"])
            sei.append(r["sei"])
        elif settings["type"] == "binary":
            y, s, _ = rm.dichotomous_study_effects([r["events_1"]], [r["total_1"]],
                                                   [r["events_2"]], [r["total_2"]], measure,
                                                   "IV")
            yi.append(float(y[0]))
            sei.append(float(s[0]))
        else:
            y, s, _ = rm.continuous_study_effects([r["mean_1"]], [r["sd_1"]], [r["total_1"]],
                                                  [r["mean_2"]], [r["sd_2"]], [r["total_2"]],
                                                  measure)
            yi.append(float(y[0]))
            sei.append(float(s[0]))
    fit = rm.pool_generic(yi, sei, measure, model, **levels)
    how = f"generic inverse variance, {model} effect"
    if any(r["kind"] == "arms" for r in rows):
        how += " (arm data and reported estimates mixed)"
    return fit, how


def _shown(value: float, measure: str) -> float:
    return math.exp(value) if measure in ("OR", "RR") and math.isfinite(value) else value


def _stored(values: dict) -> dict:
    out = {}
    for key in ("estimate", "ci_low", "ci_high", "chi2", "p_chi2", "i2", "tau2", "z", "p_z",
                "q_int", "p_q_int", "i2_q_int"):
        text = values.get(key)
        out[f"stored_{key}"] = float(text) if text not in (None, "") else np.nan
    return out


def _table_row(outcome: str, settings: dict, subgroup: tuple[int, str], rows: list[dict],
               fit: rm.RevManResult, how: str, stored: dict) -> dict:
    measure = settings["measure"]
    sums = {k: float(np.nansum([r.get(k, np.nan) for r in rows])) if any(
        not missing(r.get(k)) for r in rows) else np.nan
            for k in ("events_1", "total_1", "events_2", "total_2")}
    return {
        "outcome": outcome, "label": settings["label"], "subgroup": subgroup[0],
        "subgroup_name": subgroup[1], "measure": measure, "method": settings["method"],
        "model": settings["model"], "k": fit.k, **sums,
        "estimate": _shown(fit.estimate, measure), "ci_low": _shown(fit.ci_low, measure),
        "ci_high": _shown(fit.ci_high, measure), "log_estimate": fit.estimate, "se": fit.se,
        "z": fit.statistic, "p_z": fit.pval, "chi2": fit.q, "df": fit.q_df, "p_chi2": fit.q_pval,
        "i2": fit.i2, "tau2": fit.tau2, "q_int": np.nan, "df_int": np.nan, "p_q_int": np.nan,
        "i2_q_int": np.nan, "note": "; ".join(p for p in (how, fit.note) if p),
        **_stored(stored),
    }


def pool_outcomes(review, exclude_studies: Iterable[str] = (), timepoint: str = "last"
                  ) -> RevManAnalyses:
    """Every comparative outcome of `review` pooled with RevMan 5's method and model (see the
    module docstring); the subgroup rows follow their outcome's row (subgroup 0)."""
    table, studies, not_used, fits = [], [], [], {}
    for outcome, settings in settings_of(review).items():
        rows, unused = study_rows(review, outcome, settings, exclude_studies, timepoint)
        not_used += unused
        if not rows:
            continue
        fit, how = pool_rows(rows, settings)
        fits[(outcome, 0)] = fit
        overall = _table_row(outcome, settings, (0, ""), rows, fit, how, settings["stored"])
        studies += _study_table(outcome, 0, rows, fit, settings["measure"])
        numbers = sorted({r["subgroup"] for r in rows if r["subgroup"] > 0})
        parts = []
        for number in numbers:
            inside = [r for r in rows if r["subgroup"] == number]
            sub_fit, sub_how = pool_rows(inside, settings)
            fits[(outcome, number)] = sub_fit
            parts.append(sub_fit)
            parts_row = _table_row(outcome, settings, (number, inside[0]["subgroup_name"]),
                                   inside, sub_fit, sub_how,
                                   settings["stored_subgroups"].get(number, {}))
            table.append(parts_row)
            studies += _study_table(outcome, number, inside, sub_fit, settings["measure"])
        if len(parts) >= 2:
            test = rm.subgroup_test(parts, fit)
            overall.update(q_int=test.q_between, df_int=test.df, p_q_int=test.pval,
                           i2_q_int=test.i2)
        table.insert(len(table) - len(numbers), overall)
    return RevManAnalyses(
        table=pd.DataFrame(table, columns=TABLE_COLUMNS),
        studies=pd.DataFrame(studies, columns=STUDY_COLUMNS),
        not_used=pd.DataFrame(not_used, columns=NOT_USED_COLUMNS), fits=fits)


def _study_table(outcome: str, subgroup: int, rows: list[dict], fit: rm.RevManResult,
                 measure: str) -> list[dict]:
    out = []
    for i, r in enumerate(rows):
        out.append({
            "outcome": outcome, "subgroup": subgroup, "study_id": r["study_id"],
            "comparison": r["comparison"],
            **{k: r.get(k, np.nan) for k in ("events_1", "total_1", "mean_1", "sd_1",
                                              "events_2", "total_2", "mean_2", "sd_2")},
            "estimate": _shown(float(fit.yi[i]), measure), "se": float(fit.sei[i]),
            "ci_low": _shown(float(fit.ci_study_low[i]), measure),
            "ci_high": _shown(float(fit.ci_study_high[i]), measure),
            "weight": float(fit.weights[i]), "estimable": bool(fit.estimable[i]),
        })
    return out


# RevMan's stored totals and the column of the pooled table each one is compared with
STORED_QUANTITIES = {
    "estimate": "estimate", "ci_low": "ci_low", "ci_high": "ci_high", "chi2": "chi2",
    "df": "df", "p_chi2": "p_chi2", "i2": "i2", "tau2": "tau2", "z": "z", "p_z": "p_z",
    "q_int": "q_int", "p_q_int": "p_q_int", "i2_q_int": "i2_q_int",
}
SIDE_BY_SIDE_COLUMNS = ["outcome", "subgroup", "quantity", "computed", "stored",
                        "difference", "relative_difference", "tolerance", "agrees"]
# RevMan's P values of Chi² come from an approximate chi-square routine: 0.1269422522 where
# the exact tail of Chi² = 9.946056 on 6 df is 0.1269421779 (relative 5.8e-7)
RELATIVE_TOLERANCE = 1e-6


# Decimals to which each format rounds the totals it stores (trailing zeros dropped); an .rm5
# file stores every digit of a double
STORED_DECIMALS = {"csv": 8, "data-package": 6}
SUBGROUP_TEST = ("q_int", "p_q_int", "i2_q_int")


def stored_tolerance(target: float, decimals: int | None) -> float:
    """How far a computed value may lie from RevMan's stored `target` and still agree with it:
    half a unit of the last decimal the format stores (0.5e-8 for the CSV export, 0.5e-6 for
    a data package), and never less than RELATIVE_TOLERANCE relative (nor 1e-12)."""
    half_unit = 0.5 * 10.0 ** -decimals if decimals is not None else 0.0
    return max(half_unit, RELATIVE_TOLERANCE * abs(target), 1e-12)


def side_by_side(analyses: RevManAnalyses, review) -> pd.DataFrame:
    """Every total RevMan stored beside the one computed here, with the difference.

    One row per outcome (subgroup 0) or subgroup and stored quantity. Left out: a quantity
    RevMan left empty, and the test for subgroup differences of an outcome without subgroups
    (RevMan stores Qint = 0, P = 1 there). `agrees` holds when the difference is within
    `stored_tolerance` for the file's format (review.yaml `revman.format`).
    """
    block = review.definitions.revman or {}
    decimals = STORED_DECIMALS.get(str(block.get("format", "")))
    rows = []
    table = analyses.table.set_index(["outcome", "subgroup"])
    for outcome, settings in settings_of(review).items():
        stored_by_part = {0: settings["stored"], **settings["stored_subgroups"]}
        for subgroup, stored in stored_by_part.items():
            if (outcome, subgroup) not in table.index:
                continue
            computed_row = table.loc[(outcome, subgroup)]
            for quantity, column in STORED_QUANTITIES.items():
                text = str(stored.get(quantity, "") or "").strip()
                if not text or (quantity in SUBGROUP_TEST
                                and (subgroup > 0 or not settings["subgroups"])):
                    continue
                computed, target = float(computed_row[column]), float(text)
                difference = computed - target
                tolerance = stored_tolerance(target, decimals)
                rows.append({
                    "outcome": outcome, "subgroup": subgroup, "quantity": quantity,
                    "computed": computed, "stored": text, "difference": difference,
                    "relative_difference": abs(difference) / abs(target) if target
                    else abs(difference),
                    "tolerance": tolerance,
                    "agrees": bool(abs(difference) <= tolerance * (1 + 1e-9)),
                })
    return pd.DataFrame(rows, columns=SIDE_BY_SIDE_COLUMNS)


__all__ = ["RevManAnalyses", "STORED_QUANTITIES", "pool_outcomes", "pool_rows", "settings_of",
           "side_by_side", "stored_tolerance", "study_rows"]
