"""Training checkpoints of both trainers: one file format, written atomically, checked on reading.

A checkpoint is one ``torch.save`` file holding only plain values and tensors
(so it is read with ``torch.load(..., weights_only=True)``, which never
unpickles arbitrary objects)::

    {"format": "transnar-{nar,lm}-checkpoint", "format_version": 1,
     "transnar_version": "0.1.0", "torch_version": "2.13.0",
     "config": the run's config as a dict,
     "step": int, "model": state_dict,
     # `last` checkpoints (exact resume):
     "optimizer": state_dict, "train_state": {...}}

A run directory keeps ``checkpoints/last.pt`` (everything needed to resume,
see :mod:`transnar.training.loop`) and, for the NAR, ``checkpoints/best.pt``
(the weights with the best validation score).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from transnar import __version__
from transnar.persistence import CheckpointError, atomic_write, read_torch

CHECKPOINTS = "checkpoints"
LAST = "last.pt"
BEST = "best.pt"
FORMAT_VERSION = 1

KINDS = {"nar": "transnar NAR checkpoint", "lm": "transnar LM training checkpoint"}
"""Checkpoint kind (the trainer) -> what error messages call it."""


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
        kind: the trainer, a key of :data:`KINDS`.
        config: the run's config, as a dict.
        step: training steps done.
        model: the model's state dict (what the trainer saves of it).
        optimizer: the optimizer's state dict (``last`` checkpoints).
        train_state: plain values: scores, data and random states (``last``).
    """
    payload: dict[str, Any] = {
        "format": _format(kind),
        "format_version": FORMAT_VERSION,
        "transnar_version": __version__,
        "torch_version": str(torch.__version__),
        "config": config,
        "step": step,
        "model": model,
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer
    if train_state is not None:
        payload["train_state"] = train_state
    with atomic_write(path, overwrite=True) as handle:
        torch.save(payload, handle)


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
        kind: the trainer, a key of :data:`KINDS`.
        config_from_dict: the config class's ``from_dict``.
        map_location: where the tensors go.
        missing: the start of the message when there is no file
            (``"nothing to resume: "``).

    Raises:
        CheckpointError: missing, unreadable, not a transnar checkpoint of
            ``kind``, of another format version, or with an invalid config.
    """
    path = Path(path)
    what = KINDS[kind]
    if not path.is_file():
        raise CheckpointError(f"{missing}no checkpoint at {path}")
    payload = read_torch(path, what, map_location)
    if not isinstance(payload, dict) or payload.get("format") != _format(kind):
        raise CheckpointError(f"{path} is not a {what}")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {payload.get('format_version')!r} "
            f"(written by transnar {payload.get('transnar_version')}); this transnar "
            f"{__version__} reads version {FORMAT_VERSION}"
        )
    try:
        payload["config"] = config_from_dict(payload["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} has an invalid config: {error}") from None
    payload["path"] = path
    return payload


def _format(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r} (known: {', '.join(KINDS)})")
    return f"transnar-{kind}-checkpoint"


__all__ = [
    "BEST",
    "CHECKPOINTS",
    "FORMAT_VERSION",
    "KINDS",
    "LAST",
    "checkpoint_path",
    "read_checkpoint",
    "save_checkpoint",
]
