"""A review's own definitions: `data/raw/<review>/review.yaml`.

The package's schema (`metareview.review.schema`) holds the structural rules every review
shares: columns, types, keys, provenance, facts of nature (SD > 0, events <= total). The
review's file holds its vocabulary and analysis plan, so that a new review is a new folder and
no code:

```yaml
title: Mesenchymal stem cells for immune-mediated skin diseases
question: In people with ..., how often does MSC therapy ...?
years: [2016, 2026]                 # the range of studies.csv `year`
conditions:                         # allowed `condition` values and their labels
  psoriasis: Psoriasis
intervention_classes:               # allowed `intervention_class` values and their labels
  msc: Mesenchymal stem cells
main_analysis:                      # optional: what the main analysis keeps
  label: Autologous cell therapies
  intervention_classes: [svf, fat_grafting]   # only these classes
  exclude_studies: [Smith2020]                # and not these studies
study_columns:                      # optional extra columns of studies.csv
  - {name: route, kind: category, allowed: [intravenous, local], description: ...}
  - {name: latitude, kind: float, description: absolute latitude of the trial site}
subgroups: [condition, intervention_class, design]     # categorical columns of studies.csv
moderators:                                           # meta-regression, one at a time
  - {column: latitude, kind: continuous}
  - {column: route, kind: categorical}   # a factor: dummies, the first level the reference
favours: {treatment: MSC therapy, control: control}
required:                            # columns whose cells this review requires to be filled
  arms: [timepoint_weeks]
population: People with psoriasis, ... # optional: the summary of findings' header
setting: Outpatient dermatology
intervention: MSC therapy
comparison: Placebo or standard care
indirectness:                        # optional: studies outside the question, and how (GRADE)
  Smith2020: population of children, the question asks about adults
harms: [any_adverse_event, death]    # optional: harm outcomes, shown in the summary of findings
comparisons:                         # optional: labels of comparison ids, and their kind
  msc_vs_placebo: MSC vs placebo                      # add_on (the default), or
  msc_vs_steroid: {label: MSC vs steroids, kind: head_to_head}   # head_to_head or placebo
revman: {...}                        # written by `make import-revman`: RevMan's comparisons,
                                     # outcomes, labels and subgroups (metareview.review.revman)
```

`load_definitions(folder)` reads and checks the file and raises `DefinitionError` naming the
file, the key, the value and the rule. The file is held to the sheets' standard: a key not
listed above, at any level, is an error (with the closest key); `required` names sheets and
their columns; booleans are YAML's true and false (a quoted 'false' is refused, since Python
reads it as true); labels are text; an extra study column may not reuse a name of
studies.csv. Study ids (`main_analysis.exclude_studies`, `indirectness`) are checked against
studies.csv by `metareview.review.sheets.load_review`, which has the sheet.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metareview.files import NAME_RULE, display_path, is_safe_name, shorten
from metareview.review import schema, yaml_files

DEFINITIONS_FILE = "review.yaml"
COLUMN_KINDS = ("str", "int", "float", "bool", "category")
MODERATOR_KINDS = ("continuous", "categorical")
# Columns of studies.csv a review may analyse besides its own extra columns.
STUDY_LEVEL_COLUMNS = ("year", "design", "randomised", "country", "condition",
                       "intervention_class", "co_intervention", "n_randomised", "n_analysed",
                       "follow_up_weeks")
_KEYS = ("title", "question", "years", "conditions", "intervention_classes", "main_analysis",
         "study_columns", "subgroups", "moderators", "favours", "required", "population",
         "setting", "intervention", "comparison", "indirectness", "comparisons", "harms",
         "revman")
COMPARISON_KINDS = ("add_on", "head_to_head", "placebo")
# The keys of each nested mapping: any other key is a typo (`exclude_study`, `treatmnt`,
# `kin`), never silently ignored.
MAIN_ANALYSIS_KEYS = ("label", "intervention_classes", "exclude_studies")
FAVOURS_KEYS = ("treatment", "control")
STUDY_COLUMN_KEYS = ("name", "kind", "allowed", "description", "required")
MODERATOR_KEYS = ("column", "kind")


class DefinitionError(ValueError):
    """review.yaml is missing, unreadable, or breaks a rule: `file`, `key`, `value`, `rule` and
    `fix` say where and how to mend it."""

    def __init__(self, file: str, key: str | None, value: Any, rule: str, fix: str) -> None:
        self.file, self.key, self.value, self.rule, self.fix = file, key, value, rule, fix
        where = f"{key}" + ("" if value is None else f" = {shorten(value)}") if key else ""
        super().__init__(f"{file}: {where + ': ' if where else ''}{rule} Fix: {fix}")


@dataclass(frozen=True)
class StudyColumn:
    """An extra column of studies.csv that a review declares (see `metareview.review.schema`)."""

    name: str
    kind: str = "str"
    allowed: tuple[str, ...] = ()
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Moderator:
    """A column of studies.csv used in meta-regression, continuous or categorical."""

    column: str
    kind: str = "continuous"


@dataclass(frozen=True)
class Definitions:
    """The parsed review.yaml; see the module docstring for every key."""

    title: str
    question: str = ""
    years: tuple[int, int] = (1800, 2100)
    conditions: dict[str, str] = field(default_factory=dict)
    intervention_classes: dict[str, str] = field(default_factory=dict)
    main_label: str = ""
    main_classes: tuple[str, ...] = ()
    main_excluded: tuple[str, ...] = ()
    study_columns: tuple[StudyColumn, ...] = ()
    subgroups: tuple[str, ...] = ("intervention_class", "design")
    moderators: tuple[Moderator, ...] = ()
    favours_treatment: str = "treatment"
    favours_control: str = "control"
    required: dict[str, tuple[str, ...]] = field(default_factory=dict)
    revman: dict[str, Any] = field(default_factory=dict)
    population: str = ""
    setting: str = ""
    intervention: str = ""
    comparison: str = ""
    indirect_studies: dict[str, str] = field(default_factory=dict)
    comparison_labels: dict[str, str] = field(default_factory=dict)
    comparison_kinds: dict[str, str] = field(default_factory=dict)
    harms: tuple[str, ...] = ()

    @property
    def asks_about_harms(self) -> bool:
        """True when the review names harm outcomes (their rows join the summary of findings)."""
        return bool(self.harms)

    @property
    def has_main_analysis(self) -> bool:
        """True when the main analysis keeps only some studies (by class, or by name)."""
        return bool(self.main_classes) or bool(self.main_excluded)

    def in_main_analysis(self, study_id: str, intervention_class: str) -> bool:
        """Does a study belong to the main analysis (every study when none is defined)?"""
        if study_id in self.main_excluded:
            return False
        return not self.main_classes or intervention_class in self.main_classes

    def label_of(self, column: str, value: str) -> str:
        """The label of a condition or intervention class, else the value itself."""
        table = {"condition": self.conditions,
                 "intervention_class": self.intervention_classes}.get(column, {})
        return table.get(value, str(value).replace("_", " "))


def _fail(file: str, key: str, value: Any, rule: str, fix: str) -> DefinitionError:
    return DefinitionError(file, key, value, rule, fix)


def _did_you_mean(name: Any, options) -> str:
    close = difflib.get_close_matches(str(name), list(options), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _key_text(key: Any) -> str:
    """A key as a message shows it: plainly when it is a short word, else quoted and cut."""
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", key):
        return key
    return shorten(key, 40)


def _known_keys(file, where: str, mapping: dict, allowed: tuple[str, ...]) -> None:
    """A key of a nested mapping that is not one of `allowed` is an error naming it."""
    for key in mapping:
        if key not in allowed:
            shown = _key_text(key)
            raise _fail(file, f"{where}.{shown}" if where else shown, None,
                        f"is not a key of {where or 'review.yaml'}.",
                        f"{_did_you_mean(key, allowed)}keys are: {', '.join(allowed)}.")


def _boolean(file, key, value, default: bool = False) -> bool:
    """true or false as YAML writes them; 'false' in quotes, yes, 1 are refused (bool('false')
    would be True)."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(file, key, value, "must be true or false (unquoted).",
                    f"write `{key.rsplit('.', 1)[-1]}: true` or `false` without quotes.")
    return value


