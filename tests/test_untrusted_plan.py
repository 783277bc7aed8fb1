"""The analysis plan checked like the sheets (issue 24, "Typos accepted in the analysis plan"):
each typo the issue lists is one test here, and each must be an error naming the file, the key
and what is allowed; a corrupt record is an error naming its file while the other reviews are
still checked; `make check` compares kinds of values, not only values; a folder name Make
cannot handle is refused and reported; an over-long cell names its row and column; events
above n are refused whether or not total is filled; a `$` or broken TeX in the texts notebook
01 draws does not stop it.

Every test works on a copy of the fixture review (tests/fixtures/review_fixture) in a
temporary repository root.
"""

from __future__ import annotations

import re

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from metareview import files
from metareview.review import checksums
from metareview.review.definitions import DefinitionError, load_definitions
from metareview.review.params import ParameterError, check_study_ids, load_params
from metareview.review.sheets import MAX_CELL_CHARS, SheetValidationError, load_review
from metareview.run import pipeline, record

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "review_fixture"
TEX = "US$5 \\frac{ vs US$10"  # an even number of "$": math text to matplotlib, and not valid


@pytest.fixture()
def root(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo / "data" / "raw" / "rev")
    (repo / "params").mkdir()
    (repo / "params" / "rev.yaml").write_text("review: rev\n")
    monkeypatch.setenv(files.ROOT_ENV, str(repo))
    return repo


def folder(root: Path) -> Path:
    return root / "data" / "raw" / "rev"


def edit_yaml(root: Path, change) -> None:
    """Change review.yaml's content (a dict) with `change` and write it back."""
    path = folder(root) / "review.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def definition_error(root: Path) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        load_definitions(folder(root))
    error = caught.value
    assert error.file.endswith("data/raw/rev/review.yaml")
    return error


def sheet_problems(root: Path) -> list:
    with pytest.raises(SheetValidationError) as caught:
        load_review(folder(root))
    return caught.value.problems


def inputs_error(root: Path, overrides=None) -> str:
    checksums.write(folder(root))
    with pytest.raises(pipeline.InputError) as caught:
        pipeline.check_inputs("rev", overrides)
    return str(caught.value)


# --- unknown ids in exclude_studies --------------------------------------------------------------


def test_unknown_study_in_the_params_exclude_studies_is_an_error(root):
    (root / "params" / "rev.yaml").write_text("review: rev\nexclude_studies: [Aronson1984]\n")
    message = inputs_error(root)
    assert "rev: parameters: parameter 'exclude_studies' in params/rev.yaml" in message
    assert "Aronson1984" in message and "not a study_id of studies.csv" in message
    assert "Did you mean 'Aronson1948'?" in message
    assert re.search(r"The review's \d+ study ids are Aronson1948, ", message)
    # from the command line too, and a known id passes
    assert "Aronson1984" in inputs_error(root, {"exclude_studies": "[Aronson1984]"})
    (root / "params" / "rev.yaml").write_text("review: rev\nexclude_studies: [Aronson1948]\n")
    assert pipeline.check_inputs("rev")["exclude_studies"] == ["Aronson1948"]
    with pytest.raises(ParameterError, match="'ghost'"):
        check_study_ids({"exclude_studies": ["ghost"]}, ["A", "B"], "params/x.yaml")


def test_unknown_study_in_main_analysis_exclude_studies_is_an_error(root):
    edit_yaml(root, lambda d: d.update(main_analysis={"label": "Main",
                                                      "exclude_studies": ["Aronson1984"]}))
    (problem,) = sheet_problems(root)
    assert problem.file.endswith("rev/review.yaml")
    assert problem.column == "main_analysis.exclude_studies" and problem.value == "Aronson1984"
    assert "not a study_id of studies.csv" in problem.rule
    assert "did you mean 'Aronson1948'?" in problem.fix


# --- unknown nested keys -------------------------------------------------------------------------


