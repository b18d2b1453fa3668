"""Lexical leg: BM25 (bm25s) over Dutch stems (PyStemmer 'dutch') without Dutch stop words.

Each chunk is indexed with its section path in front (a contextual header, as the dense leg
embeds it): a question about buurtconciërges finds every passage under the heading
"Buurtconciërges", also those whose text does not repeat the word. The stored text stays the chunk's own text.

The index is rebuilt from the chunk table after every ingest that changed something, so it
always mirrors Chroma; it is persisted beside Chroma in `indexes/bm25/`.
"""
from __future__ import annotations

import json
import re
import threading
import unicodedata
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN

_local = threading.local()
# Question words carry no topic; bm25s's Dutch list has "wat", "wie" and "hoe" but not these.
# English function words too, for questions asked in English (none is a Dutch content word).
QUESTION_WORDS = {"wanneer", "hoeveel", "hoelang", "welk", "welke", "waarom", "waarmee", "waardoor", "waaraan",
                  "waarover", "waarvoor", "waarin", "waarop",
                  "what", "who", "whom", "whose", "when", "where", "which", "why", "how", "does", "do", "did", "has"}
STOPWORDS = {unicodedata.normalize("NFKD", w).encode("ascii", "ignore").decode()
             for w in (*STOPWORDS_DUTCH, *STOPWORDS_EN, *QUESTION_WORDS)}


def analyze(text: str) -> list[str]:
    """Lower case, fold accents, drop stop words, stem (Dutch)."""
    stemmer = getattr(_local, "stemmer", None) or Stemmer.Stemmer("dutch")
    _local.stemmer = stemmer
    folded = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    words = [w for w in re.findall(r"[a-z0-9]+", folded) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    return stemmer.stemWords(words)


class LexicalIndex:
    """BM25 over chunks; `rows` keeps each chunk's id, text and metadata for filtering and display."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        self.ids = [r["id"] for r in rows]
        self.bm25 = bm25s.BM25()
        if rows:
            self.bm25.index([analyze(f"{r.get('section', '')}\n{r['text']}") or ["leeg"] for r in rows],
                            show_progress=False)

    def search(self, query: str, mask: np.ndarray | None, k: int) -> list[tuple[int, float]]:
        """(row index, score) of the best `k` rows allowed by `mask`."""
        tokens = [t for t in analyze(query) if t in self.bm25.vocab_dict] if self.rows else []
        if not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        top = np.argsort(-scores)[:k]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "rows.json.tmp"
        tmp.write_text(json.dumps(self.rows, ensure_ascii=False), encoding="utf-8")
        tmp.replace(folder / "rows.json")  # atomic: a crash never leaves half a table

    @staticmethod
    def exists(folder: Path) -> bool:
        return (folder / "rows.json").exists()

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex | None":
        file = folder / "rows.json"
        if not cls.exists(folder):
            return None
        return cls(json.loads(file.read_text(encoding="utf-8")))
