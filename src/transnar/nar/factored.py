"""Edge features in factored form, and linear layers applied to them cheaply.

Shapes: ``B`` batch, ``N`` nodes, ``H`` hidden width, ``K`` raw edge numbers.

Every encoder is affine, so the encoded edge features are affine in a few raw
numbers per edge (node pointers one-hot or soft, edge scalars and masks,
categorical classes, the two averages of an edge pointer; see
:meth:`~transnar.nar.encoders.ProbeEncoder.raw`)::

    edge_fts = raw @ weight.T + bias          raw (B, N, N, K), weight (H, K), K ~ 1-6

and a linear layer ``W x + c`` applied to them (the processor's message and
triplet layers, the decoders' edge layers) is::

    W edge_fts + c = raw @ (W weight).T + (W bias + c)

``K`` multiply-adds per output instead of ``H``, and ``edge_fts`` itself is
never built. The decoders read ``e_t = [edge_fts ‖ latents]``: the latents are
kept as they are (:attr:`FactoredEdges.extra`) and only the edge half is
composed. The maths is exact; only the order of floating-point operations changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from transnar.nar.layers import narrow_linear


@dataclass(frozen=True)
class FactoredEdges:
    """Edge features ``[raw @ weight.T + bias ‖ extra]``, kept factored.

    Attributes:
        raw: ``(B, N, N, K)`` raw per-edge numbers.
        weight: ``(H, K)`` the encoders' weights, side by side.
        bias: ``(H,)`` the sum of the encoders' biases.
        extra: ``(B, N, N, E')`` further features after the ``H`` encoded ones
            (the triplet edge latents), or ``None``.
    """

    raw: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor
    extra: torch.Tensor | None = None

    def __add__(self, other: FactoredEdges) -> FactoredEdges:
        """The sum of two encodings (raw numbers side by side); no extra features."""
        if self.extra is not None or other.extra is not None:
            raise ValueError("only encoded edge features (no extra features) can be added")
        return FactoredEdges(
            torch.cat([self.raw, other.raw], dim=-1),
            torch.cat([self.weight, other.weight], dim=-1),
            self.bias + other.bias,
        )

    def with_extra(self, extra: torch.Tensor) -> FactoredEdges:
        """These features with ``extra`` appended (``[edge_fts ‖ extra]``)."""
        return replace(self, extra=extra)

    def rows(self, index: torch.Tensor) -> FactoredEdges:
        """The features of the samples ``index`` (``(R,)`` long) only."""
        extra = None if self.extra is None else self.extra[index]
        return replace(self, raw=self.raw[index], extra=extra)

    def dense(self) -> torch.Tensor:
        """The features as one ``(B, N, N, H + E')`` tensor."""
        encoded = F.linear(self.raw, self.weight, self.bias)
        return encoded if self.extra is None else torch.cat([encoded, self.extra], dim=-1)

    def linear(self, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``F.linear(self.dense(), weight, bias)``, computed in factored form."""
        h = self.weight.shape[0]
        encoded_part = weight[:, :h]
        out = narrow_linear(
            self.raw, encoded_part @ self.weight, torch.addmv(bias, encoded_part, self.bias)
        )
        if self.extra is None:
            return out
        # out + extra @ weight[:, h:].T, accumulated into one matmul's output.
        flat = torch.addmm(
            out.reshape(-1, out.shape[-1]),
            self.extra.reshape(-1, self.extra.shape[-1]),
            weight[:, h:].T,
        )
        return flat.view(out.shape)


def apply_linears(
    x: torch.Tensor | FactoredEdges, layers: Sequence[nn.Linear]
) -> list[torch.Tensor]:
    """``[layer(x) for layer in layers]``, as one matmul with the weights stacked.

    ``x`` is a tensor or :class:`FactoredEdges`; the results are views of one
    output, split along its last axis.
    """
    weight = torch.cat([layer.weight for layer in layers]) if len(layers) > 1 else layers[0].weight
    bias = torch.cat([layer.bias for layer in layers]) if len(layers) > 1 else layers[0].bias
    out = x.linear(weight, bias) if isinstance(x, FactoredEdges) else F.linear(x, weight, bias)
    if len(layers) == 1:
        return [out]
    return list(out.split([layer.out_features for layer in layers], dim=-1))
