"""Score any model's CLRS-Text predictions: per algorithm, size and family.

A predictions file is JSON Lines, one object per sample, holding the model's
answer and enough to know the true one:

- the answer: field ``prediction`` (or, if absent, the first of
  ``generation``, ``completion``, ``output``, ``response``; or a field named
  with ``prediction_field``), a string: the text generated after the question;
- the truth, by the first of these that the row has:

  1. ``answer``, the true answer (a row of a CLRS-Text dataset, public or
     :mod:`transnar.clrs.text.rows`, with a prediction added), with the
     algorithm in ``algo_name`` or ``algorithm`` (else read from the
     question's first line);
  2. ``question`` alone: the instance is read back from it
     (:func:`~transnar.clrs.text.questions.parse_question`), the algorithm
     run again and its answer rendered;
  3. ``algorithm`` (or ``algo_name``), ``size`` (or ``length``), ``seed``
     and ``index``: the row of that sampler stream
     (:class:`~transnar.clrs.text.rows.SamplerStreams`, kept across the
     file's rows: rows of a stream in ascending index cost one draw each; a
     row further on is reached by a jump for the samplers that allow it, else
     by at most :data:`MAX_REDRAWS` draws), rendered with the row's
     ``float_format`` and ``truncate_decimals`` if it has them, else the
     scorer's. Sizes up to :data:`MAX_REBUILT_SIZE`.

- the size: ``length`` or ``size``; without either, the number of nodes of
  the instance of the question (minus one for ``optimal_bst``, whose size
  counts keys), else unknown (``None``). A ``segments_intersect`` question
  always has 4 points whatever its CLRS-Text length, so its size is unknown
  unless the row gives one. Unknown sizes are grouped apart (``?``) and the
  report says so.
- traces: the row's ``use_hints`` if it has one; else whether its question
  has a trace (output-names line ``trace | ...``); else the scorer's
  ``use_hints``.
- index hints: the row's ``index_hints`` if it has one; else whether its
  question carries them (:func:`~transnar.clrs.text.questions.has_index_hints`);
  else the scorer's ``index_hints``. Shifted markers (a row of a dataset written
  with ``shift_markers``): the truth's start where the row's ``marker_offset``
  says, else where its question's or its answer's do
  (:func:`~transnar.clrs.text.formatting.marker_offset_of`), else at ``a``.

Blank lines are ignored. A *bad row* (not a JSON object, a missing or
non-string field, an unknown algorithm, a truth that cannot be rebuilt or does
not parse) stops the scoring with an error naming the line, or with
``skip_bad_rows`` is skipped and counted (the report lists them). A
prediction, however broken, is never an error: it just scores 0.

Rows are scored into :class:`~transnar.clrs.text.score_report.ScoredRow` and
aggregated (:func:`~transnar.clrs.text.score_report.aggregate`) into a
:class:`~transnar.clrs.text.score_report.ScoreReport`: means per algorithm and
size, algorithm, family and size, family, size and overall.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import numbers
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transnar.clrs.bounds import size_of_nodes
from transnar.clrs.specs import get_spec
from transnar.clrs.text.answer_scores import score_answer
from transnar.clrs.text.formatting import check_float_format, format_example, marker_offset_of
from transnar.clrs.text.rows import SamplerStreams, natural
from transnar.clrs.text.score_report import BadRow, ScoredRow, ScoreReport, aggregate

PREDICTION_FIELDS: tuple[str, ...] = (
    "prediction",
    "generation",
    "completion",
    "output",
    "response",
)
"""Fields holding the model's answer, tried in this order."""

MAX_REBUILT_SIZE = 64
"""Largest size of a row whose truth is rebuilt from (algorithm, size, seed,
index): the largest CLRS-Text evaluation size. Every algorithm draws and runs
an instance of it in well under a second (at 128 some take seconds)."""
MAX_REDRAWS = 10_000
"""Most instances drawn one by one to reach a rebuilt row (samplers that cannot
jump ahead): the largest stream of any preset (CLRS-Text training, 10,000 rows);
at size 64 the slowest samplers (convex hulls) take about 10 s for that many."""
MAX_INDEX = 2**63 - 1
"""Largest index of a rebuilt row (a 64-bit integer, as in Parquet files)."""


@dataclass(frozen=True)
class Options:
    """How rows are read.

    Attributes:
        use_hints: answers have traces, for rows that do not say
            (no ``use_hints`` field, no question).
        prediction_field: the field of the model's answer; ``None`` tries
            :data:`PREDICTION_FIELDS`.
        float_format: float format of truths rebuilt from ``seed``/``index``
            rows without a ``float_format``; numbers compare by value, so it
            rarely matters.
        truncate_decimals: truncation of those rows' instances (CLRS-Text: 3).
        index_hints: answers carry index markers, for rows that do not say
            (no ``index_hints`` field, no question).
    """

    use_hints: bool = False
    prediction_field: str | None = None
    float_format: str = "default"
    truncate_decimals: int | None = 3
    index_hints: bool = False

    def __post_init__(self):
        check_float_format(self.float_format)


# --- Rows ----------------------------------------------------------------------


