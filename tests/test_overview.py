"""The programme-line overview: dated items, each quoted verbatim from a passage of its line, with a source."""
import pytest

from kb.api import KnowledgeBase
from kb.overview import build_overview, dated_items
from kb.retrieve import Hit
from kb.sentences import collapse
from kb.tag import ProgrammeLine, load_programme_lines


def hit(text, year=2023, section=""):
    return Hit("doc#0", text, {"doc_id": "doc", "title": "Rapport", "year": year, "section": section})


@pytest.mark.parametrize("text, date, kind", [
    ("Op 8 oktober 2021 vond de aftrap plaats in De Kubus in Lelystad.", "8 oktober 2021", "activiteit"),
    ("De monitor positieve gezondheid is gelanceerd in maart 2022 met partners.", "maart 2022", "activiteit"),
    ("In mei 2017 heeft PS een amendement aangenomen om geld te reserveren.", "mei 2017", "besluit"),
    ("In de periode 2020 – 2022 zijn ruim 1.000 professionals bereikt met workshops.", "2020–2022", "resultaat"),
    ("Medio 2024 zal de eindevaluatie van het programma worden besproken.", "medio 2024", "voornemen"),
    ("In de komende periode vindt een tussenevaluatie plaats die wordt opgeleverd in april 2023.", "april 2023",
     "voornemen"),
])
def test_a_sentence_that_names_a_moment_becomes_a_dated_typed_item(text, date, kind):
    [item] = dated_items(hit(text))
    assert (item.date, item.kind, item.text) == (date, kind, text)
    assert item.citation["doc_id"] == "doc" and item.citation["quote"] == text


@pytest.mark.parametrize("text", [
    "De Sportnota 2019-2023 kreeg een vijfde thema over de leefomgeving.",  # a document's name, not a moment
    "- november 2017",  # a date without what happened
    "Het programma werkt aan een krachtige samenleving.",
])
def test_no_item_without_a_moment_and_what_happened(text):
    assert dated_items(hit(text)) == []


def test_every_programme_line_lists_dated_items_quoted_from_its_own_passages(corpus_index):
    kb = KnowledgeBase(corpus_index)
    rows = {r["id"]: r for r in kb.retriever.lexical.rows}
    overviews = kb.overview()
    assert [o.id for o in overviews] == [line.id for line in load_programme_lines(corpus_index.programme_lines)]
    for line in overviews:
        assert line.items, f"{line.name}: no dated items"
        assert [i.sort_key for i in line.items] == sorted(i.sort_key for i in line.items)
        for item in line.items:
            row = rows[item.citation["chunk_id"]]
            assert row[f"pl_{line.id}"] == 1
            assert item.text in collapse(row["text"]) and str(item.year) in item.text
        assert sum(line.per_year().values()) == len(line.items)
    zorg = next(o for o in overviews if o.id == "toekomstbestendige-zorg")
    assert any("Zorgtafel" in i.text and i.year == 2019 for i in zorg.items)


def test_items_within_a_year_follow_the_calendar_and_are_not_repeated():
    texts = ["Eind 2020 rondde de provincie het project Extra handen af.",
             "Begin 2020 startte de provincie het project Extra handen voor de zorg.",
             "In januari 2020 kwamen de eerste aanmeldingen voor Extra handen binnen.",
             "Begin 2020 startte de provincie het project Extra handen voor de zorg in Flevoland."]
    rows = [{"id": f"d#{i}", "doc_id": "d", "text": t, "year": 2023, "pl_algemeen": 1} for i, t in enumerate(texts)]
    [general] = build_overview(rows, [ProgrammeLine("algemeen", "Algemeen", "", [])])
    assert [i.date for i in general.items] == ["begin 2020", "januari 2020", "eind 2020"]
