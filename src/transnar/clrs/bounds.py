"""Bounds that depend on an algorithm and its problem size only, never on an instance.

Leak-free inference (``DESIGN.md`` §5) may not read an instance's trajectory:
how long the NAR runs and how many tokens a model may generate can depend on
the algorithm and the instance's node count, and nothing else. These helpers
give such bounds.

- :func:`size_of_nodes`: the sampler size whose instances have ``N`` nodes
  (:func:`nodes_of_size` the other way).
- :func:`length_bound`: an upper bound on the hint steps ``T`` of an
  instance with ``N`` nodes, measured once per ``(algorithm, N)`` on
  :data:`BOUND_SAMPLES` instances of a stream with its own seed
  (:data:`BOUND_SEED`, never a training or evaluation seed), times
  :data:`BOUND_MARGIN`.
"""

from __future__ import annotations

import functools
import math

from transnar.clrs.samplers import sample
from transnar.clrs.specs import get_spec

BOUND_SEED = 2_147_483_629
"""The sampler seed of the streams bounds are measured on (a prime near 2**31,
far from the small seeds of the data presets)."""
BOUND_SAMPLES = 64
"""Instances measured per ``(algorithm, N)``."""
BOUND_MARGIN = 1.5
"""The bound is the longest measured trajectory times this, rounded up."""

# Instances of these algorithms have a node count other than their size.
_EXTRA_NODES = {"optimal_bst": 1}  # the keys and one dummy node
_FIXED_NODES = {"segments_intersect": 4}  # two segments, whatever the size


def size_of_nodes(algorithm: str, num_nodes: int) -> int:
    """The sampler ``size`` whose instances of ``algorithm`` have ``num_nodes`` nodes.

    ``segments_intersect`` always has 4 nodes; its size is then 4.

    Raises:
        ValueError: an unknown algorithm, or a node count its instances never have.
    """
    get_spec(algorithm)
    if algorithm in _FIXED_NODES:
        if num_nodes != _FIXED_NODES[algorithm]:
            raise ValueError(f"{algorithm} instances have {_FIXED_NODES[algorithm]} nodes")
        return num_nodes
    size = num_nodes - _EXTRA_NODES.get(algorithm, 0)
    if size < 1:
        raise ValueError(f"{algorithm} has no instances with {num_nodes} nodes")
    return size


def nodes_of_size(algorithm: str, size: int) -> int:
    """The node count of the ``algorithm`` instances of sampler ``size`` (the
    inverse of :func:`size_of_nodes`)."""
    get_spec(algorithm)
    return _FIXED_NODES.get(algorithm, size + _EXTRA_NODES.get(algorithm, 0))


@functools.lru_cache(maxsize=1024)
def length_bound(algorithm: str, num_nodes: int) -> int:
    """A bound on the hint steps of an ``algorithm`` instance of ``num_nodes`` nodes.

    A function of its arguments only (see the module docstring); at least 2,
    so that a NAR bounded by it runs at least one processor step. Measured on
    the sampler's default distribution (the data's), with a margin: not a worst
    case; an instance drawn otherwise (e.g. a denser graph) may run longer.
    """
    size = size_of_nodes(algorithm, num_nodes)
    longest = max(t.length for t in sample(algorithm, size, BOUND_SEED, BOUND_SAMPLES))
    return max(2, math.ceil(BOUND_MARGIN * longest))


__all__ = [
    "BOUND_MARGIN",
    "BOUND_SAMPLES",
    "BOUND_SEED",
    "length_bound",
    "nodes_of_size",
    "size_of_nodes",
]
