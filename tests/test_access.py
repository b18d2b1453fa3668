"""Access levels: restricted documents never reach a user outside their groups, by any path.

One index of three corpus documents: 000 public, 004 `access = "besloten"`, 002 readable by the
groups bestuur and griffie. Users: anna (besloten), piet (no groups), bert (bestuur).
"""
import json
import shutil
import stat
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from kb.access import PUBLIC, Users, check_password, document_groups, hash_password, visible
from kb.api import KnowledgeBase
from kb.config import Config
from kb.retrieve import Filters
from serving import serving
from test_ui_browser import browser  # noqa: F401 - headless Chromium, as the browser tests use it

ROOT = Path(__file__).parent.parent
PUBLIC_DOC, BESLOTEN_DOC, BESTUUR_DOC = "000_375d85d319f8f12f.txt", "004_a924b13050f0aa6d.txt", "002_8f95820d40ecf688.txt"
LIMBURG = "Waarom koos Limburg voor een sociale agenda?"  # answered by 004 only
BROAD = "participatie en samenleving in de provincie Flevoland"  # words of all three documents
PASSWORD = {"anna": "anna-geheim-1", "piet": "piet-geheim-2", "bert": "bert-geheim-3"}
GROUPS = {"anna": ["besloten"], "piet": [], "bert": ["bestuur"]}


