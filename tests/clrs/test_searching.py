"""Searching algorithms: hand-checked traces, properties and edge cases.

The golden cases were worked out by hand from the algorithms' definitions.
Node ``mask_one`` probes are written as the node indices they mark, and
compared with ``np.eye(n)[indices]``.
"""

from __future__ import annotations

import numpy as np
import pytest

from transnar import clrs
from transnar.clrs.algorithms.searching import binary_search, minimum, quickselect

SEEDS = range(20)


def _check_pos_and_key(trajectory, key):
    n = key.shape[0]
    np.testing.assert_array_equal(trajectory.inputs["pos"], np.arange(n) / n)
    np.testing.assert_array_equal(trajectory.inputs["key"], key)
    clrs.check_trajectory(trajectory)


# --- minimum -----------------------------------------------------------------


def test_minimum_golden():
    key = np.array([0.5, 0.2, 0.7, 0.2])
    t = minimum(key)
    _check_pos_and_key(t, key)
    # The tie at node 3 does not replace node 1: the first minimum wins.
    np.testing.assert_array_equal(t.outputs["min"], [0.0, 1.0, 0.0, 0.0])
    assert t.length == 4
    np.testing.assert_array_equal(t.hints["pred_h"], [[0, 0, 1, 2]] * 4)
    np.testing.assert_array_equal(t.hints["min_h"], np.eye(4)[[0, 1, 1, 1]])
    np.testing.assert_array_equal(t.hints["i"], np.eye(4)[[0, 1, 2, 3]])


@pytest.mark.parametrize("seed", SEEDS)
def test_minimum_is_first_argmin(seed):
    rng = np.random.RandomState(seed)
    key = rng.randint(0, 4, size=rng.randint(1, 12)) / 4  # many ties
    assert minimum(key).outputs["min"].argmax() == np.argmin(key)


def test_minimum_of_one_key():
    t = minimum(np.array([0.3]))
    np.testing.assert_array_equal(t.outputs["min"], [1.0])
    assert t.length == 1


# --- binary_search -----------------------------------------------------------


def test_binary_search_golden():
    key = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    t = binary_search(key, 0.6)
    _check_pos_and_key(t, key)
    assert t.inputs["target"] == 0.6 and t.inputs["target"].shape == ()
    np.testing.assert_array_equal(t.outputs["return"], np.eye(5)[3])
    # 0.6 > key[2]: low moves to 3; 0.6 <= key[3]: high moves to 3.  mid is
    # the midpoint of the range after each step.
    assert t.length == 3
    np.testing.assert_array_equal(t.hints["pred_h"], [[0, 0, 1, 2, 3]] * 3)
    np.testing.assert_array_equal(t.hints["low"], np.eye(5)[[0, 3, 3]])
    np.testing.assert_array_equal(t.hints["high"], np.eye(5)[[4, 4, 3]])
    np.testing.assert_array_equal(t.hints["mid"], np.eye(5)[[2, 3, 3]])


def test_binary_search_target_above_every_key_returns_the_last():
    t = binary_search(np.array([0.1, 0.2, 0.3, 0.4]), 0.95)
    np.testing.assert_array_equal(t.outputs["return"], np.eye(4)[3])
    np.testing.assert_array_equal(t.hints["low"], np.eye(4)[[0, 2, 3]])
    np.testing.assert_array_equal(t.hints["high"], np.eye(4)[[3, 3, 3]])
    np.testing.assert_array_equal(t.hints["mid"], np.eye(4)[[1, 2, 3]])


