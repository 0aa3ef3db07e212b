"""One run of an algorithm on one input: its input, output and hint probes.

Shapes (``N`` nodes, ``T`` hint steps, ``C`` classes of a categorical probe):

- node probes ``(N,)``, or ``(N, C)`` when categorical;
- edge probes ``(N, N)``, or ``(N, N, C)``;
- graph probes ``()``, or ``(C,)`` when categorical;
- hints carry a leading time axis: ``(T, ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from transnar.clrs.specs import AlgorithmSpec, Location, Stage, Type, get_spec


@dataclass(frozen=True, eq=False)
class Trajectory:
    """The probes of one algorithm run.

    Attributes:
        algorithm: the algorithm's name (a key of :data:`~transnar.clrs.SPECS`).
        inputs: input probe name -> array (no time axis).
        outputs: output probe name -> array (no time axis).
        hints: hint probe name -> array of shape ``(T, ...)``.
        spec: the probe table the arrays follow; the algorithm's entry of
            ``SPECS`` unless a transform (e.g. ``pred_h`` as input) changed it.
    """

    algorithm: str
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    hints: dict[str, np.ndarray]
    spec: AlgorithmSpec = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self):
        if self.spec is None:
            object.__setattr__(self, "spec", get_spec(self.algorithm))

    @property
    def length(self) -> int:
        """Number of hint steps ``T``."""
        return next(iter(self.hints.values())).shape[0] if self.hints else 1

    @property
    def num_nodes(self) -> int:
        """Number of nodes ``N`` (the length of the ``pos`` input)."""
        return self.inputs["pos"].shape[0]

    def probes(self, stage: Stage) -> dict[str, np.ndarray]:
        """The arrays of one stage."""
        return {Stage.INPUT: self.inputs, Stage.OUTPUT: self.outputs, Stage.HINT: self.hints}[
            Stage(stage)
        ]

    def equals(self, other: Trajectory) -> bool:
        """True when both hold the same probes with the same dtypes, shapes and values."""
        return self.algorithm == other.algorithm and all(
            _same_arrays(self.probes(stage), other.probes(stage)) for stage in Stage
        )


def _same_arrays(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and np.array_equal(a[k], b[k])
        for k in a
    )


def expected_shape(location: Location, type_: Type, num_nodes: int, num_classes: int | None):
    """Shape of one (time-less) probe value, from its location and type."""
    base = {Location.NODE: (num_nodes,), Location.EDGE: (num_nodes, num_nodes), Location.GRAPH: ()}[
        location
    ]
    if type_ is Type.CATEGORICAL:
        return (*base, num_classes)
    if type_ is Type.PERMUTATION_POINTER:
        return (*base, num_nodes)
    return base


def check_trajectory(trajectory: Trajectory) -> None:
    """Checks every probe against the spec; raises ``ValueError`` naming the first fault.

    Checks that the probes are exactly those of the spec, that their shapes
    follow from their location and type, that all hints share one time length,
    and the value rules of the reference: masks hold 0, 1 or -1; ``mask_one``
    and categorical probes are one-hot (a masked class may hold -1); pointers
    are node indices.
    """
    spec = trajectory.spec
    n = trajectory.num_nodes
    length = trajectory.length
    for stage in Stage:
        arrays = trajectory.probes(stage)
        expected = {name for name in spec if spec[name].stage is stage}
        if set(arrays) != expected:
            raise ValueError(
                f"{trajectory.algorithm}: {stage.value} probes {sorted(arrays)} "
                f"differ from the spec's {sorted(expected)}"
            )
        for name, value in arrays.items():
            probe = spec[name]
            shape = expected_shape(probe.location, probe.type, n, probe.num_classes)
            if stage is Stage.HINT:
                shape = (length, *shape)
            if value.shape != shape:
                raise ValueError(
                    f"{trajectory.algorithm}: probe {name!r} has shape {value.shape}, "
                    f"expected {shape}"
                )
            check_probe_values(trajectory.algorithm, name, probe.type, value, n)


def check_probe_values(algorithm: str, name: str, type_: Type, value: np.ndarray, n: int) -> None:
    """Checks the value rules of a probe type; raises ``ValueError`` naming the probe."""
    where = f"{algorithm}: probe {name!r}"
    if type_ in (Type.MASK, Type.MASK_ONE, Type.CATEGORICAL):
        if not np.isin(value, (0, 1, -1)).all():
            raise ValueError(f"{where} must hold only 0, 1 or -1")
        if type_ is not Type.MASK and not (np.abs(value).sum(-1) == 1).all():
            raise ValueError(f"{where} must be one-hot along its last axis")
    elif type_ is Type.POINTER:
        if not ((value >= 0) & (value < n) & (value == np.round(value))).all():
            raise ValueError(f"{where} must hold node indices in [0, {n})")
    elif type_ is Type.SCALAR and not np.isfinite(value).all():
        raise ValueError(f"{where} must be finite")
