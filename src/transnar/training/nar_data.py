"""The data of each algorithm (task) in NAR training: online batches, fixed evaluation sets.

The protocol of the reference ``clrs/examples/run.py``:

- **training** batches are drawn online, each algorithm from its own samplers,
  one per training size, used in turn (one batch per step); graph samplers
  draw their Erdős–Rényi edge probability from ``p = 0.1, 0.2, ..., 0.9``
  (halved for articulation points, bridges and Kruskal's MST, whose
  trajectories are otherwise very long); the string matchers train at the
  single total length ``max_size * 5 // 4`` with needles of 1 to 8 letters
  (``length_needle=-8``; fewer below total length 17, where a needle of 8 would
  not leave a longer haystack); ``pos`` is randomised (sorted uniform draws);
- **validation** is a fixed set at the largest training size with the training
  sampler options (and, unlike the reference, the plain linearly spaced
  ``pos``, so that validation measures what testing measures);
- **test** sets use the samplers' default options (as the reference's test
  data) at any size.

Every sampler's seed is derived from the run's seed, the algorithm, the split
and the size (:func:`derive_seed`), so an algorithm's data do not depend on
which other algorithms are trained with it, and validation and test seeds are
disjoint from the training seeds.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from transnar.clrs import SAMPLERS, build_sampler
from transnar.clrs.samplers.base import random_state_from_dict, random_state_to_dict
from transnar.nar.features import Features

P_VALUES = tuple(0.1 + 0.1 * i for i in range(9))
"""Edge probabilities of the training graphs (the reference's floats, as computed there)."""

SPARSE_ALGORITHMS = ("articulation_points", "bridges", "mst_kruskal")
"""Algorithms trained on graphs with halved edge probabilities."""

STRING_MATCHERS = ("naive_string_matcher", "kmp_matcher")
LENGTH_NEEDLE = -8
"""Needle length in training and validation: uniform in 1..8 (see :func:`train_options`)."""

EVAL_MULTIPLIERS = {
    "find_maximum_subarray_kadane": 32,
    **dict.fromkeys(
        (
            "quickselect",
            "minimum",
            "binary_search",
            "naive_string_matcher",
            "kmp_matcher",
            "segments_intersect",
        ),
        64,
    ),
}
"""The reference's evaluation sample multipliers (few output elements per sample)."""


def train_sizes(algorithm: str, sizes: Sequence[int]) -> tuple[int, ...]:
    """The sizes ``algorithm`` trains at: ``sizes``, or ``max * 5 // 4`` for string matchers."""
    if algorithm in STRING_MATCHERS:
        return (max(sizes) * 5 // 4,)
    return tuple(sizes)


def validation_size(algorithm: str, sizes: Sequence[int]) -> int:
    """The largest size ``algorithm`` trains at: its validation and in-distribution size."""
    return max(train_sizes(algorithm, sizes))


def train_options(algorithm: str, size: int) -> dict[str, Any]:
    """The sampler options of training and validation at ``size`` (see the module docstring).

    The needles of the string matchers are at most 8 letters long, and shorter
    than the haystack: at most ``(size - 1) // 2`` letters (8 from size 17 on).
    """
    allowed = SAMPLERS[algorithm].options()
    options: dict[str, Any] = {}
    if "p" in allowed:
        options["p"] = tuple(p / 2 if algorithm in SPARSE_ALGORITHMS else p for p in P_VALUES)
    if "length_needle" in allowed:
        options["length_needle"] = max(LENGTH_NEEDLE, -((size - 1) // 2))
    return options


def eval_count(algorithm: str, count: int, multipliers: bool) -> int:
    """Evaluation samples of ``algorithm``: ``count``, times its multiplier if asked."""
    return count * EVAL_MULTIPLIERS.get(algorithm, 1) if multipliers else count


def derive_seed(seed: int, algorithm: str, split: str, index: int) -> int:
    """A sampler seed in ``[0, 2**32)`` for ``(algorithm, split, index)`` of a run.

    Args:
        seed: the run's seed.
        algorithm: the algorithm.
        split: ``train``, ``pos`` (the ``pos`` randomisation), ``val`` or ``test``.
        index: the size (``train``, ``val``, ``test``) or 0.
    """
    key = zlib.crc32(f"{algorithm}/{split}/{index}".encode())
    return int(np.random.SeedSequence([seed, key]).generate_state(1)[0])


class TaskStream:
    """The online training batches of one algorithm.

    Its samplers (one per training size) are used in turn; each batch is
    preprocessed for the NAR with ``pos`` randomised by the stream's own
    random state. :meth:`state_dict` holds every random state and the position
    in the cycle, so a restored stream continues with the same batches.

    Args:
        algorithm: the algorithm.
        sizes: the run's training sizes (see :func:`train_sizes`).
        seed: the run's seed.
        random_pos: randomise ``pos``.
    """

    def __init__(self, algorithm: str, sizes: Sequence[int], seed: int, random_pos: bool = True):
        self.algorithm = algorithm
        self.samplers = [
            build_sampler(
                algorithm,
                size,
                derive_seed(seed, algorithm, "train", size),
                **train_options(algorithm, size),
            )
            for size in train_sizes(algorithm, sizes)
        ]
        self.pos_rng = np.random.RandomState(derive_seed(seed, algorithm, "pos", 0))
        self.random_pos = random_pos
        self.position = 0  # batches drawn so far; the next comes from samplers[position % len]

    def next_batch(self, batch_size: int) -> Features:
        """The next training batch (on the CPU)."""
        sampler = self.samplers[self.position % len(self.samplers)]
        self.position += 1
        trajectories = [sampler.draw() for _ in range(batch_size)]
        return Features.from_trajectories(trajectories, self.pos_rng if self.random_pos else None)

    def state_dict(self) -> dict:
        """Plain Python values: the position and every random state."""
        return {
            "algorithm": self.algorithm,
            "position": self.position,
            "samplers": [s.get_state() for s in self.samplers],
            "pos_rng": random_state_to_dict(self.pos_rng),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restores :meth:`state_dict`'s values."""
        if state["algorithm"] != self.algorithm or len(state["samplers"]) != len(self.samplers):
            raise ValueError(f"the data state of {state['algorithm']} does not fit this stream")
        self.position = int(state["position"])
        for sampler, sampler_state in zip(self.samplers, state["samplers"], strict=True):
            sampler.set_state(sampler_state)
        random_state_from_dict(self.pos_rng, state["pos_rng"])


def evaluation_batches(
    algorithm: str,
    size: int,
    seed: int,
    count: int,
    batch_size: int,
    options: dict[str, Any] | None = None,
) -> Iterator[Features]:
    """A fixed evaluation set, batch by batch (plain ``pos``; on the CPU).

    Args:
        algorithm: the algorithm.
        size: the sampler size.
        seed: the sampler seed (see :func:`derive_seed`).
        count: number of samples.
        batch_size: samples per batch (the last batch may be smaller).
        options: sampler options (default: the sampler's defaults).
    """
    sampler = build_sampler(algorithm, size, seed, **(options or {}))
    for start in range(0, count, batch_size):
        trajectories = [sampler.draw() for _ in range(min(batch_size, count - start))]
        yield Features.from_trajectories(trajectories)
