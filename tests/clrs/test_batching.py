"""Collation into padded batches, and back."""

from __future__ import annotations

import numpy as np
import pytest

from transnar import clrs


@pytest.mark.parametrize("algorithm", ["quicksort", "floyd_warshall", "kmp_matcher", "heapsort"])
def test_mixed_sizes_round_trip(algorithm):
    trajectories = [
        t for size in (5, 8, 6) for t in clrs.sample(algorithm, size, seed=size, count=2)
    ]
    batch = clrs.collate(trajectories)
    assert len(batch) == 6
    assert batch.lengths.tolist() == [t.length for t in trajectories]
    assert batch.num_nodes.tolist() == [t.num_nodes for t in trajectories]
    n, steps = max(batch.num_nodes), max(batch.lengths)
    assert batch.inputs["pos"].shape == (6, n)
    for name, value in batch.hints.items():
        node_axes = 0 if batch.spec[name].location is clrs.Location.GRAPH else 1
        assert value.shape[: 2 + node_axes] == (6, steps, n)[: 2 + node_axes], name
    assert all(batch.trajectory(i).equals(t) for i, t in enumerate(trajectories))


def test_padding_is_zero():
    short, long = (
        clrs.sample("insertion_sort", 3, seed=0)[0],
        clrs.sample("insertion_sort", 5, 0)[0],
    )
    batch = clrs.collate([short, long])
    assert (batch.hints["pred_h"][0, short.length :] == 0).all()
    assert (batch.hints["i"][0, :, 3:] == 0).all()
    assert (batch.inputs["key"][0, 3:] == 0).all()


def test_edge_probes_are_padded_on_both_axes():
    batch = clrs.collate([clrs.sample("floyd_warshall", n, seed=1)[0] for n in (3, 5)])
    assert batch.inputs["A"].shape == (2, 5, 5)
    assert (batch.inputs["A"][0, 3:, :] == 0).all() and (batch.inputs["A"][0, :, 3:] == 0).all()


def test_collate_rejects_mixed_or_empty_input():
    with pytest.raises(ValueError, match="empty"):
        clrs.collate([])
    with pytest.raises(ValueError, match="one algorithm"):
        clrs.collate(clrs.sample("bfs", 4, 0) + clrs.sample("dfs", 4, 0))
    plain = clrs.sample("minimum", 4, 0)[0]
    with pytest.raises(ValueError, match="probe table"):
        clrs.collate([plain, clrs.pred_as_input(plain)])


def test_dtypes_follow_the_samples():
    batch = clrs.collate(clrs.sample("dfs", 6, 0, count=3))
    assert batch.inputs["A"].dtype == np.int64
    assert batch.hints["color"].dtype == np.float64
