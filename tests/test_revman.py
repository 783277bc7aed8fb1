"""RevMan 5 import, RevMan's methods, parity with RevMan's stored totals, the CSV round trip.

Fixtures in tests/fixtures/revman/:

- `Fleiss1993.rm5`, `Fleiss1993_CR.csv` and `Fleiss1993.zip` (a Cochrane data package as
  RevMan Web writes it: the article, figures and a zip of CSV tables): data files of R's meta
  package (guido-s/meta, inst/extdata), copied unchanged. Their totals were computed and stored
  by RevMan itself; the engine must reproduce them to the digits stored (see `agrees`): the
  .rm5 file stores every digit of a double, the CSV export 8 decimals, the data package 6.
- `constructed.rm5`: constructed cases (random effects, subgroups, zero cells, a double-zero
  study, Peto, RD, SMD, generic inverse variance) whose expected values in
  `revman_expected.json` were computed by `make_revman_fixtures.R` with metafor 3.8-1 under
  RevMan's settings; the exact call is stored beside each number in that file.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from metareview.review import revman
from metareview.review.revman_pooling import pool_outcomes, side_by_side, stored_tolerance
from metareview.review.revman_read import RevManError, decode_id, read_revman, safe_id
from metareview.review.sheets import load_review
from metareview.stats import revman_methods as rm

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "revman"
EXPECTED = json.loads((FIXTURES / "revman_expected.json").read_text())["cases"]


@pytest.fixture()
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("METAREVIEW_ROOT", str(tmp_path))
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "params").mkdir()
    return tmp_path


def imported(root, fixture: str, name: str):
    revman.import_revman(FIXTURES / fixture, name)
    return load_review(root / "data" / "raw" / name)


def agrees(value: float, stored: str, rel: float = 1e-6) -> bool:
    """The engine's value agrees with RevMan's stored text: within half a unit of its last
    stored decimal (CSV exports round to 8 decimals) and, for full-precision values, within
    `rel` relative."""
    decimals = len(stored.split(".")[1]) if "." in stored else 0
    target = float(stored)
    half_unit = 0.5 * 10 ** -decimals
    return abs(value - target) <= max(half_unit * (1 + 1e-9), rel * abs(target), 1e-12)


# --- reading ------------------------------------------------------------------------------------


def test_escaped_ids_are_decoded_and_made_safe():
    assert decode_id("STD-ISIS_x002d_2") == "ISIS-2"
    assert decode_id("STD-O_x0027_Brien_x0020_2001") == "O'Brien 2001"
    assert safe_id("O'Brien 2001") == "O_Brien_2001"
    assert safe_id("Müller-Lüdenscheidt 1999a") == "Muller-Ludenscheidt_1999a"
    assert safe_id("..hidden") == "hidden"
    assert safe_id("(2001)") == "2001"


def test_every_element_kind_is_read():
    model = read_revman(FIXTURES / "constructed.rm5")
    assert model.title == "Constructed cases for RevMan parity (Curação & sons)"  # ISO-8859-1
    kinds = {(o.comparison, o.number): (o.kind, o.measure, o.method, o.model)
             for o in model.outcomes}
    assert kinds[(1, 1)] == ("dichotomous", "RR", "MH", "random")
    assert kinds[(1, 2)] == ("dichotomous", "OR", "Peto", "fixed")
    assert kinds[(2, 1)] == ("continuous", "SMD", "IV", "random")
    assert kinds[(3, 1)] == ("generic", "OR", "IV", "random")
    rr = model.outcomes[0]
    assert [(s.number, s.name, len(s.rows)) for s in rr.subgroups] == [
        (1, "Low dose", 3), (2, "High dose", 4)]
    assert {r.judgement for r in model.risk_of_bias} == {"low", "high", "unclear"}
    assert model.risk_of_bias[0].support == "Computer list <blocks of 4>"   # entities decoded
    assert any("Kappa 1999" in n for n in model.notes)   # excluded studies listed, not dropped
    fleiss = read_revman(FIXTURES / "Fleiss1993.rm5")
    assert "ISIS-2" in fleiss.studies and fleiss.studies["ISIS-2"].revman_id == "STD-ISIS_x002d_2"


@pytest.mark.parametrize("text, message", [
    (b"Comparison;nothing\n", "not RevMan 5's CSV export"),
    (b"<?xml version='1.0'?><OTHER_ROOT/>", "root element is <OTHER_ROOT>"),
    (b"<?xml version='1.0'?><COCHRANE_REVIEW><A></COCHRANE_REVIEW>", "not well-formed XML"),
    (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><COCHRANE_REVIEW/>", "DOCTYPE"),
    (b"<COCHRANE_REVIEW><ANALYSES_AND_DATA><COMPARISON NO='1'><NAME>C</NAME>"
     b"<DICH_OUTCOME ID='CMP-001.01' NO='1' EFFECT_MEASURE='OR' METHOD='MH'><NAME>Deaths</NAME>"
     b"</DICH_OUTCOME></COMPARISON></ANALYSES_AND_DATA></COCHRANE_REVIEW>",
     "DICH_OUTCOME CMP-001.01 (comparison 1, outcome 1) 'Deaths': the outcome has no study data"),
    (b"<COCHRANE_REVIEW><ANALYSES_AND_DATA><COMPARISON NO='1'><NAME>C</NAME>"
     b"<CONT_OUTCOME ID='CMP-001.02' NO='2' EFFECT_MEASURE='XYZ'><NAME>Pain</NAME>"
     b"</CONT_OUTCOME></COMPARISON></ANALYSES_AND_DATA></COCHRANE_REVIEW>",
     "CONT_OUTCOME CMP-001.02 (comparison 1, outcome 2): unknown effect measure 'XYZ'"),
])
def test_bad_files_give_one_line_naming_the_element(tmp_path, text, message):
    path = tmp_path / ("bad.csv" if text.startswith(b"Comparison") else "bad.rm5")
    path.write_bytes(text)
    with pytest.raises(RevManError) as caught:
        read_revman(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_not_xml_named_rm5_and_command_line_message(tmp_path, root, capsys):
    path = tmp_path / "notes.rm5"
    path.write_text("just some text\n")
    assert revman.main(["import", str(path), "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: notes.rm5: not an XML file") and err.count("\n") == 1
    assert revman.main(["import", str(FIXTURES / "Fleiss1993.rm5"), ".hidden"]) == 2
    assert "review name '.hidden'" in capsys.readouterr().err


# --- import -------------------------------------------------------------------------------------


def test_imported_folder_validates_with_provenance_and_notes(root):
    review = imported(root, "constructed.rm5", "constructed")
    folder = root / "data" / "raw" / "constructed"
    for name in ("review.yaml", "studies.csv", "outcomes.csv", "arms.csv", "contrasts.csv",
                 "risk_of_bias.csv", "extraction_notes.md", "CODEBOOK.md", "SHA256SUMS"):
        assert (folder / name).is_file(), name
    assert (root / "params" / "constructed.yaml").read_text().count("analysis_method: revman")
    for frame in (review.arms, review.contrasts, review.studies, review.risk_of_bias):
        assert (frame["source_url"] == "constructed.rm5").all()
    assert set(review.arms["source_location"]) >= {"comparison 1, outcome 1, subgroup 2",
                                                   "comparison 2, outcome 2"}
    outcomes = review.outcomes.set_index("outcome")
    assert outcomes.loc["analysis_1_1", "pooling_model"] == "random"
    assert outcomes.loc["analysis_1_2", "pooling_method"] == "Peto"
    # "Favours usual care" on the left: higher is better
    assert outcomes.loc["analysis_2_2", "direction"] == "higher_is_better"
    assert outcomes.loc["analysis_1_1", "direction"] == "lower_is_better"
    giv = review.contrasts.set_index("study_id")
    assert giv.loc["Alpha-2001"].query("outcome == 'analysis_3_1'")["reported_form"].item() \
        == "estimate_se"
    assert math.isclose(giv.query("outcome == 'analysis_3_1'").loc["Alpha-2001", "estimate"],
                        math.exp(-0.35))
    assert review.studies["randomised"].all()   # "Randomised controlled trial" in the methods
    assert set(review.risk_of_bias["tool"]) == {"RoB1"}
    notes = (folder / "extraction_notes.md").read_text()
    assert "Kappa 1999" in notes
    subgroups = review.definitions.revman["comparisons"][0]["outcomes"][0]["subgroups"]
    assert [s["comparison"] for s in subgroups] == ["comparison_1_subgroup_1",
                                                   "comparison_1_subgroup_2"]
    with pytest.raises(ValueError, match="exists already"):
        revman.import_revman(FIXTURES / "constructed.rm5", "constructed")


def test_undetermined_direction_is_recorded_and_noted():
    outcome = read_revman(FIXTURES / "Fleiss1993.rm5").outcomes[0]
    outcome.graph_label_1, outcome.graph_label_2 = "Left side", "Right side"
    direction, note = revman.direction_of(outcome)
    assert direction == "lower_is_better" and "Check it" in note
    outcome.graph_label_1, outcome.graph_label_2 = "Favours control", "Favours aspirin"
    assert revman.direction_of(outcome)[0] == "higher_is_better"


# --- parity with the totals RevMan stored -----------------------------------------------------


FIELDS = {"estimate": "estimate", "ci_low": "ci_low", "ci_high": "ci_high", "chi2": "chi2",
          "p_chi2": "p_chi2", "i2": "i2", "tau2": "tau2", "z": "z", "p_z": "p_z"}


@pytest.mark.parametrize("fixture", ["Fleiss1993.rm5", "Fleiss1993_CR.csv", "Fleiss1993.zip"])
def test_fleiss1993_totals_equal_revmans(root, fixture):
    """Every total RevMan stored (pooled estimate, CI, Chi², its P, I², tau², Z, P) and every
    study's estimate, SE and weight, from the imported sheets through the engine. RevMan's own
    P of Chi² differs from the exact chi-square tail by 5.8e-7 relative (0.1269422522 vs
    0.1269421779; its distribution routine is approximate), so that field is held at 1e-6
    relative and not to the CSV's 8 decimals."""
    review = imported(root, fixture, "fleiss")
    model = read_revman(FIXTURES / fixture)
    table = pool_outcomes(review).table.set_index("outcome")
    compared = 0
    for outcome in model.outcomes:
        row = table.loc[revman.outcome_id(outcome)]
        for key, column in FIELDS.items():
            stored = outcome.totals.text.get(key)
            if stored is None or getattr(outcome.totals, key) is None:
                continue
            rel = 1e-6 if key == "p_chi2" else 1e-9
            value = row[column]
            ok = agrees(value, stored, rel)
            if key == "p_chi2":
                ok = ok or math.isclose(value, float(stored), rel_tol=1e-6)
            assert ok, (outcome.name, key, value, stored)
            compared += 1
    assert compared >= (9 if fixture == "Fleiss1993.rm5" else 18 if fixture.endswith("csv")
                        else 8)   # the data package leaves a fixed model's tau² empty
    studies = pool_outcomes(review).studies
    checked = 0
    for outcome in model.outcomes:
        if not outcome.totals.text.get("estimate"):
            continue   # RevMan computed nothing for this outcome (the .rm5 file's SMD)
        own = studies[studies["outcome"] == revman.outcome_id(outcome)].set_index("study_id")
        for row in outcome.rows:
            for key in ("weight", "estimate", "se", "ci_low", "ci_high"):
                if key in row.text:
                    assert agrees(own.loc[row.study, key], row.text[key]), (row.study, key)
                    checked += 1
    assert checked == (35 if fixture == "Fleiss1993.rm5" else 60 if fixture.endswith("csv")
                       else 28)


