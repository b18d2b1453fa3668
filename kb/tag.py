"""Tag: the programme line(s) of every chunk, from document structure first, else by synonyms.

The lines live in `kb/data/programme_lines.toml` (name, description, synonyms).

    >>> tagger = ProgrammeLineTagger(load_programme_lines(path))
    >>> tagger.tag("3 Arbeidsmarkt & participatie > 3.2 Netwerk en rol", "…")
    ['arbeidsmarkt-participatie']
"""
from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kb.lexical import analyze

GENERAL = "algemeen"


@dataclass(frozen=True)
class ProgrammeLine:
    id: str
    name: str
    description: str
    synonyms: tuple[str, ...]


def load_programme_lines(path: Path) -> list[ProgrammeLine]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    lines = [ProgrammeLine(l["id"], l["name"], l.get("description", ""), tuple(l.get("synonyms", [])))
             for l in data.get("line", [])]
    ids = [l.id for l in lines]
    if len(set(ids)) != len(ids) or GENERAL not in ids:
        raise ValueError(f"{path}: programme line ids must be unique and include '{GENERAL}'")
    return lines


class ProgrammeLineTagger:
    def __init__(self, lines: list[ProgrammeLine], min_hits: int = 2):
        self.lines = lines
        self.min_hits = min_hits
        self._names = {_norm(l.name): l.id for l in lines if l.id != GENERAL}
        self._phrases = [(l.id, tuple(analyze(s))) for l in lines for s in (l.name, *l.synonyms) if analyze(s)]

    def tag(self, section: str, text: str) -> list[str]:
        headings = (_norm(re.sub(r"^[\d.]+\s*", "", part)) for part in section.split(" > "))
        structural = [self._names[h] for h in headings if h in self._names]
        if structural:
            return sorted(set(structural))
        tokens = analyze(f"{section} {text}")
        hits = Counter()
        for line_id, phrase in self._phrases:
            n = len(phrase)
            hits[line_id] += sum(tuple(tokens[i:i + n]) == phrase for i in range(len(tokens) - n + 1))
        best = max(hits.values(), default=0)
        chosen = [l for l, n in hits.items() if n >= self.min_hits and n >= best / 2]
        return sorted(chosen) or [GENERAL]


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower().replace("&", " en ")).strip()
