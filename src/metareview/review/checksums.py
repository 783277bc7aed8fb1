"""SHA-256 checksums of a review's raw data folder (the file SHA256SUMS).

SHA256SUMS lists every file of `data/raw/<review>/` except itself, sorted by path, one line per
file in the format of GNU `sha256sum` ("<64 hex digits>  <name>"), so that
`cd data/raw/<review> && sha256sum -c SHA256SUMS` checks it too. Hidden files (names starting
with '.', such as .DS_Store) are left out: they are operating-system clutter, not data.

    python -m metareview.checksums verify data/raw/acne-scars
    python -m metareview.checksums write data/raw/acne-scars     # after an intended edit
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

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


def write(review_dir: str | os.PathLike) -> Path:
    """Rewrite SHA256SUMS from the folder's current files (atomically); return its path."""
    folder = Path(review_dir)
    if not folder.is_dir():
        raise ChecksumError(f"{folder}: no such review folder.")
    text = "".join(f"{digest}  {name}\n" for name, digest in compute(folder).items())
    target = folder / SUMS_NAME
    temporary = folder / f".{SUMS_NAME}.tmp"
    temporary.write_text(text, encoding="utf-8", newline="\n")
    os.replace(temporary, target)
    return target


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
    """
    folder = Path(review_dir)
    sums = folder / SUMS_NAME
    shown = display_path(folder)
    fix = (
        "If the change was intended, run `make checksums` (or `python -m metareview.checksums "
        f"write {shown}`) and commit {SUMS_NAME} with the data."
    )
    if not sums.is_file():
        raise ChecksumError(
            f"{shown}/{SUMS_NAME} is missing, so the raw data cannot be checked. "
            f"Run `make checksums` to create it."
        )
    try:
        listed, malformed = _read_listed(sums)
    except UnicodeDecodeError:
        raise ChecksumError(f"{shown}/{SUMS_NAME} is not a text file. {fix}") from None
    actual = compute(folder)
    changed = [n for n in sorted(listed) if n in actual and actual[n] != listed[n]]
    missing = [n for n in sorted(listed) if n not in actual]
    unlisted = [n for n in actual if n not in listed]
    if changed or missing or unlisted or malformed:
        lines = [f"The raw data in {shown} do not match {SUMS_NAME}:"]
        lines += [f"  changed:  {n}" for n in changed]
        lines += [f"  missing:  {n} (listed in {SUMS_NAME} but not in the folder)" for n in missing]
        lines += [f"  unlisted: {n} (in the folder but not in {SUMS_NAME})" for n in unlisted]
        lines += [f"  unreadable {SUMS_NAME} {m}" for m in malformed]
        lines.append(fix)
        raise ChecksumError("\n".join(lines))
    return actual


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] not in ("verify", "write"):
        print("usage: python -m metareview.checksums verify|write REVIEW_DIR [REVIEW_DIR ...]",
              file=sys.stderr)
        return 2
    status = 0
    for folder in args[1:]:
        try:
            if args[0] == "write":
                path = write(folder)
                print(f"wrote {path.as_posix()}")
            else:
                count = len(verify(folder))
                print(f"{folder}: {count} files match {SUMS_NAME}")
        except ChecksumError as err:
            print(err, file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
