"""Extract: turn a file into clean text plus a page map.

One extractor per format. PDF keeps one unit per page with its physical number and
printed label. Text that was extracted from a PDF elsewhere (`extracted_from = "pdf"` in
the manifest) has its page breaks and running footers recovered: a footer such as
`33Voortgangsrapportage Krachtige Samenleving 2019-2022  |` gives the page number and is
removed from the content, as are the link lists a PDF text layer appends to each page.

A file that cannot be read raises ExtractionError with a specific Dutch reason (empty, truncated or
encrypted PDF, no text layer, not a PDF at all, zip bomb, too deep, too large); the limits keep time and
memory bounded. Scanned pages are read by OCR (kb.ocr) when Tesseract's Dutch model is installed.

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

MAX_PAGES = 2000  # a PDF with more pages is refused whole (KB_MAX_PAGES): reading it would take minutes and GBs
MAX_CHARS = 5_000_000  # about 2,000 pages of text (KB_MAX_CHARS); beyond that embedding alone takes hours
MAX_UNZIPPED = 200_000_000  # a DOCX that unpacks to more is a zip bomb, not a policy document
MAX_HTML_DEPTH = 400  # far beyond any real page; deeper nesting only makes parsing slow
OCR_MAX_PAGES = 200  # pages without a text layer read by OCR per document (each takes seconds)
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
    notes: list[str] = field(default_factory=list)  # indexed, but worth telling (Dutch): OCR used, encoding guessed

    def page_at(self, offset: int) -> Page | None:
        if not self.pages:
            return None
        starts = [p.start for p in self.pages]
        return self.pages[max(0, bisect.bisect_right(starts, offset) - 1)]


def extract(path: Path | str, extracted_from: str | None = None, max_pages: int = MAX_PAGES,
            max_chars: int = MAX_CHARS) -> Extracted:
    """Extract text from a PDF, TXT, Markdown, HTML or DOCX file; ExtractionError names why a file cannot be read."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise ExtractionError("leeg bestand (0 bytes)")
    suffix = path.suffix.lower()
    if suffix not in (".pdf", ".docx") and size > 4 * max_chars:  # never read a huge text file into memory
        raise ExtractionError(f"te groot: {_n(size)} bytes tekst; de grens is {_n(max_chars)} tekens (KB_MAX_CHARS)")
    data = path.read_bytes()
    if not data.strip():
        raise ExtractionError(f"leeg bestand (alleen witruimte, {size} bytes)")
    notes: list[str] = []
    if suffix == ".pdf":
        result = _pdf(path, data, max_pages)
    elif suffix == ".docx":
        result = _docx(path, data)
    elif suffix in (".html", ".htm"):
        result = _html(_decode(data, notes))
    elif extracted_from == "pdf":
        result = _pdf_text(_decode(data, notes))
    else:
        result = _plain(_decode(data, notes))
    if not re.search(r"\w{2,}", result.text):
        raise ExtractionError("geen leesbare tekst gevonden")
    if len(result.text) > max_chars:
        raise ExtractionError(f"te veel tekst: {_n(len(result.text))} tekens; de grens is {_n(max_chars)} (KB_MAX_CHARS)")
    if _ACTIVE_CONTENT.search(result.text):
        notes.append("bevat HTML- of scriptcode; die wordt als tekst getoond, nooit uitgevoerd")
    result.notes = notes + result.notes
    return result


# Markup that a browser would run if a page showed the text unescaped (the UI escapes all document text).
_ACTIVE_CONTENT = re.compile(r"<\s*(script|iframe|object|embed|svg)\b|\bon[a-z]+\s*=\s*[\"'\w]|javascript:", re.I)


# --- PDF ---------------------------------------------------------------------------------

def _pdf(path: Path, data: bytes, max_pages: int) -> Extracted:
    import pypdf

    if b"%PDF" not in data[:1024]:  # the header may follow a little junk, as readers allow
        raise ExtractionError(f"geen PDF: het bestand begint met {_sniff(data)}")
    if b"%%EOF" not in data[-2048:]:
        raise ExtractionError("afgebroken of beschadigde PDF: het einde (%%EOF) ontbreekt; download het bestand opnieuw")
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("versleutelde PDF (wachtwoord nodig)")
        if len(reader.pages) > max_pages:
            raise ExtractionError(f"PDF heeft {_n(len(reader.pages))} pagina's; de grens is {_n(max_pages)} (KB_MAX_PAGES)")
        texts = [page.extract_text() or "" for page in reader.pages]
        labels = list(reader.page_labels)
    except ExtractionError:
        raise
    except Exception as exc:  # pypdf raises many kinds on broken files; name the file, never crash the run
        if "crypt" in str(exc).lower() or "password" in str(exc).lower():
            raise ExtractionError("versleutelde PDF (wachtwoord nodig)") from exc
        raise ExtractionError(f"afgebroken of beschadigde PDF: {exc.__class__.__name__}: {exc}") from exc
    notes = _read_scanned_pages(path, texts)
    texts = _strip_running_lines(texts)
    result = _join_pages([(t, i + 1, labels[i] if i < len(labels) else str(i + 1)) for i, t in enumerate(texts)])
    result.notes = notes
    return result


