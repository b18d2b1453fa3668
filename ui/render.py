"""Render answers, sources, the programme-line overview and the document list as HTML or Markdown.

Every text that comes from a document or a file name is escaped: it is shown as text, never run.
Answers link each marker [n] to its source in the sources panel (`#bron-<turn>-<n>`); the sources show the
passage with the sentences that support the answer highlighted, and a link to the original.
"""
from __future__ import annotations

import html
import re
from urllib.parse import quote

from kb.answer import Answer
from kb.sentences import collapse

DOCUMENT_ROUTE = "/bron/"  # serves the indexed file behind a doc_id (ui.app)
KIND_LABELS = {"besluit": "Besluit", "resultaat": "Resultaat", "activiteit": "Activiteit", "voornemen": "Voornemen"}


def filters_label(line_name: str | None, doc_type: str | None, years: tuple[int, int] | None) -> str:
    """'Toekomstbestendige gezondheidszorg, 2020–2022', or 'alle documenten' without filters."""
    parts = [p for p in (line_name, doc_type) if p]
    if years:
        lo, hi = years
        parts.append(str(lo) if lo == hi else f"{lo or '…'}–{hi if hi < 9999 else '…'}")
    return ", ".join(parts) or "alle documenten"


def user_markdown(question: str) -> str:
    """The user's own question, shown as typed (no Markdown, no HTML, no images fetched)."""
    return _md_escape(question)


def answer_markdown(answer: Answer, searched_in: str, turn: int = 1) -> str:
    """The chat message: the answer with clickable markers (to `#bron-<turn>-<n>`), what was searched,
    and a short source list."""
    text = _md_escape(answer.answer)
    text = re.sub(r"\\\[(\d+)\\\]", lambda m: f"[[{m.group(1)}]](#bron-{turn}-{m.group(1)})", text)
    lines = [text, "", f"*Gezocht in: {_md_escape(searched_in)}*"]
    if answer.query and answer.query != answer.question:
        lines.append(f"*Opgevat als vervolgvraag: “{_md_escape(answer.query)}”*")
    if answer.citations:
        lines.append("")
        lines += [f"{c['n']}. {_md_escape(c['title'] or c['doc_id'])}{_md_escape(_where(c))}" for c in answer.citations]
    return "\n".join(lines)


EMPTY_SOURCES = '<div class="kb-sources kb-empty">Stel een vraag; de bronnen van het antwoord verschijnen hier.</div>'


def sources_panel(sections: list[str]) -> str:
    """The sources of every answer in the conversation, newest first, so older markers keep their source."""
    return "".join(reversed(sections)) if sections else EMPTY_SOURCES


def _provenance(c: dict) -> str:
    """Outcome and parties of a motion, and every meeting and agenda item the document was found under."""
    lines = []
    if c.get("outcome"):
        by = f", ingediend door {', '.join(c.get('parties', []))}" if c.get("parties") else ""
        lines.append(f"Uitkomst: {c['outcome']}{by}")
    for o in c.get("origins", []):
        where = ", ".join(v for v in (o.get("meeting"), o.get("agenda_item") and f"agendapunt {o['agenda_item']}") if v)
        lines.append(f"Gevonden bij: {where or o.get('source', '')}")
    return "".join(f'<div class="kb-meta kb-origin">{html.escape(line)}</div>' for line in lines)


def sources_html(answer: Answer | None, document_link, turn: int = 1) -> str:
    """The sources of one answer: a card per citation, id `bron-<turn>-<n>`, the supporting sentences in <mark>."""
    if answer is None:
        return EMPTY_SOURCES
    heading = f'<h4 class="kb-turn">Vraag {turn}: {html.escape(answer.question)}</h4>'
    if not answer.citations:
        return (f'<section class="kb-sources" data-turn="{turn}">{heading}<p class="kb-empty">Geen bronnen: de '
                f'documenten geven geen antwoord op deze vraag.</p></section>')
    cards = []
    for c in answer.citations:
        meta = " · ".join(html.escape(str(v)) for v in (c.get("doc_type"), c.get("date")) if v)
        link = document_link(c)
        cards.append(
            f'<article class="kb-source" id="bron-{turn}-{c["n"]}" data-n="{c["n"]}" data-doc="{html.escape(c["doc_id"])}"'
            f' data-lines="{html.escape(",".join(c.get("programme_lines", [])))}">'
            f'<header><span class="kb-n">[{c["n"]}]</span> <strong>{html.escape(c["title"] or c["doc_id"])}</strong>'
            f'<div class="kb-meta">{meta}</div>'
            f'<div class="kb-meta">{html.escape(c.get("section") or "")}{html.escape(_page(c))}</div>'
            f'{_provenance(c)}</header>'
            f'<blockquote class="kb-passage">{highlight(c.get("passage", ""), c.get("quotes", []))}</blockquote>'
            + (f'<a class="kb-link" href="{html.escape(link)}" target="_blank" rel="noopener">{_link_label(c, link)}'
               f'</a>' if link else "")
            + "</article>")
    return f'<section class="kb-sources" data-turn="{turn}">{heading}' + "".join(cards) + "</section>"