@pytest.fixture(scope="module")
def access_index(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("access") / "corpus"
    corpus.mkdir()
    manifest = (ROOT / "corpus" / "manifest.toml").read_text(encoding="utf-8")
    manifest = manifest.replace(f'["{BESLOTEN_DOC}"]\n', f'["{BESLOTEN_DOC}"]\naccess = "besloten"\n')
    manifest = manifest.replace(f'["{BESTUUR_DOC}"]\n', f'["{BESTUUR_DOC}"]\naccess = ["bestuur", "griffie"]\n')
    (corpus / "manifest.toml").write_text(manifest, encoding="utf-8")
    for name in (PUBLIC_DOC, BESLOTEN_DOC, BESTUUR_DOC):
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    config = Config.load(index_dir=corpus.parent / "indexes", corpus_dir=corpus)
    summary = KnowledgeBase(config).ingest([corpus], progress=False)
    assert len(summary.added) == 3 and not summary.failed, summary
    return config


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    users = Users.load(tmp_path_factory.mktemp("users") / "users.toml")
    for name, password in PASSWORD.items():
        users.add(name, GROUPS[name], password)
    return Users.load(users.path)


@pytest.fixture(scope="module")
def kb(access_index):
    return KnowledgeBase(access_index)


def docs(items) -> set[str]:
    return {i["doc_id"] if isinstance(i, dict) else i.meta["doc_id"] for i in items}


def tells_of_limburg(answer: str) -> bool:
    """Whether an answer to LIMBURG says something about Limburg: only 004 does. "ze noemen ‘Limburg’ nergens"
    echoes the reader's own word, which tells nothing."""
    return "Limburg" in answer.replace("‘Limburg’", "")


# --- documents and chunks -------------------------------------------------------------------------
def test_manifest_access_values():
    assert document_groups(None) == document_groups(PUBLIC) == []
    assert document_groups("besloten") == ["besloten"]
    assert document_groups(["griffie", "bestuur", "griffie"]) == ["bestuur", "griffie"]
    for bad in ["Besloten", "", [], ["ok", 3], "twee woorden", {"x": 1}]:
        with pytest.raises(ValueError, match="Ongeldige waarde voor access"):
            document_groups(bad)


def test_every_chunk_carries_its_documents_access(kb):
    rows = {r["doc_id"]: r for r in kb.rows()}
    assert rows[PUBLIC_DOC]["access"] == PUBLIC and not any(k.startswith("acc_") for k in rows[PUBLIC_DOC])
    assert rows[BESLOTEN_DOC]["access"] == "besloten" and rows[BESLOTEN_DOC]["acc_besloten"] == 1
    assert rows[BESTUUR_DOC]["acc_bestuur"] == rows[BESTUUR_DOC]["acc_griffie"] == 1
    assert not visible({"doc_id": "x"}, ())  # a chunk without an access field is not public


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid", "rrf"])
def test_both_search_legs_filter_on_the_readers_groups(kb, mode):
    everything = kb.search(LIMBURG, top_k=50, mode=mode)  # an operator (groups None) sees all
    assert everything[0].meta["doc_id"] == BESLOTEN_DOC
    public = kb.search(LIMBURG, top_k=50, filters=Filters(groups=()), mode=mode)
    assert public and docs(public) == {PUBLIC_DOC}
    anna = kb.search(LIMBURG, top_k=50, filters=Filters(groups=("besloten",)), mode=mode)
    assert anna[0].meta["doc_id"] == BESLOTEN_DOC and BESTUUR_DOC not in docs(anna)
    assert docs(kb.search(BROAD, top_k=50, mode=mode)) == {PUBLIC_DOC, BESLOTEN_DOC, BESTUUR_DOC}
    bert = kb.search(BROAD, top_k=50, filters=Filters(groups=("bestuur",)), mode=mode)
    assert docs(bert) == {PUBLIC_DOC, BESTUUR_DOC}
    filtered = kb.search(LIMBURG, top_k=50, filters=Filters(doc_type="artikel", groups=()), mode=mode)
    assert filtered == []  # the only article is besloten


def test_a_name_only_a_restricted_document_mentions_is_as_unknown_to_others_as_any_name(kb):
    """"ze noemen 'X' nergens" must not tell a reader that a document they may not read mentions X."""
    assert not kb.ask(LIMBURG).missing and not kb.ask(LIMBURG, filters=Filters(groups=("besloten",))).missing
    piet = kb.ask(LIMBURG, filters=Filters(groups=()))
    nowhere = kb.ask(LIMBURG.replace("Limburg", "Zeeland"), filters=Filters(groups=()))
    assert piet.missing == ["Limburg"] and nowhere.missing == ["Zeeland"] and not piet.found
    assert piet.answer.replace("Limburg", "X") == nowhere.answer.replace("Zeeland", "X")


def test_documents_overview_and_files_are_restricted(kb):
    assert docs(kb.documents(())) == {PUBLIC_DOC}
    assert docs(kb.documents(("besloten",))) == {PUBLIC_DOC, BESLOTEN_DOC}
    assert docs(kb.documents()) == {PUBLIC_DOC, BESLOTEN_DOC, BESTUUR_DOC}
    assert kb.stats(())["documents"] == 1 and kb.stats()["documents"] == 3
    assert set(kb.stats(())["per_doc_type_chunks"]) == {"webpagina"}
    for groups, allowed in [((), {PUBLIC_DOC}), (("bestuur",), {PUBLIC_DOC, BESTUUR_DOC}),
                            (None, {PUBLIC_DOC, BESLOTEN_DOC, BESTUUR_DOC})]:
        cited = {i.citation["doc_id"] for line in kb.overview(groups) for i in line.items}
        assert cited == allowed - {PUBLIC_DOC}, groups  # the public document names no dated moment
        assert {d: kb.document_path(d, groups) is not None for d in (PUBLIC_DOC, BESLOTEN_DOC, BESTUUR_DOC)} == {
            d: d in allowed for d in (PUBLIC_DOC, BESLOTEN_DOC, BESTUUR_DOC)}


# --- the app, in process --------------------------------------------------------------------------
def test_the_app_shows_each_user_only_what_their_groups_may_read(kb, users):
    from ui.app import App

    app = App(kb, users)
    anna, piet = SimpleNamespace(username="anna"), SimpleNamespace(username="piet")
    assert docs(app.api_ask(LIMBURG, request=anna)["citations"]) == {BESLOTEN_DOC}
    assert BESLOTEN_DOC not in docs(app.api_ask(LIMBURG, request=piet)["citations"])
    assert BESLOTEN_DOC in docs(app.api_search(LIMBURG, 20, request=anna))
    assert docs(app.api_search(LIMBURG, 20, request=piet)) == {PUBLIC_DOC}
    for request, shown in [(anna, True), (piet, False), (None, False)]:
        _, history, _, _, sources = app.chat(LIMBURG, [], [], [], "", "", "", "", request=request)
        assert (BESLOTEN_DOC in sources) is shown and tells_of_limburg(history[-1]["content"]) is shown
        table = app.load(request)[5]
        assert (BESLOTEN_DOC in set(table["document"])) is shown
        assert (BESLOTEN_DOC in set(app.documents("", request)["document"])) is shown
        assert (BESLOTEN_DOC in app.load_overview(request)[1]) is shown
        assert BESTUUR_DOC not in app.load_overview(request)[1] + sources
    with pytest.raises(gr.Error) as error:
        app.api_search(LIMBURG, 5, documenttype="artikel", request=piet)
    assert error.value.message.endswith("Kies uit: webpagina.")  # the besloten article's type is not named
    assert docs(app.api_search(LIMBURG, 5, documenttype="artikel", request=anna)) == {BESLOTEN_DOC}
    # Without a users file: no login, and public documents only.
    bare = App(kb)
    assert BESLOTEN_DOC not in docs(bare.api_search(LIMBURG, 50, request=anna))


def test_originals_of_restricted_documents_are_not_served_without_login(kb):
    from fastapi.testclient import TestClient

    from ui.app import create_server

    client = TestClient(create_server(kb))  # no users file: public documents only
    assert client.get(f"/bron/{PUBLIC_DOC}").status_code == 200
    response = client.get(f"/bron/{BESLOTEN_DOC}")
    assert response.status_code == 404 and "Limburg" not in response.text


# --- users and passwords --------------------------------------------------------------------------
def test_passwords_are_stored_only_as_salted_hashes(users, kb_main, monkeypatch, tmp_path):
    text = users.path.read_text()
    assert all(p not in text for p in PASSWORD.values()) and text.count("scrypt$") == 3
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    assert users.check("anna", PASSWORD["anna"]) and not users.check("anna", PASSWORD["piet"])
    assert not users.check("niemand", PASSWORD["anna"]) and users.groups("anna") == ("besloten",)
    assert hash_password("x" * 8) != hash_password("x" * 8) and check_password("x" * 8, hash_password("x" * 8))

    file = tmp_path / "users.toml"
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("zeer-geheim\n"))
    code, out, _ = kb_main("user", "add", "kees", "--group", "besloten", "--password-stdin", "--users", file, "--json")
    assert code in (0, None) and json.loads(out) == {"user": "kees", "groups": ["besloten"], "users_file": str(file)}
    assert "zeer-geheim" not in file.read_text() and Users.load(file).check("kees", "zeer-geheim")
    code, out, _ = kb_main("user", "list", "--users", file, "--json")
    assert json.loads(out)["users"] == [{"user": "kees", "groups": ["besloten"]}]
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("kort\n"))
    code, _, err = kb_main("user", "add", "kees", "--password-stdin", "--users", file)
    assert code == 2 and "minstens 8 tekens" in err


