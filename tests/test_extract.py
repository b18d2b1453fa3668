from pathlib import Path

import pypdf
import pytest

from kb.extract import ExtractionError, extract

CORPUS = Path(__file__).parent.parent / "corpus"
FIXTURES = Path(__file__).parent / "fixtures"
REPORT = CORPUS / "003_b2a3fbcf700e85b8.txt"
BESLUITENLIJST = FIXTURES / "Besluitenlijst-raadsvergadering-29-juni-2015.pdf"


def test_report_footers_become_page_numbers_not_content():
    doc = extract(REPORT, extracted_from="pdf")
    assert "Voortgangsrapportage Krachtige Samenleving 2019-2022  |" not in doc.text
    # Pages whose footer carries the number get exactly that number.
    assert doc.page_at(doc.text.index("Buurtconciërges\n")).number == 36
    assert doc.page_at(doc.text.index("Academische Verpleeg(t)huiszorg\n")).number == 33
    assert doc.page_at(doc.text.index("2.3.1\t Raakvlakken")).number == 24
    # A bare "4" ends the reading guide; the next page's footer says 5.
    assert doc.page_at(doc.text.index("Leeswijzer")).number == 4
    assert doc.page_at(doc.text.index("Inleiding")).number == 5
    numbers = [p.number for p in doc.pages]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_report_link_lists_and_photo_credits_are_dropped():
    raw = REPORT.read_text(encoding="utf-8")
    assert "\nhttps://www.welinflevoland.nl/\n" in raw and "\n©Shutterstock\n" in raw
    doc = extract(REPORT, extracted_from="pdf")
    assert "\nhttps://www.welinflevoland.nl/\n" not in doc.text
    assert "©" not in doc.text


def test_pdf_keeps_physical_page_and_printed_label(tmp_path):
    writer = pypdf.PdfWriter(clone_from=BESLUITENLIJST)
    writer.set_page_label(0, 3, style="/r")  # pages 1-4 printed as i, ii, iii, iv
    labelled = tmp_path / "labelled.pdf"
    writer.write(labelled)
    doc = extract(labelled)
    assert [p.number for p in doc.pages] == [1, 2, 3, 4]
    assert [p.label for p in doc.pages] == ["i", "ii", "iii", "iv"]
    assert doc.page_at(doc.text.index("Vragenkwartier")).number == 1
    assert doc.page_at(doc.text.index("Verordening op de kamerverhuurpanden 2015")).number == 2


@pytest.mark.parametrize("name,content,message", [
    ("leeg.pdf", b"", "leeg bestand"),
    ("kapot.pdf", BESLUITENLIJST.read_bytes()[:3000], "beschadigde PDF"),
    ("pagina.pdf", b"<html><body>Niet gevonden</body></html>", "geen PDF"),
])
def test_bad_pdfs_give_a_specific_reason(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ExtractionError, match=message):
        extract(path)


def test_encrypted_pdf_is_named_as_such(tmp_path):
    writer = pypdf.PdfWriter(clone_from=BESLUITENLIJST)
    writer.encrypt(user_password="geheim", algorithm="RC4-128")
    path = tmp_path / "versleuteld.pdf"
    writer.write(path)
    with pytest.raises(ExtractionError, match="versleutelde PDF"):
        extract(path)


def test_html_headings_and_lists(tmp_path):
    path = tmp_path / "pagina.html"
    path.write_text("<html><head><title>x</title><script>alert(1)</script></head><body>"
                    "<h2>Eenzaamheid</h2><p>De provincie helpt.</p><ul><li>Eén</li><li>Twee</li></ul>"
                    "</body></html>", encoding="utf-8")
    doc = extract(path)
    assert doc.text == "## Eenzaamheid\n\nDe provincie helpt.\n\n- Eén\n\n- Twee"


def test_docx_headings(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Arbeidsmarkt", level=1)
    document.add_paragraph("Tekort aan zorgpersoneel.")
    path = tmp_path / "nota.docx"
    document.save(path)
    assert extract(path).text == "# Arbeidsmarkt\n\nTekort aan zorgpersoneel."


def test_docx_that_is_not_a_zip(tmp_path):
    path = tmp_path / "nep.docx"
    path.write_text("geen zip")
    with pytest.raises(ExtractionError, match="geen geldig DOCX"):
        extract(path)
