"""The development set must stay answerable: every gold string occurs in its document."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
QUESTIONS = [json.loads(l) for l in (ROOT / "tests/data/dev_questions.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()]


def collapse(text):
    return re.sub(r"\s+", " ", text).strip()


def test_size_and_mix():
    assert len(QUESTIONS) >= 40
    assert sum(q["type"] == "negative" for q in QUESTIONS) >= 5
    assert len({q["id"] for q in QUESTIONS}) == len(QUESTIONS)


def test_gold_strings_occur_in_their_document():
    for q in QUESTIONS:
        if q["doc"] is None:
            assert q["gold"] == []
            continue
        text = collapse((ROOT / "corpus" / q["doc"]).read_text(encoding="utf-8"))
        for gold in q["gold"]:
            assert collapse(gold) in text, (q["id"], gold)
