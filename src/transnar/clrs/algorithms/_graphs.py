"""The inputs every graph algorithm shares: the matrix ``A``, its mask ``adj``, a source.

``A`` is an ``(N, N)`` matrix: ``A[u, v]`` is the weight of the edge ``u -> v``
(1 for an unweighted edge), 0 means "no edge", and the diagonal holds
self-loops. As in the reference, every graph algorithm also records the edge
mask ``adj = (A + I) != 0``: every edge plus the whole diagonal (each node is
its own neighbour), except where a self-loop of weight -1 cancels the
identity. The algorithms read ``A`` alone, so :func:`~transnar.clrs.execute`
accepts an ``adj`` only when it is this mask of ``A``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from transnar.clrs.algorithms._base import InputProbes
from transnar.clrs.probing import node_positions


def adjacency(A: np.ndarray) -> np.ndarray:
    """The ``adj`` input probe of ``A``: ``(A + I) != 0`` as float64 0/1."""
    return ((A + np.eye(A.shape[0])) != 0) * 1.0


def graph_inputs(A: np.ndarray, s: int | None = None) -> dict:
    """The input probes ``pos``, ``A``, ``adj`` and, for single-source algorithms, ``s``."""
    n = A.shape[0]
    inputs = {"pos": node_positions(n), "A": A.copy(), "adj": adjacency(A)}
    if s is not None:
        inputs["s"] = s
    return inputs


def check_graph(
    algorithm: str,
    A: np.ndarray,
    *,
    non_negative: bool = False,
    symmetric: bool = False,
    undirected: bool = False,
) -> None:
    """Raises ``ValueError`` unless ``A`` is a square matrix the algorithm can take.

    Args:
        algorithm: name used in the error message.
        A: the ``(N, N)`` weight matrix.
        non_negative: reject negative weights.
        symmetric: reject ``A != A.T`` (undirected weighted graphs).
        undirected: reject an edge ``i -> j`` without ``j -> i`` (the pattern
            ``A != 0`` must be symmetric; the weights need not be).
    """
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ValueError(f"{algorithm}: A must be a non-empty (N, N) matrix, got shape {A.shape}")
    if non_negative and (A < 0).any():
        i, j = np.argwhere(A < 0)[0]
        raise ValueError(
            f"{algorithm}: A[{i}, {j}] = {A[i, j]} is negative; "
            f"{algorithm} takes non-negative weights only"
        )
    if symmetric and not np.array_equal(A, A.T):
        i, j = np.argwhere(A != A.T)[0]
        raise ValueError(
            f"{algorithm}: A is not symmetric (A[{i}, {j}] = {A[i, j]}, A[{j}, {i}] = {A[j, i]}); "
            f"{algorithm} takes undirected graphs only"
        )
    edges = A != 0
    if undirected and not np.array_equal(edges, edges.T):
        i, j = np.argwhere(edges != edges.T)[0]
        raise ValueError(
            f"{algorithm} needs an undirected graph, but A has the edge [{i}, {j}] "
            f"without [{j}, {i}] (A != 0 must be symmetric)"
        )


def check_source(algorithm: str, s: int, n: int) -> int:
    """Returns the source ``s`` as an ``int``; ``ValueError`` unless it is a node."""
    s = int(s)
    if not 0 <= s < n:
        raise ValueError(f"{algorithm}: source node {s} is not in [0, {n})")
    return s


def graph_argument(algorithm: str, inputs: InputProbes) -> np.ndarray:
    """``A`` from the input probes, after checking that ``adj`` is its mask."""
    A = inputs["A"]
    mismatch = np.argwhere(inputs["adj"] != adjacency(A))
    if mismatch.size:
        i, j = mismatch[0]
        raise ValueError(
            f"{algorithm}: input probe 'adj' must be the edge mask of A, (A + I) != 0, as "
            f"the algorithms read A alone; it differs at [{i}, {j}]: "
            f"adj = {inputs['adj'][i, j]}, A = {A[i, j]}"
        )
    return A


def source_argument(algorithm: str, inputs: InputProbes) -> int:
    """The source node marked by the one-hot input probe ``s``."""
    sources = np.flatnonzero(inputs["s"] == 1)
    if sources.shape[0] != 1:
        raise ValueError(f"{algorithm}: input probe 's' must mark exactly one node with 1")
    return int(sources[0])


def graph_arguments(algorithm: str) -> Callable[[InputProbes], tuple]:
    """The ``arguments`` of an algorithm on a graph alone: ``(A,)``."""
    return lambda inputs: (graph_argument(algorithm, inputs),)


def source_graph_arguments(algorithm: str) -> Callable[[InputProbes], tuple]:
    """The ``arguments`` of a single-source algorithm: ``(A, s)``."""
    return lambda inputs: (graph_argument(algorithm, inputs), source_argument(algorithm, inputs))
