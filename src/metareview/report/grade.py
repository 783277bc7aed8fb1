"""GRADE certainty of the evidence for one outcome: computed from the data, overridable by hand.

`assess` rates the body of evidence behind one outcome the GRADE way (GRADE Handbook,
Schünemann et al. 2013; the J Clin Epidemiol series of Guyatt et al. 2011): it starts at high
(randomised trials) or low (non-randomised studies), rates down 0, 1 or 2 levels in each of five
domains, and ends at high, moderate, low or very low. Every domain's judgement comes with the
rule that produced it in words, so that a reader can check it; a row of the review's
`grade.csv` replaces the computed judgement of its domain, and the result keeps both.

The rules are mechanical on purpose: they give a reproducible first judgement that a reviewer
then confirms or overrides with a reason. They do not rate up (large effect, dose-response,
plausible confounding): GRADE reserves that for non-randomised evidence and it needs judgement.

Rules (numbers are the defaults of `Thresholds`)
------------------------------------------------
Start: high when every study is randomised, low when any is not (Balshem et al. 2011, GRADE 3).
    GRADE 18 (Schünemann et al. 2019) allows bodies of non-randomised studies assessed with
    ROBINS-I to start high and be rated down for risk of bias instead; this module does not,
    because its weight-based risk-of-bias rule below rates down at most two levels and would
    then rate such bodies higher than the classic approach. Consequence to keep in mind:
    a ROBINS-I "moderate" study counts as "some concerns" below, so a non-randomised body at
    moderate risk starts low and is rated down once more; a reviewer who judges that double
    counting overrides `risk_of_bias` in grade.csv.

Risk of bias (Guyatt et al. 2011, GRADE 4): each study's *overall* judgement of risk_of_bias.csv
    falls in one of three classes: high (RoB 2 "high"; ROBINS-I "serious", "critical"), some
    concerns (RoB 2 "some_concerns"; ROBINS-I "moderate"; "no_information" of either tool; and a
    study with no overall row) or low ("low"). With the studies' shares of the pooled weight
    (the model's weights; 100 % for a single study):
    very serious if the share at high risk is >= 50 %;
    serious if the share at high risk or some concerns is >= 50 %;
    not serious otherwise.

Inconsistency (Guyatt et al. 2011, GRADE 7):
    very serious if I² >= 75 % and the study estimates point in different directions (at least
    one above and one below no effect);
    serious if I² >= 50 %, or the prediction interval includes no effect while the confidence
    interval does not;
    not serious otherwise. With two studies I² is not a reason on its own: serious only if the
    two studies' intervals do not overlap. With a single study it is "not assessed" (which
    rates nothing down). For single-group proportions there is no "no effect": only I² counts.

Imprecision (Guyatt et al. 2011, GRADE 6). Two criteria:
    (a) the confidence interval includes no effect (0; 1 for ratios, on the log scale 0),
        unless it lies entirely inside the band of unimportant effects (GRADE 6: an interval
        that excludes appreciable benefit and harm is precise even when it includes no effect):
        ratios 0.75 to 1.25, SMD -0.2 to 0.2, MD -mid to +mid when a minimal important
        difference `mid` is given (no band otherwise), RD no band;
    (b) the total number of participants (sum of n_treatment and n_control) is below the
        optimal information size (OIS), the size of one trial with two-sided alpha 0.05 and
        power 0.8 (z = z_{1-alpha/2} + z_{1-beta}):
        continuous (MD, SMD): a standardised difference delta = 0.2 (a small effect),
            n per arm = ceil(2 z² / delta²), OIS = 2 n = 786 participants;
        binary (RR, OR, RD, and the other ratios): a relative risk reduction of 25 % at the
            control event rate p_c (the median of the studies' control-arm risks, from the
            columns events_control and n_control), p_t = 0.75 p_c,
            n per arm = ceil(z² [p_c(1 - p_c) + p_t(1 - p_t)] / (p_c - p_t)²), OIS = 2 n.
    very serious if both (a) and (b) hold; serious if one of them holds; not serious otherwise.
    Within-person studies count each person once, and for (b) as the parallel-group
    participants holding the same information, 2n/(1 − r) (`parallel_equivalent`), so the
    paired design is judged by its own information size. A criterion that
    cannot be checked (no sample sizes, no control events, a single-group proportion) is left
    out and the reason says so.

Indirectness (Guyatt et al. 2011, GRADE 8), from what the review declares (`rate_indirectness`):
    serious if at least 50 % of the pooled weight comes from studies that review.yaml lists under
    `indirectness` (population, intervention or comparison outside the question), or if the
    body mixes head-to-head comparisons with add-on or placebo ones (review.yaml `comparisons`);
    very serious if both; not serious otherwise. A reviewer's `indirectness` input replaces it.

Publication bias (Guyatt et al. 2011, GRADE 5): with at least 10 studies, Egger's regression
    test (Egger et al. 1997; metafor's regtest default, `egger_test`): serious if p < 0.10,
    not serious otherwise. With fewer studies the test has too little power (Cochrane Handbook
    13.3.5.4): "not assessed" (rates nothing down). A reviewer's `publication_bias` input replaces the
    test.

Certainty: each serious judgement rates down one level, each very serious two; high, moderate,
    low, very low, never below very low (GRADE Handbook section 5).

Overrides: each row of grade.csv for the outcome (domain, judgement, reason) replaces the final
    judgement of its domain; the computed one, its rule and the override's reason stay in the
    `Judgement`.

Few studies: which estimate the summary of findings leads with (`leading_estimate`)
-----------------------------------------------------------------------------------------
Every pooled outcome has two random-effects estimates: the frequentist one of `pool` (the
review's tau² estimator and test) and the Bayesian one of `pool_bayes` under the review's prior
of tau (`report.bayes`: posterior median, shortest 95% credible interval). The row of the
summary of findings leads with one of them (its Effect cell, its plain-language statement, the
interval that imprecision is rated on) and gives the other in its comments:

    k <= 3 (`FEW_STUDIES`): the Bayesian estimate leads, when it was fitted;
    k >= 4, or no Bayesian fit: the frequentist estimate leads.

Why: with two or three studies tau cannot be estimated from the data, so every frequentist
interval is at an extreme. The Hartung-Knapp interval uses t on k − 1 = 1 or 2 degrees of
freedom (97.5% quantiles 12.71 and 4.30) and is too wide to say anything; the z interval
treats the estimated tau² as known (often 0) and is too narrow. A weakly informative prior on
tau, scaled to the measure, keeps the credible interval close to its nominal coverage with
two or three studies while being far narrower than Hartung-Knapp's (Friede et al. 2017, doi
10.1002/bimj.201500236; Röver et al. 2021, doi 10.1002/jrsm.1475), so it is the more useful of
the two there. Its price is the prior: the row's footnote therefore names the prior, gives the
frequentist estimate, and says whether the alternative priors of the sensitivity table change
whether the credible interval includes no effect. From four studies on the frequentist
estimate, the bundle's main analysis throughout, leads, and the Bayesian one is a comment.

References
----------
Schünemann H, Brożek J, Guyatt G, Oxman A (eds). GRADE Handbook for grading quality of
evidence and strength of recommendations. Updated October 2013. The GRADE Working Group.
https://gdt.gradepro.org/app/handbook/handbook.html

Balshem H, Helfand M, Schünemann HJ, et al. GRADE guidelines: 3. Rating the quality of
evidence. J Clin Epidemiol 2011;64:401-406. doi:10.1016/j.jclinepi.2010.07.015

Guyatt GH, Oxman AD, Vist G, et al. GRADE guidelines: 4. Rating the quality of evidence—study
limitations (risk of bias). J Clin Epidemiol 2011;64:407-415. doi:10.1016/j.jclinepi.2010.07.017

Guyatt GH, Oxman AD, Montori V, et al. GRADE guidelines: 5. Rating the quality of
evidence—publication bias. J Clin Epidemiol 2011;64:1277-1282.
doi:10.1016/j.jclinepi.2011.01.011

Guyatt GH, Oxman AD, Kunz R, et al. GRADE guidelines 6. Rating the quality of
evidence—imprecision. J Clin Epidemiol 2011;64:1283-1293. doi:10.1016/j.jclinepi.2011.01.012

Guyatt GH, Oxman AD, Kunz R, et al. GRADE guidelines: 7. Rating the quality of
evidence—inconsistency. J Clin Epidemiol 2011;64:1294-1302. doi:10.1016/j.jclinepi.2011.03.017

Guyatt GH, Oxman AD, Kunz R, et al. GRADE guidelines: 8. Rating the quality of
evidence—indirectness. J Clin Epidemiol 2011;64:1303-1310. doi:10.1016/j.jclinepi.2011.04.014

Schünemann HJ, Cuello C, Akl EA, et al. GRADE guidelines: 18. How ROBINS-I and other tools to
assess risk of bias in nonrandomized studies should be used to rate the certainty of a body of
evidence. J Clin Epidemiol 2019;111:105-114. doi:10.1016/j.jclinepi.2018.01.012

Egger M, Davey Smith G, Schneider M, Minder C. Bias in meta-analysis detected by a simple,
graphical test. BMJ 1997;315:629-634. doi:10.1136/bmj.315.7109.629

Friede T, Röver C, Wandel S, Neuenschwander B. Meta-analysis of few small studies in orphan
diseases. Biom J 2017;59:658-671. doi:10.1002/bimj.201500236

Röver C, Bender R, Dias S, et al. On weakly informative prior distributions for the
heterogeneity parameter in Bayesian random-effects meta-analysis. Res Synth Methods
2021;12:448-474. doi:10.1002/jrsm.1475
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from metareview.report.frames import study_intervals
from metareview.review.ordering import natural_sorted
from metareview.review.schema import GRADE_DOMAINS, GRADE_JUDGEMENTS
from metareview.stats.small_study import egger_test
from metareview.stats.vocabulary import is_proportion, is_ratio

__all__ = [
    "LEVELS",
    "SYMBOLS",
    "Certainty",
    "Judgement",
    "Thresholds",
    "appreciable_band",
    "assess",
    "leading_estimate",
    "median_control_risk",
    "optimal_information_size",
    "rate_imprecision",
    "rate_inconsistency",
    "rate_publication_bias",
    "rate_risk_of_bias",
    "total_participants",
]

# Certainty levels from the top; the index is the number of levels below high.
LEVELS = ("high", "moderate", "low", "very low")
SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very low": "⊕◯◯◯"}
# Levels rated down by each judgement.
DOWNGRADES = {"not_assessed": 0, "not_serious": 0, "serious": 1, "very_serious": 2}
DOMAIN_NAMES = {
    "risk_of_bias": "risk of bias",
    "inconsistency": "inconsistency",
    "indirectness": "indirectness",
    "imprecision": "imprecision",
    "publication_bias": "publication bias",
}
# Overall risk-of-bias judgements of RoB 2 and ROBINS-I, in three classes.
ROB_HIGH = ("high", "serious", "critical")
ROB_CONCERNS = ("some_concerns", "moderate", "no_information")
ROB_LOW = ("low",)


@dataclass(frozen=True)
class Thresholds:
    """The numbers behind the rules (see the module docstring); pass a mapping of the fields to
    change, e.g. ``thresholds={"ois_smd": 0.28}`` (about GRADE's rule-of-thumb 400
    participants for a continuous outcome).

    rob_share: share of the pooled weight (0-1) that triggers risk of bias.
    i2_serious, i2_very_serious: I² (%) for inconsistency.
    alpha, power: of the optimal information size.
    ois_smd: standardised difference of the continuous OIS; ois_rrr: relative risk reduction
        of the binary OIS.
    ratio_low, ratio_high: appreciable benefit and harm of a ratio (GRADE 6's 0.75 and 1.25);
    smd_trivial: half-width of the band of unimportant SMDs; mid: the minimal important
        difference of an MD outcome on its own scale (None: no band).
    egger_p, egger_min_k: Egger's test threshold and the fewest studies it is run with.
    level: confidence level of a single study's Wald interval.
    """

    rob_share: float = 0.5
    i2_serious: float = 50.0
    i2_very_serious: float = 75.0
    alpha: float = 0.05
    power: float = 0.8
    ois_smd: float = 0.2
    ois_rrr: float = 0.25
    ratio_low: float = 0.75
    ratio_high: float = 1.25
    smd_trivial: float = 0.2
    mid: float | None = None
    egger_p: float = 0.10
    egger_min_k: int = 10
    level: float = 0.95

    @classmethod
    def of(cls, value: Thresholds | Mapping[str, Any] | None) -> Thresholds:
        """`value` as Thresholds: None gives the defaults, a mapping changes named fields."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ValueError(f"unknown GRADE thresholds {unknown}; use some of {sorted(names)}")
        return cls(**dict(value))


@dataclass(frozen=True)
class Judgement:
    """One domain of one outcome.

    computed: the rule's judgement ("not_serious", "serious", "very_serious"); final: the one
    that counts (the override's when there is one); reason: the rule in words, with the
    numbers; overridden_by: the reason of the grade.csv row that replaced the computed
    judgement, or None.
    """

    computed: str
    final: str
    reason: str
    overridden_by: str | None = None

    @property
    def overridden(self) -> bool:
        return self.overridden_by is not None

    @property
    def downgrade(self) -> int:
        """Levels this domain rates the certainty down (0, 1 or 2)."""
        return DOWNGRADES[self.final]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Certainty:
    """The certainty of the evidence for one outcome.

    outcome; start: "high" or "low" and start_reason (why); domains: domain -> `Judgement`, in
    GRADE's order (read-only); level: "high", "moderate", "low" or "very low"; symbol: the
    level as ⊕⊕⊕◯ symbols; explanation: the whole rating in sentences.
    """

    outcome: str
    start: str
    start_reason: str
    domains: Mapping[str, Judgement]
    level: str
    symbol: str
    explanation: str

    @property
    def downgrades(self) -> int:
        """Levels rated down in total (before stopping at very low)."""
        return sum(judgement.downgrade for judgement in self.domains.values())

    @property
    def label(self) -> str:
        """"⊕⊕⊕◯ Moderate": symbol and word, as a summary-of-findings table shows it."""
        return f"{self.symbol} {self.level.capitalize()}"

    def footnotes(self) -> list[str]:
        """One note per domain that rates down or was overridden, for a table's footnotes."""
        notes = []
        for domain, judgement in self.domains.items():
            if judgement.final in ("not_serious", "not_assessed") and not judgement.overridden:
                continue
            name = DOMAIN_NAMES[domain].capitalize()
            text = f"{name}: {_words(judgement.final)}"
            if judgement.overridden:
                text += (f" (reviewers' judgement, replacing the computed "
                         f"{_words(judgement.computed)}: {judgement.overridden_by})")
            else:
                text += f" ({judgement.reason})"
            notes.append(text + ".")
        return notes

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "start": self.start,
            "start_reason": self.start_reason,
            "domains": {name: j.to_dict() for name, j in self.domains.items()},
            "level": self.level,
            "symbol": self.symbol,
            "explanation": self.explanation,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per domain: computed, final, reason, overridden_by."""
        return pd.DataFrame(
            [{"outcome": self.outcome, "domain": name, **j.to_dict()}
             for name, j in self.domains.items()],
            columns=["outcome", "domain", "computed", "final", "reason", "overridden_by"],
        )


# --- which estimate leads -----------------------------------------------------------------------

FEW_STUDIES = 3
BAYESIAN, FREQUENTIST = "bayesian", "frequentist"


def leading_estimate(k: int, bayes_fitted: bool) -> tuple[str, str]:
    """Which estimate a summary-of-findings row leads with, and why in words (the rule "Few
    studies" of the module docstring): "bayesian" for k <= `FEW_STUDIES` pooled studies when
    the Bayesian model was fitted, else "frequentist"."""
    k = int(k)
    if k < 2:
        return FREQUENTIST, "a single study: nothing is pooled"
    if k <= FEW_STUDIES and bayes_fitted:
        df = k - 1
        quantile = float(stats.t.ppf(0.975, df))
        return BAYESIAN, (
            f"with {k} studies tau cannot be estimated from the data: the Hartung-Knapp "
            f"interval uses t with {df} df (quantile {quantile:.2f}) and is too wide to "
            "inform, the z interval treats tau² as known and is too narrow, while a weakly "
            "informative prior on tau keeps the credible interval near its nominal coverage "
            "(Friede et al. 2017; Röver et al. 2021)")
    if k <= FEW_STUDIES:
        return FREQUENTIST, (f"{k} studies, but no Bayesian model was fitted, so the "
                             "frequentist estimate leads")
    return FREQUENTIST, (f"{k} studies (more than {FEW_STUDIES}): the frequentist estimate "
                         "leads, the Bayesian one is a comment")


# --- the assessment ----------------------------------------------------------------------------


def assess(
    outcome: str,
    *,
    result: Any,
    effects: pd.DataFrame,
    rob: pd.DataFrame | None,
    design_randomised: bool | None,
    measure: str,
    indirectness: Any = None,
    publication_bias: Any = None,
    overrides: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    indirect_studies: Mapping[str, str] | None = None,
    comparison_kinds: Mapping[str, str] | None = None,
    audit_warnings: Mapping[str, Iterable[str]] | None = None,
    interval: tuple[float, float, str] | None = None,
) -> Certainty:
    """Rate the certainty of the evidence for `outcome` (rules in the module docstring).

    Parameters
    ----------
    outcome : str
        The outcome's name (as in outcomes.csv and grade.csv).
    result : PoolResult or None
        The pooled model of the outcome (`pool`; a `pool_glmm` result for proportions), or None
        for a single study. Its `weights` (percent) follow the rows of `effects`.
    effects : DataFrame
        The outcome's rows: study_id, yi, vi, n_treatment, n_control, randomised; binary
        outcomes may add events_control (for the optimal information size).
    rob : DataFrame or None
        risk_of_bias.csv rows (study_id, tool, domain, judgement); only domain "overall" is
        read. None or missing studies count as "no information".
    design_randomised : bool or None
        True when every study is randomised; None reads the `randomised` column of `effects`.
    measure : str
        The effect measure ("MD", "SMD", "RR", "OR", "RD", "PLO", ...).
    indirectness, publication_bias : optional
        The reviewer's judgement of the domain: a judgement ("serious"), a (judgement, reason)
        pair, or a mapping with "judgement" and "reason" (a grade.csv-like row).
    indirect_studies : mapping, optional
        study_id -> how its population, intervention or comparison lies outside the question
        (review.yaml `indirectness`), for `rate_indirectness`.
    comparison_kinds : mapping, optional
        comparison id -> "add_on", "head_to_head" or "placebo" (review.yaml `comparisons`).
    audit_warnings : mapping, optional
        study_id -> the consistency audit's warnings; named in the risk-of-bias reason.
    overrides : DataFrame or rows, optional
        grade.csv rows (outcome, domain, judgement, reason); rows of other outcomes are skipped.
    thresholds : Thresholds or mapping, optional
        Changes to the numbers of the rules.
    interval : (low, high, name), optional
        The interval the summary of findings leads with, on the analysis scale, and its name
        (e.g. the Bayesian credible interval by `leading_estimate`): imprecision is rated on
        it instead of the result's confidence interval.

    Returns
    -------
    Certainty
    """
    limits = Thresholds.of(thresholds)
    effects = _check_effects(effects, result)
    measure = str(measure).upper()
    start, start_reason = _start(effects, design_randomised)
    computed = {
        "risk_of_bias": _with_audit(rate_risk_of_bias(effects, result, rob, limits),
                                    effects, audit_warnings),
        "inconsistency": rate_inconsistency(effects, result, measure, limits),
        "indirectness": _reviewer_input(indirectness, "indirectness")
        or rate_indirectness(effects, result, indirect_studies, comparison_kinds, limits),
        "imprecision": rate_imprecision(effects, result, measure, limits, interval),
        "publication_bias": _reviewer_input(publication_bias, "publication_bias")
        or rate_publication_bias(effects, limits),
    }
    replaced = _overrides(outcome, overrides)
    domains = {}
    for domain in GRADE_DOMAINS:
        judgement, reason = computed[domain]
        if domain in replaced:
            final, why = replaced[domain]
            domains[domain] = Judgement(judgement, final, reason, why)
        else:
            domains[domain] = Judgement(judgement, judgement, reason)
    down = sum(j.downgrade for j in domains.values())
    position = min(LEVELS.index(start) + down, len(LEVELS) - 1)
    level = LEVELS[position]
    return Certainty(
        outcome=outcome,
        start=start,
        start_reason=start_reason,
        domains=MappingProxyType(domains),
        level=level,
        symbol=SYMBOLS[level],
        explanation=_explain(start, start_reason, domains, level),
    )


# --- start -------------------------------------------------------------------------------------


def _start(effects: pd.DataFrame, design_randomised: bool | None) -> tuple[str, str]:
    k = len(effects)
    if design_randomised is None:
        if "randomised" not in effects:
            raise ValueError("effects has no 'randomised' column: pass design_randomised")
        flags = [_as_bool(value) for value in effects["randomised"]]
        randomised = sum(flags)
        if randomised == k:
            return "high", f"{_studies(k)}, all randomised"
        return "low", (f"{randomised} of {_studies(k)} randomised: non-randomised evidence "
                       "starts low")
    if design_randomised:
        return "high", "randomised trials"
    return "low", "non-randomised studies start low"


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no", ""):
            return False
        raise ValueError(f"randomised must be true or false, got {value!r}")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return bool(value)


# --- risk of bias ------------------------------------------------------------------------------


def rate_risk_of_bias(effects: pd.DataFrame, result: Any, rob: pd.DataFrame | None,
                      limits: Thresholds) -> tuple[str, str]:
    """Risk of bias from the weight of the studies at high risk or with some concerns."""
    weights = _weights(effects, result)
    overall = _overall_rob(rob)
    classes = []
    for study in effects["study_id"].astype(str):
        judgement = overall.get(study, "no_information")
        if judgement in ROB_HIGH:
            classes.append("high")
        elif judgement in ROB_LOW:
            classes.append("low")
        else:
            classes.append("concerns")
    classes = np.array(classes)
    total = weights.sum()
    share_high = float(weights[classes == "high"].sum() / total)
    share_concerns = float(weights[classes != "low"].sum() / total)
    missing = natural_sorted(set(effects["study_id"].astype(str)) - set(overall))
    counts = (f"{_pct(share_high)} of the weight from studies at high risk, "
              f"{_pct(share_concerns)} at high risk or with some concerns")
    if missing:
        counts += f"; no overall judgement for {', '.join(missing)}, counted as some concerns"
    cut = _pct(limits.rob_share)
    if share_high >= limits.rob_share:
        return "very_serious", f"{counts}; at least {cut} at high risk"
    if share_concerns >= limits.rob_share:
        return "serious", f"{counts}; at least {cut} at high risk or with some concerns"
    return "not_serious", f"{counts}; under {cut}"


def _overall_rob(rob: pd.DataFrame | None) -> dict[str, str]:
    """study_id -> overall judgement (lower case) from risk_of_bias.csv rows."""
    if rob is None or len(rob) == 0:
        return {}
    frame = pd.DataFrame(rob)
    for column in ("study_id", "domain", "judgement"):
        if column not in frame:
            raise ValueError(f"risk-of-bias rows need a {column!r} column")
    overall = frame[frame["domain"].astype(str).str.strip().str.lower() == "overall"]
    known = ROB_HIGH + ROB_CONCERNS + ROB_LOW
    found = {}
    for study, judgement in zip(overall["study_id"].astype(str),
                                overall["judgement"].astype(str).str.strip().str.lower()):
        if judgement not in known:
            raise ValueError(
                f"risk of bias of {study}: overall judgement {judgement!r} is none of "
                f"{', '.join(known)}"
            )
        found[study] = judgement
    return found


def _weights(effects: pd.DataFrame, result: Any) -> np.ndarray:
    """Each row's weight in the pooled model (inverse variance when the model has none)."""
    if result is None or len(effects) == 1:
        return np.ones(len(effects))
    weights = getattr(result, "weights", None)
    if weights is None:
        tau2 = getattr(result, "tau2", 0.0)
        tau2 = 0.0 if tau2 is None or not np.isfinite(tau2) else float(tau2)
        return 1.0 / (effects["vi"].to_numpy(float) + tau2)
    weights = np.asarray(weights, dtype=float)
    if weights.size != len(effects):
        raise ValueError(f"the model has {weights.size} weights but effects has "
                         f"{len(effects)} rows: pass the rows the model was fitted to, in order")
    return weights


def _with_audit(judged: tuple[str, str], effects: pd.DataFrame,
                warnings: Mapping[str, Iterable[str]] | None) -> tuple[str, str]:
    """The risk-of-bias judgement with the consistency audit's warnings about these studies
    named in its reason (they do not change the judgement: a reviewer weighs them)."""
    if not warnings:
        return judged
    found = [f"{study}: {'; '.join(dict.fromkeys(warnings[study]))}"
             for study in dict.fromkeys(effects["study_id"].astype(str)) if warnings.get(study)]
    if not found:
        return judged
    return judged[0], judged[1] + "; consistency audit warnings (" + "; ".join(found) + ")"


# --- indirectness ------------------------------------------------------------------------------

COMPARISON_KINDS = ("add_on", "head_to_head", "placebo")


def rate_indirectness(effects: pd.DataFrame, result: Any,
                      indirect_studies: Mapping[str, str] | None,
                      comparison_kinds: Mapping[str, str] | None,
                      limits: Thresholds) -> tuple[str, str]:
    """Indirectness from what the review declares (Guyatt et al. 2011, GRADE 8).

    Two checks: (a) the share of the pooled weight from studies whose population,
    intervention or comparison lies outside the question (review.yaml `indirectness`,
    study_id -> reason): serious at `rob_share` (50 %) or more; (b) a body that mixes
    head-to-head comparisons (an active comparator) with add-on or placebo comparisons
    (review.yaml `comparisons`, kind per comparison id; add-on when not declared) answers two
    questions at once: serious. Both: very serious. Nothing declared: not serious, and the
    reason says that nothing was declared.
    """
    indirect_studies = dict(indirect_studies or {})
    kinds = dict(comparison_kinds or {})
    studies = effects["study_id"].astype(str).tolist()
    weights = _weights(effects, result)
    share = float(weights[[s in indirect_studies for s in studies]].sum() / weights.sum())
    named = [f"{s} ({indirect_studies[s]})" for s in dict.fromkeys(studies)
             if s in indirect_studies]
    comparisons = (effects["comparison"].astype(str).tolist() if "comparison" in effects
                   else [""] * len(studies))
    present = {kinds.get(c, "add_on") for c in comparisons}
    mixed = "head_to_head" in present and len(present) > 1
    parts = []
    if named:
        parts.append(f"{_pct(share)} of the weight from studies outside the question: "
                     + "; ".join(named))
    if mixed:
        parts.append("pools head-to-head comparisons (an active comparator) with add-on or "
                     "placebo comparisons")
    serious_share = share >= limits.rob_share
    if serious_share and mixed:
        return "very_serious", "; ".join(parts)
    if serious_share or mixed:
        return "serious", "; ".join(parts)
    if parts:
        return "not_serious", "; ".join(parts) + f" (under {_pct(limits.rob_share)})"
    return "not_serious", ("every study matches the question as the review declares it "
                           "(no study listed under indirectness in review.yaml)")


# --- inconsistency -----------------------------------------------------------------------------


def rate_inconsistency(effects: pd.DataFrame, result: Any, measure: str,
                       limits: Thresholds) -> tuple[str, str]:
    """Inconsistency from I², the directions of the studies and the prediction interval."""
    k = len(effects)
    if result is None or k == 1:
        return "not_assessed", "a single study"
    i2 = float(result.i2)
    text = f"I² = {i2:.0f}%"
    proportion = is_proportion(measure)
    yi = effects["yi"].to_numpy(float)
    if k == 2 and not proportion:
        # I² of two studies is too imprecise to rate on (Higgins 2003; GRADE 7 asks whether
        # the studies' intervals overlap): judged by the overlap of the two intervals.
        low, high, _ = study_intervals(effects, limits.level)
        apart = bool(max(low) > min(high))
        if apart:
            return "serious", (f"{text} from 2 studies; the two studies' intervals do not "
                               "overlap")
        return "not_serious", (f"{text} from 2 studies is not a reason on its own; the two "
                               "studies' intervals overlap")
    both_ways = bool((yi > 0).any() and (yi < 0).any()) and not proportion
    if i2 >= limits.i2_very_serious and both_ways:
        return "very_serious", (f"{text}, at least {limits.i2_very_serious:g}%, and the "
                                "study estimates point in different directions")
    if i2 >= limits.i2_serious:
        return "serious", f"{text}, at least {limits.i2_serious:g}%"
    if not proportion:
        pi_low, pi_high = _analysis_scale_pi(result, measure)
        ci_includes = result.ci_low <= 0 <= result.ci_high
        if np.isfinite(pi_low) and pi_low <= 0 <= pi_high and not ci_includes:
            return "serious", (f"{text}, but the prediction interval "
                               f"{_show(pi_low, measure)} to {_show(pi_high, measure)} "
                               "includes no effect while the confidence interval does not")
    return "not_serious", (f"{text}, below {limits.i2_serious:g}%"
                           + ("" if proportion else
                              "; the prediction interval does not add doubt about the direction"))


def _analysis_scale_pi(result: Any, measure: str) -> tuple[float, float]:
    low = getattr(result, "pi_low", math.nan)
    high = getattr(result, "pi_high", math.nan)
    return float(low), float(high)


# --- imprecision -------------------------------------------------------------------------------


def appreciable_band(measure: str, thresholds: Thresholds | Mapping[str, Any] | None = None
                     ) -> tuple[float, float] | None:
    """The band of unimportant effects on the analysis scale (log for ratios), or None.

    Ratios: log(ratio_low) to log(ratio_high); SMD: ±smd_trivial; MD: ±mid when given; other
    measures (RD, proportions): None. A confidence interval inside the band excludes appreciable
    benefit and harm (GRADE 6)."""
    limits = Thresholds.of(thresholds)
    measure = str(measure).upper()
    if is_ratio(measure):
        return math.log(limits.ratio_low), math.log(limits.ratio_high)
    if measure == "SMD":
        return -limits.smd_trivial, limits.smd_trivial
    if measure == "MD" and limits.mid is not None:
        return -abs(limits.mid), abs(limits.mid)
    return None


def optimal_information_size(measure: str, control_risk: float | None = None,
                             thresholds: Thresholds | Mapping[str, Any] | None = None
                             ) -> int | None:
    """Total participants of one adequately powered two-arm trial (GRADE 6), or None.

    Continuous (MD, SMD): n per arm = ceil(2 z² / δ²) with δ = ois_smd standard deviations.
    Binary (ratios, RD): p_t = (1 − ois_rrr) p_c; n per arm =
    ceil(z² [p_c(1 − p_c) + p_t(1 − p_t)] / (p_c − p_t)²). z = z_{1−α/2} + z_{power}.
    None for proportions, or a binary outcome without a control risk strictly inside (0, 1).
    """
    limits = Thresholds.of(thresholds)
    measure = str(measure).upper()
    z = stats.norm.isf(limits.alpha / 2) + stats.norm.ppf(limits.power)
    if measure in ("MD", "SMD"):
        per_arm = 2 * z**2 / limits.ois_smd**2
    elif is_ratio(measure) or measure == "RD":
        if control_risk is None or not 0 < control_risk < 1:
            return None
        p_c = float(control_risk)
        p_t = (1 - limits.ois_rrr) * p_c
        per_arm = z**2 * (p_c * (1 - p_c) + p_t * (1 - p_t)) / (p_c - p_t) ** 2
    else:
        return None
    # A hair below the next integer is floating-point noise, not a real fraction.
    return 2 * math.ceil(per_arm - 1e-9)


def median_control_risk(effects: pd.DataFrame) -> float | None:
    """Median of the studies' control-arm risks events_control / n_control, or None."""
    if "events_control" not in effects or "n_control" not in effects:
        return None
    events = pd.to_numeric(effects["events_control"], errors="coerce").to_numpy(float)
    totals = pd.to_numeric(effects["n_control"], errors="coerce").to_numpy(float)
    keep = np.isfinite(events) & np.isfinite(totals) & (totals > 0)
    if not keep.any():
        return None
    return float(np.median(events[keep] / totals[keep]))


def total_participants(effects: pd.DataFrame) -> float:
    """People in the studies: n_treatment + n_control of a parallel study, n_treatment alone
    of a within-person study (`paired` true: each person is on both sides), n_treatment of a
    single-group row; nan when a size is unknown."""
    if "n_treatment" not in effects:
        return math.nan
    treated = pd.to_numeric(effects["n_treatment"], errors="coerce").to_numpy(float)
    if "n_control" in effects:
        control = pd.to_numeric(effects["n_control"], errors="coerce").to_numpy(float)
    else:
        control = np.full(treated.size, math.nan)
    control = np.where(_paired(effects), 0.0, control)
    if not np.isfinite(treated).all():
        return math.nan
    return float(treated.sum() + np.nansum(control))


def _paired(effects: pd.DataFrame) -> np.ndarray:
    if "paired" not in effects:
        return np.zeros(len(effects), dtype=bool)
    return np.array([_as_bool(v) for v in effects["paired"]], dtype=bool)


def parallel_equivalent(effects: pd.DataFrame) -> tuple[float, str]:
    """(participants, note) of the information in `effects`, in participants of parallel
    groups, for the optimal information size.

    A within-person study of n people with within-person correlation r estimates a difference
    with variance 2σ²(1 − r)/n; a parallel trial of N people (N/2 per arm), 4σ²/N. The same
    information thus takes N = 2n/(1 − r) parallel participants (GRADE 6 asks for the design's
    own information size; this is the paired formula on the parallel scale). r is the study's
    `paired_r` (0.5 when absent).
    """
    n = total_participants(effects)
    paired = _paired(effects)
    if not np.isfinite(n) or not paired.any():
        return n, ""
    treated = pd.to_numeric(effects["n_treatment"], errors="coerce").to_numpy(float)
    r = (pd.to_numeric(effects["paired_r"], errors="coerce").to_numpy(float)
         if "paired_r" in effects else np.full(len(effects), 0.5))
    r = np.where(np.isfinite(r), r, 0.5)
    control = (pd.to_numeric(effects["n_control"], errors="coerce").to_numpy(float)
               if "n_control" in effects else np.zeros(len(effects)))
    equivalent = np.where(paired, 2 * treated / (1 - r), treated + np.nan_to_num(control))
    people = int(treated[paired].sum())
    rs = ", ".join(f"{v:g}" for v in sorted(set(r[paired])))
    return float(equivalent.sum()), (
        f"{people} people in within-person studies count as "
        f"{equivalent[paired].sum():.0f} in parallel groups (2n/(1 − r), r = {rs})")


def rate_imprecision(effects: pd.DataFrame, result: Any, measure: str,
                     limits: Thresholds, interval: tuple[float, float, str] | None = None
                     ) -> tuple[str, str]:
    """Imprecision from the confidence interval (or the `interval` (low, high, name) the
    summary of findings leads with) and the optimal information size."""
    parts = []
    crosses = False
    if is_proportion(measure):
        parts.append("single-group proportion: no 'no effect' to cross and no OIS; judge the "
                     "width of the interval by hand (grade.csv)")
    else:
        if interval is None:
            low, high = _confidence_interval(effects, result, limits)
            name = "CI"
        else:
            low, high, name = float(interval[0]), float(interval[1]), str(interval[2])
        interval = f"the {name} {_show(low, measure)} to {_show(high, measure)}"
        null = "1" if is_ratio(measure) else "0"
        band = appreciable_band(measure, limits)
        if low <= 0 <= high:
            if band is not None and band[0] < low and high < band[1]:
                parts.append(f"{interval} includes {null} but lies inside the band of "
                             f"unimportant effects {_show(band[0], measure)} to "
                             f"{_show(band[1], measure)}")
            else:
                crosses = True
                parts.append(f"{interval} includes the null value {null}")
        else:
            parts.append(f"{interval} excludes the null value {null}")

    people = total_participants(effects)
    n, equivalence = parallel_equivalent(effects)
    small = False
    ois = None
    if is_proportion(measure):
        pass
    elif not np.isfinite(n):
        parts.append("sample sizes not all known: OIS not checked")
    else:
        control_risk = median_control_risk(effects) if measure not in ("MD", "SMD") else None
        ois = optimal_information_size(measure, control_risk, limits)
        if ois is None:
            parts.append(f"{n:.0f} participants; OIS not computed: no control-arm events")
        else:
            small = n < ois
            basis = (f"a difference of {limits.ois_smd:g} SD" if measure in ("MD", "SMD") else
                     f"a {limits.ois_rrr:.0%} relative risk reduction from a control risk of "
                     f"{control_risk:.3g}")
            relation = "below" if small else "at least"
            size = (f"{people:.0f} participants ({equivalence})" if equivalence
                    else f"{n:.0f} participants")
            parts.append(f"{size}, {relation} the optimal information size of {ois} participants in parallel "
                         f"groups for {basis}, alpha {limits.alpha:g}, power {limits.power:g}")

    text = "; ".join(parts)
    if crosses and small:
        return "very_serious", text + ": both criteria met"
    if crosses or small:
        return "serious", text
    return "not_serious", text


def _confidence_interval(effects: pd.DataFrame, result: Any,
                         limits: Thresholds) -> tuple[float, float]:
    """The pooled CI, or a single study's own interval (`frames.study_intervals`), on the
    analysis scale."""
    if result is not None:
        return float(result.ci_low), float(result.ci_high)
    if len(effects) != 1:
        raise ValueError(f"result is None but effects has {len(effects)} rows: pool them first")
    low, high, _ = study_intervals(effects, limits.level)
    return float(low[0]), float(high[0])


# --- publication bias --------------------------------------------------------------------------


def rate_publication_bias(effects: pd.DataFrame, limits: Thresholds) -> tuple[str, str]:
    """Egger's test when there are enough studies, else not assessable."""
    k = len(effects)
    if k < limits.egger_min_k:
        return "not_assessed", (f"{_studies(k)}: Egger's test needs at least "
                                f"{limits.egger_min_k}")
    try:
        egger = egger_test(effects["yi"].to_numpy(float), effects["vi"].to_numpy(float))
    except ValueError as error:
        return "not_assessed", f"Egger's test could not be run: {error}"
    text = f"Egger's test p = {egger.pval:.3f} with {_studies(k)}"
    if egger.pval < limits.egger_p:
        return "serious", f"{text}, below {limits.egger_p:g}: funnel-plot asymmetry"
    return "not_serious", f"{text}, at least {limits.egger_p:g}"


# --- inputs ------------------------------------------------------------------------------------


def _check_effects(effects: pd.DataFrame, result: Any) -> pd.DataFrame:
    frame = pd.DataFrame(effects).reset_index(drop=True)
    for column in ("study_id", "yi", "vi"):
        if column not in frame:
            raise ValueError(f"effects needs a {column!r} column")
    if frame.empty:
        raise ValueError("effects is empty: an outcome needs at least one study")
    if result is not None and getattr(result, "k", len(frame)) != len(frame):
        raise ValueError(f"the model pooled {result.k} studies but effects has {len(frame)} "
                         "rows: pass the rows the model was fitted to")
    return frame


def _check_judgement(value: Any, where: str) -> str:
    judgement = str(value).strip().lower().replace(" ", "_")
    if judgement not in GRADE_JUDGEMENTS:
        raise ValueError(f"{where}: judgement {value!r} is none of {', '.join(GRADE_JUDGEMENTS)}")
    return judgement


def _reviewer_input(value: Any, domain: str) -> tuple[str, str] | None:
    """A reviewer's judgement of a domain as (judgement, reason), or None when not given."""
    if value is None:
        return None
    if isinstance(value, str):
        return _check_judgement(value, domain), "reviewers' judgement"
    if isinstance(value, Mapping):
        judgement = _check_judgement(value.get("judgement"), domain)
        return judgement, str(value.get("reason") or "reviewers' judgement")
    if isinstance(value, tuple) and len(value) == 2:
        return _check_judgement(value[0], domain), str(value[1])
    raise ValueError(f"{domain}: give a judgement, a (judgement, reason) pair or a mapping "
                     f"with 'judgement' and 'reason', not {value!r}")


def _overrides(outcome: str, rows: Any) -> dict[str, tuple[str, str]]:
    """domain -> (judgement, reason) from the grade.csv rows of `outcome`."""
    if rows is None:
        return {}
    records = (rows.to_dict("records") if isinstance(rows, pd.DataFrame)
               else [dict(row) for row in rows])
    found: dict[str, tuple[str, str]] = {}
    for number, row in enumerate(records, 1):
        if "outcome" in row and str(row["outcome"]) != str(outcome):
            continue
        where = f"grade.csv row {number} ({outcome})"
        domain = str(row.get("domain", "")).strip()
        if domain not in GRADE_DOMAINS:
            raise ValueError(f"{where}: domain {domain!r} is none of {', '.join(GRADE_DOMAINS)}")
        if domain in found:
            raise ValueError(f"{where}: a second override of {domain}; keep one row per domain")
        reason = str(row.get("reason") or "").strip()
        if not reason or reason.lower() == "nan":
            raise ValueError(f"{where}: an override of {domain} needs a reason")
        found[domain] = (_check_judgement(row.get("judgement"), where), reason)
    return found


# --- text --------------------------------------------------------------------------------------


def _explain(start: str, start_reason: str, domains: Mapping[str, Judgement], level: str) -> str:
    sentences = [f"Started at {start} ({start_reason})."]
    rated = []
    for domain, judgement in domains.items():
        name = DOMAIN_NAMES[domain]
        if judgement.overridden:
            sentences.append(
                f"{name.capitalize()}: {_words(judgement.final)} by the reviewers' judgement "
                f"({judgement.overridden_by}); computed {_words(judgement.computed)} "
                f"({judgement.reason})."
            )
        else:
            sentences.append(f"{name.capitalize()}: {_words(judgement.final)} "
                             f"({judgement.reason}).")
        if judgement.downgrade:
            unit = "" if rated else (" level" if judgement.downgrade == 1 else " levels")
            rated.append(f"{judgement.downgrade}{unit} for {name}")
    if rated:
        sentences.append(f"Rated down {_join(rated)}: {level} certainty.")
    else:
        sentences.append(f"Not rated down: {level} certainty.")
    return " ".join(sentences)


def _words(judgement: str) -> str:
    return judgement.replace("_", " ")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _studies(k: int) -> str:
    return f"{k} stud{'y' if k == 1 else 'ies'}"


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _show(value: float, measure: str) -> str:
    """A value of the analysis scale as a reader knows it (ratios exponentiated)."""
    text = f"{math.exp(value):.2f}" if is_ratio(measure) else f"{value:.2f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", "\u2212")
