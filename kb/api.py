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

from kb.answer import Answer, compose
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

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            stamp = self._index_stamp()
            if self._retriever is None or stamp != self._loaded_at:
                self._retriever = Retriever(self.config)  # the model is loaded once per process (load_embedding)
                self._loaded_at, self._derived = stamp, {}
            return self._retriever

    def ingest(self, paths: list[Path] | None = None, rebuild: bool = False, progress: bool = True) -> Summary:
        summary = ingest(self.config, paths, rebuild=rebuild, progress=progress)
        self._retriever = None  # pick up the new index
        return summary

    def search(self, query: str, top_k: int = 10, filters: Filters | None = None, mode: str = "hybrid") -> list[Hit]:
        return self.retriever.search(query, top_k=top_k, filters=filters, mode=mode)

    def ask(self, question: str, filters: Filters | None = None, previous: list[str] | None = None) -> Answer:
        """Answer `question`; `previous` are the earlier questions of the conversation, oldest first,
        so that a short follow-up ("en in 2022?") is searched as the question it continues."""
        query = follow_up_query(question, previous or [])
        hits = self.search(query, top_k=10, filters=filters)
        answer = compose(query, hits, self.retriever.question_terms(query))
        answer.question, answer.query = question, query
        return answer

    def overview(self) -> list:
        """Per programme line, the dated activities, decisions and results in the index (kb.overview)."""
        from kb.overview import build_overview
        from kb.tag import load_programme_lines

        return self._cached("overview", lambda: build_overview(
            self.retriever.lexical.rows, load_programme_lines(self.config.programme_lines)))

    def document_path(self, doc_id: str) -> Path | None:
        """The indexed file behind `doc_id`, for a link to the original; None for an unknown id."""
        return self._cached("paths", lambda: _document_paths(self.config.docstore_path)).get(doc_id)

    def documents(self) -> list[dict]:
        """The indexed documents (id, title, type, date, url, programme lines, chunk count), by id."""
        return self._cached("documents", lambda: _documents(self.retriever.lexical.rows))

    def stats(self) -> dict:
        rows = self.retriever.lexical.rows
        per_line, per_type = {}, {}
        for r in rows:
            for line in r.get("programme_lines", "").split(","):
                per_line[line] = per_line.get(line, 0) + 1
            per_type[r["doc_type"]] = per_type.get(r["doc_type"], 0) + 1
        documents = self.documents()
        size = sum(f.stat().st_size for f in self.config.index_dir.rglob("*") if f.is_file())
        updated = _iso(self._loaded_at)
        sources = self.config.sources_path  # written by every `kb ingest`, also one that changed nothing
        ingested = _iso(sources.stat().st_mtime) if sources.exists() else updated
        return {"documents": len(documents), "chunks": len(rows), "per_programme_line": per_line,
                "per_doc_type_chunks": per_type, "index_bytes": size, "index_dir": str(self.config.index_dir),
                "last_changed": updated, "last_ingest": ingested, "embed_model": self.retriever.embed.model_name,
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


def _document_paths(docstore_path: Path) -> dict[str, Path]:
    # Read the docstore's JSON directly: only the metadata is needed, not llama-index Document objects.
    if not docstore_path.exists():
        return {}
    data = json.loads(docstore_path.read_text(encoding="utf-8"))
    paths = {}
    for doc_id, record in data.get("docstore/data", {}).items():
        root = (record.get("__data__", {}).get("metadata") or {}).get("root")
        if root:
            path = Path(root)
            paths[doc_id] = path if path.is_file() else path / doc_id
    return paths
