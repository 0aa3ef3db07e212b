"""The NAR trainer: multi-task training (Ibarz et al. 2022; reference ``clrs/examples/run.py``).

One step draws one batch per algorithm and makes one Adam update per
algorithm. The processor is shared; each algorithm's encoders and decoders
only get gradients from its own batches (the other heads' gradients are
``None``, and torch's Adam leaves such parameters, and their moments, alone).
Gradients are clipped to a global norm. Every ``eval_every`` steps the NAR is
validated on fixed sets at the largest training size; the weights with the
best mean validation score are kept and, at the end, restored and tested in
and out of distribution (:mod:`transnar.training.nar_data` describes the
data). The loop, logs and checkpoints are the shared ones
(:mod:`transnar.training.loop`).

A run directory holds::

    config.json          the resolved NARTrainConfig (+ transnar version)
    train.log            start, resumes, a progress line every 30 s (step, loss,
                         seconds per step, ETA; on standard error too when it is
                         not a terminal), validations, interruption, end
    metrics.jsonl        one line per step (loss per algorithm, seconds) and per
                         validation (score per algorithm, mean, best so far)
    tensorboard/         the same metrics as TensorBoard events (when installed)
    checkpoints/last.pt  model, optimizer, step, best score, every random state
                         and the data position: resuming from it continues
                         exactly as if the run had not stopped
    checkpoints/best.pt  the weights of the best validation
    results.json         per algorithm: validation score, test scores per size and
    results.md           per output, in and out of distribution

Example:
    >>> from transnar.training.nar_config import preset, apply_overrides
    >>> config = apply_overrides(preset("tiny"), ["steps=4"])
    >>> result = train_nar(config, "runs/tiny", progress=False)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from transnar.evaluation.nar import nar_results_markdown, score_nar
from transnar.nar.features import Features
from transnar.nar.model import NAR
from transnar.persistence import CheckpointError, atomic_write, write_json
from transnar.training.checkpoint import CHECKPOINTS, checkpoint_path
from transnar.training.distributed import (
    World,
    all_reduce_gradients,
    all_reduce_sum,
    barrier,
    process_seed,
    sum_floats,
    world,
)
from transnar.training.loop import CONFIG, METRICS, RunStart, Trainer, Validation, train_run
from transnar.training.nar_checkpoint import build_nar, read_nar_checkpoint, save_nar_checkpoint
from transnar.training.nar_config import RESUMABLE_CHANGES, NARTrainConfig
from transnar.training.nar_data import (
    TaskStream,
    derive_seed,
    eval_count,
    evaluation_batches,
    train_options,
    validation_size,
)
from transnar.training.nar_eval import evaluate_nar
from transnar.training.runs import TRAIN_LOG, autocast_context, check_finite

RESULTS = "results.json"
RESULTS_MD = "results.md"
RUN_FILES = (CONFIG, METRICS, RESULTS, RESULTS_MD, TRAIN_LOG)


@dataclass
class NARTrainResult:
    """What :func:`train_nar` returns.

    Attributes:
        run_dir: the run directory.
        config: the resolved config.
        steps: training steps done.
        best_step: the step of the best validation (the weights tested).
        best_score: its mean validation score over the algorithms.
        results: the content of ``results.json``.
    """

    run_dir: Path
    config: NARTrainConfig
    steps: int
    best_step: int
    best_score: float
    results: dict


def train_nar(
    config: NARTrainConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
) -> NARTrainResult:
    """Trains a NAR, writing the run directory (see the module docstring).

    Args:
        config: the run's config (for a resumed run, the stored one, possibly
            with more steps or another device).
        run_dir, resume, overwrite, progress: as :func:`~transnar.training.loop.train_run`.

    Returns:
        A :class:`NARTrainResult`.

    Raises:
        OutputExistsError: ``run_dir`` is in use and neither ``resume`` nor
            ``overwrite`` was given.
        CheckpointError: nothing to resume, or a checkpoint of another run.
        ValueError: a config the samplers reject, or an unavailable device.
    """
    return train_run(
        NARTrainer, config, run_dir, resume=resume, overwrite=overwrite, progress=progress
    )


class NARTrainer(Trainer):
    """The NAR, its task streams, its Adam updates and its validation, for
    :func:`~transnar.training.loop.run_steps`.

    Args:
        config: the run's config.
        run_dir: the run directory (``best.pt`` goes there).
        device: where the NAR runs.
        progress: show a progress bar while the best weights are tested.
    """

    kind = "nar"
    description = "nar train"
    run_files = RUN_FILES
    run_dirs = (CHECKPOINTS,)
    resumable = RESUMABLE_CHANGES

    @classmethod
    def start(cls, config: NARTrainConfig, run: RunStart) -> NARTrainer:
        return cls(config, run.run_dir, run.device, run.progress)

    def __init__(
        self,
        config: NARTrainConfig,
        run_dir: Path,
        device: torch.device,
        progress: bool | None = None,
    ):
        tc = config.train
        self.config, self.run_dir, self.device = config, run_dir, device
        self.progress = progress
        self.total_steps, self.eval_every = tc.steps, tc.eval_every
        self.algorithms = config.nar.algorithms
        data = config.data
        self.streams = {
            a: TaskStream(a, data.train_sizes, tc.seed, data.random_pos) for a in self.algorithms
        }
        self.val_sets = {a: list(validation_batches(config, a)) for a in self.algorithms}
        torch.manual_seed(tc.seed)
        self.model = NAR(config.nar).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=tc.learning_rate)
        self.autocast = autocast_context(tc.precision, device)
        current = world()
        if current.distributed:  # the same weights, but each process its own noise
            torch.manual_seed(process_seed(tc.seed, current.rank))
        self.state = {
            "step": 0,
            "best_score": -math.inf,
            "best_step": 0,
            "best_val": {},  # algorithm -> validation score at best_step
            "train_seconds": 0.0,
        }

    def train_step(self, step: int) -> tuple[dict[str, Any], dict[str, str]]:
        tc, current = self.config.train, world()
        started = time.perf_counter()
        losses = {}
        for algorithm in self.algorithms:
            features = self.streams[algorithm].next_batch(tc.batch_size)
            features = shard_features(features, current).to(self.device)
            losses[algorithm] = nar_train_step(
                self.model, self.optimizer, features, tc.grad_clip, self.autocast
            )
            check_finite(losses[algorithm], algorithm, step)
        seconds = time.perf_counter() - started
        self.state["train_seconds"] += seconds
        return {"loss": losses, "seconds": seconds}, {"loss": f"{_mean(losses):.3f}"}

    def validate(self) -> Validation | None:
        """Rank 0 validates (the others go on, and wait for it); a better mean
        score saves ``best.pt`` (before ``last.pt``: a crash between them leaves
        a best from the future that the resumed run rewrites)."""
        if not world().is_main:
            return None
        state = self.state
        scores = {a: score_nar(self.model, self.val_sets[a])["score"] for a in self.algorithms}
        mean = sum(scores.values()) / len(scores)
        improved = mean > state["best_score"]
        if improved:
            state["best_score"], state["best_step"] = mean, state["step"]
            state["best_val"] = scores
            save_nar_checkpoint(
                checkpoint_path(self.run_dir, "best"),
                self.config,
                state["step"],
                self.model.state_dict(),
            )
        return Validation(
            {"val": scores, "val_mean": mean, "best": improved, "best_step": state["best_step"]},
            f"validation score {mean:.3f} (best {state['best_score']:.3f} at step "
            f"{state['best_step']:,})",
            {"val": f"{mean:.3f}", "best": f"{state['best_score']:.3f}"},
        )

    def start_text(self) -> str:
        nar = self.config.nar
        return (
            f"NAR ({nar.processor}, hidden {nar.hidden_dim}) on {len(self.algorithms)} "
            f"algorithm(s), {self.total_steps:,} steps, device {self.device}"
        )

    def progress_text(self, record: dict[str, Any]) -> str:
        best = self.state["best_score"]
        best_text = f", best val {best:.3f}" if math.isfinite(best) else ""
        seconds = self.state["train_seconds"] / self.state["step"]
        return f"loss {_mean(record['loss']):.3f}{best_text}, {seconds:.2f} s/step"

    def end_text(self) -> str:
        return f"training done at step {self.state['step']:,}; testing the best weights"

    def data_state(self) -> dict[str, Any]:
        return {"data": {a: s.state_dict() for a, s in self.streams.items()}}

    def load_data_state(self, train_state: dict[str, Any]) -> None:
        for algorithm, stream in self.streams.items():
            stream.load_state_dict(train_state["data"][algorithm])

    def finish(self, run_dir: Path) -> NARTrainResult:
        """Tests the best weights (rank 0; the others read its results)."""
        if world().is_main:
            results = _test_best(run_dir, self.config, self.state, self.device, self.progress)
        barrier()
        if not world().is_main:
            results = json.loads((run_dir / RESULTS).read_text())
        return NARTrainResult(
            run_dir,
            self.config,
            results["steps"],
            results["best_step"],
            results["best_val_score"],
            results,
        )


def _mean(losses: dict[str, float]) -> float:
    return sum(losses.values()) / len(losses)


def _test_best(
    run_dir: Path,
    config: NARTrainConfig,
    state: dict,
    device: torch.device,
    progress: bool | None,
) -> dict:
    """Restores the best weights, tests them, writes ``results.json`` and
    ``results.md``; the results."""
    best = read_nar_checkpoint(checkpoint_path(run_dir, "best"))
    if best["step"] != state["best_step"]:
        raise CheckpointError(
            f"{checkpoint_path(run_dir, 'best')} is from step {best['step']}, but the "
            f"run's best validation was at step {state['best_step']}"
        )
    nar = build_nar(config, best["model"], "best checkpoint").to(device)
    results = evaluate_nar(nar, config, progress=progress)
    for algorithm, score in state["best_val"].items():
        results["algorithms"][algorithm]["validation_score"] = score
    results.update(
        steps=state["step"],
        best_step=state["best_step"],
        best_val_score=state["best_score"],
        train_seconds=state["train_seconds"],
        seconds_per_step=state["train_seconds"] / max(state["step"], 1),
    )
    write_json(run_dir / RESULTS, results)
    with atomic_write(run_dir / RESULTS_MD, overwrite=True, mode="w") as handle:
        handle.write(nar_results_markdown(results))
    return results


def nar_train_step(
    nar: NAR,
    optimizer: torch.optim.Optimizer,
    features: Features,
    grad_clip: float,
    autocast: contextlib.AbstractContextManager | None = None,
) -> float:
    """One Adam update on one algorithm's batch; returns the loss.

    The forward pass and the loss run inside ``autocast`` (none: fp32). The
    ``optimizer`` holds all of the NAR's parameters (the clipping's norm is theirs).

    Gradients are reset to ``None`` first, so the heads of other algorithms
    get none and Adam does not touch them. In data-parallel training
    ``features`` is this process's share of the global batch: each loss term is
    divided by its global element count and the gradients (and the loss
    returned) are summed over the processes, which makes the update the one of
    the global batch.
    """
    distributed = world().distributed
    optimizer.zero_grad(set_to_none=True)
    with autocast or contextlib.nullcontext():
        output = nar(features)
        loss, _ = nar.loss(features, output, all_reduce_sum if distributed else None)
    loss.backward()
    # the optimizer's list of the NAR's parameters, in their order: walking the
    # modules of 30 algorithms' heads twice per algorithm costs about 4% of a step
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    all_reduce_gradients(parameters)
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_([p for p in parameters if p.grad is not None], grad_clip)
    optimizer.step()
    return sum_floats([float(loss.detach())])[0]


def shard_features(features: Features, current: World) -> Features:
    """This process's rows of a global batch (all of it in a single process):
    ``rank, rank + size, ...``, with the global batch's number of steps.

    Raises:
        ValueError: fewer rows than processes.
    """
    if not current.distributed:
        return features
    if features.batch_size < current.size:
        raise ValueError(
            f"a batch of {features.batch_size} cannot be shared by {current.size} processes"
        )
    return features.rows(current.rows(features.batch_size, features.lengths.device))


def validation_batches(config: NARTrainConfig, algorithm: str) -> Iterator[Features]:
    """The fixed validation set of ``algorithm``: the largest training size,
    the training sampler options, seeds disjoint from training."""
    tc, data = config.train, config.data
    size = validation_size(algorithm, data.train_sizes)
    return evaluation_batches(
        algorithm,
        size,
        derive_seed(tc.seed, algorithm, "val", size),
        eval_count(algorithm, data.val_count, data.eval_multipliers),
        tc.eval_batch_size,
        train_options(algorithm, size),
    )


__all__ = [
    "RESULTS",
    "RESULTS_MD",
    "NARTrainResult",
    "NARTrainer",
    "nar_train_step",
    "shard_features",
    "train_nar",
    "validation_batches",
]
