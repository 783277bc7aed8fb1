"""One derived effect and the conventions every derivation route shares."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from metareview.stats.plain import plain

# How an unlabelled "±" is read: by the printed p value ("data"), or the other way round, for
# the sensitivity analysis ("other").
DISPERSION_READINGS = ("data", "other")


class NotPoolable(Exception):
    """A result whose reported form yields no honest effect size; the message is the reason."""


def missing(value) -> bool:
    """True for an empty cell: None, NaN or pandas' NA."""
    if value is None or value is pd.NA:
        return True
    try:
        return bool(np.isnan(value))
    except (TypeError, ValueError):
        return False


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows of `frame` as dicts of plain Python values, as ``frame.to_dict("records")``
    gives them (numpy scalars made Python numbers, pandas' NA made None), in a quarter of its
    time on the few rows of one study: pandas builds a Series per column first, which
    dominates the derivation of a review of thousands of studies."""
    columns = list(frame.columns)
    return [dict(zip(columns, map(_plain_value, row))) for row in frame.to_numpy(dtype=object)]


def _plain_value(value):
    return None if value is pd.NA else plain(value)


def number(value) -> float:
    """A cell as a float (NaN when empty)."""
    return np.nan if missing(value) else float(value)


@dataclass(frozen=True)
class Effect:
    """An effect size with its variance, how it was obtained and the per-arm data behind it.

    `yi` is treatment minus control (ratios: treatment over control, on the log scale) on the
    scale of the outcome it is pooled in (`on_analysis_scale`); `df` is the t degrees of
    freedom of an SE derived with t from a printed interval, test or p value (NaN for an SE
    from arm data or with z), so that a single study keeps the interval its source printed
    (`metareview.report.frames.study_intervals`).
    """

    yi: float
    vi: float
    derivation: str
    value_type: str
    source_url: str
    source_location: str
    n_treatment: float = np.nan
    n_control: float = np.nan
    df: float = np.nan
    mean_treatment: float = np.nan
    sd_treatment: float = np.nan
    mean_control: float = np.nan
    sd_control: float = np.nan
    events_treatment: float = np.nan
    total_treatment: float = np.nan
    events_control: float = np.nan
    total_control: float = np.nan
    converted: bool = False
    paired: bool = False
    paired_r: float = np.nan
    p_derived: bool = False
    p_bound: bool = False
    dispersion_reading: str = ""
    dispersion_decided: bool = True
    from_percent: bool = False
    timepoint_weeks: float = np.nan

    def at(self, week) -> "Effect":
        return replace(self, timepoint_weeks=number(week))

    def fields(self) -> dict:
        out = asdict(self)
        out["se"] = float(np.sqrt(self.vi))
        return out


def on_analysis_scale(difference: float, analysis) -> tuple[float, str]:
    """(effect, note): a difference, treatment minus control as the source reports it, on the
    scale of the outcome it is pooled in.

    The sign is kept, as RevMan and metafor keep it; the outcome's direction only says which
    side favours the treatment. The one conversion: an outcome reported on the opposite scale
    of the outcome it is pooled with (`pooled_with`, e.g. a percent reduction pooled with a
    score where lower is better) has its sign reversed once, and the note says so.
    """
    if analysis.reported_direction == analysis.direction or "neutral" in (
            analysis.reported_direction, analysis.direction):
        return difference, ""
    return -difference, (f"sign reversed: reported where {_words(analysis.reported_direction)}, "
                         f"pooled in {analysis.outcome} where {_words(analysis.direction)}")


def same_scale_or_refuse(analysis) -> None:
    """Raise NotPoolable for a ratio or count outcome reported on the opposite scale of the one
    it is pooled with: a risk ratio of one event is not the reciprocal of the risk ratio of
    another, so no honest conversion exists."""
    if analysis.reported_direction != analysis.direction and "neutral" not in (
            analysis.reported_direction, analysis.direction):
        raise NotPoolable(f"a ratio or count reported where {_words(analysis.reported_direction)}"
                          f" cannot be pooled in {analysis.outcome}, where "
                          f"{_words(analysis.direction)}")


def _words(direction: str) -> str:
    return direction.replace("_", " ")


def paired_df(n: float) -> float:
    """Degrees of freedom of a paired t test on n patients."""
    return float(n) - 1


def parallel_df(n_treatment: float, n_control: float) -> float:
    """Degrees of freedom of a two-sample t test."""
    return float(n_treatment) + float(n_control) - 2
