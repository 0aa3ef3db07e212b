"""CLRS-30 in pure NumPy: specs, algorithms with hints, samplers, batching.

Importing this package does not import PyTorch (a test checks). Imports: the
standard library, NumPy, :mod:`transnar.persistence` and :mod:`transnar.tables`;
nothing else of transnar.

Example:
    >>> from transnar import clrs
    >>> trajectory = clrs.execute("insertion_sort", {"key": [0.3, 0.1, 0.2]})
    >>> trajectory.outputs["pred"]
    array([1, 1, 2])
    >>> batch = clrs.collate(clrs.sample("bfs", size=8, seed=0, count=4))
"""

from transnar.clrs.algorithms import ALGORITHMS
from transnar.clrs.batching import Batch, collate
from transnar.clrs.execute import execute, initial_state, validate_inputs
from transnar.clrs.probing import ProbeError, ProbeRecorder
from transnar.clrs.samplers import SAMPLERS, Sampler, build_sampler, sample
from transnar.clrs.specs import (
    CLRS30_ALGORITHMS,
    FAMILIES,
    MASKED,
    PRED_AS_INPUT_ALGORITHMS,
    SPECS,
    AlgorithmSpec,
    Family,
    Location,
    ProbeSpec,
    Stage,
    Type,
    get_spec,
)
from transnar.clrs.trajectory import Trajectory, check_trajectory
from transnar.clrs.transforms import (
    permutations_to_pointers,
    pred_as_input,
    preprocess,
    randomize_pos,
)

__all__ = [
    "ALGORITHMS",
    "CLRS30_ALGORITHMS",
    "FAMILIES",
    "MASKED",
    "PRED_AS_INPUT_ALGORITHMS",
    "SAMPLERS",
    "SPECS",
    "AlgorithmSpec",
    "Batch",
    "Family",
    "Location",
    "ProbeError",
    "ProbeRecorder",
    "ProbeSpec",
    "Sampler",
    "Stage",
    "Trajectory",
    "Type",
    "build_sampler",
    "check_trajectory",
    "collate",
    "execute",
    "get_spec",
    "initial_state",
    "permutations_to_pointers",
    "pred_as_input",
    "preprocess",
    "randomize_pos",
    "sample",
    "validate_inputs",
]
