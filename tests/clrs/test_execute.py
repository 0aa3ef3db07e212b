"""``execute``: reproducing trajectories from input probes, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from transnar import clrs


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_execute_reproduces_sampled_trajectories(algorithm):
    for trajectory in clrs.sample(algorithm, size=7, seed=3, count=3):
        inputs = {k: v for k, v in trajectory.inputs.items() if k != "pos"}
        assert clrs.execute(algorithm, inputs).equals(trajectory)
        assert clrs.execute(algorithm, trajectory.inputs).equals(trajectory)


def test_execute_accepts_lists_and_keeps_a_given_pos():
    t = clrs.execute("minimum", {"key": [0.4, 0.1, 0.3], "pos": [0.1, 0.5, 0.9]})
    np.testing.assert_array_equal(t.outputs["min"], [0, 1, 0])
    np.testing.assert_array_equal(t.inputs["pos"], [0.1, 0.5, 0.9])


def test_execute_does_not_modify_its_inputs():
    keys = np.array([0.3, 0.2, 0.1])
    clrs.execute("quicksort", {"key": keys})
    np.testing.assert_array_equal(keys, [0.3, 0.2, 0.1])


@pytest.mark.parametrize(
    ("algorithm", "inputs", "message"),
    [
        ("quicksrot", {"key": [0.1]}, "did you mean 'quicksort'"),
        ("bfs", {"A": np.eye(3), "adj": np.eye(3)}, r"missing input probe\(s\) \['s'\]"),
        ("minimum", {"key": [0.1, 0.2], "target": 0.5}, r"unknown input probe\(s\) \['target'\]"),
        ("minimum", {"key": [[0.1, 0.2]]}, r"'key' has shape \(1, 2\), expected \(1,\)"),
        ("minimum", {"key": ["a", "b"]}, "dtype <U1; expected a boolean, integer or floating"),
        ("minimum", {"key": [0.1, np.nan]}, "must be finite"),
        ("binary_search", {"key": [0.1, 0.2], "target": [0.5]}, r"'target' has shape \(1,\)"),
        ("bfs", {"s": [0, 1, 1], "A": np.eye(3), "adj": np.eye(3)}, "'s' must be one-hot"),
        (
            "bfs",
            {"s": [0, 2, 0], "A": np.eye(3), "adj": np.eye(3)},
            "'s' must hold only 0, 1 or -1",
        ),
        ("dfs", {"A": np.eye(3), "adj": np.eye(2)}, r"'adj' has shape \(2, 2\), expected \(3, 3\)"),
        ("minimum", {"key": []}, "at least one node"),
        ("minimum", [0.1, 0.2], "must be a mapping"),
    ],
)
def test_bad_inputs_are_clear_value_errors(algorithm, inputs, message):
    with pytest.raises(ValueError, match=message):
        clrs.execute(algorithm, inputs)
