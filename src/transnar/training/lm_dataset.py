"""The LM trainer's examples in memory: tokenised CLRS-Text rows with their graphs, as batches.

- :class:`PairedDataset`: one split's examples, tokenised (``<bos> question
  answer``, the prompt's labels ``IGNORE_INDEX``) and kept as one integer
  array, each with its trajectory (TransNAR); grouped by ``(algorithm, size)``.
- :class:`LMBatch`: examples of one algorithm and size, padded on the right,
  with their NAR :class:`~transnar.nar.features.Features` or their cached
  graph memory.
- :class:`MemoryCache`: every example's graph memory, computed once by the
  frozen NAR (:func:`~transnar.training.lm_batches.cache_memory`).

Where the examples come from, and the pipeline as a whole:
:mod:`transnar.training.lm_data`.

Shapes: ``B`` batch, ``T`` tokens (the longest example of the batch), ``N``
nodes, ``S`` NAR steps, ``H`` NAR width, ``E`` examples.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from transnar.clrs.trajectory import Trajectory
from transnar.lm.tokenizer import IGNORE_INDEX, Tokenizer
from transnar.nar.features import Features
from transnar.nar.memory import GraphMemory


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

    def sha256(self) -> str:
        """SHA-256 of what training reads of it: each example's tokens, prompt
        length, algorithm, size and sampler seed and index (its graph), in order.
        The same examples give the same hash wherever they were read from."""
        digest = hashlib.sha256()
        for array in (
            self._tokens.astype(np.int32),
            self.lengths,
            self.prompt_lengths,
            self.sizes,
            self.seeds,
            self.indices,
        ):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update("\0".join(self.algorithms.tolist()).encode())
        return digest.hexdigest()

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
    "LMBatch",
    "MemoryCache",
    "PairedDataset",
]
