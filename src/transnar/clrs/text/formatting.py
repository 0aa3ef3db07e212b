"""CLRS-Text: a trajectory as a question and an answer, byte for byte as the reference.

The format (CLRS-Text, Markeeva et al. 2024; reference ``clrs_text``)::

    question = f"{algorithm}:\\n{inputs}\\n{output names}:\\n"
    answer   = f"{outputs}\\n\\n"

``inputs`` lists every input probe in spec order as ``name: value``, joined by
``", "``, without ``pos`` (and without ``adj`` where ``A`` is given); outputs
are values only, joined by ``", "``. Values render by location and type:

- node scalars ``[0.548 0.715]``; node masks, pointers and categorical
  classes ``[0 1 1]``; a node ``mask_one`` is its index ``3``; a sorting
  output (``should_be_permutation``) is the list of keys in sorted order;
- graph scalars ``0.645``; graph masks, pointers and classes ``1``;
- edge probes ``[[0 1], [1 0]]`` (rows joined by ``", "``), with -1 for the
  masked cells of a categorical.

With ``use_hints`` (traces), the trace variable's first value is appended to
the input as ``initial_trace: ...``, the output-names line becomes
``trace | <names>`` and the answer ``<intermediate values> | <output>``; see
:func:`format_example`.

Floats: ``"default"`` renders them with ``str()``, as dm-clrs 2.0.3 does (with
``truncate_decimals=3`` sampling, text and graph then hold the same numbers);
``"legacy"`` reproduces the July 2024 public CLRS-Text datasets and the
TransNAR paper (node and edge floats with the format ``.3g``, graph floats with
``.3f``).

Index hints (``index_hints=True``; Zhou et al. 2023, "What Algorithms can
Transformers Learn?"), not in the reference: every element of every list and
matrix, in the question and in the answer (traces included), is preceded,
without a space, by a marker naming its index, a letter of
:data:`INDEX_MARKERS` (``a`` for 0 .. ``z`` for 25, ``A`` for 26 .. ``Z`` for
51): ``[a0.548 b0.715 c0.602]``; a matrix element carries its row's marker,
then its column's: ``[[aa0 ab1], [ba1 bb0]]``. Single numbers (graph values,
``mask_one`` indices) carry none, and values are unchanged (a pointer to node
3 is still ``3``, the element marked ``d``). Lists of more than 52 elements
have no markers left: ``ValueError``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from transnar.clrs.specs import MASKED, AlgorithmSpec, Location, Type
from transnar.clrs.trajectory import Trajectory

FloatFormat = Literal["default", "legacy"]
FLOAT_FORMATS: tuple[str, ...] = ("default", "legacy")

INDEX_MARKERS = string.ascii_lowercase + string.ascii_uppercase
"""The index markers of index hints: the marker of index ``i`` is ``INDEX_MARKERS[i]``."""

SEPARATOR = ", "
INITIAL_TRACE = "initial_trace:"
TRACE = "trace"
TRACE_SEPARATOR = " | "

# With traces, these algorithms show other hints than their outputs: the
# string matchers the shift ``s``, the searches the bounds they narrow.
TRACE_HINTS: dict[str, tuple[str, ...]] = {
    "naive_string_matcher": ("s",),
    "kmp_matcher": ("s",),
    "binary_search": ("low", "high"),
    "find_maximum_subarray_kadane": ("best_low", "best_high"),
    "quickselect": ("pivot",),
}
# Algorithms whose answer *is* the final value of their trace hints.
SEARCH_TRACES = ("binary_search", "find_maximum_subarray_kadane", "quickselect")
# Algorithms whose trace entries are wrapped in parentheses, e.g. ``(3, 4)``.
PARENTHESISED_TRACES = ("binary_search", "find_maximum_subarray_kadane")


def check_float_format(float_format: object, name: str = "float_format") -> None:
    """A ``ValueError`` naming ``name`` unless ``float_format`` is one of :data:`FLOAT_FORMATS`."""
    if float_format not in FLOAT_FORMATS:
        raise ValueError(f"{name} must be one of {FLOAT_FORMATS}, got {float_format!r}")


def format_example(
    trajectory: Trajectory,
    use_hints: bool = False,
    float_format: FloatFormat = "default",
    index_hints: bool = False,
    marker_offset: int = 0,
) -> tuple[str, str]:
    """The CLRS-Text question and answer of a trajectory.

    Args:
        trajectory: a trajectory as sampled or executed (not transformed).
        use_hints: render the trace: the first value of the trace hints goes
            into the question (``initial_trace:``), the intermediate values and
            the output into the answer, separated by ``" | "``.
            ``segments_intersect`` has no trace and is rendered as without.
        float_format: ``"default"`` (dm-clrs 2.0.3, ``str()``) or ``"legacy"``
            (``.3g`` / ``.3f``, the July 2024 datasets).
        index_hints: precede every element of every list and matrix by its
            index marker (:data:`INDEX_MARKERS`; Zhou et al. 2023), e.g.
            ``[a3 b0 c1]``, ``[[aa0 ab1], [ba1 bb0]]``. Not in the reference:
            the default ``False`` is the reference format.
        marker_offset: with ``index_hints``, the markers start this many
            letters along :data:`INDEX_MARKERS` (element ``i`` carries
            ``INDEX_MARKERS[marker_offset + i]``: ``[d3 e0 f1]`` for 3): drawn at
            random for training rows, it shows a model every marker whatever
            the sizes it trains on (``shift_markers`` of the datasets).

    Returns:
        ``(question, answer)``; ``question + answer`` is the full text.

    Raises:
        ValueError: an unknown float format; with ``index_hints``, an instance
            of more nodes than :data:`INDEX_MARKERS` has markers (52) from
            ``marker_offset`` on; a ``marker_offset`` without ``index_hints``.
    """
    check_float_format(float_format)
    if index_hints:
        check_index_hints(trajectory.algorithm, trajectory.num_nodes, marker_offset)
    elif marker_offset:
        raise ValueError("marker_offset shifts index markers: it needs index_hints=True")
    renderer = _Renderer(trajectory, float_format, index_hints, marker_offset)
    spec = trajectory.spec
    algorithm = trajectory.algorithm
    inputs = SEPARATOR.join(
        f"{name}: {renderer.render(name, trajectory.inputs[name])}"
        for name in spec.inputs
        if not hidden_input(name, spec)
    )
    names = output_names(spec, use_hints)
    if use_hints and algorithm in SEARCH_TRACES:
        answer = SEPARATOR.join(renderer.render(n, trajectory.hints[n][-1]) for n in names)
    else:
        answer = SEPARATOR.join(renderer.render(n, trajectory.outputs[n]) for n in spec.outputs)
    if use_hints:
        answer = parenthesise(algorithm, [answer])
        trace = trace_hints(spec, names)
        if trace:
            steps = [
                [renderer.render(shown, trajectory.hints[hint][t]) for hint, shown in trace]
                for t in range(trajectory.length)
            ]
            initial = parenthesise(algorithm, steps[0])
            middle = SEPARATOR.join(parenthesise(algorithm, step) for step in steps[1:-1])
            inputs = SEPARATOR.join([inputs, f"{INITIAL_TRACE} {initial}"])
            answer = TRACE_SEPARATOR.join([middle, answer])
    names_line = output_names_line(spec, use_hints)
    return f"{algorithm}:\n{inputs}\n{names_line}:\n", f"{answer}\n\n"


def hidden_input(name: str, spec: AlgorithmSpec) -> bool:
    """Whether an input probe is left out of the text (``pos``; ``adj`` next to ``A``)."""
    return name == "pos" or (name == "adj" and "A" in spec)


def output_names(spec: AlgorithmSpec, use_hints: bool) -> tuple[str, ...]:
    """The names on the question's last line (before any ``trace |`` prefix)."""
    if use_hints and spec.name in TRACE_HINTS:
        return TRACE_HINTS[spec.name]
    return spec.outputs


