"""Greedy algorithms: hand-checked traces, properties and edge cases.

The golden cases were worked out by hand from the algorithms' definitions.
Node ``mask_one`` probes are compared with ``np.eye(n)[indices]``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from transnar import clrs
from transnar.clrs.algorithms.greedy import activity_selector, task_scheduling


def _subsets(n: int):
    for size in range(n + 1):
        yield from itertools.combinations(range(n), size)


# --- activity_selector -------------------------------------------------------


def _compatible(s, f, a, b) -> bool:
    """Half-open activities [s, f) do not overlap."""
    return s[a] >= f[b] or s[b] >= f[a]


def _mutually_compatible(s, f, chosen) -> bool:
    return all(_compatible(s, f, a, b) for a, b in itertools.combinations(chosen, 2))


def test_activity_selector_golden():
    s = np.array([0.1, 0.3, 0.0, 0.5])
    f = np.array([0.4, 0.6, 0.2, 0.9])
    t = activity_selector(s, f)
    np.testing.assert_array_equal(t.inputs["pos"], [0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(t.inputs["s"], s)
    np.testing.assert_array_equal(t.inputs["f"], f)
    clrs.check_trajectory(t)
    np.testing.assert_array_equal(t.outputs["selected"], [0.0, 1.0, 1.0, 0.0])
    assert t.outputs["selected"].dtype == np.float64
    # By finish time: 2, 0, 1, 3.  Take 2; 0 starts before 2 ends; take 1;
    # 3 starts before 1 ends.
    assert t.length == 5
    np.testing.assert_array_equal(t.hints["pred_h"], [[0, 0, 1, 2]] * 5)
    np.testing.assert_array_equal(
        t.hints["selected_h"],
        [[0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0]],
    )
    np.testing.assert_array_equal(t.hints["m"], np.eye(4)[[0, 2, 0, 1, 3]])
    np.testing.assert_array_equal(t.hints["k"], np.eye(4)[[0, 2, 2, 1, 1]])


def test_activity_selector_takes_activities_that_touch():
    t = activity_selector(np.array([0.5, 0.0]), np.array([1.0, 0.5]))
    np.testing.assert_array_equal(t.outputs["selected"], [1.0, 1.0])


def test_activity_selector_one_activity():
    t = activity_selector(np.array([0.2]), np.array([0.3]))
    np.testing.assert_array_equal(t.outputs["selected"], [1.0])
    assert t.length == 2


@pytest.mark.parametrize("seed", range(20))
def test_activity_selector_selects_a_maximum_compatible_set(seed):
    rng = np.random.RandomState(seed)
    n = rng.randint(1, 9)
    # Coarse times, so that starts and finishes often coincide.
    u, v = rng.randint(0, 6, size=(2, n)) / 5
    s, f = np.minimum(u, v), np.maximum(u, v) + 0.1
    chosen = np.flatnonzero(activity_selector(s, f).outputs["selected"])
    assert _mutually_compatible(s, f, chosen)
    best = max(len(c) for c in _subsets(n) if _mutually_compatible(s, f, c))
    assert len(chosen) == best


# --- task_scheduling ---------------------------------------------------------


def _meets_deadlines(d, chosen) -> bool:
    """Unit tasks fit when the k-th earliest deadline is at least k."""
    deadlines = np.sort(d[list(chosen)])
    return bool((deadlines >= np.arange(1, len(chosen) + 1)).all())


def _greedy_by_count(d, w) -> set[int]:
    """The reference's rule: by decreasing weight, take a task while fewer
    tasks have been taken than its deadline."""
    chosen: set[int] = set()
    for task in sorted(range(len(w)), key=lambda a: -w[a]):
        if len(chosen) < d[task]:
            chosen.add(task)
    return chosen


def test_task_scheduling_golden():
    d = np.array([2, 1, 2, 3])
    w = np.array([0.3, 0.9, 0.5, 0.1])
    t = task_scheduling(d, w)
    np.testing.assert_array_equal(t.inputs["pos"], [0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(t.inputs["d"], d)
    assert t.inputs["d"].dtype == d.dtype
    np.testing.assert_array_equal(t.inputs["w"], w)
    clrs.check_trajectory(t)
    np.testing.assert_array_equal(t.outputs["selected"], [0.0, 1.0, 1.0, 1.0])
    assert t.outputs["selected"].dtype == np.float64
    # By weight: 1, 2, 0, 3.  Take 1 (t=1) and 2 (1 < 2); skip 0 (2 < 2 fails);
    # take 3 (2 < 3).
    assert t.length == 5
    np.testing.assert_array_equal(t.hints["pred_h"], [[0, 0, 1, 2]] * 5)
    np.testing.assert_array_equal(
        t.hints["selected_h"],
        [[0, 0, 0, 0], [0, 1, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 1]],
    )
    np.testing.assert_array_equal(t.hints["i"], np.eye(4)[[0, 1, 2, 0, 3]])
    np.testing.assert_array_equal(t.hints["t"], [0, 1, 2, 2, 3])


def test_task_scheduling_count_rule_can_miss_the_optimum():
    # The reference's rule skips task 2 (2 tasks taken, deadline 2), although
    # 0, 2, 1 in slots 1, 2, 3 meets every deadline.
    d = np.array([1, 3, 2])
    w = np.array([0.9, 0.8, 0.7])
    np.testing.assert_array_equal(task_scheduling(d, w).outputs["selected"], [1.0, 1.0, 0.0])
    assert _meets_deadlines(d, [0, 1, 2])


def test_task_scheduling_one_task():
    t = task_scheduling(np.array([1]), np.array([0.4]))
    np.testing.assert_array_equal(t.outputs["selected"], [1.0])
    np.testing.assert_array_equal(t.hints["t"], [0, 1])


@pytest.mark.parametrize("seed", range(20))
def test_task_scheduling_meets_deadlines_and_follows_the_greedy_rule(seed):
    rng = np.random.RandomState(seed)
    n = rng.randint(1, 9)
    d = rng.randint(0, n, size=n) + 1
    w = rng.permutation(n) / n + 0.05  # distinct weights
    chosen = set(np.flatnonzero(task_scheduling(d, w).outputs["selected"]).tolist())
    assert _meets_deadlines(d, chosen)
    assert chosen == _greedy_by_count(d, w)
    best = max(w[list(c)].sum() for c in _subsets(n) if _meets_deadlines(d, c))
    assert w[list(chosen)].sum() <= best + 1e-12


@pytest.mark.parametrize("seed", range(10))
def test_task_scheduling_is_optimal_with_equal_deadlines(seed):
    # With one deadline D for all, any D tasks fit: the D heaviest are best.
    rng = np.random.RandomState(seed)
    n = rng.randint(1, 9)
    d = np.full(n, rng.randint(1, n + 1))
    w = rng.uniform(size=n)
    chosen = np.flatnonzero(task_scheduling(d, w).outputs["selected"])
    best = max(w[list(c)].sum() for c in _subsets(n) if _meets_deadlines(d, c))
    assert w[chosen].sum() == pytest.approx(best, abs=1e-12)