@pytest.mark.parametrize("fixture, count", [("Fleiss1993.rm5", 11), ("Fleiss1993_CR.csv", 20),
                                            ("Fleiss1993.zip", 9)])
def test_side_by_side_lists_every_stored_total(root, fixture, count):
    """The table notebook 03 prints: each stored total beside the computed one, all agreeing;
    the CSV's P(Qint) = 1 of an outcome without subgroups is not a total to compare."""
    review = imported(root, fixture, "fleiss")
    table = side_by_side(pool_outcomes(review), review)
    assert len(table) == count and table["agrees"].all()
    assert "p_q_int" not in set(table["quantity"])
    p_chi2 = table.set_index(["outcome", "quantity"]).loc[("analysis_1_1", "p_chi2")]
    assert 5e-7 < p_chi2["relative_difference"] < 6e-7 or fixture.endswith("zip")
    # a computed total moved by more than the stored digits allow no longer agrees
    tampered = pool_outcomes(review)
    tampered.table.loc[tampered.table["outcome"] == "analysis_1_1", "chi2"] += 1e-5
    moved = side_by_side(tampered, review).set_index(["outcome", "quantity"])
    assert not moved.loc[("analysis_1_1", "chi2"), "agrees"]
    assert stored_tolerance(0.12694225, 8) == pytest.approx(1.2694225e-7)
    assert stored_tolerance(0.00101, 6) == 5e-7


