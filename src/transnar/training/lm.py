"""The LM trainer: a TransNAR, or its Transformer-only baseline, on CLRS-Text.

One trainer for both (``model.use_nar``): the same data, the same loop. Each
optimizer step takes ``grad_accum`` micro-batches from the shuffled stream
(:class:`~transnar.training.lm_batches.BatchSampler`: one algorithm and size per
micro-batch), runs the frozen NAR on their graphs under ``no_grad`` (or reads
the cached memory), computes the answer-only next-token loss at random
positions (bf16 autocast on CUDA, fp32 on the CPU), and makes one AdamW update
of the trainable parameters (never the NAR's) with global-norm clipping, at the
learning rate of :func:`~transnar.training.lm_model.learning_rate` (linear
warm-up, then cosine; the step itself: :mod:`transnar.training.lm_step`). With
``teacher.model`` set, the loss also matches a frozen teacher's next-token
distributions (token-level distillation: :mod:`transnar.training.lm_teacher`). Every
``eval_every`` steps and at the end the validation loss is computed and the run
is checkpointed (the shared loop, :mod:`transnar.training.loop`); at the end the
model is saved with :meth:`~transnar.model.TransNAR.save_pretrained`.

A run directory holds::

    config.json          the resolved LMTrainConfig (+ transnar version)
    train.log            start, resumes, a progress line every 30 s (step, loss,
                         tokens/s, ETA; on standard error too when it is not a
                         terminal), validations, interruption, end
    metrics.jsonl        per step: loss (with a teacher also its two terms),
                         learning rate, gradient norm, tokens,
                         seconds (of which batch assembly and the NAR), tokens/s;
                         per validation: the validation loss, overall and per
                         algorithm
    tensorboard/         the same metrics as TensorBoard events (when installed)
    checkpoints/last.pt  trainable weights, optimizer, step, random states and
                         the data position: resuming continues exactly
    nar/                 the NAR run, when the NAR was trained for this run
    model/               the final model (TransNAR.from_pretrained reads it)
    summary.json         steps, tokens, losses, tokens/s, the NAR's (and teacher's) hash

Example:
    >>> from transnar.training import apply_overrides, preset, train_lm
    >>> config = apply_overrides(preset("tiny"), ["steps=4"])
    >>> result = train_lm(config, "runs/tiny", progress=False)  # doctest: +SKIP
    >>> TransNAR.from_pretrained(result.model_dir)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from transnar import __version__
from transnar.lm.builders import build_tokenizer
from transnar.nar.model import NAR
from transnar.persistence import CheckpointError, write_json
from transnar.training.checkpoint import CHECKPOINTS, read_checkpoint
from transnar.training.distributed import barrier, process_seed, world
from transnar.training.lm_batches import (
    BatchSampler,
    cache_memory,
    fixed_batches,
)
from transnar.training.lm_config import RESUMABLE_CHANGES, LMTrainConfig
from transnar.training.lm_data import build_dataset
from transnar.training.lm_model import (
    NAR_DIR,
    build_model,
    learning_rate,
    make_optimizer,
    obtain_nar,
    resolve_nar_dims,
    resolve_pretrained_lm,
    state_sha256,
    total_steps,
)
from transnar.training.lm_step import estimate_loss, lm_train_step
from transnar.training.lm_teacher import Teacher
from transnar.training.loop import (
    CONFIG,
    METRICS,
    RunStart,
    Trainer,
    Validation,
    check_resumable,
    train_run,
)
from transnar.training.runs import TRAIN_LOG, autocast_context, check_finite

SUMMARY = "summary.json"
MODEL_DIR = "model"
RUN_FILES = (CONFIG, METRICS, SUMMARY, TRAIN_LOG)
RUN_DIRS = (CHECKPOINTS, MODEL_DIR, NAR_DIR)
# set from the NAR when it is loaded
NAR_WIDTHS = ("model.nar_node_dim", "model.nar_edge_dim")


@dataclass
class LMTrainResult:
    """What :func:`train_lm` returns.

    Attributes:
        run_dir: the run directory.
        config: the resolved config.
        model_dir: where the final model is saved (``RUN_DIR/model``).
        steps: optimizer steps done.
        train_loss: the last step's loss.
        val_loss: the final validation loss.
        tokens_per_second: training tokens (prompt and answer) per second of
            step time, over the whole run.
        summary: the content of ``summary.json``.
    """

    run_dir: Path
    config: LMTrainConfig
    model_dir: Path
    steps: int
    train_loss: float
    val_loss: float
    tokens_per_second: float
    summary: dict


def train_lm(
    config: LMTrainConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
) -> LMTrainResult:
    """Trains a TransNAR (or, with ``model.use_nar=False``, the baseline).

    Args:
        config: the run's config (for a resumed run, its own, possibly with
            another device, thread count or validation interval).
        run_dir, resume, overwrite, progress: as :func:`~transnar.training.loop.train_run`.

    Returns:
        An :class:`LMTrainResult`.

    Raises:
        OutputExistsError: ``run_dir`` is in use and neither ``resume`` nor
            ``overwrite`` was given.
        CheckpointError: nothing to resume, a checkpoint of another run, or a
            NAR that does not fit (or changed since the run started).
        ValueError: a config the data or the model reject, an unavailable device.
    """
    config = resolve_pretrained_lm(config)
    processes = world().size
    if config.micro_batch_size < processes:
        raise ValueError(
            f"a micro-batch of {config.micro_batch_size} (train.batch_size / optim.grad_accum) "
            f"cannot be shared by {processes} processes"
        )
    return train_run(
        LMTrainer, config, run_dir, resume=resume, overwrite=overwrite, progress=progress
    )


def read_lm_checkpoint(path: str | os.PathLike, missing: str = "") -> dict:
    """Reads and checks an LM training checkpoint; its ``config`` as an :class:`LMTrainConfig`.

    Raises:
        CheckpointError: missing, unreadable, not a transnar LM training
            checkpoint, of another format version, or with an invalid config.
    """
    return read_checkpoint(path, "lm", LMTrainConfig.from_dict, missing=missing)


class LMTrainer(Trainer):
    """The model, its datasets, batch sampler and AdamW updates, for
    :func:`~transnar.training.loop.run_steps`.

    Args:
        config: the run's config, the NAR's widths resolved.
        nar: the frozen NAR (None for the baseline).
        device: where the model runs.
        progress: show progress bars while the data are built.
        teacher: the frozen teacher whose distributions the model learns
            (``teacher.model``), else None.
    """

    kind = "lm"
    run_files = RUN_FILES
    run_dirs = RUN_DIRS
    resumable = RESUMABLE_CHANGES
    resolved_later = NAR_WIDTHS

    @classmethod
    def start(cls, config: LMTrainConfig, run: RunStart) -> LMTrainer:
        """The frozen NAR first (trained into the run directory, when it is
        trained for the run): it fixes the widths the cross-attention reads."""
        run.prepare()
        nar = obtain_nar(config, run.run_dir, run.device, run.progress) if config.use_nar else None
        config = resolve_nar_dims(config, nar)
        checkpoint = run.checkpoint
        if checkpoint is not None:  # compared again, with the NAR's widths
            check_resumable(checkpoint, config, RESUMABLE_CHANGES)
        teacher = Teacher.load(config.teacher, run.device) if config.distilled else None
        trainer = cls(config, nar, run.device, run.progress, teacher)
        if checkpoint is not None:
            trainer.check_same_inputs(checkpoint)
        return trainer

    def check_same_inputs(self, checkpoint: dict[str, Any]) -> None:
        """Refuses to resume ``checkpoint`` with another NAR or teacher, or with
        other examples (the data may have moved: ``data.path`` may change on
        resume, not what it holds). A checkpoint from before the data's hash
        was kept resumes only from where it was made."""
        state = checkpoint.get("train_state", {})
        for what, mine in (("NAR", self.nar_hash), ("teacher", self.teacher_hash)):
            if state.get(f"{what.lower()}_sha256") != mine:
                raise CheckpointError(
                    f"{checkpoint['path']} was trained with another {what} (its weights' hash "
                    "differs from this one's)"
                )
        moved = checkpoint["config"].data.path != self.config.data.path
        if "data_sha256" not in state and moved:
            raise CheckpointError(
                f"{checkpoint['path']} was trained on the data in {checkpoint['config'].data.path} "
                "and does not record their hash, so it resumes only from there"
            )
        if state.get("data_sha256", self.data_hash) != self.data_hash:
            raise CheckpointError(
                f"{checkpoint['path']} was trained on other examples than those in "
                f"{self.config.data.path or 'the generated data'} (their hash differs)"
            )

    def __init__(
        self,
        config: LMTrainConfig,
        nar: NAR | None,
        device: torch.device,
        progress: bool | None,
        teacher: Teacher | None = None,
    ):
        rc = config.train
        self.config, self.device, self.teacher = config, device, teacher
        self.description = f"{config.model.kind} train"
        tokenizer = build_tokenizer(config.model.lm)
        L = config.model.lm.max_position
        if teacher is not None:
            teacher.check_compatible(tokenizer, L, config.data.algorithms)
            if teacher.uses_nar and config.use_nar and config.nar.cache_memory:
                raise ValueError(
                    "nar.cache_memory keeps no graphs for the teacher's NAR: leave it off "
                    "with a TransNAR teacher"
                )
        data = config.data
        graphs = config.use_nar or (teacher is not None and teacher.uses_nar)
        self.train_set = build_dataset(data, "train", tokenizer, graphs, L, progress)
        self.val_set = build_dataset(data, "val", tokenizer, config.use_nar, L, progress)

        self.model = build_model(config, tokenizer, nar).to(device)
        self.nar_hash = state_sha256(self.model.nar) if self.model.nar is not None else None
        self.teacher_hash = None if teacher is None else teacher.sha256
        both = self.train_set.sha256() + self.val_set.sha256()
        self.data_hash = hashlib.sha256(both.encode()).hexdigest()  # the examples trained on
        if config.use_nar and config.nar.cache_memory:
            for dataset in (self.train_set, self.val_set):
                cache_memory(dataset, self.model, rc.eval_batch_size, device, progress)
        self.optimizer = make_optimizer(self.model, config)
        current = world()
        if current.distributed:  # the same weights, but each process its own dropout
            torch.manual_seed(process_seed(rc.seed, current.rank))
        self.sampler = BatchSampler(
            self.train_set.groups,
            self.train_set.lengths,
            config.micro_batch_size,
            rc.seed,
            data.bucket_batches,
        )
        self.total_steps = total_steps(config, self.sampler.batches_per_epoch)
        self.eval_every = rc.eval_every
        self.positions = torch.Generator().manual_seed(rc.seed)
        self.val_batches = fixed_batches(self.val_set, rc.eval_batch_size)
        self.autocast = autocast_context(rc.precision, device)
        self.state = {
            "step": 0,
            "tokens": 0,
            "train_seconds": 0.0,
            "loss": math.nan,
            "val_loss": None,
        }

    def train_step(self, step: int) -> tuple[dict[str, Any], dict[str, str]]:
        config, state, sampler = self.config, self.state, self.sampler
        lr = learning_rate(step - 1, config, self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        started = time.perf_counter()
        batches = [self.train_set.batch(next(sampler)) for _ in range(config.optim.grad_accum)]
        data_seconds = time.perf_counter() - started
        record = lm_train_step(
            self.model,
            self.optimizer,
            batches,
            self.positions,
            config.train.grad_clip,
            self.autocast,
            self.teacher,
        )
        # the step's time includes assembling its batches (tokens, NAR features)
        record["data_seconds"] = data_seconds
        record["seconds"] += data_seconds
        record["tokens_per_second"] = record["tokens"] / record["seconds"]
        check_finite(record["loss"], "the language model", step)
        state["tokens"] += record["tokens"]
        state["train_seconds"] += record["seconds"]
        state["loss"] = record["loss"]
        epoch = sampler.epoch + sampler.position / sampler.batches_per_epoch
        postfix = {
            "loss": f"{record['loss']:.4f}",
            "tok_s": f"{record['tokens_per_second']:.0f}",
        }
        return {"epoch": epoch, "lr": lr, **record}, postfix

    def validate(self) -> Validation:
        val = estimate_loss(
            self.model, self.val_set, self.val_batches, self.config.train.seed, self.autocast
        )
        self.state["val_loss"] = val["loss"]
        return Validation(
            {"val_loss": val["loss"], "val": val["val"]},
            f"validation loss {val['loss']:.4f}",
            {"val": f"{val['loss']:.4f}"},
        )

    def start_text(self) -> str:
        return (
            f"{self.config.model.kind}, {self.total_steps:,} steps, {len(self.train_set):,} "
            f"training examples, device {self.device}"
        )

    def progress_text(self, record: dict[str, Any]) -> str:
        state = self.state
        rate = state["tokens"] / max(state["train_seconds"], 1e-9)
        val_text = "" if state["val_loss"] is None else f", val {state['val_loss']:.4f}"
        return f"loss {record['loss']:.4f}{val_text}, {rate:,.0f} tokens/s"

    def end_text(self) -> str:
        state = self.state
        val_text = "-" if state["val_loss"] is None else f"{state['val_loss']:.4f}"
        return (
            f"done: {state['step']:,} steps, train loss {state['loss']:.4f}, "
            f"validation loss {val_text}"
        )

    def data_state(self) -> dict[str, Any]:
        return {
            "nar_sha256": self.nar_hash,
            "teacher_sha256": self.teacher_hash,
            "data_sha256": self.data_hash,
            "data": self.sampler.state_dict(),
        }

    def load_data_state(self, train_state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(train_state["data"])

    def model_state(self) -> dict[str, torch.Tensor]:
        """The model's state without the frozen NAR (it is identified by its hash)."""
        return {k: v for k, v in self.model.state_dict().items() if not k.startswith("nar.")}

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("nar.")]
        if missing or unexpected:
            raise ValueError(f"missing {missing[:5]}, unexpected {unexpected[:5]}")

    def generators(self) -> dict[str, torch.Generator]:
        return {"positions": self.positions}

    def finish(self, run_dir: Path) -> LMTrainResult:
        """Checks that the NAR stayed frozen, saves the model and ``summary.json``."""
        model, state, current = self.model, self.state, world()
        if model.nar is not None and state_sha256(model.nar) != self.nar_hash:
            raise RuntimeError("the NAR's weights changed during training (they must be frozen)")
        model_dir = run_dir / MODEL_DIR
        if current.is_main:
            model.save_pretrained(model_dir, overwrite=True)
        tokens_per_second = state["tokens"] / max(state["train_seconds"], 1e-9)
        summary = {
            "transnar_version": __version__,
            "model": self.config.model.kind,
            "steps": state["step"],
            "epochs": state["step"] * self.config.optim.grad_accum / self.sampler.batches_per_epoch,
            "train_examples": len(self.train_set),
            "val_examples": len(self.val_set),
            "dropped_examples": self.train_set.dropped + self.val_set.dropped,
            "tokens": state["tokens"],
            "train_seconds": state["train_seconds"],
            "tokens_per_second": tokens_per_second,
            "train_loss": state["loss"],
            "val_loss": state["val_loss"],
            "parameters": sum(p.numel() for p in model.trainable_parameters()),
            "nar_sha256": self.nar_hash,
            "teacher_sha256": self.teacher_hash,
            "model_dir": MODEL_DIR,
        }
        if current.is_main:
            write_json(run_dir / SUMMARY, summary)
        barrier()
        return LMTrainResult(
            run_dir,
            self.config,
            Path(model_dir),
            state["step"],
            state["loss"],
            state["val_loss"],
            tokens_per_second,
            summary,
        )


__all__ = [
    "MODEL_DIR",
    "SUMMARY",
    "LMTrainResult",
    "LMTrainer",
    "read_lm_checkpoint",
    "train_lm",
]
