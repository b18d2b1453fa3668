"""Connectors: list and download documents from council-information systems and official publications.

One module per system, each a `Source` whose `list(since)` yields `RemoteDocument`s (metadata only) and
whose `fetch(doc)` returns the file's bytes. `kb.sync` drives them; `SOURCE_TYPES` maps the `type` of a
`[[source]]` table in the sync configuration to its class.
"""
from kb.connectors.base import RemoteDocument, Source, SourceError
from kb.connectors.go import GoSource
from kb.connectors.koop import KoopSource
from kb.connectors.notubiz import NotubizSource
from kb.connectors.ori import OriSource
from kb.connectors.web import FolderSource, UrlListSource

SOURCE_TYPES: dict[str, type[Source]] = {
    cls.type: cls for cls in (GoSource, NotubizSource, OriSource, KoopSource, FolderSource, UrlListSource)}

__all__ = ["RemoteDocument", "Source", "SourceError", "SOURCE_TYPES"]
