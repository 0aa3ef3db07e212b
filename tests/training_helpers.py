"""Helpers of the LM training tests: a tiny NAR checkpoint, tiny configs, metrics.

Import them as ``from tests.training_helpers import ...``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from transnar.nar import NAR, NARConfig
from transnar.training import LMTrainConfig, apply_overrides, preset
from transnar.training.nar_checkpoint import save_nar_checkpoint
from transnar.training.nar_config import NARDataOptions, NARTrainConfig
from transnar.training.options import TrainOptions

ALGORITHMS = ("bfs", "insertion_sort")
NAR_HIDDEN = 8

# A run of about half a second: 6 steps of 4 examples, validation every 2.
FAST = (
    "train_count=8",
    "val_count=4",
    "batch_size=4",
    "steps=6",
    "warmup_steps=2",
    "eval_every=2",
    "eval_batch_size=8",
    "threads=1",
)


def write_nar_checkpoint(path: Path, algorithms=ALGORITHMS, seed: int = 0) -> Path:
    """A random (untrained) tiny NAR saved as a NAR checkpoint; returns ``path``."""
    torch.manual_seed(seed)
    nar_config = NARConfig(algorithms=tuple(algorithms), hidden_dim=NAR_HIDDEN, nb_triplet_fts=4)
    run_config = NARTrainConfig(nar_config, NARDataOptions(train_sizes=(4,)), TrainOptions(steps=1))
    save_nar_checkpoint(path, run_config, 0, NAR(nar_config).state_dict())
    return path


def tiny_config(nar_checkpoint: Path | None, *overrides: str) -> LMTrainConfig:
    """The ``tiny`` preset made faster; TransNAR with ``nar_checkpoint``, else the baseline."""
    source = [f"nar.checkpoint={nar_checkpoint}"] if nar_checkpoint else ["use_nar=false"]
    return apply_overrides(preset("tiny"), [*FAST, *source, *overrides])


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def losses_of(run_dir: Path) -> list[tuple[int, float]]:
    """``(step, loss)`` of each training step logged in the run's metrics.jsonl."""
    return [(r["step"], r["loss"]) for r in records(run_dir) if "loss" in r]


def val_losses_of(run_dir: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["val_loss"]) for r in records(run_dir) if "val_loss" in r]
