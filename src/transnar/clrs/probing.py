"""The probe recorder that algorithms write their inputs, hints and outputs to.

An algorithm creates a :class:`ProbeRecorder`, records its inputs once, one
hint snapshot per step and its outputs once, then calls
:meth:`ProbeRecorder.finish`. Every call must name exactly the probes the spec
declares for that stage: a missing or an extra probe raises :class:`ProbeError`.

Values may be given in *index form*, which the recorder turns into the
reference's one-hot arrays (``float64``) when it finishes:

- a node ``mask_one`` probe as the index of its node (an ``int``);
- a categorical probe as its class index: an ``int`` for a graph probe, an
  integer array of shape ``(N,)`` or ``(N, N)`` for node or edge probes.

Everything else is stored as given, without a copy: pass a copy of any array the
algorithm will modify later. Probes come out in the spec's order, whatever the
order of the dictionaries passed in.

Inside :func:`stopping_at_first_hint`, every recorder stops its algorithm at its
first hint snapshot by raising :class:`FirstHintStop`, which carries the
recorder (:meth:`ProbeRecorder.first_step` then gives the inputs and that
snapshot): :func:`~transnar.clrs.initial_state` runs an algorithm that far and
no further.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from transnar.clrs.specs import AlgorithmSpec, Location, ProbeSpec, Type, get_spec
from transnar.clrs.trajectory import Trajectory

_BASE_NDIM = {Location.NODE: 1, Location.EDGE: 2, Location.GRAPH: 0}


class ProbeError(ValueError):
    """A recorded step does not match the algorithm's spec."""


class FirstHintStop(BaseException):
    """Raised by :meth:`ProbeRecorder.record_hint` inside
    :func:`stopping_at_first_hint`, once the first snapshot is recorded.

    A ``BaseException``, as ``StopIteration``: control flow, not an error, which
    no ``except Exception`` in an algorithm may swallow.

    Attributes:
        recorder: the recorder that holds the inputs and that snapshot.
    """

    def __init__(self, recorder: ProbeRecorder):
        super().__init__(f"{recorder.algorithm}: stopped at the first hint")
        self.recorder = recorder


_STOP_AT_FIRST_HINT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "stop_at_first_hint", default=False
)


@contextlib.contextmanager
def stopping_at_first_hint() -> Iterator[None]:
    """Within the block, recording a first hint raises :class:`FirstHintStop`."""
    token = _STOP_AT_FIRST_HINT.set(True)
    try:
        yield
    finally:
        _STOP_AT_FIRST_HINT.reset(token)


def node_positions(n: int) -> np.ndarray:
    """The ``pos`` input of ``n`` nodes in a row: node ``i`` at ``i / n``."""
    return np.arange(n) / n


def index_order_predecessors(n: int) -> np.ndarray:
    """Predecessor pointers of ``n`` nodes in index order (node ``i`` points to
    ``i - 1``, node 0 to itself): the fixed ``pred_h`` hint of the algorithms on
    a list (:func:`order_to_predecessors` of ``0 .. n-1``)."""
    return order_to_predecessors(np.arange(n))


def start_recording(algorithm: str, inputs: Mapping[str, Any]) -> ProbeRecorder:
    """A :class:`ProbeRecorder` of ``algorithm`` with its ``inputs`` recorded; its
    node count is the length of the ``pos`` input."""
    recorder = ProbeRecorder(algorithm, len(inputs["pos"]))
    recorder.record_inputs(inputs)
    return recorder


