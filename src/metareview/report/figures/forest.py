"""Forest plots as RevMan draws them: studies with their per-arm data, weights, estimates and
intervals as text, the graph, the pooled diamond and prediction interval, the heterogeneity and
overall-effect lines, risk-of-bias columns; and the subgroup version with subtotals.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from scipy import stats

from metareview.report.figures.layout import (
    MAX_STUDY_ROWS,
    ROW_HEIGHT,
    Column,
    Row,
    TableFigure,
    band_rows,
    clip_interval,
    draw_band,
    summarised,
    symmetric_axis,
    table_figure,
)
from metareview.report.figures.risk_of_bias import (
    domain_key_text,
    domain_order,
    judgement_key_text,
    long_rob,
)
from metareview.report.figures.style import (
    BAYES_COLOUR,
    PI_COLOUR,
    POOLED_COLOUR,
    ROB_COLOURS,
    ROB_SYMBOLS,
    STUDY_COLOUR,
    set_alt_text,
)
from metareview.report.text import format_interval, plural
from metareview.stats.conversions import critical_value
from metareview.stats.heterogeneity import tau2_bound_reached_search_end
from metareview.stats.vocabulary import is_ratio

MEASURE_NAMES = {
    "RR": "Risk Ratio",
    "OR": "Odds Ratio",
    "RD": "Risk Difference",
    "MD": "Mean Difference",
    "SMD": "Std. Mean Difference",
    "PETO_OR": "Peto Odds Ratio",
    "HR": "Hazard Ratio",
}
CONTINUOUS_ARMS = ("mean", "sd", "n")
BINARY_ARMS = ("events", "total")
ARM_HEADERS = {"mean": "Mean", "sd": "SD", "n": "Total", "events": "Events", "total": "Total"}
SOURCE_INTERVAL_MARK = "†"
DIAMOND_HALF_HEIGHT = 0.36  # in rows
MAX_SQUARE = 0.62 * ROW_HEIGHT * 72  # points: the heaviest study's square
MIN_SQUARE = 2.5  # points
BAND_ROWS = 24  # rows of height the band takes in a forest plot
SUBGROUP_BAND_ROWS = 10  # ... and under each subgroup heading

# --- text helpers ---------------------------------------------------------------------------


def favours_labels(measure: str, direction: str = "lower_is_better",
                   treatment: str = "treatment", control: str = "control") -> tuple[str, str]:
    """The (left, right) "favours" labels of an axis, as RevMan places them.

    Effects are treatment minus control (ratios: treatment over control), so the left side
    (below 0, or below 1 for a ratio) favours the treatment when lower values of the outcome
    are better, and the control when higher values are better. `measure` does not change the
    sides: a ratio below 1 is fewer events with treatment, as a negative difference is a lower
    value. An outcome without a better direction ("neutral") favours no side: its labels say
    on which side the treatment's values are lower or higher.
    """
    if direction == "neutral":
        return f"Lower with {treatment}", f"Higher with {treatment}"
    left, right = f"Favours {treatment}", f"Favours {control}"
    if direction == "higher_is_better":
        return right, left
    return left, right


def _fmt(value: float, digits: int = 2) -> str:
    if value is None or not np.isfinite(value):
        return "NA"
    text = f"{value:.{digits}f}"
    return "0." + "0" * digits if text == "-0." + "0" * digits else text


def _fmt_p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "NA"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def revman_p(p: float) -> str:
    """A p value as RevMan prints it: "P < 0.00001", "P < 0.0001", "P = 0.0004", "P = 0.003",
    "P = 0.44"."""
    if p is None or not np.isfinite(p):
        return "P = NA"
    for bound in ("0.00001", "0.0001"):
        if p < float(bound):
            return f"P < {bound}"
    for bound, digits in ((0.001, 4), (0.01, 3)):
        if p < bound:
            return f"P = {p:.{digits}f}"
    return f"P = {p:.2f}"


def _interval_text(est: float, low: float, high: float, ratio: bool, digits: int = 2) -> str:
    if not np.isfinite(est):
        return "Not estimable"   # RevMan's words for a study with no events in either arm
    if ratio:
        est, low, high = np.exp(est), np.exp(low), np.exp(high)
    return f"{_fmt(est, digits)} [{_fmt(low, digits)}, {_fmt(high, digits)}]"


def _get(result, name: str, default=math.nan):
    """Read a field from a pool result object or from a dict / pandas row of its fields."""
    if result is None:
        return default
    if isinstance(result, (dict, pd.Series)):
        value = result.get(name, default)
    else:
        value = getattr(result, name, default)
    return default if value is None else value


def heterogeneity_text(result) -> str:
    """One line: tau² [CI], I², Q (df), p, in the style of metafor's printout (for tables)."""
    k = int(_get(result, "k", 0))
    if k < 2:
        return "Heterogeneity: not estimable with one study"
    q_df = _get(result, "q_df", k - 1)
    low, high = float(_get(result, "tau2_ci_low")), float(_get(result, "tau2_ci_high"))
    tau2 = _get(result, "tau2")
    tau_text = f"τ² = {_fmt(tau2, 3)}"
    if tau2_bound_reached_search_end(tau2, high):
        tau_text += f" [{_fmt(low, 3)}, not estimable]"
    elif np.isfinite(low) and np.isfinite(high):
        tau_text += f" [{_fmt(low, 3)}, {_fmt(high, 3)}]"
    return (
        f"Heterogeneity: {tau_text}; I² = {_fmt(_get(result, 'i2'), 1)}%; "
        f"Q = {_fmt(_get(result, 'q'), 2)} (df = {int(q_df)}), p {_fmt_p(_get(result, 'q_pval'))}"
    )


def _tau2_text(tau2: float) -> str:
    if not np.isfinite(tau2):
        return "NA"
    if 0 < tau2 < 0.005:
        return f"{tau2:.2g}"
    return _fmt(tau2, 2)


