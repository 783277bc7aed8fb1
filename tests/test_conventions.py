"""One confidence convention (`level`) and one default test per layer, read from every public
function's signature (docs/ARCHITECTURE.md, "One confidence convention, one default test per
layer")."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from metareview.review import params

# report.grade's alpha is the type I error of the optimal information size, not an interval's
NOT_AN_INTERVAL = {("metareview.report.grade", "Thresholds")}


def _functions(layer: str):
    package = importlib.import_module(f"metareview.{layer}")
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and \
                    obj.__module__ == module.__name__:
                yield module.__name__, name, obj


def _parameters(obj):
    try:
        return inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return {}


@pytest.mark.parametrize(("layer", "default"), [("stats", "z"), ("report", "knha")])
def test_one_default_test_per_layer(layer, default):
    found = {f"{module}.{name}": p["test"].default for module, name, obj in _functions(layer)
             if "test" in (p := _parameters(obj)) and isinstance(p["test"].default, str)}
    assert found, f"no function of {layer} takes a test"
    assert {f: d for f, d in found.items() if d != default} == {}
    assert params.DEFAULTS["test"] == "knha"


@pytest.mark.parametrize("layer", ["stats", "review", "report", "run"])
def test_intervals_are_asked_for_by_level_never_alpha(layer):
    takes_alpha = [f"{module}.{name}" for module, name, obj in _functions(layer)
                   if "alpha" in _parameters(obj) and (module, name) not in NOT_AN_INTERVAL]
    assert takes_alpha == []
    defaults = {f"{module}.{name}": p["level"].default for module, name, obj in _functions(layer)
                if "level" in (p := _parameters(obj))
                and p["level"].default not in (inspect.Parameter.empty, None)}
    assert {f: d for f, d in defaults.items() if d != 0.95} == {}  # None: "the data's own"


def test_the_notebook_parameter_is_level():
    assert params.DEFAULTS["level"] == 0.95 and "alpha" not in params.DEFAULTS
