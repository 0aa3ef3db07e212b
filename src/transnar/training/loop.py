"""The run both trainers share: start, steps, validation, checkpoints, logs, exact resume.

A trainer (:class:`Trainer`: the NAR's in :mod:`transnar.training.nar`, the
language models' in :mod:`transnar.training.lm`) supplies its model,
optimizer, data, one training step, its validation and what it makes of the
finished run; :func:`train_run` starts (or resumes) the run and
:func:`run_steps` does the steps, as nanoGPT's explicit loop:

- one :meth:`Trainer.train_step` per step, its record appended to
  ``metrics.jsonl`` (:class:`~transnar.training.runs.MetricsLog`), a progress
  bar and a progress line in ``train.log`` (:class:`~transnar.training.runs.ProgressLog`);
- every ``eval_every`` steps and at the last: :meth:`Trainer.validate`, then
  ``checkpoints/last.pt`` (:func:`save_last`);
- an interruption or error is written to ``train.log`` with the step of the
  last checkpoint (:func:`~transnar.training.runs.log_interruption`).

``last.pt`` is lingua's ``TrainState`` in one file: the model (what the
trainer saves of it), the optimizer, and ``train_state`` =
``{**trainer.state, **trainer.data_state(), "rng": {rank 0's torch states,
the trainer's own generators}, "rng_processes": [every process's torch
states]}``, so that :func:`restore` continues exactly as if the run had not
stopped.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from transnar import __version__
from transnar.persistence import CheckpointError, write_json
from transnar.training.checkpoint import checkpoint_path, read_checkpoint, save_checkpoint
from transnar.training.distributed import (
    barrier,
    device_for,
    gather_rng_states,
    restore_rng_states,
    world,
)
from transnar.training.runs import (
    TENSORBOARD_DIR,
    TRAIN_LOG,
    MetricsLog,
    ProgressLog,
    log_interruption,
    prepare_run_dir,
    resolve_device,
    torch_threads,
    truncate_metrics,
)

CONFIG = "config.json"
METRICS = "metrics.jsonl"


@dataclass
class Validation:
    """What :meth:`Trainer.validate` reports.

    Attributes:
        record: the ``metrics.jsonl`` record (without ``step``).
        text: the ``train.log`` line (``step N: ...``).
        postfix: what the progress bar shows of it.
    """

    record: dict[str, Any]
    text: str
    postfix: dict[str, str]


class Trainer(abc.ABC):
    """A model, its data and its loss, for :func:`run_steps`.

    A subclass sets these attributes, then implements the hooks below
    (:meth:`start` builds it for :func:`train_run`).

    Attributes:
        kind: the checkpoint kind (``nar`` or ``lm``, see
            :mod:`transnar.training.checkpoint`).
        description: the progress bar's label.
        run_files: the files of its run directory (a new run started there
            with ``overwrite`` deletes them first).
        run_dirs: the directories of its run directory (likewise).
        resumable: the dotted config keys that may change on resume.
        resolved_later: config keys that :meth:`start` resolves (compared with
            the checkpoint's only then, by :meth:`start` itself).
        config: the run's config (with ``to_dict()`` and ``differences()``).
        model: the model (on ``device``).
        optimizer: its optimizer.
        device: where the model runs.
        total_steps: the steps of the whole run.
        eval_every: validate and checkpoint every this many steps (and at the last).
        state: ``step`` and the trainer's running values (plain values, saved
            in ``last.pt`` and restored on resume).
    """

    kind: str
    description: str
    run_files: Sequence[str]
    run_dirs: Sequence[str]
    resumable: Sequence[str]
    resolved_later: Sequence[str] = ()
    config: Any
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    total_steps: int
    eval_every: int
    state: dict[str, Any]

    @classmethod
    @abc.abstractmethod
    def start(cls, config: Any, run: RunStart) -> Trainer:
        """The trainer of a run that :func:`train_run` starts or resumes.

        Called before the run directory is prepared: call
        :meth:`RunStart.prepare` first if it must be ready (the directory is
        prepared after this call in any case).
        """

    @abc.abstractmethod
    def finish(self, run_dir: Path) -> Any:
        """After the last step (every process calls it): the trainer's final
        work (saving, testing) and the result :func:`train_run` returns."""

    @abc.abstractmethod
    def train_step(self, step: int) -> tuple[dict[str, Any], dict[str, str]]:
        """Makes training step ``step`` (1-based) and updates :attr:`state`
        (but its ``step``); returns the metrics record (without ``step``) and
        the progress bar's postfix."""

    @abc.abstractmethod
    def validate(self) -> Validation | None:
        """Validates the model after a step (every process calls it); None
        where nothing is reported (processes other than rank 0)."""

    @abc.abstractmethod
    def start_text(self) -> str:
        """What ``train.log`` says of the run at its start (model, steps, device)."""

    @abc.abstractmethod
    def progress_text(self, record: dict[str, Any]) -> str:
        """A progress line's text after the step of ``record`` (loss, throughput)."""

    @abc.abstractmethod
    def end_text(self) -> str:
        """What ``train.log`` says at the end of the steps."""

    @abc.abstractmethod
    def data_state(self) -> dict[str, Any]:
        """Plain values merged into ``last.pt``'s ``train_state``: the data
        position (under ``data``) and anything else the trainer checks on resume."""

    @abc.abstractmethod
    def load_data_state(self, train_state: dict[str, Any]) -> None:
        """Restores :meth:`data_state`'s values from a ``train_state``."""

    def model_state(self) -> dict[str, torch.Tensor]:
        """What ``last.pt`` keeps of the model (default: its whole state dict)."""
        return self.model.state_dict()

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        """Loads :meth:`model_state`'s tensors into the model."""
        self.model.load_state_dict(state)

    def generators(self) -> dict[str, torch.Generator]:
        """The trainer's own random generators, saved under ``rng`` (default none)."""
        return {}


