"""What the TransNAR reads from a frozen NAR: :class:`GraphMemory`.

A run of the NAR (:meth:`~transnar.nar.NAR.embed`) gives a
:class:`~transnar.nar.model.NAROutput`: its predictions and, when asked, its
node and edge embeddings step by step. :meth:`GraphMemory.from_output` is the
one conversion from that output to the memory the cross-attention reads:

=====================================  ======================================
``NAROutput`` (+ the batch's features)   ``GraphMemory``
=====================================  ======================================
``node_embeddings`` ``(B, S, N, H)``    ``nodes`` ``(B, S, N, H)``
``edge_embeddings`` ``(B, S, N, N, E)`` ``edges`` ``(B, S, N * N, E)``
``features.node_mask`` ``(B, N)``       ``node_mask`` ``(B, N)``
(both ends real)                        ``edge_mask`` ``(B, N * N)``
``last_steps`` ``(B,)``                 ``steps`` ``(B,)`` = ``last_steps + 1``
=====================================  ======================================

Shapes: ``B`` batch, ``S`` NAR steps kept (the longest sample's, or 1 with
``final_only``), ``N`` nodes, ``H`` hidden width, ``E`` edge latent width (``H``
for the triplet processors; the encoded edge features otherwise).

Example:
    >>> from transnar import clrs
    >>> from transnar.training.nar_checkpoint import load_nar
    >>> from transnar.nar.features import Features
    >>> nar = load_nar("runs/nar-small", freeze=True)  # doctest: +SKIP
    >>> features = Features.from_trajectories(clrs.sample("bfs", size=8, seed=0, count=4))
    >>> memory = GraphMemory.from_output(nar.embed(features), features.node_mask)  # doctest: +SKIP
    >>> memory.nodes.shape, memory.edges.shape  # doctest: +SKIP
    (torch.Size([4, 7, 8, 64]), torch.Size([4, 7, 64, 64]))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from transnar.nar.layers import edge_mask
from transnar.nar.model import NAROutput


@dataclass
class GraphMemory:
    """The NAR embeddings the cross-attention reads, for one batch.

    Attributes:
        nodes: ``(B, S, N, H)`` node embeddings after each NAR step (frozen
            after each sample's last step, so ``nodes[:, -1]`` is each
            sample's last state); with ``final_only`` only that, ``S = 1``.
        edges: ``(B, S, N * N, E)`` edge embeddings, edges flattened.
        node_mask: ``(B, N)`` real nodes.
        edge_mask: ``(B, N * N)`` real edges (both ends real).
        steps: ``(B,)`` NAR steps each sample ran (its last step + 1).
    """

    nodes: torch.Tensor
    edges: torch.Tensor
    node_mask: torch.Tensor
    edge_mask: torch.Tensor
    steps: torch.Tensor

    @classmethod
    def from_output(cls, output: NAROutput, node_mask: torch.Tensor) -> GraphMemory:
        """The memory of a NAR run with embeddings (see the module's table).

        Args:
            output: :meth:`~transnar.nar.NAR.embed`'s output (or a forward's
                with ``embeddings=True``).
            node_mask: ``(B, N)`` the batch's real nodes (``features.node_mask``).
        """
        if output.node_embeddings is None or output.edge_embeddings is None:
            raise ValueError("the NAR output has no embeddings (run NAR.embed)")
        b, s, n, _ = output.node_embeddings.shape
        return cls(
            nodes=output.node_embeddings,
            edges=output.edge_embeddings.reshape(b, s, n * n, -1),
            node_mask=node_mask,
            edge_mask=edge_mask(node_mask).reshape(b, n * n),
            steps=output.last_steps + 1,
        )

    def at_layer(self, layer: int, num_layers: int, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Node ``(B, N, H)`` and edge ``(B, N * N, E)`` memories for LM layer
        ``layer`` (0-based) of ``num_layers``: each sample's last state in
        ``final`` mode; in ``lockstep`` mode layer ``l = layer + 1`` reads step
        ``round(l * steps / num_layers)`` (1-based) of its sample."""
        if mode == "final":
            return self.nodes[:, -1], self.edges[:, -1]
        step = torch.round((layer + 1) * self.steps.double() / num_layers).long()
        index = (step.clamp(min=1, max=self.nodes.shape[1]) - 1)[:, None, None, None]
        nodes = self.nodes.gather(1, index.expand(-1, 1, *self.nodes.shape[2:])).squeeze(1)
        edges = self.edges.gather(1, index.expand(-1, 1, *self.edges.shape[2:])).squeeze(1)
        return nodes, edges

    def last_step_everywhere(self) -> GraphMemory:
        """This memory with every step's states replaced by the sample's last
        step's (the shapes, masks and steps kept): what the intermediate states
        add, taken away (``memory_source="last-step"``)."""
        return dataclasses.replace(
            self,
            nodes=self.nodes[:, -1:].expand_as(self.nodes).contiguous(),  # (B, S, N, H)
            edges=self.edges[:, -1:].expand_as(self.edges).contiguous(),  # (B, S, N*N, E)
        )

    def to(self, device: torch.device | str) -> GraphMemory:
        """This memory on ``device``."""
        return GraphMemory(*(getattr(self, f.name).to(device) for f in dataclasses.fields(self)))

    def rows(self, index: torch.Tensor) -> GraphMemory:
        """The memory of the samples ``index`` (``(R,)`` int64)."""
        fields = dataclasses.fields(self)
        return GraphMemory(*(getattr(self, f.name).index_select(0, index) for f in fields))


__all__ = ["GraphMemory"]
