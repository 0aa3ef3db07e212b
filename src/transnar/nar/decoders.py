"""Decoders: from node states and edge latents to predictions of every output and hint.

Shapes: ``B`` batch, ``N`` nodes, ``H`` hidden width, ``C`` classes. Decoders
read ``h_t = [node_fts ‖ hidden_before ‖ hidden_after]`` (``(B, N, 3H)``),
``e_t = [edge_fts ‖ triplet latents]`` (``(B, N, N, E)``, ``E`` = 2H with
triplets, H without) and ``graph_fts`` (``(B, H)``), as in CLRS ``decoders.py``:

- node scalar / mask / mask_one ``(B, N)``, categorical ``(B, N, C)``;
- node pointer ``(B, N, N)`` logits of node ``a`` pointing at ``c``:
  ``L4(max(L1 h_a, L2 h_c + L3 e_ca))``; a permutation pointer the same logits
  through a log-space Sinkhorn operator;
- edge probes ``L1 h_i + L2 h_j + L3 e_ij`` (``(B, N, N)`` or ``(..., C)``);
  edge pointers ``(B, N, N, N)`` logits over the pointed-to node;
- graph probes from the max over nodes of ``h_t`` plus ``graph_fts``.

Logits for choosing a padding node are ``NEG_INF``; the Sinkhorn operator maps
padding to itself.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from transnar.clrs.specs import Location, ProbeSpec, Type
from transnar.nar.factored import FactoredEdges, apply_linears
from transnar.nar.layers import NEG_INF, edge_mask, linear, linear_of_maximum, masked_max


class ProbeDecoder(nn.Module):
    """The decoder of one output or hint probe."""

    def __init__(self, probe: ProbeSpec, hidden_dim: int, edge_dim: int):
        super().__init__()
        h, node_dim = hidden_dim, 3 * hidden_dim
        self.location = probe.location
        self.type = probe.type
        width = probe.num_classes if probe.type is Type.CATEGORICAL else 1
        is_pointer = probe.type in (Type.POINTER, Type.PERMUTATION_POINTER)
        if probe.location is Location.NODE:
            if is_pointer:
                self.layers = nn.ModuleList(
                    [linear(node_dim, h), linear(node_dim, h), linear(edge_dim, h), linear(h, 1)]
                )
            else:
                self.layers = nn.ModuleList([linear(node_dim, width)])
        elif probe.location is Location.EDGE:
            if probe.type is Type.PERMUTATION_POINTER:
                raise ValueError("edge permutation pointers are not supported")
            first = h if is_pointer else width
            self.layers = nn.ModuleList(
                [linear(node_dim, first), linear(node_dim, first), linear(edge_dim, first)]
            )
            if is_pointer:
                self.layers.extend([linear(node_dim, h), linear(h, 1)])
        else:
            if is_pointer:
                raise ValueError("graph-level pointers are not supported")
            self.layers = nn.ModuleList([linear(node_dim, width), linear(h, width)])

    def forward(
        self,
        h_t: torch.Tensor,
        e_t: torch.Tensor | FactoredEdges,
        graph_fts: torch.Tensor,
        node_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Raw predictions (logits; scalars as values).

        Args:
            h_t: ``(B, N, 3H)`` node decoder inputs.
            e_t: ``(B, N, N, E)`` edge decoder inputs, dense or factored.
            graph_fts: ``(B, H)``.
            node_mask: ``(B, N)`` real nodes.
        """
        if self.location is Location.NODE:
            return self._node(h_t, e_t, node_mask)
        if self.location is Location.EDGE:
            return self._edge(h_t, e_t, node_mask)
        embedding = masked_max(h_t, node_mask[..., None], dim=1)  # (B, 3H)
        prediction = self.layers[0](embedding) + self.layers[1](graph_fts)
        return prediction if self.type is Type.CATEGORICAL else prediction.squeeze(-1)

    def _node(
        self, h_t: torch.Tensor, e_t: torch.Tensor | FactoredEdges, node_mask: torch.Tensor
    ) -> torch.Tensor:
        if self.type in (Type.SCALAR, Type.MASK):
            return self.layers[0](h_t).squeeze(-1)
        if self.type is Type.MASK_ONE:
            return _mask_choices(self.layers[0](h_t).squeeze(-1), node_mask)
        if self.type is Type.CATEGORICAL:
            return self.layers[0](h_t)
        source, target, edge, out = self.layers
        # p[a, c] = max(L1 h_a, L2 h_c + L3 e_ca): node a pointing at node c,
        # computed as [c, a] (the layout of e), then transposed.
        (via_target,) = apply_linears(e_t, [edge])
        via_target = via_target + target(h_t)[:, :, None, :]  # (B, c, a, H)
        logits = linear_of_maximum(source(h_t)[:, None, :, :], via_target, out).squeeze(-1)
        return _mask_choices(logits.transpose(1, 2), node_mask[:, None, :])  # (B, a, c)

    def _edge(
        self, h_t: torch.Tensor, e_t: torch.Tensor | FactoredEdges, node_mask: torch.Tensor
    ) -> torch.Tensor:
        first, second, edge = self.layers[:3]
        (prediction,) = apply_linears(e_t, [edge])
        prediction = prediction + first(h_t)[:, :, None, :] + second(h_t)[:, None, :, :]
        if self.type is Type.CATEGORICAL:
            return prediction  # (B, N, N, C)
        if self.type is not Type.POINTER:
            prediction = prediction.squeeze(-1)  # (B, N, N)
            if self.type is Type.MASK_ONE:
                return _mask_choices(prediction, edge_mask(node_mask))
            return prediction
        target, out = self.layers[3:]
        # (B, i, j, k, H): edge (i, j) pointing at node k.
        logits = linear_of_maximum(
            prediction[:, :, :, None, :], target(h_t)[:, None, None, :, :], out
        ).squeeze(-1)
        return _mask_choices(logits, node_mask[:, None, None, :])


