"""Layer constructors with the reference's initialisation (Haiku's defaults)."""

from __future__ import annotations

import math

import torch
from torch import nn

# Large negative logit for masked choices (padding nodes, the Sinkhorn diagonal).
NEG_INF = -1e9
# What the reference subtracts from non-edges before a max over senders.
BIG_NUMBER = 1e6


def linear(
    in_features: int, out_features: int, std: float | None = None, bias: float = 0.0
) -> nn.Linear:
    """A linear layer initialised as Haiku's ``hk.Linear``.

    Weights are drawn from a normal truncated at two standard deviations, with
    standard deviation ``std`` (default ``1 / sqrt(in_features)``); biases are
    the constant ``bias`` (default 0).
    """
    layer = nn.Linear(in_features, out_features)
    std = 1.0 / math.sqrt(in_features) if std is None else std
    nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
    nn.init.constant_(layer.bias, bias)
    return layer


def edge_mask(node_mask: torch.Tensor) -> torch.Tensor:
    """``(..., N, N)`` True where both ends are real nodes, from a ``(..., N)`` node mask."""
    return node_mask[..., :, None] & node_mask[..., None, :]


def masked_max(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Max over ``dim`` of the entries where ``mask`` (broadcast to ``x``) is True.

    Masked entries count as ``-BIG_NUMBER``, as in the reference's max aggregation.
    """
    return torch.where(mask, x, torch.full_like(x, -BIG_NUMBER)).amax(dim)
