"""The LM trainer's step and validation loss, plain functions (nanoGPT's habit).

- :func:`lm_train_step`: one AdamW update over a step's micro-batches, the loss
  a mean over all their answer tokens (data-parallel: each process its rows);
- :func:`estimate_loss`: the validation loss, overall and per algorithm;
- :func:`answer_loss`: a batch's loss over its answer tokens;
- :func:`graph_memory`, :func:`batch_positions`: a batch's NAR memory and
  random positions.

Shapes: ``B`` batch, ``T`` tokens.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from transnar.model import TransNAR
from transnar.nar.memory import GraphMemory
from transnar.training.distributed import all_reduce_gradients, sum_floats, world
from transnar.training.lm_batches import training_positions
from transnar.training.lm_dataset import LMBatch, PairedDataset


def lm_train_step(
    model: TransNAR,
    optimizer: torch.optim.Optimizer,
    batches: Sequence[LMBatch],
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
        loss = answer_loss(model, batch, drawn, memory, autocast)
        weight = batch.num_targets / targets
        (loss * weight).backward()
        loss_sum += float(loss.detach()) * weight
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


def answer_loss(
    model: TransNAR,
    batch: LMBatch,
    positions: torch.Tensor | None,
    memory: GraphMemory | None,
    autocast: contextlib.AbstractContextManager | None = None,
) -> torch.Tensor:
    """The model's mean loss over the answer tokens of ``batch`` (on the model's
    device), at ``positions`` (None: ``0, 1, ...``), reading ``memory``, the
    forward pass inside ``autocast`` (none: fp32)."""
    with autocast or contextlib.nullcontext():
        output = model(
            batch.input_ids,
            positions=None if positions is None else positions.to(batch.input_ids.device),
            labels=batch.labels,
            memory=memory,
        )
    return output.loss


def graph_memory(model: TransNAR, batch: LMBatch) -> GraphMemory | None:
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
    model: TransNAR, batch: LMBatch, generator: torch.Generator | None
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
            loss = answer_loss(model, batch, positions, graph_memory(model, batch), autocast)
            sums[batch.algorithm] += float(loss) * batch.num_targets
            counts[batch.algorithm] += batch.num_targets
    finally:
        model.train(was_training)
    totals = sum_floats([*sums.values(), *counts.values()])  # over the processes
    sums = dict(zip(algorithms, totals[: len(algorithms)], strict=True))
    counts = dict(zip(algorithms, totals[len(algorithms) :], strict=True))
    per_algorithm = {a: sums[a] / counts[a] for a in algorithms if counts[a]}
    return {"loss": sum(sums.values()) / sum(counts.values()), "val": per_algorithm}


__all__ = ["answer_loss", "batch_positions", "estimate_loss", "graph_memory", "lm_train_step"]
