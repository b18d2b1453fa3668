"""`kb sync` end to end against a local server: incremental and deduplicated, failures named, resumable after SIGKILL;
decisions from the real Den Helder besluitenlijst."""
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from kb.config import Config
from kb.retrieve import Filters
from kb.sentences import collapse
from snapshot import snapshot
from sourceserver import (FIXTURES, GoSite, NotubizSite, OriSite, Reply, SourceServer, SruSite, go_document, go_item, go_meeting,
                          notubiz_document, notubiz_meeting, notubiz_motion, ori_document, pdf_bytes)

ROOT = Path(__file__).parent.parent
KB = str(Path(sys.executable).parent / "kb")
BESLUITENLIJST = (FIXTURES / "pdf" / "Besluitenlijst-raadsvergadering-29-juni-2015.pdf").read_bytes()
EENZAAMHEID = pdf_bytes("Mededeling Aanpak Eenzaamheid", [
    "Gedeputeerde Staten informeren Provinciale Staten over de aanpak van eenzaamheid onder ouderen in Flevoland.",
    "In 2021 zijn in Lelystad, Almere en Dronten buurtkamers geopend waar ouderen elkaar wekelijks ontmoeten.",
    "De provincie draagt 250.000 euro bij aan het netwerk van vrijwilligers dat eenzame ouderen thuis bezoekt."])
EENZAAMHEID_V4 = pdf_bytes("Mededeling Aanpak Eenzaamheid (versie 4)", [
    "Gedeputeerde Staten informeren Provinciale Staten over de aanpak van eenzaamheid onder ouderen in Flevoland.",
    "Na de evaluatie zijn in 2022 ook in Urk en Zeewolde buurtkamers voor ouderen geopend."])
MOTIE = pdf_bytes("Motie laaggeletterdheid", [
    "Provinciale Staten van Flevoland, in vergadering bijeen op 10 maart 2021, constaterende dat een op de acht "
    "volwassen Flevolanders moeite heeft met lezen en schrijven, verzoeken het college om samen met de bibliotheken "
    "een Taalhuis in elke gemeente te openen."])
VOORSTEL = pdf_bytes("Statenvoorstel Sportakkoord", [
    "Het college stelt voor het Sportakkoord Flevoland vast te stellen en daarvoor 1,2 miljoen euro beschikbaar te stellen."])
VOORSTEL_GEWIJZIGD = pdf_bytes("Statenvoorstel Sportakkoord (gewijzigd)", [
    "Het college stelt voor het Sportakkoord Flevoland vast te stellen en daarvoor 1,5 miljoen euro beschikbaar te stellen."])
NOTUBIZ_MOTIE = pdf_bytes("Motie schuldhulpverlening", [
    "Provinciale Staten verzoeken het college om de vroegsignalering van schulden bij jongeren in Flevoland te versterken."])
PRB = (FIXTURES / "koop" / "prb-2017-1003.xml").read_bytes()


