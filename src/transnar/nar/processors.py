"""Processors: one step of message passing over the dense graph (Ibarz et al. 2022).

Shapes: ``B`` batch, ``N`` nodes, ``H`` hidden width, ``F`` triplet features.
For node ``j``, with ``z = [node_fts ‖ hidden]`` (``(B, N, 2H)``)::

    msg[i, j] = MLP(ReLU(M1 z_j + M2 z_i + Me e_ij + Mg g))      # i: sender
    m_j       = max over senders i of msg[i, j]
    h_j       = LayerNorm(ReLU(O1 z_j + O2 m_j))
    gated:  h_j = gate_j * h_j + (1 - gate_j) * hidden_j,
            gate_j = sigmoid(G3 ReLU(G1 z_j + G2 m_j)), bias of G3 initialised to -3

MPNN variants take the max over every (real) node, PGN variants over the
graph's edges and pointers (``adj``, with self-loops). Triplet variants also
compute edge latents::

    t[i, j, k]  = T1 z_i + T2 z_j + T3 z_k + Te1 e_ij + Te2 e_ik + Te3 e_jk + Tg g   (F wide)
    latent[j, k] = ReLU(O3 max_i t[i, j, k])                                        (H wide)

which the decoders read (they are not fed back into the node update). Padding
nodes are excluded from every max, so a padded batch computes what its samples
compute one by one.
"""

from __future__ import annotations

import torch
from torch import nn

from transnar.nar.config import NARConfig
from transnar.nar.factored import FactoredEdges, apply_linears
from transnar.nar.layers import edge_mask, linear, masked_max, narrow_linear


class Processor(nn.Module):
    """The shared processor; its variant is ``config.processor``."""

    def __init__(self, config: NARConfig):
        super().__init__()
        h = config.hidden_dim
        self.aggregate_over_edges = "pgn" in config.processor
        self.m1, self.m2 = linear(2 * h, h), linear(2 * h, h)
        self.m_edge, self.m_graph = linear(h, h), linear(h, h)
        self.message_mlp = nn.Sequential(linear(h, h), nn.ReLU(), linear(h, h))
        self.o1, self.o2 = linear(2 * h, h), linear(h, h)
        self.layer_norm = nn.LayerNorm(h) if config.use_ln else None
        self.gate = _Gate(h) if config.gated else None
        self.triplets = _Triplets(h, config.nb_triplet_fts) if config.uses_triplets else None

    def forward(
        self,
        node_fts: torch.Tensor,
        edge_fts: torch.Tensor | FactoredEdges,
        graph_fts: torch.Tensor,
        adjacency: torch.Tensor,
        hidden: torch.Tensor,
        node_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One message-passing step.

        Args:
            node_fts: ``(B, N, H)`` encoded node features.
            edge_fts: ``(B, N, N, H)`` encoded edge features, dense or factored.
            graph_fts: ``(B, H)`` encoded graph features.
            adjacency: ``(B, N, N)`` bool, ``[sender, receiver]`` (PGN variants).
            hidden: ``(B, N, H)`` node states of the previous step.
            node_mask: ``(B, N)`` real nodes.

        Returns:
            The new node states ``(B, N, H)`` and the triplet edge latents
            ``(B, N, N, H)`` (``None`` without triplets).
        """
        z = torch.cat([node_fts, hidden], dim=-1)  # (B, N, 2H)
        # The layers reading the same input run as one matmul each (z, edges, graph).
        triplets, gate = self.triplets, self.gate
        z_layers = [self.m1, self.m2, self.o1] + ([gate.g1] if gate is not None else [])
        edge_layers = [self.m_edge]
        graph_layers = [self.m_graph]
        if triplets is not None:
            z_layers += [triplets.t1, triplets.t2, triplets.t3]
            edge_layers += [triplets.te1, triplets.te2, triplets.te3]
            graph_layers += [triplets.tg]
        from_z = apply_linears(z, z_layers)
        from_edges = apply_linears(edge_fts, edge_layers)
        from_graph = apply_linears(graph_fts, graph_layers)
        m1, m2, o1 = from_z[:3]
        g1 = from_z[3] if gate is not None else None
        # The graph term joins the receiver's before broadcasting to (B, N_i, N_j, H).
        receiver = m1 + from_graph[0][:, None, :]
        messages = from_edges[0] + receiver[:, None, :, :] + m2[:, :, None, :]
        messages = self.message_mlp(torch.relu_(messages))  # (B, N_i, N_j, H)
        senders = edge_mask(node_mask)
        if self.aggregate_over_edges:
            senders = senders & adjacency
        aggregated = masked_max(messages, senders[..., None], dim=1)  # (B, N, H)
        new_hidden = torch.relu(o1 + self.o2(aggregated))
        if self.layer_norm is not None:
            new_hidden = self.layer_norm(new_hidden)
        if gate is not None:
            update = gate(g1, aggregated)
            new_hidden = update * new_hidden + (1.0 - update) * hidden
        latents = None
        if triplets is not None:
            latents = triplets(from_z[-3:], from_edges[1:], from_graph[1], node_mask)
        return new_hidden, latents


class _Gate(nn.Module):
    """The update gate, biased to start (mostly) closed."""

    def __init__(self, h: int):
        super().__init__()
        self.g1, self.g2 = linear(2 * h, h), linear(h, h)
        self.g3 = linear(h, h, bias=-3.0)

    def forward(self, g1: torch.Tensor, aggregated: torch.Tensor) -> torch.Tensor:
        """The gate from ``g1`` applied to ``z`` and the aggregated messages."""
        return torch.sigmoid(self.g3(torch.relu(g1 + self.g2(aggregated))))


class _Triplets(nn.Module):
    """Triplet edge latents (Dudzik and Veličković 2022; Ibarz et al. 2022)."""

    def __init__(self, h: int, f: int):
        super().__init__()
        self.t1, self.t2, self.t3 = linear(2 * h, f), linear(2 * h, f), linear(2 * h, f)
        self.te1, self.te2, self.te3 = linear(h, f), linear(h, f), linear(h, f)
        self.tg = linear(h, f)
        self.o3 = linear(f, h)

    def forward(
        self,
        from_z: list[torch.Tensor],
        from_edges: list[torch.Tensor],
        from_graph: torch.Tensor,
        node_mask: torch.Tensor,
    ) -> torch.Tensor:
        """The latents from ``t1..t3`` applied to ``z``, ``te1..te3`` to the edge
        features and ``tg`` to the graph features."""
        t1, t2, t3 = from_z  # (B, N, F)
        te1, te2, te3 = from_edges  # (B, N, N, F)
        # Only the terms that depend on i enter the (B, N_i, N_j, N_k, F) max
        # over i; the others are added after it, which gives the same maximum.
        over_i = (
            t1[:, :, None, None, :]  # i
            + te1[:, :, :, None, :]  # (i, j)
            + te2[:, :, None, :, :]  # (i, k)
        )
        best = masked_max(over_i, node_mask[:, :, None, None, None], dim=1)  # (B, N_j, N_k, F)
        triplets = best + te3 + (t2 + from_graph[:, None, :])[:, :, None, :] + t3[:, None, :, :]
        o3 = self.o3
        return torch.relu(narrow_linear(triplets, o3.weight, o3.bias))  # (B, N, N, H)
