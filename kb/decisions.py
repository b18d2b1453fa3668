"""Decisions: what Provinciale Staten (or a council) decided, on which motion or amendment, by whom, with what outcome.

Two places hold them. A besluitenlijst (list of decisions) says per agenda item "De raad/Staten
besluit(en) unaniem | in meerderheid: ..." with the votes per party; a motions registry (Notubiz's
"Moties" module) gives the submitting parties and the outcome of each motion as fields. Outcomes are
normalised to aangenomen / verworpen / ingetrokken / aangehouden / overig.

    >>> [d.outcome for d in parse_besluitenlijst(text)]
    ['aangenomen', 'aangenomen', 'aangehouden', ...]
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

OUTCOMES = ("aangenomen", "verworpen", "ingetrokken", "aangehouden", "overig")

# National parties plus local lists seen in the sources; longest match first, so "GroenLinks-PvdA"
# is one party and "Partij voor de Dieren" is not read as "PvdA". Extend per body as needed.
PARTIES = sorted([
    "GroenLinks-PvdA", "GroenLinks", "PvdA", "ChristenUnie", "Partij voor de Dieren", "PvdD", "50PLUS", "D66", "SP",
    "SGP", "CDA", "VVD", "PVV", "FvD", "Forum voor Democratie", "JA21", "BBB", "BoerBurgerBeweging", "Volt",
    "DENK", "Water Natuurlijk", "Stadspartij Den Helder", "Behoorlijk Bestuur", "Helder Onafhankelijk!",
    "Vrije Socialisten", "Fractie Vermooten", "Vermooten", "Leefbaar Almere", "Lelystad Transparant",
], key=len, reverse=True)
ALIASES = {"PvdD": "Partij voor de Dieren", "Forum voor Democratie": "FvD", "BoerBurgerBeweging": "BBB",
           "Vermooten": "Fractie Vermooten"}


@dataclass
class Decision:
    number: str  # agenda item number in the list
    agenda_item: str  # its title
    kind: str  # besluit | motie | amendement
    outcome: str  # one of OUTCOMES
    text: str  # the decision as the list words it (verbatim, for the citation)
    start: int  # character offsets of `text` in the document text
    end: int
    vote: str = ""  # unaniem | in meerderheid | bij acclamatie | hoofdelijk (16 voor, 14 tegen)
    reference: str = ""  # amendment/motion number, e.g. "A8.1"
    submitters: list[str] = field(default_factory=list)
    in_favour: list[str] = field(default_factory=list)
    against: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def normalise_outcome(value: str) -> str:
    """'Motie verworpen', 'Aangenomen', 'adopted', 'te aanvaarden' -> one of OUTCOMES ('' when empty)."""
    text = (value or "").lower()
    if not text.strip():
        return ""
    for words, outcome in ((("verworpen", "rejected", "te verwerpen"), "verworpen"),
                           (("ingetrokken", "withdrawn"), "ingetrokken"), (("aangehouden", "aan te houden"), "aangehouden"),
                           (("aangenomen", "adopted", "aanvaard", "te aanvaarden"), "aangenomen")):
        if any(w in text for w in words):
            return outcome
    return "overig"


def parties_in(text: str) -> list[str]:
    """The parties named in `text`, longest name first, each once, in order of appearance."""
    found, taken = [], [False] * len(text or "")
    for party in PARTIES:
        for match in re.finditer(rf"(?<![\w-]){re.escape(party)}(?![\w-])", text or "", re.IGNORECASE):
            if not any(taken[match.start():match.end()]):
                taken[match.start():match.end()] = [True] * (match.end() - match.start())
                found.append((match.start(), ALIASES.get(party, party)))
    return list(dict.fromkeys(name for _, name in sorted(found)))


def canonical_party(name: str) -> str:
    """A party as the user typed it ('groenlinks', 'PvdD') -> its name in the lexicon; unknown names stay."""
    for party in PARTIES:
        if party.lower() == name.strip().lower():
            return ALIASES.get(party, party)
    return name.strip()


def party_key(name: str) -> str:
    """Metadata flag name for a party: 'GroenLinks-PvdA' -> 'party_groenlinks_pvda'."""
    return "party_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# "De raad besluit unaniem:", "Provinciale Staten besluiten in meerderheid (16 stemmen voor en 14 stemmen tegen)"
DECIDES = re.compile(r"(?:De raad|Provinciale Staten|Staten)\s+besluit(?:en)?\s+(unaniem|in meerderheid|bij acclamatie|"
                     r"met algemene stemmen)?\s*(\([^)]*\))?\s*:?", re.IGNORECASE)
AGAINST = re.compile(r"Tegen (?:het|de) (amendement|motie|voorstel)\w* stemden(?: de fracties? van)?:?\s*(.+?)(?:\n\s*\n|$)",
                     re.IGNORECASE | re.DOTALL)
IN_FAVOUR = re.compile(r"Voor (?:het|de) (amendement|motie|voorstel)\w* stemden(?: de fracties? van)?:?\s*(.+?)(?:\n\s*\n|$)",
                       re.IGNORECASE | re.DOTALL)
SUBMITS = re.compile(r"(De fracties? van .+?) dien(?:t|en) (?:een |het )?(amendement|motie)\s*(\(([^)]+)\))?",
                     re.IGNORECASE | re.DOTALL)
HOLDS = re.compile(r"besluit de fractie(?: van [^.]+?)?\s+(?:het|de)\s+(amendement|motie)\s+(aan\s+te\s+houden|in\s+te\s+trekken)",
                   re.IGNORECASE)
LATER_ITEM = re.compile(r"onder punt (\d{1,2})", re.IGNORECASE)


def parse_besluitenlijst(text: str) -> list[Decision]:
    """The decisions of a besluitenlijst, per agenda item, with outcome, vote and parties."""
    items = list(_agenda_items(text))
    # A motion announced under "Vaststelling agenda" and "toegevoegd onder punt 16" is decided at item 16.
    announced = {}
    for _, _, start, end in items:
        for match in SUBMITS.finditer(text, start, end):
            paragraph_end = text.find("\n\n", match.end(), end)
            if later := LATER_ITEM.search(text, match.end(), paragraph_end if paragraph_end > 0 else end):
                announced.setdefault(later.group(1), []).append(match)
    decisions = []
    for number, title, start, end in items:
        decisions.extend(_item_decisions(number, title, text[start:end], start, announced.get(number, [])))
    return decisions


def _agenda_items(text: str):
    """(number, title, body start, body end): items numbered 1, 2, 3... at line starts; nested lists
    ("1. De conclusies ...") inside an item are skipped because their number is not the next one."""
    heads, expected = [], 1
    for match in re.finditer(r"(?m)^\s*(\d{1,2})\.\s+(.+)$", text):
        if int(match.group(1)) == expected:
            heads.append(match)
            expected += 1
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        title_end = text.find("\n\n", head.start(2))
        title = " ".join(text[head.start(2):title_end if 0 < title_end < end else head.end()].split())
        yield head.group(1), _first_sentence(title), head.end(), end


def _first_sentence(title: str) -> str:
    match = re.match(r"(.+?\.)(?:\s+[A-Z]|$)", title)
    return (match.group(1) if match else title).rstrip(".")


def _item_decisions(number: str, title: str, body: str, offset: int, announced: list) -> list[Decision]:
    submitted = [(-1, m.group(2).lower(), m.group(4) or "", parties_in(m.group(1))) for m in announced]
    submitted += [(m.start(), m.group(2).lower(), m.group(4) or "", parties_in(m.group(1))) for m in SUBMITS.finditer(body)]
    out = []
    marks = list(DECIDES.finditer(body))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        span = body[mark.start():end]
        decided = span[:_paragraph_end(span, mark.end() - mark.start())]
        kind = _kind(decided, title)
        earlier = [s for s in submitted if s[0] < mark.start() and s[1] == kind]
        reference, submitters = (earlier[-1][2], earlier[-1][3]) if earlier else ("", [])
        against = _voters(AGAINST, span, kind)
        out.append(Decision(number=number, agenda_item=title, kind=kind, outcome=_outcome(decided),
                            text=" ".join(decided.split()), start=offset + mark.start(),
                            end=offset + mark.start() + len(decided.rstrip()), vote=_vote(mark),
                            reference=reference, submitters=submitters, in_favour=_voters(IN_FAVOUR, span, kind),
                            against=against))
    for hold in HOLDS.finditer(body):  # an amendment held back or withdrawn is decided without a vote
        kind = hold.group(1).lower()
        earlier = [s for s in submitted if s[0] < hold.start() and s[1] == kind]
        sentence_start = body.rfind("\n", 0, hold.start()) + 1
        sentence_end = body.find(".", hold.end()) + 1 or len(body)
        out.append(Decision(number=number, agenda_item=title, kind=kind,
                            outcome=normalise_outcome(" ".join(hold.group(2).split())), text=" ".join(body[sentence_start:sentence_end].split()),
                            start=offset + sentence_start, end=offset + sentence_end,
                            reference=earlier[-1][2] if earlier else "", submitters=earlier[-1][3] if earlier else []))
    return sorted(out, key=lambda d: d.start)


def _paragraph_end(span: str, after: int) -> int:
    """The decision's wording: up to the first blank line after its first line of content."""
    content = re.search(r"\S", span[after:])
    start = after + (content.start() if content else 0)
    blank = re.search(r"\n\s*\n", span[start:])
    return start + blank.start() if blank else len(span)


