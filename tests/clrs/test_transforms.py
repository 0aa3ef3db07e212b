"""The NAR's preprocessing transforms."""

from __future__ import annotations

import numpy as np
import pytest

from transnar import clrs
from transnar.clrs.specs import Location, Stage, Type
from transnar.clrs.transforms import (
    cyclic_permutation,
    permutations_spec,
    pred_as_input_spec,
    preprocess_spec,
)


def test_pred_as_input_moves_the_static_hint():
    t = clrs.sample("minimum", 6, seed=0)[0]
    moved = clrs.pred_as_input(t)
    assert "pred_h" not in moved.hints and "pred_h" not in moved.spec
    np.testing.assert_array_equal(moved.inputs["pred"], t.hints["pred_h"][0])
    assert moved.spec["pred"] == (Stage.INPUT, Location.NODE, Type.POINTER, None)
    assert list(moved.spec).index("pred") == list(t.spec).index("pred_h")
    clrs.check_trajectory(moved)


def test_pred_as_input_refuses_a_changing_hint():
    with pytest.raises(ValueError, match="changes over time"):
        clrs.pred_as_input(clrs.sample("insertion_sort", 6, seed=0)[0])


def test_cyclic_permutation_example():
    # Order 1, 2, 0 as predecessor pointers [2, 1, 1]: the first node (1) now points
    # to the last (0), and the mask marks node 1.
    matrix, mask = cyclic_permutation(np.array([2, 1, 1]))
    np.testing.assert_array_equal(matrix, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(mask, [0, 1, 0])


@pytest.mark.parametrize("algorithm", clrs.FAMILIES[clrs.Family.SORTING])
def test_permutations_to_pointers(algorithm):
    t = clrs.permutations_to_pointers(clrs.sample(algorithm, 7, seed=2)[0])
    assert t.spec["pred"].type is Type.PERMUTATION_POINTER
    assert t.spec["pred_mask"] == (Stage.OUTPUT, Location.NODE, Type.MASK_ONE, None)
    matrix = t.outputs["pred"]
    np.testing.assert_array_equal(matrix.sum(0), np.ones(7))  # a permutation matrix
    np.testing.assert_array_equal(matrix.sum(1), np.ones(7))
    assert not np.diag(matrix).any()
    clrs.check_trajectory(t)
    plain = clrs.permutations_to_pointers(clrs.sample(algorithm, 7, seed=2)[0], enforce=False)
    assert plain.spec["pred"].type is Type.POINTER and "pred_mask" not in plain.spec


def test_randomize_pos_is_sorted_per_string():
    rng = np.random.RandomState(0)
    t = clrs.randomize_pos(clrs.sample("kmp_matcher", 10, seed=1)[0], rng)
    pos, split = t.inputs["pos"], 8
    assert (np.diff(pos[:split]) > 0).all() and (np.diff(pos[split:]) > 0).all()
    assert ((pos >= 0) & (pos < 1)).all()
    assert not np.array_equal(pos, clrs.sample("kmp_matcher", 10, seed=1)[0].inputs["pos"])
    whole = clrs.randomize_pos(clrs.sample("bfs", 10, seed=1)[0], rng).inputs["pos"]
    assert (np.diff(whole) > 0).all()


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_preprocess_matches_its_spec_twin(algorithm):
    t = clrs.preprocess(clrs.sample(algorithm, 6, seed=0)[0], np.random.RandomState(1))
    assert t.spec == preprocess_spec(clrs.SPECS[algorithm])
    clrs.check_trajectory(t)


def test_spec_transforms_leave_other_specs_alone():
    assert pred_as_input_spec(clrs.SPECS["bfs"]) == clrs.SPECS["bfs"]
    assert permutations_spec(clrs.SPECS["bfs"]) == clrs.SPECS["bfs"]
