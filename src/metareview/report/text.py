"""Numbers and sentences for readers: intervals, p values and one plain sentence per result.

Sentences are Markdown (the notebooks show them with `Notebook.say`). Text that comes from a
review folder (labels, titles, study ids, subgroup values, notes) enters them through `md`, so
that it shows as written: `**x**` in a label is not bold, `[x](y)` is not a link, `<img ...>` is
not an element.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from metareview.report.pooled import MAIN
from metareview.stats.heterogeneity import tau2_bound_reached_search_end
from metareview.stats.vocabulary import is_ratio


# Characters that start Markdown syntax anywhere in a line (CommonMark's inline constructs and
# raw HTML); "_" only at a word's edge (intraword "_" is never emphasis, and ids use it).
_MD_ALWAYS = re.compile(r"([\\`*\[\]<>&#|~])")
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# A value that would start a list item, a heading or a quote if it began a line.
_MD_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])")


def md(value) -> str:
    """`value` (text from data) as Markdown that renders exactly as the text: the characters of
    Markdown syntax are escaped with a backslash and line breaks become spaces, so that a label
    cannot add emphasis, links, images, headings, lists or HTML to a sentence."""
    text = " ".join(str("" if value is None else value).split())
    text = _MD_ALWAYS.sub(r"\\\1", text)
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + re.sub(r"([-+=.)])", r"\\\1", m.group(2)),
                              text)


def format_number(value: float) -> str:
    """A number to the precision a reader needs: 1 decimal from 100 up, 2 from 1, 3 from 0.01,
    two significant digits below; "0" for zero, "" when missing."""
    if value is None or not np.isfinite(value):
        return ""
    size = abs(value)
    if size == 0:
        return "0"
    if size >= 100:
        text = f"{value:.1f}"
    elif size >= 1:
        text = f"{value:.2f}"
    elif size >= 0.01:
        text = f"{value:.3f}"
    else:
        text = f"{value:.2g}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """"1 study", "3 studies", "1 result", "0 results"."""
    word = singular if count == 1 else (plural_form or _plural_of(singular))
    return f"{count} {word}"


def _plural_of(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def format_interval(estimate: float, low: float, high: float, digits: int = 2) -> str:
    """"-1.25 [-1.80, -0.70]"; empty when the estimate is missing."""
    if estimate is None or not np.isfinite(estimate):
        return ""
    if low is None or not np.isfinite(low):
        return f"{estimate:.{digits}f}"
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def format_tau2_interval(tau2: float, low: float, high: float) -> str:
    """tau² with its Q-profile interval, "0.120 [0.000, 1.830]"; an upper bound at the end of
    the search range reads "not estimable" (the data set no upper limit)."""
    if tau2_bound_reached_search_end(tau2, high):
        return f"{tau2:.3f} [{low:.3f}, not estimable]"
    return format_interval(tau2, low, high, 3)


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


def natural(row, name: str) -> float:
    """A result-table value (`row`: a dict or a table row) on the scale a reader expects.

    Ratios (see `is_ratio`) are shown exponentiated: the table's `<name>_exp` column where it
    has one, else exp of the log value; other measures as stored; nan when `name` is absent.
    """
    value = row.get(name, np.nan)
    if not is_ratio(str(row.get("measure", ""))):
        return value
    if f"{name}_exp" in row:
        return row[f"{name}_exp"]
    return float(np.exp(value))


def scale_name(measure: str) -> str:
    """The name of a measure's scale for readers ("risk ratio"); unknown measures as given."""
    return {"RR": "risk ratio", "OR": "odds ratio", "MD": "mean difference",
            "SMD": "standardised mean difference (Hedges' g)"}.get(measure, measure)