def score_row(
    row: Mapping[str, Any],
    options: Options | None = None,
    streams: SamplerStreams | None = None,
) -> ScoredRow:
    """Scores one row (see the module docstring for its fields).

    Args:
        row: the row.
        options: how rows are read.
        streams: the sampler streams of ``(algorithm, size, seed, index)``
            rows, kept across rows (:func:`score_rows` keeps one); default a
            new one, bounded as :func:`score_rows`'s.

    Raises:
        ValueError: a bad row (the message says what is wrong, not where).
    """
    options = options or Options()
    streams = streams if streams is not None else SamplerStreams(MAX_REDRAWS)
    if not isinstance(row, Mapping):
        raise ValueError(f"a row must be a JSON object, got {type(row).__name__}")
    prediction = _prediction(row, options.prediction_field)
    question = _optional_str(row, "question")
    use_hints = _flag(row, "use_hints", question, options.use_hints)
    index_hints = _flag(row, "index_hints", question, options.index_hints)
    offset = _marker_offset(row, question) if index_hints else 0
    size = _size_field(row)
    algorithm = _algorithm_field(row)
    if "answer" in row:
        truth = _optional_str(row, "answer")
        if truth is None:
            raise ValueError("'answer' is null")
        if algorithm is None:
            if question is None:
                raise ValueError("a row with an answer needs 'algo_name' (or 'algorithm')")
            algorithm = question.split("\n", 1)[0].removesuffix(":")
        get_spec(algorithm)
        if size is None and question is not None:
            with contextlib.suppress(ValueError):  # the size stays unknown
                size = _size_of(_trajectory_of_question(question))
    elif question is not None:
        trajectory = _trajectory_of_question(question)
        if algorithm is not None and algorithm != trajectory.algorithm:
            raise ValueError(
                f"the row's algorithm {algorithm!r} is not its question's "
                f"({trajectory.algorithm!r})"
            )
        algorithm = trajectory.algorithm
        truth = format_example(
            trajectory, use_hints, options.float_format, index_hints, marker_offset=offset
        )[1]
        if size is None:
            size = _size_of(trajectory)
    elif algorithm is not None and size is not None and "seed" in row and "index" in row:
        truth = _dataset_answer(
            row, algorithm, size, use_hints, index_hints, offset, options, streams
        )
    else:
        raise ValueError(
            "a row needs the truth: 'answer' (with 'algo_name'), or 'question', "
            "or 'algorithm', 'size', 'seed' and 'index'"
        )
    scores = score_answer(algorithm, prediction, truth, use_hints, index_hints)
    return ScoredRow(0, algorithm, size, use_hints, scores)


