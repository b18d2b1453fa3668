"""The app's handlers and rendering, in process, on the real corpus index (the browser tests drive the page)."""
import html
import re
import socket
from pathlib import Path

import gradio as gr
import pytest

from kb.api import KnowledgeBase
from kb.answer import Answer
from kb.config import Config
from kb.sentences import collapse
from ui import render
from ui.app import MAX_QUESTION, App, create_server

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def app(corpus_index):
    return App(KnowledgeBase(corpus_index))


def chat(app, question, previous=(), line="", doc_type="", year_from="", year_to="", panels=None):
    """(the answer as shown, the questions searched so far, the sources panel); `panels` collects each answer's."""
    panels = [] if panels is None else panels
    _, history, previous, new_panels, sources = app.chat(question, [], list(previous), list(panels), line, doc_type,
                                                         year_from, year_to)
    panels[:] = new_panels
    return history[-1]["content"], previous, sources


def test_answer_links_each_marker_to_a_source_that_quotes_its_sentence(app):
    message, previous, sources = chat(app, "Wanneer is WEL in Flevoland gestart?")
    markers = re.findall(r"\[\[(\d+)\]\]\(#bron-1-(\d+)\)", message)
    assert markers and all(a == b for a, b in markers)
    assert "Gezocht in: alle documenten" in message and previous == ["Wanneer is WEL in Flevoland gestart?"]
    answer, _ = app.ask("Wanneer is WEL in Flevoland gestart?")
    for c in answer.citations:
        card = re.search(rf'<article class="kb-source" id="bron-1-{c["n"]}".*?</article>', sources, re.S).group(0)
        for quote in c["quotes"]:
            assert f"<mark>{html.escape(quote)}</mark>" in card
            assert quote in collapse(c["passage"])
        assert html.escape(c["title"]) in card and "Open de geïndexeerde tekst" in card


def test_filters_restrict_the_sources_and_are_shown(app):
    answer, searched_in = app.ask("Wanneer is de preventiecoalitie gestart?", "toekomstbestendige-zorg", "", "2020", "2022")
    assert searched_in == "Toekomstbestendige gezondheidszorg, 2020–2022"
    assert answer.citations and all("toekomstbestendige-zorg" in c["programme_lines"] for c in answer.citations)
    assert all("toekomstbestendige-zorg" in h.meta["programme_lines"] for h in answer.hits)
    answer, searched_in = app.ask("Wat is de participatieroute?", "", "notitie")
    assert searched_in == "notitie" and {h.meta["doc_type"] for h in answer.hits} == {"notitie"}


def test_a_follow_up_is_searched_as_the_question_it_continues(app):
    panels = []
    first, previous, _ = chat(app, "Wat gebeurde er in 2020 met de buurtconciërges?", panels=panels)
    second, previous, sources = chat(app, "en in 2021?", previous, panels=panels)
    assert previous[-1] == "Wat gebeurde er in 2021 met de buurtconciërges?"
    assert "Opgevat als vervolgvraag" in second and "2021" in second and "[[1]](#bron-2-1)" in second
    assert "<mark>" in sources and "2021" in sources


def test_markers_of_earlier_answers_keep_their_own_sources(app):
    panels = []
    first, previous, _ = chat(app, "Wanneer is WEL in Flevoland gestart?", panels=panels)
    _, _, sources = chat(app, "Wanneer is de Zorgtafel Flevoland ontstaan?", previous, panels=panels)
    assert sources.index('id="bron-2-1"') < sources.index('id="bron-1-1"')  # newest first, both kept
    first_answer, _ = app.ask("Wanneer is WEL in Flevoland gestart?")
    card = re.search(r'<article class="kb-source" id="bron-1-1".*?</article>', sources, re.S).group(0)
    assert f"<mark>{html.escape(first_answer.citations[0]['quotes'][0])}</mark>" in card
    assert "[[1]](#bron-1-1)" in first


def test_a_follow_up_without_an_earlier_question_asks_for_the_whole_question(app):
    reply, previous, _ = chat(app, "en in 2021?")
    assert "vervolgvraag" in reply and "volledige vraag" in reply and previous == []


