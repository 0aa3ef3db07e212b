"""What the TransNAR reads from a frozen NAR: node and edge embeddings, step by step.

Shapes: ``B`` batch, ``S = max(1, T - 1)`` processor steps of the longest
trajectory, ``N`` nodes, ``H`` hidden width, ``E`` edge latent width (``H``:
the triplet edge latents, or the encoded edge features for processors
without triplets).

Example:
    >>> from transnar import clrs
    >>> from transnar.training.nar_checkpoint import load_nar
    >>> nar = load_nar("runs/nar-small", freeze=True)  # doctest: +SKIP
    >>> out = embed(nar, clrs.sample("bfs", size=8, seed=0, count=4))  # doctest: +SKIP
    >>> out.final_nodes.shape  # doctest: +SKIP
    torch.Size([4, 8, 64])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from transnar.clrs import Trajectory
from transnar.nar.features import Features
from transnar.nar.layers import edge_mask
from transnar.nar.model import NAR


@dataclass
class Embeddings:
    """A NAR's embeddings of a batch (evaluation mode: it feeds back its own hints).

    Attributes:
        nodes: ``(B, S, N, H)`` node states after each processor step; after a
            sample's own last step they stay as they were.
        edges: ``(B, S, N, N, E)`` edge latents after each step, likewise.
        node_mask: ``(B, N)`` bool, True on real (not padding) nodes.
        edge_mask: ``(B, N, N)`` bool, True where both ends are real.
        lengths: ``(B,)`` int64 trajectory lengths (hint steps ``T``).
        steps: ``(B,)`` int64 processor steps each sample takes (its last
            step + 1: ``max(1, length - 1)`` with oracle stepping).
        final_nodes: ``(B, N, H)`` each sample's node states after its own
            last step.
        final_edges: ``(B, N, N, E)`` likewise for the edges.
    """

    nodes: torch.Tensor
    edges: torch.Tensor
    node_mask: torch.Tensor
    edge_mask: torch.Tensor
    lengths: torch.Tensor
    steps: torch.Tensor
    final_nodes: torch.Tensor
    final_edges: torch.Tensor


def embed(nar: NAR, batch: Sequence[Trajectory] | Features, steps: str = "oracle") -> Embeddings:
    """Runs ``nar`` in evaluation mode, without gradients, and returns its embeddings.

    Args:
        nar: a (trained, typically frozen) NAR; its mode and weights are left
            as they were.
        batch: trajectories of one algorithm the NAR knows (raw: they are
            preprocessed here, with the plain ``pos``), or ready
            :class:`~transnar.nar.features.Features`.
        steps: how the NAR steps (:mod:`transnar.nar.stepping`).

    Returns:
        :class:`Embeddings` on the NAR's device.
    """
    features = batch if isinstance(batch, Features) else Features.from_trajectories(list(batch))
    device = next(nar.parameters()).device
    features = features.to(device)
    was_training = nar.training
    nar.eval()
    try:
        with torch.no_grad():
            output = nar.embed(features, steps=steps)
    finally:
        nar.train(was_training)
    nodes, edges = output.node_embeddings, output.edge_embeddings
    steps = output.last_steps + 1
    batch_index = torch.arange(nodes.shape[0], device=device)
    return Embeddings(
        nodes=nodes,
        edges=edges,
        node_mask=features.node_mask,
        edge_mask=edge_mask(features.node_mask),
        lengths=features.lengths,
        steps=steps,
        final_nodes=nodes[batch_index, steps - 1],
        final_edges=edges[batch_index, steps - 1],
    )
