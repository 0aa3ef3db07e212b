"""Kruskal and Prim: golden hint sequences worked out by hand from the
algorithms' definitions, properties against networkx, and the inputs they
reject."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from tests.clrs.helpers import assert_probes, graph_inputs, one_hot, to_networkx
from transnar import clrs
from transnar.clrs.algorithms.spanning_trees import mst_kruskal, mst_prim


def undirected(n, weighted_edges):
    A = np.zeros((n, n))
    for u, v, w in weighted_edges:
        A[u, v] = A[v, u] = w
    return A


def edge_mask(n, pairs):
    return undirected(n, [(u, v, 1.0) for u, v in pairs])


# --- Golden cases ---------------------------------------------------------------


def test_kruskal_golden():
    # By weight: 0-1 (1), 2-3 (2), 1-3 (3), 0-2 (4).  The first three join
    # the tree; for 0-2 the walks from 0 (0 -> 1 -> 3) and from 2 (2 -> 3)
    # meet at the same root, so it is skipped.
    A = undirected(4, [(0, 1, 1.0), (2, 3, 2.0), (1, 3, 3.0), (0, 2, 4.0)])
    trajectory = mst_kruskal(A)
    none, first = np.zeros((4, 4)), edge_mask(4, [(0, 1)])
    two, three = edge_mask(4, [(0, 1), (2, 3)]), edge_mask(4, [(0, 1), (2, 3), (1, 3)])
    # One row per hint: in_mst, pi, u, v, root_u, root_v, mask_u, mask_v, phase.
    steps = [
        (none, [0, 1, 2, 3], 0, 0, 0, 0, [0, 0, 0, 0], [0, 0, 0, 0], 0),
        # Edge 0-1: both are roots; 0 < 1, so 0 goes under 1.
        (none, [0, 1, 2, 3], 0, 1, 0, 1, [1, 0, 0, 0], [0, 1, 0, 0], 1),
        (first, [1, 1, 2, 3], 0, 1, 0, 1, [1, 0, 0, 0], [0, 1, 0, 0], 0),
        # Edge 2-3: 2 goes under 3.
        (first, [1, 1, 2, 3], 2, 3, 2, 3, [0, 0, 1, 0], [0, 0, 0, 1], 1),
        (two, [1, 1, 3, 3], 2, 3, 2, 3, [0, 0, 1, 0], [0, 0, 0, 1], 0),
        # Edge 1-3: 1 goes under 3.
        (two, [1, 1, 3, 3], 1, 3, 1, 3, [0, 1, 0, 0], [0, 0, 0, 1], 1),
        (three, [1, 3, 3, 3], 1, 3, 1, 3, [0, 1, 0, 0], [0, 0, 0, 1], 0),
        # Edge 0-2: walk 0 -> 1, then 1 -> 3 pointing 0 and 1 at 3; walk 2 -> 3.
        (three, [1, 3, 3, 3], 0, 2, 0, 2, [1, 0, 0, 0], [0, 0, 1, 0], 1),
        (three, [1, 3, 3, 3], 0, 2, 1, 2, [1, 1, 0, 0], [0, 0, 1, 0], 1),
        (three, [3, 3, 3, 3], 0, 2, 3, 2, [1, 1, 0, 1], [0, 0, 1, 0], 1),
        (three, [3, 3, 3, 3], 0, 2, 3, 3, [1, 1, 0, 1], [0, 0, 1, 1], 2),
        (three, [3, 3, 3, 3], 0, 2, 3, 3, [1, 1, 0, 1], [0, 0, 1, 1], 0),
    ]
    columns = list(zip(*steps, strict=True))
    assert_probes(
        trajectory.hints,
        {
            "in_mst_h": columns[0],
            "pi": columns[1],
            "u": one_hot(list(columns[2]), 4),
            "v": one_hot(list(columns[3]), 4),
            "root_u": one_hot(list(columns[4]), 4),
            "root_v": one_hot(list(columns[5]), 4),
            "mask_u": columns[6],
            "mask_v": columns[7],
            "phase": one_hot(list(columns[8]), 3),
        },
    )
    assert_probes(trajectory.outputs, {"in_mst": three})
    assert trajectory.outputs["in_mst"].dtype == np.float64


def test_kruskal_on_a_forest_with_equal_weights():
    A = undirected(5, [(0, 1, 0.5), (2, 3, 0.5), (3, 4, 0.5), (2, 4, 0.5)])
    in_mst = mst_kruskal(A).outputs["in_mst"]
    # Two components; of the triangle 2-3-4 any two edges form a tree.
    assert in_mst[0, 1] == 1
    assert in_mst[[2, 3, 2], [3, 4, 4]].sum() == 2
    assert in_mst.sum() == 2 * 3


def test_kruskal_on_one_node_with_a_self_loop():
    trajectory = mst_kruskal(np.array([[0.7]]))
    assert_probes(trajectory.inputs, {"pos": [0.0], "A": [[0.7]], "adj": [[1.0]]})
    assert_probes(
        trajectory.hints,
        {
            "in_mst_h": [[[0]]],
            "pi": [[0]],
            "u": [[1]],
            "v": [[1]],
            "root_u": [[1]],
            "root_v": [[1]],
            "mask_u": [[0]],
            "mask_v": [[0]],
            "phase": [[1, 0, 0]],
        },
    )
    assert_probes(trajectory.outputs, {"in_mst": [[0]]})


def test_prim_golden():
    # From 0: 2 joins by 0-2 (1), then 1 by 2-1 (2, beating 0-1 at 3), then 3
    # by 1-3 (4, beating 2-3 at 5).
    A = undirected(4, [(0, 1, 3.0), (0, 2, 1.0), (1, 2, 2.0), (1, 3, 4.0), (2, 3, 5.0)])
    trajectory = mst_prim(A, 0)
    assert_probes(
        trajectory.hints,
        {
            "pi_h": [[0, 1, 2, 3], [0, 0, 0, 3], [0, 2, 0, 2], [0, 2, 0, 1], [0, 2, 0, 1]],
            "key": [[0, 0, 0, 0], [0, 3, 1, 0], [0, 2, 1, 5], [0, 2, 1, 4], [0, 2, 1, 4]],
            "mark": [[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1]],
            "in_queue": [[1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
            "u": one_hot([0, 0, 2, 1, 3], 4),
        },
    )
    assert_probes(trajectory.outputs, {"pi": [0, 2, 0, 1]})


def test_prim_on_a_disconnected_graph():
    # 0-1 (2) and 2-3 (1): from 0 only 0 and 1 are extracted.
    trajectory = mst_prim(undirected(4, [(0, 1, 2.0), (2, 3, 1.0)]), 0)
    assert_probes(
        trajectory.hints,
        {
            "pi_h": [[0, 1, 2, 3], [0, 0, 2, 3], [0, 0, 2, 3]],
            "key": [[0, 0, 0, 0], [0, 2, 0, 0], [0, 2, 0, 0]],
            "mark": [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]],
            "in_queue": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]],
            "u": one_hot([0, 0, 1], 4),
        },
    )
    assert_probes(trajectory.outputs, {"pi": [0, 0, 2, 3]})


def test_prim_on_one_node():
    trajectory = mst_prim(np.array([[0.0]]), 0)
    assert_probes(trajectory.outputs, {"pi": [0]})
    assert trajectory.length == 2


# --- Properties against networkx -----------------------------------------------------


def random_undirected(rng, n, negative=False):
    """Symmetric weights with self-loops; truncated to one decimal, so ties happen."""
    weights = np.trunc(rng.uniform(0.1, 1.0, size=(n, n)) * 10) / 10
    if negative:
        weights -= 0.5
    A = (rng.random((n, n)) < rng.uniform(0.1, 0.7)) * weights
    return np.triu(A) + np.triu(A, 1).T


def forest_weight(graph):
    return nx.minimum_spanning_tree(graph).size(weight="weight")


def test_kruskal_finds_a_minimum_spanning_forest():
    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(1, 14))
        A = random_undirected(rng, n)
        A_before = A.copy()
        trajectory = mst_kruskal(A)
        np.testing.assert_array_equal(A, A_before)
        assert clrs.execute("mst_kruskal", graph_inputs(A)).equals(trajectory)
        in_mst = trajectory.outputs["in_mst"]
        graph = to_networkx(A, directed=False)
        np.testing.assert_array_equal(in_mst, in_mst.T)
        assert not np.diagonal(in_mst).any()
        assert (A[in_mst == 1] > 0).all()
        forest = to_networkx(A * in_mst, directed=False)
        assert nx.is_forest(forest)
        assert nx.number_connected_components(forest) == nx.number_connected_components(graph)
        assert forest.size(weight="weight") == pytest.approx(forest_weight(graph))


@pytest.mark.parametrize("negative", [False, True])
def test_prim_finds_a_minimum_spanning_tree_of_the_source_component(negative):
    rng = np.random.default_rng(1)
    for _ in range(40):
        n = int(rng.integers(1, 14))
        A = random_undirected(rng, n, negative)
        s = int(rng.integers(n))
        A_before = A.copy()
        trajectory = mst_prim(A, s)
        np.testing.assert_array_equal(A, A_before)
        assert clrs.execute("mst_prim", graph_inputs(A, s=one_hot(s, n))).equals(trajectory)
        pi = trajectory.outputs["pi"]
        graph = to_networkx(A, directed=False)
        component = nx.node_connected_component(graph, s)
        tree = nx.Graph()
        tree.add_nodes_from(component)
        for v in range(n):
            if v in component and v != s:
                assert A[v, pi[v]] != 0
                tree.add_edge(v, int(pi[v]), weight=A[v, pi[v]])
            else:
                assert pi[v] == v
        assert nx.is_tree(tree)
        expected = forest_weight(graph.subgraph(component))
        assert tree.size(weight="weight") == pytest.approx(expected)


# --- Rejected inputs ----------------------------------------------------------------


def test_directed_graphs_are_rejected():
    A = undirected(3, [(0, 1, 1.0), (1, 2, 2.0)])
    A[0, 2] = 0.5
    with pytest.raises(ValueError, match="mst_kruskal: A is not symmetric"):
        mst_kruskal(A)
    with pytest.raises(ValueError, match="mst_prim: A is not symmetric"):
        mst_prim(A, 0)


def test_kruskal_rejects_negative_weights():
    # Its edges are the positive entries of A: a negative edge would be dropped.
    A = undirected(3, [(0, 1, 1.0), (1, 2, -2.0)])
    with pytest.raises(ValueError, match=r"mst_kruskal: A\[1, 2\] = -2.0 is negative"):
        mst_kruskal(A)
