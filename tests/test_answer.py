"""Extractive answers: sentences chosen by weighted coverage, answer types, lists kept together, duplicates out,
document order, and every [n] supported by its passage."""
import pytest

from kb.answer import (FACT_COVERAGE, THRESHOLDS, asks_for, citation_supported, clause_share, compose, in_english,
                       mentions)
from kb.retrieve import Hit

TEXT = ("Zorgtafel\n"
        "Eind 2019 is Zorgtafel Flevoland ontstaan. Aan de Zorgtafel zitten ziekenhuizen, gemeenten en de GGD. "
        "Het weer was die dag mooi. Uiteindelijk hebben 12 bedrijven zich gecommitteerd.\n"
        "De Zorgtafel heeft drie doelen:\n• betere zorg;\n• minder kosten;\n• meer preventie.")


def hit(text=TEXT, rank=1, chunk="a#0", doc="a", start=0, dense=0.9):
    h = Hit(chunk, text, {"doc_id": doc, "title": "T", "section": "Zorgtafel", "start_char": start})
    h.rank, h.score, h.dense = rank, 3.0, dense
    return h


def test_one_rare_shared_word_is_enough():
    answer = compose("Wie zitten aan de Zorgtafel?", [hit()])
    assert answer.found and "ziekenhuizen, gemeenten en de GGD" in answer.answer
    assert "weer" not in answer.answer  # an unrelated sentence stays out
    assert citation_supported(answer)


def test_a_lead_in_keeps_its_list_items():
    answer = compose("Welke doelen heeft de Zorgtafel?", [hit()])
    assert "drie doelen: [1] betere zorg; [1] minder kosten; [1] meer preventie. [1]" in answer.answer
    assert citation_supported(answer)


@pytest.mark.parametrize("question, kind", [("Hoeveel bedrijven doen mee?", "count"), ("Op hoeveel locaties?", "count"),
                                            ("Welk percentage is laaggeletterd?", "percent"),
                                            ("Hoeveel subsidie krijgt Flever?", "money"),
                                            ("Sinds wanneer bestaat de Spoedstraat?", "date"),
                                            ("What does it mean when they say so?", None),
                                            ("Wie zitten aan de Zorgtafel?", None),
                                            ("How much money did the Staten make available?", "money"),
                                            ("hoeveel heeft Flever ontvangen", "money"),
                                            ("Wat is de totale omvang van de begroting?", "money"),
                                            ("Hoe hoog zijn de opcenten?", "measure"),
                                            ("aantal cursisten WEL Academie?", "measure"),
                                            ("Met welke regelmaat komt de community bijeen?", "frequency"),
                                            ("Zorgtafel: what's the name of the person chairing it?", "person"),
                                            ("How large is the VWS grant for the Zorgtafel?", "money"),
                                            ("wat heeft de provincie in euro's bijgedragen", "money"),
                                            ("According to the TNO study, how many households are poor?", "count"),
                                            ("wie is nu de directeur van Flever", "person"),
                                            ("Wat waren de conclusies van de tussenevaluatie?", "outcome"),
                                            ("Wat heeft het onderzoek opgeleverd?", "outcome"),
                                            ("Welke resultaten beoogt de stichting?", None),
                                            ("Op welke datum is de proeftuin gestart?", "date"),
                                            ("On what date did the Staten adopt it?", "date"),
                                            ("how much is the province spending on it this year?", "money")])
def test_what_a_question_asks_for(question, kind):
    wants = asks_for(question)
    assert (wants[0] if wants else None) == kind


def test_a_count_question_needs_a_number_of_what_it_counts():
    assert compose("Hoeveel bedrijven hebben zich verbonden aan de Zorgtafel?", [hit()]).answer.startswith(
        "Uiteindelijk hebben 12 bedrijven")
    assert not compose("Hoeveel ziekenhuizen zitten aan de Zorgtafel?", [hit()]).found  # named, not counted
    assert not compose("Hoeveel gemeenten zitten aan de Zorgtafel?", [hit()]).found


def test_unrelated_or_far_questions_are_not_answered():
    assert not compose("Hoe vraag ik een paspoort aan?", [hit()]).found
    assert not compose("Wie zitten aan de Zorgtafel?", [hit(dense=0.7)]).found  # the passage is not near the question


