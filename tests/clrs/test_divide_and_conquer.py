"""Kadane's maximum subarray: a hand-checked trace, properties and edge cases.

The golden case was worked out by hand; its keys are dyadic so every sum is
exact. Node ``mask_one`` probes are compared with ``np.eye(n)[indices]``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.clrs.helpers import run_keeping_arguments
from transnar import clrs
from transnar.clrs.algorithms.divide_and_conquer import find_maximum_subarray_kadane


def _span(trajectory) -> tuple[int, int]:
    return trajectory.outputs["start"].argmax(), trajectory.outputs["end"].argmax()


def test_kadane_golden():
    key = np.array([-0.5, 0.5, -0.25, 0.5])
    t = run_keeping_arguments(find_maximum_subarray_kadane, key)
    np.testing.assert_array_equal(t.inputs["pos"], [0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(t.inputs["key"], key)
    clrs.check_trajectory(t)
    np.testing.assert_array_equal(t.outputs["start"], np.eye(4)[1])
    np.testing.assert_array_equal(t.outputs["end"], np.eye(4)[3])
    # j=1 restarts at 1 (-0.5 + 0.5 < 0.5); j=2 extends (sum 0.25); j=3
    # extends to 0.75, beating the best 0.5.
    assert t.length == 4
    np.testing.assert_array_equal(t.hints["pred_h"], [[0, 0, 1, 2]] * 4)
    np.testing.assert_array_equal(t.hints["best_low"], np.eye(4)[[0, 1, 1, 1]])
    np.testing.assert_array_equal(t.hints["best_high"], np.eye(4)[[0, 1, 1, 3]])
    np.testing.assert_array_equal(t.hints["best_sum"], [-0.5, 0.5, 0.5, 0.75])
    np.testing.assert_array_equal(t.hints["i"], np.eye(4)[[0, 1, 1, 1]])
    np.testing.assert_array_equal(t.hints["j"], np.eye(4)[[0, 1, 2, 3]])
    np.testing.assert_array_equal(t.hints["sum"], [-0.5, 0.5, 0.25, 0.75])


def test_kadane_tie_keeps_the_earlier_subarray():
    # [0, 0] and [0, 2] and [2, 2] all sum to 0.5: the first one found stays.
    t = find_maximum_subarray_kadane(np.array([0.5, -0.5, 0.5]))
    assert _span(t) == (0, 0)
    # A running sum of exactly 0 is extended, not restarted.
    np.testing.assert_array_equal(t.hints["i"], np.eye(3)[[0, 0, 0]])
    np.testing.assert_array_equal(t.hints["sum"], [0.5, 0.0, 0.5])


def test_kadane_all_negative_picks_the_largest_key():
    assert _span(find_maximum_subarray_kadane(np.array([-0.3, -0.1, -0.2]))) == (1, 1)


def test_kadane_one_key():
    t = find_maximum_subarray_kadane(np.array([-0.4]))
    assert _span(t) == (0, 0) and t.length == 1


@pytest.mark.parametrize("seed", range(20))
def test_kadane_finds_a_maximum_sum_subarray(seed):
    rng = np.random.RandomState(seed)
    key = rng.uniform(-1, 1, size=rng.randint(1, 13))
    start, end = _span(find_maximum_subarray_kadane(key))
    n = key.shape[0]
    best = max(
        key[low : high + 1].sum()
        for low, high in itertools.combinations_with_replacement(range(n), 2)
    )
    assert start <= end
    assert key[start : end + 1].sum() == pytest.approx(best, abs=1e-12)
