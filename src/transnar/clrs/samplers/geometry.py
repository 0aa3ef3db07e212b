"""Samplers of the geometry algorithms: two segments, and point clouds in a disk."""

from __future__ import annotations

import numpy as np

from transnar.clrs.algorithms.geometry import COLLINEARITY_EPS, collinear_triple
from transnar.clrs.samplers.base import Sampler, truncate


def _ccw(xs: np.ndarray, ys: np.ndarray, a: int, b: int, c: int) -> bool:
    """Whether a -> b -> c turns counter-clockwise (collinear counts as not)."""
    return (ys[c] - ys[a]) * (xs[b] - xs[a]) > (ys[b] - ys[a]) * (xs[c] - xs[a])


def _segments_cross(xs: np.ndarray, ys: np.ndarray) -> bool:
    """Quick test whether segment 0-1 crosses segment 2-3, ignoring collinearity."""
    return _ccw(xs, ys, 0, 2, 3) != _ccw(xs, ys, 1, 2, 3) and _ccw(xs, ys, 0, 1, 2) != _ccw(
        xs, ys, 0, 1, 3
    )


class SegmentsSampler(Sampler):
    """Four points uniform in the square; crossing or not with probability 1/2 each.

    The outcome is drawn first, then point sets are drawn until one has it.
    ``size`` is ignored: there are always four points.
    """

    min_size = 1

    def _draw(self, size: int, low: float = 0.0, high: float = 1.0) -> list:
        want_crossing = bool(self._rng.binomial(1, 0.5))
        while True:
            xs = self._uniform(4, low, high)
            ys = self._uniform(4, low, high)
            if _segments_cross(xs, ys) == want_crossing:
                return [xs, ys]


class ConvexHullSampler(Sampler):
    """``size`` points uniform in a disk, with no three of them collinear.

    Points are drawn in polar coordinates (angle uniform, radius
    ``radius * sqrt(u)``) around ``(origin_x, origin_y)``. They are truncated
    here already (and, as in the reference, once more by the base class) so
    that the collinearity check sees the final values; a draw with a collinear
    triple is repeated, at most ``collinearity_resampling_attempts`` times.
    """

    min_size = 3

    def _draw(
        self,
        size: int,
        origin_x: float = 0.0,
        origin_y: float = 0.0,
        radius: float = 2.0,
        collinearity_resampling_attempts: int = 1000,
        collinearity_eps: float = COLLINEARITY_EPS,
    ) -> list:
        for _ in range(collinearity_resampling_attempts):
            thetas = self._uniform(size, 0.0, 2.0 * np.pi)
            radii = radius * np.sqrt(self._uniform(size, 0.0, 1.0))
            xs = truncate(radii * np.cos(thetas) + origin_x, self.truncate_decimals)
            ys = truncate(radii * np.sin(thetas) + origin_y, self.truncate_decimals)
            if collinear_triple(xs, ys, collinearity_eps) is None:
                return [xs, ys]
        raise RuntimeError(
            f"could not draw {size} points without a collinear triple in "
            f"{collinearity_resampling_attempts} attempts"
        )


SAMPLERS = {
    "segments_intersect": SegmentsSampler,
    "graham_scan": ConvexHullSampler,
    "jarvis_march": ConvexHullSampler,
}