def world():
    go = GoSite()
    go.documents = {
        1: (go_document(1, "DOCUVITP-2776401-v3-Mededeling-Aanpak-Eenzaamheid.pdf", "Mededeling", "2021-03-01",
                        len(EENZAAMHEID)), EENZAAMHEID),
        2: (go_document(2, "Motie-12-CDA-ChristenUnie-Laaggeletterdheid.pdf", "Motie", "2021-03-10", len(MOTIE)), MOTIE),
        3: (go_document(3, "Besluitenlijst-PS-24-juni-2021.pdf", "Besluitenlijst", "2021-06-25", len(BESLUITENLIJST)),
            BESLUITENLIJST),
        4: (go_document(4, "Motie-laaggeletterdheid.pdf", "Motie", "2021-03-10", len(MOTIE)), MOTIE),
        5: (go_document(5, "Statenvoorstel-Sportakkoord.pdf", "Statenvoorstel", "2021-06-01", len(VOORSTEL)), VOORSTEL),
    }
    go.meetings = {
        10: go_meeting(10, "2021-03-10", "Provinciale Staten", [go_item(101, "5.", "Mededeling eenzaamheid", [1]),
                                                                go_item(102, "6.", "Motie laaggeletterdheid", [2])]),
        11: go_meeting(11, "2021-06-24", "Provinciale Staten", [go_item(111, "3.", "Ingekomen stukken", [1, 4]),
                                                                go_item(112, "7.", "Sportakkoord", [5])], [3]),
    }
    notubiz = NotubizSite()
    notubiz.motions = [notubiz_motion(1, "Motie vroegsignalering schulden jongeren", "2022-05-11", "Motie",
                                      "CDA, GroenLinks", "aangenomen", 77)]
    notubiz.files = {"77/1": NOTUBIZ_MOTIE, "88/1": MOTIE}
    notubiz.events = [{"id": 5, "permission_group": "public"}]  # the GO motion again, in the other system
    notubiz.meetings = {5: notubiz_meeting(5, "2021-03-10", "Provinciale Staten", [], [
        ("Motie laaggeletterdheid", [notubiz_document(88, "Motie laaggeletterdheid", "Motie-laaggeletterdheid.pdf",
                                                      doc_type="Motie")])])}
    koop = SruSite({"prb-2024-1003": ("Bekendmaking TUG-ontheffing", "2024-02-01", "2024-02-02", PRB)})
    return go, notubiz, koop


def sync_config(path: Path, url: str, timeout: float = 5) -> Path:
    path.write_text(f"""
[settings]
rate_limit = 0
retries = 3
backoff = 0.01
timeout = {timeout}

[[source]]
name = "go"
type = "go"
base_url = "{url}/go"
page_size = 1

[[source]]
name = "notubiz"
type = "notubiz"
base_url = "{url}/notubiz"
organisation_id = 2163

[[source]]
name = "prb"
type = "koop"
base_url = "{url}/koop/sru"
creator = "Flevoland"
""", encoding="utf-8")
    return path


@pytest.fixture
def server():
    go, notubiz, koop = world()
    with SourceServer() as server:
        for site in (go, notubiz, koop):
            site.install(server)
        server.go = go
        yield server


def downloads(server) -> int:
    return sum(n for path, n in server.hits.items() if "/download" in path or "/document/" in path or "/frbr/" in path)


def test_sync_twice_fetches_and_embeds_nothing_the_second_time(server, tmp_path):
    kb = KnowledgeBase(Config.load(index_dir=tmp_path / "indexes"))
    config = sync_config(tmp_path / "sync.toml", server.url)
    first = kb.sync(config, progress=False)
    assert first.ok, first.to_dict()
    assert first.sources["go"].listed == 5 and first.sources["notubiz"].listed == 2 and first.sources["prb"].listed == 1
    assert first.documents == 6 and first.duplicates == 2  # GO's documents 2 and 4 and Notubiz's 88 are one file
    assert len(first.ingest["added"]) == 6 and first.ingest["chunks_embedded"] > 0
    fetched = downloads(server)
    second = kb.sync(config, progress=False)
    assert second.ok and downloads(server) == fetched  # nothing downloaded again
    assert sum(s.downloaded for s in second.sources.values()) == 0
    assert second.ingest["chunks_embedded"] == second.ingest["chunks_written"] == 0
    assert len(second.ingest["unchanged"]) == 6

    # One file under two agenda items, and one under two ids: indexed once, citing every place it hangs.
    hit = kb.search("buurtkamers voor eenzame ouderen", top_k=1)[0]
    origins = json.loads(hit.meta["origins"])
    assert hit.meta["docuvitp"] == "2776401" and hit.meta["doc_type"] == "mededeling"
    assert {o.get("agenda_item") for o in origins} == {"5. Mededeling eenzaamheid", "3. Ingekomen stukken"}
    motie = kb.search("Taalhuis bibliotheken laaggeletterdheid", top_k=1)[0]
    origins = json.loads(motie.meta["origins"])
    assert sorted((o["source"], o["id"]) for o in origins) == [("go", "2"), ("go", "4"), ("notubiz", "88")]
    assert motie.meta["doc_id"] == "go/2.pdf"  # the first configured source names a shared document