@dataclass
class RunStart:
    """A run being started by :func:`train_run`, as :meth:`Trainer.start` sees it.

    Attributes:
        run_dir: the run directory.
        device: where the model runs.
        progress: show progress bars (``None``: only on a terminal; False on
            processes other than rank 0).
        checkpoint: ``last.pt`` of a resumed run, read and compared with the
            config (but :attr:`Trainer.resolved_later`), else None.
        overwrite: start afresh in a used run directory.
        files: the run's files (:attr:`Trainer.run_files`).
        directories: the run's directories (:attr:`Trainer.run_dirs`).
    """

    run_dir: Path
    device: torch.device
    progress: bool | None
    checkpoint: dict | None
    overwrite: bool
    files: Sequence[str]
    directories: Sequence[str]
    _prepared: bool = field(default=False, init=False, repr=False)

    def prepare(self) -> None:
        """Prepares the run directory (:func:`start_run_dir`) and waits for
        every process; once (later calls do nothing)."""
        if not self._prepared:
            resume = self.checkpoint is not None
            start_run_dir(self.run_dir, resume, self.overwrite, self.files, self.directories)
            barrier()
            self._prepared = True


def train_run(
    trainer_class: type[Trainer],
    config: Any,
    run_dir: str | os.PathLike,
    *,
    resume: bool,
    overwrite: bool,
    progress: bool | None,
) -> Any:
    """Starts a run (or resumes it), trains it to its last step and finishes it.

    On the device and with the torch threads of ``config.train``: reads and
    checks ``last.pt`` when resuming (a run resumed with another config is
    refused before anything is done), builds the trainer
    (:meth:`Trainer.start`), prepares the run directory, restores the
    checkpoint, writes ``config.json``, runs the steps (:func:`run_steps`)
    and returns what :meth:`Trainer.finish` makes of the run.

    Args:
        trainer_class: the trainer (its :meth:`Trainer.start` builds it).
        config: the run's config (for a resumed run, its own, possibly with
            other values of the trainer's :attr:`Trainer.resumable` keys).
        run_dir: the run directory; it must be empty or absent unless
            ``resume`` or ``overwrite``.
        resume: continue from ``run_dir``'s last checkpoint.
        overwrite: start afresh in a used run directory (its run files are
            deleted first).
        progress: show progress bars (``None``: only on a terminal).

    Raises:
        OutputExistsError: ``run_dir`` is in use and neither ``resume`` nor
            ``overwrite`` was given.
        CheckpointError: nothing to resume, or a checkpoint of another run
            (or one that does not fit the trainer).
        ValueError: a config the trainer rejects, or an unavailable device.
    """
    run_dir = Path(run_dir)
    options = config.train
    device = device_for(resolve_device(options.device))
    if not world().is_main:
        progress = False
    with torch_threads(options.threads):
        checkpoint = None
        if resume:
            checkpoint = read_checkpoint(
                checkpoint_path(run_dir, "last"),
                trainer_class.kind,
                type(config).from_dict,
                missing="nothing to resume: ",
            )
            check_resumable(
                checkpoint, config, trainer_class.resumable, trainer_class.resolved_later
            )
        run = RunStart(
            run_dir,
            device,
            progress,
            checkpoint,
            overwrite,
            trainer_class.run_files,
            trainer_class.run_dirs,
        )
        trainer = trainer_class.start(config, run)
        run.prepare()
        if checkpoint is not None:
            restore(trainer, run_dir, checkpoint)
        write_run_config(run_dir, trainer.config)
        trainer.model.train()
        run_steps(trainer, run_dir, checkpoint is not None, progress)
        return trainer.finish(run_dir)


