"""Decoders of every (location, type), their masking of padding choices, the
Sinkhorn operator and postprocessing (CLRS ``decoders.py``)."""

from __future__ import annotations

import itertools

import pytest
import torch

from tests import tiny
from tests.nar.helpers import node_mask, probe, synthetic_spec
from transnar.nar.decoders import ProbeDecoder, log_sinkhorn, postprocess
from transnar.nar.heads import AlgorithmHead
from transnar.nar.layers import NEG_INF

B, N, C = 2, 4, 3
E = 2 * tiny.NAR_HIDDEN  # edge decoder input width with triplets


def _lin(layer, x):
    return x @ layer.weight.T + layer.bias


def _decoder_inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    h_t = torch.randn(B, N, 3 * tiny.NAR_HIDDEN, generator=g, dtype=torch.float64)
    e_t = torch.randn(B, N, N, E, generator=g, dtype=torch.float64)
    graph_fts = torch.randn(B, tiny.NAR_HIDDEN, generator=g, dtype=torch.float64)
    return h_t, e_t, graph_fts


def _decoder(location, type_, seed=0):
    torch.manual_seed(seed)
    p = probe("output", location, type_, C if type_ == "categorical" else None)
    return ProbeDecoder(p, tiny.NAR_HIDDEN, E).double()


MASK = node_mask([N, 3])  # the second sample has one padding node


def _expected(decoder, location, type_, h_t, e_t, graph_fts, mask):
    """The reference formulas, written out; padding choices at NEG_INF."""
    layers = decoder.layers
    if location == "node":
        if type_ in ("pointer", "permutation_pointer"):
            l1, l2, l3, l4 = layers
            # logit[a, c] = L4(max(L1 h_a, L2 h_c + L3 e_ca))
            p1 = _lin(l1, h_t)[:, :, None, :]  # a
            p2 = _lin(l2, h_t)[:, None, :, :]  # c
            p3 = _lin(l3, e_t).transpose(1, 2)  # [a, c] = L3 e_ca
            logits = _lin(l4, torch.maximum(p1, p2 + p3)).squeeze(-1)
            return torch.where(mask[:, None, :], logits, NEG_INF)
        out = _lin(layers[0], h_t)
        if type_ == "categorical":
            return out
        out = out.squeeze(-1)
        return torch.where(mask, out, NEG_INF) if type_ == "mask_one" else out
    if location == "edge":
        l1, l2, l3 = layers[:3]
        pred = _lin(l1, h_t)[:, :, None] + _lin(l2, h_t)[:, None, :] + _lin(l3, e_t)
        if type_ == "categorical":
            return pred
        if type_ == "pointer":
            l4, l5 = layers[3:]
            # [i, j, k] = L5(max(L1 h_i + L2 h_j + L3 e_ij, L4 h_k))
            both = torch.maximum(pred[:, :, :, None], _lin(l4, h_t)[:, None, None])
            return torch.where(mask[:, None, None, :], _lin(l5, both).squeeze(-1), NEG_INF)
        pred = pred.squeeze(-1)
        if type_ == "mask_one":
            return torch.where(mask[:, :, None] & mask[:, None, :], pred, NEG_INF)
        return pred
    # Graph: max over the real nodes of h_t, plus the graph features.
    pooled = torch.stack([h_t[b][mask[b]].amax(0) for b in range(h_t.shape[0])])
    out = _lin(layers[0], pooled) + _lin(layers[1], graph_fts)
    return out if type_ == "categorical" else out.squeeze(-1)


CASES = [
    ("node", "scalar", (B, N)),
    ("node", "mask", (B, N)),
    ("node", "mask_one", (B, N)),
    ("node", "categorical", (B, N, C)),
    ("node", "pointer", (B, N, N)),
    ("node", "permutation_pointer", (B, N, N)),
    ("edge", "scalar", (B, N, N)),
    ("edge", "mask", (B, N, N)),
    ("edge", "mask_one", (B, N, N)),
    ("edge", "categorical", (B, N, N, C)),
    ("edge", "pointer", (B, N, N, N)),
    ("graph", "scalar", (B,)),
    ("graph", "mask", (B,)),
    ("graph", "categorical", (B, C)),
]


@pytest.mark.parametrize(("location", "type_", "shape"), CASES)
def test_decoder_formula_and_shape(location, type_, shape):
    decoder = _decoder(location, type_)
    h_t, e_t, graph_fts = _decoder_inputs()
    got = decoder(h_t, e_t, graph_fts, MASK)
    assert got.shape == shape
    torch.testing.assert_close(got, _expected(decoder, location, type_, h_t, e_t, graph_fts, MASK))


