"""CLRS-Text answers: their grammar, and reading them into the algorithm's outputs.

An *answer* is the text a model writes after a CLRS-Text question (see
:mod:`transnar.clrs.text.formatting`): the algorithm's outputs, in spec order,
joined by ``", "``, e.g. ``[0.423 0.544 0.548]`` (a sort), ``[0 2 0 1 3], 4``
(``topo, topo_head``) or ``[[-1 0], [1 -1]]`` (the LCS table ``b``). With
traces (``use_hints``) it is ``<trace steps> | <final answer>``.

**Grammar.** The answer is cut at the first blank line (``"\\n\\n"``) and
stripped. It is a list of *values* separated by commas; a value is

- a *scalar*: one number (a graph probe, a node ``mask_one`` such as
  ``return`` or ``match``);
- a *list*: numbers in brackets separated by spaces, ``[0 1 1]`` (a node probe;
  the sorting output ``pred`` is the list of the sorted keys);
- a *matrix*: rows in brackets separated by commas, ``[[0 1], [1 0]]`` (an
  edge probe).

Each output probe's location and type fix its kind and its numbers:
*floats* (scalar probes and the sorted keys) are written as Python prints them,
``0.5``, ``-3.0``, ``1.23e-05``, ``1e+20``; *integers* are digits, with a minus
sign only for masks and edge categoricals, whose masked cells are ``-1`` (the
LCS table ``b``, ``is_bridge``); pointers and indices are never negative.
Spaces are formatting: runs of spaces, and spaces next to brackets and commas,
are accepted (``[ 1  2 ]`` reads as ``[1 2]``), but the separators are not
interchangeable (``[1, 2]`` is not a list of numbers).

**Legal characters** (the parse score's "illicit characters" are the others):
digits and the space, then only what the algorithm's grammar uses: ``,`` when
there are several outputs, a matrix or a trace; ``[`` ``]`` for lists and
matrices; ``-`` for floats, masks and edge categoricals; ``.`` ``e`` ``+`` for
floats; with traces ``|``, and ``(`` ``)`` for ``binary_search`` and
``find_maximum_subarray_kadane``. Letters are never legal except the
exponent ``e`` of floats.

**Traces.** With ``use_hints`` (for the 29 algorithms with a trace; the answer
of ``segments_intersect`` is the same with or without), the answer has exactly
one ``|``: the steps before it, the final answer after it. A step holds the
values of the trace hints (:func:`~transnar.clrs.text.formatting.trace_hints`)
in order: one list for a sort, ``[0 2 0 1 4], 3`` for ``topo, topo_head``,
``(3, 4)`` for ``binary_search`` (parenthesised). The steps are separated by
commas like values; there may be none (``| 1``). The final answer is the
output, except for the searches (``binary_search``, ``quickselect``,
``find_maximum_subarray_kadane``), whose answer is the final value of their
trace hints (``(4, 4)`` for ``low, high``); the string matchers answer
``match`` under the names line ``trace | s``.

**Index hints** (``index_hints=True``; see
:mod:`~transnar.clrs.text.formatting`): every number of a list is preceded by
its index marker, ``[a3 b0 c1]``, every number of a matrix by its row's and
its column's, ``[[aa0 ab1], [ba1 bb0]]``; single numbers carry none. The
markers are part of the grammar: a list element with a missing or wrong marker
(``[a3 0 c1]``, ``[a3 c0 b1]``) does not parse, so the answer (or the trace)
scores as any unparsable one; the marker letters are legal characters of the
answers that have lists. Parsed values hold the numbers only, so a hinted
answer scores exactly as its plain twin.

:func:`parse_answer` never raises on the text, whatever it is; it raises
``ValueError`` for an unknown algorithm. The scores of a prediction against
the truth (parse, shape, CLRS, trace) are in
:mod:`~transnar.clrs.text.answer_scores`.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

from transnar.clrs.specs import Location, ProbeSpec, Type, get_spec
from transnar.clrs.text.formatting import (
    INDEX_MARKERS,
    PARENTHESISED_TRACES,
    SEARCH_TRACES,
    output_names,
    trace_hints,
)

Number = int | float
Value = Number | list  # a number, a list of numbers, or a matrix (a list of rows)

BLANK_LINE = "\n\n"
TRACE_MARK = "|"

# Integers longer than this are kept as +-inf: no truth is that long, and
# Python refuses to print (or convert from text) integers over 4,300 digits.
_MAX_INT_DIGITS = 4000
_INT = re.compile(r"[0-9]+")
_SIGNED_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[-+]?[0-9]+)?")
_PUNCTUATION = frozenset("[](),|")
_DIGITS = frozenset("0123456789 ")


class Kind(NamedTuple):
    """How one value of an answer is written.

    Attributes:
        shape: ``"scalar"``, ``"list"`` (a node probe) or ``"matrix"`` (an edge probe).
        floats: numbers are floats (else integers).
        signed: integers may be negative (masks and edge categoricals use -1).
    """

    shape: Literal["scalar", "list", "matrix"]
    floats: bool
    signed: bool


def probe_kind(probe: ProbeSpec) -> Kind:
    """The kind of a probe's value in CLRS-Text, as the formatter renders it."""
    if probe.location is Location.GRAPH or probe.type is Type.MASK_ONE:
        shape = "scalar"
    elif probe.location is Location.NODE:
        shape = "list"
    else:
        shape = "matrix"
    floats = probe.type in (Type.SCALAR, Type.SHOULD_BE_PERMUTATION)
    # Masks print -1 where masked; edge categoricals print -1 for masked cells
    # (the LCS table); node and graph categoricals print their argmax.
    signed = (
        floats
        or probe.type is Type.MASK
        or (probe.type is Type.CATEGORICAL and probe.location is Location.EDGE)
    )
    return Kind(shape, floats, signed)


