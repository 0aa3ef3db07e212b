"""The four sorts: golden cases worked out by hand, and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.clrs.helpers import indices
from transnar import clrs
from transnar.clrs.algorithms.sorting import bubble_sort, heapsort, insertion_sort, quicksort

KEYS = np.array([0.5, 0.3, 0.9, 0.1])
SORTED_PRED = [1, 3, 0, 3]  # 0.1 (node 3) first, then node 1, node 0, node 2


def test_insertion_sort_golden():
    t = insertion_sort(KEYS)
    np.testing.assert_array_equal(t.inputs["pos"], [0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(t.inputs["key"], KEYS)
    np.testing.assert_array_equal(t.outputs["pred"], SORTED_PRED)
    np.testing.assert_array_equal(
        t.hints["pred_h"], [[0, 0, 1, 2], [1, 1, 0, 2], [1, 1, 0, 2], [1, 3, 0, 3]]
    )
    assert indices(t.hints["i"]) == [0, 0, 2, 1]  # the element each insertion displaced
    assert indices(t.hints["j"]) == [0, 1, 2, 3]


def test_bubble_sort_golden():
    t = bubble_sort(KEYS)
    np.testing.assert_array_equal(t.outputs["pred"], SORTED_PRED)
    np.testing.assert_array_equal(
        t.hints["pred_h"],
        [
            [0, 0, 1, 2],
            [0, 0, 3, 1],
            [0, 3, 1, 0],
            [3, 0, 1, 3],
            [3, 0, 1, 3],
            [1, 3, 0, 3],
            [1, 3, 0, 3],
        ],
    )
    assert indices(t.hints["i"]) == [0, 0, 0, 3, 0, 1, 0]
    assert indices(t.hints["j"]) == [0, 2, 1, 0, 2, 0, 2]


def test_quicksort_golden():
    t = quicksort(KEYS)
    np.testing.assert_array_equal(t.outputs["pred"], SORTED_PRED)
    np.testing.assert_array_equal(
        t.hints["pred_h"], [[0, 0, 1, 2]] * 3 + [[2, 3, 1, 3]] * 3 + [[1, 3, 0, 3]]
    )
    assert indices(t.hints["p"]) == [0, 0, 0, 3, 1, 1, 1]
    assert indices(t.hints["r"]) == [3, 3, 3, 0, 0, 0, 2]
    assert indices(t.hints["i"]) == [0, 0, 0, 3, 2, 2, 0]
    assert indices(t.hints["j"]) == [0, 1, 2, 0, 1, 2, 2]


def test_heapsort_golden():
    t = heapsort(np.array([0.2, 0.9, 0.5]))
    np.testing.assert_array_equal(t.outputs["pred"], [0, 2, 0])
    np.testing.assert_array_equal(
        t.hints["pred_h"],
        [[0, 0, 1]] * 3 + [[1, 1, 0]] * 2 + [[2, 0, 2]] * 2 + [[0, 2, 0]] * 2,
    )
    np.testing.assert_array_equal(
        t.hints["parent"],
        [[0, 0, 0]] * 3 + [[1, 1, 1]] * 2 + [[2, 1, 2]] * 2 + [[0, 1, 2]] * 2,
    )
    assert indices(t.hints["i"]) == [2, 2, 1, 1, 1, 2, 1, 0, 2]
    assert indices(t.hints["j"]) == [2, 2, 1, 1, 0, 1, 2, 2, 0]
    assert indices(t.hints["largest"]) == [2, 2, 1, 0, 0, 0, 2, 0, 0]
    assert indices(t.hints["heap_size"]) == [2, 2, 2, 2, 2, 0, 0, 0, 0]
    assert indices(t.hints["phase"]) == [0, 0, 0, 0, 0, 1, 2, 1, 2]


def _order(pred: np.ndarray) -> list[int]:
    """Walks predecessor pointers forwards, from the node that points to itself."""
    successor = {int(p): j for j, p in enumerate(pred) if p != j}
    order = [next(j for j, p in enumerate(pred) if p == j)]
    while order[-1] in successor:
        order.append(successor[order[-1]])
    return order


SORTS = [insertion_sort, bubble_sort, heapsort, quicksort]


@pytest.mark.parametrize("sort", SORTS)
@given(
    st.lists(
        st.floats(0, 1, allow_nan=False, allow_subnormal=False),
        min_size=2,
        max_size=12,
        unique=True,
    )
)
def test_sorted_output_is_the_sorted_input(sort, keys):
    keys = np.array(keys)
    t = sort(keys)
    assert _order(t.outputs["pred"]) == np.argsort(keys).tolist()
    np.testing.assert_array_equal(t.hints["pred_h"][-1], t.outputs["pred"])
    np.testing.assert_array_equal(t.inputs["key"], keys)  # the input is not sorted in place


@pytest.mark.parametrize("sort", [insertion_sort, bubble_sort])
def test_stable_sorts_keep_ties_in_order(sort):
    t = sort(np.array([0.5, 0.2, 0.5, 0.2]))
    assert _order(t.outputs["pred"]) == [1, 3, 0, 2]


@pytest.mark.parametrize("algorithm", clrs.FAMILIES[clrs.Family.SORTING])
def test_hint_counts(algorithm):
    # Insertion sort: one hint per element; bubble sort: one per comparison plus one.
    t = clrs.sample(algorithm, size=9, seed=3)[0]
    expected = {"insertion_sort": 9, "bubble_sort": 9 * 8 // 2 + 1}.get(algorithm)
    if expected is not None:
        assert t.length == expected
    clrs.check_trajectory(t)
