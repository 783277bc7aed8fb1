"""Risk-of-bias figures: the traffic-light plot."""

from __future__ import annotations

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from metareview.report.figures.style import ROB_COLOURS, ROB_SYMBOLS, STYLE

# --- risk of bias ---------------------------------------------------------------------------


def _domain_order(domain: str) -> tuple[int, str]:
    if domain == "overall":
        return (10_000, domain)
    digits = "".join(ch for ch in domain if ch.isdigit())
    return (int(digits) if digits else 5_000, domain)


def rob_traffic_light(rob: pd.DataFrame, title: str | None = None) -> Figure:
    """Traffic-light plot: studies (rows) × domains (columns), one coloured circle per judgement.

    `rob` has the columns of risk_of_bias.csv (study_id, tool, domain, judgement). One panel per
    tool (RoB 2, ROBINS-I), since their domains differ. Symbols repeat the colour's meaning
    (+ low, − some concerns / moderate, × high / serious, ! critical, ? no information) so the
    figure reads in grey scale too.
    """
    present = set(rob["tool"].astype(str)) if len(rob) else set()
    # RoB 2 (randomised trials) first, as reviews usually report them
    tools = [t for t in ("RoB2", "ROBINS-I") if t in present] + sorted(
        present - {"RoB2", "ROBINS-I"})
    with matplotlib.rc_context(STYLE):
        if not tools:
            fig = Figure(figsize=(5, 1.2))
            fig.text(0.5, 0.5, "No risk-of-bias judgements recorded", ha="center", va="center")
            return fig
        heights = [rob[rob["tool"] == t]["study_id"].nunique() + 1 for t in tools]
        fig = Figure(figsize=(7.5, 0.32 * sum(heights) + 1.2))
        axes = fig.subplots(len(tools), 1, squeeze=False,
                            gridspec_kw={"height_ratios": heights})[:, 0]
        for ax, tool in zip(axes, tools):
            part = rob[rob["tool"] == tool]
            studies = sorted(part["study_id"].astype(str).unique())
            domains = sorted(part["domain"].astype(str).unique(), key=_domain_order)
            for _, row in part.iterrows():
                x = domains.index(str(row["domain"]))
                y = studies.index(str(row["study_id"]))
                judgement = str(row["judgement"])
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
    return fig