@pytest.mark.parametrize(("location", "type_", "shape"), CASES)
def test_padding_never_changes_real_predictions(location, type_, shape):
    """Garbage in the padding of h_t and e_t leaves every real prediction unchanged,
    and choices of a padding node stay at NEG_INF."""
    decoder = _decoder(location, type_)
    h_t, e_t, graph_fts = _decoder_inputs()
    clean = decoder(h_t, e_t, graph_fts, MASK)
    h_bad, e_bad = h_t.clone(), e_t.clone()
    h_bad[1, 3] = 1e3
    e_bad[1, 3, :] = -1e3
    e_bad[1, :, 3] = 1e3
    dirty = decoder(h_bad, e_bad, graph_fts, MASK)
    real = {
        "node": MASK,
        "edge": MASK[:, :, None] & MASK[:, None, :],
        "graph": torch.ones(B, dtype=torch.bool),
    }[location]
    if location == "node" and type_ in ("pointer", "permutation_pointer"):
        real = real[:, :, None] & MASK[:, None, :]
    if location == "edge" and type_ == "pointer":
        real = real[:, :, :, None] & MASK[:, None, None, :]
    torch.testing.assert_close(clean[real], dirty[real])
    if type_ in ("pointer", "permutation_pointer", "mask_one") and location != "graph":
        assert torch.all(dirty[1][..., 3] == NEG_INF)


@pytest.mark.parametrize(
    ("location", "type_"), [("graph", "pointer"), ("edge", "permutation_pointer")]
)
def test_unsupported_decoders(location, type_):
    with pytest.raises(ValueError):
        ProbeDecoder(probe("output", location, type_), tiny.NAR_HIDDEN, E)


def _reference_sinkhorn(x, steps, temperature):
    """The reference operator (no padding, no noise), written out."""
    x = x / temperature - 1e6 * torch.eye(x.shape[-1], dtype=x.dtype)
    for _ in range(steps):
        x = torch.log_softmax(x, -1)
        x = torch.log_softmax(x, -2)
    return x


class TestSinkhorn:
    def _logits(self, n=N, b=B, seed=0):
        return torch.randn(
            b, n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
        )

    def test_matches_reference_without_padding(self):
        x = self._logits()
        mask = torch.ones(B, N, dtype=torch.bool)
        got = log_sinkhorn(x, mask, steps=10, temperature=0.1, noise=False)
        torch.testing.assert_close(got, _reference_sinkhorn(x, 10, 0.1))

    def test_doubly_stochastic_with_zero_diagonal(self):
        p = log_sinkhorn(self._logits(), torch.ones(B, N, dtype=torch.bool), 60, 1.0, False).exp()
        ones = torch.ones(B, N, dtype=torch.float64)
        torch.testing.assert_close(p.sum(-1), ones, atol=1e-6, rtol=0)
        torch.testing.assert_close(p.sum(-2), ones)
        assert torch.all(p.diagonal(dim1=-2, dim2=-1) == 0)
        assert torch.all(p >= 0)

    def test_padding_maps_to_itself(self):
        """Padding rows and columns form an identity block; the real block is
        normalised on its own, exactly as the sample alone."""
        n, sizes = 5, [5, 3]
        x = self._logits(n=n)
        mask = node_mask(sizes, n)
        p = log_sinkhorn(x, mask, 10, 0.1, False)
        alone = log_sinkhorn(x[1:, :3, :3], torch.ones(1, 3, dtype=torch.bool), 10, 0.1, False)
        torch.testing.assert_close(p[1, :3, :3], alone[0])
        prob = p.exp()
        torch.testing.assert_close(prob[1, 3:, 3:], torch.eye(2, dtype=torch.float64))
        assert torch.all(prob[1, :3, 3:] == 0) and torch.all(prob[1, 3:, :3] == 0)
        converged = log_sinkhorn(x, mask, 100, 1.0, False).exp()
        ones = torch.ones(2, n, dtype=torch.float64)
        torch.testing.assert_close(converged.sum(-1), ones, atol=1e-6, rtol=0)
        torch.testing.assert_close(converged.sum(-2), ones)

    def test_temperature_sharpens_towards_the_best_derangement(self):
        """As the temperature falls the matrix tends to the permutation (without
        fixed points) of the largest total logit."""
        x = self._logits(n=4, b=1, seed=3)
        mask = torch.ones(1, 4, dtype=torch.bool)
        warm = log_sinkhorn(x, mask, 100, 1.0, False).exp()
        cold = log_sinkhorn(x, mask, 100, 0.05, False).exp()
        assert cold.amax(-1).mean() > warm.amax(-1).mean()
        best = max(
            (p for p in itertools.permutations(range(4)) if all(p[i] != i for i in range(4))),
            key=lambda p: sum(float(x[0, i, p[i]]) for i in range(4)),
        )
        assert cold[0].argmax(-1).tolist() == list(best)
        assert cold[0].amax(-1).min() > 0.9

    def test_noise_only_when_asked(self):
        x = self._logits()
        mask = torch.ones(B, N, dtype=torch.bool)
        torch.manual_seed(0)
        quiet = log_sinkhorn(x, mask, 10, 0.1, noise=False)
        after_quiet = torch.rand(3)
        torch.manual_seed(0)
        assert torch.equal(torch.rand(3), after_quiet)  # noise=False draws nothing
        torch.manual_seed(1)
        assert torch.equal(log_sinkhorn(x, mask, 10, 0.1, noise=False), quiet)
        torch.manual_seed(0)
        noisy_a = log_sinkhorn(x, mask, 10, 0.1, noise=True)
        torch.manual_seed(0)
        noisy_b = log_sinkhorn(x, mask, 10, 0.1, noise=True)
        torch.manual_seed(1)
        noisy_c = log_sinkhorn(x, mask, 10, 0.1, noise=True)
        assert torch.equal(noisy_a, noisy_b)
        assert not torch.allclose(noisy_a, quiet)
        assert not torch.allclose(noisy_a, noisy_c)

    def test_noise_keeps_padding_fixed(self):
        n = 5
        mask = node_mask([5, 3], n)
        torch.manual_seed(0)
        prob = log_sinkhorn(self._logits(n=n), mask, 10, 0.1, noise=True).exp()
        torch.testing.assert_close(prob[1, 3:, 3:], torch.eye(2, dtype=torch.float64))
        assert torch.all(prob[1, :3, 3:] == 0)


