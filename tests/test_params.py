"""Parameters: defaults, YAML file, overrides, and the errors for unknown or mistyped values."""

from __future__ import annotations

from pathlib import Path

import pytest

from metareview.review.params import DEFAULTS, ParameterError, load_params

REPO_PARAMS = Path(__file__).resolve().parents[1] / "params"


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "review.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_contract_defaults():
    assert DEFAULTS == {
        "review": "", "tau2_method": "REML", "test": "knha", "paired_r": 0.5, "level": 0.95,
        "exclude_studies": [], "timepoint": "last", "min_k_pool": 2, "n_perm": 5000,
        "seed": 20260101, "sensitivity_r": [0.2, 0.5, 0.8], "analysis_method": "default",
        "bayes_tau_prior": "default", "bayes_mu_prior": "uniform",
    }


def test_defaults_when_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("METAREVIEW_ROOT", str(tmp_path))
    params = load_params("new-review")
    assert params == {**DEFAULTS, "review": "new-review"}
    params["exclude_studies"].append("X")
    assert DEFAULTS["exclude_studies"] == [], "callers cannot change the defaults"


def test_default_path_is_params_review_yaml(tmp_path, monkeypatch):
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "r1.yaml").write_text("review: r1\ntest: z\n", encoding="utf-8")
    monkeypatch.setenv("METAREVIEW_ROOT", str(tmp_path))
    assert load_params("r1")["test"] == "z"


def test_the_repository_has_parameter_files():
    assert sorted(REPO_PARAMS.glob("*.yaml")), "params/ holds no <review>.yaml"


@pytest.mark.parametrize("path", sorted(REPO_PARAMS.glob("*.yaml")), ids=lambda p: p.name)
def test_committed_parameter_files_are_valid(path):
    params = load_params(path.stem, path)
    assert params["review"] == path.stem


def test_file_and_overrides_apply_in_order(tmp_path):
    path = write_yaml(tmp_path, "review: r\ntau2_method: DL\npaired_r: 0.3\nseed: 7\n")
    params = load_params("r", path, overrides={"paired_r": 0.8, "exclude_studies": ["A2020"]})
    assert params["tau2_method"] == "DL" and params["seed"] == 7
    assert params["paired_r"] == 0.8 and params["exclude_studies"] == ["A2020"]


def test_int_accepted_where_float_expected(tmp_path):
    params = load_params("r", write_yaml(tmp_path, "paired_r: 0\nsensitivity_r: [0, 0.5]\n"))
    assert params["paired_r"] == 0.0 and isinstance(params["paired_r"], float)
    assert params["sensitivity_r"] == [0.0, 0.5]


def test_command_line_text_is_parsed():
    params = load_params("r", None, {"paired_r": "0.2", "exclude_studies": "[A2020, B2021]",
                                     "n_perm": "1000", "test": "z"})
    assert params["paired_r"] == 0.2 and params["n_perm"] == 1000
    assert params["exclude_studies"] == ["A2020", "B2021"]


def test_empty_file_gives_defaults(tmp_path):
    assert load_params("r", write_yaml(tmp_path, "# nothing\n")) == {**DEFAULTS, "review": "r"}


BAD = [
    # (yaml text, words the message must contain)
    ("tau2_methd: DL\n", ["'tau2_methd'", "Did you mean 'tau2_method'?"]),
    ("pairedr: 0.4\n", ["'pairedr'", "'paired_r'"]),
    ("tau2_method: reml\n", ["'tau2_method'", "'reml'", "'REML'", "'SJ'"]),
    ("test: t\n", ["'test'", "'z', 'knha'"]),
    ("paired_r: 1\n", ["'paired_r'", "between -1 and 1"]),
    ("paired_r: -1.5\n", ["'paired_r'", "-1.5"]),
    ("paired_r: 'half'\n", ["'paired_r'", "'half'", "a number"]),
    ("paired_r: true\n", ["'paired_r'", "True", "a number"]),
    ("alpha: 0\n", ["'alpha'", "between 0 and 1"]),
    ("alpha: .nan\n", ["'alpha'", "between 0 and 1"]),
    ("level: 95\n", ["'level'", "between 0 and 1", "0.95"]),
    ("alpha: 0.1\nlevel: 0.95\n", ["'alpha' = 0.1", "'level' = 0.95", "disagree"]),
    ("exclude_studies: Smith2020\n", ["'exclude_studies'", "a list of study_id"]),
    ("exclude_studies: [2020]\n", ["'exclude_studies'", "quote ids"]),
    ("timepoint: final\n", ["'timepoint'", "'last', 'first'"]),
    ("min_k_pool: 1\n", ["'min_k_pool'", ">= 2"]),
    ("min_k_pool: 2.0\n", ["'min_k_pool'", "a whole number"]),
    ("min_k_pool: true\n", ["'min_k_pool'", "a whole number"]),
    ("n_perm: 50\n", ["'n_perm'", ">= 100"]),
    ("seed: -3\n", ["'seed'", ">= 0"]),
    ("seed: '42'\n", ["'seed'", "whole number"]),
    ("sensitivity_r: []\n", ["'sensitivity_r'", "non-empty list"]),
    ("sensitivity_r: [0.2, 1.2]\n", ["'sensitivity_r[1]'", "1.2"]),
    ("review: other\n", ["'review'", "'other'", "does not match"]),
    ("- a\n- b\n", ["must hold 'name: value'"]),
    ("paired_r: [0.5\n", ["not valid YAML", "line"]),
]


