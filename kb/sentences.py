"""Dutch sentence boundaries, as character spans, without breaking on abbreviations.

Does not split on "o.a.", "m.b.t.", "t.a.v.", "d.d.", "nr.", "art.", "e.e.a.", "i.v.m.",
initials ("E.M. Krijns"), amounts ("€ 1.234.567,00") or dates ("24-06-2020"); does split
before a list bullet and at a blank line.

    >>> [text[a:b] for a, b in sentence_spans(text := "Zie o.a. art. 3. Dat is alles.")]
    ['Zie o.a. art. 3.', 'Dat is alles.']
"""
from __future__ import annotations

import re

ABBREVIATIONS = {
    "o.a", "m.b.t", "t.a.v", "d.d", "nr", "nrs", "art", "e.e.a", "i.v.m", "bijv", "bv", "b.v", "enz", "etc",
    "ca", "c.a", "incl", "excl", "t/m", "dhr", "mevr", "mw", "drs", "dr", "prof", "ir", "ing", "mr", "jl",
    "vs", "resp", "evt", "vgl", "zgn", "z.g.n", "m.n", "o.m", "i.c", "a.s", "j.l", "blz", "pag", "fig", "e.d",
    "t.o.v", "mln", "mld", "min", "max", "gem", "n.a.v", "i.p.v", "i.s.m", "m.u.v", "p.p", "w.o", "ivm",
    "aanw", "afd", "adj", "st", "sr", "jr", "tel", "no", "vz", "z.s.m", "a.u.b", "d.w.z", "o.b.v", "e.a",
}
BULLET = r"[•●▪◦\-–*]"
# A boundary candidate: end punctuation, optional closing quote/bracket, whitespace, then a sentence start.
_END = re.compile(r"([.!?…]+)([\"'”’)\]]*)(\s+)(?=[\"'“‘(\[]?[A-Z0-9ÀÁÂÄÈÉÊËÌÍÎÏÒÓÔÖÙÚÛÜŸ€•●▪◦–-])")
_BLANK_OR_BULLET = re.compile(rf"\n[ \t]*\n(?=\s*[^\sa-zà-ÿ(,;])|\n(?=[ \t]*{BULLET}[ \t])|\n(?=[ \t]*\d{{1,2}}\.[ \t])")


def collapse(text: str) -> str:
    """Runs of whitespace to one space, as citations and gold strings are compared."""
    return re.sub(r"\s+", " ", text).strip()


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets) in text[start:end], trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    cuts = {start, end}
    segment = text[start:end]
    for m in _BLANK_OR_BULLET.finditer(segment):
        cuts.add(start + m.start())
    for m in _END.finditer(segment):
        if m.group(1) == "." and _is_abbreviation(segment, m.start()):
            continue
        cuts.add(start + m.end(2))
    spans = []
    points = sorted(cuts)
    for a, b in zip(points, points[1:]):
        a, b = _trim(text, a, b)
        if b > a:
            spans.append((a, b))
    return spans


_INITIALS = re.compile(r"([a-z]\.)*[a-z]")


def _is_abbreviation(text: str, dot: int) -> bool:
    start = dot  # the word before the dot, found without copying the text before it
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    if start == dot:
        return False
    token = text[start:dot].lstrip("(\"'“‘").lower()
    return token in ABBREVIATIONS or bool(_INITIALS.fullmatch(token)) and len(token) <= 5


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


MIN_UNIT_CHARS = 15  # shorter pieces (a bullet's label, a page number) say too little to embed on their own


def sentence_units(text: str) -> list[str]:
    """The sentences of a passage as the sentence leg embeds them (kb.embed.SentenceVectors):
    whitespace collapsed, fragments under 15 characters left out."""
    units = (collapse(text[a:b]) for a, b in sentence_spans(text))
    return [u for u in units if len(u) >= MIN_UNIT_CHARS]
