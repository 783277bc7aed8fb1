"""pyproject.toml, requirements.lock and environment.yml describe one environment.

- requirements.lock: exact pins (`name==version`) of the whole stack, installed by `make setup`;
- environment.yml: the same pins for conda users (conda-forge names, pip for the rest);
- pyproject.toml: the ranges the package needs; every one must be pinned in the lock and the
  pin must satisfy it.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
# Not packages of the stack: the interpreter and the installer.
CONDA_ONLY = {"python", "pip"}


def normalise(name: str) -> str:
    """PEP 503 name: conda-forge's "jupyter_client" and PyPI's "jupyter-client" are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins() -> dict[str, str]:
    pins = {}
    for number, line in enumerate((REPO / "requirements.lock").read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s=;]+)", line)
        assert match, f"requirements.lock line {number} is not an exact pin: {line!r}"
        name = normalise(match[1])
        assert name not in pins, f"{name} is pinned twice in requirements.lock"
        pins[name] = match[2]
    return pins


def environment_pins() -> tuple[dict[str, str], dict]:
    spec = yaml.safe_load((REPO / "environment.yml").read_text())
    pins, other = {}, {}
    for entry in spec["dependencies"]:
        if isinstance(entry, dict):
            for line in entry.get("pip", []):
                name, _, version = line.partition("==")
                pins[normalise(name)] = version.strip()
            continue
        name, _, version = str(entry).partition("=")
        name = normalise(name.strip())
        if name in CONDA_ONLY:
            other[name] = version.lstrip("=")
        else:
            pins[name] = version.lstrip("=")
    return pins, other | {"channels": spec.get("channels", [])}


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_lock_has_the_stack_the_issue_names():
    pins = lock_pins()
    for name in ("jupyterlab", "pandas", "numpy", "scipy", "seaborn", "matplotlib", "papermill",
                 "nbconvert", "nbclient", "ipykernel", "pytest"):
        assert name in pins, f"{name} missing from requirements.lock"


def test_every_lock_pin_is_in_environment_yml_with_the_same_version():
    lock = lock_pins()
    env, _ = environment_pins()
    missing = sorted(set(lock) - set(env))
    assert not missing, f"pinned in requirements.lock but not in environment.yml: {missing}"
    different = {n: (lock[n], env[n]) for n in lock if env[n] != lock[n]}
    assert not different, f"versions differ (lock, environment.yml): {different}"
    extra = sorted(set(env) - set(lock))
    assert not extra, f"in environment.yml but not in requirements.lock: {extra}"


def test_environment_yml_uses_conda_forge_and_python_311():
    _, other = environment_pins()
    assert other["channels"][0] == "conda-forge"
    assert other["python"].startswith("3.11")
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    assert Version("3.11") in requires


def test_every_pyproject_dependency_is_pinned_and_within_its_range():
    project = pyproject()["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    lock = lock_pins()
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        name = normalise(requirement.name)
        if name not in lock:
            problems.append(f"{text}: not pinned in requirements.lock")
        elif not requirement.specifier.contains(lock[name], prereleases=True):
            problems.append(f"{text}: the lock pins {lock[name]}")
    assert not problems, "\n".join(problems)


def test_running_environment_matches_the_lock():
    """The .venv the tests run in was built from the lock (`make setup` syncs it)."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("not running in a virtual environment built by make setup")
    different = {}
    for name, version in lock_pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            different[name] = (version, "not installed")
            continue
        if Version(installed) != Version(version):
            different[name] = (version, installed)
    assert not different, f"(lock, installed) differ: {different}; run make setup"


def test_setup_installs_the_stack_compiled():
    """`make setup` writes the stack's bytecode once (`uv pip sync --compile-bytecode`): where
    Python may not write it (PYTHONDONTWRITEBYTECODE, a read-only environment) every process
    would otherwise compile pandas, SciPy and matplotlib again, seconds each time."""
    recipe = (REPO / "Makefile").read_text()
    assert re.search(r"pip sync --compile-bytecode .*requirements\.lock", recipe)
    import pandas

    cached = Path(pandas.__file__).parent / "__pycache__"
    tag = sys.implementation.cache_tag
    if Path(sys.prefix).resolve() == (REPO / ".venv").resolve():
        assert (cached / f"__init__.{tag}.pyc").is_file(), "rebuild .venv: rm -r .venv; make setup"
