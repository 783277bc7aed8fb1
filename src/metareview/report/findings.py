"""The summary-of-findings table: one row per outcome, laid out as GRADEpro lays it out
(Cochrane Handbook chapter 14).

Columns: the outcome (its label, unit and better direction); follow-up; the anticipated
absolute effects for binary outcomes (risk with control, risk with intervention and the
difference, per 1000); the effect with its 95% confidence interval on the natural scale (RR 0.70
(0.50 to 0.98); MD −2.50 days (−3.90 to −1.10); SMD −0.45 (−0.80 to −0.10); 62.0% (50.1% to
72.8%) for a proportion), two decimals as RevMan prints them; participants (studies), each
person of a within-person study counted once; the GRADE certainty (⊕⊕⊕◯ Moderate); comments
(the plain-language statement, an SMD's reading, the prediction interval from three studies,
sensitivity lines). Footnote letters sit on the cells they explain and are lettered across the
whole table (`build` returns the list).

Numbers: given the outcome's row of the pooled table (`OutcomeSummary.row`), the estimate and
intervals shown are that row's, so the summary, the index, the Word file and the forest plots
show one result; a single study has the interval of `frames.study_intervals`.

Two models: a pooled outcome also has its Bayesian random-effects model (`OutcomeSummary.bayes`,
its row of bayes.csv under the review's prior; `report.bayes`). By the rule "Few studies" of
`metareview.report.grade` (`leading_estimate`), a row of k <= 3 studies leads with the Bayesian
estimate: its Effect cell is the posterior median with the shortest 95% credible interval,
followed by "Bayesian 95% CrI", its statement and absolute effects read that estimate, its
comments give the Bayesian prediction interval, and a footnote names the prior, gives the
reason and the frequentist estimate, and says whether the alternative priors of the sensitivity
table (`OutcomeSummary.bayes_alternatives`) change whether the credible interval includes no
effect. From four studies the frequentist estimate leads and the Bayesian one (with its
prediction interval) is a comment. The numbers behind the row (`basis`) say which one it shows.

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

A single study (no pooled result, one row of effects) is shown with its own interval and no
prediction interval. An outcome synthesised without meta-analysis (no pooled result;
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

from metareview.report.frames import study_intervals
from metareview.report.grade import (
    BAYESIAN,
    Certainty,
    Thresholds,
    appreciable_band,
    leading_estimate,
    median_control_risk,
    total_participants,
)
from metareview.report.pooled import MAIN
from metareview.review.schema import OUTCOME_DIRECTIONS
from metareview.stats.escalc import back_transform
from metareview.stats.vocabulary import is_proportion, is_ratio

__all__ = [
    "NUMBER_COLUMNS",
    "SOF_COLUMNS",
    "SummaryOfFindings",
    "build",
    "effect_text",
    "footnote_mark",
    "proportion_statement",
    "strip_marks",
    "smd_reading",
    "smd_reexpression",
    "OutcomeSummary",
    "absolute_effects",
    "plain_language",
    "summary_of_findings",
]

SOF_COLUMNS = [
    "Outcome",
    "Follow-up",
    "Risk with control",
    "Risk with intervention (95% CI)",
    "Effect (95% CI)",
    "Participants (studies)",
    "Certainty",
    "Comments",
    "Footnotes",
]
# Columns of the numbers behind each row (the result table's values, on the natural scale), so
# that every page that repeats a result takes it from the same row; not shown to readers.
NUMBER_COLUMNS = ["kind", "analysis", "outcome", "measure", "k", "participants", "estimate",
                  "ci_low", "ci_high", "level", "statement", "caution", "basis"]
MINUS = "\u2212"
# After the effect of a row that leads with the Bayesian estimate (`grade.leading_estimate`).
BAYESIAN_SUFFIX = ", Bayesian 95% CrI"
# Measures whose absolute effects per 1000 the table shows.
BINARY = ("RR", "OR", "PETO_OR", "HR", "RD")
# Footnote marks as GRADEpro prints them: superscript letters (no superscript q exists, so
# the sequence skips it).
_MARKS = "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻ"


@dataclass(frozen=True)
class OutcomeSummary:
    """What the summary-of-findings table needs to know about one outcome.

    outcome: its name; label: what readers call it ("Time to healing"); measure: "RR", "MD",
    ...; direction: "lower_is_better", "higher_is_better" or "neutral"; result: the pooled model
    (`pool`, `pool_glmm`), or None for a single study or an outcome synthesised without
    meta-analysis; effects: the outcome's rows (study_id, yi, vi, n_treatment, n_control,
    paired; events_control for the absolute effects of binary outcomes); certainty: its
    `Certainty` (None: not assessed); unit: of an MD ("days"). vote and combined: a
    `vote_count` and `combine_pvalues` result for an outcome without a pooled estimate.
    row: the outcome's row of the pooled table (`pooled.csv`): when given, the estimate and
    intervals shown are that row's, so that every page shows the same numbers. analysis: the
    analysis the row belongs to ("main" or "all studies"); follow_up: text for the follow-up
    column; comments: extra comments (a sensitivity line, a caution). participants: the
    people of an outcome synthesised without meta-analysis (its studies' results carry them;
    `effects` is empty there). bayes: the outcome's row of the Bayesian model under the
    review's prior (bayes.csv, `report.bayes`), and bayes_alternatives its rows under the
    alternative priors: with k <= 3 the row leads with the Bayesian estimate (the rule of
    `grade.leading_estimate`), otherwise the Bayesian estimate is a comment.
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
    row: Mapping[str, Any] | None = None
    analysis: str = MAIN
    follow_up: str = ""
    comments: tuple[str, ...] = ()
    participants: float | None = None
    bayes: Mapping[str, Any] | None = None
    bayes_alternatives: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.direction not in OUTCOME_DIRECTIONS:
            raise ValueError(f"outcome {self.outcome}: direction {self.direction!r} is none of "
                             f"{', '.join(OUTCOME_DIRECTIONS)}")