def output_names_line(spec: AlgorithmSpec, use_hints: bool) -> str:
    """The question's last line without its ``:``, e.g. ``topo, topo_head`` or
    ``trace | (low, high)``."""
    names = output_names(spec, use_hints)
    line = SEPARATOR.join(names)
    if not (use_hints and trace_hints(spec, names)):
        return line
    return TRACE_SEPARATOR.join([TRACE, parenthesise(spec.name, [line])])


def trace_hints(spec: AlgorithmSpec, names: Sequence[str]) -> list[tuple[str, str]]:
    """The hints shown in a trace, each with the probe whose rendering it takes.

    For most algorithms these are the hints ``<output>_h``, rendered as their
    output (so a sorting trace lists keys in the current order); for the
    algorithms of :data:`TRACE_HINTS`, those hints themselves.
    """
    if spec.name in TRACE_HINTS:
        shown = TRACE_HINTS[spec.name]
        return [(hint, hint) for hint in spec.hints if hint in shown]
    # The reference strips the last two characters, whatever they are.
    return [(hint, hint[:-2]) for hint in spec.hints if hint[:-2] in names]


def parenthesise(algorithm: str, values: Sequence[str]) -> str:
    """Joins values with ``", "``, in parentheses for the algorithms that trace pairs."""
    joined = SEPARATOR.join(values)
    return f"({joined})" if algorithm in PARENTHESISED_TRACES else joined


