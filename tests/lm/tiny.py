"""Tiny models for the LM tests (HF ModelTester style: d_model 32, 2 layers)."""

from __future__ import annotations

import torch

from transnar.lm import CharTokenizer, DecoderLM, LMConfig, random_positions

ATOL = 1e-5
"""Tolerance of logits computed two ways (padded or not, cached or not)."""


def tiny_config(**overrides) -> LMConfig:
    options = {"vocab_size": 79, "d_model": 32, "n_layers": 2, "n_heads": 4, "max_position": 256}
    return LMConfig(**{**options, **overrides})


def tiny_model(seed: int = 0, tokenizer: CharTokenizer | None = None, **overrides) -> DecoderLM:
    """A tiny model in eval mode, initialised from ``seed``.

    Pass a larger ``init_std`` (e.g. 0.3) for greedy outputs that depend on
    the context rather than repeating one token.
    """
    torch.manual_seed(seed)
    return DecoderLM(tiny_config(**overrides), tokenizer=tokenizer).eval()


def random_ids(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """``(B, T)`` token ids of characters (not special tokens), drawn from ``seed``."""
    return torch.randint(4, 79, (batch, length), generator=torch.Generator().manual_seed(seed))


def seeded_positions(batch: int, length: int, seed: int = 1, max_position: int = 256):
    """``(B, T)`` random positions drawn from ``seed``."""
    return random_positions(batch, length, max_position, torch.Generator().manual_seed(seed))
