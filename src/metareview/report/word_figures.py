"""Which figures the Word document embeds, in which order, with which captions.

The manuscript's figures are the ones a reader of the summary page sees: the PRISMA 2020 flow
diagram (notebook 01), then the forest plot of every outcome of the summary of findings with a
pooled estimate and the proportion plots of the key results (`summary.main_figures`, in its
order), or the effect direction plot when nothing was pooled. Each caption says what the figure
shows in the review's words (the outcome's label from outcomes.csv), never a file or column
name. A figure whose PNG a notebook did not write is left out.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from metareview.report.pooled import ALL_STUDIES, forest_name
from metareview.report.word import WordFigure

__all__ = ["MEASURE_WORDS", "manuscript_figures"]

MEASURE_WORDS = {"SMD": "standardised mean difference", "MD": "mean difference",
                 "RR": "risk ratio", "OR": "odds ratio", "RD": "risk difference",
                 "PLO": "proportion", "PFT": "proportion"}
PRISMA_CAPTION = ("Flow of records and reports through the review, from the searches to the "
                  "studies included (PRISMA 2020 flow diagram; Page et al. 2021, "
                  "doi:10.1136/bmj.n71).")
EFFECT_DIRECTION_CAPTION = ("Effect direction plot: the direction of each study's result on "
                            "each outcome synthesised without meta-analysis.")


def manuscript_figures(figures_dir: Path, summary, pooled: pd.DataFrame,
                       outcomes: pd.DataFrame | None = None,
                       main_label: str = "") -> list[WordFigure]:
    """The figures for `write_word(figures=...)`: PRISMA first, then the main forest plots.

    summary: the `metareview.report.summary.Summary` of notebook 06; pooled: pooled.csv;
    outcomes: outcomes.csv (labels); main_label: review.yaml's name of the main analysis.
    """
    from metareview.report.summary import main_figures

    figures_dir = Path(figures_dir)
    labels = _labels(outcomes)
    captions: dict[str, str] = {"prisma_flow": PRISMA_CAPTION}
    numbers = summary.numbers
    if len(numbers):
        for r in numbers[numbers["kind"] == "pooled"].to_dict("records"):
            label = labels.get(r["outcome"], _words(r["outcome"]))
            which = ("all studies" if r["analysis"] == ALL_STUDIES
                     else (f"main analysis ({main_label})" if main_label else "main analysis"))
            measure = MEASURE_WORDS.get(str(r["measure"]), str(r["measure"]))
            captions[forest_name(r["outcome"], r["analysis"])] = (
                f"Forest plot of {label}: {measure}, {which}.")
    for r in summary.key.to_dict("records"):
        if r.get("measure") == "PLO":
            outcome = str(r["outcome"]).split(":")[0]
            captions[f"proportions_{outcome}"] = (
                f"Pooled proportions of {labels.get(outcome, _words(outcome))} by subgroup.")
    names = ["prisma_flow", *main_figures(summary, pooled)]
    forests = [n for n in names[1:] if (figures_dir / f"{n}.png").is_file()]
    if not forests:
        names = ["prisma_flow", "effect_direction"]
        captions["effect_direction"] = EFFECT_DIRECTION_CAPTION
    figures = []
    for name in dict.fromkeys(names):
        path = figures_dir / f"{name}.png"
        if path.is_file():
            figures.append(WordFigure(path, captions.get(name, _words(name) + ".")))
    return figures


def _labels(outcomes: pd.DataFrame | None) -> dict[str, str]:
    if outcomes is None or outcomes.empty or "label" not in outcomes:
        return {}
    return {str(o): str(label) for o, label in zip(outcomes["outcome"], outcomes["label"])
            if isinstance(label, str) and label}


def _words(name: str) -> str:
    return str(name).replace("_", " ")
