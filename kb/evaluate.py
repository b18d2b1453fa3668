"""Evaluate: Recall@1/5/10 and MRR@10 on a question file in the qa-examples.jsonl format.

A hit is relevant when its text, whitespace collapsed, contains one of the question's gold strings.
`evaluate_answers` checks `ask`: how many answerable questions get an answer whose citations include
a relevant passage, how many unanswerable ones (empty `gold`) get "niet gevonden", and whether
every [n] is supported by its passage.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from kb.sentences import collapse


def load_questions(path: Path) -> list[dict]:
    """One JSON object per line with at least `question` (text) and `gold` (list of strings, [] = no answer)."""
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}, regel {number}: geen geldige JSON ({exc.msg}, kolom {exc.colno}).") from exc
        if not isinstance(q, dict) or not isinstance(q.get("question"), str) or not q["question"].strip():
            raise ValueError(f"{path}, regel {number}: het veld 'question' (de vraag, als tekst) ontbreekt.")
        if not isinstance(q.get("gold", []), list):
            raise ValueError(f"{path}, regel {number}: 'gold' moet een lijst van teksten zijn ([] als er geen antwoord is).")
        questions.append(q)
    return questions


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


def evaluate_answers(ask, questions: list[dict]) -> dict:
    from kb.answer import citation_supported

    answerable = [q for q in questions if q.get("gold")]
    negative = [q for q in questions if not q.get("gold")]
    answered = cited = abstained = supported = 0
    for q in questions:
        answer = ask(q["question"])
        supported += citation_supported(answer)
        if not q.get("gold"):
            abstained += not answer.found
            continue
        answered += answer.found
        cited_ids = {c["chunk_id"] for c in answer.citations}
        cited += first_relevant_rank([h for h in answer.hits if h.id in cited_ids], q["gold"]) is not None
    return {"answerable": len(answerable), "answered": answered, "answered_citing_gold": cited,
            "unanswerable": len(negative), "abstained": abstained,
            "citations_supported": f"{supported}/{len(questions)}"}
