"""One writer per index: `write_lock(config)` around anything that changes the index folder.

`kb ingest` (and any other writing command) holds an exclusive, non-blocking `flock` on
`<index_dir>/.write.lock` for as long as it writes. A second writer does not wait or
interleave its writes with the first (the docstore, BM25 table and source hashes are
rewritten whole): it stops at once with `IndexLocked`, naming the lock and the holder's pid.
The kernel releases the lock when the holder exits, also after a crash or kill -9, so a stale
lock file is harmless.

`read_lock(config)` is for a long-running reader of an *embedded* Chroma index (`kb serve`
without KB_CHROMA_URL): it holds a shared lock on the same file for its lifetime, so a writer is
refused while the app runs. Embedded Chroma caches its vector index in the reading process:
after another process writes, the app's queries fail ("Error finding id") until it restarts
(measured; README, "Betrouwbaarheid en beveiliging"). With a `chroma run` server the app takes
no lock and a batch ingest runs beside it (tests/test_concurrency.py). Short readers
(`kb search`, `kb ask`) take no lock.

    >>> with write_lock(config):
    ...     ingest(config)
"""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from kb.config import Config
from kb.errors import IndexLocked

LOCK_NAME = ".write.lock"
_held: dict[Path, tuple[int, int]] = {}  # lock path -> (thread holding it, depth), for re-entry
READERS = ".readers"  # one file per process holding read_lock: its pid and command, for the writer's message


def lock_path(config: Config) -> Path:
    return config.index_dir / LOCK_NAME


@contextmanager
def write_lock(config: Config, action: str = "kb ingest"):
    """Hold the index's write lock; raise IndexLocked at once when another process holds it.
    Re-entrant in the thread that holds it (a command that holds it may call KnowledgeBase.ingest)."""
    path = lock_path(config)
    key = path.resolve()
    if _held.get(key, (None, 0))[0] == threading.get_ident():
        owner, depth = _held[key]
        _held[key] = (owner, depth + 1)
        try:
            yield path
        finally:
            _held[key] = (owner, depth)
        return
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
        _held[key] = (threading.get_ident(), 1)
        try:
            yield path
        finally:
            del _held[key]
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def read_lock(config: Config, action: str = "kb serve"):
    """Hold a shared lock for as long as this process serves an embedded index (see the module's doc);
    raise IndexLocked at once when a writer holds the index."""
    path = lock_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = path.parent / READERS / str(os.getpid())
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLocked(_message(path, handle)) from None
        marker.parent.mkdir(exist_ok=True)
        marker.write_text(f"{os.getpid()} {action}", encoding="utf-8")
        try:
            yield path
        finally:
            marker.unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _message(path: Path, handle) -> str:
    if readers := _readers(path.parent / READERS):
        return (f"De index in {path.parent} is in gebruik door {', '.join(readers)} met de ingebouwde Chroma "
                f"(vergrendeling {path}). Een ander proces kan daar niet tegelijk in schrijven: de app zou de "
                f"wijzigingen niet zien en fouten geven. Stop de app eerst, of draai Chroma als server "
                f"(KB_CHROMA_URL, zie de README) zodat app en indexeren naast elkaar kunnen.")
    handle.seek(0)
    pid, _, action = handle.read().strip().partition(" ")
    holder = f"proces {pid} ({action})" if pid and _alive(pid) else "een ander proces"
    return (f"De index in {path.parent} wordt al bijgewerkt door {holder}; de schrijfvergrendeling {path} is bezet. "
            f"Wacht tot dat klaar is en probeer het dan opnieuw (één schrijvend proces tegelijk).")


def _readers(folder: Path) -> list[str]:
    """'proces <pid> (<command>)' for each live process holding read_lock."""
    found = []
    for marker in sorted(folder.glob("*")) if folder.is_dir() else []:
        pid, _, action = marker.read_text(encoding="utf-8").partition(" ")
        if _alive(pid):
            found.append(f"proces {pid} ({action})")
        else:  # left by an app stopped by a signal (uvicorn re-raises SIGTERM after its shutdown)
            marker.unlink(missing_ok=True)
    return found


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True