def test_the_users_own_text_is_shown_as_typed(app):
    history = app.chat('<img src="http://example.org/x.png"> **vet**', [], [], [], "", "", "", "")[1]
    shown = history[0]["content"]
    assert "<img" not in shown and "&lt;img" in shown and "\\*\\*vet\\*\\*" in shown


def test_bad_questions_get_a_clear_message(app):
    for question, message in [("   ", "Typ eerst een vraag."), ("x" * (MAX_QUESTION + 1), "te lang")]:
        with pytest.raises(gr.Error, match=message):
            app.ask(question)
        reply, _, sources = chat(app, question)
        assert reply.startswith("⚠️") and message in reply and "Stel een vraag" in sources
    with pytest.raises(gr.Error, match="Onbekende programmalijn"):
        app.ask("Wat is WEL?", "geen-lijn")


def test_no_answer_says_so_and_shows_no_sources(app):
    message, _, sources = chat(app, "Wat is de hoofdstad van Frankrijk?")
    assert "Hierover staat niets" in message and "Geen bronnen" in sources


def test_an_index_that_is_not_built_says_how_to_build_it(tmp_path):
    app = App(KnowledgeBase(Config.load(index_dir=tmp_path / "indexes")))
    reply, _, _ = chat(app, "Wat is WEL?")
    assert "De index is nog niet gebouwd" in reply and "kb ingest" in reply and "Traceback" not in reply
    banner = app.load()[3]
    assert "kb ingest" in banner and "kb-error" in banner and "kb ingest" in app.load_overview()[1]
    assert not (tmp_path / "indexes").exists()


