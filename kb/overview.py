"""Overview: per programme line, what the province did, as a dated list with a source per item.

Generated from the index, not written by hand: every sentence of a passage tagged with the line
that names a moment ("op 8 oktober 2021", "in maart 2022", "begin 2020", "in de periode
2020 – 2022") becomes an item, quoted verbatim and cited with its document, section and page.
A bare year is not enough ("Sportnota 2019-2023" names a document, not a moment): it must
follow a word of time (in, sinds, vanaf, eind, najaar, periode, a month...). Items are sorted
by date and typed by their words: besluit (vastgesteld, aangenomen...), resultaat (bereikt,
deelnemers...), voornemen (dated after the document itself) or activiteit.

    >>> items = dated_items(Hit("d#0", "Op 8 oktober 2021 vond de aftrap plaats.", {"doc_id": "d", "year": 2023}))
    >>> items[0].date, items[0].kind
    ('8 oktober 2021', 'activiteit')
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from kb.answer import body_start
from kb.retrieve import Hit
from kb.sentences import collapse, sentence_spans
from kb.tag import ProgrammeLine

MONTHS = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
          "november", "december"]
_MONTH = "|".join(MONTHS)
_MOMENT = re.compile(
    rf"\b(?:(?P<day>\d{{1,2}})\s+(?P<month>{_MONTH})\s+(?P<year>20\d\d)"
    rf"|(?P<month2>{_MONTH})\s+(?:van\s+)?(?P<year2>20\d\d)"
    rf"|(?P<season>begin|eind|medio|voorjaar|najaar|zomer|winter)\s+(?P<year3>20\d\d)"
    rf"|(?:periode|van)\s+(?P<from>20\d\d)\s*(?:[-–]|t/m|tot(?: en met)?)\s*(?P<to>20\d\d)"
    rf"|(?:in|sinds|vanaf|per|tot|sinds begin|in het jaar)\s+(?P<year4>20\d\d)(?![-–/]?\d))",
    re.IGNORECASE)
KINDS = [
    ("besluit", re.compile(r"\b(besl\w+|vastgesteld\w*|vast te stellen|ingestemd|aangenomen|motie|amendement|"
                           r"ondertekend|toegekend|verleend|bekrachtigd)\b", re.IGNORECASE)),
    ("resultaat", re.compile(r"\b(bereikt|resultaat|resultaten|gerealiseerd|opgeleverd|deelnemers|deelgenomen|"
                             r"opgeleid|gestegen|gedaald|afgerond)\b", re.IGNORECASE)),
]
SEASON_MONTH = {"begin": 1, "voorjaar": 4, "medio": 6, "zomer": 7, "najaar": 10, "eind": 12, "winter": 12}
FUTURE = re.compile(r"\b(zal|zullen|wordt .{0,40}opgeleverd)\b", re.IGNORECASE)
MAX_SENTENCE = 500  # characters; longer "sentences" are tables or lists run together
MIN_WORDS = 4  # besides the date: "- november 2017" on a slide says what, not when
MAX_ITEMS = 40  # per programme line: the most recent ones, so a large index keeps a readable page


@dataclass
class OverviewItem:
    date: str  # as the document writes it: "8 oktober 2021", "maart 2022", "2020–2022"
    sort_key: tuple[int, int, int]
    kind: str
    text: str
    citation: dict

    @property
    def year(self) -> int:
        return self.sort_key[0]


@dataclass
class LineOverview:
    id: str
    name: str
    description: str
    items: list[OverviewItem] = field(default_factory=list)

    def per_year(self) -> dict[int, int]:
        return dict(sorted(Counter(item.year for item in self.items).items()))

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "description": self.description, "per_year": self.per_year(),
                "items": [{**asdict(item), "year": item.year} for item in self.items]}


def build_overview(rows: list[dict], lines: list[ProgrammeLine]) -> list[LineOverview]:
    """One LineOverview per programme line (in the file's order), from the index's chunk rows."""
    # Each chunk is read once, however many lines it is tagged with.
    per_row = {row["id"]: dated_items(Hit.from_row(row)) for row in rows
               if any(row.get(f"pl_{line.id}") == 1 for line in lines)}
    overviews = []
    for line in lines:
        others = [other.name.lower() for other in lines if other.id != line.id and other.name]
        items: list[OverviewItem] = []
        for row in rows:
            if row.get(f"pl_{line.id}") != 1:
                continue
            for item in per_row[row["id"]]:
                if _about_another_line(item.text, line.name, others) or any(_same(item, i) for i in items):
                    continue
                items.append(item)
        items.sort(key=lambda i: (i.sort_key, i.citation["doc_id"]))
        overviews.append(LineOverview(line.id, line.name, line.description, items[-MAX_ITEMS:]))
    return overviews


def _about_another_line(sentence: str, name: str, others: list[str]) -> bool:
    """A sentence that names another programme line and not this one belongs to that line."""
    text = sentence.lower()
    return name.lower() not in text and any(other in text for other in others)


def _same(a: OverviewItem, b: OverviewItem) -> bool:
    """The same event told twice (a summary and its chapter): same date, mostly the same words."""
    if a.date != b.date:
        return False
    wa, wb = set(re.findall(r"\w{4,}", a.text.lower())), set(re.findall(r"\w{4,}", b.text.lower()))
    return len(wa & wb) >= 0.6 * min(len(wa), len(wb))


def dated_items(hit: Hit) -> list[OverviewItem]:
    if not _MOMENT.search(hit.text):  # most passages name no moment: skip them before splitting sentences
        return []
    items = []
    for start, end in sentence_spans(hit.text, body_start(hit)):
        sentence = collapse(hit.text[start:end])
        match = _MOMENT.search(sentence)
        if (not match or len(sentence) > MAX_SENTENCE or "http" in sentence or "www." in sentence
                or sentence.endswith(":")  # a lead-in whose list is not in the sentence
                or len(re.findall(r"\w{2,}", _MOMENT.sub(" ", sentence))) < MIN_WORDS):
            continue
        label, key = _date(match)
        citation = {**hit.cite(start), "quote": sentence}
        items.append(OverviewItem(label, key, _kind(sentence, key[0], hit.meta.get("year") or 0), sentence, citation))
    return items


def _date(match: re.Match) -> tuple[str, tuple[int, int, int]]:
    g = match.groupdict()
    if g["day"]:
        month = MONTHS.index(g["month"].lower()) + 1
        return f"{int(g['day'])} {g['month'].lower()} {g['year']}", (int(g["year"]), month, int(g["day"]))
    if g["month2"]:
        return f"{g['month2'].lower()} {g['year2']}", (int(g["year2"]), MONTHS.index(g["month2"].lower()) + 1, 0)
    if g["season"]:
        return f"{g['season'].lower()} {g['year3']}", (int(g["year3"]), SEASON_MONTH[g["season"].lower()], 0)
    if g["from"]:
        return f"{g['from']}–{g['to']}", (int(g["from"]), 0, 0)
    return g["year4"], (int(g["year4"]), 0, 0)


def _kind(sentence: str, year: int, document_year: int) -> str:
    if FUTURE.search(sentence) or (document_year and year > document_year):
        return "voornemen"
    for kind, pattern in KINDS:
        if pattern.search(sentence):
            return kind
    return "activiteit"