def footnote_mark(index: int) -> str:
    """The footnote letter at position `index` (0 is ᵃ)."""
    return _MARKS[index % len(_MARKS)]


def strip_marks(text: str) -> str:
    """A cell without its footnote letters (for a page that shows no footnotes)."""
    return str(text).rstrip(_MARKS)


class _Notes:
    """Footnotes lettered across the whole table, as GRADEpro letters them; a note already
    given keeps its letter."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return _MARKS[self.texts.index(text) % len(_MARKS)]

    def marks(self, texts: Iterable[str]) -> str:
        return "".join(self.mark(t) for t in texts)

    def listing(self) -> list[str]:
        return [f"{_MARKS[i % len(_MARKS)]} {text}" for i, text in enumerate(self.texts)]


@dataclass(frozen=True)
class SummaryOfFindings:
    """The table (`table`: SOF_COLUMNS text; `numbers`: NUMBER_COLUMNS per row) and the
    footnotes its letters point to (`footnotes`, in letter order)."""

    table: pd.DataFrame
    numbers: pd.DataFrame
    footnotes: list[str]


def summary_of_findings(outcomes: Iterable[OutcomeSummary], *,
                        intervention: str = "the intervention",
                        thresholds: Thresholds | Mapping[str, Any] | None = None
                        ) -> pd.DataFrame:
    """The summary-of-findings table, one row per outcome, columns `SOF_COLUMNS` (all text).

    intervention: how the sentences name X; thresholds: of `grade.appreciable_band`, which
    decides "little or no difference". The Footnotes column holds each row's lettered notes;
    `build` returns the table with its numbers and the footnotes of the whole table.
    """
    return build(outcomes, intervention=intervention, thresholds=thresholds).table


def build(outcomes: Iterable[OutcomeSummary], *, intervention: str = "the intervention",
          thresholds: Thresholds | Mapping[str, Any] | None = None) -> SummaryOfFindings:
    """The summary of findings with its numbers and footnotes (see `SummaryOfFindings`)."""
    notes = _Notes()
    limits = Thresholds.of(thresholds)
    rows, numbers = [], []
    for summary in outcomes:
        text, number = _row(summary, intervention, limits, notes)
        rows.append(text)
        numbers.append(number)
    return SummaryOfFindings(pd.DataFrame(rows, columns=SOF_COLUMNS),
                             pd.DataFrame(numbers, columns=NUMBER_COLUMNS), notes.listing())


# --- one row -----------------------------------------------------------------------------------


def _row(summary: OutcomeSummary, intervention: str, limits: Thresholds,
         notes: _Notes) -> tuple[dict[str, str], dict[str, Any]]:
    effects = pd.DataFrame(summary.effects).reset_index(drop=True)
    measure = str(summary.measure).upper()
    row = dict.fromkeys(SOF_COLUMNS, "")
    row["Outcome"] = _outcome_cell(summary)
    row["Follow-up"] = summary.follow_up
    certainty = summary.certainty
    certainty_notes = list(certainty.footnotes()) if certainty is not None else []
    row["Certainty"] = ((certainty.label if certainty is not None else "Not assessed")
                        + notes.marks(certainty_notes))
    number = dict.fromkeys(NUMBER_COLUMNS, math.nan)
    number.update(kind="synthesis", analysis=summary.analysis, outcome=summary.outcome,
                  measure=measure, level=limits.level)

    if summary.result is None and summary.row is None and len(effects) != 1:
        _synthesis_row(summary, effects, row, notes, intervention, number)
        return row, number

    frequentist = _estimates(summary, effects, measure, limits)
    lead, why = leading_estimate(frequentist["k"], summary.bayes is not None)
    bayesian = (_bayes_estimates(summary.bayes, measure) if summary.bayes is not None
                and frequentist["k"] >= 2 else None)
    est = bayesian if lead == BAYESIAN else frequentist
    persons = total_participants(effects)
    row["Participants (studies)"] = _studies_cell(est["k"], persons) + notes.marks(
        _participant_notes(effects))
    effect_notes = []
    if est["k"] == 1:
        effect_notes.append(f"One study: its own estimate with the interval of its source "
                            f"({est['interval']}); no pooling and no prediction interval.")
    caution = str((summary.row or {}).get("warning") or "")
    if est["k"] == 2 and caution and lead != BAYESIAN:
        # (where the Bayesian estimate leads, its note says what the frequentist one lacks)
        effect_notes.append(caution[:1].upper() + caution[1:] + ".")
    comments = [*summary.comments]
    if lead == BAYESIAN:
        effect_notes.append(_bayes_lead_note(summary, measure, frequentist, why))
        caution = (f"only {est['k']} studies: the Bayesian estimate leads (tau cannot be "
                   f"estimated from the data, so its interval rests on the prior of tau, "
                   f"{summary.bayes['tau_prior']})")
        row["Effect (95% CI)"] = (_effect_cell(measure, summary.unit, est)
                                  + BAYESIAN_SUFFIX + notes.marks(effect_notes))
        if np.isfinite(est["pi_low"]):
            comments.append(f"95% prediction interval (Bayesian) "
                            f"{_range(measure, est['pi_low'], est['pi_high'])}.")
    else:
        row["Effect (95% CI)"] = (_effect_cell(measure, summary.unit, est)
                                  + notes.marks(effect_notes))
        if est["k"] >= 3 and np.isfinite(est["pi_low"]):
            comments.append(f"95% prediction interval "
                            f"{_range(measure, est['pi_low'], est['pi_high'])}.")
        if bayesian is not None:
            comments.append(_bayes_comment(summary, measure, bayesian))

    risk_notes = []
    if measure in BINARY:
        absolute = absolute_effects(measure, median_control_risk(effects),
                                    est["estimate"], est["ci_low"], est["ci_high"])
        if absolute is None:
            risk_notes.append("Absolute effects not computed: no control-arm events were given, "
                              "or the control arms had none.")
            row["Risk with control"] = "not estimable" + notes.marks(risk_notes)
        else:
            risk_notes.append(
                f"Risk with control: the median control-arm risk of the "
                f"{_count(len(effects), 'included study', 'included studies')}. Risk with "
                f"intervention = {_risk_formula(measure)}, its interval from the {measure}'s "
                + ("95% credible interval (Bayesian)." if lead == BAYESIAN else "95% CI."))
            row["Risk with control"] = f"{absolute['control']} per 1000" + notes.marks(risk_notes)
            row["Risk with intervention (95% CI)"] = (
                f"{absolute['intervention']} per 1000 "
                f"({absolute['intervention_low']} to {absolute['intervention_high']}): "
                f"{_more_fewer(absolute['difference'])} per 1000 "
                f"({_more_fewer(absolute['difference_low'])} to "
                f"{_more_fewer(absolute['difference_high'])})")
    elif measure == "SMD":
        comments.append(smd_reading(est["estimate"]))
        comments.append(smd_reexpression(est["estimate"], est["ci_low"], est["ci_high"],
                                         effects, summary.outcome, summary.label,
                                         summary.unit))

    statement = _statement(summary, measure, est, intervention, limits)
    row["Comments"] = " ".join([statement, *comments])
    own = certainty_notes + _participant_notes(effects) + effect_notes + risk_notes
    row["Footnotes"] = "\n".join(f"{notes.mark(n)} {n}" for n in dict.fromkeys(own))
    number.update(kind="single study" if est["k"] == 1 else
                  ("proportion" if is_proportion(measure) else "pooled"),
                  k=est["k"], participants=persons, estimate=est["estimate"],
                  ci_low=est["ci_low"], ci_high=est["ci_high"], statement=statement,
                  caution=(caution[:1].upper() + caution[1:] + ".")
                  if (est["k"] == 2 or lead == BAYESIAN) and caution else "",
                  basis=lead if est["k"] >= 2 else "")
    return row, number


# --- the Bayesian estimate ---------------------------------------------------------------------


def _bayes_estimates(bayes: Mapping[str, Any], measure: str) -> dict[str, Any]:
    """The Bayesian row's median, credible and prediction intervals on the natural scale, as
    `_estimates` returns the frequentist ones."""
    values = np.array([_value(bayes, n) for n in
                       ("estimate", "ci_low", "ci_high", "pi_low", "pi_high")], dtype=float)
    a_low, a_high = values[1], values[2]
    if is_ratio(measure):
        values = np.exp(values)
    return {**_named(values, int(bayes["k"]), a_low, a_high),
            "interval": "shortest credible interval"}


def _prior_words(bayes: Mapping[str, Any]) -> str:
    return f"prior of tau {bayes['tau_prior']}, of the effect {bayes['mu_prior']}"


def _bayes_comment(summary: OutcomeSummary, measure: str, bayesian: dict[str, Any]) -> str:
    """The Bayesian estimate as a comment, where the frequentist one leads."""
    text = (f"Bayesian random-effects model ({_prior_words(summary.bayes)}): "
            f"{_effect_cell(measure, summary.unit, bayesian)} (95% CrI)")
    if np.isfinite(bayesian["pi_low"]):
        text += (f", 95% prediction interval "
                 f"{_range(measure, bayesian['pi_low'], bayesian['pi_high'])}")
    return text + "."


def _bayes_lead_note(summary: OutcomeSummary, measure: str, frequentist: dict[str, Any],
                     why: str) -> str:
    """The footnote of a row that leads with the Bayesian estimate: which prior, why (the rule
    of `grade.leading_estimate`), the frequentist estimate, and whether the alternative priors
    change whether the credible interval includes no effect."""
    row = summary.row or {}
    test = {"knha": "Hartung-Knapp", "z": "z test", "t": "t test"}.get(
        str(row.get("test", "")), str(row.get("test", "")))
    method = ", ".join(part for part in (str(row.get("method", "") or ""), test) if part)
    text = (f"Few studies: this row leads with the Bayesian random-effects estimate (posterior "
            f"median and shortest 95% credible interval; {_prior_words(summary.bayes)}), "
            f"because {why}. The frequentist estimate ({method}) is "
            f"{_effect_cell(measure, summary.unit, frequentist)} (95% CI)")
    if frequentist["k"] >= 3 and np.isfinite(frequentist["pi_low"]):
        text += (f", 95% prediction interval "
                 f"{_range(measure, frequentist['pi_low'], frequentist['pi_high'])}")
    else:
        text += ", with no prediction interval (it needs at least 3 studies)"
    text += "."
    alternatives = list(summary.bayes_alternatives)
    if alternatives:
        shown = "; ".join(
            f"{r['tau_prior']}: "
            + _range(measure, *(_natural_value(measure, _value(r, n)) for n in ("ci_low",
                                                                               "ci_high")))
            for r in alternatives)
        includes = [_value(r, "ci_low") <= 0 <= _value(r, "ci_high")
                    for r in [summary.bayes, *alternatives]]
        verdict = ("includes no effect under every prior" if all(includes) else
                   "excludes no effect under every prior" if not any(includes) else
                   "includes no effect under some priors and not under others, so the "
                   "conclusion depends on the prior")
        text += (f" Under the alternative priors the credible interval runs {shown}: it "
                 f"{verdict}.")
    return text


def _natural_value(measure: str, value: float) -> float:
    return float(np.exp(value)) if is_ratio(measure) else float(value)


def _participant_notes(effects: pd.DataFrame) -> list[str]:
    if "paired" not in effects or not effects["paired"].astype(bool).any():
        return []
    return ["Within-person studies (each person treated on both sides) count each person "
            "once."]


def smd_reading(smd: float) -> str:
    """The conventional reading of an SMD's size (Cochrane Handbook 15.5.3.1, after Cohen
    1988): about 0.2 small, 0.5 moderate, 0.8 large."""
    size = abs(smd)
    word = ("less than small" if size < 0.2 else "small" if size < 0.5 else
            "moderate" if size < 0.8 else "large")
    return (f"An SMD of {_number(smd, 2)} is a {word} difference (0.2 small, 0.5 moderate, "
            "0.8 large).")


def smd_reexpression(smd: float, low: float, high: float, effects: pd.DataFrame,
                     outcome: str, label: str, unit: str) -> str:
    """An SMD and its interval back on the outcome's own scale (Cochrane Handbook 15.5.3.1):
    each multiplied by the control-group SD of the largest study that reports the outcome on
    that scale (its `reported_outcome` is the outcome itself) with an SD. Without such a study
    the sentence says so: an SD taken from another scale would re-express nothing."""
    if effects is None or effects.empty or "sd_control" not in effects:
        own = pd.DataFrame()
    else:
        sd = pd.to_numeric(effects["sd_control"], errors="coerce")
        own = effects[(effects["reported_outcome"] == outcome) & np.isfinite(sd) & (sd > 0)]
    if own.empty:
        return (f"Not re-expressed on the {label} scale: no study reports it with a standard "
                "deviation.")
    largest = own.assign(_n=pd.to_numeric(own["n_control"], errors="coerce").fillna(0)
                         ).sort_values(["_n", "study_id"], ascending=[False, True]).iloc[0]
    sd = float(largest["sd_control"])
    unit_text = f" {unit}" if unit else ""
    return (f"On the {label} scale: about {_number(smd * sd, 1)}{unit_text} "
            f"({_number(low * sd, 1)} to {_number(high * sd, 1)}), the SMD times the "
            f"control-group SD ({_number(sd, 1)}) of the largest study reporting it "
            f"(n = {int(largest['_n'])} controls).")


def _synthesis_row(summary: OutcomeSummary, effects: pd.DataFrame, row: dict[str, str],
                   notes: _Notes, intervention: str, number: dict) -> None:
    """A row for an outcome synthesised without meta-analysis (vote count, combined p)."""
    vote, combined = summary.vote, summary.combined
    k = (vote.k if vote is not None else combined.k if combined is not None else len(effects))
    n = (summary.participants if summary.participants is not None else
         total_participants(effects) if len(effects) else math.nan)
    row["Participants (studies)"] = _studies_cell(k, n)
    parts = ["Not pooled"]
    if vote is not None:
        with_direction = vote.n_favour + vote.n_against
        parts.append(f"{vote.n_favour} of {_count(with_direction, 'study', 'studies')} with a "
                     f"direction favour {intervention}" + (
                         f" (sign test {_p(vote.pval)})" if with_direction > 1 else ""))
    if combined is not None and combined.k > 1:
        parts.append(f"combined one-sided {_p(combined.pval)} ({combined.method.capitalize()}, "
                     f"{combined.k} studies)")
    text = ("Synthesis without meta-analysis: vote counting by direction of effect and combined "
            "p values say whether there is evidence of an effect, not how large it is.")
    note = notes.mark(text)
    row["Effect (95% CI)"] = "; ".join(parts) + note
    sentence = "The studies could not be combined in a meta-analysis, so the size of the effect "
    sentence += "is unknown"
    if vote is not None:
        sentence += (f"; {vote.n_favour} of {vote.n_favour + vote.n_against} studies with a "
                     f"direction favour {intervention}")
    if summary.certainty is not None:
        sentence += f" ({summary.certainty.level} certainty)"
    row["Comments"] = sentence + "."
    row["Footnotes"] = f"{note} {text}"
    number.update(k=k, participants=n, statement=row["Comments"])


# --- numbers on the natural scale --------------------------------------------------------------


def _estimates(summary: OutcomeSummary, effects: pd.DataFrame, measure: str,
               limits: Thresholds) -> dict[str, Any]:
    """estimate, ci_low, ci_high, pi_low, pi_high on the natural scale; k; the interval's
    basis; and the analysis-scale interval (a_low, a_high) that decides "little or no
    difference". With `summary.row`, the numbers are that row's."""
    result, shown = summary.result, summary.row
    interval = "z"
    if shown is not None:
        values = np.array([_value(shown, n) for n in
                           ("estimate", "ci_low", "ci_high", "pi_low", "pi_high")], dtype=float)
        k = int(shown["k"])
        interval = str(shown.get("interval") or "z")
    elif result is None:
        low, high, t_based = study_intervals(effects.iloc[:1], limits.level)
        values = np.array([float(effects["yi"].iloc[0]), low[0], high[0], math.nan, math.nan])
        k = 1
        interval = f"t, df = {float(effects['df'].iloc[0]):g}" if t_based[0] else "z"
    elif hasattr(result, "pred"):
        # pool_glmm: the proportion-scale values are in the result already.
        values = np.array([result.pred, result.pred_ci_low, result.pred_ci_high,
                           result.pi_low, result.pi_high], dtype=float)
        return {**_named(values, int(result.k), result.ci_low, result.ci_high),
                "interval": interval}
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
    return {**_named(values, k, a_low, a_high), "interval": interval}