def _mask_choices(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Logits with the padding choices set to ``NEG_INF``."""
    return logits.masked_fill(~allowed, NEG_INF)


def log_sinkhorn(
    logits: torch.Tensor,
    node_mask: torch.Tensor,
    steps: int,
    temperature: float,
    noise: bool,
) -> torch.Tensor:
    """Log-space Sinkhorn operator: logits -> log of a doubly stochastic matrix.

    Args:
        logits: ``(B, N, N)`` permutation logits (row ``a``: where node ``a``
            points).
        node_mask: ``(B, N)`` real nodes; padding rows and columns are set to
            map each padding node to itself, so the real block is normalised
            on its own.
        steps: row-then-column normalisations.
        temperature: divides the logits (the result tends to a permutation as
            it goes to 0).
        noise: add Gumbel noise first (training only).

    Returns:
        ``(B, N, N)`` log-probabilities; the diagonal of the real block is
        forced towards minus infinity (no node points to itself).
    """
    if noise:
        uniform = torch.rand_like(logits)
        logits = logits - torch.log(-torch.log(uniform + 1e-12) + 1e-12)
    logits = logits / temperature
    n = logits.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=logits.device)
    real = edge_mask(node_mask)
    padding_pair = ~node_mask[:, :, None] & ~node_mask[:, None, :]
    logits = torch.where(eye & real, logits - 1e6, logits)
    logits = torch.where(real, logits, torch.full_like(logits, NEG_INF))
    logits = torch.where(eye & padding_pair, torch.zeros_like(logits), logits)
    for _ in range(steps):
        logits = torch.log_softmax(logits, dim=-1)
        logits = torch.log_softmax(logits, dim=-2)
    return logits


def postprocess(
    probe: ProbeSpec,
    prediction: torch.Tensor,
    node_mask: torch.Tensor,
    hard: bool,
    sinkhorn_steps: int,
    sinkhorn_temperature: float,
) -> torch.Tensor:
    """Turns raw predictions into probe values (to feed back, or to score).

    Soft: sigmoid for masks, softmax for ``mask_one``, categoricals and
    pointers (pointers become probability rows over the nodes), scalars as they
    are. Hard: thresholds, one-hot argmaxes, pointer indices, detached
    scalars. Permutation pointers go through the Sinkhorn operator
    (``sinkhorn_steps``) and, when hard, become one-hot rows.
    """
    if probe.type is Type.SCALAR:
        return prediction.detach() if hard else prediction
    if probe.type is Type.MASK:
        return (prediction > 0.0).to(prediction.dtype) if hard else torch.sigmoid(prediction)
    if probe.type in (Type.MASK_ONE, Type.CATEGORICAL):
        if hard:
            return F.one_hot(prediction.argmax(-1), prediction.shape[-1]).to(prediction.dtype)
        return torch.softmax(prediction, dim=-1)
    if probe.type is Type.POINTER:
        return prediction.argmax(-1) if hard else torch.softmax(prediction, dim=-1)
    if probe.type is Type.PERMUTATION_POINTER:
        doubly_stochastic = log_sinkhorn(
            prediction, node_mask, sinkhorn_steps, sinkhorn_temperature, noise=False
        ).exp()
        if hard:
            return F.one_hot(doubly_stochastic.argmax(-1), doubly_stochastic.shape[-1]).to(
                prediction.dtype
            )
        return doubly_stochastic
    raise ValueError(f"cannot postprocess a {probe.type.value} probe")
