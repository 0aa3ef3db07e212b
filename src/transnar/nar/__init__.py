"""The Neural Algorithmic Reasoner (encode-process-decode; Triplet-GMPNN by default).

The model only: config, layers, encoders, processors, decoders, losses, features,
stepping. Its trainer is :mod:`transnar.training.nar`, its scoring
:mod:`transnar.evaluation.nar`. Imports: :mod:`transnar.clrs` only.
"""

from transnar.nar.config import NARConfig
from transnar.nar.features import Features
from transnar.nar.model import NAR, NAROutput

__all__ = ["NAR", "Features", "NARConfig", "NAROutput"]
