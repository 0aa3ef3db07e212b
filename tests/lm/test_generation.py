"""Greedy batched decoding: cache vs recomputation, positions, padding, stopping."""

from __future__ import annotations

import pytest
import torch

from tests import tiny
from transnar.lm import LMOutput, generate

PROMPTS = [
    "bfs:\ns: 0, A: [[0 1], [1 0]]\npi:\n",
    "insertion_sort:\nkey: [0.5 0.25]\npred:\n",
    "dfs:\n",
]


def _model(**overrides):
    # a larger init makes the greedy continuation depend on the context
    return tiny.lm(init_std=0.5, **overrides)


class Recorder(torch.nn.Module):
    """Wraps a model and records the arguments of every call."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.calls = []
        self.max_position = model.max_position

    def make_cache(self, capacity=0):
        return self.model.make_cache(capacity)

    def forward(self, input_ids, positions=None, cache=None, attention_mask=None, **kwargs):
        self.calls.append(
            {"ids": input_ids, "positions": positions, "mask": attention_mask, **kwargs}
        )
        return self.model(
            input_ids, positions=positions, cache=cache, attention_mask=attention_mask
        )


@pytest.mark.parametrize("positions", ["linear", "random"])
def test_cache_and_recomputation_give_the_same_tokens(tokenizer, positions):
    model = _model()
    results = [
        generate(
            model,
            tokenizer,
            PROMPTS,
            30,
            positions=positions,
            stop="",
            use_cache=use_cache,
            generator=torch.Generator().manual_seed(4),
        )
        for use_cache in (True, False)
    ]
    assert results[0] == results[1]
    # stop="": only <eos> ends a sequence early
    result = results[0]
    assert all(n == 30 or result.token_ids[b][-1] == 2 for b, n in enumerate(result.num_tokens))
    assert sum(len(set(ids)) > 2 for ids in result.token_ids) >= 2  # not one repeated token


def test_positions_are_drawn_once_and_consumed_left_to_right(tokenizer):
    """The cached steps use the positions the full recomputation uses; each
    sequence's real tokens get sorted, unique positions within range."""
    runs = {}
    for use_cache in (True, False):
        recorder = Recorder(_model())
        generate(
            recorder,
            tokenizer,
            PROMPTS,
            12,
            stop="",
            use_cache=use_cache,
            generator=torch.Generator().manual_seed(1),
        )
        runs[use_cache] = recorder.calls
    cached, full = runs[True], runs[False]
    assert len(cached) == len(full) == 12
    assert [c["ids"].shape[1] for c in cached[1:]] == [1] * 11
    cached_positions = torch.cat([c["positions"] for c in cached], dim=1)
    torch.testing.assert_close(cached_positions, full[-1]["positions"], atol=0, rtol=0)
    mask = full[-1]["mask"]
    for b in range(len(PROMPTS)):
        real = cached_positions[b][mask[b]]
        assert (real[1:] > real[:-1]).all() and real.min() >= 0 and real.max() < 256
        assert len(real) == len(PROMPTS[b]) + 1 + 11
    assert not torch.equal(cached_positions[0, -5:], cached_positions[1, -5:])
    # the prompt is left padded; answer slots are real tokens
    assert mask[2].tolist()[:3] == [False] * 3 and mask[:, -11:].all()


def test_padding_changes_nothing(tokenizer):
    model = _model()
    batched = generate(model, tokenizer, PROMPTS, 20, positions="linear", stop="")
    for b, prompt in enumerate(PROMPTS):
        alone = generate(model, tokenizer, [prompt], 20, positions="linear", stop="")
        assert alone.token_ids[0] == batched.token_ids[b]


