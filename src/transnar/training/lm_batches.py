"""The LM trainer's batch streams: shuffled training batches with a resumable
position, fixed validation batches, random positions, the NAR memory computed once.

- :class:`BatchSampler`: homogeneous (one algorithm and size), length-bucketed,
  shuffled batches, epoch after epoch; the order is a pure function of
  ``(seed, epoch)``, so its position is all a checkpoint needs (see
  :mod:`transnar.training.lm_data`).
- :func:`fixed_batches`: a dataset's examples once, in a fixed order (validation).
- :func:`training_positions`: random positions over each sequence's real tokens.
- :func:`cache_memory`: every example's graph memory, computed once by the frozen
  NAR and attached to the dataset (:class:`~transnar.training.lm_dataset.MemoryCache`).

Shapes: ``B`` batch, ``T`` tokens, ``E`` examples.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from tqdm import tqdm

from transnar.lm.positions import pad_positions, random_positions
from transnar.training.lm_dataset import MemoryCache, PairedDataset


class BatchSampler:
    """Homogeneous, length-bucketed, shuffled batches, epoch after epoch (see the module
    docstring); an endless iterator of example-index arrays with a resumable position.

    Args:
        groups: ``(algorithm, size)`` -> example indices (``PairedDataset.groups``).
        lengths: ``(E,)`` tokens per example.
        batch_size: examples per batch (a group's last batch may have fewer).
        seed: the shuffling seed.
        bucket_batches: batches per length bucket.
    """

    def __init__(
        self,
        groups: Mapping[tuple[str, int], np.ndarray],
        lengths: np.ndarray,
        batch_size: int,
        seed: int,
        bucket_batches: int = 16,
    ):
        if batch_size < 1 or bucket_batches < 1:
            raise ValueError("batch_size and bucket_batches must be at least 1")
        self.groups = dict(groups)
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.bucket_batches = bucket_batches
        self.epoch, self.position = 0, 0
        self._batches: list[np.ndarray] | None = None

    @property
    def batches_per_epoch(self) -> int:
        return sum(-(-len(g) // self.batch_size) for g in self.groups.values())

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The batches of ``epoch``, in order: a pure function of the seed and epoch."""
        rng = np.random.RandomState(np.array([self.seed, epoch], dtype=np.uint32))
        bucket = self.batch_size * self.bucket_batches
        batches = []
        for indices in self.groups.values():
            shuffled = indices[rng.permutation(len(indices))]
            for start in range(0, len(shuffled), bucket):
                chunk = shuffled[start : start + bucket]
                chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
                batches += [
                    chunk[s : s + self.batch_size] for s in range(0, len(chunk), self.batch_size)
                ]
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self) -> BatchSampler:
        return self

    def __next__(self) -> np.ndarray:
        if self._batches is None:
            self._batches = self.epoch_batches(self.epoch)
        batch = self._batches[self.position]
        self.position += 1
        if self.position == len(self._batches):
            self.epoch, self.position, self._batches = self.epoch + 1, 0, None
        return batch

    def state_dict(self) -> dict[str, int]:
        """The stream's position: the next batch is batch ``position`` of ``epoch``."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        epoch, position = int(state["epoch"]), int(state["position"])
        if not 0 <= position < self.batches_per_epoch or epoch < 0:
            raise ValueError(f"data position {dict(state)} does not fit this dataset")
        self.epoch, self.position, self._batches = epoch, position, None


def fixed_batches(dataset: PairedDataset, batch_size: int) -> list[np.ndarray]:
    """Deterministic batches covering a dataset once (for validation): each
    group's examples sorted by length, in group order."""
    batches = []
    for indices in dataset.groups.values():
        ordered = indices[np.argsort(dataset.lengths[indices], kind="stable")]
        batches += [ordered[s : s + batch_size] for s in range(0, len(ordered), batch_size)]
    return batches


def training_positions(
    attention_mask: torch.Tensor, max_position: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random positions (Ruoss et al. 2023) for a right-padded batch: ``(B, T)``.

    Each sequence draws as many sorted positions from ``[0, max_position)`` as it
    has real tokens; padding gets 0.
    """
    B, T = attention_mask.shape
    lengths = attention_mask.sum(dim=-1)
    drawn = random_positions(B, T, max_position, generator=generator, lengths=lengths)
    return pad_positions(drawn.to(attention_mask.device), attention_mask)


def cache_memory(
    dataset: PairedDataset,
    model: torch.nn.Module,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    progress: bool | None = False,
) -> MemoryCache:
    """Computes every example's graph memory with ``model.graph_memory`` (a
    :class:`~transnar.model.TransNAR`) and attaches the cache to the dataset, so
    that its batches carry ``memory`` instead of ``features``."""
    if dataset.trajectories is None:
        raise ValueError(f"the {dataset.name} split has no graphs to embed")
    cache = MemoryCache(model.config.memory)
    dataset.memory_cache = None
    batches = fixed_batches(dataset, batch_size)
    for indices in tqdm(
        batches,
        desc=f"{dataset.name} NAR memory",
        unit="batch",
        disable=(not progress) if progress is not None else None,
        leave=False,
    ):
        features = dataset.batch(indices).features.to(device)
        cache.add(indices, model.graph_memory(features))
    dataset.memory_cache = cache
    return cache


__all__ = ["BatchSampler", "cache_memory", "fixed_batches", "training_positions"]
