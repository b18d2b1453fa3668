"""Ingest: sources -> extract -> chunk -> tag -> embed -> Chroma, incrementally, via llama-index's IngestionPipeline.

The persisted docstore holds each document's hash: unchanged documents are skipped,
changed ones replaced (the pipeline deletes their old chunks first), removed ones deleted.
A document that fails keeps its previous version in the index and is named in the summary.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from llama_index.core import Document
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode, TransformComponent
from llama_index.core.storage.docstore import SimpleDocumentStore
from pydantic import PrivateAttr
from tqdm import tqdm

from kb.chunk import chunk_text
from kb.config import Config
from kb.extract import Extracted, ExtractionError, Page, extract
from kb.lexical import LexicalIndex
from kb.sources import discover, document_metadata
from kb.store import drop_collection, open_collection, vector_store
from kb.tag import ProgrammeLineTagger, load_programme_lines

# Bump when what a chunk stores changes: every document is then re-chunked and re-embedded once.
INDEX_VERSION = 2
CHUNK_KEYS = ("doc_id", "title", "doc_type", "date", "year", "year_from", "year_to", "url", "source")


@dataclass
class Summary:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    chunks_embedded: int = 0

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
            for i, c in enumerate(chunk_text(extracted, doc.metadata["title"], self._count,
                                             self.target_tokens, self.max_tokens)):
                lines = self._tagger.tag(c.section, c.text)
                meta = {k: doc.metadata[k] for k in CHUNK_KEYS}
                meta.update(section=c.section, start_char=c.start, end_char=c.end, page=c.page,
                            page_label=c.page_label, page_end=c.page_end, page_breaks=json.dumps(c.page_breaks),
                            chunk=i, programme_lines=",".join(lines), **{f"pl_{l}": 1 for l in lines})
                node = TextNode(id_=f"{doc.id_}#{i}", text=c.text, metadata=meta,
                                start_char_idx=c.start, end_char_idx=c.end,
                                excluded_embed_metadata_keys=[k for k in meta if k not in ("title", "section")],
                                excluded_llm_metadata_keys=list(meta))
                node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc.id_)
                out.append(node)
        return out


def ingest(config: Config, paths=None, rebuild: bool = False, progress: bool = True) -> Summary:
    from kb.embed import load_embedding

    if rebuild:
        drop_collection(config)
        config.docstore_path.unlink(missing_ok=True)
    collection = open_collection(config, config.embed_model)  # a model mismatch fails before the model loads
    embed = load_embedding(config.embed_model)
    docstore = (SimpleDocumentStore.from_persist_path(str(config.docstore_path))
                if config.docstore_path.exists() else SimpleDocumentStore())
    tagger = ProgrammeLineTagger(load_programme_lines(config.programme_lines))
    max_tokens = min(config.max_tokens, embed.window - 12)
    pipeline = IngestionPipeline(
        transformations=[StructureChunker(embed.count_tokens, tagger, target_tokens=config.chunk_tokens,
                                          max_tokens=max_tokens), embed],
        vector_store=vector_store(collection), docstore=docstore, docstore_strategy=DocstoreStrategy.UPSERTS)
    fingerprint = "|".join(map(str, (INDEX_VERSION, embed.model_name, config.chunk_tokens, max_tokens,
                                     config.programme_lines.read_text())))

    found = discover([*(paths or [config.corpus_dir])])
    summary = Summary(failed=[{"doc_id": f.doc_id, "reason": f.reason} for f in found.failures])
    known = set(docstore.get_all_document_hashes().values())  # hash -> doc id
    seen = set()
    bar = tqdm(found.files, desc="Indexeren", unit="doc", disable=not (progress and sys.stderr.isatty()))
    for source in bar:
        seen.add(source.doc_id)
        if clash := _clash(docstore, source):
            summary.failed.append({"doc_id": source.doc_id, "reason": clash})
            continue
        try:
            doc = _document(source, fingerprint)
        except (ExtractionError, OSError) as exc:
            summary.failed.append({"doc_id": source.doc_id, "reason": str(exc)})
            continue
        nodes = pipeline.run(documents=[doc])
        if nodes:
            (summary.updated if source.doc_id in known else summary.added).append(source.doc_id)
            summary.chunks_embedded += len(nodes)
            docstore.persist(str(config.docstore_path))  # per document: a crash loses at most this one
        else:
            summary.unchanged.append(source.doc_id)
    failed = {f["doc_id"] for f in summary.failed}
    for doc_id in sorted(known - seen - failed):
        info = docstore.get_document(doc_id, raise_error=False)
        if info is not None and info.metadata.get("root") in found.roots:
            pipeline.vector_store.delete(doc_id)
            docstore.delete_document(doc_id, raise_error=False)
            summary.removed.append(doc_id)
    docstore.persist(str(config.docstore_path))
    if summary.added or summary.updated or summary.removed or rebuild or not LexicalIndex.exists(config.lexical_dir):
        rebuild_lexical(config, collection)
    return summary


def rebuild_lexical(config: Config, collection) -> LexicalIndex:
    """Rebuild the BM25 table from Chroma, so both legs always hold the same chunks."""
    data = collection.get(include=["documents", "metadatas"])
    rows = [{"id": i, "text": t, **{k: v for k, v in m.items() if not k.startswith("_")}}
            for i, t, m in zip(data["ids"], data["documents"], data["metadatas"])]
    rows.sort(key=lambda r: (r["doc_id"], r["chunk"]))
    index = LexicalIndex(rows)
    index.save(config.lexical_dir)
    return index


def _clash(docstore, source) -> str | None:
    """Document ids are paths relative to the folder ingested, so two folders can both hold `notitie.txt`.
    Refuse the second while the first still exists, rather than silently replacing it."""
    indexed = docstore.get_document(source.doc_id, raise_error=False)
    root = (indexed.metadata.get("root") if indexed is not None else None) or source.root
    if root == source.root:
        return None
    other = Path(root) if Path(root).is_file() else Path(root) / source.doc_id
    if not other.exists():
        return None  # the indexed one moved or is gone: this file takes its place
    return (f"document-id '{source.doc_id}' is al in gebruik voor {other}; geef een van beide een andere naam "
            f"of gebruik een aparte index (--index-dir)")


def _document(source, fingerprint: str) -> Document:
    extracted = extract(source.path, source.meta.get("extracted_from"))
    meta = document_metadata(source, extracted.text)
    meta["page_map"] = json.dumps([[p.start, p.number, p.label] for p in extracted.pages])
    meta["pipeline"] = fingerprint
    return Document(id_=source.doc_id, text=extracted.text, metadata=meta,
                    excluded_embed_metadata_keys=list(meta), excluded_llm_metadata_keys=list(meta))