def check_index_hints(algorithm: str, num_nodes: int, marker_offset: int = 0) -> None:
    """Raises ``ValueError`` if ``num_nodes`` elements have no index markers left
    (from marker ``marker_offset`` on), or for a negative ``marker_offset``."""
    if isinstance(marker_offset, bool) or not isinstance(marker_offset, int) or marker_offset < 0:
        raise ValueError(f"marker_offset must be an integer >= 0, got {marker_offset!r}")
    if num_nodes + marker_offset > len(INDEX_MARKERS):
        start = f" from marker {marker_offset} on" if marker_offset else ""
        raise ValueError(
            f"{algorithm}: index hints mark at most {len(INDEX_MARKERS) - marker_offset} "
            f"elements{start} (a-z, A-Z), this instance has {num_nodes} nodes"
        )


# A marker is one or two letters right after "[" or a space, before a number.
_MARKER = re.compile(r"(?<=[\[ ])[A-Za-z]{1,2}(?=[-0-9])", re.ASCII)


def without_index_hints(text: str) -> str:
    """``text`` (a question, an answer or a whole example) with every index marker
    removed: what :func:`format_example` writes without ``index_hints``."""
    return _MARKER.sub("", text)


def index_markers(text: str) -> list[str]:
    """The index markers of ``text`` in order: ``['a', 'b']`` for ``[a3 b0]``, one
    string per matrix element (``'ab'``: row ``a``, column ``b``)."""
    return _MARKER.findall(text)


def marker_offset_of(text: str) -> int:
    """How far along :data:`INDEX_MARKERS` the markers of ``text`` (a question, an
    answer or a whole example of :func:`format_example`) start: the index of its
    first marker's letter (every list and matrix starts at its element 0); 0
    without markers. Only looks: the parsers check every marker."""
    match = _MARKER.search(text)
    return 0 if match is None else INDEX_MARKERS.index(match.group()[0])


def index_marker(index: int) -> str:
    """The marker of element ``index`` (``ValueError`` past the last marker)."""
    if not 0 <= index < len(INDEX_MARKERS):
        raise ValueError(
            f"no index marker for index {index}: index hints mark at most "
            f"{len(INDEX_MARKERS)} elements (a-z, A-Z)"
        )
    return INDEX_MARKERS[index]


