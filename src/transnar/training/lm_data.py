"""The paired data pipeline: CLRS-Text rows and their graphs, as training batches.

Each **example** is one CLRS-Text row (``question``, ``answer``) and, for
TransNAR, the trajectory the row renders (the same instance as a graph, for the
NAR). Rows come from the samplers (:func:`transnar.clrs.text.rows.examples`,
drawn as in ``transnar data text``) or from a directory written by ``transnar data
text [--with-graphs]`` (:func:`read_pairs`).

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
  memory once and the batches carry it (:class:`MemoryCache`): the same numbers,
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

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
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
from transnar.clrs.text.formatting import FLOAT_FORMATS
from transnar.clrs.text.rows import with_trajectories
from transnar.clrs.trajectory import Trajectory
from transnar.lm.tokenizer import IGNORE_INDEX, Tokenizer
from transnar.nar.features import Features
from transnar.nar.memory import GraphMemory
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
        if self.float_format not in FLOAT_FORMATS:
            raise ValueError(
                f"data.float_format must be one of {FLOAT_FORMATS}, got {self.float_format!r}"
            )
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
        if not isinstance(self.index_hints, bool):
            raise ValueError(f"data.index_hints must be true or false, got {self.index_hints!r}")
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


# --- examples ---------------------------------------------------------------------


@dataclass
class LMBatch:
    """A batch of examples of one algorithm and size.

    Attributes:
        algorithm: the algorithm.
        size: the size.
        indices: ``(B,)`` the examples' indices in their dataset.
        input_ids: ``(B, T)`` ``<bos> question answer``, padded on the right.
        labels: ``(B, T)`` the ids on the answer, ``IGNORE_INDEX`` on the
            prompt and the padding (aligned with the inputs; the model shifts).
        attention_mask: ``(B, T)`` True on real tokens.
        features: the NAR features of the instances (TransNAR), else None.
        memory: the cached graph memory of the instances
            (:func:`~transnar.training.lm_batches.cache_memory`), else None.
    """

    algorithm: str
    size: int
    indices: np.ndarray
    input_ids: torch.Tensor
    labels: torch.Tensor
    attention_mask: torch.Tensor
    features: Features | None = None
    memory: GraphMemory | None = None

    @property
    def batch_size(self) -> int:
        return self.input_ids.shape[0]

    @property
    def lengths(self) -> torch.Tensor:
        """``(B,)`` real tokens per example."""
        return self.attention_mask.sum(dim=-1)

    @property
    def num_tokens(self) -> int:
        """Real (not padding) tokens."""
        return int(self.attention_mask.sum())

    @property
    def num_targets(self) -> int:
        """Tokens the loss covers (answer tokens)."""
        return int((self.labels[:, 1:] != IGNORE_INDEX).sum())

    def rows(self, index: torch.Tensor) -> LMBatch:
        """The examples ``index`` (``(R,)`` int64) of the batch, padded as before."""
        return dataclasses.replace(
            self,
            indices=self.indices[index.cpu().numpy()],
            input_ids=self.input_ids.index_select(0, index),
            labels=self.labels.index_select(0, index),
            attention_mask=self.attention_mask.index_select(0, index),
            features=None if self.features is None else self.features.rows(index),
            memory=None if self.memory is None else self.memory.rows(index),
        )

    def to(self, device: torch.device | str) -> LMBatch:
        """The batch on ``device``."""
        return dataclasses.replace(
            self,
            input_ids=self.input_ids.to(device),
            labels=self.labels.to(device),
            attention_mask=self.attention_mask.to(device),
            features=None if self.features is None else self.features.to(device),
            memory=None if self.memory is None else self.memory.to(device),
        )


class PairedDataset:
    """Tokenised CLRS-Text examples with (optionally) their trajectories, in memory.

    Tokens are kept as one ``int16`` array (``int32`` for vocabularies of
    more than 32,768 tokens) with offsets, so a dataset of a
    million examples costs a few hundred bytes each (plus the trajectories).

    Attributes:
        name: the split's name.
        algorithms: ``(E,)`` each example's algorithm.
        sizes: ``(E,)`` each example's size.
        seeds, indices: ``(E,)`` each example's sampler seed and stream index
            (its row is ``make_example(algorithm, size, seed, index, ...)``).
        lengths: ``(E,)`` tokens per example.
        prompt_lengths: ``(E,)`` tokens of ``<bos>`` + question.
        trajectories: the instances as graphs (None without graphs).
        groups: ``(algorithm, size)`` -> the indices of its examples, in order.
        dropped: examples left out for being longer than ``max_tokens``.
        memory_cache: set by :func:`~transnar.training.lm_batches.cache_memory`.
    """

    def __init__(
        self,
        name: str,
        tokenizer: Tokenizer,
        pairs: Iterable[tuple[Mapping[str, Any], Trajectory | None]],
        with_graphs: bool = True,
        max_tokens: int | None = None,
    ):
        self.name = name
        self.tokenizer = tokenizer
        algorithms, sizes, seeds, indices, prompt_lengths = [], [], [], [], []
        tokens: list[np.ndarray] = []
        trajectories: list[Trajectory] = []
        self.dropped = 0
        dtype = np.int16 if len(tokenizer) <= 2**15 else np.int32
        for row, trajectory in pairs:
            ids, labels = tokenizer.encode_example(row["question"], row["answer"])
            if max_tokens is not None and len(ids) > max_tokens:
                self.dropped += 1
                continue
            if with_graphs:
                if trajectory is None:
                    raise ValueError(f"{name}: an example has no graph (trajectory)")
                trajectories.append(trajectory)
            tokens.append(np.asarray(ids, dtype=dtype))
            prompt_lengths.append(labels.count(IGNORE_INDEX))
            algorithms.append(row["algo_name"])
            sizes.append(int(row["length"]))
            seeds.append(int(row.get("seed", -1)))
            indices.append(int(row.get("index", -1)))
        if not tokens:
            raise ValueError(f"the {name} split has no examples")
        self.algorithms = np.asarray(algorithms)
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.seeds = np.asarray(seeds, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.lengths = np.asarray([len(t) for t in tokens], dtype=np.int64)
        self.prompt_lengths = np.asarray(prompt_lengths, dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self._tokens = np.concatenate(tokens)
        self.trajectories = trajectories if with_graphs else None
        groups: dict[tuple[str, int], list[int]] = {}
        for i, key in enumerate(zip(algorithms, sizes, strict=True)):
            groups.setdefault(key, []).append(i)
        self.groups = {key: np.asarray(v, dtype=np.int64) for key, v in groups.items()}
        self.memory_cache: MemoryCache | None = None

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())

    @property
    def num_targets(self) -> int:
        """Answer tokens (those the loss covers)."""
        return int((self.lengths - self.prompt_lengths).sum())

    def example(self, index: int) -> tuple[list[int], list[int]]:
        """``(input_ids, labels)`` of one example, as ``encode_example`` gives them."""
        ids = self._tokens[self._offsets[index] : self._offsets[index + 1]].tolist()
        prompt = int(self.prompt_lengths[index])
        return ids, [IGNORE_INDEX] * prompt + ids[prompt:]

    def batch(self, indices: Sequence[int] | np.ndarray) -> LMBatch:
        """The examples ``indices`` (all of one algorithm and size) as a :class:`LMBatch`."""
        indices = np.asarray(indices, dtype=np.int64)
        keys = {(str(self.algorithms[i]), int(self.sizes[i])) for i in indices}
        if len(keys) != 1:
            raise ValueError(f"a batch must hold one (algorithm, size), got {sorted(keys)}")
        ((algorithm, size),) = keys
        B, T = len(indices), int(self.lengths[indices].max())
        input_ids = torch.full((B, T), self.tokenizer.pad_id, dtype=torch.long)
        labels = torch.full((B, T), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((B, T), dtype=torch.bool)
        for row, i in enumerate(indices):
            ids = torch.from_numpy(self._tokens[self._offsets[i] : self._offsets[i + 1]]).long()
            n, prompt = len(ids), int(self.prompt_lengths[i])
            input_ids[row, :n] = ids
            labels[row, prompt:n] = ids[prompt:]
            attention_mask[row, :n] = True
        features = memory = None
        if self.memory_cache is not None:
            memory = self.memory_cache.gather(indices)
        elif self.trajectories is not None:
            features = Features.from_trajectories([self.trajectories[i] for i in indices])
        return LMBatch(
            algorithm, size, indices, input_ids, labels, attention_mask, features, memory
        )


# --- sources ----------------------------------------------------------------------


def generate_pairs(config: DataConfig, split: str) -> Iterator[tuple[dict[str, Any], Trajectory]]:
    """The ``(row, trajectory)`` pairs of a split, drawn from the samplers."""
    splits = config.splits()
    if split not in splits:
        raise ValueError(f"no {split!r} split (sizes are empty)")
    return split_examples(
        splits[split],
        config.use_hints,
        config.float_format,
        config.truncate_decimals,
        index_hints=config.index_hints,
    )


def read_pairs(
    directory: str | Path,
    split: str,
    algorithms: Sequence[str] | None = None,
    with_graphs: bool = True,
    index_hints: bool | None = None,
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
    """
    directory = Path(directory)
    paths = [split_path(directory, split, fmt) for fmt in ("jsonl", "parquet")]
    path = next((p for p in paths if p.is_file()), None)
    if path is None:
        raise ValueError(f"{directory} has no {split} split ({paths[0].name} or {paths[1].name})")
    wanted = None if algorithms is None else set(algorithms)
    rows = (r for r in read_rows(path) if wanted is None or r["algo_name"] in wanted)
    if index_hints is not None:
        rows = _with_index_hints(rows, index_hints, directory)
    if not with_graphs:
        return ((row, None) for row in rows)
    manifest = directory / MANIFEST
    if manifest.is_file() and '"graphs"' in manifest.read_text():
        return _with_graph_files(directory, split, rows)
    return with_trajectories(rows)