def test_an_unreachable_chroma_server_is_named(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = App(KnowledgeBase(Config.load(index_dir=tmp_path, chroma_url=f"http://127.0.0.1:{port}")))
    reply, _, _ = chat(app, "Wat is WEL?")
    assert "niet bereikbaar" in reply and f"127.0.0.1:{port}" in reply and "Chroma-server" in reply


def test_document_text_is_shown_as_text():
    hostile = 'Zin met <script>alert(1)</script> en <img src=x onerror="alert(2)">. Tweede zin.'
    citation = {"n": 1, "doc_id": "x<y>.txt", "title": "<b>titel</b>", "doc_type": "notitie", "date": "2022",
                "section": "<i>kop</i>", "page": None, "page_label": None, "url": "", "passage": hostile,
                "quotes": ['Zin met <script>alert(1)</script> en <img src=x onerror="alert(2)">.'],
                "programme_lines": ["algemeen"]}
    answer = Answer("vraag", f"{citation['quotes'][0]} [1]", [citation])
    panel = render.sources_html(answer, lambda c: "")
    assert "<script>" not in panel and "<img" not in panel and "<b>" not in panel and "&lt;script&gt;" in panel
    message = render.answer_markdown(answer, "alle documenten")
    assert "<script>" not in message and "<img" not in message and "[[1]](#bron-1-1)" in message


def test_a_motion_card_names_its_outcome_parties_and_every_agenda_item():
    citation = {"n": 1, "doc_id": "go/2.pdf", "title": "Motie laaggeletterdheid", "doc_type": "motie", "date": "2021-03-10",
                "section": "", "page": 1, "page_label": "1", "url": "", "passage": "Tekst.", "quotes": ["Tekst."],
                "outcome": "aangenomen", "parties": ["CDA", "ChristenUnie"],
                "origins": [{"source": "go", "meeting": "Provinciale Staten 2021-03-10", "agenda_item": "6. Motie <x>"},
                            {"source": "notubiz", "meeting": "Provinciale Staten 2021-03-10"}]}
    panel = render.sources_html(Answer("vraag", "Tekst. [1]", [citation]), lambda c: "")
    assert "Uitkomst: aangenomen, ingediend door CDA, ChristenUnie" in panel
    assert "Gevonden bij: Provinciale Staten 2021-03-10, agendapunt 6. Motie &lt;x&gt;" in panel
    assert panel.count("Gevonden bij:") == 2


def test_links_open_pdfs_at_the_cited_page():
    pdf = {"doc_id": "besluitenlijst.pdf", "url": "", "page": 4}
    assert render.document_href(pdf, has_file=True) == "/bron/besluitenlijst.pdf#page=4"
    assert render.document_href({**pdf, "url": "https://example.org/a.pdf"}, True) == "https://example.org/a.pdf#page=4"
    assert render.document_href({"doc_id": "a b.txt", "url": "", "page": 3}, True) == "/bron/a%20b.txt"
    assert render.document_href({"doc_id": "weg.txt", "url": "", "page": 3}, False) == ""


def test_originals_are_served_only_for_indexed_documents(corpus_index):
    from fastapi.testclient import TestClient

    client = TestClient(create_server(KnowledgeBase(corpus_index)))
    response = client.get("/bron/003_b2a3fbcf700e85b8.txt")
    assert response.status_code == 200 and "Voortgangsrapportage" in response.text
    assert response.headers["content-type"].startswith("text/plain")
    for path in ["/bron/../pyproject.toml", "/bron/%2e%2e/pyproject.toml", "/bron/manifest.toml", "/bron/niets.pdf"]:
        assert client.get(path).status_code == 404, path


def test_the_api_checks_its_inputs_with_dutch_messages(app):
    for kwargs, message in [({"aantal": -3}, "'aantal' moet een geheel getal"), ({"aantal": 0}, "'aantal'"),
                            ({"aantal": 2.7}, "'aantal'"), ({"vanaf_jaar": "abc"}, "geen jaar")]:
        with pytest.raises(gr.Error, match=message):
            app.api_search("Zorgtafel", **{"aantal": 5, **kwargs})
    with pytest.raises(gr.Error, match="'eerdere_vragen' moet een lijst"):
        app.api_ask("en in 2021?", eerdere_vragen="Wat deed de Zorgtafel in 2020?")
    by_name = app.api_ask("Wanneer is de preventiecoalitie gestart?", programmalijn="Toekomstbestendige gezondheidszorg")
    assert by_name["searched_in"] == "Toekomstbestendige gezondheidszorg" and by_name["citations"]


def test_originals_without_an_index_say_so(tmp_path):
    from fastapi.testclient import TestClient

    client = TestClient(create_server(KnowledgeBase(Config.load(index_dir=tmp_path / "indexes"))))
    response = client.get("/bron/003_b2a3fbcf700e85b8.txt")
    assert response.status_code == 503 and "kan nu niet getoond worden" in response.text
    assert "<code>kb ingest</code>" in render.error_banner("Bouw die eerst met `kb ingest`.")


def test_the_decisions_tab_lists_outcomes_parties_and_sources(tmp_path):
    folder = tmp_path / "stukken"
    folder.mkdir()
    (folder / "besluitenlijst.pdf").write_bytes((ROOT / "tests/fixtures/Besluitenlijst-raadsvergadering-29-juni-2015.pdf").read_bytes())
    (folder / "manifest.toml").write_text('["besluitenlijst.pdf"]\ntitle = "Besluitenlijst <29 juni 2015>"\n'
                                          'doc_type = "besluitenlijst"\ndate = "2015-06-29"\n', encoding="utf-8")
    kb = KnowledgeBase(Config.load(index_dir=tmp_path / "indexes"))
    kb.ingest([folder], progress=False)
    app = App(kb)
    everything = app.decisions()
    assert everything.count('class="kb-decision"') >= 12 and "Besluitenlijst &lt;29 juni 2015&gt;, p. 2" in everything
    amendment = app.decisions("aangenomen", "christenunie", "2015", "amendement")
    assert amendment.count('class="kb-decision"') == 1 and "Tegen: CDA, Helder Onafhankelijk!, PvdA, VVD" in amendment
    assert "amendement A8.1: aangenomen (in meerderheid)" in amendment and "/bron/besluitenlijst.pdf#page=2" in amendment
    assert "Geen besluiten gevonden" in app.decisions("verworpen")
    assert "geen jaar" in app.decisions(year="twintig")
