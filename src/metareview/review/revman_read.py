"""Reading RevMan 5 files into one neutral model: a `.rm5` review (XML), RevMan 5's CSV export
of data and analyses, or a Cochrane data package (the zip of CSV files RevMan Web exports).

The model (`RevManFile`) keeps what RevMan stored, as RevMan stored it: studies, comparisons,
outcomes with their method, measure, model, labels and stored totals, subgroups, study rows
and risk-of-bias judgements. Whatever a reader meets and cannot place goes into
`RevManFile.notes`, so that the importer lists it in extraction_notes.md.

Safety and text: an `.rm5` file is parsed by the standard library's expat parser after a
check that it declares no DOCTYPE or ENTITY (so no entity can be expanded, local or remote);
its declared encoding (RevMan 5 writes ISO-8859-1) is honoured, a file without a declaration
that is not UTF-8 is read as Windows-1252. RevMan's escaped ids (`STD-ISIS_x002d_2`) are
decoded (`ISIS-2`). A file that cannot be read raises `RevManError` with one line naming the
file and the element.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

OUTCOME_KINDS = {"DICH": "dichotomous", "CONT": "continuous", "IV": "generic"}
# RevMan's effect measures: code or name -> (measure of the sheets, method it forces)
MEASURES = {
    "OR": ("OR", None), "ODDS RATIO": ("OR", None),
    "RR": ("RR", None), "RISK RATIO": ("RR", None),
    "RD": ("RD", None), "RISK DIFFERENCE": ("RD", None),
    "MD": ("MD", None), "MEAN DIFFERENCE": ("MD", None),
    "SMD": ("SMD", None), "STANDARDIZED MEAN DIFFERENCE": ("SMD", None),
    "STD. MEAN DIFFERENCE": ("SMD", None),
    "PETO_OR": ("OR", "Peto"), "PETO ODDS RATIO": ("OR", "Peto"),
}
# Measures RevMan has that the sheets cannot pool: listed in the notes, the outcome skipped.
KNOWN_UNSUPPORTED = {"HR", "HAZARD RATIO", "OTHER", "RATE RATIO", "ODDS RATIO (NON-EVENT)"}
METHODS = {"MH": "MH", "IV": "IV", "PETO": "Peto", "INVERSE": "IV", "INVERSE VARIANCE": "IV",
           "MANTEL-HAENSZEL": "MH"}
ROB_RESULTS = {"YES": "low", "NO": "high", "UNKNOWN": "unclear", "LOW_RISK": "low",
               "HIGH_RISK": "high", "UNCLEAR_RISK": "unclear", "LOW RISK": "low",
               "HIGH RISK": "high", "UNCLEAR RISK": "unclear"}
MAX_BYTES = 200 * 1024 * 1024


class RevManError(ValueError):
    """A RevMan file that cannot be imported; the message is one line naming the element."""


@dataclass
class Totals:
    """Totals RevMan stored for an outcome or a subgroup (None where it stored none)."""

    estimate: float | None = None      # natural scale for ratios, as RevMan shows it
    ci_low: float | None = None
    ci_high: float | None = None
    chi2: float | None = None          # heterogeneity Q ("Chi²")
    df: float | None = None
    p_chi2: float | None = None
    i2: float | None = None
    tau2: float | None = None
    z: float | None = None
    p_z: float | None = None
    q_int: float | None = None         # test for subgroup differences
    p_q_int: float | None = None
    i2_q_int: float | None = None
    text: dict[str, str] = field(default_factory=dict)   # each value as stored, for digits


@dataclass
class StudyRow:
    """One study's data in one outcome (a DICH_DATA, CONT_DATA or IV_DATA element)."""

    study: str                      # the study id of `RevManFile.studies`
    events_1: float | None = None
    total_1: float | None = None
    mean_1: float | None = None
    sd_1: float | None = None
    events_2: float | None = None
    total_2: float | None = None
    mean_2: float | None = None
    sd_2: float | None = None
    # the effect as RevMan shows it (a ratio for OR and RR); for generic inverse variance,
    # after `resolve_generic`, the value pooled: ln(ratio) for OR and RR (see that function)
    estimate: float | None = None
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    weight: float | None = None
    order: float | None = None
    entered: float | None = None    # generic inverse variance: the value as entered, if kept
    text: dict[str, str] = field(default_factory=dict)


@dataclass
class Subgroup:
    number: int
    name: str
    rows: list[StudyRow] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)


@dataclass
class Outcome:
    comparison: int
    number: int
    name: str
    kind: str                       # dichotomous, continuous, generic
    element: str                    # e.g. "DICH_OUTCOME CMP-001.01" for messages
    measure: str                    # OR, RR, RD, MD, SMD
    method: str                     # MH, IV, Peto
    model: str                      # fixed, random
    group_label_1: str = ""
    group_label_2: str = ""
    graph_label_1: str = ""         # left of the forest plot
    graph_label_2: str = ""
    ci_study: float = 0.95
    ci_total: float = 0.95
    units: str = ""
    swap_events: bool = False
    log_data: bool = True           # generic inverse variance: entered as ln, shown as ratios
    show_totals: bool = True
    show_subgroup_test: bool = True
    subgroups: list[Subgroup] = field(default_factory=list)   # number 0: no subgroups
    totals: Totals = field(default_factory=Totals)

    @property
    def has_subgroups(self) -> bool:
        return any(s.number > 0 for s in self.subgroups)

    @property
    def rows(self) -> list[StudyRow]:
        return [row for subgroup in self.subgroups for row in subgroup.rows]


