"""Dynamic programming (CLRS chapter 15): matrix chains, LCS, optimal BSTs.

Each algorithm fills a table indexed by a pair of positions, recorded as edge
probes, with one hint per round of updates. ``pred_h`` is the fixed order of
the positions (of each string, for ``lcs_length``).

Two of them do not fill their table in the textbook's order. The reference
computes ``matrix_chain_order`` and ``lcs_length`` as fixed points: every round
recomputes every entry from the previous round's table, and the run stops at
the first round that changes no value. Those rounds are exactly the hints
recorded, so both are reproduced here, vectorised over the entries of a round
with the same floating-point operations and tie-breaking as the entry-by-entry
loops.
"""

from __future__ import annotations

import numpy as np

from transnar.clrs.algorithms._base import AlgorithmDef, InputProbes
from transnar.clrs.algorithms._strings import (
    pair_categorical,
    pair_table,
    split_strings,
    string_inputs,
    string_predecessors,
)
from transnar.clrs.probing import (
    index_order_predecessors,
    node_positions,
    start_recording,
)
from transnar.clrs.trajectory import Trajectory

# The arrows of the LCS table b (CLRS 15.4); the reference records a fourth,
# masked, class on the edges that are not a pair of positions.
_DIAGONAL, _UP, _LEFT = 0, 1, 2
_NUM_ARROWS = 3

# The initial cost of an optimal BST entry, before its roots are tried.
_BST_INFINITY = 1e9


def matrix_chain_order(p: np.ndarray) -> Trajectory:
    """Matrix-chain multiplication (CLRS 15.2), as a fixed point over rounds.

    Matrix ``A_i`` (``1 <= i < N``) has dimensions ``p[i - 1] x p[i]``;
    ``m[i, j]`` is the cheapest cost of the product ``A_i..A_j`` and ``s[i, j]``
    the split ``k`` that achieves it. Row and column 0 stay 0.

    Every round relaxes each entry ``(i, j)``, ``j > i``, over the splits ``k``
    whose two halves ``(i, k)`` and ``(k + 1, j)`` were known (``msk``) after
    the previous round. A known entry changes only if a split is strictly
    cheaper; an entry becomes known at its first available split. Among equal
    costs the smallest ``k`` wins. The run stops at the first round that
    changes no cost; each round records one hint, taken before it.

    Args:
        p: ``(N,)`` the matrix dimensions.

    Returns:
        The trajectory; the output ``s`` holds the splits (``float64``).
    """
    n = p.shape[0]
    recorder = start_recording("matrix_chain_order", {"pos": node_positions(n), "p": p.copy()})
    pred = index_order_predecessors(n)
    m = np.zeros((n, n))
    s = np.zeros((n, n))
    known = np.zeros((n, n), dtype=bool)
    known[1:, 1:] = np.eye(n - 1, dtype=bool)
    splits = _ChainSplits(p)
    while True:
        recorder.record_hint({"pred_h": pred, "m": m, "s_h": s, "msk": known * 1.0})
        new_m, s, known = splits.relax(m, s, known)
        if np.array_equal(new_m, m):
            break
        m = new_m
    recorder.record_outputs({"s": s})
    return recorder.finish()


