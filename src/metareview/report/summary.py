"""The first page of a review's reports: its main findings, the summary of findings with GRADE,
what was not pooled, and the side by side with the published reviews.

`summarise(review, processed, settings)` reads what the five notebooks wrote
(`data/processed/<review>/`) and builds the summary of findings from the result tables
themselves: every estimate and interval shown is the one of its row in `pooled.csv` (or
`pooled_proportions.csv`, or, for a row that leads with the Bayesian estimate, `bayes.csv`), so
the summary, the index and the Word file cannot disagree with the tables and forest plots. The
model is refitted only to rate the certainty (GRADE needs its weights and I²); the refit is the
same call notebook 03 made. Each pooled outcome's Bayesian model is read from `bayes.csv`
(notebook 03, `report.bayes`): with three studies or fewer the row leads with it
(`grade.leading_estimate`) and imprecision is rated on its credible interval; otherwise it is
a comment. The analysis of all studies' line gives both estimates.

Which outcomes get a row (in the codebook's order): every outcome pooled (k ≥ 2) or with a
single effect in the review's main analysis; where the main analysis has no effect of an
outcome, its analysis of all studies, labelled so; an outcome a published review reports, or
the primary one, also when it was only synthesised without meta-analysis; single-group
proportions by subgroup with k ≥ 2 or a published counterpart; and, as harms, every harm outcome
(review.yaml `harms`) with at least one event and the comparative adverse events. The analysis
of all studies stands beside the main analysis as a labelled sensitivity line in Comments.

Key results (`KEY_RESULTS_RULE`): the rows of the main analysis with a pooled estimate (a
comparison or a single-group proportion), most participants first, at most three; when none is
pooled, the first outcome's row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

import metareview as mr
from metareview.report import bayes as bayes_models
from metareview.report import findings, grade
from metareview.report.pooled import ALL_STUDIES, MAIN
from metareview.report.proportions import is_pooled
from metareview.report.swim import BEFORE_AFTER, BETWEEN_GROUPS
from metareview.report.text import md, p_text, plural
from metareview.review.derive import analysis_of, read_effects
from metareview.review.ordering import sort_studies
from metareview.review.schema import analysed_design

KEY_RESULTS_RULE = ("Key results: the pooled results of the main analysis (comparisons and "
                    "single-group proportions), most participants first, at most three.")
MAX_KEY_RESULTS = 3
KEY_COLUMNS = ["rank", "Outcome", "Effect (95% CI)", "Participants (studies)", "Certainty",
               "Statement", "Caution", "analysis", "outcome", "measure", "k", "participants",
               "estimate", "ci_low", "ci_high"]
# A harm's pooled rate is shown only when the longest stated follow-up is at most this many
# times the shortest; otherwise the row gives each study's count with its follow-up.
FOLLOW_UP_RATIO = 2.0


@dataclass(frozen=True)
class Summary:
    """The pieces of the summary report: `sof` (the table), `footnotes` (its lettered notes),
    `numbers` (the results behind each row), `key` (the key results), `headline` (sentences)."""

    headline: list[str]
    sof: pd.DataFrame
    footnotes: list[str]
    numbers: pd.DataFrame
    key: pd.DataFrame
    certainties: dict
    other_outcomes: pd.DataFrame
    not_pooled: pd.DataFrame


def _read(processed: Path, name: str) -> pd.DataFrame:
    path = processed / f"{name}.csv"
    if not path.is_file():
        return pd.DataFrame()
    return pd.read_csv(path, keep_default_na=False, na_values=[""],
                       dtype={"outcome": str, "study_id": str, "group": str, "analysis": str})


def _outcome_order(review) -> list[str]:
    analyses = analysis_of(review.outcomes)
    return list(dict.fromkeys(a.outcome for a in analyses.values()))


def _outcome_label(review, outcome: str) -> str:
    labels = dict(zip(review.outcomes["outcome"], review.outcomes["label"]))
    return str(labels.get(outcome, outcome.replace("_", " ")))


def follow_up_text(weeks) -> str:
    """"12 weeks", "8 to 24 weeks", or "" when no study states it."""
    values = sorted({float(w) for w in pd.to_numeric(pd.Series(list(weeks)), errors="coerce")
                     if np.isfinite(w)})
    if not values:
        return ""
    low, high = values[0], values[-1]
    unit = "week" if high == 1 else "weeks"
    return f"{low:g} {unit}" if low == high else f"{low:g} to {high:g} weeks"


def _audit_warnings(processed: Path) -> dict[str, list[str]]:
    audit = _read(processed, "audit")
    if audit.empty:
        return {}
    warned = audit[audit["status"] == "warning"]
    found: dict[str, list[str]] = {}
    for r in warned.to_dict("records"):
        found.setdefault(str(r["study_id"]), []).append(f"{r['check']} ({r['detail']})")
    return found


def _pooled_row(pooled: pd.DataFrame, outcome: str) -> tuple[dict | None, dict | None]:
    """(the row shown, the analysis of all studies beside it) for one outcome."""
    if pooled.empty:
        return None, None
    rows = pooled[pooled["outcome"] == outcome]
    main = rows[rows["analysis"] == MAIN]
    wider = rows[rows["analysis"] == ALL_STUDIES]
    if len(main):
        return main.iloc[0].to_dict(), (wider.iloc[0].to_dict() if len(wider) else None)
    if len(wider):
        return wider.iloc[0].to_dict(), None
    return None, None


def _sensitivity_line(row: dict, unit: str, main_label: str, bayes_row: dict | None = None
                      ) -> str:
    """The analysis of all studies beside the main one; with its Bayesian model, both
    estimates, the one that `grade.leading_estimate` leads with first."""
    effect = findings.effect_text(row["measure"], *(_natural(row, n) for n in
                                                   ("estimate", "ci_low", "ci_high")), unit)
    what = "pooled" if row["status"] == "pooled" else "a single study"
    k = int(row["k"])
    if bayes_row is not None and row["status"] == "pooled":
        bayes_effect = findings.effect_text(
            row["measure"], *(_natural(bayes_row, n) for n in ("estimate", "ci_low", "ci_high")),
            unit)
        both = [f"Bayesian {bayes_effect} (95% CrI; prior of tau {bayes_row['tau_prior']})",
                f"frequentist {effect} (95% CI)"]
        lead, _ = grade.leading_estimate(k, True)
        effect = "; ".join(both if lead == grade.BAYESIAN else both[::-1])
    return (f"Sensitivity analysis, all studies (not only {main_label.lower()}): {effect}, "
            f"{plural(k, 'study')} ({what}).")


def _natural(row: dict, name: str) -> float:
    value = float(row.get(name, math.nan))
    return float(np.exp(value)) if str(row.get("measure")) in ("RR", "OR", "HR", "PETO_OR") \
        else value


def _synthesis_participants(swim_results: pd.DataFrame, outcome: str) -> float:
    """People in the between-group results of an outcome synthesised without meta-analysis:
    each study once (its largest n; a within-person study's n counts persons), nan when a
    study does not give its n."""
    if swim_results.empty:
        return math.nan
    part = swim_results[(swim_results["outcome"] == outcome)
                        & (swim_results["kind"] == BETWEEN_GROUPS)]
    per_study = pd.to_numeric(part["n"], errors="coerce").groupby(part["study_id"]).max()
    if per_study.empty or per_study.isna().any():
        return math.nan
    return float(per_study.sum())


def _comparative(review, effects, pooled, settings, swim, overrides, audit,
                 swim_results=None, bayes=None):
    """OutcomeSummary objects of comparative outcomes, in the codebook's order; `bayes` is
    bayes.csv (the Bayesian model of each pooled outcome, `report.bayes`)."""
    outcomes = review.outcomes.set_index("outcome")
    definitions = review.definitions
    published = set(analysis_of(review.outcomes).get(o, None).outcome
                    for o in review.published["outcome"] if o in outcomes.index) \
        if len(review.published) else set()
    main_label = definitions.main_label or "the main analysis"
    summaries, certainties = [], {}
    swim_results = pd.DataFrame() if swim_results is None else swim_results
    order = _outcome_order(review)
    for outcome in order:
        shown, wider = _pooled_row(pooled, outcome)
        swim_row = (swim[(swim["outcome"] == outcome) & (swim["kind"] == BETWEEN_GROUPS)]
                    if len(swim) else swim)
        primary = outcome == order[0]
        pooled_enough = shown is not None and shown["status"] == "pooled"
        single = shown is not None and int(shown["k"]) == 1
        if not (pooled_enough or single and (outcome in published or primary)
                or (outcome in published or primary) and len(swim_row)):
            continue
        info = outcomes.loc[outcome]
        unit = str(info.get("unit") or "")
        direction = str(info["direction"])
        comments = []
        if shown is None:
            part = effects.iloc[0:0] if len(effects) else effects
            measure = str(info["measure"])
            analysis = MAIN
        else:
            analysis = str(shown["analysis"])
            measure = str(shown["measure"])
            part = effects[(effects["outcome"] == outcome) & (effects["measure"] == measure)]
            if analysis == MAIN and len(part):
                part = part[part["main_analysis"]]
            part = sort_studies(part, ["study_id", "comparison"])
            if analysis == ALL_STUDIES and definitions.has_main_analysis:
                comments.append(f"All studies: no study of {main_label.lower()} reports this "
                                "outcome.")
            if wider is not None:
                comments.append(_sensitivity_line(
                    wider, unit, main_label,
                    bayes_models.main_row(bayes, ALL_STUDIES, outcome, measure)))
        result = None
        if shown is not None and shown["status"] == "pooled":
            result = mr.pool(part["yi"].to_numpy(float), part["vi"].to_numpy(float),
                             method=settings["tau2_method"], test=settings["test"],
                             level=settings["level"])
        vote = combined = None
        people = None
        if shown is None and len(swim_row):
            vote, combined = _swim_results(swim_row.iloc[0])
            people = _synthesis_participants(swim_results, outcome)
        bayes_row, alternatives, interval = None, (), None
        if result is not None:
            bayes_row = bayes_models.main_row(bayes, analysis, outcome, measure)
            alternatives = tuple(bayes_models.alternative_rows(bayes, analysis, outcome,
                                                               measure))
            lead, _ = grade.leading_estimate(len(part), bayes_row is not None)
            if lead == grade.BAYESIAN:
                # imprecision is rated on the interval the row leads with
                interval = (float(bayes_row["ci_low"]), float(bayes_row["ci_high"]),
                            "95% credible interval (Bayesian)")
        certainty = None
        if len(part):
            certainty = grade.assess(
                outcome, result=result, effects=part, rob=review.risk_of_bias,
                design_randomised=None, measure=measure, overrides=overrides,
                indirect_studies=definitions.indirect_studies,
                comparison_kinds=definitions.comparison_kinds, audit_warnings=audit,
                interval=interval)
            certainties[outcome] = certainty
        summaries.append(findings.OutcomeSummary(
            outcome=outcome, label=str(info["label"]), measure=measure, direction=direction,
            result=result, effects=part, certainty=certainty, unit=unit, vote=vote,
            combined=combined, row=shown, analysis=analysis,
            follow_up=follow_up_text(part["timepoint_weeks"]) if len(part) else "",
            comments=tuple(comments), participants=people, bayes=bayes_row,
            bayes_alternatives=alternatives))
    return summaries, certainties


def _swim_results(row):
    """Minimal vote-count and combined-p objects for a synthesis-only row."""
    directed = int(row["n_favour"]) + int(row["n_against"])
    vote = SimpleNamespace(k=int(row["k_studies"]), n_favour=int(row["n_favour"]),
                           n_against=int(row["n_against"]), n_unclear=int(row["n_unclear"]),
                           proportion=row["proportion_favour"], ci_low=row["ci_low"],
                           ci_high=row["ci_high"], pval=row["sign_test_p"]) if directed else None
    combined = (SimpleNamespace(z=row["stouffer_z"], pval=row["stouffer_p"], k=int(row["k_p"]),
                                method="stouffer")
                if np.isfinite(row.get("stouffer_p", np.nan)) else None)
    return vote, combined


# --- single-group proportions and harms ---------------------------------------------------------


def _people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def _proportion_rows(review, processed: Path, settings, intervention: str, notes_start: int
                     ) -> tuple[list[dict], list[dict], list[str], list[str]]:
    """(rows, numbers, footnotes, zero-event harms) of single-group proportions: outcome and
    subgroup, k, people, rate; a harm (review.yaml `harms`) with any event always has a row."""
    table = _read(processed, "pooled_proportions")
    if table.empty:
        return [], [], [], []
    harms = set(review.definitions.harms)
    glmm = table[table["model"].str.startswith("GLMM")]
    anchors = set(zip(review.published["outcome"], review.published["subgroup"].fillna(""))) \
        if len(review.published) else set()
    single = _read(processed, "proportions")
    rows, numbers, zero = [], [], []
    note = ("Single-group series: no control group, so the evidence starts low and is rated "
            "down for risk of bias (nothing to compare with); the rate describes treated "
            "people, it is not an effect of the treatment.")
    mark = findings.footnote_mark(notes_start)
    for r in glmm.to_dict("records"):
        if not np.isfinite(r.get("proportion", np.nan)):
            continue
        harm = r["outcome"] in harms
        if harm and int(r["events"]) == 0:
            zero.append(f"{_outcome_label(review, r['outcome'])}, "
                        f"{review.definitions.label_of('condition', r['group'])}: 0 of "
                        f"{int(r['participants'])} ({plural(int(r['k']), 'study')})")
            continue
        if not harm and r["k"] < settings["min_k_pool"] and (r["outcome"], r["group"]) not in anchors:
            continue
        label = (f"{_outcome_label(review, r['outcome'])}: "
                 f"{review.definitions.label_of('condition', r['group'])}")
        effect = findings.effect_text("PLO", r["proportion"], r["ci_low"], r["ci_high"])
        pooled = is_pooled(r["status"])
        how = "random-effects logistic model" if pooled else "exact interval of a single study"
        studies = set(str(r["studies"]).split("; "))
        follow = (single[single["study_id"].isin(studies) & (single["outcome"] == r["outcome"])]
                  if len(single) else single)
        weeks = follow["timepoint_weeks"] if "timepoint_weeks" in follow else []
        if harm and pooled and _follow_up_too_different(weeks):
            rows.append(_harm_by_study_row(label, follow, r))
            numbers.append({"kind": "harm not pooled", "analysis": MAIN,
                            "outcome": f"{r['outcome']}: {r['group']}", "measure": "PLO",
                            "k": int(r["k"]), "participants": int(r["participants"]),
                            "level": settings["level"], "statement": rows[-1]["Comments"]})
            continue
        statement = findings.proportion_statement(
            "very low", intervention, _outcome_label(review, r["outcome"]), r["proportion"])
        rows.append({
            "Outcome": label + (" (harm)" if harm else ""),
            "Follow-up": follow_up_text(weeks),
            "Effect (95% CI)": f"{effect}; {how}",
            "Participants (studies)": f"{int(r['participants'])} "
                                      f"({plural(int(r['k']), 'study')})",
            "Certainty": "⊕◯◯◯ Very low" + mark,
            "Comments": f"{statement} {int(r['events'])} of {_people(int(r['participants']))} "
                        "had the event.",
            "Footnotes": f"{mark} {note}"})
        numbers.append({"kind": "proportion" if pooled else "single-group study", "analysis": MAIN,
                        "outcome": f"{r['outcome']}: {r['group']}", "measure": "PLO",
                        "k": int(r["k"]), "participants": int(r["participants"]),
                        "estimate": r["proportion"], "ci_low": r["ci_low"],
                        "ci_high": r["ci_high"], "level": settings["level"],
                        "statement": statement})
    return rows, numbers, ([f"{mark} {note}"] if rows else []), zero


def _follow_up_too_different(weeks) -> bool:
    """True when the stated follow-ups differ more than FOLLOW_UP_RATIO-fold (a harm counted
    over 24 weeks and over 5 years is not one rate)."""
    known = pd.to_numeric(pd.Series(list(weeks)), errors="coerce").dropna()
    known = known[known > 0]
    return len(known) >= 2 and known.max() / known.min() > FOLLOW_UP_RATIO


def _harm_by_study_row(label: str, follow: pd.DataFrame, r) -> dict:
    """A harm whose studies' follow-ups differ too much to pool: each study's count, with
    its follow-up, as printed."""
    parts = []
    for f in follow.sort_values("timepoint_weeks", na_position="last").to_dict("records"):
        weeks = f.get("timepoint_weeks")
        when = (f"at {float(weeks):g} weeks" if weeks is not None and np.isfinite(weeks)
                else "follow-up not stated")
        parts.append(f"{f['study_id']} {int(f['events'])}/{int(f['total'])} ({when})")
    return {
        "Outcome": label + " (harm)",
        "Follow-up": follow_up_text(follow["timepoint_weeks"]),
        "Effect (95% CI)": (f"Not pooled: follow-up differs more than "
                            f"{FOLLOW_UP_RATIO:g}-fold between studies"),
        "Participants (studies)": f"{int(r['participants'])} ({plural(int(r['k']), 'study')})",
        "Certainty": "Not assessed",
        "Comments": f"{int(r['events'])} of {_people(int(r['participants']))} had the event: "
                    + "; ".join(parts) + ".",
        "Footnotes": ""}


def _comparative_harms(review, processed: Path, notes_start: int,
                       compared_elsewhere: bool = False
                       ) -> tuple[list[dict], list[dict], list[str]]:
    """Rows for adverse events compared between arms (safety.csv), or, when no harm is
    compared anywhere in the table (`compared_elsewhere`: a harm outcome with events per arm
    has its own row), one row saying that no study counted them in both arms."""
    safety = _read(processed, "safety")
    ae = review.adverse_events
    if ae is None or ae.empty:
        return [], [], []
    counted = safety[safety["method"] == "Mantel-Haenszel"] if len(safety) else safety
    rows, numbers = [], []
    for r in (counted[counted["measure"] == "RR"].to_dict("records") if len(counted) else []):
        if not np.isfinite(r.get("estimate", np.nan)):
            continue
        effect = findings.effect_text("RR", r["estimate_exp"], r["ci_low_exp"], r["ci_high_exp"])
        rows.append({"Outcome": f"{str(r['event']).capitalize()} (harm)",
                     "Effect (95% CI)": f"{effect}; Mantel-Haenszel",
                     "Participants (studies)": f"{int(r['total_treatment'] + r['total_control'])}"
                                               f" ({plural(int(r['k_studies']), 'study')})",
                     "Certainty": "Not assessed",
                     "Comments": f"{int(r['events_treatment'])}/{int(r['total_treatment'])} with "
                                 f"treatment, {int(r['events_control'])}/"
                                 f"{int(r['total_control'])} with control."})
        numbers.append({"kind": "harm", "analysis": MAIN, "outcome": str(r["event"]),
                        "measure": "RR", "k": int(r["k_studies"]),
                        "participants": int(r["total_treatment"] + r["total_control"]),
                        "estimate": r["estimate_exp"], "ci_low": r["ci_low_exp"],
                        "ci_high": r["ci_high_exp"], "level": 0.95, "statement": ""})
    if rows or compared_elsewhere:
        return rows, numbers, []
    studies = ae["study_id"].nunique()
    counted = ae.loc[ae["events"].notna(), "study_id"].nunique()
    mark = findings.footnote_mark(notes_start)
    note = ("Harms are not compared: no study reports the number of people with an event in "
            "both arms; what each study printed is listed in report 05 (safety).")
    row = {"Outcome": "Adverse events (harm)",
           "Effect (95% CI)": "Not compared" + mark,
           "Participants (studies)": f"not reported ({plural(studies, 'study')})",
           "Certainty": "Not assessed",
           "Comments": (f"{plural(studies, 'study')} describe harms, {counted} of them with "
                        "counts for one arm or for everyone (report 05 lists them)."
                        if counted else f"{plural(studies, 'study')} describe harms in words "
                        "only."),
           "Footnotes": f"{mark} {note}"}
    return [row], [{"kind": "harm", "analysis": MAIN, "outcome": "adverse events",
                    "measure": "", "k": studies, "statement": ""}], [f"{mark} {note}"]


# --- the whole summary ---------------------------------------------------------------------------


def summarise(review, processed: Path, settings: dict) -> Summary:
    """Everything the summary report shows; see the module docstring."""
    processed = Path(processed)
    effects_path = processed / "effects.csv"
    effects = read_effects(effects_path) if effects_path.is_file() else pd.DataFrame()
    pooled = _read(processed, "pooled")
    swim = _read(processed, "swim")
    overrides = review.grade if len(review.grade) else None
    intervention = review.definitions.favours_treatment
    summaries, certainties = _comparative(review, effects, pooled, settings, swim, overrides,
                                          _audit_warnings(processed),
                                          _read(processed, "swim_results"),
                                          _read(processed, "bayes"))
    built = findings.build(summaries, intervention=intervention)
    sof, numbers, footnotes = built.table, built.numbers, list(built.footnotes)
    extra, extra_numbers, zero = [], [], []
    compared = {s.outcome for s in summaries if s.outcome in set(review.definitions.harms)}
    if review.definitions.asks_about_harms or len(review.adverse_events):
        rows, nums, notes = _comparative_harms(review, processed, len(footnotes),
                                               compared_elsewhere=bool(compared))
        extra += rows
        extra_numbers += nums
        footnotes += notes
    rows, nums, notes, zero = _proportion_rows(review, processed, settings, intervention,
                                               len(footnotes))
    extra += rows
    extra_numbers += nums
    footnotes += notes
    if extra:
        sof = pd.concat([sof, pd.DataFrame(extra, columns=findings.SOF_COLUMNS)],
                        ignore_index=True).fillna("")
        numbers = pd.concat([numbers, pd.DataFrame(extra_numbers,
                                                   columns=findings.NUMBER_COLUMNS)],
                            ignore_index=True)
    if zero:
        footnotes.append("Harms with no event: " + "; ".join(zero) + ".")
    listed = {s.outcome for s in summaries}
    other = swim[~swim["outcome"].isin(listed)] if len(swim) else swim
    not_pooled = _read(processed, "not_pooled")
    key = key_results(sof, numbers)
    return Summary(headline=_headline(review, key, swim), sof=sof, footnotes=footnotes,
                   numbers=numbers, key=key, certainties=certainties, other_outcomes=other,
                   not_pooled=not_pooled)


def key_results(sof: pd.DataFrame, numbers: pd.DataFrame) -> pd.DataFrame:
    """The key results by `KEY_RESULTS_RULE`, with the summary of findings' own text."""
    if sof.empty:
        return pd.DataFrame(columns=KEY_COLUMNS)
    frame = pd.concat([sof.reset_index(drop=True),
                       numbers.reset_index(drop=True).add_prefix("_")], axis=1)
    chosen = frame[frame["_kind"].isin(["pooled", "proportion"]) & (frame["_analysis"] == MAIN)]
    if chosen.empty:
        chosen = frame.iloc[:1]
    chosen = chosen.assign(_order=-pd.to_numeric(chosen["_participants"], errors="coerce")
                           .fillna(0)).sort_values(["_order", "_k"], kind="stable",
                                                   ascending=[True, False])
    chosen = chosen.head(MAX_KEY_RESULTS)
    return pd.DataFrame({
        "rank": range(1, len(chosen) + 1),
        "Outcome": chosen["Outcome"].to_numpy(),
        "Effect (95% CI)": [findings.strip_marks(v) for v in chosen["Effect (95% CI)"]],
        "Participants (studies)": [findings.strip_marks(v)
                                   for v in chosen["Participants (studies)"]],
        "Certainty": [findings.strip_marks(v) for v in chosen["Certainty"]],
        "Statement": chosen["_statement"].to_numpy(),
        "Caution": chosen["_caution"].fillna("").astype(str).to_numpy(),
        "analysis": chosen["_analysis"].to_numpy(), "outcome": chosen["_outcome"].to_numpy(),
        "measure": chosen["_measure"].to_numpy(), "k": chosen["_k"].to_numpy(),
        "participants": chosen["_participants"].to_numpy(),
        "estimate": chosen["_estimate"].to_numpy(), "ci_low": chosen["_ci_low"].to_numpy(),
        "ci_high": chosen["_ci_high"].to_numpy()}, columns=KEY_COLUMNS)


def _headline(review, key: pd.DataFrame, swim: pd.DataFrame) -> list[str]:
    """The main findings: the evidence base, the key results in the table's own words, and the
    synthesis without meta-analysis counted by its denominator."""
    studies = review.studies
    designs = pd.Series([analysed_design(d, r) for d, r in
                         zip(studies["design"], studies["randomised"])]).value_counts().sort_index()
    lines = [f"{plural(len(studies), 'study')} included ("
             + ", ".join(f"{n} {d.replace('_', '-')}" for d, n in designs.items()) + ")."]
    for r in key.to_dict("records"):
        caution = f" Caution: {r['Caution']}" if isinstance(r.get("Caution"), str) and \
            r["Caution"] else ""
        lines.append(f"{r['Outcome']}: {r['Effect (95% CI)']}; {r['Participants (studies)']}; "
                     f"{r['Certainty']}. {r['Statement']}{caution}")
    if key.empty:
        lines.append("No outcome has two or more effects to pool; the synthesis without "
                     "meta-analysis below gives the direction of the evidence.")
    if len(swim):
        directed = swim[(swim["n_favour"] + swim["n_against"]) > 0]
        comparative = directed[directed["kind"] == BETWEEN_GROUPS]
        before_after = directed[directed["kind"] == BEFORE_AFTER]
        if len(comparative):
            lines.append(
                "Synthesis without meta-analysis: of "
                f"{plural(len(comparative), 'outcome')} compared between groups with a "
                f"direction, {int((comparative['n_favour'] > comparative['n_against']).sum())} "
                "have more results favouring the treatment than the control.")
        if len(before_after):
            lines.append(
                f"Before–after results of single groups (no control) for "
                f"{plural(len(before_after), 'outcome')}: they show change from baseline, not "
                "an effect of the treatment over a control, and are counted apart.")
    return lines


def present_other(other: pd.DataFrame, outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Outcomes synthesised without meta-analysis and not in the SoF table, for readers."""
    labels = {} if outcomes is None else dict(zip(outcomes["outcome"], outcomes["label"]))
    rows = []
    for r in other.to_dict("records"):
        directed = int(r["n_favour"]) + int(r["n_against"])
        between = r.get("kind", BETWEEN_GROUPS) == BETWEEN_GROUPS
        verb = "favour the treatment" if between else "improved from baseline"
        p = r.get("stouffer_p", np.nan)
        rows.append({"Outcome": labels.get(r["outcome"], r["outcome"].replace("_", " ")),
                     "Results": ("compared between groups" if between
                                 else "before–after, single groups (no control)"),
                     "Studies": int(r["k_studies"]),
                     "Direction": f"{int(r['n_favour'])} of {directed} with a direction {verb}"
                     if directed else "none with a direction",
                     "p": (f"combined {p_text(p)} (Stouffer)" if np.isfinite(p) else
                           f"one study, {p_text(r.get('single_p', np.nan))} (one-sided)"
                           if np.isfinite(r.get("single_p", np.nan)) else "")})
    return pd.DataFrame(rows)


# --- what the summary page shows -----------------------------------------------------------------


def plain_language(summary: Summary) -> str:
    """A plain-language summary from the key results' GRADE statements (Santesso et al. 2020,
    doi 10.1016/j.jclinepi.2019.10.014: the certainty is in the verb)."""
    statements = [s for s in summary.key["Statement"] if isinstance(s, str) and s]
    if not statements:
        return ("The included studies could not be combined into an estimate of the effect; "
                "the synthesis without meta-analysis below gives the direction of the evidence.")
    return " ".join(dict.fromkeys(statements))


def opening(definitions, summary: Summary) -> str:
    """The first lines of the summary page: title, question, the plain-language summary and
    the main findings (with the rule that chose them)."""
    lines = [f"## {md(definitions.title)}", "", f"**Question.** {md(definitions.question)}", "",
             f"**In plain language.** {md(plain_language(summary))}", "",
             f"**Main findings.** {KEY_RESULTS_RULE}", ""]
    lines += [f"- {md(line)}" for line in summary.headline]
    return "\n".join(lines)


def sof_header(definitions) -> str:
    """The summary of findings' header as GRADEpro prints it: population, setting,
    intervention and comparison (each from review.yaml; the favours labels otherwise)."""
    return "  \n".join(f"**{name}:** {md(value)}"
                        for name, value in _sof_header_parts(definitions))


def _sof_header_parts(definitions) -> list[tuple[str, str]]:
    parts = [("Population", definitions.population),
             ("Setting", definitions.setting),
             ("Intervention", definitions.intervention or definitions.favours_treatment),
             ("Comparison", definitions.comparison or definitions.favours_control)]
    return [(name, value) for name, value in parts if value]


def present_sof(summary: Summary) -> pd.DataFrame:
    """The summary of findings for the page and Word: every column but the per-row footnote
    text (the footnotes follow the table)."""
    return summary.sof.drop(columns=["Footnotes"])


def footnote_text(summary: Summary) -> str:
    """The table's footnotes, one per line, then GRADE's certainty levels in words."""
    lines = [f"- {md(note)}" for note in summary.footnotes]
    lines.append("- GRADE certainty: high, the true effect is very likely close to the "
                 "estimate; moderate, probably close but possibly substantially different; "
                 "low, may be substantially different; very low, likely to be substantially "
                 "different.")
    return "\n".join(lines)


def sof_with_numbers(summary: Summary) -> pd.DataFrame:
    """The summary of findings with the numbers behind each row, for data/processed."""
    return pd.concat([summary.sof.reset_index(drop=True),
                      summary.numbers.reset_index(drop=True)], axis=1)


def main_figures(summary: Summary, pooled: pd.DataFrame) -> list[str]:
    """Figure names for the summary page: the forest plot of every outcome in the summary of
    findings with a pooled estimate (its main analysis, or all studies where the main analysis
    has none), then the proportion plots of the key results' outcomes."""
    from metareview.report.pooled import forest_name

    names = []
    numbers = summary.numbers
    shown = numbers[numbers["kind"] == "pooled"] if len(numbers) else numbers
    for r in shown.to_dict("records"):
        names.append(forest_name(r["outcome"], r["analysis"]))
    for r in summary.key.to_dict("records"):
        if r["measure"] == "PLO":
            names.append(f"proportions_{str(r['outcome']).split(':')[0]}")
    return list(dict.fromkeys(names))


def sof_header_plain(definitions) -> str:
    """`sof_header` as plain text, for Word."""
    return "; ".join(f"{name}: {value}" for name, value in _sof_header_parts(definitions))
