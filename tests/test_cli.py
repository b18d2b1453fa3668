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
    assert result.exit_code == 3, result.output  # some files failed: scripts must see it
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
        for sentence in c["quotes"]:
            assert sentence in pdf_pages[c["page"] - 1], (c["page"], sentence)


def test_search_stdin_contract(index):
    folder, _, _ = index
    result = run(folder, "search", "-", "--top-k", "3", input="Wie zitten aan de Zorgtafel?\n\nWat is WEL?\n")
    lines = [json.loads(l) for l in result.output.splitlines()]
    assert [l["query"] for l in lines] == ["Wie zitten aan de Zorgtafel?", "", "Wat is WEL?"]  # line for line
    assert lines[1]["hits"] == [] and len(lines[2]["hits"]) == 3
    hit = lines[0]["hits"][0]
    assert set(hit) >= {"rank", "score", "text", "doc_id", "title", "page", "section", "programme_lines", "url"}
    assert "Zorgtafel" in hit["text"]


@pytest.mark.parametrize("args, message", [
    (["search", "zorg", "--programme-line", "zorg"], "Onbekende programmalijn 'zorg'. Kies uit: algemeen, "),
    (["ask", "zorg", "--doc-type", "Motie"], "Documenttype 'Motie' komt niet voor in de index. Kies uit: "),
    (["search", "zorg", "--year", "abc"], "Ongeldige waarde voor '--year': 'abc' is geen geldig getal."),
    (["search", "zorg", "--top-k", "0"], "Ongeldige waarde voor '--top-k'"),
    (["search", " "], "de zoekvraag is leeg"),
    (["ingest", "bestaat-niet"], "Pad bestaat niet: bestaat-niet"),
    (["sync", "--config", "bestaat-niet.toml"], "Syncconfiguratie bestaat-niet.toml bestaat niet"),
    (["search", "zorg", "--outcome", "gewonnen"], "Ongeldige waarde voor '--outcome'"),
])
def test_mistakes_get_a_dutch_message_and_exit_code_2(index, kb_main, args, message):
    code, out, err = kb_main("--index-dir", index[0] / "indexes", *args)
    assert code == 2 and message in err and out == ""


def test_year_filter_matches_the_date_or_the_period_reported_on(index):
    folder, _, _ = index
    for year, expected in ((2023, True), (2020, True), (2024, False)):  # report dated 2023, about 2019-2022
        hits = json.loads(run(folder, "search", "Zorgtafel", "--year", str(year), "--json").output)["hits"]
        assert any(h["doc_id"] == "003_b2a3fbcf700e85b8.txt" for h in hits) == expected, year


def test_same_file_name_in_another_folder_is_refused_not_overwritten(index, tmp_path):
    folder, _, _ = index
    for name, text in (("a", "De eerste notitie gaat over zeekadetten in Urk."), ("b", "Een andere notitie.")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "notitie.txt").write_text(text, encoding="utf-8")
    assert json.loads(run(folder, "ingest", str(tmp_path / "a"), "--json").output)["added"] == ["notitie.txt"]
    second = run(folder, "ingest", str(tmp_path / "b"), "--json")
    assert second.exit_code == 3
    reason = json.loads(second.output)["failed"][0]["reason"]
    assert "'notitie.txt' is al in gebruik" in reason and str(tmp_path / "a") in reason
    hits = json.loads(run(folder, "search", "zeekadetten notitie", "--top-k", "20", "--json").output)["hits"]
    assert any("De eerste notitie" in h["text"] for h in hits)


def test_the_same_folder_named_from_another_working_directory_is_the_same_folder(tmp_path, monkeypatch):
    folder = tmp_path  # an index of its own, in tmp_path / "indexes"
    (tmp_path / "map").mkdir()
    (tmp_path / "map" / "memo.txt").write_text("Een memo over de Zorgtafel en de zeekadetten.", encoding="utf-8")
    (tmp_path / "elders").mkdir()
    monkeypatch.chdir(tmp_path / "elders")  # the folder is not below it: the index names it by its absolute path
    assert json.loads(run(folder, "ingest", str(tmp_path / "map"), "--json").output)["added"] == ["memo.txt"]
    monkeypatch.chdir(tmp_path)  # now it is named "map"
    again = json.loads(run(folder, "ingest", "map", "--json").output)
    assert again["failed"] == [] and again["updated"] + again["unchanged"] == ["memo.txt"]
    hits = json.loads(run(folder, "search", "memo zeekadetten", "--top-k", "50", "--json").output)["hits"]
    assert sum(h["doc_id"] == "memo.txt" for h in hits) == 1  # one document, not two


def test_programme_line_filter_applies(index):
    folder, _, _ = index
    result = run(folder, "search", "Wat doet de provincie?", "--programme-line", "arbeidsmarkt-participatie", "--json")
    hits = json.loads(result.output)["hits"]
    assert hits and all("arbeidsmarkt-participatie" in h["programme_lines"] for h in hits)


def test_ask_cites_passages_that_contain_each_sentence(index):
    folder, _, _ = index
    data = json.loads(run(folder, "ask", "Wanneer is WEL in Flevoland gestart?", "--json").output)
    assert data["found"] and data["citations"]
    passages = {h["chunk_id"]: " ".join(h["text"].split()) for h in data["hits"]}
    for c in data["citations"]:
        assert c["quote"] == " … ".join(c["quotes"])
        for sentence in c["quotes"]:
            assert f"{sentence} [{c['n']}]" in data["answer"]
            assert sentence in passages[c["chunk_id"]]


def test_nothing_reached_the_network(index, outbound):
    # The ingest, searches and answers above ran in this process; the audit hook (conftest) saw every socket.
    assert outbound == []


