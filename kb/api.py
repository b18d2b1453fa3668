"""The library API that the CLI and the UI share.

    >>> kb = KnowledgeBase()
    >>> kb.ingest()                      # corpus/ -> indexes/
    >>> kb.ask("Wat is WEL in Flevoland?").answer
"""
from __future__ import annotations

from pathlib import Path

from kb.answer import Answer, compose
from kb.config import Config
from kb.ingest import Summary, ingest
from kb.retrieve import Filters, Hit, Retriever


class KnowledgeBase:
    def __init__(self, config: Config | None = None):
        self.config = config or Config.load()
        self._retriever: Retriever | None = None

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(self.config)
        return self._retriever

    def ingest(self, paths: list[Path] | None = None, rebuild: bool = False, progress: bool = True) -> Summary:
        summary = ingest(self.config, paths, rebuild=rebuild, progress=progress)
        self._retriever = None  # pick up the new index
        return summary

    def search(self, query: str, top_k: int = 10, filters: Filters | None = None, mode: str = "hybrid") -> list[Hit]:
        return self.retriever.search(query, top_k=top_k, filters=filters, mode=mode)

    def ask(self, question: str, filters: Filters | None = None) -> Answer:
        return compose(question, self.search(question, top_k=10, filters=filters))

    def stats(self) -> dict:
        rows = self.retriever.lexical.rows
        per_line, per_type, docs = {}, {}, {}
        for r in rows:
            for line in r.get("programme_lines", "").split(","):
                per_line[line] = per_line.get(line, 0) + 1
            per_type[r["doc_type"]] = per_type.get(r["doc_type"], 0) + 1
            doc = docs.setdefault(r["doc_id"], {"doc_id": r["doc_id"], "title": r["title"], "doc_type": r["doc_type"],
                                                "date": r.get("date", ""), "chunks": 0})
            doc["chunks"] += 1
        size = sum(f.stat().st_size for f in self.config.index_dir.rglob("*") if f.is_file())
        return {"documents": len(docs), "chunks": len(rows), "per_programme_line": per_line,
                "per_doc_type_chunks": per_type, "index_bytes": size, "index_dir": str(self.config.index_dir),
                "embed_model": self.retriever.embed.model_name, "chroma": self.config.chroma_url or "embedded",
                "document_list": sorted(docs.values(), key=lambda d: d["doc_id"])}
