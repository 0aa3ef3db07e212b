"""Tiny models for the LM tests (HF ModelTester style: d_model 32, 2 layers)."""

from __future__ import annotations

import torch

from transnar.lm import CharTokenizer, DecoderLM, LMConfig


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
