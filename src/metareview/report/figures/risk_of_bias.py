"""Risk-of-bias figures: the traffic-light plot and the summary bar graph, and the helpers the
forest plot uses for its risk-of-bias columns."""

from __future__ import annotations

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from metareview.report.figures.layout import summarised
from metareview.report.figures.style import ROB_COLOURS, ROB_SYMBOLS, STYLE, set_alt_text
from metareview.review.ordering import natural_sorted
from metareview.review.schema import ROB_JUDGEMENTS, ROB_TOOLS

# What each domain of the two tools assesses (Sterne et al. 2019, BMJ 366:l4898; Sterne et
# al. 2016, BMJ 355:i4919), for the keys under the figures.
ROB_DOMAINS = {
    "RoB2": {
        "D1": "Bias arising from the randomisation process",
        "D2": "Bias due to deviations from intended interventions",
        "D3": "Bias due to missing outcome data",
        "D4": "Bias in measurement of the outcome",
        "D5": "Bias in selection of the reported result",
        "overall": "Overall risk of bias",
    },
    "ROBINS-I": {
        "D1": "Bias due to confounding",
        "D2": "Bias in selection of participants into the study",
        "D3": "Bias in classification of interventions",
        "D4": "Bias due to deviations from intended interventions",
        "D5": "Bias due to missing data",
        "D6": "Bias in measurement of outcomes",
        "D7": "Bias in selection of the reported result",
        "overall": "Overall risk of bias",
    },
}
JUDGEMENT_LABELS = {
    "low": "Low",
    "some_concerns": "Some concerns",
    "moderate": "Moderate",
    "high": "High",
    "serious": "Serious",
    "critical": "Critical",
    "no_information": "No information",
    "unclear": "Unclear",
}

# --- risk of bias ---------------------------------------------------------------------------


def domain_order(domain: str) -> tuple[int, str]:
    """Sort key of domains: D1, D2, ... D10 by number, "overall" last."""
    if domain == "overall":
        return (10_000, domain)
    digits = "".join(ch for ch in domain if ch.isdigit())
    return (int(digits) if digits else 5_000, domain)


def _tools_in(frame: pd.DataFrame) -> list[str]:
    """The tools that `frame` (with a "tool" column) uses: RoB 2 first, as reviews usually
    report randomised trials first, then ROBINS-I, then any other by name."""
    present = set(frame["tool"].astype(str)) if len(frame) else set()
    known = [t for t in ROB_TOOLS if t in present]
    return known + sorted(present - set(known))


def _no_judgements_figure() -> Figure:
    """The small figure drawn in place of a risk-of-bias figure when nothing is recorded."""
    fig = Figure(figsize=(5, 1.2))
    fig.text(0.5, 0.5, "No risk-of-bias judgements recorded", ha="center", va="center")
    return set_alt_text(fig, "Risk of bias: no judgements are recorded.")


def judgements_summary(rob: pd.DataFrame) -> str:
    """Per tool, its studies and their overall judgements, e.g. "RoB 2, 12 studies; overall:
    3 low, 8 some concerns, 1 high" (the domains' count when no overall judgement is given)."""
    frame = long_rob(rob) if len(rob) else pd.DataFrame(columns=["tool"])
    parts = []
    for tool in _tools_in(frame):
        part = frame[frame["tool"] == tool]
        n = part["study_id"].nunique()
        name = "RoB 2" if tool == "RoB2" else tool
        overall = part[part["domain"] == "overall"]["judgement"].value_counts()
        if len(overall):
            counts = ", ".join(f"{overall[j]} {JUDGEMENT_LABELS.get(j, j).lower()}"
                               for j in ROB_COLOURS if j in overall.index)
            parts.append(f"{name}, {n} {'study' if n == 1 else 'studies'}; overall: {counts}")
        else:
            domains = part["domain"].nunique()
            parts.append(f"{name}, {n} {'study' if n == 1 else 'studies'} judged in {domains} "
                         f"{'domain' if domains == 1 else 'domains'}")
    return "; ".join(parts)


def traffic_light_fits(rob: pd.DataFrame) -> bool:
    """Whether the traffic-light plot of `rob` has a row per study within `MAX_STUDY_ROWS`
    (per tool); a review with more shows the summary bars and the table of judgements."""
    if rob.empty:
        return True
    return not summarised(rob.groupby("tool")["study_id"].nunique().max())