def _link_label(c: dict, link: str) -> str:
    if ".pdf" in link.lower():
        return f"Open de PDF{html.escape(_page(c))}"
    return "Open het origineel" if c.get("url") else "Open de geïndexeerde tekst"


def highlight(passage: str, quotes: list[str]) -> str:
    """The passage (whitespace collapsed, escaped) with each quoted sentence in <mark>."""
    text = collapse(passage)
    spans = []
    for sentence in quotes:
        start = text.find(sentence)
        if start >= 0:
            spans.append((start, start + len(sentence)))
    out, at = [], 0
    for start, end in sorted(spans):
        if start < at:
            continue
        out += [html.escape(text[at:start]), f"<mark>{html.escape(text[start:end])}</mark>"]
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out)


def document_href(citation: dict, has_file: bool) -> str:
    """The original's URL when known, else the app's copy of the indexed file; PDFs open at the page."""
    base = citation.get("url") or (DOCUMENT_ROUTE + quote(citation["doc_id"]) if has_file else "")
    if base and citation.get("page") and (base.lower().endswith(".pdf") or citation["doc_id"].lower().endswith(".pdf")):
        base += f"#page={citation['page']}"
    return base


def decisions_html(decisions: list[dict], document_link) -> str:
    """Decisions (kb decisions) as a list: date, kind and reference, outcome and vote, parties, the decision's
    own words and a link to the page of the list it is on. Everything from documents is escaped."""
    if not decisions:
        return '<p class="kb-empty">Geen besluiten gevonden met deze filters.</p>'
    items = []
    for d in decisions:
        head = " ".join(filter(None, [d["date"], d["kind"], d.get("reference")]))
        vote = f" ({d['vote']})" if d.get("vote") else ""
        parties = "".join(f"<div class=\"kb-meta\">{label}: {html.escape(', '.join(d[key]))}</div>"
                          for key, label in (("submitters", "Ingediend door"), ("in_favour", "Voor"),
                                             ("against", "Tegen")) if d.get(key))
        link = document_link(d)
        source = html.escape(f"{d['title']}{_page(d)}")
        source = f'<a href="{html.escape(link)}" target="_blank" rel="noopener">{source}</a>' if link else source
        items.append(f'<li class="kb-decision" data-outcome="{html.escape(d["outcome"])}">'
                     f'<strong>{html.escape(head)}: {html.escape(d["outcome"])}{html.escape(vote)}</strong>'
                     f'<div class="kb-meta">{html.escape(" ".join(filter(None, [d["number"] and d["number"] + ".", d["agenda_item"]])))}</div>'
                     f'{parties}<blockquote class="kb-passage">{html.escape(collapse(d["text"]))}</blockquote>'
                     f'<div class="kb-meta">Bron: {source}</div></li>')
    return f'<ul class="kb-decisions">{"".join(items)}</ul>'


def overview_html(overviews: list, document_link) -> str:
    """Per programme line a dated list of items, each with its source."""
    if not overviews:
        return '<div class="kb-empty">Geen programmalijnen in de index.</div>'
    sections = []
    for line in overviews:
        items = []
        for item in line.items:
            c = item.citation
            link = document_link(c)
            source = html.escape(f"{c['title']}{_where(c)}")
            source = f'<a href="{html.escape(link)}" target="_blank" rel="noopener">{source}</a>' if link else source
            items.append(f'<li class="kb-item" data-year="{item.year}"><time>{html.escape(item.date)}</time> '
                         f'<span class="kb-kind kb-{item.kind}">{KIND_LABELS.get(item.kind, item.kind)}</span> '
                         f'{html.escape(item.text)} <span class="kb-item-source">Bron: {source}</span></li>')
        body = (f'<ol class="kb-items">{"".join(items)}</ol>' if items else
                '<p class="kb-empty">Geen gedateerde activiteiten gevonden in de geïndexeerde documenten.</p>')
        sections.append(f'<section class="kb-line" data-line="{html.escape(line.id)}">'
                        f'<h3>{html.escape(line.name)} <small>({len(line.items)} items)</small></h3>'
                        f'<p class="kb-meta">{html.escape(line.description)}</p>{body}</section>')
    return '<div class="kb-overview">' + "".join(sections) + "</div>"


def error_banner(message: str) -> str:
    """A Dutch error message as a banner; `commands` in it are shown as code."""
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(message))
    return f'<div class="kb-banner kb-error">{escaped}</div>'


def _where(c: dict) -> str:
    section = c.get("section") or ""
    return (f" — {section}" if section else "") + _page(c)


def _page(c: dict) -> str:
    return f", p. {c.get('page_label') or c['page']}" if c.get("page") else ""


def _md_escape(text: str) -> str:
    """Markdown and HTML in document text are shown literally: HTML as entities, Markdown backslash-escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+!|~])", r"\\\1", html.escape(text, quote=False))
