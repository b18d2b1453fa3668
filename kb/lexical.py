"""Lexical leg: BM25 over Dutch stems (PyStemmer 'dutch') without Dutch stop words, kept incrementally.

Each chunk is indexed with its section path in front (a contextual header, as the dense leg
embeds it): a question about buurtconciërges finds every passage under the heading
"Buurtconciërges", also those whose text does not repeat the word. The stored text stays the chunk's own text.

Why not bm25s's index: it stores scores computed with the collection's statistics at build time,
so one changed document means re-indexing every chunk. Here the index keeps term counts per chunk
(a sparse chunk x term table) and computes BM25 at query time, with bm25s's formula ("lucene":
k1=1.5, b=0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5))). An ingest adds and removes the chunks
of the documents it changed; nothing else is re-read or re-analysed. Documents are tracked with the
hash they were indexed at, so `kb ingest` can bring this table back in step with Chroma after a crash.

The table is one file (`indexes/bm25/index.npz`), replaced atomically.

    >>> index = LexicalIndex()
    >>> index.replace_document("a", "h1", [{"id": "a#0", "doc_id": "a", "text": "De Zorgtafel Flevoland is ontstaan."}])
    >>> [index.ids[i] for i, _ in index.search("Wanneer ontstond de Zorgtafel?", None, 5)]
    ['a#0']
"""
from __future__ import annotations

import io
import json
import os
import re
import threading
import unicodedata
from pathlib import Path

import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN
from scipy import sparse

_local = threading.local()
# Question words carry no topic; bm25s's Dutch list has "wat", "wie" and "hoe" but not these.
# English function words too, for questions asked in English (none is a Dutch content word).
QUESTION_WORDS = {"wanneer", "hoeveel", "hoelang", "welk", "welke", "waarom", "waarmee", "waardoor", "waaraan",
                  "waarover", "waarvoor", "waarin", "waarop",
                  "what", "who", "whom", "whose", "when", "where", "which", "why", "how", "does", "do", "did", "has"}
STOPWORDS = {unicodedata.normalize("NFKD", w).encode("ascii", "ignore").decode()
             for w in (*STOPWORDS_DUTCH, *STOPWORDS_EN, *QUESTION_WORDS)}
K1, B = 1.5, 0.75
FILE = "index.npz"


HYPHENATED = re.compile(r"[a-z]+(?:-[a-z]+)+")


def analyze(text: str) -> list[str]:
    """Lower case, fold accents, drop stop words, stem (Dutch). A hyphenated compound also counts as
    the joined word, since Dutch writes both ("Flevo-principes" and "Flevoprincipes")."""
    stemmer = getattr(_local, "stemmer", None) or Stemmer.Stemmer("dutch")
    _local.stemmer = stemmer
    folded = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    words = [w for w in re.findall(r"[a-z0-9]+", folded) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    words += [m.group().replace("-", "") for m in HYPHENATED.finditer(folded)]
    return stemmer.stemWords(words)


ELIDED = re.compile(r"(\w+)-\s+(?:en|of|tot)\s+(\w+)")


def elided_stems(text: str) -> set[str]:
    """The stems of the words a Dutch elision leaves out: "zorg- en welzijnsorganisaties" says
    "zorgorganisaties" too. Where the shared part starts is not known, so every tail of five or more
    letters is tried; the wrong ones are not words a question has."""
    words = set()
    for first, second in ELIDED.findall(text):
        words.update(first + second[i:] for i in range(1, len(second) - 4))
    return set(analyze(" ".join(words))) if words else set()


def word_stems(word: str) -> set[str]:
    """The stems a word may be indexed under: its own, and its base without a Dutch adjective or genitive
    ending, which the stemmer keeps ("Lelystadse", "Flevers" -> Lelystad, Flever)."""
    stems = set(analyze(word))
    for ending in ("se", "s", "e"):
        if word.lower().endswith(ending) and len(word) - len(ending) >= 4:
            stems.update(analyze(word[:-len(ending)]))
    return stems


def _idf(n: int, df: int) -> float:
    """BM25's idf as bm25s computes it ("lucene"), for a stem that `df` of `n` chunks have."""
    return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))


