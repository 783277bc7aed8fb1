"""Every field of every result class of the engine is documented in its class docstring.

The docstring has a numpydoc ``Attributes`` section with one entry ``name : type`` per
dataclass field, in any order, and no entry for a field the class does not have.
"""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest

from test_result_fields import CLASSES

def attribute_entries(cls: type) -> list[str]:
    """The names documented in the class docstring's Attributes section."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    match = re.search(r"^Attributes\n-{10,}\n(.*?)(?=^\w[^\n]*\n-{3,}\n|\Z)", doc,
                      re.MULTILINE | re.DOTALL)
    if not match:
        return []
    names, pending = [], ""
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            # An entry may name several fields, over lines that end with a comma.
            head = pending + line.split(" : ")[0]
            if head.endswith(","):
                pending = head + " "
                continue
            pending = ""
            names += [name.strip() for name in head.split(",")]
    return names


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_field_is_documented(name):
    cls = CLASSES[name]
    fields = [field.name for field in dataclasses.fields(cls)]
    documented = attribute_entries(cls)
    missing = [field for field in fields if field not in documented]
    assert not missing, f"{name}: fields without an entry under Attributes: {missing}"
    extra = [entry for entry in documented if entry not in fields
             and not isinstance(getattr(cls, entry, None), property)]
    assert not extra, f"{name}: Attributes entries that are not fields: {extra}"


def test_the_reader_finds_entries():
    class Example:
        """Text.

        Attributes
        ----------
        a, b : float
            Two numbers.
        d,
        e : int
            Over two lines.
        c : str
            A name.

        Notes
        -----
        d : not an attribute
        """

    assert attribute_entries(Example) == ["a", "b", "d", "e", "c"]


@pytest.mark.parametrize("function", ["pool", "meta_regression", "effect_sizes"])
def test_flagship_functions_have_numpydoc_sections_with_dois_and_examples(function):
    import metareview.stats.escalc as escalc
    import metareview.stats.moderators as moderators
    import metareview.stats.pooling as pooling

    home = {"pool": pooling, "meta_regression": moderators, "effect_sizes": escalc}[function]
    doc = inspect.cleandoc(getattr(home, function).__doc__)
    for section in ("Parameters", "Returns", "Notes", "References", "Examples"):
        assert re.search(rf"^{section}\n-{{{len(section)}}}$", doc, re.MULTILINE), section
    references = doc.split("References\n----------", 1)[1].split("Examples\n--------", 1)[0]
    assert references.count("doi:10.") >= 2
    assert ">>> " in doc.split("Examples\n--------", 1)[1]
