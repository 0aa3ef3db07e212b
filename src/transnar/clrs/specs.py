"""The CLRS-30 spec table: which probes every algorithm records.

A *probe* is one named piece of an algorithm's data flow. Each probe has

- a **stage**: an ``input`` (given once), an ``output`` (produced once) or a
  ``hint`` (an intermediate state, recorded at every step of the algorithm);
- a **location**: it lives on every ``node`` (shape ``(N, ...)``), on every
  ``edge`` (``(N, N, ...)``) or on the whole ``graph`` (``(...)``);
- a **type**: ``scalar`` (a real number), ``mask`` (0/1, with -1 for "masked"),
  ``mask_one`` (one-hot over the nodes), ``categorical`` (one-hot over
  ``num_classes`` classes),
  ``pointer`` (a node index per node or edge), or ``should_be_permutation``
  (the predecessor pointers of a sorted order).

The names, stages, locations and types are those of DeepMind's reference
``clrs`` package, so that data, text and models interoperate with it. This
table is the single source of truth: the list of the 30 algorithms, their
families, the recorder checks, samplers, encoders, decoders and text formats are
all derived from it.
"""

from __future__ import annotations

import difflib
import enum
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple


class Stage(str, enum.Enum):
    """When a probe is recorded."""

    INPUT = "input"
    OUTPUT = "output"
    HINT = "hint"


class Location(str, enum.Enum):
    """Where a probe lives: on nodes, edges or the whole graph."""

    NODE = "node"
    EDGE = "edge"
    GRAPH = "graph"


class Type(str, enum.Enum):
    """How a probe's values are to be read.

    The last two types never appear in the table: the permutation transform
    (:func:`transnar.clrs.transforms.permutations_to_pointers`) and the NAR's
    soft hint feedback introduce them.
    """

    SCALAR = "scalar"
    CATEGORICAL = "categorical"
    MASK = "mask"
    MASK_ONE = "mask_one"
    POINTER = "pointer"
    SHOULD_BE_PERMUTATION = "should_be_permutation"
    PERMUTATION_POINTER = "permutation_pointer"
    SOFT_POINTER = "soft_pointer"


class Family(str, enum.Enum):
    """The eight algorithm families of CLRS-30."""

    SORTING = "sorting"
    SEARCHING = "searching"
    DIVIDE_AND_CONQUER = "divide_and_conquer"
    GREEDY = "greedy"
    DYNAMIC_PROGRAMMING = "dynamic_programming"
    GRAPHS = "graphs"
    STRINGS = "strings"
    GEOMETRY = "geometry"


# Value of a masked entry in mask and categorical probes (CLRS `OutputClass`).
MASKED = -1


class ProbeSpec(NamedTuple):
    """Stage, location and type of one probe.

    ``num_classes`` is set for categorical probes (the length of their one-hot
    axis) and is ``None`` otherwise.
    """

    stage: Stage
    location: Location
    type: Type
    num_classes: int | None = None