def test_fleiss1993_engine_on_the_counts():
    e1, n1 = [49, 44, 102, 32, 85, 246, 1570], [615, 758, 832, 317, 810, 2267, 8587]
    e2, n2 = [67, 64, 126, 38, 52, 219, 1720], [624, 771, 850, 309, 406, 2257, 8600]
    fit = rm.pool_dichotomous(e1, n1, e2, n2, "OR", "MH", "fixed")
    assert math.isclose(fit.exp_estimate, 0.8968655609130709, rel_tol=1e-12)
    assert math.isclose(fit.exp_ci_low, 0.8405144008917793, rel_tol=1e-12)
    assert math.isclose(fit.q, 9.946055983220074, rel_tol=1e-12)
    assert math.isclose(fit.i2, 39.67458045558399, rel_tol=1e-12)
    assert math.isclose(fit.statistic, 3.287633061337987, rel_tol=1e-12)
    assert math.isclose(fit.pval, 0.0010103343130005407, rel_tol=1e-9)


# --- constructed cases against metafor under RevMan's settings ---------------------------------


CASES = [key for key in EXPECTED if "test" not in key and "study" not in key]


@pytest.fixture(scope="module")
def constructed(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    (root / "data" / "raw").mkdir(parents=True)
    (root / "params").mkdir()
    old = os.environ.get("METAREVIEW_ROOT")
    os.environ["METAREVIEW_ROOT"] = str(root)
    try:
        revman.import_revman(FIXTURES / "constructed.rm5", "constructed")
        review = load_review(root / "data" / "raw" / "constructed")
        return review, pool_outcomes(review)
    finally:
        if old is None:
            os.environ.pop("METAREVIEW_ROOT")
        else:
            os.environ["METAREVIEW_ROOT"] = old


@pytest.mark.parametrize("key", CASES)
def test_constructed_case_equals_metafor(constructed, key):
    """Each outcome and subgroup of constructed.rm5, imported and pooled, against metafor with
    RevMan's settings (the call is stored with each value in revman_expected.json)."""
    _, pooled = constructed
    parts = key.split(".")
    outcome, subgroup = f"analysis_{parts[0]}_{parts[1]}", int(parts[2]) if len(parts) > 2 else 0
    fit = pooled.fits[(outcome, subgroup)]
    expected = EXPECTED[key]["values"]
    got = {"estimate": fit.estimate, "se": fit.se, "ci_low": fit.ci_low, "ci_high": fit.ci_high,
           "z": fit.statistic, "p_z": fit.pval, "chi2": fit.q, "df": fit.q_df,
           "p_chi2": fit.q_pval, "i2": fit.i2, "tau2": fit.tau2}
    for name, want in expected.items():
        if want is None:
            assert math.isnan(got[name]), (key, name)
        else:
            assert math.isclose(got[name], want, rel_tol=1e-9, abs_tol=1e-12), (key, name)


@pytest.mark.parametrize("key", [k for k in EXPECTED if "subgroup test" in k])
def test_constructed_subgroup_tests_equal_metafor(constructed, key):
    _, pooled = constructed
    number = key.split(" ")[0].split(".")
    row = pooled.table.set_index(["outcome", "subgroup"]).loc[
        (f"analysis_{number[0]}_{number[1]}", 0)]
    want = EXPECTED[key]["values"]
    assert math.isclose(row["q_int"], want["chi2"], rel_tol=1e-9)
    assert row["df_int"] == want["df"]
    assert math.isclose(row["p_q_int"], want["p"], rel_tol=1e-9)
    assert math.isclose(row["i2_q_int"], want["i2"], rel_tol=1e-9, abs_tol=1e-12)


def test_smd_is_revmans_hedges_g(constructed):
    """RevMan's SMD variance N/(n1 n2) + g²/(2(N − 3.94)), not metafor's g²/(2N)."""
    _, pooled = constructed
    fit = pooled.fits[("analysis_2_1", 0)]
    want = EXPECTED["2.1 study yi"]["values"]
    rows = pooled.studies.query("outcome == 'analysis_2_1' and subgroup == 0")
    r_order = ["Alpha-2001", "Beta-2003", "Gamma-2005", "Delta-2002", "Epsilon-2006", "Eta-2010"]
    index = [list(rows["study_id"]).index(s) for s in r_order]
    np.testing.assert_allclose(fit.yi[index], want["yi"], rtol=1e-12)
    np.testing.assert_allclose(fit.sei[index] ** 2, want["vi"], rtol=1e-12)


def test_zero_cells_and_double_zero_study(constructed):
    _, pooled = constructed
    fit = pooled.fits[("analysis_1_1", 2)]
    rows = list(pooled.studies.query("outcome == 'analysis_1_1' and subgroup == 2")["study_id"])
    zeta = rows.index("Zeta-2008")   # 0/30 vs 0/31: not estimable
    assert fit.k == 3 and not fit.estimable[zeta] and fit.weights[zeta] == 0
    delta = rm.dichotomous_study_effects([0], [40], [6], [42], "RR")
    assert math.isclose(delta[0][0], math.log((0.5 / 41) / (6.5 / 43)))
    assert math.isclose(delta[1][0], math.sqrt(1 / 0.5 - 1 / 41 + 1 / 6.5 - 1 / 43))


def test_engine_rejects_what_revman_does_not_offer():
    with pytest.raises(ValueError, match="no random-effects model for Peto"):
        rm.pool_dichotomous([1], [10], [2], [10], "OR", "Peto", "random")
    with pytest.raises(ValueError, match="Peto's method pools odds ratios only"):
        rm.pool_dichotomous([1], [10], [2], [10], "RR", "Peto", "fixed")
    with pytest.raises(ValueError, match="study 1"):
        rm.pool_dichotomous([11], [10], [2], [10])
    one = rm.pool_generic([0.2], [0.1])
    assert one.k == 1 and one.q_df == 0 and math.isnan(one.i2) and math.isnan(one.q_pval)


# --- round trip ---------------------------------------------------------------------------------


def _plain(cell: str) -> str:
    """A cell with numbers compared as numbers ("5.0" and "5" are the same value)."""
    try:
        return repr(float(cell))
    except ValueError:
        return cell


def _sheets(folder: Path) -> dict[str, list[list[str]]]:
    """The sheets as text, without the columns that name the file they came from."""
    import csv

    out = {}
    for name in ("studies.csv", "outcomes.csv", "arms.csv", "contrasts.csv"):
        rows = list(csv.reader((folder / name).open(encoding="utf-8")))
        header = rows[0]
        # the CSV export names no source file, citation or methods text (so no randomised)
        keep = [i for i, c in enumerate(header)
                if c not in ("source_url", "citation", "note", "randomised")]
        out[name] = sorted([[_plain(r[i]) for i in keep] for r in rows[1:]])
    return out


@pytest.mark.parametrize("fixture", ["Fleiss1993.rm5", "constructed.rm5"])
def test_export_then_import_gives_the_same_sheets(root, fixture):
    review = imported(root, fixture, "first")
    text = revman.export_csv(review)
    header = text.splitlines()[0]
    fleiss_header = (FIXTURES / "Fleiss1993_CR.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == fleiss_header
    exported = root / "exported.csv"
    exported.write_text(text, encoding="utf-8")
    revman.import_revman(exported, "second")
    first, second = (_sheets(root / "data" / "raw" / n) for n in ("first", "second"))
    assert first == second
    again = load_review(root / "data" / "raw" / "second")
    np.testing.assert_allclose(pool_outcomes(again).table["log_estimate"],
                               pool_outcomes(review).table["log_estimate"], rtol=1e-9)


def test_export_command_writes_the_csv(root, capsys):
    imported(root, "Fleiss1993.rm5", "fleiss")
    out = root / "out dir" / "fleiss.csv"
    assert revman.main(["export", "fleiss", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("Comparison Number,Outcome Number")
    assert "2 outcomes, 12 study results" in capsys.readouterr().out


def test_export_says_what_revman_cannot_take(root, capsys):
    """A split-face study has no place in RevMan's parallel-group analyses: the export says so
    instead of dropping it silently."""
    imported(root, "Fleiss1993.rm5", "fleiss")
    studies = root / "data" / "raw" / "fleiss" / "studies.csv"
    text = studies.read_text(encoding="utf-8").replace("AMIS,AMIS,1980,,,parallel",
                                                       "AMIS,AMIS,1980,,,split_face", 1)
    studies.write_text(text, encoding="utf-8")
    assert revman.main(["export", "fleiss", "--out", str(root / "x.csv")]) == 0
    out = capsys.readouterr().out
    assert "not exported (1 results)" in out and "split_face design" in out
    assert "AMIS" not in (root / "x.csv").read_text(encoding="utf-8")


# --- make targets ---------------------------------------------------------------------------------

FAKE = r'''#!/usr/bin/env bash
for a in "$@"; do printf '%s\n' "$a"; done >> args.log
'''


@pytest.fixture()
def make_tree(tmp_path):
    if shutil.which("make") is None or not (REPO / "Makefile").is_file():
        pytest.skip("make is not installed, or the tests run outside the repository")
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    for name in ("requirements.lock", "pyproject.toml"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / ".metareview-setup").touch()
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    return tmp_path


def _make(tree, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(["make", f"PY={tree / 'fake-python'}", *args], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=60)


def test_make_targets_pass_arguments_whole_and_check_the_name(make_tree):
    hostile = "my file \"x\" 'y'; touch pwned2 `touch pwned3` $$(touch pwned4).rm5"
    result = _make(make_tree, "import-revman", f"FILE={hostile}", "NAME=good_name-1")
    assert result.returncode == 0, result.stderr
    args = (make_tree / "args.log").read_text().splitlines()
    # make turns $$ into $; the shell runs none of it
    assert args == ["-m", "metareview.review.revman", "import", hostile.replace("$$", "$"),
                    "good_name-1"]
    assert not list(make_tree.glob("pwned*"))
    for bad in (".hidden", "a/b", "x;y", "-flag"):
        result = _make(make_tree, "import-revman", "FILE=x.rm5", f"NAME={bad}")
        assert result.returncode == 2 and "use letters, digits" in result.stdout, bad
    result = _make(make_tree, "import-revman", "NAME=x")
    assert result.returncode == 2 and "usage: make import-revman" in result.stdout
    (make_tree / "args.log").unlink()
    result = _make(make_tree, "export-revman", "REVIEW=fleiss1993", "OUT=a b.csv")
    assert result.returncode == 0, result.stderr
    assert (make_tree / "args.log").read_text().splitlines() == [
        "-m", "metareview.review.revman", "export", "fleiss1993", "--out", "a b.csv"]


# --- generic inverse variance: the scale of a stored ratio ------------------------------------


def _giv_rm5(rows: str, log_data: str = "YES") -> bytes:
    return ("<COCHRANE_REVIEW><STUDIES_AND_REFERENCES><STUDIES><INCLUDED_STUDIES>"
            "<STUDY ID='STD-A' NAME='A' YEAR='2001'/><STUDY ID='STD-B' NAME='B' YEAR='2002'/>"
            "</INCLUDED_STUDIES></STUDIES></STUDIES_AND_REFERENCES><ANALYSES_AND_DATA>"
            "<COMPARISON NO='1'><NAME>C</NAME>"
            f"<IV_OUTCOME ID='CMP-001.01' NO='1' LOG_DATA='{log_data}'><NAME>Deaths</NAME>"
            f"<EFFECT_MEASURE>Odds Ratio</EFFECT_MEASURE>{rows}</IV_OUTCOME></COMPARISON>"
            "</ANALYSES_AND_DATA></COCHRANE_REVIEW>").encode()


@pytest.mark.parametrize("rows, log_data, expected, noted", [
    # RevMan's own layout: the ratio shown, its ln kept beside it
    ("<IV_DATA EFFECT_SIZE='0.5' LOG_EFFECT_SIZE='-0.6931471805599453' SE='0.2' "
     "STUDY_ID='STD-A'/>", "YES", math.log(0.5), False),
    # only the ratio shown: its ln is pooled
    ("<IV_DATA EFFECT_SIZE='0.5' SE='0.2' STUDY_ID='STD-A'/>", "YES", math.log(0.5), False),
    # a "ratio" that is negative can only be the ln itself
    ("<IV_DATA EFFECT_SIZE='-0.4' SE='0.2' STUDY_ID='STD-A'/>", "YES", -0.4, True),
    # a value whose interval is centred on it on the linear scale is the ln
    ("<IV_DATA EFFECT_SIZE='0.3' SE='0.2' CI_START='-0.092' CI_END='0.692' STUDY_ID='STD-A'/>",
     "YES", 0.3, True),
    # ... and one whose interval is centred on ln of it is a ratio
    ("<IV_DATA EFFECT_SIZE='1.3' SE='0.2' CI_START='0.878' CI_END='1.924' STUDY_ID='STD-A'/>",
     "YES", math.log(1.3), False),
    # not entered as logs: RevMan pools the numbers as they stand
    ("<IV_DATA EFFECT_SIZE='-0.4' LOG_EFFECT_SIZE='9' SE='0.2' STUDY_ID='STD-A'/>", "NO",
     -0.4, False),
])
def test_generic_ratio_is_pooled_on_revmans_scale(tmp_path, rows, log_data, expected, noted):
    path = tmp_path / "giv.rm5"
    path.write_bytes(_giv_rm5(rows, log_data))
    model = read_revman(path)
    row = model.outcomes[0].rows[0]
    assert math.isclose(row.estimate, expected, rel_tol=1e-12)
    assert any("Check the study" in n for n in model.notes) == noted
    contrasts = revman.build_sheets(model)["contrasts.csv"].splitlines()
    header, first = contrasts[0].split(","), next(csv.reader([contrasts[1]]))
    ratio = float(first[header.index("estimate")])
    assert math.isclose(math.log(ratio), expected, rel_tol=1e-12)   # the sheet holds the ratio


def test_generic_ratios_read_back_from_the_csv_export(root):
    """The export writes each ratio as a ratio with its interval; the reader takes the ln."""
    review = imported(root, "constructed.rm5", "giv")
    (root / "giv.csv").write_text(revman.export_csv(review), encoding="utf-8")
    model = read_revman(root / "giv.csv")
    outcome = next(o for o in model.outcomes if o.kind == "generic" and o.measure == "OR")
    got = {r.study: r.estimate for r in outcome.rows}
    want = {"Alpha-2001": -0.35, "Beta-2003": -0.10, "Theta-2012": -0.62, "Iota-2014": 0.05}
    assert got.keys() == want.keys()
    for study, value in want.items():
        assert math.isclose(got[study], value, rel_tol=1e-12), study
    assert not [n for n in model.notes if "Check the study" in n]


# --- what is not imported is listed -----------------------------------------------------------


def test_unread_parts_and_package_files_are_listed(root):
    notes = " ".join(read_revman(FIXTURES / "Fleiss1993.rm5").notes)
    assert "MAIN_TEXT" in notes and "COVER_SHEET (all but the title)" in notes
    package = read_revman(FIXTURES / "Fleiss1993.zip")
    assert any("article.pdf" in n and "included.ris" in n for n in package.notes)
    assert any("stores no computed totals" in n for n in package.notes)
    imported(root, "Fleiss1993.zip", "fleiss")
    text = (root / "data" / "raw" / "fleiss" / "extraction_notes.md").read_text()
    assert "article.pdf" in text and "stores no computed totals" in text


def test_review_yaml_labels_comparisons_and_groups(root):
    review = imported(root, "constructed.rm5", "labels")
    definitions = review.definitions
    # outcome 1.1 names its subgroup 2 "High dose", outcome 1.4 "Children": the number is used
    assert definitions.comparison_labels["comparison_1_subgroup_2"].endswith(": subgroup 2")
    assert definitions.comparison_labels["comparison_2_subgroup_1"].endswith(": Short")
    assert definitions.intervention == "Exercise; Experimental" and definitions.comparison
    fleiss = imported(root, "Fleiss1993.rm5", "fleiss").definitions
    assert fleiss.intervention == "Aspirin; Mental Health Treatment"
    assert fleiss.comparison_labels == {"comparison_1": "Examples from Fleiss (1993)"}


# --- the report of RevMan's analyses ----------------------------------------------------------


def test_report_tables_and_sentence(root):
    from metareview.report import revman as revman_report

    review = imported(root, "constructed.rm5", "report")
    analyses = pool_outcomes(review)
    table = revman_report.present(analyses)
    deaths = table[table["outcome"] == "Deaths (random, subgroups, zero cells)"]
    assert list(deaths["method"]) == ["M-H, random"] * 3
    assert deaths["subgroup differences"].iloc[0].startswith("Chi² = ")
    assert revman_report.agreement_sentence(analyses, review).startswith(
        "The file stores no totals")   # constructed.rm5 stores none
    fleiss = imported(root, "Fleiss1993.rm5", "fleiss")
    sentence = revman_report.agreement_sentence(pool_outcomes(fleiss), fleiss)
    assert sentence.startswith("11 totals stored by RevMan; 11 are reproduced")
    peto = analyses.fits[("analysis_1_2", 0)]
    assert "Peto's variances" in revman_report.model_text(peto)
    assert revman_report.as_forest_result(peto)["pooling"] == "Peto"
