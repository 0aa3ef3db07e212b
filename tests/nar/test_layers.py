"""The fused layers of the NAR's hot path equal their plain PyTorch definitions,
values and gradients (float64, so differences are rounding only)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.nn import functional as F

from transnar.nar.factored import FactoredEdges, apply_linears
from transnar.nar.layers import BIG_NUMBER, linear, linear_of_maximum, masked_max, narrow_linear


def _grads(function, *tensors):
    """``function(*tensors)`` and the gradients of a fixed random projection of it."""
    tensors = [t.detach().clone().requires_grad_(True) for t in tensors]
    out = function(*tensors)
    projection = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(1))
    (out * projection).sum().backward()
    return out.detach(), [t.grad for t in tensors]


def _assert_same(fused, plain, *tensors):
    out, grads = _grads(fused, *tensors)
    expected, expected_grads = _grads(plain, *tensors)
    torch.testing.assert_close(out, expected)
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        if expected_grad is None:  # an argument the function does not use
            assert grad is None
        else:
            torch.testing.assert_close(grad, expected_grad)


@pytest.mark.parametrize("keep", [0.0, 0.6, 1.0], ids=["none-kept", "some-kept", "all-kept"])
def test_masked_max_is_the_max_of_the_kept_entries(keep):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 4, 6, dtype=torch.float64, generator=generator)
    mask = torch.rand(3, 5, 4, 1, generator=generator) < keep
    assert mask.all() == (keep == 1.0)

    def plain(x):
        return torch.where(mask, x, torch.full_like(x, -BIG_NUMBER)).amax(1)

    _assert_same(lambda x: masked_max(x, mask, dim=1), plain, x)


def test_masked_max_shares_the_gradient_between_ties():
    x = torch.tensor([[1.0, 3.0, 3.0, 2.0]], dtype=torch.float64, requires_grad=True)
    masked_max(x, torch.ones(1, 4, dtype=torch.bool), dim=1).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5, 0.0]]


@pytest.mark.parametrize("out_features", [1, 5])
def test_linear_of_maximum_is_the_layer_of_the_broadcast_maximum(out_features):
    generator = torch.Generator().manual_seed(0)
    layer = linear(6, out_features).double()
    a = torch.randn(4, 1, 7, 6, dtype=torch.float64, generator=generator)
    b = torch.randn(4, 7, 7, 6, dtype=torch.float64, generator=generator)

    def fused(a, b, weight, bias):  # linear_of_maximum reads the layer's weight and bias
        return linear_of_maximum(a, b, SimpleNamespace(weight=weight, bias=bias))

    def plain(a, b, weight, bias):
        return F.linear(torch.maximum(a, b), weight, bias)

    _assert_same(fused, plain, a, b, layer.weight, layer.bias)


@pytest.mark.parametrize("in_features", [0, 1, 3, 8, 20])
def test_narrow_linear_is_a_linear_layer(in_features):
    generator = torch.Generator().manual_seed(in_features)
    x = torch.randn(2, 5, 5, in_features, dtype=torch.float64, generator=generator)
    weight = torch.randn(7, in_features, dtype=torch.float64, generator=generator)
    bias = torch.randn(7, dtype=torch.float64, generator=generator)
    _assert_same(narrow_linear, F.linear, x, weight, bias)


@pytest.mark.parametrize("with_extra", [False, True])
def test_factored_edges_compute_the_dense_linear_layers(with_extra):
    generator = torch.Generator().manual_seed(0)
    b, n, k, h, e = 3, 4, 2, 6, 5
    raw = torch.randn(b, n, n, k, dtype=torch.float64, generator=generator)
    weight = torch.randn(h, k, dtype=torch.float64, generator=generator)
    bias = torch.randn(h, dtype=torch.float64, generator=generator)
    extra = torch.randn(b, n, n, e, dtype=torch.float64, generator=generator)
    layers = [linear(h + (e if with_extra else 0), width).double() for width in (3, 4)]

    def factored(raw, weight, bias, extra):
        edges = FactoredEdges(raw, weight, bias)
        return torch.cat(
            apply_linears(edges.with_extra(extra) if with_extra else edges, layers), -1
        )

    def dense(raw, weight, bias, extra):
        edges = F.linear(raw, weight, bias)
        edges = torch.cat([edges, extra], -1) if with_extra else edges
        return torch.cat([layer(edges) for layer in layers], -1)

    _assert_same(factored, dense, raw, weight, bias, extra)
    edges = FactoredEdges(raw, weight, bias).with_extra(extra)
    rows = torch.tensor([2, 0])
    torch.testing.assert_close(edges.rows(rows).dense(), edges.dense()[rows])
