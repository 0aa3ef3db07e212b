"""The LM trainer's step and validation loss, plain functions (nanoGPT's habit).

- :func:`lm_train_step`: one AdamW update over a step's micro-batches, the loss
  a mean over all their answer tokens (data-parallel: each process its rows);
- :func:`estimate_loss`: the validation loss, overall and per algorithm;
- :func:`answer_loss`: a batch's loss over its answer tokens;
- :func:`distilled_loss`: the same mixed with a teacher's distributions
  (token-level distillation, :mod:`transnar.training.lm_teacher`);
- :func:`graph_memory`, :func:`batch_positions`: a batch's NAR memory and
  random positions.

Shapes: ``B`` batch, ``T`` tokens.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from transnar.model import TransNAR
from transnar.nar.memory import GraphMemory
from transnar.training.distributed import all_reduce_gradients, sum_floats, world
from transnar.training.lm_batches import training_positions
from transnar.training.lm_dataset import LMBatch, PairedDataset
from transnar.training.lm_teacher import Teacher, distillation_loss


@dataclass(frozen=True)
class DistilledLoss:
    """A micro-batch's loss with a teacher, and its two terms (each a mean over
    the answer tokens).

    Attributes:
        loss: ``(1 - weight) * answer + weight * distillation`` (with its graph).
        answer: the cross-entropy of the data's answers.
        distillation: ``temperature**2 * KL(teacher || model)``.
    """

    loss: torch.Tensor
    answer: float
    distillation: float


def lm_train_step(
    model: TransNAR,
    optimizer: torch.optim.Optimizer,
    batches: Sequence[LMBatch],
    positions: torch.Generator,
    grad_clip: float,
    autocast: contextlib.AbstractContextManager | None = None,
    teacher: Teacher | None = None,
) -> dict[str, float]:
    """One optimizer step over ``batches`` (the micro-batches of the step).

    Each micro-batch's loss (a mean over its answer tokens) is weighted by its
    share of the step's answer tokens, so the step minimises the mean over all
    of them, however they are split. In data-parallel training every process
    is given the step's whole micro-batches (on the CPU) and draws their random
    positions, but runs only its rows of each (:meth:`World.rows`), weighted by
    their share of the step's answer tokens; the gradients are then summed over
    the processes, which makes the update the same.

    With a ``teacher``, each micro-batch's loss is :func:`distilled_loss`'s
    (the teacher reads the positions drawn for the model, or its own, drawn
    from ``positions`` too: :meth:`Teacher.positions`).

    Returns:
        ``loss`` (the step's mean over answer tokens), ``grad_norm`` (before
        clipping), ``tokens`` (real tokens), ``targets`` (answer tokens),
        ``seconds``, ``nar_seconds`` (running the NAR) and ``tokens_per_second``;
        with a teacher also ``answer_loss`` and ``distillation_loss`` (the two
        terms' means).
    """
    started = time.perf_counter()
    device = next(model.lm.parameters()).device
    optimizer.zero_grad(set_to_none=True)
    current = world()
    targets = sum(b.num_targets for b in batches)
    loss_sum, nar_seconds = 0.0, 0.0
    terms = {"answer_loss": 0.0, "distillation_loss": 0.0}
    for batch in batches:
        drawn = batch_positions(model, batch, positions)  # (B, T) or None
        taught = None if teacher is None else teacher.positions(batch, drawn, positions)
        if current.distributed:
            rows = current.rows(batch.batch_size)
            batch = batch.rows(rows)
            drawn = None if drawn is None else drawn.index_select(0, rows)
            taught = None if taught is None else taught.index_select(0, rows)
        if batch.num_targets == 0:
            continue
        batch = batch.to(device)
        nar_started = time.perf_counter()
        memory = graph_memory(model, batch)  # fp32, no_grad: outside autocast
        nar_seconds += time.perf_counter() - nar_started
        weight = batch.num_targets / targets
        if teacher is None:
            loss = answer_loss(model, batch, drawn, memory, autocast)
        else:
            mixed = distilled_loss(model, teacher, batch, drawn, memory, taught, autocast)
            loss = mixed.loss
            terms["answer_loss"] += mixed.answer * weight
            terms["distillation_loss"] += mixed.distillation * weight
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
    loss_sum, *term_sums = sum_floats([loss_sum, *terms.values()])  # over the processes
    record = {
        "loss": loss_sum,
        "grad_norm": float(grad_norm),
        "tokens": tokens,
        "targets": targets,
        "seconds": seconds,
        "nar_seconds": nar_seconds,
        "tokens_per_second": tokens / seconds,
    }
    if teacher is not None:
        record.update(zip(terms, term_sums, strict=True))
    return record


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
    return _forward(model, batch, positions, memory, autocast, labels=True).loss


def distilled_loss(
    model: TransNAR,
    teacher: Teacher,
    batch: LMBatch,
    positions: torch.Tensor | None,
    memory: GraphMemory | None,
    teacher_positions: torch.Tensor | None,
    autocast: contextlib.AbstractContextManager | None = None,
) -> DistilledLoss:
    """The model's loss on ``batch`` (at ``positions``, reading ``memory``) with
    ``teacher``: the answers' cross-entropy mixed with :func:`distillation_loss`
    by the teacher's weight. The teacher runs on the same tokens at
    ``teacher_positions`` (:meth:`Teacher.positions`), without gradients,
    reading its own NAR memory of the examples (their graphs: ``batch.features``)."""
    frozen = teacher.model
    with torch.no_grad():
        teacher_memory = graph_memory(frozen, batch, cached=False)
        target = _forward(frozen, batch, teacher_positions, teacher_memory, autocast).logits
    output = _forward(model, batch, positions, memory, autocast, labels=True)
    term = distillation_loss(output.logits, target, batch.labels, teacher.temperature)
    loss = (1 - teacher.weight) * output.loss + teacher.weight * term
    return DistilledLoss(loss, float(output.loss.detach()), float(term.detach()))


def _forward(
    model: TransNAR,
    batch: LMBatch,
    positions: torch.Tensor | None,
    memory: GraphMemory | None,
    autocast: contextlib.AbstractContextManager | None,
    labels: bool = False,
):
    """``model``'s output on the batch's tokens (its loss too when ``labels``)."""
    with autocast or contextlib.nullcontext():
        return model(
            batch.input_ids,
            positions=None if positions is None else positions.to(batch.input_ids.device),
            labels=batch.labels if labels else None,
            memory=memory,
        )


def graph_memory(model: TransNAR, batch: LMBatch, cached: bool = True) -> GraphMemory | None:
    """The batch's graph memory for ``model``: cached (unless not ``cached``: a
    teacher reads its own NAR, not the student's cache), or computed by the
    model's frozen NAR from the batch's graphs; None for a model without a NAR."""
    if not model.config.use_nar:
        return None
    if cached and batch.memory is not None:
        return batch.memory
    if batch.features is None:
        needs = "its graphs (features) or cached memory" if cached else "its graphs (features)"
        raise ValueError(f"a TransNAR batch needs {needs}")
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


__all__ = [
    "DistilledLoss",
    "answer_loss",
    "batch_positions",
    "distilled_loss",
    "estimate_loss",
    "graph_memory",
    "lm_train_step",
]
