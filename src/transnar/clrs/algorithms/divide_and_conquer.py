"""Divide and conquer: the maximum subarray (CLRS 4.1), by Kadane's scan.

CLRS-30 keeps only the linear-time variant of exercise 4.1-5 (Bentley, 1984):
one pass that extends the best subarray ending at the current key. The keys
stay in place, so the ``pred_h`` hint is the fixed order of the input array.
"""

from __future__ import annotations

import numpy as np

from transnar.clrs.algorithms._base import AlgorithmDef, key_argument
from transnar.clrs.probing import (
    index_order_predecessors,
    node_positions,
    start_recording,
)
from transnar.clrs.trajectory import Trajectory


def find_maximum_subarray_kadane(A: np.ndarray) -> Trajectory:
    """Maximum subarray by Kadane's algorithm (CLRS exercise 4.1-5), one hint per key.

    ``[i, j]`` is the best subarray ending at key ``j`` and ``sum`` its sum;
    ``[best_low, best_high]`` is the best subarray so far and ``best_sum`` its
    sum. A tie keeps the earlier best subarray; the subarray ending at ``j``
    extends rather than restarts when both have the same sum. The outputs
    ``start`` and ``end`` delimit the best subarray.
    """
    n = A.shape[0]
    inputs = {"pos": node_positions(n), "key": A.copy()}
    recorder = start_recording("find_maximum_subarray_kadane", inputs)
    pred = index_order_predecessors(n)
    best_low = best_high = i = 0
    best_sum = total = A[0]
    recorder.record_hint(
        {
            "pred_h": pred,
            "best_low": 0,
            "best_high": 0,
            "best_sum": best_sum,
            "i": 0,
            "j": 0,
            "sum": total,
        }
    )
    for j in range(1, n):
        x = A[j]
        # The reference compares ``total + x >= x`` rather than ``total >= 0``;
        # in floating point they differ when ``total`` is tiny against ``x``.
        if total + x >= x:
            total += x
        else:
            i, total = j, x
        if total > best_sum:
            best_low, best_high, best_sum = i, j, total
        recorder.record_hint(
            {
                "pred_h": pred,
                "best_low": best_low,
                "best_high": best_high,
                "best_sum": best_sum,
                "i": i,
                "j": j,
                "sum": total,
            }
        )
    recorder.record_outputs({"start": best_low, "end": best_high})
    return recorder.finish()


ALGORITHMS = {
    "find_maximum_subarray_kadane": AlgorithmDef(find_maximum_subarray_kadane, key_argument),
}
