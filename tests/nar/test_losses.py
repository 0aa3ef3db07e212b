"""Losses of every probe type: hand-computed values, the reference definitions,
masked (-1) entries, padding, and the hint steps that count (CLRS ``losses.py``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from tests import tiny
from tests.nar.helpers import features_of, node_mask, probe
from transnar.nar.layers import NEG_INF
from transnar.nar.losses import hint_loss, output_loss


def _bce(logit, label):
    return math.log1p(math.exp(-abs(logit))) + max(logit, 0.0) - logit * label


def _ce(logits, index):
    logits = [v for v in logits if v > NEG_INF / 2]
    return -(logits[index] - math.log(sum(math.exp(v) for v in logits)))


def _p(location, type_, classes=None, stage="output"):
    return probe(stage, location, type_, classes)


class TestHandComputed:
    """Small batches whose second sample has one padding node (never counted)."""

    mask = node_mask([3, 2])

    def test_node_scalar(self):
        pred = torch.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, 9.0]])
        truth = torch.tensor([[0.0, 2.0, 5.0], [1.0, 1.0, 0.0]])
        expected = (1 + 0 + 4 + 1 + 0) / 5
        assert output_loss(_p("node", "scalar"), pred, truth, self.mask).item() == pytest.approx(
            expected
        )

    def test_node_mask_ignores_minus_one_and_padding(self):
        pred = torch.tensor([[0.5, -1.0, 2.0], [3.0, -2.0, 7.0]])
        truth = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]])
        expected = (_bce(0.5, 1) + _bce(-1.0, 0) + _bce(3.0, 0) + _bce(-2.0, 1)) / 4
        got = output_loss(_p("node", "mask"), pred, truth, self.mask).item()
        assert got == pytest.approx(expected)

    def test_node_mask_one(self):
        """One cross-entropy over the nodes per sample (padding at NEG_INF, as decoded)."""
        pred = torch.tensor([[0.1, 0.7, -0.3], [1.0, 2.0, NEG_INF]])
        truth = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
        expected = (_ce([0.1, 0.7, -0.3], 2) + _ce([1.0, 2.0], 0)) / 2
        got = output_loss(_p("node", "mask_one"), pred, truth, self.mask).item()
        assert got == pytest.approx(expected, rel=1e-6)

    def test_node_categorical_ignores_masked_entries_and_padding(self):
        pred = torch.tensor(
            [[[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]], [[0.3, 0.1], [0.0, 0.0], [9.0, -9.0]]]
        )
        truth = torch.tensor(
            [[[1.0, 0.0], [1.0, 0.0], [-1.0, -1.0]], [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]]
        )
        expected = (
            _ce([1.0, 0.0], 0) + _ce([0.0, 2.0], 0) + _ce([0.3, 0.1], 1) + _ce([0, 0], 0)
        ) / 4
        got = output_loss(_p("node", "categorical", 2), pred, truth, self.mask).item()
        assert got == pytest.approx(expected, rel=1e-6)

    def test_node_pointer(self):
        pred = torch.tensor(
            [
                [[0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [3.0, 0.0, 0.0]],
                [[0.5, 0.0, NEG_INF], [0.0, 2.0, NEG_INF], [7.0, 7.0, NEG_INF]],
            ]
        )
        truth = torch.tensor([[2, 0, 1], [1, 1, 0]])
        expected = (
            _ce([0, 1, 2], 2)
            + _ce([1, 1, 1], 0)
            + _ce([3, 0, 0], 1)
            + _ce([0.5, 0], 1)
            + _ce([0, 2], 1)
        ) / 5
        got = output_loss(_p("node", "pointer"), pred, truth, self.mask).item()
        assert got == pytest.approx(expected, rel=1e-6)

    def test_permutation_pointer(self):
        """``-sum(truth * log_sinkhorn)`` per real row, averaged."""
        pred = torch.log(
            torch.tensor(
                [
                    [[0.1, 0.7, 0.2], [0.3, 0.1, 0.6], [0.6, 0.2, 0.2]],
                    [[0.2, 0.8, 1e-30], [0.8, 0.2, 1e-30], [1e-30, 1e-30, 1.0]],
                ]
            )
        )
        truth = F.one_hot(torch.tensor([[1, 2, 0], [1, 0, 2]]), 3).float()
        expected = (
            -(math.log(0.7) + math.log(0.6) + math.log(0.6) + math.log(0.8) + math.log(0.8)) / 5
        )
        got = output_loss(_p("node", "permutation_pointer"), pred, truth, self.mask).item()
        assert got == pytest.approx(expected, rel=1e-6)

    def test_edge_mask_counts_real_edges_only(self):
        pred = torch.arange(18, dtype=torch.float32).reshape(2, 3, 3) / 10 - 0.5
        truth = torch.tensor(
            [[[1.0, 0, -1], [0, 1, 1], [1, 0, 0]], [[0.0, 1, 1], [1, -1, 1], [1, 1, 1]]]
        )
        expected, count = 0.0, 0
        for b, n in enumerate([3, 2]):
            for i in range(n):
                for j in range(n):
                    if truth[b, i, j] != -1:
                        expected += _bce(float(pred[b, i, j]), float(truth[b, i, j]))
                        count += 1
        got = output_loss(_p("edge", "mask"), pred, truth, self.mask).item()
        assert got == pytest.approx(expected / count, rel=1e-6)

    def test_edge_mask_one(self):
        """One cross-entropy per real row, over the row's real nodes."""
        pred = torch.tensor(
            [
                [[0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [3.0, 0.0, 0.0]],
                [[0.5, 0.0, NEG_INF], [0.0, 2.0, NEG_INF], [NEG_INF] * 3],
            ]
        )
        truth = F.one_hot(torch.tensor([[2, 0, 1], [1, 1, 0]]), 3).float()
        truth[1, 2] = 0.0  # the padding row
        expected = (
            _ce([0, 1, 2], 2)
            + _ce([1, 1, 1], 0)
            + _ce([3, 0, 0], 1)
            + _ce([0.5, 0], 1)
            + _ce([0, 2], 1)
        ) / 5
        got = output_loss(_p("edge", "mask_one"), pred, truth, self.mask).item()
        assert got == pytest.approx(expected, rel=1e-6)
        hint = hint_loss(
            _p("edge", "mask_one", stage="hint"),
            pred[:, None],
            truth[:, None],
            torch.tensor([2, 2]),
            self.mask,
        )
        assert hint.item() == pytest.approx(expected, rel=1e-6)

    def test_edge_pointer(self):
        g = torch.Generator().manual_seed(0)
        pred = torch.randn(2, 3, 3, 3, generator=g)
        pred[1, :, :, 2] = NEG_INF
        truth = torch.randint(0, 2, (2, 3, 3), generator=g)
        expected, count = 0.0, 0
        for b, n in enumerate([3, 2]):
            for i in range(n):
                for j in range(n):
                    expected += _ce(pred[b, i, j].tolist(), int(truth[b, i, j]))
                    count += 1
        got = output_loss(_p("edge", "pointer"), pred, truth, self.mask).item()
        assert got == pytest.approx(expected / count, rel=1e-6)

    def test_edge_categorical(self):
        g = torch.Generator().manual_seed(1)
        pred = torch.randn(2, 3, 3, 4, generator=g)
        truth = F.one_hot(torch.randint(0, 4, (2, 3, 3), generator=g), 4).float()
        truth[0, 0, 1] = 0.0  # no positive class: not counted
        expected, count = 0.0, 0
        for b, n in enumerate([3, 2]):
            for i in range(n):
                for j in range(n):
                    if truth[b, i, j].max() == 1:
                        expected += _ce(pred[b, i, j].tolist(), int(truth[b, i, j].argmax()))
                        count += 1
        got = output_loss(_p("edge", "categorical", 4), pred, truth, self.mask).item()
        assert got == pytest.approx(expected / count, rel=1e-6)

    def test_edge_scalar(self):
        pred = torch.ones(2, 3, 3)
        truth = torch.zeros(2, 3, 3)
        truth[1, 2, 2] = 100.0  # padding
        truth[0, 0, 0] = 3.0
        expected = (4 + 8 + 4) / 13
        assert output_loss(_p("edge", "scalar"), pred, truth, self.mask).item() == pytest.approx(
            expected
        )

    def test_graph_types(self):
        scalar = output_loss(
            _p("graph", "scalar"), torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0]), self.mask
        )
        assert scalar.item() == pytest.approx((1 + 4) / 2)
        mask = output_loss(
            _p("graph", "mask"), torch.tensor([1.0, -3.0]), torch.tensor([1.0, -1.0]), self.mask
        )
        assert mask.item() == pytest.approx(_bce(1.0, 1))
        categorical = output_loss(
            _p("graph", "categorical", 3),
            torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]]),
            torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
            self.mask,
        )
        assert categorical.item() == pytest.approx(
            (_ce([0, 1, 2], 2) + _ce([1, 1, 1], 1)) / 2, rel=1e-6
        )


