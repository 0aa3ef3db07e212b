"""EvalSample: one evaluated question and its two stored forms."""

from __future__ import annotations

import dataclasses
import json

import pytest

from transnar import clrs
from transnar.clrs.text import format_example
from transnar.clrs.text.answer_scores import AnswerScores
from transnar.evaluation.samples import EvalSample, question_sha256


def _sample(trace=None) -> EvalSample:
    (trajectory,) = clrs.sample("insertion_sort", 4, 2, 1)
    question, answer = format_example(trajectory)
    return EvalSample(
        algorithm="insertion_sort",
        size=4,
        seed=2,
        index=0,
        prediction="[1 2 3 4]\n\n",
        scores=AnswerScores(1.0, 1.0, 0.5, trace),
        num_tokens=11,
        stopped=True,
        question=question,
        answer=answer,
    )


@pytest.mark.parametrize("trace", [None, 0.25])
def test_both_forms_read_back_through_json(trace):
    sample = _sample(trace)
    full = EvalSample.from_dict(json.loads(json.dumps(sample.to_dict())))
    assert full == sample
    record = EvalSample.from_dict(json.loads(json.dumps(sample.to_record())))
    assert record == dataclasses.replace(sample, question=None, answer=None)
    assert record.question_sha256 == sample.question_sha256 is not None


def test_the_record_keeps_the_hash_not_the_texts():
    record = _sample().to_record()
    assert "question" not in record and "answer" not in record
    assert list(record) == [
        "algorithm", "size", "seed", "index", "prediction", "parse", "shape", "clrs",
        "trace", "num_tokens", "stopped", "question_sha256",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="no texts"):
        EvalSample.from_dict(record).to_dict()


def test_the_question_hash_ignores_index_hints():
    (trajectory,) = clrs.sample("minimum", 5, 0, 1)
    plain, _ = format_example(trajectory)
    hinted, _ = format_example(trajectory, index_hints=True)
    assert plain != hinted
    assert question_sha256(plain) == question_sha256(hinted)
    assert question_sha256(plain) != question_sha256(plain.replace("key", "kez"))


def test_cell_and_stream():
    sample = _sample()
    assert sample.cell == ("insertion_sort", 4) and sample.stream == (2, 0)