def _text(file, key, value, default: str) -> str:
    """A label: text (a number is accepted as its digits), never a list or a mapping."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _fail(file, key, value, "must be text.", f"write `{key.rsplit('.', 1)[-1]}: "
                    "...` as a short phrase.")
    return str(value)


def _ids(file, key, names) -> None:
    """Ids of review.yaml become values of the sheets and parts of file names: one rule."""
    for name in names:
        if not is_safe_name(name):
            raise _fail(file, key, name, f"is not a usable id: use {NAME_RULE}.",
                        "rename it here and in the sheets that use it.")


def _labels(file, key, value) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        _ids(file, key, value)
        return {v: v.replace("_", " ") for v in value}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _fail(file, key, value, "must map each allowed value to its label.",
                    f"write e.g. `{key}: {{svf: Stromal vascular fraction}}`.")
    _ids(file, key, value)
    return {k: str(v) for k, v in value.items()}


def _string_list(file, key, value, known: set[str] | None = None, ids: bool = False,
                 what: str = "columns of studies.csv",
                 rule: str = "names columns studies.csv does not have.") -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(file, key, value, "must be a list of names.", f"write e.g. `{key}: [a, b]`.")
    if ids:
        _ids(file, key, value)
    if known is not None:
        unknown = [v for v in value if v not in known]
        if unknown:
            raise _fail(file, key, unknown, rule,
                        f"{_did_you_mean(unknown[0], sorted(known))}use {what}: "
                        f"{', '.join(sorted(known))}.")
    return tuple(value)


def _study_columns(file, value) -> tuple[StudyColumn, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(file, "study_columns", value, "must be a list of columns.",
                    "write e.g. `study_columns: [{name: route, kind: str}]`.")
    columns = []
    builtin = schema.STUDIES.names
    for index, item in enumerate(value):
        where = f"study_columns[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _fail(file, where, item, "needs a name.", "write `{name: route, kind: str}`.")
        _known_keys(file, where, item, STUDY_COLUMN_KEYS)
        name = item["name"]
        _ids(file, f"{where}.name", [name])
        if name in builtin:
            raise _fail(file, f"{where}.name", name, "is a column studies.csv has already "
                        "(its kind and rules are the schema's).",
                        "give the extra column another name, or drop it and use "
                        f"studies.csv's own {name}.")
        if name in {c.name for c in columns}:
            raise _fail(file, f"{where}.name", name, "is declared twice.",
                        "keep one of the two entries.")
        kind = item.get("kind", "str")
        if not isinstance(kind, str) or kind not in COLUMN_KINDS:
            raise _fail(file, f"{where}.kind", kind, "is not a column kind.",
                        f"{_did_you_mean(kind, COLUMN_KINDS)}use one of "
                        f"{', '.join(COLUMN_KINDS)}.")
        allowed = item.get("allowed")
        if allowed is not None and kind != "category":
            raise _fail(file, f"{where}.allowed", allowed, f"is only for kind category (this "
                        f"column is {kind}).", "set `kind: category` or remove allowed.")
        if allowed is not None and (not isinstance(allowed, list) or not all(
                isinstance(v, str) and v.strip() for v in allowed)):
            raise _fail(file, f"{where}.allowed", allowed, "must be a list of values (text).",
                        "write e.g. `allowed: [intravenous, local]` (quote values that look "
                        "like numbers or true/false).")
        allowed = tuple(allowed or ())
        if kind == "category" and not allowed:
            raise _fail(file, f"{where}.allowed", None, "a category column needs its values.",
                        "list them, e.g. `allowed: [intravenous, local]`.")
        repeated = sorted({v for v in allowed if allowed.count(v) > 1})
        if repeated:
            raise _fail(file, f"{where}.allowed", repeated, "lists a value twice.",
                        "keep each value once.")
        columns.append(StudyColumn(name, kind, allowed,
                                   _text(file, f"{where}.description", item.get("description"),
                                         ""),
                                   _boolean(file, f"{where}.required", item.get("required"))))
    return tuple(columns)


def _moderators(file, value, known: set[str]) -> tuple[Moderator, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(file, "moderators", value, "must be a list.",
                    "write e.g. `moderators: [{column: latitude, kind: continuous}]`.")
    found = []
    for index, item in enumerate(value):
        where = f"moderators[{index}]"
        if isinstance(item, str):
            item = {"column": item}
        if isinstance(item, dict):
            _known_keys(file, where, item, MODERATOR_KEYS)
        if not isinstance(item, dict) or not isinstance(item.get("column"), str) or (
                item["column"] not in known):
            raise _fail(file, where, item, "must name a column of studies.csv.",
                        f"use one of: {', '.join(sorted(known))}.")
        kind = item.get("kind", "continuous")
        if not isinstance(kind, str) or kind not in MODERATOR_KINDS:
            raise _fail(file, f"{where}.kind", kind, "is not a moderator kind.",
                        "use continuous or categorical.")
        found.append(Moderator(item["column"], kind))
    return tuple(found)


def _revman(file, value) -> dict[str, Any]:
    """The `revman` block as written by the importer (checked by metareview.review.revman)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not isinstance(value.get("comparisons", []), list):
        raise _fail(file, "revman", None, "must be the mapping `make import-revman` writes.",
                    "import the RevMan file again, or delete the `revman` block.")
    return value


