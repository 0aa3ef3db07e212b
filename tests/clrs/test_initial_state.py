"""The state of an algorithm before its first step (:func:`transnar.clrs.initial_state`)."""

from __future__ import annotations

import numpy as np
import pytest

from transnar import clrs
from transnar.clrs.probing import ProbeRecorder
from transnar.nar.features import Features


def _refuse(*args, **kwargs):
    raise AssertionError("the algorithm ran to its end")


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_the_initial_state_is_the_run_s_first_step(algorithm, monkeypatch):
    instances = clrs.sample(algorithm, 6, 0, 2) + clrs.sample(algorithm, 9, 1, 1)
    runs = [clrs.execute(algorithm, t.inputs) for t in instances]
    monkeypatch.setattr(ProbeRecorder, "record_outputs", _refuse)
    for trajectory, run in zip(instances, runs, strict=True):
        state = clrs.initial_state(algorithm, trajectory.inputs)
        assert state.algorithm == algorithm and state.outputs == {} and state.length == 1
        assert state.inputs.keys() == run.inputs.keys()
        for name, value in state.inputs.items():
            assert value.dtype == run.inputs[name].dtype
            np.testing.assert_array_equal(value, run.inputs[name])
        assert state.hints.keys() == run.hints.keys()
        for name, value in state.hints.items():
            # values, not dtypes: a hint may change dtype later (the DFS ``time``
            # starts as the int 0), which the first step cannot know
            assert value.shape == run.hints[name][:1].shape
            np.testing.assert_array_equal(value, run.hints[name][:1])


def test_the_initial_state_feeds_the_nar():
    states = [clrs.initial_state("bfs", t.inputs) for t in clrs.sample("bfs", 5, 0, 3)]
    features = Features.from_trajectories(states)
    assert features.outputs == {} and features.max_length == 1
    assert features.lengths.tolist() == [1, 1, 1]
    sort = clrs.initial_state("insertion_sort", {"key": [0.3, 0.1, 0.2]})
    assert Features.from_trajectories([sort]).hints["pred_h"].shape == (1, 1, 3)


def test_the_initial_state_validates_and_keeps_pos():
    with pytest.raises(ValueError, match="missing input"):
        clrs.initial_state("bfs", {"A": np.eye(3)})
    with pytest.raises(ValueError, match="unknown algorithm"):
        clrs.initial_state("bsf", {"key": [1.0]})
    pos = np.array([0.1, 0.4, 0.9])
    state = clrs.initial_state("insertion_sort", {"key": [0.3, 0.1, 0.2], "pos": pos})
    np.testing.assert_array_equal(state.inputs["pos"], pos)
    # outside initial_state, recorders run to the end again
    assert clrs.execute("insertion_sort", {"key": [0.3, 0.1, 0.2]}).length > 1