@dataclass(frozen=True)
class Grammar:
    """The answer grammar of one algorithm, with or without traces.

    Attributes:
        algorithm: the algorithm's name.
        names: the names of the final answer's values.
        kinds: the kind of each value of the final answer.
        parenthesised: the final answer is wrapped in parentheses.
        chars: the characters legal in the final answer.
        trace_names: the names of the values of one trace step, or ``None``
            when the answer has no trace.
        trace_kinds: the kind of each value of one trace step.
        trace_chars: the characters legal in the trace.
        index_hints: list and matrix elements carry index markers.
    """

    algorithm: str
    names: tuple[str, ...]
    kinds: tuple[Kind, ...]
    parenthesised: bool
    chars: frozenset[str]
    trace_names: tuple[str, ...] | None
    trace_kinds: tuple[Kind, ...] | None
    trace_chars: frozenset[str] | None
    index_hints: bool = False


def grammar(algorithm: str, use_hints: bool = False, index_hints: bool = False) -> Grammar:
    """The answer grammar of ``algorithm`` (``ValueError`` if unknown)."""
    if not isinstance(algorithm, str):
        raise ValueError(f"the algorithm must be a name, not {algorithm!r}")
    return _grammar(algorithm, bool(use_hints), bool(index_hints))


@functools.cache
def _grammar(algorithm: str, use_hints: bool, index_hints: bool) -> Grammar:
    spec = get_spec(algorithm)
    names = output_names(spec, use_hints)
    trace = trace_hints(spec, names) if use_hints else []
    final = names if (trace and algorithm in SEARCH_TRACES) else spec.outputs
    kinds = tuple(probe_kind(spec[name]) for name in final)
    parenthesised = bool(trace) and algorithm in PARENTHESISED_TRACES
    chars = _chars(kinds, parenthesised, index_hints=index_hints)
    if not trace:
        return Grammar(algorithm, final, kinds, False, chars, None, None, None, index_hints)
    trace_names = tuple(shown for _, shown in trace)
    trace_kinds = tuple(probe_kind(spec[shown]) for shown in trace_names)
    return Grammar(
        algorithm,
        final,
        kinds,
        parenthesised,
        chars,
        trace_names,
        trace_kinds,
        _chars(trace_kinds, parenthesised, several=True, index_hints=index_hints),
        index_hints,
    )


