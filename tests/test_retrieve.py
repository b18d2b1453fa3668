"""The retriever's legs on the shipped corpus: the latent-terms leg re-scores what dense and BM25 found."""
from dataclasses import replace

import pytest

from kb.api import KnowledgeBase
from kb.retrieve import named_sections, section_share
from kb.sentences import collapse

# d024 of the development set: the six "pijlers" are asked for as "dimensies".
QUESTION = "Uit welke dimensies bestaat positieve gezondheid?"
GOLD = "De zes pijlers van positieve gezondheid"


def rank_of_gold(hits) -> int | None:
    return next((h.rank for h in hits if GOLD in collapse(h.text)), None)


def test_every_hybrid_hit_carries_its_legs_scores(corpus_index):
    hits = KnowledgeBase(corpus_index).search(QUESTION, top_k=10)
    assert all(h.latent is not None and h.sentence is not None for h in hits)
    assert all(h.dense is not None or h.lexical is not None for h in hits)  # found by a searching leg
    assert [h.rank for h in hits] == list(range(1, 11)) and hits[0].score >= hits[-1].score


@pytest.mark.parametrize("mode", ["dense", "bm25", "rrf"])
def test_the_latent_leg_is_part_of_the_hybrid_fusion_only(corpus_index, mode):
    assert all(h.latent is None for h in KnowledgeBase(corpus_index).search(QUESTION, top_k=5, mode=mode))


def test_the_latent_leg_raises_the_passage_that_answers_a_paraphrase(corpus_index):
    # Without the query adapter (kb.adapt), which ranks this passage first with or without the latent leg.
    plain = replace(corpus_index, query_adapter=False)
    on, off = KnowledgeBase(plain), KnowledgeBase(replace(plain, latent_terms=False))
    with_leg, without = on.search(QUESTION, top_k=10), off.search(QUESTION, top_k=10)
    assert rank_of_gold(with_leg) < rank_of_gold(without) and all(h.latent is None for h in without)
    assert rank_of_gold(KnowledgeBase(corpus_index).search(QUESTION, top_k=10)) == 1
    assert on.stats()["search_legs"] == ["dense", "lexical", "sentence", "latent"]
    assert off.stats()["search_legs"] == ["dense", "lexical", "sentence"]


def test_stats_names_the_legs(corpus_index, kb_main):
    code, out, _ = kb_main("--index-dir", corpus_index.index_dir, "stats")
    assert code == 0 and "zoekbenen: passagevectoren, BM25, zinnen, latente termen (1 modelaanroep per vraag)" in out


# z020 of former held-out 5, shortened: the closing chapter ("Tot slot") tells how connected the towns are;
# without naming it, the question's words rank a section of the participation route first.
CLOSING_QUESTION = "Hoe staat het volgens het slothoofdstuk met de onderlinge verbondenheid in de Flevolandse steden?"


@pytest.mark.parametrize("question, section, named", [
    ("Wat staat er volgens het slothoofdstuk over de oorlog?", "Tot slot", True),
    ("Wat staat er onder 'Tot slot' over de oorlog?", "Tot slot", True),
    ("Tot slot nog een vraag: wat doet Flever?", "Tot slot", False),
    ("What does the closing chapter say about nature?", "Tot slot > Krachtige Samenleving als rode draad", True),
    ("Wat zegt de inleiding over vergrijzing?", "Inleiding > De opgave", True),
    ("What does the introduction of the buurtconciërges cost?", "Inleiding > De opgave", False),
    ("Wat noemt het voorwoord?", "Voorwoord", True),
    ("Wat staat in de samenvatting van hoofdstuk 1?", "1 Gezond en veerkrachtig Flevoland > Samenvatting", True),
    ("What does the summary of the report say?", "1 Gezond en veerkrachtig Flevoland > Samenvatting", True),
    ("Wat staat in hoofdstuk 1?", "2 Toekomstbestendige gezondheidszorg > 2.1 Urgentie", False),
    ("Wat staat in paragraaf 3.2 over Flever?", "3 Arbeidsmarkt & participatie > 3.2 Netwerk en rol", True),
    ("What does section 3.2 say?", "3 Arbeidsmarkt & participatie > 3.2.2 De dubbelrol van Flever", True),
    ("What does section 3.2 say?", "3 Arbeidsmarkt & participatie > 3.3 Ons werk in uitvoering", False),
    ("Wat staat in hoofdstuk 1?", "10 Overig", False),
    ("Wat staat in § 3.2.2?", "3 Arbeidsmarkt & participatie > 3.2.2 De dubbelrol van Flever", True),
    ("Welke projecten noemt bijlage 2?", "Bijlage 2 > Onze aanpak", True),
    ("Welke projecten noemt bijlage 2?", "Bijlage 1", False),
])
def test_a_question_names_a_part_of_the_report(question, section, named):
    assert (section_share(named_sections(question), section) > 0) is named


def test_a_passage_under_more_of_the_named_parts_gets_more():
    named = named_sections("Wat staat in de samenvatting van hoofdstuk 1?")
    assert section_share(named, "1 Gezond en veerkrachtig Flevoland > Samenvatting") == 1.0
    assert section_share(named, "1 Gezond en veerkrachtig Flevoland > 1.2 Netwerk en rol") == 0.5
    assert section_share(named, "2 Toekomstbestendige gezondheidszorg > Samenvatting") == 0.5
    assert section_share(named_sections("Wat doet Flever?"), "Tot slot") == 0.0


def test_a_named_chapter_puts_its_passage_first(corpus_index):
    kb = KnowledgeBase(corpus_index)
    hits = kb.search(CLOSING_QUESTION, top_k=10)
    assert hits[0].meta["section"].startswith("Tot slot") and "sociale cohesie in stedelijke" in collapse(hits[0].text)
    # Without the reference the same words rank another section first: the boost is what moved it.
    unnamed = kb.search(CLOSING_QUESTION.replace(" volgens het slothoofdstuk", ""), top_k=10)
    assert not unnamed[0].meta["section"].startswith("Tot slot")
