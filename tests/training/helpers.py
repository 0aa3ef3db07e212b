"""Helpers of the training tests: the records of a run's ``metrics.jsonl``.

The tiny configs and the tiny NAR checkpoint are in :mod:`tests.tiny`. Import
these as ``from tests.training.helpers import ...``.
"""

from __future__ import annotations

import json
from pathlib import Path


def records(run_dir: Path) -> list[dict]:
    """Every record of the run's metrics.jsonl, in order."""
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def losses_of(run_dir: Path) -> list[tuple[int, float]]:
    """``(step, loss)`` of each training step logged in the run's metrics.jsonl."""
    return [(r["step"], r["loss"]) for r in records(run_dir) if "loss" in r]


def val_losses_of(run_dir: Path) -> list[tuple[int, float]]:
    """``(step, validation loss)`` of each validation in the run's metrics.jsonl."""
    return [(r["step"], r["val_loss"]) for r in records(run_dir) if "val_loss" in r]
