"""Geometry algorithms (CLRS chapter 33): segment intersection and convex hulls.

Every algorithm takes the coordinates ``x`` and ``y`` of its points, node ``k``
being the point ``(x[k], y[k])``. They all rest on the cross product of two
vectors from a common origin, ``(a - o) x (b - o)``, which is positive when
``b`` lies counter-clockwise of ``a`` as seen from ``o``, negative when it lies
clockwise and zero when the three points are collinear.

The hull algorithms take points in general position, as their sampler draws
them: no three points collinear within ``COLLINEARITY_EPS`` (which also rules
out repeated points). Otherwise the reference Graham scan can pop its anchor
and loop forever, and Jarvis's march can wrap around the wrong points.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from transnar.clrs.algorithms._base import AlgorithmDef, InputProbes
from transnar.clrs.probing import (
    ProbeRecorder,
    index_order_predecessors,
    node_positions,
    start_recording,
)
from transnar.clrs.trajectory import Trajectory

#: Three points whose cross product is smaller than this in magnitude count as
#: collinear (the convex hull sampler's criterion).
COLLINEARITY_EPS = 1e-12


def _cross(xs: list, ys: list, o: int, a: int, b: int) -> float:
    """The cross product ``(p_a - p_o) x (p_b - p_o)``.

    Every algorithm evaluates it with these floating-point operations, as the
    reference does: the hints and outputs depend on its sign and its value.
    """
    return (xs[a] - xs[o]) * (ys[b] - ys[o]) - (ys[a] - ys[o]) * (xs[b] - xs[o])


def _start(algorithm: str, x: np.ndarray, y: np.ndarray) -> tuple[ProbeRecorder, list, list]:
    """Records the inputs; returns the recorder and the coordinates as Python floats.

    Python float arithmetic is the same IEEE double arithmetic as NumPy's
    ``float64`` scalars, only faster.
    """
    inputs = {"pos": node_positions(x.shape[0]), "x": x.copy(), "y": y.copy()}
    return start_recording(algorithm, inputs), x.tolist(), y.tolist()


# --- Segment intersection ----------------------------------------------------


def _on_segment(xs: list, ys: list, i: int, j: int, k: int) -> int:
    """ON-SEGMENT: 1 if ``p_k`` lies in the bounding box of segment ``p_i p_j``."""
    in_x = min(xs[i], xs[j]) <= xs[k] <= max(xs[i], xs[j])
    in_y = min(ys[i], ys[j]) <= ys[k] <= max(ys[i], ys[j])
    return int(in_x and in_y)


def _opposite_signs(a: float, b: float) -> bool:
    return a > 0 > b or a < 0 < b


def segments_intersect(x: np.ndarray, y: np.ndarray) -> Trajectory:
    """SEGMENTS-INTERSECT (CLRS 33.1): does segment ``p0 p1`` meet segment ``p2 p3``?

    One hint per DIRECTION test: ``i`` and ``j`` are the ends of the segment
    tested against, ``k`` the point tested; ``dir[k]`` is DIRECTION(p_i, p_j,
    p_k) = ``(p_k - p_i) x (p_j - p_i)`` and ``on_seg[k]`` is ON-SEGMENT(p_i,
    p_j, p_k), recorded for every point even where ``dir[k]`` is not zero.
    The segments meet if each straddles the other's line, or if one end lies
    on the other segment (touching and collinear overlaps count).

    Args:
        x, y: ``(4,)`` coordinates of the points ``p0 .. p3``.
    """
    recorder, xs, ys = _start("segments_intersect", x, y)
    directions = np.zeros(4)
    on_segment = np.zeros(4)
    recorder.record_hint(
        {"i": 0, "j": 0, "k": 0, "dir": directions.copy(), "on_seg": on_segment.copy()}
    )
    for i, j, k in ((2, 3, 0), (2, 3, 1), (0, 1, 2), (0, 1, 3)):
        directions[k] = _cross(xs, ys, i, k, j)
        on_segment[k] = _on_segment(xs, ys, i, j, k)
        recorder.record_hint(
            {"i": i, "j": j, "k": k, "dir": directions.copy(), "on_seg": on_segment.copy()}
        )
    d = directions.tolist()
    intersect = (_opposite_signs(d[0], d[1]) and _opposite_signs(d[2], d[3])) or any(
        d[k] == 0 and on_segment[k] for k in range(4)
    )
    recorder.record_outputs({"intersect": int(intersect)})
    return recorder.finish()


# --- Convex hulls ------------------------------------------------------------


def _lowest_point(xs: list, ys: list) -> int:
    """The point with the least ``y``, the leftmost such one on a tie (the first on a repeat)."""
    return min(range(len(xs)), key=lambda k: (ys[k], xs[k]))


def graham_scan(x: np.ndarray, y: np.ndarray) -> Trajectory:
    """GRAHAM-SCAN (CLRS 33.3): the convex hull, scanning points by polar angle.

    The anchor ``best`` is the lowest point. The others are sorted by their
    polar angle ``atans`` around it and pushed on a stack in that order, first
    popping every point that would make a non-left turn. The stack is a linked
    list: ``stack_prev`` points from each stacked point to the one below it
    (every other point to itself), ``last_stack`` is the top and ``in_hull_h``
    marks the stacked points. ``i`` is the point being pushed.

    Phases: 0 the start, 1 the anchor found, 2 the angles sorted, 3 a point
    popped, 4 a point pushed. Points must be in general position (see the
    module docstring).

    Args:
        x, y: ``(N,)`` coordinates, ``N >= 3``.
    """
    n = x.shape[0]
    recorder, xs, ys = _start("graham_scan", x, y)
    atans = np.zeros(n)
    in_hull = np.zeros(n)
    stack_prev = np.arange(n)

    def record(best: int, top: int, i: int, phase: int) -> None:
        recorder.record_hint(
            {
                "best": best,
                "atans": atans,  # never modified in place: no copy needed
                "in_hull_h": in_hull.copy(),
                "stack_prev": stack_prev.copy(),
                "last_stack": top,
                "i": i,
                "phase": phase,
            }
        )

    record(0, 0, 0, 0)
    anchor = _lowest_point(xs, ys)
    in_hull[anchor] = 1
    record(anchor, anchor, anchor, 1)

    atans = np.array(
        [
            0.0 if k == anchor else math.atan2(ys[k] - ys[anchor], xs[k] - xs[anchor])
            for k in range(n)
        ]
    )
    # The anchor sorts first; the reference sorts with NumPy's default
    # (unstable) argsort, so equal angles would come in its order.
    sort_keys = atans.copy()
    sort_keys[anchor] = -np.inf
    order = np.argsort(sort_keys).tolist()
    record(anchor, anchor, anchor, 2)

    top = anchor
    for position in range(1, n):
        point = order[position]
        if position >= 3:
            while _cross(xs, ys, int(stack_prev[top]), top, point) <= 0:
                if top == anchor:
                    # The reference would pop the anchor (its own predecessor)
                    # forever; only collinear points lead here.
                    raise ValueError("graham_scan: points are not in general position")
                below = int(stack_prev[top])
                stack_prev[top] = top
                in_hull[top] = 0
                top = below
                record(anchor, top, point, 3)
        in_hull[point] = 1
        stack_prev[point] = top
        top = point
        record(anchor, top, point, 4)

    recorder.record_outputs({"in_hull": in_hull.copy()})
    return recorder.finish()


def jarvis_march(x: np.ndarray, y: np.ndarray) -> Trajectory:
    """JARVIS'S MARCH (CLRS 33.3): the convex hull by gift wrapping.

    From the lowest point ``best``, each round scans every point ``i`` (one
    hint each) for the ``endpoint`` that has all the others on its left as
    seen from the latest hull point ``last_point``, then adds it to the hull
    (one more hint). The march stops when a round's endpoint is already in
    the hull. ``pred_h`` is the fixed order of the nodes; the phase is 0 at
    the start and 1 afterwards. Points must be in general position (see the
    module docstring).

    Args:
        x, y: ``(N,)`` coordinates, ``N >= 3``.
    """
    n = x.shape[0]
    recorder, xs, ys = _start("jarvis_march", x, y)
    node_order = index_order_predecessors(n)
    in_hull = np.zeros(n)
    # in_hull changes once per round, so one snapshot serves the round's hints.
    in_hull_snapshot = in_hull.copy()

    def record(best: int, last_point: int, endpoint: int, i: int, phase: int) -> None:
        recorder.record_hint(
            {
                "pred_h": node_order,
                "in_hull_h": in_hull_snapshot,
                "best": best,
                "last_point": last_point,
                "endpoint": endpoint,
                "i": i,
                "phase": phase,
            }
        )

    record(0, 0, 0, 0, 0)
    best = _lowest_point(xs, ys)
    in_hull[best] = 1
    in_hull_snapshot = in_hull.copy()
    last_point, endpoint = best, 0
    record(best, last_point, endpoint, 0, 1)

    while True:
        for i in range(n):
            # i replaces the endpoint when it lies clockwise of (or on the line
            # of) last_point -> endpoint; the ends themselves never do.
            if endpoint == last_point or (
                i != last_point and i != endpoint and _cross(xs, ys, last_point, endpoint, i) <= 0
            ):
                endpoint = i
            record(best, last_point, endpoint, i, 1)
        if in_hull[endpoint]:
            break
        in_hull[endpoint] = 1
        in_hull_snapshot = in_hull.copy()
        last_point, endpoint = endpoint, 0
        record(best, last_point, endpoint, 0, 1)

    recorder.record_outputs({"in_hull": in_hull.copy()})
    return recorder.finish()


# --- Arguments from input probes ---------------------------------------------


@functools.lru_cache(maxsize=256)
def _pairs(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays of all pairs ``j < k`` of ``m`` items."""
    return np.triu_indices(m, 1)