def parse_definitions(data: Any, file: str = DEFINITIONS_FILE) -> Definitions:
    """Check the content of a review.yaml (already read as YAML) and return its Definitions."""
    if not isinstance(data, dict):
        raise _fail(file, "(file)", None, "must be a YAML mapping of keys to values.",
                    "start from the template `make new-review` writes.")
    _known_keys(file, "", data, _KEYS)
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _fail(file, "title", title, "is required.", "give the review's title.")
    years = data.get("years", [1800, 2100])
    if (not isinstance(years, list) or len(years) != 2
            or not all(isinstance(y, int) and not isinstance(y, bool) for y in years)
            or years[0] > years[1]):
        raise _fail(file, "years", years, "must be [first, last], two whole years in order.",
                    "write e.g. `years: [1948, 2026]`.")
    classes = _labels(file, "intervention_classes", data.get("intervention_classes"))
    if not classes:
        raise _fail(file, "intervention_classes", None, "needs at least one class.",
                    "list the classes studies.csv may use, with their labels.")
    conditions = _labels(file, "conditions", data.get("conditions"))
    main = data.get("main_analysis") or {}
    if not isinstance(main, dict):
        raise _fail(file, "main_analysis", main, "must be a mapping.",
                    "write `main_analysis: {label: ..., intervention_classes: [...]}`.")
    _known_keys(file, "main_analysis", main, MAIN_ANALYSIS_KEYS)
    main_classes = _string_list(file, "main_analysis.intervention_classes",
                                main.get("intervention_classes"), set(classes),
                                what="classes of intervention_classes",
                                rule="names classes intervention_classes does not list.")
    main_excluded = _string_list(file, "main_analysis.exclude_studies",
                                 main.get("exclude_studies"), ids=True)
    extra = _study_columns(file, data.get("study_columns"))
    known = set(STUDY_LEVEL_COLUMNS) | {c.name for c in extra}
    subgroups = _string_list(file, "subgroups",
                             data.get("subgroups", ["intervention_class", "design"]), known)
    favours = data.get("favours") or {}
    if not isinstance(favours, dict):
        raise _fail(file, "favours", favours, "must be a mapping.",
                    "write `favours: {treatment: cell therapy, control: control}`.")
    _known_keys(file, "favours", favours, FAVOURS_KEYS)
    comparisons = _comparisons(file, data.get("comparisons"))
    required = _required(file, data.get("required"), extra)
    return Definitions(
        title=title.strip(),
        question=_optional_text(file, "question", data.get("question")),
        years=(years[0], years[1]),
        conditions=conditions,
        intervention_classes=classes,
        main_label=_text(file, "main_analysis.label", main.get("label"), ""),
        main_classes=main_classes,
        main_excluded=main_excluded,
        study_columns=extra,
        subgroups=subgroups,
        moderators=_moderators(file, data.get("moderators"), known),
        favours_treatment=_text(file, "favours.treatment", favours.get("treatment"),
                                "treatment"),
        favours_control=_text(file, "favours.control", favours.get("control"), "control"),
        required=required,
        population=_optional_text(file, "population", data.get("population")),
        setting=_optional_text(file, "setting", data.get("setting")),
        intervention=_optional_text(file, "intervention", data.get("intervention")),
        comparison=_optional_text(file, "comparison", data.get("comparison")),
        indirect_studies=_text_map(file, "indirectness", data.get("indirectness")),
        comparison_labels=comparisons[0],
        comparison_kinds=comparisons[1],
        harms=_string_list(file, "harms", data.get("harms"), ids=True),
        revman=_revman(file, data.get("revman")),
    )


