"""String matching (CLRS chapter 32): the naive matcher and Knuth-Morris-Pratt.

The haystack ``T`` (``n`` letters) sits on nodes ``0..n-1`` and the needle
``P`` (``m`` letters) on nodes ``n..n+m-1``; ``pred_h`` links each string's
letters in order. The output ``match`` marks the haystack node where the first
occurrence of the needle starts or, by the reference's convention, the
needle's first node (node ``n``) when the needle does not occur.

Both matchers take the haystack ``T`` (``(n,)``, letters in ``0..3``) and the
needle ``P`` (``(m,)``, ``m <= n``) and return the trajectory.
"""

from __future__ import annotations

import numpy as np

from transnar.clrs.algorithms._base import AlgorithmDef, InputProbes
from transnar.clrs.algorithms._strings import (
    needle_pointers,
    split_strings,
    string_inputs,
    string_predecessors,
)
from transnar.clrs.probing import ProbeRecorder, start_recording
from transnar.clrs.trajectory import Trajectory


def _start(
    algorithm: str, T: np.ndarray, P: np.ndarray
) -> tuple[ProbeRecorder, np.ndarray, list, list]:
    """Records the inputs; returns the recorder, the ``pred_h`` hint (the same
    at every step) and the haystack and needle as lists."""
    n, m = T.shape[0], P.shape[0]
    recorder = start_recording(algorithm, string_inputs(T.copy(), P.copy()))
    return recorder, string_predecessors(n, m), T.tolist(), P.tolist()


def _finish(recorder: ProbeRecorder, match: int) -> Trajectory:
    recorder.record_outputs({"match": match})
    return recorder.finish()


def naive_string_matcher(T: np.ndarray, P: np.ndarray) -> Trajectory:
    """The naive string matcher (CLRS 32.1), stopping at the first occurrence.

    For each shift ``s`` it compares ``T[s + j]`` with ``P[j]`` for ``j = 0,
    1, ...`` until a mismatch or a full match. Hints: ``s`` the shift, ``i``
    and ``j`` the haystack and needle letters compared; one hint per shift and
    one per further comparison after a matching letter.
    """
    n, m = T.shape[0], P.shape[0]
    recorder, pred, haystack, needle = _start("naive_string_matcher", T, P)
    for s in range(n - m + 1):
        j = 0
        recorder.record_hint({"pred_h": pred, "s": s, "i": s, "j": n})
        while haystack[s + j] == needle[j]:
            if j == m - 1:
                return _finish(recorder, s)
            j += 1
            recorder.record_hint({"pred_h": pred, "s": s, "i": s + j, "j": n + j})
    # Here the reference returns without finalising its probes (their values
    # are these); its samplers always plant the needle, so never get here.
    return _finish(recorder, n)


def kmp_matcher(T: np.ndarray, P: np.ndarray) -> Trajectory:
    """Knuth-Morris-Pratt matching (CLRS 32.4), stopping at the first occurrence.

    As in the textbook, ``k`` and ``q`` count needle letters matched, and the
    prefix function ``border[q]`` is the length of the longest proper prefix
    of ``P[:q + 1]`` that is also its suffix. The hints show them as the
    reference does, through the needle node of the *last* letter matched:
    ``k``/``q`` point at node ``n + count - 1``, or at the needle's first node
    with ``k_reset``/``q_reset`` set when ``count == 0``; likewise ``pi``
    points needle node ``n + q`` at ``n + border[q] - 1``, or at ``n`` with
    ``is_reset`` set when ``border[q] == 0`` (letters not yet computed point
    at themselves).

    Phase 0 computes the prefix function: one hint before it, one per fallback
    and one per letter ``q >= 1``, whose node ``q`` shows (``q_reset`` stays
    set). Phase 1 scans the haystack: one hint per letter ``i`` and one per
    fallback; ``s = max(0, i - m + 1)`` is the start of the window ending at
    ``i``, and ``k`` keeps its final phase-0 value.
    """
    n, m = T.shape[0], P.shape[0]
    recorder, pred, haystack, needle = _start("kmp_matcher", T, P)
    border = [0] * m
    pi = np.arange(m)  # border - 1 (or 0), in needle positions, as pi shows it
    is_reset = np.zeros(m)
    is_reset[0] = 1
    # The pi and is_reset probes, rebuilt whenever the prefix function grows.
    prefix = _prefix_probes(n, pi, is_reset)

    def last_matched(count: int) -> tuple[int, int]:
        """The node of the last needle letter of ``count`` matched, and the reset flag."""
        return n + max(count - 1, 0), int(count == 0)

    def record(k: int, q: tuple[int, int], s: int, i: int, phase: int) -> None:
        (k_node, k_reset), (q_node, q_reset) = last_matched(k), q
        recorder.record_hint(
            {
                "pred_h": pred,
                **prefix,
                "k": k_node,
                "k_reset": k_reset,
                "q": q_node,
                "q_reset": q_reset,
                "s": s,
                "i": i,
                "phase": phase,
            }
        )

    k = 0
    record(k, (n + min(1, m - 1), 1), 0, 0, 0)
    for q in range(1, m):
        while k > 0 and needle[k] != needle[q]:
            k = border[k - 1]
            record(k, (n + q, 1), 0, 0, 0)
        if needle[k] == needle[q]:
            k += 1
        border[q] = k
        pi[q] = max(k - 1, 0)
        is_reset[q] = k == 0
        prefix = _prefix_probes(n, pi, is_reset)
        record(k, (n + q, 1), 0, 0, 0)

    q = 0
    for i in range(n):
        s = max(0, i - m + 1)
        record(k, last_matched(q), s, i, 1)
        while q > 0 and needle[q] != haystack[i]:
            q = border[q - 1]
            record(k, last_matched(q), s, i, 1)
        if needle[q] == haystack[i]:
            if q == m - 1:
                return _finish(recorder, s)
            q += 1
    return _finish(recorder, n)


def _prefix_probes(n: int, pi: np.ndarray, is_reset: np.ndarray) -> dict[str, np.ndarray]:
    """The ``pi`` and ``is_reset`` hints of the needle's prefix function so far."""
    return {"pi": needle_pointers(n, pi), "is_reset": np.concatenate([np.zeros(n), is_reset])}


def _matcher_arguments(algorithm: str):
    def arguments(inputs: InputProbes) -> tuple:
        haystack, needle = split_strings(algorithm, inputs)
        if needle.shape[0] > haystack.shape[0]:
            raise ValueError(
                f"{algorithm}: the needle ({needle.shape[0]} letters) is longer than the "
                f"haystack ({haystack.shape[0]} letters)"
            )
        return haystack, needle

    return arguments


ALGORITHMS = {
    "naive_string_matcher": AlgorithmDef(
        naive_string_matcher, _matcher_arguments("naive_string_matcher")
    ),
    "kmp_matcher": AlgorithmDef(kmp_matcher, _matcher_arguments("kmp_matcher")),
}
