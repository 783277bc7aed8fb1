"""YAML with limits: an alias bomb in review.yaml or params/<review>.yaml is refused in well
under a second with a one-line message, repeated keys are errors, large files are not read,
and no message echoes a whole value (issue 24: a 1.9 KB file grew memory without end)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from metareview.review import yaml_files
from metareview.review.definitions import DefinitionError, load_definitions
from metareview.review.params import ParameterError, load_params

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "review_fixture"


def bomb(levels: int = 9, width: int = 9) -> str:
    """The billion-laughs pattern: each anchor repeats the one before it `width` times."""
    lines = ['a0: &a0 "lol lol lol lol lol lol lol lol lol lol"']
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _review_yaml_with_bomb() -> str:
    """A review.yaml whose allowed key `conditions` holds the bomb (nested, as in the issue)."""
    nested = textwrap.indent(bomb(), "  ")
    return ("title: T\nintervention_classes: {other: Other}\nconditions:\n" + nested
            + "question: *a9\n")


def _timed_in_child(code: str, root: Path) -> dict:
    """Run `code` in a fresh interpreter (a hang or a memory blow-up cannot stop the test
    run: it is killed after 60 s) and return the JSON it prints."""
    env = {**os.environ, "METAREVIEW_ROOT": str(root)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture()
def root(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo / "data" / "raw" / "rev")
    (repo / "params").mkdir()
    (repo / "params" / "rev.yaml").write_text("review: rev\n")
    return repo


CHILD = """
import json, time
{imports}
start = time.perf_counter()
try:
    {call}
    message = None
except Exception as error:
    message = f"{{type(error).__name__}}: {{error}}"
print(json.dumps({{"seconds": time.perf_counter() - start, "message": message}}))
"""


@pytest.mark.parametrize("where, call", [
    ("review.yaml", "from metareview.review.definitions import load_definitions; "
                    "load_definitions('data/raw/rev')"),
    ("review.yaml", "from metareview.review.sheets import load_review; "
                    "load_review('data/raw/rev')"),
    ("review.yaml", "from metareview.review import checksums, sheets; "
                    "checksums.accept('data/raw/rev')"),
    ("params", "from metareview.review.params import load_params; load_params('rev')"),
])
def test_alias_bomb_is_refused_in_under_a_second(root, where, call):
    if where == "review.yaml":
        (root / "data" / "raw" / "rev" / "review.yaml").write_text(_review_yaml_with_bomb())
    else:
        (root / "params" / "rev.yaml").write_text(
            "review: rev\nexclude_studies:\n" + textwrap.indent(bomb(), "  ")
            + "sensitivity_r: *a9\n")
    assert len(bomb()) < 2000  # the size of the file
    imports, call = call.split("; ")
    result = _timed_in_child(f"import os; os.chdir({str(root)!r})\n"
                             + CHILD.format(imports=imports, call=call), root)
    assert result["seconds"] < 1.0, result
    message = result["message"]
    assert message is not None and "anchors and aliases" in message
    assert "line " in message and len(message) < 400, message
    assert "lol lol" not in message


def test_alias_in_a_command_line_parameter_is_refused(root, monkeypatch):
    monkeypatch.setenv("METAREVIEW_ROOT", str(root))
    with pytest.raises(ParameterError, match="anchors and aliases"):
        load_params("rev", overrides={"sensitivity_r": "[&a 0.2, *a]"})


def test_merge_keys_are_refused_too():
    with pytest.raises(yaml_files.YamlRefused):
        yaml_files.load_text("base: &b {a: 1}\nother:\n  <<: *b\n")


def test_repeated_keys_are_errors_naming_both_lines(root, monkeypatch):
    monkeypatch.setenv("METAREVIEW_ROOT", str(root))
    folder = root / "data" / "raw" / "rev"
    text = (folder / "review.yaml").read_text()
    (folder / "review.yaml").write_text(text + "favours: {treatment: other, control: other}\n")
    with pytest.raises(DefinitionError) as caught:
        load_definitions(folder)
    assert "'favours' appears twice" in str(caught.value)
    assert "first at line" in str(caught.value)
    (root / "params" / "rev.yaml").write_text("review: rev\npaired_r: 0.5\npaired_r: 0.8\n")
    with pytest.raises(ParameterError, match=r"line 3.*'paired_r' appears twice.*line 2"):
        load_params("rev")
    with pytest.raises(yaml_files.YamlRefused, match="'treatment' appears twice"):
        yaml_files.load_text("favours: {treatment: a, treatment: b}\n")


def test_a_large_file_is_not_read(root, monkeypatch):
    monkeypatch.setenv("METAREVIEW_ROOT", str(root))
    path = root / "params" / "rev.yaml"
    path.write_text("review: rev\n# " + "x" * yaml_files.MAX_BYTES + "\n")

    def no_reading(self):
        raise AssertionError("read a file over the limit")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    with pytest.raises(ParameterError, match="at most 262144 are read"):
        load_params("rev")


def test_messages_never_echo_a_whole_value(root, monkeypatch):
    monkeypatch.setenv("METAREVIEW_ROOT", str(root))
    long = "R" * 100_000
    (root / "params" / "rev.yaml").write_text(f"review: rev\ntau2_method: {long}\n")
    with pytest.raises(ParameterError) as caught:
        load_params("rev")
    assert len(str(caught.value)) < 400 and "100002 characters" in str(caught.value)
    folder = root / "data" / "raw" / "rev"
    (folder / "review.yaml").write_text(f"title: T\nintervention_classes: [{long}x, b c]\n")
    with pytest.raises(DefinitionError) as caught:
        load_definitions(folder)
    assert len(str(caught.value)) < 600


def test_ordinary_files_still_load(root, monkeypatch):
    monkeypatch.setenv("METAREVIEW_ROOT", str(root))
    for review in ("acne-scars", "cm-resurfacing", "msc-imids"):
        assert load_definitions(REPO / "data" / "raw" / review).title
        assert yaml_files.read_file(REPO / "params" / f"{review}.yaml")["review"] == review
