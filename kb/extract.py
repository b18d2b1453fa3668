"""Extract: turn a file into clean text plus a page map.

One extractor per format. PDF keeps one unit per page with its physical number and
printed label. Text that was extracted from a PDF elsewhere (`extracted_from = "pdf"` in
the manifest) has its page breaks and running footers recovered: a footer such as
`33Voortgangsrapportage Krachtige Samenleving 2019-2022  |` gives the page number and is
removed from the content, as are the link lists a PDF text layer appends to each page.

    >>> doc = extract(Path("corpus/003_b2a3fbcf700e85b8.txt"), extracted_from="pdf")
    >>> doc.page_at(doc.text.index("Buurtconciërges"))
    Page(start=..., number=36, label='36')
"""
from __future__ import annotations

import bisect
import logging
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

MAX_PAGES = 5000
# pypdf logs what it repairs ("EOF marker not found"); what cannot be read is reported by name in
# the ingest summary, so its warnings would only be noise on a user's terminal.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class ExtractionError(Exception):
    """A document that cannot be read; the message (Dutch) names the cause for the ingest summary."""


@dataclass
class Page:
    start: int  # offset of the page's first character in Extracted.text
    number: int  # physical page number (1-based); 0 when the document has no pages
    label: str  # printed page label, e.g. "iv" or "33"


@dataclass
class Extracted:
    text: str
    pages: list[Page] = field(default_factory=list)

    def page_at(self, offset: int) -> Page | None:
        if not self.pages:
            return None
        starts = [p.start for p in self.pages]
        return self.pages[max(0, bisect.bisect_right(starts, offset) - 1)]


def extract(path: Path | str, extracted_from: str | None = None) -> Extracted:
    """Extract text from a PDF, TXT, Markdown, HTML or DOCX file."""
    path = Path(path)
    data = path.read_bytes()
    if not data.strip():
        raise ExtractionError("leeg bestand (0 bytes of alleen witruimte)")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        result = _pdf(path, data)
    elif suffix == ".docx":
        result = _docx(path, data)
    elif suffix in (".html", ".htm"):
        result = _html(_decode(data))
    elif extracted_from == "pdf":
        result = _pdf_text(_decode(data))
    else:
        result = _plain(_decode(data))
    if not re.search(r"\w{2,}", result.text):
        raise ExtractionError("geen tekst gevonden (gescande PDF zonder tekstlaag?)")
    return result


# --- PDF ---------------------------------------------------------------------------------

def _pdf(path: Path, data: bytes) -> Extracted:
    import pypdf
    from pypdf.errors import PdfReadError

    if not data.lstrip().startswith(b"%PDF"):
        raise ExtractionError("geen PDF: het bestand begint niet met '%PDF' (bijvoorbeeld een HTML-pagina)")
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("versleutelde PDF: kan niet worden gelezen zonder wachtwoord")
        if len(reader.pages) > MAX_PAGES:
            raise ExtractionError(f"PDF heeft {len(reader.pages)} pagina's, meer dan de grens van {MAX_PAGES}")
        texts = [page.extract_text() or "" for page in reader.pages]
        labels = list(reader.page_labels)
    except ExtractionError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise ExtractionError(f"beschadigde PDF: {exc.__class__.__name__}: {exc}") from exc
    except Exception as exc:  # pypdf raises many kinds on broken files; name the file, never crash the run
        if "crypt" in str(exc).lower():
            raise ExtractionError(f"versleutelde PDF: {exc}") from exc
        raise ExtractionError(f"beschadigde PDF: {exc.__class__.__name__}: {exc}") from exc
    texts = _strip_running_lines(texts)
    return _join_pages([(t, i + 1, labels[i] if i < len(labels) else str(i + 1)) for i, t in enumerate(texts)])


