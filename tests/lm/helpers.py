"""Helpers of the LM tests: token ids and positions drawn from a seed, a tolerance.

The tiny LM itself is in :mod:`tests.tiny`. Import these as ``from tests.lm.helpers import ...``.
"""

from __future__ import annotations

import torch

from transnar.lm import random_positions

ATOL = 1e-5
"""Tolerance of logits computed two ways (padded or not, cached or not)."""


def random_ids(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """``(B, T)`` token ids of characters (not special tokens), drawn from ``seed``."""
    return torch.randint(4, 79, (batch, length), generator=torch.Generator().manual_seed(seed))


def seeded_positions(batch: int, length: int, seed: int = 1, max_position: int = 256):
    """``(B, T)`` random positions drawn from ``seed``."""
    return random_positions(batch, length, max_position, torch.Generator().manual_seed(seed))
