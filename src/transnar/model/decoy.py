"""The control's graphs: another instance of the same algorithm and node count.

TransNAR's control (``memory_source="decoy"``) has TransNAR's architecture and
parameters, but its NAR runs on a decoy instance (:func:`decoy_features`):
real NAR states, with nothing about its own question in them.
"""

from __future__ import annotations

import zlib

import numpy as np

from transnar.clrs.bounds import size_of_nodes
from transnar.clrs.samplers import sample
from transnar.clrs.specs import Location
from transnar.nar.features import Features

DECOY_SEED_BIT = 1 << 31
"""Decoy instances are drawn with sampler seeds at or above this, far from the
small seeds of the data splits."""
DECOY_TRUNCATE_DECIMALS = 3
"""Decoy instances are drawn as CLRS-Text's are, floats truncated to 3 decimals."""


def decoy_features(features: Features) -> Features:
    """The control's graphs: for each sample, another instance of its algorithm
    with the same node count, drawn from the sampler (CLRS-Text's distribution)
    with a seed made from the sample's inputs (so a question always gets the
    same decoy, whatever batch it is in). The decoy's memory is made by the
    same NAR in the same way, and says nothing about the question.
    """
    algorithm = features.algorithm
    counts = features.node_mask.sum(dim=1).tolist()
    inputs = {name: value.cpu().numpy() for name, value in sorted(features.inputs.items())}
    decoys = []
    for row, count in enumerate(counts):
        count = int(count)
        key = b"".join(
            _unpadded(value[row], features.spec[name].location, count).tobytes()
            for name, value in inputs.items()
            if name != "pos"
        )
        seed = DECOY_SEED_BIT | zlib.crc32(key) >> 1
        size = size_of_nodes(algorithm, count)
        (decoy,) = sample(algorithm, size, seed, 1, DECOY_TRUNCATE_DECIMALS)
        decoys.append(decoy)
    return Features.from_trajectories(decoys)


def _unpadded(value: np.ndarray, location: Location, count: int) -> np.ndarray:
    """A sample's input without the batch's padding: its ``count`` nodes
    (``(N, ...)`` -> ``(count, ...)``; edges ``(N, N, ...)`` -> ``(count, count, ...)``),
    so that its decoy does not depend on the batch's largest graph."""
    if location is Location.NODE:
        return np.ascontiguousarray(value[:count])
    if location is Location.EDGE:
        return np.ascontiguousarray(value[:count, :count])
    return value


__all__ = ["DECOY_SEED_BIT", "DECOY_TRUNCATE_DECIMALS", "decoy_features"]
