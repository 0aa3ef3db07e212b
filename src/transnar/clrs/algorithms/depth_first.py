"""Depth-first search and the algorithms built on it (CLRS chapter 22).

``dfs`` (CLRS 22.3), ``topological_sort`` (22.4), Kosaraju's
``strongly_connected_components`` (22.5), ``articulation_points`` and
``bridges`` (problem 22-2) and ``dag_shortest_paths`` (24.2) all walk the
graph with one depth-first search, :class:`_DepthFirstSearch`, written here
once. Its state is what these algorithms share as hints:

- ``color``: 0 white (not reached), 1 grey (on the stack), 2 black (finished);
- ``d`` and ``f``: discovery and finishing times, which count up in steps of
  0.01 (only in the walks that keep times);
- the explicit stack replacing the recursion of DFS-VISIT: ``s_last`` is its
  top, ``s_prev[v]`` the node below ``v`` (nodes not on the stack, and the
  bottom, point to themselves); ``s`` is the root of the current tree, ``u``
  the node whose edges are being scanned and ``v`` the last neighbour looked at.

Every algorithm takes ``A``, the ``(N, N)`` adjacency or weight matrix (an edge
``u -> v`` wherever ``A[u, v] != 0``); ``dag_shortest_paths`` also takes the
source node ``s``. Each records one hint per step of the search.

Given to :func:`~transnar.clrs.execute`, the input ``adj`` must be the edge
mask the reference derives from ``A`` (see :mod:`~transnar.clrs.algorithms._graphs`): the algorithms
read only ``A``, so an ``adj`` that disagrees with it is rejected rather than
silently ignored.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from functools import partial

import numpy as np

from transnar.clrs.algorithms._base import AlgorithmDef, InputProbes
from transnar.clrs.algorithms._graphs import (
    check_graph,
    graph_argument,
    graph_inputs,
    source_argument,
)
from transnar.clrs.probing import ProbeRecorder, start_recording
from transnar.clrs.trajectory import Trajectory

WHITE, GREY, BLACK = 0, 1, 2

# Discovery and finishing times advance by this much per event.
TIME_STEP = 0.01


class _Event(enum.Enum):
    """The steps of a depth-first search after which a hint is recorded."""

    START = enum.auto()  # a new tree starts at the root ``s``
    DISCOVER = enum.auto()  # ``u`` is discovered
    TREE_EDGE = enum.auto()  # ``u`` found the white neighbour ``v`` and pushed it
    NON_TREE_EDGE = enum.auto()  # ``u`` sees the non-white neighbour ``v``, not its parent
    FINISH = enum.auto()  # ``u`` has no white neighbour left and is finished


class _DepthFirstSearch:
    """The reference's iterative depth-first search over ``adjacency``.

    :meth:`forest` walks the graph and yields an :class:`_Event` after each
    step; between events the algorithm reads and records the public state (see
    the module docstring). Each time ``u`` is on top of the stack, its
    neighbours are scanned from node 0 up to the first white one, which is
    pushed (the DFS-VISIT recursion); when there is none, ``u`` is finished and
    popped.

    Args:
        adjacency: ``(N, N)`` bool, ``adjacency[u, v]`` when there is an edge
            ``u -> v``.
        timed: keep discovery and finishing times (``d``, ``f``, ``time``).
    """

    def __init__(self, adjacency: np.ndarray, timed: bool):
        n = adjacency.shape[0]
        self.timed = timed
        self.color = np.zeros(n, dtype=np.int64)
        self.pi = np.arange(n)  # parent in the DFS forest; roots point to themselves
        self.s_prev = np.arange(n)
        self.d = np.zeros(n)
        self.f = np.zeros(n)
        self.time = 0
        self.s = self.u = self.v = self.s_last = 0
        self._set_adjacency(adjacency)

    def _set_adjacency(self, adjacency: np.ndarray) -> None:
        self._neighbours = [row.nonzero()[0].tolist() for row in adjacency]

    def restart(self, adjacency: np.ndarray) -> None:
        """Whitens every node to search ``adjacency``; times, ``d`` and ``f`` are kept."""
        self._set_adjacency(adjacency)
        self.color[:] = WHITE

    def probes(self) -> dict:
        """The hints every DFS-based algorithm records (its index forms)."""
        probes = {
            "color": self.color.copy(),
            "s_prev": self.s_prev.copy(),
            "s": self.s,
            "u": self.u,
            "v": self.v,
            "s_last": self.s_last,
        }
        if self.timed:
            probes.update(d=self.d.copy(), f=self.f.copy(), time=self.time)
        return probes

    def forest(self, roots: Iterable[int], non_tree_edges: bool = False) -> Iterator[_Event]:
        """Searches from each root in turn that is still white (DFS, CLRS 22.3).

        Args:
            roots: candidate roots, in order.
            non_tree_edges: also yield :attr:`_Event.NON_TREE_EDGE`.
        """
        for root in roots:
            if self.color[root] == WHITE:
                yield from self._visit(root, non_tree_edges)

    def _visit(self, root: int, non_tree_edges: bool) -> Iterator[_Event]:
        self.s = self.u = self.v = self.s_last = root
        yield _Event.START
        last = len(self._neighbours) - 1
        while True:
            u = self.u
            if self._undiscovered(u):
                self.color[u] = GREY
                if self.timed:
                    self.time += TIME_STEP
                    self.d[u] = self.time
                yield _Event.DISCOVER
            for v in self._neighbours[u]:
                self.v = v
                if self.color[v] == WHITE:
                    self.pi[v] = u
                    self.color[v] = GREY
                    self.s_prev[v] = self.s_last
                    self.s_last = v
                    yield _Event.TREE_EDGE
                    break
                if non_tree_edges and v != self.pi[u]:
                    yield _Event.NON_TREE_EDGE
            else:
                # The reference's scan runs over all nodes, so ``v`` ends on the last one.
                self.v = last
            if self.s_last == u:
                self.color[u] = BLACK
                if self.timed:
                    self.time += TIME_STEP
                    self.f[u] = self.time
                yield _Event.FINISH
                if self.s_prev[u] == u:
                    return
                self.s_last = self.s_prev[u]
                self.s_prev[u] = u
            self.u = self.s_last

    def _undiscovered(self, u: int) -> bool:
        # Pushing a node already greys it, so as in the reference only the root
        # is white here; a walk without times therefore records no discovery
        # step for the other nodes, and one with times tells them by ``d == 0``
        # (which, in the second pass of Kosaraju's algorithm, holds for none).
        return self.color[u] == WHITE or (self.timed and self.d[u] == 0.0)


def _start(algorithm: str, A: np.ndarray, s: int | None = None) -> tuple[ProbeRecorder, np.ndarray]:
    """Records the inputs (``pos``, ``A``, ``adj`` and the source, if any); returns
    the recorder and ``adj``."""
    inputs = graph_inputs(A, s)
    return start_recording(algorithm, inputs), inputs["adj"]


def _prepend(topo: np.ndarray, head: int, u: int, color: np.ndarray) -> int:
    """Puts ``u``, just finished, in front of the order linked by ``topo``.

    ``topo[x]`` is the node after ``x``, the last node points to itself (CLRS
    22.4 inserts each finished node at the front of a linked list). Returns the
    new head. The head starts as a placeholder, node 0, which is not finished
    yet when the first node finishes, so the first node keeps pointing to
    itself.
    """
    if color[head] == BLACK:
        topo[u] = head
    return u


def dfs(A: np.ndarray) -> Trajectory:
    """Depth-first search (CLRS 22.3) from every white node in index order.

    The output ``pi`` is the DFS forest: each node points to its parent, a
    root to itself.
    """
    recorder, _ = _start("dfs", A)
    search = _DepthFirstSearch(A != 0, timed=True)
    for _ in search.forest(range(A.shape[0])):
        recorder.record_hint({"pi_h": search.pi.copy(), **search.probes()})
    recorder.record_outputs({"pi": search.pi.copy()})
    return recorder.finish()


def topological_sort(A: np.ndarray) -> Trajectory:
    """Topological sort by decreasing finishing time (CLRS 22.4).

    ``A`` must be acyclic. The output ``topo`` links each node to the next one
    in the order, the last to itself; ``topo_head`` is the first node.
    """
    recorder, _ = _start("topological_sort", A)
    search = _DepthFirstSearch(A != 0, timed=False)
    topo = np.arange(A.shape[0])
    head = 0
    for event in search.forest(range(A.shape[0])):
        if event is _Event.FINISH:
            head = _prepend(topo, head, search.u, search.color)
        recorder.record_hint({"topo_h": topo.copy(), "topo_head_h": head, **search.probes()})
    recorder.record_outputs({"topo": topo, "topo_head": head})
    return recorder.finish()


def strongly_connected_components(A: np.ndarray) -> Trajectory:
    """Kosaraju's strongly connected components (CLRS 22.5).

    Phase 0 searches ``A``; phase 1 searches its transpose ``A_t``, taking the
    roots by decreasing finishing time, and labels each node with the root of
    its tree. The output ``scc_id`` points each node to that root.
    """
    n = A.shape[0]
    recorder, adj = _start("strongly_connected_components", A)
    A_t = adj.T
    scc_id = np.arange(n)
    search = _DepthFirstSearch(A != 0, timed=True)

    def record(phase: int) -> None:
        recorder.record_hint(
            {"scc_id_h": scc_id.copy(), "A_t": A_t, **search.probes(), "phase": phase}
        )

    for _ in search.forest(range(n)):
        record(0)
    # The second pass keeps ``d``, so none of its nodes counts as undiscovered
    # (see ``_DepthFirstSearch._undiscovered``): only the roots get a
    # discovery step and a new ``d``; ``f`` and ``time`` go on counting.
    search.restart((A != 0).T)
    for _ in search.forest(np.argsort(-search.f)):
        # The reference labels ``u`` at the top of each step of its loop, so a
        # node carries its label from the first hint where it is ``u``.
        scc_id[search.u] = search.s
        record(1)
    recorder.record_outputs({"scc_id": scc_id})
    return recorder.finish()


def articulation_points(A: np.ndarray) -> Trajectory:
    """Articulation points of an undirected graph (CLRS problem 22-2).

    ``low[u]`` is the smallest discovery time reachable from ``u``'s subtree
    by one back edge; a non-root ``u`` is a cut vertex when some child's
    ``low`` is at least ``d[u]``, the root when it has two children or more
    (``child_cnt`` counts them in steps of 0.01). One extra hint per non-tree
    edge seen from ``u``; as in the reference, ``u``'s neighbours are rescanned
    from node 0 each time a child returns, so these repeat.
    """
    n = A.shape[0]
    recorder, _ = _start("articulation_points", A)
    search = _DepthFirstSearch(A != 0, timed=True)
    low = np.zeros(n)
    child_cnt = np.zeros(n)
    is_cut = np.zeros(n)
    for event in search.forest(range(n), non_tree_edges=True):
        u = search.u
        if event is _Event.DISCOVER:
            low[u] = search.d[u]
        elif event is _Event.TREE_EDGE:
            child_cnt[u] += TIME_STEP
        elif event is _Event.NON_TREE_EDGE:
            low[u] = min(low[u], search.d[search.v])
        elif event is _Event.FINISH:
            children = search.pi == u  # a root is its own parent: harmless here
            low[u] = low[children].min(initial=low[u])
            if search.pi[u] == u:
                if child_cnt[u] > TIME_STEP:
                    is_cut[u] = 1
            elif (low[children] >= search.d[u]).any():
                is_cut[u] = 1
        recorder.record_hint(
            {
                "is_cut_h": is_cut.copy(),
                "pi_h": search.pi.copy(),
                "low": low.copy(),
                "child_cnt": child_cnt.copy(),
                **search.probes(),
            }
        )
    recorder.record_outputs({"is_cut": is_cut})
    return recorder.finish()


def bridges(A: np.ndarray) -> Trajectory:
    """Bridges of an undirected graph (CLRS problem 22-2).

    As :func:`articulation_points`, with ``low``; the tree edge to a child
    ``v`` is a bridge when ``low[v] > d[u]``. ``is_bridge`` is 1 on both
    directions of a bridge, 0 on the other edges and the diagonal, and masked
    (-1) where ``adj`` is 0.
    """
    n = A.shape[0]
    recorder, adj = _start("bridges", A)
    search = _DepthFirstSearch(A != 0, timed=True)
    low = np.zeros(n)
    is_bridge = adj - 1.0
    # The (N, N) mask changes only when a bridge is found: until then the hints
    # share one copy of it.
    is_bridge_h = is_bridge.copy()
    for event in search.forest(range(n), non_tree_edges=True):
        u = search.u
        if event is _Event.DISCOVER:
            low[u] = search.d[u]
        elif event is _Event.NON_TREE_EDGE:
            low[u] = min(low[u], search.d[search.v])
        elif event is _Event.FINISH:
            children = search.pi == u  # a root is its own parent: harmless here
            low[u] = low[children].min(initial=low[u])
            bridged = children & (low > search.d[u])
            if bridged.any():
                is_bridge[u, bridged] = 1
                is_bridge[bridged, u] = 1
                is_bridge_h = is_bridge.copy()
        recorder.record_hint(
            {
                "is_bridge_h": is_bridge_h,
                "pi_h": search.pi.copy(),
                "low": low.copy(),
                **search.probes(),
            }
        )
    recorder.record_outputs({"is_bridge": is_bridge})
    return recorder.finish()


def dag_shortest_paths(A: np.ndarray, s: int) -> Trajectory:
    """Single-source shortest paths in a directed acyclic graph (CLRS 24.2).

    Phase 0 sorts the nodes reachable from ``s`` topologically by a
    depth-first search from ``s`` (as :func:`topological_sort`); phase 1
    relaxes the edges out of each node in that order, one hint per node. The
    part of ``A`` reachable from ``s`` must be acyclic. The output ``pi`` is
    the shortest-path tree: each reached node points to its predecessor on a
    shortest path, ``s`` and unreached nodes to themselves.
    """
    n = A.shape[0]
    recorder, _ = _start("dag_shortest_paths", A, s=s)
    search = _DepthFirstSearch(A != 0, timed=False)
    pi = np.arange(n)
    d = np.zeros(n)
    mark = np.zeros(n)
    topo = np.arange(n)
    head = 0

    def record(phase: int) -> None:
        probes = search.probes()
        del probes["s"]  # the source is an input here, not a hint
        recorder.record_hint(
            {
                "pi_h": pi.copy(),
                "d": d.copy(),
                "mark": mark.copy(),
                "topo_h": topo.copy(),
                "topo_head_h": head,
                **probes,
                "phase": phase,
            }
        )

    for event in search.forest([s]):
        if event is _Event.FINISH:
            head = _prepend(topo, head, search.u, search.color)
        record(0)
    # ``s`` finished last, so it heads the order; ``mark`` flags the nodes
    # reached. (The reference also marks each node as it leaves the order, a
    # no-op on an acyclic graph: a predecessor's relaxation marked it.)
    mark[s] = 1
    while topo[head] != head:
        record(1)
        weights = A[head].astype(float)
        through_head = d[head] + weights
        shorter = (weights != 0) & ((mark == 0) | (through_head < d))
        d[shorter] = through_head[shorter]
        pi[shorter] = head
        mark[shorter] = 1
        head = topo[head]
    record(1)
    recorder.record_outputs({"pi": pi})
    return recorder.finish()


# --- Arguments from input probes ---------------------------------------------


def _cycle_nodes(adjacency: np.ndarray) -> np.ndarray:
    """The nodes left after repeatedly removing the nodes without incoming edges.

    Empty exactly when the graph is acyclic (Kahn's algorithm); otherwise a
    cycle lies among them.
    """
    remaining = np.ones(adjacency.shape[0], dtype=bool)
    while remaining.any():
        sources = remaining & ~adjacency[remaining].any(axis=0)
        if not sources.any():
            break
        remaining &= ~sources
    return np.flatnonzero(remaining)


def _check_acyclic(algorithm: str, adjacency: np.ndarray, nodes: np.ndarray) -> None:
    """Raises unless the subgraph of ``adjacency`` on ``nodes`` (a bool mask) is acyclic."""
    cycle = np.flatnonzero(nodes)[_cycle_nodes(adjacency[np.ix_(nodes, nodes)])]
    if cycle.size:
        raise ValueError(
            f"{algorithm} needs a directed acyclic graph, but 'A' has a cycle "
            f"(a self-loop counts) among nodes {cycle.tolist()}"
        )


def _graph_arguments(
    algorithm: str, inputs: InputProbes, undirected: bool = False, acyclic: bool = False
) -> tuple:
    """Arguments ``(A,)`` of the algorithms on a graph alone."""
    A = graph_argument(algorithm, inputs)
    check_graph(algorithm, A, undirected=undirected)
    adjacency = A != 0
    if acyclic:
        _check_acyclic(algorithm, adjacency, np.ones(A.shape[0], dtype=bool))
    return (A,)


def _dag_shortest_paths_arguments(inputs: InputProbes) -> tuple:
    """Arguments ``(A, s)``; the part of ``A`` reachable from ``s`` must be acyclic."""
    algorithm = "dag_shortest_paths"
    A = graph_argument(algorithm, inputs)
    s = source_argument(algorithm, inputs)
    adjacency = A != 0
    _check_acyclic(algorithm, adjacency, _reachable(adjacency, s))
    return A, s


def _reachable(adjacency: np.ndarray, s: int) -> np.ndarray:
    """Bool mask of the nodes reachable from ``s`` (``s`` included)."""
    reached = np.zeros(adjacency.shape[0], dtype=bool)
    reached[s] = True
    while True:
        grown = reached | adjacency[reached].any(axis=0)
        if np.array_equal(grown, reached):
            return reached
        reached = grown


ALGORITHMS = {
    "dfs": AlgorithmDef(dfs, partial(_graph_arguments, "dfs")),
    "topological_sort": AlgorithmDef(
        topological_sort, partial(_graph_arguments, "topological_sort", acyclic=True)
    ),
    "strongly_connected_components": AlgorithmDef(
        strongly_connected_components,
        partial(_graph_arguments, "strongly_connected_components"),
    ),
    "articulation_points": AlgorithmDef(
        articulation_points, partial(_graph_arguments, "articulation_points", undirected=True)
    ),
    "bridges": AlgorithmDef(bridges, partial(_graph_arguments, "bridges", undirected=True)),
    "dag_shortest_paths": AlgorithmDef(dag_shortest_paths, _dag_shortest_paths_arguments),
}
