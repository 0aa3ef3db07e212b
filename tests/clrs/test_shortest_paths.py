"""BFS, Bellman-Ford, Dijkstra and Floyd-Warshall: golden hint sequences worked
out by hand from the algorithms' definitions, properties against networkx, and
the inputs they reject."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from tests.clrs.helpers import assert_probes, graph_inputs, one_hot, to_networkx
from transnar import clrs
from transnar.clrs.algorithms.shortest_paths import bellman_ford, bfs, dijkstra, floyd_warshall

# Undirected, unweighted: 0-1, 0-2, 1-3, 2-3, a self-loop at 2, node 4 isolated.
BFS_GRAPH = np.array(
    [
        [0, 1, 1, 0, 0],
        [1, 0, 0, 1, 0],
        [1, 0, 1, 1, 0],
        [0, 1, 1, 0, 0],
        [0, 0, 0, 0, 0],
    ]
)

# Undirected, weighted: 0-1 (4), 0-2 (1), 1-2 (2), 1-3 (1).  From 0 the
# shortest paths are 0-2 (1), 0-2-1 (3) and 0-2-1-3 (4).
WEIGHTED = np.array(
    [
        [0.0, 4.0, 1.0, 0.0],
        [4.0, 0.0, 2.0, 1.0],
        [1.0, 2.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
    ]
)


def with_isolated_node(A):
    n = A.shape[0]
    out = np.zeros((n + 1, n + 1))
    out[:n, :n] = A
    return out


# --- Golden cases ---------------------------------------------------------------


def test_bfs_golden():
    trajectory = bfs(BFS_GRAPH, 0)
    assert_probes(
        trajectory.inputs,
        {
            "pos": [0.0, 0.2, 0.4, 0.6, 0.8],
            "s": [1.0, 0.0, 0.0, 0.0, 0.0],
            "A": BFS_GRAPH,
            # Edges plus the whole diagonal; the self-loop at 2 changes nothing.
            "adj": [
                [1, 1, 1, 0, 0],
                [1, 1, 0, 1, 0],
                [1, 0, 1, 1, 0],
                [0, 1, 1, 1, 0],
                [0, 0, 0, 0, 1],
            ],
        },
    )
    assert trajectory.inputs["A"].dtype == np.int64
    assert trajectory.inputs["adj"].dtype == np.float64
    # Level 1 reaches 1 and 2 from 0; level 2 reaches 3 from both 1 and 2,
    # and the lower index, 1, becomes its parent; then nothing new; 4 is
    # never reached.
    assert_probes(
        trajectory.hints,
        {
            "reach_h": [[1, 0, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]],
            "pi_h": [[0, 1, 2, 3, 4], [0, 0, 0, 3, 4], [0, 0, 0, 1, 4]],
        },
    )
    assert_probes(trajectory.outputs, {"pi": [0, 0, 0, 1, 4]})
    assert trajectory.outputs["pi"].dtype == np.int64


def test_bfs_from_an_isolated_node_and_on_one_node():
    trajectory = bfs(BFS_GRAPH, 4)
    assert_probes(trajectory.hints, {"reach_h": [[0, 0, 0, 0, 1]], "pi_h": [[0, 1, 2, 3, 4]]})
    assert_probes(trajectory.outputs, {"pi": [0, 1, 2, 3, 4]})
    single = bfs(np.array([[1]]), 0)
    assert_probes(single.hints, {"reach_h": [[1]], "pi_h": [[0]]})
    assert_probes(single.outputs, {"pi": [0]})


def test_bellman_ford_golden():
    trajectory = bellman_ford(WEIGHTED, 0)
    # Round 1 reaches 1 (4) and 2 (1) from 0.  Round 2 reads the round-1
    # distances: 3 is first reached from 1 (4 + 1 = 5) and 1 improves via 2
    # (1 + 2 = 3).  Round 3: 3 improves via 1 (3 + 1 = 4).  Round 4 changes
    # nothing.
    assert_probes(
        trajectory.hints,
        {
            "pi_h": [[0, 1, 2, 3], [0, 0, 0, 3], [0, 2, 0, 1], [0, 2, 0, 1]],
            "d": [[0, 0, 0, 0], [0, 4, 1, 0], [0, 3, 1, 5], [0, 3, 1, 4]],
            "msk": [[1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]],
        },
    )
    assert_probes(trajectory.outputs, {"pi": [0, 2, 0, 1]})


def test_bellman_ford_equal_candidates_keep_the_lowest_predecessor():
    # A square 0-1-3-2-0 of unit weights: 3 is reached at distance 2 from
    # both 1 and 2 in the same round.
    A = np.zeros((4, 4))
    for u, v in ((0, 1), (0, 2), (1, 3), (2, 3)):
        A[u, v] = A[v, u] = 1.0
    assert_probes(bellman_ford(A, 0).outputs, {"pi": [0, 0, 0, 1]})
    assert_probes(bellman_ford(A, 3).outputs, {"pi": [1, 3, 3, 3]})


def test_bellman_ford_stops_when_no_distance_changes():
    # Directed 0 -> 1 (0.5), 1 -> 2 (-0.5), 2 -> 3 (1).  Round 2 first reaches
    # 2 at distance exactly 0, the value unreached nodes hold, so no distance
    # changes and the rounds stop (as in the reference): 3 is never reached.
    A = np.zeros((4, 4))
    A[0, 1], A[1, 2], A[2, 3] = 0.5, -0.5, 1.0
    trajectory = bellman_ford(A, 0)
    assert_probes(
        trajectory.hints,
        {
            "pi_h": [[0, 1, 2, 3], [0, 0, 2, 3]],
            "d": [[0, 0, 0, 0], [0, 0.5, 0, 0]],
            "msk": [[1, 0, 0, 0], [1, 1, 0, 0]],
        },
    )
    assert_probes(trajectory.outputs, {"pi": [0, 0, 1, 3]})


def test_dijkstra_golden():
    trajectory = dijkstra(with_isolated_node(WEIGHTED), 0)
    # Extraction order 0 (0), 2 (1), 1 (3), 3 (4); then the queue is empty.
    assert_probes(
        trajectory.hints,
        {
            "pi_h": [
                [0, 1, 2, 3, 4],
                [0, 0, 0, 3, 4],
                [0, 2, 0, 3, 4],
                [0, 2, 0, 1, 4],
                [0, 2, 0, 1, 4],
            ],
            "d": [
                [0, 0, 0, 0, 0],
                [0, 4, 1, 0, 0],
                [0, 3, 1, 0, 0],
                [0, 3, 1, 4, 0],
                [0, 3, 1, 4, 0],
            ],
            "mark": [
                [0, 0, 0, 0, 0],
                [1, 0, 0, 0, 0],
                [1, 0, 1, 0, 0],
                [1, 1, 1, 0, 0],
                [1, 1, 1, 1, 0],
            ],
            "in_queue": [
                [1, 0, 0, 0, 0],
                [0, 1, 1, 0, 0],
                [0, 1, 0, 0, 0],
                [0, 0, 0, 1, 0],
                [0, 0, 0, 0, 0],
            ],
            "u": one_hot([0, 0, 2, 1, 3], 5),
        },
    )
    assert_probes(trajectory.outputs, {"pi": [0, 2, 0, 1, 4]})


def test_dijkstra_on_one_node():
    trajectory = dijkstra(np.array([[0.5]]), 0)
    assert_probes(
        trajectory.hints,
        {
            "pi_h": [[0], [0]],
            "d": [[0], [0]],
            "mark": [[0], [1]],
            "in_queue": [[1], [0]],
            "u": [[1], [1]],
        },
    )
    assert_probes(trajectory.outputs, {"pi": [0]})


# Undirected 0-1 (1), 1-2 (2), 0-2 (4), and a self-loop of weight 3 at 2.
TRIANGLE = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 2.0], [4.0, 2.0, 3.0]])


def test_floyd_warshall_golden():
    trajectory = floyd_warshall(TRIANGLE)
    assert_probes(
        trajectory.inputs,
        {"pos": [0, 1 / 3, 2 / 3], "A": TRIANGLE, "adj": np.ones((3, 3))},
    )
    # Through 0 nothing is shorter.  Through 1: 0-1-2 (3) beats 0-2 (4), so
    # Pi[0, 2] = Pi[1, 2] = 1, and symmetrically Pi[2, 0] = Pi[1, 0] = 1.
    # Through 2 nothing is shorter.  D[2, 2] keeps the self-loop weight.
    identity = [[0, 0, 0], [1, 1, 1], [2, 2, 2]]
    after_1 = [[0, 0, 1], [1, 1, 1], [1, 2, 2]]
    D_after_1 = [[0, 1, 3], [1, 0, 2], [3, 2, 3]]
    assert_probes(
        trajectory.hints,
        {
            "Pi_h": [identity, identity, after_1],
            "D": [TRIANGLE, TRIANGLE, D_after_1],
            "msk": np.ones((3, 3, 3)),
            "k": np.eye(3),
        },
    )
    assert_probes(trajectory.outputs, {"Pi": after_1})
    assert trajectory.outputs["Pi"].dtype == np.float64


def test_floyd_warshall_directed_path_and_unreachable_pairs():
    # Directed 0 -> 1 -> 2 (unit weights): only step 1 finds a new pair, 0 -> 2.
    A = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    trajectory = floyd_warshall(A)
    msk = [[1, 1, 0], [0, 1, 1], [0, 0, 1]]
    identity = [[0, 0, 0], [1, 1, 1], [2, 2, 2]]
    assert_probes(
        trajectory.hints,
        {
            "Pi_h": [identity, identity, [[0, 0, 1], [1, 1, 1], [2, 2, 2]]],
            "D": [A, A, [[0, 1, 2], [0, 0, 1], [0, 0, 0]]],
            "msk": [msk, msk, [[1, 1, 1], [0, 1, 1], [0, 0, 1]]],
            "k": np.eye(3),
        },
    )
    # Pi[0, 2] = 1; unreachable pairs keep Pi[i, j] = i.
    assert_probes(trajectory.outputs, {"Pi": [[0, 0, 1], [1, 1, 1], [2, 2, 2]]})


def test_floyd_warshall_on_one_node():
    trajectory = floyd_warshall(np.array([[0.0]]))
    assert_probes(trajectory.hints, {"Pi_h": [[[0]]], "D": [[[0]]], "msk": [[[1]]], "k": [[1]]})
    assert_probes(trajectory.outputs, {"Pi": [[0]]})


# --- Properties against networkx -----------------------------------------------------


def random_graph(rng, n, directed, weighted=True, p=0.4):
    """A random graph with self-loops; weights truncated to one decimal, so ties happen."""
    edges = rng.random((n, n)) < p
    weights = np.trunc(rng.uniform(0.1, 1.0, size=(n, n)) * 10) / 10 if weighted else 1
    A = edges * weights * 1.0
    if not directed:
        A = np.triu(A) + np.triu(A, 1).T
    return A


def random_cases(count=40):
    rng = np.random.default_rng(0)
    for index in range(count):
        n = int(rng.integers(1, 12))
        A = random_graph(rng, n, directed=index % 2 == 0, p=float(rng.uniform(0.1, 0.6)))
        yield A, int(rng.integers(n))


def check_shortest_path_tree(A, s, pi, d):
    """pi is a shortest-path tree of the nodes reachable from s; d are their distances."""
    lengths = nx.single_source_dijkstra_path_length(to_networkx(A, directed=True), s)
    for v in range(A.shape[0]):
        if v not in lengths:
            assert pi[v] == v
        elif v != s:
            assert A[pi[v], v] != 0
            assert d[v] == pytest.approx(lengths[v])
            assert d[v] == pytest.approx(d[pi[v]] + A[pi[v], v])
    assert pi[s] == s


@pytest.mark.parametrize("algorithm", [bellman_ford, dijkstra])
def test_single_source_distances_match_networkx(algorithm):
    for A, s in random_cases():
        A_before = A.copy()
        trajectory = algorithm(A, s)
        np.testing.assert_array_equal(A, A_before)
        inputs = graph_inputs(A, s=one_hot(s, len(A)))
        assert clrs.execute(algorithm.__name__, inputs).equals(trajectory)
        check_shortest_path_tree(A, s, trajectory.outputs["pi"], trajectory.hints["d"][-1])


def test_floyd_warshall_paths_match_networkx():
    for A, _ in random_cases():
        A_before = A.copy()
        trajectory = floyd_warshall(A)
        np.testing.assert_array_equal(A, A_before)
        assert clrs.execute("floyd_warshall", graph_inputs(A)).equals(trajectory)
        Pi = trajectory.outputs["Pi"].astype(int)
        lengths = dict(nx.all_pairs_dijkstra_path_length(to_networkx(A, directed=True)))
        n = A.shape[0]
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                if j not in lengths[i]:
                    assert Pi[i, j] == i
                    continue
                # Walk the predecessors back from j to i, summing the weights.
                total, node, steps = 0.0, j, 0
                while node != i:
                    assert A[Pi[i, node], node] != 0
                    total += A[Pi[i, node], node]
                    node = Pi[i, node]
                    steps += 1
                    assert steps < n
                assert total == pytest.approx(lengths[i][j])


@pytest.mark.parametrize("weighted", [False, True])
def test_bfs_tree_matches_networkx_levels(weighted):
    # BFS reads any nonzero weight as an edge.
    rng = np.random.default_rng(1)
    for index in range(40):
        n = int(rng.integers(1, 12))
        A = random_graph(rng, n, directed=index % 2 == 0, weighted=weighted)
        s = int(rng.integers(n))
        trajectory = bfs(A, s)
        assert clrs.execute("bfs", graph_inputs(A, s=one_hot(s, n))).equals(trajectory)
        pi = trajectory.outputs["pi"]
        levels = nx.single_source_shortest_path_length(to_networkx(A, directed=True), s)
        for v in range(n):
            if v in levels and v != s:
                assert A[pi[v], v] > 0
                assert levels[pi[v]] == levels[v] - 1
            else:
                assert pi[v] == v


# --- Rejected inputs ----------------------------------------------------------------


def test_negative_weights_are_rejected_where_the_algorithm_cannot_take_them():
    A = WEIGHTED.copy()
    A[1, 3] = -1.0
    with pytest.raises(ValueError, match=r"dijkstra: A\[1, 3\] = -1.0 is negative"):
        dijkstra(A, 0)
    with pytest.raises(ValueError, match=r"bfs: .* negative"):
        bfs(A, 0)


def test_negative_cycles_are_rejected():
    A = WEIGHTED.copy()
    A[1, 3] = A[3, 1] = -1.0  # undirected: 1-3-1 is a cycle of weight -2
    with pytest.raises(ValueError, match=r"bellman_ford: .* negative-weight cycle"):
        bellman_ford(A, 0)
    with pytest.raises(ValueError, match=r"floyd_warshall: .* negative-weight cycle"):
        floyd_warshall(A)


def test_negative_weights_without_negative_cycles_are_fine():
    A = np.zeros((3, 3))
    A[0, 1], A[1, 2], A[0, 2] = 2.0, -1.5, 1.0
    assert_probes(bellman_ford(A, 0).outputs, {"pi": [0, 0, 1]})
    assert_probes(floyd_warshall(A).outputs, {"Pi": [[0, 0, 1], [1, 1, 1], [2, 2, 2]]})


def test_bad_sources_and_shapes_are_rejected():
    with pytest.raises(ValueError, match="source node 5 is not in"):
        bfs(BFS_GRAPH, 5)
    with pytest.raises(ValueError, match="source node -1 is not in"):
        dijkstra(WEIGHTED, -1)
    with pytest.raises(ValueError, match=r"must be a non-empty \(N, N\) matrix"):
        floyd_warshall(np.zeros((2, 3)))


def test_execute_rejects_a_source_without_a_one():
    inputs = graph_inputs(WEIGHTED, s=[0, -1, 0, 0])
    with pytest.raises(ValueError, match="bellman_ford: input probe 's' must be one-hot"):
        clrs.execute("bellman_ford", inputs)
