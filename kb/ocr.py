"""OCR for PDF pages without a text layer (scans): pypdfium2 renders the page, Tesseract's Dutch model reads it.

Optional: without the `tesseract` binary and its Dutch model (Debian: `tesseract-ocr tesseract-ocr-nld`) or
without pypdfium2, `available()` says why and a scan is reported as "geen tekstlaag", never indexed empty.

    >>> if available() is None:
    ...     text = ocr_pages(Path("scan.pdf"), [0])[0]
"""
from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

LANGUAGE = "nld"
DPI = 300  # Tesseract's own advice for body text; lower loses accents and small print
PAGE_SECONDS = 120  # one page that Tesseract cannot finish in this time is reported, not waited for


@lru_cache(maxsize=1)
def available() -> str | None:
    """None when OCR can run; otherwise what to install (Dutch, for the ingest summary)."""
    binary = shutil.which("tesseract")
    if binary is None:
        return "installeer tesseract-ocr-nld voor OCR"
    try:
        langs = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return "tesseract werkt niet; installeer tesseract-ocr-nld opnieuw voor OCR"
    if LANGUAGE not in langs:
        return "installeer tesseract-ocr-nld (het Nederlandse model van Tesseract) voor OCR"
    try:
        import pypdfium2  # noqa: F401
    except ImportError:
        return "installeer pypdfium2 (pip) voor OCR"
    return None


def ocr_pages(path: Path, page_indexes: list[int]) -> dict[int, str]:
    """The text Tesseract reads on each of these pages (0-based), rendered at DPI."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        out = {}
        for index in page_indexes:
            image = pdf[index].render(scale=DPI / 72).to_pil().convert("L")
            out[index] = _tesseract(image)
        return out
    finally:
        pdf.close()


def _tesseract(image) -> str:
    import io

    png = io.BytesIO()
    image.save(png, format="PNG")
    # stdin -> stdout: no temporary files; psm 3 (automatic layout) suits report pages.
    result = subprocess.run(["tesseract", "stdin", "stdout", "-l", LANGUAGE, "--psm", "3"], input=png.getvalue(),
                            capture_output=True, timeout=PAGE_SECONDS, check=True)
    return result.stdout.decode("utf-8", errors="replace")
