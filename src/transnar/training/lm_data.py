"""The paired data pipeline: CLRS-Text rows and their graphs, as training batches.

Each **example** is one CLRS-Text row (``question``, ``answer``) and, for
TransNAR, the trajectory the row renders (the same instance as a graph, for the
NAR). Rows come from the samplers (:func:`transnar.clrs.text.rows.examples`,
drawn as in ``transnar data text``) or from a directory written by ``transnar data
text [--with-graphs]`` (:func:`read_pairs`). This module holds the data config
(:class:`DataConfig`) and those sources; the examples in memory and their
batches are :mod:`~transnar.training.lm_dataset`
(:class:`~transnar.training.lm_dataset.PairedDataset`, built by
:func:`build_dataset`), the batch streams :mod:`~transnar.training.lm_batches`.

- **Tokens**: ``<bos> question answer`` with :meth:`Tokenizer.encode_example`;
  the labels of ``<bos>`` and the question are ``IGNORE_INDEX`` (-100), so the
  loss covers the answer only. Batches are padded on the right (labels with -100),
  so causal attention needs no mask.
- **Homogeneous batches**: a batch holds examples of one ``(algorithm, size)``
  only. The NAR then runs one algorithm head on graphs of one node count, with no
  node padding: simple, and the NAR's cost per example is the lowest. Algorithms
  still mix across steps (batches are shuffled), and with gradient accumulation
  within a step.
- **Length buckets**: each epoch, every group is shuffled, cut into buckets of
  ``bucket_batches`` batches, each bucket sorted by length and cut into batches
  (little padding); then all batches are shuffled. The order is a pure function
  of ``(seed, epoch)``, so the stream's position ``(epoch, batch)`` is all a
  checkpoint needs to resume it
  (:class:`~transnar.training.lm_batches.BatchSampler`). Every example is in
  exactly one batch per epoch (each group's last batch may be smaller).
- **Graphs**: a batch carries the NAR :class:`~transnar.nar.features.Features` of
  its instances (``Features.from_trajectories``, plain ``pos``); the training loop
  runs :meth:`TransNAR.graph_memory` on them under ``no_grad``. Alternatively
  :func:`~transnar.training.lm_batches.cache_memory` computes every example's
  memory once and the batches carry it
  (:class:`~transnar.training.lm_dataset.MemoryCache`): the same numbers,
  no NAR in the training step, but memory that grows with the dataset
  (``N * N * H`` floats per example for the edges).
- **Positions**: random per sequence over its real tokens
  (:func:`~transnar.training.lm_batches.training_positions`:
  :func:`~transnar.lm.random_positions` with per-sequence lengths, laid out by
  :func:`~transnar.lm.pad_positions`).

Shapes: ``B`` batch, ``T`` tokens (the longest example of the batch), ``N``
nodes, ``S`` NAR steps, ``H`` NAR width.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from transnar._config import not_int
from transnar.clrs.io import load_trajectories
from transnar.clrs.specs import get_spec
from transnar.clrs.text.dataset_files import MANIFEST, graph_path, read_rows, split_path
from transnar.clrs.text.datasets import (
    Split,
    check_disjoint,
    check_index_hint_sizes,
    split_examples,
)
from transnar.clrs.text.formatting import check_float_format
from transnar.clrs.text.rows import with_trajectories
from transnar.clrs.trajectory import Trajectory
from transnar.lm.tokenizer import Tokenizer
from transnar.training.lm_dataset import PairedDataset
from transnar.training.nar_config import SMALL_ALGORITHMS

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DataConfig:
    """Which CLRS-Text examples a run trains and validates on.

    Each split draws, for every algorithm and size, ``count`` instances from the
    sampler seeded with the split's seed (as ``transnar data text``); distinct
    seeds keep the splits disjoint.

    Attributes:
        algorithms: the algorithms (``all``: the 30 of CLRS-30).
        train_sizes: training sizes.
        train_count: training examples per (algorithm, size).
        train_seed: the training sampler seed.
        val_sizes: validation sizes (empty: the training sizes).
        val_count: validation examples per (algorithm, size).
        val_seed: the validation sampler seed.
        test_sizes: evaluation sizes, in and out of distribution (recorded for
            the evaluation; training does not read them).
        test_count: evaluation examples per (algorithm, size).
        test_seed: the evaluation sampler seed.
        use_hints: render the traces in the answers.
        index_hints: precede every list and matrix element by its index
            marker (Zhou et al. 2023; see ``format_example``). Written into
            ``config.json`` only when true, so runs without it keep their files.
        shift_markers: with ``index_hints``, start the markers of each
            training and validation row at a letter drawn for that row
            (:func:`~transnar.clrs.text.rows.marker_shift`), so that the model
            sees every marker, not only those of its training sizes; the
            evaluation's questions start at ``a`` as always. In ``config.json``
            only when true.
        float_format: ``default`` or ``legacy`` (see ``format_example``).
        truncate_decimals: decimals float inputs are truncated to (None: none).
        max_tokens: drop examples with more tokens (None: keep all; every
            example must then fit the model's ``max_position``).
        bucket_batches: batches per length bucket (1: no bucketing).
        path: read the ``train`` and ``val`` rows (and graphs, when written
            with ``--with-graphs``) from this ``transnar data text`` directory
            instead of sampling them; the sizes, counts and seeds are then
            those of the files, and ``algorithms`` selects among them.
    """

    algorithms: tuple[str, ...] = SMALL_ALGORITHMS
    train_sizes: tuple[int, ...] = (4, 5, 6, 7, 8, 12)
    train_count: int = 7000
    train_seed: int = 0
    val_sizes: tuple[int, ...] = ()
    val_count: int = 3000
    val_seed: int = 1
    test_sizes: tuple[int, ...] = (10, 12, 14)
    test_count: int = 3000
    test_seed: int = 2
    use_hints: bool = False
    index_hints: bool = False
    shift_markers: bool = False
    float_format: str = "default"
    truncate_decimals: int | None = 3
    max_tokens: int | None = None
    bucket_batches: int = 16
    path: str | None = None

    def __post_init__(self):
        for name in ("algorithms", "train_sizes", "val_sizes", "test_sizes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.algorithms:
            raise ValueError("data.algorithms must name at least one algorithm")
        for algorithm in self.algorithms:
            get_spec(algorithm)
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ValueError(f"data.algorithms lists an algorithm twice: {self.algorithms}")
        if not self.train_sizes:
            raise ValueError("data.train_sizes must name at least one size")
        for name in ("train_sizes", "val_sizes", "test_sizes"):
            if any(not_int(n) or n < 2 for n in getattr(self, name)):
                raise ValueError(f"data.{name} must be integers >= 2, got {getattr(self, name)}")
        for name in ("train_count", "val_count", "test_count", "bucket_batches"):
            if not_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"data.{name} must be an integer >= 1, got {getattr(self, name)}")
        check_float_format(self.float_format, "data.float_format")
        if self.truncate_decimals is not None and (
            not_int(self.truncate_decimals) or self.truncate_decimals < 0
        ):
            raise ValueError(
                f"data.truncate_decimals must be >= 0 or none, got {self.truncate_decimals}"
            )
        if self.max_tokens is not None and (not_int(self.max_tokens) or self.max_tokens < 2):
            raise ValueError(
                f"data.max_tokens must be an integer >= 2 or none, got {self.max_tokens}"
            )
        for name in ("index_hints", "shift_markers"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"data.{name} must be true or false, got {getattr(self, name)!r}")
        if self.shift_markers and not self.index_hints:
            raise ValueError("data.shift_markers shifts index markers: set data.index_hints=true")
        check_disjoint(self.splits().values())
        if self.index_hints:
            check_index_hint_sizes(self.splits().values())

    def splits(self) -> dict[str, Split]:
        """The ``train``, ``val`` and ``test`` splits as :class:`Split` tables."""
        sizes = {
            "train": self.train_sizes,
            "val": self.val_sizes or self.train_sizes,
            "test": self.test_sizes,
        }
        counts = {"train": self.train_count, "val": self.val_count, "test": self.test_count}
        seeds = {"train": self.train_seed, "val": self.val_seed, "test": self.test_seed}
        return {
            name: Split(
                name, dict.fromkeys(self.algorithms, sizes[name]), (seeds[name],), counts[name]
            )
            for name in SPLITS
            if sizes[name]
        }


def generate_pairs(config: DataConfig, split: str) -> Iterator[tuple[dict[str, Any], Trajectory]]:
    """The ``(row, trajectory)`` pairs of a split, drawn from the samplers (with
    ``shift_markers``, shifted in the ``train`` and ``val`` splits, not ``test``)."""
    splits = config.splits()
    if split not in splits:
        raise ValueError(f"no {split!r} split (sizes are empty)")
    return split_examples(
        splits[split],
        config.use_hints,
        config.float_format,
        config.truncate_decimals,
        index_hints=config.index_hints,
        shift_markers=config.shift_markers and split != "test",
    )


def read_pairs(
    directory: str | Path,
    split: str,
    algorithms: Sequence[str] | None = None,
    with_graphs: bool = True,
    index_hints: bool | None = None,
    shift_markers: bool = False,
) -> Iterator[tuple[dict[str, Any], Trajectory | None]]:
    """The ``(row, trajectory)`` pairs of a split written by ``transnar data text``.

    Trajectories come from the split's graph files when it was written with
    ``--with-graphs``, else they are drawn again from each row's sampler
    (:func:`~transnar.clrs.text.rows.with_trajectories`); with
    ``with_graphs=False`` they are None.

    Args:
        directory: the dataset directory (with ``manifest.json``).
        split: ``train``, ``val``, ...
        algorithms: keep only these (default: all).
        with_graphs: pair each row with its trajectory.
        index_hints: the rows must have index hints (True) or not (False),
            else ``ValueError`` when the first other row is read; None: either.
        shift_markers: with ``index_hints`` given, the rows must have shifted
            markers (a ``marker_offset``) exactly when this is true.
    """
    directory = Path(directory)
    paths = [split_path(directory, split, fmt) for fmt in ("jsonl", "parquet")]
    path = next((p for p in paths if p.is_file()), None)
    if path is None:
        raise ValueError(f"{directory} has no {split} split ({paths[0].name} or {paths[1].name})")
    wanted = None if algorithms is None else set(algorithms)
    rows = (r for r in read_rows(path) if wanted is None or r["algo_name"] in wanted)
    if index_hints is not None:
        rows = _with_index_hints(rows, index_hints, shift_markers, directory)
    if not with_graphs:
        return ((row, None) for row in rows)
    manifest = directory / MANIFEST
    if manifest.is_file() and '"graphs"' in manifest.read_text():
        return _with_graph_files(directory, split, rows)
    return with_trajectories(rows)


def _with_index_hints(
    rows: Iterable[dict[str, Any]], index_hints: bool, shift_markers: bool, directory: Path
) -> Iterator[dict[str, Any]]:
    """The rows, checked to have index hints exactly when ``index_hints``, and
    shifted markers exactly when ``shift_markers``."""
    for row in rows:
        for key, wanted, flag, got in (
            ("index_hints", index_hints, "--index-hints", bool(row.get("index_hints", False))),
            ("shift_markers", shift_markers, "--shift-markers", "marker_offset" in row),
        ):
            if got != wanted:
                made = "with" if not wanted else "without"
                what = key.replace("_", " ")
                raise ValueError(
                    f"{directory} was written {made} {what} (its rows' {key}), but "
                    f"data.{key} is {str(wanted).lower()}: write the data again "
                    f"(transnar data text {flag + ' ' if wanted else ''}...) or set "
                    f"data.{key}={str(not wanted).lower()}"
                )
        yield row


def _with_graph_files(
    directory: Path, split: str, rows: Iterable[dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], Trajectory]]:
    """Rows (grouped by algorithm and size, as written) with the trajectories of
    their group's graph file, in order."""
    key, trajectories, position = None, [], 0
    for row in rows:
        if (row["algo_name"], row["length"]) != key:
            key = (row["algo_name"], row["length"])
            trajectories, _ = load_trajectories(graph_path(directory, split, *key))
            position = 0
        if position >= len(trajectories):
            raise ValueError(f"{directory}: the graphs of {split} {key} are fewer than its rows")
        yield row, trajectories[position]
        position += 1


def build_dataset(
    config: DataConfig,
    split: str,
    tokenizer: Tokenizer,
    with_graphs: bool,
    max_position: int | None = None,
    progress: bool | None = False,
) -> PairedDataset:
    """The examples of one split, tokenised, with their trajectories when ``with_graphs``.

    Args:
        config: the data config.
        split: ``train`` or ``val`` (or ``test``).
        tokenizer: the model's tokenizer.
        with_graphs: keep each example's trajectory (TransNAR).
        max_position: the model's ``L_max``: without ``max_tokens``, an example
            longer than this is an error (random positions cannot be drawn).
        progress: show a progress bar (``None``: on a terminal).
    """
    if config.path is not None:
        pairs = read_pairs(
            config.path,
            split,
            config.algorithms,
            with_graphs,
            index_hints=config.index_hints,
            shift_markers=config.shift_markers,
        )
    else:
        pairs = generate_pairs(config, split)
    pairs = tqdm(
        pairs,
        desc=f"{split} data",
        unit="ex",
        disable=(not progress) if progress is not None else None,
        leave=False,
    )
    dataset = PairedDataset(split, tokenizer, pairs, with_graphs, config.max_tokens)
    longest = int(dataset.lengths.max())
    if max_position is not None and longest > max_position:
        raise ValueError(
            f"the {split} split has examples of up to {longest} tokens, more than the model's "
            f"max_position {max_position}: raise model.lm.max_position or set data.max_tokens "
            "to drop them"
        )
    return dataset


__all__ = [
    "SMALL_ALGORITHMS",
    "DataConfig",
    "build_dataset",
    "generate_pairs",
    "read_pairs",
]