@pytest.mark.parametrize("change, key, allowed", [
    (lambda d: d.update(main_analysis={"label": "Main", "exclude_study": ["Aronson1948"]}),
     "main_analysis.exclude_study", "did you mean 'exclude_studies'? keys are: label, "
     "intervention_classes, exclude_studies"),
    (lambda d: d.update(favours={"treatmnt": "BCG", "control": "none"}),
     "favours.treatmnt", "did you mean 'treatment'? keys are: treatment, control"),
    (lambda d: d.update(study_columns=[{"name": "latitude", "kin": "float"}]),
     "study_columns[0].kin", "did you mean 'kind'? keys are: name, kind, allowed, description, "
     "required"),
    (lambda d: d.update(moderators=[{"column": "year", "knd": "continuous"}]),
     "moderators[0].knd", "keys are: column, kind"),
    (lambda d: d.update(favors={"treatment": "BCG"}), "favors", "did you mean 'favours'?"),
])
def test_unknown_nested_key_names_the_key_and_the_allowed_keys(root, change, key, allowed):
    edit_yaml(root, change)
    error = definition_error(root)
    assert error.key == key and "is not a key of" in error.rule
    assert allowed in error.fix


def test_unquoted_comma_in_a_flow_mapping_is_caught(root):
    """`{description: a, b}` makes `b` a key: the text after the comma was silently lost (it
    happened in a committed review.yaml)."""
    path = folder(root) / "review.yaml"
    path.write_text(path.read_text() + "study_columns:\n  - {name: route, kind: str, "
                    "description: route as printed, one word per kind}\n")
    error = definition_error(root)
    assert error.key == "study_columns[0].'one word per kind'"


# --- required naming an unknown sheet or column -------------------------------------------------


@pytest.mark.parametrize("required, key, fragment", [
    ({"arm": ["timepoint_weeks"]}, "required.arm", "did you mean 'arms'? sheets are: studies,"),
    ({"arms": ["timepoint_week"]}, "required.arms", "did you mean 'timepoint_weeks'? columns of "
     "arms.csv:"),
    ({"studies": ["latitud"]}, "required.studies", "columns of studies.csv:"),
])
def test_required_names_a_sheet_and_its_columns(root, required, key, fragment):
    edit_yaml(root, lambda d: d.update(required=required))
    error = definition_error(root)
    assert error.key == key and fragment in error.fix


def test_required_may_name_an_extra_study_column(root):
    edit_yaml(root, lambda d: d.update(study_columns=[{"name": "latitude", "kind": "float"}],
                                       required={"studies": ["latitude"], "arms": ["n"]}))
    definitions = load_definitions(folder(root))
    assert definitions.required == {"studies": ("latitude",), "arms": ("n",)}


# --- duplicate YAML keys -------------------------------------------------------------------------


def test_duplicate_key_in_review_yaml_is_an_error_naming_both_lines(root):
    path = folder(root) / "review.yaml"
    path.write_text(path.read_text() + "favours: {treatment: BCG, control: none}\n")
    error = definition_error(root)
    assert "the key 'favours' appears twice (first at line" in error.rule


def test_duplicate_key_in_a_nested_mapping_is_an_error(root):
    path = folder(root) / "review.yaml"
    path.write_text(path.read_text() + "main_analysis:\n  label: A\n  label: B\n")
    assert "the key 'label' appears twice" in definition_error(root).rule


def test_duplicate_key_in_the_params_file_is_an_error(root):
    (root / "params" / "rev.yaml").write_text("review: rev\npaired_r: 0.2\npaired_r: 0.8\n")
    with pytest.raises(ParameterError, match="the key 'paired_r' appears twice"):
        load_params("rev")


# --- non-boolean booleans -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["false", "no", 0, "true"])
def test_required_of_a_study_column_must_be_true_or_false(root, value):
    edit_yaml(root, lambda d: d.update(
        study_columns=[{"name": "latitude", "kind": "float", "required": value}]))
    error = definition_error(root)
    assert error.key == "study_columns[0].required"
    assert "must be true or false (unquoted)" in error.rule and "without quotes" in error.fix


def test_required_false_written_plainly_is_false(root):
    edit_yaml(root, lambda d: d.update(
        study_columns=[{"name": "latitude", "kind": "float", "required": False}]))
    (column,) = load_definitions(folder(root)).study_columns
    assert column.required is False