def _required(file, value, extra: tuple[StudyColumn, ...]) -> dict[str, tuple[str, ...]]:
    """`required: {sheet: [column, ...]}`: every sheet a sheet of the schema, every column one
    of that sheet's (for studies, the review's extra columns too)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(file, "required", value, "must map sheet names to columns.",
                    "write e.g. `required: {arms: [timepoint_weeks]}`.")
    sheets = {sheet.filename[: -len(".csv")]: sheet for sheet in schema.SHEETS}
    found = {}
    for name, columns in value.items():
        sheet = sheets.get(name) if isinstance(name, str) else None
        if sheet is None:
            raise _fail(file, f"required.{_key_text(name)}", None, "is not a sheet.",
                        f"{_did_you_mean(name, sheets)}sheets are: {', '.join(sheets)}.")
        known = list(sheet.names) + ([c.name for c in extra] if sheet is schema.STUDIES else [])
        listed = _string_list(file, f"required.{name}", columns)
        unknown = [c for c in listed if c not in known]
        if unknown:
            raise _fail(file, f"required.{name}", unknown, f"names columns {sheet.filename} "
                        "does not have.", f"{_did_you_mean(unknown[0], known)}columns of "
                        f"{sheet.filename}: {', '.join(known)}.")
        found[name] = listed
    return found


def _optional_text(file, key, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(file, key, None, "must be text.", f"write `{key}: ...` as one sentence.")
    return value.strip()


def _text_map(file, key, value) -> dict[str, str]:
    """A mapping of ids to sentences (`indirectness: {Park2019: population ...}`)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) and v.strip()
                                              for v in value.values()):
        raise _fail(file, key, None, "must map study ids to a sentence each.",
                    f"write e.g. `{key}: {{Smith2020: population of children, not adults}}`.")
    _ids(file, key, [str(k) for k in value])
    return {str(k): v.strip() for k, v in value.items()}


