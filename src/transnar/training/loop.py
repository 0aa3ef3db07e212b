"""Training a TransNAR, or its Transformer-only baseline, on CLRS-Text.

One function, :func:`train`, for both (``model.use_nar``): the same data, the
same loop. Each optimizer step takes ``grad_accum`` micro-batches from the
shuffled stream (:class:`~transnar.data.BatchSampler`: one algorithm and size
per micro-batch), runs the frozen NAR on their graphs under ``no_grad`` (or
reads the cached memory), computes the answer-only next-token loss at random
positions (bf16 autocast on CUDA, fp32 on the CPU), and makes one AdamW update
of the trainable parameters (never the NAR's) with global-norm clipping, at the
learning rate of :func:`learning_rate` (linear warm-up, then cosine). Every
``eval_every`` steps and at the end the validation loss is computed and the run
is checkpointed; at the end the model is saved with
:meth:`~transnar.model.TransNAR.save_pretrained`.

A run directory holds::

    config.json          the resolved LMTrainConfig (+ transnar version)
    train.log            start, resumes, a progress line every 30 s (step, loss,
                         tokens/s, ETA; on standard error too when it is not a
                         terminal), validations, interruption, end
    metrics.jsonl        per step: loss, learning rate, gradient norm, tokens,
                         seconds (of which batch assembly and the NAR), tokens/s;
                         per validation: the validation loss, overall and per
                         algorithm
    tensorboard/         the same metrics as TensorBoard events (when installed)
    checkpoints/last.pt  trainable weights, optimizer, step, random states and
                         the data position: resuming continues exactly
    nar/                 the NAR run, when the NAR was trained for this run
    model/               the final model (TransNAR.from_pretrained reads it)
    summary.json         steps, tokens, losses, tokens/s, the NAR's hash

Example:
    >>> from transnar.training import apply_overrides, preset, train
    >>> config = apply_overrides(preset("tiny"), ["steps=4"])
    >>> result = train(config, "runs/tiny", progress=False)  # doctest: +SKIP
    >>> TransNAR.from_pretrained(result.model_dir)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from transnar import __version__
from transnar._distributed import (
    all_reduce_gradients,
    barrier,
    device_for,
    gather_rng_states,
    process_seed,
    restore_rng_states,
    sum_floats,
    world,
)
from transnar._files import CheckpointError, atomic_write
from transnar._runs import (
    TENSORBOARD_DIR,
    TRAIN_LOG,
    MetricsLog,
    ProgressLog,
    check_finite,
    log_interruption,
    prepare_run_dir,
    read_torch_file,
    resolve_device,
    torch_threads,
    truncate_metrics,
    write_json,
)
from transnar.data import (
    Batch,
    BatchSampler,
    PairedDataset,
    build_dataset,
    cache_memory,
    fixed_batches,
    training_positions,
)
from transnar.lm.tokenizer import Tokenizer
from transnar.model import (
    GraphMemory,
    TransNAR,
    build_language_model,
    build_tokenizer,
    nar_dims,
)
from transnar.nar.model import NAR
from transnar.training.config import RESUMABLE_CHANGES, LMTrainConfig, OptimConfig

CONFIG = "config.json"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
CHECKPOINTS = "checkpoints"
LAST = "last.pt"
MODEL_DIR = "model"
NAR_DIR = "nar"
RUN_FILES = (CONFIG, METRICS, SUMMARY, TRAIN_LOG)
RUN_DIRS = (CHECKPOINTS, MODEL_DIR, NAR_DIR, TENSORBOARD_DIR)
# set from the NAR when it is loaded
NAR_WIDTHS = ("model.nar_node_dim", "model.nar_edge_dim")
FORMAT = "transnar-lm-checkpoint"
FORMAT_VERSION = 1


@dataclass
class TrainResult:
    """What :func:`train` returns.

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


