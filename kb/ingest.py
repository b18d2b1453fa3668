"""Ingest: sources -> extract -> chunk -> tag -> embed -> Chroma, incrementally, via llama-index's IngestionPipeline.

The persisted docstore holds each document's hash: unchanged documents are skipped,
changed ones replaced (the pipeline deletes their old chunks first), removed ones deleted.
A document that fails keeps its previous version in the index and is named in the summary.

Fast where it matters: a file whose bytes, metadata and pipeline are unchanged is skipped
without being extracted (`indexes/sources.json`); the chunks of several documents are embedded
together, and only chunks not in the embedding cache reach the encoder; the BM25 table is
updated for the changed documents only. State is persisted every PERSIST_SECONDS and at the
end; after a crash the next run removes what was half-written and redoes it.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from llama_index.core import Document
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode, TransformComponent
from llama_index.core.storage.docstore import SimpleDocumentStore
from pydantic import PrivateAttr
from tqdm import tqdm

from kb.access import FLAG as ACCESS_FLAG
from kb.chunk import chunk_text
from kb.config import Config
from kb.decisions import decision_flags, decisions_of
from kb.extract import Extracted, ExtractionError, Page, extract
from kb.lexical import LexicalIndex
from kb.screen import digests, duplicates
from kb.sources import Discovery, discover, document_metadata
from kb.store import drop_collection, open_collection, vector_store
from kb.tag import ProgrammeLineTagger, load_programme_lines

# Bump when what a chunk stores changes: every document is then re-chunked and re-indexed once (its vectors
# come from the embedding cache). 6: sentence vectors (kb.embed.SentenceVectors), hyphenated compounds joined,
# very short chunks merged with a neighbour. 7: latent terms (kb.embed.LatentTerms), a one-line paragraph
# after an unfinished sentence taken as a heading. 8: consecutive headings kept (all but the last were dropped).
INDEX_VERSION = 8
CHUNK_KEYS = ("doc_id", "title", "doc_type", "date", "year", "year_from", "year_to", "url", "source", "access",
              "origins", "parties", "outcome", "docuvitp")


@dataclass
class Summary:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # not indexed on purpose: a duplicate of another file
    notes: list[dict] = field(default_factory=list)  # indexed, with a remark: OCR used, encoding guessed, markup
    chunks_written: int = 0  # chunks of added and updated documents stored
    chunks_embedded: int = 0  # of those, the ones the encoder computed (the rest came from the embedding cache)
    sentences_embedded: int = 0  # their sentences the encoder computed (kb.embed.SentenceVectors)
    latent_embedded: int = 0  # chunks whose latent terms the encoder computed (kb.embed.LatentTerms)

    def to_dict(self) -> dict:
        return asdict(self)


class StructureChunker(TransformComponent):
    """Documents -> TextNodes along the document's structure (see kb.chunk), tagged with programme lines."""

    target_tokens: int  # from Config.chunk_tokens
    max_tokens: int  # from Config.max_tokens, capped by the model's window
    _count: object = PrivateAttr()
    _tagger: object = PrivateAttr()

    def __init__(self, count_tokens, tagger: ProgrammeLineTagger, **kwargs):
        super().__init__(**kwargs)
        self._count, self._tagger = count_tokens, tagger

    def __call__(self, nodes, **kwargs):
        out = []
        for doc in nodes:
            pages = [Page(*p) for p in json.loads(doc.metadata["page_map"])]
            extracted = Extracted(doc.text, pages)
            decided = decisions_of(doc.metadata, doc.text)
            for i, c in enumerate(chunk_text(extracted, doc.metadata["title"], self._count,
                                             self.target_tokens, self.max_tokens)):
                lines = self._tagger.tag(c.section, c.text)
                meta = {k: doc.metadata.get(k, "") for k in CHUNK_KEYS}
                meta.update({k: v for k, v in doc.metadata.items() if k.startswith(ACCESS_FLAG)})  # acc_<group>
                meta.update(section=c.section, start_char=c.start, end_char=c.end, page=c.page,
                            page_label=c.page_label, page_end=c.page_end, page_breaks=json.dumps(c.page_breaks),
                            chunk=i, programme_lines=",".join(lines), **{f"pl_{l}": 1 for l in lines},
                            **decision_flags(doc.metadata, [d for d in decided if d.start < c.end and d.end > c.start]))
                node = TextNode(id_=f"{doc.id_}#{i}", text=c.text, metadata=meta,
                                start_char_idx=c.start, end_char_idx=c.end,
                                excluded_embed_metadata_keys=[k for k in meta if k not in ("title", "section")],
                                excluded_llm_metadata_keys=list(meta))
                node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc.id_)
                out.append(node)
        return out


