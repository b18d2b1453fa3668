"""KnowledgeBase as a long-running process (the app) uses it: a re-index by another process is picked up."""
import shutil
import time
from pathlib import Path

from kb.api import KnowledgeBase
from kb.config import Config

ROOT = Path(__file__).parent.parent


def test_a_reindex_by_another_process_is_seen_at_the_next_call(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("000_375d85d319f8f12f.txt", "manifest.toml"):
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    config = Config.load(index_dir=tmp_path / "indexes")
    KnowledgeBase(config).ingest([corpus], progress=False)
    serving = KnowledgeBase(config)
    assert serving.stats()["documents"] == 1 and serving.document_path("004_a924b13050f0aa6d.txt") is None
    assert not serving.search("Limburg sociale agenda", top_k=3)[0].meta["doc_id"].startswith("004")
    before = serving.stats()
    time.sleep(1.1)  # the stamps have a resolution of one second
    KnowledgeBase(config).ingest([corpus], progress=False)  # nothing changed: ingested, not changed
    after = serving.stats()
    assert after["last_ingest"] > before["last_ingest"] and after["last_changed"] == before["last_changed"]

    shutil.copy(ROOT / "corpus" / "004_a924b13050f0aa6d.txt", corpus)
    KnowledgeBase(config).ingest([corpus], progress=False)  # the batch job, another KnowledgeBase
    assert serving.stats()["documents"] == 2
    assert serving.search("Limburg sociale agenda", top_k=3)[0].meta["doc_id"] == "004_a924b13050f0aa6d.txt"
    assert serving.document_path("004_a924b13050f0aa6d.txt") == corpus / "004_a924b13050f0aa6d.txt"
