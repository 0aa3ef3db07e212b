"""One evaluated question: :class:`EvalSample`, and its two stored forms.

:func:`~transnar.evaluation.evaluate` keeps one :class:`EvalSample` per question
(``EvalResults.samples``). It is stored in two forms:

- the *record* of ``results.json``'s ``samples`` (:meth:`EvalSample.to_record`):
  the question's stream (algorithm, size, seed, index), the prediction, its
  scores, the tokens generated, whether it stopped, and ``question_sha256``
  (the first 16 hex digits of the SHA-256 of the question without index markers,
  so a question asked with index hints pairs with the same one asked without),
  but not the question's and answer's texts;
- the *full* form (:meth:`EvalSample.to_dict`), with the texts: the teacher's
  answers kept by :mod:`transnar.training.distill` while it asks them.

:meth:`EvalSample.from_dict` reads either back: the paired tests
(:mod:`transnar.evaluation.paired`) read the records of ``results.json``.
:func:`aggregate_samples` makes the score tables of samples (e.g. of some of an
evaluation's algorithms: :func:`~transnar.evaluation.results.restrict_results`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from transnar.clrs.text.answer_scores import AnswerScores
from transnar.clrs.text.formatting import without_index_hints
from transnar.clrs.text.score_report import ScoredRow, ScoreReport, aggregate


@dataclass(frozen=True)
class EvalSample:
    """One question of an evaluation, the model's answer and its scores.

    Attributes:
        algorithm, size, seed, index: the question's stream (the sampler's seed
            and the question's position in it).
        prediction: the model's answer, as generated.
        scores: its scores against the true answer.
        num_tokens: tokens generated.
        stopped: whether the model ended its answer (else its budget ended it).
        question, answer: the question's and the true answer's texts; ``None``
            when read from a ``results.json`` record, which keeps the hash only.
        question_sha256: the question's hash (:func:`question_sha256`); from the
            question when it is known.
    """

    algorithm: str
    size: int
    seed: int
    index: int
    prediction: str
    scores: AnswerScores
    num_tokens: int
    stopped: bool
    question: str | None = None
    answer: str | None = None
    question_sha256: str | None = None

    def __post_init__(self):
        if self.question is not None and self.question_sha256 is None:
            object.__setattr__(self, "question_sha256", question_sha256(self.question))

    @property
    def cell(self) -> tuple[str, int]:
        """``(algorithm, size)``: the cell of the score tables it counts in."""
        return self.algorithm, self.size

    @property
    def stream(self) -> tuple[int, int]:
        """``(seed, index)``: which question of its cell it is."""
        return self.seed, self.index

    def to_record(self) -> dict[str, Any]:
        """Its record in ``results.json``: no texts, the question's hash."""
        record = {
            "algorithm": self.algorithm,
            "size": self.size,
            "seed": self.seed,
            "index": self.index,
            "prediction": self.prediction,
            **dataclasses.asdict(self.scores),
            "num_tokens": self.num_tokens,
            "stopped": self.stopped,
        }
        if self.question_sha256 is not None:
            record["question_sha256"] = self.question_sha256
        return record

    def to_dict(self) -> dict[str, Any]:
        """Its full form, with the question's and answer's texts."""
        if self.question is None or self.answer is None:
            raise ValueError("a sample read from a results.json record has no texts")
        return {
            "algorithm": self.algorithm,
            "size": self.size,
            "seed": self.seed,
            "index": self.index,
            "question": self.question,
            "answer": self.answer,
            "prediction": self.prediction,
            "stopped": self.stopped,
            "num_tokens": self.num_tokens,
            **dataclasses.asdict(self.scores),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalSample:
        """A sample from either form (:meth:`to_record`, :meth:`to_dict`)."""
        trace = data.get("trace")
        return cls(
            algorithm=data["algorithm"],
            size=int(data["size"]),
            seed=int(data["seed"]),
            index=int(data["index"]),
            prediction=data["prediction"],
            scores=AnswerScores(
                parse=float(data["parse"]),
                shape=float(data["shape"]),
                clrs=float(data["clrs"]),
                trace=None if trace is None else float(trace),
            ),
            num_tokens=int(data["num_tokens"]),
            stopped=bool(data["stopped"]),
            question=data.get("question"),
            answer=data.get("answer"),
            question_sha256=data.get("question_sha256"),
        )


def aggregate_samples(
    samples: Iterable[EvalSample], use_hints: bool = False, source: str | None = None
) -> ScoreReport:
    """The score tables of ``samples`` (per algorithm x size, algorithm, family,
    size, overall), as :func:`~transnar.evaluation.evaluate` makes them from the
    same answers; ``use_hints``: whether the answers have traces."""
    rows = [
        ScoredRow(line, sample.algorithm, sample.size, use_hints, sample.scores)
        for line, sample in enumerate(samples, 1)
    ]
    return aggregate(rows, source=source)


def question_sha256(question: str) -> str:
    """The first 16 hex digits of the SHA-256 of ``question`` without its index
    markers (the same with index hints as without)."""
    return hashlib.sha256(without_index_hints(question).encode()).hexdigest()[:16]
