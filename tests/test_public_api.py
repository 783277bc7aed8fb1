"""The public API (README, "Statistical methods"): every name resolves to a function, however
it is reached."""

from __future__ import annotations

import subprocess
import sys

import pytest

import metareview as mr

API = ["effect_sizes", "pool", "subgroup", "meta_regression", "permutation_test",
       "mantel_haenszel", "peto", "egger_test", "rank_test", "trim_and_fill", "leave_one_out",
       "influence", "vote_count", "combine_pvalues", "pool_glmm", "pool_bayes"]


@pytest.mark.parametrize("name", API)
def test_public_name_is_a_function_even_after_its_module_is_imported(name):
    module = mr._API[name]
    __import__(f"metareview.{module}")
    assert callable(getattr(mr, name)), f"mr.{name} is {getattr(mr, name)!r}"
    assert getattr(mr, name).__module__ == f"metareview.{module}"


def test_every_public_name_is_listed():
    assert sorted(API) == mr.__all__


def test_pipeline_start_does_not_import_the_statistics():
    code = ("import sys, metareview.run.pipeline; "
            "print('pandas' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], out.stdout


def test_one_version_the_installed_package_reads_it_from_the_module():
    # pyproject.toml declares the version dynamic and setuptools reads metareview.__version__,
    # so the installed metadata and the module cannot disagree.
    import importlib.metadata
    import tomllib
    from pathlib import Path

    assert importlib.metadata.version("metareview") == mr.__version__
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml")
                            .read_text(encoding="utf-8"))
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "metareview.__version__"}