def revman_heterogeneity_text(result) -> str:
    """The heterogeneity line under a RevMan forest plot.

    "Heterogeneity: Tau² = 0.31; Chi² = 152.23, df = 12 (P < 0.00001); I² = 92%" (no Tau² for
    a common-effect model). Chi² is Cochran's Q with its df and p. I² is the model's own I²
    (`result.i2`: metafor's definition from tau² and the typical within-study variance for
    random-effects models, (Q − df)/Q for the common-effect model), so the figure prints the
    number of the tables; with DerSimonian-Laird tau² the two definitions agree.
    """
    k = int(_get(result, "k", 0))
    if k < 2:
        return "Heterogeneity: Not applicable"
    q_df = int(_get(result, "q_df", k - 1))
    parts = []
    if str(_get(result, "method", "REML")) != "FE":
        parts.append(f"Tau² = {_tau2_text(float(_get(result, 'tau2')))}; ")
    i2 = float(_get(result, "i2"))
    i2_text = f"{i2:.0f}%" if np.isfinite(i2) else "NA"
    return (f"Heterogeneity: {''.join(parts)}Chi² = {_fmt(float(_get(result, 'q')), 2)}, "
            f"df = {q_df} ({revman_p(float(_get(result, 'q_pval')))}); I² = {i2_text}")


def overall_effect_text(result) -> str:
    """"Test for overall effect: Z = 3.97 (P < 0.0001)", or with the Hartung-Knapp test
    "t = 3.97, df = 12 (P = 0.002)". The statistic is printed without its sign, as RevMan."""
    statistic = abs(float(_get(result, "statistic")))
    if not np.isfinite(statistic):
        se = float(_get(result, "se"))
        statistic = abs(float(_get(result, "estimate")) / se) if se > 0 else math.nan
    pval = float(_get(result, "pval"))
    df = float(_get(result, "df"))
    if str(_get(result, "test", "z")) == "knha" and np.isfinite(df):
        return f"Test for overall effect: t = {_fmt(statistic)}, df = {df:g} ({revman_p(pval)})"
    return f"Test for overall effect: Z = {_fmt(statistic)} ({revman_p(pval)})"


def subgroup_difference_text(q: float, df: float, pval: float) -> str:
    """"Test for subgroup differences: Chi² = 1.23, df = 2 (P = 0.54), I² = 0%".

    I² of the subgroup differences as RevMan computes it: max(0, (Q − df)/Q), in % (Borenstein &
    Higgins 2013, Prev Sci 14:134-143).
    """
    i2 = max(0.0, (q - df) / q) * 100 if q > 0 else 0.0
    return (f"Test for subgroup differences: Chi² = {_fmt(q)}, df = {df:g} ({revman_p(pval)}), "
            f"I² = {i2:.1f}%")


def model_label(result) -> str:
    """E.g. "Random effects (REML, Hartung-Knapp)"."""
    method = str(_get(result, "method", "REML"))
    test = str(_get(result, "test", "z"))
    kind = "Common effect" if method == "FE" else "Random effects"
    inside = "inverse variance" if method == "FE" else method
    if test == "knha":
        inside += ", Hartung-Knapp"
    return f"{kind} ({inside})"


def measure_header(measure: str, result, level: float) -> tuple[str, str]:
    """The two header lines of the estimate column, e.g. ("Risk Ratio", "IV, Random, 95% CI");
    without a pooled result only the interval ("Risk Ratio", "95% CI")."""
    name = MEASURE_NAMES.get(str(measure).upper(), str(measure))
    if result is None:
        return name, f"{level * 100:g}% CI"
    model = "Fixed" if str(_get(result, "method", "REML")) == "FE" else "Random"
    # the statistical method as RevMan abbreviates it (M-H, IV, Peto); inverse variance unless
    # the result says otherwise (`pooling`, set for RevMan's own analyses)
    pooling = _get(result, "pooling", "IV")
    return name, f"{pooling if isinstance(pooling, str) else 'IV'}, {model}, {level * 100:g}% CI"


def axis_label(measure: str) -> str:
    """The x-axis title of a ratio measure, "Risk Ratio (log scale)": ratios are drawn on the
    log scale (equal distances for 0.5 and 2), which a reader must be told; "" otherwise (the
    graph header names the measure)."""
    if not is_ratio(measure):
        return ""
    return f"{MEASURE_NAMES.get(str(measure).upper(), str(measure))} (log scale)"


def ratio_ticks(log_low: float, log_high: float) -> list[float]:
    """Round ratio values (0.01 ... 100) inside a log-scale range, for a ratio axis."""
    candidates = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
    ticks = [t for t in candidates if log_low <= math.log(t) <= log_high]
    if len(ticks) >= 2:
        return ticks
    return [round(math.exp(log_low), 2), 1, round(math.exp(log_high), 2)]


# --- alternative text -----------------------------------------------------------------------


def estimate_text(measure: str, est: float, low: float, high: float) -> str:
    """"MD 23.35 [-102.19, 148.89]", "RR 1.57 [0.00, 5206.73]": an estimate with its interval
    as the pooled table prints it (`text.format_interval`, ratios back-transformed)."""
    values = (est, low, high)
    if is_ratio(measure):
        values = tuple(float(np.exp(v)) for v in values)
    return f"{measure} {format_interval(*values)}"


def _pooled_sentence(result, measure: str, level: float) -> str:
    est, low, high = (float(_get(result, key)) for key in ("estimate", "ci_low", "ci_high"))
    level = float(_get(result, "level", level))
    model = model_label(result)
    text = (f"pooled {estimate_text(measure, est, low, high)} ({level * 100:g}% CI), "
            f"{model[:1].lower()}{model[1:]}")
    pi_low, pi_high = float(_get(result, "pi_low")), float(_get(result, "pi_high"))
    if (np.isfinite(pi_low) and np.isfinite(pi_high) and int(_get(result, "k", 0)) >= 3
            and str(_get(result, "method", "")) != "FE"):
        shown = estimate_text(measure, est, pi_low, pi_high).split(" ", 2)[-1]
        text += f", prediction interval {shown}"
    return text


