"""Leak-free decoding: the budget, the positions and the NAR's graph come from
the question alone, never from the true answer."""

from __future__ import annotations

import importlib

import pytest

from tests import tiny
from tests.evaluation.helpers import TruthfulGenerate
from transnar import clrs
from transnar.clrs.probing import ProbeRecorder
from transnar.clrs.text import answer_length_bound, format_example
from transnar.clrs.trajectory import Trajectory
from transnar.evaluation import EvalSettings, answer_question, evaluate

# the modules (``transnar.evaluation.evaluate`` is also the function's name)
evaluate_module = importlib.import_module("transnar.evaluation.evaluate")
questions_module = importlib.import_module("transnar.evaluation.answering")

SMALL = {"algorithms": ("bfs", "insertion_sort"), "sizes": (4,), "count": 3, "batch_size": 2}


@pytest.fixture(scope="module")
def transnar():
    return tiny.transnar(use_nar=True)


@pytest.fixture(scope="module")
def talkative():
    return tiny.talkative_transnar()


@pytest.fixture(scope="module")
def baseline():
    return tiny.transnar(use_nar=False)


def _rewritten(rewrite):
    """``evaluate``'s stream of rows and trajectories, passed through ``rewrite``."""
    stream = evaluate_module.examples

    def examples(*args, **kwargs):
        for index, (row, trajectory) in enumerate(stream(*args, **kwargs)):
            yield rewrite(index, row, trajectory)

    return examples


def _other_answer(index, row, trajectory):
    """The row with the answer of another instance, of another length."""
    other = clrs.sample(row["algo_name"], (2, 7, 9)[index % 3], 5, truncate_decimals=3)[0]
    return {**row, "answer": format_example(other, row["use_hints"])[1]}, trajectory


@pytest.mark.parametrize("use_hints", [False, True])
def test_predictions_do_not_read_the_answers(use_hints, talkative, monkeypatch):
    settings = EvalSettings(**SMALL, use_hints=use_hints)
    honest = evaluate(talkative, settings)
    assert not any(s.stopped for s in honest.samples)  # every sample cut at its budget
    monkeypatch.setattr(evaluate_module, "examples", _rewritten(_other_answer))
    rewritten = evaluate(talkative, settings)
    predictions = [s.prediction for s in honest.samples]
    assert [s.prediction for s in rewritten.samples] == predictions
    assert [s.num_tokens for s in rewritten.samples] == [s.num_tokens for s in honest.samples]
    lengths = [
        (len(a.answer), len(b.answer))
        for a, b in zip(honest.samples, rewritten.samples, strict=True)
    ]
    assert all(a != b for a, b in lengths)


def test_budgets_read_the_inputs_only(baseline, monkeypatch):
    def without_outputs(index, row, trajectory):
        bare = Trajectory(trajectory.algorithm, trajectory.inputs, {}, {}, trajectory.spec)
        return row, bare

    budgets = []
    for rewrite in (None, without_outputs):
        if rewrite is not None:
            monkeypatch.setattr(evaluate_module, "examples", _rewritten(rewrite))
        stub = TruthfulGenerate()
        evaluate(baseline, EvalSettings(**SMALL), generate_fn=stub)
        budgets.append([call["max_new_tokens"] for call in stub.calls])
    assert budgets[0] == budgets[1]
    assert all(isinstance(b, list) and min(b) >= 1 for b in budgets[0])


def _no_full_runs(monkeypatch):
    """Every way to run an algorithm to its end raises."""

    def refuse(*args, **kwargs):
        raise AssertionError("the algorithm ran to its end")

    monkeypatch.setattr(ProbeRecorder, "record_outputs", refuse)
    monkeypatch.setattr(importlib.import_module("transnar.clrs.execute"), "execute", refuse)
    monkeypatch.setattr(clrs, "execute", refuse)
    monkeypatch.setattr(questions_module, "execute", refuse)


@pytest.mark.parametrize("use_hints", [False, True])
@pytest.mark.parametrize("algorithm", ["bfs", "insertion_sort"])
def test_answer_question_without_score_never_runs_the_algorithm(
    algorithm, use_hints, transnar, monkeypatch
):
    trajectory = clrs.sample(algorithm, 5, 3, truncate_decimals=3)[0]
    question, answer = format_example(trajectory, use_hints)
    scored = answer_question(transnar, question)
    assert scored.truth == answer.strip("\n") and scored.scores is not None
    _no_full_runs(monkeypatch)
    blind = answer_question(transnar, question, score=False)
    assert blind.truth is None and blind.scores is None
    assert (blind.text, blind.stopped, blind.num_nodes) == (scored.text, scored.stopped, 5)
    bound = answer_length_bound(algorithm, trajectory.inputs, use_hints, "default")
    assert blind.max_new_tokens == scored.max_new_tokens >= bound >= len(answer)
    with pytest.raises(AssertionError, match="ran to its end"):
        answer_question(transnar, question)  # scoring does need the whole run


def test_a_wrong_initial_trace_is_refused(transnar):
    trajectory = clrs.sample("insertion_sort", 4, 0, truncate_decimals=3)[0]
    question, _ = format_example(trajectory, use_hints=True)
    head, trace = question.split("initial_trace: ")
    keys = trace.split("]")[0].lstrip("[").split()
    swapped = "[" + " ".join([keys[1], keys[0], *keys[2:]]) + "]" + trace.split("]", 1)[1]
    with pytest.raises(ValueError, match="not the first step of insertion_sort"):
        answer_question(transnar, head + "initial_trace: " + swapped)
