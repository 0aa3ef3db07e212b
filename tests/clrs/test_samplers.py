"""Samplers: determinism, independence from global random state, distributions, options."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from transnar import clrs
from transnar.clrs.algorithms.geometry import collinear_triple
from transnar.clrs.samplers import build_sampler, truncate


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_same_seed_same_trajectories_whatever_the_global_state(algorithm):
    np.random.seed(47)
    first = clrs.sample(algorithm, size=7, seed=11, count=3)
    np.random.seed(48)
    np.random.uniform(size=100)
    second = clrs.sample(algorithm, size=7, seed=11, count=3)
    assert all(a.equals(b) for a, b in zip(first, second, strict=True))
    other = clrs.sample(algorithm, size=7, seed=12, count=3)
    assert not all(a.equals(b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize(
    ("size", "seed", "truncate_decimals"), [(6, 0, 3), (7, 5, None), (8, 0, None), (9, 1, None)]
)
@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_samples_satisfy_the_spec(algorithm, size, seed, truncate_decimals):
    for trajectory in clrs.sample(
        algorithm, size, seed, count=5, truncate_decimals=truncate_decimals
    ):
        clrs.check_trajectory(trajectory)


def test_sample_is_a_stream_of_draws():
    sampler = build_sampler("bfs", 8, seed=5)
    drawn = list(itertools.islice(sampler, 4))
    assert all(a.equals(b) for a, b in zip(drawn, clrs.sample("bfs", 8, 5, count=4), strict=True))


def test_truncation_truncates_towards_zero():
    np.testing.assert_array_equal(truncate(np.array([0.12399, -0.12399]), 3), [0.123, -0.123])
    assert truncate(0.9999, 2) == 0.99 and isinstance(truncate(0.9999, 2), float)
    np.testing.assert_array_equal(truncate(np.array([3, 4]), 3), [3, 4])
    assert truncate(0.12345, None) == 0.12345
    for trajectory in clrs.sample("dijkstra", 8, seed=1, count=5, truncate_decimals=3):
        weights = trajectory.inputs["A"]
        np.testing.assert_array_equal(weights, np.trunc(weights * 1000) / 1000)


def test_key_distributions():
    keys = np.concatenate([t.inputs["key"] for t in clrs.sample("quicksort", 16, 0, 50)])
    assert keys.min() >= 0 and keys.max() < 1 and abs(keys.mean() - 0.5) < 0.05
    keys = np.concatenate(
        [t.inputs["key"] for t in clrs.sample("find_maximum_subarray_kadane", 16, 0, 50)]
    )
    assert keys.min() >= -1 and keys.max() < 1 and abs(keys.mean()) < 0.1
    for t in clrs.sample("binary_search", 10, 0, 10):
        assert (np.diff(t.inputs["key"]) >= 0).all() and 0 <= t.inputs["target"] < 1


def test_task_deadlines_and_activity_intervals():
    for t in clrs.sample("task_scheduling", 7, 0, 20):
        assert set(t.inputs["d"].tolist()) <= set(range(1, 8))
    for t in clrs.sample("activity_selector", 7, 0, 20):
        assert (t.inputs["s"] <= t.inputs["f"]).all()


@pytest.mark.parametrize(("size", "needle"), [(4, 1), (5, 1), (10, 2), (20, 4)])
def test_matcher_embeds_the_needle(size, needle):
    for t in clrs.sample("kmp_matcher", size, seed=2, count=10):
        letters = t.inputs["key"].argmax(-1)
        assert t.inputs["string"].tolist() == [0] * (size - needle) + [1] * needle
        haystack, pattern = letters[: size - needle], letters[size - needle :]
        windows = [tuple(haystack[i : i + needle]) for i in range(size - 2 * needle + 1)]
        assert tuple(pattern) in windows


def test_matcher_random_needle_length():
    lengths = {
        int(t.inputs["string"].sum())
        for t in clrs.sample("naive_string_matcher", 20, 0, 60, length_needle=-8)
    }
    assert lengths <= set(range(1, 9)) and len(lengths) > 4


def test_segments_intersect_half_the_time():
    outcomes = [int(t.outputs["intersect"]) for t in clrs.sample("segments_intersect", 4, 0, 200)]
    assert 70 < sum(outcomes) < 130


def test_hull_points_lie_in_the_disk_without_collinear_triples():
    for t in clrs.sample("graham_scan", 12, seed=4, count=10, truncate_decimals=1):
        x, y = t.inputs["x"], t.inputs["y"]
        assert (x**2 + y**2 <= 4 + 1e-9).all()
        assert collinear_triple(x, y) is None


def test_collinearity_check():
    assert collinear_triple(np.array([0.0, 5.0, 1.0, 2.0]), np.array([0.0, 0.0, 1.0, 2.0])) == (
        0,
        2,
        3,
    )
    assert collinear_triple(np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])) is None


def test_graph_samplers():
    for t in clrs.sample("bfs", 10, seed=0, count=10):
        graph = t.inputs["A"]
        np.testing.assert_array_equal(graph, graph.T)
        assert graph.dtype.kind == "i"
    weighted = [t.inputs["A"] for t in clrs.sample("floyd_warshall", 10, seed=0, count=10)]
    assert all((w == w.T).all() for w in weighted)
    nonzero = np.concatenate([w[w > 0] for w in weighted])
    assert nonzero.min() >= np.sqrt(1e-3) and nonzero.max() <= np.sqrt(1 + 1e-3)
    assert any(np.diag(t.inputs["A"]).any() for t in clrs.sample("dfs", 10, 0, 10))  # self-loops
    for t in clrs.sample("topological_sort", 10, seed=0, count=10):
        graph = t.inputs["A"]
        reach = graph.copy()
        for _ in range(10):
            reach = np.minimum(1, reach + reach @ graph)
        assert not np.diag(reach).any()  # acyclic


def test_edge_probability_option():
    dense = np.mean([t.inputs["A"].mean() for t in clrs.sample("dfs", 12, 0, 30, p=(0.9,))])
    sparse = np.mean([t.inputs["A"].mean() for t in clrs.sample("dfs", 12, 0, 30, p=[0.1])])
    assert dense > 0.8 and sparse < 0.2


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="unknown algorithm"):
        clrs.sample("bogosort", 4, 0)
    with pytest.raises(ValueError, match="unknown sampler option"):
        clrs.sample("bfs", 4, 0, q=0.5)
    with pytest.raises(ValueError, match="size of bfs must be"):
        clrs.sample("bfs", 0, 0)
    with pytest.raises(ValueError, match="seed must be"):
        clrs.sample("bfs", 4, -1)
    with pytest.raises(ValueError, match="count must be"):
        clrs.sample("bfs", 4, 0, count=-2)
    with pytest.raises(ValueError, match="integer"):
        clrs.sample("bfs", 4.5, 0)
    with pytest.raises(ValueError, match="does not fit"):
        clrs.sample("kmp_matcher", 6, 0, length_needle=3)


@pytest.mark.parametrize(
    ("algorithm", "options", "message"),
    [
        ("lcs_length", {"chars": 5}, "option chars of lcs_length must be in [1, 4], got 5"),
        ("kmp_matcher", {"chars": 0}, "option chars of kmp_matcher must be in [1, 4]"),
        ("lcs_length", {"length_2": 0}, "option length_2 of lcs_length must be >= 1"),
        ("bfs", {"p": 0.3}, "option p of bfs must be a non-empty list"),
        ("bfs", {"p": ()}, "option p of bfs must be a non-empty list"),
        ("dijkstra", {"p": (0.5, 1.5)}, "edge probabilities in [0, 1]"),
        ("task_scheduling", {"max_deadline": 0}, "option max_deadline of task_scheduling"),
        ("segments_intersect", {"low": 0.5, "high": 0.5}, "low < high, got low=0.5, high=0.5"),
        ("insertion_sort", {"low": "a"}, "options low and high of insertion_sort must be"),
        ("graham_scan", {"radius": 0}, "option radius of graham_scan must be a number > 0"),
        ("strongly_connected_components", {"k": 0}, "option k of strongly_connected_"),
    ],
)
def test_bad_option_values_are_one_clear_error_before_any_draw(algorithm, options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build_sampler(algorithm, 8, 0, **options)


# --- skipping draws: jumps where every draw takes the same random words ------------

JUMPING = {
    "insertion_sort",
    "bubble_sort",
    "heapsort",
    "quicksort",
    "minimum",
    "binary_search",
    "quickselect",
    "find_maximum_subarray_kadane",
    "activity_selector",
    "matrix_chain_order",
    "lcs_length",
    "optimal_bst",
}


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_skip_lands_where_drawing_would(algorithm):
    for size, draws in ((4, 3), (9, 70), (16, 41)):  # across regenerations of the state
        skipped = build_sampler(algorithm, size, seed=3, truncate_decimals=3)
        drawn = build_sampler(algorithm, size, seed=3, truncate_decimals=3)
        skipped.skip(draws)
        for _ in range(draws):
            drawn.draw_arguments()
        assert skipped.draw().equals(drawn.draw()), (algorithm, size, draws)
    assert build_sampler(algorithm, 8, seed=0).can_jump is (algorithm in JUMPING)


@pytest.mark.parametrize(
    ("options", "jumps"),
    [({"chars": 2, "length_2": 3}, True), ({"chars": 3}, False), ({"chars": 1}, True)],
)
def test_lcs_jumps_when_no_letter_is_rejected(options, jumps):
    skipped = build_sampler("lcs_length", 9, seed=1, **options)
    drawn = build_sampler("lcs_length", 9, seed=1, **options)
    skipped.skip(50)
    for _ in range(50):
        drawn.draw_arguments()
    assert skipped.can_jump is jumps
    for a, b in zip(skipped.draw_arguments(), drawn.draw_arguments(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_wrong_word_count_is_never_used(monkeypatch):
    sampler = build_sampler("minimum", 6, seed=2)
    monkeypatch.setattr(type(sampler), "words_per_draw", lambda self: 2 * self.size + 1)
    reference = build_sampler("minimum", 6, seed=2)
    assert not sampler.can_jump  # checked against a real draw: falls back to drawing
    sampler.skip(5)
    for _ in range(5):
        reference.draw_arguments()
    assert sampler.draw().equals(reference.draw())


def test_jumps_far_are_fast_and_exact():
    import time

    from transnar.clrs.samplers import _jump

    def run_generator(rng, words):
        """``rng`` after ``words`` outputs of the generator itself."""
        state = rng.get_state()
        generator = np.random.MT19937()
        generator.state = {"bit_generator": "MT19937", "state": {"key": state[1], "pos": state[2]}}
        generator.random_raw(words, output=False)
        after = generator.state["state"]
        rng.set_state(("MT19937", after["key"], after["pos"], 0, 0.0))

    words = _jump.DIRECT_WORDS + 12_345  # the polynomial path, against the generator
    for used in (0, 5):  # a fresh state (its words to be generated), one in the middle
        jumped, generated = np.random.RandomState(9), np.random.RandomState(9)
        jumped.uniform(size=used)
        generated.uniform(size=used)
        _jump.jump(jumped, words)
        _jump.jump(jumped, words + 1)  # from the state a jump leaves
        run_generator(generated, 2 * words + 1)
        np.testing.assert_array_equal(jumped.uniform(size=10), generated.uniform(size=10))

    sampler = build_sampler("insertion_sort", 16, seed=3)
    started = time.perf_counter()
    sampler.skip(10**15)
    assert time.perf_counter() - started < 10  # about 0.1 s (plus 0.2 s once per process)
    with pytest.raises(ValueError, match="draws must be"):
        sampler.skip(-1)
