"""CLRS-Text rows: one (question, answer) example of a sampler stream, with its trajectory.

A **row** is one CLRS-Text example with the columns of the public CLRS-Text
datasets and of the reference's Hugging Face generator (``text``, ``question``,
``answer``, ``algo_name``, ``length``, ``use_hints``), plus what makes it
reproducible (``seed``, ``index``, ``float_format``, ``truncate_decimals``):

    {"text": question + answer, "question": "bfs:\\ns: 0, A: [[...]]\\npi:\\n",
     "answer": "[0 1 2 3 0]\\n\\n", "algo_name": "bfs", "length": 5,
     "use_hints": false, "seed": 3, "index": 1, "float_format": "default",
     "truncate_decimals": 3}

With index hints (``index_hints=True``, see
:func:`~transnar.clrs.text.format_example`), rows have one more column,
``"index_hints": true`` (:data:`INDEX_HINT_COLUMNS`), and the manifest's
options ``"index_hints": true``; without, neither has it (absent means
``false``), so that the default datasets stay as they were, byte for byte.
With shifted markers too (``shift_markers=True``), each row's markers start at a
letter drawn for that row (:func:`marker_shift`), given by one more column,
``"marker_offset"`` (:data:`SHIFTED_MARKER_COLUMNS`), and the manifest's options
say ``"shift_markers": true``.

A row is fully determined by ``(algo_name, length, seed, index, use_hints,
float_format, truncate_decimals[, index_hints[, shift_markers]])``: its instance
is the ``index``-th draw of the sampler of ``(algo_name, length)`` seeded with ``seed``, i.e.
``transnar.clrs.sample(algo_name, length, seed, count=index + 1,
truncate_decimals=truncate_decimals)[index]``. Those are the draws of the
reference generators (one sampler per algorithm and length, drawn one at a time),
and the graph the NAR sees (:func:`trajectory_of`) holds exactly the numbers the
text shows, truncated floats included.

:func:`examples` draws the rows of one stream, :func:`make_example` one row;
:func:`trajectory_of` and :func:`with_trajectories` (:class:`SamplerStreams`)
draw a row's trajectory again. The splits and presets that group streams into
datasets are :mod:`~transnar.clrs.text.datasets`.
"""

from __future__ import annotations

import numbers
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from transnar.clrs.samplers import Sampler, build_sampler
from transnar.clrs.text.formatting import (
    INDEX_MARKERS,
    FloatFormat,
    check_float_format,
    format_example,
)
from transnar.clrs.trajectory import Trajectory

COLUMNS: tuple[str, ...] = (
    "text",
    "question",
    "answer",
    "algo_name",
    "length",
    "use_hints",
    "seed",
    "index",
    "float_format",
    "truncate_decimals",
)
"""The columns of a row, in order; the first six are those of the public datasets."""


INDEX_HINT_COLUMNS: tuple[str, ...] = (*COLUMNS, "index_hints")
"""The columns of a row with index hints: :data:`COLUMNS` and ``index_hints`` (true)."""

SHIFTED_MARKER_COLUMNS: tuple[str, ...] = (*INDEX_HINT_COLUMNS, "marker_offset")
"""The columns of a row with shifted index markers: :data:`INDEX_HINT_COLUMNS` and
``marker_offset`` (where its markers start along the alphabet)."""


