"""NAR checkpoints: safe to load, written atomically, checked on reading.

A checkpoint is one ``torch.save`` file holding only plain values and tensors
(so it is read with ``torch.load(..., weights_only=True)``, which never
unpickles arbitrary objects)::

    {"format": "transnar-nar-checkpoint", "format_version": 1,
     "transnar_version": "0.1.0", "torch_version": "2.13.0",
     "config": RunConfig.to_dict(),
     "step": int, "model": state_dict,
     # `last` checkpoints only (exact resume):
     "optimizer": state_dict, "train_state": {...}}

A run directory keeps two: ``checkpoints/last.pt`` (everything needed to
resume) and ``checkpoints/best.pt`` (the weights with the best mean
validation score). :func:`load_nar` rebuilds a :class:`~transnar.nar.NAR`
from either, or from a run directory (its best checkpoint).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from transnar import __version__
from transnar._files import CheckpointError, atomic_write
from transnar._runs import read_torch_file
from transnar.nar.model import NAR
from transnar.nar.run_config import RunConfig

FORMAT = "transnar-nar-checkpoint"
FORMAT_VERSION = 1
CHECKPOINTS = "checkpoints"
LAST = "last.pt"
BEST = "best.pt"


def checkpoint_path(run_dir: str | os.PathLike, which: str = "best") -> Path:
    """``RUN/checkpoints/{best,last}.pt``."""
    if which not in ("best", "last"):
        raise ValueError(f"which must be 'best' or 'last', got {which!r}")
    return Path(run_dir) / CHECKPOINTS / (BEST if which == "best" else LAST)


def save_checkpoint(
    path: str | os.PathLike,
    config: RunConfig,
    step: int,
    model: dict[str, torch.Tensor],
    optimizer: dict | None = None,
    train_state: dict | None = None,
) -> None:
    """Writes a checkpoint atomically (a reader never sees a half-written file).

    Args:
        path: the file; replaced if it exists.
        config: the run's config.
        step: training steps done.
        model: the NAR's state dict.
        optimizer: the optimizer's state dict (``last`` checkpoints).
        train_state: plain values: scores, data and random states (``last``).
    """
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "transnar_version": __version__,
        "torch_version": str(torch.__version__),
        "config": config.to_dict(),
        "step": step,
        "model": model,
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer
    if train_state is not None:
        payload["train_state"] = train_state
    with atomic_write(path, overwrite=True) as handle:
        torch.save(payload, handle)


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Reads and checks a checkpoint; its ``config`` is returned as a :class:`RunConfig`.

    Raises:
        CheckpointError: missing, unreadable, not a transnar NAR checkpoint, or
            of another format version.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    payload = read_torch_file(path, "transnar NAR checkpoint", map_location)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a transnar NAR checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {payload.get('format_version')!r} "
            f"(written by transnar {payload.get('transnar_version')}); this transnar "
            f"{__version__} reads version {FORMAT_VERSION}"
        )
    try:
        payload["config"] = RunConfig.from_dict(payload["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} has an invalid config: {error}") from None
    return payload


def build_nar(config: RunConfig, state: dict[str, torch.Tensor], source: str) -> NAR:
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
        CheckpointError: see :func:`read_checkpoint`, or weights that do not
            fit the config.
    """
    path = Path(path)
    if path.is_dir():
        path = checkpoint_path(path, "best")
    payload = read_checkpoint(path)
    nar = build_nar(payload["config"], payload["model"], str(path)).to(device)
    if freeze:
        nar.eval().requires_grad_(False)
    return nar
