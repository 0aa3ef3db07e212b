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
from transnar.nar.layers import edge_mask, linear, masked_max


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
        edge_fts: torch.Tensor,
        graph_fts: torch.Tensor,
        adjacency: torch.Tensor,
        hidden: torch.Tensor,
        node_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One message-passing step.

        Args:
            node_fts: ``(B, N, H)`` encoded node features.
            edge_fts: ``(B, N, N, H)`` encoded edge features.
            graph_fts: ``(B, H)`` encoded graph features.
            adjacency: ``(B, N, N)`` bool, ``[sender, receiver]`` (PGN variants).
            hidden: ``(B, N, H)`` node states of the previous step.
            node_mask: ``(B, N)`` real nodes.

        Returns:
            The new node states ``(B, N, H)`` and the triplet edge latents
            ``(B, N, N, H)`` (``None`` without triplets).
        """
        z = torch.cat([node_fts, hidden], dim=-1)  # (B, N, 2H)
        messages = (
            self.m1(z)[:, None, :, :]  # receiver j
            + self.m2(z)[:, :, None, :]  # sender i
            + self.m_edge(edge_fts)
            + self.m_graph(graph_fts)[:, None, None, :]
        )  # (B, N_i, N_j, H)
        messages = self.message_mlp(torch.relu(messages))
        senders = edge_mask(node_mask)
        if self.aggregate_over_edges:
            senders = senders & adjacency
        aggregated = masked_max(messages, senders[..., None], dim=1)  # (B, N, H)
        new_hidden = torch.relu(self.o1(z) + self.o2(aggregated))
        if self.layer_norm is not None:
            new_hidden = self.layer_norm(new_hidden)
        if self.gate is not None:
            gate = self.gate(z, aggregated)
            new_hidden = gate * new_hidden + (1.0 - gate) * hidden
        latents = None
        if self.triplets is not None:
            latents = self.triplets(z, edge_fts, graph_fts, node_mask)
        return new_hidden, latents


class _Gate(nn.Module):
    """The update gate, biased to start (mostly) closed."""

    def __init__(self, h: int):
        super().__init__()
        self.g1, self.g2 = linear(2 * h, h), linear(h, h)
        self.g3 = linear(h, h, bias=-3.0)

    def forward(self, z: torch.Tensor, aggregated: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.g3(torch.relu(self.g1(z) + self.g2(aggregated))))


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
        z: torch.Tensor,
        edge_fts: torch.Tensor,
        graph_fts: torch.Tensor,
        node_mask: torch.Tensor,
    ) -> torch.Tensor:
        # Only the terms that depend on i enter the (B, N, N, N, F) max over i;
        # the others are added after it, which gives the same maximum.
        over_i = (
            self.t1(z)[:, :, None, None, :]  # i
            + self.te1(edge_fts)[:, :, :, None, :]  # (i, j)
            + self.te2(edge_fts)[:, :, None, :, :]  # (i, k)
        )  # (B, N_i, N_j, N_k, F)
        best = masked_max(over_i, node_mask[:, :, None, None, None], dim=1)  # (B, N_j, N_k, F)
        triplets = (
            best
            + self.t2(z)[:, :, None, :]
            + self.t3(z)[:, None, :, :]
            + self.te3(edge_fts)
            + self.tg(graph_fts)[:, None, None, :]
        )
        return torch.relu(self.o3(triplets))  # (B, N, N, H)