# --- the running app, two users over HTTP ---------------------------------------------------------
@pytest.fixture(scope="module")
def server(access_index, users):
    with serving(access_index.index_dir, "--users", users.path) as url:
        yield url


def login(url: str, name: str, password: str) -> urllib.request.OpenerDirector:
    """A browser-like session: POST /login, keep the cookie."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    try:
        opener.open(url + "login", data=urllib.parse.urlencode({"username": name, "password": password}).encode())
    except urllib.error.HTTPError as exc:
        assert exc.code == 400  # a wrong password: no cookie
    return opener


def status(opener, url: str) -> int:
    try:
        return opener.open(url).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_two_users_logged_in_over_http_see_different_documents(server):
    from gradio_client import Client

    anna = Client(server, auth=("anna", PASSWORD["anna"]), verbose=False)
    piet = Client(server, auth=("piet", PASSWORD["piet"]), verbose=False)
    assert docs(anna.predict(LIMBURG, api_name="/vraag")["citations"]) == {BESLOTEN_DOC}
    answer = piet.predict(LIMBURG, api_name="/vraag")
    assert BESLOTEN_DOC not in json.dumps(answer) and not tells_of_limburg(answer["answer"])
    assert BESLOTEN_DOC in docs(anna.predict(LIMBURG, 20, api_name="/zoek"))
    assert docs(piet.predict(LIMBURG, 20, api_name="/zoek")) == {PUBLIC_DOC}

    anna_web, piet_web = login(server, "anna", PASSWORD["anna"]), login(server, "piet", PASSWORD["piet"])
    assert status(anna_web, server + f"bron/{BESLOTEN_DOC}") == 200
    assert status(piet_web, server + f"bron/{BESLOTEN_DOC}") == 404
    assert status(piet_web, server + f"bron/{PUBLIC_DOC}") == 200
    nobody = urllib.request.build_opener()
    assert status(nobody, server + f"bron/{PUBLIC_DOC}") == 401
    assert status(nobody, server + "gradio_api/info") in (401, 403)
    assert status(login(server, "anna", "fout-wachtwoord"), server + f"bron/{PUBLIC_DOC}") == 401
    assert status(login(server, "anna", "fout-wachtwoord"), server + "gradio_api/info") in (401, 403)


def test_the_operators_cli_sees_everything_unless_given_a_group(access_index, kb_main):
    def cited(*args):
        code, out, err = kb_main("--index-dir", access_index.index_dir, "search", LIMBURG, "--top-k", "50", *args,
                                 "--json")
        assert code in (0, None), err
        return docs(json.loads(out)["hits"])

    assert cited() == {PUBLIC_DOC, BESLOTEN_DOC, BESTUUR_DOC}
    assert cited("--group", "openbaar") == {PUBLIC_DOC}
    assert cited("--group", "besloten") == {PUBLIC_DOC, BESLOTEN_DOC}
    code, out, _ = kb_main("--index-dir", access_index.index_dir, "ask", LIMBURG, "--group", "openbaar", "--json")
    assert code in (0, None) and json.loads(out)["answer"] and BESLOTEN_DOC not in out


@pytest.mark.browser
def test_in_the_browser_each_user_logs_in_and_sees_only_their_documents(server, browser):  # noqa: F811
    from test_ui_browser import ask

    for name, shown in [("anna", True), ("piet", False)]:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="nl-NL")
        page = context.new_page()
        page.goto(server)
        page.fill("input[type=text]", name)
        page.fill("input[type=password]", PASSWORD[name])
        page.get_by_role("button").first.click()
        page.wait_for_selector("#kb-question textarea")
        page.wait_for_selector("#kb-filter-type")
        answer = ask(page, LIMBURG)
        sources = page.locator("#kb-sources").inner_html()
        assert (BESLOTEN_DOC in sources) is shown and tells_of_limburg(answer) is shown, name
        page.get_by_role("tab", name="Documenten").click()
        page.wait_for_function("() => document.querySelector('#kb-documents [role=grid]')?.ariaRowCount >= '2'")
        grid = page.locator("#kb-documents [role=grid]").inner_text()
        assert PUBLIC_DOC in grid and (BESLOTEN_DOC in grid) is shown and BESTUUR_DOC not in grid, name
        context.close()


def test_an_access_value_not_understood_fails_that_document_only(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / PUBLIC_DOC, corpus / PUBLIC_DOC)
    (corpus / "geheim.txt").write_text("Geheime notitie\n\nDeze tekst is alleen voor het bestuur.\n", encoding="utf-8")
    (corpus / "manifest.toml").write_text('["geheim.txt"]\naccess = "Bestuur!"\n', encoding="utf-8")
    summary = KnowledgeBase(Config.load(index_dir=tmp_path / "indexes")).ingest([corpus], progress=False)
    assert summary.added == [PUBLIC_DOC]  # the other document is indexed
    assert [f["doc_id"] for f in summary.failed] == ["geheim.txt"] and "access" in summary.failed[0]["reason"]