def start_run_dir(
    run_dir: Path, resume: bool, overwrite: bool, files: Sequence[str], directories: Sequence[str]
) -> None:
    """Prepares a new run's directory (:func:`~transnar.training.runs.prepare_run_dir`,
    on rank 0); a resumed run keeps its own."""
    if not resume and world().is_main:
        prepare_run_dir(run_dir, overwrite, files, (*directories, TENSORBOARD_DIR))


def write_run_config(run_dir: Path, config: Any) -> None:
    """Writes the resolved config as ``config.json`` (with the transnar version; rank 0)."""
    if world().is_main:
        write_json(run_dir / CONFIG, {"transnar_version": __version__, **config.to_dict()})


def check_resumable(
    checkpoint: dict, config: Any, resumable: Sequence[str], ignore: Sequence[str] = ()
) -> None:
    """Refuses to resume a checkpoint of a run with another config.

    Args:
        checkpoint: the payload read from ``last.pt`` (with its ``path``).
        config: this run's config.
        resumable: dotted keys that may change on resume.
        ignore: keys not compared yet.

    Raises:
        CheckpointError: the configs differ elsewhere.
    """
    differences = checkpoint["config"].differences(config)
    differences = [k for k in differences if k not in (*resumable, *ignore)]
    if differences:
        raise CheckpointError(
            f"{checkpoint['path']} is from a run with another config (differs in "
            f"{', '.join(differences)}); only {', '.join(resumable)} may change on resume"
        )


def save_last(trainer: Trainer, run_dir: Path, rng: list[dict[str, torch.Tensor]]) -> None:
    """Writes ``checkpoints/last.pt`` atomically: everything the rest of the run
    needs (``rng``: every process's torch random states, :func:`gather_rng_states`)."""
    generators = {name: g.get_state() for name, g in trainer.generators().items()}
    train_state = {
        **trainer.state,
        **trainer.data_state(),
        "rng": {**rng[0], **generators},
        "rng_processes": rng,
    }
    save_checkpoint(
        checkpoint_path(run_dir, "last"),
        trainer.kind,
        trainer.config.to_dict(),
        trainer.state["step"],
        trainer.model_state(),
        trainer.optimizer.state_dict(),
        train_state,
    )