def collinear_triple(x: np.ndarray, y: np.ndarray, eps: float = COLLINEARITY_EPS):
    """The first triple ``i < j < k`` of points collinear within ``eps``, or ``None``.

    The test is ``|(p_j - p_i) x (p_k - p_i)| < eps``, as the convex hull
    sampler evaluates it; one point ``i`` at a time, so memory stays ``O(N^2)``.
    """
    n = x.shape[0]
    for i in range(n - 2):
        dx, dy = x[i + 1 :] - x[i], y[i + 1 :] - y[i]
        j, k = _pairs(n - i - 1)
        collinear = np.flatnonzero(np.abs(dx[j] * dy[k] - dy[j] * dx[k]) < eps)
        if collinear.size:
            first = collinear[0]
            return i, i + 1 + int(j[first]), i + 1 + int(k[first])
    return None


def _segments_arguments(inputs: InputProbes) -> tuple:
    n = inputs["x"].shape[0]
    if n != 4:
        raise ValueError(
            f"segments_intersect takes exactly 4 points (segments 0-1 and 2-3), got {n}"
        )
    return inputs["x"], inputs["y"]


def _hull_arguments(algorithm: str):
    def arguments(inputs: InputProbes) -> tuple:
        x, y = inputs["x"], inputs["y"]
        if x.shape[0] < 3:
            raise ValueError(f"{algorithm} needs at least 3 points, got {x.shape[0]}")
        triple = collinear_triple(x, y)
        if triple is not None:
            raise ValueError(
                f"{algorithm} needs points in general position, but points {list(triple)} "
                f"are collinear (cross product below {COLLINEARITY_EPS}) or repeated"
            )
        return x, y

    return arguments


ALGORITHMS = {
    "segments_intersect": AlgorithmDef(segments_intersect, _segments_arguments),
    "graham_scan": AlgorithmDef(graham_scan, _hull_arguments("graham_scan")),
    "jarvis_march": AlgorithmDef(jarvis_march, _hull_arguments("jarvis_march")),
}
