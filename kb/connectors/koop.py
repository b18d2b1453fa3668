"""KOOP SRU (repository.overheid.nl/sru): the Provinciaal blad of a province, text from the XML manifestation.

SRU answers an invalid query with HTTP 200 and `<diagnostics>`; that is an error here. Records are
paged with `startRecord`/`nextRecordPosition` (SRU 2.0). Element names are matched without their
namespace, so the namespaced responses and namespace-stripped recordings read alike.

    [[source]]
    name = "flevoland-prb"
    type = "koop"
    base_url = "https://repository.overheid.nl/sru"
    creator = "Flevoland"
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from kb.connectors.base import RemoteDocument, Source, SourceError, iso_date, required

PAGE = 100
BLOCKS = {"titel", "al", "li", "tussenkop", "kop", "regel"}  # elements whose text is a paragraph of its own


class KoopSource(Source):
    type = "koop"

    def configure(self, **options) -> None:
        self.base = required(self.name, options, "base_url")
        self.creator = required(self.name, options, "creator")
        self.publication = options.pop("publication", "Provinciaal blad")
        self.page_size = int(options.pop("page_size", PAGE))
        super().configure(**options)

    def query(self, since: date | None) -> str:
        cql = (f'c.product-area=="officielepublicaties" and w.publicatienaam=="{self.publication}" '
               f'and dt.creator="{self.creator}"')
        return cql + (f' and dt.available>="{since.isoformat()}"' if since else "")

    def list(self, since: date | None = None):
        start = 1
        while start:
            params = {"operation": "searchRetrieve", "version": "2.0", "query": self.query(since),
                      "startRecord": start, "maximumRecords": self.page_size, "recordSchema": "gzd"}
            root = _parse(self.http.get(self.base, params).content, self.base)
            if (diagnostic := _first(root, "diagnostic")) is not None:
                message = " ".join(t.strip() for t in diagnostic.itertext() if t.strip())
                raise SourceError(f"SRU {self.base}: de zoekvraag werd geweigerd: {message}")
            for record in _all(root, "record"):
                if remote := _document(record):
                    yield remote
            following = _text(root, "nextRecordPosition")
            start = int(following) if following.isdigit() else 0

    def fetch(self, doc: RemoteDocument) -> bytes:
        root = _parse(self.http.get(doc.url).content, doc.url)
        body = next((e for e in map(lambda n: _first(root, n), ("provinciaalblad", "gemeenteblad")) if e is not None),
                    root)
        paragraphs = [" ".join("".join(e.itertext()).split()) for e in body.iter() if _local(e.tag) in BLOCKS
                      and not any(_local(c.tag) in BLOCKS for c in e)]  # innermost blocks only: no text twice
        text = "\n\n".join(p for p in paragraphs if p)
        if not text:
            raise SourceError(f"{doc.native_id}: de XML bevat geen tekst ({doc.url})")
        return text.encode("utf-8")


def _document(record) -> RemoteDocument | None:
    identifier = _text(record, "identifier")
    xml_url = next((e.text or "" for e in _all(record, "itemUrl") if e.get("manifestation") == "xml"), "")
    if not (identifier and xml_url):
        return None
    meta = {"original_url": _text(record, "preferredUrl"), "publication": _text(record, "publicatienaam")}
    return RemoteDocument(
        native_id=identifier, url=xml_url.strip(), title=_text(record, "title") or identifier,
        doc_type="provinciaal blad" if identifier.startswith("prb-") else "officiële publicatie",
        date=iso_date(_text(record, "date") or _text(record, "available")), suffix=".txt",
        version=_text(record, "modified"), meta={k: v for k, v in meta.items() if v})


def _parse(data: bytes, url: str):
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise SourceError(f"geen geldige XML van {url}: {exc}") from exc


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _all(root, name: str):
    return [e for e in root.iter() if _local(e.tag) == name]


def _first(root, name: str):
    return next((e for e in root.iter() if _local(e.tag) == name), None)


def _text(root, name: str) -> str:
    element = _first(root, name)
    return (element.text or "").strip() if element is not None else ""