def train(
    config: LMTrainConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
) -> TrainResult:
    """Trains a TransNAR (or, with ``model.use_nar=False``, the baseline).

    Args:
        config: the run's config (for a resumed run, its own, possibly with
            another device, thread count or validation interval).
        run_dir: the run directory; it must be empty or absent unless
            ``resume`` or ``overwrite``.
        resume: continue from ``run_dir``'s last checkpoint.
        overwrite: start afresh in a used run directory (its run files go first).
        progress: show progress bars (``None``: only on a terminal).

    Returns:
        A :class:`TrainResult`.

    Raises:
        OutputExistsError: ``run_dir`` is in use and neither ``resume`` nor
            ``overwrite`` was given.
        CheckpointError: nothing to resume, a checkpoint of another run, or a
            NAR that does not fit (or changed since the run started).
        ValueError: a config the data or the model reject, an unavailable device.
    """
    run_dir = Path(run_dir)
    config = resolve_pretrained_lm(config)
    oc, rc = config.optim, config.train
    current = world()
    device = device_for(resolve_device(rc.device))
    if oc.micro_batch_size < current.size:
        raise ValueError(
            f"a micro-batch of {oc.micro_batch_size} (optim.batch_size / optim.grad_accum) "
            f"cannot be shared by {current.size} processes"
        )
    if not current.is_main:
        progress = False
    with torch_threads(rc.threads):
        checkpoint = None
        if resume:
            # a run resumed with another config is refused before anything is done
            checkpoint = read_checkpoint(run_dir / CHECKPOINTS / LAST, "nothing to resume: ")
            _check_resumable(checkpoint, config, NAR_WIDTHS)
        elif current.is_main:
            prepare_run_dir(run_dir, overwrite, RUN_FILES, RUN_DIRS)
        barrier()

        # The frozen NAR first: it fixes the widths the cross-attention reads.
        nar = obtain_nar(config, run_dir, device, progress) if config.use_nar else None
        config = resolve_nar_dims(config, nar)
        if checkpoint is not None:
            _check_resumable(checkpoint, config)
        if current.is_main:
            write_json(run_dir / CONFIG, {"transnar_version": __version__, **config.to_dict()})

        tokenizer = build_tokenizer(config.model.lm)
        L = config.model.lm.max_position
        train_set = build_dataset(config.data, "train", tokenizer, config.use_nar, L, progress)
        val_set = build_dataset(config.data, "val", tokenizer, config.use_nar, L, progress)

        model = build_model(config, tokenizer, nar).to(device)
        nar_hash = state_sha256(model.nar) if model.nar is not None else None
        if config.use_nar and config.nar.cache_memory:
            for dataset in (train_set, val_set):
                cache_memory(dataset, model, rc.eval_batch_size, device, progress)
        optimizer = make_optimizer(model, oc)
        if current.distributed:  # the same weights, but each process its own dropout
            torch.manual_seed(process_seed(rc.seed, current.rank))
        sampler = BatchSampler(
            train_set.groups,
            train_set.lengths,
            oc.micro_batch_size,
            rc.seed,
            config.data.bucket_batches,
        )
        total = total_steps(oc, sampler.batches_per_epoch)
        positions = torch.Generator().manual_seed(rc.seed)
        val_batches = fixed_batches(val_set, rc.eval_batch_size)
        autocast = autocast_context(rc.precision, device)
        state = {"step": 0, "tokens": 0, "train_seconds": 0.0, "loss": math.nan, "val_loss": None}
        if checkpoint is not None:
            state = _restore(run_dir, checkpoint, model, optimizer, sampler, positions, nar_hash)

        model.train()
        resume_step = state["step"] if checkpoint is not None else None
        bar = tqdm(
            total=total,
            initial=state["step"],
            desc=f"{config.model.kind} train",
            unit="step",
            disable=(not progress) if progress is not None else None,
            dynamic_ncols=True,
        )
        log = ProgressLog(run_dir / TRAIN_LOG, total, state["step"], current.is_main)
        saved = state["step"] if checkpoint is not None else None  # the last checkpoint's step
        with (
            bar,
            MetricsLog(run_dir / METRICS, resume_step, current.is_main) as metrics,
            log,
            log_interruption(log, lambda: state["step"], lambda: saved),
        ):
            how = "starting" if checkpoint is None else f"resuming from step {state['step']:,}"
            log.event(
                f"{how}: {config.model.kind}, {total:,} steps, {len(train_set):,} training "
                f"examples, device {device}"
            )
            while state["step"] < total:
                lr = learning_rate(state["step"], oc, total)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                started = time.perf_counter()
                batches = [train_set.batch(next(sampler)) for _ in range(oc.grad_accum)]
                data_seconds = time.perf_counter() - started
                record = train_step(model, optimizer, batches, positions, oc.grad_clip, autocast)
                # the step's time includes assembling its batches (tokens, NAR features)
                record["data_seconds"] = data_seconds
                record["seconds"] += data_seconds
                record["tokens_per_second"] = record["tokens"] / record["seconds"]
                state["step"] += 1
                check_finite(record["loss"], "the language model", state["step"])
                state["tokens"] += record["tokens"]
                state["train_seconds"] += record["seconds"]
                state["loss"] = record["loss"]
                epoch = sampler.epoch + sampler.position / sampler.batches_per_epoch
                metrics.log({"step": state["step"], "epoch": epoch, "lr": lr, **record})
                bar.update(1)
                bar.set_postfix(
                    loss=f"{record['loss']:.4f}",
                    tok_s=f"{record['tokens_per_second']:.0f}",
                    refresh=False,
                )
                if state["step"] % rc.eval_every == 0 or state["step"] == total:
                    val = estimate_loss(model, val_set, val_batches, rc.seed, autocast)
                    state["val_loss"] = val["loss"]
                    metrics.log({"step": state["step"], "val_loss": val["loss"], "val": val["val"]})
                    rng = gather_rng_states(device)  # every process's
                    if current.is_main:
                        _save_last(
                            run_dir, config, model, optimizer, sampler, positions, state, rng
                        )
                    saved = state["step"]
                    log.event(
                        f"step {state['step']:,}: validation loss {val['loss']:.4f}; checkpoint"
                    )
                    bar.set_postfix(
                        loss=f"{record['loss']:.4f}",
                        val=f"{val['loss']:.4f}",
                        tok_s=f"{record['tokens_per_second']:.0f}",
                        refresh=False,
                    )
                rate = state["tokens"] / max(state["train_seconds"], 1e-9)
                val_text = "" if state["val_loss"] is None else f", val {state['val_loss']:.4f}"
                log.step(
                    state["step"],
                    f"loss {record['loss']:.4f}{val_text}, {rate:,.0f} tokens/s",
                    force=state["step"] == total,
                )
            val_text = "-" if state["val_loss"] is None else f"{state['val_loss']:.4f}"
            log.event(
                f"done: {state['step']:,} steps, train loss {state['loss']:.4f}, "
                f"validation loss {val_text}"
            )

        if model.nar is not None and state_sha256(model.nar) != nar_hash:
            raise RuntimeError("the NAR's weights changed during training (they must be frozen)")
        model_dir = run_dir / MODEL_DIR
        if current.is_main:
            model.save_pretrained(model_dir, overwrite=True)
        tokens_per_second = state["tokens"] / max(state["train_seconds"], 1e-9)
        summary = {
            "transnar_version": __version__,
            "model": config.model.kind,
            "steps": state["step"],
            "epochs": state["step"] * oc.grad_accum / sampler.batches_per_epoch,
            "train_examples": len(train_set),
            "val_examples": len(val_set),
            "dropped_examples": train_set.dropped + val_set.dropped,
            "tokens": state["tokens"],
            "train_seconds": state["train_seconds"],
            "tokens_per_second": tokens_per_second,
            "train_loss": state["loss"],
            "val_loss": state["val_loss"],
            "parameters": sum(p.numel() for p in model.trainable_parameters()),
            "nar_sha256": nar_hash,
            "model_dir": MODEL_DIR,
        }
        if current.is_main:
            write_json(run_dir / SUMMARY, summary)
        barrier()
    return TrainResult(
        run_dir,
        config,
        Path(model_dir),
        state["step"],
        state["loss"],
        state["val_loss"],
        tokens_per_second,
        summary,
    )


