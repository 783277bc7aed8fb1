"""SHA256SUMS: written in sha256sum's format, and every change, loss or addition is caught."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from metareview.review import checksums
from metareview.review.checksums import ChecksumError, verify, write


@pytest.fixture
def folder(tmp_path) -> Path:
    review = tmp_path / "data" / "raw" / "demo"
    review.mkdir(parents=True)
    (review / "studies.csv").write_text("study_id\nA2020\n", encoding="utf-8")
    (review / "arms.csv").write_bytes(b"study_id,n\r\nA2020,10\r\n")
    (review / "CODEBOOK.md").write_text("# Codebook\n", encoding="utf-8")
    return review


def test_write_uses_sha256sum_format_sorted(folder):
    write(folder)
    lines = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    names = [line.split("  ", 1)[1] for line in lines]
    assert names == ["CODEBOOK.md", "arms.csv", "studies.csv"]
    expected = hashlib.sha256(b"study_id,n\r\nA2020,10\r\n").hexdigest()
    assert lines[1] == f"{expected}  arms.csv"
    assert (folder / "SHA256SUMS").read_bytes().endswith(b"studies.csv\n")


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="GNU sha256sum not installed")
def test_gnu_sha256sum_accepts_the_file(folder):
    write(folder)
    result = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=folder,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_verify_passes_after_write_and_write_is_deterministic(folder):
    write(folder)
    first = (folder / "SHA256SUMS").read_bytes()
    assert set(verify(folder)) == {"CODEBOOK.md", "arms.csv", "studies.csv"}
    write(folder)
    assert (folder / "SHA256SUMS").read_bytes() == first
    assert not list(folder.glob(".*tmp")), "no temporary file left behind"


def test_changed_missing_and_unlisted_files_are_all_named(folder):
    write(folder)
    (folder / "arms.csv").write_bytes(b"study_id,n\r\nA2020,11\r\n")
    (folder / "CODEBOOK.md").unlink()
    (folder / "contrasts.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(ChecksumError) as info:
        verify(folder)
    message = str(info.value)
    assert "changed:  arms.csv" in message
    assert "missing:  CODEBOOK.md" in message
    assert "unlisted: contrasts.csv" in message
    assert "studies.csv" not in message
    assert "make checksums" in message
    assert isinstance(info.value, ValueError)


def test_intended_edit_is_accepted_after_write(folder):
    write(folder)
    (folder / "studies.csv").write_text("study_id\nA2020\nB2021\n", encoding="utf-8")
    with pytest.raises(ChecksumError, match="changed:  studies.csv"):
        verify(folder)
    write(folder)
    verify(folder)


def test_missing_sums_file(folder):
    with pytest.raises(ChecksumError, match="SHA256SUMS is missing.*make checksums"):
        verify(folder)


def test_malformed_line_is_reported(folder):
    write(folder)
    with (folder / "SHA256SUMS").open("a", encoding="utf-8") as handle:
        handle.write("not a checksum line\n")
    with pytest.raises(ChecksumError, match="line 4"):
        verify(folder)


def test_hidden_files_are_ignored(folder):
    write(folder)
    (folder / ".DS_Store").write_bytes(b"\0\1")
    verify(folder)


def test_command_line(folder):
    run = [sys.executable, "-m", "metareview.review.checksums"]
    assert subprocess.run([*run, "write", str(folder)], capture_output=True).returncode == 0
    ok = subprocess.run([*run, "verify", str(folder)], capture_output=True, text=True)
    assert ok.returncode == 0 and "3 files match" in ok.stdout
    (folder / "studies.csv").write_text("changed\n", encoding="utf-8")
    bad = subprocess.run([*run, "verify", str(folder)], capture_output=True, text=True)
    assert bad.returncode == 1 and "changed:  studies.csv" in bad.stderr
    with pytest.raises(SystemExit) as usage:
        checksums.main(["frobnicate"])
    assert usage.value.code == 2
