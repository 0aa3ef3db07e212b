"""Samplers of the graph algorithms: Erdős–Rényi graphs and community graphs.

Every graph is an ``(N, N)`` adjacency matrix ``A``: ints 0/1 when unweighted,
floats (weights, 0 for "no edge") when weighted. As in the reference, the
diagonal is drawn like any other entry, so self-loops occur. The edge
probability ``p`` is drawn from the tuple ``p`` for every graph (the reference
NAR training passes ``p=(0.1, 0.2, ..., 0.9)``).
"""

from __future__ import annotations

import numpy as np

from transnar.clrs.samplers.base import Sampler


class GraphSampler(Sampler):
    """Base of the graph samplers: random graph primitives on the sampler's state."""

    def _er_graph(
        self,
        n: int,
        p: float,
        directed: bool = False,
        acyclic: bool = False,
        weighted: bool = False,
        low: float = 0.0,
        high: float = 1.0,
    ) -> np.ndarray:
        """An Erdős–Rényi graph: each ordered pair is an edge with probability ``p``.

        Undirected graphs keep an edge when both directions were drawn.
        Acyclic (directed) graphs keep the strict upper triangle, then relabel
        the nodes by a random permutation. Weights are uniform in ``[low,
        high)``; for undirected graphs the weight of ``{i, j}`` is
        ``sqrt(u_ij * u_ji + 1e-3)``, symmetric and never 0.
        """
        graph = self._rng.binomial(1, p, size=(n, n))
        if not directed:
            graph = graph * graph.T
        elif acyclic:
            graph = np.triu(graph, k=1)
            order = self._rng.permutation(n)
            graph = graph[order, :][:, order]
        if weighted:
            weights = self._rng.uniform(low=low, high=high, size=(n, n))
            if not directed:
                weights = np.sqrt(weights * weights.T + 1e-3)
            graph = graph.astype(float) * weights
        return graph

    def _community_graph(self, n: int, k: int, p: float, eps: float) -> np.ndarray:
        """``k`` directed Erdős–Rényi communities joined by a few one-way edges.

        Nodes are split into ``k`` consecutive blocks (the last takes the
        remainder), each a directed ER graph with edge probability ``p``.
        Edges between blocks are drawn with probability ``eps`` and kept only
        from a block to a later one, so no new cycles close; an inter-block
        draw on an existing edge removes it. Finally the nodes are permuted.
        Returns a float matrix of 0.0 and 1.0.
        """
        if k > n:
            raise ValueError(f"cannot split {n} nodes into {k} communities")
        graph = np.zeros((n, n))
        bounds = []
        low = 0
        for i in range(k):
            high = n if i == k - 1 else low + n // k
            graph[low:high, low:high] = self._er_graph(high - low, p, directed=True)
            bounds.append((low, high))
            low = high
        toggle = self._er_graph(n, eps, directed=True)
        for i, (low_i, high_i) in enumerate(bounds):
            for low_j, high_j in bounds[:i]:
                toggle[low_i:high_i, low_j:high_j] = 0
        graph = np.where(toggle > 0.0, (1.0 - (graph > 0.0)) * toggle, graph)
        order = self._rng.permutation(n)
        return graph[order, :][:, order]


class DfsSampler(GraphSampler):
    """Directed ER graph, ``p = 0.5`` by default; unweighted."""

    def _draw(self, size: int, p: tuple = (0.5,)) -> list:
        return [self._er_graph(size, self._rng.choice(p), directed=True)]


class BfsSampler(GraphSampler):
    """Undirected ER graph, ``p = 0.5``, and a uniform source node."""

    def _draw(self, size: int, p: tuple = (0.5,)) -> list:
        graph = self._er_graph(size, self._rng.choice(p))
        return [graph, self._rng.choice(size)]


class TopoSampler(GraphSampler):
    """Directed acyclic ER graph, ``p = 0.5``; unweighted."""

    def _draw(self, size: int, p: tuple = (0.5,)) -> list:
        return [self._er_graph(size, self._rng.choice(p), directed=True, acyclic=True)]


class ArticulationSampler(GraphSampler):
    """Undirected ER graph with the sparser ``p = 0.2``; unweighted."""

    def _draw(self, size: int, p: tuple = (0.2,)) -> list:
        return [self._er_graph(size, self._rng.choice(p))]


class MSTSampler(GraphSampler):
    """Undirected weighted ER graph with ``p = 0.2``."""

    def _draw(self, size: int, p: tuple = (0.2,), low: float = 0.0, high: float = 1.0) -> list:
        return [self._er_graph(size, self._rng.choice(p), weighted=True, low=low, high=high)]


class BellmanFordSampler(GraphSampler):
    """Undirected weighted ER graph, ``p = 0.5``, and a uniform source node."""

    def _draw(self, size: int, p: tuple = (0.5,), low: float = 0.0, high: float = 1.0) -> list:
        graph = self._er_graph(size, self._rng.choice(p), weighted=True, low=low, high=high)
        return [graph, self._rng.choice(size)]


class DAGPathSampler(GraphSampler):
    """Directed acyclic ER graph with uniform (asymmetric) weights, and a source."""

    def _draw(self, size: int, p: tuple = (0.5,), low: float = 0.0, high: float = 1.0) -> list:
        graph = self._er_graph(
            size,
            self._rng.choice(p),
            directed=True,
            acyclic=True,
            weighted=True,
            low=low,
            high=high,
        )
        return [graph, self._rng.choice(size)]


class FloydWarshallSampler(GraphSampler):
    """Undirected weighted ER graph, ``p = 0.5``."""

    def _draw(self, size: int, p: tuple = (0.5,), low: float = 0.0, high: float = 1.0) -> list:
        return [self._er_graph(size, self._rng.choice(p), weighted=True, low=low, high=high)]


class SccSampler(GraphSampler):
    """``k = 4`` directed communities with ``p = 0.5``, joined with ``eps = 0.01``."""

    min_size = 4

    def _draw(self, size: int, k: int = 4, p: tuple = (0.5,), eps: float = 0.01) -> list:
        return [self._community_graph(size, k, self._rng.choice(p), eps)]


SAMPLERS = {
    "dfs": DfsSampler,
    "bfs": BfsSampler,
    "topological_sort": TopoSampler,
    "articulation_points": ArticulationSampler,
    "bridges": ArticulationSampler,
    "strongly_connected_components": SccSampler,
    "mst_kruskal": MSTSampler,
    "mst_prim": BellmanFordSampler,
    "bellman_ford": BellmanFordSampler,
    "dijkstra": BellmanFordSampler,
    "dag_shortest_paths": DAGPathSampler,
    "floyd_warshall": FloydWarshallSampler,
}
