"""A local HTTP server (127.0.0.1, a free port) that plays council-information systems for the ingester tests.

Recorded responses (tests/fixtures/sources, see SOURCES.md) are served as they were recorded. Where
no recording exists the listing bodies are CONSTRUCTED here, in the shapes documented in
shared/reference/sources.md (GO v2 envelopes, Notubiz events/modules, ORI `_search` hits, the SRU
2.0 envelope); each such builder says so. A test changes the world (`site.documents[...] = ...`)
and scripts failures per path (`server.script(path, Reply(500), Reply(200, ...))`).
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "sources"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before answering (a timeout test sets more than the client's timeout)


def json_reply(data, status: int = 200) -> Reply:
    return Reply(status, json.dumps(data, ensure_ascii=False).encode("utf-8"))


@dataclass
class SourceServer:
    """Routes are functions (query, body) -> Reply, by path; scripted replies for a path come first."""

    routes: dict = field(default_factory=dict)
    scripted: dict = field(default_factory=dict)
    prefixes: dict = field(default_factory=dict)
    hits: Counter = field(default_factory=Counter)

    def __enter__(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._answer(b"")

            def do_POST(self):
                self._answer(self.rfile.read(int(self.headers.get("content-length") or 0)))

            def _answer(self, body: bytes):
                reply = server.reply(self.path, body)
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def route(self, path: str, handler) -> None:
        self.routes[path] = handler

    def route_prefix(self, prefix: str, handler) -> None:
        """Every path under `prefix` goes to handler(rest of the path, query, body)."""
        self.prefixes[prefix] = handler

    def script(self, path: str, *replies: Reply) -> None:
        """The next requests to `path` get these replies, in order; then the route answers again."""
        self.scripted.setdefault(path, []).extend(replies)

    def reply(self, raw_path: str, body: bytes) -> Reply:
        parts = urlsplit(raw_path)
        self.hits[parts.path] += 1
        if self.scripted.get(parts.path):
            return self.scripted[parts.path].pop(0)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if handler := self.routes.get(parts.path):
            return handler(query, body)
        for prefix, handler in self.prefixes.items():
            if parts.path.startswith(prefix):
                return handler(parts.path[len(prefix):], query, body)
        return Reply(404, b"Not Found", "text/plain")


def pdf_bytes(title: str, paragraphs: list[str]) -> bytes:
    """A real PDF with a text layer (fpdf2), one paragraph after another, pages as they fill."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 8, title)
    pdf.set_font("Helvetica", size=11)
    for paragraph in paragraphs:
        pdf.ln(3)
        pdf.multi_cell(0, 6, paragraph)
    return bytes(pdf.output())


# --- GemeenteOplossingen API v2 (CONSTRUCTED envelopes; field names from sources.md §1.1) ----------

@dataclass
class GoSite:
    """meetings: id -> meeting dict (with "items": [{..., "documents": [doc ids]}], "documents": [doc ids]);
    documents: id -> (document dict, file bytes)."""

    meetings: dict = field(default_factory=dict)
    documents: dict = field(default_factory=dict)

    def install(self, server: SourceServer, prefix: str = "/go") -> None:
        server.route_prefix(f"{prefix}/api/v2/", self.answer)

    def answer(self, path: str, query: dict, body: bytes) -> Reply:
        """Routes of the v2 API, read from the current state of the site (tests change it between syncs)."""
        parts = path.strip("/").split("/")
        if parts == ["meetings"]:
            return self._page(query, "meetings", [_public(m) for m in self.meetings.values()
                                                  if m["date"] >= query.get("date_from", "")])
        if len(parts) == 3 and parts[0] == "meetings" and int(parts[1]) in self.meetings:
            meeting = self.meetings[int(parts[1])]
            if parts[2] == "documents":
                return self._page(query, "documents", self._docs(meeting.get("documents", [])))
            if parts[2] == "meetingitems":
                return self._page(query, "meetingitems", [{k: v for k, v in i.items() if k != "documents"}
                                                          for i in meeting.get("items", [])])
        if len(parts) == 3 and parts[0] == "meetingitems" and parts[2] == "documents":
            for meeting in self.meetings.values():
                for item in meeting.get("items", []):
                    if item["id"] == int(parts[1]):
                        return self._page(query, "documents", self._docs(item["documents"]))
        if len(parts) == 3 and parts[0] == "documents" and parts[2] == "download":
            return self._file(int(parts[1]))
        return json_reply({"status": "ERROR", "code": 404, "messages": ["Not found"], "result": {}}, 404)

    def _docs(self, ids: list) -> list:
        return [self.documents[d][0] for d in ids if d in self.documents]

    def _file(self, doc_id) -> Reply:
        if doc_id not in self.documents:  # GO's soft-404: any path answers 200 with an HTML page
            return Reply(200, b"<!DOCTYPE html><html><body>Pagina niet gevonden</body></html>", "text/html")
        return Reply(200, self.documents[doc_id][1], "application/pdf")

    @staticmethod
    def _page(query: dict, key: str, rows: list) -> Reply:
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        return json_reply({"status": "OK", "code": 200, "messages": [], "result": {
            "offset": offset, "limit": limit, "count": len(rows[offset:offset + limit]), "totalCount": len(rows),
            key: rows[offset:offset + limit]}})


