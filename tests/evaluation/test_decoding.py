"""One question decoded alone (``transnar generate``) answers as in its
evaluation batch (``transnar lm eval``): same budget, same positions."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tests import tiny
from transnar.clrs import CLRS30_ALGORITHMS
from transnar.clrs.text import has_index_hints, parse_question
from transnar.clrs.text.rows import examples
from transnar.evaluation import EvalSettings, answer_question, evaluate
from transnar.evaluation.decoding import decoding_budget, question_generator
from transnar.lm.positions import random_positions
from transnar.lm.tokenizer import CharTokenizer


def test_question_generator_depends_on_seed_and_question_only():
    def draw(seed, question):
        return torch.rand(4, generator=question_generator(seed, question))

    assert torch.equal(draw(0, "bfs:\n"), draw(0, "bfs:\n"))
    assert not torch.equal(draw(0, "bfs:\n"), draw(1, "bfs:\n"))
    assert not torch.equal(draw(0, "bfs:\n"), draw(0, "dfs:\n"))


@pytest.mark.parametrize("index_hints", [False, True])
@pytest.mark.parametrize("use_hints", [False, True])
@pytest.mark.parametrize("algorithm", CLRS30_ALGORITHMS)
def test_budget_from_the_question_text_is_the_evaluation_budget(algorithm, use_hints, index_hints):
    """``transnar generate`` has only the text; its budget must be the one the
    evaluation computes from the sampled trajectory (and, with index hints,
    cover the markers)."""
    model, tokenizer = tiny.talkative_transnar(use_nar=False), CharTokenizer()
    for row, trajectory in examples(algorithm, 5, 2, 3, use_hints, index_hints=index_hints):
        question = row["question"]
        _, parsed = parse_question(question, check_trace=False)
        for positions in ("random", "linear"):
            args = (use_hints, question, tokenizer, model, positions, index_hints)
            from_text = decoding_budget(algorithm, parsed, *args)
            from_sample = decoding_budget(algorithm, trajectory.inputs, *args)
            assert from_text == from_sample
            assert from_text >= len(row["answer"]) or positions == "random"


def test_budget_is_capped_by_max_position_for_random_positions_only():
    tokenizer = CharTokenizer()
    row, trajectory = next(iter(examples("insertion_sort", 12, 2, 1)))
    args = ("insertion_sort", trajectory.inputs, False, row["question"], tokenizer)
    prompt = len(tokenizer.encode(row["question"], add_bos=True))
    model = SimpleNamespace(max_position=prompt + 5)  # all the budget reads of a model
    assert decoding_budget(*args, model, "random") == 5
    assert decoding_budget(*args, model, "linear") > 5
    with pytest.raises(ValueError, match="leaves no room"):
        decoding_budget(*args, SimpleNamespace(max_position=prompt), "random")


def test_a_row_draw_does_not_depend_on_the_batch():
    """With one generator per row, a row's positions depend on its generator
    and its length alone: not on the batch width or the other rows."""
    lengths = torch.tensor([7, 30, 12])
    batch = random_positions(
        3, 30, 512, [torch.Generator().manual_seed(s) for s in (0, 1, 2)], lengths=lengths
    )
    for row, (seed, length) in enumerate(zip((0, 1, 2), lengths.tolist(), strict=True)):
        alone = random_positions(1, length, 512, [torch.Generator().manual_seed(seed)])
        assert torch.equal(batch[row, :length], alone[0])
        assert (batch[row, length:] == 0).all()


def test_a_short_row_in_a_wide_batch_draws_uniformly():
    """The ``k`` positions of a row of length ``k`` padded to ``T`` are a
    uniform ``k``-subset: their mean maximum is ``L k / (k + 1)``, whatever ``T``."""
    generator = torch.Generator().manual_seed(0)
    rows, k, width, limit = 4000, 10, 500, 1024
    drawn = random_positions(rows, width, limit, generator, lengths=torch.full((rows,), k))
    mean_max = drawn[:, :k].max(dim=1).values.double().mean().item()
    expected = (limit - 1) * k / (k + 1)
    assert abs(mean_max - expected) < 5  # std of the mean is about 1.3


@pytest.mark.parametrize("index_hints", [False, True])
@pytest.mark.parametrize("use_nar", [True, False])
def test_generate_with_the_position_seed_reproduces_the_evaluation(use_nar, index_hints):
    model = tiny.talkative_transnar(use_nar=use_nar)
    settings = EvalSettings(
        algorithms=("bfs", "insertion_sort"),
        sizes=(4, 6),
        seeds=(2,),
        count=3,
        batch_size=3,
        position_seed=5,
        index_hints=index_hints,
    )
    results = evaluate(model, settings)
    assert {s.stopped for s in results.samples} == {False}  # runs to its budget
    for sample in results.samples:
        assert has_index_hints(sample.question) == index_hints
        answer = answer_question(model, sample.question, seed=5, score=True)
        assert answer.text == sample.prediction.split("\n\n", 1)[0].strip("\n")
        assert answer.max_new_tokens == sample.num_tokens
        assert answer.truth + "\n\n" == sample.answer  # scored with the question's format
        assert answer.scores.clrs == sample.scores.clrs
    other = answer_question(model, results.samples[0].question, seed=6, score=False)
    assert other.text != results.samples[0].prediction.strip("\n")
