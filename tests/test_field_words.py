"""The code and the notebooks speak of any review: no words of the committed reviews' field.

What a report says about a review (its title, classes, arms, favours labels) comes from the
review's own `review.yaml` and sheets; a phrase such as "cell therapy" written into a notebook's
narrative or into a reason string of the code would reach the reports of every other review.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIELD_WORDS = re.compile(
    r"cell[- ]therap|cell-free|autologous|stem[- ]cell|conditioned medium|mesenchymal|"
    r"fibroblast|acne scar|\bscars?\b|psoriasis|lupus|\bMSC\b|\bSVF\b",
    re.IGNORECASE)
# The one module whose job is an example review.yaml (its docstring shows every key).
EXAMPLE_MODULES = {"review/definitions.py"}


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String literals of a module that are not docstrings (what the code can print)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_no_words_of_the_committed_reviews_in_the_code_strings():
    found = []
    for path in sorted((REPO / "src" / "metareview").rglob("*.py")):
        name = str(path.relative_to(REPO / "src" / "metareview"))
        if name in EXAMPLE_MODULES:
            continue
        for line, text in _code_strings(path):
            if FIELD_WORDS.search(text):
                found.append(f"{name}:{line}: {text[:80]!r}")
    assert found == []


def test_no_words_of_the_committed_reviews_in_the_notebooks():
    found = []
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        for number, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            text = "".join(cell["source"])
            if cell["cell_type"] == "code":
                # the parameters cell names a committed review as its default: that is a name
                text = re.sub(r'review = "[^"]*"', "", text)
            if FIELD_WORDS.search(text):
                found.append(f"{path.name}, cell {number}: {FIELD_WORDS.search(text).group(0)}")
    assert found == []
