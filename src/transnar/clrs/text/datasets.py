"""CLRS-Text datasets: rows of (question, answer), each paired with its trajectory.

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

A row is fully determined by ``(algo_name, length, seed, index, use_hints,
float_format, truncate_decimals[, index_hints])``: its instance is the ``index``-th draw of the
sampler of ``(algo_name, length)`` seeded with ``seed``, i.e.
``transnar.clrs.sample(algo_name, length, seed, count=index + 1,
truncate_decimals=truncate_decimals)[index]``. Those are the draws of the
reference generators (one sampler per algorithm and length, drawn one at a time),
and the graph the NAR sees (:func:`trajectory_of`) holds exactly the numbers the
text shows, truncated floats included.

A **split** (:class:`Split`) is a table: for each algorithm its sizes, the seeds
and the number of rows per (algorithm, size, seed); a **preset**
(:data:`PRESETS`) is a named set of splits. Rows are written grouped, in the
order algorithm, size, seed, index, not shuffled (the reference's Hugging Face
generator interleaves algorithms and lengths at random; shuffle when loading).

Presets (counts are per algorithm, size and seed; every split covers the 30
algorithms):

``transnar`` (TransNAR, Bounsi et al. 2024, section 4; 10,000 instances per
algorithm and size, split 70/30):

=======  ==========================  =====  =====  =========
split    sizes                       seeds  count  rows
=======  ==========================  =====  =====  =========
train    4, 5, 6, 7, 8, 12           0      7,000  1,260,000
val      4, 5, 6, 7, 8, 12           1      3,000    540,000
test     10, 12, 14                  2      3,000    270,000
=======  ==========================  =====  =====  =========

In ``test``, size 10 is out-of-distribution interpolation, 12 in distribution,
14 out-of-distribution extrapolation (:data:`TRANSNAR_REGIMES`). Evaluation seeds
differ from the training seed, so the splits are disjoint sampler streams (at
the smallest sizes a few instances can still coincide by chance, as within one
stream).

``clrs-text`` (CLRS-Text, Markeeva et al. 2024; the reference
``generate_clrs_text.py`` defaults):

=======  =============================================  ===================  =====
split    sizes                                          seeds                count
=======  =============================================  ===================  =====
train    4, 5, 10, 11, 12, 15, 19, 23, 28, 31 up to     0                    10,000
         the algorithm's largest training size
         (:data:`CLRS_TEXT_TRAIN_MAX`)
test     4 .. the algorithm's largest evaluation size   3, 14, 35, 81, 94    125
         (:data:`CLRS_TEXT_TEST_MAX`)
=======  =============================================  ===================  =====

(2,150,000 train rows, 514,375 test rows.) The reference script names its
evaluation split ``val``; we call it ``test``, as the other preset. That script
samples without float truncation; the reference Hugging Face generator truncates
to 3 decimals, our default. The July 2024 public datasets are
``float_format="legacy"``, ``truncate_decimals=None``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from transnar.clrs.bounds import nodes_of_size
from transnar.clrs.samplers import Sampler, build_sampler
from transnar.clrs.specs import CLRS30_ALGORITHMS, get_spec
from transnar.clrs.text.formatting import (
    FLOAT_FORMATS,
    FloatFormat,
    check_index_hints,
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


def check_options(use_hints: Any, float_format: Any, index_hints: Any = False) -> None:
    if not isinstance(use_hints, bool):
        raise ValueError(f"use_hints must be True or False, got {use_hints!r}")
    if not isinstance(index_hints, bool):
        raise ValueError(f"index_hints must be True or False, got {index_hints!r}")
    if float_format not in FLOAT_FORMATS:
        raise ValueError(f"float_format must be one of {FLOAT_FORMATS}, got {float_format!r}")


def _natural(name: str, value: Any) -> int:
    """``value`` as an ``int`` if it is a non-negative integer, else a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


