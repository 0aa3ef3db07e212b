"""Paired bootstrap statistics: the mean of per-question values, its interval and p-value.

Pure functions on arrays; nothing here knows about results files
(:mod:`transnar.evaluation.paired` feeds them).

- :func:`bootstrap_mean`: the mean of a sample and ``resamples`` means of the
  sample resampled with replacement (a :class:`Bootstrap`), from a seeded
  generator: the same values and seed give the same replicates. Two samples
  of the same length bootstrapped with the same seed resample the same
  positions, so :func:`difference` of their bootstraps is the bootstrap of
  the per-position differences: a *paired* bootstrap.
- :func:`combine`: a weighted sum of independent bootstraps (one per stratum,
  e.g. per algorithm x size): the stratified bootstrap of a weighted mean of
  stratum means.
- :func:`summarize`: an :class:`Estimate`: the observed value, the percentile
  interval of the replicates (95% by default) and a two-sided p-value for
  "the true value is 0": twice the smaller share of replicates on either side
  of 0 (replicates equal to 0 count on both sides), each share computed as
  ``(k + 1) / (B + 1)`` so that it is never 0; capped at 1. The interval
  excludes 0 about when ``p < 1 - level``.
- :func:`paired_bootstrap`: all of it for two paired samples, optionally in
  strata with weights.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000
"""Bootstrap resamples by default."""
LEVEL = 0.95
"""Coverage of the percentile interval by default."""
SEED = 0
"""Seed of the resampling by default."""
TOLERANCE = 1e-12
"""Values within this of 0 count as 0 (sums of floats that should cancel)."""
_CHUNK = 1 << 22  # resampled indices drawn at once (bounds the memory)


@dataclass(frozen=True)
class Bootstrap:
    """A statistic and its bootstrap replicates.

    Attributes:
        observed: the statistic on the data.
        replicates: the statistic on each resample, shape ``(resamples,)``.
        count: the number of observations (questions) behind it.
    """

    observed: float
    replicates: np.ndarray
    count: int


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap interval and two-sided p-value (for 0).

    Attributes:
        mean: the observed value.
        low, high: the percentile interval.
        p_value: two-sided bootstrap p-value of "the value is 0".
        count: observations (questions) behind it.
        level: the interval's coverage.
        resamples: bootstrap resamples.
    """

    mean: float
    low: float
    high: float
    p_value: float
    count: int
    level: float = LEVEL
    resamples: int = RESAMPLES

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 0."""
        return self.low > TOLERANCE or self.high < -TOLERANCE

    def text(self, signed: bool = True) -> str:
        """``+0.083 [+0.041, +0.125] *`` (``*``: the interval excludes 0)."""
        form = "{:+.3f}" if signed else "{:.3f}"
        low, high = (form.format(_zero(v)) for v in (self.low, self.high))
        mark = " *" if signed and self.significant else ""
        return f"{form.format(_zero(self.mean))} [{low}, {high}]{mark}"

    def p_text(self) -> str:
        """``p = 0.032``, or ``p < 0.001``."""
        return "p < 0.001" if self.p_value < 0.001 else f"p = {self.p_value:.3f}"

    def to_dict(self) -> dict[str, float | int | bool]:
        return {
            "mean": self.mean,
            "low": self.low,
            "high": self.high,
            "p_value": self.p_value,
            "significant": self.significant,
            "count": self.count,
        }


def stream_seed(seed: int, key: str) -> list[int]:
    """A generator seed for one stratum: ``seed`` and a stable hash of ``key``, so
    that a stratum's replicates do not depend on which other strata exist."""
    return [int(seed), zlib.crc32(key.encode("utf-8"))]


