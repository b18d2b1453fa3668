"""The incremental BM25 table: same ranking and scores as bm25s, whatever order documents come and go in."""
import bm25s
import numpy as np
import pytest

from kb.lexical import LexicalIndex, analyze, elided_stems, word_stems

DOCS = {
    "zorg.txt": ["Eind 2019 is Zorgtafel Flevoland ontstaan: een samenwerkingsplatform met zorgverzekeraar en GGD.",
                 "De Zorgtafel werkt aan een toekomstbestendig zorglandschap in Flevoland."],
    "wel.txt": ["Begin 2020 is de beweging positieve gezondheid van start gegaan onder de naam WEL in Flevoland.",
                "WEL is een provinciaal platform voor kennis en inspiratie over positieve gezondheid."],
    "werk.txt": ["In 2020 is Werkbedrijf Lelystad gestart met buurtconciërges voor langdurig werklozen.",
                 "De buurtconciërges vergroten de leefbaarheid in buurten van Lelystad."],
    "hca.txt": ["In september 2021 is de Human Capital Agenda Zorg & Welzijn ondertekend door werkgevers en onderwijs."],
}
QUERIES = ["Wanneer is de Zorgtafel ontstaan?", "buurtconciërges Lelystad", "positieve gezondheid WEL",
           "Human Capital Agenda zorg", "Flevoland"]


def rows(doc_id, texts):
    return [{"id": f"{doc_id}#{i}", "doc_id": doc_id, "section": "", "text": t} for i, t in enumerate(texts)]


def oracle(docs: dict) -> tuple[list[str], bm25s.BM25]:
    all_rows = [r for d, texts in docs.items() for r in rows(d, texts)]
    model = bm25s.BM25()
    model.index([analyze(f"\n{r['text']}") for r in all_rows], show_progress=False)
    return [r["id"] for r in all_rows], model


def ranking(index: LexicalIndex, query: str) -> dict[str, float]:
    return {index.ids[i]: round(s, 4) for i, s in index.search(query, None, 10)}


def expected(docs: dict, query: str) -> dict[str, float]:
    ids, model = oracle(docs)
    tokens = [t for t in analyze(query) if t in model.vocab_dict]
    scores = model.get_scores(tokens) if tokens else np.zeros(len(ids))
    return {ids[i]: round(float(scores[i]), 4) for i in np.argsort(-scores)[:10] if scores[i] > 0}


def test_scores_equal_bm25s_after_adds_replacements_and_removals(tmp_path):
    index = LexicalIndex()
    for doc_id, texts in DOCS.items():
        index.replace_document(doc_id, "v1", rows(doc_id, texts))
    index.replace_document("zorg.txt", "v2", rows("zorg.txt", DOCS["zorg.txt"][:1] + ["De GGD schuift ook aan."]))
    index.remove_documents(["hca.txt"])
    final = {**DOCS, "zorg.txt": DOCS["zorg.txt"][:1] + ["De GGD schuift ook aan."]}
    del final["hca.txt"]
    for query in QUERIES:
        assert ranking(index, query) == expected(final, query), query
    assert index.documents == {"zorg.txt": "v2", "wel.txt": "v1", "werk.txt": "v1"}

    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert [r["id"] for r in loaded.rows] == [r["id"] for r in index.rows] and loaded.documents == index.documents
    for query in QUERIES:
        assert ranking(loaded, query) == expected(final, query), query
    loaded.replace_document("hca.txt", "v1", rows("hca.txt", DOCS["hca.txt"]))  # a loaded table keeps changing
    for query in QUERIES:
        assert ranking(loaded, query) == expected({**final, "hca.txt": DOCS["hca.txt"]}, query), query


def test_removing_every_document_leaves_an_empty_searchable_table():
    index = LexicalIndex()
    for doc_id, texts in DOCS.items():
        index.replace_document(doc_id, "v1", rows(doc_id, texts))
    index.remove_documents(list(DOCS))
    assert index.rows == [] and index.search("Zorgtafel", None, 5) == [] and index.documents == {}


@pytest.mark.parametrize("field, value, expected_docs", [("doc_type", "motie", {"wel.txt"}), ("year", 2020, {"wel.txt"})])
def test_columns_back_the_filters(field, value, expected_docs):
    index = LexicalIndex()
    for n, (doc_id, texts) in enumerate(DOCS.items()):
        index.replace_document(doc_id, "v1", [{**r, "doc_type": "motie" if n == 1 else "notitie", "year": 2019 + n}
                                              for r in rows(doc_id, texts)])
    mask = index.column(field) == value
    hits = index.search("Flevoland", mask, 10)
    assert hits and {index.rows[i]["doc_id"] for i, _ in hits} == expected_docs


def test_a_hyphenated_compound_also_matches_the_joined_word():
    assert set(analyze("Flevoprincipes")) <= set(analyze("de Flevo-principes"))
    assert analyze("2019-2022") == ["2019", "2022"]  # numbers are not joined
    index = LexicalIndex()
    index.replace_document("a", "h", [{"id": "a#0", "doc_id": "a", "text": "De Flevoprincipes zijn onze toetssteen."},
                                      {"id": "a#1", "doc_id": "a", "text": "Principes van de provincie Flevoland."}])
    assert index.ids[index.search("Wat zijn de Flevo-principes?", None, 2)[0][0]] == "a#0"


def test_a_word_occurs_only_in_the_chunks_a_mask_allows_and_only_while_indexed():
    index = LexicalIndex()
    for doc_id, texts in DOCS.items():
        index.replace_document(doc_id, "h", rows(doc_id, texts))
    stem = analyze("buurtconciërges")[0]
    werk = np.array([i.startswith("werk.txt") for i in index.ids])
    assert index.occurs(stem) and index.occurs(stem, werk) and not index.occurs(stem, ~werk)
    assert not index.occurs(analyze("Veluwemeer")[0])
    index.remove_documents(["werk.txt"])
    assert not index.occurs(stem)


def test_a_word_is_also_looked_for_without_its_adjective_or_genitive_ending():
    assert analyze("Lelystad")[0] in word_stems("Lelystadse")
    assert analyze("Flever")[0] in word_stems("Flevers")
    assert word_stems("Urk") == set(analyze("Urk"))  # too short to lose an ending
    assert word_stems("de") == set()  # a stop word has no stem


def test_a_dutch_elision_also_says_the_words_it_leaves_out():
    stems = elided_stems("samen met 22 zorg- en welzijnsorganisaties en de sport- of cultuursector")
    assert {analyze("zorgorganisaties")[0], analyze("sportsector")[0]} <= stems
    assert elided_stems("zorg en welzijn") == set()  # no elision: nothing added
