"""Searching algorithms (CLRS chapter 9 and exercise 2.3-5).

The keys stay in place in ``minimum`` and ``binary_search``, so their
``pred_h`` hint is the fixed order of the input array; ``quickselect``
rearranges the keys as it partitions them, and its ``pred_h`` follows the
order of the array so far, as the sorts' does.
"""

from __future__ import annotations

import numpy as np

from transnar.clrs.algorithms._base import AlgorithmDef, InputProbes, key_argument
from transnar.clrs.algorithms.sorting import partition, partition_hints
from transnar.clrs.probing import (
    ProbeRecorder,
    index_order_predecessors,
    node_positions,
    start_recording,
)
from transnar.clrs.trajectory import Trajectory


def _start(algorithm: str, A: np.ndarray, **inputs) -> ProbeRecorder:
    """Records the inputs ``pos``, ``key`` and any others; returns the recorder."""
    return start_recording(
        algorithm, {"pos": node_positions(A.shape[0]), "key": A.copy(), **inputs}
    )


def minimum(A: np.ndarray) -> Trajectory:
    """Minimum by a linear scan (CLRS 9.1), one hint per comparison.

    ``min_h`` is the smallest key so far (the first one on ties), ``i`` the
    key just compared. The output ``min`` is the first smallest key.
    """
    n = A.shape[0]
    recorder = _start("minimum", A)
    pred = index_order_predecessors(n)
    recorder.record_hint({"pred_h": pred, "min_h": 0, "i": 0})
    smallest = 0
    for i in range(1, n):
        if A[smallest] > A[i]:
            smallest = i
        recorder.record_hint({"pred_h": pred, "min_h": smallest, "i": i})
    recorder.record_outputs({"min": smallest})
    return recorder.finish()


def binary_search(A: np.ndarray, x: float) -> Trajectory:
    """Binary search for ``x`` in the sorted keys ``A`` (CLRS exercise 2.3-5).

    Narrows ``[low, high]`` to the first key ``>= x``; ``high`` starts at the
    last key, so a target above every key returns the last one. One hint per
    halving; the output ``return`` is the final ``high``.
    """
    n = A.shape[0]
    recorder = _start("binary_search", A, target=x)
    pred = index_order_predecessors(n)
    low, high = 0, n - 1
    # As in the reference, ``mid`` is the midpoint of the current range, the
    # one the *next* halving will compare; the first hint shows the first one.
    recorder.record_hint({"pred_h": pred, "low": low, "high": high, "mid": (low + high) // 2})
    while low < high:
        mid = (low + high) // 2
        if x <= A[mid]:
            high = mid
        else:
            low = mid + 1
        recorder.record_hint({"pred_h": pred, "low": low, "high": high, "mid": (low + high) // 2})
    recorder.record_outputs({"return": high})
    return recorder.finish()


def quickselect(A: np.ndarray) -> Trajectory:
    """Selects the key of rank ``n // 2`` (0-based) by repeated partitioning (CLRS 9.2).

    The RANDOMIZED-SELECT recursion with the deterministic Lomuto partition of
    quicksort (pivot: the last key of the subarray), unrolled into a loop; one
    hint per comparison and one per pivot placement. ``p`` and ``r`` delimit
    the subarray, ``i`` is the first key of the "greater" side, ``j`` the key
    being compared, ``pivot`` the pivot, ``target`` the rank sought within the
    subarray and ``i_rank`` the rank reached (both divided by ``n``). The
    output ``median`` is the selected key.
    """
    A = A.copy()
    n = A.shape[0]
    recorder = _start("quickselect", A)
    order = np.arange(n)

    def record(p: int, r: int, i: int, j: int, i_rank: int, target: int, pivot: int) -> None:
        recorder.record_hint(
            {
                **partition_hints(order, p, r, i, j),
                "i_rank": i_rank / n,
                "target": target / n,
                "pivot": int(order[pivot]),
            }
        )

    def partition_at(p: int, r: int, target: int) -> int:
        # The reference's ``i_rank`` counts from the start of the whole array
        # while comparing, but from ``p`` in the hint after the pivot moves.
        return partition(
            A,
            order,
            p,
            r,
            compared=lambda i, j: record(p, r, i, j, i, target, r),
            placed=lambda q: record(p, r, q, r, q - p, target, q),
        )

    p, r, rank = 0, n - 1, n // 2
    while True:
        q = partition_at(p, r, rank)
        smaller = q - p
        if rank == smaller:
            break
        if rank < smaller:
            r = q - 1
        else:
            p = q + 1
            rank -= smaller + 1
    recorder.record_outputs({"median": int(order[q])})
    return recorder.finish()


def _binary_search_arguments(inputs: InputProbes) -> tuple:
    key = inputs["key"]
    if (key[1:] < key[:-1]).any():
        raise ValueError("binary_search: the keys must be sorted in non-decreasing order")
    return key, inputs["target"]


ALGORITHMS = {
    "minimum": AlgorithmDef(minimum, key_argument),
    "binary_search": AlgorithmDef(binary_search, _binary_search_arguments),
    "quickselect": AlgorithmDef(quickselect, key_argument),
}