def ingest(config: Config, paths=None, rebuild: bool = False, progress: bool = True,
           found: Discovery | None = None) -> Summary:
    """Index the files under `paths` (default: the corpus folder), or the files `found` lists (kb.sync)."""
    from kb.embed import CachedEmbedding, EmbeddingCache, SentenceVectors, latent_terms_of, load_embedding

    if rebuild:
        drop_collection(config)
        config.docstore_path.unlink(missing_ok=True)
        config.sources_path.unlink(missing_ok=True)
        (config.lexical_dir / "index.npz").unlink(missing_ok=True)
    collection = open_collection(config, config.embed_model)  # a model mismatch fails before the model loads
    embed = load_embedding(config.embed_model)
    docstore = (SimpleDocumentStore.from_persist_path(str(config.docstore_path))
                if config.docstore_path.exists() else SimpleDocumentStore())
    lexical = LexicalIndex.load(config.lexical_dir) or LexicalIndex()
    resynced = sync_lexical(lexical, docstore, collection)  # after a crash: BM25 back in step with Chroma
    tagger = ProgrammeLineTagger(load_programme_lines(config.programme_lines))
    max_tokens = min(config.max_tokens, embed.window - 12)
    embedding = CachedEmbedding(embed, EmbeddingCache(config.embedding_cache_path, embed.model_name),
                                SentenceVectors(config.sentence_vectors_path, embed.model_name),
                                latent_terms_of(config, embed.model_name))
    pipeline = IngestionPipeline(
        transformations=[StructureChunker(embed.count_tokens, tagger, target_tokens=config.chunk_tokens,
                                          max_tokens=max_tokens), embedding],
        vector_store=vector_store(collection), docstore=docstore, docstore_strategy=DocstoreStrategy.UPSERTS)
    fingerprint = "|".join(map(str, (INDEX_VERSION, embed.model_name, config.chunk_tokens, max_tokens,
                                     config.programme_lines.read_text())))
    state = _State(config, docstore, lexical, resynced)

    found = found or discover([*(paths or [config.corpus_dir])])
    summary = Summary(failed=[{"doc_id": f.doc_id, "reason": f.reason} for f in found.failures])
    known = set(docstore.get_all_document_hashes().values())  # hash -> doc id
    seen, group, group_chars = set(), [], 0
    file_digests = digests(found.files)  # each file read once: for duplicates and for change detection
    copies = duplicates(found.files, file_digests)  # the first file (by path) of the same bytes is indexed
    bar = tqdm(found.files, desc="Indexeren", unit="doc", disable=not (progress and sys.stderr.isatty()))
    for source in bar:
        if source.doc_id in copies:  # not `seen`: a copy indexed by an earlier run is removed
            reason = f"dubbel: zelfde inhoud als {copies[source.doc_id]}"
            summary.skipped.append({"doc_id": source.doc_id, "reason": reason})
            continue
        seen.add(source.doc_id)
        if item := _prepare(source, file_digests.get(source.doc_id, ""), fingerprint, state, summary):
            group.append(item)
            group_chars += len(item[0].text)
            if group_chars >= GROUP_CHARS:
                _run_group(group, pipeline, collection, state, summary, known)
                group, group_chars = [], 0
    _run_group(group, pipeline, collection, state, summary, known)
    failed = {f["doc_id"] for f in summary.failed}
    _remove_missing(sorted(known - seen - failed), found.roots, pipeline.vector_store, state, summary)
    summary.chunks_embedded, summary.sentences_embedded = embedding.embedded, embedding.sentences_embedded
    summary.latent_embedded = embedding.latent_embedded
    state.persist(force=True)
    return summary


