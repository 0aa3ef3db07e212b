"""Training checkpoints of both trainers: one file format, written atomically, checked on reading.

A checkpoint is one ``torch.save`` file holding only plain values and tensors
(so it is read with ``torch.load(..., weights_only=True)``, which never
unpickles arbitrary objects), written and checked by :mod:`transnar.persistence`
(:data:`FORMATS`)::

    {"format": "transnar.{nar,lm}_checkpoint", "version": 1,
     "transnar_version": "0.1.0", "torch_version": "2.13.0",
     "config": the run's config as a dict,
     "step": int, "model": state_dict,
     # `last` checkpoints (exact resume):
     "optimizer": state_dict, "train_state": {...}}

Checkpoints written before (``"format": "transnar-{nar,lm}-checkpoint"``,
``"format_version": 1``) still read. A run directory keeps
``checkpoints/last.pt`` (everything needed to resume, see
:mod:`transnar.training.loop`) and, for the NAR, ``checkpoints/best.pt`` (the
weights with the best validation score).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from transnar import persistence
from transnar.persistence import CheckpointError, FileFormat

CHECKPOINTS = "checkpoints"
LAST = "last.pt"
BEST = "best.pt"

FORMATS = {
    "nar": FileFormat(
        "transnar.nar_checkpoint",
        1,
        "transnar NAR checkpoint",
        remedy="train the NAR again (--force starts the run over)",
        legacy_names=("transnar-nar-checkpoint",),
    ),
    "lm": FileFormat(
        "transnar.lm_checkpoint",
        1,
        "transnar LM training checkpoint",
        remedy="start the run over (--force)",
        legacy_names=("transnar-lm-checkpoint",),
    ),
}
"""Checkpoint kind (the trainer) -> its file format."""


def checkpoint_path(run_dir: str | os.PathLike, which: str = "best") -> Path:
    """``RUN/checkpoints/{best,last}.pt``."""
    if which not in ("best", "last"):
        raise ValueError(f"which must be 'best' or 'last', got {which!r}")
    return Path(run_dir) / CHECKPOINTS / (BEST if which == "best" else LAST)


def save_checkpoint(
    path: str | os.PathLike,
    kind: str,
    config: dict,
    step: int,
    model: dict[str, torch.Tensor],
    optimizer: dict | None = None,
    train_state: dict | None = None,
) -> None:
    """Writes a checkpoint atomically (a reader never sees a half-written file).

    Args:
        path: the file; replaced if it exists.
        kind: the trainer, a key of :data:`FORMATS`.
        config: the run's config, as a dict.
        step: training steps done.
        model: the model's state dict (what the trainer saves of it).
        optimizer: the optimizer's state dict (``last`` checkpoints).
        train_state: plain values: scores, data and random states (``last``).
    """
    body: dict[str, Any] = {"config": config, "step": step, "model": model}
    if optimizer is not None:
        body["optimizer"] = optimizer
    if train_state is not None:
        body["train_state"] = train_state
    persistence.write_checkpoint(path, _format(kind), body)


def read_checkpoint(
    path: str | os.PathLike,
    kind: str,
    config_from_dict: Callable[[dict], Any],
    map_location: str | torch.device = "cpu",
    missing: str = "",
) -> dict:
    """Reads and checks a checkpoint of ``kind``; its ``config`` comes back
    built by ``config_from_dict``, and ``path`` is added.

    Args:
        path: the file.
        kind: the trainer, a key of :data:`FORMATS`.
        config_from_dict: the config class's ``from_dict``.
        map_location: where the tensors go.
        missing: the start of the message when there is no file
            (``"nothing to resume: "``).

    Raises:
        CheckpointError: missing, unreadable, not a transnar checkpoint of
            ``kind``, of another format version, or with an invalid config.
    """
    path = Path(path)
    file_format = _format(kind)
    if not path.is_file():
        raise CheckpointError(f"{missing}no checkpoint at {path}")
    payload = persistence.read_checkpoint(path, file_format, map_location)
    try:
        payload["config"] = config_from_dict(payload["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} has an invalid config: {error}") from None
    payload["path"] = path
    return payload


def _format(kind: str) -> FileFormat:
    if kind not in FORMATS:
        raise ValueError(f"unknown checkpoint kind {kind!r} (known: {', '.join(FORMATS)})")
    return FORMATS[kind]


__all__ = [
    "BEST",
    "CHECKPOINTS",
    "FORMATS",
    "LAST",
    "checkpoint_path",
    "read_checkpoint",
    "save_checkpoint",
]
