"""TransNAR's layers: gated cross-attention from the tokens to the NAR's memory.

- :class:`CrossAttention`: multi-head attention from the tokens to a memory
  (the NAR's nodes, or its edges), keys and values projected from the NAR width.
- :class:`GatedCrossAttentionBlock`: the block TransNAR inserts after every
  ``xattn_every``-th layer of its language model (Flamingo style, ``DESIGN.md``
  §6): the tokens read the nodes and the edges, then an MLP, each behind a
  ``tanh`` gate closed at initialisation.
- :class:`StepReader` (and :func:`step_encoding`): what the blocks read of a
  memory kept step by step (the ``all`` and ``pooled`` memory modes).

Shapes: ``B`` batch, ``T`` tokens, ``D`` model width, ``N`` nodes, ``M`` memory
slots (``N`` nodes or ``N * N`` edges), ``S`` NAR steps, ``Hn``/``He`` NAR node and
edge widths, ``h`` heads, ``Dh`` head width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from transnar.lm.transformer import MLP, RMSNorm
from transnar.model.config import STEP_MODES_READ, TransNARConfig
from transnar.nar.memory import GraphMemory

STEP_FREQUENCIES = 8  # sinusoidal frequencies of the step encoding


class CrossAttention(nn.Module):
    """Multi-head attention from tokens ``(B, T, D)`` to a memory ``(B, M, Dm)``."""

    def __init__(self, d_model: int, memory_dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.key_value = nn.Linear(memory_dim, 2 * d_model, bias=False)

    def keys_values(
        self, memory: torch.Tensor, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The memory ``(B, M, Dm)`` as keys and values ``(B, h, M, Dh)`` each."""
        B = memory.shape[0]
        k, v = self.key_value(memory.to(dtype)).chunk(2, dim=-1)  # (B, M, D) each
        k = k.view(B, -1, self.heads, k.shape[-1] // self.heads).transpose(1, 2)
        v = v.view(B, -1, self.heads, v.shape[-1] // self.heads).transpose(1, 2)
        return k, v

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        mask: torch.Tensor,
        keys_values: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``x`` ``(B, T, D)``, ``memory`` ``(B, M, Dm)``, ``mask`` ``(B, M)`` -> ``(B, T, D)``;
        ``keys_values``: :meth:`keys_values` of ``memory``, when already computed."""
        B, T, D = x.shape
        q = self.query(x).view(B, T, self.heads, D // self.heads).transpose(1, 2)  # (B, h, T, Dh)
        k, v = keys_values if keys_values is not None else self.keys_values(memory, x.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
        return out.transpose(1, 2).reshape(B, T, D)


class GatedCrossAttentionBlock(nn.Module):
    """Tokens read the NAR's nodes and edges; tanh gates closed at initialisation."""

    def __init__(self, config: TransNARConfig):
        super().__init__()
        lm = config.lm
        self.norm = RMSNorm(lm.d_model, lm.norm_eps)
        self.nodes = CrossAttention(lm.d_model, config.nar_node_dim, config.heads)
        self.edges = CrossAttention(lm.d_model, config.nar_edge_dim, config.heads)
        self.combine = nn.Linear(2 * lm.d_model, lm.d_model, bias=False)
        self.attention_gate = nn.Parameter(torch.zeros(1))
        self.mlp_norm = RMSNorm(lm.d_model, lm.norm_eps)
        self.mlp = MLP(lm)
        self.mlp_gate = nn.Parameter(torch.zeros(1))

    def forward(
        self,
        x: torch.Tensor,
        nodes: torch.Tensor,
        node_mask: torch.Tensor,
        edges: torch.Tensor,
        edge_mask: torch.Tensor,
        cache: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """``x`` ``(B, T, D)``; ``nodes`` ``(B, N, Hn)``, ``edges`` ``(B, N * N, He)``;
        ``cache`` keeps the memory's keys and values from one call to the next
        (decoding, where the memory does not change)."""
        h = self.norm(x)
        if cache is not None and not cache:
            cache["nodes"] = self.nodes.keys_values(nodes, h.dtype)
            cache["edges"] = self.edges.keys_values(edges, h.dtype)
        cache = cache or {}
        read = torch.cat(
            [
                self.nodes(h, nodes, node_mask, cache.get("nodes")),
                self.edges(h, edges, edge_mask, cache.get("edges")),
            ],
            dim=-1,
        )
        x = x + torch.tanh(self.attention_gate) * self.combine(read)
        return x + torch.tanh(self.mlp_gate) * self.mlp(self.mlp_norm(x))


class StepReader(nn.Module):
    """What the blocks read of a memory kept step by step (``all`` and ``pooled`` modes).

    Each step ``s`` gets an encoding (sinusoids of ``s`` through a learned
    linear map, zero at initialisation) added to its node and edge states.
    ``all`` flattens the steps into the memory slots, masking a sample's steps
    after its last; ``pooled`` replaces each node's (edge's) states by their
    attention-weighted mean over its steps, with a learned query (zero at
    initialisation: the plain mean over the steps it ran).
    """

    def __init__(self, config: TransNARConfig):
        super().__init__()
        if config.memory not in STEP_MODES_READ:
            raise ValueError(f"a StepReader reads {STEP_MODES_READ} memories, not {config.memory}")
        self.mode = config.memory
        self.node_steps = nn.Linear(2 * STEP_FREQUENCIES, config.nar_node_dim)
        self.edge_steps = nn.Linear(2 * STEP_FREQUENCIES, config.nar_edge_dim)
        for layer in (self.node_steps, self.edge_steps):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        if self.mode == "pooled":
            self.node_query = nn.Parameter(torch.zeros(config.nar_node_dim))
            self.edge_query = nn.Parameter(torch.zeros(config.nar_edge_dim))

    def forward(
        self, memory: GraphMemory
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(nodes (B, M_n, Hn), node_mask (B, M_n), edges (B, M_e, He),
        edge_mask (B, M_e))``: ``M_n = S N`` and ``M_e = S N^2`` in ``all`` mode,
        ``N`` and ``N^2`` in ``pooled`` mode."""
        B, S = memory.nodes.shape[:2]
        steps = torch.arange(S, device=memory.nodes.device)
        ran = steps[None, :] < memory.steps.to(steps.device)[:, None]  # (B, S)
        encoding = step_encoding(steps).to(memory.nodes.dtype)  # (S, 2F)
        nodes = memory.nodes + self.node_steps(encoding)[None, :, None, :]  # (B, S, N, Hn)
        edges = memory.edges + self.edge_steps(encoding)[None, :, None, :]  # (B, S, N², He)
        if self.mode == "pooled":
            nodes = _pool_steps(nodes, ran, self.node_query)  # (B, N, Hn)
            edges = _pool_steps(edges, ran, self.edge_query)  # (B, N², He)
            return nodes, memory.node_mask, edges, memory.edge_mask
        node_mask = (ran[:, :, None] & memory.node_mask[:, None, :]).reshape(B, -1)  # (B, S N)
        edge_mask = (ran[:, :, None] & memory.edge_mask[:, None, :]).reshape(B, -1)  # (B, S N²)
        return nodes.flatten(1, 2), node_mask, edges.flatten(1, 2), edge_mask


def step_encoding(steps: torch.Tensor) -> torch.Tensor:
    """Sinusoids of the steps ``(S,)``: ``(S, 2F)`` (:data:`STEP_FREQUENCIES` ``F``)."""
    exponents = torch.arange(STEP_FREQUENCIES, device=steps.device) / STEP_FREQUENCIES
    frequencies = 1.0 / 100.0**exponents  # periods from 2 pi to 2 pi 100**(7/8) steps
    angles = steps.float()[:, None] * frequencies  # (S, F)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def _pool_steps(states: torch.Tensor, ran: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """``states`` ``(B, S, M, H)`` pooled over the steps each sample ``ran``
    (``(B, S)``) with attention weights ``softmax_s(states . query / sqrt(H))``."""
    scores = states @ query.to(states.dtype) / states.shape[-1] ** 0.5  # (B, S, M)
    scores = scores.masked_fill(~ran[:, :, None], float("-inf"))
    weights = scores.softmax(dim=1)  # (B, S, M)
    return (weights[..., None] * states).sum(dim=1)  # (B, M, H)


__all__ = ["CrossAttention", "GatedCrossAttentionBlock", "StepReader", "step_encoding"]
