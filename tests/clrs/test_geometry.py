"""The geometry algorithms: golden hint sequences, exact cross-checks, edge cases.

The golden cases were worked out by hand from the textbook definitions; the
property tests compare with independent computations in exact (rational)
arithmetic: a parametric segment intersection test and Andrew's monotone
chain convex hull.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest

from tests.clrs.helpers import assert_probes, one_hot, run_keeping_arguments
from transnar import clrs
from transnar.clrs.algorithms.geometry import graham_scan, jarvis_march, segments_intersect

HULL_ALGORITHMS = {"graham_scan": graham_scan, "jarvis_march": jarvis_march}


# --- Exact geometry for the independent checks -------------------------------


def _exact(x, y):
    return [(Fraction(a), Fraction(b)) for a, b in zip(x.tolist(), y.tolist(), strict=True)]


def _cross(o, a, b):
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_meet(p, q, r, s):
    """Whether segments pq and rs share a point, by solving p + t(q-p) = r + u(s-r)."""
    d = (q[0] - p[0], q[1] - p[1])
    e = (s[0] - r[0], s[1] - r[1])
    denominator = d[0] * e[1] - d[1] * e[0]
    if denominator != 0:
        t = ((r[0] - p[0]) * e[1] - (r[1] - p[1]) * e[0]) / denominator
        u = ((r[0] - p[0]) * d[1] - (r[1] - p[1]) * d[0]) / denominator
        return 0 <= t <= 1 and 0 <= u <= 1
    if _cross(p, q, r) != 0:
        return False  # parallel, on different lines
    axis = 0 if d[0] != 0 or e[0] != 0 else 1  # the lines are not vertical, or they are
    return max(min(p[axis], q[axis]), min(r[axis], s[axis])) <= min(
        max(p[axis], q[axis]), max(r[axis], s[axis])
    )


def _monotone_chain(points):
    """Indices of the convex hull's vertices (Andrew's monotone chain)."""
    order = sorted(range(len(points)), key=lambda k: points[k])

    def half(indices):
        chain = []
        for k in indices:
            while len(chain) >= 2 and _cross(points[chain[-2]], points[chain[-1]], points[k]) <= 0:
                chain.pop()
            chain.append(k)
        return chain[:-1]

    return set(half(order) + half(order[::-1]))


def _assert_all_inside(points, marked):
    """Every point lies on or to the left of every edge of the marked polygon."""
    cx = sum(points[k][0] for k in marked) / len(marked)
    cy = sum(points[k][1] for k in marked) / len(marked)
    ring = sorted(marked, key=lambda k: math.atan2(points[k][1] - cy, points[k][0] - cx))
    for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
        assert all(_cross(points[a], points[b], p) >= 0 for p in points), (a, b)


# --- segments_intersect ------------------------------------------------------


def test_segments_intersect_golden_touching():
    # p2 = (2, 0) lies on segment p0-p1: no straddle, but DIRECTION(p0, p1, p2)
    # is 0 and ON-SEGMENT holds.
    x = np.array([0.0, 4.0, 2.0, 3.0])
    y = np.array([0.0, 0.0, 0.0, 3.0])
    trajectory = run_keeping_arguments(segments_intersect, x, y)
    assert trajectory.outputs["intersect"] == 1
    assert trajectory.outputs["intersect"].dtype == np.int64
    assert_probes(
        trajectory.hints,
        {
            "i": one_hot([0, 2, 2, 0, 0], 4),
            "j": one_hot([0, 3, 3, 1, 1], 4),
            "k": one_hot([0, 0, 1, 2, 3], 4),
            "dir": [[0, 0, 0, 0], [-6, 0, 0, 0], [-6, 6, 0, 0], [-6, 6, 0, 0], [-6, 6, 0, -12]],
            "on_seg": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0]],
        },
    )
    np.testing.assert_array_equal(trajectory.inputs["pos"], [0, 0.25, 0.5, 0.75])


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([(0, 0), (2, 2), (0, 2), (2, 0)], 1),  # an X
        ([(0, 0), (2, 0), (0, 1), (2, 1)], 0),  # parallel
        ([(0, 0), (2, 0), (1, 0), (3, 0)], 1),  # collinear, overlapping
        ([(0, 0), (1, 0), (2, 0), (3, 0)], 0),  # collinear, disjoint
        ([(0, 0), (1, 1), (1, 1), (2, 0)], 1),  # a shared endpoint
        ([(0, 0), (1, 1), (1, 2), (1, 3)], 0),  # the lines meet beyond the segments
        ([(0, 0), (3, 3), (1, 1), (2, 2)], 1),  # one segment inside the other
    ],
)
def test_segments_intersect_hand_cases(points, expected):
    x, y = np.array(points, dtype=float).T
    assert segments_intersect(x, y).outputs["intersect"] == expected


def test_segments_intersect_matches_exact_test_on_grid_points():
    # Small integer coordinates: float arithmetic is exact, and touching,
    # collinear and overlapping segments are frequent.
    rng = np.random.RandomState(0)
    for _ in range(400):
        x, y = rng.randint(0, 4, size=(2, 4)).astype(float)
        p = _exact(x, y)
        if p[0] == p[1] or p[2] == p[3]:
            continue
        expected = int(_segments_meet(*p))
        assert segments_intersect(x, y).outputs["intersect"] == expected, (x, y)


def test_segments_intersect_matches_exact_test_on_samples():
    outcomes = []
    for trajectory in clrs.sample("segments_intersect", 4, seed=5, count=100):
        x, y = trajectory.inputs["x"], trajectory.inputs["y"]
        outcomes.append(int(trajectory.outputs["intersect"]))
        assert outcomes[-1] == _segments_meet(*_exact(x, y))
        # The last hint holds the four directions, the first one nothing.
        p = _exact(x, y)
        expected = [_cross(p[2], p[0], p[3]), _cross(p[2], p[1], p[3])]
        expected += [_cross(p[0], p[2], p[1]), _cross(p[0], p[3], p[1])]
        np.testing.assert_allclose(trajectory.hints["dir"][-1], [float(v) for v in expected])
        assert not trajectory.hints["dir"][0].any()
    assert 20 < sum(outcomes) < 80


# --- graham_scan -------------------------------------------------------------

# Five points: node 1 is the lowest; node 3 is inside the hull of the others.
#   0: (3, 3)   1: (0, 0)   2: (4, 1)   3: (2, 1)   4: (0, 3)
GOLDEN_X = np.array([3.0, 0.0, 4.0, 2.0, 0.0])
GOLDEN_Y = np.array([3.0, 0.0, 1.0, 1.0, 3.0])


def test_graham_scan_golden():
    # Sorted by angle around node 1: 2 (14 deg), 3 (27), 0 (45), 4 (90). Nodes
    # 2 and 3 are pushed; node 0 makes 2 -> 3 -> 0 turn right, so 3 is
    # popped, then 0 and 4 are pushed.
    trajectory = run_keeping_arguments(graham_scan, GOLDEN_X, GOLDEN_Y)
    np.testing.assert_array_equal(trajectory.outputs["in_hull"], [1, 1, 1, 0, 1])
    assert trajectory.outputs["in_hull"].dtype == np.float64
    angles = [math.atan2(3, 3), 0, math.atan2(1, 4), math.atan2(1, 2), math.atan2(3, 0)]
    assert_probes(
        trajectory.hints,
        {
            "best": one_hot([0, 1, 1, 1, 1, 1, 1, 1], 5),
            "atans": [[0] * 5] * 2 + [angles] * 6,
            "in_hull_h": [
                [0, 0, 0, 0, 0],
                [0, 1, 0, 0, 0],
                [0, 1, 0, 0, 0],
                [0, 1, 1, 0, 0],
                [0, 1, 1, 1, 0],
                [0, 1, 1, 0, 0],
                [1, 1, 1, 0, 0],
                [1, 1, 1, 0, 1],
            ],
            "stack_prev": [
                [0, 1, 2, 3, 4],
                [0, 1, 2, 3, 4],
                [0, 1, 2, 3, 4],
                [0, 1, 1, 3, 4],
                [0, 1, 1, 2, 4],
                [0, 1, 1, 3, 4],
                [2, 1, 1, 3, 4],
                [2, 1, 1, 3, 0],
            ],
            "last_stack": one_hot([0, 1, 1, 2, 3, 2, 0, 4], 5),
            "i": one_hot([0, 1, 1, 2, 3, 0, 0, 4], 5),
            "phase": one_hot([0, 1, 2, 4, 4, 3, 4, 4], 5),
        },
    )


# --- jarvis_march ------------------------------------------------------------


def test_jarvis_march_golden():
    # From node 1 the rounds find 2, then 0, then 4, then 1 again (the stop).
    trajectory = run_keeping_arguments(jarvis_march, GOLDEN_X, GOLDEN_Y)
    np.testing.assert_array_equal(trajectory.outputs["in_hull"], [1, 1, 1, 0, 1])
    rounds = [  # (in_hull, last_point, endpoint after scanning i = 0..4)
        ([0, 1, 0, 0, 0], 1, [0, 0, 2, 2, 2]),
        ([0, 1, 1, 0, 0], 2, [0, 0, 0, 0, 0]),
        ([1, 1, 1, 0, 0], 0, [0, 1, 1, 1, 4]),
        ([1, 1, 1, 0, 1], 4, [0, 1, 1, 1, 1]),
    ]
    in_hull = [[0] * 5, rounds[0][0]]
    last_point, endpoint, i = [0, 1], [0, 0], [0, 0]
    for number, (hull, last, endpoints) in enumerate(rounds):
        in_hull += [hull] * 5
        last_point += [last] * 5
        endpoint += endpoints
        i += [0, 1, 2, 3, 4]
        if number + 1 < len(rounds):  # the hull grows by the round's endpoint
            in_hull.append(rounds[number + 1][0])
            last_point.append(rounds[number + 1][1])
            endpoint.append(0)
            i.append(0)
    assert_probes(
        trajectory.hints,
        {
            "pred_h": [[0, 0, 1, 2, 3]] * 25,
            "in_hull_h": in_hull,
            "best": one_hot([0] + [1] * 24, 5),
            "last_point": one_hot(last_point, 5),
            "endpoint": one_hot(endpoint, 5),
            "i": one_hot(i, 5),
            "phase": one_hot([0] + [1] * 24, 2),
        },
    )


# --- Both hull algorithms ----------------------------------------------------


@pytest.mark.parametrize("algorithm", HULL_ALGORITHMS)
def test_hull_matches_monotone_chain(algorithm):
    for size, seed in ((3, 0), (4, 1), (5, 2), (8, 3), (13, 4), (24, 5), (40, 6)):
        for trajectory in clrs.sample(algorithm, size, seed, count=3):
            points = _exact(trajectory.inputs["x"], trajectory.inputs["y"])
            marked = set(np.flatnonzero(trajectory.outputs["in_hull"]).tolist())
            hull = _monotone_chain(points)
            assert marked == hull, (algorithm, size, seed)
            _assert_all_inside(points, sorted(marked))
            # One hint per push and per pop, or per point scanned in each round.
            h = len(hull)
            expected_length = 2 + 2 * size - h if algorithm == "graham_scan" else 1 + h * (size + 1)
            assert trajectory.length == expected_length
            clrs.check_trajectory(trajectory)


@pytest.mark.parametrize("algorithm", HULL_ALGORITHMS)
def test_hull_of_three_points_is_all_of_them(algorithm):
    trajectory = clrs.execute(algorithm, {"x": [0.0, 1.0, 0.2], "y": [1.0, 0.0, 0.9]})
    np.testing.assert_array_equal(trajectory.outputs["in_hull"], [1, 1, 1])
    assert trajectory.hints["best"][-1].tolist() == [0, 1, 0]


@pytest.mark.parametrize("algorithm", HULL_ALGORITHMS)
def test_hull_ties_for_lowest_point_go_to_the_leftmost(algorithm):
    trajectory = clrs.execute(algorithm, {"x": [1.0, 0.0, 0.5], "y": [0.0, 0.0, 1.0]})
    assert trajectory.hints["best"][-1].tolist() == [0, 1, 0]
    np.testing.assert_array_equal(trajectory.outputs["in_hull"], [1, 1, 1])


# --- Inputs the algorithms cannot take ---------------------------------------


def test_segments_intersect_needs_four_points():
    for n in (3, 5):
        with pytest.raises(ValueError, match="exactly 4 points"):
            clrs.execute("segments_intersect", {"x": np.zeros(n), "y": np.zeros(n)})


@pytest.mark.parametrize("algorithm", HULL_ALGORITHMS)
def test_hull_needs_three_points(algorithm):
    with pytest.raises(ValueError, match="at least 3 points"):
        clrs.execute(algorithm, {"x": [0.0, 1.0], "y": [0.0, 1.0]})


@pytest.mark.parametrize("algorithm", HULL_ALGORITHMS)
@pytest.mark.parametrize(
    ("x", "y", "triple"),
    [
        ([0, 1, 2, 0.5], [0, 1, 0, 0.5], "[0, 1, 3]"),  # a point on the hull boundary
        ([0, 1, 2, 1], [0, 2, 0, 0], "[0, 2, 3]"),  # boundary, along the bottom edge
        ([0, 1, 0.5, 0.5], [0, 0, 1, 0.25], None),  # an interior point: fine
        ([0, 1, 0.5, 1], [0, 0, 1, 0], "[0, 1, 3]"),  # a repeated point
        ([0, 2, 1, 1, 1], [0, 0, 2, 1, 0.5], "[2, 3, 4]"),  # collinear inside
    ],
)
def test_hull_needs_general_position(algorithm, x, y, triple):
    inputs = {"x": np.array(x, dtype=float), "y": np.array(y, dtype=float)}
    if triple is None:
        clrs.execute(algorithm, inputs)
        return
    with pytest.raises(ValueError, match=re.escape(f"points {triple} are collinear")):
        clrs.execute(algorithm, inputs)


def test_why_collinear_points_are_rejected():
    # Node 4 = (1, 0) lies on the bottom edge between nodes 1 and 0. From it,
    # the march takes node 1 behind it as a candidate and misses vertex 0;
    # the reference does the same.
    x = np.array([2.0, 0.0, 2.0, 0.0, 1.0])
    y = np.array([0.0, 0.0, 2.0, 2.0, 0.0])
    np.testing.assert_array_equal(jarvis_march(x, y).outputs["in_hull"], [0, 1, 1, 1, 1])
    # With three more points on the first ray from the anchor, the reference's
    # Graham scan pops the anchor forever; ours stops with an error.
    with pytest.raises(ValueError, match="general position"):
        graham_scan(np.array([0.0, 1.0, 2.0, 3.0]), np.zeros(4))