# --- The reference definitions (losses.output_loss / hint_loss), in numpy ----------


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _reference_output_loss(type_, pred, truth, nb_nodes):
    if type_ == "scalar":
        return np.mean((pred - truth) ** 2)
    if type_ == "mask":
        loss = np.maximum(pred, 0) - pred * truth + np.log1p(np.exp(-np.abs(pred)))
        mask = (truth != -1).astype(np.float64)
        return np.sum(loss * mask) / np.sum(mask)
    if type_ in ("mask_one", "categorical"):
        masked_truth = truth * (truth != -1)
        return -np.sum(masked_truth * _log_softmax(pred)) / np.sum(truth == 1)
    if type_ == "pointer":
        return np.mean(-np.sum(np.eye(nb_nodes)[truth] * _log_softmax(pred), axis=-1))
    return np.mean(-np.sum(truth * pred, axis=-1))


def _reference_hint_loss(type_, truth, preds, lengths, nb_nodes):
    """``truth`` (T, B, ...) and ``preds`` (T - 1, B, ...), time-major as the reference."""
    truth = truth[1:]
    mask = None
    if type_ == "scalar":
        loss = (preds - truth) ** 2
    elif type_ == "mask":
        loss = np.maximum(preds, 0) - preds * truth + np.log1p(np.exp(-np.abs(preds)))
        mask = (truth != -1).astype(np.float64)
    elif type_ == "mask_one":
        loss = -np.sum(truth * _log_softmax(preds), axis=-1, keepdims=True)
    elif type_ == "categorical":
        loss = -np.sum(truth * _log_softmax(preds), axis=-1)
        mask = np.any(truth == 1, axis=-1).astype(np.float64)
    elif type_ == "pointer":
        loss = -np.sum(np.eye(nb_nodes)[truth] * _log_softmax(preds), axis=-1)
    else:
        loss = -np.sum(truth * preds, axis=-1)
    if mask is None:
        mask = np.ones_like(loss)
    not_done = (lengths[None, :] > np.arange(truth.shape[0])[:, None] + 1).astype(np.float64)
    while not_done.ndim < loss.ndim:
        not_done = not_done[..., None]
    mask = mask * not_done
    return np.sum(loss * mask) / max(np.sum(mask), 1e-12)