def _public(meeting: dict) -> dict:
    return {k: v for k, v in meeting.items() if k not in ("items", "documents")}


def go_document(doc_id: int, file_name: str, label: str, published: str, size: int, description: str = "") -> dict:
    return {"id": doc_id, "objectId": doc_id, "confidential": False, "fileName": file_name, "documentTypeLabel": label,
            "description": description, "fileSize": size, "isTabsignDocument": False,
            "publicationDate": {"date": f"{published} 00:00:00.000000", "timezone": "Europe/Berlin", "timezone_type": 3}}


def go_meeting(meeting_id: int, day: str, dmu: str, items: list, documents: list | None = None) -> dict:
    return {"id": meeting_id, "confidential": False, "location": "Statenzaal", "description": dmu, "date": day,
            "startTime": "10:00", "dmu": {"id": 1, "name": dmu, "sortOrder": 1}, "meetingLabel": dmu,
            "url": f"/Vergaderingen/{dmu.replace(' ', '-')}/{day[:4]}", "items": items, "documents": documents or []}


def go_item(item_id: int, number: str, title: str, documents: list) -> dict:
    return {"id": item_id, "confidential": False, "description": "", "isHeading": False, "number": number,
            "sortOrder": item_id, "title": title, "documents": documents}


# --- Notubiz (the meeting of the Amsterdam recording is REAL; events, modules and motions CONSTRUCTED) -----

@dataclass
class NotubizSite:
    organisation: int = 2163
    events: list = field(default_factory=list)  # {"id", "permission_group"}; two per page
    meetings: dict = field(default_factory=dict)  # id -> the meeting object
    files: dict = field(default_factory=dict)  # "id/version" -> bytes
    motions: list = field(default_factory=list)  # module items

    def install(self, server: SourceServer, prefix: str = "/notubiz") -> None:
        server.route_prefix(f"{prefix}/", self.answer)

    def answer(self, path: str, query: dict, body: bytes) -> Reply:
        parts = path.strip("/").split("/")
        if parts == ["events"]:
            page = int(query.get("page", 1))
            rows = self.events[(page - 1) * 2:page * 2]
            return json_reply({"events": rows, "pagination": {"has_more_pages": page * 2 < len(self.events)}})
        if parts[:2] == ["events", "meetings"] and int(parts[2]) in self.meetings:
            return json_reply({"meeting": self.meetings[int(parts[2])]})
        if parts[0] == "document" and "/".join(parts[1:3]) in self.files:
            return Reply(200, self.files["/".join(parts[1:3])], "application/pdf")
        if parts[-1] == "modules":
            return json_reply({"modules": [{"id": 6, "name": "Moties", "custom_name": "Moties en Amendementen"},
                                           {"id": 7, "name": "Toezeggingen", "custom_name": ""}]})
        if parts[-1] == "items" and parts[-2] == "6":
            return json_reply({"items": self.motions})
        return Reply(403, b'{"message":"Access denied"}')  # Notubiz answers 400/403 for what it will not show


def amsterdam_meeting() -> dict:
    """The REAL recorded Notubiz meeting (ORI's dump: `attributes` already mapped to a dict)."""
    return json.loads((FIXTURES / "notubiz" / "notubiz_meeting_amsterdam.json").read_text(encoding="utf-8"))