def row_columns(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The columns of ``row``: ``index_hints`` only when true, ``marker_offset``
    only when its markers are shifted."""
    if "marker_offset" in row:
        return SHIFTED_MARKER_COLUMNS
    return INDEX_HINT_COLUMNS if row.get("index_hints") else COLUMNS


def check_options(
    use_hints: Any, float_format: Any, index_hints: Any = False, shift_markers: Any = False
) -> None:
    """A ``ValueError`` naming the option unless the text options are valid:
    ``use_hints``, ``index_hints`` and ``shift_markers`` booleans (the last only
    with index hints), ``float_format`` one of the formats."""
    for name, value in (
        ("use_hints", use_hints),
        ("index_hints", index_hints),
        ("shift_markers", shift_markers),
    ):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    if shift_markers and not index_hints:
        raise ValueError("shift_markers shifts index markers: it needs index_hints")
    check_float_format(float_format)


def marker_shift(algorithm: str, size: int, seed: int, index: int, num_nodes: int) -> int:
    """Where the index markers of a row with shifted markers start: drawn uniformly
    from the offsets that leave its ``num_nodes`` elements a marker each
    (``0 .. 52 - num_nodes``), by a generator of the row's identity alone (not
    its instance, nor its answer), so that the same row always gets the same."""
    draw = random.Random(f"transnar/marker-shift/{algorithm}/{size}/{seed}/{index}")
    return draw.randrange(len(INDEX_MARKERS) - num_nodes + 1)


def natural(name: str, value: Any) -> int:
    """``value`` as an ``int`` if it is a non-negative integer, else a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def examples(
    algorithm: str,
    size: int,
    seed: int,
    count: int,
    use_hints: bool = False,
    float_format: FloatFormat = "default",
    truncate_decimals: int | None = 3,
    start: int = 0,
    *,
    index_hints: bool = False,
    shift_markers: bool = False,
) -> Iterator[tuple[dict[str, Any], Trajectory]]:
    """Rows ``start .. start + count - 1`` of one sampler stream, each with its trajectory.

    One sampler of ``(algorithm, size)`` seeded with ``seed`` is drawn one
    instance at a time, as the reference generators do; draws before ``start``
    are skipped without running the algorithm
    (:meth:`~transnar.clrs.samplers.Sampler.skip`).

    Args:
        algorithm: one of :data:`~transnar.clrs.CLRS30_ALGORITHMS`.
        size: the problem size (the CLRS-Text ``length``).
        seed: the sampler's seed.
        count: number of rows.
        use_hints: render the trace (CLRS-Text with hints).
        float_format: ``"default"`` or ``"legacy"``; see
            :func:`~transnar.clrs.text.format_example`.
        truncate_decimals: truncate float inputs to this many decimals (the
            reference Hugging Face generator uses 3); ``None`` for full precision.
        start: index of the first row in the stream.
        index_hints: precede list and matrix elements by their index markers
            (rows then have the column ``"index_hints": true``).
        shift_markers: with ``index_hints``, start each row's markers at a
            letter drawn for it (:func:`marker_shift`; the row's
            ``marker_offset``), so that a model trained on small sizes sees
            every marker, not only the first ones.

    Returns:
        An iterator of ``(row, trajectory)``: the row (see the module
        docstring) and the trajectory it renders, unmodified (apply
        :func:`~transnar.clrs.preprocess` for the NAR). Arguments are checked
        at the call, not at the first ``next``.
    """
    check_options(use_hints, float_format, index_hints, shift_markers)
    count, start = natural("count", count), natural("start", start)
    sampler = build_sampler(algorithm, size, seed, truncate_decimals)
    return _stream(sampler, start, count, use_hints, float_format, index_hints, shift_markers)


def _stream(
    sampler: Sampler,
    start: int,
    count: int,
    use_hints: bool,
    float_format: FloatFormat,
    index_hints: bool,
    shift_markers: bool,
) -> Iterator[tuple[dict[str, Any], Trajectory]]:
    sampler.skip(start)
    algorithm, size, seed = sampler.algorithm, int(sampler.size), int(sampler.seed)
    truncate_decimals = sampler.truncate_decimals
    truncate_decimals = None if truncate_decimals is None else int(truncate_decimals)
    for index in range(start, start + count):
        trajectory = sampler.draw()
        offset = (
            marker_shift(algorithm, size, seed, index, trajectory.num_nodes) if shift_markers else 0
        )
        question, answer = format_example(
            trajectory, use_hints, float_format, index_hints, marker_offset=offset
        )
        row = {
            "text": question + answer,
            "question": question,
            "answer": answer,
            "algo_name": algorithm,
            "length": size,
            "use_hints": use_hints,
            "seed": seed,
            "index": index,
            "float_format": float_format,
            "truncate_decimals": truncate_decimals,
        }
        if index_hints:
            row["index_hints"] = True
        if shift_markers:
            row["marker_offset"] = offset
        yield row, trajectory