REFERENCE_CASES = [
    ("node", "scalar"),
    ("node", "mask"),
    ("node", "mask_one"),
    ("node", "categorical"),
    ("node", "pointer"),
    ("node", "permutation_pointer"),
    ("edge", "scalar"),
    ("edge", "mask"),
    ("edge", "mask_one"),
    ("edge", "categorical"),
    ("edge", "pointer"),
    ("graph", "scalar"),
    ("graph", "mask"),
    ("graph", "categorical"),
]


def random_probe_data(location, type_, lead, n, rng, classes=3):
    """Random (prediction, truth) of a probe with leading axes ``lead`` and no padding;
    masks and categoricals include -1 (masked) entries."""
    base = {"node": (n,), "edge": (n, n), "graph": ()}[location]
    shape = (*lead, *base)
    if type_ == "scalar":
        return rng.normal(size=shape), rng.normal(size=shape)
    if type_ == "mask":
        truth = rng.choice([-1.0, 0.0, 1.0], size=shape)
        truth.reshape(-1)[0] = 1.0  # at least one entry counts
        return rng.normal(size=shape), truth
    if type_ == "mask_one":  # one-hot over the last node axis
        return rng.normal(size=shape), np.eye(n)[rng.integers(0, n, size=shape[:-1])]
    if type_ == "categorical":
        truth = np.eye(classes)[rng.integers(0, classes, size=shape)]
        truth[rng.random(shape) < 0.2] = -1.0  # a masked cell
        return rng.normal(size=(*shape, classes)), truth
    if type_ == "pointer":
        return rng.normal(size=(*shape, n)), rng.integers(0, n, size=shape)
    # permutation pointer: log of a doubly stochastic-ish matrix, one-hot truth rows
    pred = _log_softmax(rng.normal(size=(*shape, n)))
    perms = np.stack([rng.permutation(n) for _ in range(int(np.prod(lead)))]).reshape(*lead, n)
    return pred, np.eye(n)[perms]


