"""Sync: pull documents from the configured sources, cache them by content, and ingest what changed.

    kb sync [--config sync.toml] [--source NAME] [--since 2024-01-01] [--json]

1. Each source lists its documents (metadata only). A document whose change marker (version,
   last-modified, size) is the one seen last time, and whose file is in the cache, is not downloaded.
2. Downloads land in a content-addressed cache (`indexes/sync/cache/ab/<sha256>.pdf`), written
   atomically, after checking that a "PDF" is one. Transient HTTP errors are retried with backoff;
   requests to a host are rate limited (kb.connectors.http).
3. Documents are deduplicated across sources: by DOCUVITP number (highest version wins) or else by
   content hash. One document is indexed once and keeps every place it was found (`origins`).
4. The set of documents is staged as files under `indexes/sync/files/<source>/...` (hard links into
   the cache) and handed to `kb.ingest`, which embeds only what changed and removes what is gone.

State (`indexes/sync/state.json`) is written atomically every few seconds and at the end; a sync
killed at any moment resumes from the cache and ends with the index an uninterrupted run gives
(ingest is crash-safe on its own). A source whose listing fails keeps its documents as they were.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from tqdm import tqdm

from kb.access import document_groups
from kb.config import Config
from kb.connectors import SOURCE_TYPES, RemoteDocument, SourceError
from kb.connectors.http import FetchError, Http
from kb.sources import Discovery, SourceFile, _root_key

SAVE_SECONDS = 5
SETTINGS = {"rate_limit": 2.0, "timeout": 30.0, "retries": 4, "backoff": 1.0}


@dataclass
class SourceReport:
    listed: int = 0
    downloaded: int = 0
    unchanged: int = 0  # change marker as last time: not downloaded
    removed: int = 0  # gone from a full listing
    error: str = ""  # the listing itself failed: nothing of this source changed


@dataclass
class SyncReport:
    sources: dict[str, SourceReport] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)  # source, id, title, url, reason
    documents: int = 0  # after deduplication
    duplicates: int = 0  # files that were the same document as another
    requests: int = 0
    ingest: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.failures or self.ingest.get("failed") or any(s.error for s in self.sources.values()))

    def to_dict(self) -> dict:
        return {"ok": self.ok, **asdict(self)}


def load_sync_config(path: Path) -> tuple[dict, list[dict]]:
    """(settings, source tables) from the sync TOML file; errors name the file and the problem in Dutch."""
    if not path.exists():
        raise FileNotFoundError(f"Syncconfiguratie {path} bestaat niet (zie README, 'kb sync').")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is geen geldige TOML: {exc}") from exc
    settings = {**SETTINGS, **data.get("settings", {})}
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ValueError(f"{path}: onbekende instelling(en) in [settings]: {', '.join(sorted(unknown))}")
    sources = data.get("source", [])
    if not sources:
        raise ValueError(f"{path}: geen bronnen; voeg [[source]]-tabellen toe (name, type, ...)")
    for table in sources:
        if table.get("type") not in SOURCE_TYPES:
            raise ValueError(f"{path}: bron '{table.get('name')}' heeft type '{table.get('type')}'; "
                             f"kies uit {', '.join(sorted(SOURCE_TYPES))}")
    return settings, sources


class Syncer:
    """One sync run over the sources of a configuration file.

        >>> report = Syncer(Config.load(), Path("sync.toml")).run(only="flevoland-go")
        >>> report.ok, report.sources["flevoland-go"].downloaded
    """

    def __init__(self, config: Config, sync_file: Path):
        self.config = config
        settings, tables = load_sync_config(sync_file)
        self.http = Http(**{k: float(v) if k != "retries" else int(v) for k, v in settings.items()})
        self.sources, self.access = {}, {}
        for table in tables:
            options = {k: v for k, v in table.items() if k not in ("name", "type", "access")}
            source = SOURCE_TYPES[table["type"]](table.get("name", ""), self.http, **options)
            if source.name in self.sources:
                raise ValueError(f"{sync_file}: de bronnaam '{source.name}' komt twee keer voor")
            self.sources[source.name] = source
            self.access[source.name] = document_groups(table.get("access"))  # e.g. "besloten": every document
        self.dir = config.index_dir / "sync"
        self.state_path = self.dir / "state.json"
        self.state, self.saved_at = {}, time.monotonic()

    def run(self, only: str | None = None, since: date | None = None, progress: bool = True) -> SyncReport:
        from kb.ingest import ingest

        if only and only not in self.sources:
            raise ValueError(f"Onbekende bron '{only}'; kies uit {', '.join(self.sources)}")
        report = SyncReport()
        if self.state_path.exists():  # read under the caller's write lock (KnowledgeBase.sync)
            self.state = json.loads(self.state_path.read_text(encoding="utf-8"))
        try:
            for name, source in self.sources.items():
                if only in (None, name):
                    report.sources[name] = self._pull(source, since, report, progress)
        finally:
            self.http.close()
            self._save(force=True)  # what was downloaded stays known, also when a listing raised
        found, report.duplicates = self._stage()  # a source no longer configured: its documents are removed
        self._save(force=True)
        report.documents = len(found.files)
        report.requests = self.http.requests
        report.ingest = ingest(self.config, found=found, progress=progress).to_dict()
        return report

    # -- listing and downloading -------------------------------------------------------------------

    def _pull(self, source, since: date | None, report: SyncReport, progress: bool) -> SourceReport:
        counts = SourceReport()
        try:
            listed = _merge(source.list(since))
        except (FetchError, SourceError, ValueError, KeyError, TypeError) as exc:
            counts.error = f"lijst ophalen mislukt: {exc}"
            return counts
        counts.listed = len(listed)
        known = self.state.setdefault(source.name, {})
        bar = tqdm(listed.values(), desc=f"Ophalen {source.name}", unit="doc",
                   disable=not (progress and sys.stderr.isatty()))
        for listings in bar:
            doc = listings[0]
            previous = known.get(doc.native_id)
            if previous and doc.version and previous["version"] == doc.version and self._cached(previous):
                previous.update(_entry(listings, source.name, previous["sha256"], previous["suffix"]))
                counts.unchanged += 1
                continue
            try:
                data = source.fetch(doc)
            except (FetchError, SourceError, OSError) as exc:
                report.failures.append({"source": source.name, "id": doc.native_id, "title": doc.title,
                                        "url": doc.url, "reason": str(exc)})
                continue  # the previous version, if any, stays indexed
            known[doc.native_id] = _entry(listings, source.name, self._store(data, doc.suffix), doc.suffix)
            counts.downloaded += 1
            self._save()
        if since is None:  # only a full listing says what is gone
            for gone in set(known) - set(listed):
                del known[gone]
                counts.removed += 1
        return counts

    def _cache_path(self, sha256: str, suffix: str) -> Path:
        return self.dir / "cache" / sha256[:2] / f"{sha256}{suffix}"

    def _cached(self, entry: dict) -> bool:
        return self._cache_path(entry["sha256"], entry["suffix"]).exists()

    def _store(self, data: bytes, suffix: str) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self._cache_path(sha256, suffix)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)  # a kill leaves a .part file, never a half file under the final name
        return sha256

    def _save(self, force: bool = False) -> None:
        if force or time.monotonic() - self.saved_at > SAVE_SECONDS:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.state, ensure_ascii=False), encoding="utf-8")
            tmp.replace(self.state_path)
            self.saved_at = time.monotonic()

    # -- deduplication and staging -----------------------------------------------------------------

    def _stage(self) -> tuple[Discovery, int]:
        """The deduplicated documents as files under indexes/sync/files, with their metadata."""
        groups: dict[str, list[dict]] = {}
        for name in self.sources:  # configuration order decides which source names a shared document
            if name not in self.state:
                continue
            for entry in self.state.get(name, {}).values():
                key = f"docuvitp:{entry['meta']['docuvitp']}" if entry["meta"].get("docuvitp") else entry["sha256"]
                groups.setdefault(key, []).append(entry)
        root = self.dir / "files"
        found, keep = Discovery(roots=[_root_key(root)]), set()
        # A document keeps its id while any of its files is listed, so a new version, a changed file or a file
        # that moved to another agenda item updates it instead of replacing it (citations stay valid).
        ids, self.state["_documents"], taken = self.state.get("_documents", {}), {}, set()
        for entries in groups.values():
            primary = max(entries, key=lambda e: int(e["meta"].get("docuvitp_version") or 0))
            members = [f"{e['source']}/{e['id']}" for e in [primary, *entries]]
            doc_id = next((ids[m] for m in members if m in ids and ids[m] not in taken),
                          f"{primary['source']}/{_safe(primary['id'])}") + primary["suffix"]
            taken.add(doc_id.removesuffix(primary["suffix"]))
            self.state["_documents"].update({m: doc_id.removesuffix(primary["suffix"]) for m in members})
            path = root / doc_id
            self._link(self._cache_path(primary["sha256"], primary["suffix"]), path)
            keep.add(path)
            meta = _document_meta(primary, entries)
            if readers := sorted({g for e in entries for g in self.access.get(e["source"], [])}):
                meta["access"] = readers  # a document from a restricted source stays restricted
            found.files.append(SourceFile(path, doc_id, found.roots[0], meta))
        _prune(root, keep)
        found.files.sort(key=lambda f: f.doc_id)
        return found, sum(len(e) - 1 for e in groups.values())

    @staticmethod
    def _link(cached: Path, path: Path) -> None:
        if path.exists() and path.stat().st_ino == cached.stat().st_ino:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.unlink(missing_ok=True)
        try:
            os.link(cached, tmp)
        except OSError:  # another file system: a copy does as well
            tmp.write_bytes(cached.read_bytes())
        tmp.replace(path)


def _merge(docs) -> dict[str, list[RemoteDocument]]:
    """Native id -> every listing of that file (a file under several agenda items is listed once per item)."""
    merged: dict[str, list[RemoteDocument]] = {}
    for doc in docs:
        merged.setdefault(doc.native_id, []).append(doc)
    return merged


def _entry(listings: list[RemoteDocument], source: str, sha256: str, suffix: str) -> dict:
    """The state of one file: the first listing's metadata, and the origin of every listing."""
    doc = listings[0]
    return {"source": source, "id": doc.native_id, "url": doc.url, "title": doc.title, "doc_type": doc.doc_type,
            "date": doc.date, "version": doc.version, "sha256": sha256, "suffix": suffix, "meta": doc.meta,
            "origins": [listing.origin(source) for listing in listings], "synced_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _document_meta(primary: dict, entries: list[dict]) -> dict:
    """What kb.sources.document_metadata reads: title, type, date, url, and the sync-only fields."""
    origins = [o for e in entries for o in e["origins"]]
    unique = list({json.dumps(o, sort_keys=True): o for o in origins}.values())
    meta = primary["meta"]
    return {"title": primary["title"], "doc_type": primary["doc_type"], "date": primary["date"],
            "source": primary["source"], "url": meta.get("original_url") or primary["url"],
            "origins": unique, "parties": meta.get("parties", ""), "outcome": meta.get("outcome", ""),
            "docuvitp": meta.get("docuvitp", ""), **({"programme_lines": meta["programme_lines"]}
                                                       if meta.get("programme_lines") else {})}


def _safe(native_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", native_id).strip("._")[:80]
    if safe != native_id:  # slugging may merge ids: a short hash keeps them apart
        safe = f"{safe}-{hashlib.sha1(native_id.encode()).hexdigest()[:8]}"
    return safe


def _prune(root: Path, keep: set[Path]) -> None:
    if not root.exists():
        return
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file() and path not in keep:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
