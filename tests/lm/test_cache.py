"""The KV cache (transnar.lm.cache) through DecoderLM: equal to a full recomputation,
chunks, growth, and the positions it needs."""

from __future__ import annotations

import pytest
import torch

from tests import tiny
from tests.lm.helpers import ATOL, random_ids, seeded_positions
from transnar.lm import linear_positions, pad_positions


@pytest.mark.parametrize("kind", ["linear", "random"])
@pytest.mark.parametrize("padded", [False, True])
def test_kv_cache_matches_full_recomputation(kind, padded):
    model = tiny.lm()
    B, T, prompt = 3, 14, 5
    ids = random_ids(B, T)
    positions = seeded_positions(B, T) if kind == "random" else linear_positions(B, T)
    mask = None
    if padded:  # left padding of 2 and 1 tokens
        mask = torch.ones(B, T, dtype=torch.bool)
        mask[0, :2] = mask[1, :1] = False
        positions = pad_positions(positions, mask)
    full = model(ids, positions=positions, attention_mask=mask).logits
    cache = model.make_cache(capacity=T)
    steps = [
        model(
            ids[:, :prompt],
            positions=positions[:, :prompt],
            cache=cache,
            attention_mask=None if mask is None else mask[:, :prompt],
        ).logits
    ]
    for t in range(prompt, T):
        steps.append(
            model(
                ids[:, t : t + 1],
                positions=positions[:, t : t + 1],
                cache=cache,
                attention_mask=None if mask is None else mask[:, : t + 1],
            ).logits
        )
    assert cache.length == T
    cached = torch.cat(steps, dim=1)
    keep = torch.ones(B, T, dtype=torch.bool) if mask is None else mask
    torch.testing.assert_close(cached[keep], full[keep], atol=ATOL, rtol=0)
    assert torch.equal(cached.argmax(-1)[keep], full.argmax(-1)[keep])


def test_kv_cache_chunks_and_growth():
    """Several new tokens after cached ones (an explicit causal mask), and a cache
    that outgrows its capacity."""
    model = tiny.lm()
    ids, positions = random_ids(2, 11), seeded_positions(2, 11)
    full = model(ids, positions=positions).logits
    cache = model.make_cache(capacity=2)
    chunks = [(0, 3), (3, 4), (4, 9), (9, 11)]
    cached = torch.cat(
        [model(ids[:, a:b], positions=positions[:, a:b], cache=cache).logits for a, b in chunks],
        dim=1,
    )
    torch.testing.assert_close(cached, full, atol=ATOL, rtol=0)
    assert cache.layers[0].keys.shape[2] >= 11


def test_random_default_positions_refuse_a_cache():
    model = tiny.lm()
    cache = model.make_cache()
    model(random_ids(1, 3), positions=linear_positions(1, 3), cache=cache)
    with pytest.raises(ValueError, match="drawn once"):
        model(random_ids(1, 1), cache=cache)
    with pytest.raises(ValueError, match="attention_mask must be"):
        model(
            random_ids(1, 1),
            positions=linear_positions(1, 1),
            cache=cache,
            attention_mask=torch.ones(1, 1, dtype=torch.bool),
        )
    linear = tiny.lm(random_positions_eval=False)
    cache = linear.make_cache()
    full = linear(random_ids(1, 4)).logits
    linear(random_ids(1, 4)[:, :3], cache=cache)
    torch.testing.assert_close(
        linear(random_ids(1, 4)[:, 3:], cache=cache).logits, full[:, 3:], atol=ATOL, rtol=0
    )
