"""The language model (and tokenizer) an :class:`~transnar.lm.config.LMConfig` asks for.

A :class:`~transnar.lm.transformer.DecoderLM` with the character tokenizer, or,
when ``config.pretrained`` names one, a pretrained Hugging Face causal LM
behind the same interface (:class:`transnar.lm.hf.HFCausalLM`, the ``hf``
extra, imported only then): :func:`build_tokenizer`,
:func:`build_language_model` (new weights) and :func:`load_language_model`
(saved ones).
"""

from __future__ import annotations

import os

from torch import nn

from transnar.lm.config import LMConfig
from transnar.lm.tokenizer import CharTokenizer, Tokenizer
from transnar.lm.transformer import DecoderLM
from transnar.persistence import CheckpointError


def build_tokenizer(config: LMConfig) -> Tokenizer:
    """The tokenizer of a language model: the pretrained model's own (``config.pretrained``)
    or the character tokenizer."""
    if config.pretrained is None:
        return CharTokenizer()
    from transnar.lm.hf import HFTokenizer

    return HFTokenizer.from_pretrained(config.pretrained)


def build_language_model(config: LMConfig, tokenizer: Tokenizer) -> nn.Module:
    """A new :class:`DecoderLM` (random weights, from torch's generator), or the
    pretrained model ``config.pretrained`` (its weights, with ``tokenizer``)."""
    if config.pretrained is None:
        return DecoderLM(config, tokenizer=tokenizer)
    from transnar.lm.hf import HFCausalLM

    return HFCausalLM.from_pretrained(config.pretrained, config, tokenizer)


def load_language_model(
    config: LMConfig, directory: str | os.PathLike, map_location: str = "cpu"
) -> nn.Module:
    """The language model saved in ``directory`` by ``save_pretrained``: a
    :class:`DecoderLM`, or the pretrained model's fine-tuned weights and tokenizer.

    Raises:
        CheckpointError: a missing or unreadable model.
    """
    if config.pretrained is None:
        return DecoderLM.from_pretrained(directory, map_location=map_location)
    from transnar.lm.hf import HFCausalLM

    try:
        return HFCausalLM.from_pretrained(directory, config, map_location=map_location)
    except ValueError as error:
        raise CheckpointError(f"{directory}: {error}") from None


__all__ = ["build_language_model", "build_tokenizer", "load_language_model"]
