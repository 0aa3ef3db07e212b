"""``execute``: reproducing trajectories from input probes, and clear errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.clrs.helpers import assert_probes, run_keeping_arguments
from transnar import clrs

# Small sizes and several seeds; each test draws three instances from each.
SIZES_AND_SEEDS = [(7, 0), (7, 3), (7, 5), (9, 0), (9, 1), (12, 0)]


@pytest.mark.parametrize(("size", "seed"), SIZES_AND_SEEDS)
@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_execute_equals_a_direct_run_that_keeps_its_arguments(algorithm, size, seed):
    # A sampler draws the algorithm's arguments; a direct run on them leaves
    # them unmodified, and execute on the run's input probes (with or without
    # pos) reproduces the run and leaves the probes unmodified.
    sampler = clrs.build_sampler(algorithm, size, seed)
    for _ in range(3):
        run = clrs.ALGORITHMS[algorithm].run
        trajectory = run_keeping_arguments(run, *sampler.draw_arguments())
        inputs = {name: value.copy() for name, value in trajectory.inputs.items()}
        assert clrs.execute(algorithm, inputs).equals(trajectory)
        assert_probes(inputs, trajectory.inputs)
        without_pos = {name: value for name, value in inputs.items() if name != "pos"}
        assert clrs.execute(algorithm, without_pos).equals(trajectory)


@pytest.mark.parametrize("algorithm", clrs.FAMILIES[clrs.Family.GRAPHS])
@pytest.mark.parametrize("change", ["a missing diagonal entry", "an extra off-diagonal edge"])
def test_execute_rejects_an_adj_that_disagrees_with_A(algorithm, change):
    inputs = clrs.sample(algorithm, size=6, seed=0, p=(0.3,))[0].inputs
    A, adj = inputs["A"], inputs["adj"].copy()
    if change == "a missing diagonal entry":
        i = j = 1
    else:
        i, j = np.argwhere((A == 0) & ~np.eye(len(A), dtype=bool))[0]
    assert adj[i, j] == (i == j)
    adj[i, j] = 1 - adj[i, j]
    message = f"{algorithm}: input probe 'adj' must be the edge mask of A, (A + I) != 0, "
    with pytest.raises(ValueError, match=re.escape(message) + rf".*differs at \[{i}, {j}\]"):
        clrs.execute(algorithm, {**inputs, "adj": adj})


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
        ("quicksort", {"key": [0.1]}, "quicksort needs at least 2 keys, got 1"),
    ],
)
def test_bad_inputs_are_clear_value_errors(algorithm, inputs, message):
    with pytest.raises(ValueError, match=message):
        clrs.execute(algorithm, inputs)


def test_a_trajectory_of_an_unknown_algorithm_is_a_clear_error():
    from transnar.clrs.trajectory import Trajectory

    with pytest.raises(ValueError, match="did you mean 'bfs'"):
        Trajectory("bfz", {}, {}, {})
