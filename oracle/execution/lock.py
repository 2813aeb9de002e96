"""One keeper per journal, and one live keeper per key: advisory file locks (``flock``) held for the life of the
process.

Why: two keepers on one journal mark each other's running cycle abandoned and interleave their attempts; two live
keepers with one key race for nonces (only the governor's ``NoChange``/``TooSoon`` stopped a double update when
that was tried). The lock is taken before anything else happens, so the second process refuses to start and says
which process holds it. ``flock`` is released by the kernel when the holder exits, however it exits (``kill -9``
included), so a crash never leaves a stale lock; the holder's pid, command and start time are written into the
lock file for the message. The key lock lives in a directory shared by every journal on the machine
(``ORACLE_LOCK_DIR``, default ``<tmp>/defi-risk-oracle-locks``): it cannot see keepers on other machines, which
the journal's nonce reconciliation and the governor's rules still cover.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from oracle.errors import JournalLockedError

LOCK_DIR_ENV = "ORACLE_LOCK_DIR"


class ProcessLock:
    """An exclusive ``flock`` on ``path``; ``what`` names the resource in the error message."""

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = path, what
        self._file: IO[str] | None = None

    def acquire(self) -> ProcessLock:
        """Take the lock or raise ``JournalLockedError`` naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # held open for the life of the lock
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _describe(handle.read())
            handle.close()
            raise JournalLockedError(f"{self.what} is in use by {holder} (lock {self.path}); stop it first") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv), "started": time.time()}))
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the flock
            self._file = None

    def __enter__(self) -> ProcessLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _describe(content: str) -> str:
    try:
        holder = json.loads(content)
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(holder["started"])))
        return f"process {holder['pid']} ({holder['command']!r}, since {started})"
    except (ValueError, KeyError, TypeError):
        return "another process"


def journal_lock(journal: Path) -> ProcessLock:
    """The lock of a journal file: ``<journal>.lock`` next to it."""
    return ProcessLock(journal.with_name(journal.name + ".lock"), f"journal {journal}")


def keeper_lock(chain_id: int, address: str) -> ProcessLock:
    """The lock of a keeper key on a chain, shared by every journal on this machine."""
    directory = Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "defi-risk-oracle-locks")
    return ProcessLock(directory / f"keeper-{chain_id}-{address.lower()}.lock", f"keeper {address} on chain {chain_id}")
