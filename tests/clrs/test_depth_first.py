"""DFS and the algorithms built on it: golden cases worked out by hand, and properties.

The golden hint sequences follow the reference's iterative DFS: after a new
root (``s = u = v = s_last``), a discovery (times count in steps of 0.01), a
push of the first white neighbour, a finish; a scan that finds no white
neighbour leaves ``v`` on the last node.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from tests.clrs.helpers import graph_inputs, indices, to_networkx
from transnar import clrs
from transnar.clrs.algorithms.depth_first import (
    articulation_points,
    bridges,
    dag_shortest_paths,
    dfs,
    strongly_connected_components,
    topological_sort,
)


def _times(*steps) -> np.ndarray:
    """Times as multiples of the 0.01 time step."""
    return np.array(steps) * 0.01


def _undirected(n: int, edges) -> np.ndarray:
    A = np.zeros((n, n), dtype=int)
    for i, j in edges:
        A[i, j] = A[j, i] = 1
    return A


# --- Golden cases ---------------------------------------------------------------


def test_dfs_golden_disconnected_with_self_loop():
    # 0 -> 2, 2 -> 0, 2 -> 2 (self-loop), 3 -> 1; trees {0, 2}, {1}, {3}.
    A = np.array([[0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0]])
    t = dfs(A)
    np.testing.assert_array_equal(t.inputs["pos"], [0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(t.inputs["A"], A)
    np.testing.assert_array_equal(
        t.inputs["adj"], [[1, 0, 1, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1]]
    )
    np.testing.assert_array_equal(t.outputs["pi"], [0, 1, 0, 3])
    assert t.length == 12
    h = t.hints
    np.testing.assert_array_equal(h["pi_h"], [[0, 1, 2, 3]] * 2 + [[0, 1, 0, 3]] * 10)
    assert indices(h["color"]) == [
        [0, 0, 0, 0],
        [1, 0, 0, 0],
        [1, 0, 1, 0],
        [1, 0, 1, 0],
        [1, 0, 2, 0],
        [2, 0, 2, 0],
        [2, 0, 2, 0],
        [2, 1, 2, 0],
        [2, 2, 2, 0],
        [2, 2, 2, 0],
        [2, 2, 2, 1],
        [2, 2, 2, 2],
    ]
    np.testing.assert_allclose(
        h["d"],
        _times(
            [0, 0, 0, 0],
            [1, 0, 0, 0],
            [1, 0, 0, 0],
            *[[1, 0, 2, 0]] * 4,
            *[[1, 5, 2, 0]] * 3,
            *[[1, 5, 2, 7]] * 2,
        ),
    )
    np.testing.assert_allclose(
        h["f"],
        _times(
            *[[0, 0, 0, 0]] * 4,
            [0, 0, 3, 0],
            *[[4, 0, 3, 0]] * 3,
            *[[4, 6, 3, 0]] * 3,
            [4, 6, 3, 8],
        ),
    )
    np.testing.assert_allclose(h["time"], _times(0, 1, 1, 2, 3, 4, 4, 5, 6, 6, 7, 8))
    np.testing.assert_array_equal(
        h["s_prev"], [[0, 1, 2, 3]] * 2 + [[0, 1, 0, 3]] * 3 + [[0, 1, 2, 3]] * 7
    )
    assert indices(h["s"]) == [0, 0, 0, 0, 0, 0, 1, 1, 1, 3, 3, 3]
    assert indices(h["u"]) == [0, 0, 0, 2, 2, 0, 1, 1, 1, 3, 3, 3]
    assert indices(h["v"]) == [0, 0, 2, 2, 3, 3, 1, 1, 3, 3, 3, 3]
    assert indices(h["s_last"]) == [0, 0, 2, 2, 2, 0, 1, 1, 1, 3, 3, 3]


def test_topological_sort_golden():
    # 0 -> 1, 2 -> 0: the order is 2, 0, 1. Without times, only roots get a
    # discovery step.
    A = np.array([[0, 1, 0], [0, 0, 0], [1, 0, 0]])
    t = topological_sort(A)
    np.testing.assert_array_equal(t.outputs["topo"], [1, 1, 0])
    assert indices(t.outputs["topo_head"]) == 2
    assert t.length == 8
    h = t.hints
    np.testing.assert_array_equal(h["topo_h"], [[0, 1, 2]] * 4 + [[1, 1, 2]] * 3 + [[1, 1, 0]])
    assert indices(h["topo_head_h"]) == [0, 0, 0, 1, 0, 0, 0, 2]
    assert indices(h["color"]) == [
        [0, 0, 0],
        [1, 0, 0],
        [1, 1, 0],
        [1, 2, 0],
        [2, 2, 0],
        [2, 2, 0],
        [2, 2, 1],
        [2, 2, 2],
    ]
    np.testing.assert_array_equal(h["s_prev"], [[0, 1, 2]] * 2 + [[0, 0, 2]] * 2 + [[0, 1, 2]] * 4)
    assert indices(h["s"]) == [0, 0, 0, 0, 0, 2, 2, 2]
    assert indices(h["u"]) == [0, 0, 0, 1, 0, 2, 2, 2]
    assert indices(h["v"]) == [0, 0, 1, 2, 2, 2, 2, 2]
    assert indices(h["s_last"]) == [0, 0, 1, 1, 0, 2, 2, 2]


def test_strongly_connected_components_golden():
    # 0 <-> 1, 1 -> 2: components {0, 1} and {2}.
    A = np.array([[0, 1, 0], [1, 0, 1], [0, 0, 0]])
    t = strongly_connected_components(A)
    np.testing.assert_array_equal(t.outputs["scc_id"], [0, 0, 2])
    assert t.length == 17
    h = t.hints
    # Phase 0: DFS of A (hints 0-8); phase 1: DFS of A^T by decreasing f
    # (0, 1, 2), where only the roots 0 and 2 get a discovery step.
    np.testing.assert_array_equal(h["phase"], [0] * 9 + [1] * 8)
    np.testing.assert_array_equal(h["A_t"], [[[1, 1, 0], [1, 1, 0], [0, 1, 1]]] * 17)
    np.testing.assert_array_equal(h["scc_id_h"], [[0, 1, 2]] * 12 + [[0, 0, 2]] * 5)
    assert indices(h["color"]) == [
        [0, 0, 0],
        [1, 0, 0],
        [1, 1, 0],
        [1, 1, 0],
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 2],
        [1, 2, 2],
        [2, 2, 2],
        [0, 0, 0],
        [1, 0, 0],
        [1, 1, 0],
        [1, 2, 0],
        [2, 2, 0],
        [2, 2, 0],
        [2, 2, 1],
        [2, 2, 2],
    ]
    np.testing.assert_allclose(
        h["d"],
        _times(
            [0, 0, 0],
            *[[1, 0, 0]] * 2,
            *[[1, 2, 0]] * 2,
            *[[1, 2, 3]] * 5,
            *[[7, 2, 3]] * 5,
            *[[7, 2, 10]] * 2,
        ),
    )
    np.testing.assert_allclose(
        h["f"],
        _times(
            *[[0, 0, 0]] * 6,
            *[[0, 0, 4]],
            *[[0, 5, 4]],
            *[[6, 5, 4]] * 4,
            [6, 8, 4],
            *[[9, 8, 4]] * 3,
            [9, 8, 11],
        ),
    )
    np.testing.assert_allclose(
        h["time"], _times(0, 1, 1, 2, 2, 3, 4, 5, 6, 6, 7, 7, 8, 9, 9, 10, 11)
    )
    np.testing.assert_array_equal(
        h["s_prev"],
        [[0, 1, 2]] * 2
        + [[0, 0, 2]] * 2
        + [[0, 0, 1]] * 3
        + [[0, 0, 2]]
        + [[0, 1, 2]] * 3
        + [[0, 0, 2]] * 2
        + [[0, 1, 2]] * 4,
    )
    assert indices(h["s"]) == [0] * 14 + [2] * 3
    assert indices(h["u"]) == [0, 0, 0, 1, 1, 2, 2, 1, 0, 0, 0, 0, 1, 0, 2, 2, 2]
    assert indices(h["v"]) == [0, 0, 1, 1, 2, 2, 2, 2, 2, 0, 0, 1, 2, 2, 2, 2, 2]
    assert indices(h["s_last"]) == [0, 0, 1, 1, 2, 2, 2, 1, 0, 0, 0, 1, 1, 0, 2, 2, 2]


# The path 0 - 1 - 2: node 1 is the cut vertex, both edges are bridges. The
# shared DFS state of the two algorithms, hint by hint.
PATH = _undirected(3, [(0, 1), (1, 2)])
PATH_PI = [[0, 1, 2]] * 2 + [[0, 0, 2]] * 2 + [[0, 0, 1]] * 7
PATH_COLOR = [
    [0, 0, 0],
    [1, 0, 0],
    [1, 1, 0],
    [1, 1, 0],
    [1, 1, 1],
    [1, 1, 1],
    [1, 1, 2],
    [1, 1, 2],
    [1, 2, 2],
    [1, 2, 2],
    [2, 2, 2],
]
PATH_D = [[0, 0, 0]] + [[1, 0, 0]] * 2 + [[1, 2, 0]] * 2 + [[1, 2, 3]] * 6
PATH_F = [[0, 0, 0]] * 6 + [[0, 0, 4]] * 2 + [[0, 5, 4]] * 2 + [[6, 5, 4]]
PATH_LOW = PATH_D  # no back edge lowers anything on a path
PATH_TIME = [0, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6]
PATH_S_PREV = (
    [[0, 1, 2]] * 2 + [[0, 0, 2]] * 2 + [[0, 0, 1]] * 3 + [[0, 0, 2]] * 2 + [[0, 1, 2]] * 2
)
# Hint 7 and 9: u rescans its neighbours after a child returned and sees a
# non-tree edge (2 from 1, 1 from the root 0); its parent is skipped.
PATH_U = [0, 0, 0, 1, 1, 2, 2, 1, 1, 0, 0]
PATH_V = [0, 0, 1, 1, 2, 2, 2, 2, 2, 1, 2]
PATH_S_LAST = [0, 0, 1, 1, 2, 2, 2, 1, 1, 0, 0]


def _assert_path_dfs_state(h: dict) -> None:
    np.testing.assert_array_equal(h["pi_h"], PATH_PI)
    assert indices(h["color"]) == PATH_COLOR
    np.testing.assert_allclose(h["d"], _times(*PATH_D))
    np.testing.assert_allclose(h["f"], _times(*PATH_F))
    np.testing.assert_allclose(h["low"], _times(*PATH_LOW))
    np.testing.assert_allclose(h["time"], _times(*PATH_TIME))
    np.testing.assert_array_equal(h["s_prev"], PATH_S_PREV)
    assert indices(h["s"]) == [0] * 11
    assert indices(h["u"]) == PATH_U
    assert indices(h["v"]) == PATH_V
    assert indices(h["s_last"]) == PATH_S_LAST


def test_articulation_points_golden():
    t = articulation_points(PATH)
    np.testing.assert_array_equal(t.outputs["is_cut"], [0, 1, 0])
    assert t.length == 11
    _assert_path_dfs_state(t.hints)
    np.testing.assert_array_equal(t.hints["is_cut_h"], [[0, 0, 0]] * 8 + [[0, 1, 0]] * 3)
    np.testing.assert_allclose(
        t.hints["child_cnt"], _times(*[[0, 0, 0]] * 2, *[[1, 0, 0]] * 2, *[[1, 1, 0]] * 7)
    )


def test_bridges_golden():
    t = bridges(PATH)
    unmarked = [[0, 0, -1], [0, 0, 0], [-1, 0, 0]]
    one = [[0, 0, -1], [0, 0, 1], [-1, 1, 0]]
    both = [[0, 1, -1], [1, 0, 1], [-1, 1, 0]]
    np.testing.assert_array_equal(t.outputs["is_bridge"], both)
    assert t.length == 11
    _assert_path_dfs_state(t.hints)
    np.testing.assert_array_equal(t.hints["is_bridge_h"], [unmarked] * 8 + [one] * 2 + [both])


def test_dag_shortest_paths_golden():
    # 0 -> 1 (0.5), 0 -> 2 (0.2), 2 -> 1 (0.1), from 0: the path to 1 goes through 2.
    A = np.array([[0, 0.5, 0.2], [0, 0, 0], [0, 0.1, 0]])
    t = dag_shortest_paths(A, 0)
    assert list(t.inputs) == ["pos", "s", "A", "adj"]
    assert indices(t.inputs["s"]) == 0
    np.testing.assert_array_equal(t.outputs["pi"], [0, 2, 0])
    assert t.length == 10
    h = t.hints
    np.testing.assert_array_equal(h["phase"], [0] * 7 + [1] * 3)
    np.testing.assert_array_equal(h["topo_h"], [[0, 1, 2]] * 5 + [[0, 1, 1]] + [[2, 1, 1]] * 4)
    assert indices(h["topo_head_h"]) == [0, 0, 0, 1, 1, 2, 0, 0, 2, 1]
    assert indices(h["color"]) == [
        [0, 0, 0],
        [1, 0, 0],
        [1, 1, 0],
        [1, 2, 0],
        [1, 2, 1],
        [1, 2, 2],
        *[[2, 2, 2]] * 4,
    ]
    np.testing.assert_array_equal(
        h["s_prev"],
        [[0, 1, 2]] * 2 + [[0, 0, 2]] * 2 + [[0, 1, 0]] * 2 + [[0, 1, 2]] * 4,
    )
    assert indices(h["u"]) == [0, 0, 0, 1, 0, 2, 0, 0, 0, 0]
    assert indices(h["v"]) == [0, 0, 1, 2, 2, 2, 2, 2, 2, 2]
    assert indices(h["s_last"]) == [0, 0, 1, 1, 2, 2, 0, 0, 0, 0]
    np.testing.assert_array_equal(h["pi_h"], [[0, 1, 2]] * 8 + [[0, 0, 0], [0, 2, 0]])
    np.testing.assert_allclose(h["d"], [[0, 0, 0]] * 8 + [[0, 0.5, 0.2], [0, 0.2 + 0.1, 0.2]])
    np.testing.assert_array_equal(h["mark"], [[0, 0, 0]] * 7 + [[1, 0, 0]] + [[1, 1, 1]] * 2)


@pytest.mark.parametrize(
    ("algorithm", "A", "length", "output"),
    [
        ("dfs", [[0]], 3, ("pi", [0])),
        ("dfs", [[1]], 3, ("pi", [0])),
        ("topological_sort", [[0]], 3, ("topo", [0])),
        ("strongly_connected_components", [[1]], 6, ("scc_id", [0])),
        ("articulation_points", [[1]], 3, ("is_cut", [0])),
        ("bridges", [[1]], 3, ("is_bridge", [[0]])),
        ("dag_shortest_paths", [[0]], 4, ("pi", [0])),
    ],
)
def test_single_node(algorithm, A, length, output):
    """The smallest graph: a start, a discovery and a finish (and the other phase)."""
    inputs = {"A": np.array(A), "adj": np.ones((1, 1))}
    if algorithm == "dag_shortest_paths":
        inputs["s"] = np.ones(1)
    t = clrs.execute(algorithm, inputs)
    assert t.length == length
    name, expected = output
    np.testing.assert_array_equal(t.outputs[name], expected)
    clrs.check_trajectory(t)


def test_single_edge():
    directed = np.array([[0, 1], [0, 0]])
    np.testing.assert_array_equal(dfs(directed).outputs["pi"], [0, 0])
    t = topological_sort(directed)
    np.testing.assert_array_equal(t.outputs["topo"], [1, 1])
    assert indices(t.outputs["topo_head"]) == 0
    np.testing.assert_array_equal(strongly_connected_components(directed).outputs["scc_id"], [0, 1])
    t = dag_shortest_paths(directed * 0.7, 0)
    np.testing.assert_array_equal(t.outputs["pi"], [0, 0])
    np.testing.assert_allclose(t.hints["d"][-1], [0, 0.7])
    undirected = _undirected(2, [(0, 1)])
    np.testing.assert_array_equal(articulation_points(undirected).outputs["is_cut"], [0, 0])
    np.testing.assert_array_equal(bridges(undirected).outputs["is_bridge"], [[0, 1], [1, 0]])


def test_cut_vertices_and_bridges_golden():
    # A triangle 0-1-2 with a pendant 3 on 2, and a star 4-5, 4-6 (root 4 has
    # two children), plus an isolated node 7.
    A = _undirected(8, [(0, 1), (1, 2), (0, 2), (2, 3), (4, 5), (4, 6)])
    np.testing.assert_array_equal(
        articulation_points(A).outputs["is_cut"], [0, 0, 1, 0, 1, 0, 0, 0]
    )
    is_bridge = bridges(A).outputs["is_bridge"]
    assert sorted(map(tuple, np.argwhere(is_bridge == 1).tolist())) == [
        (2, 3),
        (3, 2),
        (4, 5),
        (4, 6),
        (5, 4),
        (6, 4),
    ]
    np.testing.assert_array_equal(is_bridge == -1, (A + np.eye(8)) == 0)


# --- Inputs given to execute ------------------------------------------------------


def test_execute_rejects_cyclic_graphs_for_topological_orders():
    cycle = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"needs a directed acyclic graph.*nodes \[0, 1, 2\]"):
        clrs.execute("topological_sort", graph_inputs(cycle))
    with pytest.raises(ValueError, match="self-loop counts"):
        clrs.execute("topological_sort", graph_inputs(np.diag([0, 1])))
    with pytest.raises(ValueError, match="dag_shortest_paths needs a directed acyclic"):
        clrs.execute("dag_shortest_paths", graph_inputs(cycle * 0.5, s=np.eye(3)[1]))


def test_dag_shortest_paths_accepts_a_cycle_it_cannot_reach():
    A = np.zeros((4, 4))
    A[0, 1] = 0.3
    A[2, 3] = A[3, 2] = 0.5  # a cycle, not reachable from 0
    t = clrs.execute("dag_shortest_paths", graph_inputs(A, s=np.eye(4)[0]))
    np.testing.assert_array_equal(t.outputs["pi"], [0, 0, 2, 3])


def test_dag_shortest_paths_rejects_a_masked_source():
    A = np.array([[0, 0.5], [0, 0]])
    with pytest.raises(ValueError, match="'s' must be one-hot"):
        clrs.execute("dag_shortest_paths", graph_inputs(A, s=np.array([-1, 0])))


@pytest.mark.parametrize("algorithm", ["articulation_points", "bridges"])
def test_execute_rejects_directed_graphs_for_undirected_algorithms(algorithm):
    with pytest.raises(ValueError, match="needs an undirected graph"):
        clrs.execute(algorithm, graph_inputs([[0, 1], [0, 0]]))


# --- Properties against independent computations -----------------------------


def _graphs(algorithm: str, sizes=range(2, 13), seeds=range(3)):
    """Sampled arguments at several sizes and edge probabilities."""
    min_size = clrs.SAMPLERS[algorithm].min_size
    for size in sizes:
        for seed in seeds:
            if size < min_size:
                continue
            sampler = clrs.build_sampler(algorithm, size, seed, p=(0.1, 0.3, 0.5, 0.8))
            for _ in range(2):
                yield sampler.draw_arguments()


def _recursive_dfs(A: np.ndarray):
    """Textbook recursive DFS (CLRS 22.3), neighbours in index order: pi and the
    discovery and finishing ranks."""
    n = len(A)
    pi = list(range(n))
    d, f = [0] * n, [0] * n
    color = [0] * n
    clock = 0

    def visit(u):
        nonlocal clock
        clock += 1
        d[u] = clock
        color[u] = 1
        for v in range(n):
            if A[u, v] != 0 and color[v] == 0:
                pi[v] = u
                visit(v)
        color[u] = 2
        clock += 1
        f[u] = clock

    for root in range(n):
        if color[root] == 0:
            visit(root)
    return pi, d, f


def test_dfs_matches_the_recursive_textbook_dfs():
    for (A,) in _graphs("dfs"):
        t = dfs(A)
        pi, d, f = _recursive_dfs(A)
        np.testing.assert_array_equal(t.outputs["pi"], pi)
        np.testing.assert_allclose(t.hints["d"][-1], _times(*d))
        np.testing.assert_allclose(t.hints["f"][-1], _times(*f))
        # pi is a DFS forest of A: tree edges are edges, no edge leads from a
        # node to one discovered after the node finished.
        children = np.flatnonzero(t.outputs["pi"] != np.arange(len(A)))
        assert (A[t.outputs["pi"][children], children] != 0).all()
        u, v = np.nonzero(A)
        assert (np.array(d)[v] < np.array(f)[u]).all()


def test_topological_order_is_valid():
    for (A,) in _graphs("topological_sort"):
        t = topological_sort(A)
        order = [indices(t.outputs["topo_head"])]
        while t.outputs["topo"][order[-1]] != order[-1]:
            order.append(int(t.outputs["topo"][order[-1]]))
        assert sorted(order) == list(range(len(A)))
        position = np.argsort(order)
        u, v = np.nonzero(A)
        assert (position[u] < position[v]).all()


def test_strongly_connected_components_match_networkx():
    for (A,) in _graphs("strongly_connected_components", seeds=range(4)):
        scc_id = strongly_connected_components(A).outputs["scc_id"]
        ours = {frozenset(np.flatnonzero(scc_id == root).tolist()) for root in set(scc_id)}
        graph = to_networkx(A, directed=True)
        assert ours == {frozenset(c) for c in nx.strongly_connected_components(graph)}
        assert (scc_id[scc_id] == scc_id).all()  # each component points to a member


def _components(A: np.ndarray, removed_node=None, removed_edge=None) -> int:
    graph = to_networkx(A, directed=False)
    if removed_node is not None:
        graph.remove_node(removed_node)
    if removed_edge is not None:
        graph.remove_edge(*removed_edge)
    return nx.number_connected_components(graph)


def test_articulation_points_match_brute_force_removal():
    for (A,) in _graphs("articulation_points", sizes=range(2, 11)):
        before = _components(A)
        expected = [_components(A, removed_node=v) > before for v in range(len(A))]
        np.testing.assert_array_equal(articulation_points(A).outputs["is_cut"], expected)


def test_bridges_match_brute_force_removal():
    for (A,) in _graphs("bridges", sizes=range(2, 11)):
        before = _components(A)
        expected = (A + np.eye(len(A)) != 0) - 1.0
        for u, v in zip(*np.nonzero(np.triu(A, k=1)), strict=True):
            expected[u, v] = expected[v, u] = _components(A, removed_edge=(u, v)) > before
        np.testing.assert_array_equal(bridges(A).outputs["is_bridge"], expected)


def _bellman_ford(A: np.ndarray, s: int) -> np.ndarray:
    dist = np.full(len(A), np.inf)
    dist[s] = 0
    for _ in range(len(A)):
        for u, v in zip(*np.nonzero(A), strict=True):
            dist[v] = min(dist[v], dist[u] + A[u, v])
    return dist


def test_dag_shortest_paths_match_bellman_ford():
    for A, s in _graphs("dag_shortest_paths"):
        t = dag_shortest_paths(A, s)
        dist = _bellman_ford(A, s)
        reached = np.isfinite(dist)
        np.testing.assert_allclose(t.hints["d"][-1][reached], dist[reached])
        np.testing.assert_array_equal(t.hints["mark"][-1], reached)
        pi = t.outputs["pi"]
        others = np.flatnonzero(reached & (np.arange(len(A)) != s))
        assert (A[pi[others], others] != 0).all()
        np.testing.assert_allclose(dist[pi[others]] + A[pi[others], others], dist[others])
        np.testing.assert_array_equal(pi[~reached], np.flatnonzero(~reached))
        assert pi[s] == s
