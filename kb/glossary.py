"""Query expansion for the lexical leg: abbreviations, synonyms, English words and other forms of names, from an
editable glossary.

BM25 only finds the words it is given. A question that says "wijkconciërges", "PS" or "loneliness"
misses passages that say "buurtconciërges", "Provinciale Staten" or "eenzaamheid". The glossary
(`kb/data/glossary.toml`) lists groups of interchangeable terms and English policy words with their
Dutch equivalent; `expand` turns a query into weighted stems: the query's own stems at weight 1,
a group's other terms at `SYNONYM_WEIGHT` (the user's own words still count most), an English
word's translation at weight 1 (the English word itself matches nothing in Dutch text), and for another form
of a name ("Almeerse", "Urker") the name at `SYNONYM_WEIGHT`, one way.

    >>> terms = Glossary.load().expand("Wat doen de wijkconciërges?")
    >>> terms["buurtconcierg"]
    0.5
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from kb.lexical import analyze

DEFAULT = Path(__file__).parent / "data" / "glossary.toml"
SYNONYM_WEIGHT = 0.5


@dataclass
class Glossary:
    groups: list[list[str]] = field(default_factory=list)
    english: dict[str, str] = field(default_factory=dict)
    forms: dict[str, str] = field(default_factory=dict)  # another form of a name -> the name

    @classmethod
    def load(cls, path: Path = DEFAULT) -> "Glossary":
        return _load(Path(path))

    def expand(self, query: str) -> dict[str, float]:
        """Stem -> weight for the lexical leg (a stem the query repeats counts again, as in BM25)."""
        weights: dict[str, float] = {}
        for stem in analyze(query):
            weights[stem] = weights.get(stem, 0.0) + 1.0
        stems = set(weights)
        for group in self._analyzed()[0]:
            if any(_mentions(query, stems, term, term_stems) for term, term_stems in group):
                for _, term_stems in group:
                    for stem in term_stems:
                        weights.setdefault(stem, SYNONYM_WEIGHT)
        lowered = query.lower()
        for pattern, _, name in self._analyzed()[2]:
            if pattern.search(lowered):
                for stem in name:
                    weights.setdefault(stem, SYNONYM_WEIGHT)
        for pattern, english, translation in self._analyzed()[1]:
            if pattern.search(lowered):
                for stem in english:  # the translation replaces the English word
                    if stem not in translation:
                        weights.pop(stem, None)
                for stem in translation:
                    weights[stem] = max(weights.get(stem, 0.0), 1.0)
        return weights

    def knows(self, stem: str) -> bool:
        """Whether `stem` is a stem of one of the glossary's terms, English words or forms of names."""
        if not hasattr(self, "_stems"):
            groups, english, forms = self._analyzed()
            self._stems = {s for group in groups for _, stems in group for s in stems}
            self._stems.update(s for _, stems, _ in english + forms for s in stems)
        return stem in self._stems

    def _analyzed(self):
        """The terms' stems and patterns, computed once (a query costs a millisecond, not ten)."""
        if not hasattr(self, "_cache"):
            groups = [[(term, analyze(term)) for term in group] for group in self.groups]
            english, forms = ([(re.compile(rf"\b{re.escape(e)}\b"), analyze(e), analyze(d)) for e, d in table.items()]
                              for table in (self.english, self.forms))
            self._cache = (groups, english, forms)
        return self._cache


def _mentions(query: str, stems: set[str], term: str, term_stems: list[str]) -> bool:
    """An abbreviation (all capitals) must occur as written: "WEL" is an abbreviation, "wel" a
    Dutch stop word. Other terms match when the query has every stem of the term."""
    if term.replace(" ", "").isupper():
        return re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", query) is not None
    return bool(term_stems) and all(s in stems for s in term_stems)


@lru_cache(maxsize=4)
def _load(path: Path) -> Glossary:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return Glossary([list(g["terms"]) for g in data.get("synonyms", [])],
                    {k.lower(): v for k, v in data.get("english", {}).items()},
                    {k.lower(): v for k, v in data.get("forms", {}).items()})
