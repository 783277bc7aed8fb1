"""SHA-256 checksums of a review's raw data folder (the file SHA256SUMS).

SHA256SUMS lists every file of `data/raw/<review>/` except itself, sorted by path, one line per
file in the format of GNU `sha256sum` ("<64 hex digits>  <name>"), so that
`cd data/raw/<review> && sha256sum -c SHA256SUMS` checks it too. Hidden files (names starting
with '.', such as .DS_Store) are left out: they are operating-system clutter, not data.

    python -m metareview.review.checksums verify data/raw/acne-scars
    python -m metareview.review.checksums accept --review acne-scars   # `make checksums REVIEW=...`
    python -m metareview.review.checksums write data/raw/acne-scars     # after an intended edit

`accept` hashes a folder only when it is a review folder (it holds review.yaml), and a review named
on the command line must follow `metareview.files.NAME_RULE`: `REVIEW=../../usr` is refused
before a single file is read.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

from metareview import files
from metareview.files import display_path

__all__ = ["ChecksumError", "SUMS_NAME", "verify", "write", "compute"]

SUMS_NAME = "SHA256SUMS"
_LINE_RE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")


class ChecksumError(ValueError):
    """Raw data differ from SHA256SUMS; the message names every file concerned."""


def _data_files(folder: Path) -> list[str]:
    names = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and relative.as_posix() != SUMS_NAME:
            names.append(relative.as_posix())
    return sorted(names)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def compute(review_dir: str | os.PathLike) -> dict[str, str]:
    """{relative path: sha256 hex} of every data file in the folder, sorted by path."""
    folder = Path(review_dir)
    return {name: _sha256(folder / name) for name in _data_files(folder)}


def review_folder(review_dir: str | os.PathLike) -> Path:
    """`review_dir` as a Path, after checking that it is a review folder (it holds
    review.yaml); raise ChecksumError before anything in it is read otherwise."""
    folder = Path(review_dir)
    if not folder.is_dir():
        raise ChecksumError(f"{display_path(folder)}: no such review folder.")
    if not (folder / "review.yaml").is_file():
        raise ChecksumError(f"{display_path(folder)} is not a review folder (it has no "
                            "review.yaml); nothing was read or written.")
    return folder


def write(review_dir: str | os.PathLike) -> Path:
    """Rewrite SHA256SUMS from the folder's current files (atomically); return its path.

    A SHA256SUMS whose content would not change is left untouched (its file time too), so that
    Make does not see a change where there is none.
    """
    folder = Path(review_dir)
    if not folder.is_dir():
        raise ChecksumError(f"{display_path(folder)}: no such review folder.")
    text = "".join(f"{digest}  {name}\n" for name, digest in compute(folder).items())
    target = folder / SUMS_NAME
    if target.is_file() and target.read_bytes() == text.encode("utf-8"):
        return target
    return files.write_text(text, target, within=folder)


def differences(review_dir: str | os.PathLike) -> list[str]:
    """What differs between the folder and its SHA256SUMS, one line per file (empty if none)."""
    folder = Path(review_dir)
    sums = folder / SUMS_NAME
    actual = compute(folder)
    if not sums.is_file():
        return [f"  new:      {n}" for n in actual]
    try:
        listed, malformed = _read_listed(sums)
    except UnicodeDecodeError:
        return [f"  unreadable {SUMS_NAME}"]
    lines = [f"  changed:  {n}" for n in sorted(listed) if n in actual and actual[n] != listed[n]]
    lines += [f"  missing:  {n} (listed in {SUMS_NAME} but not in the folder)"
              for n in sorted(listed) if n not in actual]
    lines += [f"  unlisted: {n} (in the folder but not in {SUMS_NAME})"
              for n in actual if n not in listed]
    lines += [f"  unreadable {SUMS_NAME} {m}" for m in malformed]
    return lines


def accept(review_dir: str | os.PathLike) -> tuple[str, list[str]]:
    """Accept an intended edit of a review's raw data: `make checksums`.

    Returns ("unchanged", []) when the folder matches its SHA256SUMS (nothing is written);
    otherwise validates the sheets first (raising `SheetValidationError`: data are never
    accepted before they are valid), rewrites SHA256SUMS and returns ("accepted", the list of
    what changed).
    """
    from metareview.review.sheets import load_review

    folder = review_folder(review_dir)
    changes = differences(folder)
    if not changes:
        return "unchanged", []
    load_review(folder)
    write(folder)
    return "accepted", changes


def _read_listed(sums: Path) -> tuple[dict[str, str], list[str]]:
    listed: dict[str, str] = {}
    malformed: list[str] = []
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE_RE.fullmatch(line.rstrip("\r"))
        if match is None:
            malformed.append(f"line {number}: {line[:60]!r}")
        else:
            listed[match.group(2)] = match.group(1).lower()
    return listed, malformed


def verify(review_dir: str | os.PathLike) -> dict[str, str]:
    """Check the folder against its SHA256SUMS; return the verified {name: digest}.

    Raises ChecksumError naming each changed, missing (listed but absent) and unlisted file.
    The runner checks the sheets first, so this message comes only for valid sheets.
    """
    folder = Path(review_dir)
    shown = display_path(folder)
    name = folder.resolve().name
    if not (folder / SUMS_NAME).is_file():
        raise ChecksumError(
            f"{shown}/{SUMS_NAME} is missing, so the raw data cannot be checked. The sheets "
            f"are valid: `make checksums REVIEW={name}` creates it.")
    changes = differences(folder)
    if changes:
        raise ChecksumError("\n".join(
            [f"The raw data in {shown} differ from {SUMS_NAME} (the sheets themselves are "
             "valid):", *changes,
             f"If the change was intended, `make checksums REVIEW={name}` accepts it; commit "
             f"{SUMS_NAME} with the data. If not, restore the committed files "
             f"(git checkout -- {shown}); a review not yet committed has no copy in git, so "
             "edit the files back."]))
    return compute(folder)


def main(argv: list[str] | None = None) -> int:
    """`python -m metareview.review.checksums verify|accept|write DIR ...`."""
    import argparse

    from metareview.review.sheets import SheetValidationError

    parser = argparse.ArgumentParser(
        prog="python -m metareview.review.checksums",
        description="Check or accept the raw data of review folders against SHA256SUMS.")
    parser.add_argument("command", choices=("verify", "accept", "write"),
                        help="verify: check; accept: validate the sheets, then rewrite "
                             "SHA256SUMS of folders that changed; write: rewrite it as is")
    parser.add_argument("folders", nargs="*", metavar="REVIEW_DIR")
    parser.add_argument("--review", action="append", default=[], metavar="NAME",
                        help="a review by name (data/raw/NAME); repeat for several")
    args = parser.parse_args(argv)
    try:
        named = [files.raw_dir(name) for name in args.review]
    except files.UnsafeNameError as err:
        print(f"error: {err} Nothing was read or written.", file=sys.stderr)
        return 2
    if not named and not args.folders:
        parser.error("name a review folder or a --review")
    status = 0
    for folder in [*args.folders, *named]:
        try:
            if args.command == "write":
                print(f"wrote {display_path(write(folder))}")
            elif args.command == "accept":
                outcome, changes = accept(folder)
                if outcome == "unchanged":
                    print(f"{display_path(folder)}: unchanged")
                else:
                    print(f"{display_path(folder)}: accepted, {SUMS_NAME} rewritten:")
                    print("\n".join(changes))
            else:
                print(f"{display_path(folder)}: {len(verify(folder))} files match {SUMS_NAME}")
        except (ChecksumError, SheetValidationError) as err:
            if isinstance(err, SheetValidationError):
                print(f"{display_path(folder)}: not accepted, the sheets are not valid:",
                      file=sys.stderr)
            print(err, file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