def _with_index_hints(
    rows: Iterable[dict[str, Any]], index_hints: bool, directory: Path
) -> Iterator[dict[str, Any]]:
    """The rows, checked to have index hints exactly when ``index_hints``."""
    for row in rows:
        if bool(row.get("index_hints", False)) != index_hints:
            made = "with" if not index_hints else "without"
            raise ValueError(
                f"{directory} was written {made} index hints (its rows' index_hints), but "
                f"data.index_hints is {str(index_hints).lower()}: write the data again "
                f"(transnar data text {'--index-hints ' if index_hints else ''}...) or set "
                f"data.index_hints={str(not index_hints).lower()}"
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
            config.path, split, config.algorithms, with_graphs, index_hints=config.index_hints
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


# --- cached graph memory ----------------------------------------------------------


class MemoryCache:
    """Every example's graph memory, computed once by the frozen NAR (on the CPU).

    In ``final`` mode an example keeps its final node ``(1, N, Hn)`` and edge
    ``(1, N * N, He)`` embeddings; in ``lockstep`` mode those of each of its
    ``S`` steps. :meth:`gather` rebuilds a batch's :class:`GraphMemory`, equal to
    what ``TransNAR.graph_memory`` gives for the batch.
    """

    def __init__(self, mode: str):
        self.mode = mode
        self.nodes: dict[int, torch.Tensor] = {}
        self.edges: dict[int, torch.Tensor] = {}
        self.node_mask: dict[int, torch.Tensor] = {}
        self.steps: dict[int, int] = {}

    def add(self, indices: Sequence[int], memory: GraphMemory) -> None:
        """Stores the memory of a batch of examples ``indices``."""
        memory = memory.to("cpu")
        for row, index in enumerate(indices):
            steps = int(memory.steps[row])
            keep = slice(-1, None) if self.mode == "final" else slice(0, steps)
            self.nodes[int(index)] = memory.nodes[row, keep].clone()
            self.edges[int(index)] = memory.edges[row, keep].clone()
            self.node_mask[int(index)] = memory.node_mask[row].clone()
            self.steps[int(index)] = steps

    def gather(self, indices: Sequence[int]) -> GraphMemory:
        """The :class:`GraphMemory` of a batch of cached examples (one node count)."""
        nodes = [self.nodes[int(i)] for i in indices]
        edges = [self.edges[int(i)] for i in indices]
        S = max(len(n) for n in nodes)
        # pad each example's steps by repeating its last one (as the NAR keeps finished states)
        nodes = torch.stack([_pad_steps(n, S) for n in nodes])  # (B, S, N, Hn)
        edges = torch.stack([_pad_steps(e, S) for e in edges])  # (B, S, N * N, He)
        node_mask = torch.stack([self.node_mask[int(i)] for i in indices])
        n = node_mask.shape[1]
        return GraphMemory(
            nodes=nodes,
            edges=edges,
            node_mask=node_mask,
            edge_mask=(node_mask[:, :, None] & node_mask[:, None, :]).reshape(len(indices), n * n),
            steps=torch.tensor([self.steps[int(i)] for i in indices], dtype=torch.long),
        )

    def __len__(self) -> int:
        return len(self.nodes)


def _pad_steps(states: torch.Tensor, steps: int) -> torch.Tensor:
    """``(S', ...)`` -> ``(steps, ...)``, repeating the last state."""
    return torch.cat([states, states[-1:].expand(steps - len(states), *states.shape[1:])])


__all__ = [
    "SMALL_ALGORITHMS",
    "DataConfig",
    "LMBatch",
    "MemoryCache",
    "PairedDataset",
    "build_dataset",
    "generate_pairs",
    "read_pairs",
]
