"""Store: the Chroma collection (embedded PersistentClient, or a `chroma run` server).

The collection records the embedding model it was built with; opening it with another
model raises `ModelMismatch` instead of returning wrong neighbours.
"""
from __future__ import annotations

from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings
from llama_index.vector_stores.chroma import ChromaVectorStore

from kb.config import Config
from kb.errors import ModelMismatch, StoreUnavailable


def open_client(config: Config):
    settings = Settings(anonymized_telemetry=False)
    if config.chroma_url:
        url = urlparse(config.chroma_url)
        try:
            client = chromadb.HttpClient(host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https",
                                         settings=settings)
            client.heartbeat()
        except Exception as exc:
            raise StoreUnavailable(f"Chroma-server {config.chroma_url} is niet bereikbaar: {exc}") from exc
        return client
    config.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(config.chroma_dir), settings=settings)


def open_collection(config: Config, model_name: str, create: bool = True):
    if not create and not config.chroma_url and not config.chroma_dir.exists():
        return None  # reading must not leave an empty index folder behind
    client = open_client(config)
    if not create and config.collection not in _collection_names(client):
        return None
    # Embeddings are always computed by kb and passed in, so no Chroma embedding function is used.
    collection = client.get_or_create_collection(
        config.collection, embedding_function=None,
        metadata={"embed_model": model_name, "hnsw:space": "cosine"})
    built_with = (collection.metadata or {}).get("embed_model")
    if built_with and built_with != model_name:
        raise ModelMismatch(
            f"De index is gebouwd met embeddingmodel '{built_with}', maar gevraagd is '{model_name}'. "
            f"Gebruik --model {built_with} (of KB_EMBED_MODEL={built_with}), of bouw de index opnieuw met het "
            f"nieuwe model: `kb --model {model_name} ingest --rebuild`.")
    return collection


def drop_collection(config: Config) -> None:
    client = open_client(config)
    if config.collection in _collection_names(client):
        client.delete_collection(config.collection)


def _collection_names(client) -> list[str]:
    # list_collections() has returned names in some Chroma versions and Collection objects in others.
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def vector_store(collection) -> ChromaVectorStore:
    return ChromaVectorStore(chroma_collection=collection)