def present_pooled(pooled: pd.DataFrame, outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pooled outcomes (k ≥ 2) for readers: ratios back-transformed, intervals as text.

    Single studies are left to `pooled_summary`'s sentences, so that the table holds no row
    of empty heterogeneity cells."""
    labels = {} if outcomes is None or outcomes.empty else dict(
        zip(outcomes["outcome"], outcomes["label"]))
    rows = []
    for _, r in pooled[pooled["status"] == "pooled"].iterrows():
        row = {"outcome": labels.get(r["outcome"], r["outcome"]), "measure": r["measure"],
               "studies": int(r["k"]),
               "estimate (95% CI)": format_interval(natural(r, "estimate"), natural(r, "ci_low"),
                                                    natural(r, "ci_high")),
               "p": format_p(r["pval"]),
               # (no prediction interval from two studies: the column says so rather than
               # repeating the estimate)
               "prediction interval": format_interval(natural(r, "estimate"),
                                                      natural(r, "pi_low"),
                                                      natural(r, "pi_high")).split(" ", 1)[-1]
               if np.isfinite(natural(r, "pi_low")) else "none (k < 3)" if r["k"] < 3 else "",
               "tau² [CI]": format_tau2_interval(r["tau2"], r["tau2_ci_low"], r["tau2_ci_high"]),
               "I² % [CI]": format_interval(r["i2"], r["i2_ci_low"], r["i2_ci_high"], 1)}
        if "analysis" in pooled.columns:
            row = {"analysis": r["analysis"], **row}
        rows.append(row)
    return pd.DataFrame(rows)


def pooled_summary(pooled: pd.DataFrame, outcomes: pd.DataFrame, definitions=None) -> str:
    """What was pooled, in a few lines: the pooled outcomes, then each single study with the
    interval its source printed, then the count of outcomes with no effect."""
    if pooled.empty:
        return "No outcome has an analysable effect, so nothing can be pooled."
    lines = []
    main_label = md(getattr(definitions, "main_label", "") or "main analysis")
    for line in pooled_sentences(pooled, outcomes):
        lines.append(f"- {line}")
    text = "\n".join(lines)
    if definitions is not None and definitions.has_main_analysis:
        text = (f"Main analysis: {main_label}; studies it leaves out enter the rows marked "
                "'all studies'.\n\n" + text)
    return text


def present_sensitivity(part: pd.DataFrame) -> pd.DataFrame:
    """One sensitivity scenario for readers: outcome, setting, k, estimate (CI), I²."""
    return pd.DataFrame({
        "outcome": part["outcome"], "setting": part["setting"], "studies": part["k"],
        "estimate (95% CI)": [format_interval(natural(r, "estimate"), natural(r, "ci_low"),
                                              natural(r, "ci_high")) or r["status"]
                              for _, r in part.iterrows()],
        "p": [format_p(v) for v in part["pval"]],
        "I² %": ["" if not np.isfinite(v) else f"{v:.0f}" for v in part["i2"]],
    }).reset_index(drop=True)


def present_swim(synthesis: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """The synthesis without meta-analysis for readers: one row per outcome and kind of
    result, each count with its denominator. labels: outcome id -> label."""
    labels = labels or {}
    rows = []
    for r in synthesis.to_dict("records"):
        directed = int(r["n_favour"] + r["n_against"])
        between = r.get("kind", "between groups") == "between groups"
        rows.append({
            "Outcome": labels.get(r["outcome"], str(r["outcome"]).replace("_", " ")),
            "Results": ("compared between groups" if between
                        else "before–after, single groups (no control)"),
            ("Favour treatment" if between else "Improved from baseline"):
                f"{int(r['n_favour'])} of {directed} with a direction" if directed else "none",
            "No difference": int(r["n_unclear"]),
            "Sign test p": format_p(r["sign_test_p"]) if directed > 1 else "",
            "One study's p (one-sided)": format_p(r.get("single_p", float("nan"))),
            "Combined p (Stouffer)": format_p(r["stouffer_p"]),
            "Combined p (Fisher)": format_p(r["fisher_p"]),
            "No direction given": r["not_oriented"] or "",
        })
    frame = pd.DataFrame(rows)
    if len(frame):
        # one column for both kinds' counts would mix two meanings; keep both, blank where
        # a row is of the other kind
        frame = frame.fillna("")
    return frame


def subgroup_test_text(row) -> str:
    """The test of subgroup differences named by its distribution: "F(1, 13) = 2.44" under
    Hartung-Knapp (common tau²), "Q = 2.44, df = 1" (chi²) otherwise."""
    value = float(row["q_between"])
    if str(row.get("statistic", "Q")) == "F" and np.isfinite(float(row.get("df2", np.nan))):
        return f"F({int(row['df'])}, {float(row['df2']):g}) = {value:.2f}"
    return f"Q = {value:.2f}, df = {int(row['df'])}"


def present_subgroups(subgroups: pd.DataFrame) -> pd.DataFrame:
    """Subgroup estimates and the tests of differences, for readers."""
    rows = []
    for _, r in subgroups.iterrows():
        if r["row"] == "group":
            estimate = format_interval(natural(r, "estimate"), natural(r, "ci_low"),
                                       natural(r, "ci_high"))
            rows.append({"outcome": r["outcome"], "moderator": r["moderator"],
                         "subgroup": r["level"], "studies": r["k"],
                         "estimate (95% CI) or test": estimate, "p": format_p(r["pval"]),
                         "note": "" if r["status"] == "pooled" else r["status"]})
        elif _tested(r["status"]):
            test = subgroup_test_text(r)
            if np.isfinite(r.get("p_permutation", np.nan)):
                test += f"; permutation {p_text(r['p_permutation'])}"
            rows.append({"outcome": r["outcome"], "moderator": r["moderator"],
                         "subgroup": r["level"], "studies": r["k"],
                         "estimate (95% CI) or test": test, "p": format_p(r["q_between_pval"]),
                         "note": _test_note(r["status"])})
    return pd.DataFrame(rows)


def _tested(status) -> bool:
    """A test that was done: status "tested", or "tested; <note>" when studies that do not
    report the subgroup column were left out."""
    return re.match(r"tested(;|$)", str(status)) is not None


def _test_note(status) -> str:
    """The note of a test's status ("2 studies that do not report alloc left out")."""
    return str(status).partition("; ")[2]


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
        label = md(labels.get(r["outcome"], r["outcome"]))
        ratio = is_ratio(r["measure"])
        pick = (lambda n: r[f"{n}_exp"]) if ratio else (lambda n: r[n])
        pct = f"{100 * float(r['level']):g}%"
        interval = format_interval(pick("estimate"), pick("ci_low"), pick("ci_high"))
        where = f" ({md(r['analysis'])})" if "analysis" in r and r["analysis"] != MAIN else ""
        if r["status"] != "pooled":
            text = f"**{label}**{where}: {r['status']}"
            if int(r["k"]) == 1 and np.isfinite(r["estimate"]):
                text += (f"; the single study ({md(r['studies'])}) gives {r['measure']} {interval} "
                         f"({pct} CI, {r.get('interval', 'z')})")
            sentences.append(text + ".")
            continue

        def covers_null(low: float, high: float) -> bool:
            return low <= 0.0 <= high

        ci_text = ("includes no effect" if covers_null(r["ci_low"], r["ci_high"])
                   else "excludes no effect")
        text = (f"**{label}**{where}: {int(r['k'])} studies, pooled {r['measure']} {interval} "
                f"({pct} CI, which {ci_text}; {p_text(r['pval'])})")
        if np.isfinite(r["pi_low"]):
            pi_text = ("includes" if covers_null(r["pi_low"], r["pi_high"]) else "excludes")
            text += (f"; prediction interval {pick('pi_low'):.2f} to {pick('pi_high'):.2f}, "
                     f"which {pi_text} no effect")
        if np.isfinite(r["i2"]):
            text += f"; I² = {r['i2']:.0f}%"
        text += "."
        if isinstance(r["warning"], str) and r["warning"]:
            text += f" Caution: {md(r['warning'])}."
        sentences.append(text)
    return sentences


def _ratio_or_plain(row, name: str) -> float:
    return row[f"{name}_exp"] if is_ratio(row["measure"]) else row[name]


def subgroup_sentences(subgroups: pd.DataFrame, words=None) -> list[str]:
    """One sentence per tested outcome × moderator: each subgroup's estimate and the tests.

    `words` (a `report.words.Words`) names outcomes, moderators and levels in the review's
    words; without it the identifiers are shown."""
    value = words.word if words is not None else str
    header = words.header if words is not None else str
    sentences = []
    if subgroups is None or subgroups.empty:
        return sentences
    tested = subgroups[(subgroups["row"] == "between") & subgroups["status"].map(_tested)]
    for (outcome, moderator), tests in tested.groupby(["outcome", "moderator"], sort=True):
        groups = subgroups[(subgroups["outcome"] == outcome)
                           & (subgroups["moderator"] == moderator)
                           & (subgroups["row"] == "group")]
        parts = []
        for _, g in groups.iterrows():
            interval = format_interval(_ratio_or_plain(g, "estimate"), _ratio_or_plain(g, "ci_low"),
                                       _ratio_or_plain(g, "ci_high"))
            parts.append(f"{md(value(g['level']))} {interval} (k = {int(g['k'])})")
        common = tests[tests["tau2_mode"] == "common"]
        separate = tests[tests["tau2_mode"] == "separate"]
        test_parts = []
        if len(common):
            c = common.iloc[0]
            text = f"common tau² {subgroup_test_text(c)}, {p_text(c['q_between_pval'])}"
            if np.isfinite(c["p_permutation"]):
                text += f" (permutation {p_text(c['p_permutation'])})"
            test_parts.append(text)
        if len(separate):
            s = separate.iloc[0]
            test_parts.append(f"separate tau² {subgroup_test_text(s)}, "
                              f"{p_text(s['q_between_pval'])}")
        measure = groups["measure"].iloc[0] if len(groups) else ""
        note = _test_note(tests["status"].iloc[0])
        if words is not None and note:
            note = words.text(note)
        sentences.append(f"**{md(value(outcome))}** by {md(header(moderator))} ({md(measure)}): "
                         + "; ".join(parts)
                         + ". Test for subgroup differences: " + ", ".join(test_parts)
                         + (f" ({md(note)})" if note else "") + ".")
    return sentences


def safety_sentences(safety: pd.DataFrame) -> list[str]:
    """One sentence per event type: counts per arm and the Mantel-Haenszel risk ratio."""
    sentences = []
    if safety is None or safety.empty:
        return sentences
    for event, rows in safety.groupby("event", sort=True):
        first = rows.iloc[0]
        if first["method"] == "none":
            sentences.append(f"**{md(event)}**: {md(first['status'])}.")
            continue
        text = (f"**{md(event)}**: {int(first['k_studies'])} studies, "
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
