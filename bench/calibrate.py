"""Calibrate `kb ask`'s abstention on the development set: the thresholds on the best sentence's coverage
and the best passage's cosine similarity (dense leg) that answer most answerable and abstain on most unanswerable
questions, for Dutch and for English questions apart (an English question scores lower against Dutch passages).

    .venv/bin/python bench/calibrate.py [--qa FILE ...] [--index-dir DIR]

Objective: answered/answerable + abstained/unanswerable (each class counts equally, however many
questions it has), subject to answering at least 95% of the answerable questions (the issue's
acceptance bound), in each language. Thresholds lie halfway between neighbouring observed values; ties go to
the lowest (answer when in doubt). Prints the grid's best pairs per language; the best pair of each goes into
kb/answer.py (THRESHOLDS). A question that asks for a kind of fact is answered only when the sentence with that
fact covers at least kb/answer.py's FACT_COVERAGE of it by itself; the pairs are calibrated with that rule in
place (FACT_COVERAGE itself was chosen by leave-one-set-out: see kb/answer.py). Tune on the development set only.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

import kb.answer as answer  # noqa: E402
from kb.evaluate import load_questions  # noqa: E402

MIN_ANSWERED = 0.95


def features(kb, questions: list[dict]) -> list[tuple[float, float, float, bool]]:
    """(coverage, top cosine, coverage of the asked fact's sentence, answerable) per question, with abstention
    switched off. A question that names something no passage mentions is never answered, whatever the
    thresholds (kb.answer.mentions): compose reads no passage for it, so its row is all zeros."""
    saved = answer.THRESHOLDS, answer.FACT_COVERAGE
    answer.THRESHOLDS = {language: (-1.0, float("-inf")) for language in saved[0]}
    answer.FACT_COVERAGE = -1.0
    try:
        return [(*kb.ask(q["question"]).confidence, bool(q.get("gold"))) for q in questions]
    finally:
        answer.THRESHOLDS, answer.FACT_COVERAGE = saved


def best_thresholds(rows: list[tuple[float, float, float, bool]]) -> list[tuple[float, float, float, int, int]]:
    """(objective, coverage threshold, score threshold, answered, abstained), best first."""
    positives = sum(r[3] for r in rows) or 1
    negatives = sum(not r[3] for r in rows) or 1
    covers, scores = _midpoints([r[0] for r in rows]), [float("-inf"), *_midpoints([r[1] for r in rows])]
    results = []
    for c in covers:
        for s in scores:
            answers = [(cov >= c and sc >= s and fact >= answer.FACT_COVERAGE, ok) for cov, sc, fact, ok in rows]
            answered = sum(1 for a, ok in answers if ok and a)
            abstained = sum(1 for a, ok in answers if not ok and not a)
            if answered < MIN_ANSWERED * positives:
                continue
            results.append((answered / positives + abstained / negatives, c, s, answered, abstained))
    return sorted(results, key=lambda r: (-r[0], r[1], r[2]))


def _midpoints(values: list[float]) -> list[float]:
    """Candidate thresholds halfway between neighbouring observed values: the margin is split evenly."""
    points = sorted(set(round(v, 4) for v in values))
    return [round((a + b) / 2, 4) for a, b in zip(points, points[1:])]


def main() -> None:
    from kb.api import KnowledgeBase
    from kb.config import Config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qa", type=Path, nargs="+", default=[ROOT / "tests/data/dev_questions.jsonl"],
                        help="question files (development use only)")
    parser.add_argument("--index-dir", type=Path, default=None)
    args = parser.parse_args()
    kb = KnowledgeBase(Config.load(index_dir=args.index_dir) if args.index_dir else None)
    questions = [q for path in args.qa for q in load_questions(path)]
    for language, english in (("Dutch", False), ("English", True)):
        rows = features(kb, [q for q in questions if answer.in_english(q["question"]) == english])
        print(f"{language} questions: {sum(r[3] for r in rows)} answerable, {sum(not r[3] for r in rows)} unanswerable")
        for objective, c, s, answered, abstained in best_thresholds(rows)[:10]:
            print(f"coverage >= {c:.4f}  cosine >= {s:.4f}  answered {answered}/{sum(r[3] for r in rows)}  "
                  f"abstained {abstained}/{sum(not r[3] for r in rows)}  objective {objective:.3f}")
        print("unanswerable:", sorted((round(c, 3), round(s, 2)) for c, s, _, ok in rows if not ok))
        print("answerable, lowest coverage:", sorted((round(c, 3), round(s, 2)) for c, s, _, ok in rows if ok)[:10], "\n")


if __name__ == "__main__":
    main()
