"""The library API that the CLI and the UI share.

    >>> kb = KnowledgeBase()
    >>> kb.ingest()                      # corpus/ -> indexes/
    >>> kb.ask("Wat is WEL in Flevoland?").answer
    >>> kb.ask("en in 2022?", previous=["Wat deed de Zorgtafel in 2021?"]).query
    'Wat deed de Zorgtafel in 2022?'

A long-running process (the UI) sees a re-index by another process: when the BM25 table on disk
is newer than the one loaded, the next call reloads it (the model stays loaded).
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

from kb.access import FLAG as ACCESS_FLAG, visible
from kb.answer import Answer, compose, mentions
from kb.config import Config
from kb.conversation import follow_up_query
from kb.ingest import Summary, ingest
from kb.lexical import LexicalIndex
from kb.retrieve import Filters, Hit, Retriever


class KnowledgeBase:
    def __init__(self, config: Config | None = None):
        self.config = config or Config.load()
        self._retriever: Retriever | None = None
        self._loaded_at = 0.0  # mtime of the BM25 table the retriever holds
        self._derived: dict = {}  # overview and document paths, computed once per loaded index
        self._lock = threading.Lock()
        # One query at a time per process: the encoder is not documented as thread-safe, and the app's
        # API and chat events run in threads of their own. Queries take tens of milliseconds.
        self._query_lock = threading.RLock()

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            stamp = self._index_stamp()
            if self._retriever is None or stamp != self._loaded_at:
                self._retriever = Retriever(self.config)  # the model is loaded once per process (load_embedding)
                self._loaded_at, self._derived = stamp, {}
            return self._retriever

    def ingest(self, paths: list[Path] | None = None, rebuild: bool = False, progress: bool = True) -> Summary:
        from kb.lock import write_lock

        with write_lock(self.config):  # a second writer stops at once with IndexLocked (kb.lock)
            summary = ingest(self.config, paths, rebuild=rebuild, progress=progress)
        self._retriever = None  # pick up the new index
        return summary

    def search(self, query: str, top_k: int = 10, filters: Filters | None = None, mode: str = "hybrid") -> list[Hit]:
        with self._query_lock:
            return self.retriever.search(query, top_k=top_k, filters=filters, mode=mode)

    def ask(self, question: str, filters: Filters | None = None, previous: list[str] | None = None) -> Answer:
        """Answer `question`; `previous` are the earlier questions of the conversation, oldest first,
        so that a short follow-up ("en in 2022?") is searched as the question it continues."""
        query = follow_up_query(question, previous or [])
        with self._query_lock:
            hits = self.search(query, top_k=10, filters=filters)
            answer = compose(query, hits, self.retriever.question_terms(query),
                             unknown_idf=self.retriever.lexical.rarest_idf(),
                             missing=self.retriever.unmentioned(mentions(query), filters))
        answer.question, answer.query = question, query
        return answer

    def verify(self, repair: bool = False):
        """Check that docstore, Chroma, BM25 table and source hashes agree (kb.verify); `repair` fixes what it
        can, holding the write lock as an ingest does."""
        from kb.lock import write_lock
        from kb.verify import verify

        if not repair:
            return verify(self.config)
        with write_lock(self.config):
            report = verify(self.config, repair=True)
        self._retriever = None
        return report

    def sync(self, sync_file: Path, only: str | None = None, since=None, progress: bool = True):
        """Pull the sources of `sync_file` (TOML) and ingest what changed; a kb.sync.SyncReport."""
        from kb.lock import write_lock
        from kb.sync import Syncer

        syncer = Syncer(self.config, Path(sync_file))  # configuration mistakes are reported before locking
        with write_lock(self.config):  # the sync state and cache are written too: one writer at a time
            report = syncer.run(only=only, since=since, progress=progress)
        self._retriever = None
        return report

    def decisions(self, party: str | None = None, year: int | None = None, outcome: str | None = None,
                  kind: str | None = None, groups: tuple[str, ...] | None = None) -> list[dict]:
        """Decisions in the documents a reader with `groups` may read (None: all): besluitenlijsten and
        motions with their outcome, newest first, each with its citation (document, page, link)."""
        from kb.decisions import canonical_party

        party = canonical_party(party).lower() if party else None
        found = self._cached("decisions", lambda: _decisions(self.config.docstore_path))
        return [d for d, access in found if visible(access, groups)
                and (not party or party in {p.lower() for p in d["submitters"]})
                and (not year or d["date"][:4] == str(year)) and (not outcome or d["outcome"] == outcome)
                and (not kind or d["kind"] == kind)]

    def overview(self, groups: tuple[str, ...] | None = None) -> list:
        """Per programme line, the dated activities, decisions and results in the documents a reader with
        `groups` may read (kb.access; None: all) (kb.overview)."""
        from kb.overview import build_overview
        from kb.tag import load_programme_lines

        return self._cached(("overview", groups), lambda: build_overview(
            self.rows(groups), load_programme_lines(self.config.programme_lines)))

    def document_path(self, doc_id: str, groups: tuple[str, ...] | None = None) -> Path | None:
        """The indexed file behind `doc_id`, for a link to the original; None for an unknown id or a
        document the reader may not read."""
        if groups is not None and doc_id not in self._cached(("readable", groups), lambda: {
                d["doc_id"] for d in self.documents(groups)}):
            return None
        return self._cached("paths", lambda: _document_paths(self.config.docstore_path)).get(doc_id)

    def documents(self, groups: tuple[str, ...] | None = None) -> list[dict]:
        """The indexed documents (id, title, type, date, url, programme lines, chunk count) a reader with
        `groups` may read (None: all), by id."""
        return self._cached(("documents", groups), lambda: _documents(self.rows(groups)))

    def rows(self, groups: tuple[str, ...] | None = None) -> list[dict]:
        """The chunk rows (text and metadata) a reader with `groups` may read (kb.access; None: all)."""
        if groups is None:
            return self.retriever.lexical.rows
        return self._cached(("rows", groups), lambda: [r for r in self.retriever.lexical.rows if visible(r, groups)])

    def stats(self, groups: tuple[str, ...] | None = None) -> dict:
        rows = self.rows(groups)
        per_line, per_type = {}, {}
        for r in rows:
            for line in r.get("programme_lines", "").split(","):
                per_line[line] = per_line.get(line, 0) + 1
            per_type[r["doc_type"]] = per_type.get(r["doc_type"], 0) + 1
        documents = self.documents(groups)
        size = sum(f.stat().st_size for f in self.config.index_dir.rglob("*") if f.is_file())
        updated = _iso(self._loaded_at)
        sources = self.config.sources_path  # written by every `kb ingest`, also one that changed nothing
        ingested = _iso(sources.stat().st_mtime) if sources.exists() else updated
        return {"documents": len(documents), "chunks": len(rows), "per_programme_line": per_line,
                "per_doc_type_chunks": per_type, "index_bytes": size, "index_dir": str(self.config.index_dir),
                "last_changed": updated, "last_ingest": ingested, "embed_model": self.retriever.embed.model_name,
                "search_legs": self.retriever.legs, "encoder_passes_per_question": self.retriever.encoder_passes,
                "query_adapter": self.retriever.adapter.info if self.retriever.adapter else None,
                "chroma": self.config.chroma_url or "embedded", "document_list": documents}

    def _cached(self, key: str, compute):
        """A value derived from the index, computed once per index version."""
        self.retriever  # noqa: B018 - reloads the index (and forgets derived values) when it changed
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    def _index_stamp(self) -> float:
        return LexicalIndex.stamp(self.config.lexical_dir)


def _documents(rows: list[dict]) -> list[dict]:
    docs: dict[str, dict] = {}
    for r in rows:
        doc = docs.setdefault(r["doc_id"], {"doc_id": r["doc_id"], "title": r["title"], "doc_type": r["doc_type"],
                                            "date": r.get("date", ""), "url": r.get("url", ""),
                                            "programme_lines": set(), "chunks": 0})
        doc["chunks"] += 1
        doc["programme_lines"].update(l for l in r.get("programme_lines", "").split(",") if l)
    return [{**d, "programme_lines": sorted(d["programme_lines"])} for d in sorted(docs.values(), key=lambda d: d["doc_id"])]


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def _docstore_records(docstore_path: Path):
    # Read the docstore's JSON directly: no llama-index Document objects are needed.
    if not docstore_path.exists():
        return
    data = json.loads(docstore_path.read_text(encoding="utf-8"))
    for doc_id, record in data.get("docstore/data", {}).items():
        yield doc_id, record.get("__data__", {})


def _decisions(docstore_path: Path) -> list[tuple[dict, dict]]:
    """(decision with its citation, the document's access metadata) for every decision in the docstore."""
    from kb.decisions import decisions_of

    out = []
    for doc_id, data in _docstore_records(docstore_path):
        meta, text = data.get("metadata") or {}, data.get("text") or ""
        pages = json.loads(meta.get("page_map") or "[]")
        for d in decisions_of(meta, text):
            page = next((p for p in reversed(pages) if p[0] <= d.start), None)
            out.append(({**d.to_dict(), "doc_id": doc_id, "title": meta.get("title", ""), "date": meta.get("date", ""),
                         "url": meta.get("url", ""), "page": page[1] if page else None,
                         "page_label": page[2] if page else None},
                        {k: v for k, v in meta.items() if k == "access" or k.startswith(ACCESS_FLAG)}))
    return sorted(out, key=lambda d: (d[0]["date"], d[0]["doc_id"], d[0]["start"]), reverse=True)


def _document_paths(docstore_path: Path) -> dict[str, Path]:
    paths = {}
    for doc_id, data in _docstore_records(docstore_path):
        root = (data.get("metadata") or {}).get("root")
        if root:
            path = Path(root)
            paths[doc_id] = path if path.is_file() else path / doc_id
    return paths
