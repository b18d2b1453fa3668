"""Evaluate: Recall@1/5/10 and MRR@10 on a question file in the qa-examples.jsonl format.

A hit is relevant when its text, whitespace collapsed, contains one of the question's gold strings.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from kb.sentences import collapse


def load_questions(path: Path) -> list[dict]:
    return [json.loads(l) for l in Path(path).read_text(encoding="utf-8").splitlines() if l.strip()]


def first_relevant_rank(hits, gold: list[str]) -> int | None:
    golds = [collapse(g) for g in gold]
    for hit in hits:
        text = collapse(hit.text)
        if any(g in text for g in golds):
            return hit.rank
    return None


def evaluate(retriever, questions: list[dict], mode: str = "hybrid") -> dict:
    groups = defaultdict(list)
    for q in questions:
        if not q.get("gold"):
            continue
        rank = first_relevant_rank(retriever.search(q["question"], top_k=10, mode=mode), q["gold"])
        groups["overall"].append(rank)
        groups[q.get("type", "?")].append(rank)
    return {name: _metrics(ranks) for name, ranks in groups.items()}


def _metrics(ranks: list[int | None]) -> dict:
    n = len(ranks)
    at = lambda k: sum(1 for r in ranks if r and r <= k) / n
    return {"n": n, "recall@1": round(at(1), 3), "recall@5": round(at(5), 3), "recall@10": round(at(10), 3),
            "mrr@10": round(sum(1 / r for r in ranks if r and r <= 10) / n, 3)}