@pytest.mark.parametrize(
    ("target", "expected"), [(0.0, 0), (0.1, 0), (0.2, 1), (0.25, 3), (0.4, 3), (0.5, 3)]
)
def test_binary_search_boundaries_and_ties(target, expected):
    t = binary_search(np.array([0.1, 0.2, 0.2, 0.4]), target)
    assert t.outputs["return"].argmax() == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_search_finds_first_key_not_below_target(seed):
    rng = np.random.RandomState(seed)
    key = np.sort(rng.randint(0, 6, size=rng.randint(1, 12)) / 5)
    target = rng.randint(0, 7) / 5
    # The first index whose key >= target; the last index when there is none.
    expected = min(np.searchsorted(key, target, side="left"), key.shape[0] - 1)
    assert binary_search(key, target).outputs["return"].argmax() == expected


def test_binary_search_rejects_unsorted_keys():
    with pytest.raises(ValueError, match="sorted"):
        clrs.execute("binary_search", {"key": [0.3, 0.1, 0.2], "target": 0.2})


def test_binary_search_execute_keeps_target_probe():
    t = clrs.execute("binary_search", {"key": [0.1, 0.2], "target": 0.15})
    assert t.inputs["target"] == 0.15 and t.inputs["target"].dtype == np.float64
    np.testing.assert_array_equal(t.outputs["return"], [0.0, 1.0])


# --- quickselect -------------------------------------------------------------


def test_quickselect_golden():
    key = np.array([0.4, 0.1, 0.3, 0.2])
    t = quickselect(key)
    _check_pos_and_key(t, key)
    # Rank 4 // 2 = 2: the third smallest key, 0.3 at node 2.
    np.testing.assert_array_equal(t.outputs["median"], np.eye(4)[2])
    # Partition [0, 3] around 0.2 (node 3): three comparisons, then the pivot
    # moves to slot 1 (order 1, 3, 2, 0).  Rank 2 > 1: partition [2, 3]
    # around 0.4 (node 0): one comparison, the pivot stays.  Rank 0 < 1:
    # partition [2, 2]: the pivot (node 2) is the answer.
    assert t.length == 7
    np.testing.assert_array_equal(
        t.hints["pred_h"],
        [
            [0, 0, 1, 2],
            [1, 1, 0, 2],
            [1, 1, 0, 2],
            [2, 1, 3, 1],
            [2, 1, 3, 1],
            [2, 1, 3, 1],
            [2, 1, 3, 1],
        ],
    )
    np.testing.assert_array_equal(t.hints["p"], np.eye(4)[[0, 1, 1, 1, 2, 2, 2]])
    np.testing.assert_array_equal(t.hints["r"], np.eye(4)[[3, 3, 3, 0, 0, 0, 2]])
    np.testing.assert_array_equal(t.hints["i"], np.eye(4)[[0, 0, 0, 3, 0, 0, 2]])
    np.testing.assert_array_equal(t.hints["j"], np.eye(4)[[0, 0, 2, 0, 2, 0, 2]])
    np.testing.assert_array_equal(t.hints["pivot"], np.eye(4)[[3, 3, 3, 3, 0, 0, 2]])
    # i_rank counts from slot 0 during a partition (0.75 at step 4) but from
    # p once the pivot is placed; target is the rank sought within [p, r].
    np.testing.assert_array_equal(t.hints["i_rank"], [0, 0.25, 0.25, 0.25, 0.75, 0.25, 0])
    np.testing.assert_array_equal(t.hints["target"], [0.5, 0.5, 0.5, 0.5, 0, 0, 0])


@pytest.mark.parametrize("seed", SEEDS)
def test_quickselect_selects_rank_n_over_2(seed):
    rng = np.random.RandomState(seed)
    key = rng.randint(0, 5, size=rng.randint(1, 16)) / 5  # ties included
    median = quickselect(key).outputs["median"].argmax()
    assert key[median] == np.sort(key)[key.shape[0] // 2]


def test_quickselect_of_one_and_two_keys():
    np.testing.assert_array_equal(quickselect(np.array([0.7])).outputs["median"], [1.0])
    # Rank 1 of two keys: the larger.
    np.testing.assert_array_equal(quickselect(np.array([0.7, 0.2])).outputs["median"], [1.0, 0.0])
