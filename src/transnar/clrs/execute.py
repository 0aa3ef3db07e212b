"""Run an algorithm on explicitly given input probes: to the end (:func:`execute`),
or only up to its first hint snapshot (:func:`initial_state`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from transnar.clrs.algorithms import ALGORITHMS
from transnar.clrs.probing import FirstHintStop, ProbeError, stopping_at_first_hint
from transnar.clrs.specs import AlgorithmSpec, Location, Type, get_spec
from transnar.clrs.trajectory import Trajectory, check_probe_values, expected_shape


def execute(algorithm: str, inputs: Mapping[str, Any]) -> Trajectory:
    """Runs ``algorithm`` on the given input probes and returns its trajectory.

    Args:
        algorithm: one of :data:`~transnar.clrs.CLRS30_ALGORITHMS`.
        inputs: input probe name -> unbatched array, with the reference names
            and layouts, e.g. ``{"key": [0.3, 0.1, 0.2]}`` for the sorts or
            ``{"s": one_hot_source, "A": weights, "adj": mask}`` for
            ``dijkstra``. ``pos`` is optional: when given (e.g. randomized
            positions) it is validated and kept in the trajectory, otherwise
            the canonical ``pos`` is recorded.

    Returns:
        The trajectory; for the same inputs it equals the reference's, output
        for output and hint for hint.

    Raises:
        ValueError: unknown algorithm; a missing, unknown, mis-shaped or
            wrongly typed input probe; values the probe type forbids (e.g. a
            ``mask_one`` that is not one-hot); inputs the algorithm cannot take.
    """
    spec = get_spec(algorithm)
    probes = validate_inputs(spec, inputs)
    definition = ALGORITHMS[algorithm]
    trajectory = definition.run(*definition.arguments(probes))
    if "pos" in probes:
        trajectory.inputs["pos"] = probes["pos"]
    return trajectory


def initial_state(algorithm: str, inputs: Mapping[str, Any]) -> Trajectory:
    """The inputs and the first hint snapshot of ``algorithm``, without running it further.

    The algorithm runs until it records its first hint and is stopped there
    (:func:`~transnar.clrs.probing.stopping_at_first_hint`): no later hint and
    no output is ever computed. This is what leak-free inference may know of
    an instance before answering it.

    Args:
        algorithm: one of :data:`~transnar.clrs.CLRS30_ALGORITHMS`.
        inputs: as for :func:`execute` (validated the same way).

    Returns:
        A trajectory with the inputs (as :func:`execute` records them), the
        step-0 hints (time axis of length 1: ``(1, ...)``) and no outputs
        (``{}``); its hints equal ``execute(algorithm, inputs).hints`` at step 0.

    Raises:
        ValueError: as :func:`execute`.
    """
    spec = get_spec(algorithm)
    probes = validate_inputs(spec, inputs)
    definition = ALGORITHMS[algorithm]
    arguments = definition.arguments(probes)
    try:
        with stopping_at_first_hint():
            definition.run(*arguments)
    except FirstHintStop as stop:
        trajectory = stop.recorder.first_step()
    else:
        raise ProbeError(f"{algorithm}: finished without recording a hint")
    if "pos" in probes:
        trajectory.inputs["pos"] = probes["pos"]
    return trajectory


def validate_inputs(spec: AlgorithmSpec, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Checks input probes against ``spec``; returns them as fresh NumPy arrays.

    Every input of the spec except ``pos`` is required. Node and edge probes
    must agree on the number of nodes ``N``; the dtype must be boolean, integer
    or floating.
    """
    if not isinstance(inputs, Mapping):
        raise ValueError(f"{spec.name}: inputs must be a mapping of probe name to array")
    required = [name for name in spec.inputs if name != "pos"]
    missing = [name for name in required if name not in inputs]
    if missing:
        raise ValueError(
            f"{spec.name}: missing input probe(s) {missing} "
            f"({spec.name} takes {', '.join(required)}; pos is optional)"
        )
    unknown = sorted(set(inputs) - set(spec.inputs))
    if unknown:
        raise ValueError(
            f"{spec.name}: unknown input probe(s) {unknown} (it takes {', '.join(spec.inputs)})"
        )
    arrays = {
        name: _to_array(spec.name, name, inputs[name]) for name in spec.inputs if name in inputs
    }
    num_nodes = _num_nodes(spec, arrays)
    for name, value in arrays.items():
        probe = spec[name]
        shape = expected_shape(probe.location, probe.type, num_nodes, probe.num_classes)
        if value.shape != shape:
            raise ValueError(
                f"{spec.name}: input probe {name!r} has shape {value.shape}, expected {shape} "
                f"({probe.location.value} {probe.type.value} probe, {num_nodes} nodes)"
            )
        check_probe_values(spec.name, name, probe.type, value, num_nodes)
        if probe.type is Type.MASK_ONE and not np.isin(value, (0, 1)).all():
            raise ValueError(f"{spec.name}: input probe {name!r} must be one-hot (one 1, zeros)")
    return arrays


def _to_array(algorithm: str, name: str, value: Any) -> np.ndarray:
    try:
        array = np.array(value, copy=True)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{algorithm}: input probe {name!r} is not an array: {error}") from None
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"{algorithm}: input probe {name!r} has dtype {array.dtype}; "
            "expected a boolean, integer or floating array"
        )
    return array


def _num_nodes(spec: AlgorithmSpec, arrays: Mapping[str, np.ndarray]) -> int:
    for name, value in arrays.items():
        if spec[name].location is not Location.GRAPH:
            if value.ndim == 0 or value.shape[0] == 0:
                raise ValueError(f"{spec.name}: input probe {name!r} must have at least one node")
            return value.shape[0]
    raise ValueError(f"{spec.name}: no node or edge input probe given")
