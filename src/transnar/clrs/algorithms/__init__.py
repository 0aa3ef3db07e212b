"""The 30 CLRS-30 algorithms, each recording its probes step by step.

One module per CLRS chapter group: sorting, searching, divide and conquer,
greedy, dynamic programming, strings, geometry, and three for the graph
family: depth-first search and what is built on it (topological sort, SCCs,
articulation points, bridges, DAG shortest paths), shortest paths (BFS,
Bellman-Ford, Dijkstra, Floyd-Warshall) and minimum spanning trees.

``ALGORITHMS`` maps every name of the spec table to its :class:`AlgorithmDef`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from transnar.clrs.algorithms import (
    depth_first,
    divide_and_conquer,
    dynamic_programming,
    geometry,
    greedy,
    searching,
    shortest_paths,
    sorting,
    spanning_trees,
    strings,
)
from transnar.clrs.algorithms._base import AlgorithmDef

ALGORITHMS: Mapping[str, AlgorithmDef] = MappingProxyType(
    {
        **sorting.ALGORITHMS,
        **searching.ALGORITHMS,
        **divide_and_conquer.ALGORITHMS,
        **greedy.ALGORITHMS,
        **dynamic_programming.ALGORITHMS,
        **depth_first.ALGORITHMS,
        **shortest_paths.ALGORITHMS,
        **spanning_trees.ALGORITHMS,
        **strings.ALGORITHMS,
        **geometry.ALGORITHMS,
    }
)

__all__ = ["ALGORITHMS", "AlgorithmDef"]
