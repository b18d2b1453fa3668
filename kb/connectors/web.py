"""Plain sources: a folder (e.g. a share where coalition agreements are dropped) or a list of URLs of PDFs.

    [[source]]
    name = "akkoorden"
    type = "urls"
    documents = [
      { url = "https://www.flevoland.nl/.../coalitieakkoord-2023-2027.pdf", title = "Coalitieakkoord 2023-2027",
        doc_type = "coalitieakkoord", date = "2023-06-01" },
    ]

    [[source]]
    name = "gedeelde-map"
    type = "folder"
    path = "/srv/kb/documenten"
"""
from __future__ import annotations

from datetime import date
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit
from urllib.request import url2pathname

from kb.connectors.base import RemoteDocument, Source, doc_type_of, docuvitp, required
from kb.sources import discover


class UrlListSource(Source):
    type = "urls"

    def configure(self, **options) -> None:
        self.documents = options.pop("documents", None) or []
        if not all(isinstance(d, dict) and d.get("url") for d in self.documents):
            raise ValueError(f"bron '{self.name}': 'documents' moet een lijst van tabellen met een 'url' zijn")
        super().configure(**options)

    def list(self, since: date | None = None):
        for entry in self.documents:
            url = entry["url"]
            name = PurePosixPath(urlsplit(url).path).name
            meta = {k: v for k, v in entry.items() if k in ("programme_lines", "period", "parties", "outcome")}
            if number := docuvitp(name):
                meta["docuvitp"], meta["docuvitp_version"] = number
            yield RemoteDocument(native_id=url, url=url, title=entry.get("title") or PurePosixPath(name).stem,
                                 doc_type=entry.get("doc_type") or doc_type_of(name), date=str(entry.get("date", "")),
                                 suffix=PurePosixPath(name).suffix.lower() or ".pdf", version=str(entry.get("version", "")),
                                 meta=meta)


class FolderSource(Source):
    type = "folder"

    def configure(self, **options) -> None:
        self.path = Path(required(self.name, options, "path"))
        super().configure(**options)

    def list(self, since: date | None = None):
        for found in discover([self.path]).files:
            stat = found.path.stat()
            meta = {k: v for k, v in found.meta.items() if k not in ("title", "doc_type", "date")}
            yield RemoteDocument(native_id=found.doc_id, url=found.path.resolve().as_uri(),
                                 title=found.meta.get("title") or found.path.stem,
                                 doc_type=found.meta.get("doc_type") or doc_type_of(found.path.name),
                                 date=str(found.meta.get("date", "")), suffix=found.path.suffix.lower(),
                                 version=f"{stat.st_size}|{stat.st_mtime_ns}", meta=meta)

    def fetch(self, doc: RemoteDocument) -> bytes:
        return Path(url2pathname(urlsplit(doc.url).path)).read_bytes()