def test_every_citation_marker_resolves_on_the_dev_set(index):
    from kb.answer import citation_supported
    from kb.api import KnowledgeBase
    from kb.config import Config
    from kb.evaluate import load_questions

    folder, _, _ = index
    kb = KnowledgeBase(Config.load(index_dir=folder / "indexes"))
    answered = 0
    for q in load_questions(ROOT / "tests/data/dev_questions.jsonl"):
        answer = kb.ask(q["question"])
        assert citation_supported(answer), (q["id"], answer.answer)
        answered += answer.found
    assert answered > 0


def test_eval_gives_every_figure_with_its_interval(index, tmp_path):
    """`kb eval` on a small file: the point figures lie inside their 95% bootstrap intervals, and the text
    output prints them too."""
    folder, _, _ = index
    from kb.evaluate import load_questions

    dev = load_questions(ROOT / "tests/data/dev_questions.jsonl")
    picked = [q for q in dev if q["gold"]][:6] + [q for q in dev if not q["gold"]][:3]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in picked), encoding="utf-8")
    data = json.loads(run(folder, "eval", "--qa", str(qa), "--mode", "hybrid", "--json").output)
    overall = data["hybrid"]["overall"]
    assert overall["n"] == 6
    for name in ("recall@1", "recall@5", "recall@10", "mrr@10"):
        low, high = overall["ci95"][name]
        assert low <= overall[name] <= high, name
    answers = data["answers"]
    assert (answers["answerable"], answers["unanswerable"]) == (6, 3)
    for name, total in (("answered", 6), ("abstained", 3)):
        low, high = answers["ci95"][name]
        assert low <= answers[name] / total <= high, name
    text = run(folder, "eval", "--qa", str(qa), "--mode", "hybrid").output
    assert "95%-intervallen" in text and "MRR@10 " in text


OFF_TOPIC = ["Wat is de hoofdstad van Frankrijk?", "What is the capital of France?", "Hoe laat vertrekt de trein naar Zwolle?",
             "Hoeveel windmolens staan er in de Noordoostpolder?", "Wat kost een parkeervergunning in Almere?",
             "Hoe vraag ik een paspoort aan?", "Welke dijken worden versterkt langs het Markermeer?",
             "Hoeveel inwoners heeft Urk?", "Wanneer opent de nieuwe snelweg A6?"]


def test_unrelated_questions_are_not_answered(index):
    """Abstention is a calibrated trade-off (kb.answer): the thresholds answer 95% of the development set's
    answerable questions, so some unrelated ones may get through; at least 3 of 4 must abstain (issue 4's
    target). With one threshold pair for both languages (up to the seventh round of issue 4), "Hoe vraag ik
    een paspoort aan?" ("vraag" occurs, cosine 0.824) and "Welke dijken worden versterkt ...?" were answered;
    with a pair per language all nine abstain at the time of writing (since the eighth round's calibration on seven
    sets, "Hoe vraag ik een paspoort aan?" only just: cosine 0.8248 against the Dutch threshold 0.8249)."""
    folder, _, _ = index
    abstained = []
    for question in OFF_TOPIC:
        data = json.loads(run(folder, "ask", question, "--json").output)
        if not data["found"]:
            expected = ("The indexed documents say nothing about this." if question.startswith("What") else
                        "Hierover staat niets in de geïndexeerde documenten.")
            assert data["answer"].startswith(expected[:-1]) and not data["citations"], question
            assert data["hits"], question  # the nearest passages are still there to offer
            abstained.append(question)
    assert len(abstained) >= 0.75 * len(OFF_TOPIC), sorted(set(OFF_TOPIC) - set(abstained))


def test_a_place_the_documents_never_mention_is_named_in_the_not_found_answer(index):
    folder, _, _ = index
    data = json.loads(run(folder, "ask", "Hoe staat het met de blauwalg in het Veluwemeer?", "--json").output)
    assert not data["found"] and data["missing"] == ["Veluwemeer"] and data["hits"]
    assert data["answer"] == "Hierover staat niets in de geïndexeerde documenten: ze noemen ‘Veluwemeer’ nergens."
    # A name the documents have in another form is not missing: "Lelystadse" for Lelystad (z018).
    data = json.loads(run(folder, "ask", "Wat is de taak van de buurtconciërges in de Lelystadse wijken?", "--json").output)
    assert data["found"] and data["missing"] == [] and data["citations"]


@pytest.mark.parametrize("question, missing", [
    ("Welke Almeerse wijken hebben buurtconciërges?", []),  # the glossary's forms of names
    ("Wat doet de provincie voor Urker jongeren?", []),
    ("Wat deed de provincie tijdens COVID-19?", []),
    ("Wat levert de Regiodeal op?", []),  # the documents write "Regio Deal"
    ("Wat doen de Flevers netwerken?", []),  # a genitive ending
    ("Hoeveel draagt de provincie bij aan de Markerwadden en de A6?", ["Markerwadden", "A6"])])
def test_names_in_other_forms_are_mentioned_and_the_others_missing(index, question, missing):
    from kb.answer import mentions
    from kb.api import KnowledgeBase
    from kb.config import Config

    folder, _, _ = index
    assert KnowledgeBase(Config.load(index_dir=folder / "indexes")).retriever.unmentioned(mentions(question)) == missing


def test_not_found_offers_the_nearest_passages_separately(index):
    folder, _, _ = index
    output = run(folder, "ask", "Hoeveel inwoners heeft Urk?").output
    assert output.startswith("Hierover staat niets in de geïndexeerde documenten.")
    assert "Verwante passages:" in output and "[1]" not in output


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