# --- the pieces -------------------------------------------------------------------


def train_step(
    model: TransNAR,
    optimizer: torch.optim.Optimizer,
    batches: Sequence[Batch],
    positions: torch.Generator,
    grad_clip: float,
    autocast: contextlib.AbstractContextManager | None = None,
) -> dict[str, float]:
    """One optimizer step over ``batches`` (the micro-batches of the step).

    Each micro-batch's loss (a mean over its answer tokens) is weighted by its
    share of the step's answer tokens, so the step minimises the mean over all
    of them, however they are split. In data-parallel training every process
    is given the step's whole micro-batches (on the CPU) and draws their random
    positions, but runs only its rows of each (:meth:`World.rows`), weighted by
    their share of the step's answer tokens; the gradients are then summed over
    the processes, which makes the update the same.

    Returns:
        ``loss`` (the step's mean over answer tokens), ``grad_norm`` (before
        clipping), ``tokens`` (real tokens), ``targets`` (answer tokens),
        ``seconds``, ``nar_seconds`` (running the NAR) and ``tokens_per_second``.
    """
    started = time.perf_counter()
    device = next(model.lm.parameters()).device
    optimizer.zero_grad(set_to_none=True)
    current = world()
    targets = sum(b.num_targets for b in batches)
    loss_sum, nar_seconds = 0.0, 0.0
    for batch in batches:
        drawn = batch_positions(model, batch, positions)  # (B, T) or None
        if current.distributed:
            rows = current.rows(batch.batch_size)
            batch = batch.rows(rows)
            drawn = None if drawn is None else drawn.index_select(0, rows)
        if batch.num_targets == 0:
            continue
        batch = batch.to(device)
        nar_started = time.perf_counter()
        memory = graph_memory(model, batch)  # fp32, no_grad: outside autocast
        nar_seconds += time.perf_counter() - nar_started
        with autocast or contextlib.nullcontext():
            output = model(
                batch.input_ids,
                positions=None if drawn is None else drawn.to(device),
                labels=batch.labels,
                memory=memory,
            )
        weight = batch.num_targets / targets
        (output.loss * weight).backward()
        loss_sum += float(output.loss.detach()) * weight
    parameters = model.trainable_parameters()
    if current.distributed:  # every process sends every gradient, if only zeros
        for p in parameters:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        all_reduce_gradients(parameters)
    grad_norm = torch.nn.utils.clip_grad_norm_(parameters, grad_clip if grad_clip > 0 else math.inf)
    optimizer.step()
    seconds = time.perf_counter() - started
    tokens = sum(b.num_tokens for b in batches)
    return {
        "loss": sum_floats([loss_sum])[0],
        "grad_norm": float(grad_norm),
        "tokens": tokens,
        "targets": targets,
        "seconds": seconds,
        "nar_seconds": nar_seconds,
        "tokens_per_second": tokens / seconds,
    }