def _chars(
    kinds: tuple[Kind, ...],
    parenthesised: bool,
    several: bool = False,
    index_hints: bool = False,
) -> frozenset:
    chars = set(_DIGITS)
    if index_hints and any(k.shape != "scalar" for k in kinds):
        chars.update(INDEX_MARKERS)
    if several or len(kinds) > 1 or any(k.shape == "matrix" for k in kinds):
        chars.add(",")
    if any(k.shape != "scalar" for k in kinds):
        chars.update("[]")
    if any(k.signed for k in kinds):
        chars.add("-")
    if any(k.floats for k in kinds):
        chars.update(".e+")
    if parenthesised:
        chars.update("()")
    return frozenset(chars)


@dataclass(frozen=True)
class ParsedAnswer:
    """An answer read into the structure of the algorithm's output.

    Attributes:
        algorithm: the algorithm's name.
        values: the final answer's values in order (numbers; lists of numbers;
            matrices as lists of rows), or ``None`` if it does not parse.
        ok: the final answer parses (the parse score).
        error: why it does not parse (``None`` when ``ok``).
        trace: with traces, the steps (each a list of the values of the trace
            hints); ``None`` without traces or if the trace does not parse.
        trace_ok: whether the trace parses; ``None`` without traces.
        trace_error: why the trace does not parse.
    """

    algorithm: str
    values: list[Value] | None
    ok: bool
    error: str | None = None
    trace: list[list[Value]] | None = None
    trace_ok: bool | None = None
    trace_error: str | None = None


class _ParseError(Exception):
    """Internal: the text does not follow the grammar (the message says why)."""


def parse_answer(
    algorithm: str,
    text: str,
    use_hints: bool = False,
    index_hints: bool = False,
    marker_offset: int = 0,
) -> ParsedAnswer:
    """Reads an answer (a model's or the truth) into the algorithm's output structure.

    Never raises on the text: a text that does not parse gives ``ok=False``
    and an ``error``.

    Args:
        algorithm: one of the 30 algorithm names.
        text: the answer; anything from the first blank line on is ignored.
        use_hints: the answer has a trace, ``<steps> | <final answer>``.
        index_hints: list and matrix elements carry their index markers
            (``[a3 b0 c1]``), which must all be there and right; the values
            hold the numbers only.
        marker_offset: with ``index_hints``, the markers start this many
            letters along :data:`INDEX_MARKERS` (``[d3 e0 f1]`` for 3; the
            question's, :func:`~transnar.clrs.text.formatting.marker_offset_of`).

    Returns:
        A :class:`ParsedAnswer`.

    Raises:
        ValueError: unknown algorithm; a ``marker_offset`` that leaves no marker.

    Example:
        >>> parse_answer("topological_sort", "[3 0 1 3], 2\\n\\n").values
        [[3, 0, 1, 3], 2]
    """
    g = grammar(algorithm, use_hints, index_hints)
    if isinstance(marker_offset, bool) or marker_offset not in range(len(INDEX_MARKERS)):
        raise ValueError(
            f"marker_offset must be an integer from 0 to {len(INDEX_MARKERS) - 1}, "
            f"got {marker_offset!r}"
        )
    markers = INDEX_MARKERS[marker_offset:] if index_hints else ""
    if not isinstance(text, str):
        error = f"the answer is a {type(text).__name__}, not a string"
        trace_ok = None if g.trace_kinds is None else False
        return ParsedAnswer(algorithm, None, False, error, None, trace_ok, error)
    text = text.split(BLANK_LINE, 1)[0].strip()
    if g.trace_kinds is None:
        values, error = _read_final(g, text, markers)
        return ParsedAnswer(algorithm, values, error is None, error)
    if text.count(TRACE_MARK) != 1:
        error = f"a traced answer has exactly one {TRACE_MARK!r}, found {text.count(TRACE_MARK)}"
        return ParsedAnswer(algorithm, None, False, error, None, False, error)
    trace_text, final_text = (part.strip() for part in text.split(TRACE_MARK))
    values, error = _read_final(g, final_text, markers)
    steps, trace_error = _read_trace(g, trace_text, markers)
    return ParsedAnswer(
        algorithm, values, error is None, error, steps, trace_error is None, trace_error
    )


