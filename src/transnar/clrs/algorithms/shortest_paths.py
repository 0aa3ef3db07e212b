"""Breadth-first search and shortest paths (CLRS chapters 22.2, 24 and 25).

Every algorithm here takes a graph as an ``(N, N)`` matrix ``A``: ``A[u, v]``
is the weight of the edge ``u -> v`` (1 for an unweighted edge) and 0 means
"no edge"; the diagonal holds self-loops. The single-source algorithms also
take the source node ``s``. Pointers ``pi`` are predecessors in the search
tree, with the source and every unreached node pointing to itself.

Besides ``A``, each records the edge mask ``adj`` as an input (see
:mod:`~transnar.clrs.algorithms._graphs`).

Hints follow the reference step by step, including which of several equal
candidates wins: the first in node order, except where the reference picks
with ``np.argsort`` (see :func:`extract_min`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from transnar.clrs.algorithms._base import AlgorithmDef
from transnar.clrs.algorithms._graphs import (
    adjacency,
    check_graph,
    check_source,
    graph_arguments,
    graph_inputs,
    source_graph_arguments,
)
from transnar.clrs.probing import start_recording
from transnar.clrs.trajectory import Trajectory

# --- Helpers shared with spanning_trees ----------------------------------------


def extract_min(keys: np.ndarray, in_queue: np.ndarray) -> int:
    """EXTRACT-MIN over a queue kept as a mask: the queued node with the smallest key.

    Returns a node outside the queue when the queue is empty. Mirrors the
    reference, which pushes the nodes outside the queue back by 1e9 (so keys
    are taken to stay below that) and takes the first entry of ``np.argsort``.
    That sort is not stable, so among equal keys it may return any of them
    (not the first); equal keys are common once the weights are truncated, so
    the same call on the same array is needed.
    """
    return int((keys + (1.0 - in_queue) * 1e9).argsort()[0])


def best_first_search(
    algorithm: str,
    A: np.ndarray,
    s: int,
    key_name: str,
    edge_key: Callable[[float, np.ndarray], np.ndarray],
) -> Trajectory:
    """The skeleton shared by Dijkstra (CLRS 24.3) and Prim (CLRS 23.2).

    Nodes are extracted from a priority queue by smallest key, starting from
    ``s`` with key 0; when ``u`` is extracted, every unmarked neighbour ``v``
    whose key ``edge_key(key[u], A[u])[v]`` beats its current one (or that is
    not queued yet) is queued with ``u`` as predecessor. One hint before the
    first extraction and one after each: ``pi_h``, the keys (as ``key_name``),
    ``mark`` (extracted), ``in_queue`` and ``u`` (the node just extracted).

    Args:
        algorithm: ``"dijkstra"`` or ``"mst_prim"``.
        A: ``(N, N)`` weights; an edge is a nonzero entry.
        s: the source node.
        key_name: name of the key hint (``"d"`` or ``"key"``).
        edge_key: ``(key[u], A[u]) -> (N,)`` tentative keys of ``u``'s neighbours.
    """
    n = A.shape[0]
    recorder = start_recording(algorithm, graph_inputs(A, s))
    edges = A != 0
    key = np.zeros(n)
    mark = np.zeros(n)
    in_queue = np.zeros(n)
    pi = np.arange(n)
    in_queue[s] = 1

    def record(u: int) -> None:
        recorder.record_hint(
            {
                "pi_h": pi.copy(),
                key_name: key.copy(),
                "mark": mark.copy(),
                "in_queue": in_queue.copy(),
                "u": u,
            }
        )

    record(s)
    for _ in range(n):
        u = extract_min(key, in_queue)
        if not in_queue[u]:
            break
        mark[u] = 1
        in_queue[u] = 0
        tentative = edge_key(key[u], A[u])
        better = edges[u] & (mark == 0) & ((in_queue == 0) | (tentative < key))
        pi[better] = u
        key[better] = tentative[better]
        in_queue[better] = 1
        record(u)
    recorder.record_outputs({"pi": pi.copy()})
    return recorder.finish()


# --- The algorithms ------------------------------------------------------------


def bfs(A: np.ndarray, s: int) -> Trajectory:
    """Breadth-first search from ``s`` (CLRS 22.2), one hint per level.

    An edge is a positive entry of ``A``, so ``A`` must be non-negative. Each
    step reaches every node adjacent to a reached one; a newly reached node
    points to the reached neighbour of lowest index. Hints: ``reach_h``, the
    reached nodes, and ``pi_h``, recorded before each step up to the step
    that reaches nothing new.
    """
    check_graph("bfs", A, non_negative=True)
    n = A.shape[0]
    s = check_source("bfs", s, n)
    recorder = start_recording("bfs", graph_inputs(A, s))
    edges = A > 0
    reach = np.zeros(n)
    pi = np.arange(n)
    reach[s] = 1
    while True:
        recorder.record_hint({"reach_h": reach.copy(), "pi_h": pi.copy()})
        from_reached = edges & (reach == 1)[:, None]
        found = from_reached.any(axis=0) & (reach == 0)
        if not found.any():
            break
        pi[found] = np.argmax(from_reached[:, found], axis=0)  # the first True
        reach[found] = 1
    recorder.record_outputs({"pi": pi.copy()})
    return recorder.finish()


def bellman_ford(A: np.ndarray, s: int) -> Trajectory:
    """Bellman-Ford (CLRS 24.1) from ``s``, relaxing every edge once per round.

    Each round relaxes all edges out of the nodes reached so far, reading the
    distances of the previous round; a node first reached takes its best
    candidate, a reached node only a strictly shorter one, and among equal
    candidates the predecessor of lowest index. Rounds stop when no distance
    changes, which includes a round that only reaches new nodes at distance
    exactly 0 (as in the reference). Hints, before each round: ``pi_h``,
    ``d`` and ``msk`` (the reached nodes).

    Raises:
        ValueError: the distances do not settle within ``N`` rounds, i.e. a
            negative-weight cycle is reachable from ``s`` (the reference would
            loop forever).
    """
    check_graph("bellman_ford", A)
    n = A.shape[0]
    s = check_source("bellman_ford", s, n)
    recorder = start_recording("bellman_ford", graph_inputs(A, s))
    edges = A != 0
    nodes = np.arange(n)
    d = np.zeros(n)
    pi = np.arange(n)
    msk = np.zeros(n)
    msk[s] = 1
    # The arrays are replaced each round, never modified, so hints need no copy.
    for _ in range(n):
        recorder.record_hint({"pi_h": pi, "d": d, "msk": msk})
        relaxed = edges & (msk == 1)[:, None]
        through = np.where(relaxed, d[:, None] + A, np.inf)
        # The first of equal candidates, as the reference's strict < keeps it.
        best = through.argmin(axis=0)
        best_d = through[best, nodes]
        reached = relaxed.any(axis=0)
        better = reached & ((msk == 0) | (best_d < d))
        new_d = np.where(better, best_d, d)
        pi = np.where(better, best, pi)
        msk = np.where(reached, 1.0, msk)
        if (new_d == d).all():
            break
        d = new_d
    else:
        raise ValueError(
            f"bellman_ford: distances do not settle within {n} rounds; "
            f"a negative-weight cycle is reachable from node {s}"
        )
    recorder.record_outputs({"pi": pi})
    return recorder.finish()


def dijkstra(A: np.ndarray, s: int) -> Trajectory:
    """Dijkstra's algorithm (CLRS 24.3) from ``s``; ``A`` must be non-negative.

    See :func:`best_first_search`; the key of a node is its distance ``d``.
    """
    check_graph("dijkstra", A, non_negative=True)
    s = check_source("dijkstra", s, A.shape[0])
    return best_first_search("dijkstra", A, s, "d", _path_length)


def _path_length(d_u: float, weights: np.ndarray) -> np.ndarray:
    return d_u + weights


def floyd_warshall(A: np.ndarray) -> Trajectory:
    """Floyd-Warshall all-pairs shortest paths (CLRS 25.2).

    ``D`` starts as ``A``, so ``D[i, i]`` is the self-loop weight (0 without
    one), and ``msk`` as ``adj``: the pairs with a known path. Step ``k``
    lets paths pass through node ``k``: a pair takes the path through ``k``
    when it had none or when it is strictly shorter, and then ``Pi[i, j]``,
    the predecessor of ``j`` on the path from ``i``, becomes ``Pi[k, j]``.
    Hints, before each step: ``Pi_h``, ``D``, ``msk`` and ``k``.

    Raises:
        ValueError: the graph has a negative-weight cycle (some ``D[i, i]``
            ends negative), so shortest paths are undefined.
    """
    check_graph("floyd_warshall", A)
    n = A.shape[0]
    recorder = start_recording("floyd_warshall", graph_inputs(A))
    D = A.copy()
    msk = adjacency(A)
    Pi = np.repeat(np.arange(n, dtype=float)[:, None], n, axis=1)
    # A whole step at once gives the reference's floats and pointers: its loop
    # reads D and msk as they were before the step and Pi as it goes, but row
    # k of Pi cannot change during step k (an update copies Pi[k, j] onto
    # itself). The arrays are replaced, never modified, so hints need no copy.
    for k in range(n):
        recorder.record_hint({"Pi_h": Pi, "D": D, "msk": msk, "k": k})
        via_k = (msk[:, k, None] > 0) & (msk[None, k, :] > 0)
        through_k = D[:, k, None] + D[None, k, :]
        shorter = via_k & ((msk == 0) | (through_k < D))
        D = np.where(shorter, through_k, D)
        Pi = np.where(shorter, Pi[k], Pi)
        msk = np.where(via_k, 1.0, msk)
    if (np.diagonal(D) < 0).any():
        i = int(np.flatnonzero(np.diagonal(D) < 0)[0])
        raise ValueError(f"floyd_warshall: the graph has a negative-weight cycle through node {i}")
    recorder.record_outputs({"Pi": Pi})
    return recorder.finish()


ALGORITHMS = {
    "bfs": AlgorithmDef(bfs, source_graph_arguments("bfs")),
    "bellman_ford": AlgorithmDef(bellman_ford, source_graph_arguments("bellman_ford")),
    "dijkstra": AlgorithmDef(dijkstra, source_graph_arguments("dijkstra")),
    "floyd_warshall": AlgorithmDef(floyd_warshall, graph_arguments("floyd_warshall")),
}