@pytest.mark.parametrize("table, message", [
    ('name = "x"\ntype = "sharepoint"', "heeft type 'sharepoint'; kies uit"),
    ('name = "x"\ntype = "go"', "bron 'x': instelling 'base_url' ontbreekt"),
    ('name = "x"\ntype = "go"\nbase_url = "http://127.0.0.1:9"\npagesize = 5', "onbekende instelling(en) pagesize"),
    ('name = "Flevo land"\ntype = "go"\nbase_url = "http://127.0.0.1:9"', "bronnaam 'Flevo land'"),
])
def test_configuration_mistakes_are_named(tmp_path, kb_main, table, message):
    config = tmp_path / "sync.toml"
    config.write_text(f"[[source]]\n{table}\n", encoding="utf-8")
    code, out, err = kb_main("--index-dir", tmp_path / "indexes", "sync", "--config", config)
    assert code == 2 and message in err and out == ""


def test_an_unreachable_source_is_reported_and_keeps_its_documents(server, tmp_path, kb_main):
    index = tmp_path / "indexes"
    config = sync_config(tmp_path / "sync.toml", server.url)
    assert KnowledgeBase(Config.load(index_dir=index)).sync(config, progress=False).ok
    config.write_text(config.read_text().replace(f"{server.url}/go", "http://127.0.0.1:9/go"))  # nothing listens
    code, out, err = kb_main("--index-dir", index, "sync", "--config", config, "--source", "go", "--json")
    report = json.loads(out)
    assert code == 3 and "lijst ophalen mislukt: verbinding mislukt" in report["sources"]["go"]["error"]
    assert report["ingest"]["removed"] == [] and len(report["ingest"]["unchanged"]) == 6


def test_changed_new_version_and_removed_documents(server, tmp_path):
    kb = KnowledgeBase(Config.load(index_dir=tmp_path / "indexes"))
    config = sync_config(tmp_path / "sync.toml", server.url)
    assert kb.sync(config, progress=False).ok
    go = server.go
    go.documents[5] = (go_document(5, "Statenvoorstel-Sportakkoord.pdf", "Statenvoorstel", "2021-06-02",
                                   len(VOORSTEL_GEWIJZIGD)), VOORSTEL_GEWIJZIGD)
    go.documents[6] = (go_document(6, "DOCUVITP-2776401-v4-Mededeling-Aanpak-Eenzaamheid.pdf", "Mededeling",
                                   "2022-03-01", len(EENZAAMHEID_V4)), EENZAAMHEID_V4)
    go.meetings[11]["items"].append(go_item(113, "8.", "Mededeling eenzaamheid, nieuwe versie", [6]))
    go.meetings[10]["items"].pop(1)  # the motion's first agenda item is gone; it still hangs under item 3 (as id 4)
    del go.documents[2]
    before = downloads(server)
    report = kb.sync(config, progress=False)
    assert report.ok, report.to_dict()
    assert downloads(server) - before == 2 and report.sources["go"].downloaded == 2  # only the changed and the new
    assert report.sources["go"].removed == 1
    # Version 4 of DOCUVITP 2776401 replaces version 3 in the same document; the motion keeps its id, with
    # one origin less (its metadata changed, its text did not).
    assert report.ingest["updated"] == ["go/1.pdf", "go/2.pdf", "go/5.pdf"] and not report.ingest["added"]
    assert not report.ingest["removed"]
    assert [o["id"] for o in json.loads(kb.search("Taalhuis bibliotheken", top_k=1)[0].meta["origins"])] == ["4", "88"]
    hits = kb.search("buurtkamers eenzaamheid ouderen", top_k=10)
    eenzaamheid = [h for h in hits if h.meta.get("docuvitp") == "2776401"]
    assert {h.meta["doc_id"] for h in eenzaamheid} == {"go/1.pdf"} and "Urk en Zeewolde" in eenzaamheid[0].text
    assert not [h for h in hits if "250.000 euro" in h.text]
    urls = {o["url"] for o in json.loads(eenzaamheid[0].meta["origins"])}
    assert urls == {f"{server.url}/go/api/v2/documents/{i}/download" for i in (1, 6)}  # every URL remembered
    assert "1,5 miljoen" in kb.search("Sportakkoord miljoen", top_k=1)[0].text
    assert all("1,2 miljoen" not in h.text for h in kb.search("Sportakkoord miljoen", top_k=10))

    go.meetings[11]["items"] = [i for i in go.meetings[11]["items"] if i["id"] != 112]  # the proposal is withdrawn
    report = kb.sync(config, progress=False)
    assert report.ingest["removed"] == ["go/5.pdf"] and report.ingest["chunks_embedded"] == 0
    assert all(h.meta["doc_id"] != "go/5.pdf" for h in kb.search("Sportakkoord miljoen", top_k=10))