def test_head_decode_applies_sinkhorn_to_permutations():
    """``AlgorithmHead.decode`` returns log-Sinkhorn permutation outputs, with
    Gumbel noise only in training."""
    spec = synthetic_spec(
        {
            "pos": probe("input", "node", "scalar"),
            "pred": probe("output", "node", "permutation_pointer"),
            "pred_mask": probe("output", "node", "mask_one"),
        }
    )
    torch.manual_seed(0)
    config = tiny.nar_config()
    head = AlgorithmHead(spec, config, E).double()
    h_t, e_t, graph_fts = _decoder_inputs()
    raw = head.decoders["pred"](h_t, e_t, graph_fts, MASK)
    evaluation = head.decode(h_t, e_t, graph_fts, MASK, training=False)
    expected = log_sinkhorn(raw, MASK, config.sinkhorn_steps, config.sinkhorn_temperature, False)
    torch.testing.assert_close(evaluation["pred"], expected)
    torch.testing.assert_close(
        evaluation["pred_mask"], head.decoders["pred_mask"](h_t, e_t, graph_fts, MASK)
    )
    torch.manual_seed(0)
    training = head.decode(h_t, e_t, graph_fts, MASK, training=True)
    assert not torch.allclose(training["pred"], evaluation["pred"])


class TestPostprocess:
    def _post(self, type_, x, hard, location="node", mask=None):
        p = probe("hint", location, type_, C if type_ == "categorical" else None)
        mask = torch.ones(x.shape[0], N, dtype=torch.bool) if mask is None else mask
        return postprocess(p, x, mask, hard, sinkhorn_steps=25, sinkhorn_temperature=0.1)

    def test_scalar(self):
        x = torch.randn(B, N, requires_grad=True)
        assert self._post("scalar", x, hard=False) is x
        hard = self._post("scalar", x, hard=True)
        assert torch.equal(hard, x) and not hard.requires_grad

    def test_mask(self):
        x = torch.tensor([[-2.0, 0.0, 0.5, 3.0]])
        torch.testing.assert_close(self._post("mask", x, hard=False), torch.sigmoid(x))
        assert self._post("mask", x, hard=True).tolist() == [[0.0, 0.0, 1.0, 1.0]]

    @pytest.mark.parametrize(("type_", "width"), [("mask_one", N), ("categorical", C)])
    def test_one_hot_types(self, type_, width):
        x = torch.randn(B, N, width) if type_ == "categorical" else torch.randn(B, width)
        torch.testing.assert_close(self._post(type_, x, hard=False), torch.softmax(x, -1))
        hard = self._post(type_, x, hard=True)
        assert torch.equal(hard, torch.nn.functional.one_hot(x.argmax(-1), width).float())

    @pytest.mark.parametrize("location", ["node", "edge"])
    def test_pointer(self, location):
        x = torch.randn(B, N, N) if location == "node" else torch.randn(B, N, N, N)
        soft = self._post("pointer", x, hard=False, location=location)
        torch.testing.assert_close(soft, torch.softmax(x, -1))
        hard = self._post("pointer", x, hard=True, location=location)
        assert hard.dtype == torch.int64 and torch.equal(hard, x.argmax(-1))

    def test_pointer_softmax_ignores_padding_choices(self):
        x = _expected(_decoder("node", "pointer"), "node", "pointer", *_decoder_inputs(), MASK)
        soft = self._post("pointer", x, hard=False)
        assert torch.all(soft[1, :, 3] == 0)
        torch.testing.assert_close(soft.sum(-1), torch.ones(B, N, dtype=x.dtype))

    def test_permutation_pointer(self):
        x = torch.randn(B, N, N, dtype=torch.float64)
        soft = self._post("permutation_pointer", x, hard=False, mask=MASK)
        torch.testing.assert_close(soft, log_sinkhorn(x, MASK, 25, 0.1, False).exp())
        hard = self._post("permutation_pointer", x, hard=True, mask=MASK)
        assert torch.equal(hard, torch.nn.functional.one_hot(soft.argmax(-1), N).double())
        assert hard[1, 3].tolist() == [0, 0, 0, 1]  # padding points to itself
