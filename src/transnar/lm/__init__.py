"""The language model: character tokenizer, decoder-only Transformer, decoding.

- :class:`CharTokenizer`: one token per character of the CLRS-Text alphabet,
  plus ``<pad> <bos> <eos> <unk>``; saved with the model.
- :class:`DecoderLM` (:class:`LMConfig`): pre-norm RMSNorm, causal attention
  with RoPE at randomized positions (Ruoss et al. 2023), SwiGLU or GELU MLP,
  KV cache, ``after_layer`` hook for TransNAR's cross-attention; it alone is
  the Transformer-only baseline.
- :func:`generate`: greedy batched decoding up to the answer's blank line.
"""

from transnar.lm.generation import BLANK_LINE, Generation, generate
from transnar.lm.tokenizer import (
    CLRS_TEXT_ALPHABET,
    IGNORE_INDEX,
    SPECIAL_TOKENS,
    CharTokenizer,
    UnknownCharacterError,
)
from transnar.lm.transformer import (
    CheckpointError,
    DecoderLM,
    KVCache,
    LMConfig,
    LMOutput,
    linear_positions,
    pad_positions,
    random_positions,
)

__all__ = [
    "BLANK_LINE",
    "CLRS_TEXT_ALPHABET",
    "IGNORE_INDEX",
    "SPECIAL_TOKENS",
    "CharTokenizer",
    "CheckpointError",
    "DecoderLM",
    "Generation",
    "KVCache",
    "LMConfig",
    "LMOutput",
    "UnknownCharacterError",
    "generate",
    "linear_positions",
    "pad_positions",
    "random_positions",
]