def graph_memory(model: TransNAR, batch: Batch) -> GraphMemory | None:
    """The batch's graph memory: cached, or computed by the frozen NAR (None for
    the baseline)."""
    if not model.config.use_nar:
        return None
    if batch.memory is not None:
        return batch.memory
    if batch.features is None:
        raise ValueError("a TransNAR batch needs its graphs (features) or cached memory")
    return model.graph_memory(batch.features)


def batch_positions(
    model: TransNAR, batch: Batch, generator: torch.Generator | None
) -> torch.Tensor | None:
    """Random positions over each sequence's real tokens when the model uses them
    (now: training or evaluation mode), else None (``0, 1, ...``)."""
    if not model.uses_random_positions():
        return None
    return training_positions(batch.attention_mask, model.max_position, generator)


@torch.no_grad()
def estimate_loss(
    model: TransNAR,
    dataset: PairedDataset,
    batches: Sequence[np.ndarray],
    seed: int,
    autocast: contextlib.AbstractContextManager | None = None,
) -> dict[str, Any]:
    """The mean answer-token loss over ``batches`` of ``dataset``, overall and per
    algorithm, in evaluation mode. Random positions (when the model uses them at
    evaluation) come from a generator seeded with ``seed`` afresh at each call,
    so that validations are comparable and the training's random streams are
    left alone.

    Returns:
        ``{"loss": float, "val": {algorithm: float}}``.
    """
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    device = next(model.lm.parameters()).device
    mine = world().shard(len(batches))
    algorithms = sorted({str(dataset.algorithms[indices[0]]) for indices in batches})
    sums = dict.fromkeys(algorithms, 0.0)
    counts = dict.fromkeys(algorithms, 0.0)
    try:
        for k, indices in enumerate(batches):
            batch = dataset.batch(indices)
            positions = batch_positions(model, batch, generator)  # every batch's, in order
            if k not in mine:
                continue
            batch = batch.to(device)
            memory = graph_memory(model, batch)
            with autocast or contextlib.nullcontext():
                output = model(
                    batch.input_ids,
                    positions=None if positions is None else positions.to(device),
                    labels=batch.labels,
                    memory=memory,
                )
            sums[batch.algorithm] += float(output.loss) * batch.num_targets
            counts[batch.algorithm] += batch.num_targets
    finally:
        model.train(was_training)
    totals = sum_floats([*sums.values(), *counts.values()])  # over the processes
    sums = dict(zip(algorithms, totals[: len(algorithms)], strict=True))
    counts = dict(zip(algorithms, totals[len(algorithms) :], strict=True))
    per_algorithm = {a: sums[a] / counts[a] for a in algorithms if counts[a]}
    return {"loss": sum(sums.values()) / sum(counts.values()), "val": per_algorithm}


