"""String matchers: hand-checked traces, first occurrences, edge cases.

The haystack sits on nodes ``0..n-1`` and the needle on ``n..n+m-1``. The
golden cases spell out every probe, worked out by hand from the algorithms'
definitions.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.clrs.helpers import assert_probes, one_hot, run_keeping_arguments
from transnar import clrs
from transnar.clrs.algorithms.strings import kmp_matcher, naive_string_matcher

MATCHERS = {"naive_string_matcher": naive_string_matcher, "kmp_matcher": kmp_matcher}


def test_string_inputs_layout():
    trajectory = naive_string_matcher(np.array([0, 0, 1]), np.array([0, 1]))
    assert_probes(
        trajectory.inputs,
        {
            "string": np.array([0.0, 0.0, 0.0, 1.0, 1.0]),
            "pos": np.array([0.0, 1 / 3, 2 / 3, 0.0, 0.5]),
            "key": np.eye(4)[[0, 0, 1, 0, 1]],
        },
    )
    assert all(value.dtype == np.float64 for value in trajectory.inputs.values())


def test_naive_string_matcher_golden():
    # T = 0 0 1 (nodes 0..2), P = 0 1 (nodes 3..4). Shift 0: T[0] matches,
    # T[1] does not. Shift 1: T[1] and T[2] match.
    trajectory = naive_string_matcher(np.array([0, 0, 1]), np.array([0, 1]))
    assert_probes(
        trajectory.hints,
        {
            "pred_h": np.array([[0, 0, 1, 3, 3]] * 4),
            "s": one_hot([0, 0, 1, 1], 5),
            "i": one_hot([0, 1, 1, 2], 5),
            "j": one_hot([3, 4, 3, 4], 5),
        },
    )
    assert_probes(trajectory.outputs, {"match": one_hot([1], 5)[0]})


def test_kmp_matcher_golden():
    # T = 0 0 1 (nodes 0..2), P = 0 1 (nodes 3..4).
    # Phase 0: P[1] != P[0], so pi(1) is empty (is_reset).
    # Phase 1: i = 0 matches P[0]; i = 1 fails on P[1], falls back to nothing
    # matched, then matches P[0]; i = 2 matches P[1]: the match starts at 1.
    trajectory = kmp_matcher(np.array([0, 0, 1]), np.array([0, 1]))
    assert trajectory.length == 6
    assert_probes(
        trajectory.hints,
        {
            "pred_h": np.array([[0, 0, 1, 3, 3]] * 6),
            "pi": np.array([[0, 1, 2, 3, 4]] + [[0, 1, 2, 3, 3]] * 5),
            "is_reset": np.array([[0, 0, 0, 1, 0]] + [[0, 0, 0, 1, 1]] * 5),
            "k": one_hot([3] * 6, 5),
            "k_reset": np.array([1, 1, 1, 1, 1, 1]),
            "q": one_hot([4, 4, 3, 3, 3, 3], 5),
            "q_reset": np.array([1, 1, 1, 0, 1, 0]),
            "s": one_hot([0, 0, 0, 0, 0, 1], 5),
            "i": one_hot([0, 0, 0, 1, 1, 2], 5),
            "phase": np.array([0, 0, 1, 1, 1, 1]),
        },
    )
    assert_probes(trajectory.outputs, {"match": one_hot([1], 5)[0]})


def test_kmp_matcher_golden_prefix_fallback():
    # T = 0 0 1 (nodes 0..2), P = 0 0 1 (nodes 3..5).
    # Phase 0: q = 1 extends the border to P[0] (k at node 3, no reset);
    # q = 2 fails on P[1], falls back to nothing (k_reset), fails on P[0]:
    # pi(2) is empty. Phase 1 matches T at once, ending at i = 2.
    trajectory = kmp_matcher(np.array([0, 0, 1]), np.array([0, 0, 1]))
    assert trajectory.length == 7
    assert_probes(
        trajectory.hints,
        {
            "pred_h": np.array([[0, 0, 1, 3, 3, 4]] * 7),
            "pi": np.array(
                [[0, 1, 2, 3, 4, 5]] + [[0, 1, 2, 3, 3, 5]] * 2 + [[0, 1, 2, 3, 3, 3]] * 4
            ),
            "is_reset": np.array([[0, 0, 0, 1, 0, 0]] * 3 + [[0, 0, 0, 1, 0, 1]] * 4),
            "k": one_hot([3] * 7, 6),
            "k_reset": np.array([1, 0, 1, 1, 1, 1, 1]),
            "q": one_hot([4, 4, 5, 5, 3, 3, 4], 6),
            "q_reset": np.array([1, 1, 1, 1, 1, 0, 0]),
            "s": one_hot([0] * 7, 6),
            "i": one_hot([0, 0, 0, 0, 0, 1, 2], 6),
            "phase": np.array([0, 0, 0, 0, 1, 1, 1]),
        },
    )
    assert_probes(trajectory.outputs, {"match": one_hot([0], 6)[0]})


def _prefix_function(needle: list[int]) -> list[int]:
    """Textbook COMPUTE-PREFIX-FUNCTION, 0-based: border lengths of P[:q + 1]."""
    border = [0] * len(needle)
    for q in range(1, len(needle)):
        border[q] = max(
            (b for b in range(1, q + 1) if needle[:b] == needle[q - b + 1 : q + 1]), default=0
        )
    return border


def _match_node(haystack: np.ndarray, needle: np.ndarray) -> int:
    """Start of the first occurrence (``str.find``), or the needle's first node."""
    letters = "ACGT"
    start = "".join(letters[c] for c in haystack).find("".join(letters[c] for c in needle))
    return start if start >= 0 else len(haystack)


