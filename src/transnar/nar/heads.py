"""One algorithm's part of the NAR: its encoders, decoders and termination head.

An :class:`AlgorithmHead` is built from the algorithm's preprocessed spec: one
:class:`~transnar.nar.encoders.ProbeEncoder` per encoded probe (inputs, and
hints when they are encoded), one :class:`~transnar.nar.decoders.ProbeDecoder`
per decoded probe (outputs, and hints when they are decoded) and, optionally,
a termination head. :meth:`AlgorithmHead.encode_factored` sums the encodings
per location (:class:`Encoded`, the edge features kept factored). The
:class:`~transnar.nar.model.NAR` holds one head per algorithm and shares its
processor between them.

Shapes: ``B`` batch, ``N`` nodes, ``H`` hidden width, ``E`` edge latent width.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from transnar.clrs.specs import AlgorithmSpec, Location, Stage, Type
from transnar.nar.config import NARConfig
from transnar.nar.decoders import ProbeDecoder, log_sinkhorn
from transnar.nar.encoders import ProbeEncoder, accumulate_adjacency, dense, scalar_hint_std
from transnar.nar.factored import FactoredEdges
from transnar.nar.layers import linear, masked_max, parameter_dtype


@dataclass
class Encoded:
    """Encoded probes summed per location; the edge features kept factored.

    Attributes:
        node: ``(B, N, H)`` node features.
        edge: ``(B, N, N, H)`` edge features, as :class:`FactoredEdges`.
        graph: ``(B, H)`` graph features.
        adjacency: ``(B, N, N)`` bool (self-loops included), see
            :func:`~transnar.nar.encoders.accumulate_adjacency`.
    """

    node: torch.Tensor
    edge: FactoredEdges
    graph: torch.Tensor
    adjacency: torch.Tensor

    def __add__(self, other: Encoded) -> Encoded:
        """The encoding of both sets of probes."""
        return Encoded(
            self.node + other.node,
            self.edge + other.edge,
            self.graph + other.graph,
            self.adjacency | other.adjacency,
        )


class AlgorithmHead(nn.Module):
    """Encoders and decoders of one algorithm, built from its (preprocessed) spec."""

    def __init__(self, spec: AlgorithmSpec, config: NARConfig, edge_dim: int):
        super().__init__()
        self.spec = spec
        self.config = config
        std = scalar_hint_std(config.encoder_init, config.hidden_dim)
        encoded = [n for n, p in spec.items() if p.stage is Stage.INPUT]
        encoded += list(spec.hints) if config.encode_hints else []
        decoded = list(spec.outputs) + (list(spec.hints) if config.decode_hints else [])
        self.encoders = nn.ModuleDict(
            {name: ProbeEncoder(spec[name], config.hidden_dim, std) for name in encoded}
        )
        self.decoders = nn.ModuleDict(
            {name: ProbeDecoder(spec[name], config.hidden_dim, edge_dim) for name in decoded}
        )
        h = config.hidden_dim
        self.termination = (
            nn.Sequential(linear(4 * h, h), nn.ReLU(), linear(h, 1)) if config.termination else None
        )

    def terminate(
        self, h_t: torch.Tensor, graph_fts: torch.Tensor, node_mask: torch.Tensor
    ) -> torch.Tensor:
        """``(B,)`` logits of "this step is the last", from the step's node states
        ``h_t`` ``(B, N, 3H)`` (max over real nodes) and graph features ``(B, H)``."""
        pooled = masked_max(h_t, node_mask[:, :, None], dim=1)  # (B, 3H)
        return self.termination(torch.cat([pooled, graph_fts], dim=-1)).squeeze(-1)

    def encode(
        self, probes: dict[str, torch.Tensor], node_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sums the encodings of the given probes per location.

        Returns:
            ``node_fts (B, N, H)``, ``edge_fts (B, N, N, H)``, ``graph_fts (B, H)``
            and ``adjacency (B, N, N)`` (bool, self-loops included).
        """
        encoded = self.encode_factored(probes, node_mask)
        return encoded.node, encoded.edge.dense(), encoded.graph, encoded.adjacency

    def encode_factored(self, probes: dict[str, torch.Tensor], node_mask: torch.Tensor) -> Encoded:
        """:meth:`encode` with the edge features factored (:class:`FactoredEdges`).

        Encodes the probes given (each must have an encoder), so that the
        inputs, the same at every step, can be encoded once and added to each
        step's hints.
        """
        b, n = node_mask.shape
        h = self.config.hidden_dim
        device = node_mask.device
        dtype = parameter_dtype(self)
        unknown = set(probes) - set(self.encoders)
        if unknown:
            raise KeyError(f"no encoder for {sorted(unknown)}")
        features = {
            Location.NODE: torch.zeros(b, n, h, device=device, dtype=dtype),
            Location.GRAPH: torch.zeros(b, h, device=device, dtype=dtype),
        }
        raw, weights = [torch.zeros(b, n, n, 0, device=device, dtype=dtype)], []
        edge_bias = torch.zeros(h, device=device, dtype=dtype)
        adjacency = torch.eye(n, dtype=torch.bool, device=device).expand(b, n, n)
        for name, encoder in self.encoders.items():
            if name not in probes:
                continue
            value = dense(self.spec[name], probes[name], n, dtype)
            adjacency = accumulate_adjacency(self.spec[name], value, adjacency)
            if encoder.target is Location.EDGE:
                raw.append(encoder.raw(value, node_mask))
                weights.append(encoder.weight)
                edge_bias = edge_bias + encoder.bias
            else:
                features[encoder.target] = features[encoder.target] + encoder.features(
                    value, node_mask
                )
        weight = torch.cat(weights, dim=1) if weights else raw[0].new_zeros(h, 0)
        edges = FactoredEdges(torch.cat(raw, dim=-1), weight, edge_bias)
        return Encoded(features[Location.NODE], edges, features[Location.GRAPH], adjacency)

    def decode(
        self,
        h_t: torch.Tensor,
        e_t: torch.Tensor | FactoredEdges,
        graph_fts: torch.Tensor,
        node_mask: torch.Tensor,
        training: bool,
        names: Iterable[str] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Raw predictions of the decoded probes ``names`` (default: all), permutations
        through log-Sinkhorn, with Gumbel noise in training."""
        predictions = {}
        for name in self.decoders if names is None else names:
            decoder = self.decoders[name]
            prediction = decoder(h_t, e_t, graph_fts, node_mask)
            if self.spec[name].type is Type.PERMUTATION_POINTER:
                prediction = log_sinkhorn(
                    prediction,
                    node_mask,
                    self.config.sinkhorn_steps,
                    self.config.sinkhorn_temperature,
                    noise=training,
                )
            predictions[name] = prediction
        return predictions


__all__ = ["AlgorithmHead", "Encoded"]