def test_random_positions_are_reproducible(tokenizer):
    model = _model()
    runs = [
        generate(model, tokenizer, PROMPTS, 15, stop="", generator=torch.Generator().manual_seed(s))
        for s in (0, 0, 1)
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


class Scripted(torch.nn.Module):
    """Writes fixed token ids per sequence, whatever the input (then ``x``)."""

    def __init__(self, tokenizer, answers: list[list[int]], prompt_length: int):
        super().__init__()
        self.vocab_size = len(tokenizer)
        self.filler = tokenizer.encode("x")[0]
        self.answers = answers
        self.prompt_length = prompt_length
        self.kwargs = []

    def make_cache(self, capacity=0):
        return None

    def forward(self, input_ids, positions=None, cache=None, attention_mask=None, **kwargs):
        self.kwargs.append(kwargs)
        step = attention_mask.shape[1] - self.prompt_length  # tokens generated so far
        logits = torch.zeros(*input_ids.shape, self.vocab_size)
        for b, answer in enumerate(self.answers):
            logits[b, -1, answer[step] if step < len(answer) else self.filler] = 1.0
        return LMOutput(logits=logits)


@pytest.mark.parametrize("use_cache", [True, False])
def test_stops_at_the_blank_line_eos_or_the_bound(tokenizer, use_cache):
    eos = tokenizer.eos_id
    scripts = ["[0 1]\n\nnot this", "12\n3\n4\n5\n6\n7", "0\n", "\n\n"]
    answers = [tokenizer.encode(text) for text in scripts]
    answers[2].append(eos)
    model = Scripted(tokenizer, answers, prompt_length=2)  # <bos> + one character
    memory = torch.ones(4, 3)
    result = generate(
        model, tokenizer, ["a"] * 4, 10, positions="linear", use_cache=use_cache, memory=memory
    )
    assert result.texts == ["[0 1]\n\n", "12\n3\n4\n5\n6", "0\n", "\n\n"]
    assert result.num_tokens == [7, 10, 3, 2]
    assert result.stopped == [True, False, True, True]
    assert result.token_ids[0] == tokenizer.encode("[0 1]\n\n")
    assert result.token_ids[2] == [*tokenizer.encode("0\n"), eos]
    # forward_kwargs reach every call (the prompt, then 9 steps up to the bound)
    assert len(model.kwargs) == 10 and all(k["memory"] is memory for k in model.kwargs)
    # once every answer has ended, decoding stops
    model = Scripted(tokenizer, answers[2:], prompt_length=2)
    assert generate(model, tokenizer, ["a"] * 2, 10, positions="linear").stopped == [True] * 2
    assert len(model.kwargs) == 3


def test_forward_kwargs_reach_the_lm_through_a_wrapper(tokenizer):
    """A TransNAR-like wrapper takes extra memory as a keyword; after_layer
    receives it through a closure."""
    lm = _model()
    seen = []

    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lm = lm
            self.max_position = lm.max_position

        def make_cache(self, capacity=0):
            return lm.make_cache(capacity)

        def forward(self, input_ids, memory=None, **kwargs):
            def after_layer(index, hidden):
                seen.append((index, memory.shape))
                return hidden

            return self.lm(input_ids, after_layer=after_layer, **kwargs)

    plain = generate(lm, tokenizer, PROMPTS, 8, stop="", generator=torch.Generator().manual_seed(2))
    wrapped = generate(
        Wrapper(),
        tokenizer,
        PROMPTS,
        8,
        stop="",
        memory=torch.zeros(3, 5, 7),
        generator=torch.Generator().manual_seed(2),
    )
    assert wrapped == plain
    assert len(seen) == 8 * 2 and seen[0] == (0, (3, 5, 7))


def test_default_positions_follow_the_model(tokenizer):
    recorder = Recorder(_model(random_positions_eval=False))
    recorder.uses_random_positions = recorder.model.uses_random_positions
    generate(recorder, tokenizer, PROMPTS[:1], 3, stop="", use_cache=False)
    (real,) = recorder.calls[-1]["positions"]
    assert real.tolist() == list(range(len(PROMPTS[0]) + 1 + 2))
    recorder = Recorder(_model())  # random at evaluation, as the reference
    recorder.uses_random_positions = recorder.model.uses_random_positions
    generate(recorder, tokenizer, PROMPTS[:1], 3, stop="", use_cache=False)
    (real,) = recorder.calls[-1]["positions"]
    assert real.tolist() != list(range(len(real)))


def test_mode_is_restored_and_bad_arguments_fail(tokenizer):
    model = _model().train()
    generate(model, tokenizer, PROMPTS[:1], 3)
    assert model.training
    with pytest.raises(ValueError, match="positions must be"):
        generate(model, tokenizer, PROMPTS, 3, positions="sinusoidal")
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, tokenizer, PROMPTS, 0)
    with pytest.raises(ValueError, match="longer than max_position"):
        generate(model, tokenizer, PROMPTS, 250)
    assert generate(model, tokenizer, [], 5).texts == []
    with pytest.raises(ValueError, match="not one string"):
        generate(model, tokenizer, PROMPTS[0], 3)