# --- wrong kinds --------------------------------------------------------------------------------


@pytest.mark.parametrize("columns, key, fragment", [
    ([{"name": "year", "kind": "str"}], "study_columns[0].name",
     "is a column studies.csv has already"),
    ([{"name": "route", "kind": "category", "allowed": 5}], "study_columns[0].allowed",
     "must be a list of values"),
    ([{"name": "route", "kind": "category", "allowed": ["iv", 5]}],
     "study_columns[0].allowed", "must be a list of values"),
    ([{"name": "route", "kind": "str", "allowed": ["iv"]}], "study_columns[0].allowed",
     "is only for kind category"),
    ([{"name": "route", "kind": "string"}], "study_columns[0].kind", "is not a column kind"),
    ([{"name": "route", "kind": ["str"]}], "study_columns[0].kind", "is not a column kind"),
    ([{"name": "route"}, {"name": "route"}], "study_columns[1].name", "is declared twice"),
    ([{"name": "route", "description": ["a", "b"]}], "study_columns[0].description",
     "must be text"),
])
def test_wrong_kinds_in_study_columns_are_errors_not_type_errors(root, columns, key, fragment):
    edit_yaml(root, lambda d: d.update(study_columns=columns))
    error = definition_error(root)  # a DefinitionError, never a raw TypeError
    assert error.key == key and fragment in error.rule, str(error)
    assert error.fix


@pytest.mark.parametrize("change, key", [
    (lambda d: d.update(favours={"treatment": ["BCG"], "control": "none"}), "favours.treatment"),
    (lambda d: d.update(main_analysis={"label": {"a": 1}}), "main_analysis.label"),
    (lambda d: d.update(question=["a", "b"]), "question"),
    (lambda d: d.update(moderators=[{"column": ["year"]}]), "moderators[0]"),
])
def test_labels_and_texts_must_be_text(root, change, key):
    edit_yaml(root, change)
    assert definition_error(root).key == key


# --- a corrupt record, and kinds of values in make check ----------------------------------------


def _recorded_tree(root: Path) -> None:
    """Two reviews with a processed table and a committed record each."""
    shutil.copytree(folder(root), root / "data" / "raw" / "other")
    (root / "params" / "other.yaml").write_text("review: other\n")
    for review in ("rev", "other"):
        processed = files.processed_dir(review)
        processed.mkdir(parents=True)
        (processed / "pooled.csv").write_text("analysis,outcome,k,estimate,converged\n"
                                              "main,tb,13,-0.71,true\n")
        record.write(review)


@pytest.mark.parametrize("content", [b'{"review": "rev", "tables": {"pooled": {',
                                     b"<<<<<<< HEAD\n", b'["not", "a", "record"]',
                                     b'{"tables": {"pooled": [1]}}', b"\xff\xfe{"])
def test_corrupt_record_names_its_file_and_the_other_reviews_are_checked(root, content):
    _recorded_tree(root)
    files.results_path("rev").write_bytes(content)
    problems = record.check("rev")
    (problem,) = [p for p in problems if "results/rev.json" in p]
    assert problem.startswith("record results/rev.json is not")
    assert "git checkout -- results/rev.json" in problem and "make record" in problem
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        assert record.main(["check", "--review", "rev", "--review", "other"]) == 1
    assert "JSONDecodeError" not in err.getvalue() and "Traceback" not in err.getvalue()
    assert "record results/rev.json is not" in err.getvalue()
    assert "other: " in err.getvalue() + out.getvalue()  # the next review was checked too


@pytest.mark.parametrize("recorded, now, same", [
    (True, 1, False), (1, True, False), (False, 0, False), (1, "1", False), (None, 0, False),
    (13, 13.0, True), (True, True, True), (0.1, 0.1 * (1 + 1e-12), True), ("a", "a", True),
])
def test_check_compares_kinds_of_values(recorded, now, same):
    committed = {"tables": {"pooled": {"outcome=tb": {"k": recorded}}}}
    fresh = {"tables": {"pooled": {"outcome=tb": {"k": now}}}}
    assert (record.compare(committed, fresh) == []) is same


