"""Minimum spanning trees: Kruskal and Prim (CLRS chapter 23).

Both take an undirected graph as a symmetric ``(N, N)`` weight matrix ``A``
(0 for "no edge"; see :mod:`~transnar.clrs.algorithms._graphs` for the
``adj`` input). On a disconnected graph Kruskal finds a minimum spanning
forest, Prim the minimum spanning tree of the source's component.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from transnar.clrs.algorithms._base import AlgorithmDef
from transnar.clrs.algorithms._graphs import (
    check_graph,
    check_source,
    graph_arguments,
    graph_inputs,
    source_graph_arguments,
)
from transnar.clrs.algorithms.shortest_paths import best_first_search
from transnar.clrs.probing import start_recording
from transnar.clrs.trajectory import Trajectory

# Phases of Kruskal's `phase` hint.
_LINK, _FIND_U, _FIND_V = 0, 1, 2


def mst_kruskal(A: np.ndarray) -> Trajectory:
    """Kruskal's algorithm (CLRS 23.2) with a disjoint-set forest (CLRS 21.3).

    An edge is a positive entry of ``A`` above the diagonal, so ``A`` must be
    non-negative and symmetric. Edges are taken by increasing weight; for
    edge ``(u, v)``, ``u < v``, FIND walks from ``u`` to its root, pointing
    every node walked so far at the current node, then likewise from ``v``;
    if the roots differ the edge joins the tree and the smaller root is
    linked under the larger one.

    Hints: ``in_mst_h``, ``pi`` (the forest), ``u`` and ``v`` (the edge),
    ``root_u`` and ``root_v`` (where the walks are), ``mask_u`` and
    ``mask_v`` (the nodes walked), and ``phase``: 1 while walking from ``u``,
    2 from ``v``, 0 for the first hint and the linking. One hint first, then
    per edge one at its start, one per walk step and one after linking.
    """
    check_graph("mst_kruskal", A, non_negative=True, symmetric=True)
    n = A.shape[0]
    recorder = start_recording("mst_kruskal", graph_inputs(A))
    pi = np.arange(n)
    in_mst = np.zeros((n, n))
    in_mst_h = in_mst.copy()  # a snapshot, renewed only when an edge is added

    def record(
        u: int,
        v: int,
        root_u: int,
        root_v: int,
        mask_u: np.ndarray,
        mask_v: np.ndarray,
        phase: int,
    ) -> None:
        recorder.record_hint(
            {
                "in_mst_h": in_mst_h,
                "pi": pi.copy(),
                "u": u,
                "v": v,
                "root_u": root_u,
                "root_v": root_v,
                "mask_u": mask_u.copy(),
                "mask_v": mask_v.copy(),
                "phase": phase,
            }
        )

    def find(node: int, walked: np.ndarray) -> Iterator[int]:
        """Yields each node on the way from ``node`` to its root, compressing the path."""
        while pi[node] != node:
            node = int(pi[node])
            pi[walked == 1] = node
            walked[node] = 1
            yield node

    record(0, 0, 0, 0, np.zeros(n), np.zeros(n), _LINK)
    rows, cols = np.nonzero(np.triu(A > 0, k=1))
    # np.argsort is not stable: edges of equal weight come in whatever order
    # it gives, as in the reference (equal weights are common once truncated).
    for edge in np.argsort(A[rows, cols]):
        u, v = int(rows[edge]), int(cols[edge])
        mask_u, mask_v = np.zeros(n), np.zeros(n)
        mask_u[u] = mask_v[v] = 1
        record(u, v, u, v, mask_u, mask_v, _FIND_U)
        root_u = u  # each walk leaves its root in the loop variable
        for root_u in find(u, mask_u):
            record(u, v, root_u, v, mask_u, mask_v, _FIND_U)
        root_v = v
        for root_v in find(v, mask_v):
            record(u, v, root_u, root_v, mask_u, mask_v, _FIND_V)
        if root_u != root_v:
            in_mst[u, v] = in_mst[v, u] = 1
            in_mst_h = in_mst.copy()
            # The reference's rule, not union by rank: the smaller root goes under.
            pi[min(root_u, root_v)] = max(root_u, root_v)
        record(u, v, root_u, root_v, mask_u, mask_v, _LINK)
    recorder.record_outputs({"in_mst": in_mst})
    return recorder.finish()


def mst_prim(A: np.ndarray, s: int) -> Trajectory:
    """Prim's algorithm (CLRS 23.2) from ``s``; ``A`` must be symmetric.

    See :func:`~transnar.clrs.algorithms.shortest_paths.best_first_search`;
    the key of a node is the weight of its lightest edge to the tree (0 for
    ``s``). Negative weights are fine.
    """
    check_graph("mst_prim", A, symmetric=True)
    s = check_source("mst_prim", s, A.shape[0])
    return best_first_search("mst_prim", A, s, "key", _edge_weight)


def _edge_weight(key_u: float, weights: np.ndarray) -> np.ndarray:
    return weights


ALGORITHMS = {
    "mst_kruskal": AlgorithmDef(mst_kruskal, graph_arguments("mst_kruskal")),
    "mst_prim": AlgorithmDef(mst_prim, source_graph_arguments("mst_prim")),
}
