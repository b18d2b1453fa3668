"""Each connector against a local server playing its system (tests/sourceserver.py): paging, metadata,
error envelopes, and the HTTP layer's retries, timeouts, rate limit and PDF check."""
import time

import pytest

from kb.connectors import SOURCE_TYPES, SourceError
from kb.connectors.http import FetchError, Http
from sourceserver import (FIXTURES, GoSite, NotubizSite, OriSite, Reply, SourceServer, SruSite, amsterdam_meeting,
                          go_document, go_item, go_meeting, notubiz_meeting, notubiz_motion,
                          ori_document, pdf_bytes)

PDF = pdf_bytes("Mededeling", ["Tekst van de mededeling."])


def source(kind: str, server, http=None, **options):
    return SOURCE_TYPES[kind]("test", http or Http(rate_limit=0, retries=2, backoff=0.01, timeout=2), **options)


def test_go_lists_every_page_with_meeting_and_agenda_item():
    site = GoSite()
    site.documents = {i: (go_document(i, f"DOCUVITP-{900 + i}-v{i % 3 + 1}-Mededeling-Onderwerp-{i}.pdf", "Mededeling",
                                      "2021-03-01", 1000 + i), PDF) for i in range(1, 8)}
    site.meetings = {10: go_meeting(10, "2021-03-10", "Provinciale Staten",
                                    [go_item(100 + i, f"{i}.", f"Agendapunt {i}", [i]) for i in range(1, 6)], [6, 7])}
    with SourceServer() as server:
        site.install(server)
        docs = list(source("go", server, base_url=f"{server.url}/go", page_size=2).list())
    assert sorted(int(d.native_id) for d in docs) == list(range(1, 8))  # 5 items and 2 meeting documents, pages of 2
    first = next(d for d in docs if d.native_id == "1")
    assert first.meta["agenda_item"] == "1. Agendapunt 1" and first.meta["meeting"] == "Provinciale Staten 2021-03-10"
    assert first.doc_type == "mededeling" and first.meta["docuvitp"] == "901" and first.meta["docuvitp_version"] == 2
    assert first.url.endswith("/api/v2/documents/1/download") and first.date == "2021-03-01"
    assert server.hits["/go/api/v2/meetings/10/meetingitems"] == 3  # 5 items in pages of 2


def test_go_error_envelope_is_an_error_not_an_empty_list():
    with SourceServer() as server:
        server.route("/go/api/v2/meetings", lambda q, b: Reply(200, b'{"status":"ERROR","code":401,"messages":'
                                                                     b'["Unauthorized"],"result":{}}'))
        with pytest.raises(SourceError, match="Unauthorized"):
            list(source("go", server, base_url=f"{server.url}/go").list())


def test_notubiz_reads_the_recorded_meeting_and_pages_events():
    site = NotubizSite(organisation=281)
    site.events = [{"id": 458902, "permission_group": "public"}, {"id": 1, "permission_group": "private"},
                   {"id": 2, "permission_group": "public"}]
    site.meetings = {458902: amsterdam_meeting(), 2: notubiz_meeting(2, "2018-03-01", "Raad", [], [])}
    with SourceServer() as server:
        site.install(server)
        docs = list(source("notubiz", server, base_url=f"{server.url}/notubiz", organisation_id=281,
                           motions=False).list())
    recorded = amsterdam_meeting()
    expected = len(recorded["documents"]) + sum(len(i["documents"]) for i in recorded["agenda_items"])
    assert len(docs) == expected > 40  # all documents of the recorded meeting; the private event was skipped
    assert server.hits["/notubiz/events/meetings/1"] == 0 and server.hits["/notubiz/events"] == 2
    minutes = next(d for d in docs if d.native_id == "6183601")
    assert minutes.doc_type == "besluitenlijst" and minutes.url == f"{server.url}/notubiz/document/6183601/1"
    assert minutes.meta["meeting"] == "raadscommissie Financiën 2018-02-08" and minutes.date == "2018-05-10"
    items = {d.meta.get("agenda_item") for d in docs}
    assert "5. Termijnagenda, per portefeuille" in items  # prefix and title of the recorded agenda item
    assert any(i and i.startswith("TKN 1 Afdoening toezegging personeel WOZ-project") for i in items)


def test_notubiz_motions_carry_parties_and_outcome():
    site = NotubizSite()
    site.motions = [notubiz_motion(1, "Motie laaggeletterdheid aanpakken", "2022-05-11", "Motie", "CDA, ChristenUnie",
                                   "aangenomen", 77),
                    notubiz_motion(2, "Amendement armoede", "2022-05-11", "Amendement", "PVV", "Verworpen", 78)]
    with SourceServer() as server:
        site.install(server)
        docs = list(source("notubiz", server, base_url=f"{server.url}/notubiz", organisation_id=2163).list())
    motion, amendment = sorted(docs, key=lambda d: d.native_id)
    assert (motion.doc_type, motion.meta["outcome"], motion.meta["parties"]) == ("motie", "aangenomen", "CDA,ChristenUnie")
    assert (amendment.doc_type, amendment.meta["outcome"], amendment.meta["parties"]) == ("amendement", "verworpen", "PVV")
    assert motion.url.endswith("/notubiz/document/77/1") and motion.date == "2022-05-11"


