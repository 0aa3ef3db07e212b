"""Helpers shared by the NAR tests: sampled batches, synthetic probes, masks.

The tiny NAR itself is in :mod:`tests.tiny`. Import these as ``from tests.nar.helpers import ...``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from transnar import clrs
from transnar.clrs.specs import AlgorithmSpec, Family, Location, ProbeSpec, Stage, Type
from transnar.nar import Features


def sampled(algorithm: str, sizes: Sequence[int], seed: int = 0) -> list[clrs.Trajectory]:
    """One trajectory per size (seed ``seed + index``), in that order."""
    return [clrs.sample(algorithm, size, seed + i)[0] for i, size in enumerate(sizes)]


def features_of(algorithm: str, sizes: Sequence[int], seed: int = 0, double: bool = False):
    """A padded batch of one trajectory per size."""
    features = Features.from_trajectories(sampled(algorithm, sizes, seed))
    return as_double(features) if double else features


def as_double(features: Features) -> Features:
    """The same features with every floating tensor in float64."""

    def convert(tensors):
        return {k: v.double() if v.is_floating_point() else v for k, v in tensors.items()}

    return Features(
        features.algorithm,
        features.spec,
        convert(features.inputs),
        convert(features.hints),
        convert(features.outputs),
        features.lengths,
        features.node_mask,
    )


def probe(stage: str, location: str, type_: str, num_classes: int | None = None) -> ProbeSpec:
    """A probe from its stage, location and type names."""
    return ProbeSpec(Stage(stage), Location(location), Type(type_), num_classes)


def synthetic_spec(probes: dict[str, ProbeSpec], name: str = "synthetic") -> AlgorithmSpec:
    """An algorithm spec made up for a test (not in the CLRS-30 table)."""
    return AlgorithmSpec(name, Family.GRAPHS, probes)


def node_mask(sizes: Sequence[int], n: int | None = None) -> torch.Tensor:
    """``(B, N)`` real-node mask of samples with ``sizes`` nodes, padded to ``n``."""
    n = max(sizes) if n is None else n
    return torch.arange(n)[None, :] < torch.tensor(sizes)[:, None]