def _value(row: Mapping[str, Any], name: str) -> float:
    value = row.get(name, math.nan)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _named(values: np.ndarray, k: int, a_low: float, a_high: float) -> dict[str, float]:
    names = ("estimate", "ci_low", "ci_high", "pi_low", "pi_high")
    return {**{n: float(v) for n, v in zip(names, values)}, "k": k,
            "a_low": float(a_low), "a_high": float(a_high)}


def absolute_effects(measure: str, control_risk: float | None, estimate: float,
                     ci_low: float, ci_high: float) -> dict[str, int] | None:
    """Risks per 1000 with the control and the intervention, and their difference.

    estimate, ci_low, ci_high: the effect on its natural scale (a ratio, or a risk difference);
    control_risk: the assumed control risk (0-1). Returns None without a control risk or when
    it is 0 (no control-arm event: a ratio then says nothing absolute); else
    integers control, intervention, intervention_low, intervention_high, difference,
    difference_low, difference_high (per 1000, rounded half away from zero).
    """
    if control_risk is None or not np.isfinite(control_risk) or control_risk <= 0:
        # with no control-arm event a ratio gives no absolute difference ("0 per 1000 (0 to
        # 0)" would read as certainty of no harm)
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
        return proportion_statement(level, intervention, summary.label, est["estimate"])
    null = 1.0 if is_ratio(measure) else 0.0
    band = appreciable_band(measure, limits)
    includes_null = est["a_low"] <= 0 <= est["a_high"]
    narrow = band is not None and band[0] < est["a_low"] and est["a_high"] < band[1]
    if (includes_null and narrow) or est["estimate"] == null:
        change = "none"
    else:
        change = "reduce" if est["estimate"] < null else "increase"
    return plain_language(level, intervention, summary.label, change=change)


