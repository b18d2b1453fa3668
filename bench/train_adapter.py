"""Train the query adapter (kb.adapt) of the index's model on question sets with gold answers, and check it
by leaving one set out at a time.

    .venv/bin/python bench/train_adapter.py [--qa FILE ...] [--index-dir DIR] [--loso] [--out FILE]

Trains on every answerable question of the files (default: the sixteen development sets in tests/data/) against
the passages of the index (build it from corpus/ first: `kb --index-dir DIR ingest`), and writes
kb/data/adapters/<model>.npz, which the retriever loads for that model. With --loso it first prints, per file,
Recall@1/5/10 and MRR@10 of the full pipeline without an adapter and with one trained on the other files: the
estimate for questions the adapter never saw. Never train on a held-out set. After a new adapter, re-run
bench/calibrate.py: abstention reads the plain cosine, but the adapter changes which passages, and so which
sentences, an answer draws on.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from kb.adapt import QueryAdapter, adapter_path  # noqa: E402
from kb.api import KnowledgeBase  # noqa: E402
from kb.config import Config  # noqa: E402
from kb.evaluate import evaluate, load_questions, relevant as is_relevant  # noqa: E402

DEVELOPMENT = ["dev", "test"] + [f"heldout{i}" for i in range(2, 16)]  # never the held-out sets 16 and 17
FIGURES = ("recall@1", "recall@5", "recall@10", "mrr@10")


def passage_data(retriever) -> tuple[list[str], np.ndarray, list]:
    """The indexed passages' texts, unit vectors and sentence matrices (kb.embed.SentenceVectors)."""
    passages = [(i, row["text"]) for i, row in retriever.rows.items()]
    vectors = retriever.passage_vectors(passages)
    texts = [text for _, text in passages]
    return texts, np.array([vectors[p] for p in passages], dtype=np.float32), retriever.sentences.matrices(texts)


def question_data(retriever, questions: list[dict], texts: list[str]) -> tuple[np.ndarray, list[list[int]]]:
    """Unit question vectors, as the retriever computes them before its adapter, and per question the
    indexes of the passages (of `texts`) that contain one of its gold strings."""
    vectors = [retriever._encode(q["question"], "hybrid")[0] for q in questions]  # before the adapter
    relevant = [[j for j, text in enumerate(texts) if is_relevant(text, q["gold"])] for q in questions]
    return _unit(np.array(vectors, dtype=np.float32)), relevant


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def fit(asked: list[tuple[np.ndarray, list]], passages: np.ndarray, sentences: list, **info) -> QueryAdapter:
    """An adapter trained on the (vectors, relevant) of several question sets."""
    return QueryAdapter.fit(np.concatenate([vectors for vectors, _ in asked]), passages, sentences,
                            [rel for _, relevant in asked for rel in relevant], info=info)


def leave_one_out(retriever, sets: dict[str, list[dict]], asked: dict[str, tuple], passages, sentences) -> dict:
    """Per set: the pipeline's figures without an adapter and with one trained on the other sets."""
    results = {}
    for name, questions in sets.items():
        adapter = fit([asked[n] for n in sets if n != name], passages, sentences)
        saved = retriever.adapter
        try:
            retriever.adapter = None
            before = evaluate(retriever, questions)["overall"]
            retriever.adapter = adapter
            after = evaluate(retriever, questions)["overall"]
        finally:
            retriever.adapter = saved
        results[name] = {"n": before["n"], "without": {f: before[f] for f in FIGURES},
                         "with": {f: after[f] for f in FIGURES}}
        print(f"{name:<32} n={before['n']:>3}  " + "  ".join(
            f"{f} {before[f]:.3f} -> {after[f]:.3f}" for f in FIGURES), flush=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qa", nargs="+", type=Path,
                        default=[ROOT / "tests" / "data" / f"{name}_questions.jsonl" for name in DEVELOPMENT],
                        help="question files to train on (default: the sixteen development sets)")
    parser.add_argument("--index-dir", type=Path, default=ROOT / "bench" / ".work" / "quality-index",
                        help="an index of corpus/ (default: bench/.work/quality-index)")
    parser.add_argument("--loso", action="store_true", help="first estimate the gain, leaving one file out at a time")
    parser.add_argument("--out", type=Path, help="where to write the adapter (default: kb/data/adapters/<model>.npz)")
    args = parser.parse_args(argv)

    retriever = KnowledgeBase(Config.load(index_dir=args.index_dir)).retriever
    sets = {path.name: [q for q in load_questions(path) if q.get("gold")] for path in args.qa}
    texts, passages, sentences = passage_data(retriever)
    asked = {name: question_data(retriever, questions, texts) for name, questions in sets.items()}
    report = {"loso": leave_one_out(retriever, sets, asked, passages, sentences)} if args.loso else {}
    model = retriever.embed.model_name
    adapter = fit(list(asked.values()), passages, sentences, model=model, trained_on=list(sets))
    out = args.out or adapter_path(model)
    adapter.save(out)
    print(json.dumps({**report, "adapter": str(out), **adapter.info}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