def notubiz_meeting(meeting_id: int, day: str, title: str, documents: list, items: list) -> dict:
    """CONSTRUCTED in the raw API's shape (attributes as a list of {id, value})."""
    return {"id": meeting_id, "type": "meeting", "permission_group": "public", "confidential": 0,
            "plannings": [{"start_date": f"{day} 10:00:00", "end_date": None}],
            "attributes": [{"id": 1, "value": title}], "documents": documents,
            "agenda_items": [{"id": meeting_id * 10 + i, "type": "agenda_point", "documents": docs, "agenda_items": [],
                              "type_data": {"title_prefix": f"{i}.", "heading": False,
                                            "attributes": [{"id": 1, "value": heading}]}}
                             for i, (heading, docs) in enumerate(items, 1)]}


def notubiz_document(doc_id: int, title: str, file_name: str, version: int = 1, modified: str = "2021-03-01 10:00:00",
                     doc_type: str = "Statenvoorstel") -> dict:
    return {"id": doc_id, "title": title, "url": f"https://api.notubiz.nl/document/{doc_id}/{version}",
            "version": version, "publication_date": modified[:10], "last_modified": modified,
            "types": [{"id": 1, "value": doc_type}],
            "versions": [{"id": version, "file_name": file_name, "mime_type": "application/pdf", "file_size": 1000}]}


def notubiz_motion(item_id: int, title: str, day: str, kind: str, parties: str, vote: str, doc_id: int) -> dict:
    """A CONSTRUCTED module item with the labels of the Moties module (sources.md §1.2)."""
    attribute = lambda label, value: {"label": label, "id": hash(label) % 100, "datatype": "text",
                                      "values": [{"content": value}]}
    return {"id": item_id, "last_modified": f"{day} 12:00:00", "attributes": [
        attribute("Titel", title), attribute("Datum", day), attribute("Type", kind),
        attribute("Indienende partij", parties), attribute("Stemming", vote),
        {"label": "Hoofddocument", "id": 9, "datatype": "document",
         "values": [{"document": {"id": doc_id, "title": title, "version": 1}}]}]}


# --- Open Raadsinformatie Elasticsearch (hits CONSTRUCTED from the MediaObject model, sources.md §2) -------

@dataclass
class OriSite:
    documents: dict = field(default_factory=dict)  # id -> _source (with "text": [pages])

    def install(self, server: SourceServer, prefix: str = "/ori") -> None:
        server.route_prefix(f"{prefix}/", self.answer)

    def answer(self, path: str, query: dict, body: bytes) -> Reply:
        parts = path.strip("/").split("/")
        if parts[1:] == ["_search"]:
            request = json.loads(body or b"{}")
            rows = sorted(self.documents.items(), key=lambda kv: (kv[1]["last_discussed_at"], kv[0]), reverse=True)
            if after := request.get("search_after"):
                rows = [r for r in rows if (r[1]["last_discussed_at"], r[0]) < tuple(after)]
            rows = rows[:request.get("size", 10)]
            hits = [{"_index": "osi_flevoland_20200302", "_id": i, "sort": [s["last_discussed_at"], i],
                     "_source": {k: v for k, v in s.items() if k not in ("text", "md_text", "text_pages")}}
                    for i, s in rows]
            return json_reply({"took": 3, "timed_out": False, "hits": {"total": {"value": len(self.documents)},
                                                                       "hits": hits}})
        if len(parts) == 3 and parts[1] == "_doc" and parts[2] in self.documents:
            return json_reply({"_id": parts[2], "found": True, "_source": self.documents[parts[2]]})
        return json_reply({"error": {"type": "index_not_found_exception"}, "status": 404}, 404)


def ori_document(doc_id: str, name: str, day: str, pages: list[str], modified: str) -> dict:
    return {"@id": doc_id, "@type": "MediaObject", "name": name, "file_name": f"{name.replace(' ', '-')}.pdf",
            "original_url": f"https://api.notubiz.nl/document/{doc_id}/1", "content_type": "application/pdf",
            "date_modified": modified, "last_discussed_at": f"{day}T10:00:00+01:00", "text": pages}


# --- KOOP SRU 2.0 (envelope CONSTRUCTED after the real record; the prb XML is REAL) --------------------

