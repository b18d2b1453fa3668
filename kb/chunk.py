"""Chunk: split a document along its own structure into passages that fit the encoder.

Headings come from Markdown (`## ...`), from numbered sections (`1.3.1 Regionale aanpak
Eenzaamheid`, accepted only where the number continues the outline, so numbered list items
are not mistaken for chapters) and from short title lines. A chunk never crosses a
heading, never cuts a sentence, keeps a list with its lead-in sentence, and stays within
`max_tokens` of the embedding model, counted on what is embedded (header included).

    >>> chunks = chunk_text(text, pages, title="Rapport", count_tokens=len_in_tokens)
    >>> chunks[0].section
    '3 Arbeidsmarkt & participatie > 3.2.1 Human Capital Agenda Zorg & Welzijn'
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from kb.extract import Extracted
from kb.sentences import BULLET, sentence_spans

TOP_LEVEL = re.compile(r"^(voorwoord|leeswijzer|inleiding|samenvatting vooraf|tot slot|slot|conclusies?|"
                       r"bijlagen?(\s+\d+)?|colofon|beschouwing)\.?$", re.I)
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})(\.?)[\t ]+(\S.*?)\s*$")
_MARKDOWN = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(rf"^\s*({BULLET}|\d{{1,2}}[.)]|[a-z][.)])[\t ]+")


@dataclass
class Chunk:
    start: int
    end: int
    text: str
    section: str
    page: int  # physical page of the chunk's start; 0 when the document has no pages
    page_label: str
    page_end: int
    # Pages that begin inside the chunk: (offset into the chunk's text, number, label), so a
    # citation can name the page of the sentence it quotes rather than the chunk's first page.
    page_breaks: list[tuple[int, int, str]]


@dataclass
class _Block:
    start: int
    end: int
    heading: tuple[int, str] | None = None  # (level, label) when this block is a heading
    section: str = ""
    is_list: bool = False


def chunk_text(doc: Extracted, title: str, count_tokens: Callable[[str], int],
               target_tokens: int = 300, max_tokens: int = 500) -> list[Chunk]:
    """Split `doc` into chunks; `count_tokens` measures text the way the embedding model does."""
    text = doc.text
    blocks = _sections(_blocks(text), text)
    chunks: list[Chunk] = []
    # Where the heading lines above the next text start: consecutive headings ("PARTICIPATIEROUTE 2022",
    # its subtitle, "Insteek van de route") all go with the text below the last one, none is dropped.
    pending_heading_start = None
    last_heading: _Block | None = None
    current: list[_Block] = []

    def opening(first_text: int) -> int:
        """Where a chunk whose text starts at `first_text` starts: at the headings above it, if any."""
        return first_text if pending_heading_start is None else pending_heading_start

    def close():
        nonlocal current, pending_heading_start
        if current:
            chunks.append(_make_chunk(doc, opening(current[0].start), current[-1].end, current[-1].section))
            current, pending_heading_start = [], None

    header_cost = 0
    for unit in _units(blocks, text):
        if unit.heading:
            close()
            if pending_heading_start is None:
                pending_heading_start = unit.start
            last_heading = unit
            continue
        header_cost = count_tokens(f"{title}\n{unit.section}\n\n")
        budget = max_tokens - header_cost - 4
        size = count_tokens(text[unit.start:unit.end])
        if size > budget:
            close()
            start, pending_heading_start = opening(unit.start), None  # the headings go into the first piece
            for a, b in _split_oversized(text, start, unit.end, count_tokens, min(target_tokens, budget), budget):
                chunks.append(_make_chunk(doc, a, b, unit.section))
            continue
        if current and (current[-1].section != unit.section or
                        count_tokens(text[opening(current[0].start):unit.end]) + header_cost > target_tokens):
            close()
        current.append(unit)
    close()
    if pending_heading_start is not None:  # headings with no text below them, at the end of the document
        chunks.append(_make_chunk(doc, pending_heading_start, last_heading.end, last_heading.section))
    return _merge_small(doc, chunks, title, count_tokens, max_tokens)


MIN_TOKENS = 50  # a passage this short (a heading with a lead-in, a short list) says too little on its own


def _merge_small(doc: Extracted, chunks: list[Chunk], title: str, count_tokens, max_tokens: int) -> list[Chunk]:
    """Merge each very short chunk with a neighbour, when the result fits: with the chunk after it when it
    introduces that one (it ends in ':' or the next chunk lies in the same section or one below it), else
    with the chunk before it (it ends that one), else with the chunk after it. Its section path is kept
    for the merged chunk; the other one's heading stays in the text."""
    def joined(first: Chunk, second: Chunk) -> Chunk | None:
        merged = _make_chunk(doc, first.start, second.end, first.section)
        return merged if count_tokens(f"{title}\n{merged.section}\n\n{merged.text}") <= max_tokens else None

    out: list[Chunk] = []
    i = 0
    while i < len(chunks):
        chunk, after = chunks[i], chunks[i + 1] if i + 1 < len(chunks) else None
        if count_tokens(chunk.text) < MIN_TOKENS:
            introduces = after is not None and (chunk.text.rstrip().endswith(":") or after.section == chunk.section
                                                or after.section.startswith(chunk.section + " > "))
            if introduces and (merged := joined(chunk, after)):
                out.append(merged)
                i += 2
                continue
            if out and (merged := joined(out[-1], chunk)):
                out[-1] = merged
                i += 1
                continue
            if after is not None and (merged := joined(chunk, after)):
                out.append(merged)
                i += 2
                continue
        out.append(chunk)
        i += 1
    return out