class LexicalIndex:
    """BM25 over chunks; `rows` keeps each chunk's id, text and metadata for filtering and display."""

    def __init__(self, rows: list[dict] | None = None, terms: list[str] | None = None,
                 postings: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                 documents: dict[str, str] | None = None):
        self._rows = rows or []
        self.terms = terms or []  # term id -> stem
        self.vocab = {t: i for i, t in enumerate(self.terms)}
        empty = np.zeros(0, np.int64)
        self._row, self._term, self._tf = postings or (empty, empty, np.zeros(0, np.float32))
        self.documents = documents or {}  # doc_id -> the hash its chunks were indexed at
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # postings added since the last _views()
        self._dead: set[int] = set()  # rows of replaced or removed documents, dropped at the next _views()
        self._doc_rows: dict[str, list[int]] | None = None  # built on the first removal
        self._dirty = True

    # --- changes (ingest) ---------------------------------------------------------------------
    def replace_document(self, doc_id: str, doc_hash: str, rows: list[dict]) -> None:
        """Put `rows` (the chunks of one document) in place of whatever the document had."""
        self.remove_documents([doc_id])
        start = len(self._rows)
        new_rows, new_terms, new_tf = [], [], []
        for offset, row in enumerate(rows):
            stems = analyze(f"{row.get('section', '')}\n{row['text']}") or ["leeg"]
            ids, counts = np.unique([self._term_id(s) for s in stems], return_counts=True)
            new_rows.append(np.full(len(ids), start + offset))
            new_terms.append(ids)
            new_tf.append(counts.astype(np.float32))
        if rows:
            self._pending.append((np.concatenate(new_rows), np.concatenate(new_terms), np.concatenate(new_tf)))
            self._rows.extend(rows)
            if self._doc_rows is not None:
                self._doc_rows.setdefault(doc_id, []).extend(range(start, start + len(rows)))
        self.documents[doc_id] = doc_hash
        self._dirty = True

    def remove_documents(self, doc_ids) -> None:
        doc_ids = [d for d in doc_ids if d in self.documents]
        if not doc_ids:
            return  # a new document: nothing to look up
        if self._doc_rows is None:
            self._doc_rows = {}
            for number, row in enumerate(self._rows):
                if number not in self._dead:
                    self._doc_rows.setdefault(row["doc_id"], []).append(number)
        for doc_id in doc_ids:
            self.documents.pop(doc_id, None)
            self._dead.update(self._doc_rows.pop(doc_id, []))
        self._dirty = True

    # --- queries --------------------------------------------------------------------------------
    def search(self, query: str | dict[str, float], mask: np.ndarray | None, k: int) -> list[tuple[int, float]]:
        """(row index, score) of the best `k` rows allowed by `mask`. `query` is text, or stems with
        weights (kb.glossary's expansion): each stem's BM25 term is multiplied by its weight."""
        self._views()
        if isinstance(query, str):
            weights: dict[str, float] = {}
            for t in analyze(query):  # a repeated query word counts again, as in bm25s
                weights[t] = weights.get(t, 0.0) + 1.0
        else:
            weights = query
        tokens = [(self.vocab[t], w) for t, w in weights.items() if t in self.vocab] if self._rows else []
        if not tokens:
            return []
        n = len(self._rows)
        scores = np.zeros(n, np.float32)
        for term, weight in tokens:
            start, end = self._csc.indptr[term], self._csc.indptr[term + 1]
            rows, tf = self._csc.indices[start:end], self._csc.data[start:end]
            df = end - start
            idf = _idf(n, df)
            scores[rows] += weight * idf * tf / (K1 * (1 - B + B * self._lengths[rows] / self._avg_length) + tf)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        top = np.argpartition(-scores, min(k, n) - 1)[:k] if n > k else np.arange(n)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, stem: str) -> float | None:
        """BM25's idf of a stem (as `search` weighs it); None when no chunk has it."""
        self._views()
        term = self.vocab.get(stem)
        if term is None or term >= self._csc.shape[1]:
            return None
        df = int(self._csc.indptr[term + 1] - self._csc.indptr[term])
        n = len(self._rows)
        return _idf(n, df) if df else None

    def occurs(self, stem: str, mask: np.ndarray | None = None) -> bool:
        """Whether a chunk that `mask` allows (None: any chunk) has `stem`."""
        self._views()
        term = self.vocab.get(stem)
        if term is None or term >= self._csc.shape[1]:
            return False
        rows = self._csc.indices[self._csc.indptr[term]:self._csc.indptr[term + 1]]
        return len(rows) > 0 and (mask is None or bool(mask[rows].any()))

    def rarest_idf(self) -> float:
        """The idf of a stem that one chunk has: what a word of a question that no chunk has weighs (kb.answer)."""
        return _idf(max(1, len(self.ids)), 1)

    def column(self, name: str, default=0) -> np.ndarray:
        """One metadata field over all rows, as an array (for filters); cached until the next change."""
        self._views()
        if name not in self._columns:
            self._columns[name] = np.array([r.get(name, default) for r in self._rows])
        return self._columns[name]

    # --- storage --------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        self._views()
        folder.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"rows": self._rows, "terms": self.terms, "documents": self.documents}, ensure_ascii=False)
        tmp = folder / (FILE + ".tmp")
        with open(tmp, "wb") as out:
            np.savez(out, row=self._row, term=self._term, tf=self._tf,
                     meta=np.frombuffer(meta.encode("utf-8"), dtype=np.uint8))
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(folder / FILE)  # atomic: a crash never leaves half a table

    @staticmethod
    def exists(folder: Path) -> bool:
        return (folder / FILE).exists()

    @staticmethod
    def stamp(folder: Path) -> float:
        """When the table on disk last changed (0 if there is none)."""
        file = folder / FILE
        return file.stat().st_mtime if file.exists() else 0.0

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex | None":
        if not cls.exists(folder):
            return None
        with np.load(io.BytesIO((folder / FILE).read_bytes())) as data:
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
            return cls(meta["rows"], meta["terms"], (data["row"], data["term"], data["tf"]), meta["documents"])

    # --- internals ------------------------------------------------------------------------------
    @property
    def rows(self) -> list[dict]:
        self._views()
        return self._rows

    @property
    def ids(self) -> list[str]:
        self._views()
        return self._ids

    def _term_id(self, stem: str) -> int:
        if stem not in self.vocab:
            self.vocab[stem] = len(self.terms)
            self.terms.append(stem)
        return self.vocab[stem]

    def _views(self) -> None:
        """After changes: drop dead rows, then rebuild the query-time views (term-major postings, lengths)."""
        if not self._dirty:
            return
        if self._pending:  # one concatenation per batch of changes, not one per document
            parts = [(self._row, self._term, self._tf), *self._pending]
            self._row, self._term, self._tf = (np.concatenate([p[i] for p in parts]) for i in range(3))
            self._pending = []
        if self._dead:
            keep = np.ones(len(self._rows), dtype=bool)
            keep[list(self._dead)] = False
            new_number = np.cumsum(keep) - 1
            kept = keep[self._row]
            self._row, self._term, self._tf = new_number[self._row[kept]], self._term[kept], self._tf[kept]
            self._rows = [r for r, k in zip(self._rows, keep) if k]
            self._dead, self._doc_rows = set(), None
        n, v = len(self._rows), len(self.terms)
        self._csc = sparse.csc_matrix((self._tf, (self._row, self._term)), shape=(n, max(v, 1)))
        self._lengths = np.bincount(self._row, weights=self._tf, minlength=n).astype(np.float32)
        self._avg_length = float(self._lengths.mean()) if n else 1.0
        self._ids = [r["id"] for r in self._rows]
        self._columns: dict[str, np.ndarray] = {}
        self._dirty = False
