"""Collation of trajectories into padded batches, and back.

Shapes in a :class:`Batch` (``B`` samples, ``T`` the longest trajectory, ``N``
the largest node count): inputs and outputs ``(B, ...)``, hints
``(B, T, ...)``, batch-major. Hints are zero after each sample's length and
node (and edge) axes are zero beyond each sample's node count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from transnar.clrs.specs import AlgorithmSpec, Location, ProbeSpec, Stage, Type
from transnar.clrs.trajectory import Trajectory


@dataclass(frozen=True, eq=False)
class Batch:
    """Trajectories of one algorithm stacked along a leading batch axis.

    Attributes:
        algorithm: the algorithm's name.
        spec: the probe table of every trajectory in the batch.
        inputs: probe name -> ``(B, ...)`` array.
        outputs: probe name -> ``(B, ...)`` array.
        hints: probe name -> ``(B, T, ...)`` array, zero-padded in time.
        lengths: ``(B,)`` int64, the number of hint steps of each sample.
        num_nodes: ``(B,)`` int64, the number of nodes of each sample.
    """

    algorithm: str
    spec: AlgorithmSpec
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    hints: dict[str, np.ndarray]
    lengths: np.ndarray
    num_nodes: np.ndarray

    def __len__(self) -> int:
        return self.lengths.shape[0]

    def probes(self, stage: Stage) -> dict[str, np.ndarray]:
        """The arrays of one stage."""
        return {Stage.INPUT: self.inputs, Stage.OUTPUT: self.outputs, Stage.HINT: self.hints}[
            Stage(stage)
        ]

    def trajectory(self, index: int) -> Trajectory:
        """The ``index``-th sample, with its padding removed."""
        n = int(self.num_nodes[index])
        length = int(self.lengths[index])

        def unpad(arrays: dict[str, np.ndarray], time_axis: bool) -> dict[str, np.ndarray]:
            out = {}
            for name, value in arrays.items():
                cut = [slice(None)] * (value.ndim - 1)
                for axis in node_axes(self.spec[name]):
                    cut[axis + time_axis] = slice(0, n)
                if time_axis:
                    cut[0] = slice(0, length)
                out[name] = value[index][tuple(cut)].copy()
            return out

        return Trajectory(
            self.algorithm,
            unpad(self.inputs, False),
            unpad(self.outputs, False),
            unpad(self.hints, True),
            self.spec,
        )

    def trajectories(self) -> list[Trajectory]:
        """All samples, with their padding removed."""
        return [self.trajectory(i) for i in range(len(self))]


def node_axes(probe: ProbeSpec) -> tuple[int, ...]:
    """Axes of a (time-less, unbatched) probe value that run over the nodes."""
    axes = {Location.NODE: (0,), Location.EDGE: (0, 1), Location.GRAPH: ()}[probe.location]
    if probe.type is Type.PERMUTATION_POINTER:
        axes = (*axes, len(axes))
    return axes


def collate(trajectories: Sequence[Trajectory]) -> Batch:
    """Stacks trajectories of one algorithm into a :class:`Batch`.

    Trajectories may differ in length and in node count; everything is padded
    with zeros to the largest. Dtypes are the common dtype of the samples.

    Raises:
        ValueError: no trajectories, or trajectories of different algorithms or
            with different probe tables.
    """
    if not trajectories:
        raise ValueError("cannot collate an empty list of trajectories")
    first = trajectories[0]
    for trajectory in trajectories:
        if trajectory.algorithm != first.algorithm or trajectory.spec != first.spec:
            raise ValueError(
                f"cannot collate {trajectory.algorithm} with {first.algorithm}: "
                "a batch holds one algorithm with one probe table"
            )

    def stack(stage: Stage) -> dict[str, np.ndarray]:
        out = {}
        for name in first.probes(stage):
            values = [t.probes(stage)[name] for t in trajectories]
            shape = tuple(max(sizes) for sizes in zip(*(v.shape for v in values), strict=True))
            array = np.zeros((len(values), *shape), dtype=np.result_type(*values))
            for i, value in enumerate(values):
                array[(i, *(slice(0, s) for s in value.shape))] = value
            out[name] = array
        return out

    return Batch(
        algorithm=first.algorithm,
        spec=first.spec,
        inputs=stack(Stage.INPUT),
        outputs=stack(Stage.OUTPUT),
        hints=stack(Stage.HINT),
        lengths=np.array([t.length for t in trajectories], dtype=np.int64),
        num_nodes=np.array([t.num_nodes for t in trajectories], dtype=np.int64),
    )
