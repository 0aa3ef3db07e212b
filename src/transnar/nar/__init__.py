"""The Neural Algorithmic Reasoner (encode-process-decode; Triplet-GMPNN by default).

:class:`NAR` (:class:`NARConfig`) runs on :class:`Features` and gives a
:class:`NAROutput`; :class:`GraphMemory` (:meth:`GraphMemory.from_output`) is
the part of it that TransNAR's cross-attention reads.

The model only; its trainer is :mod:`transnar.training.nar`, its scoring
:mod:`transnar.evaluation.nar`. Imports: :mod:`transnar.clrs` only.
"""

from transnar.nar.config import NARConfig
from transnar.nar.features import Features
from transnar.nar.memory import GraphMemory
from transnar.nar.model import NAR, NAROutput

__all__ = ["NAR", "Features", "GraphMemory", "NARConfig", "NAROutput"]
