"""The question-file reader and the metrics of `kb eval`."""
import pytest

from kb.evaluate import _metrics, first_relevant_rank, load_questions
from kb.retrieve import Hit


def test_bad_lines_are_named_by_line_number(tmp_path):
    path = tmp_path / "vragen.jsonl"
    path.write_text('{"question": "Wat is WEL?", "gold": []}\n\n{"question": "x", "gold"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"vragen.jsonl, regel 3: geen geldige JSON"):
        load_questions(path)
    path.write_text('{"vraag": "Wat is WEL?"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"regel 1: het veld 'question'"):
        load_questions(path)


def test_gold_matches_after_collapsing_whitespace():
    hits = [Hit("a#0", "Niets hier.", {}, rank=1), Hit("a#1", "De Zorgtafel\n  Flevoland is ontstaan.", {}, rank=2)]
    assert first_relevant_rank(hits, ["Zorgtafel Flevoland is"]) == 2
    assert first_relevant_rank(hits, ["Limburg"]) is None


def test_metrics():
    m = _metrics([1, 3, None, 7])
    assert (m["recall@1"], m["recall@5"], m["recall@10"]) == (0.25, 0.5, 0.75)
    assert m["mrr@10"] == round((1 + 1 / 3 + 1 / 7) / 4, 3)