@dataclass
class SruSite:
    records: dict = field(default_factory=dict)  # identifier -> (title, date, modified, xml bytes)

    def install(self, server: SourceServer, prefix: str = "/koop") -> None:
        self.prefix, self.base_url = prefix, server.url
        server.route_prefix(f"{prefix}/", self.answer)

    def answer(self, path: str, query: dict, body: bytes) -> Reply:
        if path == "sru":
            return self._search(query)
        identifier = path.rsplit("/", 1)[-1].removesuffix(".xml")
        if identifier in self.records:
            return Reply(200, self.records[identifier][3], "application/xml")
        return Reply(200, b"<html><body>Niet gevonden</body></html>", "text/html")

    def _search(self, query: dict) -> Reply:
        if 'c.product-area==' not in query.get("query", ""):  # SRU: HTTP 200 with diagnostics
            return Reply(200, SRU_DIAGNOSTIC.encode(), "application/xml")
        start, size = int(query.get("startRecord", 1)), int(query.get("maximumRecords", 10))
        ids = sorted(self.records)[start - 1:start - 1 + size]
        records = "".join(self._record(i, start + n) for n, i in enumerate(ids))
        following = start + size if start - 1 + size < len(self.records) else None
        body = (f'<?xml version="1.0" encoding="UTF-8"?><sru:searchRetrieveResponse xmlns:sru="{SRU_NS}">'
                f"<sru:version>2.0</sru:version><sru:numberOfRecords>{len(self.records)}</sru:numberOfRecords>"
                f"<sru:records>{records}</sru:records>"
                + (f"<sru:nextRecordPosition>{following}</sru:nextRecordPosition>" if following else "")
                + "</sru:searchRetrieveResponse>")
        return Reply(200, body.encode("utf-8"), "application/xml")

    def _record(self, identifier: str, position: int) -> str:
        title, day, modified, _ = self.records[identifier]
        year = day[:4]
        base = f"{self.base_url}{self.prefix}/frbr/officielepublicaties/prb/{year}/{identifier}/1"
        return (f'<sru:record><sru:recordSchema>http://standaarden.overheid.nl/sru/</sru:recordSchema><sru:recordData>'
                f'<gzd:gzd xmlns:gzd="http://standaarden.overheid.nl/sru" xmlns:dcterms="http://purl.org/dc/terms/" '
                f'xmlns:overheidwetgeving="http://standaarden.overheid.nl/wetgeving/" '
                f'xmlns:c="http://standaarden.overheid.nl/collectie/"><gzd:originalData><overheidwetgeving:meta>'
                f'<overheidwetgeving:owmskern><dcterms:identifier>{identifier}</dcterms:identifier>'
                f'<dcterms:title>{title}</dcterms:title><dcterms:creator scheme="OVERHEID.Provincie">Flevoland'
                f'</dcterms:creator><dcterms:modified>{modified}</dcterms:modified></overheidwetgeving:owmskern>'
                f'<overheidwetgeving:owmsmantel><dcterms:available>{day}</dcterms:available><dcterms:date>{day}'
                f'</dcterms:date></overheidwetgeving:owmsmantel><overheidwetgeving:tpmeta>'
                f'<c:product-area>officielepublicaties</c:product-area><overheidwetgeving:publicatienaam>Provinciaal blad'
                f'</overheidwetgeving:publicatienaam></overheidwetgeving:tpmeta></overheidwetgeving:meta>'
                f'</gzd:originalData><gzd:enrichedData><gzd:preferredUrl>https://zoek.officielebekendmakingen.nl/'
                f'{identifier}.html</gzd:preferredUrl><gzd:itemUrl manifestation="xml">{base}/xml/{identifier}.xml'
                f'</gzd:itemUrl><gzd:itemUrl manifestation="pdf">{base}/pdf/{identifier}.pdf</gzd:itemUrl>'
                f'</gzd:enrichedData></gzd:gzd></sru:recordData><sru:recordPosition>{position}</sru:recordPosition>'
                f'</sru:record>')


SRU_NS = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
SRU_DIAGNOSTIC = (f'<?xml version="1.0"?><sru:searchRetrieveResponse xmlns:sru="{SRU_NS}"><sru:version>2.0</sru:version>'
                  '<sru:diagnostics><diag:diagnostic xmlns:diag="http://docs.oasis-open.org/ns/search-ws/diagnostic">'
                  '<diag:uri>info:srw/diagnostic/1/10</diag:uri><diag:message>Query syntax error</diag:message>'
                  '</diag:diagnostic></sru:diagnostics></sru:searchRetrieveResponse>')