@pytest.mark.parametrize("question, english", [("min distance between new wind turbines and houses?", True),
                                               ("any plans to raise the opcenten on motor vehicle tax next yr?", True),
                                               ("Why do national pressures on healthcare hit Flevoland so hard?", True),
                                               ("Wat is de aanpak van de provincie voor eenzaamheid?", False),
                                               ("wanneer is de Week tegen Eenzaamheid in Almere?", False)])
def test_a_question_is_english_by_two_english_only_words(question, english):
    assert in_english(question) == english


def test_an_english_question_needs_less_cosine_than_a_dutch_one():
    # An English question scores lower against Dutch passages (kb.answer.THRESHOLDS, calibrated per language):
    # a passage as near as this one answers it, where the same nearness is too far for a Dutch question.
    dutch_cosine, english_cosine = THRESHOLDS["nl"][1], THRESHOLDS["en"][1]
    between = (dutch_cosine + english_cosine) / 2
    assert english_cosine < between < dutch_cosine
    assert compose("Who sits at the Zorgtafel?", [hit(dense=between)]).found
    assert not compose("Wie zitten aan de Zorgtafel?", [hit(dense=between)]).found
    assert compose("Wie zitten aan de Zorgtafel?", [hit(dense=dutch_cosine)]).found


def test_near_duplicates_are_quoted_once_and_passages_in_document_order():
    later = hit("Aan de Zorgtafel zitten ziekenhuizen, gemeenten en de GGD.", rank=1, chunk="a#1", start=500)
    earlier = hit(TEXT, rank=2, chunk="a#0", start=0)
    answer = compose("Wie zitten aan de Zorgtafel?", [later, earlier])
    assert answer.answer.count("ziekenhuizen, gemeenten en de GGD") == 1
    sentences = [s for c in answer.citations for s in c["quotes"]]
    assert len(sentences) == len(set(sentences)) and citation_supported(answer)


def test_headings_that_open_a_passage_are_not_quoted():
    # The passage opens with a document title, its subtitle and its own numbered section heading ("3." in the
    # text, "3" in the section path): none is a claim to quote, the sentence below them is.
    text = ("PARTICIPATIEROUTE 2022\n\nIn samenhang werken aan onze relaties\n\n3. Relatie PS en GS\n\n"
            "Provinciale Staten willen de relatie met Gedeputeerde Staten versterken via de participatieroute.")
    h = Hit("p#0", text, {"doc_id": "p", "title": "T", "section": "3 Relatie PS en GS", "start_char": 0})
    h.rank, h.score, h.dense = 1, 3.0, 0.9
    answer = compose("Wat willen Provinciale Staten met de relatie tussen PS en GS in de participatieroute?", [h])
    assert answer.found and answer.answer.startswith("Provinciale Staten willen")
    assert "PARTICIPATIEROUTE" not in answer.answer and "3. Relatie" not in answer.answer


def test_a_footnote_is_quoted_without_its_number():
    # A PDF text layer writes a footnote as its number, a tab and its text, below the page's last paragraph.
    text = ("De zorgvraag stijgt door de dubbele vergrijzing1 in Flevoland.\n"
            "1\t Met dubbele vergrijzing bedoelen we dat het aandeel ouderen en het aandeel hoogbejaarden groeien.")
    answer = compose("Wat wordt bedoeld met dubbele vergrijzing?", [hit(text)])
    assert answer.found and "Met dubbele vergrijzing bedoelen we" in answer.answer
    assert "1 Met" not in answer.answer and citation_supported(answer)
    # Nor is the footnote's number an answer to a "how often" question.
    assert not compose("Hoe vaak komen ouderen samen in het buurthuis?",
                       [hit("2\t Ouderen komen samen in het buurthuis.")]).found


def test_the_sentence_with_the_asked_fact_must_itself_be_about_the_question():
    # "Hoe vaak ...": the frequency must come from a sentence about what is asked, not merely sit next to one.
    beside = ("De Zorgtafel Flevoland bespreekt de regionale zorgagenda met ziekenhuizen en gemeenten. "
              "Een item verschijnt elke vier weken op de regionale televisie.")
    question = "Hoe vaak vergadert de Zorgtafel Flevoland over de zorgagenda?"
    answer = compose(question, [hit(beside)])  # its section's title, "Zorgtafel", helps no sentence that shares no word
    assert not answer.found and answer.confidence[2] < FACT_COVERAGE
    answer = compose(question, [hit("De Zorgtafel Flevoland vergadert elke vier weken over de zorgagenda.")])
    assert answer.found and "elke vier weken" in answer.answer and citation_supported(answer)
    # A question that asks for no particular kind of fact has no such condition.
    assert compose("Wat bespreekt de Zorgtafel Flevoland?", [hit(beside)]).confidence[2] == 1.0