def make_example(
    algorithm: str,
    size: int,
    seed: int,
    index: int,
    use_hints: bool = False,
    float_format: FloatFormat = "default",
    truncate_decimals: int | None = 3,
    *,
    index_hints: bool = False,
    shift_markers: bool = False,
) -> dict[str, Any]:
    """The row at position ``index`` of the stream of ``(algorithm, size, seed)``.

    Skips the ``index`` instances before it without running the algorithm
    (:meth:`~transnar.clrs.samplers.Sampler.skip`: a jump for the samplers
    that allow it, else one draw each); use :func:`examples` for many rows.
    """
    ((row, _),) = examples(
        algorithm,
        size,
        seed,
        1,
        use_hints,
        float_format,
        truncate_decimals,
        start=index,
        index_hints=index_hints,
        shift_markers=shift_markers,
    )
    return row


def trajectory_of(row: Mapping[str, Any]) -> Trajectory:
    """The trajectory a row renders, drawn again from its sampler.

    This skips the ``index`` instances before it (without running the
    algorithm: a jump for the samplers that allow it, else up to about
    0.15 s per 1,000 skipped); to pair many rows, use
    :func:`with_trajectories`. A row without ``truncate_decimals`` is taken to
    have the default, 3.

    Raises:
        ValueError: the row lacks ``algo_name``, ``length``, ``seed`` or
            ``index`` (e.g. a row of a dataset not written by transnar).
    """
    ((_, trajectory),) = with_trajectories([row])
    return trajectory


def with_trajectories(
    rows: Iterable[Mapping[str, Any]],
) -> Iterator[tuple[Mapping[str, Any], Trajectory]]:
    """Each row with its trajectory, as :func:`trajectory_of`, but in one pass
    (:class:`SamplerStreams`): rows in file order (grouped, ascending index)
    cost one draw each."""
    streams = SamplerStreams()
    for row in rows:
        missing = [k for k in ("algo_name", "length", "seed", "index") if k not in row]
        if missing:
            raise ValueError(f"row has no {', '.join(missing)}: cannot redraw its instance")
        key = (row["algo_name"], row["length"], row["seed"], row["index"])
        yield row, streams.draw(*key, row.get("truncate_decimals", 3))


class SamplerStreams:
    """Rows' instances drawn again from their sampler streams, each stream kept
    where it stopped.

    The instance of a row ``(algorithm, size, seed, index)`` is the
    ``index``-th draw of the sampler of ``(algorithm, size, seed)``. One
    sampler per stream (and truncation) is kept, and only moved forward, so
    rows of a stream in ascending index cost one draw each; a row further on
    skips the draws between (:meth:`~transnar.clrs.samplers.Sampler.skip`: a
    jump, whatever the distance, for the samplers whose draws all take the
    same random words; one draw each for the others), a row behind restarts
    the stream.

    Args:
        max_redraws: refuse a row (``ValueError``) that would need more than
            this many instances drawn one by one to reach; ``None``: no bound.
    """

    def __init__(self, max_redraws: int | None = None):
        self.max_redraws = max_redraws
        self._streams: dict[tuple, tuple[Sampler, int]] = {}

    def draw(
        self,
        algorithm: str,
        size: int,
        seed: int,
        index: int,
        truncate_decimals: int | None = 3,
    ) -> Trajectory:
        """The trajectory of the row ``index`` of the stream (the algorithm is run).

        Raises:
            ValueError: a bad algorithm, size, seed, index or truncation, or a
                row further than ``max_redraws`` draws from where its stream is.
        """
        index = natural("index", index)
        key = (algorithm, size, seed, truncate_decimals)
        sampler, position = self._streams.pop(key, (None, 0))
        if sampler is None or index < position:
            sampler, position = build_sampler(*key), 0
        skipped = index - position
        if self.max_redraws is not None and skipped > self.max_redraws and not sampler.can_jump:
            self._streams[key] = (sampler, position)
            raise ValueError(
                f"rebuilding row {index} of the {algorithm} stream (size {size}, seed {seed}) "
                f"would draw the {skipped:,} instances before it one by one, more than the "
                f"{self.max_redraws:,} allowed per row (rows of a stream in ascending index "
                "cost one draw each): sort the rows, or give them their 'question' or 'answer'"
            )
        sampler.skip(skipped)
        trajectory = sampler.draw()
        self._streams[key] = (sampler, index + 1)
        return trajectory


__all__ = [
    "COLUMNS",
    "INDEX_HINT_COLUMNS",
    "SHIFTED_MARKER_COLUMNS",
    "SamplerStreams",
    "check_options",
    "examples",
    "make_example",
    "marker_shift",
    "natural",
    "row_columns",
    "trajectory_of",
    "with_trajectories",
]
