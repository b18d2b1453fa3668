from kb.sentences import sentence_spans


def split(text):
    return [text[a:b] for a, b in sentence_spans(text)]


def test_does_not_split_on_dutch_abbreviations_amounts_or_initials():
    text = ("Zie o.a. art. 3 en m.b.t. de begroting t.a.v. GS. De heer E.M. Krijns deelt mee dat "
            "€ 1.234.567,00 op 24-06-2020 is besteed. Klaar!")
    assert split(text) == [
        "Zie o.a. art. 3 en m.b.t. de begroting t.a.v. GS.",
        "De heer E.M. Krijns deelt mee dat € 1.234.567,00 op 24-06-2020 is besteed.",
        "Klaar!",
    ]


def test_splits_before_bullets_and_keeps_lead_in():
    text = "Wij deden:\n•\t punt een\n•\t punt twee. Daarna niets."
    assert split(text) == ["Wij deden:", "•\t punt een", "•\t punt twee.", "Daarna niets."]
