"""The syntax of a CLRS-Text question: its lines, tokens and values, before any spec.

A question has three lines (REFERENCE.md §7.1)::

    <algorithm>:
    <name>: <value>, <name>: <value>[, initial_trace: <value>[, <value>]]
    [trace | ]<output names>:

:func:`split_lines` cuts it into them; a :class:`Line` reads the input line
into :class:`Token` objects, :func:`parse_fields` into ``name: value`` fields
(and the ``initial_trace``, :class:`InitialTrace`), each value a number
(a :class:`Token`), a :class:`ListValue` ``[0.548 0.715]``, a
:class:`MatrixValue` ``[[0 1], [1 0]]`` or a :class:`TupleValue` ``(3, 4)``
(one step of a parenthesised trace). :func:`unmark` checks and drops the index
markers of a value's numbers (``[a0.548 b0.715]``).

What the values mean (which fields an algorithm has, their forms and numbers)
is read against the spec by :func:`~transnar.clrs.text.questions.parse_question`.

Malformed text raises ``ValueError`` (:func:`question_error`) naming the line
and column and what was expected there. Whitespace between tokens is free, but
the separators are required: commas between fields, matrix rows and trace
values, spaces between the numbers of a list, ``:`` after names.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from transnar.clrs.text.formatting import INDEX_MARKERS, INITIAL_TRACE

INITIAL_TRACE_NAME = INITIAL_TRACE.rstrip(":")
_TOKEN = re.compile(r"\s*(?:([\[\](),:])|([^\s\[\](),:]+))")
_NAME = re.compile(r"[A-Za-z_]\w*\Z", re.ASCII)
_MARKED_NUMBER = re.compile(r"[A-Za-z]{1,2}[-+.0-9]", re.ASCII)  # a marker, then a number


# --- Lines and tokens ---------------------------------------------------------


class Token:
    """One token of a line: punctuation, a word (name or number) or the end."""

    __slots__ = ("column", "kind", "text")

    def __init__(self, kind: str, text: str, column: int):
        self.kind = kind  # one of "[](),:", "word" or "end"
        self.text = text
        self.column = column  # 1-based

    def describe(self) -> str:
        return "the end of the line" if self.kind == "end" else repr(self.text)


def tokenize(text: str) -> list[Token]:
    """The tokens of one line of a question: punctuation, and words (names and
    numbers, checked by the parser), each with its 1-based column, then an
    ``end`` token."""
    tokens = []
    position = 0
    while True:
        match = _TOKEN.match(text, position)
        if match is None:  # only whitespace is left
            break
        punctuation, word = match.groups()
        start = match.start(1) if punctuation else match.start(2)
        tokens.append(Token(punctuation or "word", punctuation or word, start + 1))
        position = match.end()
    tokens.append(Token("end", "", len(text.rstrip()) + 1))
    return tokens


class Line:
    """A cursor over the tokens of one line, raising errors that point into it."""

    def __init__(self, number: int, text: str):
        self.number = number
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def expect(self, kind: str, what: str) -> Token:
        token = self.take()
        if token.kind != kind:
            raise self.error(token, f"expected {what}, got {token.describe()}")
        return token

    def error(self, token: Token | int, message: str) -> ValueError:
        column = token if isinstance(token, int) else token.column
        return question_error(self.number, message, column)


def question_error(line: int, message: str, column: int | None = None) -> ValueError:
    """The ``ValueError`` of a malformed question, naming its line (and column)."""
    where = f"line {line}" if column is None else f"line {line}, column {column}"
    return ValueError(f"CLRS-Text question, {where}: {message}")


def split_lines(question: str) -> tuple[str, str, str]:
    """A question's three lines: the algorithm's name, the inputs, the output names."""
    lines = question.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) > 3:
        raise question_error(4, "unexpected text after the output names (pass the question alone)")
    if len(lines) < 3:
        raise question_error(
            len(lines) + 1,
            "missing line: a question has 3 lines, '<algorithm>:', the inputs and the "
            "output names ending with ':'",
        )
    return lines[0], lines[1], lines[2]


# --- Values -------------------------------------------------------------------


@dataclass(frozen=True)
class ListValue:
    """``[a b c]``: the numbers of a node probe."""

    items: tuple[Token, ...]
    column: int


@dataclass(frozen=True)
class MatrixValue:
    """``[[a b], [c d]]``: the rows of an edge probe."""

    rows: tuple[ListValue, ...]
    column: int


@dataclass(frozen=True)
class TupleValue:
    """``(a, b)``: one step of a parenthesised trace."""

    items: tuple[Value, ...]
    column: int


Value = Token | ListValue | MatrixValue | TupleValue


def _parse_value(line: Line, in_tuple: bool = False) -> Value:
    token = line.peek()
    if token.kind == "word":
        return line.take()
    if token.kind == "[":
        return _parse_list(line)
    if token.kind == "(" and not in_tuple:  # the format never nests tuples
        line.take()
        items = [_parse_value(line, in_tuple=True)]
        while line.peek().kind == ",":
            line.take()
            items.append(_parse_value(line, in_tuple=True))
        line.expect(")", f"',' or the ')' closing the '(' at column {token.column}")
        return TupleValue(tuple(items), token.column)
    raise line.error(
        token, f"expected a value (a number, '[...]' or '(...)'), got {token.describe()}"
    )


def _parse_list(line: Line) -> ListValue | MatrixValue:
    opening = line.take()
    if line.peek().kind != "[":
        return _parse_numbers(line, opening)
    rows = [_parse_numbers(line, line.take())]
    while line.peek().kind == ",":
        line.take()
        rows.append(_parse_numbers(line, line.expect("[", "'[' opening the next matrix row")))
    line.expect("]", f"', ' and a row, or the ']' closing the matrix at column {opening.column}")
    return MatrixValue(tuple(rows), opening.column)


def _parse_numbers(line: Line, opening: Token) -> ListValue:
    items = []
    while line.peek().kind == "word":
        items.append(line.take())
    closing = line.expect(
        "]",
        f"a number or the ']' closing the '[' at column {opening.column} "
        "(numbers in a list are separated by spaces)",
    )
    if not items:
        raise line.error(closing, "empty list: every node probe has at least one node")
    return ListValue(tuple(items), opening.column)


class InitialTrace(NamedTuple):
    """The ``initial_trace:`` field: its name token, its values, its token span."""

    name: Token
    values: list[Value]
    start: int  # index of its first value token in the line
    end: int  # index past its last


def parse_fields(
    line: Line,
) -> tuple[dict[str, tuple[Token, Value]], InitialTrace | None]:
    """The ``name: value`` fields as ``name -> (name token, value)``, and the initial trace."""
    fields: dict[str, tuple[Token, Value]] = {}
    while True:
        token = line.take()
        if token.kind != "word" or not _NAME.match(token.text):
            raise line.error(
                token, f"expected a field name ('name: value'), got {token.describe()}"
            )
        line.expect(":", f"':' after the field name {token.text!r}")
        if token.text == INITIAL_TRACE_NAME:
            start = line.index
            values = [_parse_value(line)]
            while line.peek().kind == ",":
                line.take()
                if line.peek(1).kind == ":":
                    raise line.error(
                        line.peek(), f"{INITIAL_TRACE!r} must be the last field of the line"
                    )
                values.append(_parse_value(line))
            end = line.index
            line.expect("end", "', ' and the next trace value, or the end of the line")
            return fields, InitialTrace(token, values, start, end)
        if token.text in fields:
            raise line.error(token, f"field {token.text!r} is given twice")
        fields[token.text] = (token, _parse_value(line))
        if line.peek().kind == "end":
            return fields, None
        line.expect(",", "', ' before the next field, or the end of the line")


# --- Index hints --------------------------------------------------------------


def first_list_marked(tokens: Sequence[Token]) -> bool:
    """Whether the first number in brackets starts with an index marker."""
    first = _first_in_brackets(tokens)
    return bool(first) and first[0] in INDEX_MARKERS


def first_list_offset(tokens: Sequence[Token]) -> int:
    """How far along :data:`INDEX_MARKERS` the first list's markers start: its first
    element's marker (0 when it has none)."""
    return INDEX_MARKERS.index(_first_in_brackets(tokens)[0]) if first_list_marked(tokens) else 0