def _strip_running_lines(pages: list[str]) -> list[str]:
    """Drop headers/footers that repeat on most pages (digits ignored, so 'Pagina 3 van 12' counts)."""
    if len(pages) < 3:
        return pages
    shape = lambda line: re.sub(r"\d+", "#", line.strip())
    counts = Counter(s for page in pages for s in {shape(l) for l in page.splitlines() if l.strip()})
    running = {s for s, n in counts.items() if n >= max(3, len(pages) // 2) and len(s) < 120}
    return ["\n".join(l for l in page.splitlines() if shape(l) not in running) for page in pages]


# --- text that was a PDF once ---------------------------------------------------------------

_URL_LINE = re.compile(r"^\s*(https?://|www\.)\S+\s*$")
_CREDIT_LINE = re.compile(r"^\s*©\s?\S.{0,40}$")  # a photo credit on its own line ("©Shutterstock")
_PAGE_NUMBER_LINE = re.compile(r"^\s*(\d{1,4})\s*$")


def _pdf_text(text: str) -> Extracted:
    """Recover pages from text extracted from a PDF by another tool.

    That tool starts every page on a new line with a single space; running footers
    (a page number glued to the document title) start the page they number.
    """
    footer = _footer_pattern(text)
    units: list[tuple[list[str], int | None]] = [([], None)]  # (lines, printed page number)
    for line in text.split("\n"):
        match = footer.match(line) if footer else None
        if match:
            units.append(([], int(match.group("n"))))
            continue
        if re.match(r"^ \S", line) and units[-1][0]:
            units.append(([], None))
            line = line[1:]
        units[-1][0].append(line)
    pages, known = [], []
    for lines, number in units:
        # A bare number on the last line of a page is that page's printed number.
        tail = [l for l in lines if l.strip()]
        if number is None and tail and _PAGE_NUMBER_LINE.match(tail[-1]):
            number = int(tail[-1])
            lines.remove(tail[-1])
        lines = [l for l in lines if not _URL_LINE.match(l)]  # link lists: layout, not content
        if not any(l.strip() for l in lines):
            continue
        # A photo credit is not content either, but a page that holds only one still counts.
        pages.append("\n".join(l for l in lines if not _CREDIT_LINE.match(l)).strip("\n"))
        known.append(number)
    numbers = _fill_page_numbers(known)
    return _join_pages([(body, n, str(n)) for body, n in zip(pages, numbers)])


def _footer_pattern(text: str) -> re.Pattern | None:
    """A running footer: the same words on several lines, with the page number glued before or after them."""
    before, after = Counter(), Counter()
    for line in text.split("\n"):
        if m := re.match(r"^\s*\d{1,4}(\D.{8,}?)\s*$", line):
            before[m.group(1).strip()] += 1
        elif m := re.match(r"^\s*(.{8,}?\D)\d{1,4}\s*$", line):
            after[m.group(1).strip()] += 1
    candidates = [(n, words, first) for counter, first in ((before, True), (after, False))
                  for words, n in counter.items() if n >= 2 and re.search(r"[^\W\d]{4}", words)]
    if not candidates:
        return None
    _, words, number_first = max(candidates)
    words = re.escape(words)
    if number_first:
        return re.compile(rf"^\s*(?P<n>\d{{1,4}})\s*{words}\s*$")
    return re.compile(rf"^\s*{words}\s*(?P<n>\d{{1,4}})\s*$")


def _fill_page_numbers(known: list[int | None]) -> list[int]:
    """Number pages between the ones whose footer was found: count on from the last known page."""
    numbers: list[int | None] = list(known)
    first = next((i for i, n in enumerate(numbers) if n is not None), None)
    if first is None:
        return list(range(1, len(numbers) + 1))
    for i in range(first - 1, -1, -1):
        numbers[i] = max(1, numbers[i + 1] - 1)
    for i in range(first + 1, len(numbers)):
        if numbers[i] is None:
            following = next((n for n in numbers[i + 1:] if n is not None), None)
            guess = numbers[i - 1] + 1
            numbers[i] = min(guess, following - 1) if following and following - 1 > numbers[i - 1] else guess
    return numbers


# --- other formats -----------------------------------------------------------------------

def _plain(text: str) -> Extracted:
    """Plain text or Markdown; form feeds, where present, separate pages."""
    if "\f" in text:
        return _join_pages([(t, i + 1, str(i + 1)) for i, t in enumerate(text.split("\f"))])
    return Extracted(text.strip("\n"))


def _html(html: str) -> Extracted:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav", "head"]):
        tag.decompose()
    blocks = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr", "pre", "blockquote", "dt", "dd"]):
        if el.find_parent(["p", "li", "tr", "pre", "blockquote"]) and el.name not in ("li",):
            continue  # nested inside a block we already take whole
        text = " ".join(el.get_text(" ", strip=True).split())
        if not text:
            continue
        if el.name[0] == "h" and el.name[1:].isdigit():
            blocks.append("#" * int(el.name[1]) + " " + text)
        elif el.name == "li":
            blocks.append("- " + text)
        elif el.name == "tr":
            blocks.append(" | ".join(c.get_text(" ", strip=True) for c in el.find_all(["td", "th"])))
        else:
            blocks.append(text)
    if not blocks:  # no block elements at all: take the visible text
        blocks = [" ".join(soup.get_text(" ", strip=True).split())]
    return Extracted("\n\n".join(blocks))


def _docx(path: Path, data: bytes) -> Extracted:
    import docx

    if not zipfile.is_zipfile(path):
        raise ExtractionError("geen geldig DOCX-bestand (geen zip-archief)")
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises KeyError/ValueError/lxml errors on broken packages
        raise ExtractionError(f"beschadigd DOCX-bestand: {exc.__class__.__name__}: {exc}") from exc
    blocks = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name or "").lower() if para.style is not None else ""
        level = re.match(r"(heading|kop)\s*(\d)", style)
        if level:
            blocks.append("#" * int(level.group(2)) + " " + text)
        elif style == "title":
            blocks.append("# " + text)
        elif "list" in style or "lijst" in style:
            blocks.append("- " + text)
        else:
            blocks.append(text)
    for table in document.tables:
        for row in table.rows:
            blocks.append(" | ".join(cell.text.strip() for cell in row.cells))
    return Extracted("\n\n".join(blocks))


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise ExtractionError("binair bestand, geen tekst")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _join_pages(pages: list[tuple[str, int, str]]) -> Extracted:
    text, out = "", []
    for body, number, label in pages:
        body = body.strip("\n")
        if not body.strip():
            continue
        if text:
            text += "\n\n"
        out.append(Page(len(text), number, label))
        text += body
    return Extracted(text, out)