# --- rows -------------------------------------------------------------------------


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

    Returns:
        An iterator of ``(row, trajectory)``: the row (see the module
        docstring) and the trajectory it renders, unmodified (apply
        :func:`~transnar.clrs.preprocess` for the NAR). Arguments are checked
        at the call, not at the first ``next``.
    """
    check_options(use_hints, float_format, index_hints)
    count, start = _natural("count", count), _natural("start", start)
    sampler = build_sampler(algorithm, size, seed, truncate_decimals)
    return _stream(sampler, start, count, use_hints, float_format, index_hints)


def _stream(
    sampler: Sampler,
    start: int,
    count: int,
    use_hints: bool,
    float_format: FloatFormat,
    index_hints: bool,
) -> Iterator[tuple[dict[str, Any], Trajectory]]:
    sampler.skip(start)
    algorithm, size, seed = sampler.algorithm, int(sampler.size), int(sampler.seed)
    truncate_decimals = sampler.truncate_decimals
    truncate_decimals = None if truncate_decimals is None else int(truncate_decimals)
    for index in range(start, start + count):
        trajectory = sampler.draw()
        question, answer = format_example(trajectory, use_hints, float_format, index_hints)
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
        index = _natural("index", index)
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


# --- splits and presets -----------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """One split of a CLRS-Text dataset, as data.

    The split holds, for every algorithm of ``sizes``, every size of that
    algorithm and every seed, the first ``count`` draws of the sampler
    ``(algorithm, size, seed)``; rows are ordered by algorithm (table order),
    size, seed (as listed) and index.

    Attributes:
        name: the split's name (``train``, ``val``, ``test``, ...); also its file name.
        sizes: algorithm -> its sizes (ascending).
        seeds: the sampler seeds.
        count: rows per (algorithm, size, seed).
    """

    name: str
    sizes: Mapping[str, tuple[int, ...]]
    seeds: tuple[int, ...]
    count: int

    def __post_init__(self):
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(f"split name must be letters, digits, '-' or '_', got {self.name!r}")
        sizes = {}
        for algorithm, values in self.sizes.items():
            get_spec(algorithm)
            sizes[algorithm] = tuple(sorted({_natural(f"size of {algorithm}", n) for n in values}))
            if not sizes[algorithm]:
                raise ValueError(f"split {self.name}: no sizes for {algorithm}")
        if not sizes:
            raise ValueError(f"split {self.name}: no algorithms")
        seeds = tuple(_natural("seed", seed) for seed in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"split {self.name}: seeds must be distinct and non-empty: {seeds}")
        count = _natural("count", self.count)
        if count < 1:
            raise ValueError(f"split {self.name}: count must be at least 1, got {count}")
        object.__setattr__(self, "count", count)
        object.__setattr__(self, "sizes", MappingProxyType(sizes))
        object.__setattr__(self, "seeds", seeds)

    @property
    def num_rows(self) -> int:
        """Number of rows of the split."""
        return self.count * len(self.seeds) * sum(len(s) for s in self.sizes.values())

    def groups(self) -> Iterator[tuple[str, int, int]]:
        """``(algorithm, size, seed)`` of each sampler stream, in row order."""
        for algorithm, sizes in self.sizes.items():
            for size in sizes:
                for seed in self.seeds:
                    yield algorithm, size, seed

    def replace(
        self,
        *,
        algorithms: Sequence[str] | None = None,
        sizes: Sequence[int] | None = None,
        seeds: Sequence[int] | None = None,
        count: int | None = None,
    ) -> Split:
        """A copy restricted to ``algorithms`` (in the given order), with every
        algorithm at ``sizes``, and/or other ``seeds`` or ``count``."""
        table = dict(self.sizes)
        if algorithms is not None:
            unknown = [a for a in algorithms if a not in table]
            for name in unknown:
                get_spec(name)  # a misspelt name gets the spec's "did you mean"
            if unknown:
                raise ValueError(f"split {self.name} has no {', '.join(unknown)}")
            table = {a: table[a] for a in algorithms}
        if sizes is not None:
            table = dict.fromkeys(table, tuple(sizes))
        return Split(
            self.name,
            table,
            tuple(self.seeds if seeds is None else seeds),
            self.count if count is None else count,
        )

    def to_json(self) -> dict[str, Any]:
        """The split as a JSON-serialisable dict (as in the manifest)."""
        return {
            "rows": self.num_rows,
            "count": self.count,
            "seeds": list(self.seeds),
            "sizes": {a: list(s) for a, s in self.sizes.items()},
        }


def _every_algorithm(sizes: Sequence[int]) -> dict[str, tuple[int, ...]]:
    return dict.fromkeys(CLRS30_ALGORITHMS, tuple(sizes))


def _by_largest(groups: Mapping[int, Sequence[str]], sizes) -> dict[str, tuple[int, ...]]:
    """``{largest: algorithms}`` -> ``{algorithm: sizes(largest)}``, in CLRS-30 order."""
    largest = {a: m for m, algorithms in groups.items() for a in algorithms}
    assert sorted(largest) == sorted(CLRS30_ALGORITHMS), "each algorithm exactly once"
    return {a: tuple(sizes(largest[a])) for a in CLRS30_ALGORITHMS}


TRANSNAR_TRAIN_SIZES: tuple[int, ...] = (4, 5, 6, 7, 8, 12)


TRANSNAR_REGIMES: Mapping[int, str] = MappingProxyType(
    {10: "ood-interpolation", 12: "in-distribution", 14: "ood-extrapolation"}
)
"""Evaluation size -> regime, in TransNAR's protocol."""


CLRS_TEXT_TRAIN_LADDER: tuple[int, ...] = (4, 5, 10, 11, 12, 15, 19, 23, 28, 31)


CLRS_TEXT_TRAIN_MAX: Mapping[int, tuple[str, ...]] = MappingProxyType(
    {
        31: (
            "activity_selector",
            "bellman_ford",
            "bfs",
            "binary_search",
            "find_maximum_subarray_kadane",
            "graham_scan",
            "insertion_sort",
            "kmp_matcher",
            "minimum",
            "naive_string_matcher",
            "quickselect",
            "segments_intersect",
            "task_scheduling",
        ),
        28: ("dijkstra", "mst_prim"),
        23: ("dfs", "topological_sort"),
        19: ("articulation_points", "dag_shortest_paths"),
        15: ("strongly_connected_components",),
        12: ("jarvis_march",),
        10: (
            "bubble_sort",
            "floyd_warshall",
            "heapsort",
            "lcs_length",
            "matrix_chain_order",
            "mst_kruskal",
            "optimal_bst",
            "quicksort",
        ),
        5: ("bridges",),
    }
)
"""CLRS-Text training: largest size -> algorithms; sizes are the ladder up to it."""


