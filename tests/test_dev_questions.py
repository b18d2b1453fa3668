"""The question sets must stay answerable: every gold string occurs in its document, ids are unique."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SETS = ["dev_questions.jsonl", "test_questions.jsonl", "heldout2_questions.jsonl", "heldout3_questions.jsonl",
        "heldout4_questions.jsonl", "heldout5_questions.jsonl", "heldout6_questions.jsonl",
        "heldout7_questions.jsonl", "heldout8_questions.jsonl", "heldout9_questions.jsonl", "heldout10_questions.jsonl",
        "heldout11_questions.jsonl", "heldout12_questions.jsonl", "heldout13_questions.jsonl",
        "heldout14_questions.jsonl", "heldout15_questions.jsonl", "heldout16_questions.jsonl",
        "heldout17_questions.jsonl"]


def load(name):
    lines = (ROOT / "tests/data" / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(l) for l in lines if l.strip()]


def collapse(text):
    return re.sub(r"\s+", " ", text).strip()


def test_size_and_mix():
    questions = load("dev_questions.jsonl")
    assert len(questions) >= 80
    assert sum(q["type"] == "negative" for q in questions) >= 8
    assert sum(q["lang"] == "en" for q in questions) >= 10 and sum(q["paraphrase"] for q in questions) >= 15
    ids = [q["id"] for name in SETS for q in load(name)]
    assert len(set(ids)) == len(ids)  # no id twice, within or across the sets


@pytest.mark.parametrize("name", SETS)
def test_gold_strings_occur_in_their_document(name):
    for q in load(name):
        if q["doc"] is None:
            assert q["gold"] == []
            continue
        text = collapse((ROOT / "corpus" / q["doc"]).read_text(encoding="utf-8"))
        for gold in q["gold"]:
            assert collapse(gold) in text, (q["id"], gold)