def test_a_two_part_question_needs_its_fact_only_for_the_part_that_asks_it():
    weights = {"begon": 2.0, "ontwikkelfas": 3.0, "stat": 1.0, "ging": 2.0, "daarna": 2.0}
    two_parts = "Wanneer begon de ontwikkelfase, en wat ging er daarna naar de Staten?"
    assert clause_share(two_parts, weights, 10.0) == pytest.approx(0.5)  # begon + ontwikkelfase
    assert clause_share("Wanneer begon de ontwikkelfase?", weights, 10.0) == 1.0  # one question
    assert clause_share("Wanneer en waar begon de ontwikkelfase?", weights, 10.0) == 1.0  # nothing asked before "en"
    # The date sentence covers 2 of the question's 14 words (under FACT_COVERAGE) but all of its first part.
    question = ("Wanneer begon de ontwikkelfase, en welke organisaties, gemeenten, zorgaanbieders, scholen en inwoners "
                "werkten daarna samen aan het uitvoeringsprogramma voor jongeren, ouderen en mantelzorgers?")
    answer = compose(question, [hit("De ontwikkelfase begon in maart 2021. Het weer was die dag mooi.")])
    assert answer.confidence[0] < FACT_COVERAGE <= answer.confidence[2]
    assert answer.found and answer.answer == "De ontwikkelfase begon in maart 2021. [1]" and citation_supported(answer)


def test_a_person_question_needs_the_role_it_asks_about():
    # "Zilveren Kruis" looks like a person's name; the sentence does not say who chairs anything.
    partners = "Aan de Zorgtafel Flevoland werken Zilveren Kruis, ziekenhuizen en gemeenten samen."
    for question in ("Wie is de voorzitter van de Zorgtafel Flevoland?", "Who chairs the Zorgtafel Flevoland?"):
        assert asks_for(question)[0] == "person" and not compose(question, [hit(partners)]).found
    answer = compose("Wie is de voorzitter van de Zorgtafel Flevoland?",
                     [hit("De voorzitter van de Zorgtafel Flevoland is Jan de Vries.")])
    assert answer.found and "Jan de Vries" in answer.answer and citation_supported(answer)


def test_a_name_after_a_title_or_with_accented_letters_is_a_name():
    question = "Welke gedeputeerde tekende het voorwoord van de rapportage over de Zorgtafel?"
    for signed in ("Gedeputeerde Jop Fackeldey tekende het voorwoord van de rapportage over de Zorgtafel.",
                   "Het voorwoord van de rapportage over de Zorgtafel is getekend door gedeputeerde Fatma Koşer Kaya."):
        answer = compose(question, [hit(signed)])
        assert answer.found and citation_supported(answer)
    assert not compose(question, [hit("Gedeputeerde Staten tekenden het voorwoord van de rapportage over de "
                                      "Zorgtafel.")]).found  # a title and a body, no person


def test_a_count_of_a_word_that_a_dutch_elision_leaves_out():
    question = "Hoeveel zorgorganisaties hebben de agenda van de Zorgtafel ondertekend?"
    answer = compose(question, [hit("De agenda van de Zorgtafel is ondertekend door 22 zorg- en "
                                    "welzijnsorganisaties.")])
    assert answer.found and "22 zorg- en welzijnsorganisaties" in answer.answer
    assert not compose(question, [hit("De agenda van de Zorgtafel is ondertekend door 22 gemeenten.")]).found


def test_the_title_of_its_section_counts_with_the_sentence_with_the_asked_fact():
    # "Uiteindelijk hebben 12 bedrijven ..." says what it counts for the section it stands in.
    question = ("Hoeveel bedrijven dragen sinds de start financieel bij aan het project met buurtconciërges in de "
                "wijken van Lelystad?")
    text = "De gemeente en de woningcorporatie zochten partners. Uiteindelijk hebben 12 bedrijven zich gecommitteerd."
    elsewhere = compose(question, [section_hit(text, "Wijkaanpak")])
    assert not elsewhere.found and elsewhere.confidence[2] < FACT_COVERAGE
    answer = compose(question, [section_hit(text, "Buurtconciërges in Lelystad")])
    assert answer.found and answer.answer.startswith("Uiteindelijk hebben 12 bedrijven") and citation_supported(answer)
    assert answer.confidence[0] == elsewhere.confidence[0]  # the title does not rank sentences, only the fact


