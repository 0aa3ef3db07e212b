"""The language model: character tokenizer, decoder-only Transformer, decoding.

- :class:`LMConfig` (:mod:`~transnar.lm.config`): the architecture.
- :class:`CharTokenizer` (:mod:`~transnar.lm.tokenizer`): one token per
  character of the CLRS-Text alphabet, plus ``<pad> <bos> <eos> <unk>``;
  saved with the model.
- :class:`DecoderLM` (:mod:`~transnar.lm.transformer`): pre-norm RMSNorm,
  causal attention with RoPE, SwiGLU or GELU MLP, ``after_layer`` hook for
  TransNAR's cross-attention; it alone is the Transformer-only baseline.
- :mod:`~transnar.lm.positions`: linear and randomized positions (Ruoss et
  al. 2023), laid onto padded batches; :mod:`~transnar.lm.cache`: the KV cache.
- :func:`generate` (:mod:`~transnar.lm.generation`): greedy batched decoding
  up to the answer's blank line.
- :mod:`~transnar.lm.hf`: a pretrained Hugging Face causal LM behind
  :class:`DecoderLM`'s interface (the ``hf`` extra; import it explicitly).
- :mod:`~transnar.lm.builders`: the language model and tokenizer a config asks
  for (a :class:`DecoderLM`, or the ``hf`` one), new or saved.

Imports: :mod:`transnar.persistence` (and may import :mod:`transnar.clrs`);
never :mod:`transnar.nar`, :mod:`transnar.model` or anything above them.
"""

from transnar.lm.cache import KVCache
from transnar.lm.config import LMConfig
from transnar.lm.generation import BLANK_LINE, Generation, generate
from transnar.lm.positions import linear_positions, pad_positions, random_positions
from transnar.lm.tokenizer import (
    CLRS_TEXT_ALPHABET,
    IGNORE_INDEX,
    SPECIAL_TOKENS,
    CharTokenizer,
    UnknownCharacterError,
)
from transnar.lm.transformer import DecoderLM, LMOutput
from transnar.persistence import CheckpointError

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
