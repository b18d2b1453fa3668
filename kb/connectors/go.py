"""GemeenteOplossingen (GO) raadsinformatie, API v2: meetings -> agenda items -> documents.

Used by stateninformatie.flevoland.nl, Noordoostpolder and Dronten. Every v2 answer is an envelope
`{"status": "OK", "result": {"offset", "limit", "totalCount", "<model>": [...]}}`; an error comes as
`status: "ERROR"` (often with HTTP 200), so the envelope is checked, not only the status code.
Votes are not in GO for Flevoland (the module answers 404): outcomes come from besluitenlijsten.

    [[source]]
    name = "flevoland-go"
    type = "go"
    base_url = "https://stateninformatie.flevoland.nl"
"""
from __future__ import annotations

from datetime import date
from pathlib import PurePosixPath

from kb.connectors.base import RemoteDocument, Source, SourceError, doc_type_of, docuvitp, iso_date, required

PAGE = 100


class GoSource(Source):
    type = "go"

    def configure(self, **options) -> None:
        self.base = required(self.name, options, "base_url")
        self.dmus = set(options.pop("dmus", []))  # committee names to keep; empty: all
        self.page_size = int(options.pop("page_size", PAGE))
        super().configure(**options)

    def list(self, since: date | None = None):
        params = {"date_from": since.isoformat()} if since else {}
        for meeting in self._pages("/meetings", "meetings", params):
            if meeting.get("confidential") or (self.dmus and (meeting.get("dmu") or {}).get("name") not in self.dmus):
                continue
            context = {"meeting": _meeting_label(meeting), "meeting_date": iso_date(meeting.get("date")),
                       "original_url": ""}
            for doc in self._pages(f"/meetings/{meeting['id']}/documents", "documents"):
                if remote := self._document(doc, context):
                    yield remote
            for item in self._pages(f"/meetings/{meeting['id']}/meetingitems", "meetingitems"):
                if item.get("confidential") or item.get("isHeading"):
                    continue
                agenda = " ".join(filter(None, [str(item.get("number") or "").strip(), item.get("title") or ""]))
                for doc in self._pages(f"/meetingitems/{item['id']}/documents", "documents"):
                    if remote := self._document(doc, {**context, "agenda_item": agenda}):
                        yield remote

    def _document(self, doc: dict, context: dict) -> RemoteDocument | None:
        name = doc.get("fileName") or ""
        if doc.get("confidential") or not name:
            return None
        title = doc.get("description") or PurePosixPath(name).stem.replace("-", " ")
        meta = {**context}
        if number := docuvitp(name):
            meta["docuvitp"], meta["docuvitp_version"] = number
        published = iso_date(doc.get("publicationDate"))
        return RemoteDocument(
            native_id=str(doc["id"]), url=f"{self.base}/api/v2/documents/{doc['id']}/download", title=title,
            doc_type=doc_type_of(doc.get("documentTypeLabel", ""), name, title),
            date=published or context["meeting_date"], suffix=PurePosixPath(name).suffix.lower() or ".pdf",
            version=f"{doc.get('fileSize', '')}|{published}", meta=meta)

    def _pages(self, path: str, key: str, params: dict | None = None):
        offset = 0
        while True:
            url = f"{self.base}/api/v2{path}"
            body = self.http.get_json(url, {**(params or {}), "limit": self.page_size, "offset": offset})
            if not isinstance(body, dict) or body.get("status") != "OK":
                messages = "; ".join(body.get("messages", [])) if isinstance(body, dict) else "geen envelop"
                raise SourceError(f"GO {url}: foutmelding van de server: {messages or body}")
            result = body.get("result") or {}
            rows = result.get(key) or []
            yield from rows
            offset += len(rows)
            if not rows or offset >= int(result.get("totalCount", offset)):
                return


def _meeting_label(meeting: dict) -> str:
    dmu = (meeting.get("dmu") or {}).get("name") or meeting.get("description") or "Vergadering"
    return f"{dmu} {iso_date(meeting.get('date'))}".strip()