def test_failures_are_named_retried_and_keep_the_previous_version(server, tmp_path, kb_main):
    index = tmp_path / "indexes"
    config = sync_config(tmp_path / "sync.toml", server.url, timeout=0.5)
    assert KnowledgeBase(Config.load(index_dir=index)).sync(config, progress=False).ok
    go = server.go
    for i, data in ((5, VOORSTEL_GEWIJZIGD), (1, EENZAAMHEID_V4)):
        go.documents[i] = (go.documents[i][0] | {"fileSize": len(data)}, data)
    go.documents[7] = (go_document(7, "Notitie.pdf", "Notitie", "2021-07-01", 10), MOTIE)
    go.meetings[11]["items"].append(go_item(114, "9.", "Notitie", [7]))
    api = "/go/api/v2/documents"
    server.script(f"{api}/5/download", Reply(500), Reply(502))  # transient, then the real file
    server.script(f"{api}/1/download", *[Reply(200, b"x", delay=2.0)] * 3)  # times out on every attempt
    server.script(f"{api}/7/download", Reply(200, b"<!DOCTYPE html><html>Niet gevonden</html>", "text/html"),
                  Reply(200, b"<!DOCTYPE html><html>Niet gevonden</html>", "text/html"))
    server.route("/notubiz/document/77/1", lambda q, b: Reply(404, b"Not Found", "text/plain"))
    go.documents[5] = (go.documents[5][0] | {"publicationDate": {"date": "2021-06-03 00:00:00"}}, VOORSTEL_GEWIJZIGD)
    server.hits.clear()
    code, out, err = kb_main("--index-dir", index, "sync", "--config", config, "--json")
    report = json.loads(out)
    assert code == 3 and not report["ok"]
    failed = {f["id"]: f["reason"] for f in report["failures"]}
    assert "time-out; 3 pogingen" in failed["1"] and "geen PDF: de server stuurde een HTML-pagina" in failed["7"]
    assert server.hits[f"{api}/5/download"] == 3 and "5" not in failed  # 500, 502, then the file
    assert report["ingest"]["updated"] == ["go/5.pdf"]
    notubiz_motion_id = "motie-1"
    assert notubiz_motion_id not in failed  # unchanged: not fetched, so its 404 now is not seen
    kb = KnowledgeBase(Config.load(index_dir=index))
    assert "250.000 euro" in kb.search("vrijwilligers eenzame ouderen bezoek", top_k=1)[0].text  # old version kept
    assert not [h for h in kb.search("Notitie", top_k=20) if h.meta["doc_id"] == "go/7.pdf"]


