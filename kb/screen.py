"""Screen files before they are read: unsafe names, symbolic links out of the folder, duplicates.

Each check returns a Dutch reason for the ingest summary, or None when the file may be indexed.

    >>> name_problem("..\\..\\windows\\system.ini")
    "onveilige bestandsnaam: bevat '..' als padonderdeel (padtraversal); hernoem het bestand"
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def name_problem(rel: str) -> str | None:
    """A name that could climb out of a folder elsewhere (`..\\`) or forge lines in a log (control characters)."""
    if _CONTROL.search(rel):
        return "onveilige bestandsnaam: bevat een stuurteken (zoals een regeleinde); hernoem het bestand"
    if ".." in re.split(r"[\\/]", rel):
        return "onveilige bestandsnaam: bevat '..' als padonderdeel (padtraversal); hernoem het bestand"
    return None


def link_problem(file: Path, root: Path) -> str | None:
    """A symbolic link (the file or a folder on its way) that leads outside `root`, or nowhere."""
    try:
        target = file.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling, or a loop of links
        return "kapotte symbolische link (het doel bestaat niet) overgeslagen"
    if not target.is_relative_to(root.resolve()):
        return f"symbolische link naar buiten de map ({target}) overgeslagen"
    if target.is_dir():
        return "symbolische link naar een map overgeslagen (alleen bestanden worden gevolgd)"
    return None


def display(rel: str) -> str:
    """A file name as it may be printed: control characters written as escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", rel)


def digests(files) -> dict[str, str]:
    """doc_id -> sha256 of the file's bytes, read once per run (duplicates and change detection share it);
    an unreadable file has none: extraction names the reason."""
    out = {}
    for source in files:
        try:
            out[source.doc_id] = _digest(source.path)
        except OSError:
            continue
    return out


def duplicates(files, digest_of: dict[str, str]) -> dict[str, str]:
    """doc_id -> the doc_id of an earlier file (in the given order) with exactly the same bytes."""
    first: dict[str, str] = {}
    out = {}
    for source in files:
        if (digest := digest_of.get(source.doc_id)) is None:
            continue
        out_of = first.setdefault(digest, source.doc_id)
        if out_of != source.doc_id:
            out[source.doc_id] = out_of
    return out


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:  # in blocks: a large PDF is not held in memory twice
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