def test_a_boolean_recorded_where_the_run_has_a_count_fails_make_check(root):
    _recorded_tree(root)
    path = files.results_path("rev")
    data = json.loads(path.read_text())
    (entry,) = data["tables"]["pooled"].values()
    assert entry["k"] == 13 and entry["converged"] is True
    entry["k"], entry["converged"] = True, 1  # equal to 1 and True by Python's ==
    path.write_text(json.dumps(data))
    (files.processed_dir("rev") / "pooled.csv").write_text(
        "analysis,outcome,k,estimate,converged\nmain,tb,1,-0.71,true\n")
    changed = [p for p in record.check("rev") if p.startswith("result changed")]
    assert any(p.endswith("k: recorded True, now 1") for p in changed), changed
    assert any(p.endswith("converged: recorded 1, now True") for p in changed), changed


# --- folder names Make cannot handle -------------------------------------------------------------


def test_make_new_review_refuses_a_name_with_a_space(root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env[files.ROOT_ENV] = str(root)
    for name in ("Makefile", "requirements.lock", "pyproject.toml"):
        shutil.copy(REPO / name, root / name)
    (root / ".ready").touch()
    done = subprocess.run(["make", f"PY={sys.executable}", f"SETUP_STAMP={root / '.ready'}",
                           "new-review", "NAME=my review"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "review name 'my review': use lower-case letters" in done.stderr
    assert not (root / "data" / "raw" / "my review").exists()
    assert not (root / "params" / "my review.yaml").exists()


def test_the_runner_reports_a_folder_name_make_cannot_handle(root):
    spaced = root / "data" / "raw" / "my review"
    shutil.copytree(folder(root), spaced)
    (root / "params" / "my review.yaml").write_text("review: my review\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env[files.ROOT_ENV] = str(root)
    # a run of another review says so (and runs nothing here: no notebooks in this root)
    done = subprocess.run([sys.executable, "-m", "metareview.run.pipeline", "run", "--review",
                           "rev"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert "warning: data/raw/'my review' is not run or checked" in done.stderr
    assert "'my-review'" in done.stderr
    folders = subprocess.run([sys.executable, "-m", "metareview.run.pipeline", "folders"], cwd=root,
                             env=env, capture_output=True, text=True, timeout=120)
    assert folders.returncode == 1 and "'my review' is not run or checked" in folders.stderr
    # make reports asks the runner once, before the reviews run
    for name in ("Makefile", "requirements.lock", "pyproject.toml"):
        shutil.copy(REPO / name, root / name)
    (root / ".ready").touch()
    ready = f"SETUP_STAMP={root / '.ready'}"
    plan = subprocess.run(["make", "-n", f"PY={sys.executable}", ready, "reports"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120)
    assert f"{sys.executable} -m metareview.run.pipeline folders" in plan.stdout
    shutil.rmtree(spaced)
    plan = subprocess.run(["make", "-n", f"PY={sys.executable}", ready, "reports"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120)
    assert "metareview.run.pipeline folders" not in plan.stdout


# --- an over-long cell ---------------------------------------------------------------------------


def _rewrite(path: Path, change) -> None:
    limit = csv.field_size_limit(1 << 24)  # this test writes cells above the default limit
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    finally:
        csv.field_size_limit(limit)
    change(rows)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def test_an_over_long_cell_names_its_row_and_column(root):
    path = folder(root) / "studies.csv"
    note = None

    def lengthen(rows):
        nonlocal note
        note = rows[0].index("note")
        rows[3][note] = "x" * (MAX_CELL_CHARS + 1)

    _rewrite(path, lengthen)
    problems = sheet_problems(root)
    (problem,) = [p for p in problems if p.file.endswith("studies.csv")]
    assert problem.row == 4 and problem.column == "note"
    assert f"{MAX_CELL_CHARS + 1:,} characters" in problem.rule and "128 KB" in problem.rule
    assert len(str(problem)) < 600  # the value is cut, never echoed whole
    # a cell of exactly the limit is read
    _rewrite(path, lambda rows: rows[3].__setitem__(note, "x" * MAX_CELL_CHARS))
    load_review(folder(root))


def test_an_unclosed_quote_is_an_over_long_cell_with_its_row(root):
    path = folder(root) / "search_log.csv"
    text = path.read_text(encoding="utf-8")
    row = len(text.splitlines()) + 1
    path.write_text(text + 'S9,2026-11-23,"a source whose quote is never closed,x,1,1,\n'
                    + "filler line\n" * 20000, encoding="utf-8")
    problems = [p for p in sheet_problems(root) if p.file.endswith("search_log.csv")]
    assert [(p.row, p.column) for p in problems] == [(row, "source")]
    assert "a quote character left open" in problems[0].fix
    assert csv.field_size_limit() == 131072  # the process's limit is left as it was


# --- events above n ------------------------------------------------------------------------------


def test_events_above_n_are_refused_even_when_total_is_filled(root):
    path = folder(root) / "arms.csv"

    def more_than_n(rows):
        header = rows[0]
        rows[19][header.index("n")] = "3"  # Aronson1948, vaccinated: events 4, total 123

    _rewrite(path, more_than_n)
    problems = sheet_problems(root)
    (problem,) = [p for p in problems if p.column == "events"]
    assert problem.file.endswith("arms.csv") and problem.row == 20 and problem.value == "4"
    assert "events (4) must not exceed n (3)" in problem.rule
    assert "not a count of people" in problem.fix


# --- '$' and broken TeX in what notebook 01 draws ------------------------------------------------


@pytest.mark.slow
def test_dollar_signs_and_broken_tex_do_not_stop_notebook_01(tmp_path, monkeypatch):
    """Notebook 01 draws the flow diagram, whose boxes list the reasons of excluded records
    (the fixture has none: two are added), and the risk-of-bias figures; TEX goes into every
    free-text cell of the sheets it reads, and the runner runs it to its report and figures.
    (With matplotlib's math text on, this test fails with a ParseSyntaxException.)"""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "notebooks", repo / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    raw = repo / "data" / "raw" / "rev"
    shutil.copytree(FIXTURE, raw)
    (repo / "params").mkdir()
    (repo / "params" / "rev.yaml").write_text("review: rev\n")
    for sheet, columns in (("search_log.csv", ("source", "query", "note")),
                           ("screening.csv", ("citation", "reason")),
                           ("risk_of_bias.csv", ("support", "note")),
                           ("studies.csv", ("citation", "intervention", "comparator", "note"))):
        def add(rows, columns=columns):
            for name in columns:
                if name in rows[0]:
                    i = rows[0].index(name)
                    for row in rows[1:]:
                        if row[i] or name in ("reason", "source"):
                            row[i] = (row[i] + " " + TEX).strip()
        if (raw / sheet).is_file():
            _rewrite(raw / sheet, add)

    def exclude_two(rows):  # the flow diagram draws the reasons of excluded records
        header = rows[0]
        for number, stage in (("98", "title_abstract"), ("99", "full_text")):
            row = dict.fromkeys(header, "")
            row.update(record_id=f"R{number}", citation=f"Record {number}",
                       url="https://example.org", stage=stage, decision="excluded",
                       reason=f"price {TEX}")
            rows.append([row[name] for name in header])

    _rewrite(raw / "screening.csv", exclude_two)
    edit = yaml.safe_load((raw / "review.yaml").read_text())
    edit["title"] += " " + TEX
    (raw / "review.yaml").write_text(yaml.safe_dump(edit))
    checksums.write(raw)
    monkeypatch.setenv(files.ROOT_ENV, str(repo))
    params = pipeline.check_inputs("rev")
    (first, *_) = pipeline.discover_notebooks()
    with contextlib.redirect_stdout(io.StringIO()):
        pipeline.run_review("rev", params, [first], pipeline.discover_notebooks(),
                            pipeline.project_kernel())
    reports = repo / "reports" / "rev"
    assert (reports / "01_data_cleaning.html").is_file()
    figures = {p.name for p in (reports / "figures").iterdir()}
    assert {"prisma_flow.png", "prisma_flow.svg"} <= figures
    assert {"rob_traffic_light.png", "rob_summary.png"} <= figures
    assert "US$5 \\frac{ vs US$10" in (reports / "01_data_cleaning.html").read_text()