# --- Reading -----------------------------------------------------------------


def _read_final(g: Grammar, text: str, markers: str) -> tuple[list[Value] | None, str | None]:
    try:
        _check_chars(text, g.chars)
        items = _parse_items(_tokenize(text), groups=g.parenthesised)
        if g.parenthesised:
            if len(items) != 1 or not isinstance(items[0], tuple):
                raise _ParseError("the answer is not one parenthesised group")
            items = list(items[0])
        return _typed_values(items, g.kinds, g.names, markers), None
    except _ParseError as error:
        return None, str(error)


def _read_trace(g: Grammar, text: str, markers: str) -> tuple[list[list[Value]] | None, str | None]:
    if not text:
        return [], None
    kinds, names = g.trace_kinds, g.trace_names
    try:
        _check_chars(text, g.trace_chars)
        items = _parse_items(_tokenize(text), groups=g.parenthesised)
        if g.parenthesised:
            for item in items:
                if not isinstance(item, tuple):
                    raise _ParseError("a trace step is not parenthesised")
            groups = [list(item) for item in items]
        else:
            if len(items) % len(kinds):
                raise _ParseError(f"{len(items)} trace values are not whole steps of {len(kinds)}")
            groups = [items[i : i + len(kinds)] for i in range(0, len(items), len(kinds))]
        return [_typed_values(group, kinds, names, markers) for group in groups], None
    except _ParseError as error:
        return None, f"trace: {error}"


def _check_chars(text: str, legal: frozenset) -> None:
    if not text:
        raise _ParseError("empty answer")
    if set(text) <= legal:
        return
    for position, char in enumerate(text):
        if char not in legal:
            raise _ParseError(f"illegal character {char!r} at position {position}")


def _tokenize(text: str) -> list[str]:
    """Punctuation characters, and the runs of other characters between spaces
    and punctuation (the would-be numbers)."""
    tokens = []
    word = []
    for char in text:
        if char in _PUNCTUATION or char == " ":
            if word:
                tokens.append("".join(word))
                word = []
            if char != " ":
                tokens.append(char)
        else:
            word.append(char)
    if word:
        tokens.append("".join(word))
    return tokens


