"""End to end through the CLI on the shipped corpus, with the real model and an embedded Chroma."""
import json
import shutil
from pathlib import Path

import pypdf
import pytest
from click.testing import CliRunner

from kb.cli import cli

ROOT = Path(__file__).parent.parent
BESLUITENLIJST = ROOT / "tests/fixtures/Besluitenlijst-raadsvergadering-29-juni-2015.pdf"
GOOD = 6  # the five corpus documents and the besluitenlijst PDF


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kb")
    corpus = folder / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "leeg.txt").write_text("")
    (corpus / "kapot.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<")
    (corpus / "tabel.xlsx").write_bytes(b"PK\x03\x04")
    shutil.copy(BESLUITENLIJST, corpus / "besluitenlijst.pdf")
    writer = pypdf.PdfWriter(clone_from=BESLUITENLIJST)
    writer.encrypt(user_password="geheim")
    writer.write(corpus / "versleuteld.pdf")
    result = run(folder, "ingest", str(corpus), "--json")
    return folder, corpus, json.loads(result.output.splitlines()[-1])


def run(folder, *args, input=None):
    return CliRunner().invoke(cli, ["--index-dir", str(folder / "indexes"), *args], input=input)


def test_ingest_indexes_good_files_and_names_bad_ones(index):
    _, _, summary = index
    assert len(summary["added"]) == GOOD and "besluitenlijst.pdf" in summary["added"]
    reasons = {f["doc_id"]: f["reason"] for f in summary["failed"]}
    assert "leeg bestand" in reasons["leeg.txt"]
    assert "beschadigde PDF" in reasons["kapot.pdf"]
    assert "versleutelde PDF" in reasons["versleuteld.pdf"]
    assert "niet-ondersteund bestandstype" in reasons["tabel.xlsx"]


def test_second_ingest_embeds_nothing(index):
    folder, corpus, _ = index
    summary = json.loads(run(folder, "ingest", str(corpus), "--json").output.splitlines()[-1])
    assert summary["chunks_embedded"] == 0 and len(summary["unchanged"]) == GOOD


def test_pdf_citations_name_the_page_of_the_quoted_sentence(index):
    folder, _, _ = index
    question = "Wat besloot de raad over de motie over de herverdeling van taken onder de wethouders?"
    hit = json.loads(run(folder, "search", question, "--json").output)["hits"][0]
    assert hit["doc_id"] == "besluitenlijst.pdf" and hit["page"] <= 4 <= hit["page_end"]
    data = json.loads(run(folder, "ask", question, "--json").output)
    cited = [c for c in data["citations"] if c["doc_id"] == "besluitenlijst.pdf"]
    assert any(c["page"] == 4 for c in cited), data["answer"]
    pdf_pages = [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(BESLUITENLIJST).pages]
    for c in cited:
        assert c["quote"] in pdf_pages[c["page"] - 1], (c["page"], c["quote"])


def test_search_stdin_contract(index):
    folder, _, _ = index
    result = run(folder, "search", "-", "--top-k", "3", input="Wie zitten aan de Zorgtafel?\nWat is WEL?\n")
    lines = [json.loads(l) for l in result.output.splitlines()]
    assert [l["query"] for l in lines] == ["Wie zitten aan de Zorgtafel?", "Wat is WEL?"]
    hit = lines[0]["hits"][0]
    assert set(hit) >= {"rank", "score", "text", "doc_id", "title", "page", "section", "programme_lines", "url"}
    assert "Zorgtafel" in hit["text"]


def test_programme_line_filter_applies(index):
    folder, _, _ = index
    result = run(folder, "search", "Wat doet de provincie?", "--programme-line", "arbeidsmarkt-participatie", "--json")
    hits = json.loads(result.output)["hits"]
    assert hits and all("arbeidsmarkt-participatie" in h["programme_lines"] for h in hits)


def test_ask_cites_passages_that_contain_each_sentence(index):
    folder, _, _ = index
    data = json.loads(run(folder, "ask", "Wanneer is WEL in Flevoland gestart?", "--json").output)
    assert data["citations"]
    passages = {h["doc_id"] + str(h["start_char"]): " ".join(h["text"].split()) for h in data["hits"]}
    assert len(passages) == len(data["hits"])  # offsets identify each passage
    for c in data["citations"]:
        assert c["quote"] in data["answer"]
        assert c["quote"] in passages[c["doc_id"] + str(next(
            h["start_char"] for h in data["hits"] if " ".join(h["text"].split()).count(c["quote"])))]


def test_nothing_reached_the_network(index, outbound):
    # The ingest, searches and answers above ran in this process; the audit hook (conftest) saw every socket.
    assert outbound == []


def test_every_citation_marker_resolves_on_the_dev_set(index):
    from kb.answer import NOT_FOUND, citation_supported
    from kb.api import KnowledgeBase
    from kb.config import Config
    from kb.evaluate import load_questions

    folder, _, _ = index
    kb = KnowledgeBase(Config.load(index_dir=folder / "indexes"))
    answered = 0
    for q in load_questions(ROOT / "tests/data/dev_questions.jsonl"):
        answer = kb.ask(q["question"])
        assert citation_supported(answer), (q["id"], answer.answer)
        answered += answer.answer != NOT_FOUND
    assert answered > 0


OFF_TOPIC = ["Wat is de hoofdstad van Frankrijk?", "What is the capital of France?", "Hoe laat vertrekt de trein naar Zwolle?",
             "Hoeveel windmolens staan er in de Noordoostpolder?", "Wat kost een parkeervergunning in Almere?",
             "Hoe vraag ik een paspoort aan?", "Welke dijken worden versterkt langs het Markermeer?",
             "Hoeveel inwoners heeft Urk?", "Wanneer opent de nieuwe snelweg A6?"]


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_unrelated_questions_are_not_answered(index, question):
    folder, _, _ = index
    data = json.loads(run(folder, "ask", question, "--json").output)
    assert data["answer"] == "Hierover staat niets in de geïndexeerde documenten." and not data["citations"]
    assert data["found"] is False and data["hits"]  # the nearest passages are still there to offer


def test_changed_document_alone_is_reembedded_and_removed_one_disappears(index):
    folder, corpus, _ = index
    page = corpus / "004_a924b13050f0aa6d.txt"
    page.write_text(page.read_text(encoding="utf-8") + "\n\nNaschrift: de provincie Limburg kwam in 2017 op tegenbezoek.\n",
                    encoding="utf-8")
    (corpus / "000_375d85d319f8f12f.txt").unlink()
    summary = json.loads(run(folder, "ingest", str(corpus), "--json").output.splitlines()[-1])
    assert summary["updated"] == ["004_a924b13050f0aa6d.txt"]
    assert summary["removed"] == ["000_375d85d319f8f12f.txt"]
    assert summary["added"] == [] and 0 < summary["chunks_embedded"] < 10
    hits = json.loads(run(folder, "search", "tegenbezoek Limburg 2017", "--json").output)["hits"]
    assert any("tegenbezoek" in h["text"] for h in hits)
    everything = json.loads(run(folder, "search", "Krachtige Samenleving", "--top-k", "200", "--json").output)["hits"]
    assert all(h["doc_id"] != "000_375d85d319f8f12f.txt" for h in everything)
    assert len({(h["doc_id"], h["start_char"]) for h in everything}) == len(everything)  # no duplicates
