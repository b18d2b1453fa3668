"""The Gradio app: chat with cited sources, an overview per programme line, and the indexed documents.

A thin layer over `kb.api.KnowledgeBase`; started by `kb serve` (or `python -m ui.app`).
Runs on 127.0.0.1 by default; no request leaves the machine (analytics off, system fonts,
no share link). Besides the page, two API endpoints for `gradio_client`:

    >>> from gradio_client import Client
    >>> Client("http://127.0.0.1:7860/").predict("Wanneer is WEL in Flevoland gestart?", api_name="/vraag")["answer"]

and `/bron/<doc_id>` serves the indexed file behind a citation (only files in the index).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import gradio as gr
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse
from starlette.routing import Mount

from kb.access import Users
from kb.api import KnowledgeBase
from kb.conversation import needs_context
from kb.decisions import OUTCOMES
from kb.errors import IndexMissing, ModelMismatch, StoreUnavailable
from kb.retrieve import Filters
from kb.tag import load_programme_lines
from ui import render
from ui.limits import BodyLimit

log = logging.getLogger("kb.ui")
MAX_QUESTION = 1000  # characters
MAX_PREVIOUS = 50  # earlier questions an API call may send (only the last ones matter for a follow-up)
ALL = ""  # the dropdowns' "no filter" value
MAX_TABLE_ROWS = 1000  # documents shown at once; the search box narrows a larger index
DOCUMENT_COLUMNS = ["document", "titel", "type", "datum", "programmalijnen", "passages"]
CSS = (Path(__file__).parent / "style.css").read_text(encoding="utf-8")
# Clicking a marker [n] in an answer scrolls to source n and flashes it (Markdown links would
# otherwise open the page again in a new tab).
JS = """() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[href^="#bron-"]');
    if (!link) return;
    event.preventDefault(); event.stopPropagation();
    const card = document.getElementById(link.getAttribute('href').slice(1));
    if (!card) return;
    document.querySelectorAll('.kb-source.kb-active').forEach((c) => c.classList.remove('kb-active'));
    card.classList.add('kb-active');
    card.scrollIntoView({behavior: 'smooth', block: 'center'});
  }, true);
}"""


class App:
    """The handlers behind the page; each turns a library error into a clear Dutch message."""

    def __init__(self, kb: KnowledgeBase, users: Users | None = None):
        self.kb, self.users = kb, users
        self.lines = {line.id: line.name for line in load_programme_lines(kb.config.programme_lines)}

    def groups(self, request: gr.Request | None) -> tuple[str, ...]:
        """The groups of the user behind `request` (kb.access). Without a users file, or without a known
        user, that is (): public documents only. Never None (no restriction) in the app."""
        if self.users is None or request is None:
            return ()
        return self.users.groups(getattr(request, "username", None))

    # --- chat -------------------------------------------------------------------------------------
    def ask(self, question: str, line: str = ALL, doc_type: str = ALL, year_from=None, year_to=None,
            previous: list[str] | None = None, groups: tuple[str, ...] = ()):
        """(Answer, 'gezocht in' label); raises gr.Error with a Dutch message on bad input or a broken index."""
        question = (question or "").strip()
        if not question:
            raise gr.Error("Typ eerst een vraag.")
        if len(question) > MAX_QUESTION:
            raise gr.Error(f"De vraag is te lang ({len(question)} tekens); het maximum is {MAX_QUESTION}.")
        if previous is not None and not (isinstance(previous, list) and all(isinstance(q, str) for q in previous)):
            raise gr.Error("'eerdere_vragen' moet een lijst van vragen (teksten) zijn, oudste eerst.")
        if previous and (len(previous) > MAX_PREVIOUS or any(len(q) > MAX_QUESTION for q in previous)):
            raise gr.Error(f"'eerdere_vragen' mag hoogstens {MAX_PREVIOUS} vragen van elk hoogstens {MAX_QUESTION} "
                           f"tekens bevatten.")
        filters = self._filters(line, doc_type, year_from, year_to, groups)
        answer = self._guard(lambda: self.kb.ask(question, filters, previous=previous or []))
        return answer, render.filters_label(self.lines.get(filters.programme_line), doc_type, filters.years())

    def chat(self, question, history, previous, panels, line, doc_type, year_from, year_to,
             request: gr.Request = None):
        """Chat submit: (textbox, history, previous questions, source sections, sources panel)."""
        groups = self.groups(request)
        history, previous, panels = list(history or []), list(previous or []), list(panels or [])
        shown = {"role": "user", "content": render.user_markdown(question or "")}
        try:
            if (question or "").strip() and not previous and needs_context(question):
                raise gr.Error("Dit lijkt een vervolgvraag, maar er is nog geen eerdere vraag in dit gesprek. "
                               "Stel de volledige vraag.")
            answer, searched_in = self.ask(question, line, doc_type, year_from, year_to, previous, groups)
        except gr.Error as exc:
            history += [shown, {"role": "assistant", "content": f"⚠️ {render.user_markdown(exc.message)}"}]
            return "", history, previous, panels, render.sources_panel(panels)
        turn = len(panels) + 1
        history += [shown, {"role": "assistant", "content": render.answer_markdown(answer, searched_in, turn)}]
        panels.append(render.sources_html(answer, lambda c: self.link(c, groups), turn))
        return "", history, [*previous, answer.query], panels, render.sources_panel(panels)

    def api_ask(self, vraag: str, programmalijn: str = "", documenttype: str = "", vanaf_jaar: int | None = None,
                tot_en_met_jaar: int | None = None, eerdere_vragen: list[str] | None = None,
                request: gr.Request = None) -> dict:
        """Beantwoord een vraag: het antwoord met [n]-markeringen, de bronnen (met passage) en wat er gezocht is."""
        groups = self.groups(request)
        answer, searched_in = self.ask(vraag, programmalijn, documenttype, vanaf_jaar, tot_en_met_jaar,
                                       eerdere_vragen, groups)
        data = answer.to_dict()
        del data["hits"]
        for c in data["citations"]:
            c["link"] = self.link(c, groups)
        return {**data, "searched_in": searched_in}

    def api_search(self, vraag: str, aantal: int = 10, programmalijn: str = "", documenttype: str = "",
                   vanaf_jaar: int | None = None, tot_en_met_jaar: int | None = None,
                   request: gr.Request = None) -> list[dict]:
        """Zoek passages (hybride zoeken), best passende eerst."""
        if not (vraag or "").strip():
            raise gr.Error("Typ eerst een zoekvraag.")
        if len(vraag) > MAX_QUESTION:
            raise gr.Error(f"De zoekvraag is te lang ({len(vraag)} tekens); het maximum is {MAX_QUESTION}.")
        if isinstance(aantal, bool) or not isinstance(aantal, int) or not 1 <= aantal <= 1000:
            raise gr.Error(f"'aantal' moet een geheel getal van 1 tot en met 1000 zijn, niet {aantal!r}.")
        filters = self._filters(programmalijn, documenttype, vanaf_jaar, tot_en_met_jaar, self.groups(request))
        return [h.to_dict() for h in self._guard(lambda: self.kb.search(vraag, top_k=aantal, filters=filters))]

    def _filters(self, line, doc_type, year_from, year_to, groups: tuple[str, ...] = ()) -> Filters:
        """Filters from the page or the API; a programme line by id or by name ("Leefbaar platteland")."""
        by_name = {name.lower(): id_ for id_, name in self.lines.items()}
        line = by_name.get((line or "").strip().lower(), line)
        if doc_type:  # checked here against the readable documents, so the message names no restricted type
            readable = {d["doc_type"] for d in self._guard(lambda: self.kb.documents(tuple(groups)))}
            if doc_type not in readable:
                raise gr.Error(f"Documenttype '{doc_type}' komt niet voor in de index. "
                               f"Kies uit: {', '.join(sorted(readable))}.")
        return Filters(programme_line=line or None, doc_type=doc_type or None, year_from=_year(year_from),
                       year_to=_year(year_to), groups=tuple(groups))

    def link(self, citation: dict, groups: tuple[str, ...] = ()) -> str:
        path = self.kb.document_path(citation["doc_id"], groups)
        return render.document_href(citation, has_file=bool(path and path.is_file()))

    # --- page load, overview, documents ---------------------------------------------------------
    def load(self, request: gr.Request = None):
        """On page load: filter choices, index status and document table (the overview loads on its own)."""
        groups = self.groups(request)
        try:
            stats = self._guard(lambda: self.kb.stats(groups))
        except gr.Error as exc:
            banner = render.error_banner(exc.message)
            return gr.update(), gr.update(), gr.update(), banner, banner, self._documents([])
        types = sorted(stats["per_doc_type_chunks"])
        years = _year_choices(self.kb.rows(groups))
        status = (f"**{stats['documents']}** documenten, **{stats['chunks']}** passages · embeddingmodel "
                  f"`{stats['embed_model']}` · Chroma: {stats['chroma']} · laatst geïndexeerd "
                  f"{_when(stats['last_ingest'])}, laatst gewijzigd {_when(stats['last_changed'])}"
                  + (f" · de tabel toont er {MAX_TABLE_ROWS}; zoek om te verfijnen"
                     if stats["documents"] > MAX_TABLE_ROWS else ""))
        return (gr.update(choices=[("Alle documenttypen", ALL), *[(t, t) for t in types]]),
                gr.update(choices=[("—", ALL), *[(str(y), str(y)) for y in years]]),
                gr.update(choices=[("—", ALL), *[(str(y), str(y)) for y in years]]),
                "", status, self._documents(stats["document_list"], MAX_TABLE_ROWS))

    def load_overview(self, request: gr.Request = None):
        """The programme-line overview and its chart: a separate event, so a large index (tens of seconds
        at 100,000 chunks, once per index version) never holds up the chat."""
        groups = self.groups(request)
        try:
            overview = self._guard(lambda: self.kb.overview(groups))
        except gr.Error as exc:
            return _chart([]), render.error_banner(exc.message)
        return _chart(overview), render.overview_html(overview, lambda c: self.link(c, groups))

    def decisions(self, outcome: str = ALL, party: str = "", year=None, kind: str = ALL, request: gr.Request = None):
        """The decisions (moties, amendementen, besluiten) in the documents the user may read, filtered."""
        groups = self.groups(request)
        try:
            year = _year((year or "").strip())
            found = self._guard(lambda: self.kb.decisions(party=(party or "").strip() or None, year=year,
                                                           outcome=outcome or None, kind=kind or None, groups=groups))
        except gr.Error as exc:
            return render.error_banner(exc.message)
        return render.decisions_html(found[:MAX_TABLE_ROWS], lambda d: self.link(d, groups))

    def documents(self, text: str, request: gr.Request = None):
        """The document table filtered on every word typed (id, title, type, date or programme-line name)."""
        try:
            frame = self._documents(self._guard(lambda: self.kb.documents(self.groups(request))))
        except gr.Error:
            return self._documents([])
        words = (text or "").lower().split()
        rows = frame.astype(str).agg(" ".join, axis=1).str.lower()
        return frame[rows.apply(lambda row: all(w in row for w in words))].head(MAX_TABLE_ROWS)

    def _documents(self, docs: list[dict], limit: int | None = None) -> pd.DataFrame:
        docs = docs[:limit] if limit else docs
        return pd.DataFrame([{"document": d["doc_id"], "titel": d["title"], "type": d["doc_type"], "datum": d["date"],
                              "programmalijnen": ", ".join(self.lines.get(l, l) for l in d.get("programme_lines", [])),
                              "passages": d["chunks"]} for d in docs], columns=DOCUMENT_COLUMNS)

    def _guard(self, call):
        try:
            return call()
        except IndexMissing as exc:
            raise gr.Error(f"De index is nog niet gebouwd. {exc} Herlaad daarna deze pagina.") from exc
        except StoreUnavailable as exc:
            raise gr.Error(f"De zoekindex is niet bereikbaar: {exc}. Controleer of de Chroma-server draait.") from exc
        except (ModelMismatch, ValueError) as exc:
            raise gr.Error(str(exc)) from exc
        except Exception as exc:  # never a stack trace in the page; the log has it
            log.exception("onverwachte fout")
            raise gr.Error("Er ging iets mis bij het zoeken. De beheerder vindt de details in het log.") from exc


def build(kb: KnowledgeBase, users: Users | None = None) -> gr.Blocks:
    app = App(kb, users)
    line_choices = [("Alle programmalijnen", ALL), *[(name, id_) for id_, name in app.lines.items()]]
    with gr.Blocks(title="Kennisbank Krachtige Samenleving") as blocks:
        gr.Markdown("# Kennisbank Krachtige Samenleving\nVragen over het programma Krachtige Samenleving van de "
                    "provincie Flevoland, beantwoord met zinnen uit de documenten en hun bron.")
        banner = gr.HTML(elem_id="kb-banner")
        with gr.Tab("Vragen", id="vragen"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label="Gesprek", elem_id="kb-chat", height=460, buttons=["copy"],
                                         feedback_options=None, placeholder="Stel een vraag over Krachtige Samenleving.")
                    question = gr.Textbox(label="Vraag", elem_id="kb-question", max_length=MAX_QUESTION, lines=1,
                                          placeholder="Bijvoorbeeld: Wanneer is de Zorgtafel Flevoland ontstaan? (Enter om te vragen)")
                    with gr.Row():
                        send = gr.Button("Vraag", variant="primary", elem_id="kb-send")
                        clear = gr.Button("Nieuw gesprek", elem_id="kb-clear")
                with gr.Column(scale=1, min_width=220):
                    line = gr.Dropdown(line_choices, value=ALL, label="Programmalijn", elem_id="kb-filter-line")
                    doc_type = gr.Dropdown([("Alle documenttypen", ALL)], value=ALL, label="Documenttype",
                                           elem_id="kb-filter-type")
                    with gr.Row():
                        year_from = gr.Dropdown([("—", ALL)], value=ALL, label="Vanaf jaar", elem_id="kb-filter-from")
                        year_to = gr.Dropdown([("—", ALL)], value=ALL, label="Tot en met jaar", elem_id="kb-filter-to")
            gr.Markdown("### Bronnen")
            sources = gr.HTML(render.EMPTY_SOURCES, elem_id="kb-sources")
        with gr.Tab("Programmalijnen", id="programmalijnen"):
            gr.Markdown("Wat de provincie per programmalijn deed — activiteiten, besluiten en resultaten — uit de "
                        "geïndexeerde documenten, op datum, elk met een bron.")
            chart = gr.BarPlot(x="jaar", y="items", color="programmalijn", title="Items per jaar",
                               x_title="jaar", y_title="aantal items", elem_id="kb-chart", height=260)
            overview = gr.HTML('<p class="kb-empty">Het overzicht wordt opgebouwd uit de index…</p>',
                               elem_id="kb-overview")
        with gr.Tab("Documenten", id="documenten"):
            status = gr.Markdown(elem_id="kb-status")
            find = gr.Textbox(label="Zoek in de lijst", elem_id="kb-doc-search", placeholder="titel, type, jaar…")
            table = gr.Dataframe(app._documents([]), elem_id="kb-documents", interactive=False, wrap=True)

        with gr.Tab("Besluiten", id="besluiten"):
            gr.Markdown("Wat er besloten is: moties, amendementen en besluiten uit besluitenlijsten en motieregisters, "
                        "met uitkomst, stemming en partijen, elk met een bron.")
            with gr.Row():
                outcome = gr.Dropdown([("Alle uitkomsten", ALL), *[(o, o) for o in OUTCOMES]], value=ALL,
                                      label="Uitkomst", elem_id="kb-dec-outcome")
                kind = gr.Dropdown([("Alle soorten", ALL), ("motie", "motie"), ("amendement", "amendement"),
                                    ("besluit", "besluit")], value=ALL, label="Soort", elem_id="kb-dec-kind")
                party = gr.Textbox(label="Ingediend door (partij)", elem_id="kb-dec-party", max_length=60,
                                   placeholder="bijv. CDA")
                year = gr.Textbox(label="Jaar", elem_id="kb-dec-year", max_length=4, placeholder="bijv. 2021")
            decisions = gr.HTML(elem_id="kb-decisions")

        previous, panels = gr.State([]), gr.State([])  # the questions searched, the sources per answer
        chat_io = dict(fn=app.chat, inputs=[question, chatbot, previous, panels, line, doc_type, year_from, year_to],
                       outputs=[question, chatbot, previous, panels, sources], api_visibility="private")
        question.submit(**chat_io)
        send.click(**chat_io)
        reset = dict(fn=lambda: ([], [], [], render.EMPTY_SOURCES), outputs=[chatbot, previous, panels, sources],
                     api_visibility="private")
        clear.click(**reset)
        chatbot.clear(**reset)  # the chat's own bin icon starts a new conversation too
        find.change(app.documents, inputs=find, outputs=table, api_visibility="private")
        blocks.load(app.load, outputs=[doc_type, year_from, year_to, banner, status, table], api_visibility="private")
        blocks.load(app.load_overview, outputs=[chart, overview], api_visibility="private")
        decision_io = dict(fn=app.decisions, inputs=[outcome, party, year, kind], outputs=decisions,
                           api_visibility="private")
        blocks.load(**decision_io)
        for control in (outcome, kind):
            control.change(**decision_io)
        for control in (party, year):
            control.submit(**decision_io)
        gr.api(app.api_ask, api_name="vraag")
        gr.api(app.api_search, api_name="zoek")
    return blocks


def create_server(kb: KnowledgeBase, users: Users | None = None) -> FastAPI:
    """The FastAPI app: `/bron/<doc_id>` for originals, and the Gradio page at `/`. With `users`
    (kb.access) every page and API call needs a login, and each user reads public documents and
    those of their groups; without, no login and public documents only."""
    server = FastAPI(title="Kennisbank Krachtige Samenleving", docs_url=None, redoc_url=None, openapi_url=None)
    server.add_middleware(BodyLimit)  # every route, Gradio's included: no request body over 1 MB

    @server.get("/bron/{doc_id:path}")
    def original(doc_id: str, request: Request):
        user = _logged_in(server, request)
        if users is not None and user is None:
            return PlainTextResponse("Log eerst in op de kennisbank.", status_code=401)
        groups = users.groups(user) if users is not None else ()
        try:
            # Only documents in the index that this user may read: no path from the request is opened, and a
            # restricted document answers as an unknown one does (its existence is not revealed).
            path = kb.document_path(doc_id, groups)
        except (IndexMissing, StoreUnavailable, ModelMismatch) as exc:
            return PlainTextResponse(f"Dit document kan nu niet getoond worden: {exc}", status_code=503)
        if path is None or not path.is_file():
            return PlainTextResponse("Dit document staat niet (meer) in de index.", status_code=404)
        media = "application/pdf" if path.suffix.lower() == ".pdf" else None
        if path.suffix.lower() in (".txt", ".md"):
            media = "text/plain; charset=utf-8"
        return FileResponse(path, media_type=media, content_disposition_type="inline")

    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    auth = dict(auth=users.check, auth_message="Log in met uw gebruikersnaam en wachtwoord.") if users else {}
    return gr.mount_gradio_app(server, build(kb, users), path="/", theme=theme, css=CSS, js=JS, ssr_mode=False,
                               footer_links=[], show_error=True, **auth)  # the footer's links are English; the API is in the README


def _logged_in(server: FastAPI, request: Request) -> str | None:
    """The user logged in to the mounted Gradio app, from its session cookie (as Gradio's own
    get_current_user reads it; tests/test_access.py checks this against a real login)."""
    gradio_app = next((r.app for r in server.routes if isinstance(r, Mount)), None)
    if gradio_app is None:
        return None
    cookie_id = gradio_app.cookie_id
    token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(f"access-token-unsecure-{cookie_id}")
    return gradio_app.tokens.get(token) if token else None


def serve(kb: KnowledgeBase, host: str = "127.0.0.1", port: int = 7860, users: Users | None = None) -> None:
    import contextlib

    import uvicorn

    from kb.lock import read_lock

    # An embedded index cannot be written by another process while this one serves it (kb.lock): hold the
    # shared lock so that a writer is refused with a clear message. A Chroma server needs no such lock.
    embedded = not kb.config.chroma_url and kb.config.index_dir.is_dir()  # no index yet: nothing to protect
    with read_lock(kb.config) if embedded else contextlib.nullcontext():
        uvicorn.run(create_server(kb, users), host=host, port=port,
                    log_level=os.environ.get("KB_LOG_LEVEL", "warning"))


def _when(iso: str) -> str:
    return iso.replace("T", " ").replace("+00:00", " UTC")


def _year(value) -> int | None:
    if value in (None, "", 0):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise gr.Error(f"Jaartal '{value}' is geen jaar; gebruik vier cijfers, bijvoorbeeld 2021.") from None


def _year_choices(rows: list[dict]) -> list[int]:
    years = {y for r in rows for y in (r.get("year"), r.get("year_from"), r.get("year_to")) if y}
    return list(range(min(years), max(years) + 1)) if years else []


def _chart(overviews) -> pd.DataFrame:
    return pd.DataFrame([{"jaar": str(year), "items": count, "programmalijn": line.name}
                         for line in overviews for year, count in line.per_year().items()],
                        columns=["jaar", "items", "programmalijn"])


if __name__ == "__main__":
    serve(KnowledgeBase())