class ProbeRecorder:
    """Collects the probes of one algorithm run, checked against its spec.

    Args:
        algorithm: name of the algorithm being run.
        num_nodes: number of nodes ``N`` (the length of the ``pos`` input).
    """

    def __init__(self, algorithm: str, num_nodes: int):
        self._spec: AlgorithmSpec = get_spec(algorithm)
        self._num_nodes = num_nodes
        self._expected = {
            "inputs": frozenset(self._spec.inputs),
            "outputs": frozenset(self._spec.outputs),
            "hint": frozenset(self._spec.hints),
        }
        self._inputs: dict[str, Any] | None = None
        self._outputs: dict[str, Any] | None = None
        self._hints: dict[str, list[Any]] = {name: [] for name in self._spec.hints}

    @property
    def algorithm(self) -> str:
        """The name of the algorithm being recorded."""
        return self._spec.name

    def _check(self, what: str, probes: Mapping[str, Any]) -> None:
        expected = self._expected[what]
        if probes.keys() != expected:
            missing = sorted(expected - probes.keys())
            extra = sorted(probes.keys() - expected)
            raise ProbeError(
                f"{self._spec.name}: {what} step has missing probes {missing} "
                f"and unexpected probes {extra}"
            )

    def record_inputs(self, probes: Mapping[str, Any]) -> None:
        """Records the input probes (once)."""
        if self._inputs is not None:
            raise ProbeError(f"{self._spec.name}: inputs recorded twice")
        self._check("inputs", probes)
        self._inputs = dict(probes)

    def record_hint(self, probes: Mapping[str, Any]) -> None:
        """Records one hint step: a snapshot of every hint probe."""
        if self._outputs is not None:
            raise ProbeError(f"{self._spec.name}: hint recorded after the outputs")
        self._check("hint", probes)
        for name, value in probes.items():
            self._hints[name].append(value)
        if _STOP_AT_FIRST_HINT.get():
            raise FirstHintStop(self)

    def record_outputs(self, probes: Mapping[str, Any]) -> None:
        """Records the output probes (once, after the last hint)."""
        if self._outputs is not None:
            raise ProbeError(f"{self._spec.name}: outputs recorded twice")
        self._check("outputs", probes)
        self._outputs = dict(probes)

    def finish(self) -> Trajectory:
        """Stacks the hints over time and returns the :class:`Trajectory`."""
        if self._inputs is None or self._outputs is None:
            raise ProbeError(f"{self._spec.name}: finished before inputs and outputs were recorded")
        return self._trajectory(self._outputs, None)

    def first_step(self) -> Trajectory:
        """The inputs and the first hint snapshot (time axis of length 1), with
        no outputs (``{}``): the state of the algorithm before its first step."""
        if self._inputs is None:
            raise ProbeError(f"{self._spec.name}: a hint was recorded before the inputs")
        return self._trajectory({}, 1)

    def _trajectory(self, outputs: Mapping[str, Any], steps: int | None) -> Trajectory:
        """The recorded inputs, the given outputs and the first ``steps`` hint
        snapshots (all when None), as arrays."""
        if not self._hints[self._spec.hints[0]]:
            raise ProbeError(f"{self._spec.name}: no hint step was recorded")
        spec = self._spec
        return Trajectory(
            algorithm=spec.name,
            inputs={k: self._to_array(spec[k], self._inputs[k]) for k in spec.inputs},
            outputs={k: self._to_array(spec[k], outputs[k]) for k in spec.outputs if k in outputs},
            hints={
                k: self._to_array(spec[k], self._hints[k][:steps], time_axis=True)
                for k in spec.hints
            },
        )

    def _to_array(self, probe: ProbeSpec, value: Any, time_axis: bool = False) -> np.ndarray:
        first = value[0] if time_axis else value
        if probe.type is Type.MASK_ONE and probe.location is Location.NODE:
            if _is_index(first, 0):
                return one_hot(np.asarray(value), self._num_nodes)
        elif probe.type is Type.CATEGORICAL and _is_index(first, _BASE_NDIM[probe.location]):
            return one_hot(np.asarray(value), probe.num_classes)
        return np.stack(value) if time_axis else np.asarray(value)


def _is_index(value: Any, ndim: int) -> bool:
    if ndim == 0:
        return isinstance(value, (int, np.integer))
    return isinstance(value, np.ndarray) and value.ndim == ndim and value.dtype.kind in "iu"


def one_hot(indices: np.ndarray, num_classes: int) -> np.ndarray:
    """``float64`` one-hot encoding along a new last axis."""
    return _identity(num_classes).take(indices, axis=0)


@functools.lru_cache(maxsize=256)
def _identity(n: int) -> np.ndarray:
    identity = np.eye(n)
    identity.flags.writeable = False
    return identity


# --- Probe constructors shared by several algorithm families -----------------


def order_to_predecessors(order: np.ndarray) -> np.ndarray:
    """Predecessor pointers of a linear order of the nodes.

    ``order[k]`` is the node at position ``k``. Node ``order[k]`` points to
    ``order[k - 1]``; the first node points to itself.

    Args:
        order: ``(N,)`` integer array: a permutation of the ``N`` nodes.

    Returns:
        ``(N,)`` int64 pointers.
    """
    pointers = np.arange(order.shape[0])
    pointers[order[1:]] = order[:-1]
    return pointers


def heap_parents(order: np.ndarray, heap_size: int) -> np.ndarray:
    """Parent pointers of the binary heap stored in the first ``heap_size`` slots.

    ``order[k]`` is the node stored in slot ``k``; the node in slot ``k > 0`` of
    the heap points to the node in slot ``(k - 1) // 2``. The root and the nodes
    outside the heap point to themselves.
    """
    pointers = np.arange(order.shape[0])
    slots = np.arange(1, heap_size)
    pointers[order[slots]] = order[(slots - 1) // 2]
    return pointers
