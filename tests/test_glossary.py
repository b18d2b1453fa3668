"""Glossary expansion for the lexical leg: abbreviations, synonyms and English words find Dutch passages."""
from kb.glossary import SYNONYM_WEIGHT, Glossary
from kb.lexical import LexicalIndex, analyze

ROWS = [{"id": "a#0", "doc_id": "a", "section": "", "text": "De buurtconciërges werken in de Boswijk."},
        {"id": "b#0", "doc_id": "b", "section": "", "text": "Provinciale Staten namen een motie aan over eenzaamheid."},
        {"id": "c#0", "doc_id": "c", "section": "", "text": "De Zorgtafel is een netwerk van zorgpartijen."}]


def index() -> LexicalIndex:
    table = LexicalIndex()
    for row in ROWS:
        table.replace_document(row["doc_id"], "h", [row])
    return table


def best(query) -> str:
    table = index()
    hits = table.search(query, None, 3)
    return table.ids[hits[0][0]] if hits else ""


def test_synonyms_are_added_at_lower_weight_and_own_words_keep_full_weight():
    terms = Glossary.load().expand("Waar werken de wijkconciërges?")
    assert terms[analyze("wijkconciërges")[0]] == 1.0
    assert terms[analyze("buurtconciërges")[0]] == SYNONYM_WEIGHT


def test_abbreviation_matches_only_as_written():
    glossary = Glossary.load()
    assert analyze("Provinciale")[0] in glossary.expand("Wat besloten PS?")
    assert analyze("Provinciale")[0] not in glossary.expand("Wat is ps?")


def test_expanded_query_finds_what_plain_bm25_misses():
    glossary = Glossary.load()
    assert best("wijkconciërges") == ""
    assert best(glossary.expand("wijkconciërges")) == "a#0"
    assert best(glossary.expand("Wat besloten PS over vereenzaming?")) == "b#0"


def test_english_words_are_translated():
    assert best(Glossary.load().expand("Where do the neighbourhood caretakers work?")) == "a#0"
    assert best(Glossary.load().expand("What about loneliness?")) == "b#0"


def test_weighted_query_scales_the_bm25_terms():
    table = index()
    plain = dict(table.search("Zorgtafel", None, 3))
    half = dict(table.search({analyze("Zorgtafel")[0]: 0.5}, None, 3))
    assert abs(half[2] - plain[2] / 2) < 1e-5


def test_the_glossary_knows_the_stems_of_its_terms_and_english_words():
    glossary = Glossary.load()
    assert all(glossary.knows(s) for s in analyze("wijkconciërges loneliness HCA"))
    assert not glossary.knows(analyze("Veluwemeer")[0])


def test_english_counts_and_names_of_bodies_have_dutch_words():
    expanded = Glossary.load().expand("How many households did the Provincial Council count?")
    assert {analyze("huishoudens")[0], analyze("Staten")[0]} <= set(expanded)
    assert Glossary.load().knows(analyze("GP")[0])


def test_another_form_of_a_name_also_searches_the_name_one_way():
    glossary = Glossary.load()
    almere = analyze("Almere")[0]
    assert glossary.expand("Welke Almeerse wijken?")[almere] == SYNONYM_WEIGHT
    assert set(glossary.expand("Welke wijken in Almere?")) == set(analyze("Welke wijken in Almere?"))
    assert glossary.knows(analyze("Urker")[0]) and glossary.knows(analyze("COVID-19")[0])