def proportion_statement(level: str | None, intervention: str, label: str,
                         proportion: float) -> str:
    """A single-group rate in GRADE's wording for its certainty ("we are very uncertain about
    ... (about 31.0%)")."""
    shown = _percent(proportion)
    y = _lower_first(label)
    text = {
        "high": f"with {intervention}, {y} is about {shown}",
        "moderate": f"with {intervention}, {y} is probably about {shown}",
        "low": f"with {intervention}, {y} may be about {shown}",
        "very low": f"we are very uncertain about {y} with {intervention} (about {shown})",
        None: f"with {intervention}, {y} is about {shown} (certainty not assessed)",
    }[level]
    return text[0].upper() + text[1:] + "."


def _outcome_cell(summary: OutcomeSummary) -> str:
    better = {"lower_is_better": "lower is better", "higher_is_better": "higher is better",
              "neutral": "no better direction"}[summary.direction]
    unit = display_unit(summary.measure, summary.unit)
    unit = f"{unit}; " if unit else ""
    return f"{summary.label} ({unit}{better})"


def display_unit(measure: str, unit: str) -> str:
    """The unit of an effect as readers need it: none for an SMD or a ratio; "percentage
    points" for a difference of percentages; the outcome's unit for an MD."""
    unit = "" if unit is None or str(unit).strip().lower() in ("", "nan", "none") else str(unit)
    if str(measure).upper() != "MD":
        return ""
    if unit.strip().lower() in ("percent", "%", "percentage", "percentage points"):
        return "percentage points"
    return unit