def _first_in_brackets(tokens: Sequence[Token]) -> str:
    for before, token in itertools.pairwise(tokens):
        if before.kind == "[" and token.kind == "word":
            return token.text
    return ""


def unmark(line: Line, name: str, value: Value, hinted: bool, offset: int = 0) -> Value:
    """A value with its index markers checked and dropped (``hinted``; element ``j``
    marked ``INDEX_MARKERS[offset + j]``), or checked absent."""
    if isinstance(value, ListValue):
        return ListValue(_unmark_row(line, name, value, hinted, offset), value.column)
    if isinstance(value, MatrixValue):
        rows = tuple(
            ListValue(_unmark_row(line, name, row, hinted, offset, i), row.column)
            for i, row in enumerate(value.rows)
        )
        return MatrixValue(rows, value.column)
    if isinstance(value, TupleValue):
        items = tuple(unmark(line, name, v, hinted, offset) for v in value.items)
        return TupleValue(items, value.column)
    return value


def _unmark_row(
    line: Line,
    name: str,
    row: ListValue,
    hinted: bool,
    offset: int = 0,
    row_index: int | None = None,
) -> tuple[Token, ...]:
    """The numbers of a list (or of row ``row_index`` of a matrix), markers dropped."""
    if not hinted:
        for token in row.items:
            if _MARKED_NUMBER.match(token.text):
                raise line.error(
                    token,
                    f"index marker in {name!r} ({token.text!r}), but the question's "
                    "first list has none (all elements carry index hints, or none)",
                )
        return row.items
    markers = INDEX_MARKERS[offset:]
    if max(len(row.items), (row_index or 0) + 1) > len(markers):
        start = f" from {markers[0]!r} on" if offset else ""
        raise line.error(
            row.column,
            f"{name!r} has more than {len(markers)} elements: index hints mark at "
            f"most {len(markers)}{start} (a-z, A-Z)",
        )
    prefix = "" if row_index is None else markers[row_index]
    where = "" if row_index is None else f"row {row_index + 1}, "
    items = []
    for j, token in enumerate(row.items):
        marker = prefix + markers[j]
        rest = token.text[len(marker) :]
        if not token.text.startswith(marker) or not rest or rest[0] in INDEX_MARKERS:
            raise line.error(
                token,
                f"expected the index marker {marker!r} then a number in {name!r} "
                f"({where}element {j + 1}), got {token.text!r}",
            )
        items.append(Token("word", rest, token.column + len(marker)))
    return tuple(items)


__all__ = [
    "INITIAL_TRACE_NAME",
    "InitialTrace",
    "Line",
    "ListValue",
    "MatrixValue",
    "Token",
    "TupleValue",
    "Value",
    "first_list_marked",
    "first_list_offset",
    "parse_fields",
    "question_error",
    "split_lines",
    "tokenize",
    "unmark",
]
