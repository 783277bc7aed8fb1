"""Names are data, never paths: ids that become file names follow one rule, every writer stays
inside its folder, and review names from a command line are checked before anything is read
or written (issue 24: an outcome id `../../tmp/evil` wrote /tmp/evil.png)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from metareview import files
from metareview.report import figures
from metareview.report.notebook import Notebook
from metareview.review import checksums, codebook
from metareview.review.definitions import DefinitionError, parse_definitions
from metareview.review.params import ParameterError, load_params
from metareview.review.sheets import SheetValidationError, load_review
from metareview.run import pipeline

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "review_fixture"
TRAVERSAL = ["../x", "../../../../../../../../tmp/evil", "a/b", "..", ".", ".hidden", "a b",
             "", "x" * 81, "/etc/passwd", "a\\b", "a\x00b", "caf\u00e9", "x;touch y", "-rf"]


@pytest.fixture()
def root(tmp_path, monkeypatch):
    """An empty repository root with the fixture review as data/raw/rev."""
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo / "data" / "raw" / "rev")
    (repo / "params").mkdir()
    (repo / "params" / "rev.yaml").write_text("review: rev\n")
    monkeypatch.setenv(files.ROOT_ENV, str(repo))
    return repo


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("name", TRAVERSAL)
def test_unsafe_names_are_refused(name):
    assert not files.is_safe_name(name)
    with pytest.raises(files.UnsafeNameError, match="cannot be used as a file name"):
        files.check_name(name, "outcome")


@pytest.mark.parametrize("name", ["acne-scars", "ECMSVFgel2025", "scar_volume", "2020a", "A"])
def test_ordinary_ids_pass(name):
    assert files.check_name(name) == name


@pytest.mark.parametrize("relative", ["../evil.png", "a/../../evil.png", "/tmp/evil.png",
                                      "sub/../../../evil.png"])
def test_inside_refuses_paths_that_leave_the_folder(tmp_path, relative):
    folder = tmp_path / "figures"
    folder.mkdir()
    with pytest.raises(files.OutsideFolderError, match="outside"):
        files.inside(folder / relative, folder)
    assert files.inside(folder / "sub" / "ok.png", folder) == folder / "sub" / "ok.png"


def test_inside_follows_symbolic_links(tmp_path):
    folder, elsewhere = tmp_path / "tables", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "link").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(files.OutsideFolderError):
        files.inside(folder / "link" / "x.csv", folder)


def test_writers_refuse_a_target_outside_their_folder(tmp_path):
    folder = tmp_path / "processed"
    folder.mkdir()
    with pytest.raises(files.OutsideFolderError):
        files.write_text("x", folder / ".." / "evil.txt", within=folder)
    with pytest.raises(files.OutsideFolderError):
        files.write_csv({"a": [1]}, folder / ".." / "evil.csv", within=folder)
    with pytest.raises(files.OutsideFolderError):
        files.write_json({"a": 1}, folder / ".." / "evil.json", within=folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["processed"]


def test_save_figure_refuses_a_stem_outside_its_folder(tmp_path):
    from matplotlib.figure import Figure

    folder = tmp_path / "figures"
    with pytest.raises(files.OutsideFolderError):
        figures.save_figure(Figure(), folder / "../../evil", within=folder)
    assert list(tmp_path.iterdir()) == []
    # a dot in a stem is kept whole, never taken for a suffix to replace
    png, svg = figures.save_figure(Figure(figsize=(1, 1)), folder / "a.b", within=folder)
    assert (png.name, svg.name) == ("a.b.png", "a.b.svg")


@pytest.mark.parametrize("method, args", [
    ("figure", (None, "../../../../tmp/evil")),
    ("table", ("frame", "../evil")),
    ("write", ("frame", "../../evil")),
    ("read", ("../../etc/passwd",)),
    ("image", ("../x",)),
])
def test_notebook_helper_refuses_names_that_are_paths(root, method, args):
    import pandas as pd
    from matplotlib.figure import Figure

    nb = Notebook(review="rev", settings={})
    before = _listing(root)
    values = [Figure() if a is None else pd.DataFrame({"a": [1]}) if a == "frame" else a
              for a in args]
    if method == "table":
        values = [values[0], values[1]]
    with pytest.raises(files.UnsafeNameError):
        getattr(nb, method)(*values)
    assert _listing(root) == before


@pytest.mark.parametrize("review", ["../x", "../../../x", "a/b"])
def test_path_helpers_refuse_review_names_that_are_paths(review):
    for helper in (files.raw_dir, files.processed_dir, files.reports_dir, files.figures_dir,
                   files.tables_dir, files.params_path, files.results_path,
                   pipeline.failure_path):
        with pytest.raises(files.UnsafeNameError):
            helper(review)


def _replace_in(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_traversal_outcome_id_is_a_sheet_error_with_row_and_column(root):
    folder = root / "data" / "raw" / "rev"
    evil = "../../../../../../../../tmp/evil"
    for sheet in ("outcomes.csv", "arms.csv", "contrasts.csv", "published.csv"):
        _replace_in(folder, sheet, "\ntb,", f"\n{evil},")
    (folder / "outcomes.csv").write_text(
        (folder / "outcomes.csv").read_text() + f"tb2,TB again,binary,RR,x,,lower_is_better,,,,"
        f"{evil},\n")
    with pytest.raises(SheetValidationError) as caught:
        load_review(folder)
    problems = [p for p in caught.value.problems if p.file.endswith("outcomes.csv")]
    columns = {(p.column, p.value) for p in problems}
    assert ("outcome", evil) in columns and ("pooled_with", evil) in columns
    first = next(p for p in problems if p.column == "outcome")
    assert first.row is not None and first.row >= 2
    text = str(first)
    assert "outcomes.csv" in text and f"row {first.row}" in text and "column outcome" in text
    assert "letters, digits" in text and "file name" in text


@pytest.mark.parametrize("sheet, column, old", [
    ("studies.csv", "study_id", "\nAronson1948,"),
    ("arms.csv", "comparison", ",specialised_vs_routine,"),
])
def test_other_ids_follow_the_rule(root, sheet, column, old):
    folder = root / "data" / "raw" / "rev"
    _replace_in(folder, sheet, old, old.replace("Aronson1948", "../Aronson")
                .replace("specialised_vs_routine", "a/b"))
    with pytest.raises(SheetValidationError) as caught:
        load_review(folder)
    assert any(p.file.endswith(sheet) and p.column == column and "file name" in p.rule
               for p in caught.value.problems)


@pytest.mark.parametrize("key, value", [
    ("intervention_classes", {"../evil": "Evil"}),
    ("conditions", {"a b": "with a space"}),
    ("comparisons", {"x/y": "Slash"}),
    ("harms", ["../death"]),
    ("study_columns", [{"name": "../route", "kind": "str"}]),
    ("main_analysis", {"exclude_studies": ["../S1"]}),
    ("indirectness", {"../S1": "children"}),
])
def test_review_yaml_ids_follow_the_rule(key, value):
    data = {"title": "T", "intervention_classes": {"other": "Other"}, key: value}
    with pytest.raises(DefinitionError, match="not a usable id"):
        parse_definitions(data)


def test_parameters_refuse_unsafe_names(root):
    with pytest.raises(ParameterError, match="study_id"):
        load_params("rev", overrides={"exclude_studies": ["../S1"]})
    with pytest.raises(ValueError):
        load_params("../rev")


def test_pipeline_run_refuses_a_review_name_that_is_a_path(root, capsys):
    # data/raw/../x is data/x: a folder that exists, and a failure mark would go to /x.failed
    (root / "data" / "x").mkdir()
    (root / "notebooks").mkdir()
    before = _listing(root)
    assert pipeline.run(["../x"]) == pipeline.EXIT_BAD_INPUT
    assert "review name '../x' cannot be used as a file name" in capsys.readouterr().err
    assert _listing(root) == before
    assert not (root / "x.failed").exists() and not (root.parent / "x.failed").exists()


def test_codebook_refuses_a_review_name_that_is_a_path(root, capsys):
    outside = root / "data" / "x"
    shutil.copytree(root / "data" / "raw" / "rev", outside)
    (outside / "CODEBOOK.md").unlink()
    assert codebook.main(["--review", "../x", "--write"]) == 2
    assert "cannot be used as a file name" in capsys.readouterr().err
    assert not (outside / "CODEBOOK.md").exists()


def test_checksums_refuse_a_review_name_that_is_a_path_before_reading(root, monkeypatch,
                                                                        capsys):
    def no_hashing(path):
        raise AssertionError(f"hashed {path}")

    monkeypatch.setattr(checksums, "_sha256", no_hashing)
    assert checksums.main(["accept", "--review", "../../usr"]) == 2
    assert "cannot be used as a file name" in capsys.readouterr().err
    # a folder named directly is hashed only when it is a review folder
    plain = root / "not-a-review"
    plain.mkdir()
    (plain / "big.bin").write_bytes(b"x")
    assert checksums.main(["accept", str(plain)]) == 1
    assert "not a review folder" in capsys.readouterr().err


def test_folder_with_a_space_is_skipped_and_reported(root, capsys):
    from metareview.run import record

    spaced = root / "data" / "raw" / "my review"
    shutil.copytree(root / "data" / "raw" / "rev", spaced)
    (root / "params" / "my review.yaml").write_text("review: my review\n")
    assert pipeline.discover_reviews() == ["rev"]
    assert pipeline.unusable_folders() == ["my review"]
    record.main(["check"])
    err = capsys.readouterr().err
    assert "'my review' is not run or checked" in err and "'my-review'" in err
    assert "my review: " not in err  # not checked as a review (it cannot have been run)


def test_scaffold_refuses_names_before_writing(root):
    from metareview.review import scaffold

    before = _listing(root)
    for name in ("x;touch pwned", "../x", "My Review", "x" * 81):
        assert scaffold.main([name]) == 2
    assert _listing(root) == before
    assert not os.path.exists("pwned")