def _studies_cell(k: int, participants: float) -> str:
    """"20 (2)": participants (studies), as GRADEpro writes it; "— (3)" when unknown."""
    people = (f"{int(participants)}" if participants is not None and np.isfinite(participants)
              else "not reported")
    return f"{people} ({_count(k, 'study', 'studies')})"


def effect_text(measure: str, estimate: float, low: float, high: float, unit: str = "") -> str:
    """An effect and its interval as every page shows it: "SMD −1.47 (−2.36 to −0.58)",
    "MD −23.35 percentage points (−148.89 to 102.19)", "RR 0.70 (0.50 to 0.98)", a proportion
    "62.0% (50.1% to 72.8%)". Two decimals throughout, as RevMan prints them."""
    measure = str(measure).upper()
    if is_proportion(measure):
        return f"{_percent(estimate)} ({_percent(low)} to {_percent(high)})"
    name = "OR" if measure == "PETO_OR" else measure
    shown = display_unit(measure, unit)
    unit_text = f" {shown}" if shown else ""
    return (f"{name} {_number(estimate, 2)}{unit_text} "
            f"({_number(low, 2)} to {_number(high, 2)})")


def _effect_cell(measure: str, unit: str, est: dict[str, float]) -> str:
    return effect_text(measure, est["estimate"], est["ci_low"], est["ci_high"], unit)


def _range(measure: str, low: float, high: float) -> str:
    if is_proportion(measure):
        return f"{_percent(low)} to {_percent(high)}"
    return f"{_number(low, 2)} to {_number(high, 2)}"


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