@pytest.mark.parametrize("text, words", BAD, ids=[b[0].strip() for b in BAD])
def test_bad_values_name_parameter_and_allowed(tmp_path, text, words):
    with pytest.raises(ParameterError) as info:
        load_params("r", write_yaml(tmp_path, text))
    assert isinstance(info.value, ValueError)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_unknown_override_and_review_override():
    with pytest.raises(ParameterError, match="unknown parameter 'alpah' in the command line"):
        load_params("r", overrides={"alpah": 0.1})
    with pytest.raises(ParameterError, match="'review'"):
        load_params("r", overrides={"review": "other"})
    with pytest.raises(ParameterError, match="'n_perm' = 'many'"):
        load_params("r", overrides={"n_perm": "many"})


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        load_params("r", tmp_path / "absent.yaml")


def test_an_unknown_study_id_lists_every_id_of_a_review_in_natural_order():
    # before: only the first 12 ids, sorted as text (e1, e10, e11, e12, ..., e2), then "..."
    from metareview.review.params import check_study_ids

    ids = [f"e{i}" for i in range(1, 37)]  # as many studies as msc-imids
    with pytest.raises(ParameterError) as raised:
        check_study_ids({"exclude_studies": ["e37x"]}, reversed(ids), "params/x.yaml")
    message = str(raised.value)
    assert "names 'e37x', not a study_id of studies.csv" in message
    assert "The review's 36 study ids are " + ", ".join(ids) + "." in message
    assert "..." not in message


def test_an_unknown_study_id_of_a_large_review_names_the_nearest_and_the_count():
    from metareview.review.params import LIST_ALL_IDS, NEAREST_IDS, check_study_ids

    ids = [f"Study{i:03d}" for i in range(1, LIST_ALL_IDS + 21)]
    with pytest.raises(ParameterError) as raised:
        check_study_ids({"exclude_studies": ["Study0l5"]}, ids, "params/x.yaml")
    message = str(raised.value)
    assert f"The review has {LIST_ALL_IDS + 20} study ids (column study_id" in message
    nearest = message.split("the nearest to 'Study0l5' are ")[1].rstrip(".").split(", ")
    assert len(nearest) == NEAREST_IDS and "Study015" in nearest
    assert "Study059" not in message  # the rest is counted, not listed
    with pytest.raises(ParameterError, match="Studies.csv has none"):
        check_study_ids({"exclude_studies": ["A"]}, [], "params/x.yaml")


# --- alpha in a params file is read once, as the confidence level ---------------------------


@pytest.mark.parametrize(("text", "overrides", "level"), [
    ("alpha: 0.05\n", None, 0.95),
    ("alpha: 0.1\n", None, 0.9),
    ("level: 0.9\n", None, 0.9),
    ("alpha: 0.1\nlevel: 0.9\n", None, 0.9),  # both, and they agree
    ("alpha: 0.05\n", {"alpha": "0.1"}, 0.9),  # the command line wins, in either name
    ("alpha: 0.05\n", {"level": "0.9"}, 0.9),
    ("level: 0.9\n", {"alpha": "0.05"}, 0.95),
])
def test_alpha_becomes_level_and_only_level_reaches_the_notebooks(tmp_path, text, overrides,
                                                                  level):
    values = load_params("r", path=write_yaml(tmp_path, text), overrides=overrides)
    assert values["level"] == level and "alpha" not in values
    assert set(values) == set(DEFAULTS)


def test_the_committed_params_files_give_level_095():
    for path in sorted(REPO_PARAMS.glob("*.yaml")):
        assert load_params(path.stem, path=path)["level"] == 0.95, path.name


def test_an_alpha_override_marks_the_run_as_overridden(tmp_path, monkeypatch):
    from metareview.run import pipeline

    monkeypatch.setenv("METAREVIEW_ROOT", str(tmp_path))
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "r.yaml").write_text("alpha: 0.05\n", encoding="utf-8")
    overrides = {"alpha": "0.1"}
    values = load_params("r", overrides=overrides)
    assert pipeline.effective_overrides("r", overrides, values) == {"level": 0.9}
    assert pipeline.effective_overrides("r", {"alpha": "0.05"}, load_params(
        "r", overrides={"alpha": "0.05"})) == {}
