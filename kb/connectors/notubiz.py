"""Notubiz: events -> meetings (documents, nested agenda items), and the motions module with its vote outcome.

Flevoland is organisation 2163, Almere 952. Every call carries `format=json&version=...`. Files are
`{base}/document/{id}/{version}`; events that are not public are skipped. The motions module
("Moties en Amendementen") gives per motion the submitting parties ("Indienende partij") and the
outcome ("Stemming"), which become filters and appear in citations.

    [[source]]
    name = "flevoland-notubiz"
    type = "notubiz"
    base_url = "https://api.notubiz.nl"
    organisation_id = 2163
    motions = true
"""
from __future__ import annotations

from datetime import date

from kb.connectors.base import RemoteDocument, Source, SourceError, doc_type_of, iso_date, required
from kb.decisions import normalise_outcome, parties_in

API_VERSION = "1.17.0"
FAR_PAST, FAR_FUTURE = "2000-01-01 00:00:00", "2100-01-01 00:00:00"


class NotubizSource(Source):
    type = "notubiz"

    def configure(self, **options) -> None:
        self.base = required(self.name, options, "base_url")
        self.organisation = required(self.name, options, "organisation_id")
        self.motions = bool(options.pop("motions", True))
        super().configure(**options)

    def list(self, since: date | None = None):
        start = f"{since.isoformat()} 00:00:00" if since else FAR_PAST
        for event in self._events(start):
            yield from self._meeting_documents(event["id"])
        if self.motions:
            yield from self._motions(start)

    def _get(self, path: str, **params):
        return self.http.get_json(f"{self.base}{path}", {**params, "format": "json", "version": API_VERSION})

    def _events(self, start: str):
        page = 1
        while True:
            body = self._get("/events", organisation_id=self.organisation, date_from=start, date_to=FAR_FUTURE,
                             page=page)
            for event in body.get("events", []):
                if event.get("permission_group", "public") == "public" and not event.get("confidential"):
                    yield event
            if not (body.get("pagination") or {}).get("has_more_pages"):
                return
            page += 1

    def _meeting_documents(self, meeting_id):
        body = self._get(f"/events/meetings/{meeting_id}")
        meeting = body.get("meeting", body)  # the API wraps it; recorded dumps may not
        if meeting.get("permission_group", "public") != "public" or meeting.get("confidential"):
            return
        day = iso_date((meeting.get("plannings") or [{}])[0].get("start_date"))
        context = {"meeting": f"{_attribute(meeting, 'Titel', 1) or 'Vergadering'} {day}".strip(), "meeting_date": day}
        for doc in meeting.get("documents", []):
            yield self._document(doc, context)
        for item, label in _agenda_items(meeting.get("agenda_items", [])):
            for doc in item.get("documents", []):
                yield self._document(doc, {**context, "agenda_item": label})

    def _document(self, doc: dict, context: dict) -> RemoteDocument:
        version = int(doc.get("version") or 1)
        files = {v.get("id"): v for v in doc.get("versions", [])}
        file_name = (files.get(version) or {}).get("file_name") or ""
        types = " ".join(t.get("value", "") for t in doc.get("types", []))
        return RemoteDocument(
            native_id=str(doc["id"]), url=f"{self.base}/document/{doc['id']}/{version}", title=doc.get("title") or file_name,
            doc_type=doc_type_of(types, doc.get("title", ""), file_name),
            date=iso_date(doc.get("publication_date")) or context["meeting_date"],
            suffix="." + (file_name.rsplit(".", 1)[-1].lower() if "." in file_name else "pdf"),
            version=f"{version}|{doc.get('last_modified', '')}", meta=dict(context))

    def _motions(self, start: str):
        modules = self._get(f"/organisations/{self.organisation}/modules").get("modules", [])
        module = next((m for m in modules if "motie" in f"{m.get('name')} {m.get('custom_name')}".lower()), None)
        if module is None:
            raise SourceError(f"Notubiz {self.organisation}: geen module 'Moties' gevonden")
        body = self._get(f"/organisations/{self.organisation}/modules/{module['id']}/items",
                         date_from=start, date_to=FAR_FUTURE)
        for item in body.get("items", []):
            if remote := _motion(item, self.base):
                yield remote


def _motion(item: dict, base: str) -> RemoteDocument | None:
    fields = {a.get("label"): a.get("values") or [] for a in item.get("attributes", [])}
    text = lambda label: " ".join(str(v.get("content", "")) for v in fields.get(label, []) if "content" in v).strip()
    main = next((v["document"] for v in fields.get("Hoofddocument", []) if v.get("document")), None)
    if not main:
        return None  # a motion without its text has nothing to index
    kind = doc_type_of(text("Type")) if text("Type") else "motie"
    meta = {"parties": ",".join(parties_in(text("Indienende partij"))), "outcome": normalise_outcome(text("Stemming")),
            "agenda_item": text("Ingediend in")}
    doc_id = str(main.get("id") or item["id"])
    return RemoteDocument(native_id=f"motie-{item['id']}", url=f"{base}/document/{doc_id}/{main.get('version', 1)}",
                          title=text("Titel") or main.get("title", ""), doc_type=kind, date=iso_date(text("Datum")),
                          version=str(item.get("last_modified", "")), meta={k: v for k, v in meta.items() if v})


def _agenda_items(items: list, prefix: str = ""):
    """(item, "3. Title") for every agenda item at any depth; headings give their title to their children."""
    for item in items:
        data = item.get("type_data") or {}
        title = f"{data.get('title_prefix') or ''} {_attribute(data, 'Titel', 1)}".strip()
        yield item, title or prefix
        yield from _agenda_items(item.get("agenda_items", []), title or prefix)


def _attribute(obj: dict, label: str, attribute_id: int) -> str:
    """An attribute by label (ORI's mapped dict) or by id (the raw API's list of {id, value})."""
    attributes = obj.get("attributes")
    if isinstance(attributes, dict):
        return str(attributes.get(label) or "")
    for attribute in attributes or []:
        if attribute.get("id") == attribute_id:
            return str(attribute.get("value") or "")
    return ""
