"""Retrieve: dense (Chroma) + BM25, fused by reciprocal rank; the same filters on both legs.

    >>> Retriever(Config.load()).search("Wie zitten aan de Zorgtafel?", top_k=5)[0].title
    'Voortgangsrapportage Krachtige Samenleving 2019-2022'
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kb.config import Config
from kb.lexical import LexicalIndex
from kb.store import open_collection

RRF_K = 60
CANDIDATES = 50
# Reciprocal-rank fusion weight per leg (tuned on the development set).
WEIGHTS = {"dense": 1.0, "lexical": 1.0}


class IndexMissing(RuntimeError):
    pass


@dataclass
class Filters:
    programme_line: str | None = None
    doc_type: str | None = None
    year: int | None = None

    def where(self) -> dict | None:
        conditions = []
        if self.programme_line:
            conditions.append({f"pl_{self.programme_line}": 1})
        if self.doc_type:
            conditions.append({"doc_type": self.doc_type})
        if self.year:
            conditions += [{"year_from": {"$lte": int(self.year)}}, {"year_to": {"$gte": int(self.year)}}]
        if not conditions:
            return None
        return conditions[0] if len(conditions) == 1 else {"$and": conditions}

    def allows(self, row: dict) -> bool:
        return ((not self.programme_line or row.get(f"pl_{self.programme_line}") == 1)
                and (not self.doc_type or row.get("doc_type") == self.doc_type)
                and (not self.year or row.get("year_from", 0) <= int(self.year) <= row.get("year_to", 0)))


@dataclass
class Hit:
    id: str
    text: str
    meta: dict
    score: float = 0.0
    dense: float | None = None  # cosine similarity, when the dense leg found it
    lexical: float | None = None  # BM25 score, when the lexical leg found it
    rank: int = 0

    def to_dict(self) -> dict:
        m = self.meta
        return {"rank": self.rank, "score": round(self.score, 6), "text": self.text, "doc_id": m.get("doc_id"),
                "title": m.get("title"), "page": m.get("page") or None, "page_label": m.get("page_label") or None,
                "section": m.get("section", ""), "programme_lines": [l for l in m.get("programme_lines", "").split(",") if l],
                "doc_type": m.get("doc_type"), "date": m.get("date"), "url": m.get("url", ""),
                "start_char": m.get("start_char"), "end_char": m.get("end_char")}


class Retriever:
    def __init__(self, config: Config):
        from kb.embed import load_embedding

        self.embed = load_embedding(config.embed_model)
        self.collection = open_collection(config, self.embed.model_name, create=False)
        self.lexical = LexicalIndex.load(config.lexical_dir)
        if self.collection is None or self.lexical is None:
            raise IndexMissing("Er is nog geen index. Bouw die eerst met `kb ingest` (leest de map corpus/).")
        self.rows = {r["id"]: r for r in self.lexical.rows}

    def search(self, query: str, top_k: int = 10, filters: Filters | None = None, mode: str = "hybrid") -> list[Hit]:
        filters = filters or Filters()
        dense = self._dense(query, filters) if mode in ("hybrid", "dense") else []
        lexical = self._lexical(query, filters) if mode in ("hybrid", "bm25") else []
        fused: dict[str, Hit] = {}
        for leg, attr in ((dense, "dense"), (lexical, "lexical")):
            for rank, (chunk_id, score) in enumerate(leg):
                hit = fused.get(chunk_id) or self._hit(chunk_id)
                setattr(hit, attr, score)
                hit.score += WEIGHTS[attr] / (RRF_K + rank + 1)
                fused[chunk_id] = hit
        hits = sorted(fused.values(), key=lambda h: -h.score)[:top_k]
        for rank, hit in enumerate(hits, 1):
            hit.rank = rank
        return hits

    def _hit(self, chunk_id: str) -> Hit:
        row = self.rows[chunk_id]
        meta = {k: v for k, v in row.items() if k not in ("id", "text")}
        return Hit(chunk_id, row["text"], meta)

    def _dense(self, query: str, filters: Filters) -> list[tuple[str, float]]:
        vector = self.embed.get_query_embedding(query)
        n = min(CANDIDATES, max(1, self.collection.count()))
        result = self.collection.query(query_embeddings=[vector], n_results=n, where=filters.where(),
                                       include=["distances"])
        return [(i, 1.0 - d) for i, d in zip(result["ids"][0], result["distances"][0]) if i in self.rows]

    def _lexical(self, query: str, filters: Filters) -> list[tuple[str, float]]:
        mask = np.array([filters.allows(r) for r in self.lexical.rows]) if filters.where() else None
        return [(self.lexical.ids[i], s) for i, s in self.lexical.search(query, mask, CANDIDATES)]