def _read_scanned_pages(path: Path, texts: list[str]) -> list[str]:
    """OCR the pages without a text layer, in place; notes for the summary. A scan without OCR is an error."""
    from kb import ocr

    blank = [i for i, t in enumerate(texts) if not re.search(r"\w{2,}", t)]
    if not blank:
        return []
    missing = ocr.available()
    if missing:
        if len(blank) == len(texts):
            raise ExtractionError(f"geen tekstlaag (gescand?); {missing}")
        return [f"{len(blank)} van de {len(texts)} pagina's zonder tekstlaag niet gelezen; {missing}"]
    todo = blank[:OCR_MAX_PAGES]
    try:
        for i, text in ocr.ocr_pages(path, todo).items():
            texts[i] = text
    except Exception as exc:  # a page Tesseract or pdfium cannot handle: report it, do not index it empty
        raise ExtractionError(f"geen tekstlaag (gescand?) en OCR mislukte: {exc.__class__.__name__}: {exc}") from exc
    if not any(re.search(r"\w{2,}", texts[i]) for i in todo) and len(blank) == len(texts):
        raise ExtractionError("geen tekstlaag (gescand?) en OCR vond geen tekst")
    skipped = f"; de overige {len(blank) - len(todo)} niet (grens {OCR_MAX_PAGES})" if len(blank) > len(todo) else ""
    pages = "1 pagina" if len(todo) == 1 else f"{len(todo)} pagina's"
    return [f"{pages} zonder tekstlaag gelezen met OCR (Tesseract, Nederlands){skipped}"]


def _sniff(data: bytes) -> str:
    """What a file that should be a PDF starts with, in words."""
    head = data.lstrip()[:512].lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head:
        return "<html> (een webpagina, geen PDF)"
    if head.startswith(b"pk\x03\x04"):
        return "PK (een zip- of Office-bestand, geen PDF)"
    if head.startswith((b"{", b"[")):
        return "JSON-tekst, geen PDF"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    if printable < 0.9 * len(head):
        return "binaire gegevens, niet met '%PDF'"
    return f"'{head[:20].decode('ascii', 'replace')}', niet met '%PDF'"


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
    if (depth := _depth(soup)) > MAX_HTML_DEPTH:
        raise ExtractionError(f"HTML te diep genest ({_n(depth)} niveaus; de grens is {MAX_HTML_DEPTH})")
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
        raise ExtractionError(f"geen geldig DOCX-bestand (geen zip-archief; het begint met {_sniff(data).split(',')[0]})")
    with zipfile.ZipFile(path) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > MAX_UNZIPPED:
        raise ExtractionError(f"DOCX pakt uit tot {_n(round(unpacked / 1e6))} MB (zip-bom?); "
                              f"de grens is {_n(round(MAX_UNZIPPED / 1e6))} MB")
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


def _decode(data: bytes, notes: list[str]) -> str:
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return _newlines(data.decode(encoding))
            except UnicodeDecodeError as exc:
                raise ExtractionError(f"ongeldige tekst: begint als {encoding.upper()}, maar {exc.reason}") from exc
    if b"\x00" in data[:4096]:
        raise ExtractionError("binair bestand, geen tekst (nul-bytes)")
    try:
        return _newlines(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    # Not UTF-8: Windows-1252 is what Dutch office files are otherwise written in; it decodes nearly any byte.
    notes.append("geen UTF-8; gelezen als Windows-1252")
    return _newlines(data.decode("cp1252", errors="replace"))


def _n(number: int) -> str:
    return f"{number:,}".replace(",", ".")  # Dutch thousands separator


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _depth(soup) -> int:
    """The deepest nesting of elements, without recursion (a hostile page nests thousands deep)."""
    deepest, stack = 0, [(soup, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in getattr(node, "contents", ()) if hasattr(child, "contents"))
    return deepest


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