GROUP_CHARS = 100_000  # text per pipeline run: the chunks of several small documents share encoder batches
PERSIST_SECONDS = 20  # a crash loses at most this much work; a re-run redoes it (vectors from the cache)


class _State:
    """What an ingest run persists together: docstore, then BM25 table, then the source hashes."""

    def __init__(self, config: Config, docstore, lexical: LexicalIndex, changed: bool):
        self.config, self.docstore, self.lexical, self.changed = config, docstore, lexical, changed
        path = config.sources_path
        self.sources: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        self.saved_at = time.monotonic()

    def indexed_as(self, doc_id: str, doc_hash: str | None) -> bool:
        """The document is in the docstore with this hash, and the BM25 table holds that version too."""
        return (doc_hash is not None and self.docstore.get_document_hash(doc_id) == doc_hash
                and self.lexical.documents.get(doc_id) == doc_hash)

    def unchanged(self, doc_id: str, source_hash: str) -> bool:
        """Same bytes, metadata and pipeline as when the document was indexed, and indexed in step."""
        return (self.sources.get(doc_id) == source_hash
                and self.indexed_as(doc_id, self.docstore.get_document_hash(doc_id)))

    def persist(self, force: bool = False) -> None:
        if not (force or time.monotonic() - self.saved_at > PERSIST_SECONDS):
            return
        if self.changed or not LexicalIndex.exists(self.config.lexical_dir):
            tmp = self.config.docstore_path.with_suffix(".tmp")  # llama-index writes in place: a kill would truncate it
            self.docstore.persist(str(tmp))
            tmp.replace(self.config.docstore_path)
            self.lexical.save(self.config.lexical_dir)
        _write_json(self.config.sources_path, self.sources)
        self.changed, self.saved_at = False, time.monotonic()


def _prepare(source, digest: str, fingerprint: str, state: _State, summary: Summary) -> tuple[Document, str] | None:
    """(document, source hash) to index, or None when the file is unchanged or failed (noted in the summary).
    `digest`: the sha256 of the file's bytes ("" when it could not be read: extraction then names why)."""
    if clash := _clash(state.docstore, source):
        summary.failed.append({"doc_id": source.doc_id, "reason": clash})
        return None
    source_hash = _source_hash(source, digest, fingerprint)
    if state.unchanged(source.doc_id, source_hash):  # same bytes, same pipeline: not even extracted
        summary.unchanged.append(source.doc_id)
        return None
    try:
        doc, notes = _document(source, fingerprint, state.config)
    except (ExtractionError, OSError, ValueError) as exc:  # ValueError: e.g. an access value not understood
        summary.failed.append({"doc_id": source.doc_id, "reason": str(exc)})
        return None
    summary.notes += [{"doc_id": source.doc_id, "note": note} for note in notes]
    if state.indexed_as(doc.id_, doc.hash):
        summary.unchanged.append(source.doc_id)  # touched, not changed
        state.sources[doc.id_] = source_hash
        return None
    return doc, source_hash


def _remove_missing(doc_ids: list[str], roots: list[str], store, state: _State, summary: Summary) -> None:
    """Documents indexed from one of these folders whose file is gone: out of Chroma, docstore and BM25."""
    for doc_id in doc_ids:
        info = state.docstore.get_document(doc_id, raise_error=False)
        if info is not None and info.metadata.get("root") in roots:
            store.delete(doc_id)
            state.docstore.delete_document(doc_id, raise_error=False)
            state.lexical.remove_documents([doc_id])
            state.sources.pop(doc_id, None)
            state.changed = True
            summary.removed.append(doc_id)


