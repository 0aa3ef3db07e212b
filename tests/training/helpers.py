"""Helpers of the training tests: the records of a run's ``metrics.jsonl``.

The tiny configs and the tiny NAR checkpoint are in :mod:`tests.tiny`. Import
these as ``from tests.training.helpers import ...``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from transnar.training import lm as loop_module
from transnar.training import train_lm


def records(run_dir: Path) -> list[dict]:
    """Every record of the run's metrics.jsonl, in order."""
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def losses_of(run_dir: Path) -> list[tuple[int, float]]:
    """``(step, loss)`` of each training step logged in the run's metrics.jsonl."""
    return [(r["step"], r["loss"]) for r in records(run_dir) if "loss" in r]


def val_losses_of(run_dir: Path) -> list[tuple[int, float]]:
    """``(step, validation loss)`` of each validation in the run's metrics.jsonl."""
    return [(r["step"], r["val_loss"]) for r in records(run_dir) if "val_loss" in r]


class InterruptError(Exception):
    """Raised in a training step to interrupt a run."""


def interrupted_in_step_5(monkeypatch, config, run_dir: Path) -> None:
    """Trains the LM ``config`` into ``run_dir`` and interrupts it in step 5
    (after the checkpoint of step 4: the tiny runs validate every 2 steps)."""
    real_step, calls = loop_module.lm_train_step, []

    def failing_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise InterruptError
        return real_step(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(loop_module, "lm_train_step", failing_step)
        with pytest.raises(InterruptError):
            train_lm(config, run_dir, progress=False)
