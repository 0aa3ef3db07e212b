"""CLRS-Text datasets: splits of sampler streams, and the named presets of splits.

The rows of a stream (one CLRS-Text example each, paired with its trajectory;
their columns and how a row is drawn again) are :mod:`~transnar.clrs.text.rows`.

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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from transnar.clrs.bounds import nodes_of_size
from transnar.clrs.specs import CLRS30_ALGORITHMS, get_spec
from transnar.clrs.text.formatting import FloatFormat, check_index_hints
from transnar.clrs.text.rows import examples, natural
from transnar.clrs.trajectory import Trajectory


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
            sizes[algorithm] = tuple(sorted({natural(f"size of {algorithm}", n) for n in values}))
            if not sizes[algorithm]:
                raise ValueError(f"split {self.name}: no sizes for {algorithm}")
        if not sizes:
            raise ValueError(f"split {self.name}: no algorithms")
        seeds = tuple(natural("seed", seed) for seed in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"split {self.name}: seeds must be distinct and non-empty: {seeds}")
        count = natural("count", self.count)
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
    shift_markers: bool = False,
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
            shift_markers=shift_markers,
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


__all__ = [
    "CLRS_TEXT_TEST_MAX",
    "CLRS_TEXT_TEST_SEEDS",
    "CLRS_TEXT_TRAIN_LADDER",
    "CLRS_TEXT_TRAIN_MAX",
    "PRESETS",
    "TRANSNAR_REGIMES",
    "TRANSNAR_TRAIN_SIZES",
    "Split",
    "check_disjoint",
    "check_index_hint_sizes",
    "get_preset",
    "split_examples",
]
