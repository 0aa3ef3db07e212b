"""Helpers of the evaluation tests: a truthful decoder, results documents.

The tiny models are in :mod:`tests.tiny`. Import these as
``from tests.evaluation.helpers import ...``.
"""

from __future__ import annotations

from transnar.clrs.execute import execute
from transnar.clrs.text import format_example, has_index_hints, parse_question
from transnar.clrs.text.answer_scores import AnswerScores
from transnar.clrs.text.score_report import ScoredRow, aggregate
from transnar.lm import Generation


def truth_of(question: str) -> str:
    """The true answer of a question (its instance read back and run), with
    traces and index hints when the question has them."""
    trajectory = execute(*parse_question(question))
    use_hints = question.rstrip("\n").rsplit("\n", 1)[-1].startswith("trace | ")
    return format_example(trajectory, use_hints, index_hints=has_index_hints(question))[1]


class TruthfulGenerate:
    """A stand-in for :func:`transnar.lm.generate` that answers every question
    right, recording each call's arguments."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, model, tokenizer, prompts, max_new_tokens, **kwargs) -> Generation:
        self.calls.append({"prompts": list(prompts), "max_new_tokens": max_new_tokens, **kwargs})
        texts = [truth_of(p) for p in prompts]
        counts = [len(t) for t in texts]
        return Generation(texts, counts, [[0] * n for n in counts], [True] * len(texts))


def results_document(label, kind, clrs_by_cell, sha="x"):
    """A minimal results document with the given CLRS scores (parse = shape = 1)."""
    rows = [
        ScoredRow(0, algorithm, size, False, AnswerScores(1.0, 1.0, value, None))
        for (algorithm, size), value in clrs_by_cell.items()
    ]
    return {
        "label": label,
        "model": {"kind": kind},
        "data_sha256": sha,
        "scores": aggregate(rows).to_dict(),
        "source": f"{label}.json",
    }