def _bayes_sentence(rows: list[Row], measure: str, level: float) -> str:
    """The Bayesian model's diamond and prediction interval in words, when drawn."""
    pooled = [row for row in rows if row.kind == "pooled" and row.data.get("open")]
    if not pooled:
        return ""
    d = pooled[0].data
    shown = estimate_text(measure, d["est"], d["low"], d["high"])
    text = f" Bayesian random-effects model: {shown} ({level * 100:g}% credible interval)"
    bar = [row for row in rows if row.kind == "prediction"
           and row.data.get("gid") == "prediction-bayes"]
    if bar:
        shown = estimate_text(measure, d["est"], bar[0].data["low"], bar[0].data["high"])
        text += f", prediction interval {shown.split(' ', 2)[-1]}"
    return text + "."


def _cut_sentence(rows: list[Row]) -> str:
    cut = sorted({side for row in rows if row.kind == "pooled" for side in row.data.get("cut", [])})
    if not cut:
        return ""
    return (f" A pooled interval runs past the {' and '.join(cut)} end of the axis, drawn with "
            "an arrow; its numbers are in the estimate column.")


def _studies_sentence(rows: list[Row], measure: str, limit: int = 3) -> str:
    """The studies' own estimates when there are few, e.g. "Park2019: MD 8.50 [-2.24, 19.24]"."""
    studies = [row for row in rows if row.kind == "study"]
    if len(studies) > limit:
        return ""
    return "; ".join(f"{row.cells['label']}: " + estimate_text(
        measure, row.data["est"], row.data["low"], row.data["high"]) for row in studies)


def forest_alt_text(title: str | None, measure: str, result, level: float,
                    rows: list[Row]) -> str:
    """What a forest plot shows, in words: the outcome (its title), k, the pooled estimate and
    interval as the pooled table prints them (or the studies' own when not pooled), and
    whether a pooled interval runs past the axis. `rows` as drawn (`_render`)."""
    head = f"Forest plot: {title}." if title else "Forest plot."
    k = _studies_drawn(rows)
    if result is None:
        studies = _studies_sentence(rows, measure)
        return (f"{head} {plural(k, 'study')}, not pooled"
                + (f": {studies}." if studies else "."))
    text = f"{head} {plural(k, 'study')}; {_pooled_sentence(result, measure, level)}."
    return text + _bayes_sentence(rows, measure, level) + _cut_sentence(rows)


# --- study rows -----------------------------------------------------------------------------


def _as_frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows).reset_index(drop=True)
    if "label" not in frame.columns:
        if "study_id" not in frame.columns:
            raise ValueError("forest plot rows need a 'label' column (the study names)")
        frame = frame.assign(label=frame["study_id"])
    missing = [c for c in ("yi", "vi") if c not in frame.columns]
    if missing:
        raise ValueError(f"forest plot rows need the columns {missing}")
    return frame


