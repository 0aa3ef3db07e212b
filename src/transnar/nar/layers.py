"""Layer constructors with the reference's initialisation (Haiku's defaults), the
masked max and linear-of-maximum operations the processor and decoders share, and
:func:`parameter_dtype`."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

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


def parameter_dtype(module: nn.Module) -> torch.dtype:
    """The dtype of a module's parameters (its first one's)."""
    return next(module.parameters()).dtype


def edge_mask(node_mask: torch.Tensor) -> torch.Tensor:
    """``(..., N, N)`` True where both ends are real nodes, from a ``(..., N)`` node mask."""
    return node_mask[..., :, None] & node_mask[..., None, :]


# A note on speed: on CPU, element-wise operations that produce or read bool
# tensors (comparisons, where, masked_fill) run several times slower than
# float arithmetic. On the large (B, N, N, H) tensors the operations below
# therefore use float formulations, with the same results.


def masked_max(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Max over ``dim`` of the entries where ``mask`` (broadcast to ``x``) is True.

    Masked entries count as ``-BIG_NUMBER``, as in the reference's max
    aggregation. Gradients are autograd's for ``amax``: ties share equally.
    """
    # On CPU, where memory traffic dominates and the check costs no device
    # synchronisation, a mask that keeps everything (a batch without padding)
    # skips the fill, a pass over x in each direction.
    if mask.device.type == "cpu" and bool(mask.all()):
        return _Max.apply(x, dim)
    # x * 1 + 0 = x and x * 0 - BIG = -BIG (x finite): torch.where(mask, x, -BIG).
    keep = mask.to(x.dtype)
    filled = torch.addcmul((keep - 1.0) * BIG_NUMBER, x, keep)
    return _Max.apply(filled, dim)


class _Max(torch.autograd.Function):
    """``x.amax(dim)``, with a float-only backward pass."""

    @staticmethod
    def forward(ctx, x, dim):
        maximum = x.amax(dim, keepdim=True)
        ctx.save_for_backward(x, maximum)
        ctx.dim = dim
        return maximum.squeeze(dim)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, maximum = ctx.saved_tensors
        # 1.0 at the maxima, 0.0 elsewhere: a comparison written straight into a
        # float tensor, one pass (a bool result, then a cast, takes three times longer).
        at_max = torch.eq(x, maximum, out=torch.empty_like(x))
        share = grad.unsqueeze(ctx.dim) / at_max.sum(ctx.dim, keepdim=True)
        return at_max.mul_(share), None


# Below this many features, matmuls on CPU leave the fast kernels (see narrow_linear).
_NARROW = 16


def narrow_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` for a layer with few inputs (``K < 16``) applied
    to many rows: the factored edge features (``K`` raw numbers per edge) and the
    triplet output layer (8 triplet features).

    The backward pass of ``F.linear`` computes ``grad_out.T @ x`` and
    ``grad_out @ weight``; with ``K < 16`` columns on CPU both run several times
    slower than ``(x.T @ grad_out).T`` and a product with the weight padded to 16
    columns, which this computes instead (the same numbers).

    Args:
        x: ``(..., K)``.
        weight: ``(M, K)``.
        bias: ``(M,)``.
    """
    return _NarrowLinear.apply(x, weight, bias)


class _NarrowLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return F.linear(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        k = weight.shape[1]
        flat_grad = grad.reshape(-1, grad.shape[-1])  # (R, M)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            padded = F.pad(weight, (0, max(0, _NARROW - k)))  # (M, max(K, 16))
            grad_x = (flat_grad @ padded)[:, :k].reshape(x.shape)
        if ctx.needs_input_grad[1]:
            grad_weight = (x.reshape(len(flat_grad), k).T @ flat_grad).T
        if ctx.needs_input_grad[2]:
            grad_bias = flat_grad.sum(0)
        return grad_x, grad_weight, grad_bias


# Elements per chunk of the broadcast maximum in linear_of_maximum (4 MiB in
# float32: cache-sized, and small whatever the batch).
_CHUNK_ELEMENTS = 1 << 20


def linear_of_maximum(a: torch.Tensor, b: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """``layer(torch.maximum(a, b))`` without keeping the broadcast maximum.

    The pointer decoders take such a maximum, up to ``(B, N, N, N, H)`` for an
    edge pointer (16.7M elements at ``B = 32, N = 16, H = 128``), only to
    reduce it with a narrow layer. Here it is computed in chunks along the
    leading (batch) axis, in the forward pass and again in the backward pass,
    and never stored. Gradients are autograd's for ``torch.maximum``: on ties
    each side gets half.

    Args:
        a, b: tensors of the same number of axes, broadcastable against each
            other; their leading axis is the batch (or 1).
        layer: the linear layer applied to the maximum.
    """
    return _LinearOfMaximum.apply(a, b, layer.weight, layer.bias)


class _LinearOfMaximum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, weight, bias):
        ctx.save_for_backward(a, b, weight)
        return torch.cat(
            [F.linear(torch.maximum(ac, bc), weight, bias) for ac, bc, _ in _chunks(a, b)]
        )

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        a, b, weight = ctx.saved_tensors
        grad_a, grad_b = torch.zeros_like(a), torch.zeros_like(b)
        grad_weight = torch.zeros_like(weight)
        for ac, bc, rows in _chunks(a, b):
            g = grad[rows]
            maximum = torch.maximum(ac, bc)
            grad_weight += g.reshape(-1, g.shape[-1]).T @ maximum.reshape(-1, maximum.shape[-1])
            # A one-wide layer (the decoders' logits): an outer product, which a
            # broadcast product computes much faster than a K = 1 matmul.
            grad_max = g * weight[0] if weight.shape[0] == 1 else g @ weight
            # sign(a - b) + 1 is 2 where a > b, 1 on ties, 0 where a < b, so half
            # of it is a's share of the gradient (exactly: it is 1, 0.5 or 0).
            to_a = torch.sign(ac - bc).add_(1.0).mul_(grad_max).mul_(0.5)
            _accumulate(grad_a, rows, to_a.sum_to_size(ac.shape))
            _accumulate(grad_b, rows, grad_max.sub_(to_a).sum_to_size(bc.shape))
        grad_bias = grad.reshape(-1, grad.shape[-1]).sum(0)
        return grad_a, grad_b, grad_weight, grad_bias


def _chunks(a: torch.Tensor, b: torch.Tensor):
    """``(a rows, b rows, rows)`` over the leading axis, cache-sized chunks of the
    broadcast shape (an axis of size 1 is broadcast, not sliced)."""
    shape = torch.broadcast_shapes(a.shape, b.shape)
    per_row = max(1, math.prod(shape[1:]))
    step = max(1, _CHUNK_ELEMENTS // per_row)
    for start in range(0, shape[0], step):
        rows = slice(start, start + step)
        yield _rows(a, rows), _rows(b, rows), rows


def _rows(x: torch.Tensor, rows: slice) -> torch.Tensor:
    return x if x.shape[0] == 1 else x[rows]


def _accumulate(total: torch.Tensor, rows: slice, value: torch.Tensor) -> None:
    if total.shape[0] == 1:
        total += value.sum_to_size(total.shape)
    else:
        total[rows] += value
