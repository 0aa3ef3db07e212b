"""Encoders: every input and hint probe, linearly embedded into node, edge or graph features.

Shapes: ``B`` batch, ``N`` nodes, ``H`` hidden width, ``C`` classes. At every
step the encoded probes are summed per location into ``node_fts (B, N, H)``,
``edge_fts (B, N, N, H)`` and ``graph_fts (B, H)``. As in the reference (CLRS
``encoders.py``):

- node probes are encoded per node; node pointers are one-hot ``(B, N, N)``
  and go to the edges (``edge[i, j]`` encodes "``i`` points to ``j``");
- edge pointers (``(B, N, N, N)`` one-hot over the pointed-to node) use two
  encoders, averaged over the first and over the second node axis;
- graph probes go to the graph features;
- pointers and edge masks also build ``adj (B, N, N)``, the graph PGN-style
  processors aggregate over (with self-loops).

Padding nodes never contribute: averages over nodes count real nodes only, and
real nodes never point to padding.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from transnar.clrs.specs import Location, ProbeSpec, Stage, Type
from transnar.nar.layers import linear

POINTERS = (Type.POINTER, Type.PERMUTATION_POINTER)


class ProbeEncoder(nn.Module):
    """Linear encoder(s) of one probe.

    Args:
        probe: the probe's stage, location, type and class count.
        hidden_dim: ``H``.
        scalar_hint_std: initial weight std for scalar hints (the reference's
            ``xavier_on_scalars``), or ``None`` for the default.
    """

    def __init__(self, probe: ProbeSpec, hidden_dim: int, scalar_hint_std: float | None):
        super().__init__()
        if probe.location is Location.GRAPH and probe.type in POINTERS:
            raise ValueError("graph-level pointers are not supported")
        self.location = probe.location
        self.type = probe.type
        std = scalar_hint_std if (probe.stage is Stage.HINT and probe.type is Type.SCALAR) else None
        width = probe.num_classes if probe.type is Type.CATEGORICAL else 1
        self.first = linear(width, hidden_dim, std)
        is_edge_pointer = probe.location is Location.EDGE and probe.type is Type.POINTER
        self.second = linear(1, hidden_dim, std) if is_edge_pointer else None

    def features(self, value: torch.Tensor, node_mask: torch.Tensor) -> torch.Tensor:
        """The embedding this probe adds: ``(B, N, H)`` for node features,
        ``(B, N, N, H)`` for edge features, ``(B, H)`` for graph features.

        Args:
            value: the probe value, already dense (see :func:`dense`).
            node_mask: ``(B, N)`` real nodes.
        """
        return F.linear(self.raw(value, node_mask), self.weight, self.bias)

    def raw(self, value: torch.Tensor, node_mask: torch.Tensor) -> torch.Tensor:
        """The numbers the encoding is affine in, ``(..., K)``: the encoding is
        ``F.linear(raw, self.weight, self.bias)``.

        ``K`` is the class count of a categorical, 2 for an edge pointer, 1 otherwise.
        """
        if self.type is Type.CATEGORICAL:
            return value
        if self.second is None:
            return value.unsqueeze(-1)
        # Edge pointer, one-hot (B, N, N, N) over the pointed-to node. The
        # encoders are affine, so averaging their outputs over a node axis is
        # encoding the average one-hot, over real nodes only.
        real = node_mask.to(value.dtype)
        count = real.sum(1).clamp(min=1)[:, None, None]
        over_first = (value * real[:, :, None, None]).sum(1) / count
        over_second = (value * real[:, None, :, None]).sum(2) / count
        return torch.stack([over_first, over_second], dim=-1)

    @property
    def weight(self) -> torch.Tensor:
        """``(H, K)``: the weights of the encoder(s), side by side."""
        if self.second is None:
            return self.first.weight
        return torch.cat([self.first.weight, self.second.weight], dim=1)

    @property
    def bias(self) -> torch.Tensor:
        """``(H,)``: the sum of the encoders' biases."""
        return self.first.bias if self.second is None else self.first.bias + self.second.bias

    @property
    def target(self) -> Location:
        """Which features the encoding is added to."""
        if self.location is Location.NODE and self.type in POINTERS:
            return Location.EDGE
        return self.location


def dense(
    probe: ProbeSpec, value: torch.Tensor, num_nodes: int, dtype: torch.dtype
) -> torch.Tensor:
    """A probe value as a ``dtype`` tensor ready to encode: pointers become one-hot.

    Pointer values are int64 node indices (ground truth or hard predictions)
    or already probabilities over the nodes (soft predictions, one more axis).
    """
    if probe.type is Type.POINTER and not value.is_floating_point():
        return F.one_hot(value, num_nodes).to(dtype)
    return value.to(dtype)


def accumulate_adjacency(
    probe: ProbeSpec, value: torch.Tensor, adjacency: torch.Tensor
) -> torch.Tensor:
    """The reference's ``adj``: edges of node pointers and of edge masks, added.

    Args:
        probe: the probe.
        value: its dense value (see :func:`dense`).
        adjacency: ``(B, N, N)`` bool so far.
    """
    if probe.location is Location.NODE and probe.type in POINTERS:
        return adjacency | ((value + value.transpose(1, 2)) > 0.5)
    if probe.location is Location.EDGE and probe.type is Type.MASK:
        return adjacency | ((value + value.transpose(1, 2)) > 0.0)
    return adjacency


def scalar_hint_std(encoder_init: str, hidden_dim: int) -> float | None:
    """The initial std of scalar-hint encoders for an ``encoder_init`` setting."""
    return 1.0 / math.sqrt(hidden_dim) if encoder_init == "xavier_on_scalars" else None