def _arm_columns(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(arm, quantity) pairs present with at least one value, treatment arm first."""
    quantities = CONTINUOUS_ARMS if any(
        f"{q}_{arm}" in frame.columns and frame[f"{q}_{arm}"].notna().any()
        for q in ("mean", "sd") for arm in ("treatment", "control")) else BINARY_ARMS
    if quantities == BINARY_ARMS and not any(
            f"{q}_{arm}" in frame.columns and frame[f"{q}_{arm}"].notna().any()
            for q in BINARY_ARMS for arm in ("treatment", "control")):
        quantities = ("n",)
    return [(arm, q) for arm in ("treatment", "control") for q in quantities
            if f"{q}_{arm}" in frame.columns and frame[f"{q}_{arm}"].notna().any()]


def _decimals(values: np.ndarray) -> int:
    finite = values[np.isfinite(values)]
    for digits in (0, 1, 2):
        if np.all(np.abs(np.round(finite, digits) - finite) < 1e-9):
            return digits
    return 2


def _arm_cells(frame: pd.DataFrame, arms: list[tuple[str, str]]) -> list[dict]:
    cells = [dict() for _ in range(len(frame))]
    for arm, quantity in arms:
        values = pd.to_numeric(frame[f"{quantity}_{arm}"], errors="coerce").to_numpy(float)
        digits = 0 if quantity in ("n", "events", "total") else _decimals(values)
        for i, value in enumerate(values):
            if np.isfinite(value):
                cells[i][f"{quantity}_{arm}"] = f"{value:.{digits}f}"
    return cells


def _weights_pct(result, k: int) -> np.ndarray | None:
    weights = _get(result, "weights", None)
    if weights is None:
        return None
    weights = np.asarray(weights, dtype=float).ravel()
    if weights.size != k:
        raise ValueError(f"the pooled result has {weights.size} weights but there are {k} rows; "
                         "give the rows in the order of the studies that were pooled")
    return 100.0 * weights / weights.sum()


def _study_intervals(frame: pd.DataFrame, level: float, single_interval) -> tuple:
    yi = frame["yi"].to_numpy(float)
    se = np.sqrt(frame["vi"].to_numpy(float))
    z = float(critical_value(level))
    low, high = yi - z * se, yi + z * se
    from_source = np.zeros(len(frame), dtype=bool)
    if single_interval is not None:
        pairs = list(single_interval)
        if len(pairs) != len(frame):
            raise ValueError(f"single_interval has {len(pairs)} entries but there are "
                             f"{len(frame)} rows; give one (low, high) or None per row")
        for i, pair in enumerate(pairs):
            if pair is None:
                continue
            a, b = (float(v) for v in pair)
            if np.isfinite(a) and np.isfinite(b):
                low[i], high[i] = min(a, b), max(a, b)
                from_source[i] = True
    return yi, low, high, from_source


def _square_sizes(weights: np.ndarray | None, k: int, largest: float | None = None) -> np.ndarray:
    """Side of each square in points; its area is proportional to the weight (RevMan). The
    square of weight `largest` (default: the largest of `weights`) has the full size."""
    if weights is None or not np.all(np.isfinite(weights)) or weights.max() <= 0:
        return np.full(k, 5.0)
    largest = weights.max() if largest is None else largest
    return np.maximum(MAX_SQUARE * np.sqrt(weights / largest), MIN_SQUARE)


def _study_rows(frame: pd.DataFrame, arms, weights, level, single_interval, ratio,
                largest_weight: float | None = None) -> list[Row]:
    yi, low, high, from_source = _study_intervals(frame, level, single_interval)
    sizes = _square_sizes(weights, len(frame), largest_weight)
    arm_cells = _arm_cells(frame, arms)
    rows = []
    for i in range(len(frame)):
        cells = {"label": str(frame["label"].iloc[i]), **arm_cells[i],
                 "estimate": _interval_text(yi[i], low[i], high[i], ratio)
                 + (f" {SOURCE_INTERVAL_MARK}" if from_source[i] else "")}
        if weights is not None:
            cells["weight"] = f"{weights[i]:.1f}%"
        rows.append(Row("study", cells, data={"est": yi[i], "low": low[i], "high": high[i],
                                              "size": sizes[i], "index": i}))
    return rows


def _band_rows(frame: pd.DataFrame, level: float, single_interval, height: int) -> list[Row]:
    """The studies of `frame` as one band (`layout.band_rows`) of their intervals."""
    yi, low, high, _ = _study_intervals(frame, level, single_interval)
    return band_rows(yi, low, high, height)


def _studies_drawn(rows: list[Row]) -> int:
    return sum(1 if row.kind == "study" else int(row.data["k"]) if row.kind == "band" else 0
               for row in rows)


BAND_NOTE = ("More than {limit} studies: they are drawn as one band, each study's interval a "
             "line and its estimate a dot, sorted by estimate; each study's numbers are in the "
             "table beside the figure.")


def _total_cells(frame: pd.DataFrame, arms) -> tuple[dict, dict]:
    """Cells of the total row (participants) and of the "Total events" row (binary data)."""
    totals, events = {}, {}
    for arm, quantity in arms:
        values = pd.to_numeric(frame[f"{quantity}_{arm}"], errors="coerce")
        if values.notna().any():
            text = f"{values.sum():.0f}"
            if quantity in ("n", "total"):
                totals[f"{quantity}_{arm}"] = text
            elif quantity == "events":
                events[f"{quantity}_{arm}"] = text
    return totals, events


def _pooled_rows(result, label: str, frame: pd.DataFrame, arms, ratio: bool, *, weight_text: str,
                 show_prediction: bool = True, gid: str) -> list[Row]:
    totals, events = _total_cells(frame, arms)
    est, low, high = (float(_get(result, key)) for key in ("estimate", "ci_low", "ci_high"))
    rows = [Row("pooled", {"label": label, **totals, "weight": weight_text,
                           "estimate": _interval_text(est, low, high, ratio)}, bold=True,
                data={"est": est, "low": low, "high": high, "gid": gid})]
    if events:
        rows.append(Row("text", {"label": "Total events", **events}))
    pi_low, pi_high = float(_get(result, "pi_low")), float(_get(result, "pi_high"))
    if (show_prediction and np.isfinite(pi_low) and np.isfinite(pi_high)
            and str(_get(result, "method", "")) != "FE" and int(_get(result, "k", 0)) >= 3):
        # with two studies a prediction interval has no degrees of freedom (Higgins 2009)
        shown = (np.exp(pi_low), np.exp(pi_high)) if ratio else (pi_low, pi_high)
        rows.append(Row("prediction", {"label": "Prediction interval",
                                       "estimate": f"[{_fmt(shown[0])}, {_fmt(shown[1])}]"},
                        italic=True, data={"low": pi_low, "high": pi_high}))
    rows.append(Row("text", span=revman_heterogeneity_text(result)))
    rows.append(Row("text", span=overall_effect_text(result)))
    return rows


def bayes_rows(bayes, ratio: bool, level: float) -> list[Row]:
    """The rows of a Bayesian random-effects model under the frequentist total: its posterior
    median with the shortest credible interval (an open diamond, gid ``pooled-bayes``), its
    prediction interval for a new study, and the priors in words.

    `bayes`: a `pool_bayes` result or a mapping with estimate, ci_low, ci_high, pi_low,
    pi_high (analysis scale), tau_prior and mu_prior (text), and optionally k."""
    est, low, high = (float(_get(bayes, key)) for key in ("estimate", "ci_low", "ci_high"))
    pct = f"{level * 100:g}%"
    rows = [Row("pooled", {"label": f"Bayesian ({pct} CrI)",
                           "estimate": _interval_text(est, low, high, ratio)}, bold=True,
                data={"est": est, "low": low, "high": high, "gid": "pooled-bayes",
                      "open": True})]
    pi_low, pi_high = float(_get(bayes, "pi_low")), float(_get(bayes, "pi_high"))
    if np.isfinite(pi_low) and np.isfinite(pi_high):
        shown = (np.exp(pi_low), np.exp(pi_high)) if ratio else (pi_low, pi_high)
        rows.append(Row("prediction", {"label": "Bayesian prediction interval",
                                       "estimate": f"[{_fmt(shown[0])}, {_fmt(shown[1])}]"},
                        italic=True, data={"low": pi_low, "high": pi_high,
                                           "colour": BAYES_COLOUR, "gid": "prediction-bayes"}))
    rows.append(Row("text", span=f"Bayesian: prior of τ {_get(bayes, 'tau_prior', '')}; "
                                 f"prior of the effect {_get(bayes, 'mu_prior', '')}"))
    return rows


# --- drawing --------------------------------------------------------------------------------


def _left_columns(arms, arm_labels: tuple[str, str], header: tuple[str, str],
                  with_weight: bool) -> list[Column]:
    columns = [Column("label", "Study or Subgroup", align="left")]
    for arm, quantity in arms:
        group = arm_labels[0] if arm == "treatment" else arm_labels[1]
        columns.append(Column(f"{quantity}_{arm}", ARM_HEADERS[quantity], group=group))
    if with_weight:
        columns.append(Column("weight", "Weight"))
    columns.append(Column("estimate", header[1], group=header[0], align="center"))
    return columns


def _rob_columns(rob, labels: list[str]) -> tuple[list[Column], pd.DataFrame]:
    if rob is None or len(rob) == 0:
        return [], pd.DataFrame()
    long = long_rob(rob)
    long = long[long["study_id"].isin(set(labels))]
    domains = sorted(long["domain"].unique(), key=domain_order)
    columns = [Column(f"rob_{d}", "Overall" if d == "overall" else d, group="Risk of Bias",
                      align="center") for d in domains]
    return columns, long


def _axis_values(rows: list[Row]) -> list[float]:
    """What the axis must show: every study's estimate and interval, and the pooled estimates.

    Pooled and prediction intervals are left out on purpose, as RevMan scales its axis: with
    two studies a Hartung-Knapp interval uses t with 1 df (t = 12.7) and can be ten times wider
    than any study's interval; an axis stretched to it squeezes every study into a dot. Such
    an interval is drawn to the edge of the axis with an arrow (`_draw_diamond`,
    `clip_interval`), and its numbers are printed in the estimate column.
    """
    values = []
    for row in rows:
        if row.kind == "study":
            values += [row.data.get(key, math.nan) for key in ("est", "low", "high")]
        elif row.kind == "band":  # estimates sorted: the first and last are the extremes
            values += [float(row.data["est"][0]), float(row.data["est"][-1]),
                       float(np.nanmin(row.data["low"])), float(np.nanmax(row.data["high"]))]
        elif row.kind == "pooled":
            values.append(row.data.get("est", math.nan))
    return values


def _draw_diamond(ax, est: float, low: float, high: float, y: float, gid: str,
                  open_: bool = False) -> list[str]:
    """The pooled diamond, cut at the axis limits with an arrow head beyond each cut side
    (RevMan's mark of an interval wider than the scale). Returns the sides cut ("left",
    "right"). The diamond's half-width at x is DIAMOND_HALF_HEIGHT · (1 − |x − est| / reach),
    so a cut keeps the slope of the sides. `open_`: the Bayesian model's diamond, white inside
    with a purple edge, so the two models tell apart."""
    lo, hi = ax.get_xlim()
    h = DIAMOND_HALF_HEIGHT
    cut = []
    left_side = [(low, y)]
    if low < lo:
        half = h * (lo - low) / (est - low) if est > low else h
        left_side = [(lo, y - half), (lo, y + half)]
        cut.append("left")
    right_side = [(high, y)]
    if high > hi:
        half = h * (high - hi) / (high - est) if high > est else h
        right_side = [(hi, y + half), (hi, y - half)]
        cut.append("right")
    vertices = left_side + [(est, y + h)] + right_side + [(est, y - h)]
    colour = BAYES_COLOUR if open_ else POOLED_COLOUR
    ax.add_patch(Polygon(vertices, closed=True, facecolor="white" if open_ else colour,
                         edgecolor=colour, lw=1.2 if open_ else 0.5, gid=gid, zorder=3))
    reach = 0.035 * (hi - lo)  # the arrow head's length, in axis units
    for side in cut:
        edge, sign = (lo, -1) if side == "left" else (hi, 1)
        ax.add_patch(Polygon([(edge, y + 0.22), (edge + sign * reach, y), (edge, y - 0.22)],
                             closed=True, facecolor=colour, edgecolor=colour,
                             lw=0.5, clip_on=False, gid=f"arrow-{gid}-{side}", zorder=3))
    return cut


def _draw_marks(table: TableFigure, rows: list[Row]) -> None:
    ax = table.ax
    for i, row in enumerate(rows):
        y = -i
        if row.kind == "study":
            d = row.data
            if not np.isfinite(d["est"]):
                continue
            clip_interval(ax, d["low"], d["high"], y, colour="black", lw=0.9,
                          gid=f"study-ci-{d['index']}")
            ax.plot([d["est"]], [y], marker="s", color=STUDY_COLOUR, markeredgecolor=STUDY_COLOUR,
                    linestyle="none", markersize=d["size"], gid=f"study-{d['index']}", zorder=3)
        elif row.kind == "band":
            draw_band(ax, row.data, y)
        elif row.kind == "pooled":
            d = row.data
            d["cut"] = _draw_diamond(ax, d["est"], d["low"], d["high"], y, d["gid"],
                                     open_=bool(d.get("open")))
        elif row.kind == "prediction":
            d = row.data
            colour = d.get("colour", PI_COLOUR)
            clip_interval(ax, d["low"], d["high"], y, colour=colour, lw=1.6,
                          gid=d.get("gid", f"prediction-{i}"))
            lo, hi = ax.get_xlim()
            caps = [x for x in (d["low"], d["high"]) if lo <= x <= hi]
            ax.plot(caps, [y] * len(caps), marker="|", color=colour, markersize=6,
                    linestyle="none")


def _draw_rob(table: TableFigure, columns: list[Column], long: pd.DataFrame,
              labels_by_row: dict[int, str]) -> None:
    judgements = {(r.study_id, r.domain): r.judgement for r in long.itertuples()}
    for i, label in labels_by_row.items():
        for column in columns:
            domain = column.key[len("rob_"):]
            judgement = judgements.get((label, domain))
            if judgement is None:
                continue
            left, right = table.columns[column.key]
            x = (left + right) / 2
            table.ax.plot([x], [-i], marker="o", markersize=9.5, linestyle="none",
                          markerfacecolor=ROB_COLOURS.get(judgement, "white"),
                          markeredgecolor="#404040", markeredgewidth=0.5,
                          transform=table.text_transform, clip_on=False,
                          gid=f"rob-{i}-{domain}")
            table.row_text(x, -i, ROB_SYMBOLS.get(judgement, "?"), ha="center", fontsize=7,
                           fontweight="bold")


def _rob_footer(long: pd.DataFrame) -> list[str]:
    """The key of the risk-of-bias columns: symbols, then each tool's domains."""
    lines = []
    for tool in sorted(long["tool"].unique()) if not long.empty else []:
        part = long[long["tool"] == tool]
        lines.append(f"Risk of bias ({'RoB 2' if tool == 'RoB2' else tool}): "
                     f"{judgement_key_text(part['judgement'])}")
        key = domain_key_text(tool, sorted(part["domain"].unique(), key=domain_order))
        if key:
            lines.append(key)
    return lines


def _render(rows: list[Row], study_labels: dict[int, str], *, left: list[Column],
            rob, measure: str, favours, header: tuple[str, str], footer: list[str],
            title: str | None) -> Figure:
    ratio = is_ratio(measure)
    rob_columns, rob_long = _rob_columns(rob, list(study_labels.values()))
    axis = symmetric_axis(_axis_values(rows), ratio=ratio, favours=favours,
                          label=axis_label(measure))
    footer = footer + _rob_footer(rob_long)
    table = table_figure(rows, left, rob_columns, axis=axis, graph_header=header,
                         right_column_width=0.22, footer=footer, title=title)
    _draw_marks(table, rows)
    if rob_columns:
        _draw_rob(table, rob_columns, rob_long, study_labels)
    return table.fig


def _legacy_rows(labels, yi, vi) -> pd.DataFrame:
    return pd.DataFrame({"label": [str(lab) for lab in labels],
                         "yi": np.asarray(yi, dtype=float), "vi": np.asarray(vi, dtype=float)})


def forest_plot(rows, result=None, *legacy, measure: str = "MD",
                favours: tuple[str, str] | None = None, direction: str = "lower_is_better",
                level: float = 0.95, rob: pd.DataFrame | None = None, title: str | None = None,
                single_interval: Sequence | None = None,
                arm_labels: tuple[str, str] = ("Experimental", "Control"),
                show_prediction: bool = True, bayes=None) -> Figure:
    """Forest plot of one comparison, laid out as RevMan draws it.

    Parameters
    ----------
    rows : pandas.DataFrame
        One row per study, in the order of the pooled fit: ``label``, ``yi``, ``vi`` (the
        effect on the analysis scale: log for ratio measures) and, when available, per-arm
        data, ``mean_treatment, sd_treatment, n_treatment, mean_control, sd_control,
        n_control`` (continuous) or ``events_treatment, total_treatment, events_control,
        total_control`` (binary). A column that is all NaN (or absent) is not drawn.
    result : PoolResult, mapping or None
        The pooled fit (`metareview.pool`) of these rows. None: the studies are drawn alone
        and the total row says "Not pooled".
    measure : str
        Effect measure ("MD", "SMD", "RR", "OR", ...). Ratios are printed back-transformed
        (log RR → RR) and drawn on a log axis labelled with ratios.
    favours : (str, str) or None
        Labels under the axis, left and right of no effect (None: `favours_labels(measure,
        direction)`, "Favours treatment" and "Favours control" on the sides `direction` gives).
    direction : str
        The outcome's better direction ("lower_is_better", "higher_is_better"), which decides
        the sides of the default "favours" labels.
    level : float
        Confidence level of the study intervals (the pooled ones come from `result`).
    rob : pandas.DataFrame, optional
        Risk-of-bias judgements (study label × domain, or risk_of_bias.csv in long form), drawn
        as coloured dots with symbols in columns on the right, with a key under the plot.
    title : str, optional
    single_interval : sequence, optional
        Per row None or a (low, high) pair on the analysis scale, drawn and printed instead of
        the Wald interval yi ± z·√vi: a study keeps the interval its source printed (t-based
        when the source used t). Such rows are marked † with a note under the plot.
    arm_labels : (str, str)
        Headings of the two arms' columns (RevMan: "Experimental", "Control").
    show_prediction : bool
        Draw the prediction interval (random-effects models with k >= 2).
    bayes : BayesResult, mapping or None
        A Bayesian random-effects model of the same studies (`metareview.pool_bayes`, or a
        row of `report.bayes`'s table): drawn under the frequentist total as a second, open
        diamond labelled "Bayesian (95% CrI)" with its prediction interval (`bayes_rows`).

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Columns, left to right: study, per-arm data, Weight (%, from ``result.weights``, each
    study's share of Σ w_i with w_i = 1/(v_i + τ²)), the estimate with its interval, the graph,
    and the risk-of-bias dots. In the graph each study is a square of area proportional to its
    weight with its interval (an arrow where it runs past the axis), the pooled estimate is a
    diamond spanning its confidence interval and the prediction interval (Riley et al. 2011,
    BMJ 342:d549) a red bar under it. The axis is symmetric about no effect and scaled to the
    studies' intervals and the pooled estimate, not to the pooled or prediction interval: one
    wider than the axis is cut at its edge with an arrow, as RevMan draws it. A ratio axis is
    titled "<measure> (log scale)". Under the total row: "Heterogeneity: Tau² …; Chi² …, df …
    (P …); I² …" and "Test for overall effect: Z (or t) …" (see `revman_heterogeneity_text`,
    `overall_effect_text`). The figure's alternative text (`style.alt_text`) names the title,
    k and the pooled estimate with its interval (`forest_alt_text`).

    Marks carry gids for checks: ``study-<i>`` (square), ``study-ci-<i>`` (interval),
    ``pooled-total`` (diamond; ``arrow-pooled-total-left``/``-right`` where it is cut),
    ``prediction-<row>``, ``pooled-bayes`` and ``prediction-bayes`` (the Bayesian model);
    texts ``cell-<column>-<row>``.

    The older call ``forest_plot(labels, yi, vi, result, ...)`` is still accepted.
    """
    if legacy or not isinstance(rows, pd.DataFrame):
        if len(legacy) not in (1, 2):
            raise TypeError("forest_plot takes a DataFrame of rows (label, yi, vi, ...) and a "
                            "pooled result; the old form is forest_plot(labels, yi, vi, result)")
        rows, result = _legacy_rows(rows, result, legacy[0]), (legacy[1] if len(legacy) == 2
                                                               else None)
    frame = _as_frame(rows)
    ratio = is_ratio(measure)
    if favours is None:
        favours = favours_labels(measure, direction)
    arms = _arm_columns(frame)
    weights = None if result is None else _weights_pct(result, len(frame))
    header = measure_header(measure, result, level)
    footer = []
    if summarised(len(frame)):
        table_rows = _band_rows(frame, level, single_interval, BAND_ROWS)
        footer.append(BAND_NOTE.format(limit=MAX_STUDY_ROWS))
        rob = None  # one judgement per study has no row to sit in
    else:
        table_rows = _study_rows(frame, arms, weights, level, single_interval, ratio)
    total_label = f"Total ({level * 100:g}% CI)"
    if result is None:
        totals, events = _total_cells(frame, arms)
        table_rows.append(Row("text", {}))
        table_rows.append(Row("total", {"label": total_label, **totals,
                                        "estimate": "Not pooled"}, bold=True))
        if events:
            table_rows.append(Row("text", {"label": "Total events", **events}))
    else:
        table_rows.append(Row("text", {}))
        table_rows += _pooled_rows(result, total_label, frame, arms, ratio, weight_text="100.0%",
                                   show_prediction=show_prediction, gid="pooled-total")
        described = _get(result, "model_text", None)   # RevMan's analyses describe themselves
        footer.append(f"Model: {described}." if isinstance(described, str) else
                      f"Model: {model_label(result)}; study weights are inverse-variance.")
        if bayes is not None:
            table_rows.append(Row("text", {}))
            table_rows += bayes_rows(bayes, ratio, level)
            footer.append("Bayesian: the normal-normal random-effects model (as R's "
                          "bayesmeta); open diamond: posterior median and shortest "
                          f"{level * 100:g}% credible interval; purple bar: prediction "
                          "interval of a new study's effect.")
        if int(_get(result, "k", 0)) == 2:
            test = str(_get(result, "test", "z"))
            footer.append("Caution: two studies only; tau² cannot be estimated with any "
                          "precision and " + ("the Hartung-Knapp interval uses t with 1 df"
                                              if test == "knha" else "the z interval ignores "
                                              "the uncertainty in tau²")
                          + "; no " + ("frequentist " if bayes is not None else "")
                          + "prediction interval (it needs at least 3 studies)")
    if any(r.cells.get("estimate", "").endswith(SOURCE_INTERVAL_MARK) for r in table_rows):
        footer.append(f"{SOURCE_INTERVAL_MARK} t-based interval of the study's source (the "
                      "interval it printed, or the one its printed test implies), as in the "
                      "tables")
    left = _left_columns(arms, arm_labels, header, with_weight=weights is not None)
    labels = {} if rob is None else {i: str(frame["label"].iloc[i]) for i in range(len(frame))}
    fig = _render(table_rows, labels, left=left, rob=rob, measure=measure, favours=favours,
                  header=header, footer=footer, title=title)
    return set_alt_text(fig, forest_alt_text(title, measure, result, level, table_rows))


def _q_between(summaries: list[tuple[float, float]]) -> tuple[float, int, float]:
    """RevMan's test for subgroup differences from each subgroup's (estimate, SE):
    Q = Σ_g (μ̂_g − μ̄)²/SE_g², μ̄ their inverse-variance mean, chi² with G − 1 df
    (Borenstein et al. 2009, ch. 19); as `metareview.subgroup(..., tau2="separate")`."""
    estimates, variances = [], []
    for est, se in summaries:
        if np.isfinite(est) and np.isfinite(se) and se > 0:
            estimates.append(est)
            variances.append(se ** 2)
    if len(estimates) < 2:
        return math.nan, 0, math.nan
    w = 1 / np.asarray(variances)
    mu = np.asarray(estimates)
    mean = float(np.sum(w * mu) / np.sum(w))
    q = float(np.sum(w * (mu - mean) ** 2))
    df = len(mu) - 1
    return q, df, float(stats.chi2.sf(q, df))


def _subgroup_test_line(test_text, summaries: list[tuple[float, float]]) -> str | None:
    if isinstance(test_text, str):
        return test_text
    if test_text is not None:
        q, df = float(_get(test_text, "q_between")), float(_get(test_text, "df"))
        df2 = float(_get(test_text, "df2"))
        pval = float(_get(test_text, "pval"))
        if np.isfinite(df2):
            return (f"Test for subgroup differences: F = {_fmt(q)}, df = ({df:g}, {df2:g}) "
                    f"({revman_p(pval)})")
        return subgroup_difference_text(q, df, pval)
    q, df, pval = _q_between(summaries)
    return subgroup_difference_text(q, df, pval) if np.isfinite(q) else None


def subgroup_forest_plot(rows, group_column: str, group_results: dict, overall=None, *,
                         test_text=None, measure: str = "MD",
                         favours: tuple[str, str] | None = None,
                         direction: str = "lower_is_better", level: float = 0.95,
                         title: str | None = None, rob: pd.DataFrame | None = None,
                         arm_labels: tuple[str, str] = ("Experimental", "Control"),
                         group_labels: dict | None = None,
                         single_interval: Sequence | None = None,
                         group_order: Sequence | None = None,
                         untested: Sequence = ()) -> Figure:
    """Forest plot with the studies grouped under subgroup headings, as RevMan draws it.

    Parameters
    ----------
    rows : pandas.DataFrame
        As for `forest_plot` (``label``, ``yi``, ``vi``, per-arm data), plus `group_column`.
        ``study_id`` serves as the label when there is no ``label`` column.
    group_column : str
    group_results : dict
        Subgroup → its pooled fit (rows of the subgroup in their order in `rows`). A subgroup
        without a fit (e.g. one study) is drawn without a subtotal diamond.
    overall : PoolResult or mapping, optional
        The fit of all studies (in the order of `rows`): the overall diamond and lines.
    test_text : str, SubgroupResult or None
        The subgroup-differences line: a text printed as it is; a result with ``q_between``,
        ``df``, ``pval`` (e.g. `metareview.subgroup`) formatted as RevMan's line; or None, then
        computed as RevMan does from the subgroup fits and the single-study subgroups'
        own estimates (`subgroup_difference_text`).
    favours, direction, level, title, rob, arm_labels
        As for `forest_plot`.
    group_labels : dict, optional
        Subgroup value → its heading (e.g. "svf" → "Stromal vascular fraction"); a value not
        in it is shown as it is.
    single_interval : sequence, optional
        As for `forest_plot`: per row of `rows` None or the (low, high) its source printed.
    group_order : sequence, optional
        The subgroups in the order they are drawn (review.yaml's order of the levels); groups
        not in it follow in the order of their headings.
    untested : sequence, optional
        Groups drawn, with their subtotals, but left out of the test for subgroup differences
        (the studies that do not report the subgroup column); the test line says so.

    Notes
    -----
    Subgroups are in `group_order`, else in the order of their headings; studies within a
    subgroup in the order of `rows`. Each subgroup has its heading, its studies, a "Subtotal (95% CI)" diamond, its
    heterogeneity and overall-effect lines. Weights are percentages of the overall fit when
    `overall` has one weight per row (so subtotals add up to 100%, as in RevMan), otherwise
    within-subgroup percentages (each subtotal 100%). I² of the subgroup differences is
    max(0, (Q − df)/Q). The axis is scaled to the studies, as in `forest_plot`.
    """
    frame = _as_frame(rows)
    if group_column not in frame.columns:
        raise ValueError(f"rows have no column {group_column!r} to group by")
    ratio = is_ratio(measure)
    if favours is None:
        favours = favours_labels(measure, direction)
    if single_interval is not None and len(list(single_interval)) != len(frame):
        raise ValueError(f"single_interval has {len(list(single_interval))} entries but there "
                         f"are {len(frame)} rows; give one (low, high) or None per row")
    intervals = list(single_interval) if single_interval is not None else None
    headings = {str(k): str(v) for k, v in (group_labels or {}).items()}
    arms = _arm_columns(frame)
    overall_weights = None
    if overall is not None:
        weights = _get(overall, "weights", None)
        if weights is not None and np.asarray(weights).size == len(frame):
            overall_weights = _weights_pct(overall, len(frame))
    header = measure_header(measure, overall if overall is not None else
                            next(iter(group_results.values()), None), level)
    pct = f"{level * 100:g}% CI"
    groups = frame[group_column].astype(str)
    lookup = {str(key): value for key, value in group_results.items()}
    table_rows: list[Row] = []
    labels: dict[int, str] = {}
    summaries: list[tuple[float, float]] = []
    described: list[str] = []
    order = [str(g) for g in (group_order or ()) if str(g) in set(groups)]
    order += sorted(set(groups) - set(order), key=lambda g: (headings.get(g, g), g))
    left_out = {str(g) for g in untested} & set(order)
    banded = summarised(len(frame))
    if banded:
        rob = None
    for group in order:
        heading = headings.get(group, group)
        members = np.flatnonzero(groups.to_numpy() == group)
        part = frame.iloc[members].reset_index(drop=True)
        result = lookup.get(group)
        if group in left_out:
            pass  # drawn, but not a subgroup of the test
        elif result is not None:
            summaries.append((float(_get(result, "estimate")), float(_get(result, "se"))))
        elif len(part) == 1:  # a single study is its own subgroup estimate
            summaries.append((float(part["yi"].iloc[0]), math.sqrt(float(part["vi"].iloc[0]))))
        if overall_weights is not None:
            weights = overall_weights[members]
        elif result is not None and np.asarray(_get(result, "weights", [])).size == len(part):
            weights = _weights_pct(result, len(part))
        else:
            weights = None
        table_rows.append(Row("header", span=f"{heading} (k = {len(part)})", bold=True))
        start = len(table_rows)
        largest = overall_weights.max() if overall_weights is not None else None
        part_intervals = None if intervals is None else [intervals[m] for m in members]
        if banded:
            study_rows = _band_rows(part, level, part_intervals,
                                    min(SUBGROUP_BAND_ROWS, len(part)))
        else:
            study_rows = _study_rows(part, arms, weights, level, part_intervals, ratio, largest)
            for offset, row in enumerate(study_rows):
                row.data["index"] = int(members[offset])
                if rob is not None:
                    labels[start + offset] = str(part["label"].iloc[offset])
        table_rows += study_rows
        if result is not None and int(_get(result, "k", 0)) >= 2:
            subtotal = f"{weights.sum():.1f}%" if weights is not None else ""
            table_rows += _pooled_rows(result, f"Subtotal ({pct})", part, arms, ratio,
                                       weight_text=subtotal, show_prediction=False,
                                       gid=f"pooled-{group}")
            described.append(f"{heading}: {plural(len(part), 'study')}, "
                             f"{_pooled_sentence(result, measure, level).split(' (')[0]}")
        else:
            described.append(f"{heading}: {plural(len(part), 'study')}"
                             + (f", {_studies_sentence(study_rows, measure)}"
                                if len(part) <= 3 else ""))
        table_rows.append(Row("text", {}))
    footer = [BAND_NOTE.format(limit=MAX_STUDY_ROWS)] if banded else []
    if overall is not None:
        table_rows += _pooled_rows(overall, f"Total ({pct})", frame, arms, ratio,
                                   weight_text="100.0%", show_prediction=True,
                                   gid="pooled-total")
        footer.append(f"Model: {model_label(overall)}; study weights are inverse-variance.")
    if any(r.cells.get("estimate", "").endswith(SOURCE_INTERVAL_MARK) for r in table_rows):
        footer.append(f"{SOURCE_INTERVAL_MARK} t-based interval of the study's source (the "
                      "interval it printed, or the one its printed test implies), as in the "
                      "tables")
    line = _subgroup_test_line(test_text, summaries)
    if line and left_out:
        n_left_out = int(np.isin(groups.to_numpy(), list(left_out)).sum())
        line += (f", without the {plural(n_left_out, 'study', 'studies')} under "
                 + ", ".join(headings.get(g, g) for g in order if g in left_out))
    if line:
        table_rows.append(Row("text", span=line))
    left = _left_columns(arms, arm_labels, header, with_weight=any(
        "weight" in r.cells for r in table_rows))
    fig = _render(table_rows, labels, left=left, rob=rob, measure=measure, favours=favours,
                  header=header, footer=footer, title=title)
    text = (f"Subgroup forest plot: {title}." if title else "Subgroup forest plot.")
    text += (f" {plural(len(frame), 'study')} in {plural(len(described), 'subgroup')}. "
             + "; ".join(described) + ".")
    if overall is not None:
        text += f" All studies: {_pooled_sentence(overall, measure, level)}."
    if line:
        text += f" {line}."
    return set_alt_text(fig, text + _cut_sentence(table_rows))