def learning_rate(step: int, optim: OptimConfig, total_steps: int) -> float:
    """The learning rate of update ``step`` (0-based) of ``total_steps``.

    Linear warm-up to ``learning_rate`` over ``warmup_steps`` (the first update
    at ``learning_rate / warmup_steps``), then a cosine decay to
    ``min_learning_rate`` at the last update; ``min_learning_rate`` beyond.
    """
    peak, floor, warmup = optim.learning_rate, optim.min_learning_rate, optim.warmup_steps
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - 1 - warmup))
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - floor)


def total_steps(optim: OptimConfig, batches_per_epoch: int) -> int:
    """``optim.steps``, or the steps ``optim.epochs`` epochs take."""
    if optim.steps:
        return optim.steps
    return max(1, math.ceil(optim.epochs * batches_per_epoch / optim.grad_accum))


def make_optimizer(model: TransNAR, optim: OptimConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters only; weight decay on matrices only."""
    parameters = model.trainable_parameters()
    decay = [p for p in parameters if p.dim() >= 2]
    no_decay = [p for p in parameters if p.dim() < 2]
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": optim.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=optim.learning_rate,
        betas=(optim.beta1, optim.beta2),
        eps=optim.eps,
    )


def autocast_context(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (``auto`` or ``bf16``) or anywhere (``bf16``); else none."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def build_model(config: LMTrainConfig, tokenizer: Tokenizer, nar: NAR | None) -> TransNAR:
    """The model, initialised from ``train.seed``.

    The language model is built first, so a TransNAR and a baseline of the same
    seed start from the same language-model weights (a pretrained one,
    ``model.lm.pretrained``, is loaded). The cross-attention reads the NAR's
    widths (:func:`resolve_nar_dims`).
    """
    config = resolve_nar_dims(resolve_pretrained_lm(config), nar)
    torch.manual_seed(config.train.seed)
    lm = build_language_model(config.model.lm, tokenizer)
    return TransNAR(config.model, lm, nar if config.use_nar else None)


def resolve_pretrained_lm(config: LMTrainConfig) -> LMTrainConfig:
    """The config with the architecture of the pretrained LM ``model.lm.pretrained``
    (:func:`transnar.hf.pretrained_lm_config`); unchanged without one."""
    lm = config.model.lm
    if lm.pretrained is None:
        return config
    from transnar.hf import pretrained_lm_config

    resolved = pretrained_lm_config(lm)
    if resolved == lm:
        return config
    return replace(config, model=replace(config.model, lm=resolved))


def resolve_nar_dims(config: LMTrainConfig, nar: NAR | None) -> LMTrainConfig:
    """The config with the cross-attention's memory widths set to the NAR's."""
    if nar is None:
        return config
    node_dim, edge_dim = nar_dims(nar)
    model = config.model
    if (model.nar_node_dim, model.nar_edge_dim) == (node_dim, edge_dim):
        return config
    return replace(config, model=replace(model, nar_node_dim=node_dim, nar_edge_dim=edge_dim))


def obtain_nar(
    config: LMTrainConfig, run_dir: Path, device: torch.device, progress: bool | None = None
) -> NAR:
    """The frozen NAR: loaded from ``nar.checkpoint``, or trained into ``RUN_DIR/nar``
    with the NAR preset ``nar.preset`` on the data's algorithms (a finished NAR
    run there is reused; an interrupted one is resumed)."""
    from transnar.nar.checkpoint import load_nar
    from transnar.nar.run_config import apply_overrides as nar_overrides
    from transnar.nar.run_config import preset as nar_preset
    from transnar.nar.training import RESULTS
    from transnar.nar.training import train as train_nar

    source = config.nar
    if source.checkpoint is not None:
        path = Path(source.checkpoint)
    else:
        path = run_dir / NAR_DIR
        if not (path / RESULTS).is_file():
            changes: dict[str, Any] = {
                "algorithms": config.data.algorithms,
                "device": config.train.device,
                "threads": config.train.threads,
            }
            if source.train_steps:
                changes["steps"] = source.train_steps
            nar_config = nar_overrides(nar_preset(source.preset), changes)
            resume = (path / CHECKPOINTS / LAST).is_file()
            train_nar(nar_config, path, resume=resume, overwrite=not resume, progress=progress)
    nar = load_nar(path, device=device, freeze=True)
    missing = [a for a in config.data.algorithms if a not in nar.config.algorithms]
    if missing:
        raise CheckpointError(
            f"the NAR at {path} was not trained on {', '.join(missing)} (it knows "
            f"{', '.join(nar.config.algorithms)})"
        )
    return nar


def state_sha256(module: torch.nn.Module) -> str:
    """SHA-256 of a module's state dict (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