class _Cursor:
    """Reads a token list left to right."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None:
            raise _ParseError(f"the answer ends where {expected or 'a value'!r} was expected")
        if expected is not None and token != expected:
            raise _ParseError(f"{token!r} where {expected!r} was expected")
        self.i += 1
        return token


def _parse_items(tokens: list[str], groups: bool) -> list:
    """``value (',' value)*`` over all the tokens; values are raw number
    strings, lists (of strings or of lists of strings) and, where ``groups``,
    parenthesised tuples of values."""
    cursor = _Cursor(tokens)
    items = _comma_separated(cursor, groups)
    if cursor.peek() is not None:
        raise _ParseError(f"unexpected {cursor.peek()!r} after a value")
    return items


def _comma_separated(cursor: _Cursor, groups: bool) -> list:
    items = [_value(cursor, groups)]
    while cursor.peek() == ",":
        cursor.take()
        items.append(_value(cursor, groups))
    return items


def _value(cursor: _Cursor, groups: bool):
    token = cursor.peek()
    if token == "[":
        return _bracketed(cursor, depth=1)
    if token == "(" and groups:
        cursor.take()
        items = _comma_separated(cursor, groups=False)
        cursor.take(")")
        return tuple(items)
    if token is None or token in _PUNCTUATION:
        raise _ParseError(
            "the answer ends where a value was expected"
            if token is None
            else f"{token!r} where a value was expected"
        )
    return cursor.take()


def _bracketed(cursor: _Cursor, depth: int) -> list:
    """``[]``, ``[n n ...]`` or (at depth 1) ``[[...], [...], ...]``; the depth
    bound keeps the recursion shallow whatever the input."""
    cursor.take("[")
    token = cursor.peek()
    if token == "]":
        cursor.take()
        return []
    if token == "[":
        if depth > 1:
            raise _ParseError("brackets nested deeper than a matrix")
        rows = [_bracketed(cursor, depth + 1)]
        while cursor.peek() == ",":
            cursor.take()
            rows.append(_bracketed(cursor, depth + 1))
        cursor.take("]")
        return rows
    numbers = []
    while (token := cursor.peek()) is not None and token not in _PUNCTUATION:
        numbers.append(cursor.take())
    cursor.take("]")
    return numbers


def _typed_values(
    items: list, kinds: tuple[Kind, ...], names: tuple[str, ...], markers: str = ""
) -> list[Value]:
    """The values of ``items`` as ``kinds``; ``markers``: the index markers their
    elements carry, in order (none: ``""``)."""
    if len(items) != len(kinds):
        raise _ParseError(
            f"{len(items)} value(s) where {len(kinds)} ({', '.join(names)}) were expected"
        )
    return [
        _typed(item, kind, name, markers)
        for item, kind, name in zip(items, kinds, names, strict=True)
    ]


def _typed(item, kind: Kind, name: str, markers: str = "") -> Value:
    if kind.shape == "scalar":
        if not isinstance(item, str):
            raise _ParseError(f"{name}: a number was expected")
        return _number(item, kind)
    if not isinstance(item, list):
        raise _ParseError(f"{name}: a {kind.shape} was expected")
    if kind.shape == "list":
        if any(not isinstance(x, str) for x in item):
            raise _ParseError(f"{name}: a list of numbers was expected, not a matrix")
        if markers:
            item = _unmarked(item, name, markers)
        return [_number(x, kind) for x in item]
    if any(not isinstance(row, list) for row in item):
        raise _ParseError(f"{name}: a matrix (a list of rows) was expected")
    if markers:
        if len(item) > len(markers):
            raise _ParseError(f"{name}: more than {len(markers)} rows to mark")
        if any(not isinstance(x, str) for row in item for x in row):
            raise _ParseError(f"{name}: a matrix of numbers was expected")
        item = [_unmarked(row, name, markers, markers[i]) for i, row in enumerate(item)]
    return [[_number(x, kind) for x in row] for row in item]


def _unmarked(tokens: list[str], name: str, markers: str, prefix: str = "") -> list[str]:
    """The numbers of a list (or of a matrix row, ``prefix`` its row's marker),
    each checked to start with its index marker (element ``j``: ``markers[j]``),
    which is dropped."""
    if len(tokens) > len(markers):
        raise _ParseError(f"{name}: more than {len(markers)} elements to mark")
    numbers = []
    for j, token in enumerate(tokens):
        marker = prefix + markers[j]
        if not token.startswith(marker):
            raise _ParseError(f"{name}: {token[:20]!r} does not start with its marker {marker!r}")
        numbers.append(token[len(marker) :])
    return numbers


def _number(token: str, kind: Kind) -> Number:
    if kind.floats:
        if not _FLOAT.fullmatch(token):
            raise _ParseError(f"{token[:20]!r} is not a number")
        return float(token)
    if not (_SIGNED_INT if kind.signed else _INT).fullmatch(token):
        what = "an integer" if kind.signed else "a non-negative integer"
        raise _ParseError(f"{token[:20]!r} is not {what}")
    digits = token.lstrip("-").lstrip("0")
    if len(digits) > _MAX_INT_DIGITS:
        return -math.inf if token.startswith("-") else math.inf
    return int(token)


__all__ = [
    "Grammar",
    "Kind",
    "ParsedAnswer",
    "grammar",
    "parse_answer",
    "probe_kind",
]