def rob_traffic_light(rob: pd.DataFrame, title: str | None = None) -> Figure:
    """Traffic-light plot: studies (rows) × domains (columns), one coloured circle per judgement.

    `rob` has the columns of risk_of_bias.csv (study_id, tool, domain, judgement). One panel per
    tool (RoB 2, ROBINS-I), since their domains differ. Symbols repeat the colour's meaning
    (+ low, − some concerns / moderate, × high / serious, ! critical, ? no information) so the
    figure reads in grey scale too.
    """
    tools = _tools_in(rob)
    with matplotlib.rc_context(STYLE):
        if not tools:
            return _no_judgements_figure()
        heights = [rob[rob["tool"] == t]["study_id"].nunique() + 1 for t in tools]
        fig = Figure(figsize=(7.5, 0.32 * sum(heights) + 1.2))
        axes = fig.subplots(len(tools), 1, squeeze=False,
                            gridspec_kw={"height_ratios": heights})[:, 0]
        for ax, tool in zip(axes, tools):
            part = rob[rob["tool"] == tool]
            studies = natural_sorted(part["study_id"].astype(str).unique())
            domains = sorted(part["domain"].astype(str).unique(), key=domain_order)
            column_of = {domain: x for x, domain in enumerate(domains)}
            row_of = {study: y for y, study in enumerate(studies)}
            for row in part[["study_id", "domain", "judgement"]].astype(str).itertuples():
                x, y, judgement = column_of[row.domain], row_of[row.study_id], row.judgement
                ax.scatter([x], [y], s=190, color=ROB_COLOURS.get(judgement, "white"),
                           edgecolor="#404040", lw=0.6, gid=f"rob-{tool}-{y}-{x}")
                ax.text(x, y, ROB_SYMBOLS.get(judgement, "?"), ha="center", va="center",
                        fontsize=9, fontweight="bold", color="black")
            ax.set_xticks(range(len(domains)))
            ax.set_xticklabels([d.capitalize() if d == "overall" else d for d in domains])
            ax.xaxis.tick_top()
            ax.set_yticks(range(len(studies)))
            ax.set_yticklabels(studies)
            ax.set_xlim(-0.6, len(domains) - 0.4)
            ax.set_ylim(len(studies) - 0.5, -0.5)
            ax.set_title("RoB 2" if tool == "RoB2" else tool, loc="left", fontweight="bold",
                         fontsize=9, pad=18)
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
        present = [j for j in ROB_COLOURS if j in set(rob["judgement"].astype(str))]
        handles = [
            Line2D([], [], marker="o", linestyle="none", markersize=9,
                   markerfacecolor=ROB_COLOURS[j], markeredgecolor="#404040",
                   label=f"{ROB_SYMBOLS[j]}  {j.replace('_', ' ')}")
            for j in present
        ]
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4),
                   frameon=False, fontsize=8)
        height = fig.get_figheight()
        fig.subplots_adjust(left=0.25, right=0.97, top=1 - 0.75 / height,
                            bottom=0.8 / height + 0.02, hspace=0.35)
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontweight="bold", fontsize=10)
    head = f"Traffic-light plot: {title}." if title else "Risk-of-bias traffic-light plot."
    return set_alt_text(fig, f"{head} One circle per study and domain, coloured by its "
                        f"judgement. {judgements_summary(rob)}.")


# --- long and wide forms -------------------------------------------------------------------


def long_rob(rob: pd.DataFrame) -> pd.DataFrame:
    """Risk-of-bias judgements in long form: columns study_id, tool, domain, judgement.

    Accepts the long form of risk_of_bias.csv as it is, or a wide table (one row per study,
    the study label in a `label` or `study_id` column or in the index, one column per domain).
    A wide table's tool is read from its judgements: ROBINS-I when any is moderate, serious or
    critical, otherwise RoB 2. Empty judgements are dropped.
    """
    if {"study_id", "domain", "judgement"} <= set(rob.columns):
        frame = rob.copy()
        if "tool" not in frame.columns:
            frame["tool"] = _tool_of(frame["judgement"])
    else:
        wide = rob.copy()
        for key in ("label", "study_id"):
            if key in wide.columns:
                wide = wide.set_index(key)
                break
        wide.index = wide.index.astype(str).rename("study_id")
        frame = wide.reset_index().melt(id_vars="study_id", var_name="domain",
                                        value_name="judgement")
        frame["tool"] = _tool_of(frame["judgement"])
    frame = frame[frame["judgement"].notna() & (frame["judgement"].astype(str) != "")]
    return frame.assign(study_id=frame["study_id"].astype(str), domain=frame["domain"].astype(str),
                        judgement=frame["judgement"].astype(str), tool=frame["tool"].astype(str))


def _tool_of(judgements: pd.Series) -> str:
    robins_only = set(ROB_JUDGEMENTS["ROBINS-I"]) - set(ROB_JUDGEMENTS["RoB2"])
    return "ROBINS-I" if set(judgements.dropna().astype(str)) & robins_only else "RoB2"


def domain_key_text(tool: str, domains) -> str:
    """"D1: Bias arising from ...; D2: ..." for the domains of a known tool ('' otherwise)."""
    names = ROB_DOMAINS.get(tool, {})
    parts = [f"{d}: {names[d].replace('Bias ', 'bias ', 1)}" for d in domains
             if d in names and d != "overall"]
    return "; ".join(parts)


