"""The NAR's checkpoints (:mod:`transnar.training.checkpoint`, kind ``nar``), and
rebuilding a trained NAR from one.

A NAR run directory keeps two: ``checkpoints/last.pt`` (everything needed to
resume) and ``checkpoints/best.pt`` (the weights with the best mean
validation score). :func:`load_nar` rebuilds a :class:`~transnar.nar.NAR`
from either, or from a run directory (its best checkpoint).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from transnar.nar.model import NAR
from transnar.persistence import CheckpointError
from transnar.training.checkpoint import checkpoint_path, read_checkpoint, save_checkpoint
from transnar.training.nar_config import NARTrainConfig


def save_nar_checkpoint(
    path: str | os.PathLike,
    config: NARTrainConfig,
    step: int,
    model: dict[str, torch.Tensor],
    optimizer: dict | None = None,
    train_state: dict | None = None,
) -> None:
    """Writes a NAR checkpoint atomically (:func:`.checkpoint.save_checkpoint`)."""
    save_checkpoint(path, "nar", config.to_dict(), step, model, optimizer, train_state)


def read_nar_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu", missing: str = ""
) -> dict:
    """Reads and checks a NAR checkpoint; its ``config`` is a :class:`NARTrainConfig`.

    Raises:
        CheckpointError: missing, unreadable, not a transnar NAR checkpoint, or
            of another format version.
    """
    return read_checkpoint(path, "nar", NARTrainConfig.from_dict, map_location, missing)


def build_nar(config: NARTrainConfig, state: dict[str, torch.Tensor], source: str) -> NAR:
    """A NAR of ``config`` with the weights ``state`` (a clear error if they do not fit)."""
    nar = NAR(config.nar)
    try:
        nar.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise CheckpointError(f"{source}: the weights do not fit its config ({first})") from None
    return nar


def load_nar(
    path: str | os.PathLike,
    device: str | torch.device = "cpu",
    freeze: bool = False,
) -> NAR:
    """A trained NAR from a checkpoint file or a run directory (its best checkpoint).

    The TransNAR uses it frozen: pass ``freeze=True`` (or call ``.eval()`` and
    ``.requires_grad_(False)`` yourself).

    Args:
        path: a ``.pt`` checkpoint, or a run directory.
        device: where the weights go.
        freeze: evaluation mode and no gradients.

    Raises:
        CheckpointError: see :func:`read_nar_checkpoint`, or weights that do not
            fit the config.
    """
    path = Path(path)
    if path.is_dir():
        path = checkpoint_path(path, "best")
    payload = read_nar_checkpoint(path)
    nar = build_nar(payload["config"], payload["model"], str(path)).to(device)
    if freeze:
        nar.eval().requires_grad_(False)
    return nar


__all__ = [
    "build_nar",
    "load_nar",
    "read_nar_checkpoint",
    "save_nar_checkpoint",
]
