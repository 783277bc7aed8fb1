"""One derived effect and the conventions every derivation route shares."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

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


def number(value) -> float:
    """A cell as a float (NaN when empty)."""
    return np.nan if missing(value) else float(value)


@dataclass(frozen=True)
class Effect:
    """An effect size with its variance, how it was obtained and the per-arm data behind it.

    `yi` is already oriented (negative favours the treatment for continuous outcomes, ratios
    treatment versus control); `df` is the t degrees of freedom of an interval derived with t
    (NaN for z), so that a single study keeps the interval its source printed.
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


def orient(difference: float, direction: str) -> tuple[float, str]:
    """(signed effect, note): a continuous difference is flipped when higher is better, so
    that negative always favours the treatment. Binary effects are not passed here: they keep
    treatment versus control."""
    if direction != "higher_is_better":
        return difference, ""
    return -difference, "sign flipped so that negative favours treatment"


def paired_df(n: float) -> float:
    """Degrees of freedom of a paired t test on n patients."""
    return float(n) - 1


def parallel_df(n_treatment: float, n_control: float) -> float:
    """Degrees of freedom of a two-sample t test."""
    return float(n_treatment) + float(n_control) - 2
