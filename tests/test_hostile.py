"""Hostile content: a document whose text and file name carry script payloads is indexed and shown as text in
every tab of the running app; nothing executes. And every request body is bounded, with a Dutch message."""
import http.client
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

from kb.api import KnowledgeBase
from kb.config import Config
from serving import serving
from test_ui_browser import LOCAL, ask, browser  # noqa: F401 - the browser fixture, shared

ROOT = Path(__file__).parent.parent
PAYLOAD = '<img src=x onerror="window.__pwned=1;alert(1)">'
NAME = f"{PAYLOAD}.txt"  # a legal file name: no slash
TEXT = f"""<script>window.__pwned=1;alert(1)</script> Zorgtafel Flevoland {PAYLOAD}

Op 8 oktober 2021 besloot de provincie tot een subsidie voor de Zorgtafel Flevoland <script>window.__pwned=1</script>
en de toekomstbestendige zorg. [klik hier](javascript:window.__pwned=1) <svg onload="window.__pwned=1"></svg>
De zorgverzekeraar en de zorgaanbieders werken samen aan de arbeidsmarkt in de zorg {PAYLOAD}.
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`kb serve` over an index of the hostile document and one shipped document."""
    base = tmp_path_factory.mktemp("hostile")
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / NAME).write_text(TEXT, encoding="utf-8")
    (corpus / "000_375d85d319f8f12f.txt").write_bytes((ROOT / "corpus" / "000_375d85d319f8f12f.txt").read_bytes())
    config = Config.load(index_dir=base / "indexes")
    summary = KnowledgeBase(config).ingest([corpus], progress=False)
    assert NAME in summary.added and not summary.failed
    with serving(config.index_dir) as url:
        yield url


@pytest.fixture
def page(browser, server):  # noqa: F811
    """A page on the app that records dialogs and blocks requests leaving the machine (an <img src=x> would try)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="nl-NL")
    events = {"dialogs": [], "outside": []}
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL)
                  else (events["outside"].append(route.request.url), route.abort()))
    page = context.new_page()
    page.on("dialog", lambda dialog: (events["dialogs"].append(dialog.message), dialog.dismiss()))
    page.goto(server)
    page.wait_for_selector("#kb-question textarea")
    yield page, events
    context.close()


def untouched(page, events) -> None:
    page.wait_for_timeout(300)  # give an onerror or onload handler time to fire
    assert page.evaluate("() => window.__pwned") is None, "a payload ran"
    assert events["dialogs"] == [], events["dialogs"]
    assert page.locator("#kb-chat img[src='x'], #kb-sources img, .kb-overview img, #kb-documents img, svg[onload]").count() == 0


@pytest.mark.browser
def test_payloads_in_a_document_and_its_name_are_shown_as_text_in_every_tab(page, server):
    page, events = page
    answer = ask(page, f"Wanneer besloot de provincie tot een subsidie voor de Zorgtafel? {PAYLOAD}")
    assert "[1]" in answer and PAYLOAD in page.locator("#kb-chat").inner_text()  # the question, as typed
    sources = page.locator("#kb-sources").inner_text()
    assert "<script>window.__pwned=1</script>" in sources  # the document's text, literally
    untouched(page, events)

    page.get_by_role("tab", name="Documenten").click()
    page.wait_for_function("() => document.querySelector('#kb-documents [role=grid]')?.ariaRowCount === '3'")
    grid = page.locator("#kb-documents [role=grid]").inner_text()
    assert PAYLOAD in grid and "<script>window.__pwned=1;alert(1)</script> Zorgtafel Flevoland" in grid  # name, title
    untouched(page, events)

    page.get_by_role("tab", name="Programmalijnen").click()
    page.locator(".kb-overview section.kb-line").first.wait_for()
    overview = page.locator(".kb-overview").inner_text()
    assert "8 oktober 2021" in overview and "<script>window.__pwned=1</script>" in overview
    untouched(page, events)

    page.goto(server.rstrip("/") + "/bron/" + quote(NAME))  # the original, served as plain text
    assert "<script>window.__pwned=1;alert(1)</script>" in page.locator("body").inner_text()
    untouched(page, events)


def test_a_request_body_over_the_bound_gets_413_with_a_dutch_message(server):
    from ui.limits import MAX_REQUEST_BYTES

    url = urlparse(server)
    declared = http.client.HTTPConnection(url.hostname, url.port, timeout=30)  # refused on its header alone
    declared.putrequest("POST", "/gradio_api/queue/join")
    declared.putheader("Content-Type", "application/json")
    declared.putheader("Content-Length", str(MAX_REQUEST_BYTES + 1))
    declared.endheaders()
    response = declared.getresponse()
    assert response.status == 413 and "Het verzoek is te groot" in response.read().decode("utf-8")
    declared.close()
    chunked = http.client.HTTPConnection(url.hostname, url.port, timeout=30)  # no Content-Length: counted
    chunked.request("POST", "/gradio_api/queue/join", body=iter([b"x" * 65536] * 16),
                    headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = chunked.getresponse()
    assert response.status == 413 and "te groot" in response.read().decode("utf-8")
    chunked.close()


def test_api_questions_are_bounded_too(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    calls = [lambda: client.predict("x" * 1001, api_name="/vraag"),
             lambda: client.predict("x" * 1001, 5, api_name="/zoek"),
             lambda: client.predict("en in 2021?", "", "", None, None, ["Zorgtafel?"] * 51, api_name="/vraag")]
    for call in calls:
        with pytest.raises(Exception, match="te lang|hoogstens 50 vragen"):
            call()
    client.close()  # an open client keeps the server from stopping