class _ChainSplits:
    """The splits of every entry of the matrix-chain table, for vectorised rounds.

    Entry ``(i, j)``, ``1 <= i < j < N``, has the splits ``k = i..j-1``; split
    ``k`` combines entries ``(i, k)`` and ``(k + 1, j)``. The splits are listed
    entry by entry (entries in row-major order, ``k`` increasing), so that
    NumPy's ``reduceat`` reduces over the splits of each entry. Tables are read
    at flat indices ``i * N + j``.
    """

    def __init__(self, p: np.ndarray):
        n = p.shape[0]
        i, j = np.triu_indices(n, k=1)
        i, j = i[i >= 1], j[i >= 1]
        self.entries = i * n + j
        self.counts = j - i
        self.starts = np.cumsum(self.counts) - self.counts
        entry = np.repeat(np.arange(self.counts.shape[0]), self.counts)  # of each split
        i, j = i[entry], j[entry]
        self.k = i + np.arange(entry.shape[0]) - self.starts[entry]
        self.left = i * n + self.k
        self.right = (self.k + 1) * n + j
        self.product_cost = (p[i - 1] * p[self.k]) * p[j]
        self.size = n

    def relax(
        self, m: np.ndarray, s: np.ndarray, known: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One round of :func:`matrix_chain_order`: new ``m``, ``s`` and ``known``.

        A split is valid when both its entries are known. The cost of a split
        is ``(m[i, k] + m[k + 1, j]) + p[i - 1] * p[k] * p[j]``, summed in that
        order; the best split is the first valid one of least cost.
        """
        valid = known.take(self.left) & known.take(self.right)
        cost = (m.take(self.left) + m.take(self.right)) + self.product_cost
        cost[~valid] = np.inf
        best = np.minimum.reduceat(cost, self.starts)
        is_best = valid & (cost == np.repeat(best, self.counts))
        best_k = np.minimum.reduceat(np.where(is_best, self.k, self.size), self.starts)
        reachable = np.logical_or.reduceat(valid, self.starts)
        improved = reachable & (~known.take(self.entries) | (best < m.take(self.entries)))
        updated = self.entries[improved]
        new_m, new_s, new_known = m.copy(), s.copy(), known.copy()
        new_m.flat[updated] = best[improved]
        new_s.flat[updated] = best_k[improved]
        new_known.flat[self.entries[reachable]] = True
        return new_m, new_s, new_known


def lcs_length(x: np.ndarray, y: np.ndarray) -> Trajectory:
    """Length of a longest common subsequence (CLRS 15.4), as a fixed point over rounds.

    Nodes ``0..n-1`` hold ``x`` and nodes ``n..n+m-1`` hold ``y``. ``c[i, j]``
    is the LCS length of ``x[:i + 1]`` and ``y[:j + 1]`` and ``b[i, j]`` its
    arrow (0 diagonal, 1 up, 2 left), both on the edge from node ``i`` to node
    ``n + j``; ``b`` has a fourth class, masked, on every other edge.

    The table has no zero row and column: row and column 0 are set first,
    walking along them. Then every round recomputes each other entry from the
    previous round's ``c``, until a round changes no length; each round
    records one hint, taken before it. Ties go up, as in the textbook.

    Args:
        x: ``(n,)`` the first string, letters in ``0..3``.
        y: ``(m,)`` the second string.

    Returns:
        The trajectory; the output ``b`` holds the final arrows.
    """
    n, m = x.shape[0], y.shape[0]
    recorder = start_recording("lcs_length", string_inputs(x.copy(), y.copy()))
    pred = string_predecessors(n, m)
    equal = x[:, None] == y[None, :]
    c, b = _lcs_borders(equal)
    while True:
        recorder.record_hint(
            {"pred_h": pred, "b_h": pair_categorical(b, _NUM_ARROWS), "c": pair_table(c)}
        )
        new_c, b = _lcs_round(equal, c, b)
        if np.array_equal(new_c, c):
            break
        c = new_c
    recorder.record_outputs({"b": pair_categorical(b, _NUM_ARROWS)})
    return recorder.finish()


def _lcs_borders(equal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tables ``c`` (``float64``) and ``b`` with row and column 0 filled.

    Along row or column 0 the length is 1 from the first equal pair on. An
    equal pair points diagonally; after it, column 0 points up and row 0 left.
    Before it, both point up, even along row 0 (as in the reference). The
    other entries start at 0: length 0, arrow diagonal.
    """
    c = np.zeros(equal.shape)
    c[:, 0] = np.maximum.accumulate(equal[:, 0])
    c[0, :] = np.maximum.accumulate(equal[0, :])
    b = np.full(equal.shape, _DIAGONAL)
    b[:, 0] = np.where(equal[:, 0], _DIAGONAL, _UP)
    b[0, 1:] = np.where(c[0, :-1] == 1, _LEFT, _UP)
    b[0, equal[0, :]] = _DIAGONAL
    return c, b


def _lcs_round(equal: np.ndarray, c: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One round of :func:`lcs_length`: every entry off row and column 0 from ``c``."""
    diagonal, up, left = c[:-1, :-1], c[:-1, 1:], c[1:, :-1]
    matched = equal[1:, 1:]
    goes_up = up >= left
    new_c, new_b = c.copy(), b.copy()
    new_c[1:, 1:] = np.where(matched, diagonal + 1, np.where(goes_up, up, left))
    new_b[1:, 1:] = np.where(matched, _DIAGONAL, np.where(goes_up, _UP, _LEFT))
    return new_c, new_b


def optimal_bst(p: np.ndarray, q: np.ndarray) -> Trajectory:
    """Optimal binary search tree (CLRS 15.5), one hint per subtree size.

    There are ``n`` keys with probabilities ``p`` and ``n + 1`` gaps with
    probabilities ``q``, on ``N = n + 1`` nodes (``p`` is padded with a 0).
    With 0-based keys, ``e[i, j]`` is the expected cost of an optimal tree on
    keys ``i..j-1`` (just gap ``i`` when ``j == i``), ``w[i, j]`` its total
    probability and ``root[i, j]`` its root. The first root of least cost
    wins. One hint is recorded after the diagonal and one after each size.

    Args:
        p: ``(n,)`` key probabilities.
        q: ``(n + 1,)`` gap probabilities.

    Returns:
        The trajectory; the output ``root`` holds the roots (``float64``).
    """
    n = p.shape[0]
    size = n + 1
    inputs = {"pos": node_positions(size), "p": np.append(p, 0.0), "q": q.copy()}
    recorder = start_recording("optimal_bst", inputs)
    pred = index_order_predecessors(size)
    e = np.diag(q).astype(float)
    w = e.copy()
    root = np.zeros((size, size))
    known = np.eye(size)

    def record() -> None:
        recorder.record_hint(
            {
                "pred_h": pred,
                "root_h": root.copy(),
                "e": e.copy(),
                "w": w.copy(),
                "msk": known.copy(),
            }
        )

    record()
    for l in range(1, n + 1):
        i = np.arange(n - l + 1)
        j = i + l
        w[i, j] = (w[i, j - 1] + p[l - 1 :]) + q[l:]  # + p[j - 1] + q[j]
        # Root r (i <= r < j) leaves the subtrees on keys i..r-1 and r+1..j-1.
        r = i[:, None] + np.arange(l)[None, :]
        cost = (e[i[:, None], r] + e[r + 1, j[:, None]]) + w[i, j][:, None]
        best = cost.argmin(axis=1)
        least = cost[i, best]
        # Every cost beats the initial value for any realistic input; the
        # reference keeps the initial value and root 0 otherwise.
        better = least < _BST_INFINITY
        e[i, j] = np.where(better, least, _BST_INFINITY)
        root[i, j] = np.where(better, i + best, 0)
        known[i, j] = 1
        record()
    recorder.record_outputs({"root": root.copy()})
    return recorder.finish()


def _matrix_chain_arguments(inputs: InputProbes) -> tuple:
    return (inputs["p"],)


def _lcs_arguments(inputs: InputProbes) -> tuple:
    return split_strings("lcs_length", inputs)


def _optimal_bst_arguments(inputs: InputProbes) -> tuple:
    p = inputs["p"]
    if p[-1] != 0:
        raise ValueError(
            "optimal_bst: the last entry of 'p' is padding (there are n keys on n + 1 nodes) "
            f"and must be 0, got {p[-1]}"
        )
    return p[:-1], inputs["q"]


ALGORITHMS = {
    "matrix_chain_order": AlgorithmDef(matrix_chain_order, _matrix_chain_arguments),
    "lcs_length": AlgorithmDef(lcs_length, _lcs_arguments),
    "optimal_bst": AlgorithmDef(optimal_bst, _optimal_bst_arguments),
}
