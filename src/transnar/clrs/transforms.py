"""Preprocessing transforms that the NAR applies to trajectories (reference ``run.py``).

- :func:`pred_as_input`: for the algorithms whose ``pred_h`` hint never changes
  (:data:`~transnar.clrs.PRED_AS_INPUT_ALGORITHMS`), that hint becomes an input
  pointer ``pred``.
- :func:`permutations_to_pointers`: the sorting output ``pred``
  (``should_be_permutation``) becomes a permutation matrix in which the first
  node points to the last (``permutation_pointer``, ``(N, N)``), plus a
  ``mask_one`` output ``pred_mask`` marking the first node.
- :func:`randomize_pos`: ``pos`` becomes sorted uniform draws (per string for
  the string algorithms), as in NAR training.

Each transform of a trajectory has a twin on specs, so a model can be built for
the transformed probes before it sees data.
"""

from __future__ import annotations

import itertools

import numpy as np

from transnar.clrs.probing import one_hot
from transnar.clrs.specs import (
    PRED_AS_INPUT_ALGORITHMS,
    AlgorithmSpec,
    Location,
    ProbeSpec,
    Stage,
    Type,
)
from transnar.clrs.trajectory import Trajectory


def pred_as_input_spec(spec: AlgorithmSpec) -> AlgorithmSpec:
    """The spec with hint ``pred_h`` replaced, in place, by an input pointer ``pred``."""
    if "pred_h" not in spec:
        return spec
    probes = {
        ("pred" if name == "pred_h" else name): (
            ProbeSpec(Stage.INPUT, Location.NODE, Type.POINTER) if name == "pred_h" else probe
        )
        for name, probe in spec.items()
    }
    return spec.replace(probes)


def pred_as_input(trajectory: Trajectory) -> Trajectory:
    """Moves the constant ``pred_h`` hint into an input ``pred``.

    Trajectories without a ``pred_h`` hint are returned unchanged.

    Raises:
        ValueError: ``pred_h`` changes over time (e.g. for the sorts).
    """
    if "pred_h" not in trajectory.hints:
        return trajectory
    pred_h = trajectory.hints["pred_h"]
    if not (pred_h == pred_h[0]).all():
        raise ValueError(
            f"{trajectory.algorithm}: pred_h changes over time and cannot become an input"
        )
    hints = {k: v for k, v in trajectory.hints.items() if k != "pred_h"}
    return Trajectory(
        trajectory.algorithm,
        {**trajectory.inputs, "pred": pred_h[0].copy()},
        trajectory.outputs,
        hints,
        pred_as_input_spec(trajectory.spec),
    )


def permutations_spec(spec: AlgorithmSpec, enforce: bool = True) -> AlgorithmSpec:
    """The spec with every node ``should_be_permutation`` probe converted.

    With ``enforce`` the probe becomes a ``permutation_pointer`` followed by a
    ``mask_one`` probe ``<name>_mask``; without, a plain ``pointer``.
    """
    probes: dict[str, ProbeSpec] = {}
    for name, probe in spec.items():
        if probe.type is not Type.SHOULD_BE_PERMUTATION:
            probes[name] = probe
        elif enforce:
            probes[name] = probe._replace(type=Type.PERMUTATION_POINTER)
            probes[f"{name}_mask"] = probe._replace(type=Type.MASK_ONE)
        else:
            probes[name] = probe._replace(type=Type.POINTER)
    return spec.replace(probes)


def cyclic_permutation(pointers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predecessor pointers of a linear order -> permutation matrix and first-node mask.

    Args:
        pointers: ``(N,)`` predecessor pointers; the first node points to
            itself.

    Returns:
        ``(N, N)`` one-hot rows in which the first node points to the last node
        (the one no other node points to), and the ``(N,)`` one-hot mask of the
        first node; both ``float64``.
    """
    n = pointers.shape[0]
    matrix = one_hot(pointers.astype(np.intp), n)
    last = matrix.sum(0).argmin()
    first = matrix.diagonal().argmax()
    matrix[first] = one_hot(last, n)
    return matrix, one_hot(first, n)


def permutations_to_pointers(trajectory: Trajectory, enforce: bool = True) -> Trajectory:
    """Applies :func:`permutations_spec` to a trajectory (see there)."""
    spec = permutations_spec(trajectory.spec, enforce)
    if spec == trajectory.spec:
        return trajectory
    old = trajectory.spec

    def convert(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for name, value in arrays.items():
            if enforce and old[name].type is Type.SHOULD_BE_PERMUTATION:
                out[name], out[f"{name}_mask"] = cyclic_permutation(value)
            else:
                out[name] = value
        return out

    return Trajectory(
        trajectory.algorithm,
        convert(trajectory.inputs),
        convert(trajectory.outputs),
        trajectory.hints,
        spec,
    )


def randomize_pos(trajectory: Trajectory, rng: np.random.RandomState) -> Trajectory:
    """Replaces ``pos`` with sorted uniform draws, one sorted run per string.

    ``pos`` is 0 at the start of each string (the string algorithms lay out two
    strings, each starting at 0); each run from one zero to the next gets its
    own sorted draws, so the order within each string is kept.

    Args:
        trajectory: a trajectory with a ``pos`` input.
        rng: the random source (``numpy.random.RandomState`` or ``Generator``);
            one ``uniform(size=N)`` draw is taken from it.
    """
    pos = trajectory.inputs["pos"]
    draws = rng.uniform(size=pos.shape[0])
    starts = [*np.union1d([0], np.flatnonzero(pos == 0)), pos.shape[0]]
    new_pos = np.concatenate([np.sort(draws[a:b]) for a, b in itertools.pairwise(starts)])
    return Trajectory(
        trajectory.algorithm,
        {**trajectory.inputs, "pos": new_pos},
        trajectory.outputs,
        trajectory.hints,
        trajectory.spec,
    )


def preprocess(trajectory: Trajectory, rng: np.random.RandomState | None = None) -> Trajectory:
    """The NAR's preprocessing: ``pred_h`` as input where it applies, permutations,
    and randomized ``pos`` when ``rng`` is given (training only)."""
    if trajectory.algorithm in PRED_AS_INPUT_ALGORITHMS:
        trajectory = pred_as_input(trajectory)
    trajectory = permutations_to_pointers(trajectory)
    if rng is not None:
        trajectory = randomize_pos(trajectory, rng)
    return trajectory


def preprocess_spec(spec: AlgorithmSpec) -> AlgorithmSpec:
    """The spec that :func:`preprocess` produces."""
    if spec.name in PRED_AS_INPUT_ALGORITHMS:
        spec = pred_as_input_spec(spec)
    return permutations_spec(spec)
