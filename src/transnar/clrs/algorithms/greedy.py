"""Greedy algorithms (CLRS chapter 16): activity selection and task scheduling.

Both visit the items in a greedy order, take each one that still fits, and
record the set taken so far as the ``selected_h`` mask. The items stay in
place, so the ``pred_h`` hint is the fixed order of the input arrays.
"""

from __future__ import annotations

import numpy as np

from transnar.clrs.algorithms._base import AlgorithmDef, InputProbes
from transnar.clrs.probing import (
    ProbeRecorder,
    index_order_predecessors,
    node_positions,
    start_recording,
)
from transnar.clrs.trajectory import Trajectory


def _start(algorithm: str, inputs: dict) -> tuple[ProbeRecorder, np.ndarray, np.ndarray]:
    """Records the inputs; returns the recorder, ``pred_h`` and an empty selection."""
    n = next(iter(inputs.values())).shape[0]
    recorder = start_recording(algorithm, {"pos": node_positions(n), **inputs})
    return recorder, index_order_predecessors(n), np.zeros(n)


def activity_selector(s: np.ndarray, f: np.ndarray) -> Trajectory:
    """GREEDY-ACTIVITY-SELECTOR (CLRS 16.1) on activities ``[s[a], f[a])``.

    Visits the activities by finish time and takes each one that starts no
    earlier than the last one taken finishes. One hint before the scan and one
    per activity visited: ``m`` is the activity visited, ``k`` the last one
    taken. The output ``selected`` (float 0/1) marks the activities taken.
    """
    recorder, pred, selected = _start("activity_selector", {"s": s.copy(), "f": f.copy()})
    recorder.record_hint({"pred_h": pred, "selected_h": selected.copy(), "m": 0, "k": 0})
    # NumPy's default (unstable) argsort, as in the reference: it decides the
    # order of activities that finish at the same time.
    by_finish = np.argsort(f)
    k = int(by_finish[0])
    selected[k] = 1
    recorder.record_hint({"pred_h": pred, "selected_h": selected.copy(), "m": k, "k": k})
    for m in by_finish[1:].tolist():
        if s[m] >= f[k]:
            selected[m] = 1
            k = m
        recorder.record_hint({"pred_h": pred, "selected_h": selected.copy(), "m": m, "k": k})
    recorder.record_outputs({"selected": selected})
    return recorder.finish()


def task_scheduling(d: np.ndarray, w: np.ndarray) -> Trajectory:
    """Greedy scheduling of unit-time tasks with deadlines ``d`` and penalties ``w`` (CLRS 16.5).

    Visits the tasks by decreasing penalty and takes a task while fewer tasks
    have been taken than its deadline; ``t`` counts the tasks taken. One hint
    before the scan and one per task visited (``i``). The output ``selected``
    (float 0/1) marks the tasks taken, which all meet their deadlines.

    This is the reference's test, which is stricter than the matroid
    independence test of CLRS 16.5: it may skip a task that the tasks taken
    would still leave room for (e.g. deadlines 1, 3, 2 by decreasing penalty
    keep only the first two), so the selection need not have the largest
    total penalty.
    """
    recorder, pred, selected = _start("task_scheduling", {"d": d.copy(), "w": w.copy()})
    recorder.record_hint({"pred_h": pred, "selected_h": selected.copy(), "i": 0, "t": 0})
    # NumPy's default (unstable) argsort of the negated penalties, as in the
    # reference: it decides the order of tasks with equal penalties.
    by_penalty = np.argsort(-w)
    first = int(by_penalty[0])
    selected[first] = 1
    t = 1
    recorder.record_hint({"pred_h": pred, "selected_h": selected.copy(), "i": first, "t": t})
    for i in by_penalty[1:].tolist():
        if t < d[i]:
            selected[i] = 1
            t += 1
        recorder.record_hint({"pred_h": pred, "selected_h": selected.copy(), "i": i, "t": t})
    recorder.record_outputs({"selected": selected})
    return recorder.finish()


def _activity_arguments(inputs: InputProbes) -> tuple:
    return inputs["s"], inputs["f"]


def _task_arguments(inputs: InputProbes) -> tuple:
    return inputs["d"], inputs["w"]


ALGORITHMS = {
    "activity_selector": AlgorithmDef(activity_selector, _activity_arguments),
    "task_scheduling": AlgorithmDef(task_scheduling, _task_arguments),
}
