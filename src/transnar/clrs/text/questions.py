"""CLRS-Text questions back to input probes: a prompt alone is enough to run the NAR.

:func:`parse_question` inverts the question half of
:func:`~transnar.clrs.text.format_example`::

    algorithm, inputs = parse_question(question)
    trajectory = execute(algorithm, inputs)     # outputs and hints included
    format_example(trajectory, use_hints)       # == (question, answer)

A question has three lines (REFERENCE.md §7.1)::

    <algorithm>:
    <name>: <value>, <name>: <value>[, initial_trace: <value>[, <value>]]
    [trace | ]<output names>:

Everything is read from the spec (:data:`~transnar.clrs.SPECS`): which input
probes the text shows (all but :func:`~transnar.clrs.text.formatting.hidden_input`),
in which order, and how each renders by location and type:

- node probes are lists ``[0.548 0.715]``, except a node ``mask_one``, which is
  the index of its node (``s: 3``); edge probes are matrices
  ``[[0 1], [1 0]]``; graph probes are single numbers;
- ``scalar`` probes hold numbers, every other type integers: 0/1 (or -1) for
  masks, node indices for pointers and ``mask_one``, class indices for
  categorical probes.

The inputs come back as :func:`~transnar.clrs.execute` takes them, in the
dtypes the reference samples them with, so that the rebuilt trajectory
``equals`` the sampled one:

- scalar probes are ``int64`` when every number is written as an integer
  (an unweighted ``A`` printed ``0 1``, the ``task_scheduling`` deadlines
  ``d``), else ``float64`` (``strongly_connected_components`` prints its
  0/1 matrix ``1.0 0.0``); floats are parsed from their ``str()`` text, which
  gives back the very same double;
- masks are ``float64`` 0/1, pointers ``int64`` node indices, ``mask_one``
  and categorical probes one-hot ``float64`` (the string algorithms' ``key``
  over 4 letters);
- hidden inputs are rebuilt: ``adj`` is the edge mask of ``A``
  (:func:`~transnar.clrs.algorithms._graphs.adjacency`); ``pos`` is left out,
  so that ``execute`` records the canonical one (``i / N``, or per string for
  the string algorithms). A randomized ``pos`` is the one thing the text
  cannot carry. Everything else the reference lays out specially is printed
  as is (e.g. the ``optimal_bst`` ``p`` with its trailing padding entry).

With a trace (the last line starts with ``trace | ``), the input line ends
with the first value of the trace, ``initial_trace: ...``; it is parsed against
the shapes and types of the trace hints and, with ``check_trace`` (default),
compared with the first trace step of the rebuilt trajectory.

Float formats: questions in the ``"legacy"`` format (node and edge floats with
``.3g``, graph floats with ``.3f``: the July 2024 public datasets and the
TransNAR paper) parse as well, to the printed (rounded) values, so the round
trip is exact only in the ``"default"`` format. The rebuilt trajectory runs on
the rounded inputs: its answer may differ from the dataset's, computed on the
unrounded values (e.g. ties that the rounding creates), and rounded points can
even become collinear, which the convex hulls reject (with a trace and
``check_trace``, :func:`parse_question` then raises). A legacy ``0`` for
``0.0`` reads as an integer, so an all-zero float matrix comes back ``int64``.

Index hints (``format_example(..., index_hints=True)``): every element of a
list carries its index marker (``[a0.548 b0.715]``), every element of a matrix
its row's and its column's (``[[aa0 ab1], [ba1 bb0]]``). By default
(``index_hints=None``) :func:`parse_question` detects them from the first
element of the first list, since a number never starts with a letter
(:func:`has_index_hints`); then every element must carry exactly its own
marker, and without them none may. Markers shifted along the alphabet
(``format_example(..., marker_offset=3)``: ``[d0.548 e0.715]``) start where the
first list's first element says, and every element must follow from there. The
markers are checked and dropped: the inputs are the same as those of the plain
question.

Malformed text raises ``ValueError`` naming the line and column and what was
expected there. Whitespace between tokens is free, but the separators are
required: commas between fields, matrix rows and trace values, spaces between
the numbers of a list, ``:`` after names.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from transnar.clrs.algorithms._graphs import adjacency
from transnar.clrs.execute import initial_state
from transnar.clrs.specs import (
    MASKED,
    SPECS,
    AlgorithmSpec,
    Location,
    ProbeSpec,
    Type,
    unknown_algorithm_message,
)
from transnar.clrs.text.answers import probe_kind
from transnar.clrs.text.formatting import (
    FLOAT_FORMATS,
    INITIAL_TRACE,
    PARENTHESISED_TRACES,
    SEPARATOR,
    TRACE,
    TRACE_SEPARATOR,
    hidden_input,
    output_names,
    output_names_line,
    render_probe,
    trace_hints,
)
from transnar.clrs.text.question_syntax import (
    INITIAL_TRACE_NAME,
    InitialTrace,
    Line,
    ListValue,
    MatrixValue,
    Token,
    TupleValue,
    Value,
    first_list_marked,
    first_list_offset,
    parse_fields,
    question_error,
    split_lines,
    tokenize,
    unmark,
)

REBUILT_INPUTS: Mapping[str, Callable[[Mapping[str, np.ndarray]], np.ndarray]] = (
    types.MappingProxyType({"adj": lambda inputs: adjacency(inputs["A"])})
)
"""Hidden inputs (not in the text) -> how to rebuild them from the parsed ones.