def _make_chunk(doc: Extracted, start: int, end: int, section: str) -> Chunk:
    first, last = doc.page_at(start), doc.page_at(max(start, end - 1))
    breaks = [(p.start - start, p.number, p.label) for p in doc.pages if start < p.start < end]
    return Chunk(start, end, doc.text[start:end], section,
                 first.number if first else 0, first.label if first else "", last.number if last else 0, breaks)


# --- blocks: paragraphs with their headings ----------------------------------------------------

def _lines(text: str):
    pos = 0
    for line in text.split("\n"):
        yield pos, pos + len(line), line
        pos += len(line) + 1


def _blocks(text: str) -> list[_Block]:
    """Paragraphs (runs of non-blank lines); a heading line becomes a block of its own."""
    lines = [(a, b, l) for a, b, l in _lines(text)]
    outline: list[int] = []
    blocks: list[_Block] = []
    para: list[tuple[int, int, str]] = []

    def flush():
        if para:
            blocks.append(_Block(para[0][0], para[-1][1]))
            para.clear()

    for i, (a, b, line) in enumerate(lines):
        if not line.strip():
            flush()
            continue
        following = next((l for _, _, l in lines[i + 1:] if l.strip()), "")
        next_line = lines[i + 1][2] if i + 1 < len(lines) else ""
        # A one-line paragraph is a title even after an unfinished sentence (a box's caption before it).
        alone = i > 0 and not lines[i - 1][2].strip() and not next_line.strip()
        open_sentence = (bool(blocks) and not blocks[-1].heading and not alone
                         and not _ends_sentence(text[blocks[-1].start:blocks[-1].end]))
        heading = None if para else _heading(line, following, next_line, outline, open_sentence)
        if heading:
            flush()
            blocks.append(_Block(a + len(line) - len(line.lstrip()), b, heading=heading))
            continue
        if not para and blocks and not blocks[-1].heading and (
                _continues(line) or open_sentence and not _LIST_ITEM.match(line)):
            # The previous paragraph stopped mid-sentence (a page, column or box break): continue it.
            para.append((blocks[-1].start, blocks[-1].end, ""))
            blocks.pop()
        para.append((a, b, line))
    flush()
    return blocks


def _heading(line: str, following: str, next_line: str, outline: list[int],
             open_sentence: bool) -> tuple[int, str] | None:
    """The (level, label) of a heading line that starts a paragraph, or None."""
    stripped = line.strip()
    if m := _MARKDOWN.match(stripped):
        return len(m.group(1)), m.group(2)
    if _continues(following) or len(stripped) > 90:
        return None
    if m := _NUMBERED.match(stripped):
        number = [int(x) for x in m.group(1).split(".")]
        label = m.group(3)
        if len(number) == 1 and not m.group(2):
            return None  # "1\tMet dubbele vergrijzing ...": a footnote, chapters are written "1."
        if _LIST_ITEM.match(next_line) or not _title_like(label) or not _continues_outline(outline, number):
            return None
        outline[:] = number
        return len(number), f"{m.group(1)} {label}"
    if TOP_LEVEL.match(stripped):
        outline.clear()
        return 1, stripped.rstrip(".").strip()
    if (open_sentence or _LIST_ITEM.match(stripped) or not _title_like(stripped) or len(stripped.split()) > 9
            or (line != line.rstrip() and next_line.strip())):
        # A trailing space marks a soft-wrapped line of running text, not a title.
        return None
    return 0, stripped  # level 0: a sub-heading below the current numbered section


