"""Sources: find the documents to index in folders and files, with their metadata.

A folder may hold a `manifest.toml` that describes its documents (title, type, date,
source, url, programme lines); see `corpus/manifest.toml`. Files without an entry get
metadata guessed from the file itself.

    >>> found = discover([Path("corpus")])
    >>> found.files[0].doc_id
    '000_375d85d319f8f12f.txt'
"""
from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kb import screen
from kb.access import chunk_access, document_groups

MANIFEST = "manifest.toml"
SUPPORTED = {".pdf", ".txt", ".md", ".markdown", ".html", ".htm", ".docx"}


@dataclass
class SourceFile:
    path: Path
    doc_id: str  # path relative to the root it was found under, with forward slashes
    root: str  # the folder (or file) the user named; removals are scoped to it
    meta: dict = field(default_factory=dict)


@dataclass
class Failure:
    doc_id: str
    reason: str  # Dutch, for the ingest summary


@dataclass
class Discovery:
    files: list[SourceFile] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)


def discover(paths: list[Path]) -> Discovery:
    """List the indexable files under `paths`; unsupported or unreadable ones become failures."""
    found = Discovery()
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"Pad bestaat niet: {path}")
        root = path if path.is_dir() else path.parent
        manifest = load_manifest(root)
        found.roots.append(_root_key(path))
        candidates = sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink()) if path.is_dir() else [path]
        for file in candidates:
            rel = file.relative_to(root).as_posix()
            if reason := screen.name_problem(rel):  # before _ignored: "..\\x" starts with a dot, as hidden files do
                found.failures.append(Failure(screen.display(rel), reason))
                continue
            if _ignored(rel, manifest):
                continue
            if path.is_dir() and (reason := screen.link_problem(file, root)):
                found.failures.append(Failure(rel, reason))
                continue
            if file.suffix.lower() not in SUPPORTED:
                found.failures.append(Failure(rel, f"niet-ondersteund bestandstype '{file.suffix or '(geen)'}'"
                                              f" (ondersteund: {', '.join(sorted(SUPPORTED))})"))
                continue
            meta = dict(manifest.get("documents", {}).get(rel, {}))
            found.files.append(SourceFile(file, rel, _root_key(path), meta))
    return found


def load_manifest(folder: Path) -> dict:
    """Read `manifest.toml`: `ignore = [...]` and one table per file name."""
    file = folder / MANIFEST
    if not file.exists():
        return {}
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{file} is geen geldige TOML: {exc}") from exc
    ignore = data.pop("ignore", [])
    return {"ignore": ignore, "documents": data}


def document_metadata(source: SourceFile, text: str) -> dict:
    """The metadata a document carries into every chunk and citation."""
    meta = source.meta
    date = str(meta.get("date", "") or "")
    year = int(date[:4]) if re.match(r"\d{4}", date) else 0
    period = meta.get("period") or ([year, year] if year else [0, 0])
    return {
        "doc_id": source.doc_id,
        "title": meta.get("title") or _guess_title(text, source.path),
        "doc_type": meta.get("doc_type", "onbekend"),
        "date": date,
        "year": year,
        "year_from": int(period[0]),
        "year_to": int(period[1]),
        "source": meta.get("source", ""),
        "url": meta.get("url", ""),
        "file_name": source.path.name,
        "root": source.root,
        "doc_programme_lines": ",".join(meta.get("programme_lines", [])),
        # From kb.sync: every place the document was found, and for motions who submitted it and the outcome.
        "origins": json.dumps(meta.get("origins", []), ensure_ascii=False),
        "parties": _joined(meta.get("parties", "")),
        "outcome": meta.get("outcome", ""),
        "docuvitp": str(meta.get("docuvitp", "")),
        **chunk_access(document_groups(meta.get("access"))),  # who may read it (kb.access); public by default
    }


def _joined(value) -> str:
    # Chroma metadata holds scalars: a list from a manifest becomes "A,B".
    return ",".join(value) if isinstance(value, list) else str(value or "")


def _guess_title(text: str, path: Path) -> str:
    for line in text.splitlines():
        line = line.strip(" #\t")
        if 3 <= len(line) <= 120:
            return line
    return path.stem


def _ignored(rel: str, manifest: dict) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name == MANIFEST or name.startswith(".") or rel in manifest.get("ignore", [])


def _root_key(path: Path) -> str:
    # Relative to the working directory where possible, so a moved checkout keeps its index.
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()