def test_a_killed_sync_ends_like_an_uninterrupted_one(server, tmp_path):
    config = sync_config(tmp_path / "sync.toml", server.url)
    reference = tmp_path / "reference"
    start = time.monotonic()
    subprocess.run([KB, "--index-dir", str(reference), "sync", "--config", str(config), "--json"], cwd=ROOT,
                   check=True, capture_output=True)
    duration = time.monotonic() - start
    expected = snapshot(reference)
    seed = random.randrange(10_000)
    print(f"kill seed {seed}, uninterrupted sync {duration:.1f} s")
    rng = random.Random(seed)
    for n in range(3):
        index = tmp_path / f"killed-{n}"
        process = subprocess.Popen([KB, "--index-dir", str(index), "sync", "--config", str(config)], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 0.95) * duration)
        process.send_signal(signal.SIGKILL)
        process.wait()
        out = subprocess.run([KB, "--index-dir", str(index), "sync", "--config", str(config), "--json"], cwd=ROOT,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert snapshot(index) == expected


@pytest.fixture(scope="module")
def besluitenlijst_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("besluiten") / "stukken"
    folder.mkdir()
    (folder / "Besluitenlijst-raadsvergadering-29-juni-2015.pdf").write_bytes(BESLUITENLIJST)
    (folder / "manifest.toml").write_text('["Besluitenlijst-raadsvergadering-29-juni-2015.pdf"]\n'
                                          'title = "Besluitenlijst raadsvergadering 29 juni 2015"\n'
                                          'doc_type = "besluitenlijst"\ndate = "2015-06-29"\n', encoding="utf-8")
    index = tmp_path_factory.mktemp("besluiten-index") / "indexes"
    kb = KnowledgeBase(Config.load(index_dir=index))
    assert not kb.ingest([folder], progress=False).failed
    return index


def test_the_den_helder_besluitenlijst_yields_decisions_with_outcomes(besluitenlijst_index, kb_main):
    code, out, _ = kb_main("--index-dir", besluitenlijst_index, "decisions", "--json")
    decisions = json.loads(out)["decisions"]
    assert code == 0 and len(decisions) >= 12
    amendment = next(d for d in decisions if d["reference"] == "A8.1")
    assert (amendment["kind"], amendment["outcome"], amendment["submitters"]) == ("amendement", "aangenomen", ["ChristenUnie"])
    assert amendment["against"] == ["CDA", "Helder Onafhankelijk!", "PvdA", "VVD"] and amendment["page"] == 2
    held = next(d for d in decisions if d["reference"] == "A9.1")
    assert held["outcome"] == "aangehouden" and held["submitters"] == ["D66", "CDA"]
    motion = next(d for d in decisions if d["kind"] == "motie")
    assert motion["outcome"] == "aangenomen" and "16 stemmen voor en 14 stemmen tegen" in motion["vote"]
    assert "GroenLinks" in motion["submitters"] and "VVD" in motion["against"] and motion["page"] == 4
    code, out, _ = kb_main("--index-dir", besluitenlijst_index, "decisions", "--party", "d66", "--json")
    assert [d["reference"] for d in json.loads(out)["decisions"]] == ["A9.1"]
    code, out, _ = kb_main("--index-dir", besluitenlijst_index, "decisions", "--outcome", "verworpen")
    assert code == 0 and "Geen besluiten gevonden" in out


def test_a_question_about_the_besluitenlijst_gets_a_cited_answer(besluitenlijst_index):
    kb = KnowledgeBase(Config.load(index_dir=besluitenlijst_index))
    answer = kb.ask("Welk besluit nam de raad over de Verordening op de kamerverhuurpanden?")
    assert answer.citations and "kamerverhuurpanden" in answer.answer
    cited = answer.citations[0]
    assert cited["title"] == "Besluitenlijst raadsvergadering 29 juni 2015" and cited["page"] == 2
    assert all(collapse(q) in collapse(cited["passage"]) for q in cited["quotes"])
    hits = kb.search("amendement GGD", filters=Filters(outcome="aangenomen", party="ChristenUnie"))
    assert hits and all(h.meta.get("outcome_aangenomen") == 1 for h in hits)
    assert not kb.search("amendement GGD", filters=Filters(outcome="verworpen"))


def _two_documents(kind: str, server, texts: dict) -> tuple[str, callable, callable]:
    """A site of `kind` holding documents a and b with these texts: (source table, change(name, text), delete(name))."""
    if kind == "notubiz":
        site = NotubizSite(events=[{"id": 5, "permission_group": "public"}])
        docs = {n: notubiz_document(i, f"Stuk {n}", f"Stuk-{n}.pdf") for i, n in enumerate(texts, 1)}
        site.files = {f"{docs[n]['id']}/1": pdf_bytes(f"Stuk {n}", [t]) for n, t in texts.items()}
        site.meetings = {5: notubiz_meeting(5, "2022-01-10", "Provinciale Staten", [], [("Stukken", list(docs.values()))])}

        def change(name, text):
            docs[name]["last_modified"] = "2022-02-01 09:00:00"
            site.files[f"{docs[name]['id']}/1"] = pdf_bytes(f"Stuk {name}", [text])
        delete = lambda name: site.meetings[5]["agenda_items"][0]["documents"].remove(docs[name])
        table = f'type = "notubiz"\nbase_url = "{server.url}/notubiz"\norganisation_id = 2163\nmotions = false'
    elif kind == "ori":
        site = OriSite({n: ori_document(n, f"Stuk {n}", "2022-01-10", [t], "2022-01-01") for n, t in texts.items()})

        def change(name, text):
            site.documents[name].update(text=[text], date_modified="2022-02-01")
        delete = lambda name: site.documents.pop(name)
        table = f'type = "ori"\nbase_url = "{server.url}/ori"\nindex = "osi_flevoland"\npage_size = 1'
    else:
        xml = lambda t: f"<officiele-publicatie><provinciaalblad><kop><titel>Besluit</titel></kop><tekst><al>{t}</al>" \
                        f"</tekst></provinciaalblad></officiele-publicatie>".encode()
        site = SruSite({n: (f"Stuk {n}", "2024-01-10", "2024-01-10", xml(t)) for n, t in texts.items()})

        def change(name, text):
            site.records[name] = (f"Stuk {name}", "2024-01-10", "2024-02-01", xml(text))
        delete = lambda name: site.records.pop(name)
        table = f'type = "koop"\nbase_url = "{server.url}/koop/sru"\ncreator = "Flevoland"\npage_size = 1'
    site.install(server)
    return table, change, delete


@pytest.mark.parametrize("kind", ["notubiz", "ori", "koop"])
def test_each_source_sees_changed_and_deleted_items(kind, tmp_path):
    texts = {"a": "De provincie opent een Taalhuis in Urk voor laaggeletterde volwassenen.",
             "b": "Het Sportakkoord Flevoland krijgt 1,2 miljoen euro voor buurtsportcoaches."}
    with SourceServer() as server:
        table, change, delete = _two_documents(kind, server, texts)
        config = tmp_path / "sync.toml"
        config.write_text(f"[settings]\nrate_limit = 0\nbackoff = 0.01\n\n[[source]]\nname = \"bron\"\n{table}\n")
        kb = KnowledgeBase(Config.load(index_dir=tmp_path / "indexes"))
        first = kb.sync(config, progress=False)
        assert first.ok and first.sources["bron"].listed == 2 and len(first.ingest["added"]) == 2, first.to_dict()
        change("a", "De provincie opent een Taalhuis in Emmeloord voor laaggeletterde volwassenen.")
        delete("b")
        second = kb.sync(config, progress=False)
        assert second.ok and second.sources["bron"].downloaded == 1 and second.sources["bron"].removed == 1
        assert len(second.ingest["updated"]) == 1 and len(second.ingest["removed"]) == 1
        assert "Emmeloord" in kb.search("Taalhuis laaggeletterde volwassenen", top_k=1)[0].text
        assert not [h for h in kb.search("Sportakkoord buurtsportcoaches", top_k=5) if "Sportakkoord" in h.text]


def test_a_restricted_source_stays_restricted(server, tmp_path):
    config = sync_config(tmp_path / "sync.toml", server.url)
    config.write_text(config.read_text().replace('name = "prb"', 'name = "prb"\naccess = "besloten"'))
    kb = KnowledgeBase(Config.load(index_dir=tmp_path / "indexes"))
    assert kb.sync(config, progress=False).ok
    question = "TUG-ontheffing helikopter Neerzeldertseweg"
    assert kb.search(question, top_k=1)[0].meta["doc_id"].startswith("prb/")  # the operator sees everything
    public = kb.search(question, top_k=10, filters=Filters(groups=()))
    assert public and all(not h.meta["doc_id"].startswith("prb/") for h in public)
    allowed = kb.search(question, top_k=1, filters=Filters(groups=("besloten",)))
    assert allowed[0].meta["doc_id"].startswith("prb/")
    assert kb.decisions(groups=()) and all(d["doc_id"] != "prb/prb-2024-1003.txt" for d in kb.decisions(groups=()))