CLRS_TEXT_TEST_MAX: Mapping[int, tuple[str, ...]] = MappingProxyType(
    {
        64: (
            "binary_search",
            "find_maximum_subarray_kadane",
            "kmp_matcher",
            "minimum",
            "naive_string_matcher",
            "quickselect",
            "segments_intersect",
        ),
        41: ("bfs", "task_scheduling"),
        40: ("activity_selector",),
        32: ("bellman_ford",),
        31: ("graham_scan",),
        26: ("mst_prim",),
        25: ("dijkstra", "insertion_sort"),
        21: ("topological_sort",),
        20: ("dfs",),
        19: ("articulation_points", "dag_shortest_paths"),
        16: ("strongly_connected_components",),
        13: ("jarvis_march",),
        12: ("lcs_length", "matrix_chain_order", "quicksort"),
        11: ("bubble_sort", "floyd_warshall", "heapsort"),
        10: ("mst_kruskal", "optimal_bst"),
        7: ("bridges",),
    }
)
"""CLRS-Text evaluation: largest size -> algorithms; sizes are 4 .. largest."""


CLRS_TEXT_TEST_SEEDS: tuple[int, ...] = (3, 14, 35, 81, 94)


PRESETS: Mapping[str, Mapping[str, Split]] = MappingProxyType(
    {
        "transnar": MappingProxyType(
            {
                "train": Split("train", _every_algorithm(TRANSNAR_TRAIN_SIZES), (0,), 7_000),
                "val": Split("val", _every_algorithm(TRANSNAR_TRAIN_SIZES), (1,), 3_000),
                "test": Split("test", _every_algorithm(tuple(TRANSNAR_REGIMES)), (2,), 3_000),
            }
        ),
        "clrs-text": MappingProxyType(
            {
                "train": Split(
                    "train",
                    _by_largest(
                        CLRS_TEXT_TRAIN_MAX,
                        lambda m: [n for n in CLRS_TEXT_TRAIN_LADDER if n <= m],
                    ),
                    (0,),
                    10_000,
                ),
                "test": Split(
                    "test",
                    _by_largest(CLRS_TEXT_TEST_MAX, lambda m: range(4, m + 1)),
                    CLRS_TEXT_TEST_SEEDS,
                    125,
                ),
            }
        ),
    }
)
"""Preset name -> split name -> :class:`Split`; see the module docstring."""


def get_preset(name: str) -> Mapping[str, Split]:
    """The splits of a preset; a clear error for an unknown name."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return PRESETS[name]


def split_examples(
    split: Split,
    use_hints: bool = False,
    float_format: FloatFormat = "default",
    truncate_decimals: int | None = 3,
    *,
    index_hints: bool = False,
) -> Iterator[tuple[dict[str, Any], Trajectory]]:
    """Every ``(row, trajectory)`` of a split, in row order, one at a time."""
    for algorithm, size, seed in split.groups():
        yield from examples(
            algorithm,
            size,
            seed,
            split.count,
            use_hints,
            float_format,
            truncate_decimals,
            index_hints=index_hints,
        )


def check_index_hint_sizes(splits: Iterable[Split]) -> None:
    """Raises ``ValueError`` if a split has instances with more nodes than
    index markers (:func:`~transnar.clrs.text.formatting.check_index_hints`)."""
    for split in splits:
        for algorithm, sizes in split.sizes.items():
            check_index_hints(algorithm, max(nodes_of_size(algorithm, n) for n in sizes))


def check_disjoint(splits: Iterable[Split]) -> None:
    """Raises ``ValueError`` if two splits draw from the same sampler stream
    (same algorithm, size and seed), i.e. would share instances."""
    owner: dict[tuple[str, int, int], str] = {}
    for split in splits:
        for group in split.groups():
            if group in owner and owner[group] != split.name:
                algorithm, size, seed = group
                raise ValueError(
                    f"splits {owner[group]} and {split.name} both draw {algorithm} at size "
                    f"{size} with seed {seed}: they would share instances"
                )
            owner[group] = split.name


# --- files ------------------------------------------------------------------------


__all__ = [
    "CLRS_TEXT_TEST_MAX",
    "CLRS_TEXT_TEST_SEEDS",
    "CLRS_TEXT_TRAIN_LADDER",
    "CLRS_TEXT_TRAIN_MAX",
    "COLUMNS",
    "INDEX_HINT_COLUMNS",
    "PRESETS",
    "TRANSNAR_REGIMES",
    "TRANSNAR_TRAIN_SIZES",
    "SamplerStreams",
    "Split",
    "check_disjoint",
    "check_index_hint_sizes",
    "check_options",
    "examples",
    "get_preset",
    "make_example",
    "split_examples",
    "trajectory_of",
    "with_trajectories",
]
