"""Open Raadsinformatie / Open Stateninformatie: the document search over Elasticsearch (`osi_flevoland`).

Only documents (`@type: MediaObject`) are listed, newest discussed first, paged with `search_after`
(the scroll API is closed). The listing leaves the text out (a page of full texts can pass the
12 MB response cap); a document's text pages are fetched one document at a time and joined with form
feeds, so citations keep their page numbers.

    [[source]]
    name = "flevoland-ori"
    type = "ori"
    base_url = "https://api.openraadsinformatie.nl/v1/elastic"
    index = "osi_flevoland"
"""
from __future__ import annotations

from datetime import date

from kb.connectors.base import RemoteDocument, Source, SourceError, doc_type_of, docuvitp, iso_date, required

PAGE = 100


class OriSource(Source):
    type = "ori"

    def configure(self, **options) -> None:
        self.base = required(self.name, options, "base_url")
        self.index = required(self.name, options, "index")
        self.page_size = int(options.pop("page_size", PAGE))
        super().configure(**options)

    def list(self, since: date | None = None):
        filters = [{"term": {"@type": "MediaObject"}}]
        if since:
            filters.append({"range": {"last_discussed_at": {"gte": since.isoformat()}}})
        query = {"query": {"bool": {"filter": filters}}, "size": self.page_size,
                 "sort": [{"last_discussed_at": "desc"}, {"_id": "asc"}],
                 "_source": {"excludes": ["text", "md_text", "text_pages"]}}
        while True:
            body = self.http.get_json(f"{self.base}/{self.index}/_search", method="POST", json_body=query)
            if "error" in body:
                raise SourceError(f"ORI {self.index}: {body['error']}")
            hits = (body.get("hits") or {}).get("hits") or []
            for hit in hits:
                yield _document(hit, self.base, self.index)
            if len(hits) < self.page_size:
                return
            query["search_after"] = hits[-1]["sort"]

    def fetch(self, doc: RemoteDocument) -> bytes:
        body = self.http.get_json(doc.url)
        pages = (body.get("_source") or {}).get("text") or []
        if not any(p.strip() for p in pages):
            raise SourceError(f"ORI-document {doc.native_id} heeft geen tekst ({doc.url})")
        return "\f".join(pages).encode("utf-8")  # form feeds: kb.extract keeps the page numbers


def _document(hit: dict, base: str, index: str) -> RemoteDocument:
    src = hit.get("_source") or {}
    name = src.get("file_name") or ""
    meta = {"original_url": src.get("original_url") or "", "meeting_date": iso_date(src.get("last_discussed_at"))}
    if number := docuvitp(name, meta["original_url"]):
        meta["docuvitp"], meta["docuvitp_version"] = number
    return RemoteDocument(
        native_id=str(hit["_id"]), url=f"{base}/{index}/_doc/{hit['_id']}", title=src.get("name") or name,
        doc_type=doc_type_of(src.get("classification", "") if isinstance(src.get("classification"), str) else "",
                             src.get("name", ""), name),
        date=meta["meeting_date"] or iso_date(src.get("date_modified")), suffix=".txt",
        version=str(src.get("date_modified", "")), meta={k: v for k, v in meta.items() if v})
