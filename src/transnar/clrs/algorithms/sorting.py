"""Sorting algorithms (CLRS chapters 2, 6 and 7).

Each sort records ``pred_h``, the order of the array so far as predecessor
pointers (node ``k`` is the element that started at index ``k``), plus the
positions its loop variables point at. The output ``pred`` is the final order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from transnar.clrs.algorithms._base import AlgorithmDef, InputProbes, key_argument
from transnar.clrs.probing import (
    ProbeRecorder,
    heap_parents,
    node_positions,
    order_to_predecessors,
    start_recording,
)
from transnar.clrs.trajectory import Trajectory


def _start(algorithm: str, A: np.ndarray) -> tuple[ProbeRecorder, np.ndarray]:
    """Records the inputs; returns the recorder and the identity order."""
    n = A.shape[0]
    return start_recording(algorithm, {"pos": node_positions(n), "key": A.copy()}), np.arange(n)


def _finish(recorder: ProbeRecorder, order: np.ndarray) -> Trajectory:
    recorder.record_outputs({"pred": order_to_predecessors(order)})
    return recorder.finish()


def insertion_sort(A: np.ndarray) -> Trajectory:
    """Insertion sort (CLRS 2.1), sorting a copy of ``A``.

    Hints: ``i`` is the element displaced by the insertion, ``j`` the element
    being inserted.
    """
    A = A.copy()
    recorder, order = _start("insertion_sort", A)
    recorder.record_hint({"pred_h": order_to_predecessors(order), "i": 0, "j": 0})
    for j in range(1, A.shape[0]):
        key = A[j]
        i = j - 1
        while i >= 0 and A[i] > key:
            A[i + 1] = A[i]
            order[i + 1] = order[i]
            i -= 1
        A[i + 1] = key
        displaced = int(order[i + 1])
        order[i + 1] = j
        recorder.record_hint({"pred_h": order_to_predecessors(order), "i": displaced, "j": j})
    return _finish(recorder, order)


def bubble_sort(A: np.ndarray) -> Trajectory:
    """Bubble sort (CLRS problem 2-2), one hint per comparison."""
    A = A.copy()
    n = A.shape[0]
    recorder, order = _start("bubble_sort", A)
    recorder.record_hint({"pred_h": order_to_predecessors(order), "i": 0, "j": 0})
    for i in range(n - 1):
        for j in range(n - 1, i, -1):
            if A[j] < A[j - 1]:
                A[j], A[j - 1] = A[j - 1], A[j]
                order[j], order[j - 1] = order[j - 1], order[j]
            recorder.record_hint(
                {"pred_h": order_to_predecessors(order), "i": int(order[i]), "j": int(order[j])}
            )
    return _finish(recorder, order)


def heapsort(A: np.ndarray) -> Trajectory:
    """Heapsort (CLRS 6.4), one hint per MAX-HEAPIFY call and per extraction.

    Phases: 0 building the heap, 1 swapping the root out, 2 re-heapifying.
    ``i`` is the slot being settled, ``j`` the node MAX-HEAPIFY is at,
    ``largest`` the larger child, ``heap_size`` the last node of the heap.
    """
    A = A.copy()
    n = A.shape[0]
    recorder, order = _start("heapsort", A)
    recorder.record_hint(
        {
            "pred_h": order_to_predecessors(order),
            "parent": heap_parents(order, n),
            "i": n - 1,
            "j": n - 1,
            "largest": n - 1,
            "heap_size": n - 1,
            "phase": 0,
        }
    )

    def max_heapify(i: int, heap_size: int, slot: int, phase: int) -> None:
        while True:
            left, right = 2 * i + 1, 2 * i + 2
            largest = left if left < heap_size and A[left] > A[i] else i
            if right < heap_size and A[right] > A[largest]:
                largest = right
            if largest != i:
                A[i], A[largest] = A[largest], A[i]
                order[i], order[largest] = order[largest], order[i]
            recorder.record_hint(
                {
                    "pred_h": order_to_predecessors(order),
                    "parent": heap_parents(order, heap_size),
                    "i": int(order[slot]),
                    "j": int(order[i]),
                    "largest": int(order[largest]),
                    "heap_size": int(order[heap_size - 1]),
                    "phase": phase,
                }
            )
            if largest == i:
                return
            i = largest

    for i in range(n - 1, -1, -1):
        max_heapify(i, n, i, 0)
    heap_size = n
    for i in range(n - 1, 0, -1):
        A[0], A[i] = A[i], A[0]
        order[0], order[i] = order[i], order[0]
        heap_size -= 1
        recorder.record_hint(
            {
                "pred_h": order_to_predecessors(order),
                "parent": heap_parents(order, heap_size),
                "i": int(order[0]),
                "j": int(order[i]),
                # The reference marks node 0 here, not the node in slot 0.
                "largest": 0,
                "heap_size": int(order[heap_size - 1]),
                "phase": 1,
            }
        )
        max_heapify(0, heap_size, i, 2)
    return _finish(recorder, order)


def quicksort(A: np.ndarray) -> Trajectory:
    """Quicksort with the Lomuto partition (CLRS 7.1), one hint per comparison.

    ``p`` and ``r`` delimit the subarray, ``i`` is the first element of the
    "greater" side, ``j`` the element being compared. As in the reference,
    there is no hint before the first comparison.
    """
    A = A.copy()
    recorder, order = _start("quicksort", A)

    def record(p: int, r: int, i: int, j: int) -> None:
        recorder.record_hint(partition_hints(order, p, r, i, j))

    def sort(p: int, r: int) -> None:
        if p < r:
            q = partition(
                A,
                order,
                p,
                r,
                compared=lambda i, j: record(p, r, i, j),
                placed=lambda q: record(p, r, q, r),
            )
            sort(p, q - 1)
            sort(q + 1, r)

    sort(0, A.shape[0] - 1)
    return _finish(recorder, order)


def partition(
    A: np.ndarray,
    order: np.ndarray,
    p: int,
    r: int,
    compared: Callable[[int, int], None],
    placed: Callable[[int], None],
) -> int:
    """The Lomuto partition of ``A[p..r]`` around its last key (CLRS 7.1), in
    place, with ``order`` (the element at each index) swapped alike; that of
    quicksort and of quickselect.

    After each comparison of a key ``A[j]`` with the pivot it calls
    ``compared(i, j)`` (``i``: the first index of the "greater" side), and
    ``placed(q)`` once the pivot is at ``q``, which it returns.
    """
    pivot = A[r]
    i = p - 1
    for j in range(p, r):
        if A[j] <= pivot:
            i += 1
            A[i], A[j] = A[j], A[i]
            order[i], order[j] = order[j], order[i]
        compared(i + 1, j)
    A[i + 1], A[r] = A[r], A[i + 1]
    order[i + 1], order[r] = order[r], order[i + 1]
    placed(i + 1)
    return i + 1


def partition_hints(order: np.ndarray, p: int, r: int, i: int, j: int) -> dict[str, object]:
    """The hints of a :func:`partition` of ``order``: ``pred_h`` and the
    elements at the indices ``p``, ``r``, ``i`` and ``j``."""
    return {
        "pred_h": order_to_predecessors(order),
        "p": int(order[p]),
        "r": int(order[r]),
        "i": int(order[i]),
        "j": int(order[j]),
    }


def _quicksort_arguments(inputs: InputProbes) -> tuple:
    (key,) = key_argument(inputs)
    if key.shape[0] < 2:  # one key records no partition step: no hints at all
        raise ValueError(f"quicksort needs at least 2 keys, got {key.shape[0]}")
    return (key,)


ALGORITHMS = {
    "insertion_sort": AlgorithmDef(insertion_sort, key_argument),
    "bubble_sort": AlgorithmDef(bubble_sort, key_argument),
    "heapsort": AlgorithmDef(heapsort, key_argument),
    "quicksort": AlgorithmDef(quicksort, _quicksort_arguments),
}
