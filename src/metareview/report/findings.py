"""The summary-of-findings table: one row per outcome, as GRADEpro and Cochrane reviews show it.

Each row gives the outcome, the number of studies and participants, the effect with its 95%
confidence interval on the outcome's natural scale (RR 0.70 (0.50 to 0.98); MD −2.5 days (−3.9
to −1.1); SMD −0.45 (−0.80 to −0.10); 62.0% (50.1% to 72.8%) for a proportion), the 95%
prediction interval, the absolute effects per 1000 people for binary outcomes, the GRADE
certainty (⊕⊕⊕◯ Moderate) with the reasons in footnotes, and one plain-language sentence.

Absolute effects (GRADE 12, Guyatt et al. 2013): the assumed control risk (ACR) is the median of
the included studies' control-arm risks events_control / n_control; the corresponding risk with
the intervention is ACR × RR (OR: ACR·OR / (1 − ACR + ACR·OR); HR: 1 − (1 − ACR)^HR; RD:
ACR + RD), its interval the same formula at the limits of the effect's confidence interval.
Risks are shown per 1000 people, rounded half away from zero; the difference is computed before
rounding.

Plain-language sentences use GRADE's standard wording (Santesso et al. 2020, GRADE 26), with X the
intervention and Y the outcome (an effect; little or no difference):

- high: "X reduces Y"; "X results in little or no difference in Y"
- moderate: "X probably reduces Y"; "X probably results in little or no difference in Y"
- low: "X may reduce Y"; "X may result in little or no difference in Y"
- very low: "We are very uncertain whether X reduces Y"; "We are very uncertain whether X makes
  any difference to Y"

"reduces" or "increases" follows the point estimate on the natural scale (a ratio below or above
1, a difference treatment minus control below or above 0). "Little or no difference" is used
when the confidence interval includes no effect and is narrow: it lies inside the band of
unimportant effects of `metareview.report.grade.appreciable_band` (ratios 0.75 to 1.25, SMD
±0.2, MD ± the minimal important difference when one is given).

GRADE 26 also offers "The evidence is very uncertain about the effect of X on Y" for very low
certainty; the table keeps the older Cochrane form above, which names the direction.

A single study (no pooled result, one row of effects) is shown with its own 95% Wald interval
and no prediction interval. An outcome synthesised without meta-analysis (no pooled result;
`vote` and/or `combined` given) gets a row that says so in words: how many studies favour the
intervention, the sign test and the combined p value, and that the size of the effect is
unknown.

Direction: effects are treatment minus control (ratios: treatment over control) on the
outcome's own scale, as `derive_effects` writes them and the source reports them; the table
shows them so. Whether an increase is good is the outcome's direction, which the outcome cell
states ("higher is better").

References
----------
Guyatt GH, Oxman AD, Santesso N, et al. GRADE guidelines: 12. Preparing summary of findings
tables—binary outcomes. J Clin Epidemiol 2013;66:158-172. doi:10.1016/j.jclinepi.2012.01.012

Guyatt GH, Thorlund K, Oxman AD, et al. GRADE guidelines: 13. Preparing summary of findings
tables and evidence profiles—continuous outcomes. J Clin Epidemiol 2013;66:173-183.
doi:10.1016/j.jclinepi.2012.08.001

Santesso N, Glenton C, Dahm P, et al. GRADE guidelines 26: informative statements to
communicate the findings of systematic reviews of interventions. J Clin Epidemiol
2020;119:126-135. doi:10.1016/j.jclinepi.2019.10.014
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from metareview.report.grade import (
    Certainty,
    Thresholds,
    appreciable_band,
    median_control_risk,
    total_participants,
)
from metareview.review.schema import OUTCOME_DIRECTIONS
from metareview.stats.escalc import back_transform
from metareview.stats.vocabulary import is_proportion, is_ratio

__all__ = [
    "SOF_COLUMNS",
    "OutcomeSummary",
    "absolute_effects",
    "plain_language",
    "summary_of_findings",
]

SOF_COLUMNS = [
    "Outcome",
    "Studies (participants)",
    "Effect (95% CI)",
    "95% prediction interval",
    "Assumed risk with control",
    "Corresponding risk with intervention (95% CI)",
    "Difference per 1000 (95% CI)",
    "Certainty",
    "What happens",
    "Footnotes",
]
MINUS = "\u2212"
# Measures whose absolute effects per 1000 the table shows.
BINARY = ("RR", "OR", "PETO_OR", "HR", "RD")


@dataclass(frozen=True)
class OutcomeSummary:
    """What the summary-of-findings table needs to know about one outcome.

    outcome: its name; label: what readers call it ("Time to healing"); measure: "RR", "MD",
    ...; direction: "lower_is_better" or "higher_is_better"; result: the pooled model (`pool`,
    `pool_glmm`), or None for a single study or an outcome synthesised without meta-analysis;
    effects: the outcome's rows (study_id, yi, vi, n_treatment, n_control; events_control for
    the absolute effects of binary outcomes); certainty: its `Certainty` (None: not assessed);
    unit: of an MD ("days"). vote and combined: a `vote_count` and `combine_pvalues` result for
    an outcome without a pooled estimate.
    """

    outcome: str
    label: str
    measure: str
    direction: str
    result: Any
    effects: pd.DataFrame
    certainty: Certainty | None
    unit: str = ""
    vote: Any = None
    combined: Any = None

    def __post_init__(self) -> None:
        if self.direction not in OUTCOME_DIRECTIONS:
            raise ValueError(f"outcome {self.outcome}: direction {self.direction!r} is none of "
                             f"{', '.join(OUTCOME_DIRECTIONS)}")


def summary_of_findings(outcomes: Iterable[OutcomeSummary], *,
                        intervention: str = "the intervention",
                        thresholds: Thresholds | Mapping[str, Any] | None = None
                        ) -> pd.DataFrame:
    """The summary-of-findings table, one row per outcome, columns `SOF_COLUMNS` (all text).

    intervention: how the sentences name X; thresholds: of `grade.appreciable_band`, which
    decides "little or no difference".
    """
    rows = [_row(summary, intervention, Thresholds.of(thresholds)) for summary in outcomes]
    return pd.DataFrame(rows, columns=SOF_COLUMNS)


# --- one row -----------------------------------------------------------------------------------


def _row(summary: OutcomeSummary, intervention: str, limits: Thresholds) -> dict[str, str]:
    effects = pd.DataFrame(summary.effects).reset_index(drop=True)
    measure = str(summary.measure).upper()
    row = dict.fromkeys(SOF_COLUMNS, "")
    row["Outcome"] = _outcome_cell(summary)
    certainty = summary.certainty
    row["Certainty"] = certainty.label if certainty is not None else "Not assessed"
    notes = list(certainty.footnotes()) if certainty is not None else []

    if summary.result is None and len(effects) != 1:
        return _synthesis_row(summary, effects, row, notes, intervention)

    est = _estimates(summary, effects, measure, limits)
    row["Studies (participants)"] = _studies_cell(est["k"], total_participants(effects))
    row["Effect (95% CI)"] = _effect_cell(measure, summary.unit, est)
    if est["k"] == 1:
        row["95% prediction interval"] = "not estimable (1 study)"
        notes.append("One study: its own estimate and 95% Wald interval.")
    elif np.isfinite(est["pi_low"]):
        row["95% prediction interval"] = _range(measure, est["pi_low"], est["pi_high"])

    if measure in BINARY:
        absolute = absolute_effects(measure, median_control_risk(effects),
                                    est["estimate"], est["ci_low"], est["ci_high"])
        if absolute is None:
            notes.append("Absolute effects not computed: no control-arm events were given.")
        else:
            row["Assumed risk with control"] = f"{absolute['control']} per 1000"
            row["Corresponding risk with intervention (95% CI)"] = (
                f"{absolute['intervention']} per 1000 "
                f"({absolute['intervention_low']} to {absolute['intervention_high']})")
            row["Difference per 1000 (95% CI)"] = (
                f"{_more_fewer(absolute['difference'])} per 1000 "
                f"({_more_fewer(absolute['difference_low'])} to "
                f"{_more_fewer(absolute['difference_high'])})")
            notes.append(
                f"Assumed risk with control: the median control-arm risk of the "
                f"{_count(len(effects), 'included study', 'included studies')} "
                f"({absolute['control']} per 1000). Corresponding risk = "
                f"{_risk_formula(measure)}, its interval from the {measure}'s 95% CI.")

    row["What happens"] = _statement(summary, measure, est, intervention, limits)
    row["Footnotes"] = _lettered(notes)
    return row


def _synthesis_row(summary: OutcomeSummary, effects: pd.DataFrame, row: dict[str, str],
                   notes: list[str], intervention: str) -> dict[str, str]:
    """A row for an outcome synthesised without meta-analysis (vote count, combined p)."""
    vote, combined = summary.vote, summary.combined
    k = (vote.k if vote is not None else combined.k if combined is not None else len(effects))
    n = total_participants(effects) if len(effects) else math.nan
    row["Studies (participants)"] = _studies_cell(k, n)
    parts = ["Not pooled (synthesis without meta-analysis)"]
    if vote is not None:
        with_direction = vote.n_favour + vote.n_against
        parts.append(f"{vote.n_favour} of {_count(with_direction, 'study', 'studies')} with a "
                     f"direction favour {intervention} (sign test {_p(vote.pval)})")
    if combined is not None:
        parts.append(f"combined one-sided {_p(combined.pval)} ({combined.method.capitalize()})")
    row["Effect (95% CI)"] = "; ".join(parts)
    row["95% prediction interval"] = "not applicable"
    sentence = "The studies could not be combined in a meta-analysis, so the size of the effect "
    sentence += "is unknown"
    if vote is not None:
        sentence += (f"; {vote.n_favour} of {vote.n_favour + vote.n_against} studies with a "
                     f"direction favour {intervention}")
    if summary.certainty is not None:
        sentence += f" ({summary.certainty.level} certainty)"
    row["What happens"] = sentence + "."
    notes.append("Synthesis without meta-analysis: vote counting by direction of effect and "
                 "combined p values say whether there is evidence of an effect, not how large "
                 "it is.")
    row["Footnotes"] = _lettered(notes)
    return row


# --- numbers on the natural scale --------------------------------------------------------------


def _estimates(summary: OutcomeSummary, effects: pd.DataFrame, measure: str,
               limits: Thresholds) -> dict[str, float]:
    """estimate, ci_low, ci_high, pi_low, pi_high on the natural scale; k; and the analysis-
    scale interval (a_low, a_high) that decides "little or no difference"."""
    result = summary.result
    if result is None:
        yi = float(effects["yi"].iloc[0])
        se = math.sqrt(float(effects["vi"].iloc[0]))
        crit = stats.norm.isf((1 - limits.level) / 2)
        values = np.array([yi, yi - crit * se, yi + crit * se, math.nan, math.nan])
        k = 1
    elif hasattr(result, "pred"):
        # pool_glmm: the proportion-scale values are in the result already.
        values = np.array([result.pred, result.pred_ci_low, result.pred_ci_high,
                           result.pi_low, result.pi_high], dtype=float)
        return _named(values, int(result.k), result.ci_low, result.ci_high)
    else:
        values = np.array([result.estimate, result.ci_low, result.ci_high,
                           getattr(result, "pi_low", math.nan),
                           getattr(result, "pi_high", math.nan)], dtype=float)
        k = int(result.k)
        if k == 1:
            values[3:] = math.nan
    a_low, a_high = values[1], values[2]
    if is_ratio(measure):
        values = np.exp(values)
    elif is_proportion(measure):
        ni = effects["n_treatment"].to_numpy(float) if "n_treatment" in effects else None
        values = back_transform(values, measure, ni=ni)
    return _named(values, k, a_low, a_high)


def _named(values: np.ndarray, k: int, a_low: float, a_high: float) -> dict[str, float]:
    names = ("estimate", "ci_low", "ci_high", "pi_low", "pi_high")
    return {**{n: float(v) for n, v in zip(names, values)}, "k": k,
            "a_low": float(a_low), "a_high": float(a_high)}


def absolute_effects(measure: str, control_risk: float | None, estimate: float,
                     ci_low: float, ci_high: float) -> dict[str, int] | None:
    """Risks per 1000 with the control and the intervention, and their difference.

    estimate, ci_low, ci_high: the effect on its natural scale (a ratio, or a risk difference);
    control_risk: the assumed control risk (0-1). Returns None without a control risk; else
    integers control, intervention, intervention_low, intervention_high, difference,
    difference_low, difference_high (per 1000, rounded half away from zero).
    """
    if control_risk is None or not np.isfinite(control_risk):
        return None
    measure = str(measure).upper()
    acr = float(control_risk)
    risks = [_corresponding_risk(measure, acr, value) for value in (estimate, ci_low, ci_high)]
    return {
        "control": _per_1000(acr),
        "intervention": _per_1000(risks[0]),
        "intervention_low": _per_1000(risks[1]),
        "intervention_high": _per_1000(risks[2]),
        "difference": _per_1000(risks[0] - acr),
        "difference_low": _per_1000(risks[1] - acr),
        "difference_high": _per_1000(risks[2] - acr),
    }


def _corresponding_risk(measure: str, acr: float, effect: float) -> float:
    if measure == "RR":
        risk = acr * effect
    elif measure in ("OR", "PETO_OR"):
        risk = acr * effect / (1 - acr + acr * effect)
    elif measure == "HR":
        risk = 1 - (1 - acr) ** effect
    elif measure == "RD":
        risk = acr + effect
    else:
        raise ValueError(f"no absolute effects for measure {measure!r}")
    return min(max(risk, 0.0), 1.0)


def _risk_formula(measure: str) -> str:
    return {
        "RR": "assumed risk × RR",
        "OR": "assumed risk × OR / (1 − assumed risk + assumed risk × OR)",
        "PETO_OR": "assumed risk × OR / (1 − assumed risk + assumed risk × OR)",
        "HR": "1 − (1 − assumed risk)^HR",
        "RD": "assumed risk + RD",
    }[measure]


def _per_1000(risk: float) -> int:
    scaled = 1000 * risk
    return int(math.copysign(math.floor(abs(scaled) + 0.5), scaled))


def _more_fewer(value: int) -> str:
    if value == 0:
        return "0"
    return f"{abs(value)} {'more' if value > 0 else 'fewer'}"


# --- text --------------------------------------------------------------------------------------


def plain_language(level: str | None, intervention: str, outcome: str, *, change: str) -> str:
    """One sentence in GRADE's standard wording (table in the module docstring).

    level: "high", "moderate", "low", "very low" (None: not assessed); change: "reduce",
    "increase" or "none" (little or no difference)."""
    x, y = intervention, _lower_first(outcome)
    if change not in ("reduce", "increase", "none"):
        raise ValueError(f"change must be 'reduce', 'increase' or 'none', not {change!r}")
    if change == "none":
        text = {
            "high": f"{x} results in little or no difference in {y}",
            "moderate": f"{x} probably results in little or no difference in {y}",
            "low": f"{x} may result in little or no difference in {y}",
            "very low": f"We are very uncertain whether {x} makes any difference to {y}",
            None: f"{x} results in little or no difference in {y} (certainty not assessed)",
        }[level]
    else:
        verb = change + "s"
        text = {
            "high": f"{x} {verb} {y}",
            "moderate": f"{x} probably {verb} {y}",
            "low": f"{x} may {change} {y}",
            "very low": f"We are very uncertain whether {x} {verb} {y}",
            None: f"{x} {verb} {y} (certainty not assessed)",
        }[level]
    return text[0].upper() + text[1:] + "."


def _statement(summary: OutcomeSummary, measure: str, est: dict[str, float],
               intervention: str, limits: Thresholds) -> str:
    level = summary.certainty.level if summary.certainty is not None else None
    if is_proportion(measure):
        shown = _percent(est["estimate"])
        y = _lower_first(summary.label)
        text = {
            "high": f"with {intervention}, {y} is about {shown}",
            "moderate": f"with {intervention}, {y} is probably about {shown}",
            "low": f"with {intervention}, {y} may be about {shown}",
            "very low": f"we are very uncertain about {y} with {intervention} (about {shown})",
            None: f"with {intervention}, {y} is about {shown} (certainty not assessed)",
        }[level]
        return text[0].upper() + text[1:] + "."
    null = 1.0 if is_ratio(measure) else 0.0
    band = appreciable_band(measure, limits)
    includes_null = est["a_low"] <= 0 <= est["a_high"]
    narrow = band is not None and band[0] < est["a_low"] and est["a_high"] < band[1]
    if (includes_null and narrow) or est["estimate"] == null:
        change = "none"
    else:
        change = "reduce" if est["estimate"] < null else "increase"
    return plain_language(level, intervention, summary.label, change=change)


def _outcome_cell(summary: OutcomeSummary) -> str:
    better = "lower" if summary.direction == "lower_is_better" else "higher"
    unit = f"{summary.unit}; " if summary.unit else ""
    return f"{summary.label} ({unit}{better} is better)"


def _studies_cell(k: int, participants: float) -> str:
    studies = _count(k, "study", "studies")
    if participants is None or not np.isfinite(participants):
        return studies
    return f"{studies} ({_count(int(participants), 'participant', 'participants')})"


def _effect_cell(measure: str, unit: str, est: dict[str, float]) -> str:
    low, high = est["ci_low"], est["ci_high"]
    if is_proportion(measure):
        return f"{_percent(est['estimate'])} ({_percent(low)} to {_percent(high)})"
    digits = _digits(measure, est["estimate"], low, high)
    name = "OR" if measure == "PETO_OR" else measure
    unit_text = f" {unit}" if unit and measure == "MD" else ""
    return (f"{name} {_number(est['estimate'], digits)}{unit_text} "
            f"({_number(low, digits)} to {_number(high, digits)})")


def _range(measure: str, low: float, high: float) -> str:
    if is_proportion(measure):
        return f"{_percent(low)} to {_percent(high)}"
    digits = _digits(measure, low, high)
    return f"{_number(low, digits)} to {_number(high, digits)}"


def _digits(measure: str, *values: float) -> int:
    """Two decimals, but one for an MD whose numbers reach 1 or more (−2.5 days)."""
    if measure == "MD" and max(abs(v) for v in values if np.isfinite(v)) >= 1:
        return 1
    return 2


def _number(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def _percent(value: float) -> str:
    return _number(100 * value, 1) + "%"


def _p(p: float) -> str:
    """"p < 0.001" or "p = 0.042"."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n == 1 else plural}"


def _lower_first(text: str) -> str:
    """"Time to healing" -> "time to healing"; acronyms ("ECCA score") stay as they are."""
    if len(text) > 1 and text[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _lettered(notes: list[str]) -> str:
    return "\n".join(f"{chr(ord('a') + i)}. {note}" for i, note in enumerate(notes))