def _comparisons(file, value) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, kinds) of review.yaml's `comparisons`: id -> label, or id -> {label, kind}."""
    if value is None:
        return {}, {}
    if not isinstance(value, dict):
        raise _fail(file, "comparisons", None, "must map comparison ids to a label or to "
                    "{label, kind}.", "write e.g. `comparisons: {fat_vs_laser: {label: Fat "
                    "grafting vs laser, kind: head_to_head}}`.")
    labels, kinds = {}, {}
    _ids(file, "comparisons", [str(k) for k in value])
    for name, entry in value.items():
        entry = {"label": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or set(entry) - {"label", "kind"}:
            raise _fail(file, f"comparisons.{name}", None, "must be a label or a mapping "
                        "with label and kind.", "write `{label: ..., kind: add_on}`.")
        kind = str(entry.get("kind", "add_on"))
        if kind not in COMPARISON_KINDS:
            raise _fail(file, f"comparisons.{name}.kind", kind, "is not a comparison kind.",
                        f"use one of: {', '.join(COMPARISON_KINDS)}.")
        if entry.get("label"):
            labels[str(name)] = str(entry["label"])
        kinds[str(name)] = kind
    return labels, kinds


def load_definitions(folder: str | Path) -> Definitions:
    """Read and check `<folder>/review.yaml`."""
    path = Path(folder) / DEFINITIONS_FILE
    shown = display_path(path)
    if not path.is_file():
        raise DefinitionError(
            shown, None, None, "the review's definitions file is missing.",
            f"`make new-review NAME={Path(folder).name}` writes a template for a new review; "
            "for an existing folder, copy review.yaml from another review and edit it.")
    try:
        data = yaml_files.read_file(path)
    except yaml_files.YamlRefused as error:
        raise DefinitionError(shown, None, None, f"{error}.",
                              "write the file out plainly, each key once.") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise DefinitionError(shown, None, None, f"not readable as YAML ({error}).",
                              "check the indentation and quoting near the position named."
                              ) from None
    return parse_definitions(data, shown)