def test_ori_pages_with_search_after_and_fetches_text_pages():
    site = OriSite({str(i): ori_document(str(i), f"Mededeling {i}", f"2021-0{i}-10", [f"pagina een {i}", "pagina twee"],
                                         f"2021-0{i}-01") for i in range(1, 6)})
    with SourceServer() as server:
        site.install(server)
        ori = source("ori", server, base_url=f"{server.url}/ori", index="osi_flevoland", page_size=2)
        docs = list(ori.list())
        text = ori.fetch(docs[0]).decode()
    assert [d.native_id for d in docs] == ["5", "4", "3", "2", "1"] and server.hits["/ori/osi_flevoland/_search"] == 3
    assert text == "pagina een 5\fpagina twee" and docs[0].suffix == ".txt"  # form feed: page numbers survive


def test_koop_sru_pages_and_reads_the_recorded_provinciaal_blad():
    xml = (FIXTURES / "koop" / "prb-2017-1003.xml").read_bytes()
    site = SruSite({f"prb-2024-{i}": (f"Bekendmaking {i}", "2024-02-01", "2024-02-02", xml) for i in range(1, 4)})
    with SourceServer() as server:
        site.install(server)
        koop = source("koop", server, base_url=f"{server.url}/koop/sru", creator="Flevoland", page_size=2)
        docs = list(koop.list())
        text = koop.fetch(docs[0]).decode()
    assert [d.native_id for d in docs] == ["prb-2024-1", "prb-2024-2", "prb-2024-3"]
    assert docs[0].doc_type == "provinciaal blad" and docs[0].date == "2024-02-01"
    assert text.startswith("Provincie Utrecht Wet luchtvaart: Bekendmaking TUG-ontheffing")
    assert "ExperienceEvents B.V. heeft een locatiegebonden TUG-ontheffing" in text and "PROVINCIAAL BLAD" not in text


def test_koop_diagnostics_are_an_error():
    with SourceServer() as server:
        SruSite().install(server)
        koop = source("koop", server, base_url=f"{server.url}/koop/sru", creator="Flevoland")
        koop.query = lambda since: "dt.creator=Flevoland"  # a query the server refuses
        with pytest.raises(SourceError, match="Query syntax error"):
            list(koop.list())


def test_http_retries_a_500_then_succeeds_and_gives_up_on_a_404():
    http = Http(rate_limit=0, retries=3, backoff=0.01)
    with SourceServer() as server:
        server.route("/f.pdf", lambda q, b: Reply(200, PDF, "application/pdf"))
        server.script("/f.pdf", Reply(500), Reply(503))
        assert http.get_file(f"{server.url}/f.pdf", ".pdf") == PDF and server.hits["/f.pdf"] == 3
        with pytest.raises(FetchError, match="HTTP 404"):
            http.get_file(f"{server.url}/weg.pdf", ".pdf")
        assert server.hits["/weg.pdf"] == 1  # a 404 is not retried


def test_http_timeout_is_retried_and_then_reported():
    http = Http(rate_limit=0, retries=2, backoff=0.01, timeout=0.3)
    with SourceServer() as server:
        server.route("/traag.pdf", lambda q, b: Reply(200, PDF, "application/pdf", delay=1.0))
        with pytest.raises(FetchError, match="time-out; 2 pogingen"):
            http.get_file(f"{server.url}/traag.pdf", ".pdf")


def test_http_refuses_an_html_page_served_as_pdf():
    http = Http(rate_limit=0, retries=1)
    with SourceServer() as server:
        server.route("/stuk.pdf", lambda q, b: Reply(200, b"<!DOCTYPE html><html>Niet gevonden</html>", "text/html"))
        with pytest.raises(FetchError, match="geen PDF: de server stuurde een HTML-pagina"):
            http.get_file(f"{server.url}/stuk.pdf", ".pdf")


def test_http_rate_limit_spaces_requests_to_one_host():
    http = Http(rate_limit=10, retries=1)
    with SourceServer() as server:
        server.route("/x", lambda q, b: Reply(200, b"{}"))
        start = time.monotonic()
        for _ in range(6):
            http.get_json(f"{server.url}/x")
        assert time.monotonic() - start >= 0.45  # 6 requests at 10/s: at least 5 intervals of 0.1 s
