"""Conversation: turn a short follow-up question into one that can be searched on its own.

A follow-up such as "en in 2022?" carries almost no words to search on; what it asks about
is in the previous question. A follow-up is recognised by having no content words but a year
("en in 2021?": the year replaces the previous question's year) or by a word that points back
("daarvan", "hierover", "they": the follow-up is added to the previous question). A question
with words of its own is a new question, even when it opens with "en" ("En de Zorgtafel?"),
so that a conversation can change subject without dragging the old one along.

    >>> follow_up_query("en in 2022?", ["Hoeveel buurtconciërges waren er in 2021?"])
    'Hoeveel buurtconciërges waren er in 2022?'
    >>> follow_up_query("Wat is de Zorgtafel?", ["Wanneer is WEL gestart?"])
    'Wat is de Zorgtafel?'
"""
from __future__ import annotations

import re

from kb.lexical import analyze

YEAR = re.compile(r"\b(19|20)\d{2}\b")
POINTING_BACK = re.compile(r"\b(daarvan|daarover|daarbij|daarin|daarmee|hiervan|hierover|hierbij|hiermee|"
                           r"dezelfde|it|its|them|they)\b", re.IGNORECASE)


def needs_context(question: str) -> bool:
    """Nothing to search on without an earlier question ("en in 2021?")."""
    return not analyze(YEAR.sub(" ", question))


def is_follow_up(question: str) -> bool:
    return bool(POINTING_BACK.search(question)) or needs_context(question)


def follow_up_query(question: str, previous: list[str]) -> str:
    """The question to search on, given the earlier questions of the conversation (oldest first)."""
    if not previous or not is_follow_up(question):
        return question
    before = previous[-1]
    years = [m.group(0) for m in YEAR.finditer(question)]
    if years and YEAR.search(before) and needs_context(question):
        # Only a year is new ("en in 2022?"): ask the previous question about that year.
        return YEAR.sub(years[0], before, count=1)
    return f"{before} {question.strip()}"