def restore(trainer: Trainer, run_dir: Path, checkpoint: dict) -> None:
    """Loads ``last.pt`` (read as ``checkpoint``) into the trainer: model,
    optimizer, data position, random states and :attr:`Trainer.state`; drops
    the metrics logged after it (rank 0).

    Raises:
        CheckpointError: a checkpoint without training state, or one that does
            not fit the trainer.
    """
    path = checkpoint["path"]
    if "train_state" not in checkpoint or "optimizer" not in checkpoint:
        raise CheckpointError(f"{path} holds no training state to resume from")
    train_state = checkpoint["train_state"]
    try:
        trainer.load_model_state(checkpoint["model"])
        trainer.optimizer.load_state_dict(checkpoint["optimizer"])
        trainer.load_data_state(train_state)
        for name, generator in trainer.generators().items():
            generator.set_state(train_state["rng"][name])
        restore_rng_states(train_state, trainer.device)
        trainer.state = {key: train_state[key] for key in trainer.state}
    except (KeyError, RuntimeError, ValueError) as error:
        raise CheckpointError(f"{path} does not fit this run: {error}") from None
    if world().is_main:
        truncate_metrics(run_dir / METRICS, trainer.state["step"])


def run_steps(
    trainer: Trainer, run_dir: str | os.PathLike, resumed: bool, progress: bool | None
) -> None:
    """Trains from :attr:`Trainer.state`'s step to :attr:`Trainer.total_steps`
    (see the module docstring).

    Args:
        trainer: the trainer, built (and restored when ``resumed``).
        run_dir: the run directory.
        resumed: the run continues from a checkpoint (its metrics after it are
            dropped, ``train.log`` says so).
        progress: show a progress bar (``None``: only on a terminal).
    """
    run_dir = Path(run_dir)
    current = world()
    total = trainer.total_steps
    start = trainer.state["step"]
    bar = tqdm(
        total=total,
        initial=start,
        desc=trainer.description,
        unit="step",
        disable=(not progress) if progress is not None else None,
        dynamic_ncols=True,
    )
    log = ProgressLog(run_dir / TRAIN_LOG, total, start, current.is_main)
    saved = start if resumed else None  # the last checkpoint's step
    with (
        bar,
        MetricsLog(run_dir / METRICS, saved, current.is_main) as metrics,
        log,
        log_interruption(log, lambda: trainer.state["step"], lambda: saved),
    ):
        how = f"resuming from step {start:,}" if resumed else "starting"
        log.event(f"{how}: {trainer.start_text()}")
        while trainer.state["step"] < total:
            record, postfix = trainer.train_step(trainer.state["step"] + 1)
            step = trainer.state["step"] = trainer.state["step"] + 1
            metrics.log({"step": step, **record})
            bar.update(1)
            bar.set_postfix(postfix, refresh=False)
            if step % trainer.eval_every == 0 or step == total:
                # the random states before validation: a resumed run does not redo it
                rng = gather_rng_states(trainer.device)  # every process's
                validation = trainer.validate()
                if current.is_main:
                    save_last(trainer, run_dir, rng)
                saved = step
                if validation is not None:
                    metrics.log({"step": step, **validation.record})
                    log.event(f"step {step:,}: {validation.text}; checkpoint")
                    bar.set_postfix({**postfix, **validation.postfix}, refresh=False)
            log.step(step, trainer.progress_text(record), force=step == total)
        log.event(trainer.end_text())


__all__ = [
    "CONFIG",
    "METRICS",
    "RunStart",
    "Trainer",
    "Validation",
    "check_resumable",
    "restore",
    "run_steps",
    "save_last",
    "start_run_dir",
    "train_run",
    "write_run_config",
]
