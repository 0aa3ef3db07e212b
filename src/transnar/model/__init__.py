"""TransNAR: a language model that cross-attends to a frozen NAR, its control and
its Transformer-only baseline (one model, one switch).

- :class:`TransNAR` (:mod:`~transnar.model.transnar`): the model, its decoding
  cache (:class:`DecodingCache`) and its files (``save_pretrained`` /
  ``from_pretrained``); the module docstring explains the architecture.
- :class:`TransNARConfig` (:mod:`~transnar.model.config`): the architecture.
- :class:`GatedCrossAttentionBlock`, :class:`CrossAttention` and
  :class:`StepReader` (:mod:`~transnar.model.layers`): the blocks that let
  the tokens read the NAR's memory.
- :func:`decoy_features` (:mod:`~transnar.model.decoy`): the control's graphs.

The language model it wraps is built by :mod:`transnar.lm.builders`.

Imports: :mod:`transnar.clrs`, :mod:`transnar.nar`, :mod:`transnar.lm` and
:mod:`transnar.persistence`; never ``evaluation``, ``training``, ``pipeline``
or ``cli``.
"""

from transnar.model.config import TransNARConfig
from transnar.model.decoy import decoy_features
from transnar.model.layers import CrossAttention, GatedCrossAttentionBlock, StepReader
from transnar.model.transnar import DecodingCache, TransNAR, nar_dims, with_nar_widths

__all__ = [
    "CrossAttention",
    "DecodingCache",
    "GatedCrossAttentionBlock",
    "StepReader",
    "TransNAR",
    "TransNARConfig",
    "decoy_features",
    "nar_dims",
    "with_nar_widths",
]
