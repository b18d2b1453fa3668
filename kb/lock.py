"""One writer per index: `write_lock(config)` around anything that changes the index folder.

`kb ingest` (and any other writing command) holds an exclusive, non-blocking `flock` on
`<index_dir>/.write.lock` for as long as it writes. A second writer does not wait or
interleave its writes with the first (the docstore, BM25 table and source hashes are
rewritten whole): it stops at once with `IndexLocked`, naming the lock and the holder's pid.
The kernel releases the lock when the holder exits, also after a crash or kill -9, so a stale
lock file is harmless. Readers (`kb serve`, `kb search`) never take it.

    >>> with write_lock(config):
    ...     ingest(config)
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from kb.config import Config
from kb.errors import IndexLocked

LOCK_NAME = ".write.lock"


def lock_path(config: Config) -> Path:
    return config.index_dir / LOCK_NAME


@contextmanager
def write_lock(config: Config, action: str = "kb ingest"):
    """Hold the index's write lock; raise IndexLocked at once when another process holds it."""
    path = lock_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLocked(_message(path, handle)) from None
        # The holder's pid and command, for the message a second writer gets (the lock is the flock, not this text).
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {action}\n")
        handle.flush()
        try:
            yield path
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _message(path: Path, handle) -> str:
    handle.seek(0)
    pid, _, action = handle.read().strip().partition(" ")
    holder = f"proces {pid} ({action})" if pid else "een ander proces"
    return (f"De index in {path.parent} wordt al bijgewerkt door {holder}; de schrijfvergrendeling {path} is bezet. "
            f"Wacht tot dat klaar is en probeer het dan opnieuw (één schrijvend proces tegelijk).")