# --- checkpoints ------------------------------------------------------------------


def _trainable_state(model: TransNAR) -> dict[str, torch.Tensor]:
    """The model's state without the frozen NAR (it is identified by its hash)."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith("nar.")}


def _save_last(
    run_dir: Path,
    config: LMTrainConfig,
    model: TransNAR,
    optimizer: torch.optim.Optimizer,
    sampler: BatchSampler,
    positions: torch.Generator,
    state: dict,
    rng: list[dict[str, torch.Tensor]],
) -> None:
    """Writes ``checkpoints/last.pt`` atomically: everything the rest of the run needs
    (``rng``: every process's torch random states, :func:`gather_rng_states`)."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "transnar_version": __version__,
        "torch_version": str(torch.__version__),
        "config": config.to_dict(),
        "step": state["step"],
        "model": _trainable_state(model),
        "optimizer": optimizer.state_dict(),
        "train_state": {
            **state,
            "nar_sha256": state_sha256(model.nar) if model.nar is not None else None,
            "data": sampler.state_dict(),
            "rng": {**rng[0], "positions": positions.get_state()},
            "rng_processes": rng,
        },
    }
    with atomic_write(run_dir / CHECKPOINTS / LAST, overwrite=True) as handle:
        torch.save(payload, handle)


def read_checkpoint(path: str | os.PathLike, missing: str = "") -> dict:
    """Reads and checks an LM training checkpoint; its ``config`` as an :class:`LMTrainConfig`.

    Raises:
        CheckpointError: missing, unreadable, not a transnar LM training
            checkpoint, of another format version, or with an invalid config.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{missing}no checkpoint at {path}")
    payload = read_torch_file(path, "transnar LM training checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a transnar LM training checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {payload.get('format_version')!r} "
            f"(written by transnar {payload.get('transnar_version')}); this transnar "
            f"{__version__} reads version {FORMAT_VERSION}"
        )
    try:
        payload["config"] = LMTrainConfig.from_dict(payload["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} has an invalid config: {error}") from None
    payload["path"] = path
    return payload


def _check_resumable(checkpoint: dict, config: LMTrainConfig, ignore: Sequence[str] = ()) -> None:
    """Refuses to resume a checkpoint of a run with another config (``ignore``: keys
    not compared yet)."""
    differences = checkpoint["config"].differences(config)
    differences = [k for k in differences if k not in (*RESUMABLE_CHANGES, *ignore)]
    if differences:
        path = checkpoint["path"]
        allowed = ", ".join(RESUMABLE_CHANGES)
        raise CheckpointError(
            f"{path} is from a run with another config (differs in {', '.join(differences)}); "
            f"only {allowed} may change on resume"
        )


def _restore(
    run_dir: Path,
    checkpoint: dict,
    model: TransNAR,
    optimizer: torch.optim.Optimizer,
    sampler: BatchSampler,
    positions: torch.Generator,
    nar_hash: str | None,
) -> dict:
    """Loads the last checkpoint into the model, optimizer, data stream and random
    generators; returns the training state."""
    path = run_dir / CHECKPOINTS / LAST
    train_state = checkpoint.get("train_state", {})
    if train_state.get("nar_sha256") != nar_hash:
        raise CheckpointError(
            f"{path} was trained with another NAR (its weights' hash differs from this one's)"
        )
    try:
        missing, unexpected = model.load_state_dict(checkpoint["model"], strict=False)
        missing = [k for k in missing if not k.startswith("nar.")]
        if missing or unexpected:
            raise ValueError(f"missing {missing[:5]}, unexpected {unexpected[:5]}")
        optimizer.load_state_dict(checkpoint["optimizer"])
        sampler.load_state_dict(train_state["data"])
        rng = train_state["rng"]
        positions.set_state(rng["positions"])
        device = next(model.lm.parameters()).device
        restore_rng_states(train_state, device)
    except (KeyError, RuntimeError, ValueError) as error:
        raise CheckpointError(f"{path} does not fit this run: {error}") from None
    state = {k: train_state[k] for k in ("step", "tokens", "train_seconds", "loss", "val_loss")}
    if world().is_main:
        truncate_metrics(run_dir / METRICS, state["step"])
    return state


__all__ = [
    "CONFIG",
    "METRICS",
    "MODEL_DIR",
    "SUMMARY",
    "TrainResult",
    "autocast_context",
    "batch_positions",
    "build_model",
    "estimate_loss",
    "graph_memory",
    "learning_rate",
    "make_optimizer",
    "obtain_nar",
    "read_checkpoint",
    "state_sha256",
    "total_steps",
    "train",
    "train_step",
]
