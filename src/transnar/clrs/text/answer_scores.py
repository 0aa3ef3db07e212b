"""CLRS-Text scores: one prediction against the truth, both answer strings.

Both are read with :func:`~transnar.clrs.text.answers.parse_answer` (the
answer grammar, its legal characters, traces and index hints:
:mod:`~transnar.clrs.text.answers`), then compared.

**Scores** (TransNAR paper §4; DESIGN.md §7), for one prediction against the
truth, both answer strings (:func:`score_answer`):

- ``parse``: 1 iff the (final) answer holds only legal characters and parses
  into the algorithm's structure: the right number of outputs, each of the
  right kind (scalar, list or matrix) with numbers of the right syntax;
- ``shape``: 1 iff it parses and has exactly the truth's shape (list lengths,
  number of matrix rows and the length of every row);
- ``clrs``: the fraction of elements equal to the truth's, 0 if the shape is
  wrong. Numbers are compared *as numbers parsed from their text*: ``0.50``
  equals ``0.5``, ``1e-05`` equals ``0.00001`` and ``007`` equals ``7``
  (floats are compared as the nearest IEEE doubles, integers exactly; an
  integer of more than 4,000 digits reads as infinite and equals no truth);
- ``trace`` (with traces only, else ``None``): the fraction of trace steps
  equal to the truth's steps, a step being equal when all its values have the
  same shape and equal elements; 0 if the trace does not parse or the number
  of steps differs, 1 when both traces have no step. The three other scores
  are those of the final answer, so a wrong trace does not lower them.

None of these functions raises on a prediction, whatever its text; they raise
``ValueError`` for an unknown algorithm or a truth that does not parse.
"""

from __future__ import annotations

from dataclasses import dataclass

from transnar.clrs.text.answers import Value, parse_answer
from transnar.clrs.text.formatting import marker_offset_of


@dataclass(frozen=True)
class AnswerScores:
    """The scores of one prediction (see the module docstring).

    Attributes:
        parse: 1.0 iff the final answer parses into the algorithm's structure.
        shape: 1.0 iff it also has exactly the truth's shape.
        clrs: fraction of elements equal to the truth (0.0 if the shape is wrong).
        trace: fraction of trace steps equal to the truth's; ``None`` without traces.
    """

    parse: float
    shape: float
    clrs: float
    trace: float | None = None


def score_answer(
    algorithm: str,
    prediction: str,
    truth: str,
    use_hints: bool = False,
    index_hints: bool = False,
) -> AnswerScores:
    """All scores of one prediction against the true answer.

    Args:
        algorithm: one of the 30 algorithm names.
        prediction: the model's answer (any text; never raises on it).
        truth: the true answer, as :func:`~transnar.clrs.text.format_example` writes it.
        use_hints: both answers have traces.
        index_hints: both answers carry index markers (a prediction with a
            missing or wrong marker does not parse); they start where the
            truth's do (:func:`~transnar.clrs.text.formatting.marker_offset_of`:
            ``a``, or further along for a row of shifted markers).

    Returns:
        :class:`AnswerScores`; ``trace`` is ``None`` without traces (and for
        ``segments_intersect``, which has none).

    Raises:
        ValueError: unknown algorithm, or a truth that does not parse.
    """
    offset = marker_offset_of(truth) if index_hints and isinstance(truth, str) else 0
    true = parse_answer(algorithm, truth, use_hints, index_hints, offset)
    if not true.ok or true.trace_ok is False:
        reason = true.error if not true.ok else f"its trace: {true.trace_error}"
        options = [what for what, on in (("traces", use_hints), ("index hints", index_hints)) if on]
        raise ValueError(
            f"the true answer {_preview(truth)} is not a {algorithm} answer"
            f"{' with ' + ' and '.join(options) if options else ''}: {reason}"
        )
    pred = parse_answer(algorithm, prediction, use_hints, index_hints, offset)
    trace = None
    if true.trace is not None:
        trace = 0.0
        if pred.trace is not None and len(pred.trace) == len(true.trace):
            equal = sum(_equal(p, t) for p, t in zip(pred.trace, true.trace, strict=True))
            trace = equal / len(true.trace) if true.trace else 1.0
    if not pred.ok:
        return AnswerScores(0.0, 0.0, 0.0, trace)
    if _skeleton(pred.values) != _skeleton(true.values):
        return AnswerScores(1.0, 0.0, 0.0, trace)
    pairs = list(zip(_leaves(pred.values), _leaves(true.values), strict=True))
    clrs = sum(p == t for p, t in pairs) / len(pairs) if pairs else 1.0
    return AnswerScores(1.0, 1.0, clrs, trace)


def parse_score(
    algorithm: str, prediction: str, use_hints: bool = False, index_hints: bool = False
) -> float:
    """1.0 iff the (final) answer holds only legal characters and parses into the
    algorithm's structure; else 0.0. Never raises on ``prediction``."""
    return float(parse_answer(algorithm, prediction, use_hints, index_hints).ok)


def shape_score(
    algorithm: str,
    prediction: str,
    truth: str,
    use_hints: bool = False,
    index_hints: bool = False,
) -> float:
    """1.0 iff the prediction parses and has exactly the truth's shape (number
    of outputs, list lengths, matrix dimensions); else 0.0."""
    return score_answer(algorithm, prediction, truth, use_hints, index_hints).shape


def clrs_score(
    algorithm: str,
    prediction: str,
    truth: str,
    use_hints: bool = False,
    index_hints: bool = False,
) -> float:
    """The fraction of output elements equal to the truth's, 0.0 if the shape
    differs; numbers compare as numbers read from their text (``0.50 == 0.5``)."""
    return score_answer(algorithm, prediction, truth, use_hints, index_hints).clrs


def trace_accuracy(
    algorithm: str, prediction: str, truth: str, index_hints: bool = False
) -> float | None:
    """The fraction of trace steps equal to the truth's (0.0 if the step counts
    differ or the trace does not parse); ``None`` for an algorithm without trace."""
    return score_answer(algorithm, prediction, truth, True, index_hints).trace


def _skeleton(value):
    """The shape of a value: lists of lists with the numbers replaced by None."""
    if isinstance(value, list):
        return [_skeleton(v) for v in value]
    return None


def _leaves(value):
    if isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _equal(pred: list[Value], true: list[Value]) -> bool:
    return _skeleton(pred) == _skeleton(true) and all(
        p == t for p, t in zip(_leaves(pred), _leaves(true), strict=True)
    )


def _preview(text: object, width: int = 60) -> str:
    text = repr(text)
    return text if len(text) <= width else text[: width - 3] + "..."


__all__ = [
    "AnswerScores",
    "clrs_score",
    "parse_score",
    "score_answer",
    "shape_score",
    "trace_accuracy",
]
