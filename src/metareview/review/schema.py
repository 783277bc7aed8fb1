"""The extraction sheets of a review folder, column by column.

This module is the single source of truth for what `data/raw/<review>/` holds. The loader
(`metareview.review.sheets`) validates every file against it, the codebook documents it, and the
notebooks read only columns named here.

Each sheet is a long, tidy CSV: one fact per row, each row carrying its own source
(`source_url`, `source_location`, `source_level`). Numbers are copied as printed; an empty cell
means "not reported", never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from metareview.stats.vocabulary import P_OPERATORS

# dataset: a published dataset (a data package, a supplement's data file, an R package's
# data); secondary_source: another review's table, a news page, a conference report
SOURCE_LEVELS = ("abstract", "full_text", "registry", "dataset", "secondary_source")
# How the participants were assigned is `randomised` (true or false), not a design: a
# non-randomised comparison of two groups is `parallel` with `randomised: false`.
DESIGNS = ("parallel", "split_face", "crossover", "cluster", "single_arm", "within_person")
# Design values of earlier sheets, still read: each is the design named here, not randomised
# (a `randomised: true` beside it is an error). The validation log names the one-line change.
EARLIER_DESIGNS = {"non_randomised": "parallel"}
NON_RANDOMISED = "non_randomised"
# The designs as the reports group and label studies, in their order: a parallel study that
# was not randomised is counted as a non-randomised comparison (`analysed_design`).
ANALYSED_DESIGNS = ("parallel", "split_face", "crossover", "cluster", NON_RANDOMISED,
                    "single_arm", "within_person")


def analysed_design(design, randomised) -> str:
    """The design a study is grouped and labelled by: `design`, except "non_randomised" for a
    parallel study whose `randomised` is false (so that a subgroup by design keeps randomised
    and non-randomised comparisons apart, as the earlier design value did)."""
    if design == "parallel" and (randomised is False or str(randomised).lower() == "false"):
        return NON_RANDOMISED
    return str(design)
# Within-person designs: every patient contributes both conditions, at once (both sides of the
# face or scalp, both eyes or limbs) or in turn (crossover), so that the two "arms" are the
# same patients and are analysed paired (`metareview.review.within_person`).
WITHIN_PERSON_KINDS = ("split_face", "split_scalp", "crossover", "paired_organs")
# Design values of earlier versions that name their within-person kind themselves.
DESIGNS_WITH_KIND = {"split_face": "split_face", "crossover": "crossover"}
ROLES = ("treatment", "control")
AE_ROLES = ("treatment", "control", "single")
SEVERITIES = ("any", "mild", "moderate", "severe", "serious", "death")
VALUE_TYPES = ("final", "change", "percent_change", "count")
ARM_FORMS = (
    "mean_sd",
    "mean_se",
    "mean_unlabelled",  # "mean ± x" where the source does not say whether x is an SD or an SE
    "mean_only",  # a mean printed without any dispersion
    "median_iqr",
    "median_range",
    "events_total",
    "percent_only",
    "narrative",
)
CONTRAST_FORMS = ("estimate_ci", "estimate_p", "p_value", "t_stat", "estimate_only",
                  "direction_only", "narrative", "estimate_se", "estimate_variance")
# The distribution of a printed interval or p value: z (normal) or t with its df.
CONTRAST_BASES = ("z", "t")
FAVOURS = ("treatment", "control", "none", "unclear")
CONTRAST_MEASURES = ("MD", "SMD", "RR", "OR", "RD", "percent_difference", "none")
CONTRAST_DIRECTIONS = ("treatment_minus_control", "control_minus_treatment", "unclear")
ROB_TOOLS = ("RoB2", "ROBINS-I", "RoB1")
ROB_JUDGEMENTS = {
    "RoB2": ("low", "some_concerns", "high", "no_information"),
    "ROBINS-I": ("low", "moderate", "serious", "critical", "no_information"),
    # the Cochrane tool of RevMan 5 (Higgins et al. 2011, doi:10.1136/bmj.d5928): no overall
    "RoB1": ("low", "high", "unclear"),
}
OUTCOME_TYPES = ("continuous", "binary", "proportion")
# neutral: the source and the review state no better direction (e.g. a change in weight)
OUTCOME_DIRECTIONS = ("lower_is_better", "higher_is_better", "neutral")
OUTCOME_MEASURES = ("SMD", "MD", "RR", "OR", "RD", "PLO", "PFT")
# RevMan 5's statistical methods and analysis models (`analysis_method: revman`)
POOLING_METHODS = ("MH", "IV", "Peto")
POOLING_MODELS = ("fixed", "random")
PROPORTION_FORMS = ("events_total", "percent_n", "narrative")
GRADE_DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision",
                 "publication_bias")
GRADE_JUDGEMENTS = ("not_serious", "serious", "very_serious")
SCREENING_STAGES = ("title_abstract", "full_text")
# "not_retrieved": a record that passed screening but whose report (full text, or any page
# with its methods and results) could not be reached, so that eligibility was never assessed
# (PRISMA 2020's "reports not retrieved", not an exclusion).
SCREENING_DECISIONS = ("included", "excluded", "duplicate", "not_retrieved")
# How a record was found (PRISMA 2020's two columns): empty for a search of search_log.csv
# (databases and registers); the other values are PRISMA's "other methods".
SCREENING_ROUTES = ("citation", "website", "organisation")


@dataclass(frozen=True)
class Column:
    """One column of a sheet.

    kind: "str", "int", "float", "bool" ("true"/"false") or "category" (value in `allowed`).
    minimum / exclusive_minimum / maximum bound numeric values; `required` means the cell may
    not be empty; `identifier` marks an id that may become part of a file name (a figure is
    named after its outcome), so its cells must follow `metareview.files.NAME_RULE`.
    `may_be_absent` marks a column added after reviews were extracted: a header without it is
    read as if all its cells were empty.
    """

    name: str
    kind: str = "str"
    required: bool = False
    allowed: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    description: str = ""
    may_be_absent: bool = False
    identifier: bool = False
    # category values of earlier sheets that are still read (and mapped by the loader), but
    # not offered: the codebook and the messages list `allowed` only
    earlier: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sheet:
    """A CSV file of a review folder: its columns and the columns that identify a row."""

    filename: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str = ""
    optional: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    # the name of the sheet's rules beyond its columns' own (within a row, over the whole
    # sheet, the message for a repeated key) in `metareview.review.sheet_rules.RULES`; empty
    # for a sheet with none
    rules: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _source_columns() -> tuple[Column, ...]:
    return (
        Column("source_url", required=True, description="URL, DOI or PMID of the page read"),
        Column("source_location", required=True, description='where in it, e.g. "abstract, results"'),
        Column("source_level", "category", True, SOURCE_LEVELS),
    )


STUDIES = Sheet(
    "studies.csv",
    (
        Column("study_id", required=True, description="short key, e.g. Smith2020",
               identifier=True),
        Column("citation", required=True),
        Column("year", "int", minimum=1800, maximum=2100,
               description="year of publication (empty when no page read shows it); review.yaml narrows the range"),
        Column("doi"),
        Column("pmid"),
        Column("design", "category", True, DESIGNS, earlier=tuple(EARLIER_DESIGNS),
               description="how the groups are formed; whether they were randomised goes "
                           "in `randomised` (a non-randomised comparison of two groups: "
                           "parallel, randomised false; earlier sheets' `non_randomised` is "
                           "read so)"),
        Column("within_person_kind", "category", allowed=WITHIN_PERSON_KINDS,
               may_be_absent=True,
               description="for design within_person: split_face, split_scalp, crossover or "
                           "paired_organs (both eyes, limbs, hands, ...); empty otherwise"),
        Column("randomised", "bool", True),
        Column("country"),
        Column("condition",
               description="a condition of review.yaml (free text if it lists none); empty "
                           "when the review has one population"),
        Column("intervention_class", required=True,
               description="an intervention class of review.yaml"),
        Column("intervention", required=True),
        Column("comparator", required=True, description='"none" for single-arm series'),
        Column("co_intervention",
               description='base treatment in both arms, "none", or empty when not stated'),
        Column("n_randomised", "int", minimum=1),
        Column("n_analysed", "int", minimum=1),
        Column("follow_up_weeks", "float", minimum=0),
        Column("registration"),
        *_source_columns(),
        Column("note"),
    ),
    key=("study_id",),
    rules="studies",
    description="one row per study",
)

ARMS = Sheet(
    "arms.csv",
    (
        Column("study_id", required=True),
        Column("comparison", required=True, description="id of the treatment-vs-control pair",
               identifier=True),
        Column("outcome", required=True, description="an outcome of outcomes.csv"),
        Column("timepoint_weeks", "float", minimum=0,
               description="weeks from baseline; empty when the source gives no timepoint"),
        Column("arm", required=True, description="arm or side as the source names it"),
        Column("role", "category", True, ROLES),
        Column("n", "int", minimum=1, description="analysed; patients for split-face"),
        Column("mean", "float"),
        Column("sd", "float", minimum=0, exclusive_minimum=True, description="labelled SD"),
        Column("se", "float", minimum=0, exclusive_minimum=True, description="labelled SE"),
        Column("dispersion_unlabelled", "float", minimum=0, exclusive_minimum=True,
               description='the x of "mean ± x" when the source does not say SD or SE'),
        Column("median", "float"),
        Column("q1", "float"),
        Column("q3", "float"),
        Column("min", "float"),
        Column("max", "float"),
        Column("events", "int", minimum=0),
        Column("total", "int", minimum=1),
        Column("percent", "float", minimum=0, maximum=100,
               description="percentage of the arm with the outcome, when only that is printed"),
        Column("value_type", "category", True, VALUE_TYPES),
        Column("reported_form", "category", True, ARM_FORMS),
        *_source_columns(),
        Column("note"),
    ),
    key=("study_id", "comparison", "outcome", "timepoint_weeks", "value_type", "role"),
    rules="arms",
    description="per study x comparison x outcome x timepoint x arm (a source may print both "
                "final values and changes: one row each)",
)

CONTRASTS = Sheet(
    "contrasts.csv",
    (
        Column("study_id", required=True),
        Column("comparison", required=True, identifier=True),
        Column("outcome", required=True),
        Column("timepoint_weeks", "float", minimum=0,
               description="weeks from baseline; empty when the source gives no timepoint"),
        Column("measure", "category", True, CONTRAST_MEASURES),
        Column("estimate", "float"),
        Column("ci_low", "float"),
        Column("ci_high", "float"),
        Column("ci_level", "float", minimum=0, maximum=1, exclusive_minimum=True),
        Column("p_value", "float", minimum=0, maximum=1, exclusive_minimum=True),
        Column("p_operator", "category", allowed=P_OPERATORS),
        Column("t_stat", "float"),
        Column("paired", "bool", True),
        Column("n_treatment", "int", minimum=1),
        Column("n_control", "int", minimum=1),
        Column("contrast_direction", "category", allowed=CONTRAST_DIRECTIONS),
        Column("favours", "category", allowed=FAVOURS,
               description="the arm the source says or shows is better"),
        Column("value_type", "category", allowed=VALUE_TYPES,
               description="empty when the source does not say"),
        Column("reported_form", "category", True, CONTRAST_FORMS),
        *_source_columns(),
        Column("note"),
        Column("se", "float", minimum=0, exclusive_minimum=True, may_be_absent=True,
               description="standard error of the estimate as reported (of its natural log "
                           "for a ratio), form estimate_se"),
        Column("variance", "float", minimum=0, exclusive_minimum=True, may_be_absent=True,
               description="sampling variance of the estimate as reported (of its natural "
                           "log for a ratio), form estimate_variance"),
        Column("basis", "category", allowed=CONTRAST_BASES, may_be_absent=True,
               description="the distribution of the printed interval or p value: z, or t "
                           "(with df); needed for an MD or SMD with a CI or p value, empty "
                           "means z for a ratio"),
        Column("df", "float", minimum=0, exclusive_minimum=True, may_be_absent=True,
               description="degrees of freedom of a t-based interval or p value as printed; "
                           "empty: n - 1 (paired) or n_treatment + n_control - 2"),
    ),
    key=("study_id", "comparison", "outcome", "timepoint_weeks"),
    rules="contrasts",
    description="between-arm results as reported",
    optional=True,
    notes=("for paired (within-person) results n_treatment = n_control = number of patients",),
)

ADVERSE_EVENTS = Sheet(
    "adverse_events.csv",
    (
        Column("study_id", required=True),
        Column("event", required=True, description='e.g. "erythema", "any adverse event"'),
        Column("arm", required=True),
        Column("role", "category", True, AE_ROLES),
        Column("events", "int", minimum=0),
        Column("total", "int", minimum=1),
        Column("narrative", description="what the source says when it gives no counts"),
        Column("severity", "category", allowed=SEVERITIES,
               description="empty when the source does not grade the event"),
        *_source_columns(),
        Column("note"),
    ),
    key=("study_id", "event", "arm"),
    rules="adverse_events",
    description="per study x event x arm",
    optional=True,
)

RISK_OF_BIAS = Sheet(
    "risk_of_bias.csv",
    (
        Column("study_id", required=True),
        Column("tool", "category", True, ROB_TOOLS),
        Column("domain", required=True, description='D1..D5 (RoB 2), D1..D7 (ROBINS-I), "overall"'),
        Column("judgement", required=True),
        Column("support", required=True, description="short paraphrase of what the source shows"),
        *_source_columns(),
    ),
    key=("study_id", "domain"),
    rules="risk_of_bias",
    description="per study x domain",
    optional=True,
)

OUTCOMES = Sheet(
    "outcomes.csv",
    (
        Column("outcome", required=True, identifier=True),
        Column("label", required=True),
        Column("type", "category", True, OUTCOME_TYPES),
        Column("measure", "category", True, OUTCOME_MEASURES, description="pooled measure"),
        Column("scale", required=True),
        Column("unit"),
        Column("direction", "category", True, OUTCOME_DIRECTIONS),
        Column("range_min", "float"),
        Column("range_max", "float"),
        Column("integer_scale", "bool", description="true when every score is a whole "
                                                   "number (the audit's GRIM test applies)"),
        Column("pooled_with", description="another outcome whose analysis this one joins "
                                          "(same construct on another scale or sign "
                                          "convention); empty for its own analysis",
               identifier=True),
        Column("note"),
        Column("pooling_method", "category", allowed=POOLING_METHODS, may_be_absent=True,
               description="RevMan's statistical method, used by `analysis_method: revman`"),
        Column("pooling_model", "category", allowed=POOLING_MODELS, may_be_absent=True,
               description="RevMan's analysis model, used by `analysis_method: revman`"),
    ),
    key=("outcome",),
    rules="outcomes",
    description="the machine-readable part of CODEBOOK.md",
)

SEARCH_LOG = Sheet(
    "search_log.csv",
    (
        Column("search_id", required=True),
        Column("date", required=True, description="YYYY-MM-DD"),
        Column("source", required=True, description="database or index searched"),
        Column("query", required=True),
        Column("records_seen", "int", True, minimum=0),
        Column("records_kept", "int", True, minimum=0),
        Column("note"),
    ),
    key=("search_id",),
    rules="search_log",
    description="every query run",
    optional=True,
)

SCREENING = Sheet(
    "screening.csv",
    (
        Column("record_id", required=True),
        Column("citation", required=True),
        Column("url"),
        Column("stage", "category", True, SCREENING_STAGES,
               description="what the decision was made on: the title and abstract (or the "
                           "record page) or the full text"),
        Column("decision", "category", True, SCREENING_DECISIONS,
               description="not_retrieved: passed screening, but no report with the methods "
                           "and results could be reached"),
        Column("reason", description="required when excluded or not retrieved"),
        Column("study_id", description="set when included"),
        Column("identified_via", "category", False, SCREENING_ROUTES,
               description="how the record was found: empty for a search of search_log.csv "
                           "(databases and registers); citation (citation searching), website "
                           "or organisation for other methods"),
    ),
    key=("record_id",),
    rules="screening",
    description="every record assessed and the decision on it",
    optional=True,
)

PUBLISHED = Sheet(
    "published.csv",
    (
        Column("review_id", required=True, description="e.g. Zhang2026"),
        Column("citation", required=True),
        Column("outcome", required=True, description="an outcome of outcomes.csv, or 'narrative'"),
        Column("subgroup", description="empty for the overall result"),
        Column("measure", required=True, description="SMD, MD, RR, proportion, ..."),
        Column("k", "int", minimum=1),
        Column("n_participants", "int", minimum=1),
        Column("estimate", "float"),
        Column("ci_low", "float"),
        Column("ci_high", "float"),
        Column("i2_percent", "float", minimum=0, maximum=100),
        Column("p_value_text", description='as printed, e.g. "P = 0.0006", "p < 0.001"'),
        *_source_columns(),
        Column("note"),
    ),
    key=("review_id", "outcome", "subgroup"),
    rules="published",
    description="the published reviews' results, set beside this bundle's in notebook 05",
    optional=True,
)

PROPORTIONS = Sheet(
    "proportions.csv",
    (
        Column("study_id", required=True),
        Column("outcome", required=True, description="an outcome of outcomes.csv"),
        Column("definition", description="the study's own definition, e.g. PASI 75"),
        Column("timepoint_weeks", "float", minimum=0,
               description="weeks from baseline; empty when the source gives no timepoint"),
        Column("arm", required=True, description='the group as the source names it, e.g. "vaccinated"'),
        Column("role", "category", True, ROLES,
               description="treatment (pooled as proportions) or control (a comparator arm)"),
        Column("events", "int", minimum=0),
        Column("total", "int", minimum=1),
        Column("percent", "float", minimum=0, maximum=100,
               description="the printed percentage, when the count is not printed"),
        Column("reported_form", "category", True, PROPORTION_FORMS),
        *_source_columns(),
        Column("note"),
    ),
    key=("study_id", "outcome", "definition", "timepoint_weeks", "arm"),
    rules="proportions",
    description="counts of people with an outcome in one group (single-arm series and arms "
                "analysed as proportions)",
    optional=True,
)

ORDINAL_COUNTS = Sheet(
    "ordinal_counts.csv",
    (
        Column("study_id", required=True),
        Column("comparison", required=True, identifier=True),
        Column("outcome", required=True, description="an outcome of outcomes.csv"),
        Column("timepoint_weeks", "float", minimum=0),
        Column("arm", required=True),
        Column("role", "category", True, ROLES),
        Column("grade", required=True, description='as printed, e.g. "excellent", ">75%"'),
        Column("grade_rank", "int", True, minimum=1, description="1 = the best grade"),
        Column("count", "int", minimum=0),
        Column("total", "int", minimum=1),
        Column("percent", "float", minimum=0, maximum=100,
               description="the printed percentage, when the count is not printed"),
        *_source_columns(),
        Column("note"),
    ),
    key=("study_id", "comparison", "outcome", "timepoint_weeks", "role", "grade"),
    rules="ordinal_counts",
    description="graded global assessments: people per grade per arm",
    optional=True,
)

EXTRACTION_CHECKS = Sheet(
    "extraction_checks.csv",
    (
        Column("study_id", required=True),
        Column("sheet", required=True),
        Column("field", required=True, description="row and column the two passes differ on"),
        Column("first", description="value of the first extraction"),
        Column("second", description="value of the second, independent extraction"),
        Column("resolved", description="value kept, checked against the source"),
        Column("why", required=True),
    ),
    key=("study_id", "sheet", "field"),
    description="the double extraction: every disagreement and how it was settled",
    optional=True,
)

GRADE_OVERRIDES = Sheet(
    "grade.csv",
    (
        Column("outcome", required=True, description="an outcome of outcomes.csv"),
        Column("domain", "category", True, GRADE_DOMAINS),
        Column("judgement", "category", True, GRADE_JUDGEMENTS),
        Column("reason", required=True, description="why the computed judgement is replaced"),
    ),
    key=("outcome", "domain"),
    description="GRADE judgements that replace the computed ones, each with its reason",
    optional=True,
)

SHEETS: tuple[Sheet, ...] = (
    STUDIES,
    ARMS,
    CONTRASTS,
    ADVERSE_EVENTS,
    RISK_OF_BIAS,
    OUTCOMES,
    SEARCH_LOG,
    SCREENING,
    PUBLISHED,
    PROPORTIONS,
    ORDINAL_COUNTS,
    EXTRACTION_CHECKS,
    GRADE_OVERRIDES,
)
SHEETS_BY_FILE = {s.filename: s for s in SHEETS}


def sheets_for(definitions) -> tuple[Sheet, ...]:
    """The sheets of one review: `SHEETS` with the review's vocabulary applied.

    From `definitions` (a `metareview.review.definitions.Definitions`): the year range, the
    allowed conditions and intervention classes, the extra columns of studies.csv (after
    `note`), and the columns whose cells the review requires to be filled.
    """
    adapted = []
    for sheet in SHEETS:
        required = set(definitions.required.get(sheet.filename[: -len(".csv")], ()))
        columns = []
        for column in sheet.columns:
            if sheet is STUDIES and column.name == "year":
                column = replace(column, minimum=definitions.years[0],
                                 maximum=definitions.years[1])
            elif sheet is STUDIES and column.name == "intervention_class":
                column = replace(column, kind="category",
                                 allowed=tuple(definitions.intervention_classes))
            elif sheet is STUDIES and column.name == "condition" and definitions.conditions:
                column = replace(column, kind="category", allowed=tuple(definitions.conditions))
            if column.name in required:
                column = replace(column, required=True)
            columns.append(column)
        if sheet is STUDIES:
            columns += [Column(c.name, c.kind, c.required or c.name in required, c.allowed,
                               description=c.description) for c in definitions.study_columns]
        adapted.append(replace(sheet, columns=tuple(columns)))
    return tuple(adapted)