def _random_instance(rng: np.random.RandomState, planted: bool):
    n = rng.randint(1, 16)
    m = rng.randint(1, n + 1)
    haystack, needle = rng.randint(2, size=n), rng.randint(2, size=m)
    if planted:
        start = rng.randint(n - m + 1)
        haystack[start : start + m] = needle
    return haystack, needle


@pytest.mark.parametrize("algorithm", MATCHERS)
@pytest.mark.parametrize("seed", range(4))
def test_matchers_find_the_first_occurrence(algorithm, seed):
    rng = np.random.RandomState(seed)
    for planted in (True, False) * 5:
        haystack, needle = _random_instance(rng, planted)
        trajectory = MATCHERS[algorithm](haystack, needle)
        assert trajectory.outputs["match"].argmax() == _match_node(haystack, needle)
        clrs.check_trajectory(trajectory)


@pytest.mark.parametrize("seed", range(4))
def test_kmp_prefix_hints_follow_the_prefix_function(seed):
    rng = np.random.RandomState(seed)
    for _ in range(5):
        haystack, needle = _random_instance(rng, planted=True)
        n, border = len(haystack), _prefix_function(needle.tolist())
        hints = kmp_matcher(haystack, needle).hints
        last_of_phase_0 = np.flatnonzero(hints["phase"] == 0)[-1]
        expected_pi = [n + max(b - 1, 0) for b in border]
        np.testing.assert_array_equal(hints["pi"][last_of_phase_0, n:], expected_pi)
        np.testing.assert_array_equal(
            hints["is_reset"][last_of_phase_0, n:], [1] + [b == 0 for b in border[1:]]
        )


@pytest.mark.parametrize("algorithm", MATCHERS)
@pytest.mark.parametrize(
    ("haystack", "needle", "match"),
    [
        ([2], [2], 0),  # smallest instance
        ([3], [1], 1),  # no occurrence: the needle's first node
        ([1, 2, 3, 0], [0], 3),  # needle of one letter, at the end
        ([1, 1, 1, 2], [2], 3),  # no earlier partial match
        ([0, 0, 0, 0, 1], [0, 0, 1], 2),  # repeated letters, several fallbacks
        ([0, 1, 0, 1, 0, 0], [0, 1, 0, 0], 2),  # overlapping partial matches
        ([2, 3, 2, 3], [2, 3, 2, 3], 0),  # needle as long as the haystack
    ],
)
def test_matcher_edge_cases(algorithm, haystack, needle, match):
    run = MATCHERS[algorithm]
    trajectory = run_keeping_arguments(run, np.array(haystack), np.array(needle))
    np.testing.assert_array_equal(
        trajectory.outputs["match"], one_hot([match], len(haystack) + len(needle))[0]
    )
    clrs.check_trajectory(trajectory)


def test_naive_matcher_records_one_hint_per_comparison_after_a_match():
    # T = 1 1 1 2, P = 2: shifts 0..3, one hint each, no partial matches.
    trajectory = naive_string_matcher(np.array([1, 1, 1, 2]), np.array([2]))
    np.testing.assert_array_equal(trajectory.hints["s"].argmax(-1), [0, 1, 2, 3])
    np.testing.assert_array_equal(trajectory.hints["j"].argmax(-1), [4, 4, 4, 4])


@pytest.mark.parametrize("algorithm", MATCHERS)
def test_execute_rejects_a_needle_longer_than_the_haystack(algorithm):
    inputs = {"string": [0, 1, 1], "key": np.eye(4)[[0, 1, 2]]}
    with pytest.raises(ValueError, match="longer than the haystack"):
        clrs.execute(algorithm, inputs)


@pytest.mark.parametrize("algorithm", MATCHERS)
@pytest.mark.parametrize("string", [[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0]])
def test_execute_rejects_bad_string_masks(algorithm, string):
    with pytest.raises(ValueError, match="'string' input"):
        clrs.execute(algorithm, {"string": string, "key": np.eye(4)[[0, 1, 2]]})


def test_execute_rejects_a_masked_letter():
    key = np.eye(4)[[0, 1, 2]]
    key[1] = [0, 0, -1, 0]
    with pytest.raises(ValueError, match="one-hot letter"):
        clrs.execute("kmp_matcher", {"string": [0, 0, 1], "key": key})