class _Renderer:
    """Renders probe values of one trajectory (the sorting output needs its keys)."""

    def __init__(
        self,
        trajectory: Trajectory,
        float_format: FloatFormat,
        index_hints: bool = False,
        marker_offset: int = 0,
    ):
        self.trajectory = trajectory
        self.spec = trajectory.spec
        self.index_hints = index_hints
        self.marker_offset = marker_offset
        legacy = float_format == "legacy"
        self.node_float: Callable[[object], str] = (lambda v: f"{v:.3g}") if legacy else str
        self.graph_float: Callable[[object], str] = (lambda v: f"{v:.3f}") if legacy else str

    def render(self, name: str, value: np.ndarray) -> str:
        """The text of one (time-less) value of probe ``name``."""
        probe = self.spec[name]
        value = np.asarray(value)
        if probe.location is Location.NODE:
            return self._node(probe.type, value)
        if probe.location is Location.GRAPH:
            return self._graph(probe.type, value)
        return self._edge(probe.type, value)

    def _node(self, type_: Type, value: np.ndarray) -> str:
        if type_ is Type.SHOULD_BE_PERMUTATION:
            keys = self.trajectory.inputs["key"]
            return self._list([self.node_float(keys[i]) for i in predecessors_to_order(value)])
        if type_ is Type.MASK_ONE:
            return str(int(np.flatnonzero(value)[0]))
        if type_ is Type.SCALAR:
            return self._list([self.node_float(v) for v in value])
        return self._list([str(v) for v in _integers(type_, value)])

    def _graph(self, type_: Type, value: np.ndarray) -> str:
        if type_ is Type.SCALAR:
            return self.graph_float(value[()])
        return str(_integers(type_, value)[()])

    def _edge(self, type_: Type, value: np.ndarray) -> str:
        if type_ is Type.SCALAR:
            rows = [[self.node_float(v) for v in row] for row in value]
        else:
            rows = [[str(v) for v in row] for row in _integers(type_, value, keep_masked=True)]
        if self.index_hints:
            rows = [
                [self._marker(i) + self._marker(j) + v for j, v in enumerate(row)]
                for i, row in enumerate(rows)
            ]
        return _row(map(_row, rows), SEPARATOR)

    def _list(self, items: list[str]) -> str:
        if self.index_hints:
            items = [self._marker(i) + v for i, v in enumerate(items)]
        return _row(items)

    def _marker(self, index: int) -> str:
        return index_marker(self.marker_offset + index)


def _row(items, separator: str = " ") -> str:
    return f"[{separator.join(items)}]"


def _integers(type_: Type, value: np.ndarray, keep_masked: bool = False) -> np.ndarray:
    """Class indices of a categorical, else the values as ints.

    With ``keep_masked`` (edge probes, e.g. the LCS table), a categorical cell
    holding -1 anywhere renders as -1.
    """
    if type_ is not Type.CATEGORICAL:
        return value.astype(int)
    classes = value.argmax(-1)
    if keep_masked:
        classes[(value == MASKED).any(-1)] = MASKED
    return classes


def predecessors_to_order(pointers: np.ndarray) -> np.ndarray:
    """The nodes in order, from predecessor pointers (the first points to itself).

    Walks back from the last node, the one no other node points to;
    ``pointers`` must describe a linear order.
    """
    pointers = pointers.astype(int)
    n = pointers.shape[0]
    pointed_to = np.zeros(n, dtype=bool)
    pointed_to[pointers[pointers != np.arange(n)]] = True  # the first node points to itself
    (last,) = np.flatnonzero(~pointed_to)
    order = np.empty(n, dtype=int)
    order[-1] = last
    for i in range(n - 2, -1, -1):
        order[i] = pointers[order[i + 1]]
    return order


def render_probe(
    trajectory: Trajectory,
    name: str,
    value: np.ndarray,
    float_format: FloatFormat = "default",
    index_hints: bool = False,
    marker_offset: int = 0,
) -> str:
    """The text of one value of probe ``name`` of ``trajectory``, as in CLRS-Text."""
    return _Renderer(trajectory, float_format, index_hints, marker_offset).render(name, value)


__all__ = [
    "FLOAT_FORMATS",
    "INDEX_MARKERS",
    "TRACE_HINTS",
    "check_float_format",
    "check_index_hints",
    "format_example",
    "index_marker",
    "index_markers",
    "marker_offset_of",
    "output_names",
    "output_names_line",
    "parenthesise",
    "predecessors_to_order",
    "render_probe",
    "trace_hints",
    "without_index_hints",
]