def _kind(decided: str, title: str) -> str:
    lead = decided[:200].lower()
    if "het amendement" in lead:
        return "amendement"
    if "de motie" in lead or title.lower().startswith("motie"):
        return "motie"
    return "besluit"


def _outcome(decided: str) -> str:
    lower = decided.lower()
    if re.search(r"\b(te verwerpen|niet aan te nemen|verworpen)\b", lower):
        return "verworpen"
    return "aangenomen"  # "De raad besluit ...: <what was decided>" records an adopted decision


def _vote(mark: re.Match) -> str:
    how = (mark.group(1) or "").lower()
    count = (mark.group(2) or "").strip("() ")
    return f"{how} ({count})" if how and count else how or count


def _voters(pattern: re.Pattern, span: str, kind: str) -> list[str]:
    wanted = {"besluit": "voorstel"}.get(kind, kind)
    for match in pattern.finditer(span):
        if match.group(1).lower().startswith(wanted):
            return parties_in(match.group(2))
    return []


def decisions_of(meta: dict, text: str) -> list[Decision]:
    """The decisions a document records: a besluitenlijst's items, or a motion's own outcome from its source."""
    if meta.get("doc_type") == "besluitenlijst":
        return parse_besluitenlijst(text)
    if meta.get("outcome"):
        parties = [p for p in (meta.get("parties") or "").split(",") if p]
        return [Decision(number="", agenda_item=meta.get("title", ""), kind=meta.get("doc_type") or "motie",
                         outcome=meta["outcome"], text=meta.get("title", ""), start=0, end=len(text),
                         submitters=parties)]
    return []


def decision_flags(meta: dict, decisions: list[Decision]) -> dict:
    """Chunk metadata for the decision filters: `outcome_<x>: 1` and `party_<x>: 1` (submitting parties)."""
    flags = {f"outcome_{d.outcome}": 1 for d in decisions if d.outcome}
    flags.update({party_key(p): 1 for d in decisions for p in d.submitters})
    return flags
