"""`make new-review NAME=x`: the folders and files of a new review, ready to be filled in.

Writes `data/raw/x/` with every sheet of the schema as a header row, a `review.yaml` to edit,
a `CODEBOOK.md` whose tables come from the schema, and `params/x.yaml` with the default
parameters; `SHA256SUMS` comes later, from `make checksums REVIEW=x` once the sheets are valid. Nothing that exists is overwritten. The first `make reports` then
stops on this review with the list of what to fill in, and runs the others.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from pathlib import Path

from metareview import files
from metareview.review import codebook, params
from metareview.review.schema import SHEETS

# Stricter than files.NAME_RULE: lower case and hyphens, the house style of review names.
NAME = re.compile(r"[a-z0-9][a-z0-9-]*", re.ASCII)

REVIEW_YAML = """\
# Definitions of the review {name}: its vocabulary and analysis plan (README, "Adding a
# study or a review"). Edit every line; `make reports` checks this file with the sheets.
title: {title}
question: >-
  In <population>, does <intervention>, compared with <comparator>, change <outcomes>?
years: [1990, 2026]             # the range of studies.csv `year`
conditions:                     # allowed `condition` values: id: label
  condition_a: Condition A
intervention_classes:           # allowed `intervention_class` values: id: label
  class_a: Intervention class A
  other: Other
# main_analysis:                # optional: the main analysis keeps only these classes
#   label: Class A only
#   intervention_classes: [class_a]
# study_columns:                # optional extra columns of studies.csv, after `note`
#   - {{name: latitude, kind: float, description: absolute latitude of the trial}}
subgroups: [intervention_class, design]
moderators:                     # meta-regression on columns of studies.csv
  - {{column: follow_up_weeks, kind: continuous}}
favours: {{treatment: treatment, control: control}}
# required: {{arms: [timepoint_weeks]}}   # cells this review requires to be filled
"""


def _header(sheet) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(sheet.names)
    return out.getvalue()


def scaffold(name: str) -> list[Path]:
    """Create the new review `name`; return the files written (existing ones are kept)."""
    if not (NAME.fullmatch(name) and files.is_safe_name(name)):
        raise ValueError(f"review name {files.shorten(name)}: use lower-case letters, digits "
                         f"and hyphens (at most {files.MAX_NAME_LENGTH} characters), e.g. "
                         "bcg-vaccine; nothing was written")
    folder = files.raw_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def create(path: Path, text: str, within: Path = folder) -> None:
        if not path.exists():
            files.write_text(text, path, within=within)
            written.append(path)

    title = name.replace("-", " ").capitalize()
    create(folder / "review.yaml", REVIEW_YAML.format(name=name, title=title))
    for sheet in SHEETS:
        if not sheet.optional:
            create(folder / sheet.filename, _header(sheet))
    create(folder / codebook.CODEBOOK, codebook.render(folder))
    lines = [f"# Papermill parameters of the {name} review (README, \"Parameters\").",
             f"review: {name}"]
    lines += [f"{key}: {value}" for key, value in params.DEFAULTS.items() if key != "review"]
    create(files.params_path(name), "\n".join(lines) + "\n", files.repo_root() / "params")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m metareview.review.scaffold",
        description="Scaffold a new review: data/raw/<name>/ (sheets with their headers, "
                    "review.yaml, CODEBOOK.md) and params/<name>.yaml.")
    parser.add_argument("name", help="the review's folder name, e.g. bcg-vaccine")
    args = parser.parse_args(argv)
    try:
        written = scaffold(args.name)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {files.display_path(path)}")
    if not written:
        print(f"{args.name}: every file exists already; nothing written")
    print(f"Next: edit data/raw/{args.name}/review.yaml, fill in the sheets (see its "
          f"CODEBOOK.md), then `make codebook REVIEW={args.name}`, "
          f"`make checksums REVIEW={args.name}`, `make reports` and "
          f"`make record REVIEW={args.name}` (README, \"Adding a study or a review\").")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