@pytest.mark.parametrize(("location", "type_"), REFERENCE_CASES)
def test_output_loss_matches_reference_definition(location, type_):
    rng = np.random.default_rng(0)
    n, b = 4, 3
    pred, truth = random_probe_data(location, type_, (b,), n, rng)
    p = _p(location, type_, 3 if type_ == "categorical" else None)
    got = output_loss(
        p, torch.tensor(pred), torch.tensor(truth), torch.ones(b, n, dtype=torch.bool)
    )
    assert got.item() == pytest.approx(_reference_output_loss(type_, pred, truth, n), rel=1e-9)


@pytest.mark.parametrize(("location", "type_"), REFERENCE_CASES)
def test_hint_loss_matches_reference_definition(location, type_):
    rng = np.random.default_rng(1)
    n, b, t = 4, 3, 5
    lengths = np.array([5, 2, 4])
    preds, _ = random_probe_data(location, type_, (t - 1, b), n, rng)
    _, truth = random_probe_data(location, type_, (t, b), n, rng)
    if type_ == "categorical":
        truth[:, 0] = np.where(truth[:, 0] == -1, 0.0, truth[:, 0])  # keep some cells
    p = _p(location, type_, 3 if type_ == "categorical" else None, stage="hint")
    ours = hint_loss(
        p,
        torch.tensor(np.moveaxis(preds, 0, 1)),
        torch.tensor(np.moveaxis(truth[1:], 0, 1)),
        torch.tensor(lengths),
        torch.ones(b, n, dtype=torch.bool),
    )
    expected = _reference_hint_loss(type_, truth, preds, lengths, n)
    assert ours.item() == pytest.approx(expected, rel=1e-9)


def test_hint_loss_counts_steps_one_to_length_only():
    """Step ``s`` (1-based) of a sample counts when ``s < length``; predictions of
    later steps do not matter."""
    p = _p("node", "scalar", stage="hint")
    mask = node_mask([2, 2])
    lengths = torch.tensor([3, 2])
    truth = torch.zeros(2, 3, 2)  # steps 1..3
    predictions = torch.tensor(
        [[[1.0, 1.0], [2.0, 2.0], [50.0, 50.0]], [[3.0, 3.0], [60.0, 60.0], [70.0, 70.0]]]
    )
    # Valid: sample 0 steps 1 and 2; sample 1 step 1.
    expected = (1 + 1 + 4 + 4 + 9 + 9) / 6
    assert hint_loss(p, predictions, truth, lengths, mask).item() == pytest.approx(expected)


def test_hint_loss_ignores_padding_nodes():
    p = _p("node", "mask", stage="hint")
    mask = node_mask([2, 1], 2)
    predictions = torch.tensor([[[0.0, 1.0]], [[2.0, -50.0]]])
    truth = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    expected = (_bce(0.0, 1) + _bce(1.0, 0) + _bce(2.0, 0)) / 3
    got = hint_loss(p, predictions, truth, torch.tensor([2, 2]), mask).item()
    assert got == pytest.approx(expected)


def test_no_valid_element_gives_zero():
    p = _p("node", "mask", stage="hint")
    got = hint_loss(p, torch.ones(1, 2, 3), torch.ones(1, 2, 3), torch.tensor([1]), node_mask([3]))
    assert got.item() == 0.0


class TestNARLoss:
    def test_total_is_sum_of_output_and_hint_terms(self):
        nar = tiny.nar(("bfs",))
        features = features_of("bfs", [4, 5])
        output = nar(features)
        total, terms = nar.loss(features, output)
        spec = nar.head("bfs").spec
        assert set(terms) == set(spec.outputs) | set(spec.hints) | {"termination"}
        assert total.item() == pytest.approx(sum(terms.values()), rel=1e-6)
        assert all(isinstance(v, float) for v in terms.values())
        expected_pi = output_loss(
            spec["pi"], output.outputs["pi"], features.outputs["pi"], features.node_mask
        )
        assert terms["pi"] == pytest.approx(expected_pi.item())
        steps = output.hints["reach_h"].shape[1]
        expected_hint = hint_loss(
            spec["reach_h"],
            output.hints["reach_h"],
            features.hints["reach_h"][:, 1 : steps + 1],
            features.lengths,
            features.node_mask,
        )
        assert terms["reach_h"] == pytest.approx(expected_hint.item())

    @pytest.mark.parametrize("hint_mode", ["none", "decoded_only"])
    def test_hint_modes(self, hint_mode):
        nar = tiny.nar(("bfs",), hint_mode=hint_mode)
        features = features_of("bfs", [4, 5])
        _, terms = nar.loss(features, nar(features))
        spec = nar.head("bfs").spec
        expected = set(spec.outputs) | (set(spec.hints) if hint_mode == "decoded_only" else set())
        assert set(terms) == expected | {"termination"}
