"""How long a CLRS-Text answer can be, known before answering: the decoding budget.

Leak-free evaluation (``DESIGN.md`` §5) may not size a model's answer by the
true one. :func:`answer_length_bound` bounds the characters of the answer
(its closing ``"\\n\\n"`` included) from what the question holds: the
algorithm's spec, the node count ``N`` and, where an answer reuses input
values, their text. It never reads outputs or hints.

Each rendered value (see :mod:`~transnar.clrs.text.formatting`) is bounded by
its location and type, with an element width ``w``:

- pointers and node ``mask_one`` indices ``len(str(N - 1))``; masks 1 and
  categorical classes ``len(str(C - 1))``, both at least 2 on edges, where
  masked cells show ``-1`` (the LCS table off its pairs, ``is_bridge`` off
  the graph's edges); floats :data:`FLOAT_WIDTHS` (CLRS-30 answers hold none);
- a node list ``[a b c]`` takes ``2 + N w + (N - 1)``, an edge matrix
  ``[[..], [..]]`` ``N`` such rows joined by ``", "`` in brackets, a graph
  value ``w``, a node ``mask_one`` ``w``;
- the sorting output (``should_be_permutation``) lists the input keys in
  sorted order: exactly as long as the ``key`` input's own text.

With index hints (``index_hints``), each list element takes one more
character (its marker) and each matrix element two (its row's and column's).

With traces (``use_hints``), the answer is ``<steps 1 .. T-2> | <output>``;
``T`` is bounded by :func:`transnar.clrs.bounds.length_bound` (a function of
the algorithm and ``N`` only) and each step by the widths of the probes shown.

For any tokenizer that gives an ASCII character at most one token, the
character bound is a token bound too (the character tokenizer: exactly).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from transnar.clrs.bounds import length_bound
from transnar.clrs.execute import validate_inputs
from transnar.clrs.specs import AlgorithmSpec, Location, ProbeSpec, Type, get_spec
from transnar.clrs.text.formatting import (
    FLOAT_FORMATS,
    PARENTHESISED_TRACES,
    SEARCH_TRACES,
    SEPARATOR,
    TRACE_SEPARATOR,
    FloatFormat,
    check_float_format,
    check_index_hints,
    output_names,
    render_probe,
    trace_hints,
)
from transnar.clrs.text.questions import has_index_hints, has_trace, parse_question
from transnar.clrs.trajectory import Trajectory

ANSWER_END = "\n\n"
FLOAT_WIDTHS: Mapping[str, int] = {"default": 24, "legacy": 10}
"""The widest float of each format: ``str()`` of a double takes at most 24
characters (``-1.2345678901234567e-308``), ``.3g`` at most 10 (``-1.23e-308``).
Legacy graph floats (``.3f``) fit 24 characters below ``1e19``. CLRS-30 answers
hold no float (a test checks), so this only keeps the bound total."""
MASKED_WIDTH = 2
"""``len("-1")``: a masked edge cell of a mask or a categorical."""


def answer_length_bound(
    algorithm: str,
    inputs: Mapping[str, Any],
    use_hints: bool = False,
    float_format: FloatFormat = "default",
    index_hints: bool = False,
) -> int:
    """An upper bound on the characters of the CLRS-Text answer of these inputs.

    Args:
        algorithm: one of :data:`~transnar.clrs.CLRS30_ALGORITHMS`.
        inputs: the input probes, as :func:`~transnar.clrs.execute` takes them
            (``pos`` optional), e.g. ``trajectory.inputs`` or the inputs of
            :func:`~transnar.clrs.text.parse_question`.
        use_hints: the answer with its trace.
        float_format: the text format of the floats (``"default"`` or ``"legacy"``).
        index_hints: the answer's lists and matrices carry index markers.

    Returns:
        A bound on ``len(answer)``, the closing ``"\\n\\n"`` included, for
        every instance with these inputs, whatever its outputs; with a trace,
        its steps are bounded by :func:`~transnar.clrs.bounds.length_bound`,
        measured on the sampler's default distribution: an instance from
        another (e.g. a denser graph) may have a longer trace.

    Raises:
        ValueError: an unknown algorithm or float format, inputs ``execute``
            refuses, a node count the algorithm's instances never have, more
            nodes than index markers (with ``index_hints``).
    """
    check_float_format(float_format)
    spec = get_spec(algorithm)
    widths = _Widths(spec, validate_inputs(spec, inputs), float_format, index_hints)
    if index_hints:
        check_index_hints(algorithm, widths.num_nodes)
    names = output_names(spec, use_hints)
    shown = names if use_hints and algorithm in SEARCH_TRACES else spec.outputs
    answer = _joined(widths.value(name) for name in shown)
    if use_hints:
        parentheses = 2 if algorithm in PARENTHESISED_TRACES else 0
        answer += parentheses
        trace = trace_hints(spec, names)
        if trace:
            step = _joined(widths.value(name) for _, name in trace) + parentheses
            middle = max(0, length_bound(algorithm, widths.num_nodes) - 2)  # steps 1 .. T-2
            answer += middle * step + len(SEPARATOR) * max(0, middle - 1) + len(TRACE_SEPARATOR)
    return answer + len(ANSWER_END)


def question_answer_bound(question: str, float_format: FloatFormat | None = None) -> int:
    """:func:`answer_length_bound` of a CLRS-Text question's algorithm and inputs.

    The question is parsed without checking its initial trace (which would
    run the algorithm); a trace question (last line ``trace | ...``) gets the
    bound with traces, a question with index hints the bound with index hints.
    ``float_format=None``: the larger bound of both formats.
    """
    index_hints = has_index_hints(question)
    algorithm, inputs = parse_question(question, check_trace=False, index_hints=index_hints)
    use_hints = has_trace(question)
    formats = FLOAT_FORMATS if float_format is None else (float_format,)
    return max(answer_length_bound(algorithm, inputs, use_hints, f, index_hints) for f in formats)


def _joined(widths: Iterable[int]) -> int:
    """The length of texts of these lengths joined by ``", "``."""
    widths = list(widths)
    return sum(widths) + len(SEPARATOR) * max(0, len(widths) - 1)


class _Widths:
    """Bounds on the rendered length of the values of one instance's probes."""

    def __init__(
        self,
        spec: AlgorithmSpec,
        inputs: Mapping[str, np.ndarray],
        float_format: str,
        index_hints: bool = False,
    ):
        self.spec = spec
        self.inputs = inputs
        self.float_format = float_format
        self.index_hints = index_hints
        self.num_nodes = next(
            value.shape[0]
            for name, value in inputs.items()
            if spec[name].location is not Location.GRAPH
        )

    def value(self, name: str) -> int:
        """A bound on the text of any (time-less) value of probe ``name``."""
        probe = self.spec[name]
        n = self.num_nodes
        if probe.type is Type.SHOULD_BE_PERMUTATION:  # the keys, reordered
            instance = Trajectory(self.spec.name, dict(self.inputs), {}, {}, self.spec)
            key = self.inputs["key"]
            return len(render_probe(instance, "key", key, self.float_format, self.index_hints))
        width = self._element(probe)
        if probe.location is Location.GRAPH:
            return width
        if probe.location is Location.NODE and probe.type is Type.MASK_ONE:  # an index
            return width
        if self.index_hints:  # a marker per list element, two per matrix element
            width += 1 if probe.location is Location.NODE else 2
        row = 2 + n * width + (n - 1)  # [a b c]
        if probe.location is Location.NODE:
            return row
        return 2 + n * row + len(SEPARATOR) * (n - 1)  # [[..], [..]]

    def _element(self, probe: ProbeSpec) -> int:
        if probe.type in (Type.POINTER, Type.MASK_ONE):
            return len(str(self.num_nodes - 1))
        if probe.type is Type.SCALAR:
            return FLOAT_WIDTHS[self.float_format]
        if probe.type is Type.MASK:
            width = 1
        elif probe.type is Type.CATEGORICAL:
            width = len(str(probe.num_classes - 1))
        else:
            raise ValueError(f"{self.spec.name}: no text width for a {probe.type.value} probe")
        return max(width, MASKED_WIDTH) if probe.location is Location.EDGE else width


__all__ = ["FLOAT_WIDTHS", "answer_length_bound", "question_answer_bound"]