def _ends_sentence(text: str) -> bool:
    return bool(re.search(r"[.!?:;…”’\"')\]]\s*$", text)) or bool(_LIST_ITEM.match(text.split("\n")[-1]))


def _title_like(label: str) -> bool:
    label = label.strip()
    return (2 <= len(label) <= 80 and label[0].isupper() and not re.search(r"[.,;:!?]$", label)
            and not re.search(r":\s+[a-z]", label) and sum(c.isalpha() for c in label) >= 0.6 * len(label))


def _continues(line: str) -> bool:
    s = line.lstrip()
    return bool(s) and (s[0].islower() or s[0] in ",;)")


def _continues_outline(outline: list[int], number: list[int]) -> bool:
    if not outline:
        return number in ([1], [0]) or number == [number[0]] and number[0] <= 2
    if number == outline + [1]:
        return True
    return any(number == outline[:k] + [outline[k] + 1] for k in range(len(outline)))


def _sections(blocks: list[_Block], text: str) -> list[_Block]:
    """Give every block the path of headings it sits under."""
    path: list[tuple[int, str]] = []
    for block in blocks:
        if block.heading:
            level, label = block.heading
            if level == 0:  # an unnumbered sub-heading sits below the deepest numbered one
                level = max([l for l, _ in path if l < 90] or [0]) + 90
            path = [(l, s) for l, s in path if l < level] + [(level, label)]
            block.heading = (level, label)
        block.section = " > ".join(label for _, label in path)
    return blocks


def _units(blocks: list[_Block], text: str) -> list[_Block]:
    """Merge a lead-in sentence ending in ':' with the list items that follow it."""
    units: list[_Block] = []
    for block in blocks:
        prev = units[-1] if units else None
        is_item = bool(_LIST_ITEM.match(text[block.start:block.end]))
        if (prev and not prev.heading and not block.heading and prev.section == block.section and is_item
                and (text[prev.start:prev.end].rstrip().endswith(":") or _LIST_ITEM.match(text[prev.start:prev.end])
                     or prev.is_list)):
            prev.end = block.end
            prev.is_list = True
            continue
        units.append(_Block(block.start, block.end, block.heading, block.section))
    return units


def _split_oversized(text: str, start: int, end: int, count_tokens, target: int, budget: int):
    """Pack whole sentences (or list items) into pieces of about `target` tokens."""
    pieces, piece_start, piece_end = [], None, None
    for a, b in sentence_spans(text, start, end):
        if count_tokens(text[a:b]) > budget:  # one sentence longer than the window: cut between words
            if piece_start is not None:
                pieces.append((piece_start, piece_end))
                piece_start = None
            pieces.extend(_split_words(text, a, b, count_tokens, budget))
            continue
        if piece_start is not None and count_tokens(text[piece_start:b]) > target:
            pieces.append((piece_start, piece_end))
            piece_start = None
        if piece_start is None:
            piece_start = a
        piece_end = b
    if piece_start is not None:
        pieces.append((piece_start, piece_end))
    return pieces


def _split_words(text: str, start: int, end: int, count_tokens, budget: int):
    """Cut a run of words without a sentence end into pieces of at most `budget` tokens (at least one word each).
    Growing a piece word by word is quadratic on a long single line; instead each piece's length is searched
    from the previous piece's, so a few token counts place it."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
    pieces, lo, guess = [], 0, 1
    while lo < len(words):
        fits = lambda n: n <= 1 or count_tokens(text[start + words[lo][0]:start + words[lo + n - 1][1]]) <= budget
        n = _largest(fits, min(guess, len(words) - lo), len(words) - lo)
        pieces.append((start + words[lo][0], start + words[lo + n - 1][1]))
        lo, guess = lo + n, n
    return pieces


def _largest(fits, guess: int, most: int) -> int:
    """The largest n in 1..most with fits(n), for a monotone `fits`, searched outward from `guess`."""
    if fits(guess):
        good, step = guess, 1
        while good + step <= most and fits(good + step):
            good, step = good + step, step * 2
        bad = min(good + step, most + 1)
    else:
        bad, step = guess, 1
        while bad - step > 1 and not fits(bad - step):
            bad, step = bad - step, step * 2
        good = max(1, bad - step)
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if fits(mid) else (good, mid)
    return good