def section_hit(text, section):
    h = hit(text)
    h.meta["section"] = section
    return h


def test_an_outcome_question_needs_a_sentence_that_reports_one():
    question = "Wat waren de conclusies van het onderzoek naar armoede bij de Zorgtafel?"
    done = "De Zorgtafel heeft een onderzoek naar armoede gefinancierd. Het onderzoek wordt geleid door Windesheim."
    assert not compose(question, [hit(done)]).found  # that a study was done (and by whom) is no outcome
    answer = compose(question, [hit("De Zorgtafel heeft een onderzoek naar armoede gefinancierd. Dit heeft geleid "
                                    "tot een overzicht van werkzame factoren.")])
    assert answer.found and "geleid tot een overzicht" in answer.answer  # the study is named the sentence before


def test_a_question_about_the_size_of_a_grant_needs_an_amount():
    question = "Hoe groot is de subsidie van VWS voor de Zorgtafel Flevoland?"
    assert not compose(question, [hit("De Zorgtafel Flevoland werkt drie jaar met een subsidie van VWS.")]).found
    assert compose(question, [hit("De subsidie van VWS voor de Zorgtafel Flevoland bedraagt € 300.000.")]).found


def test_a_fact_question_that_names_a_year_needs_that_year_near_the_fact():
    question = "Welk bedrag stelden Provinciale Staten in 2020 beschikbaar voor de Zorgtafel Flevoland?"
    earlier = "In 2017 is voor de Zorgtafel Flevoland € 1,5 miljoen beschikbaar gesteld."
    assert not compose(question, [hit(earlier)]).found
    answer = compose(question, [hit("In 2020 is voor de Zorgtafel Flevoland € 2 miljoen beschikbaar gesteld.")])
    assert answer.found and "€ 2 miljoen" in answer.answer


def test_an_english_count_question_needs_a_number_of_what_it_counts_in_dutch():
    question = "How many general practitioners work at the Zorgtafel?"
    kind, counted = asks_for(question)
    assert kind == "count" and "huisarts" in counted  # the glossary's Dutch for "general practitioners"
    assert not compose(question, [hit()]).found  # "12 bedrijven" is no number of GPs
    assert compose(question, [hit("Aan de Zorgtafel werken 40 huisartsen samen met de GGD.")]).found


def test_a_question_for_a_figure_needs_one():
    question = "Hoe hoog is de grijze druk aan de Zorgtafel Flevoland?"
    assert not compose(question, [hit("De grijze druk aan de Zorgtafel Flevoland stijgt flink.")]).found
    answer = compose(question, [hit("De grijze druk aan de Zorgtafel Flevoland is 32 procent.")])
    assert answer.found and "32 procent" in answer.answer


@pytest.mark.parametrize("question, named", [
    ("Hoe staat het met de blauwalg in het Veluwemeer?", ["Veluwemeer"]),
    ("hoe staat het met Lelystad Airport?", ["Lelystad", "Airport"]),
    ("Wat doen de GGD’s en het TNO in 2024?", ["GGD", "TNO", "2024"]),
    ("Wat doet de provincie rond Natura 2000-gebieden?", ["Natura", "2000"]),
    ("Onder welke naam draaien de WEL-netwerken in Urk en in Urk?", ["WEL", "Urk"]),
    ("Hallo! Graag wil ik weten wat fase II inhoudt. Kan dat?", []),  # sentence starts, Roman numerals
    ("What does the Week against Loneliness do in Almere?", []),  # English: capitals are not names
    ("What did the TNO study find in 2021?", ["TNO", "2021"])])
def test_what_a_question_names(question, named):
    assert mentions(question) == named


def test_a_name_the_documents_never_mention_means_no_answer():
    question = "Wie zitten aan de Zorgtafel in het Veluwemeer?"
    assert compose(question, [hit()]).found  # the passage covers the rest of the question
    answer = compose(question, [hit()], missing=["Veluwemeer"])
    assert not answer.found and not answer.citations and answer.hits
    assert answer.answer == "Hierover staat niets in de geïndexeerde documenten: ze noemen ‘Veluwemeer’ nergens."
    assert answer.missing == ["Veluwemeer"] and answer.to_dict()["missing"] == ["Veluwemeer"]
    english = compose("Who sits at the Zorgtafel of TNO in 2040?", [hit()], missing=["TNO", "2040"])
    assert english.answer == "The indexed documents say nothing about this: they never mention ‘TNO’ and ‘2040’."
