"""Evaluate: Recall@1/5/10 and MRR@10 on a question file in the qa-examples.jsonl format.

A hit is relevant when its text, whitespace collapsed, contains one of the question's gold strings.
`evaluate_answers` checks `ask`: how many answerable questions get an answer whose citations include
a relevant passage, how many unanswerable ones (empty `gold`) get "niet gevonden", and whether
every [n] is supported by its passage. Each figure comes with a 95% bootstrap interval over the questions
(`ci95`): a set of 28 questions measures Recall@1 0.64 as anything from 0.46 to 0.79, so two systems or
two versions differ only where their intervals say so.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

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


def relevant(text: str, gold: list[str]) -> bool:
    """Whether a passage's text, whitespace collapsed, contains one of the gold strings."""
    text = collapse(text)
    return any(collapse(g) in text for g in gold)


def first_relevant_rank(hits, gold: list[str]) -> int | None:
    return next((hit.rank for hit in hits if relevant(hit.text, gold)), None)


def evaluate(retriever, questions: list[dict], mode: str = "hybrid") -> dict:
    groups = defaultdict(list)
    for q in questions:
        if not q.get("gold"):
            continue
        rank = first_relevant_rank(retriever.search(q["question"], top_k=10, mode=mode), q["gold"])
        groups["overall"].append(rank)
        groups[q.get("type", "?")].append(rank)
    return {name: metrics(ranks) for name, ranks in groups.items()}


def per_question(ranks: list[int | None]) -> dict[str, list[float]]:
    """Each question's share in each figure: found at rank 1 / within 5 / within 10 (1 or 0), and 1/rank."""
    values = {f"recall@{k}": [float(bool(r and r <= k)) for r in ranks] for k in (1, 5, 10)}
    values["mrr@10"] = [1 / r if r and r <= 10 else 0.0 for r in ranks]
    return values


def metrics(ranks: list[int | None]) -> dict:
    values = per_question(ranks)
    return {"n": len(ranks), **{name: round(float(np.mean(v)), 3) for name, v in values.items()},
            "ci95": {name: interval(v) for name, v in values.items()}}


def interval(values: list[float], resamples: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile-bootstrap interval of the mean of per-question values (seeded: the same every run); of
    per-question differences, for two systems on the same questions (paired)."""
    if not values:
        return [0.0, 0.0]
    data = np.asarray(values, dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(data), size=(resamples, len(data)))
    low, high = np.percentile(data[picks].mean(axis=1), [2.5, 97.5])
    return [round(float(low), 3), round(float(high), 3)]


def evaluate_answers(ask, questions: list[dict]) -> dict:
    from kb.answer import citation_supported

    answered, abstained = [], []  # 1.0 or 0.0 per answerable / unanswerable question
    cited = supported = 0
    for q in questions:
        answer = ask(q["question"])
        supported += citation_supported(answer)
        if not q.get("gold"):
            abstained.append(float(not answer.found))
            continue
        answered.append(float(answer.found))
        cited_ids = {c["chunk_id"] for c in answer.citations}
        cited += first_relevant_rank([h for h in answer.hits if h.id in cited_ids], q["gold"]) is not None
    return {"answerable": len(answered), "answered": int(sum(answered)), "answered_citing_gold": cited,
            "unanswerable": len(abstained), "abstained": int(sum(abstained)),
            "citations_supported": f"{supported}/{len(questions)}",
            "ci95": {"answered": interval(answered), "abstained": interval(abstained)}}
