"""The package's layers import one way: stats <- review <- report <- run.

`metareview.files` (paths and atomic writes) imports only the engine's `stats.plain` (the one
conversion of numpy and pandas values to plain ones) and may be used by every layer but the
engine, which never touches a file. Every import is checked, including those
inside functions, by reading the modules' syntax trees.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "metareview"
LAYERS = ("stats", "review", "report", "run")
# What each part of the package may import from the package.
ALLOWED = {
    "stats": {"stats"},
    "review": {"stats", "review", "files"},
    "report": {"stats", "review", "report", "files", "api"},
    "run": {"stats", "review", "report", "run", "files", "api"},
    "files": {"stats"},  # stats.plain only: test_files_imports_only_the_plain_conversion
}
# Modules that read or write files, or draw: the engine imports none of them.
NOT_IN_ENGINE = ("os", "pathlib", "shutil", "glob", "io", "tempfile", "matplotlib", "yaml")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or
                  p.parent != PACKAGE)


def _part_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in the module, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "metareview":
                found += [(node.lineno, f"metareview.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def _target(name: str) -> str | None:
    """The part of the package an import reaches: a layer, "files", "api" (the lazy public
    API of `import metareview`), or None outside the package."""
    parts = name.split(".")
    if parts[0] != "metareview":
        return None
    if len(parts) == 1:
        return "api"
    return parts[1] if parts[1] in LAYERS or parts[1] == "files" else "unknown:" + parts[1]


def test_every_module_belongs_to_a_layer():
    parts = {_part_of(p) for p in _modules()}
    assert parts <= set(ALLOWED), f"modules outside the layers: {sorted(parts - set(ALLOWED))}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_with_the_grain(path):
    part = _part_of(path)
    wrong = []
    for line, name in _imports(path):
        target = _target(name)
        if target is None:
            if part == "stats" and name.split(".")[0] in NOT_IN_ENGINE:
                wrong.append(f"line {line}: the engine imports {name}")
            continue
        if target not in ALLOWED[part]:
            wrong.append(f"line {line}: {part} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_files_imports_only_the_plain_conversion():
    import subprocess
    import sys

    names = {name for _, name in _imports(PACKAGE / "files.py") if _target(name) is not None}
    assert names == {"metareview.stats.plain"}
    # ... which loads neither numpy nor pandas: the runner imports files at start-up
    code = ("import sys, metareview.files; "
            "print(*(m in sys.modules for m in ('numpy', 'pandas', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"], out.stdout


def test_the_check_fails_on_an_import_against_the_grain(tmp_path):
    # The test above must be able to fail: an engine module importing the report layer.
    module = PACKAGE / "stats" / "pooling.py"
    source = module.read_text(encoding="utf-8") + "\nfrom metareview.report import text\n"
    fake = tmp_path / "pooling.py"
    fake.write_text(source, encoding="utf-8")
    targets = {_target(name) for _, name in _imports(fake)}
    assert "report" in targets and "report" not in ALLOWED["stats"]


# Top-level names that modules had before they moved into the layers (metareview.stats.pooling
# was importable without its layer, and so on). Each module now has one path.
OLD_NAMES = ("results", "escalc", "paired", "conversions", "heterogeneity", "pooling",
             "moderators", "binary", "small_study", "sensitivity", "schema", "sheets",
             "checksums", "codebook", "derive", "params", "plots", "outputs", "pipeline",
             "record")


@pytest.mark.parametrize("old", OLD_NAMES)
def test_old_module_names_are_gone(old):
    import importlib

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"metareview.{old}")


def test_no_finder_keeps_old_names_alive():
    import sys

    import metareview

    assert not hasattr(metareview, "MOVED_MODULES")
    assert not [f for f in sys.meta_path if type(f).__module__.startswith("metareview")]