class AlgorithmSpec(Mapping):
    """The probes of one algorithm, in the reference order.

    Behaves as a read-only mapping from probe name to :class:`ProbeSpec`, so that
    ``SPECS["bfs"]["pi"]`` reads like the reference table; adds the family and
    the probe names by stage.
    """

    def __init__(self, name: str, family: Family, probes: Mapping[str, ProbeSpec]):
        self.name = name
        self.family = family
        self._probes = dict(probes)
        self.inputs = tuple(k for k, p in self._probes.items() if p.stage is Stage.INPUT)
        self.outputs = tuple(k for k, p in self._probes.items() if p.stage is Stage.OUTPUT)
        self.hints = tuple(k for k, p in self._probes.items() if p.stage is Stage.HINT)

    def __getitem__(self, name: str) -> ProbeSpec:
        return self._probes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._probes)

    def __len__(self) -> int:
        return len(self._probes)

    def __repr__(self) -> str:
        return (
            f"AlgorithmSpec({self.name!r}, family={self.family.value!r}, probes={self._probes!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AlgorithmSpec):
            return NotImplemented
        return (self.name, self.family, self._probes) == (other.name, other.family, other._probes)

    __hash__ = None  # a mapping with equality by value

    def replace(self, probes: Mapping[str, ProbeSpec]) -> AlgorithmSpec:
        """Returns a spec of the same algorithm with another probe table."""
        return AlgorithmSpec(self.name, self.family, probes)


# --- The table ---------------------------------------------------------------
#
# Each algorithm lists its probes as "name stage location type [classes]" in the
# reference order.  Abbreviations: in/out/hint; node/edge/graph; scalar, cat,
# mask, one (mask_one), ptr (pointer), perm (should_be_permutation).

_STAGES = {"in": Stage.INPUT, "out": Stage.OUTPUT, "hint": Stage.HINT}
_LOCATIONS = {"node": Location.NODE, "edge": Location.EDGE, "graph": Location.GRAPH}
_TYPES = {
    "scalar": Type.SCALAR,
    "cat": Type.CATEGORICAL,
    "mask": Type.MASK,
    "one": Type.MASK_ONE,
    "ptr": Type.POINTER,
    "perm": Type.SHOULD_BE_PERMUTATION,
}

_SORT_HEAD = """
    pos in node scalar
    key in node scalar
    pred out node perm
    pred_h hint node ptr
"""

# DFS bookkeeping shared by the DFS-based graph algorithms.
_DFS_STATE = """
    color hint node cat 3
    d hint node scalar
    f hint node scalar
"""
_DFS_STACK = """
    s_prev hint node ptr
    s hint node one
    u hint node one
    v hint node one
    s_last hint node one
"""
_GRAPH_IN = """
    pos in node scalar
    A in edge scalar
    adj in edge mask
"""
_SOURCE_GRAPH_IN = """
    pos in node scalar
    s in node one
    A in edge scalar
    adj in edge mask
"""
_STRING_IN = """
    string in node mask
    pos in node scalar
    key in node cat 4
"""
_HULL_IN = """
    pos in node scalar
    x in node scalar
    y in node scalar
"""

_TABLE: tuple[tuple[str, Family, str], ...] = (
    # Sorting.
    (
        "insertion_sort",
        Family.SORTING,
        _SORT_HEAD
        + """
        i hint node one
        j hint node one
    """,
    ),
    (
        "bubble_sort",
        Family.SORTING,
        _SORT_HEAD
        + """
        i hint node one
        j hint node one
    """,
    ),
    (
        "heapsort",
        Family.SORTING,
        _SORT_HEAD
        + """
        parent hint node ptr
        i hint node one
        j hint node one
        largest hint node one
        heap_size hint node one
        phase hint graph cat 3
    """,
    ),
    (
        "quicksort",
        Family.SORTING,
        _SORT_HEAD
        + """
        p hint node one
        r hint node one
        i hint node one
        j hint node one
    """,
    ),
    # Searching.
    (
        "minimum",
        Family.SEARCHING,
        """
        pos in node scalar
        key in node scalar
        min out node one
        pred_h hint node ptr
        min_h hint node one
        i hint node one
    """,
    ),
    (
        "binary_search",
        Family.SEARCHING,
        """
        pos in node scalar
        key in node scalar
        target in graph scalar
        return out node one
        pred_h hint node ptr
        low hint node one
        high hint node one
        mid hint node one
    """,
    ),
    (
        "quickselect",
        Family.SEARCHING,
        """
        pos in node scalar
        key in node scalar
        median out node one
        pred_h hint node ptr
        p hint node one
        r hint node one
        i hint node one
        j hint node one
        i_rank hint graph scalar
        target hint graph scalar
        pivot hint node one
    """,
    ),
    # Divide and conquer.
    (
        "find_maximum_subarray_kadane",
        Family.DIVIDE_AND_CONQUER,
        """
        pos in node scalar
        key in node scalar
        start out node one
        end out node one
        pred_h hint node ptr
        best_low hint node one
        best_high hint node one
        best_sum hint graph scalar
        i hint node one
        j hint node one
        sum hint graph scalar
    """,
    ),
    # Greedy.
    (
        "activity_selector",
        Family.GREEDY,
        """
        pos in node scalar
        s in node scalar
        f in node scalar
        selected out node mask
        pred_h hint node ptr
        selected_h hint node mask
        m hint node one
        k hint node one
    """,
    ),
    (
        "task_scheduling",
        Family.GREEDY,
        """
        pos in node scalar
        d in node scalar
        w in node scalar
        selected out node mask
        pred_h hint node ptr
        selected_h hint node mask
        i hint node one
        t hint graph scalar
    """,
    ),
    # Dynamic programming.
    (
        "matrix_chain_order",
        Family.DYNAMIC_PROGRAMMING,
        """
        pos in node scalar
        p in node scalar
        s out edge ptr
        pred_h hint node ptr
        m hint edge scalar
        s_h hint edge ptr
        msk hint edge mask
    """,
    ),
    (
        "lcs_length",
        Family.DYNAMIC_PROGRAMMING,
        _STRING_IN
        + """
        b out edge cat 4
        pred_h hint node ptr
        b_h hint edge cat 4
        c hint edge scalar
    """,
    ),
    (
        "optimal_bst",
        Family.DYNAMIC_PROGRAMMING,
        """
        pos in node scalar
        p in node scalar
        q in node scalar
        root out edge ptr
        pred_h hint node ptr
        root_h hint edge ptr
        e hint edge scalar
        w hint edge scalar
        msk hint edge mask
    """,
    ),
    # Graphs.
    (
        "dfs",
        Family.GRAPHS,
        _GRAPH_IN
        + """
        pi out node ptr
        pi_h hint node ptr
    """
        + _DFS_STATE
        + _DFS_STACK
        + """
        time hint graph scalar
    """,
    ),
    (
        "bfs",
        Family.GRAPHS,
        """
        pos in node scalar
        s in node one
        A in edge scalar
        adj in edge mask
        pi out node ptr
        reach_h hint node mask
        pi_h hint node ptr
    """,
    ),
    (
        "topological_sort",
        Family.GRAPHS,
        _GRAPH_IN
        + """
        topo out node ptr
        topo_head out node one
        topo_h hint node ptr
        topo_head_h hint node one
        color hint node cat 3
    """
        + _DFS_STACK,
    ),
    (
        "articulation_points",
        Family.GRAPHS,
        _GRAPH_IN
        + """
        is_cut out node mask
        is_cut_h hint node mask
        pi_h hint node ptr
    """
        + _DFS_STATE
        + """
        low hint node scalar
        child_cnt hint node scalar
    """
        + _DFS_STACK
        + """
        time hint graph scalar
    """,
    ),
    (
        "bridges",
        Family.GRAPHS,
        _GRAPH_IN
        + """
        is_bridge out edge mask
        is_bridge_h hint edge mask
        pi_h hint node ptr
    """
        + _DFS_STATE
        + """
        low hint node scalar
    """
        + _DFS_STACK
        + """
        time hint graph scalar
    """,
    ),
    (
        "strongly_connected_components",
        Family.GRAPHS,
        _GRAPH_IN
        + """
        scc_id out node ptr
        scc_id_h hint node ptr
        A_t hint edge mask
    """
        + _DFS_STATE
        + _DFS_STACK
        + """
        time hint graph scalar
        phase hint graph mask
    """,
    ),
    (
        "mst_kruskal",
        Family.GRAPHS,
        _GRAPH_IN
        + """
        in_mst out edge mask
        in_mst_h hint edge mask
        pi hint node ptr
        u hint node one
        v hint node one
        root_u hint node one
        root_v hint node one
        mask_u hint node mask
        mask_v hint node mask
        phase hint graph cat 3
    """,
    ),
    (
        "mst_prim",
        Family.GRAPHS,
        _SOURCE_GRAPH_IN
        + """
        pi out node ptr
        pi_h hint node ptr
        key hint node scalar
        mark hint node mask
        in_queue hint node mask
        u hint node one
    """,
    ),
    (
        "bellman_ford",
        Family.GRAPHS,
        _SOURCE_GRAPH_IN
        + """
        pi out node ptr
        pi_h hint node ptr
        d hint node scalar
        msk hint node mask
    """,
    ),
    (
        "dijkstra",
        Family.GRAPHS,
        _SOURCE_GRAPH_IN
        + """
        pi out node ptr
        pi_h hint node ptr
        d hint node scalar
        mark hint node mask
        in_queue hint node mask
        u hint node one
    """,
    ),
    (
        "dag_shortest_paths",
        Family.GRAPHS,
        _SOURCE_GRAPH_IN
        + """
        pi out node ptr
        pi_h hint node ptr
        d hint node scalar
        mark hint node mask
        topo_h hint node ptr
        topo_head_h hint node one
        color hint node cat 3
        s_prev hint node ptr
        u hint node one
        v hint node one
        s_last hint node one
        phase hint graph mask
    """,
    ),
    (
        "floyd_warshall",
        Family.GRAPHS,
        _GRAPH_IN
        + """
        Pi out edge ptr
        Pi_h hint edge ptr
        D hint edge scalar
        msk hint edge mask
        k hint node one
    """,
    ),
    # Strings.
    (
        "naive_string_matcher",
        Family.STRINGS,
        _STRING_IN
        + """
        match out node one
        pred_h hint node ptr
        s hint node one
        i hint node one
        j hint node one
    """,
    ),
    (
        "kmp_matcher",
        Family.STRINGS,
        _STRING_IN
        + """
        match out node one
        pred_h hint node ptr
        pi hint node ptr
        is_reset hint node mask
        k hint node one
        k_reset hint graph mask
        q hint node one
        q_reset hint graph mask
        s hint node one
        i hint node one
        phase hint graph mask
    """,
    ),
    # Geometry.
    (
        "segments_intersect",
        Family.GEOMETRY,
        _HULL_IN
        + """
        intersect out graph mask
        i hint node one
        j hint node one
        k hint node one
        dir hint node scalar
        on_seg hint node mask
    """,
    ),
    (
        "graham_scan",
        Family.GEOMETRY,
        _HULL_IN
        + """
        in_hull out node mask
        best hint node one
        atans hint node scalar
        in_hull_h hint node mask
        stack_prev hint node ptr
        last_stack hint node one
        i hint node one
        phase hint graph cat 5
    """,
    ),
    (
        "jarvis_march",
        Family.GEOMETRY,
        _HULL_IN
        + """
        in_hull out node mask
        pred_h hint node ptr
        in_hull_h hint node mask
        best hint node one
        last_point hint node one
        endpoint hint node one
        i hint node one
        phase hint graph cat 2
    """,
    ),
)


def _parse_probes(text: str) -> dict[str, ProbeSpec]:
    probes = {}
    for line in filter(str.strip, text.splitlines()):
        name, stage, location, type_, *classes = line.split()
        if name in probes:
            raise AssertionError(f"probe {name!r} listed twice")
        probes[name] = ProbeSpec(
            _STAGES[stage],
            _LOCATIONS[location],
            _TYPES[type_],
            int(classes[0]) if classes else None,
        )
    return probes


SPECS: Mapping[str, AlgorithmSpec] = types.MappingProxyType(
    {name: AlgorithmSpec(name, family, _parse_probes(text)) for name, family, text in _TABLE}
)
"""Algorithm name -> :class:`AlgorithmSpec`, for the 30 algorithms of CLRS-30."""

CLRS30_ALGORITHMS: tuple[str, ...] = tuple(SPECS)
"""The names of the 30 CLRS-30 algorithms, grouped by family."""
ALL_ALGORITHMS_WORDS = ("all", "clrs30", "clrs-30")
"""What names all 30 algorithms where a list of them is asked for (any case)."""

FAMILIES: Mapping[Family, tuple[str, ...]] = types.MappingProxyType(
    {family: tuple(n for n in SPECS if SPECS[n].family is family) for family in Family}
)
"""Family -> the names of its algorithms."""

PRED_AS_INPUT_ALGORITHMS: tuple[str, ...] = (
    "minimum",
    "binary_search",
    "find_maximum_subarray_kadane",
    "activity_selector",
    "task_scheduling",
    "matrix_chain_order",
    "lcs_length",
    "optimal_bst",
    "naive_string_matcher",
    "kmp_matcher",
    "jarvis_march",
)
"""Algorithms whose ``pred_h`` hint never changes; the NAR takes it as an input.

These are the CLRS-30 members of the reference's ``PRED_AS_INPUT_ALGOS`` (its
extra ``find_maximum_subarray`` is not in CLRS-30). The sorts and quickselect
also have a ``pred_h`` hint, but theirs is the evolving order of the array;
the tests check both facts on sampled trajectories.
"""


def get_spec(algorithm: str) -> AlgorithmSpec:
    """Returns the spec of ``algorithm``; a clear ``ValueError`` for an unknown name."""
    try:
        return SPECS[algorithm]
    except (KeyError, TypeError):
        raise ValueError(unknown_algorithm_message(algorithm)) from None


def parse_algorithms(texts: str | Iterable[str]) -> tuple[str, ...]:
    """Algorithm names from comma-separated text (or several such texts, e.g. an
    option's values): one of :data:`ALL_ALGORITHMS_WORDS` alone for the 30; each
    name checked.

    Raises:
        ValueError: no names, or an unknown one (with the names it is close to).
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    names = [name.strip() for text in texts for name in text.split(",") if name.strip()]
    if len(names) == 1 and names[0].lower() in ALL_ALGORITHMS_WORDS:
        return CLRS30_ALGORITHMS
    if not names:
        raise ValueError("no algorithm names given")
    for name in names:
        get_spec(name)
    return tuple(names)


def unknown_algorithm_message(algorithm: object) -> str:
    """The error text for a name that is not one of the 30 algorithms."""
    close = difflib.get_close_matches(str(algorithm), CLRS30_ALGORITHMS, n=3)
    if close:
        return f"unknown algorithm {algorithm!r}; did you mean {' or '.join(map(repr, close))}?"
    return f"unknown algorithm {algorithm!r} (known: {', '.join(CLRS30_ALGORITHMS)})"
