"""The Neural Algorithmic Reasoner (encode-process-decode; Triplet-GMPNN by default)."""

from transnar.nar.config import NARConfig
from transnar.nar.features import Features
from transnar.nar.model import NAR, NAROutput

__all__ = ["NAR", "Features", "NARConfig", "NAROutput"]
