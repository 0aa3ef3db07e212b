"""Output and hint losses (CLRS ``losses.py``), with padding nodes masked out.

Per probe type: scalars, mean squared error; masks, binary cross-entropy on
logits, ignoring entries of -1; ``mask_one`` and categoricals, cross-entropy
(categorical entries whose truth has no 1, i.e. masked cells, are ignored);
pointers, cross-entropy over the nodes; permutation pointers, cross-entropy
against the log-Sinkhorn output. Output losses average over real elements;
hint losses also over the valid steps ``[1, length)`` of each sample.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from transnar.clrs.specs import MASKED, Location, ProbeSpec, Type
from transnar.nar.layers import edge_mask

EPS = 1e-12


def element_mask(location: Location, node_mask: torch.Tensor) -> torch.Tensor:
    """Real elements of a probe, from a ``(..., N)`` node mask: ``(..., N)``,
    ``(..., N, N)`` or ``(...)`` for node, edge and graph probes."""
    if location is Location.NODE:
        return node_mask
    if location is Location.EDGE:
        return edge_mask(node_mask)
    return torch.ones(node_mask.shape[:-1], dtype=torch.bool, device=node_mask.device)


def elementwise_loss(
    probe: ProbeSpec, prediction: torch.Tensor, truth: torch.Tensor, node_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-element loss and the mask of elements that count.

    Args:
        probe: the probe.
        prediction: raw predictions, with any leading axes (batch, time).
        truth: ground truth of the same leading shape.
        node_mask: real nodes, broadcastable to the leading axes plus ``(N,)``.

    Returns:
        ``loss`` and ``mask`` of the same shape: per node (or edge, or graph),
        except for a node ``mask_one``, which is one element per sample.
    """
    if probe.type is Type.MASK_ONE and probe.location is Location.NODE:
        loss = -(truth * torch.log_softmax(prediction, dim=-1)).sum(-1)
        return loss, torch.ones_like(loss, dtype=torch.bool)
    real = element_mask(probe.location, node_mask)
    if probe.type is Type.SCALAR:
        loss = (prediction - truth) ** 2
        mask = real
    elif probe.type is Type.MASK:
        loss = F.binary_cross_entropy_with_logits(
            prediction, truth.clamp(min=0.0), reduction="none"
        )
        mask = real & (truth != MASKED)
    elif probe.type in (Type.MASK_ONE, Type.CATEGORICAL):
        masked_truth = truth * (truth != MASKED)
        loss = -(masked_truth * torch.log_softmax(prediction, dim=-1)).sum(-1)
        if probe.type is Type.MASK_ONE:  # an edge mask_one: one choice per row
            real = node_mask
        mask = real & (truth == 1).any(-1)
    elif probe.type is Type.POINTER:
        loss = -torch.log_softmax(prediction, dim=-1).gather(-1, truth.unsqueeze(-1)).squeeze(-1)
        mask = real
    elif probe.type is Type.PERMUTATION_POINTER:
        loss = -(truth * prediction).sum(-1)
        mask = real
    else:
        raise ValueError(f"no loss for {probe.type.value} probes")
    return loss, mask.expand_as(loss)


def masked_sum(loss: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of ``loss`` over the True entries of ``mask``, and their count (a
    float tensor): a mean over several processes divides the sum of the sums by
    the sum of the counts."""
    total = torch.where(mask, loss, torch.zeros_like(loss)).sum()
    return total, mask.sum().to(loss.dtype)


def output_loss_sum(
    probe: ProbeSpec, prediction: torch.Tensor, truth: torch.Tensor, node_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The summed loss of one output probe over its real elements, and their count."""
    return masked_sum(*elementwise_loss(probe, prediction, truth, node_mask))


def output_loss(
    probe: ProbeSpec, prediction: torch.Tensor, truth: torch.Tensor, node_mask: torch.Tensor
) -> torch.Tensor:
    """The loss of one output probe, averaged over its real elements."""
    total, count = output_loss_sum(probe, prediction, truth, node_mask)
    return total / count.clamp(min=1)


def hint_loss_sum(
    probe: ProbeSpec,
    predictions: torch.Tensor,
    truth: torch.Tensor,
    lengths: torch.Tensor,
    node_mask: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The summed loss of one hint over the steps each sample really takes, and
    the count of its terms (arguments as :func:`hint_loss`)."""
    steps = predictions.shape[1]
    valid_step = torch.arange(1, steps + 1, device=lengths.device)[None, :] < lengths[:, None]
    loss, mask = elementwise_loss(probe, predictions, truth, node_mask[:, None])
    while valid_step.dim() < mask.dim():
        valid_step = valid_step.unsqueeze(-1)
    return masked_sum(loss, mask & valid_step)


def termination_loss_sum(
    logits: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The summed termination loss and its count of terms.

    Binary cross-entropy of "step ``s`` is the last", at every step up to and
    including each sample's last, ``max(0, length - 2)``; the steps after it
    are not counted.

    Args:
        logits: ``(B, S)`` the termination head's logits at steps ``0 .. S-1``.
        lengths: ``(B,)`` hint steps per sample.
    """
    last = (lengths - 2).clamp(min=0)[:, None]  # (B, 1)
    step = torch.arange(logits.shape[1], device=logits.device)[None, :]  # (1, S)
    target = (step == last).to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return masked_sum(loss, step <= last)


def hint_loss(
    probe: ProbeSpec,
    predictions: torch.Tensor,
    truth: torch.Tensor,
    lengths: torch.Tensor,
    node_mask: torch.Tensor,
) -> torch.Tensor:
    """The loss of one hint over the steps each sample really takes.

    Args:
        probe: the hint's probe.
        predictions: ``(B, S, ...)`` predictions of hint steps ``1 .. S``.
        truth: ``(B, S, ...)`` ground truth of those steps.
        lengths: ``(B,)`` hint steps per sample; step ``s`` counts when
            ``s < length``.
        node_mask: ``(B, N)`` real nodes.
    """
    total, count = hint_loss_sum(probe, predictions, truth, lengths, node_mask)
    return total / count.clamp(min=1)