def bootstrap_mean(
    values: Sequence[float] | np.ndarray,
    resamples: int = RESAMPLES,
    seed: int | Sequence[int] = SEED,
) -> Bootstrap:
    """The mean of ``values`` and the means of ``resamples`` resamples (with
    replacement, of the same size), drawn from ``numpy.random.default_rng(seed)``.

    Raises:
        ValueError: no values, not one-dimensional, or ``resamples < 1``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"bootstrap_mean needs a 1-d sample, got shape {values.shape}")
    return bootstrap_means(values[None, :], resamples, seed)[0]


def bootstrap_means(
    values: np.ndarray, resamples: int = RESAMPLES, seed: int | Sequence[int] = SEED
) -> list[Bootstrap]:
    """:func:`bootstrap_mean` of each row of ``values`` (``(rows, n)``), every
    row resampled at the same positions: paired samples, e.g. several models'
    scores on the same ``n`` questions. A row gives the same replicates alone
    or with others.

    Raises:
        ValueError: no values, not two-dimensional, or ``resamples < 1``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"bootstrap_means needs a non-empty (rows, n) array, got {values.shape}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    rng = np.random.default_rng(seed)
    n = values.shape[1]
    replicates = np.empty((values.shape[0], resamples))
    step = max(1, _CHUNK // n)
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        index = rng.integers(0, n, size=(stop - start, n))
        # how often each position is drawn, per resample: (resamples, n)
        flat = (index + n * np.arange(stop - start)[:, None]).ravel()
        counts = np.bincount(flat, minlength=(stop - start) * n).reshape(stop - start, n)
        replicates[:, start:stop] = (counts.astype(np.float64) @ values.T).T / n
    means = values.mean(axis=1)
    return [Bootstrap(float(m), r, n) for m, r in zip(means, replicates, strict=True)]


def difference(first: Bootstrap, second: Bootstrap) -> Bootstrap:
    """``first - second``, replicate by replicate: the paired bootstrap of the
    difference when both resampled the same positions (same length and seed).

    Raises:
        ValueError: different counts or numbers of replicates.
    """
    if first.count != second.count or first.replicates.shape != second.replicates.shape:
        raise ValueError("paired bootstraps need the same questions and resamples")
    return Bootstrap(
        first.observed - second.observed, first.replicates - second.replicates, first.count
    )


def ratio(numerator: Bootstrap, denominator: Bootstrap) -> Bootstrap:
    """``numerator / denominator``, replicate by replicate: e.g. the share of one
    paired difference in another, both resampled at the same questions. A
    replicate whose denominator is 0 is infinite (or NaN for 0/0): read the
    ratio only where the denominator's own interval excludes 0.

    Raises:
        ValueError: different counts or numbers of replicates.
    """
    if (
        numerator.count != denominator.count
        or numerator.replicates.shape != denominator.replicates.shape
    ):
        raise ValueError("a ratio of bootstraps needs the same questions and resamples")
    with np.errstate(divide="ignore", invalid="ignore"):
        replicates = numerator.replicates / denominator.replicates
        observed = float(np.float64(numerator.observed) / np.float64(denominator.observed))
    return Bootstrap(observed, replicates, numerator.count)


def combine(parts: Sequence[Bootstrap], weights: Sequence[float]) -> Bootstrap:
    """``sum(weight * part)``: the stratified bootstrap of a weighted mean of
    independently resampled strata.

    Raises:
        ValueError: no parts, a weight per part missing, or different resamples.
    """
    if not parts or len(parts) != len(weights):
        raise ValueError(f"combine needs one weight per part, got {len(parts)}, {len(weights)}")
    if len({p.replicates.shape for p in parts}) != 1:
        raise ValueError("the parts have different numbers of resamples")
    observed = float(sum(w * p.observed for p, w in zip(parts, weights, strict=True)))
    replicates = sum(w * p.replicates for p, w in zip(parts, weights, strict=True))
    return Bootstrap(observed, np.asarray(replicates), sum(p.count for p in parts))


def summarize(bootstrap: Bootstrap, level: float = LEVEL) -> Estimate:
    """The observed value, the percentile interval and the two-sided p-value
    (see the module docstring)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    replicates = bootstrap.replicates
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    total = replicates.size
    below = (np.count_nonzero(replicates <= TOLERANCE) + 1) / (total + 1)
    above = (np.count_nonzero(replicates >= -TOLERANCE) + 1) / (total + 1)
    p_value = min(1.0, 2.0 * min(below, above))
    return Estimate(
        bootstrap.observed, float(low), float(high), p_value, bootstrap.count, level, total
    )


def paired_bootstrap(
    first: Sequence[Sequence[float]] | Sequence[float],
    second: Sequence[Sequence[float]] | Sequence[float],
    weights: Sequence[float] | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> Estimate:
    """The paired difference ``first - second`` of two samples of the same questions.

    Args:
        first, second: per question values, or per stratum lists of them (the
            same lengths on both sides); question ``i`` of a stratum is paired
            with question ``i`` of the other side's.
        weights: per stratum weights (default equal, summing to 1): the
            statistic is ``sum(weight * (mean(first_s) - mean(second_s)))``.
        resamples, seed, level: see :func:`bootstrap_mean` and :func:`summarize`.
    """
    strata_a, strata_b = _strata(first), _strata(second)
    if len(strata_a) != len(strata_b) or any(
        len(a) != len(b) for a, b in zip(strata_a, strata_b, strict=True)
    ):
        raise ValueError("paired samples need the same strata and questions on both sides")
    if weights is None:
        weights = [1.0 / len(strata_a)] * len(strata_a)
    parts = [
        difference(
            bootstrap_mean(a, resamples, stream_seed(seed, str(k))),
            bootstrap_mean(b, resamples, stream_seed(seed, str(k))),
        )
        for k, (a, b) in enumerate(zip(strata_a, strata_b, strict=True))
    ]
    return summarize(combine(parts, weights), level)


def _strata(values) -> list[np.ndarray]:
    array = [np.asarray(v, dtype=np.float64) for v in values]
    if array and all(a.ndim == 0 for a in array):
        return [np.asarray(values, dtype=np.float64)]
    return array


def _zero(value: float) -> float:
    """0.0 for values that round to zero (no ``-0.000``)."""
    return 0.0 if abs(value) < 5e-4 else value


__all__ = [
    "LEVEL",
    "RESAMPLES",
    "SEED",
    "Bootstrap",
    "Estimate",
    "bootstrap_mean",
    "bootstrap_means",
    "combine",
    "difference",
    "paired_bootstrap",
    "ratio",
    "stream_seed",
    "summarize",
]
