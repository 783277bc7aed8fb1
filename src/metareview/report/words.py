"""Words for readers in place of the identifiers the sheets use.

The sheets key everything by identifiers (`scar_volume_percent_improvement`, `some_concerns`,
`study_id`), which suit files and code. A report shows the review's own words instead:

- outcomes by their `label` in outcomes.csv;
- studies by the sheet's `label`, else "Author Year" (`descriptive.study_names`), as the
  figures name them;
- conditions and intervention classes by their labels in review.yaml;
- comparisons by `comparison_labels` in review.yaml, else, for a comparison of one study, by
  its arms' labels ("ECM/SVF-gel side vs CO2 laser side");
- coded values of the schema (designs, forms, judgements) by `CODED_WORDS`;
- column headers by `COLUMN_WORDS`, else with spaces for underscores.

`Words.frame` applies them to a table that is about to be shown (the CSV files keep the
identifiers, which are what a coauthor filters and joins on), `Words.text` to a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

__all__ = ["CODED_WORDS", "COLUMN_WORDS", "SNAKE_CASE", "Words", "review_words"]

# The coded values of `metareview.review.schema`, in words.
CODED_WORDS = {
    # designs
    "parallel": "parallel groups",
    "split_face": "split-face",
    "within_person": "within-person",
    "split_scalp": "split-scalp",
    "paired_organs": "paired organs",
    "non_randomised": "non-randomised",
    "single_arm": "single group",
    # sources
    "full_text": "full text",
    "secondary_source": "secondary source",
    # reported forms of arms and contrasts
    "mean_sd": "mean and SD",
    "mean_se": "mean and SE",
    "mean_unlabelled": "mean ± unlabelled spread",
    "mean_only": "mean only",
    "median_iqr": "median and IQR",
    "median_range": "median and range",
    "events_total": "events of total",
    "percent_only": "percentage only",
    "percent_n": "percentage of n",
    "estimate_ci": "estimate and CI",
    "estimate_p": "estimate and p value",
    "estimate_se": "estimate and SE",
    "estimate_variance": "estimate and variance",
    "estimate_only": "estimate only",
    "p_value": "p value",
    "t_stat": "t statistic",
    "direction_only": "direction only",
    "pre_post": "before and after",
    # values and directions
    "percent_change": "percent change",
    "treatment_minus_control": "treatment minus control",
    "control_minus_treatment": "control minus treatment",
    "lower_is_better": "lower is better",
    "higher_is_better": "higher is better",
    "percent_difference": "difference of percentages",
    # judgements
    "some_concerns": "some concerns",
    "no_information": "no information",
    "not_serious": "not serious",
    "very_serious": "very serious",
    "not_stated": "not stated",
    "not_retrieved": "not retrieved",
    "title_abstract": "title and abstract",
    # standardised mean differences of within-person designs (Cumming 2012)
    "d_av": "d (average SD)",
    "d_z": "d (SD of differences)",
    # sensitivity analyses (`report.pooled.sensitivity_analyses`)
    "paired_r": "within-person correlation",
    # GRADE domains
    "risk_of_bias": "risk of bias",
    "publication_bias": "publication bias",
}

# Column headers that read better than their name with spaces.
COLUMN_WORDS = {
    "study_id": "study",
    "n_analysed": "analysed (n)",
    "n_randomised": "randomised (n)",
    "n_treatment": "treatment (n)",
    "n_control": "control (n)",
    "follow_up_weeks": "follow-up (weeks)",
    "timepoint_weeks": "time point (weeks)",
    "co_intervention": "co-intervention",
    "intervention_class": "intervention class",
    "source_url": "source",
    "source_location": "where in the source",
    "source_level": "source level",
    "reported_form": "reported as",
    "value_type": "value",
    "contrast_direction": "difference taken as",
    "q_between": "Q between groups",
    "k_studies": "studies",
    "k_double_zero": "studies without events",
    "route_group": "route",
    "p_operator": "p operator",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "ci_level": "CI level",
    "adverse_events": "adverse events",
    "extraction_checks": "extraction checks",
}

# A word of lower-case letters and digits joined by underscores, not part of a path, a URL or
# a longer token: an identifier (also what `run.wording` looks for on the finished pages).
SNAKE_CASE = re.compile(r"(?<![\w./:-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/])")


def _spaced(name: str) -> str:
    return name.replace("_", " ")


def _header(name: Any, own: Mapping[str, str]) -> Any:
    if not isinstance(name, str):
        return name
    return own.get(name) or COLUMN_WORDS.get(name) or (_spaced(name) if "_" in name else name)


@dataclass(frozen=True)
class Words:
    """Identifiers of one review and the words that stand for them."""

    values: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: Any) -> Any:
        """A column header in words."""
        return _header(name, self.columns)

    def word(self, value: Any) -> Any:
        """The words for one cell: a known identifier, a "; "-separated list of them, any
        other snake_case word with spaces; text and numbers otherwise unchanged."""
        if not isinstance(value, str):
            return value
        if value in self.values:
            return self.values[value]
        if value in CODED_WORDS:
            return CODED_WORDS[value]
        if "; " in value:
            return "; ".join(str(self.word(part)) for part in value.split("; "))
        if "_" not in value:
            return value
        return self.text(value)

    def text(self, sentence: str) -> str:
        """`sentence` with every snake_case identifier in it replaced by its words."""
        def words(match: re.Match) -> str:
            name = match.group(0)
            return (self.values.get(name) or CODED_WORDS.get(name) or COLUMN_WORDS.get(name)
                    or _spaced(name))

        return SNAKE_CASE.sub(words, sentence)

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of `frame` for reading: headers and text cells in words. A column whose
        header names an identifier kind (`outcome`, `study_id`) maps through the same table,
        so that every cell is translated, not only those that look like identifiers."""
        shown = frame.copy()
        for column in shown.columns:
            series = shown[column]
            if series.dtype == object or pd.api.types.is_string_dtype(series):
                shown[column] = series.map(
                    lambda v: self.word(v) if isinstance(v, str) else v)
        shown.columns = [self.header(c) for c in shown.columns]
        return shown


def _comparison_labels(review) -> dict[str, str]:
    """review.yaml's labels; else "treatment arm vs control arm" for a comparison that one
    study reports (a shared comparison id keeps its spaced name: its arms differ by study)."""
    labels = dict(review.definitions.comparison_labels)
    arms = review.arms
    if arms.empty or "comparison" not in arms:
        return labels
    for comparison, part in arms.groupby("comparison", sort=False):
        if comparison in labels or part["study_id"].nunique() != 1:
            continue
        names = {role: part.loc[part["role"] == role, "arm"].dropna().unique()
                 for role in ("treatment", "control")}
        if len(names["treatment"]) == 1 and len(names["control"]) == 1:
            labels[comparison] = f"{names['treatment'][0]} vs {names['control'][0]}"
    return labels


def review_words(review) -> Words:
    """The words of a loaded review (`metareview.review.sheets.Review`)."""
    from metareview.report.descriptive import study_names

    values: dict[str, str] = {}
    definitions = review.definitions
    values.update(definitions.conditions)
    values.update(definitions.intervention_classes)
    values.update(_comparison_labels(review))
    outcomes = review.outcomes
    if not outcomes.empty and "label" in outcomes:
        values.update({str(o): str(label) for o, label in zip(outcomes["outcome"],
                                                                outcomes["label"])
                       if isinstance(label, str) and label})
    if not review.studies.empty:
        values.update(study_names(review))
    columns = {c.name: c.description for c in definitions.study_columns
               if c.description and len(c.description) <= 40}
    return Words(values=values, columns=columns)
