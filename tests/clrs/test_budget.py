"""The bound on a CLRS-Text answer's length (:mod:`transnar.clrs.text.budget`)."""

from __future__ import annotations

import numpy as np
import pytest

from transnar import clrs
from transnar.clrs.bounds import length_bound
from transnar.clrs.specs import Type
from transnar.clrs.text import (
    FLOAT_FORMATS,
    answer_length_bound,
    format_example,
    question_answer_bound,
)
from transnar.clrs.text.formatting import SEARCH_TRACES, output_names, trace_hints
from transnar.clrs.trajectory import Trajectory

SIZES = (4, 8, 12, 16)
SEEDS = (0, 1)


def _instances(algorithm: str, size: int) -> list[Trajectory]:
    return [t for seed in SEEDS for t in clrs.sample(algorithm, size, seed, 2, truncate_decimals=3)]


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_the_bound_holds_and_is_not_loose(algorithm):
    for size in SIZES:
        instances = _instances(algorithm, size)
        for use_hints in (False, True):
            for float_format in FLOAT_FORMATS:
                lengths = [len(format_example(t, use_hints, float_format)[1]) for t in instances]
                bounds = [
                    answer_length_bound(algorithm, t.inputs, use_hints, float_format)
                    for t in instances
                ]
                where = (algorithm, size, use_hints, float_format)
                assert all(n <= b for n, b in zip(lengths, bounds, strict=True)), where
                longest = max(lengths)
                if use_hints and any(t.length > 2 for t in instances):
                    # the answer grows with the steps, bounded by length_bound
                    steps = length_bound(algorithm, instances[0].num_nodes)
                    longest *= steps / max(t.length for t in instances)
                assert max(bounds) <= 3 * longest + 8, where


def test_answers_hold_no_floats_but_the_sorted_keys():
    """The bound takes floats at their widest; no answer shows one, except the
    sorting output, which lists the input keys (measured from their text)."""
    for algorithm, spec in clrs.SPECS.items():
        names = output_names(spec, True)
        shown = {*spec.outputs, *(shown for _, shown in trace_hints(spec, names))}
        if algorithm in SEARCH_TRACES:
            shown |= set(names)
        assert all(spec[name].type is not Type.SCALAR for name in shown), algorithm


@pytest.mark.parametrize("algorithm", ["insertion_sort", "bfs", "lcs_length", "binary_search"])
@pytest.mark.parametrize("use_hints", [False, True])
def test_the_bound_reads_the_inputs_only(algorithm, use_hints):
    trajectory = clrs.sample(algorithm, 7, 3, truncate_decimals=3)[0]
    bound = answer_length_bound(algorithm, trajectory.inputs, use_hints)
    altered = Trajectory(
        algorithm,
        trajectory.inputs,
        {k: np.zeros_like(v) for k, v in trajectory.outputs.items()},
        {k: np.zeros_like(v[:1]) for k, v in trajectory.hints.items()},
    )
    assert answer_length_bound(algorithm, altered.inputs, use_hints) == bound
    bare = {k: v for k, v in trajectory.inputs.items() if k != "pos"}
    assert answer_length_bound(algorithm, bare, use_hints) == bound
    question, _ = format_example(trajectory, use_hints)
    assert question_answer_bound(question, "default") == bound
    assert question_answer_bound(question) == max(
        answer_length_bound(algorithm, trajectory.inputs, use_hints, f) for f in FLOAT_FORMATS
    )


def test_the_sorting_bound_is_the_keys_text():
    keys = np.array([0.5, 0.25, 0.125, 1.0])
    # "[0.125 0.25 0.5 1.0]" and the blank line
    assert answer_length_bound("insertion_sort", {"key": keys}) == len("[0.125 0.25 0.5 1.0]") + 2
    assert answer_length_bound("insertion_sort", {"key": keys}, float_format="legacy") == len(
        "[0.125 0.25 0.5 1]\n\n"
    )


def test_bad_arguments_fail():
    keys = {"key": np.array([0.5, 0.25])}
    with pytest.raises(ValueError, match="float_format"):
        answer_length_bound("insertion_sort", keys, float_format="short")
    with pytest.raises(ValueError, match="unknown algorithm"):
        answer_length_bound("insertion_srot", keys)
    with pytest.raises(ValueError, match="missing input"):
        answer_length_bound("bfs", keys)
