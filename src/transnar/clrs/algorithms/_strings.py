"""The node layout of the algorithms that take two strings.

``lcs_length`` and the string matchers put two strings on one line of
``N = n + m`` nodes: the first string (``x``, or the haystack ``T``) on nodes
``0..n-1``, the second (``y``, or the needle ``P``) on nodes ``n..n+m-1``.
The helpers here build the probes of that layout, as the reference lays them
out: which string a node belongs to, its position within its string, the
predecessor pointers along each string, and tables indexed by a pair of
positions (one in each string) as edge probes.
"""

from __future__ import annotations

import numpy as np

from transnar.clrs.algorithms._base import InputProbes
from transnar.clrs.probing import node_positions
from transnar.clrs.specs import MASKED

ALPHABET_SIZE = 4
"""Number of letters of the strings (the ``key`` probe's classes)."""


def string_inputs(first: np.ndarray, second: np.ndarray) -> dict[str, np.ndarray]:
    """The ``string``, ``pos`` and ``key`` input probes of two strings.

    ``string`` is 0 on the first string and 1 on the second; ``pos`` is the
    position within the node's own string divided by that string's length;
    ``key`` holds the letters (in index form, one-hot when recorded).
    """
    n, m = first.shape[0], second.shape[0]
    return {
        "string": np.concatenate([np.zeros(n), np.ones(m)]),
        "pos": np.concatenate([node_positions(n), node_positions(m)]),
        "key": np.concatenate([first, second]),
    }


def string_predecessors(n: int, m: int) -> np.ndarray:
    """Predecessor pointers along each string; each string's first node points to itself."""
    pointers = np.arange(-1, n + m - 1)
    pointers[[0, n]] = [0, n]
    return pointers


def needle_pointers(n: int, pi: np.ndarray) -> np.ndarray:
    """Haystack nodes point to themselves, needle node ``n + q`` to ``n + pi[q]``."""
    return np.concatenate([np.arange(n), n + pi])


def pair_table(table: np.ndarray) -> np.ndarray:
    """An ``(n, m)`` table over pairs of positions as an ``(N, N)`` edge probe.

    Entry ``(i, j)`` goes on the edge from node ``i`` of the first string to
    node ``n + j`` of the second; every other edge holds 0.
    """
    n, m = table.shape
    probe = np.zeros((n + m, n + m))
    probe[:n, n:] = table
    return probe


def pair_categorical(table: np.ndarray, num_classes: int) -> np.ndarray:
    """An ``(n, m)`` table of class indices as an ``(N, N, num_classes + 1)`` edge probe.

    The edges of :func:`pair_table` hold the one-hot class; every other edge
    holds ``MASKED`` (-1) in the extra last class ("no pair") and 0 in the others.
    """
    n, m = table.shape
    probe = np.zeros((n + m, n + m, num_classes + 1))
    probe[:, :, num_classes] = MASKED
    probe[:n, n:] = np.eye(num_classes + 1)[table]
    return probe


def split_strings(algorithm: str, inputs: InputProbes) -> tuple[np.ndarray, np.ndarray]:
    """The two strings of validated ``string`` and ``key`` input probes.

    Raises:
        ValueError: ``string`` is not all 0 (first string) then all 1 (second
            string) with both parts non-empty; a ``key`` row is not one-hot
            (a masked row).
    """
    membership = inputs["string"]
    n = int(np.count_nonzero(membership == 0))
    expected = np.concatenate([np.zeros(n), np.ones(membership.shape[0] - n)])
    if n in (0, membership.shape[0]) or not np.array_equal(membership, expected):
        raise ValueError(
            f"{algorithm}: the 'string' input must be 0 on the first string's nodes, then 1 "
            f"on the second's, both non-empty; got {membership.tolist()}"
        )
    key = inputs["key"]
    if not (key == 1).any(axis=-1).all():
        raise ValueError(f"{algorithm}: every row of the 'key' input must be a one-hot letter")
    letters = key.argmax(axis=-1)
    return letters[:n], letters[n:]
