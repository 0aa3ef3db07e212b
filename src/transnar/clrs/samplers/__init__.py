"""Random CLRS-30 instances with the reference distributions.

``sample(algorithm, size, seed, count)`` draws ``count`` instances and runs the
algorithm on each; the same arguments give the same trajectories as the
reference's ``build_sampler(algorithm, num_samples=count, length=size,
seed=seed)`` followed by ``next()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from transnar.clrs.samplers import geometry, graphs, sequences
from transnar.clrs.samplers.base import Sampler, truncate
from transnar.clrs.specs import get_spec
from transnar.clrs.trajectory import Trajectory

SAMPLERS: Mapping[str, type[Sampler]] = MappingProxyType(
    {**sequences.SAMPLERS, **graphs.SAMPLERS, **geometry.SAMPLERS}
)
"""Algorithm name -> the :class:`Sampler` subclass that draws its inputs."""


def build_sampler(
    algorithm: str,
    size: int,
    seed: int,
    truncate_decimals: int | None = None,
    **options: Any,
) -> Sampler:
    """Returns the sampler of ``algorithm``; see :class:`Sampler` for the arguments."""
    get_spec(algorithm)
    return SAMPLERS[algorithm](algorithm, size, seed, truncate_decimals, **options)


def sample(
    algorithm: str,
    size: int,
    seed: int,
    count: int = 1,
    truncate_decimals: int | None = None,
    **options: Any,
) -> list[Trajectory]:
    """Draws ``count`` random instances of ``algorithm`` and runs it on each.

    Args:
        algorithm: one of :data:`~transnar.clrs.CLRS30_ALGORITHMS`.
        size: the problem size (the reference ``length``; see :class:`Sampler`).
        seed: seed of the sampler; the result depends on nothing else.
        count: number of instances.
        truncate_decimals: truncate float inputs to this many decimals
            (CLRS-Text uses 3).
        **options: distribution options of the algorithm's sampler, e.g.
            ``p=(0.1, 0.5)`` for Erdős–Rényi graphs or ``length_needle=-8``.

    Returns:
        The trajectories, in the order they were drawn.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    sampler = build_sampler(algorithm, size, seed, truncate_decimals, **options)
    return [sampler.draw() for _ in range(count)]


__all__ = ["SAMPLERS", "Sampler", "build_sampler", "sample", "truncate"]