@dataclass
class Comparison:
    number: int
    name: str
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class Study:
    id: str                         # safe for file names: letters, digits, '-', '_'
    name: str                       # as RevMan shows it
    revman_id: str = ""
    year: int | None = None
    data_source: str = ""
    citation: str = ""
    doi: str = ""
    pmid: str = ""
    characteristics: dict[str, str] = field(default_factory=dict)


@dataclass
class RiskJudgement:
    study: str
    number: int
    item: str
    judgement: str                  # low, high, unclear
    support: str = ""


@dataclass
class RevManFile:
    source: str                     # the file's name
    format: str                     # rm5, csv, data-package
    title: str
    studies: dict[str, Study] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    risk_of_bias: list[RiskJudgement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def outcomes(self) -> list[Outcome]:
        return [o for c in self.comparisons for o in c.outcomes]


# --- text helpers -------------------------------------------------------------------------------

_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def decode_id(text: str) -> str:
    """RevMan's escaped id without its prefix: 'STD-ISIS_x002d_2' -> 'ISIS-2'."""
    text = re.sub(r"^(STD|CMP|QIT|GRP)-", "", text or "")
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def safe_id(text: str) -> str:
    """A study id made of letters, digits, '-' and '_' (accents dropped, others -> '_')."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    plain = re.sub(r"\s+", "_", plain.strip())
    plain = re.sub(r"[^A-Za-z0-9_-]+", "_", plain).strip("_-")
    plain = re.sub(r"_{2,}", "_", plain)
    if not plain or not plain[0].isalnum():
        plain = "study_" + plain.lstrip("_-") if plain else "study"
    return plain


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    # RevMan writes a decimal point; a comma can only be a thousands separator
    text = str(text).strip().replace(",", "")
    if text in ("", "NaN", "#N/A"):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _level(text: str | None) -> float:
    value = _number(str(text).rstrip("%")) if text else None
    return 0.95 if value is None else value / 100


def _yes(text: str | None, default: bool = False) -> bool:
    if text is None or str(text).strip() == "":
        return default
    return str(text).strip().upper() in ("YES", "TRUE", "Y")


def _measure(code: str | None, element: str) -> tuple[str, str | None] | None:
    """(measure, forced method), None for a known measure the sheets cannot pool."""
    key = (code or "").strip().upper()
    if key in MEASURES:
        return MEASURES[key]
    if key in KNOWN_UNSUPPORTED:
        return None
    raise RevManError(f"{element}: unknown effect measure {code!r} (RevMan 5 measures: OR, RR, "
                      "RD, PETO_OR, MD, SMD, HR, OTHER)")


def _method(code: str | None, element: str, forced: str | None, kind: str) -> str:
    if forced:
        return forced
    if not code:
        return "IV" if kind != "dichotomous" else "MH"
    key = code.strip().upper()
    if key not in METHODS:
        raise RevManError(f"{element}: unknown statistical method {code!r} (use MH, IV or "
                          "PETO)")
    return METHODS[key]


RATIO_MEASURES = ("OR", "RR")
# a study's stored interval and estimate agree on a scale when the estimate lies within this of
# the interval's centre (files round to 6 or 8 decimals; the two scales differ by far more)
CENTRE_TOLERANCE = 1e-3


def resolve_generic(outcome: Outcome, result: RevManFile) -> None:
    """Put each study of a generic inverse-variance outcome on the scale RevMan pools.

    RevMan pools what was entered: ln(OR) or ln(RR) with the SE of the log when "entered data
    are on log scale" (LOG_DATA) is set, the entered numbers as they stand when it is not.
    It shows, and stores as the study's effect, the exponential of a log entry (a ratio) with
    its interval on the ratio scale, and keeps the log itself where the format has room for
    it (`entered`: LOG_EFFECT_SIZE of an .rm5 file, "GIV Mean" of a data package). So the
    value pooled is `entered`, else ln(shown effect) with LOG_DATA, else the shown effect.

    A stored study interval checks that reading: its centre must equal the value pooled (on
    the ratio scale the centre of ln(lower), ln(upper)). When it fits the other reading
    instead, or a "ratio" is not positive, the other reading is taken and the notes say so.
    Afterwards `estimate` is the value pooled; `text["ratio"]` keeps the stored ratio's digits.
    """
    if outcome.kind != "generic":
        return
    ratio = outcome.measure in RATIO_MEASURES
    place = f"analysis {outcome.comparison}.{outcome.number} '{outcome.name}'"
    for row in outcome.rows:
        shown, shown_text = row.estimate, row.text.pop("estimate", "")
        if not ratio:
            if row.entered is not None:
                shown, shown_text = row.entered, row.text.get("entered", "")
            row.estimate = shown
            if shown_text:
                row.text["estimate"] = shown_text
            continue
        if row.entered is not None:
            row.estimate = row.entered
            if shown is not None and shown > 0 and math.isclose(
                    math.log(shown), row.entered, rel_tol=1e-6, abs_tol=1e-9):
                row.text["ratio"] = shown_text
            continue
        if shown is None:
            continue
        as_ratio = math.log(shown) if shown > 0 else None   # the stored effect is the ratio
        as_log = shown                                       # the stored effect is the log
        preferred, other = (as_ratio, as_log) if outcome.log_data else (as_log, as_ratio)
        chosen, why = preferred, ""
        centre = _interval_centre(row, outcome.log_data)
        alternative = _interval_centre(row, not outcome.log_data)
        if preferred is None:
            chosen, why = other, "is not positive, so it cannot be a ratio"
        elif (centre is None or not _near(preferred, centre)) and other is not None \
                and alternative is not None and _near(other, alternative):
            chosen, why = other, "and its interval fit the other scale"
        if why:
            scale = "ln(ratio)" if chosen is as_log else "ratio"
            result.notes.append(
                f"{place}: {row.study}'s stored effect {shown_text or shown!r} {why}; read as "
                f"a {scale} although LOG_DATA is {'YES' if outcome.log_data else 'NO'}. Check "
                "the study against the RevMan file.")
        row.estimate = chosen
        if chosen is as_ratio and shown_text:
            row.text["ratio"] = shown_text


def _interval_centre(row: StudyRow, ratio_scale: bool) -> float | None:
    """The centre of the stored study interval on the pooled scale (ln of its ends when the
    interval is shown as ratios), None when no usable interval is stored."""
    low, high = row.ci_low, row.ci_high
    if low is None or high is None or not low < high:
        return None
    if ratio_scale:
        return (math.log(low) + math.log(high)) / 2 if low > 0 else None
    return (low + high) / 2


def _near(value: float, centre: float) -> bool:
    return abs(value - centre) <= CENTRE_TOLERANCE * max(1.0, abs(centre))


def _unique_id(wanted: str, taken: set[str]) -> str:
    name, n = wanted, 2
    while name in taken:
        name, n = f"{wanted}_{n}", n + 1
    return name


# --- .rm5 (XML) -----------------------------------------------------------------------------------


def _xml_root(data: bytes, source: str) -> ElementTree.Element:
    head = data[:4096].lstrip()
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise RevManError(f"{source}: refused: the file declares a DOCTYPE or ENTITY, which a "
                          "RevMan 5 file never does (unsafe XML)")
    if not head.startswith(b"<"):
        raise RevManError(f"{source}: not an XML file (a RevMan 5 .rm5 file starts with '<')")
    declared = re.match(rb"<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", head)
    if declared is None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
            data = text.encode("utf-8")
    parser = ElementTree.XMLParser()
    try:
        parser.feed(data)
        return parser.close()
    except ElementTree.ParseError as error:
        raise RevManError(f"{source}: not well-formed XML ({error})") from None


def _text(element: ElementTree.Element | None) -> str:
    return "" if element is None else " ".join("".join(element.itertext()).split())


def _totals(element: ElementTree.Element) -> Totals:
    a = element.attrib
    names = {"estimate": "EFFECT_SIZE", "ci_low": "CI_START", "ci_high": "CI_END",
             "chi2": "CHI2", "df": "DF", "p_chi2": "P_CHI2", "i2": "I2", "tau2": "TAU2",
             "z": "Z", "p_z": "P_Z", "q_int": "Q", "p_q_int": "P_Q", "i2_q_int": "I2_Q"}
    totals = Totals(**{key: _number(a.get(attr)) for key, attr in names.items()})
    totals.text = {key: a[attr] for key, attr in names.items() if a.get(attr, "") != ""}
    return totals


def _row(element: ElementTree.Element, studies: dict[str, Study], where: str) -> StudyRow:
    a = element.attrib
    revman_id = a.get("STUDY_ID", "")
    found = next((s for s in studies.values() if s.revman_id == revman_id), None)
    if found is None:
        raise RevManError(f"{where}: {element.tag} names study {revman_id!r}, which is not "
                          "among the included studies")
    names = {"events_1": "EVENTS_1", "total_1": "TOTAL_1", "mean_1": "MEAN_1", "sd_1": "SD_1",
             "events_2": "EVENTS_2", "total_2": "TOTAL_2", "mean_2": "MEAN_2", "sd_2": "SD_2",
             "estimate": "EFFECT_SIZE", "se": "SE", "ci_low": "CI_START", "ci_high": "CI_END",
             "weight": "WEIGHT", "order": "ORDER"}
    if element.tag == "IV_DATA":
        names["entered"] = "LOG_EFFECT_SIZE"   # RevMan keeps the ln beside a ratio it shows
    row = StudyRow(study=found.id, **{k: _number(a.get(v)) for k, v in names.items()})
    row.text = {k: a[v] for k, v in names.items() if a.get(v, "") != ""}
    return row


def _rm5_studies(root, result: RevManFile) -> None:
    included = root.find("STUDIES_AND_REFERENCES/STUDIES/INCLUDED_STUDIES")
    taken: set[str] = set()
    for element in [] if included is None else included.findall("STUDY"):
        revman_id = element.get("ID", "")
        name = element.get("NAME") or decode_id(revman_id)
        study_id = _unique_id(safe_id(decode_id(revman_id) or name), taken)
        taken.add(study_id)
        year_text = re.sub(r"\D", "", element.get("YEAR", ""))[:4]
        reference = element.find("REFERENCE")
        parts = [] if reference is None else [
            _text(reference.find(tag)) for tag in ("AU", "TI", "SO", "YR", "VL", "NO", "PG")]
        citation = ". ".join(p for p in parts if p) or name
        identifiers = {i.get("TYPE", "").upper(): i.get("VALUE", "")
                       for i in element.iter("IDENTIFIER")}
        result.studies[study_id] = Study(
            id=study_id, name=name, revman_id=revman_id,
            year=int(year_text) if len(year_text) == 4 else None,
            data_source=element.get("DATA_SOURCE", ""), citation=citation,
            doi=identifiers.get("DOI", ""), pmid=identifiers.get("PUBMED", ""))
    for group in ("EXCLUDED_STUDIES", "AWAITING_STUDIES", "ONGOING_STUDIES"):
        listed = root.findall(f"STUDIES_AND_REFERENCES/STUDIES/{group}/STUDY")
        if listed:
            result.notes.append(f"{len(listed)} {group.lower().replace('_', ' ')} (not imported: "
                                "the sheets hold included studies only): "
                                + ", ".join(s.get("NAME", "") for s in listed))
    by_revman = {s.revman_id: s for s in result.studies.values()}
    for char in root.findall("CHARACTERISTICS_OF_STUDIES/CHARACTERISTICS_OF_INCLUDED_STUDIES/"
                             "INCLUDED_CHAR"):
        study = by_revman.get(char.get("STUDY_ID", ""))
        if study is None:
            continue
        for tag in ("CHAR_METHODS", "CHAR_PARTICIPANTS", "CHAR_INTERVENTIONS", "CHAR_OUTCOMES",
                    "CHAR_NOTES"):
            text = _text(char.find(tag))
            if text:
                study.characteristics[tag[5:].lower()] = text


def _rm5_risk_of_bias(root, result: RevManFile) -> None:
    by_revman = {s.revman_id: s for s in result.studies.values()}
    for item in root.iter("QUALITY_ITEM"):
        number = int(_number(item.get("NO")) or 0)
        name = _text(item.find("NAME"))
        for entry in item.iter("QUALITY_ITEM_DATA_ENTRY"):
            study = by_revman.get(entry.get("STUDY_ID", ""))
            result_code = (entry.get("RESULT") or "").upper()
            where = f"quality item {number} ({name})"
            if study is None:
                result.notes.append(f"{where}: judgement for unknown study "
                                    f"{entry.get('STUDY_ID')!r} not imported")
                continue
            if result_code not in ROB_RESULTS:
                result.notes.append(f"{where}, {study.id}: judgement {result_code!r} is not a "
                                    "RoB 1 judgement; not imported")
                continue
            group = entry.get("GROUP_ID", "")
            if any(r.study == study.id and r.number == number for r in result.risk_of_bias):
                result.notes.append(f"{where}, {study.id}: a further judgement for outcome group "
                                    f"{decode_id(group)!r} ({ROB_RESULTS[result_code]}) is not "
                                    "imported (one judgement per study and domain)")
                continue
            support = _text(entry.find("DESCRIPTION"))
            if group:
                support = f"outcome group {decode_id(group)}: {support}".rstrip(": ")
            result.risk_of_bias.append(RiskJudgement(study.id, number, name,
                                                     ROB_RESULTS[result_code], support))


# Parts of an .rm5 review the importer reads; every other part that holds text is listed
READ_SECTIONS = ("COVER_SHEET", "STUDIES_AND_REFERENCES", "CHARACTERISTICS_OF_STUDIES",
                 "QUALITY_ITEMS", "ANALYSES_AND_DATA")


def _rm5_unread_sections(root, result: RevManFile) -> None:
    """Note the review's parts that hold text and are not data of the sheets."""
    unread = [child.tag for child in root
              if child.tag not in READ_SECTIONS and _text(child)]
    cover = root.find("COVER_SHEET")
    if cover is not None and any(_text(c) for c in cover if c.tag != "TITLE"):
        unread.insert(0, "COVER_SHEET (all but the title)")
    references = root.find("STUDIES_AND_REFERENCES/OTHER_REFERENCES")
    if references is not None and _text(references):
        unread.append("STUDIES_AND_REFERENCES/OTHER_REFERENCES")
    excluded = root.find("CHARACTERISTICS_OF_STUDIES")
    if excluded is not None:
        unread += [f"CHARACTERISTICS_OF_STUDIES/{c.tag}" for c in excluded
                   if c.tag != "CHARACTERISTICS_OF_INCLUDED_STUDIES" and _text(c)]
    if unread:
        result.notes.append("parts of the review that are text, not data of the sheets, are not "
                            "imported: " + ", ".join(unread))


def _rm5_outcome(element, comparison: int, studies, result: RevManFile) -> Outcome | None:
    kind_code = element.tag.split("_", 1)[0]
    kind = OUTCOME_KINDS[kind_code]
    number = int(_number(element.get("NO")) or 0)
    where = (f"{element.tag} {element.get('ID', '')} (comparison {comparison}, outcome "
             f"{number})")
    code = element.get("EFFECT_MEASURE") or _text(element.find("EFFECT_MEASURE"))
    name = _text(element.find("NAME"))
    mapped = _measure(code, where)
    if mapped is None:
        result.notes.append(f"{where} '{name}': effect measure {code!r} cannot be pooled by the "
                            "bundle; the outcome and its data are not imported")
        return None
    measure, forced = mapped
    outcome = Outcome(
        comparison=comparison, number=number, name=name, kind=kind, element=where,
        measure=measure, method=_method(element.get("METHOD"), where, forced, kind),
        model="random" if _yes(element.get("RANDOM")) else "fixed",
        group_label_1=_text(element.find("GROUP_LABEL_1")),
        group_label_2=_text(element.find("GROUP_LABEL_2")),
        graph_label_1=_text(element.find("GRAPH_LABEL_1")),
        graph_label_2=_text(element.find("GRAPH_LABEL_2")),
        ci_study=_level(element.get("CI_STUDY")), ci_total=_level(element.get("CI_TOTAL")),
        units=element.get("UNITS", ""), swap_events=_yes(element.get("SWAP_EVENTS")),
        log_data=_yes(element.get("LOG_DATA"), default=True),
        show_totals=_yes(element.get("TOTALS"), default=True),
        show_subgroup_test=_yes(element.get("SUBGROUP_TEST"), default=True),
        totals=_totals(element))
    data_tag, subgroup_tag = f"{kind_code}_DATA", f"{kind_code}_SUBGROUP"
    direct = element.findall(data_tag)
    if direct:
        outcome.subgroups.append(Subgroup(0, "", [_row(r, studies, where) for r in direct]))
    for sub in element.findall(subgroup_tag):
        sub_number = int(_number(sub.get("NO")) or len(outcome.subgroups) + 1)
        sub_where = f"{where}, subgroup {sub_number}"
        outcome.subgroups.append(Subgroup(
            sub_number, _text(sub.find("NAME")),
            [_row(r, studies, sub_where) for r in sub.findall(data_tag)], _totals(sub)))
    known = {"NAME", "GROUP_LABEL_1", "GROUP_LABEL_2", "GRAPH_LABEL_1", "GRAPH_LABEL_2",
             "EFFECT_MEASURE", data_tag, subgroup_tag}
    for child in element:
        if child.tag not in known and _text(child):
            result.notes.append(f"{where}: element {child.tag} ('{_text(child)[:80]}') not "
                                "imported")
    if not outcome.rows:
        raise RevManError(f"{where} '{name}': the outcome has no study data "
                          f"({data_tag} elements)")
    if not outcome.log_data:
        for row in outcome.rows:   # no log was entered: LOG_EFFECT_SIZE is only for display
            row.entered = None
    resolve_generic(outcome, result)
    return outcome


def read_rm5(data: bytes, source: str) -> RevManFile:
    """Read a RevMan 5 review (.rm5 XML)."""
    root = _xml_root(data, source)
    if root.tag != "COCHRANE_REVIEW":
        raise RevManError(f"{source}: the root element is <{root.tag}>, not <COCHRANE_REVIEW>: "
                          "not a RevMan 5 review")
    result = RevManFile(source=source, format="rm5",
                        title=_text(root.find("COVER_SHEET/TITLE")) or Path(source).stem)
    _rm5_studies(root, result)
    _rm5_risk_of_bias(root, result)
    _rm5_unread_sections(root, result)
    analyses = root.find("ANALYSES_AND_DATA")
    if analyses is None:
        raise RevManError(f"{source}: no ANALYSES_AND_DATA element: the review holds no data")
    for element in analyses.findall("COMPARISON"):
        number = int(_number(element.get("NO")) or len(result.comparisons) + 1)
        comparison = Comparison(number, _text(element.find("NAME")))
        for child in element:
            tag = child.tag
            if tag in ("DICH_OUTCOME", "CONT_OUTCOME", "IV_OUTCOME"):
                outcome = _rm5_outcome(child, number, result.studies, result)
                if outcome is not None:
                    comparison.outcomes.append(outcome)
            elif tag.endswith("_OUTCOME"):
                result.notes.append(f"{tag} {child.get('ID', '')} '{_text(child.find('NAME'))}' "
                                    f"(comparison {number}): this kind of outcome is not "
                                    "imported")
        result.comparisons.append(comparison)
    if not result.outcomes:
        raise RevManError(f"{source}: ANALYSES_AND_DATA holds no outcome that can be imported")
    return result


# --- RevMan 5's CSV export ------------------------------------------------------------------------

CSV_KINDS = {"DIC": "dichotomous", "DICH": "dichotomous", "CON": "continuous",
             "CONT": "continuous", "IV": "generic", "GIV": "generic"}
CSV_REQUIRED = ("Comparison Number", "Outcome Number", "Subgroup Number", "Name")
CSV_LOG_COLUMN = "Entered data are on log scale (Generic Inverse Variance only)"


def _decode_text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _csv_totals(row: dict) -> Totals:
    names = {"estimate": "Effect Estimate", "ci_low": "CI Start", "ci_high": "CI End",
             "chi2": "Q", "df": "df", "p_chi2": "P(Q)", "i2": "I²(Q)", "tau2": "Tau²",
             "z": "Z", "p_z": "P(Z)", "q_int": "Qint", "p_q_int": "P(Qint)",
             "i2_q_int": "I²(Qint)"}
    totals = Totals(**{k: _number(row.get(v)) for k, v in names.items()})
    totals.text = {k: row[v] for k, v in names.items() if (row.get(v) or "") != ""}
    return totals


def read_csv_export(data: bytes, source: str) -> RevManFile:
    """Read RevMan 5's CSV export of data and analyses (File > Export > Data and analyses)."""
    text = _decode_text(data)
    if text.lstrip().startswith("<"):
        raise RevManError(f"{source}: this is XML, not RevMan's CSV export (name it .rm5)")
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records or not all(c in records[0] for c in CSV_REQUIRED):
        raise RevManError(f"{source}: not RevMan 5's CSV export of data and analyses (the header "
                          f"needs {', '.join(CSV_REQUIRED)})")
    header = records[0]
    rows = [dict(zip(header, r)) for r in records[1:] if any(c.strip() for c in r)]
    result = RevManFile(source=source, format="csv", title=Path(source).stem)
    taken: set[str] = set()
    by_name: dict[str, str] = {}
    comparison = outcome = subgroup = None
    for line, row in enumerate(rows, start=2):
        c = int(_number(row["Comparison Number"]) or 0)
        o = int(_number(row["Outcome Number"]) or 0)
        s = int(_number(row["Subgroup Number"]) or 0)
        name = row["Name"].strip()
        kind_code = (row.get("Data Type") or "").strip().upper()
        if o == 0:
            comparison = Comparison(c, name)
            result.comparisons.append(comparison)
            continue
        if comparison is None or comparison.number != c:
            raise RevManError(f"{source}, line {line}: outcome {c}.{o} has no comparison row")
        where = f"CSV line {line} (comparison {c}, outcome {o})"
        is_new_outcome = outcome is None or (outcome.comparison, outcome.number) != (c, o)
        if is_new_outcome:
            if kind_code not in CSV_KINDS:
                if kind_code:
                    result.notes.append(f"{where} '{name}': data type {kind_code!r} is not "
                                        "imported")
                    outcome = Outcome(c, o, name, "skipped", where, "", "", "")
                    continue
                raise RevManError(f"{where}: the outcome row has no Data Type")
            kind = CSV_KINDS[kind_code]
            mapped = _measure(row.get("Effect Measure"), where)
            if mapped is None:
                result.notes.append(f"{where} '{name}': effect measure "
                                    f"{row.get('Effect Measure')!r} cannot be pooled by the "
                                    "bundle; the outcome and its data are not imported")
                outcome = Outcome(c, o, name, "skipped", where, "", "", "")
                continue
            model = (row.get("Analysis Model") or "Fixed").strip().lower()
            outcome = Outcome(
                comparison=c, number=o, name=name, kind=kind, element=where,
                measure=mapped[0],
                method=_method(row.get("Statistical Method"), where, mapped[1], kind),
                model="random" if model.startswith("random") else "fixed",
                group_label_1=row.get("Group Label 1", "").strip(),
                group_label_2=row.get("Group Label 2", "").strip(),
                graph_label_1=row.get("Left Graph Label", "").strip(),
                graph_label_2=row.get("Right Graph Label", "").strip(),
                swap_events=_yes(row.get("Swap event and non-event")),
                log_data=_yes(row.get(CSV_LOG_COLUMN), default=True),
                totals=_csv_totals(row))
            comparison.outcomes.append(outcome)
            subgroup = None
            continue
        if outcome.kind == "skipped":
            continue
        if s > 0 and kind_code:
            # a subgroup's row carries the outcome's data type; its studies' rows do not
            subgroup = Subgroup(s, name, totals=_csv_totals(row))
            outcome.subgroups.append(subgroup)
            continue
        if subgroup is None or subgroup.number != s:
            subgroup = Subgroup(s, "")
            outcome.subgroups.append(subgroup)
        if name not in by_name:
            study_id = _unique_id(safe_id(name), taken)
            taken.add(study_id)
            by_name[name] = study_id
            year = re.sub(r"\D", "", row.get("Year of study", ""))[:4]
            result.studies[study_id] = Study(id=study_id, name=name, citation=name,
                                             year=int(year) if len(year) == 4 else None)
        names = {"events_1": "Events 1", "total_1": "Total 1", "mean_1": "Mean 1",
                 "sd_1": "SD 1", "events_2": "Events 2", "total_2": "Total 2",
                 "mean_2": "Mean 2", "sd_2": "SD 2", "estimate": "Effect Estimate",
                 "se": "SE", "ci_low": "CI Start", "ci_high": "CI End", "weight": "Weight",
                 "order": "User defined order"}
        study_row = StudyRow(by_name[name], **{k: _number(row.get(v)) for k, v in names.items()})
        study_row.text = {k: row[v] for k, v in names.items() if (row.get(v) or "") != ""}
        subgroup.rows.append(study_row)
    for o in result.outcomes:
        if not o.rows:
            raise RevManError(f"{source}: {o.element} '{o.name}': the outcome has no study data")
        resolve_generic(o, result)
    if not result.outcomes:
        raise RevManError(f"{source}: the export holds no outcome that can be imported")
    return result


# --- Cochrane data package (RevMan Web) --------------------------------------------------------

PACKAGE_KINDS = {"DICHOTOMOUS": "dichotomous", "CONTINUOUS": "continuous",
                 "GENERIC INVERSE VARIANCE": "generic", "INVERSE VARIANCE": "generic"}


PACKAGE_TABLES = ("data-rows", "overall-estimates-and-settings", "subgroup-estimates",
                  "study-information", "risk-of-bias")


def _package_tables(data: bytes, source: str) -> tuple[dict[str, list[dict]], list[str]]:
    """The package's CSV tables by kind, and the names of the files that are not read."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise RevManError(f"{source}: not a zip archive") from None
    unused: list[str] = []
    inner = [n for n in archive.namelist() if n.endswith("-data.zip")]
    if inner and not any(n.endswith("data-rows.csv") for n in archive.namelist()):
        # the download of a review: the article, figures and the data zip inside
        unused = [n for n in archive.namelist() if n != inner[0] and not n.endswith("/")]
        if archive.getinfo(inner[0]).file_size > MAX_BYTES:
            raise RevManError(f"{source}: {inner[0]} is too large")
        archive = zipfile.ZipFile(io.BytesIO(archive.read(inner[0])))
    tables = {}
    for name in archive.namelist():
        key = next((k for k in PACKAGE_TABLES
                    if name.endswith(f"-{k}.csv") or name.endswith(f"/{k}.csv")), None)
        if key is None:
            if not name.endswith("/"):
                unused.append(name)
            continue
        if archive.getinfo(name).file_size > MAX_BYTES:
            raise RevManError(f"{source}: {name} is too large")
        text = _decode_text(archive.read(name))
        tables[key] = list(csv.DictReader(io.StringIO(text, newline="")))
    if "data-rows" not in tables or "overall-estimates-and-settings" not in tables:
        raise RevManError(f"{source}: not a Cochrane data package (no *-data-rows.csv and "
                          "*-overall-estimates-and-settings.csv)")
    return tables, unused


def read_data_package(data: bytes, source: str) -> RevManFile:
    """Read a Cochrane data package: the zip of CSV files RevMan Web exports."""
    tables, unused = _package_tables(data, source)
    result = RevManFile(source=source, format="data-package", title=Path(source).stem)
    if unused:
        result.notes.append("files of the package that are not imported (text, figures or "
                            "references, not data of the sheets): "
                            + ", ".join(n.rsplit("/", 1)[-1] for n in unused))
    taken: set[str] = set()
    by_name: dict[str, str] = {}
    for info in tables.get("study-information", []):
        name = (info.get("Study") or "").strip()
        study_id = _unique_id(safe_id(name), taken)
        taken.add(study_id)
        by_name[name] = study_id
        year = re.sub(r"\D", "", info.get("Year", ""))[:4]
        characteristics = {k[6:].lower(): v for k, v in info.items()
                           if k and k.startswith("Char: ") and v}
        result.studies[study_id] = Study(study_id, name, citation=name,
                                         year=int(year) if len(year) == 4 else None,
                                         data_source=info.get("Data source", ""),
                                         characteristics=characteristics)
    comparisons: dict[int, Comparison] = {}
    outcomes: dict[tuple[int, int], Outcome] = {}
    for row in tables["overall-estimates-and-settings"]:
        c, o = int(_number(row["Analysis group"]) or 0), int(_number(row["Analysis number"]) or 0)
        where = f"analysis {c}.{o}"
        comparison = comparisons.setdefault(c, Comparison(c, row.get("Analysis group name", "")))
        kind = PACKAGE_KINDS.get((row.get("Data type") or "").strip().upper())
        if kind is None:
            result.notes.append(f"{where} '{row.get('Analysis name')}': data type "
                                f"{row.get('Data type')!r} is not imported")
            continue
        mapped = _measure(row.get("Effect measure"), where)
        if mapped is None:
            result.notes.append(f"{where}: effect measure {row.get('Effect measure')!r} cannot "
                                "be pooled by the bundle; not imported")
            continue
        columns = {"estimate": "Mean", "ci_low": "CI start", "ci_high": "CI end",
                   "chi2": "Heterogeneity Chi²", "df": "Heterogeneity df",
                   "p_chi2": "Heterogeneity P", "i2": "Heterogeneity I²",
                   "tau2": "Heterogeneity Tau²", "z": "Effect Z", "p_z": "Effect P",
                   "q_int": "Subgroup Chi²", "p_q_int": "Subgroup P", "i2_q_int": "Subgroup I²"}
        totals = Totals(**{k: _number(row.get(v)) for k, v in columns.items()})
        totals.text = {k: row[v] for k, v in columns.items() if (row.get(v) or "").strip()}
        model = (row.get("Analysis model") or "").strip().lower()
        outcome = Outcome(
            comparison=c, number=o, name=row.get("Analysis name", ""), kind=kind, element=where,
            measure=mapped[0],
            method=_method(row.get("Statistical method"), where, mapped[1], kind),
            model="random" if model.startswith("random") else "fixed",
            group_label_1=row.get("Experimental group label", ""),
            group_label_2=row.get("Control group label", ""),
            ci_study=_level(row.get("Study CI")), ci_total=_level(row.get("Estimate CI")),
            units=row.get("Unit of effect measure", ""),
            swap_events=_yes(row.get("Swap event and non-event")),
            log_data=_yes(row.get("Log-scale data"), default=True),
            show_totals=_yes(row.get("Overall estimates"), default=True),
            show_subgroup_test=_yes(row.get("Test for subgroup differences"), default=True),
            totals=totals)
        if not (totals.estimate or totals.ci_low or totals.ci_high):
            outcome.totals = Totals()   # RevMan Web wrote zeros: nothing was computed
            result.notes.append(f"{where} '{outcome.name}': the package stores no computed "
                                "totals (all zero); none are compared")
        comparison.outcomes.append(outcome)
        outcomes[(c, o)] = outcome
    result.comparisons = [comparisons[k] for k in sorted(comparisons)]
    subgroup_numbers: dict[tuple[int, int, str], int] = {}
    for row in tables.get("subgroup-estimates", []):
        key = (int(_number(row["Analysis group"]) or 0), int(_number(row["Analysis number"]) or 0),
               row.get("Subgroup", ""))
        subgroup_numbers[key] = int(_number(row.get("Subgroup number")) or 0)
    for row in tables["data-rows"]:
        c, o = int(_number(row["Analysis group"]) or 0), int(_number(row["Analysis number"]) or 0)
        outcome = outcomes.get((c, o))
        if outcome is None:
            continue
        name = (row.get("Study") or "").strip()
        if name not in by_name:
            study_id = _unique_id(safe_id(name), taken)
            taken.add(study_id)
            by_name[name] = study_id
            result.studies[study_id] = Study(study_id, name, citation=name)
        label = row.get("Subgroup", "")
        number = subgroup_numbers.get((c, o, label), 0 if not label else
                                      len([s for s in outcome.subgroups if s.number]) + 1)
        subgroup = next((s for s in outcome.subgroups if s.name == label), None)
        if subgroup is None:
            subgroup = Subgroup(number, label)
            outcome.subgroups.append(subgroup)
        generic = outcome.kind == "generic"
        columns = {"events_1": "Experimental cases", "total_1": "Experimental N",
                   "mean_1": "Experimental mean", "sd_1": "Experimental SD",
                   "events_2": "Control cases", "total_2": "Control N",
                   "mean_2": "Control mean", "sd_2": "Control SD",
                   "estimate": "Mean", "ci_low": "CI start", "ci_high": "CI end",
                   "weight": "Weight"}
        if generic:   # GIV Mean and GIV SE are the numbers entered, Mean the effect shown
            columns.update(se="GIV SE", entered="GIV Mean")
        study_row = StudyRow(by_name[name],
                             **{k: _number(row.get(v)) for k, v in columns.items()})
        study_row.text = {k: row[v] for k, v in columns.items() if (row.get(v) or "").strip()}
        subgroup.rows.append(study_row)
        if (row.get("Footnotes") or "").strip():
            result.notes.append(f"{outcome.element}, {name}: footnote not imported: "
                                f"{row['Footnotes'].strip()}")
    for judgement_row in tables.get("risk-of-bias", []):
        study = by_name.get((judgement_row.get("Study") or "").strip())
        for number, column in enumerate([k for k in judgement_row if k and
                                         k.startswith("Domain (judgement): ")], start=1):
            item = column.split(": ", 1)[1]
            value = (judgement_row.get(column) or "").strip()
            code = ROB_RESULTS.get(value.upper())
            if study is None or code is None:
                if value and value.lower() != "not applicable":
                    result.notes.append(f"risk of bias, {judgement_row.get('Study')}, {item}: "
                                        f"{value!r} not imported")
                continue
            support = judgement_row.get(f"Domain (support): {item}", "")
            result.risk_of_bias.append(RiskJudgement(study, number, item, code, support))
    for outcome in result.outcomes:
        if not outcome.rows:
            raise RevManError(f"{source}: {outcome.element} '{outcome.name}': the outcome has no "
                              "study data")
        resolve_generic(outcome, result)
    return result


def read_revman(path: str | Path) -> RevManFile:
    """Read a RevMan file by its content: .rm5 XML, RevMan 5's CSV export, or a data package."""
    path = Path(path)
    if not path.is_file():
        raise RevManError(f"{path}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise RevManError(f"{path.name}: larger than {MAX_BYTES // 2**20} MiB; not read")
    data = path.read_bytes()
    if not data.strip():
        raise RevManError(f"{path.name}: the file is empty")
    if data.startswith(b"PK"):
        return read_data_package(data, path.name)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return read_rm5(data, path.name)
    if path.suffix.lower() == ".rm5":
        raise RevManError(f"{path.name}: not an XML file (a RevMan 5 .rm5 file starts with '<')")
    return read_csv_export(data, path.name)


__all__ = ["RevManError", "RevManFile", "decode_id", "read_revman", "safe_id"]
