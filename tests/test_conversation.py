"""Follow-up questions are completed from the previous question; questions that stand alone are not."""
import pytest

from kb.conversation import follow_up_query, is_follow_up

PREVIOUS = ["Wat gebeurde er in 2020 met de buurtconciërges?"]


@pytest.mark.parametrize("question, expected", [
    ("en in 2021?", "Wat gebeurde er in 2021 met de buurtconciërges?"),
    ("En in 2022", "Wat gebeurde er in 2022 met de buurtconciërges?"),
    ("en wie betaalde daarvan de kosten?", PREVIOUS[0] + " en wie betaalde daarvan de kosten?"),
    ("and what did they cost?", PREVIOUS[0] + " and what did they cost?"),
])
def test_follow_up_is_completed_from_the_previous_question(question, expected):
    assert follow_up_query(question, PREVIOUS) == expected


@pytest.mark.parametrize("question", ["Wat is de Zorgtafel?", "Wie zitten aan de Zorgtafel?", "En de Zorgtafel?",
                                      "Wanneer is WEL in Flevoland gestart?", "What is the Human Capital Agenda?"])
def test_a_question_that_stands_alone_is_left_as_it_is(question):
    assert not is_follow_up(question)
    assert follow_up_query(question, PREVIOUS) == question


def test_without_a_previous_question_nothing_changes():
    assert follow_up_query("en in 2021?", []) == "en in 2021?"


def test_only_the_last_previous_question_counts():
    assert follow_up_query("en in 2019?", ["Wat is de Zorgtafel?", "Wat deed Flever in 2021?"]) == "Wat deed Flever in 2019?"