def test_ids_of_a_padded_vocabulary_are_never_chosen(tokenizer):
    """A model whose vocabulary is wider than its tokenizer's (padded for speed,
    as Pythia's is) answers with the tokenizer's ids only."""
    model = _model(vocab_size=len(tokenizer) + 40, tie_embeddings=False)
    with torch.no_grad():
        model.head.weight[len(tokenizer) :] = 10.0  # the padding ids would win
    generation = generate(model, tokenizer, PROMPTS, 6)
    assert all(len(text) > 0 for text in generation.texts)


# --- per-prompt budgets -------------------------------------------------------------------


@pytest.mark.parametrize("use_cache", [True, False])
def test_per_prompt_budgets_cut_each_sequence_at_its_own(tokenizer, use_cache):
    model = _model()
    budgets = [3, 9, 5]
    common = {"positions": "linear", "stop": "", "use_cache": use_cache}
    result = generate(model, tokenizer, PROMPTS, budgets, **common)
    longest = generate(model, tokenizer, PROMPTS, max(budgets), **common)
    eos = tokenizer.eos_id
    for b, budget in enumerate(budgets):
        ids = result.token_ids[b]
        ended = bool(ids) and ids[-1] == eos
        assert len(ids) <= budget and (ended or len(ids) == budget)
        assert result.stopped[b] == ended
        assert ids == longest.token_ids[b][:budget]  # linear: a prefix of the longer run


def test_a_sequence_does_not_depend_on_another_s_budget(tokenizer):
    model = _model()
    runs = [
        generate(model, tokenizer, PROMPTS, [12, other, 12], positions="linear", stop="")
        for other in (1, 7, 20)
    ]
    for b in (0, 2):
        assert runs[0].token_ids[b] == runs[1].token_ids[b] == runs[2].token_ids[b]
        assert runs[0].texts[b] == runs[2].texts[b]
    assert [len(r.token_ids[1]) <= n for r, n in zip(runs, (1, 7, 20), strict=True)] == [True] * 3


def test_positions_are_drawn_for_each_prompt_and_its_own_budget(tokenizer):
    recorder = Recorder(_model())
    budgets = [4, 11, 2]
    generate(
        recorder,
        tokenizer,
        PROMPTS,
        budgets,
        stop="",
        use_cache=False,
        generator=torch.Generator().manual_seed(3),
    )
    last = recorder.calls[-1]  # every column but the last (its token is never fed)
    mask, positions = last["mask"], last["positions"]
    for b, budget in enumerate(budgets):
        real = positions[b][mask[b]]
        assert len(real) == len(PROMPTS[b]) + 1 + min(budget, max(budgets) - 1)
        assert (real[1:] > real[:-1]).all() and real.max() < recorder.max_position
    # the answer slots beyond a budget are padding
    assert mask[2, -(10 - 2) :].tolist() == [False] * 8 and mask[1, -10:].all()


def test_per_prompt_budgets_are_checked(tokenizer):
    model = _model()
    with pytest.raises(ValueError, match="2 budgets for 3 prompts"):
        generate(model, tokenizer, PROMPTS, [3, 4])
    with pytest.raises(ValueError, match="at least 1"):
        generate(model, tokenizer, PROMPTS, [3, 0, 4])
    one = generate(model, tokenizer, PROMPTS, 6, positions="linear", stop="")
    assert generate(model, tokenizer, PROMPTS, [6, 6, 6], positions="linear", stop="") == one