def _run_group(group, pipeline, collection, state: _State, summary: Summary, known: set[str]) -> None:
    """Chunk, embed and store several documents in one pipeline run, then update the BM25 table."""
    if not group:
        return
    new = [doc.id_ for doc, _ in group if state.docstore.get_document_hash(doc.id_) is None]
    if new:  # chunks that a crash left in Chroma before the docstore knew their document
        left = collection.get(where={"doc_id": {"$in": new}}, include=[])["ids"]
        if left:
            collection.delete(ids=left)
    changed = [doc for doc, _ in group if doc.id_ in known]
    if changed:  # embed first: the pipeline deletes a changed document's old chunks before it embeds the new
        chunker, embedding = pipeline.transformations  # ones, and a serving app would miss it meanwhile
        embedding(chunker(changed))  # fills the embedding cache; the run below then only swaps the chunks
    summary.chunks_written += len(pipeline.run(documents=[doc for doc, _ in group]))
    rows = _chroma_rows(collection, [doc.id_ for doc, _ in group])
    for doc, source_hash in group:
        state.lexical.replace_document(doc.id_, doc.hash, rows.get(doc.id_, []))
        state.sources[doc.id_] = source_hash
        (summary.updated if doc.id_ in known else summary.added).append(doc.id_)
    state.changed = True
    state.persist()


def sync_lexical(lexical: LexicalIndex, docstore, collection) -> bool:
    """Bring the BM25 table in step with the docstore (and so Chroma), document by document; True if it changed."""
    indexed = {doc_id: h for h, doc_id in docstore.get_all_document_hashes().items()}
    stale = [d for d, h in indexed.items() if lexical.documents.get(d) != h]
    extra = [d for d in lexical.documents if d not in indexed]
    lexical.remove_documents(extra)
    rows = _chroma_rows(collection, stale)
    for doc_id in stale:
        lexical.replace_document(doc_id, indexed[doc_id], rows.get(doc_id, []))
    return bool(stale or extra)


def _chroma_rows(collection, doc_ids: list[str]) -> dict[str, list[dict]]:
    """The chunks of these documents as Chroma holds them, in chunk order, as BM25 rows."""
    out: dict[str, list[dict]] = {}
    for i in range(0, len(doc_ids), 100):
        data = collection.get(where={"doc_id": {"$in": doc_ids[i:i + 100]}}, include=["documents", "metadatas"])
        for chunk_id, text, meta in zip(data["ids"], data["documents"], data["metadatas"]):
            row = {"id": chunk_id, "text": text, **{k: v for k, v in meta.items() if not k.startswith("_")}}
            out.setdefault(row["doc_id"], []).append(row)
    for rows in out.values():
        rows.sort(key=lambda r: r["chunk"])
    return out


def _source_hash(source, digest: str, fingerprint: str) -> str:
    """Bytes (by their digest), metadata, root and pipeline: when all are as before, the file is not even extracted."""
    return hashlib.sha256(json.dumps([digest, source.meta, source.root, fingerprint], sort_keys=True,
                                     default=str).encode("utf-8")).hexdigest()


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)


def _clash(docstore, source) -> str | None:
    """Document ids are paths relative to the folder ingested, so two folders can both hold `notitie.txt`.
    Refuse the second while the first still exists, rather than silently replacing it."""
    indexed = docstore.get_document(source.doc_id, raise_error=False)
    root = (indexed.metadata.get("root") if indexed is not None else None) or source.root
    if root == source.root or Path(root).resolve() == Path(source.root).resolve():
        return None  # the same folder, perhaps named from another working directory
    other = Path(root) if Path(root).is_file() else Path(root) / source.doc_id
    if not other.exists():
        return None  # the indexed one moved or is gone: this file takes its place
    return (f"document-id '{source.doc_id}' is al in gebruik voor {other}; geef een van beide een andere naam "
            f"of gebruik een aparte index (--index-dir)")


def _document(source, fingerprint: str, config: Config) -> tuple[Document, list[str]]:
    extracted = extract(source.path, source.meta.get("extracted_from"), config.max_pages, config.max_chars)
    meta = document_metadata(source, extracted.text)
    meta["page_map"] = json.dumps([[p.start, p.number, p.label] for p in extracted.pages])
    meta["pipeline"] = fingerprint
    return Document(id_=source.doc_id, text=extracted.text, metadata=meta, excluded_embed_metadata_keys=list(meta),
                    excluded_llm_metadata_keys=list(meta)), extracted.notes
