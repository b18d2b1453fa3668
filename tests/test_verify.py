"""`kb verify`: finds where docstore, Chroma, BM25 table and sources.json disagree, and `--repair` plus the next
ingest bring back exactly the index of an undamaged run, without the encoder."""
import json
import shutil
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from kb.config import Config
from kb.lexical import LexicalIndex
from kb.store import open_client
from kb.verify import verify

ROOT = Path(__file__).parent.parent
SMALL = ["000_375d85d319f8f12f.txt", "002_8f95820d40ecf688.txt", "004_a924b13050f0aa6d.txt"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(corpus folder, index folder, chunk id -> text) of three small documents, indexed once."""
    base = tmp_path_factory.mktemp("verify")
    corpus = base / "corpus"
    corpus.mkdir()
    for name in [*SMALL, "manifest.toml"]:
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    config = Config.load(index_dir=base / "indexes")
    KnowledgeBase(config).ingest([corpus], progress=False)
    return corpus, config.index_dir, snapshot(config)


@pytest.fixture
def damaged(built, tmp_path):
    """A copy of the built index to damage: (config, collection, corpus, reference snapshot)."""
    corpus, index, reference = built
    shutil.copytree(index, tmp_path / "indexes")
    config = Config.load(index_dir=tmp_path / "indexes")
    return config, open_client(config).get_collection(config.collection), corpus, reference


def snapshot(config: Config) -> dict:
    data = open_client(config).get_collection(config.collection).get(include=["documents"])
    lexical = LexicalIndex.load(config.lexical_dir)
    assert {r["id"]: r["text"] for r in lexical.rows} == dict(zip(data["ids"], data["documents"]))
    assert len(lexical.ids) == len(set(lexical.ids))
    return dict(zip(data["ids"], data["documents"]))


def reingest(config: Config, corpus: Path) -> dict:
    """Repair, check the repair left a consistent index, ingest again: the summary."""
    report = verify(config, repair=True)
    assert report.ok and report.repaired, report.to_dict()
    summary = KnowledgeBase(config).ingest([corpus], progress=False)
    assert summary.chunks_embedded == 0  # every vector came from the embedding cache
    assert verify(config).ok
    return summary


def test_the_shipped_corpus_index_is_consistent(corpus_index):
    report = verify(corpus_index)
    assert report.ok, report.problems
    assert report.documents == 5 and report.chunks == report.bm25_rows > 90


def test_orphan_chunks_are_found_and_deleted(damaged):
    config, collection, corpus, reference = damaged
    collection.add(ids=["weg.txt#0"], documents=["Een passage van een verdwenen document."], embeddings=[[0.1] * 384],
                   metadatas=[{"doc_id": "weg.txt", "chunk": 0}])
    report = verify(config)
    assert report.orphan_chunks == ["weg.txt#0"] and not report.ok
    assert reingest(config, corpus).added == []
    assert snapshot(config) == reference


def test_a_half_written_document_is_taken_out_and_indexed_again(damaged):
    config, collection, corpus, reference = damaged
    last = max((i for i in reference if i.startswith(SMALL[2])), key=lambda i: int(i.rsplit("#", 1)[1]))
    collection.delete(ids=[last])
    report = verify(config)
    assert report.half_documents == [SMALL[2]] and SMALL[2] in report.bm25_out_of_step
    assert reingest(config, corpus).added == [SMALL[2]]
    assert snapshot(config) == reference


def test_a_document_without_chunks_is_indexed_again(damaged):
    config, collection, corpus, reference = damaged
    collection.delete(where={"doc_id": SMALL[0]})
    assert verify(config).documents_without_chunks == [SMALL[0]]
    assert reingest(config, corpus).added == [SMALL[0]]
    assert snapshot(config) == reference


def test_a_broken_bm25_table_is_rebuilt_from_chroma(damaged):
    config, _, corpus, reference = damaged
    table = config.lexical_dir / "index.npz"
    table.write_bytes(table.read_bytes()[:1000])
    assert verify(config).bm25_missing
    assert reingest(config, corpus).added == []
    assert snapshot(config) == reference


def test_a_truncated_docstore_is_set_aside_and_everything_indexed_again(damaged):
    config, _, corpus, reference = damaged
    config.docstore_path.write_text(config.docstore_path.read_text()[:500])
    assert verify(config).docstore_unreadable
    assert sorted(reingest(config, corpus).added) == SMALL
    assert snapshot(config) == reference
    assert (config.index_dir / "docstore.json.beschadigd").exists()


def test_the_cli_exits_3_until_repaired(damaged, kb_main):
    config, _, _, _ = damaged
    sources = json.loads(config.sources_path.read_text())
    config.sources_path.write_text(json.dumps({**sources, "oud.txt": "0" * 64}))
    code, out, _ = kb_main("--index-dir", config.index_dir, "verify")
    assert code == 3 and "klopt niet: 1 verouderde regels in sources.json: oud.txt" in out
    code, out, _ = kb_main("--index-dir", config.index_dir, "verify", "--repair", "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"] and data["repaired"] == ["1 verouderde regels uit sources.json verwijderd"]
    code, out, _ = kb_main("--index-dir", config.index_dir, "verify")
    assert code == 0 and "De index is consistent." in out


def test_missing_sentence_vectors_are_found_and_embedded_again(damaged):
    config, _, corpus, reference = damaged
    config.sentence_vectors_path.unlink()
    assert verify(config).missing_sentence_vectors == SMALL
    summary = reingest(config, corpus)
    assert summary.added == SMALL and summary.sentences_embedded > 0
    assert snapshot(config) == reference


def test_missing_latent_terms_are_found_and_computed_again(damaged):
    config, _, corpus, reference = damaged
    config.latent_terms_path.unlink()
    report = verify(config)
    assert report.missing_latent_terms == SMALL and not report.missing_sentence_vectors
    assert "3 documenten met passages zonder latente termen" in report.problems[0]
    summary = reingest(config, corpus)
    assert summary.added == SMALL and summary.latent_embedded == summary.chunks_written > 0
    assert summary.sentences_embedded == 0  # only what was missing is computed
    assert snapshot(config) == reference
