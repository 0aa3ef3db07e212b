"""Dynamic programming algorithms: hand-checked traces, properties, edge cases.

The golden cases spell out every probe; their values were worked out by hand
from the algorithms' definitions (the reference's round-by-round fixed point
for ``matrix_chain_order`` and ``lcs_length``). The property tests compare the
output tables with direct textbook dynamic programs.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from tests.clrs.helpers import assert_probes, run_keeping_arguments
from transnar import clrs
from transnar.clrs.algorithms.dynamic_programming import (
    lcs_length,
    matrix_chain_order,
    optimal_bst,
)

MASKED = -1


def _upper(n: int, entries: dict[tuple[int, int], float]) -> np.ndarray:
    """An ``(n, n)`` table of zeros with the given entries."""
    table = np.zeros((n, n))
    for (i, j), value in entries.items():
        table[i, j] = value
    return table


def _pair_classes(classes: list[list[int]]) -> np.ndarray:
    """Edge categorical with 3 arrows and a 4th class: ``MASKED`` marks the masked edges."""
    classes = np.array(classes)
    probe = np.zeros((*classes.shape, 4))
    for (u, v), c in np.ndenumerate(classes):
        if c == MASKED:
            probe[u, v, 3] = -1
        else:
            probe[u, v, c] = 1
    return probe


# --- matrix_chain_order -------------------------------------------------------


def test_matrix_chain_order_golden():
    # A1..A4 are 1x2, 2x3, 3x4, 4x5. Round 1 fills the pairs, round 2 the
    # triples and (1, 4) from its only split k = 2 (6 + 60 + 15 = 81); round 3
    # improves (1, 4) with k = 1 (0 + 64 + 10 = 74), then k = 3 (18 + 0 + 20 =
    # 38); round 4 changes nothing.
    p = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    trajectory = run_keeping_arguments(matrix_chain_order, p)
    assert trajectory.length == 4
    np.testing.assert_array_equal(trajectory.inputs["pos"], [0.0, 0.2, 0.4, 0.6, 0.8])
    np.testing.assert_array_equal(trajectory.inputs["p"], p)
    pairs = {(1, 2): 6, (2, 3): 24, (3, 4): 60}
    triples = {(1, 3): 18, (2, 4): 64}
    splits_1 = {(1, 2): 1, (2, 3): 2, (3, 4): 3}
    splits_2 = {**splits_1, (1, 3): 2, (2, 4): 3, (1, 4): 2}
    splits_3 = {**splits_2, (1, 4): 3}
    diagonal = {(i, i): 1 for i in range(1, 5)}
    known_1 = {**diagonal, **dict.fromkeys(pairs, 1)}
    known_2 = {**known_1, **dict.fromkeys([*triples, (1, 4)], 1)}
    assert_probes(
        trajectory.hints,
        {
            "pred_h": np.array([[0, 0, 1, 2, 3]] * 4),
            "m": np.stack(
                [
                    _upper(5, {}),
                    _upper(5, pairs),
                    _upper(5, {**pairs, **triples, (1, 4): 81}),
                    _upper(5, {**pairs, **triples, (1, 4): 38}),
                ]
            ),
            "s_h": np.stack(
                [_upper(5, {}), _upper(5, splits_1), _upper(5, splits_2), _upper(5, splits_3)]
            ),
            "msk": np.stack(
                [_upper(5, diagonal), _upper(5, known_1), _upper(5, known_2), _upper(5, known_2)]
            ),
        },
    )
    assert_probes(trajectory.outputs, {"s": _upper(5, splits_3)})
    assert trajectory.outputs["s"].dtype == np.float64


def _optimal_chain_cost(p: np.ndarray) -> float:
    """Textbook bottom-up MATRIX-CHAIN-ORDER: the least cost of A1..A(N-1)."""
    n = len(p) - 1
    m = [[0.0] * (n + 1) for _ in range(n + 1)]
    for length in range(2, n + 1):
        for i in range(1, n - length + 2):
            j = i + length - 1
            m[i][j] = min(m[i][k] + m[k + 1][j] + p[i - 1] * p[k] * p[j] for k in range(i, j))
    return m[1][n]


def _chain_cost_of_splits(p: np.ndarray, s: np.ndarray) -> float:
    @functools.cache
    def cost(i: int, j: int) -> float:
        if i == j:
            return 0.0
        k = int(s[i, j])
        assert i <= k < j
        return cost(i, k) + cost(k + 1, j) + p[i - 1] * p[k] * p[j]

    return cost(1, len(p) - 1)


@pytest.mark.parametrize("seed", range(6))
def test_matrix_chain_splits_are_optimal(seed):
    rng = np.random.RandomState(seed)
    p = rng.uniform(size=rng.randint(3, 12))
    s = matrix_chain_order(p).outputs["s"]
    assert _chain_cost_of_splits(p, s) == pytest.approx(_optimal_chain_cost(p), rel=1e-12)


def test_matrix_chain_order_smallest_sizes():
    # One matrix (N = 2), or none (N = 1): a single round changes nothing.
    for p in (np.array([0.5, 0.25]), np.array([0.5])):
        trajectory = matrix_chain_order(p)
        assert trajectory.length == 1
        np.testing.assert_array_equal(trajectory.outputs["s"], np.zeros((len(p), len(p))))
        clrs.check_trajectory(trajectory)


def test_matrix_chain_order_ties_take_the_first_split():
    # All dimensions 1: every split of (1, 3) costs 2, so k = 1 wins.
    s = matrix_chain_order(np.ones(4)).outputs["s"]
    np.testing.assert_array_equal(s, _upper(4, {(1, 2): 1, (2, 3): 2, (1, 3): 1}))


# --- lcs_length ---------------------------------------------------------------


def test_lcs_length_golden_wavefront():
    # x = 0 1 2 on nodes 0..2, y = 3 1 on nodes 3..4; only x[1] == y[1].
    # Round 1: (1, 1) matches (length 1, diagonal); (2, 1) ties 0 = 0, up.
    # Round 2: (2, 1) takes length 1 from above. Round 3 changes nothing.
    trajectory = run_keeping_arguments(lcs_length, np.array([0, 1, 2]), np.array([3, 1]))
    assert trajectory.length == 3
    assert_probes(
        trajectory.inputs,
        {
            "string": np.array([0.0, 0.0, 0.0, 1.0, 1.0]),
            "pos": np.array([0.0, 1 / 3, 2 / 3, 0.0, 0.5]),
            "key": np.eye(4)[[0, 1, 2, 3, 1]],
        },
    )
    X = MASKED
    before = [[X, X, X, 1, 1], [X, X, X, 1, 0], [X, X, X, 1, 0], [X] * 5, [X] * 5]
    after = [[X, X, X, 1, 1], [X, X, X, 1, 0], [X, X, X, 1, 1], [X] * 5, [X] * 5]

    def lengths(c_11: float, c_21: float) -> np.ndarray:
        return _upper(5, {(1, 4): c_11, (2, 4): c_21})

    assert_probes(
        trajectory.hints,
        {
            "pred_h": np.array([[0, 0, 1, 3, 3]] * 3),
            "b_h": np.stack([_pair_classes(before), _pair_classes(after), _pair_classes(after)]),
            "c": np.stack([lengths(0, 0), lengths(1, 0), lengths(1, 1)]),
        },
    )
    assert_probes(trajectory.outputs, {"b": _pair_classes(after)})
    assert trajectory.outputs["b"].dtype == np.float64


def test_lcs_length_golden_borders():
    # x = 1 0, y = 0 1 0. Row 0 (x[0] = 1): up before the match at y[1], then
    # diagonal, then left. Column 0 (y[0] = 0): up, then diagonal at x[1].
    # Round 1: (1, 1) ties 1 = 1, up; (1, 2) matches, 1 + 1 = 2.
    trajectory = run_keeping_arguments(lcs_length, np.array([1, 0]), np.array([0, 1, 0]))
    assert trajectory.length == 2
    X = MASKED
    before = [[X, X, 1, 0, 2], [X, X, 0, 0, 0], [X] * 5, [X] * 5, [X] * 5]
    after = [[X, X, 1, 0, 2], [X, X, 0, 1, 0], [X] * 5, [X] * 5, [X] * 5]
    assert_probes(
        trajectory.hints,
        {
            "pred_h": np.array([[0, 0, 2, 2, 3]] * 2),
            "b_h": np.stack([_pair_classes(before), _pair_classes(after)]),
            "c": np.stack(
                [
                    _upper(5, {(0, 3): 1, (0, 4): 1, (1, 2): 1}),
                    _upper(5, {(0, 3): 1, (0, 4): 1, (1, 2): 1, (1, 3): 1, (1, 4): 2}),
                ]
            ),
        },
    )
    assert_probes(trajectory.outputs, {"b": _pair_classes(after)})


def _lcs_length_direct(x: list[int], y: list[int]) -> int:
    c = [[0] * (len(y) + 1) for _ in range(len(x) + 1)]
    for i, a in enumerate(x, 1):
        for j, b in enumerate(y, 1):
            c[i][j] = c[i - 1][j - 1] + 1 if a == b else max(c[i - 1][j], c[i][j - 1])
    return c[-1][-1]


def _follow_arrows(x: np.ndarray, y: np.ndarray, b: np.ndarray) -> list[int]:
    """The common subsequence that the output arrows spell out, from the last cell."""
    n = len(x)
    arrows = b[:n, n:].argmax(-1)
    i, j = len(x) - 1, len(y) - 1
    letters = []
    while i >= 0 and j >= 0:
        if arrows[i, j] == 0:
            assert x[i] == y[j]
            letters.append(int(x[i]))
            i, j = i - 1, j - 1
        elif arrows[i, j] == 1:
            i -= 1
        else:
            j -= 1
    return letters[::-1]


def _is_subsequence(letters: list[int], string: np.ndarray) -> bool:
    rest = iter(string.tolist())
    return all(letter in rest for letter in letters)


@pytest.mark.parametrize("seed", range(8))
def test_lcs_arrows_spell_a_longest_common_subsequence(seed):
    rng = np.random.RandomState(seed)
    x, y = rng.randint(4, size=rng.randint(1, 12)), rng.randint(4, size=rng.randint(1, 12))
    letters = _follow_arrows(x, y, lcs_length(x, y).outputs["b"])
    assert len(letters) == _lcs_length_direct(x.tolist(), y.tolist())
    assert _is_subsequence(letters, x) and _is_subsequence(letters, y)


def test_lcs_length_smallest_and_repeated():
    for x, y, expected in (([2], [2], 1), ([2], [3], 0), ([1, 1, 1], [1, 1], 2)):
        x, y = np.array(x), np.array(y)
        trajectory = lcs_length(x, y)
        clrs.check_trajectory(trajectory)
        assert len(_follow_arrows(x, y, trajectory.outputs["b"])) == expected


# --- optimal_bst --------------------------------------------------------------


def test_optimal_bst_golden():
    # In sixteenths: keys p = 3 1 2, gaps q = 1 2 1 1. Size 1: e = 9, 7, 6.
    # Size 2: (0, 2) costs 16 (root 0) or 18; (1, 3) ties at 15, root 1 wins.
    # Size 3: roots 0, 1, 2 cost 27, 26, 28.
    u = 1 / 16
    p, q = np.array([3.0, 1.0, 2.0]) * u, np.array([1.0, 2.0, 1.0, 1.0]) * u
    trajectory = run_keeping_arguments(optimal_bst, p, q)
    assert trajectory.length == 4
    assert_probes(
        trajectory.inputs,
        {
            "pos": np.array([0.0, 0.25, 0.5, 0.75]),
            "p": np.array([3.0, 1.0, 2.0, 0.0]) * u,
            "q": q,
        },
    )
    diagonal = {(0, 0): 1, (1, 1): 2, (2, 2): 1, (3, 3): 1}
    e1 = {**diagonal, (0, 1): 9, (1, 2): 7, (2, 3): 6}
    e2 = {**e1, (0, 2): 16, (1, 3): 15}
    e3 = {**e2, (0, 3): 26}
    w1 = {**diagonal, (0, 1): 6, (1, 2): 4, (2, 3): 4}
    w2 = {**w1, (0, 2): 8, (1, 3): 7}
    w3 = {**w2, (0, 3): 11}
    root1 = {(0, 1): 0, (1, 2): 1, (2, 3): 2}
    root2 = {**root1, (0, 2): 0, (1, 3): 1}
    root3 = {**root2, (0, 3): 1}
    known = [dict.fromkeys(table, 1) for table in (diagonal, e1, e2, e3)]
    assert_probes(
        trajectory.hints,
        {
            "pred_h": np.array([[0, 0, 1, 2]] * 4),
            "root_h": np.stack([_upper(4, t) for t in ({}, root1, root2, root3)]),
            "e": np.stack([_upper(4, t) * u for t in (diagonal, e1, e2, e3)]),
            "w": np.stack([_upper(4, t) * u for t in (diagonal, w1, w2, w3)]),
            "msk": np.stack([_upper(4, t) for t in known]),
        },
    )
    assert_probes(trajectory.outputs, {"root": _upper(4, root3)})
    assert trajectory.outputs["root"].dtype == np.float64


def _optimal_bst_cost_direct(p: np.ndarray, q: np.ndarray) -> float:
    """Textbook OPTIMAL-BST (1-based keys): the least expected search cost."""
    n = len(p)
    e = {(i, i - 1): q[i - 1] for i in range(1, n + 2)}
    w = dict(e)
    for length in range(1, n + 1):
        for i in range(1, n - length + 2):
            j = i + length - 1
            w[i, j] = w[i, j - 1] + p[j - 1] + q[j]
            e[i, j] = min(e[i, r - 1] + e[r + 1, j] for r in range(i, j + 1)) + w[i, j]
    return e[1, n]


def _expected_cost_of_roots(p: np.ndarray, q: np.ndarray, root: np.ndarray) -> float:
    """Expected search cost of the tree the root table describes, from node depths."""
    total = 0.0

    def visit(i: int, j: int, depth: int) -> None:
        # Keys i..j-1 (0-based); j == i is the gap i, a leaf.
        nonlocal total
        if i == j:
            total += (depth + 1) * q[i]
            return
        r = int(root[i, j])
        assert i <= r < j
        total += (depth + 1) * p[r]
        visit(i, r, depth + 1)
        visit(r + 1, j, depth + 1)

    visit(0, len(p), 0)
    return total


@pytest.mark.parametrize("seed", range(6))
def test_optimal_bst_roots_are_optimal(seed):
    rng = np.random.RandomState(seed)
    n = rng.randint(1, 10)
    probabilities = rng.uniform(size=2 * n + 1)
    probabilities /= probabilities.sum()
    p, q = probabilities[:n], probabilities[n:]
    root = optimal_bst(p, q).outputs["root"]
    assert _expected_cost_of_roots(p, q, root) == pytest.approx(
        _optimal_bst_cost_direct(p, q), rel=1e-12
    )


def test_optimal_bst_one_key():
    trajectory = optimal_bst(np.array([0.5]), np.array([0.25, 0.25]))
    assert trajectory.length == 2
    np.testing.assert_array_equal(trajectory.hints["e"][-1], [[0.25, 1.5], [0.0, 0.25]])
    np.testing.assert_array_equal(trajectory.outputs["root"], np.zeros((2, 2)))


# --- the registry: arguments from input probes --------------------------------


@pytest.mark.parametrize(
    "string",
    [[0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 0, 1], [1, 1, 0, 0]],
    ids=["no second", "no first", "interleaved", "reversed"],
)
def test_lcs_execute_rejects_bad_string_masks(string):
    key = np.eye(4)[[0, 1, 2, 3]]
    with pytest.raises(ValueError, match="'string' input"):
        clrs.execute("lcs_length", {"string": string, "key": key})


def test_optimal_bst_execute_rejects_nonzero_padding():
    with pytest.raises(ValueError, match="padding"):
        clrs.execute("optimal_bst", {"p": [0.2, 0.3, 0.1], "q": [0.1, 0.2, 0.1]})
