"""The question-file reader and the metrics of `kb eval`."""
import pytest

from kb.evaluate import first_relevant_rank, interval, load_questions, metrics
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
    m = metrics([1, 3, None, 7])
    assert (m["recall@1"], m["recall@5"], m["recall@10"]) == (0.25, 0.5, 0.75)
    assert m["mrr@10"] == round((1 + 1 / 3 + 1 / 7) / 4, 3)


def test_each_figure_comes_with_a_bootstrap_interval_that_narrows_with_more_questions():
    m = metrics([1, 3, None, 7])
    for name in ("recall@1", "recall@5", "recall@10", "mrr@10"):
        low, high = m["ci95"][name]
        assert 0.0 <= low <= m[name] <= high <= 1.0, name
    assert m["ci95"]["recall@1"][0] < m["ci95"]["recall@1"][1]  # 1 of 4 found first: far from certain
    few, many = interval([1.0, 0.0] * 10), interval([1.0, 0.0] * 200)
    assert few[0] < many[0] <= 0.5 <= many[1] < few[1]
    assert interval([1.0] * 30) == [1.0, 1.0] and interval([]) == [0.0, 0.0]
    assert interval([1.0, 0.0, 1.0]) == interval([1.0, 0.0, 1.0])  # seeded: the same every run
