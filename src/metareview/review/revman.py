"""Import a RevMan 5 review into a review folder, and export a review in RevMan 5's CSV layout.

    python -m metareview.review.revman import FILE NAME     # make import-revman FILE=... NAME=...
    python -m metareview.review.revman export REVIEW [--out PATH]   # make export-revman REVIEW=x

**Import** reads a `.rm5` file, RevMan 5's CSV export of data and analyses, or a Cochrane data
package (`metareview.review.revman_read`) and writes `data/raw/NAME/`: review.yaml (title,
comparisons and outcomes with their labels, group and graph labels, subgroups and RevMan's
stored totals under `revman`), studies.csv, outcomes.csv (with RevMan's method and model),
arms.csv (events of a total, or mean, SD and n), contrasts.csv (generic inverse variance: the
estimate with its SE, form estimate_se), risk_of_bias.csv (RoB 1, where judgements exist),
extraction_notes.md (every choice and everything that could not be mapped), CODEBOOK.md,
params/NAME.yaml (`analysis_method: revman`, DerSimonian-Laird with z tests) and SHA256SUMS.
Each row's source is the file's name and "comparison X, outcome Y, subgroup Z".

How RevMan's graph labels give the outcome's direction: the left side of RevMan's forest plot
holds ratios below 1 and negative differences (fewer events, lower values with the
experimental intervention). A left label that favours the experimental group (it says
"experimental", "intervention" or "treatment", or names group 1) makes the outcome
lower-is-better; a left label that favours the control (it says "control", "placebo" or names
group 2) makes it higher-is-better. When the labels say neither, the outcome is recorded as
lower-is-better (RevMan's default layout) and extraction_notes.md says so: the sheets have no
"unknown" direction.

**Export** writes the review's analyses pooled as RevMan does (`revman_pooling`) in the
columns of RevMan 5's CSV export: a row per comparison, per outcome (with its totals), per
subgroup and per study.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
from pathlib import Path

import pandas as pd
import yaml

from metareview import files
from metareview.review import checksums, codebook, params
from metareview.review.revman_read import RevManError, RevManFile, Outcome, read_revman
from metareview.review.schema import ARMS, CONTRASTS, OUTCOMES, RISK_OF_BIAS, STUDIES

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
SOURCE_LEVEL = "full_text"
CSV_COLUMNS = [
    "Comparison Number", "Outcome Number", "Subgroup Number", "Name", "Data Type",
    "Statistical Method", "Effect Measure", "Analysis Model", "Events 1", "Mean 1", "SD 1",
    "Total 1", "Events 2", "Mean 2", "SD 2", "Total 2", "Effect Estimate", "SE", "CI Start",
    "CI End", "Weight", "Q", "P(Q)", "I²(Q)", "Tau²", "Z", "P(Z)", "Qint", "P(Qint)",
    "I²(Qint)", "df", "Group Label 1", "Group Label 2", "Left Graph Label",
    "Right Graph Label", "Year of study", "User defined order",
]
DATA_TYPES = {"dichotomous": "DIC", "continuous": "CON", "generic": "IV"}
EXPERIMENTAL_WORDS = ("experimental", "intervention", "treatment")
CONTROL_WORDS = ("control", "placebo", "usual care", "comparator")


def check_name(name: str) -> str:
    """A review name: letters, digits, '-' and '_', not starting with '.' or a separator."""
    if not NAME.match(name or ""):
        raise ValueError(f"review name {name!r}: use letters, digits, '-' and '_' only, starting "
                         "with a letter or digit (e.g. fleiss1993)")
    return name


# --- import -------------------------------------------------------------------------------------


def outcome_id(outcome: Outcome) -> str:
    return f"analysis_{outcome.comparison}_{outcome.number}"


def comparison_id(outcome: Outcome, subgroup: int) -> str:
    base = f"comparison_{outcome.comparison}"
    return f"{base}_subgroup_{subgroup}" if outcome.has_subgroups else base


def _favours(label: str, own: str, other: str) -> str | None:
    """'experimental', 'control' or None: whom a graph label favours."""
    text = label.lower()
    own, other = own.lower().strip(), other.lower().strip()
    says_experimental = any(w in text for w in EXPERIMENTAL_WORDS) or (own and own in text)
    says_control = any(w in text for w in CONTROL_WORDS) or (other and other in text)
    if says_experimental and not says_control:
        return "experimental"
    if says_control and not says_experimental:
        return "control"
    return None


def direction_of(outcome: Outcome) -> tuple[str, str]:
    """(direction, note) from RevMan's graph labels (see the module docstring)."""
    left = _favours(outcome.graph_label_1, outcome.group_label_1, outcome.group_label_2)
    right = _favours(outcome.graph_label_2, outcome.group_label_1, outcome.group_label_2)
    if left == "experimental" and right in ("control", None):
        return "lower_is_better", ""
    if left == "control" and right in ("experimental", None):
        return "higher_is_better", ""
    if left is None and right == "control":
        return "lower_is_better", ""
    if left is None and right == "experimental":
        return "higher_is_better", ""
    return "lower_is_better", (
        f"analysis {outcome.comparison}.{outcome.number} '{outcome.name}': the graph labels "
        f"('{outcome.graph_label_1}' left, '{outcome.graph_label_2}' right) do not say which "
        "side favours the experimental group; direction recorded as lower_is_better "
        "(RevMan's default layout). Check it.")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _csv(sheet, rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(sheet.names)
    for row in rows:
        writer.writerow([_text(row.get(name)) for name in sheet.names])
    return out.getvalue()


def _where(outcome: Outcome, subgroup: int) -> str:
    text = f"comparison {outcome.comparison}, outcome {outcome.number}"
    return text + (f", subgroup {subgroup}" if subgroup else "")


def _stored(totals) -> dict:
    return dict(totals.text)


def build_sheets(model: RevManFile) -> dict[str, str]:
    """{file name: text} of a review folder made from a RevMan file (no file is written)."""
    notes: list[str] = list(model.notes)
    source = model.source
    arms, contrasts, outcomes, comparisons_yaml = [], [], [], []
    comparison_labels: dict[str, str] = {}
    appears: dict[str, list[Outcome]] = {}
    for comparison in model.comparisons:
        entry = {"number": comparison.number, "name": comparison.name, "outcomes": []}
        subgroup_names: dict[str, set[str]] = {}   # comparison id -> its subgroups' names
        for outcome in comparison.outcomes:
            oid = outcome_id(outcome)
            direction, note = direction_of(outcome)
            if note:
                notes.append(note)
            kind = "binary" if outcome.measure in ("OR", "RR", "RD") else "continuous"
            outcomes.append({
                "outcome": oid, "label": outcome.name, "type": kind,
                "measure": outcome.measure,
                "scale": outcome.units or "as in the RevMan file (no unit stated)",
                "unit": outcome.units, "direction": direction,
                "note": (f"RevMan analysis {outcome.comparison}.{outcome.number}; graph labels "
                         f"'{outcome.graph_label_1}' (left), '{outcome.graph_label_2}' (right)"),
                "pooling_method": outcome.method, "pooling_model": outcome.model,
            })
            subgroups_yaml = []
            for subgroup in outcome.subgroups:
                cid = comparison_id(outcome, subgroup.number)
                subgroup_names.setdefault(cid, set()).add(subgroup.name)
                if subgroup.number:
                    subgroups_yaml.append({"number": subgroup.number, "name": subgroup.name,
                                           "comparison": cid,
                                           "stored": _stored(subgroup.totals)})
                seen = set()
                for row in subgroup.rows:
                    appears.setdefault(row.study, []).append(outcome)
                    place = _where(outcome, subgroup.number)
                    if row.study in seen:
                        notes.append(f"{place}: {row.study} appears twice; the second entry is "
                                     "not imported (one row per study and comparison)")
                        continue
                    seen.add(row.study)
                    _study_rows(outcome, subgroup.number, cid, row, place, source, arms,
                                contrasts, notes)
            entry["outcomes"].append({
                "outcome": oid, "number": outcome.number, "name": outcome.name,
                "kind": outcome.kind, "measure": outcome.measure, "method": outcome.method,
                "model": outcome.model,
                "group_labels": [outcome.group_label_1, outcome.group_label_2],
                "favours_labels": [outcome.graph_label_1, outcome.graph_label_2],
                "ci_study": outcome.ci_study, "ci_total": outcome.ci_total,
                "swap_events": outcome.swap_events, "log_data": outcome.log_data,
                "totals": outcome.show_totals, "subgroup_test": outcome.show_subgroup_test,
                "subgroups": subgroups_yaml, "stored": _stored(outcome.totals),
            })
            if outcome.swap_events:
                notes.append(f"analysis {outcome.comparison}.{outcome.number}: RevMan swapped "
                             "events and non-events; arms.csv keeps the events as entered and "
                             "the RevMan analysis swaps them as RevMan did")
        comparisons_yaml.append(entry)
        comparison_labels.update(_comparison_labels(comparison, subgroup_names))
    studies = _studies(model, appears, notes)
    rob = [{"study_id": r.study, "tool": "RoB1", "domain": f"D{r.number}",
            "judgement": r.judgement,
            "support": f"{r.item}: {r.support}" if r.support else
                       f"{r.item}: no support text in the RevMan file",
            "source_url": source, "source_location": f"risk of bias, quality item {r.number}",
            "source_level": SOURCE_LEVEL}
           for r in model.risk_of_bias if 1 <= r.number <= 20]
    years = [s.year for s in model.studies.values() if s.year]
    labels = {(o.group_label_1, o.group_label_2) for o in model.outcomes}
    treatment, control = (labels.pop() if len(labels) == 1 else ("experimental", "control"))
    group_1 = sorted({o.group_label_1 for o in model.outcomes if o.group_label_1})
    group_2 = sorted({o.group_label_2 for o in model.outcomes if o.group_label_2})
    definitions = {
        "title": model.title,
        "question": f"Imported from the RevMan file {source}: "
                    + "; ".join(c.name for c in model.comparisons if c.name),
        "years": [min(years), max(years)] if years else [1800, 2100],
        "intervention_classes": {"experimental": "Experimental intervention (RevMan group 1)"},
        "subgroups": [],
        "favours": {"treatment": treatment or "experimental", "control": control or "control"},
        # the summary of findings' header: RevMan's group labels (no population or setting)
        "intervention": "; ".join(group_1) or "experimental intervention (RevMan group 1)",
        "comparison": "; ".join(group_2) or "control (RevMan group 2)",
        "comparisons": comparison_labels,
        "revman": {"source": source, "format": model.format, "comparisons": comparisons_yaml},
    }
    texts = {
        "review.yaml": "# Imported from a RevMan file by `make import-revman` "
                       "(metareview.review.revman); see extraction_notes.md.\n"
                       + yaml.safe_dump(definitions, sort_keys=False, allow_unicode=True,
                                        width=100),
        "studies.csv": _csv(STUDIES, studies),
        "outcomes.csv": _csv(OUTCOMES, outcomes),
        "arms.csv": _csv(ARMS, arms),
        "contrasts.csv": _csv(CONTRASTS, contrasts),
    }
    if rob:
        texts["risk_of_bias.csv"] = _csv(RISK_OF_BIAS, rob)
    texts["extraction_notes.md"] = _notes_markdown(model, notes)
    return texts


def _comparison_labels(comparison, names: dict[str, set[str]]) -> dict[str, str]:
    """Labels of one RevMan comparison's ids: its name, and for a subgroup id the subgroup's
    name (its number where the comparison's outcomes name subgroup s differently)."""
    label = comparison.name or f"RevMan comparison {comparison.number}"
    out = {}
    for cid, found in names.items():
        if cid == f"comparison_{comparison.number}":
            out[cid] = label
        elif len(found) == 1 and next(iter(found)):
            out[cid] = f"{label}: {next(iter(found))}"
        else:
            out[cid] = f"{label}: subgroup {cid.rsplit('_', 1)[1]}"
    return out


def _study_rows(outcome, subgroup, cid, row, place, source, arms, contrasts, notes) -> None:
    base = {"study_id": row.study, "comparison": cid, "outcome": outcome_id(outcome),
            "source_url": source, "source_location": place, "source_level": SOURCE_LEVEL}
    labels = (outcome.group_label_1 or "experimental", outcome.group_label_2 or "control")
    if outcome.kind == "generic":
        if row.estimate is None or row.se is None or row.se <= 0:
            notes.append(f"{place}: {row.study} has no estimate with a positive SE; not "
                         "imported")
            return
        ratio = outcome.measure in ("OR", "RR")
        # the sheets hold ratios as ratios; the reader gave the value RevMan pools (its ln)
        estimate = (row.text.get("ratio") or repr(math.exp(row.estimate))) if ratio \
            else _as_stored(row, "estimate")
        contrasts.append({
            **base, "measure": outcome.measure, "estimate": estimate,
            "se": _as_stored(row, "se"), "paired": "false", "ci_level": "",
            "n_treatment": _count(row.total_1), "n_control": _count(row.total_2),
            "contrast_direction": "treatment_minus_control", "reported_form": "estimate_se",
            "note": ("RevMan pools the ln of this ratio, with the SE of the ln" if ratio
                     else ""),
        })
        return
    if not (row.total_1 and row.total_2):
        notes.append(f"{place}: {row.study} has no total in an arm; not imported")
        return
    for role, label, e, n, m, sd, suffix in (
            ("treatment", labels[0], row.events_1, row.total_1, row.mean_1, row.sd_1, "1"),
            ("control", labels[1], row.events_2, row.total_2, row.mean_2, row.sd_2, "2")):
        arm = {**base, "arm": label + (f" (subgroup {subgroup})" if subgroup else ""),
               "role": role, "n": _count(n)}
        if outcome.kind == "dichotomous":
            arms.append({**arm, "events": _count(e or 0), "total": _count(n),
                         "value_type": "count", "reported_form": "events_total"})
        elif sd is not None and sd > 0:
            arms.append({**arm, "mean": _as_stored(row, f"mean_{suffix}"),
                         "sd": _as_stored(row, f"sd_{suffix}"), "value_type": "final",
                         "reported_form": "mean_sd"})
        else:
            arms.append({**arm, "mean": _as_stored(row, f"mean_{suffix}"), "value_type": "final",
                         "reported_form": "mean_only",
                         "note": "SD 0 or missing in the RevMan file"})
            notes.append(f"{place}: {row.study}, {role} arm: SD 0 or missing; recorded as a "
                         "mean only")


def _as_stored(row, name: str) -> str:
    """A number as the file wrote it (its text), else as the reader parsed it."""
    return row.text.get(name) or _text(getattr(row, name))


def _count(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _randomised(study) -> bool:
    methods = study.characteristics.get("methods", "").lower()
    if not methods or re.search(r"non-?random|not random|quasi", methods):
        return False
    return "random" in methods


def _studies(model: RevManFile, appears, notes) -> list[dict]:
    rows = []
    for study in model.studies.values():
        used = appears.get(study.id, [])
        if not used:
            notes.append(f"study {study.name}: listed as included but has no data in any "
                         "outcome; kept in studies.csv")
        treatment = sorted({o.group_label_1 or "experimental" for o in used}) or ["experimental"]
        control = sorted({o.group_label_2 or "control" for o in used}) or ["control"]
        note = f"RevMan study {study.name}"
        if study.revman_id:
            note += f" (id {study.revman_id})"
        if study.data_source:
            note += f"; data source {study.data_source}"
        if study.id != study.name:
            notes.append(f"study '{study.name}' has the id {study.id} (file-name safe)")
        rows.append({
            "study_id": study.id, "citation": study.citation or study.name,
            "year": study.year or "", "doi": study.doi, "pmid": study.pmid,
            "design": "parallel", "randomised": "true" if _randomised(study) else "false",
            "condition": "not recorded in the RevMan file",
            "intervention_class": "experimental", "intervention": "; ".join(treatment),
            "comparator": "; ".join(control), "co_intervention": "not recorded",
            "source_url": model.source, "source_location": "included studies",
            "source_level": SOURCE_LEVEL, "note": note,
        })
    return rows


def _notes_markdown(model: RevManFile, notes: list[str]) -> str:
    lines = [
        f"# Extraction notes: {model.title}", "",
        f"Imported by `make import-revman` from `{model.source}` ({model.format}). The numbers "
        "are RevMan's as stored in that file; nothing was extracted from the primary studies.",
        "", "## How RevMan's content was mapped", "",
        "- Each RevMan outcome is an outcome of outcomes.csv named `analysis_<comparison>_"
        "<outcome>`, with RevMan's statistical method and analysis model in `pooling_method` "
        "and `pooling_model`; its group labels, graph labels, subgroups and stored totals are "
        "in review.yaml under `revman`.",
        "- Group 1 of RevMan is the treatment arm, group 2 the control. A study's arms sit in "
        "comparison `comparison_<n>`, or `comparison_<n>_subgroup_<s>` in an outcome with "
        "subgroups (RevMan's subgroups belong to an outcome, not to a study).",
        "- The direction of an outcome comes from the graph labels: a left label favouring the "
        "experimental group means lower is better (see metareview.review.revman).",
        "- RevMan does not record the design, whether a study was randomised (read from the "
        "methods text where it says so, else false), the condition, co-interventions, or "
        "whether means are final values or changes: design is `parallel` (RevMan analyses "
        "every study as parallel groups), means are recorded as `final`.",
        "- `source_level` is `full_text` for the RevMan file itself.",
        "- Risk of bias is RevMan 5's RoB 1 (judgements low, high, unclear; domain D<n> is "
        "quality item n, named in the support text). RoB 1 has no overall judgement.",
        "- What RevMan computed per study (effect, SE, interval, weight, O − E, variance) is "
        "not copied into the sheets: the engine computes it again from the data entered, and "
        "RevMan's stored totals stay in review.yaml (`stored`) for the comparison that "
        "`analysis_method: revman` prints. Display settings (scale, sort order, which totals "
        "a forest plot shows) are kept in review.yaml or dropped; they change no number.",
        "- A generic inverse-variance ratio is written to contrasts.csv as a ratio with the "
        "SE of its natural log (form estimate_se), whatever scale it was entered on.",
        "- review.yaml's `intervention` and `comparison` are RevMan's group labels; the file "
        "names no population or setting, so the summary of findings shows none until they "
        "are added to review.yaml. Each comparison id is labelled with RevMan's comparison "
        "(and subgroup) name under `comparisons`.",
        "", "## Not mapped, or mapped with a choice", "",
    ]
    lines += [f"- {n}" for n in notes] or ["- nothing"]
    characteristics = [(s, s.characteristics) for s in model.studies.values()
                       if s.characteristics]
    if characteristics:
        lines += ["", "## Characteristics of included studies (as in the RevMan file)", ""]
        for study, chars in characteristics:
            text = "; ".join(f"{k}: {v}" for k, v in chars.items())
            lines.append(f"- {study.id}: {text}")
    return "\n".join(lines) + "\n"


def _params_text(name: str) -> str:
    values = {**params.DEFAULTS, "review": name, "analysis_method": "revman",
              "tau2_method": "DL", "test": "z"}
    lines = [f"# Papermill parameters of the {name} review, imported from RevMan: RevMan's "
             "own pooling (analysis_method) and DerSimonian-Laird with z tests elsewhere."]
    lines += [f"{key}: {yaml.safe_dump(value, default_flow_style=True).strip()}"
              .replace("\n...", "") for key, value in values.items()]
    return "\n".join(lines) + "\n"


def import_revman(path: str | Path, name: str) -> list[Path]:
    """Write data/raw/<name>/ and params/<name>.yaml from a RevMan file; return the files."""
    check_name(name)
    folder = files.raw_dir(name)
    if folder.exists() and any(folder.iterdir()):
        raise ValueError(f"{files.display_path(folder)} exists already; choose another NAME or "
                         "remove the folder first")
    if files.params_path(name).exists():
        raise ValueError(f"{files.display_path(files.params_path(name))} exists already")
    texts = build_sheets(read_revman(path))
    folder.mkdir(parents=True, exist_ok=True)
    written = [files.write_text(text, folder / file) for file, text in texts.items()]
    written.append(files.write_text(codebook.render(folder), folder / codebook.CODEBOOK))
    written.append(files.write_text(_params_text(name), files.params_path(name)))
    written.append(checksums.write(folder))
    return written


# --- export -------------------------------------------------------------------------------------


def _num(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (int,)) or (isinstance(value, float) and value.is_integer()
                                     and abs(value) < 1e15):
        return str(int(value))
    return repr(float(value))  # every digit, so that an export reads back exactly


def export_rows(review, pooled=None) -> list[dict]:
    """The review's analyses as rows of RevMan 5's CSV export (dicts keyed by CSV_COLUMNS)."""
    from metareview.review.revman_pooling import pool_outcomes, settings_of

    pooled = pool_outcomes(review) if pooled is None else pooled
    settings = settings_of(review)
    block = review.definitions.revman or {}
    imported = {o["outcome"]: (c, o) for c in block.get("comparisons", [])
                for o in c.get("outcomes", [])}
    names = review.studies.set_index("study_id")
    comparisons: dict[int, list[str]] = {}
    numbers: dict[str, tuple[int, int, str]] = {}
    for outcome in settings:
        if outcome not in set(pooled.table["outcome"]):
            continue
        if outcome in imported:
            c, o = imported[outcome]
            numbers[outcome] = (int(c["number"]), int(o["number"]), str(c["name"]))
        else:
            numbers[outcome] = (1, len(numbers) + 1, review.definitions.title)
    rows = []
    for outcome in sorted(numbers, key=lambda x: numbers[x][:2]):
        c, o, comparison_name = numbers[outcome]
        if c not in comparisons:
            comparisons[c] = []
            rows.append({"Comparison Number": c, "Outcome Number": 0, "Subgroup Number": 0,
                         "Name": comparison_name})
        info = imported.get(outcome, (None, {}))[1]
        s = settings[outcome]
        kind = info.get("kind") or ("dichotomous" if s["type"] == "binary" else "continuous")
        own = pooled.table[pooled.table["outcome"] == outcome]
        groups = info.get("group_labels") or [review.definitions.favours_treatment,
                                              review.definitions.favours_control]
        graphs = info.get("favours_labels") or _graph_labels(review, outcome)
        for total in own.to_dict("records"):
            subgroup = int(total["subgroup"])
            row = _total_row(c, o, subgroup, total, kind, s)
            if subgroup == 0:
                row.update({"Name": total["label"], "Group Label 1": groups[0],
                            "Group Label 2": groups[1], "Left Graph Label": graphs[0],
                            "Right Graph Label": graphs[1]})
            else:
                row["Name"] = total["subgroup_name"]
            rows.append(row)
            studies = pooled.studies[(pooled.studies["outcome"] == outcome)
                                     & (pooled.studies["subgroup"] == subgroup)]
            has_subgroups = (own["subgroup"] > 0).any()
            if subgroup == 0 and has_subgroups:
                continue
            for order, study in enumerate(studies.to_dict("records"), start=1):
                year = names.loc[study["study_id"], "year"]
                rows.append({
                    "Comparison Number": c, "Outcome Number": o, "Subgroup Number": subgroup,
                    "Name": study["study_id"],
                    "Events 1": _num(study["events_1"]), "Mean 1": _num(study["mean_1"]),
                    "SD 1": _num(study["sd_1"]), "Total 1": _num(study["total_1"]),
                    "Events 2": _num(study["events_2"]), "Mean 2": _num(study["mean_2"]),
                    "SD 2": _num(study["sd_2"]), "Total 2": _num(study["total_2"]),
                    "Effect Estimate": _num(study["estimate"]), "SE": _num(study["se"]),
                    "CI Start": _num(study["ci_low"]), "CI End": _num(study["ci_high"]),
                    "Weight": _num(study["weight"]),
                    "Year of study": "" if pd.isna(year) else str(int(year)),
                    "User defined order": order,
                })
    return rows


def _graph_labels(review, outcome: str) -> list[str]:
    direction = review.outcomes.set_index("outcome").loc[outcome, "direction"]
    if direction == "higher_is_better":
        return ["Favours control", "Favours experimental"]
    return ["Favours experimental", "Favours control"]


def _total_row(c, o, subgroup, total, kind, settings) -> dict:
    method = {"MH": "MH", "IV": "IV", "Peto": "PETO"}[settings["method"]]
    measure = "PETO_OR" if settings["method"] == "Peto" else settings["measure"]
    row = {"Comparison Number": c, "Outcome Number": o, "Subgroup Number": subgroup,
           "Data Type": DATA_TYPES[kind], "Statistical Method": method,
           "Effect Measure": measure,
           "Analysis Model": "Random" if settings["model"] == "random" else "Fixed",
           "Events 1": _num(total["events_1"]), "Total 1": _num(total["total_1"]),
           "Events 2": _num(total["events_2"]), "Total 2": _num(total["total_2"]),
           "Effect Estimate": _num(total["estimate"]), "CI Start": _num(total["ci_low"]),
           "CI End": _num(total["ci_high"]), "Weight": 100, "Q": _num(total["chi2"]),
           "P(Q)": _num(total["p_chi2"]), "I²(Q)": _num(total["i2"]),
           "Tau²": _num(total["tau2"]), "Z": _num(total["z"]), "P(Z)": _num(total["p_z"]),
           "Qint": _num(total["q_int"]), "P(Qint)": _num(total["p_q_int"]),
           "I²(Qint)": _num(total["i2_q_int"]), "df": _num(total["df"])}
    return row


def export_csv(review, pooled=None) -> str:
    """RevMan 5's CSV export of `review`'s analyses, as text."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n", restval="")
    writer.writeheader()
    for row in export_rows(review, pooled):
        writer.writerow(row)
    return out.getvalue()


# --- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m metareview.review.revman",
        description="Import a RevMan 5 file (.rm5, its CSV export, or a Cochrane data package) "
                    "as a review folder, or export a review in RevMan 5's CSV layout.")
    commands = parser.add_subparsers(dest="command", required=True)
    do_import = commands.add_parser(
        "import", help="write data/raw/NAME/ from a RevMan file",
        description="Write the review folder data/raw/NAME/ (sheets, review.yaml, "
                    "extraction_notes.md, CODEBOOK.md, SHA256SUMS) and params/NAME.yaml from a "
                    "RevMan 5 file (.rm5, its CSV export of data and analyses, or a Cochrane "
                    "data package); `make import-revman FILE=f NAME=x`.")
    do_import.add_argument("file", help="a .rm5 file, RevMan 5's CSV export or a data package")
    do_import.add_argument("name", help="the new review's folder name, e.g. fleiss1993")
    do_export = commands.add_parser(
        "export", help="write a review in RevMan 5's CSV layout",
        description="Write a review's analyses in the columns of RevMan 5's CSV export, "
                    "listing every result left out with its reason; "
                    "`make export-revman REVIEW=x [OUT=path]`.")
    do_export.add_argument("review", help="a review folder name under data/raw/")
    do_export.add_argument("--out", help="where to write (default reports/<review>/"
                                         "<review>_revman.csv)")
    args = parser.parse_args(argv)
    try:
        if args.command == "import":
            written = import_revman(args.file, args.name)
            for path in written:
                print(f"wrote {files.display_path(path)}")
            print(f"Next: read data/raw/{args.name}/extraction_notes.md, then "
                  f"`make reports` (or `.venv/bin/python -m metareview.run.pipeline run "
                  f"--review {args.name}`).")
            return 0
        from metareview.review.sheets import load_review

        check_name(args.review)
        review = load_review(files.raw_dir(args.review))
        out = Path(args.out) if args.out else (files.reports_dir(args.review)
                                               / f"{args.review}_revman.csv")
        from metareview.review.revman_pooling import pool_outcomes

        pooled = pool_outcomes(review)
        files.write_text(export_csv(review, pooled), out)
        print(f"wrote {files.display_path(out)}: {pooled.table['outcome'].nunique()} outcomes, "
              f"{len(pooled.studies[pooled.studies['subgroup'] == 0])} study results")
        if len(pooled.not_used):
            # RevMan takes parallel groups with arm data or an estimate with its SE only
            print(f"not exported ({len(pooled.not_used)} results):")
            for reason, count in pooled.not_used["reason"].value_counts().sort_index().items():
                print(f"  {count} x {reason}")
        return 0
    except (RevManError, ValueError, OSError) as error:
        lines = str(error).splitlines()
        print(f"error: {lines[0] if lines else error}", file=sys.stderr)
        for line in lines[1:]:  # the problems of a sheet validation, one per line
            print(f"  {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