def read_numbered_rows(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """``(line number, row)`` for the non-blank lines of a JSON Lines file; a
    line that is not JSON gives a :class:`BadRow` instead of a row."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except (json.JSONDecodeError, RecursionError) as error:
                yield number, BadRow(number, f"not JSON: {error}")


def score_rows(
    rows: Iterable[tuple[int, Any]],
    options: Options | None = None,
    skip_bad_rows: bool = False,
    on_row: Callable[[], None] | None = None,
) -> tuple[list[ScoredRow], list[BadRow]]:
    """Scores numbered rows (as :func:`read_numbered_rows` yields them).

    Args:
        rows: ``(line number, row)`` pairs; a row may be a :class:`BadRow`.
        options: how rows are read.
        skip_bad_rows: skip bad rows and return them; otherwise the first
            raises.
        on_row: called after each row (a progress bar's update).

    Raises:
        ValueError: ``"line N: ..."``, the first bad row, unless ``skip_bad_rows``.
    """
    options = options or Options()
    streams = SamplerStreams(MAX_REDRAWS)
    scored, bad = [], []
    for number, row in rows:
        try:
            if isinstance(row, BadRow):
                raise ValueError(row.error)
            result = score_row(row, options, streams)
        except ValueError as error:
            if not skip_bad_rows:
                raise ValueError(f"line {number}: {error}") from None
            bad.append(BadRow(number, str(error)))
        else:
            scored.append(dataclasses.replace(result, line=number))
        if on_row is not None:
            on_row()
    return scored, bad


def score_file(
    path: str | os.PathLike,
    options: Options | None = None,
    skip_bad_rows: bool = False,
    progress: bool | None = False,
) -> ScoreReport:
    """Scores a JSON Lines predictions file.

    Args:
        path: the file.
        options: how rows are read (:class:`Options`).
        skip_bad_rows: skip and count bad rows instead of stopping at the first.
        progress: show a progress bar (``None``: only on a terminal).

    Returns:
        The :class:`ScoreReport`.

    Raises:
        ValueError: ``"PATH, line N: ..."`` for the first bad row (unless
            ``skip_bad_rows``); a file without any row to score.
    """
    from tqdm import tqdm

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    total = _count_lines(path)
    disable = None if progress is None else not progress
    with tqdm(total=total, desc="scoring", unit="row", disable=disable, leave=False) as bar:
        try:
            scored, bad = score_rows(read_numbered_rows(path), options, skip_bad_rows, bar.update)
        except ValueError as error:
            raise ValueError(f"{path}, {error}") from None
    if not scored:
        detail = f" ({len(bad)} bad rows; line {bad[0].line}: {bad[0].error})" if bad else ""
        raise ValueError(f"{path}: no row to score{detail}")
    return aggregate(scored, bad, source=str(path))


# --- Row fields ----------------------------------------------------------------


def _prediction(row: Mapping[str, Any], name: str | None) -> str:
    if name is not None:
        if name not in row:
            raise ValueError(f"no field {name!r} (the prediction)")
    else:
        name = next((f for f in PREDICTION_FIELDS if f in row), None)
        if name is None:
            raise ValueError(
                f"no prediction: expected a field {' or '.join(map(repr, PREDICTION_FIELDS))}"
            )
    value = row[name]
    if not isinstance(value, str):
        raise ValueError(f"the prediction {name!r} must be a string, got {_json_type(value)}")
    return value


def _optional_str(row: Mapping[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name!r} must be a string, got {_json_type(value)}")
    return value


def _algorithm_field(row: Mapping[str, Any]) -> str | None:
    names = {row[k] for k in ("algo_name", "algorithm") if row.get(k) is not None}
    if len(names) > 1 or any(not isinstance(n, str) for n in names):
        raise ValueError(
            f"'algo_name' and 'algorithm' disagree or are not names: {sorted(map(repr, names))}"
        )
    if not names:
        return None
    (name,) = names
    get_spec(name)  # an unknown name is a clear ValueError
    return name


def _size_field(row: Mapping[str, Any]) -> int | None:
    sizes = {(k, row[k]) for k in ("length", "size") if row.get(k) is not None}
    for key, value in sizes:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{key!r} must be a non-negative integer, got {value!r}")
    values = {int(v) for _, v in sizes}
    if len(values) > 1:
        raise ValueError(f"'length' and 'size' disagree: {sorted(values)}")
    return values.pop() if values else None


def _flag(row: Mapping[str, Any], key: str, question: str | None, default: bool) -> bool:
    """A boolean option of a row: its field, else what its question shows, else the default."""
    from transnar.clrs.text.questions import has_index_hints, has_trace

    value = row.get(key)
    if value is not None:
        if not isinstance(value, bool):
            raise ValueError(f"{key!r} must be true or false, got {value!r}")
        return value
    if question is None:
        return default
    if key == "index_hints":
        return has_index_hints(question)
    return has_trace(question)


def _trajectory_of_question(question: str):
    from transnar.clrs.execute import execute
    from transnar.clrs.text.questions import parse_question

    algorithm, inputs = parse_question(question)
    try:
        return execute(algorithm, inputs)
    except ValueError as error:
        raise ValueError(f"the question's instance is not valid for {algorithm}: {error}") from None


def _size_of(trajectory) -> int | None:
    """The CLRS-Text length of an instance (:func:`~transnar.clrs.bounds.size_of_nodes`
    of its node count), except for ``segments_intersect``, whose 4 points do not
    show it (``None``)."""
    if trajectory.algorithm == "segments_intersect":
        return None
    return size_of_nodes(trajectory.algorithm, trajectory.num_nodes)


def _dataset_answer(
    row: Mapping[str, Any],
    algorithm: str,
    size: int,
    use_hints: bool,
    index_hints: bool,
    marker_offset: int,
    options: Options,
    streams: SamplerStreams,
) -> str:
    if size > MAX_REBUILT_SIZE:
        raise ValueError(
            f"size {size} is too large to rebuild the truth from (algorithm, size, seed, "
            f"index): sizes up to {MAX_REBUILT_SIZE} (the largest CLRS-Text evaluation "
            "size) are drawn and run in well under a second; give larger rows their "
            "'question' or 'answer'"
        )
    for key in ("seed", "index"):
        value = row[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{key!r} must be a non-negative integer, got {value!r}")
    if row["index"] > MAX_INDEX:
        raise ValueError(f"'index' must be at most {MAX_INDEX} (2**63 - 1), got {row['index']}")
    float_format = row.get("float_format", options.float_format)
    check_float_format(float_format, "'float_format'")
    truncate = row.get("truncate_decimals", options.truncate_decimals)
    if truncate is not None and (
        isinstance(truncate, bool) or not isinstance(truncate, numbers.Integral)
    ):
        raise ValueError(f"'truncate_decimals' must be an integer or null, got {truncate!r}")
    trajectory = streams.draw(algorithm, size, int(row["seed"]), int(row["index"]), truncate)
    return format_example(
        trajectory, use_hints, float_format, index_hints, marker_offset=marker_offset
    )[1]


def _marker_offset(row: Mapping[str, Any], question: str | None) -> int:
    """Where a hinted row's markers start: its ``marker_offset``, else its question's."""
    if "marker_offset" in row:
        return natural("'marker_offset'", row["marker_offset"])
    return 0 if question is None else marker_offset_of(question)


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", type(None): "null", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, numbers.Number) else type(value).__name__
    )


def _count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            count += block.count(b"\n")
    return count


__all__ = [
    "PREDICTION_FIELDS",
    "Options",
    "read_numbered_rows",
    "score_file",
    "score_row",
    "score_rows",
]
