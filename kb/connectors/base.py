"""What every connector yields, the base class they share, and metadata helpers (document types, DOCUVITP numbers)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from kb.connectors.http import Http


class SourceError(Exception):
    """A listing that cannot be read (bad configuration, an error envelope); the message is Dutch."""


@dataclass
class RemoteDocument:
    """One file a source lists: where it is, what it is, and a marker that changes when the file does."""

    native_id: str  # the id in the source system, unique within the source
    url: str  # where the file is downloaded from
    title: str
    doc_type: str = "onbekend"
    date: str = ""  # ISO date (YYYY-MM-DD)
    suffix: str = ".pdf"  # the file type the download must be
    version: str = ""  # changes when the file does (version number, last-modified, size); "" = unknown
    meta: dict = field(default_factory=dict)  # meeting, agenda_item, parties, outcome, original_url, ...

    def origin(self, source: str) -> dict:
        """Where this file was found: one entry of a document's `origins` (a file may hang under several items)."""
        keys = ("meeting", "meeting_date", "agenda_item", "original_url")
        return {"source": source, "id": self.native_id, "url": self.meta.get("original_url") or self.url,
                **{k: self.meta[k] for k in keys if self.meta.get(k)}}


class Source:
    """Base class: `list()` yields metadata, `fetch()` the bytes. Subclasses set `type` and read their options."""

    type = ""

    def __init__(self, name: str, http: Http, **options):
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name or ""):
            raise ValueError(f"bronnaam '{name}': gebruik kleine letters, cijfers, '-' en '_'")
        self.name, self.http = name, http
        self.configure(**options)

    def configure(self, **options) -> None:
        if options:
            raise ValueError(f"bron '{self.name}' ({self.type}): onbekende instelling(en) {', '.join(sorted(options))}")

    def list(self, since: date | None = None):
        raise NotImplementedError

    def fetch(self, doc: RemoteDocument) -> bytes:
        return self.http.get_file(doc.url, doc.suffix)


def required(name: str, options: dict, key: str) -> str:
    value = options.pop(key, None)
    if not value:
        raise ValueError(f"bron '{name}': instelling '{key}' ontbreekt")
    return str(value).rstrip("/")


# Longest first: "statenvoorstel" before "voorstel". Normalised names as kb stats lists them.
DOC_TYPES = [
    ("besluitenlijst", "besluitenlijst"), ("uitslagenlijst", "besluitenlijst"), ("statenvoorstel", "statenvoorstel"),
    ("raadsvoorstel", "raadsvoorstel"), ("initiatiefvoorstel", "initiatiefvoorstel"), ("amendement", "amendement"),
    ("motie", "motie"), ("mededeling", "mededeling"), ("statenbrief", "brief"), ("raadsinformatiebrief", "brief"),
    ("coalitieakkoord", "coalitieakkoord"), ("bestuursakkoord", "coalitieakkoord"), ("programmaplan", "programmaplan"),
    ("uitvoeringsprogramma", "programmaplan"), ("voortgangsrapportage", "voortgangsrapportage"),
    ("provinciaal blad", "provinciaal blad"), ("ingekomen stukken", "lijst ingekomen stukken"),
    ("rekenkamer", "rekenkamerrapport"), ("begroting", "begroting"), ("jaarstukken", "jaarstukken"),
    ("agenda", "agenda"), ("notitie", "notitie"), ("besluit", "besluit"), ("brief", "brief"),
]


def doc_type_of(*labels: str) -> str:
    """The normalised document type named in a type label, title or file name ('onbekend' if none)."""
    for label in labels:
        text = re.sub(r"[-_]+", " ", (label or "").lower())
        for word, doc_type in DOC_TYPES:
            if word in text:
                return doc_type
    return "onbekend"


DOCUVITP = re.compile(r"DOCUVITP-(\d+)-v(\d+)", re.IGNORECASE)


def docuvitp(*names: str) -> tuple[str, int] | None:
    """(document number, version) from a DOCUVITP file name or URL, e.g. 'DOCUVITP-2776401-v4-Mededeling-...'."""
    for name in names:
        if match := DOCUVITP.search(name or ""):
            return match.group(1), int(match.group(2))
    return None


def iso_date(value) -> str:
    """'2018-07-05 00:00:00.000000', '2021-03-10T19:00:00+01:00', {'date': ...} -> '2018-07-05'."""
    if isinstance(value, dict):
        value = value.get("date", "")
    match = re.match(r"(\d{4}-\d{2}-\d{2})", str(value or ""))
    return match.group(1) if match else ""