def judgement_key_text(judgements) -> str:
    """"+ low, − some concerns, ..." for the judgements present, in the tools' order."""
    order = [j for j in ROB_COLOURS if j in set(judgements)]
    return ", ".join(f"{ROB_SYMBOLS[j]} {JUDGEMENT_LABELS[j].lower()}" for j in order)


# --- summary bar graph ----------------------------------------------------------------------


def rob_summary_bar(rob: pd.DataFrame, title: str | None = None) -> Figure:
    """Risk-of-bias summary graph (RevMan's "risk of bias graph"; robvis's summary plot).

    One horizontal bar per domain, stacked by the percentage of studies judged at each level:
    for RoB 2 low / some concerns / high / no information, for ROBINS-I low / moderate /
    serious / critical / no information. Each bar sums to 100% of the studies assessed in that
    domain, and its label says how many that is ("(n = 3)"), so a domain rated in 3 of 29
    studies does not read as the whole body; "Overall" comes last. One panel per tool. Each segment carries the gid
    ``robbar-<tool>-<domain>-<judgement>`` and its width is the percentage.

    `rob` is risk_of_bias.csv in long form (study_id, tool, domain, judgement) or a wide table
    of judgements (see `long_rob`).
    """
    frame = long_rob(rob) if len(rob) else pd.DataFrame(columns=["tool"])
    tools = _tools_in(frame)
    with matplotlib.rc_context(STYLE):
        if not tools:
            return _no_judgements_figure()
        domain_lists = {t: sorted(frame.loc[frame["tool"] == t, "domain"].unique(),
                                  key=domain_order) for t in tools}
        heights = [len(domain_lists[t]) + 0.8 for t in tools]
        fig = Figure(figsize=(8.0, 0.34 * sum(heights) + 1.1))
        axes = fig.subplots(len(tools), 1, squeeze=False,
                            gridspec_kw={"height_ratios": heights})[:, 0]
        used = []
        for ax, tool in zip(axes, tools):
            part = frame[frame["tool"] == tool]
            levels = list(ROB_JUDGEMENTS.get(tool, ())) or [
                j for j in ROB_COLOURS if j in set(part["judgement"])]
            domains = domain_lists[tool]
            names = ROB_DOMAINS.get(tool, {})
            for y, domain in enumerate(domains):
                judged = part[part["domain"] == domain]["judgement"]
                counts = judged.value_counts()
                left = 0.0
                for level in levels:
                    share = 100.0 * counts.get(level, 0) / len(judged)
                    if share <= 0:
                        continue
                    ax.barh(y, share, left=left, height=0.7, color=ROB_COLOURS.get(level, "white"),
                            edgecolor="white", lw=0.6, gid=f"robbar-{tool}-{domain}-{level}")
                    if share >= 8:
                        ax.text(left + share / 2, y, f"{share:.0f}%", ha="center", va="center",
                                fontsize=7, color="white" if level in ("high", "serious",
                                                                        "critical") else "black")
                    left += share
                    if level not in used:
                        used.append(level)
            rated = part.groupby("domain")["study_id"].nunique()
            labels = [(f"{d}: {names[d]}" if d in names and d != "overall" else
                       names.get(d, d.capitalize() if d == "overall" else d))
                      + f" (n = {int(rated.get(d, 0))})" for d in domains]
            ax.set_yticks(range(len(domains)))
            ax.set_yticklabels(labels, fontsize=8)
            for tick, domain in zip(ax.get_yticklabels(), domains):
                if domain == "overall":
                    tick.set_fontweight("bold")
            ax.set_ylim(len(domains) - 0.5, -0.5)
            ax.set_xlim(0, 100)
            ax.set_xticks([0, 25, 50, 75, 100])
            ax.set_xticklabels(["0%", "25%", "50%", "75%", "100%"])
            n_studies = part["study_id"].nunique()
            ax.set_title(f"{'RoB 2' if tool == 'RoB2' else tool} ({n_studies} "
                         f"{'study' if n_studies == 1 else 'studies'}; each bar: % of the n "
                         "studies rated in that domain)", loc="left",
                         fontweight="bold", fontsize=9)
            ax.tick_params(axis="y", length=0)
            for side in ("top", "right", "left"):
                ax.spines[side].set_visible(False)
        order = [j for j in ROB_COLOURS if j in used]
        handles = [Patch(facecolor=ROB_COLOURS[j], edgecolor="white",
                         label=JUDGEMENT_LABELS[j]) for j in order]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
                   fontsize=8)
        height = fig.get_figheight()
        fig.subplots_adjust(left=0.42, right=0.97, top=1 - 0.45 / height,
                            bottom=0.75 / height, hspace=0.45)
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontweight="bold", fontsize=10)
    head = f"Bar graph: {title}." if title else "Risk-of-bias summary bar graph."
    return set_alt_text(fig, f"{head} For each domain, the percentage of the studies rated "
                        f"in it at each judgement. {judgements_summary(frame)}.")

