"""One run of a review at a time: a lock per review in `.runs/<review>.lock`.

Two `make reports` started at once would otherwise run the same notebooks into the same
`.partial/` files and delete each other's outputs. The runner takes the review's lock before it
invalidates or writes anything and keeps it until the review is done; a second runner waits for
it, saying which process holds it and since when. The lock is an advisory `flock` on the file:
the operating system releases it when the holding process ends, however it ends (a `kill -9`
included), so a stale lock file never blocks a later run. The file itself stays, holding the
last holder's process id, start time and command, which `holder` reports.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import sys
import time
from pathlib import Path

from metareview import files

__all__ = ["ReviewLock", "holder", "lock_path"]


def lock_path(review: str) -> Path:
    """`.runs/<review>.lock`."""
    return files.runs_dir() / f"{files.check_name(review, 'review name')}.lock"


def _describe(info: dict | None) -> str:
    if not info:
        return "another run"
    return (f"the run of process {info.get('pid', '?')} (started {info.get('started', '?')}: "
            f"{info.get('command', '?')})")


def _read_info(handle) -> dict | None:
    try:
        handle.seek(0)
        return json.loads(handle.read() or "null")
    except (OSError, ValueError):
        return None


def holder(review: str) -> dict | None:
    """Who holds the review's lock now ({pid, started, command}), or None when nobody does."""
    path = lock_path(review)
    if not path.is_file():
        return None
    with path.open("r", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(handle) or {}
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


class ReviewLock:
    """The lock of one review, as a context manager.

    `wait`: wait for a holder to finish (saying so once on `err`), or raise `BlockingIOError`
    naming the holder at once.
    """

    def __init__(self, review: str, wait: bool = True, err=None):
        self.review, self.wait, self.err = review, wait, err
        self.handle = None

    def __enter__(self) -> "ReviewLock":
        path = lock_path(self.review)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until __exit__
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _describe(_read_info(handle))
            if not self.wait:
                handle.close()
                raise BlockingIOError(f"{self.review}: {info} holds "
                                      f"{files.display_path(path)}; wait for it to finish")
            err = self.err or sys.stderr
            print(f"{self.review}: waiting for {info} to finish (it holds "
                  f"{files.display_path(path)}; Ctrl-C stops waiting)", file=err, flush=True)
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.5)
        now = datetime.datetime.now(datetime.timezone.utc)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(),
                                 "started": now.strftime("%Y-%m-%d %H:%M:%S UTC"),
                                 "command": " ".join(sys.argv)[:200]}))
        handle.flush()
        self.handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None
