"""Reading the YAML of a review folder (review.yaml) and of params/<review>.yaml with limits.

A review folder travels between coauthors, so its YAML is read as untrusted text:

- **No anchors or aliases** (`&name`, `*name`, and so the merge key `<<: *name`). Aliases let a
  file of a few hundred bytes expand into gigabytes (the "billion laughs" pattern: each level
  repeats the one below it ten times); PyYAML expands them without a bound. The files of this
  project never need them, so they are refused outright rather than capped.
- **No repeated keys.** PyYAML keeps the last of two equal keys silently; a repeated key is
  almost always a slip (two `favours:` blocks), so it is an error naming both lines.
- **A size limit** (`MAX_BYTES`), checked before the file is read.

Every refusal is a `YamlRefused` (a `yaml.YAMLError`, so callers that report YAML errors
report these too) with a one-line message naming the line and column.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_BYTES", "YamlRefused", "load_text", "read_file"]

# The project's review.yaml files are about 2 KB; 256 KB leaves room for any real review
# and keeps a mistaken or hostile file from being read at all.
MAX_BYTES = 256 * 1024


class YamlRefused(yaml.YAMLError):
    """The YAML uses a construct this project refuses, or is too large."""


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors, aliases or repeated keys."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise YamlRefused(f"{_where(event.start_mark)}: YAML anchors and aliases (&name, "
                              "*name) are not allowed; write each value out in full")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the constructor below reports it
                    continue
                if first is not None:
                    text = str(key)
                    shown = text if len(text) <= 40 else text[:40] + "..."
                    raise YamlRefused(f"{_where(key_node.start_mark)}: the key {shown!r} "
                                      f"appears twice (first at {_where(first)}); keep one")
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)


def load_text(text: str) -> Any:
    """Parse YAML text with the limits above (size included)."""
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise YamlRefused(f"the text is {size} bytes; at most {MAX_BYTES} are read")
    return yaml.load(text, Loader=_LimitedLoader)  # noqa: S506 - a SafeLoader subclass


def read_file(path: str | os.PathLike) -> Any:
    """Read and parse a YAML file with the limits above; the size is checked before reading.

    Raises FileNotFoundError, UnicodeDecodeError, YamlRefused or another yaml.YAMLError.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YamlRefused(f"the file is {size} bytes; at most {MAX_BYTES} are read (a review's "
                          "YAML is a few kilobytes)")
    return load_text(path.read_bytes().decode("utf-8"))
