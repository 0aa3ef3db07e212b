"""Scoring as the reference does (CLRS ``evaluation.py``): per-type micro scores,
permutations fused with their masks, accumulation over batches, padding excluded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from tests import tiny
from tests.nar.helpers import node_mask, probe, sampled, synthetic_spec
from transnar.clrs.transforms import cyclic_permutation
from transnar.evaluation.nar_scoring import Scorer, fuse_permutations, hard_outputs
from transnar.nar import Features


def _score(outputs: dict, truth: dict, predictions: dict, sizes, n=None):
    """Scores of ``predictions`` against ``truth`` for made-up outputs ``name -> probe``."""
    spec = synthetic_spec(outputs)
    mask = node_mask(sizes, n)
    features = Features(
        "synthetic", spec, {}, {}, truth, torch.ones(len(sizes), dtype=torch.int64), mask
    )
    scorer = Scorer(spec)
    scorer.update(predictions, features)
    return scorer.scores()


def _out(location, type_, classes=None):
    return probe("output", location, type_, classes)


class TestPerType:
    def test_mask_f1_ignores_minus_one_and_padding(self):
        truth = torch.tensor([[1.0, 0.0, -1.0, 1.0, 0.0]])
        pred = torch.tensor([[1.0, 1.0, 1.0, 0.0, 1.0]])  # the last node is padding
        # tp = 1 (node 0), fp = 1 (node 1; node 2 is masked), fn = 1 (node 3): F1 = 0.5
        scores = _score({"m": _out("node", "mask")}, {"m": truth}, {"m": pred}, [4], 5)
        assert scores["m"] == pytest.approx(0.5)
        assert scores["score"] == pytest.approx(0.5)

    @pytest.mark.parametrize(
        ("truth", "pred", "expected"),
        [
            ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], 1.0),  # nothing to find, nothing found
            ([0.0, 0.0, 0.0], [1.0, 0.0, 0.0], 0.0),  # precision 0, recall 1
            ([1.0, 1.0, 0.0], [0.0, 0.0, 0.0], 0.0),  # precision 1, recall 0
            ([1.0, 1.0, 0.0], [1.0, 0.0, 0.0], 2 / 3),  # precision 1, recall 1/2
        ],
    )
    def test_mask_f1_edge_cases(self, truth, pred, expected):
        scores = _score(
            {"m": _out("node", "mask")},
            {"m": torch.tensor([truth])},
            {"m": torch.tensor([pred])},
            [3],
        )
        assert scores["m"] == pytest.approx(expected)

    def test_edge_and_graph_masks(self):
        truth = torch.tensor([[[1.0, 0.0], [1.0, -1.0]], [[1.0, 9.0], [9.0, 9.0]]])
        pred = torch.tensor([[[1.0, 1.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]]])
        # Real edges: sample 0 all four (one masked), sample 1 only (0, 0).
        # tp = 2, fp = 1, fn = 1: F1 = 2/3.
        scores = _score({"e": _out("edge", "mask")}, {"e": truth}, {"e": pred}, [2, 1])
        assert scores["e"] == pytest.approx(2 / 3)
        graph = _score(
            {"g": _out("graph", "mask")},
            {"g": torch.tensor([1.0, 0.0, 1.0, -1.0])},
            {"g": torch.tensor([1.0, 1.0, 0.0, 1.0])},
            [2, 2, 2, 2],
        )
        assert graph["g"] == pytest.approx(0.5)  # tp 1, fp 1, fn 1

    def test_mask_one_accuracy(self):
        truth = F.one_hot(torch.tensor([0, 2, 1]), 4).float()
        pred = F.one_hot(torch.tensor([0, 2, 2]), 4).float()
        scores = _score({"o": _out("node", "mask_one")}, {"o": truth}, {"o": pred}, [4, 3, 2])
        assert scores["o"] == pytest.approx(2 / 3)

    def test_edge_mask_one_accuracy_per_real_row(self):
        truth = F.one_hot(torch.tensor([[1, 0, 2], [0, 1, 0]]), 3).float()
        pred = F.one_hot(torch.tensor([[1, 2, 2], [0, 0, 2]]), 3).float()
        # sample 0: rows 0 and 2 right; sample 1 (two real nodes): row 0 right, row 1 wrong.
        scores = _score({"o": _out("edge", "mask_one")}, {"o": truth}, {"o": pred}, [3, 2])
        assert scores["o"] == pytest.approx(3 / 5)

    def test_categorical_accuracy_ignores_masked_cells_and_padding(self):
        truth = F.one_hot(torch.tensor([[0, 1, 2], [2, 2, 0]]), 3).float()
        truth[0, 1] = -1.0  # masked
        pred = F.one_hot(torch.tensor([[0, 0, 1], [2, 0, 1]]), 3).float()
        # Counted: (0, 0) right, (0, 2) wrong, (1, 0) right, (1, 1) wrong; (1, 2) is padding.
        scores = _score({"c": _out("node", "categorical", 3)}, {"c": truth}, {"c": pred}, [3, 2])
        assert scores["c"] == pytest.approx(0.5)
        edge = _score(
            {"c": _out("edge", "categorical", 2)},
            {"c": F.one_hot(torch.tensor([[[0, 1], [1, 1]]]), 2).float()},
            {"c": F.one_hot(torch.tensor([[[0, 1], [0, 0]]]), 2).float()},
            [2],
        )
        assert edge["c"] == pytest.approx(0.5)
        graph = _score(
            {"c": _out("graph", "categorical", 3)},
            {"c": F.one_hot(torch.tensor([0, 1, 2]), 3).float()},
            {"c": F.one_hot(torch.tensor([0, 1, 1]), 3).float()},
            [1, 1, 1],
        )
        assert graph["c"] == pytest.approx(2 / 3)

    def test_pointer_accuracy_excludes_padding(self):
        truth = torch.tensor([[1, 2, 0, 0], [0, 0, 1, 0]])
        pred = torch.tensor([[1, 2, 2, 3], [0, 1, 3, 3]])
        # sample 0: 3 real nodes, 2 right; sample 1: 2 real nodes, 1 right.
        scores = _score({"p": _out("node", "pointer")}, {"p": truth}, {"p": pred}, [3, 2], 4)
        assert scores["p"] == pytest.approx(3 / 5)
        edge = _score(
            {"p": _out("edge", "pointer")},
            {"p": torch.tensor([[[0, 1], [1, 1]]])},
            {"p": torch.tensor([[[0, 0], [1, 1]]])},
            [2],
        )
        assert edge["p"] == pytest.approx(3 / 4)

    def test_scalar_mse(self):
        truth = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
        pred = torch.tensor([[1.0, 0.0, 3.0], [1.0, 0.0, 0.0]])
        scores = _score({"s": _out("node", "scalar")}, {"s": truth}, {"s": pred}, [3, 2])
        assert scores["s"] == pytest.approx((0 + 4 + 0 + 1 + 0) / 5)
        graph = _score(
            {"s": _out("graph", "scalar")},
            {"s": torch.tensor([1.0, 2.0])},
            {"s": torch.tensor([0.0, 0.0])},
            [1, 1],
        )
        assert graph["s"] == pytest.approx(2.5)

    def test_permutation_fused_with_its_mask_into_pointers(self):
        """The permutation and its first-node mask are scored as one pointer output,
        the first node pointing to itself (reference ``fuse_perm_and_mask``)."""
        outputs = {
            "pred": _out("node", "permutation_pointer"),
            "pred_mask": _out("node", "mask_one"),
            "other": _out("node", "mask"),
        }
        true_pointers = np.array([2, 0, 2, 1])  # order 2, 0, 1, 3
        matrix, first = cyclic_permutation(true_pointers)
        truth = {
            "pred": torch.tensor(matrix[None]),
            "pred_mask": torch.tensor(first[None]),
            "other": torch.tensor([[1.0, 0.0, 0.0, 0.0]]),
        }
        # Predicted order 2, 1, 0, 3: pointers [1, 2, 2, 0].
        predicted_matrix, predicted_first = cyclic_permutation(np.array([1, 2, 2, 0]))
        predictions = fuse_permutations(
            synthetic_spec(outputs),
            {
                "pred": torch.tensor(predicted_matrix[None]),
                "pred_mask": torch.tensor(predicted_first[None]),
                "other": torch.tensor([[1.0, 0.0, 0.0, 0.0]]),
            },
        )
        assert set(predictions) == {"pred", "other"}
        assert predictions["pred"].tolist() == [[1, 2, 2, 0]]
        scores = _score(outputs, truth, predictions, [4])
        assert set(scores) == {"pred", "other", "score"}
        assert scores["pred"] == pytest.approx(1 / 4)  # only node 2 (the first) is right
        assert scores["score"] == pytest.approx((0.25 + 1.0) / 2)

    def test_fusing_undoes_the_permutation_transform(self):
        rng = np.random.default_rng(0)
        for n in (2, 3, 6):
            order = rng.permutation(n)
            pointers = np.empty(n, dtype=np.int64)
            pointers[order[0]] = order[0]
            pointers[order[1:]] = order[:-1]
            matrix, first = cyclic_permutation(pointers)
            spec = synthetic_spec(
                {"p": _out("node", "permutation_pointer"), "p_mask": _out("node", "mask_one")}
            )
            fused = fuse_permutations(
                spec, {"p": torch.tensor(matrix[None]), "p_mask": torch.tensor(first[None])}
            )
            assert fused["p"][0].tolist() == pointers.tolist()


ALGORITHMS = [
    "insertion_sort",
    "bfs",
    "activity_selector",
    "lcs_length",
    "segments_intersect",
    "floyd_warshall",
]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_batches_accumulate_to_one_big_batch(algorithm):
    """Micro scores: two batches (of different sizes) accumulate exactly as the
    padded batch of all their samples, padding excluded throughout."""
    torch.manual_seed(0)
    nar = tiny.nar((algorithm,), double=True)
    first = sampled(algorithm, [3, 5], seed=0)
    second = sampled(algorithm, [4, 6, 4], seed=10)
    split = Scorer(nar.head(algorithm).spec)
    per_batch = []
    for trajectories in (first, second):
        features = Features.from_trajectories(trajectories)
        predictions = hard_outputs(nar, features, nar(features, repred=True))
        split.update(predictions, features)
        single = Scorer(nar.head(algorithm).spec)
        single.update(predictions, features)
        per_batch.append(single.scores())
    together = Features.from_trajectories(first + second)
    whole = Scorer(nar.head(algorithm).spec)
    whole.update(hard_outputs(nar, together, nar(together, repred=True)), together)
    assert split.scores() == pytest.approx(whole.scores())
    assert set(split.scores()) == {*_scored_outputs(nar.head(algorithm).spec), "score"}


def _scored_outputs(spec):
    fused = {f"{n}_mask" for n, p in spec.items() if p.type.value == "permutation_pointer"}
    return [n for n in spec.outputs if n not in fused]


def test_micro_is_not_the_mean_of_batch_scores():
    outputs = {"p": _out("node", "pointer")}
    spec = synthetic_spec(outputs)
    scorer = Scorer(spec)
    for sizes, truth, pred in [([1], [[0]], [[0]]), ([3], [[0, 0, 0]], [[1, 1, 1]])]:
        features = Features(
            "s",
            spec,
            {},
            {},
            {"p": torch.tensor(truth)},
            torch.ones(1, dtype=torch.int64),
            node_mask(sizes),
        )
        scorer.update({"p": torch.tensor(pred)}, features)
    assert scorer.scores()["p"] == pytest.approx(1 / 4)  # not (1 + 0) / 2


def test_hard_outputs():
    nar = tiny.nar(("insertion_sort",))
    features = Features.from_trajectories(sampled("insertion_sort", [3, 5]))
    values = hard_outputs(nar, features, nar(features, repred=True))
    assert set(values) == {"pred"}
    assert values["pred"].dtype == torch.int64 and values["pred"].shape == (2, 5)
    assert values["pred"][0, 3:].tolist() == [3, 4]  # padding points to itself
    nar = tiny.nar(("activity_selector",))
    features = Features.from_trajectories(sampled("activity_selector", [4, 5]))
    values = hard_outputs(nar, features, nar(features, repred=True))
    assert set(values["selected"].unique().tolist()) <= {0.0, 1.0}