Every other hidden input is ``pos``, which is left out for ``execute`` to record.
"""

_INTEGER = re.compile(r"[+-]?\d+\Z", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)
_INT64 = np.iinfo(np.int64)


def parse_question(
    question: str, *, check_trace: bool = True, index_hints: bool | None = None
) -> tuple[str, dict[str, np.ndarray]]:
    """The algorithm and input probes of a CLRS-Text question.

    Args:
        question: the question half of
            :func:`~transnar.clrs.text.format_example` (three lines, the last
            ending with ``":\\n"``; the final newline may be missing), with or
            without a trace, in either float format.
        check_trace: with a trace, run the algorithm's first step on the parsed
            inputs (:func:`~transnar.clrs.execute.initial_state`, never to its
            end) and check that the ``initial_trace`` is its first trace step (in the
            default or the legacy float format). Without it the initial trace
            is only checked for shape and types.
        index_hints: whether the lists carry index markers; ``None`` (default)
            detects it from the first element of the first list
            (:func:`has_index_hints`). Either way the markers must be all
            there and right, or all absent.

    Returns:
        ``(algorithm, inputs)``: every input probe of the algorithm's spec
        except ``pos``, in spec order, as :func:`~transnar.clrs.execute` takes
        them, so ``execute(*parse_question(question))`` rebuilds the whole
        trajectory.

    Raises:
        ValueError: malformed text, naming the line, the column and what was
            expected there: an unknown algorithm, output names that are not
            the algorithm's, a missing, unknown, repeated or misplaced field,
            unbalanced brackets, a token that is not a number (or not an
            integer where the type needs one), ragged or non-square matrices,
            node counts that disagree, out-of-range indices, an initial trace
            that does not fit the inputs, or (with ``check_trace``) inputs the
            algorithm rejects; with index hints, a missing or wrong marker.
        TypeError: ``question`` is not a string.
    """
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, got {type(question).__name__}")
    head, input_line, names_line = split_lines(question)
    spec = SPECS[_algorithm(head)]
    use_hints = _trace_mode(spec, names_line)
    line = Line(2, input_line)
    fields, initial = parse_fields(line)
    hinted = first_list_marked(line.tokens) if index_hints is None else bool(index_hints)
    offset = first_list_offset(line.tokens) if hinted else 0
    fields = {
        name: (token, unmark(line, name, v, hinted, offset)) for name, (token, v) in fields.items()
    }
    if initial is not None:
        label = INITIAL_TRACE_NAME
        values = [unmark(line, label, v, hinted, offset) for v in initial.values]
        initial = initial._replace(values=values)
    _check_field_names(spec, line, fields, initial, use_hints)
    n = _num_nodes(spec, line, fields)
    inputs = {}
    for name in spec.inputs:
        if name in fields:
            inputs[name] = _read_input(spec, name, line, fields[name], n)
        elif name in REBUILT_INPUTS:
            inputs[name] = REBUILT_INPUTS[name](inputs)
    if initial is not None:
        _check_initial_trace(spec, line, initial, n, inputs, check_trace, hinted, offset)
    return spec.name, inputs


def has_trace(question: str) -> bool:
    """Whether a CLRS-Text question asks for the answer with its trace: whether its
    last line (the output names) starts ``trace | ``.

    Only looks; :func:`parse_question` checks the line against the algorithm's.
    """
    names_line = question.rstrip("\n").rsplit("\n", 1)[-1]
    return names_line.startswith(f"{TRACE}{TRACE_SEPARATOR}")


def has_index_hints(question: str) -> bool:
    """Whether a CLRS-Text question carries index hints: whether the first
    element of its first list starts with a letter (a marker), not a digit.

    Only looks; :func:`parse_question` checks every marker.
    """
    lines = question.split("\n")
    return len(lines) > 1 and first_list_marked(tokenize(lines[1]))


def _algorithm(head: str) -> str:
    if not head.endswith(":"):
        raise question_error(1, f"expected '<algorithm>:', got {head!r}", len(head) + 1)
    name = head[:-1]
    if name not in SPECS:
        raise question_error(1, unknown_algorithm_message(name), 1)
    return name


def _trace_mode(spec: AlgorithmSpec, names_line: str) -> bool:
    """Whether the question has a trace, from its output-names line."""
    plain, traced = output_names_line(spec, False), output_names_line(spec, True)
    if names_line == f"{plain}:":
        return False
    if names_line == f"{traced}:" and traced != plain:
        return True
    expected = repr(f"{plain}:") + (
        f" (or {traced + ':'!r} with a trace)" if traced != plain else ""
    )
    raise question_error(
        3, f"expected {expected}, the output names of {spec.name}; got {names_line!r}"
    )


def _check_field_names(
    spec: AlgorithmSpec,
    line: Line,
    fields: Mapping[str, tuple[Token, Value]],
    initial: InitialTrace | None,
    use_hints: bool,
) -> None:
    expected = [name for name in spec.inputs if not hidden_input(name, spec)]
    for position, (name, (token, _)) in enumerate(fields.items()):
        if name in spec.inputs and name not in expected:
            raise line.error(
                token,
                f"{name!r} is not written in CLRS-Text questions "
                f"({spec.name}'s question lists {', '.join(expected)})",
            )
        if name not in expected:
            close = difflib.get_close_matches(name, expected, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise line.error(
                token,
                f"unknown field {name!r} for {spec.name} (its question lists "
                f"{', '.join(expected)}){hint}",
            )
        if position < len(expected) and name != expected[position]:
            raise line.error(
                token,
                f"expected the field {expected[position]!r} here ({spec.name} lists "
                f"{', '.join(expected)} in this order), got {name!r}",
            )
    if len(fields) < len(expected):
        missing = expected[len(fields)]
        raise line.error(
            initial.name if initial else line.peek(),
            f"missing field {missing!r} ({spec.name} lists {', '.join(expected)})",
        )
    if use_hints and initial is None:
        raise line.error(line.peek(), f"missing '{INITIAL_TRACE} ...' (line 3 announces a trace)")
    if initial is not None and not use_hints:
        reason = (
            f"{spec.name} has no trace"
            if output_names_line(spec, True) == output_names_line(spec, False)
            else f"line 3 has no '{TRACE}{TRACE_SEPARATOR}' prefix"
        )
        raise line.error(initial.name, f"unexpected {INITIAL_TRACE!r}: {reason}")


# --- From values to probes ----------------------------------------------------


_FORM_EXAMPLES = {  # how a probe renders (answers.probe_kind(probe).shape)
    "scalar": "a single number",
    "list": "a list of numbers such as [0 1 2]",
    "matrix": "a matrix such as [[0 1], [1 0]]",
}
_FORM_OF_VALUE = {Token: "scalar", ListValue: "list", MatrixValue: "matrix", TupleValue: "tuple"}
_FORM_WORDS = {"scalar": "number"}  # a value's form, in the error messages


def _shape_of(line: Line, name: str, probe: ProbeSpec, value: Value) -> int | None:
    """Checks the form of a value; returns its number of nodes (None for a number)."""
    form, kind = probe_kind(probe).shape, _FORM_OF_VALUE[type(value)]
    if kind != form:
        raise line.error(
            value.column,
            f"{name!r} ({probe.location.value} {probe.type.value}) should be "
            f"{_FORM_EXAMPLES[form]}, got a {_FORM_WORDS.get(kind, kind)}",
        )
    if isinstance(value, ListValue):
        return len(value.items)
    if isinstance(value, MatrixValue):
        width = len(value.rows[0].items)
        for number, row in enumerate(value.rows[1:], start=2):
            if len(row.items) != width:
                raise line.error(
                    row.column,
                    f"ragged matrix {name!r}: row {number} has {len(row.items)} entries, "
                    f"row 1 has {width}",
                )
        if width != len(value.rows):
            raise line.error(
                value.column,
                f"{name!r} should be a square N x N matrix, got {len(value.rows)} rows "
                f"of {width} entries",
            )
        return width
    return None


def _num_nodes(spec: AlgorithmSpec, line: Line, fields: Mapping[str, tuple[Token, Value]]) -> int:
    """The number of nodes ``N``, on which every node and edge field must agree."""
    first: tuple[str, int] | None = None
    for name, (_, value) in fields.items():
        count = _shape_of(line, name, spec[name], value)
        if count is None:
            continue
        if first is None:
            first = (name, count)
        elif count != first[1]:
            raise line.error(
                value.column,
                f"inconsistent node counts: {name!r} has {count} nodes, "
                f"{first[0]!r} has {first[1]}",
            )
    if first is None:  # no spec has only mask_one and graph inputs
        raise line.error(line.peek(), f"no field of {spec.name} gives the number of nodes")
    return first[1]


def _tokens(value: Value) -> list[Token]:
    if isinstance(value, Token):
        return [value]
    if isinstance(value, ListValue):
        return list(value.items)
    return [token for row in value.rows for token in row.items]


def _integer_range(probe: ProbeSpec, n: int) -> tuple[int, int, str]:
    """Allowed integers ``[low, high)`` of a non-scalar probe, and what they mean."""
    if probe.type is Type.POINTER or (
        probe.type is Type.MASK_ONE and probe.location is Location.NODE
    ):
        return 0, n, f"a node index in [0, {n})"
    if probe.type is Type.CATEGORICAL:
        low = MASKED if probe.location is Location.EDGE else 0
        return low, probe.num_classes, f"a class in [{low}, {probe.num_classes})"
    return MASKED, 2, "0 or 1 (or -1, masked)"


def _numbers(line: Line, name: str, probe: ProbeSpec, value: Value, n: int) -> np.ndarray:
    """The numbers of a (checked) value, in its shape: integers or floats by type.

    Scalar probes (and the sorted keys of a ``should_be_permutation`` trace)
    come back ``int64`` when every number is written as an integer, else
    ``float64``; other types must be integers in their range.
    """
    tokens = _tokens(value)
    shape = {"scalar": (), "list": (n,), "matrix": (n, n)}[probe_kind(probe).shape]
    if probe.type in (Type.SCALAR, Type.SHOULD_BE_PERMUTATION):
        for token in tokens:
            if not _NUMBER.match(token.text):
                raise line.error(token, f"expected a number in {name!r}, got {token.text!r}")
        if all(_INTEGER.match(token.text) for token in tokens):
            return _integers(line, name, tokens, _INT64.min, _INT64.max + 1, "an int64").reshape(
                shape
            )
        values = np.array([float(token.text) for token in tokens], dtype=np.float64)
        infinite = np.flatnonzero(~np.isfinite(values))
        if infinite.size:
            token = tokens[infinite[0]]
            raise line.error(token, f"{token.text!r} in {name!r} is out of the float64 range")
        return values.reshape(shape)
    low, high, meaning = _integer_range(probe, n)
    return _integers(line, name, tokens, low, high, meaning).reshape(shape)


def _integers(
    line: Line, name: str, tokens: Sequence[Token], low: int, high: int, meaning: str
) -> np.ndarray:
    values = []
    for token in tokens:
        if not _INTEGER.match(token.text):
            raise line.error(
                token, f"expected an integer ({meaning}) in {name!r}, got {token.text!r}"
            )
        value = int(token.text)
        if not low <= value < high:
            raise line.error(token, f"{name!r}: {value} is out of range, expected {meaning}")
        values.append(value)
    return np.array(values, dtype=np.int64)


def _read_input(
    spec: AlgorithmSpec, name: str, line: Line, field: tuple[Token, Value], n: int
) -> np.ndarray:
    """One input probe, from its text to the layout and dtype ``execute`` takes."""
    probe = spec[name]
    values = _numbers(line, name, probe, field[1], n)
    if probe.type is Type.MASK_ONE:
        return np.eye(n)[values] if probe.location is Location.NODE else values.astype(float)
    if probe.type is Type.CATEGORICAL:
        return np.eye(probe.num_classes)[values]
    if probe.type is Type.MASK:
        return values.astype(np.float64)
    return values


def _check_initial_trace(
    spec: AlgorithmSpec,
    line: Line,
    initial: InitialTrace,
    n: int,
    inputs: Mapping[str, np.ndarray],
    check_trace: bool,
    index_hints: bool = False,
    marker_offset: int = 0,
) -> None:
    """Checks the trace's first step against the trace hints' forms and, optionally, a run."""
    token, values, start, end = initial
    values = list(values)
    trace = trace_hints(spec, output_names(spec, True))
    if spec.name in PARENTHESISED_TRACES:
        if len(values) != 1 or not isinstance(values[0], TupleValue):
            raise line.error(
                values[0].column,
                f"{spec.name}'s initial trace is one parenthesised step "
                f"({', '.join(shown for _, shown in trace)})",
            )
        values = list(values[0].items)
    if len(values) != len(trace):
        raise line.error(
            token,
            f"the initial trace of {spec.name} has {len(trace)} value(s) "
            f"({', '.join(shown for _, shown in trace)}), got {len(values)}",
        )
    for (_, shown), value in zip(trace, values, strict=True):
        label = f"{INITIAL_TRACE} {shown}"
        count = _shape_of(line, label, spec[shown], value)
        if count is not None and count != n:
            raise line.error(value.column, f"{label!r} has {count} nodes, the inputs have {n}")
        _numbers(line, label, spec[shown], value, n)
    if not check_trace:
        return
    try:  # the algorithm's first step only: the trace's first value, never its answer
        trajectory = initial_state(spec.name, inputs)
    except ValueError as error:
        raise line.error(
            token, f"cannot check the initial trace, the inputs are rejected: {error}"
        ) from None
    given = [t.text for t in line.tokens[start:end]]
    first, last = line.tokens[start], line.tokens[end - 1]
    given_text = line.text[first.column - 1 : last.column - 1 + len(last.text)]
    expected = []
    for float_format in FLOAT_FORMATS:
        text = SEPARATOR.join(
            render_probe(
                trajectory,
                shown,
                trajectory.hints[hint][0],
                float_format,
                index_hints,
                marker_offset,
            )
            for hint, shown in trace
        )
        if spec.name in PARENTHESISED_TRACES:
            text = f"({text})"
        if given == [t.text for t in tokenize(text)[:-1]]:
            return
        expected.append(text)
    raise line.error(
        line.tokens[start],
        f"the initial trace {given_text!r} is not the first step of {spec.name} on "
        f"these inputs, {expected[0]!r}",
    )


__all__ = ["REBUILT_INPUTS", "has_index_hints", "has_trace", "parse_question"]
